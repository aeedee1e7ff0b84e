/* gradcheck.h — checks backward against central finite differences, for a layer or any composite.
 *
 * A case is a function that builds a forward on a tape from inputs (and parameters in a ParamStore).
 * The harness draws random inputs, takes L = sum(out .* R) for a fixed random R, runs backward seeded
 * with R, and compares each input's and each trainable parameter's gradient with
 * (L(x + eps) - L(x - eps)) / (2 eps) on up to max_checks elements per tensor. The forward runs in
 * float32 (the engine's type); the loss sums and the differences are taken in double.
 * Layer types seen on the tape are recorded, for the coverage check. */
#ifndef LOCUS_TEST_GRADCHECK_H
#define LOCUS_TEST_GRADCHECK_H

#include <stdint.h>

#include "locus/tape.h"

typedef Tensor *(*GradcheckFn)(void *user, Tape *t, Tensor *const *in, int n_in);

typedef struct GradcheckCase {
    const char *name;
    GradcheckFn fn;
    void *user;
    ParamStore *params;   /* finalized, values set by the caller */
    int n_in;
    Shape in_shape[4];
    int in_no_grad[4];    /* 1: this input is not differentiated (e.g. labels stored as floats) */
    const float *in_data[4]; /* optional fixed input values (else N(0,1)) */
    int eval_mode;        /* 1: run with training = 0 */
    double eps;           /* default 1e-2 */
    double rtol;          /* default 3e-2 */
    int max_checks;       /* per tensor, default 40 */
    uint64_t seed;
} GradcheckCase;

/* Runs the case; prints one line per tensor checked; returns the number of failing tensors. */
int gradcheck_run(const GradcheckCase *c);

/* Layer types seen on any tape run by gradcheck_run in this process. */
int gradcheck_covered(const char *type);

#endif
