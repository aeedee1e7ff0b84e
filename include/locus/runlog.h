/* runlog.h — reading a finished (or still running) training run back from its folder, for plots and reports:
 * RUN_DIR/metrics.jsonl (one JSON object per epoch, written by src/train/loop.c: epoch, train_loss,
 * train_acc, test_acc, lr, img_per_s, epoch_s) and, when present, RUN_DIR/summary.json (src/train/report.c:
 * model, method, dataset, train_img_per_s, mem_peak_per_block = [{total, act, ..., block, units}]) or
 * else RUN_DIR/config.json (model, method) for the label.
 * A resumed run may log an epoch twice; the later line wins. */
#ifndef LOCUS_RUNLOG_H
#define LOCUS_RUNLOG_H

#include "locus/status.h"

typedef struct RunEpoch {
    int epoch;
    double train_loss, train_acc, test_acc; /* accuracies in [0, 1] */
    double img_per_s;                       /* 0 when the line has none */
} RunEpoch;

typedef struct RunBlockMem {
    double total_bytes, act_bytes; /* peak while the block trained: all tags, and ACT alone */
    char units[64];
} RunBlockMem;

typedef struct RunLog {
    char dir[1024];
    char name[256];  /* dir without trailing '/' (what the user typed) */
    char model[64], method[64], dataset[64]; /* "" when unknown */
    int n_epochs;
    RunEpoch *epochs; /* ascending epoch order */
    int has_summary;
    double img_per_s; /* summary's train_img_per_s, else the mean over the logged epochs */
    int n_blocks;
    RunBlockMem *blocks; /* from summary.json's mem_peak_per_block (0 blocks without a summary) */
} RunLog;

/* Reads dir's metrics.jsonl (required, at least one epoch) and summary.json / config.json (optional, but
 * an error when present and malformed). Errors name the file and line. runlog_free is safe after a failure. */
Status runlog_read(RunLog *r, const char *dir, ErrorMsg *err);
void runlog_free(RunLog *r);

/* Writes a self-contained gnuplot script (the data inline as datablocks) that draws runs[0..n) into
 * png_path with the pngcairo terminal: training loss and test accuracy per epoch, images/s per run, and
 * peak memory per block. Atomic (tmp + rename). */
Status plot_write_gnuplot(const char *script_path, const char *png_path, const RunLog *runs, int n, ErrorMsg *err);

#endif
