/* mpi_bnsync.c — SyncBatchNorm over data-parallel shards (the BnSync hooks of layer.h), on a communicator
 * that holds the ranks sharing each batch: every rank of --dist data, or the replicas of one pipeline stage.
 *
 * merge_stats gathers every shard's (count, mean, sum of squared deviations) per channel and merges them
 * with Chan et al.'s pairwise update in shard order, so every rank gets bit-identical statistics (an
 * allgather, not a reduction whose order MPI may choose per rank). sum_grads sums sum(dy), sum(dy xhat)
 * over the shards with MPI_Allreduce. A shard's loss is the mean over its rows, the batch's loss the mean
 * over all rows, so shard r's dy is the batch's dy over w_r = rows_r / rows; the sums are taken of
 * w_r * (shard sums) and handed back divided by this shard's w, in this shard's units (the caller scales
 * every gradient of the shard by w afterwards, dx included, which makes it the batch's). Waits go through
 * dist_wait, which gives the core away while the other shards catch up. */
#include <string.h>

#include "dist/mpi_internal.h"

static size_t sync_doubles(int channels, int parts) {
    return 2 * (size_t)channels + (2 * (size_t)channels + 1) * ((size_t)parts + 1);
}

size_t shard_sync_bytes(const ParamStore *ps, int parts) {
    return sync_doubles(shard_sync_channels(ps), parts) * sizeof(double);
}

int shard_sync_channels(const ParamStore *ps) {
    int c = 1;
    for (int h = 0; h < ps->count; h++) {
        const char *n = ps->info[h].name, *dot = strrchr(n, '.');
        if (ps->info[h].kind == PARAM_BUFFER && dot && !strcmp(dot, ".running_mean") && (int)ps->info[h].numel > c)
            c = (int)ps->info[h].numel;
    }
    return c;
}

static double merge_stats(void *arg, double *buf, int C, double count) {
    ShardSync *y = arg;
    double *mine = y->pub.buf + 2 * (size_t)y->pub.channels, *all = mine + 2 * (size_t)C + 1;
    mine[0] = count;
    memcpy(mine + 1, buf, 2 * (size_t)C * sizeof(double));
    MPI_Request r;
    MPI_Iallgather(mine, 2 * C + 1, MPI_DOUBLE, all, 2 * C + 1, MPI_DOUBLE, y->comm, &r);
    dist_wait(&r, &y->wait_s);
    double total = 0;
    for (int c = 0; c < C; c++) buf[c] = 0, buf[C + c] = 0;
    for (int p = 0; p < y->parts; p++) {
        const double *o = all + (size_t)p * (2 * (size_t)C + 1), nb = o[0], na = total;
        if (nb <= 0) continue;
        for (int c = 0; c < C; c++) {
            const double delta = o[1 + c] - buf[c];
            buf[c] += delta * nb / (na + nb);
            buf[C + c] += o[1 + C + c] + delta * delta * na * nb / (na + nb);
        }
        total += nb;
    }
    return total;
}

static double sum_grads(void *arg, double *buf, int C, double count) {
    ShardSync *y = arg;
    const double w = (double)y->rows_mine / (double)y->rows_total;
    for (int i = 0; i < 2 * C; i++) buf[i] *= w;
    MPI_Request r;
    MPI_Iallreduce(MPI_IN_PLACE, buf, 2 * C, MPI_DOUBLE, MPI_SUM, y->comm, &r);
    dist_wait(&r, &y->wait_s);
    for (int i = 0; i < 2 * C; i++) buf[i] /= w;
    return count / (double)y->rows_mine * (double)y->rows_total;
}

Status shard_sync_open(ShardSync *y, MPI_Comm comm, const ParamStore *ps, MemTracker *mt, ErrorMsg *err) {
    memset(y, 0, sizeof *y);
    y->comm = comm;
    MPI_Comm_size(comm, &y->parts);
    y->pub.channels = shard_sync_channels(ps);
    y->bytes = shard_sync_bytes(ps, y->parts);
    y->pub.buf = mem_alloc(mt, MEM_TAG_DATA, y->bytes);
    if (!y->pub.buf) return status_fail(err, LOCUS_ERR_OOM, "out of memory (SyncBatchNorm buffers)");
    y->mt = mt;
    y->pub.merge_stats = merge_stats;
    y->pub.sum_grads = sum_grads;
    y->pub.arg = y;
    return LOCUS_OK;
}

void shard_sync_close(ShardSync *y) {
    if (y->pub.buf) mem_free(y->mt, MEM_TAG_DATA, y->pub.buf, y->bytes);
    memset(y, 0, sizeof *y);
}
