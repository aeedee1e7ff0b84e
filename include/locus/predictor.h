/* predictor.h — evaluation-mode logits of whole batches, one pipeline per thread.
 *
 * The batch is cut into micro-batches of `chunk` samples; each of T threads takes micro-batches in turn and
 * runs every layer on them alone (threads = 1), on a tape and a scratch area of its own. A micro-batch's
 * activations (16 CIFAR samples: 1 MiB per ResNet-32 stage-1 tensor) stay in that core's caches from one
 * layer to the next, and no layer forks threads; layer by layer over the whole batch with all threads in every
 * layer, each activation (8 MiB) went through memory and every layer paid a fork and a join. Evaluation-mode
 * forwards treat every sample alone (running BN statistics), so the logits are those of one forward of the
 * whole batch: bit for bit for the ResNets; for the ViT to rounding, as its patch embedding's product runs on
 * OpenBLAS, whose kernel depends on the number of rows (test_predictor).
 *
 * The pipes run the model's forward on several tapes at once: the architectures' forwards only read shared
 * state (parameters, running statistics); a Replacement Learning session's unit_forward, which re-mixes the
 * replaced weights as it runs, is not such a forward (sessions evaluate on their own tape, loop.c).
 *
 * Memory: T tapes sized by a plan pass over one micro-batch (ACT) and T scratch areas (SCRATCH), reserved by
 * predictor_open and held until predictor_close; predictor_run allocates nothing. Each pipe keeps its own
 * tracker; the caller's sees every byte the pipes reserved, as live, from open to close. */
#ifndef LOCUS_PREDICTOR_H
#define LOCUS_PREDICTOR_H

#include "locus/model.h"
#include "locus/profile.h"
#include "locus/tape.h"

#define PREDICTOR_CHUNK 16 /* default micro-batch (ResNet-32 inference, 1 thread: 16 > 8 > 4 > 128 samples) */

typedef struct PredictorPipe {
    MemTracker mt; /* its own: the pipes run at once, and a tracker is not shared between threads */
    StepCtx ctx;
    Tape tape;
    int tape_open;
    float *scratch;
    Status status; /* of this pipe's last run */
} PredictorPipe;

typedef struct Predictor {
    Model *model;
    MemTracker *mt;
    int threads, chunk;
    size_t scratch_bytes; /* per pipe */
    size_t out_per_sample; /* floats of logits per sample */
    int charged;           /* the pipes' reservations are charged to mt */
    PredictorPipe *pipes;
} Predictor;

/* Plans one micro-batch of `chunk` samples (0: PREDICTOR_CHUNK) and reserves `threads` pipes. */
Status predictor_open(Predictor *p, Model *m, MemTracker *mt, int threads, int chunk, ErrorMsg *err);
/* logits (n x out_per_sample floats) of the batch x (n x in_c x in_h x in_w floats). */
Status predictor_run(Predictor *p, const float *x, int n, float *logits, ErrorMsg *err);
/* Times pipe 0's layer calls into prof (locus bench --profile; NULL: off). */
void predictor_profile(Predictor *p, Profile *prof);
void predictor_close(Predictor *p);

#endif
