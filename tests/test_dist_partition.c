/* test_dist_partition.c — the split of pipeline blocks over ranks (src/dist/partition.c; no MPI needed):
 * balanced by FLOPs, queue bytes breaking ties, every rank gets a contiguous non-empty range, explicit maps, and
 * clear errors for more ranks than blocks or a map that does not add up; the shards of a batch (dist_shard) tile
 * it, differ by at most one row, and never grow when the batch shrinks (the epoch's last batch). */
#include <string.h>

#include "dist/dist.h"
#include "expect.h"

static void expect_split(const double *flops, const double *mem, int n, int ranks, const char *map,
                         const int *want_count) {
    int first[DIST_MAX_RANKS], count[DIST_MAX_RANKS];
    ErrorMsg err;
    Status st = dist_partition(flops, mem, n, ranks, map, first, count, &err);
    EXPECT(!st, "partition of %d blocks over %d ranks: %s", n, ranks, err.text);
    if (st) return;
    int next = 0;
    for (int r = 0; r < ranks; r++) {
        EXPECT(first[r] == next && count[r] == want_count[r], "rank %d: blocks %d+%d, want %d+%d", r, first[r],
               count[r], next, want_count[r]);
        next += want_count[r];
    }
}

static void test_shards(void) {
    for (int parts = 1; parts <= 9; parts++)
        for (int full = parts; full <= 70; full++)
            for (int n = 0; n <= full; n++) {
                int next = 0, lo, rows, lo_full, rows_full, min = n, max = 0;
                for (int p = 0; p < parts; p++) {
                    dist_shard(n, parts, p, &lo, &rows);
                    dist_shard(full, parts, p, &lo_full, &rows_full);
                    EXPECT(lo == next && rows <= rows_full, "shard %d/%d of %d (full batch %d): rows [%d, +%d), "
                           "the full batch's shard has %d", p, parts, n, full, lo, rows, rows_full);
                    next = lo + rows;
                    if (rows < min) min = rows;
                    if (rows > max) max = rows;
                }
                EXPECT(next == n && max - min <= 1, "%d shards of %d rows: cover %d, sizes %d..%d", parts, n, next,
                       min, max);
            }
}

int main(void) {
    test_shards();
    const double equal[8] = {1, 1, 1, 1, 1, 1, 1, 1}, zero[8] = {0};
    expect_split(equal, zero, 8, 2, "", (const int[]){4, 4});
    expect_split(equal, zero, 8, 4, "", (const int[]){2, 2, 2, 2});
    expect_split(equal, zero, 8, 1, "", (const int[]){8});
    expect_split(equal, zero, 8, 8, "", (const int[]){1, 1, 1, 1, 1, 1, 1, 1});
    /* one heavy block gets a rank of its own */
    const double heavy[4] = {1, 1, 1, 6};
    expect_split(heavy, zero, 4, 2, "", (const int[]){3, 1});
    /* a FLOP tie ({3 | 3,3} and {3,3 | 3} both have 6 at most) broken by the queues: cutting after block 1
     * sends 1 byte per batch, after block 0 100 bytes */
    const double tie_f[3] = {3, 3, 3}, tie_out[3] = {100, 1, 0};
    expect_split(tie_f, tie_out, 3, 2, "", (const int[]){2, 1});
    const double tie_out2[3] = {1, 100, 0};
    expect_split(tie_f, tie_out2, 3, 2, "", (const int[]){1, 2});
    expect_split(equal, zero, 8, 2, "5,3", (const int[]){5, 3});
    int first[DIST_MAX_RANKS], count[DIST_MAX_RANKS];
    ErrorMsg err;
    EXPECT(dist_partition(equal, zero, 3, 4, "", first, count, &err) == LOCUS_ERR_ARG && strstr(err.text, "at least 4"),
           "more ranks than blocks: %s", err.text);
    EXPECT(dist_partition(equal, zero, 8, 2, "5,2", first, count, &err) == LOCUS_ERR_ARG &&
           strstr(err.text, "add up"), "map not adding up: %s", err.text);
    EXPECT(dist_partition(equal, zero, 8, 2, "4,x", first, count, &err) == LOCUS_ERR_ARG, "bad map: %s", err.text);
    EXPECT(dist_partition(equal, zero, 8, 2, "4,2,2", first, count, &err) == LOCUS_ERR_ARG &&
           strstr(err.text, "more than"), "map naming too many ranks: %s", err.text);
    EXPECT(dist_partition(equal, zero, 8, 2, "0,8", first, count, &err) == LOCUS_ERR_ARG, "empty rank: %s", err.text);
    return expect_report();
}
