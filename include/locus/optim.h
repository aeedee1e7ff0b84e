/* optim.h — optimizers over a ParamStore, and learning-rate schedules.
 *
 * One optimizer steps every trainable parameter after all backwards of an iteration (spec §0.3 and
 * §0.4). Its state (SGD momentum; AdamW first and second moments) is one slab per kind under
 * MEM_TAG_OPTIM, laid out like the gradient slab. Semantics are PyTorch's (torch.optim.SGD with
 * dampening 0; torch.optim.AdamW), checked by the golden tests. The optimizer never touches the tape. */
#ifndef LOCUS_OPTIM_H
#define LOCUS_OPTIM_H

#include <stdint.h>

#include "locus/params.h"

typedef enum OptimKind { OPTIM_SGD = 0, OPTIM_ADAMW = 1 } OptimKind;

typedef struct OptimConfig {
    OptimKind kind;
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float weight_decay; /* SGD: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* AdamW */
} OptimConfig;

typedef struct Optimizer {
    OptimConfig cfg;
    ParamStore *ps;
    float *m;   /* SGD momentum buffer / Adam first moment (numel_trainable floats) */
    float *v;   /* Adam second moment, NULL for SGD */
    int64_t t;  /* steps taken */
    int threads;
} Optimizer;

Status optim_init(Optimizer *o, const OptimConfig *cfg, ParamStore *ps, int threads, ErrorMsg *err);
void optim_free(Optimizer *o);
/* One update of every trainable parameter with learning rate lr. */
void optim_step(Optimizer *o, float lr);
/* Number of state slabs (1 for SGD, 2 for AdamW) and their size, for checkpoints and memplan. */
int optim_state_count(const Optimizer *o);
float *optim_state(const Optimizer *o, int i);
size_t optim_state_bytes(OptimKind kind, size_t numel_trainable);

typedef enum LrKind {
    LR_CONSTANT = 0,
    LR_STEP,          /* lr0 * gamma^floor((e-1) / step_epochs), per epoch */
    LR_COSINE,        /* per step: lr0 * 0.5 * (1 + cos(pi * s / S)), after linear warm-up over warmup_steps */
    LR_WARMUP_COSINE  /* the papers' per-epoch "cosine with warm-up", exactly spec local-learning.md §0.3 */
} LrKind;

typedef struct LrSchedule {
    LrKind kind;
    float lr0;
    float gamma;        /* LR_STEP */
    int step_epochs;    /* LR_STEP */
    int warmup_steps;   /* LR_COSINE */
    int epochs;         /* E */
    int steps_per_epoch;
} LrSchedule;

/* Learning rate for 1-based epoch e and 0-based step s within that epoch. */
float lr_at(const LrSchedule *s, int epoch, int step_in_epoch);

#endif
