/* session_internal.h — pieces of the session shared between the files of src/train/. */
#ifndef LOCUS_TRAIN_SESSION_INTERNAL_H
#define LOCUS_TRAIN_SESSION_INTERNAL_H

#include "locus/train.h"

/* Logits of the backbone + final classifier in evaluation mode (no records, running BN stats). */
Tensor *session_eval_forward(Session *s, Tensor *x);
/* Top-1 accuracy of the backbone on the whole test set. */
Status session_evaluate(Session *s, double *acc, ErrorMsg *err);

/* Tape observer (tape.h) adding a layer call's predicted training FLOPs to *(double *)ctx (flops.c). */
void flops_observe(void *ctx, const Layer *l, Tensor *const *in, int n_in, const Shape *out, int backward);
/* One training step and one evaluation forward at full size on the session's tape (plan mode: the
 * accounting of a real step; used by src/dist to plan a rank with its queues in place). */
Status session_plan_pass(Session *s, ErrorMsg *err);

/* Shared with src/dist's loop (loop.c): the run folder of cfg, refusing to mix with an older run, and
 * the learning-rate schedule. */
void train_run_dir_path(const TrainConfig *c, char *buf, size_t n);
Status train_claim_run_dir(const char *dir, int overwrite, ErrorMsg *err);
LrSchedule train_make_schedule(const TrainConfig *c, int steps_per_epoch);

#endif
