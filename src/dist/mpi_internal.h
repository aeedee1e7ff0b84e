/* mpi_internal.h — what the MPI files of src/dist share: the links that carry batches between pipeline
 * neighbours (mpi_link.c) and the per-rank report (mpi_report.c). Compiled only with MPI=1. */
#ifndef LOCUS_DIST_MPI_INTERNAL_H
#define LOCUS_DIST_MPI_INTERNAL_H

#include <mpi.h>

#include "dist/dist.h"
#include "train/report.h"

/* One message between pipeline neighbours, in floats: a 5-float header (rows, epoch, step, magic, rows of the
 * whole batch over all replicas), the labels (batch floats), the activation (batch x act floats) and, when a
 * later rank has decoders, the image (batch x img floats). batch: the rows of this replica's shard of a full
 * batch; offsets are fixed by it, and a smaller batch (the epoch's last) uses a prefix. */
typedef struct MsgLayout {
    size_t labels, act, img, floats;
} MsgLayout;
#define MSG_MAGIC 20261128.0f
MsgLayout msg_layout(int batch, size_t act_per_row, size_t img_per_row);

/* MPI_Wait that gives the core away: Open MPI's waits spin, which starves the computing ranks when ranks
 * outnumber cores (or other work shares the machine). Polls with sleeps of 20 us doubling to 1 ms, so a
 * wait ends at most ~1 ms late; adds the time waited to *waited (may be NULL). */
void dist_wait(MPI_Request *r, double *waited);

/* A bounded queue in one direction between two neighbours: `depth` slots. A sender fills slot i only after
 * its previous send completed; sends are synchronous-mode (MPI_Issend), which complete only once the
 * receiver has matched them, so a slow receiver holds its sender back (back-pressure) and no batch
 * piles up inside MPI. Slots are MEM_TAG_DATA of the session's tracker. */
typedef struct Link {
    int peer, depth, sending;
    size_t floats;
    float *buf;
    MPI_Request req[DIST_MAX_QUEUE];
    double wait_s; /* time spent waiting for a slot (sender) or a batch (receiver) */
    MemTracker *mt;
} Link;

Status link_open(Link *l, int peer, int depth, size_t floats, int sending, MemTracker *mt, ErrorMsg *err);
void link_close(Link *l);
static inline float *link_slot(Link *l, int i) { return l->buf + (size_t)i * l->floats; }
/* Blocks until slot i is free (sender) or holds its batch (receiver). */
void link_wait(Link *l, int i);
void link_send(Link *l, int i);
void link_post_recv(Link *l, int i);
/* Waits for every outstanding request. */
void link_drain(Link *l);
/* Bytes link_open charges for (depth slots). */
static inline size_t link_bytes(int depth, size_t floats) { return (size_t)depth * floats * sizeof(float); }

/* SyncBatchNorm over the ranks of `comm`, which share each batch (mpi_bnsync.c): &pub goes into the step
 * context while training. rows_mine / rows_total: this rank's shard and the whole batch, set every step. The
 * buffers (shard_sync_bytes) are MEM_TAG_DATA of the session's tracker. */
typedef struct ShardSync {
    BnSync pub;
    MPI_Comm comm;
    int parts, rows_mine, rows_total;
    size_t bytes;
    double wait_s; /* time spent waiting for the other shards */
    MemTracker *mt;
} ShardSync;

int shard_sync_channels(const ParamStore *ps); /* the most channels of any BatchNorm (running_mean buffers) */
size_t shard_sync_bytes(const ParamStore *ps, int parts);
Status shard_sync_open(ShardSync *y, MPI_Comm comm, const ParamStore *ps, MemTracker *mt, ErrorMsg *err);
void shard_sync_close(ShardSync *y);

/* What each rank reports to the root at the end (fixed size, sent as bytes). stage: the pipeline stage
 * (-1 for --dist data), replica: which copy of the pipeline (or the data-parallel shard). */
typedef struct RankStats {
    int rank, stage, replica, block_first, block_count, planned_ok;
    double images, train_s, busy_s, wait_recv_s, wait_send_s, send_bytes_per_batch;
    double wait_allreduce_s; /* summing gradients over the shards, and SyncBatchNorm */
    double block_seconds[LOCUS_MAX_BLOCKS], block_flops[LOCUS_MAX_BLOCKS];
    MemReport planned, measured;
} RankStats;

/* {"mode": .., "ranks": [{rank, stage, replica, blocks, units, img_per_s, busy_fraction, wait_*_s, mem_peak_bytes,
 * mem_predicted_bytes, planned_equals_measured, block_seconds, send_bytes_per_batch}, ..]} items for
 * summary.json, and a table on f. */
struct cJSON *dist_report(FILE *f, const char *mode, const RankStats *all, int ranks, const Session *root);

/* SIGTERM (mpirun ending the job after another rank died or failed) prints a message naming the last
 * intact checkpoint and how to resume, then exits. dist_signal_update refreshes that message: epoch > 0
 * the checkpoint of that epoch was written, 0 none yet, -1 unknown here (a rank that does not write). */
void dist_signal_install(int rank, int ranks, const char *dir, int writer);
void dist_signal_update(int epoch);

#endif
