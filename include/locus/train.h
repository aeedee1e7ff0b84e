/* train.h — the training session shared by every method: configuration, memory plan, the loop,
 * evaluation, checkpoints, metrics and the run summary.
 *
 * A Session is built the same way for a real run and for `locus memplan` (plan_only = 1): the same
 * allocations happen in the same order, except that the activation arena and grad pool only count in
 * plan mode and datasets are sized from their headers instead of being loaded. That is why the
 * predicted peak equals the measured one, tag by tag. */
#ifndef LOCUS_TRAIN_H
#define LOCUS_TRAIN_H

#include <stdint.h>

#include "locus/config.h"
#include "locus/data.h"
#include "locus/model.h"
#include "locus/optim.h"
#include "locus/tape.h"

typedef struct TrainConfig {
    char model[32];
    char data[32];
    char data_dir[512];
    char method[32];
    char cuts[512];
    int64_t k;
    char k_convention[16];
    char aux[16];
    char infopro_mode[16];
    char lambda_convention[16];
    int pff_sequential;
    char hilo_mode[16];
    int recompute_units; /* e2e: gradient checkpointing at unit boundaries (methods/recompute.h) */
    int profile;         /* time every layer call of the training steps; a table at the end (train/loop.c) */
    int profile_layers;  /* with profile: one row per layer instead of per type */
    double hilo_wx, hilo_wy;
    double ixx1, ixx2, ixy1, ixy2;
    double ema_decay;
    char man_init[16];
    int64_t epochs;
    int64_t batch;
    double lr;
    char optimizer[16];
    double momentum;
    int nesterov;
    double weight_decay;
    double beta1, beta2;
    char schedule[24];
    int64_t warmup_steps;
    int64_t lr_step_epochs;
    double lr_gamma;
    double label_smoothing;
    int augment;
    int64_t seed;
    int64_t threads;
    char out[512];
    char name[128];
    int64_t limit_train;
    int64_t limit_test;
    int64_t stop_after;
    int overwrite;
    int64_t mem_limit;
    char progress[16];
    char init_from[512];
    char cifar100_labels[8];
    int64_t image_size;
    int64_t decode_threads;
    int64_t image_max_pixels;
    char dist[16];        /* none|pipeline|data (src/dist, under mpirun) */
    char dist_map[256];   /* pipeline: blocks per rank, e.g. "3,1"; "" = balanced by predicted FLOPs */
    int64_t dist_queue;   /* pipeline: batches in flight on each link between two ranks */
    int64_t dist_replicas; /* pipeline: copies of the pipeline, each on a shard of every batch (ranks = stages x this) */
    int dist_sync_bn;     /* data-parallel shards (--dist data, replicas): BatchNorm with the whole batch's statistics */
    /* Not configuration keys: set by src/dist for one rank's session (memplan sees them too). */
    int pipe_first, pipe_count; /* blocks this process trains: [pipe_first, pipe_first + pipe_count); 0 = all */
    int64_t step_batch;         /* rows of each training step (a data-parallel shard); 0 = batch */
    int no_eval;                /* this process never evaluates (a rank other than the root): plans leave it out */
    int64_t replace_every;        /* Replacement Learning (methods/replace.h): -1 = 4 for --method replace, else off */
    char replace_count[16];       /* "network" | "stage" */
    int replace_neighbour_grad;   /* 1: variant B (neighbours get a*dP, b*dP); 0: variant A */
    char replace_scope[16];       /* "default" | "all" */
} TrainConfig;

/* The table of every key (also the CLI's long options and --help text). */
extern const CfgKey train_config_keys[];
void train_config_defaults(TrainConfig *c);

typedef struct MemReport {
    size_t peak[MEM_TAG_COUNT];
    size_t peak_total;
} MemReport;

/* Peak memory while one block (a run of units trained by one local loss) is processed: its forward,
 * auxiliary heads, backward and barrier, maximum over all steps. E2E is one block. */
#define LOCUS_MAX_BLOCKS 128
typedef struct BlockMem {
    char units[72]; /* "0.0-1.2": first and last unit of the block */
    MemReport peak;
    double flops;   /* predicted floating-point operations of one training step (forward + backward) */
    double seconds; /* measured: time spent in the block over all real steps */
} BlockMem;

typedef struct Session Session;
typedef struct MethodOps MethodOps;

/* Everything a run owns. Created by session_open, released by session_close. */
struct Session {
    TrainConfig cfg;
    int plan_only;
    MemTracker mt;
    ParamStore ps;
    Model model;
    Optimizer opt;
    StepCtx ctx;
    float *scratch;
    size_t scratch_bytes;
    Tape tape;
    int tape_open;
    Dataset train_set, test_set;
    Loader train_loader, test_loader;
    int train_loader_open, test_loader_open;
    const MethodOps *method;
    void *method_state;
    int n_blocks;               /* set by the method's open */
    BlockMem blocks[LOCUS_MAX_BLOCKS];
    /* Pipelines (src/dist; only the local methods read these): */
    Tensor *stage_in;           /* the activation entering block cfg.pipe_first > 0 (NULL: a plan placeholder) */
    float *stage_out;           /* where the output of the last trained block is copied (NULL: not wanted) */
    const int *param_block;     /* ps.count entries: the block owning each parameter, -1 none (NULL: unknown) */
    double block_t0, pending_flops;
};

/* Brackets the processing of block b inside a method's step: the block's peak (window peaks of the
 * tracker) is folded into s->blocks[b].peak, its time into .seconds, the planned FLOPs into .flops. */
void session_block_begin(Session *s);
void session_block_end(Session *s, int b);
/* Names block b after its first and last unit. */
void session_block_name(Session *s, int b, int first_unit, int last_unit);

/* The per-step result a method reports. */
typedef struct StepResult {
    double loss;    /* the final (network output) loss */
    int correct;    /* top-1 hits of the final classifier in this batch */
} StepResult;

Status session_open(Session *s, const TrainConfig *cfg, int plan_only, ErrorMsg *err);
void session_close(Session *s);

/* Memory plan for cfg: the peak per tag of a real training run. */
Status train_memplan(const TrainConfig *cfg, MemReport *out, ErrorMsg *err);
/* The same, plus the peak and predicted FLOPs of each block (blocks: LOCUS_MAX_BLOCKS entries). */
Status train_memplan_blocks(const TrainConfig *cfg, MemReport *out, BlockMem *blocks, int *n_blocks, ErrorMsg *err);

/* The whole run: epochs, evaluation, checkpoints, metrics, summary. resume_dir: NULL or a run folder. */
Status train_run(const TrainConfig *cfg, const char *resume_dir, ErrorMsg *err);

#endif
