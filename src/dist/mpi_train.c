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
 *   summation order. Rank 0 evaluates and writes.
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
    int first[DIST_MAX_RANKS], count[DIST_MAX_RANKS]; /* pipeline: blocks of each rank */
    int rank_of_block[LOCUS_MAX_BLOCKS];
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
    if ((st = dist_partition(flops, out_bytes, n, d->size, cfg->dist_map, d->first, d->count, err))) return st;
    for (int r = 0; r < d->size; r++)
        for (int i = 0; i < d->count[r]; i++) d->rank_of_block[d->first[r] + i] = r;
    return LOCUS_OK;
}

/* Message shapes of this rank's links, from a session of this rank (plan or real). */
static void plan_links(Dist *d, const Session *s) {
    const TrainConfig *c = &s->cfg;
    const Model *m = &s->model;
    int decoders = !strcmp(c->method, "infopro") || !strcmp(c->method, "pff");
    int r = d->rank, last = d->size - 1, n = s->n_blocks;
    /* a rank needs the image when it trains a block before the last one with decoders */
    d->img_in = decoders && r > 0 && d->first[r] < n - 1;
    d->img_out = decoders && r < last && d->first[r + 1] < n - 1;
    d->img_row = (size_t)s->train_set.c * s->train_set.h * s->train_set.w;
    if (r > 0) {
        int u = unit_index(m, s->blocks[d->first[r]].units, 0);
        d->act_in = unit_floats(&m->units[u - 1]);
        d->in = msg_layout((int)c->batch, d->act_in, d->img_in ? d->img_row : 0);
    }
    if (r < last) {
        int u = unit_index(m, s->blocks[d->first[r] + d->count[r] - 1].units, 1);
        d->act_out = unit_floats(&m->units[u]);
        d->out = msg_layout((int)c->batch, d->act_out, d->img_out ? d->img_row : 0);
    }
}

static size_t links_bytes(const Dist *d, int depth) {
    size_t b = 0;
    if (d->pipeline && d->rank > 0) b += link_bytes(depth, d->in.floats);
    if (d->pipeline && d->rank < d->size - 1) b += link_bytes(depth, d->out.floats);
    return b;
}

/* This rank's memory plan: its session planned, with its queues in place, then one more step. */
static Status plan_rank(Dist *d, const TrainConfig *cfg, MemReport *plan, BlockMem *blocks, ErrorMsg *err) {
    Session *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    Status st = session_open(s, cfg, 1, err);
    if (!st) {
        if (d->pipeline) {
            plan_links(d, s);
            if (d->rank > 0) mem_track_use(&s->mt, MEM_TAG_DATA, link_bytes((int)cfg->dist_queue, d->in.floats));
            if (d->rank < d->size - 1) mem_track_use(&s->mt, MEM_TAG_DATA, link_bytes((int)cfg->dist_queue, d->out.floats));
        }
        st = session_plan_pass(s, err);
        *plan = report_from_tracker(&s->mt);
        memcpy(blocks, s->blocks, sizeof s->blocks[0] * (size_t)s->n_blocks);
        if (d->pipeline) mem_track_unuse(&s->mt, MEM_TAG_DATA, links_bytes(d, (int)cfg->dist_queue));
    }
    session_close(s);
    free(s);
    return st;
}

/* Pipeline epoch end: every parameter and optimizer slot, zero except at its owner, OR-reduced onto the
 * root (bit-exact, signed zeros and NaNs included). Non-owners never read these values again. */
static void merge_on_root(Dist *d, Session *s) {
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
    int me = d->rank == d->root;
    MPI_Request r;
    MPI_Ireduce(me ? MPI_IN_PLACE : ps->values, ps->values, (int)ps->numel_total, MPI_UINT32_T, MPI_BOR, d->root,
                MPI_COMM_WORLD, &r);
    dist_wait(&r, NULL);
    for (int k = 0; k < slots; k++) {
        float *v = optim_state(&s->opt, k);
        MPI_Ireduce(me ? MPI_IN_PLACE : v, v, (int)ps->numel_trainable, MPI_UINT32_T, MPI_BOR, d->root, MPI_COMM_WORLD,
                    &r);
        dist_wait(&r, NULL);
    }
}

/* Data-parallel epoch end: BatchNorm running statistics (buffers) averaged over the ranks. */
static void average_buffers(Dist *d, Session *s) {
    ParamStore *ps = &s->ps;
    for (int h = 0; h < ps->count; h++) {
        if (ps->info[h].kind != PARAM_BUFFER) continue;
        float *v = params_value(ps, h);
        MPI_Allreduce(MPI_IN_PLACE, v, (int)ps->info[h].numel, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (size_t i = 0; i < ps->info[h].numel; i++) v[i] /= (float)d->size;
    }
}

/* One pipeline step on this rank. *n: rows (set from the message on ranks > 0). */
static Status pipeline_step(Dist *d, Session *s, int epoch, int step, const float *xb, const float *yb, int *n,
                            StepResult *res, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    int q = step % (int)c->dist_queue;
    const float *labels = yb, *act = NULL, *img = xb;
    if (d->rank > 0) {
        link_wait(&d->recv, q);
        const float *m = link_slot(&d->recv, q);
        if (m[3] != MSG_MAGIC || (int)m[1] != epoch || (int)m[2] != step)
            return status_fail(err, LOCUS_ERR_INTERNAL, "rank %d expected epoch %d step %d from rank %d, got epoch "
                               "%d step %d", d->rank, epoch, step, d->rank - 1, (int)m[1], (int)m[2]);
        *n = (int)m[0];
        labels = m + d->in.labels, act = m + d->in.act, img = d->img_in ? m + d->in.img : NULL;
    }
    float *out = NULL;
    if (d->rank < d->size - 1) {
        link_wait(&d->send, q);
        out = link_slot(&d->send, q);
    }
    double t0 = progress_now();
    Tape *t = &s->tape;
    TapeMark mark = tape_mark(t);
    Tensor *x = tape_wrap(t, shape4(*n, s->train_set.c, s->train_set.h, s->train_set.w), (float *)img, 0);
    Tensor *y = tape_wrap(t, shape1(*n), (float *)labels, 0);
    s->stage_in = NULL;
    if (d->rank > 0) {
        const ModelUnit *u = &s->model.units[unit_index(&s->model, s->blocks[d->first[d->rank]].units, 0) - 1];
        s->stage_in = tape_wrap(t, shape4(*n, u->out_c, u->out_h, u->out_w ? u->out_w : 1), (float *)act, 0);
    }
    s->stage_out = out ? out + d->out.act : NULL;
    params_zero_grads(&s->ps);
    Status st = s->method->step(s, x, y, res, err);
    tape_release(t, mark);
    s->stage_in = NULL, s->stage_out = NULL;
    if (st) return st;
    if (out) {
        out[0] = (float)*n, out[1] = (float)epoch, out[2] = (float)step, out[3] = MSG_MAGIC;
        memcpy(out + d->out.labels, labels, sizeof(float) * (size_t)*n);
        if (d->img_out) memcpy(out + d->out.img, img, sizeof(float) * (size_t)*n * d->img_row);
    }
    d->stats.busy_s += progress_now() - t0;
    if (out) link_send(&d->send, q);
    return LOCUS_OK;
}

/* One data-parallel step: this rank's shard of the batch, gradients summed over the ranks. */
static Status data_step(Dist *d, Session *s, const float *xb, const float *yb, int n, StepResult *res,
                        double *loss_sum, long *correct, ErrorMsg *err) {
    int lo = (int)((long)n * d->rank / d->size), hi = (int)((long)n * (d->rank + 1) / d->size), rows = hi - lo;
    double t0 = progress_now();
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
    d->stats.busy_s += progress_now() - t0;
    MPI_Request r;
    MPI_Iallreduce(MPI_IN_PLACE, s->ps.grads, (int)s->ps.numel_trainable, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
    dist_wait(&r, &d->stats.wait_send_s);
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
    d->root = d->pipeline ? d->size - 1 : 0;
    d->stats.rank = d->rank;
    if (d->pipeline) {
        Status st = plan_partition(d, cfg0, err);
        if (st) return st;
        cfg->pipe_first = d->first[d->rank], cfg->pipe_count = d->count[d->rank];
        d->stats.block_first = cfg->pipe_first, d->stats.block_count = cfg->pipe_count;
    } else {
        if (cfg->batch < d->size)
            return status_fail(err, LOCUS_ERR_ARG, "--dist data over %d ranks needs --batch >= %d (got %ld)\nhint: "
                               "each rank trains on a shard of every batch", d->size, d->size, (long)cfg->batch);
        cfg->step_batch = cfg->batch * (d->rank + 1) / d->size - cfg->batch * d->rank / d->size;
    }
    return LOCUS_OK;
}

static void print_assignment(const Dist *d, const Session *s) {
    if (!d->pipeline) {
        printf("data parallel over %d ranks: each trains on 1/%d of every batch of %ld; rank 0 evaluates\n", d->size,
               d->size, (long)s->cfg.batch);
        return;
    }
    printf("pipeline over %d ranks (queue depth %ld); the last rank evaluates:\n", d->size, (long)s->cfg.dist_queue);
    double total = 0;
    for (int b = 0; b < s->n_blocks; b++) total += d->block_flops[b];
    for (int r = 0; r < d->size; r++) {
        double f = 0;
        for (int i = 0; i < d->count[r]; i++) f += d->block_flops[d->first[r] + i];
        printf("  rank %d: blocks %d-%d (units %.*s-%s), %.1f%% of the predicted FLOPs\n", r, d->first[r],
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
    TrainConfig cfg;
    Status st = rank_setup(d, cfg0, &cfg, err);
    char dir[1024];
    if (resume_dir) snprintf(dir, sizeof dir, "%s", resume_dir);
    else train_run_dir_path(&cfg, dir, sizeof dir);
    dist_signal_install(d->rank, d->size, dir, d->rank == (!strcmp(cfg.dist, "pipeline") ? d->size - 1 : 0));

    MemReport plan;
    BlockMem plan_blocks[LOCUS_MAX_BLOCKS];
    if (!st) st = plan_rank(d, &cfg, &plan, plan_blocks, err);
    if (!st && cfg.mem_limit > 0 && plan.peak_total > (size_t)cfg.mem_limit) st = report_over_limit(&cfg, &plan, err);
    if (!st) st = session_open(s, &cfg, 0, err);
    int me_root = d->rank == d->root;
    if (!st && d->pipeline) {
        plan_links(d, s);
        int q = (int)cfg.dist_queue;
        if (d->rank > 0) st = link_open(&d->recv, d->rank - 1, q, d->in.floats, 0, &s->mt, err);
        if (!st && d->rank < d->size - 1) st = link_open(&d->send, d->rank + 1, q, d->out.floats, 1, &s->mt, err);
        d->stats.send_bytes_per_batch = d->rank < d->size - 1 ? (double)d->out.floats * sizeof(float) : 0;
    }
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
    int reads = d->rank == 0 || !d->pipeline, q = (int)cfg.dist_queue;
    for (int epoch = rs.epoch + 1; epoch <= cfg.epochs; epoch++) {
        double t_epoch = progress_now(), t_train0 = progress_now(), loss_sum = 0, img_before = d->stats.images;
        long correct = 0, seen = 0;
        if (reads) loader_start_epoch(&s->train_loader, epoch);
        if (d->pipeline && d->rank > 0)
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
                st = pipeline_step(d, s, epoch, step, xb, yb, &n, &r, err);
                if (!st && d->rank > 0 && step + q < steps) link_post_recv(&d->recv, step % q);
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
        if (d->pipeline) {
            merge_on_root(d, s);
        } else {
            average_buffers(d, s);
            double v[3] = {loss_sum, (double)correct, d->stats.images - img_before};
            MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            loss_sum = v[0], correct = (long)v[1], seen = (long)v[2];
        }
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
            printf("\n  per rank (%s, %d ranks):\n", d->pipeline ? "pipeline" : "data parallel", d->size);
            sum.extra = dist_report(stdout, d->pipeline ? "pipeline" : "data", all, d->size, s);
            if (d->pipeline) {
                cJSON_AddItemToObject(sum.extra, "block_out_bytes", cJSON_CreateDoubleArray(d->block_out_bytes, s->n_blocks));
                cJSON_AddItemToObject(sum.extra, "block_flops", cJSON_CreateDoubleArray(d->block_flops, s->n_blocks));
                cJSON_AddNumberToObject(sum.extra, "queue_depth", (double)cfg.dist_queue);
            }
            st = report_finish(stdout, s, dir, &plan, plan_blocks, &sum, err);
            free(all);
        }
    }
done:
    link_close(&d->recv);
    link_close(&d->send);
    session_close(s);
    free(s);
    free(d);
    return st;
}
