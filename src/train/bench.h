/* bench.h — `locus bench`: times full training steps or inference forwards of a model on synthetic
 * data, and reports speed (median/min/max step time, img/s, GFLOP/s) and memory (peak per tag, peak RSS).
 *
 * The workload is the one the peers run in bench/torch_ref.py (spec performance.md): random N(0,1)
 * images, random labels, softmax cross-entropy, SGD momentum 0.9. A training step is zero grads +
 * forward + loss + backward + optimizer step; an inference step is one forward in evaluation mode.
 * Memory is built the way session.c builds it (plan pass, then a tape of exactly the planned sizes), so
 * the step loop never allocates.
 *
 * FLOP accounting (spec performance.md): forward = 2 x MACs of conv2d, linear and patch-embedding layers
 * plus QK^T and AV (and the qkv/proj projections) of attention layers, read off the shapes on a plan
 * tape; a training step = 3 x forward. ResNet-32 at 32x32 gives 0.1377 GFLOP/img forward. */
#ifndef LOCUS_TRAIN_BENCH_H
#define LOCUS_TRAIN_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "locus/config.h"
#include "locus/tape.h"
#include "locus/train.h"
#include "train/bench_profile.h"

typedef struct BenchConfig {
    char model[32];
    char mode[8];        /* "train" | "infer" */
    int64_t batch;
    int64_t threads;
    int64_t steps;       /* timed steps */
    int64_t warmup;      /* untimed steps before them */
    int64_t in_c, in_hw, classes;
    double lr;
    int64_t seed;
    double peak_gflops;  /* FMA peak of the machine for these threads; 0 = unknown (no fraction reported) */
    int json;            /* CLI only: print one JSON object */
    int ftz;             /* flush denormals to zero (FTZ/DAZ) on every thread (default on, as training) */
    int profile;         /* time every layer call over the timed steps (BenchResult.profile) */
    int profile_layers;  /* with profile: one row per layer instead of per type and geometry */
    int recompute_units; /* train: gradient checkpointing at unit boundaries (methods/recompute.h) */
} BenchConfig;

/* The table of every key (the CLI's long options and --help text). */
extern const CfgKey bench_config_keys[];
void bench_config_defaults(BenchConfig *c);

typedef struct BenchResult {
    double step_s_median, step_s_min, step_s_max;
    double cpu_s_median;       /* process CPU time (all threads) per step: less sensitive to a busy machine */
    double img_per_s;          /* batch / median step time */
    double gflop_fwd_per_img;  /* forward FLOPs per image that locus computes */
    double gflop_fwd_per_img_network; /* the network's: every unit on every token, as a framework computes it
                                       * (more than gflop_fwd_per_img where model_forward skips work the logits
                                       * do not read: the ViT's last block, model.h tail_forward) */
    double gflop_per_img;      /* per image of one step of this mode: forward (infer) or 3 x forward (train) */
    double gflop_per_s;        /* gflop_per_img * img_per_s */
    double peak_fraction;      /* gflop_per_s / peak_gflops, 0 when the peak is unknown */
    double loss_last;          /* train: the last step's loss (a sanity check: finite) */
    size_t params;             /* trainable scalars of the model (checks that the peers build the same one) */
    MemReport mem;             /* peak per tag of the benchmark's own tracker */
    size_t rss_peak_bytes;     /* VmHWM of the process, 0 if /proc is unavailable */
    BenchProfile profile;      /* with cfg.profile: the per-layer table (bench_result_free releases it) */
} BenchResult;

/* Builds the model, sizes and allocates everything, runs warmup + steps and fills r.
 * Bad configuration: LOCUS_ERR_ARG; a non-finite loss: LOCUS_ERR_NUMERIC. */
Status bench_run(const BenchConfig *c, BenchResult *r, ErrorMsg *err);

/* Releases what bench_run allocated in r (the profile table); r stays valid to free again. */
void bench_result_free(BenchResult *r);

/* Multiply-accumulates of one layer call, from its type and shapes (0 for layers the accounting skips). */
double bench_record_macs(const TapeRecord *r);

/* Forward FLOPs (2 x MACs) of the records above m on t (a recording tape, plan or real). */
double bench_tape_flops(const Tape *t, TapeMark m);

/* Peak resident set size of this process (VmHWM), 0 when unknown. */
size_t bench_rss_peak_bytes(void);

/* The result as the JSON object documented in bench/README.md (caller owns; cJSON_Delete). */
struct cJSON *bench_result_json(const BenchConfig *c, const BenchResult *r);
/* A short human-readable report. */
void bench_print(FILE *f, const BenchConfig *c, const BenchResult *r);

#endif
