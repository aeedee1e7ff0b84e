/* conv3x3_wino_internal.h — what the Winograd files share (src/kernels/conv3x3_wino*.c): block size, tile
 * counts, the masked-load runs of the F(2x2, 3x3) plan, and the LOCUS_CONV3X3 choice. Not a public header. */
#ifndef LOCUS_KERNELS_CONV3X3_WINO_INTERNAL_H
#define LOCUS_KERNELS_CONV3X3_WINO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define TILE_BLOCK 32 /* tiles per block (2 vectors) */

/* F(2x2, 3x3) tiles per tile row, and in all. */
static inline int tiles_x(int W) { return (W + 1) / 2; }
static inline int tiles_of(int H, int W) { return (H + 1) / 2 * tiles_x(W); }
/* Tiles per block: F(2x2) (2 vectors, or 1 on maps of at most 16 tiles), F(4x4) (2 vectors when they divide the
 * map's tiles, whole vectors of which it always has, else 1). */
static inline int block_tiles(int tiles) { return tiles <= 16 ? 16 : TILE_BLOCK; }
static inline int block_tiles4(int tiles) { return tiles % TILE_BLOCK ? 16 : TILE_BLOCK; }
/* Rows of the packed U: M rounded up to the 8-row blocks the products broadcast from. */
static inline size_t rows8(int M) { return (size_t)(M + 7) / 8 * 8; }

#define MAX_RUNS 8 /* runs per half-layout: with TX >= 2, 8 lanes touch at most 5 tile rows, one run each */

/* Where one vector of tiles reads or writes one row offset of its 32-float layout: per half (lo, hi), n runs,
 * each the positions in mask, position f at plane offset off + f (f counted within the half); the runs past n
 * have mask 0 and offset 0 (a load of nothing). */
typedef struct Runs {
    int n[2];
    uint16_t mask[2][MAX_RUNS];
    int off[2][MAX_RUNS];
} Runs;

/* One vector's runs: patch rows r (dr = r - 1) and output rows i (dr = i), columns 2 tx, 2 tx + 1 of each tile;
 * the lanes whose left (right) neighbour column is lane l - 1's odd (l + 1's even) one, and where lane 0's left
 * (lane 15's right) column comes from a tile of the previous (next) vector, its plane offset per patch row
 * (-1: none, the column is padding or the vector starts / ends a tile row). */
typedef struct VectorRuns {
    Runs in[4], out[2];
    uint16_t not_first, not_last;
    int edge_lo[4], edge_hi[4];
} VectorRuns;

/* -1: LOCUS_CONV3X3 unset or empty; 0: "direct"; 1: "winograd"; 2: "winograd2" (F(2x2, 3x3) only); -2: another
 * value. */
int conv3x3_wino_choice(void);

#endif
