/* report.h — what a run tells its user: the start banner (resolved config, memory plan), the final
 * summary (accuracy, speed, memory by tag: planned beside measured) and summary.json. */
#ifndef LOCUS_TRAIN_REPORT_H
#define LOCUS_TRAIN_REPORT_H

#include <stdio.h>

#include "locus/train.h"

typedef struct Summary {
    double acc_best, acc_last, img_per_s, wall_s;
    struct cJSON *extra; /* NULL, or an object whose items report_finish moves into summary.json (and frees) */
} Summary;

void report_start(FILE *f, const Session *s, const char *dir, const MemReport *plan);
/* Prints the final table and writes <dir>/summary.json. plan_blocks: the planned per-block peaks. */
Status report_finish(FILE *f, const Session *s, const char *dir, const MemReport *plan, const BlockMem *plan_blocks,
                     const Summary *sum, ErrorMsg *err);
/* One line per block: units, ACT and total peak (planned, and measured if given). */
void report_block_table(FILE *f, const BlockMem *planned, const BlockMem *measured, int n);
/* [{"block": 0, "units": "0.0-1.2", "total": .., "param": .., ...}, ...] (caller owns). */
struct cJSON *report_blocks_json(const BlockMem *blocks, int n);
/* Predicted training FLOPs per image: the blocks' per-step FLOPs (train/flops.c) over the batch size. */
double report_flops_per_image(const BlockMem *blocks, int n, int64_t batch);
/* The LOCUS_ERR_OOM answer for --mem-limit: what is needed, per tag, and a batch that would fit. */
Status report_over_limit(const TrainConfig *cfg, const MemReport *plan, ErrorMsg *err);
/* The memory table: one row per tag, planned and (if measured != NULL) measured. */
void report_mem_table(FILE *f, const MemReport *planned, const MemReport *measured);
/* {"total": .., "param": .., ...} as a cJSON object (caller owns). */
struct cJSON *report_mem_json(const MemReport *m);
MemReport report_from_tracker(const MemTracker *mt);

#endif
