/* checkpoint.h — saving and restoring a run between epochs.
 * <run>/checkpoint.safetensors holds every parameter and buffer under its PyTorch name, the optimizer
 * state as "optim.<slot>.<name>", and the run state in __metadata__. It is written to a temporary file
 * and renamed, so a crash at any moment leaves the previous checkpoint intact. */
#ifndef LOCUS_TRAIN_CHECKPOINT_H
#define LOCUS_TRAIN_CHECKPOINT_H

#include "locus/train.h"

typedef struct RunState {
    int epoch;            /* epochs completed */
    long long global_step;
    double best_acc, last_acc;
    int best_epoch;
    double train_time;    /* seconds spent in training steps */
    long long train_images;
} RunState;

Status checkpoint_save(const Session *s, const char *dir, const RunState *rs, ErrorMsg *err);
/* Restores parameters, buffers, optimizer state and the run state. Every tensor of the model must be
 * present with the same shape (a clear error names the first that is not). */
Status checkpoint_load(Session *s, const char *dir, RunState *rs, ErrorMsg *err);
/* Keeps only the metrics.jsonl lines of epochs <= epoch (a run killed between its metrics line and its
 * checkpoint would otherwise repeat a line). A missing file is fine. */
Status metrics_truncate(const char *dir, int epoch, ErrorMsg *err);

#endif
