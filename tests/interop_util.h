/* interop_util.h — shared by the interop tests (test_interop.c, test_onnx.c): the fixture models of
 * tools/ref/make_interop.py (1 x 28 x 28 input, 10 classes), reading fixture tensors, comparing logits,
 * and running a helper command with its output captured. */
#ifndef LOCUS_TESTS_INTEROP_UTIL_H
#define LOCUS_TESTS_INTEROP_UTIL_H

#include <stddef.h>

#include "locus/interop.h"

#define FIXTURE_IO "tests/fixtures/interop_io.safetensors"
#define FIXTURE_N 4

typedef struct FixtureModel {
    MemTracker mt;
    ParamStore ps;
    Model model;
    int count;
} FixtureModel;

/* Builds arch for the fixture geometry (in_c channels, 28 x 28, 10 classes) with locus's own init
 * (seed 3). Returns 0 on failure (printed). Free with fixture_model_free. */
int fixture_model_open(FixtureModel *f, const char *arch, int in_c);
void fixture_model_free(FixtureModel *f);
/* A malloc'd copy of tensor `name` of the safetensors file (F32), numel in *n; NULL (printed) on failure. */
float *fixture_tensor(const char *path, const char *name, size_t *n);
/* max |a - b| and max |b|. */
double max_abs_diff(const float *a, const float *b, size_t n);
double max_abs(const float *a, size_t n);
/* Runs a shell command, captures stdout + stderr (last line printed), returns its exit code. */
int run_captured(const char *cmd, char *out, size_t cap);

#endif
