/* mpi_train.c — the distributed run (dist.h), one process per rank, same code on every rank.
 *
 * --dist pipeline (local methods): the K blocks are split over the R ranks (partition.c). Rank 0 reads
 *   the data; every rank trains its blocks on their local losses and steps the optimizer for them, then
 *   sends its last block's detached output (with the labels, and the image when a later rank has
 *   decoders) to the next rank through a bounded queue (mpi_link.c). No gradient travels back. Because a
 *   rank's output for batch m is computed before its own update m, each block sees exactly the inputs and
 *   parameters it sees in a single process: the run equals single-process local training step for step.
 *   At each epoch end the owners' parameters and optimizer state are merged on the last rank (a bitwise OR
 *   reduction of values that are zero everywhere but at their owner: exact), which evaluates, writes the
 *   one checkpoint (the single-process format) and the metrics.
 * --dist data (any method): every rank reads the same shuffled batch and trains on its rows
 *   [n r / R, n (r+1) / R); gradients, scaled by shard / batch, are summed with MPI_Allreduce before the
 *   step, so all ranks hold the same parameters. BatchNorm normalises with each shard's own statistics
 *   (as PyTorch DDP without SyncBatchNorm), so with BN the run is not the single-process one; the running
 *   statistics are averaged over the ranks at each epoch end, before evaluation and the checkpoint.
 *   Without batch-coupled layers (the ViT: LayerNorm) it equals single-process training up to float
 *   summation order; --dist-sync-bn makes BatchNorm use the whole batch's statistics (mpi_bnsync.c), which
 *   gives the same equality with BN. Rank 0 evaluates and writes.
 * --dist pipeline --dist-replicas N (both): R = S stages x N replicas, rank = replica * S + stage, so each
 *   replica's pipeline is R/N consecutive ranks and the blocks are split over S stages as above. Every
 *   replica's first stage reads the same shuffled batch and keeps its shard (dist_shard), which flows down
 *   its own pipeline; after each step, the N ranks of a stage (a communicator from MPI_Comm_split) sum
 *   their blocks' gradients, weighted by shard / batch, so the replicas of a stage hold the same parameters,
 *   as data parallelism does. BatchNorm: per shard, or synchronised over the stage's replicas with
 *   --dist-sync-bn (then the run equals the single-replica pipeline up to float summation order). At each
 *   epoch end the stages' BN running statistics are averaged over the replicas (unless synchronised, when
 *   they are equal already), then replica 0's ranks merge onto the root (stage S-1 of replica 0), which
 *   evaluates and writes, as for a single pipeline.
 * Resume: every rank loads the one checkpoint, so a run may resume on a different number of ranks.
 * Failure: a rank that fails calls MPI_Abort through dist_shutdown; mpirun then ends every other rank
 * with SIGTERM, whose handler names the last intact checkpoint (mpi_report.c). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/mpi_internal.h"
#include "locus/fileutil.h"
#include "locus/method.h"
#include "methods/common.h"
#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/session_internal.h"

typedef struct Dist {
    int rank, size, root, pipeline;
    int stages, replicas, stage, replica;             /* pipeline: rank = replica * stages + stage; data: 1 stage */
    int first[DIST_MAX_RANKS], count[DIST_MAX_RANKS]; /* pipeline: blocks of each stage */
    int rank_of_block[LOCUS_MAX_BLOCKS];              /* the stage of each block (= its rank in replica 0) */
    MPI_Comm shard_comm;   /* the ranks sharing each batch (this stage's replicas, or all for data); NULL alone */
    MPI_Comm replica_comm; /* pipeline: the ranks of this replica's pipeline, by stage (the world with 1 replica) */
    int sync_bn;           /* BatchNorm synchronised over shard_comm */
    ShardSync sync;
    int n_runs;            /* pipeline with replicas: gradient slab ranges of this stage's parameters */
    size_t *run_off, *run_len;
    double block_flops[LOCUS_MAX_BLOCKS];              /* predicted, of the whole network */
    double block_out_bytes[LOCUS_MAX_BLOCKS];          /* size of each block's output batch */
    int img_in, img_out;       /* this rank receives / sends the image */
    size_t act_in, act_out, img_row;
    MsgLayout in, out;
    Link recv, send;
    RankStats stats;
} Dist;

int dist_available(void) { return 1; }

void dist_shutdown(int exit_code) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) return;
    if (exit_code) MPI_Abort(MPI_COMM_WORLD, exit_code);
    MPI_Finalize();
}

static int is_local_method(const char *m) {
    return !strcmp(m, "greedy") || !strcmp(m, "dgl") || !strcmp(m, "infopro") || !strcmp(m, "pff");
}

/* Index of the unit named by the part of a block's "first-last" name on one side of the dash. */
static int unit_index(const Model *m, const char *block_units, int last) {
    char name[72];
    const char *dash = strchr(block_units, '-');
    if (last) snprintf(name, sizeof name, "%s", dash ? dash + 1 : block_units);
    else snprintf(name, sizeof name, "%.*s", (int)(dash ? dash - block_units : (long)strlen(block_units)), block_units);
    for (int u = 0; u < m->n_units; u++)
        if (!strcmp(m->units[u].name, name)) return u;
    CHECK(0, "block units '%s': no unit %s", block_units, name);
    return -1;
}

static size_t unit_floats(const ModelUnit *u) { return (size_t)u->out_c * u->out_h * (u->out_w ? u->out_w : 1); }

/* Splits the blocks over the ranks from a plan of the whole network (FLOPs and memory per block). */
static Status plan_partition(Dist *d, const TrainConfig *cfg, ErrorMsg *err) {
    if (!is_local_method(cfg->method))
        return status_fail(err, LOCUS_ERR_ARG, "--dist pipeline trains the blocks of a local method on separate "
                           "ranks; --method %s is not one\nhint: use --method greedy, dgl, infopro or pff, or "
                           "--dist data (any method)", cfg->method);
    Session *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    Status st = session_open(s, cfg, 1, err);
    int n = s->n_blocks;
    double flops[LOCUS_MAX_BLOCKS], out_bytes[LOCUS_MAX_BLOCKS];
    for (int b = 0; !st && b < n; b++) {
        flops[b] = s->blocks[b].flops;
        int u = unit_index(&s->model, s->blocks[b].units, 1);
        out_bytes[b] = (double)unit_floats(&s->model.units[u]) * (double)cfg->batch * sizeof(float);
    }
    session_close(s);
    free(s);
    if (st) return st;
    memcpy(d->block_flops, flops, sizeof flops[0] * (size_t)n);
    memcpy(d->block_out_bytes, out_bytes, sizeof out_bytes[0] * (size_t)n);
    if ((st = dist_partition(flops, out_bytes, n, d->stages, cfg->dist_map, d->first, d->count, err))) {
        if (d->replicas > 1)
            status_wrap(err, st, "%d ranks = %d stages x %d replicas (--dist-replicas): ", d->size, d->stages,
                        d->replicas);
        return st;
    }
    for (int r = 0; r < d->stages; r++)
        for (int i = 0; i < d->count[r]; i++) d->rank_of_block[d->first[r] + i] = r;
    return LOCUS_OK;
}

/* Message shapes of this rank's links, from a session of this rank (plan or real). */
static void plan_links(Dist *d, const Session *s) {
    const TrainConfig *c = &s->cfg;
    const Model *m = &s->model;
    int decoders = !strcmp(c->method, "infopro") || !strcmp(c->method, "pff");
    int r = d->stage, last = d->stages - 1, n = s->n_blocks, rows = (int)(c->step_batch > 0 ? c->step_batch : c->batch);
    /* a rank needs the image when it trains a block before the last one with decoders */
    d->img_in = decoders && r > 0 && d->first[r] < n - 1;
    d->img_out = decoders && r < last && d->first[r + 1] < n - 1;
    d->img_row = (size_t)s->train_set.c * s->train_set.h * s->train_set.w;
    if (r > 0) {
        int u = unit_index(m, s->blocks[d->first[r]].units, 0);
        d->act_in = unit_floats(&m->units[u - 1]);
        d->in = msg_layout(rows, d->act_in, d->img_in ? d->img_row : 0);
    }
    if (r < last) {
        int u = unit_index(m, s->blocks[d->first[r] + d->count[r] - 1].units, 1);
        d->act_out = unit_floats(&m->units[u]);
        d->out = msg_layout(rows, d->act_out, d->img_out ? d->img_row : 0);
    }
}

/* DATA bytes of this rank's communication buffers: its queues and the SyncBatchNorm buffers. */
static size_t comm_bytes(const Dist *d, const ParamStore *ps, int depth) {
    size_t b = 0;
    if (d->pipeline && d->stage > 0) b += link_bytes(depth, d->in.floats);
    if (d->pipeline && d->stage < d->stages - 1) b += link_bytes(depth, d->out.floats);
    if (d->sync_bn) b += shard_sync_bytes(ps, d->replicas);
    return b;
}

/* This rank's memory plan: its session planned, with its queues in place, then one more step. */
static Status plan_rank(Dist *d, const TrainConfig *cfg, MemReport *plan, BlockMem *blocks, ErrorMsg *err) {
    Session *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    Status st = session_open(s, cfg, 1, err);
    if (!st) {
        if (d->pipeline) plan_links(d, s);
        size_t comm = comm_bytes(d, &s->ps, (int)cfg->dist_queue);
        mem_track_use(&s->mt, MEM_TAG_DATA, comm);
        st = session_plan_pass(s, err);
        *plan = report_from_tracker(&s->mt);
        memcpy(blocks, s->blocks, sizeof s->blocks[0] * (size_t)s->n_blocks);
        mem_track_unuse(&s->mt, MEM_TAG_DATA, comm);
    }
    session_close(s);
    free(s);
    return st;
}

/* Pipeline epoch end: every parameter and optimizer slot, zero except at its owner, OR-reduced onto the
 * root (bit-exact, signed zeros and NaNs included). Non-owners never read these values again. Only replica
 * 0's ranks take part (the other replicas hold the same values for their stages and keep them). */
static void merge_on_root(Dist *d, Session *s) {
    if (d->replica != 0) return;
    ParamStore *ps = &s->ps;
    int slots = optim_state_count(&s->opt);
    for (int h = 0; h < ps->count; h++) {
        int b = s->param_block ? s->param_block[h] : -1;
        int owner = b >= 0 ? d->rank_of_block[b] : d->root;
        if (owner == d->rank) continue;
        memset(params_value(ps, h), 0, ps->info[h].numel * sizeof(float));
        if (ps->info[h].kind != PARAM_TRAINABLE) continue;
        for (int k = 0; k < slots; k++)
            memset(optim_state(&s->opt, k) + ps->info[h].grad_offset, 0, ps->info[h].numel * sizeof(float));
    }
    int me = d->rank == d->root, root = d->stages - 1; /* the root's rank in replica_comm */
    MPI_Request r;
    MPI_Ireduce(me ? MPI_IN_PLACE : ps->values, ps->values, (int)ps->numel_total, MPI_UINT32_T, MPI_BOR, root,
                d->replica_comm, &r);
    dist_wait(&r, NULL);
    for (int k = 0; k < slots; k++) {
        float *v = optim_state(&s->opt, k);
        MPI_Ireduce(me ? MPI_IN_PLACE : v, v, (int)ps->numel_trainable, MPI_UINT32_T, MPI_BOR, root, d->replica_comm,
                    &r);
        dist_wait(&r, NULL);
    }
}

/* Epoch end of shards with their own BatchNorm statistics: the running statistics (buffers) averaged over
 * the ranks sharing each batch (synchronised BN has them equal already). */
static void average_buffers(Dist *d, Session *s) {
    if (d->shard_comm == MPI_COMM_NULL || d->sync_bn) return;
    ParamStore *ps = &s->ps;
    for (int h = 0; h < ps->count; h++) {
        if (ps->info[h].kind != PARAM_BUFFER) continue;
        float *v = params_value(ps, h);
        MPI_Allreduce(MPI_IN_PLACE, v, (int)ps->info[h].numel, MPI_FLOAT, MPI_SUM, d->shard_comm);
        for (size_t i = 0; i < ps->info[h].numel; i++) v[i] /= (float)d->replicas;
    }
}

/* Pipeline with replicas: the gradient slab ranges of the parameters this stage trains (and of any no block
 * owns), adjacent ones merged, so each step sums only those over the stage's replicas. */
static Status gradient_runs(Dist *d, const Session *s, ErrorMsg *err) {
    const ParamStore *ps = &s->ps;
    d->run_off = calloc((size_t)ps->count + 1, sizeof *d->run_off);
    d->run_len = calloc((size_t)ps->count + 1, sizeof *d->run_len);
    if (!d->run_off || !d->run_len) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    d->n_runs = 0;
    for (int h = 0; h < ps->count; h++) {
        int b = s->param_block ? s->param_block[h] : -1;
        if (ps->info[h].kind != PARAM_TRAINABLE || (b >= 0 && d->rank_of_block[b] != d->stage)) continue;
        size_t o = ps->info[h].grad_offset, n = ps->info[h].numel;
        int k = d->n_runs;
        if (k > 0 && d->run_off[k - 1] + d->run_len[k - 1] == o) d->run_len[k - 1] += n;
        else d->run_off[k] = o, d->run_len[k] = n, d->n_runs++;
    }
    return LOCUS_OK;
}

/* Pipeline with replicas, after a step: this stage's gradients, weighted by shard / batch, summed over the
 * stage's replicas (the single-process gradient is the batch mean). */
static void sum_stage_gradients(Dist *d, Session *s, int rows, int total) {
    float w = (float)rows / (float)total, *g = s->ps.grads;
    MPI_Request req[64];
    for (int k0 = 0; k0 < d->n_runs; k0 += 64) {
        int k1 = d->n_runs < k0 + 64 ? d->n_runs : k0 + 64;
        for (int k = k0; k < k1; k++) {
            float *v = g + d->run_off[k];
            if (w != 1.0f)
                for (size_t i = 0; i < d->run_len[k]; i++) v[i] *= w;
            MPI_Iallreduce(MPI_IN_PLACE, v, (int)d->run_len[k], MPI_FLOAT, MPI_SUM, d->shard_comm, &req[k - k0]);
        }
        for (int k = k0; k < k1; k++) dist_wait(&req[k - k0], &d->stats.wait_allreduce_s);
    }
}

/* One pipeline step on this rank. *n: on stage 0 the rows the loader gave (the whole batch), on return this
 * replica's rows (from the message on later stages); *total: the whole batch's rows over all replicas. */
static Status pipeline_step(Dist *d, Session *s, int epoch, int step, const float *xb, const float *yb, int *n,
                            int *total, StepResult *res, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    int q = step % (int)c->dist_queue;
    const float *labels = yb, *act = NULL, *img = xb;
    if (d->stage == 0) {
        int lo, rows;
        dist_shard(*n, d->replicas, d->replica, &lo, &rows);
        size_t row = (size_t)s->train_set.c * s->train_set.h * s->train_set.w;
        *total = *n, *n = rows, labels = yb + lo, img = xb + (size_t)lo * row;
    } else {
        link_wait(&d->recv, q);
        const float *m = link_slot(&d->recv, q);
        if (m[3] != MSG_MAGIC || (int)m[1] != epoch || (int)m[2] != step)
            return status_fail(err, LOCUS_ERR_INTERNAL, "rank %d expected epoch %d step %d from rank %d, got epoch "
                               "%d step %d", d->rank, epoch, step, d->rank - 1, (int)m[1], (int)m[2]);
        *n = (int)m[0], *total = (int)m[4];
        labels = m + d->in.labels, act = m + d->in.act, img = d->img_in ? m + d->in.img : NULL;
    }
    if (*n < 1)
        return status_fail(err, LOCUS_ERR_INTERNAL, "rank %d: a shard of %d rows of a batch of %d", d->rank, *n, *total);
    d->sync.rows_mine = *n, d->sync.rows_total = *total;
    float *out = NULL;
    if (d->stage < d->stages - 1) {
        link_wait(&d->send, q);
        out = link_slot(&d->send, q);
    }
    double t0 = progress_now(), sync0 = d->sync.wait_s; /* SyncBatchNorm waits are not busy */
    Tape *t = &s->tape;
    TapeMark mark = tape_mark(t);
    Tensor *x = tape_wrap(t, shape4(*n, s->train_set.c, s->train_set.h, s->train_set.w), (float *)img, 0);
    Tensor *y = tape_wrap(t, shape1(*n), (float *)labels, 0);
    s->stage_in = NULL;
    if (d->stage > 0) {
        const ModelUnit *u = &s->model.units[unit_index(&s->model, s->blocks[d->first[d->stage]].units, 0) - 1];
        s->stage_in = tape_wrap(t, shape4(*n, u->out_c, u->out_h, u->out_w ? u->out_w : 1), (float *)act, 0);
    }
    s->stage_out = out ? out + d->out.act : NULL;
    params_zero_grads(&s->ps);
    Status st = s->method->step(s, x, y, res, err);
    tape_release(t, mark);
    s->stage_in = NULL, s->stage_out = NULL;
    if (st) return st;
    if (out) {
        out[0] = (float)*n, out[1] = (float)epoch, out[2] = (float)step, out[3] = MSG_MAGIC, out[4] = (float)*total;
        memcpy(out + d->out.labels, labels, sizeof(float) * (size_t)*n);
        if (d->img_out) memcpy(out + d->out.img, img, sizeof(float) * (size_t)*n * d->img_row);
    }
    d->stats.busy_s += progress_now() - t0 - (d->sync.wait_s - sync0);
    if (out) link_send(&d->send, q);
    if (d->replicas > 1) sum_stage_gradients(d, s, *n, *total);
    return LOCUS_OK;
}

/* One data-parallel step: this rank's shard of the batch, gradients summed over the ranks. */
static Status data_step(Dist *d, Session *s, const float *xb, const float *yb, int n, StepResult *res,
                        double *loss_sum, long *correct, ErrorMsg *err) {
    int lo, rows;
    dist_shard(n, d->size, d->rank, &lo, &rows);
    d->sync.rows_mine = rows, d->sync.rows_total = n;
    double t0 = progress_now(), sync0 = d->sync.wait_s; /* SyncBatchNorm waits are not busy */
    params_zero_grads(&s->ps);
    memset(res, 0, sizeof *res);
    if (rows > 0) {
        Tape *t = &s->tape;
        TapeMark mark = tape_mark(t);
        size_t row = (size_t)s->train_set.c * s->train_set.h * s->train_set.w;
        Tensor *x = tape_wrap(t, shape4(rows, s->train_set.c, s->train_set.h, s->train_set.w), (float *)xb + lo * row, 0);
        Tensor *y = tape_wrap(t, shape1(rows), (float *)yb + lo, 0);
        Status st = s->method->step(s, x, y, res, err);
        tape_release(t, mark);
        if (st) return st;
        /* the single-process gradient is the batch mean: shard means weighted by shard / batch */
        float w = (float)rows / (float)n;
        if (w != 1.0f)
            for (size_t i = 0; i < s->ps.numel_trainable; i++) s->ps.grads[i] *= w;
    }
    d->stats.busy_s += progress_now() - t0 - (d->sync.wait_s - sync0);
    MPI_Request r;
    MPI_Iallreduce(MPI_IN_PLACE, s->ps.grads, (int)s->ps.numel_trainable, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
    dist_wait(&r, &d->stats.wait_allreduce_s);
    *loss_sum += res->loss * rows;
    *correct += res->correct;
    d->stats.images += rows;
    return LOCUS_OK;
}

static Status rank_setup(Dist *d, const TrainConfig *cfg0, TrainConfig *cfg, ErrorMsg *err) {
    *cfg = *cfg0;
    d->pipeline = !strcmp(cfg->dist, "pipeline");
    if (!d->pipeline && strcmp(cfg->dist, "data"))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --dist '%s'\nhint: none, pipeline or data", cfg->dist);
    if (d->size > DIST_MAX_RANKS)
        return status_fail(err, LOCUS_ERR_ARG, "%d ranks; at most %d are supported", d->size, DIST_MAX_RANKS);
    if (cfg->profile)
        return status_fail(err, LOCUS_ERR_ARG, "--profile is not available with --dist yet (each rank would time only "
                           "its own blocks)\nhint: profile one process: drop --dist and mpirun");
    if (!d->pipeline && cfg->dist_replicas != 1)
        return status_fail(err, LOCUS_ERR_ARG, "--dist-replicas %ld: replicas are copies of a pipeline (--dist "
                           "pipeline); --dist data makes every rank a replica already\nhint: drop --dist-replicas, "
                           "or use --dist pipeline --dist-replicas N", (long)cfg->dist_replicas);
    d->replicas = d->pipeline ? (int)cfg->dist_replicas : d->size;
    if (d->size % d->replicas) {
        int below = d->size - d->size % d->replicas, above = below + d->replicas;
        return status_fail(err, LOCUS_ERR_ARG, "--dist-replicas %d needs a number of ranks divisible by %d (ranks = "
                           "pipeline stages x replicas); mpirun started %d\nhint: run mpirun -np %d or -np %d, or "
                           "choose replicas that divide %d", d->replicas, d->replicas, d->size,
                           below > 0 ? below : above, below > 0 ? above : 2 * above, d->size);
    }
    d->stages = d->pipeline ? d->size / d->replicas : 1;
    d->stage = d->pipeline ? d->rank % d->stages : -1;
    d->replica = d->pipeline ? d->rank / d->stages : d->rank;
    d->root = d->pipeline ? d->stages - 1 : 0;
    d->sync_bn = cfg->dist_sync_bn && d->replicas > 1;
    cfg->no_eval = d->rank != d->root; /* only the root evaluates: the others plan no memory for it */
    d->stats.rank = d->rank, d->stats.stage = d->stage, d->stats.replica = d->replica;
    if (cfg->batch < d->replicas)
        return status_fail(err, LOCUS_ERR_ARG, "%s over %d %s needs --batch >= %d (got %ld)\nhint: each %s trains on "
                           "a shard of every batch", d->pipeline ? "--dist-replicas" : "--dist data", d->replicas,
                           d->pipeline ? "replicas" : "ranks", d->replicas, (long)cfg->batch,
                           d->pipeline ? "replica" : "rank");
    if (d->pipeline) {
        Status st = plan_partition(d, cfg0, err);
        if (st) return st;
        cfg->pipe_first = d->first[d->stage], cfg->pipe_count = d->count[d->stage];
        d->stats.block_first = cfg->pipe_first, d->stats.block_count = cfg->pipe_count;
    }
    if (d->replicas > 1) {
        int lo, rows;
        dist_shard((int)cfg->batch, d->replicas, d->replica, &lo, &rows);
        cfg->step_batch = rows;
    }
    return LOCUS_OK;
}

/* Every shard of every batch must hold a row when the shards' steps are coupled (the replicas of a pipeline
 * stage, or synchronised BatchNorm): the epoch's last batch is checked before training starts. */
static Status check_last_batch(const Dist *d, const Session *s, ErrorMsg *err) {
    if (!(d->pipeline && d->replicas > 1) && !d->sync_bn) return LOCUS_OK;
    int steps = loader_batches_per_epoch(&s->train_loader), b = (int)s->cfg.batch;
    int last = s->train_set.n - (steps - 1) * b;
    if (steps < 1 || last >= d->replicas) return LOCUS_OK;
    return status_fail(err, LOCUS_ERR_ARG, "the last batch of each epoch has %d images (%d training images, --batch %d), "
                       "fewer than the %d %s that share every batch\nhint: change --batch or --limit-train so that "
                       "the remainder is 0 or at least %d", last, s->train_set.n, b, d->replicas,
                       d->pipeline ? "replicas" : "ranks", d->replicas);
}

static void print_assignment(const Dist *d, const Session *s) {
    if (!d->pipeline) {
        printf("data parallel over %d ranks: each trains on 1/%d of every batch of %ld%s; rank 0 evaluates\n", d->size,
               d->size, (long)s->cfg.batch, d->sync_bn ? " (BatchNorm synchronised over the ranks)" : "");
        return;
    }
    if (d->replicas == 1)
        printf("pipeline over %d ranks (queue depth %ld); the last rank evaluates:\n", d->size, (long)s->cfg.dist_queue);
    else
        printf("pipeline of %d stages x %d replicas = %d ranks (queue depth %ld): replica r runs on ranks r*%d .. "
               "r*%d+%d, trains on 1/%d of every batch of %ld, and the replicas of each stage sum their gradients "
               "(BatchNorm: %s); rank %d evaluates:\n", d->stages, d->replicas, d->size, (long)s->cfg.dist_queue,
               d->stages, d->stages, d->stages - 1, d->replicas, (long)s->cfg.batch,
               d->sync_bn ? "statistics of the whole batch, synchronised" : "each shard's own statistics", d->root);
    double total = 0;
    for (int b = 0; b < s->n_blocks; b++) total += d->block_flops[b];
    for (int r = 0; r < d->stages; r++) {
        double f = 0;
        for (int i = 0; i < d->count[r]; i++) f += d->block_flops[d->first[r] + i];
        printf("  %s %d: blocks %d-%d (units %.*s-%s), %.1f%% of the predicted FLOPs\n",
               d->replicas == 1 ? "rank" : "stage", r, d->first[r],
               d->first[r] + d->count[r] - 1, (int)strcspn(s->blocks[d->first[r]].units, "-"),
               s->blocks[d->first[r]].units, strchr(s->blocks[d->first[r] + d->count[r] - 1].units, '-') + 1,
               total > 0 ? 100 * f / total : 0);
    }
}

Status dist_train_run(const TrainConfig *cfg0, const char *resume_dir, ErrorMsg *err) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
        int provided;
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    }
    double t_start = progress_now();
    Dist *d = calloc(1, sizeof *d);
    Session *s = calloc(1, sizeof *s);
    if (!d || !s) return free(d), free(s), status_fail(err, LOCUS_ERR_OOM, "out of memory");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->shard_comm = d->replica_comm = MPI_COMM_NULL;
    TrainConfig cfg;
    Status st = rank_setup(d, cfg0, &cfg, err);
    char dir[1024];
    if (resume_dir) snprintf(dir, sizeof dir, "%s", resume_dir);
    else train_run_dir_path(&cfg, dir, sizeof dir);
    dist_signal_install(d->rank, d->size, dir, d->rank == d->root);
    /* the ranks that share each batch; collective over the world, so before anything a rank may fail alone */
    if (!st && d->replicas > 1) {
        if (d->pipeline) MPI_Comm_split(MPI_COMM_WORLD, d->stage, d->replica, &d->shard_comm);
        else d->shard_comm = MPI_COMM_WORLD;
    }
    if (!st && d->pipeline) {
        if (d->replicas > 1) MPI_Comm_split(MPI_COMM_WORLD, d->replica, d->stage, &d->replica_comm);
        else d->replica_comm = MPI_COMM_WORLD;
    }

    MemReport plan;
    BlockMem plan_blocks[LOCUS_MAX_BLOCKS];
    if (!st) st = plan_rank(d, &cfg, &plan, plan_blocks, err);
    if (!st && cfg.mem_limit > 0 && plan.peak_total > (size_t)cfg.mem_limit) st = report_over_limit(&cfg, &plan, err);
    if (!st) st = session_open(s, &cfg, 0, err);
    if (!st) st = check_last_batch(d, s, err);
    int me_root = d->rank == d->root;
    if (!st && d->pipeline) {
        plan_links(d, s);
        int q = (int)cfg.dist_queue;
        if (d->stage > 0) st = link_open(&d->recv, d->rank - 1, q, d->in.floats, 0, &s->mt, err);
        if (!st && d->stage < d->stages - 1) st = link_open(&d->send, d->rank + 1, q, d->out.floats, 1, &s->mt, err);
        d->stats.send_bytes_per_batch = d->stage < d->stages - 1 ? (double)d->out.floats * sizeof(float) : 0;
        if (!st && d->replicas > 1) st = gradient_runs(d, s, err);
    }
    if (!st && d->sync_bn && !(st = shard_sync_open(&d->sync, d->shard_comm, &s->ps, &s->mt, err)))
        s->ctx.bn_sync = &d->sync.pub;
    if (!st && me_root) {
        if (!(st = dir_ensure(dir, err)) && !resume_dir) st = train_claim_run_dir(dir, cfg.overwrite, err);
        if (!st) {
            char *json = config_to_json(cfg0, train_config_keys), path[1200];
            snprintf(path, sizeof path, "%s/config.json", dir);
            st = file_write_atomic(path, json, strlen(json), err);
            free(json);
        }
        if (!st) {
            report_start(stdout, s, dir, &plan);
            print_assignment(d, s);
        }
    }
    RunState rs = {0};
    if (!st && resume_dir) {
        if (!(st = checkpoint_load(s, dir, &rs, err)) && me_root) st = metrics_truncate(dir, rs.epoch, err);
        if (!st && me_root)
            printf("resumed from %s/checkpoint.safetensors after epoch %d (best test acc %.2f%%) on %d ranks\n", dir,
                   rs.epoch, 100 * rs.best_acc, d->size);
        if (me_root) dist_signal_update(rs.epoch);
    }
    if (st) goto done;
    Progress prog;
    progress_init(&prog, me_root ? cfg.progress : "none", stderr);
    int steps = loader_batches_per_epoch(&s->train_loader);
    LrSchedule sched = train_make_schedule(&cfg, steps);
    double acc_last = rs.last_acc;
    int reads = d->stage <= 0, q = (int)cfg.dist_queue;
    for (int epoch = rs.epoch + 1; epoch <= cfg.epochs; epoch++) {
        double t_epoch = progress_now(), t_train0 = progress_now(), loss_sum = 0, img_before = d->stats.images;
        long correct = 0, seen = 0;
        if (reads) loader_start_epoch(&s->train_loader, epoch);
        if (d->pipeline && d->stage > 0)
            for (int i = 0; i < q && i < steps; i++) link_post_recv(&d->recv, i);
        float lr = 0;
        for (int step = 0; step < steps; step++) {
            const float *xb = NULL, *yb = NULL;
            int n = 0;
            if (reads && !loader_next(&s->train_loader, &xb, &yb, &n)) {
                st = status_fail(err, LOCUS_ERR_INTERNAL, "the loader ended after %d of %d batches", step, steps);
                break;
            }
            lr = lr_at(&sched, epoch, step);
            s->ctx.step = (uint64_t)rs.global_step;
            StepResult r;
            if (d->pipeline) {
                int total = 0;
                st = pipeline_step(d, s, epoch, step, xb, yb, &n, &total, &r, err);
                if (!st && d->stage > 0 && step + q < steps) link_post_recv(&d->recv, step % q);
                if (!st) d->stats.images += n;
                loss_sum += r.loss * n, correct += r.correct;
            } else {
                st = data_step(d, s, xb, yb, n, &r, &loss_sum, &correct, err);
            }
            if (st) {
                progress_break(&prog);
                status_wrap(err, st, "rank %d, epoch %d, step %d: ", d->rank, epoch, step + 1);
                break;
            }
            double t0 = progress_now();
            optim_step(&s->opt, lr);
            d->stats.busy_s += progress_now() - t0;
            rs.global_step++;
            seen += n;
            if (me_root)
                progress_step(&prog, epoch, (int)cfg.epochs, step + 1, steps, seen ? loss_sum / seen : 0,
                              seen ? (double)correct / seen : 0, seen / (progress_now() - t_train0 + 1e-9),
                              step + 1, steps);
        }
        if (st) goto done;
        if (d->pipeline) link_drain(&d->send);
        double t_train = progress_now() - t_train0;
        d->stats.train_s += t_train;
        progress_break(&prog);
        average_buffers(d, s);
        if (d->shard_comm != MPI_COMM_NULL) { /* the epoch's loss, accuracy and images over the shards */
            double v[3] = {loss_sum, (double)correct, d->stats.images - img_before};
            MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_DOUBLE, MPI_SUM, d->shard_comm);
            loss_sum = v[0], correct = (long)v[1], seen = (long)v[2];
        }
        if (d->pipeline) merge_on_root(d, s);
        rs.epoch = epoch;
        rs.train_time += t_train;
        rs.train_images += seen;
        if (me_root) {
            double acc;
            if ((st = session_evaluate(s, &acc, err))) goto done;
            acc_last = rs.last_acc = acc;
            if (acc > rs.best_acc || rs.best_epoch == 0) rs.best_acc = acc, rs.best_epoch = epoch;
            if ((st = checkpoint_save(s, dir, &rs, err))) goto done;
            dist_signal_update(epoch);
            char line[512], path[1200];
            snprintf(line, sizeof line,
                     "{\"epoch\": %d, \"train_loss\": %.6f, \"train_acc\": %.6f, \"test_acc\": %.6f, \"lr\": %.6g, "
                     "\"img_per_s\": %.1f, \"epoch_s\": %.2f, \"ranks\": %d}",
                     epoch, loss_sum / seen, (double)correct / seen, acc, lr, seen / t_train,
                     progress_now() - t_epoch, d->size);
            snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
            if ((st = jsonl_append(path, line, err))) goto done;
            printf("epoch %d/%d  train loss %.4f  train acc %.2f%%  test acc %.2f%%  (best %.2f%% @%d)  %.0f img/s  "
                   "%.1fs\n", epoch, (int)cfg.epochs, loss_sum / seen, 100.0 * correct / seen, 100 * acc,
                   100 * rs.best_acc, rs.best_epoch, seen / t_train, progress_now() - t_epoch);
            fflush(stdout);
        }
        if (cfg.stop_after > 0 && epoch >= cfg.stop_after && epoch < cfg.epochs) {
            if (me_root)
                printf("stopping after epoch %d as asked (--stop-after); continue with: mpirun -np %d locus train "
                       "--resume %s\n", epoch, d->size, dir);
            break;
        }
    }
    {
        d->stats.measured = report_from_tracker(&s->mt);
        d->stats.planned = plan;
        int same = !memcmp(&plan, &d->stats.measured, sizeof plan);
        for (int b = 0; b < s->n_blocks; b++) {
            same &= !memcmp(&plan_blocks[b].peak, &s->blocks[b].peak, sizeof(MemReport));
            d->stats.block_seconds[b] = s->blocks[b].seconds;
            d->stats.block_flops[b] = d->pipeline ? d->block_flops[b] : plan_blocks[b].flops;
        }
        d->stats.planned_ok = same;
        d->stats.wait_recv_s = d->recv.wait_s;
        if (d->pipeline) d->stats.wait_send_s = d->send.wait_s;
        d->stats.wait_allreduce_s += d->sync.wait_s;
        RankStats *all = me_root ? calloc((size_t)d->size, sizeof *all) : NULL;
        MPI_Request req;
        MPI_Igather(&d->stats, sizeof d->stats, MPI_BYTE, all, sizeof d->stats, MPI_BYTE, d->root, MPI_COMM_WORLD, &req);
        dist_wait(&req, NULL);
        if (me_root) {
            Summary sum = {0};
            sum.acc_best = rs.best_acc;
            sum.acc_last = acc_last;
            sum.img_per_s = rs.train_time > 0 ? rs.train_images / rs.train_time : 0;
            sum.wall_s = progress_now() - t_start;
            if (d->pipeline && d->replicas > 1)
                printf("\n  per rank (pipeline, %d stages x %d replicas):\n", d->stages, d->replicas);
            else
                printf("\n  per rank (%s, %d ranks):\n", d->pipeline ? "pipeline" : "data parallel", d->size);
            sum.extra = dist_report(stdout, d->pipeline ? "pipeline" : "data", all, d->size, s);
            cJSON_AddBoolToObject(sum.extra, "sync_bn", d->sync_bn);
            if (d->pipeline) {
                cJSON_AddItemToObject(sum.extra, "block_out_bytes", cJSON_CreateDoubleArray(d->block_out_bytes, s->n_blocks));
                cJSON_AddItemToObject(sum.extra, "block_flops", cJSON_CreateDoubleArray(d->block_flops, s->n_blocks));
                cJSON_AddNumberToObject(sum.extra, "queue_depth", (double)cfg.dist_queue);
                cJSON_AddNumberToObject(sum.extra, "stages", d->stages);
                cJSON_AddNumberToObject(sum.extra, "replicas", d->replicas);
            }
            st = report_finish(stdout, s, dir, &plan, plan_blocks, &sum, err);
            free(all);
        }
    }
done:
    link_close(&d->recv);
    link_close(&d->send);
    s->ctx.bn_sync = NULL;
    shard_sync_close(&d->sync);
    if (d->shard_comm != MPI_COMM_NULL && d->shard_comm != MPI_COMM_WORLD) MPI_Comm_free(&d->shard_comm);
    if (d->replica_comm != MPI_COMM_NULL && d->replica_comm != MPI_COMM_WORLD) MPI_Comm_free(&d->replica_comm);
    free(d->run_off);
    free(d->run_len);
    session_close(s);
    free(s);
    free(d);
    return st;
}
