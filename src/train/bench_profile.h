/* bench_profile.h — `locus bench --profile`: the tape's per-layer times (locus/profile.h) grouped into rows
 * with FLOPs and GFLOP/s, per timed step.
 *
 * Rows: by layer type, with convolutions split by geometry ("conv2d 3x3/1 16->16 @32x32"), or one row per
 * layer instance (--profile-layers); then the step's parts outside layers: the tape zeroing activation
 * gradients, zeroing parameter gradients, the optimizer step, and "other" (step time minus everything
 * timed: tape bookkeeping, the loss seed). FLOPs follow bench.h's accounting: forward = 2 x MACs;
 * backward = 2 x forward for layers that propagate into their input (dW and dx), 1 x forward otherwise. */
#ifndef LOCUS_TRAIN_BENCH_PROFILE_H
#define LOCUS_TRAIN_BENCH_PROFILE_H

#include <stdio.h>

#include "locus/profile.h"
#include "locus/status.h"

typedef struct BenchProfileRow {
    char name[128];
    int layers;             /* layer instances in the row */
    double calls;           /* forward calls per step */
    double fwd_s, bwd_s;    /* seconds per step */
    double fwd_flop, bwd_flop; /* per step */
} BenchProfileRow;

typedef struct BenchProfile {
    BenchProfileRow *rows;  /* sorted by time, largest first; NULL when not profiled */
    int n;
    double step_s;          /* mean step time over the timed steps */
    double tape_zero_s, param_zero_s, optim_s, other_s; /* per step */
} BenchProfile;

/* Groups p (collected over `steps` steps) into rows. per_layer: one row per layer instance.
 * `step_s`, `param_zero_s`, `optim_s`: per-step means measured by the caller. */
Status bench_profile_build(const Profile *p, int per_layer, int steps, double step_s, double param_zero_s,
                           double optim_s, BenchProfile *out, ErrorMsg *err);
void bench_profile_free(BenchProfile *bp);
void bench_profile_print(FILE *f, const BenchProfile *bp);
struct cJSON *bench_profile_json(const BenchProfile *bp);

#endif
