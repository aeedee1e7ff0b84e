/* partition.c — contiguous split of pipeline blocks over ranks (see dist.h). Dynamic programming over
 * (ranks used, blocks covered) minimising the pair (largest rank FLOPs, largest rank queue bytes) in
 * lexicographic order. A rank's time is the sum of its blocks' times, so FLOPs decide. Its activation
 * memory is the maximum over its blocks (they run one after another), the same for every split, so what a
 * split changes in memory is the queues: a rank holds its incoming and outgoing batches, whose size is the
 * output of the block before its first and of its last block. That breaks ties (and is less traffic).
 * Also the split of a batch into data-parallel shards (dist_shard). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

typedef struct Cost {
    double flops, mem;
} Cost;

static int cost_less(Cost a, Cost b) {
    const double eps = 1e-9 * (a.flops > b.flops ? a.flops : b.flops);
    if (a.flops < b.flops - eps) return 1;
    if (a.flops > b.flops + eps) return 0;
    return a.mem < b.mem;
}

static Cost cost_max(Cost a, Cost b) {
    Cost c = {a.flops > b.flops ? a.flops : b.flops, a.mem > b.mem ? a.mem : b.mem};
    return c;
}

static Status parse_map(const char *map, int n_blocks, int ranks, int *first, int *count, ErrorMsg *err) {
    int r = 0, sum = 0;
    const char *p = map;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || (*end && *end != ','))
            return status_fail(err, LOCUS_ERR_ARG, "--dist-map '%s': expected blocks per rank such as \"3,1\"\n"
                               "hint: one positive count per rank, separated by commas", map);
        if (r == ranks)
            return status_fail(err, LOCUS_ERR_ARG, "--dist-map '%s' names more than the %d ranks this job has\n"
                               "hint: give one count per rank (mpirun -np)", map, ranks);
        first[r] = sum, count[r] = (int)v, sum += (int)v, r++;
        p = *end ? end + 1 : end;
    }
    if (r != ranks || sum != n_blocks)
        return status_fail(err, LOCUS_ERR_ARG, "--dist-map '%s' gives %d blocks to %d ranks; the job has %d ranks "
                           "and the network %d blocks\nhint: the counts must add up to the number of blocks (--k)",
                           map, sum, r, ranks, n_blocks);
    return LOCUS_OK;
}

Status dist_partition(const double *flops, const double *out_bytes, int n_blocks, int ranks, const char *map, int *first,
                      int *count, ErrorMsg *err) {
    if (ranks < 1 || ranks > n_blocks)
        return status_fail(err, LOCUS_ERR_ARG, "--dist pipeline with %d ranks needs at least %d blocks; the "
                           "network has %d\nhint: raise --k or run fewer ranks (mpirun -np)",
                           ranks, ranks, n_blocks);
    if (map && map[0]) return parse_map(map, n_blocks, ranks, first, count, err);
    /* best[r][b]: best cost of covering blocks [0, b) with r ranks; cut[r][b]: where rank r-1 starts */
    size_t cells = (size_t)(ranks + 1) * (size_t)(n_blocks + 1);
    Cost *best = malloc(cells * sizeof *best);
    int *cut = malloc(cells * sizeof *cut);
    if (!best || !cut) {
        free(best), free(cut);
        return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    }
#define AT(r, b) ((size_t)(r) * (size_t)(n_blocks + 1) + (size_t)(b))
    const Cost inf = {1e300, 1e300};
    for (size_t i = 0; i < cells; i++) best[i] = inf, cut[i] = -1;
    best[AT(0, 0)] = (Cost){0, 0};
    for (int r = 1; r <= ranks; r++)
        for (int b = r; b <= n_blocks - (ranks - r); b++)
            for (int a = r - 1; a < b; a++) {
                if (cut[AT(r - 1, a)] < 0 && !(r == 1 && a == 0)) continue;
                Cost mine = {0, (a > 0 ? out_bytes[a - 1] : 0) + (b < n_blocks ? out_bytes[b - 1] : 0)};
                for (int i = a; i < b; i++) mine.flops += flops[i];
                Cost c = cost_max(best[AT(r - 1, a)], mine);
                if (cut[AT(r, b)] < 0 || cost_less(c, best[AT(r, b)])) best[AT(r, b)] = c, cut[AT(r, b)] = a;
            }
    for (int r = ranks, b = n_blocks; r >= 1; r--) {
        int a = cut[AT(r, b)];
        first[r - 1] = a, count[r - 1] = b - a, b = a;
    }
#undef AT
    free(best), free(cut);
    return LOCUS_OK;
}

void dist_shard(int n, int parts, int part, int *lo, int *rows) {
    CHECK(parts >= 1 && part >= 0 && part < parts && n >= 0, "shard %d of %d of %d rows", part, parts, n);
    int base = n / parts, extra = n % parts;
    *lo = part * base + (part < extra ? part : extra);
    *rows = base + (part < extra);
}
