/* conv3x3_wino_avx512.c — Winograd F(2x2, 3x3) for the 3x3 / stride 1 / padding 1 convolution (conv3x3_wino.h).
 *
 * Lanes are tiles: a vector holds 16 consecutive tiles in row-major order (TX = ceil(W / 2) tiles per tile row,
 * so a vector may start and end inside tile rows and span several). On one patch row, its tiles need columns
 * 2 tx - 1 .. 2 tx + 2. The 32 floats L[2 l + k] = x[row][2 tx + k] (k = 0, 1) are loaded as two vectors (lo, hi)
 * by masked loads, one per run of positions contiguous in memory (a run ends where the vector passes to the
 * next tile row; a position outside the map, or past the last tile, is masked and loads 0) and split into
 * even and odd lanes by two permutes: patch columns 1 and 2. Column 0 is lane l - 1's odd value and column 3
 * lane l + 1's even one (two more permutes, 0 at a tile row's ends); where a vector starts or ends inside a
 * tile row, lane 0's column 0 and lane 15's column 3 belong to the neighbouring vector's tiles and are loaded
 * as scalars. The output transform's two columns per tile interleave back into the same layout, stored with
 * the output rows' runs (none outside the map, so odd H and W need no special case). The work goes in
 * blocks of up to 32 tiles: all V of the block, then its 16 products (register tile 8 output channels x 32
 * tiles, or 16 x 16), then all outputs. The runs of every vector are computed once per map (the plan).
 * The weight gradient (conv3x3_wino_dw_avx512) takes V from x transposed instead (lanes are 16 channels: no
 * gathers), dM = A dy A^T from dy with the output's runs (lanes are tiles), and adds dU_p += dM_p V_p^T over
 * the block's tiles with a register tile of 16 output channels x 16 input channels. */
#include "kernels/conv3x3_wino.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TILE_BLOCK 32 /* tiles per block (2 vectors) */

int conv3x3_wino_fits(int H, int W) { return H >= 2 && W >= 4; }

static int tiles_x(int W) { return (W + 1) / 2; }
static int tiles_of(int H, int W) { return (H + 1) / 2 * tiles_x(W); }

void conv3x3_wino_padded(int H, int W, int *Hp, int *Wp) { *Hp = (H + 1) / 2 * 2 + 2, *Wp = tiles_x(W) * 2 + 2; }

/* -1: unset or empty; 0: "direct"; 1: "winograd"; 2: "winograd2" (F(2x2, 3x3) only); -2: another value */
static int env_choice(void) {
    const char *v = getenv("LOCUS_CONV3X3");
    if (!v || !*v) return -1;
    if (!strcmp(v, "direct")) return 0;
    if (!strcmp(v, "winograd")) return 1;
    if (!strcmp(v, "winograd2")) return 2;
    return -2;
}

Status conv3x3_wino_check_env(ErrorMsg *err) {
    if (env_choice() == -2)
        return status_fail(err, LOCUS_ERR_ARG,
                           "LOCUS_CONV3X3='%s' is not a 3x3 convolution algorithm\nhint: use winograd (the default "
                           "where it runs), winograd2 (F(2x2, 3x3) only) or direct, or unset it",
                           getenv("LOCUS_CONV3X3"));
    return LOCUS_OK;
}

const char *conv3x3_algorithm(KernelIsa isa) {
    if (!conv3x3_wino_available(isa)) return "direct";
    return conv3x3_wino4_available(isa) ? "Winograd F(4x4,3x3) on 8/16/32-wide maps with >= 32 channels, "
                                          "F(2x2,3x3) on other maps >= 2 x 4, direct elsewhere"
                                        : "Winograd F(2x2,3x3) on maps >= 2 x 4, direct elsewhere";
}

size_t conv3x3_wino_weight_floats(int M, int C) { return (size_t)16 * ((M + 7) / 8 * 8) * C; }

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

/* The runs of the vector of tiles t0 .. t0 + 15: position 2 l + k is row 2 ty + dr, column 2 tx + dc + k of tile
 * t0 + l (ty, tx), present when that tile exists and the position is inside the map. */
static Runs runs_of(int H, int W, int t0, int dr, int dc) {
    Runs R;
    const int TX = tiles_x(W), tiles = tiles_of(H, W);
    for (int h = 0; h < 2; h++) {
        R.n[h] = 0;
        for (int s = 0; s < MAX_RUNS; s++) R.mask[h][s] = 0, R.off[h][s] = 0; /* unused runs load nothing */
        long prev = -2; /* plane offset of the previous present position of this half, -2: none */
        for (int f = 0; f < 16; f++) {
            const int pos = 16 * h + f, t = t0 + pos / 2;
            const int row = 2 * (t / TX) + dr, col = 2 * (t % TX) + dc + pos % 2;
            if (t >= tiles || row < 0 || row >= H || col < 0 || col >= W) {
                prev = -2;
                continue;
            }
            const long at = (long)row * W + col;
            if (at != prev + 1 || prev == -2) { /* a new run */
                if (R.n[h] == MAX_RUNS) break;  /* (cannot happen with TX >= 2) */
                R.mask[h][R.n[h]] = 0, R.off[h][R.n[h]] = (int)(at - f), R.n[h]++;
            }
            R.mask[h][R.n[h] - 1] |= (uint16_t)(1u << f);
            prev = at;
        }
    }
    return R;
}

static size_t vectors_of(int H, int W) { return ((size_t)tiles_of(H, W) + 15) / 16; }

size_t conv3x3_wino_plan_floats(int H, int W) {
    return (vectors_of(H, W) * sizeof(VectorRuns) + sizeof(float) - 1) / sizeof(float);
}

void conv3x3_wino_plan(int H, int W, float *plan) {
    VectorRuns *vr = (VectorRuns *)(void *)plan;
    const int TX = tiles_x(W), tiles = tiles_of(H, W);
    for (size_t v = 0; v < vectors_of(H, W); v++) {
        const int t0 = (int)(16 * v), t15 = t0 + 15;
        VectorRuns *r = &vr[v];
        for (int i = 0; i < 4; i++) r->in[i] = runs_of(H, W, t0, i - 1, 0);
        for (int i = 0; i < 2; i++) r->out[i] = runs_of(H, W, t0, i, 0);
        r->not_first = r->not_last = 0;
        for (int l = 0; l < 16; l++) {
            if (l > 0 && (t0 + l) % TX) r->not_first |= (uint16_t)(1u << l);
            if (l < 15 && (t0 + l) % TX != TX - 1) r->not_last |= (uint16_t)(1u << l);
        }
        for (int i = 0; i < 4; i++) {
            const int row0 = 2 * (t0 / TX) + i - 1, row15 = 2 * (t15 / TX) + i - 1, col15 = 2 * (t15 % TX) + 2;
            r->edge_lo[i] = t0 % TX && row0 >= 0 && row0 < H ? row0 * W + 2 * (t0 % TX) - 1 : -1;
            const int right = t15 < tiles && t15 % TX != TX - 1 && col15 < W && row15 >= 0 && row15 < H;
            r->edge_hi[i] = right ? row15 * W + col15 : -1;
        }
    }
}

size_t conv3x3_wino_work_floats(int M, int C, int H, int W) {
    const int tiles = tiles_of(H, W), tb = tiles <= 16 ? 16 : TILE_BLOCK;
    return (size_t)16 * tb * ((size_t)M + C);
}

/* The 8 rows m0 .. m0 + 7 of channel c's 3x3 kernels, g[t][j] = A[m0 + j][c * 9 + t] (0 past M): the weight
 * transforms work on 8 rows at once, the 8 floats U keeps together (a per-row scalar loop cost the predictor's
 * 16-sample calls more than F(4x4) saved on 64 channels). */
static void kernels_of_8(int M, int m0, int c, const float *A, size_t lda, float g[9][8]) {
    for (int j = 0; j < 8; j++)
        for (int t = 0; t < 9; t++) g[t][j] = m0 + j < M ? A[(size_t)(m0 + j) * lda + (size_t)c * 9 + t] : 0.0f;
}

void conv3x3_wino_weights(int M, int C, const float *A, size_t lda, float *U) {
    const size_t plane = (size_t)(M + 7) / 8 * 8 * C; /* floats of one position p */
    for (int m0 = 0; m0 < M; m0 += 8)
        for (int c = 0; c < C; c++) {
            float g[9][8], gg[4][3][8]; /* G g: rows */
            kernels_of_8(M, m0, c, A, lda, g);
            for (int kw = 0; kw < 3; kw++)
                for (int j = 0; j < 8; j++) {
                    gg[0][kw][j] = g[kw][j];
                    gg[1][kw][j] = 0.5f * (g[kw][j] + g[3 + kw][j] + g[6 + kw][j]);
                    gg[2][kw][j] = 0.5f * (g[kw][j] - g[3 + kw][j] + g[6 + kw][j]);
                    gg[3][kw][j] = g[6 + kw][j];
                }
            float *u = U + ((size_t)(m0 / 8) * C + c) * 8;
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 8; j++) {
                    u[(4 * i + 0) * plane + j] = gg[i][0][j];
                    u[(4 * i + 1) * plane + j] = 0.5f * (gg[i][0][j] + gg[i][1][j] + gg[i][2][j]);
                    u[(4 * i + 2) * plane + j] = 0.5f * (gg[i][0][j] - gg[i][1][j] + gg[i][2][j]);
                    u[(4 * i + 3) * plane + j] = gg[i][2][j];
                }
        }
}

void conv3x3_wino_dw_finish(const float *du, size_t stride, float *dg) {
    float gu[3][4]; /* G^T dU: rows kh */
    for (int j = 0; j < 4; j++) {
        const float u0 = du[(0 + j) * stride], u1 = du[(4 + j) * stride], u2 = du[(8 + j) * stride];
        const float u3 = du[(12 + j) * stride];
        gu[0][j] = u0 + 0.5f * (u1 + u2);
        gu[1][j] = 0.5f * (u1 - u2);
        gu[2][j] = 0.5f * (u1 + u2) + u3;
    }
    for (int kh = 0; kh < 3; kh++) {
        dg[kh * 3 + 0] += gu[kh][0] + 0.5f * (gu[kh][1] + gu[kh][2]);
        dg[kh * 3 + 1] += 0.5f * (gu[kh][1] - gu[kh][2]);
        dg[kh * 3 + 2] += 0.5f * (gu[kh][1] + gu[kh][2]) + gu[kh][3];
    }
}

/* ---- F(4x4, 3x3): 36 products per 4x4 output tile (16 outputs) instead of 16 per 2x2 tile ---- */

static const float G4[6][3] = {{1.0f / 4, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6},
                               {0, 0, 1}};

void conv3x3_wino4_dw_finish(const float *du, size_t stride, float *dg) {
    float gu[3][6]; /* G^T dU */
    for (int kh = 0; kh < 3; kh++)
        for (int j = 0; j < 6; j++) {
            float acc = 0.0f;
            for (int i = 0; i < 6; i++) acc += G4[i][kh] * du[(6 * i + j) * stride];
            gu[kh][j] = acc;
        }
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) {
            float acc = 0.0f;
            for (int j = 0; j < 6; j++) acc += gu[kh][j] * G4[j][kw];
            dg[kh * 3 + kw] += acc;
        }
}

int conv3x3_wino4_fits(int H, int W) {
    if (W != 16 && W != 32) return 0;
    const int rows_per_vector = 64 / W; /* tile rows per vector of 16 tiles */
    return H % 4 == 0 && (H / 4) % rows_per_vector == 0;
}

size_t conv3x3_wino4_weight_floats(int M, int C) { return (size_t)36 * ((M + 7) / 8 * 8) * C; }

size_t conv3x3_wino4_work_floats(int M, int C, int H, int W) {
    const int tiles = H / 4 * (W / 4), tb = tiles % TILE_BLOCK ? 16 : TILE_BLOCK;
    return (size_t)36 * tb * ((size_t)M + C);
}

void conv3x3_wino4_weights(int M, int C, const float *A, size_t lda, float *U) {
    const size_t plane = (size_t)(M + 7) / 8 * 8 * C;
    for (int m0 = 0; m0 < M; m0 += 8)
        for (int c = 0; c < C; c++) {
            float g[9][8], gg[6][3][8]; /* G g */
            kernels_of_8(M, m0, c, A, lda, g);
            for (int i = 0; i < 6; i++)
                for (int kw = 0; kw < 3; kw++)
                    for (int j = 0; j < 8; j++)
                        gg[i][kw][j] = G4[i][0] * g[kw][j] + G4[i][1] * g[3 + kw][j] + G4[i][2] * g[6 + kw][j];
            float *u = U + ((size_t)(m0 / 8) * C + c) * 8;
            for (int i = 0; i < 6; i++)
                for (int q = 0; q < 6; q++)
                    for (int j = 0; j < 8; j++)
                        u[(6 * i + q) * plane + j] =
                            gg[i][0][j] * G4[q][0] + gg[i][1][j] * G4[q][1] + gg[i][2][j] * G4[q][2];
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#include <immintrin.h>

int conv3x3_wino_available(KernelIsa isa) { return isa == KERNEL_ISA_AVX512 && env_choice() != 0; }
int conv3x3_wino4_available(KernelIsa isa) { return conv3x3_wino_available(isa) && env_choice() != 2; }

#define INL static inline __attribute__((always_inline))

/* runs: 1 or 2 when no half of these vectors has more (a compile-time count: 10-20% faster than the loop on
 * CIFAR's maps), 0: any number. */
INL __m512 load_half(const Runs *R, int h, const float *plane, const int runs) {
    __m512 v = _mm512_maskz_loadu_ps(R->mask[h][0], plane + R->off[h][0]);
    if (runs == 1) return v;
    if (runs == 2) return _mm512_mask_loadu_ps(v, R->mask[h][1], plane + R->off[h][1]);
    for (int s = 1; s < R->n[h]; s++) v = _mm512_mask_loadu_ps(v, R->mask[h][s], plane + R->off[h][s]);
    return v;
}

/* 1 or 2 when no row of the nv vectors has more runs in a half, else 0. */
static int max_runs(const VectorRuns *vr, int nv) {
    int n = 0;
    for (int v = 0; v < nv; v++)
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 4; r++) n = vr[v].in[r].n[h] > n ? vr[v].in[r].n[h] : n;
            for (int i = 0; i < 2; i++) n = vr[v].out[i].n[h] > n ? vr[v].out[i].n[h] : n;
        }
    return n <= 2 ? (n < 1 ? 1 : n) : 0;
}

/* The even and odd lanes of a 32-float layout. */
INL void split(const Runs *R, const float *plane, __m512 *even_lanes, __m512 *odd_lanes, const int runs) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512 lo = load_half(R, 0, plane, runs), hi = load_half(R, 1, plane, runs);
    *even_lanes = _mm512_permutex2var_ps(lo, even, hi);
    *odd_lanes = _mm512_permutex2var_ps(lo, odd, hi);
}

/* 1-D B^T of 4 values: (d0 - d2, d1 + d2, d2 - d1, d1 - d3). */
INL void bt4(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 t[4]) {
    t[0] = _mm512_sub_ps(d0, d2), t[1] = _mm512_add_ps(d1, d2);
    t[2] = _mm512_sub_ps(d2, d1), t[3] = _mm512_sub_ps(d1, d3);
}
/* B^T over the rows r of t[r][j] (each row already transformed), V[4 i + j] stored at v + (4 i + j) ldp. */
INL void bt4_columns_store(__m512 t[4][4], float *v, size_t ldp) {
    for (int j = 0; j < 4; j++) {
        __m512 o[4];
        bt4(t[0][j], t[1][j], t[2][j], t[3][j], o);
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(v + (size_t)(4 * i + j) * ldp, o[i]);
    }
}

/* V[p][c][0..16) of one vector of tiles from channel plane xc (p = 4 i + j; stride between p: ldp floats). */
INL void input_transform(const VectorRuns *vr, const float *xc, float *v, size_t ldp, const int runs) {
    const __m512i prev = _mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15);
    const __m512i next = _mm512_set_epi32(0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    __m512 t[4][4];
    for (int r = 0; r < 4; r++) {
        __m512 e, o;
        split(&vr->in[r], xc, &e, &o, runs);
        __m512 d0 = _mm512_maskz_permutexvar_ps(vr->not_first, prev, o);
        __m512 d3 = _mm512_maskz_permutexvar_ps(vr->not_last, next, e);
        if (vr->edge_lo[r] >= 0) d0 = _mm512_mask_broadcastss_ps(d0, 1, _mm_load_ss(xc + vr->edge_lo[r]));
        if (vr->edge_hi[r] >= 0) d3 = _mm512_mask_broadcastss_ps(d3, 0x8000, _mm_load_ss(xc + vr->edge_hi[r]));
        bt4(d0, e, o, d3, t[r]);
    }
    bt4_columns_store(t, v, ldp);
}

/* Mo[m][0..16 nv) = sum_c u[m][c] V[c][0..16 nv) for the nb blocks of 8 rows of u (packed: [block][c][8]),
 * storing rows m < rows (row strides: V and Mo 16 nv). */
INL void gemm_tile(const float *u, int C, const float *V, float *Mo, int rows, const int nb, const int nv) {
    __m512 acc[16][2];
#pragma GCC unroll 16
    for (int i = 0; i < 8 * nb; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) acc[i][j] = _mm512_setzero_ps();
    for (int c = 0; c < C; c++) {
        __m512 b[2];
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) b[j] = _mm512_loadu_ps(V + (size_t)c * 16 * nv + 16 * j);
#pragma GCC unroll 16
        for (int i = 0; i < 8 * nb; i++) {
            const __m512 a = _mm512_set1_ps(u[(size_t)(i / 8) * 8 * C + (size_t)c * 8 + i % 8]);
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8 * nb; i++)
        if (i < rows)
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) _mm512_storeu_ps(Mo + (size_t)i * 16 * nv + 16 * j, acc[i][j]);
}

/* The P products of one block: Mb[p][m][..] = U_p V_p (U_p: M x C packed in blocks of 8 rows, V_p: C x 16 nv). */
static void block_products(int P, int M, int C, const float *U, const float *Vb, float *Mb, const int nv) {
    const size_t tb = (size_t)16 * nv, up_floats = (size_t)(M + 7) / 8 * 8 * C;
    for (int p = 0; p < P; p++) {
        const float *up = U + (size_t)p * up_floats, *vp = Vb + (size_t)p * C * tb;
        float *mp = Mb + (size_t)p * M * tb;
        int m = 0;
        if (nv == 1) /* 16 rows x 1 vector, else 8 x 2: 16 accumulators */
            for (; m + 16 <= M; m += 16) gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, 16, 2, 1);
        for (; m < M; m += 8) {
            if (nv == 2) gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, M - m, 1, 2);
            else gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, M - m, 1, 1);
        }
    }
}

/* One output row of the tiles of one vector (columns c0, c1 of each tile) through the epilogue into the plane
 * ym (res: the residual's plane or NULL); R: that row's runs. */
INL void store_row(const Runs *R, __m512 c0, __m512 c1, float *ym, int acc, const float *res, int relu,
                   const int runs) {
    const __m512i il_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i il_hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512 v[2] = {_mm512_permutex2var_ps(c0, il_lo, c1), _mm512_permutex2var_ps(c0, il_hi, c1)};
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < (runs ? runs : R->n[h]); s++) { /* (a run of mask 0 stores nothing) */
            const __mmask16 k = R->mask[h][s];
            const long at = R->off[h][s];
            __m512 out = v[h];
            if (acc) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, ym + at));
            if (res) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, res + at));
            if (relu) out = _mm512_max_ps(_mm512_setzero_ps(), out);
            _mm512_mask_storeu_ps(ym + at, k, out);
        }
}

/* y's tiles of one vector for one output channel from its Mb[p][m][16 v ..] (stride between p: ldp floats);
 * out: the runs of its 2 output rows. */
INL void output_transform(const Runs out[2], const float *mv, size_t ldp, float *ym, int acc, float bias,
                          const float *res, int relu, const int runs) {
    __m512 s[2][4];
    for (int j = 0; j < 4; j++) {
        const __m512 m0 = _mm512_loadu_ps(mv + (0 + j) * ldp), m1 = _mm512_loadu_ps(mv + (4 + j) * ldp);
        const __m512 m2 = _mm512_loadu_ps(mv + (8 + j) * ldp), m3 = _mm512_loadu_ps(mv + (12 + j) * ldp);
        s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const __m512 b = _mm512_set1_ps(bias);
    for (int i = 0; i < 2; i++) {
        const __m512 c0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]), b);
        const __m512 c1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]), b);
        store_row(&out[i], c0, c1, ym, acc, res, relu, runs);
    }
}

/* One block of nv vectors of tiles from tile t0 (vr: their runs). */
INL void block(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
               const RowsEpilogue *ep, const VectorRuns *vr, float *Vb, float *Mb, const int nv, const int runs) {
    const size_t HW = (size_t)H * W, tb = (size_t)16 * nv;
    for (int c = 0; c < C; c++)
        for (int v = 0; v < nv; v++)
            input_transform(&vr[v], x + (size_t)c * HW, Vb + (size_t)c * tb + 16 * v, C * tb, runs);
    block_products(16, M, C, U, Vb, Mb, nv);
    for (int m = 0; m < M; m++) {
        const float bias = ep && ep->bias ? ep->bias[m] : 0.0f;
        const float *res = ep && ep->res ? ep->res + (size_t)m * ep->ldr : NULL;
        const int relu = ep && ep->relu;
        for (int v = 0; v < nv; v++)
            output_transform(vr[v].out, Mb + (size_t)m * tb + 16 * v, (size_t)M * tb, y + (size_t)m * ldc, acc, bias,
                             res, relu, runs);
    }
}

void conv3x3_wino_avx512(int M, int C, int H, int W, const float *U, const float *plan, const float *x, float *y,
                         size_t ldc, int acc, const RowsEpilogue *ep, float *work) {
    const int tiles = tiles_of(H, W), tb = tiles <= 16 ? 16 : TILE_BLOCK;
    const VectorRuns *vr = (const VectorRuns *)(const void *)plan;
    float *Vb = work, *Mb = work + (size_t)16 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += TILE_BLOCK) {
        const int nv = tiles - t0 > 16 ? 2 : 1, runs = max_runs(vr + t0 / 16, nv);
        if (nv == 2 && runs == 1) block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 2, 1);
        else if (nv == 2 && runs == 2) block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 2, 2);
        else if (nv == 2) block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 2, 0);
        else if (runs == 1) block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 1, 1);
        else if (runs == 2) block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 1, 2);
        else block(M, C, H, W, U, x, y, ldc, acc, ep, vr + t0 / 16, Vb, Mb, 1, 0);
    }
}

/* ---- weight gradient: dU_p[k][c] += sum_t dM_p[k][t] V_p[c][t], dM = A dy A^T per tile ---- */

/* V^T[p][t][c .. c + 16) of tile (ty, tx) from x^T padded (xT points at channel c of its rows of Wp pixels of
 * C channels; patch row r at padded row 2 ty + r); stride between p: ldp floats. */
INL void dw_input_transform(const float *xT, int Wp, int C, int ty, int tx, float *vt, size_t ldp) {
    const size_t rs = (size_t)Wp * C;
    const float *b = xT + ((size_t)2 * ty * Wp + 2 * tx) * C;
    __m512 t[4][4];
    for (int r = 0; r < 4; r++) {
        const __m512 d0 = _mm512_loadu_ps(b + r * rs), d1 = _mm512_loadu_ps(b + r * rs + C);
        const __m512 d2 = _mm512_loadu_ps(b + r * rs + 2 * (size_t)C), d3 = _mm512_loadu_ps(b + r * rs + 3 * (size_t)C);
        bt4(d0, d1, d2, d3, t[r]);
    }
    bt4_columns_store(t, vt, ldp);
}

/* dM[p][k][16 v ..] of one vector of tiles from dy's plane k (out: the runs of its 2 output rows, 0 outside
 * the map; stride between p: ldp floats): per dy row a, (dy0, dy0 + dy1, dy0 - dy1, -dy1), then the same over
 * the rows. */
INL void dw_output_grad(const Runs out[2], const float *dyk, float *dm, size_t ldp, const int runs) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 r[2][4];
    for (int a = 0; a < 2; a++) {
        __m512 e, o;
        split(&out[a], dyk, &e, &o, runs);
        r[a][0] = e, r[a][1] = _mm512_add_ps(e, o), r[a][2] = _mm512_sub_ps(e, o), r[a][3] = _mm512_sub_ps(zero, o);
    }
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_ps(dm + (0 + j) * ldp, r[0][j]);
        _mm512_storeu_ps(dm + (4 + j) * ldp, _mm512_add_ps(r[0][j], r[1][j]));
        _mm512_storeu_ps(dm + (8 + j) * ldp, _mm512_sub_ps(r[0][j], r[1][j]));
        _mm512_storeu_ps(dm + (12 + j) * ldp, _mm512_sub_ps(zero, r[1][j]));
    }
}

/* du[i][c .. c + 16) += sum_{t < tb} dm[i][t] vt[t][c ..] for i < rows (dm row stride tb, vt and du row stride C). */
INL void dw_gemm_tile(const float *dm, const float *vt, float *du, int C, const int rows, const int tb) {
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) acc[i] = _mm512_loadu_ps(du + (size_t)i * C);
    for (int t = 0; t < tb; t++) {
        const __m512 b = _mm512_loadu_ps(vt + (size_t)t * C);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(dm[i * tb + t]), b, acc[i]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) _mm512_storeu_ps(du + (size_t)i * C, acc[i]);
}

INL void dw_block(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, const VectorRuns *vr,
                  float *Vb, float *Mb, int t0, const int nv, const int runs) {
    const int TX = tiles_x(W), tiles = tiles_of(H, W), tb = 16 * nv, Wp = 2 * TX + 2;
    const size_t HW = (size_t)H * W;
    for (int t = 0; t < tb; t++)
        for (int c = 0; c < C; c += 16) {
            float *vt = Vb + (size_t)t * C + c;
            if (t0 + t < tiles) {
                dw_input_transform(xT + c, Wp, C, (t0 + t) / TX, (t0 + t) % TX, vt, (size_t)tb * C);
            } else { /* past the last tile: its dM is 0, and so must its V be (0 x garbage could be NaN) */
                for (int p = 0; p < 16; p++) _mm512_storeu_ps(vt + (size_t)p * tb * C, _mm512_setzero_ps());
            }
        }
    for (int v = 0; v < nv; v++)
        for (int k = 0; k < K; k++)
            dw_output_grad(vr[v].out, dy + (size_t)k * HW, Mb + (size_t)k * tb + 16 * v, (size_t)K * tb, runs);
    for (int p = 0; p < 16; p++) {
        const float *dm = Mb + (size_t)p * K * tb, *vt = Vb + (size_t)p * tb * C;
        float *du = dU + (size_t)p * K * C;
        int k = 0;
        for (; k + 16 <= K; k += 16)
            for (int c = 0; c < C; c += 16)
                dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, tb);
        for (; k < K; k++)
            for (int c = 0; c < C; c += 16) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, tb);
    }
}

void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *plan, const float *xT, const float *dy, float *dU,
                            float *work) {
    const int tiles = tiles_of(H, W), tb = tiles <= 16 ? 16 : TILE_BLOCK;
    const VectorRuns *vr = (const VectorRuns *)(const void *)plan;
    float *Vb = work, *Mb = work + (size_t)16 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += TILE_BLOCK) {
        const int nv = tiles - t0 > 16 ? 2 : 1, runs = max_runs(vr + t0 / 16, nv);
        if (nv == 2 && runs == 1) dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 2, 1);
        else if (nv == 2 && runs == 2) dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 2, 2);
        else if (nv == 2) dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 2, 0);
        else if (runs == 1) dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 1, 1);
        else if (runs == 2) dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 1, 2);
        else dw_block(K, C, H, W, xT, dy, dU, vr + t0 / 16, Vb, Mb, t0, 1, 0);
    }
}

/* ---- F(4x4, 3x3), AVX-512. A vector holds 16 tiles = 64 / W whole tile rows ("segments"; TX = W / 4): of one
 * sample when W = 16 or 32, of 4 samples (2 each) on 8x8 maps. On patch row r the 64 floats
 * S[4 l + k] = x[4 ty - 1 + r][4 tx + k] are those segments' input rows end to end (4 vector loads, or 8 half
 * ones, 0 outside the map); four permutes and four 128-bit shuffles give the residues k = 0..3 (patch columns
 * 1..4), two more permutes lane l - 1's k = 3 and lane l + 1's k = 0 (columns 0 and 5, 0 at a tile row's ends).
 * The output transform's 4 columns per tile go back the inverse way. ---- */

/* c[k][l] = S[4 l + k] of the 4 vectors S[0..3] (64 floats), and the inverse. */
INL void residues(const __m512 S[4], __m512 c[4]) {
    /* per pair of vectors (8 lanes' 32 floats): [k0 | k1] and [k2 | k3] of those 8 lanes */
    const __m512i k01 = _mm512_set_epi32(29, 25, 21, 17, 13, 9, 5, 1, 28, 24, 20, 16, 12, 8, 4, 0);
    const __m512i k23 = _mm512_set_epi32(31, 27, 23, 19, 15, 11, 7, 3, 30, 26, 22, 18, 14, 10, 6, 2);
    const __m512 a01 = _mm512_permutex2var_ps(S[0], k01, S[1]), b01 = _mm512_permutex2var_ps(S[0], k23, S[1]);
    const __m512 a23 = _mm512_permutex2var_ps(S[2], k01, S[3]), b23 = _mm512_permutex2var_ps(S[2], k23, S[3]);
    c[0] = _mm512_shuffle_f32x4(a01, a23, 0x44), c[1] = _mm512_shuffle_f32x4(a01, a23, 0xEE);
    c[2] = _mm512_shuffle_f32x4(b01, b23, 0x44), c[3] = _mm512_shuffle_f32x4(b01, b23, 0xEE);
}
INL void interleave4(const __m512 c[4], __m512 S[4]) {
    const __m512 a01 = _mm512_shuffle_f32x4(c[0], c[1], 0x44), a23 = _mm512_shuffle_f32x4(c[0], c[1], 0xEE);
    const __m512 b01 = _mm512_shuffle_f32x4(c[2], c[3], 0x44), b23 = _mm512_shuffle_f32x4(c[2], c[3], 0xEE);
    /* a01 = [k0 l0-7 | k1 l0-7], b01 = [k2 l0-7 | k3 l0-7]: S[0] = lanes 0-3 x k, S[1] = lanes 4-7 */
    const __m512i lo = _mm512_set_epi32(27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8, 0);
    const __m512i hi = _mm512_set_epi32(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20, 12, 4);
    /* from (a, b) with a = [k0 | k1] (8 lanes each) and b = [k2 | k3]: position 4 l + k <- k's lane l */
    S[0] = _mm512_permutex2var_ps(a01, lo, b01), S[1] = _mm512_permutex2var_ps(a01, hi, b01);
    S[2] = _mm512_permutex2var_ps(a23, lo, b23), S[3] = _mm512_permutex2var_ps(a23, hi, b23);
}

/* Where the 64 floats of a vector of 16 tiles lie on one row offset: n = 64 / W segments of W floats (one tile
 * row each), segment s in the plane at base[s] + off (NULL: no sample, zeros), row 4 ty[s] + dr of an H-row map.
 * W = 16 or 32: the tile rows ty0 .. of one sample; W = 8: 4 samples x 2 tile rows (an 8x8 map has 4 tiles). */
typedef struct Segs {
    int n, W, H;
    int ty[8];
    const float *base[8];
} Segs;

static Segs segs_one(const float *base, int H, int W, int ty0) {
    Segs g;
    g.n = 64 / W, g.W = W, g.H = H;
    for (int s = 0; s < g.n; s++) g.base[s] = base, g.ty[s] = ty0 + s;
    return g;
}
static Segs segs_group(const float *const base[4], int H) {
    Segs g;
    g.n = 8, g.W = 8, g.H = H;
    for (int s = 0; s < 8; s++) g.base[s] = base[s / 2], g.ty[s] = s % 2;
    return g;
}

INL const float *seg_row(const Segs *g, int s, size_t off, int dr) {
    const int row = 4 * g->ty[s] + dr;
    return g->base[s] && row >= 0 && row < g->H ? g->base[s] + off + (size_t)row * g->W : NULL;
}

/* The 4 vectors of 64 floats on row offset dr (0 outside the map). */
INL void load_segs(const Segs *g, size_t off, int dr, __m512 S[4]) {
    if (g->W == 8) {
        for (int q = 0; q < 4; q++) {
            const float *a = seg_row(g, 2 * q, off, dr), *b = seg_row(g, 2 * q + 1, off, dr);
            const __m256 lo = a ? _mm256_loadu_ps(a) : _mm256_setzero_ps();
            const __m256 hi = b ? _mm256_loadu_ps(b) : _mm256_setzero_ps();
            const __m512d lo512 = _mm512_castpd256_pd512(_mm256_castps_pd(lo));
            S[q] = _mm512_castpd_ps(_mm512_insertf64x4(lo512, _mm256_castps_pd(hi), 1));
        }
        return;
    }
    const int per = g->W / 16; /* vectors per segment */
    for (int q = 0; q < 4; q++) {
        const float *row = seg_row(g, q / per, off, dr);
        S[q] = row ? _mm512_loadu_ps(row + 16 * (q % per)) : _mm512_setzero_ps();
    }
}

/* 1-D B^T of 6 values. */
INL void bt6(const __m512 d[6], __m512 t[6]) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    t[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
    t[1] = _mm512_fnmadd_ps(four, _mm512_add_ps(d[1], d[2]), _mm512_add_ps(d[3], d[4]));
    t[2] = _mm512_fmadd_ps(four, _mm512_sub_ps(d[1], d[2]), _mm512_sub_ps(d[4], d[3]));
    t[3] = _mm512_fmadd_ps(two, _mm512_sub_ps(d[3], d[1]), _mm512_sub_ps(d[4], d[2]));
    t[4] = _mm512_fnmadd_ps(two, _mm512_sub_ps(d[3], d[1]), _mm512_sub_ps(d[4], d[2]));
    t[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}
/* 1-D A^T of 6 values to 4. */
INL void at6(const __m512 m[6], __m512 y[4]) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), eight = _mm512_set1_ps(8.0f);
    const __m512 p12 = _mm512_add_ps(m[1], m[2]), m12 = _mm512_sub_ps(m[1], m[2]);
    const __m512 p34 = _mm512_add_ps(m[3], m[4]), m34 = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], p12), p34);
    y[1] = _mm512_fmadd_ps(two, m34, m12);
    y[2] = _mm512_fmadd_ps(four, p34, p12);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(eight, m34, m12), m[5]);
}

/* V[p][c][0..16) (p = 6 i + j, stride ldp) of the vector of tiles g (channel c at offset off of its planes). */
INL void input_transform4(const Segs *g, size_t off, __mmask16 not_first, __mmask16 not_last, float *v, size_t ldp) {
    const __m512i prev = _mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15);
    const __m512i next = _mm512_set_epi32(0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    __m512 t[6][6];
    for (int r = 0; r < 6; r++) {
        __m512 S[4], c[4], d[6];
        load_segs(g, off, r - 1, S);
        residues(S, c);
        d[0] = _mm512_maskz_permutexvar_ps(not_first, prev, c[3]);
        d[1] = c[0], d[2] = c[1], d[3] = c[2], d[4] = c[3];
        d[5] = _mm512_maskz_permutexvar_ps(not_last, next, c[0]);
        bt6(d, t[r]);
    }
    for (int j = 0; j < 6; j++) {
        const __m512 col[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
        __m512 o[6];
        bt6(col, o);
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(v + (size_t)(6 * i + j) * ldp, o[i]);
    }
}

/* y's 4 x 4 tiles of one vector for one output channel from Mb[p][m][16 v ..] (stride between p: ldp): the
 * segments of gy (y planes, channel at offset yoff) and gr (residual planes at roff, or NULL). */
INL void output_transform4(const float *mv, size_t ldp, const Segs *gy, size_t yoff, int acc, float bias,
                           const Segs *gr, size_t roff, int relu) {
    __m512 s[4][6]; /* A^T over the rows i of M, per column j */
    for (int j = 0; j < 6; j++) {
        __m512 m[6];
        for (int i = 0; i < 6; i++) m[i] = _mm512_loadu_ps(mv + (size_t)(6 * i + j) * ldp);
        __m512 y[4];
        at6(m, y);
        for (int a = 0; a < 4; a++) s[a][j] = y[a];
    }
    const __m512 b = _mm512_set1_ps(bias);
    for (int a = 0; a < 4; a++) {
        __m512 c[4], S[4];
        at6(s[a], c);
        for (int k = 0; k < 4; k++) c[k] = _mm512_add_ps(c[k], b);
        interleave4(c, S);
        /* 16 floats at a time: a whole vector of one segment (W >= 16) or half of two (W = 8) */
        for (int q = 0; q < 4; q++) {
            const int per = gy->W >= 16 ? gy->W / 16 : 1, s0 = gy->W >= 16 ? q / per : 2 * q;
            const int halves = gy->W >= 16 ? 1 : 2;
            for (int hf = 0; hf < halves; hf++) {
                float *yr = (float *)seg_row(gy, s0 + hf, yoff, a);
                if (!yr) continue; /* no sample there */
                const float *rr = gr ? seg_row(gr, s0 + hf, roff, a) : NULL;
                const size_t col = gy->W >= 16 ? (size_t)16 * (q % per) : 0;
                const __mmask16 k = gy->W >= 16 ? (__mmask16)0xFFFF : (__mmask16)(hf ? 0xFF00 : 0x00FF);
                float *yp = yr + col - (hf ? 8 : 0);
                const float *rp = rr ? rr + col - (hf ? 8 : 0) : NULL;
                __m512 out = S[q];
                if (acc) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, yp));
                if (rp) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, rp));
                if (relu) out = _mm512_max_ps(_mm512_setzero_ps(), out);
                _mm512_mask_storeu_ps(yp, k, out);
            }
        }
    }
}

/* The F(4x4) convolution of one block of nv vectors of tiles, gx[v] / gy[v] / gr[v] their segments. */
static void block4(int M, int C, size_t HW, const float *U, const Segs *gx, const Segs *gy, const Segs *gr,
                   size_t ldc, size_t ldr, int acc, const RowsEpilogue *ep, __mmask16 nf, __mmask16 nl, float *Vb,
                   float *Mb, int nv) {
    const size_t tb = (size_t)16 * nv;
    for (int c = 0; c < C; c++)
        for (int v = 0; v < nv; v++)
            input_transform4(&gx[v], (size_t)c * HW, nf, nl, Vb + (size_t)c * tb + 16 * v, C * tb);
    if (nv == 2) block_products(36, M, C, U, Vb, Mb, 2);
    else block_products(36, M, C, U, Vb, Mb, 1);
    for (int m = 0; m < M; m++) {
        const float bias = ep && ep->bias ? ep->bias[m] : 0.0f;
        for (int v = 0; v < nv; v++)
            output_transform4(Mb + (size_t)m * tb + 16 * v, (size_t)M * tb, &gy[v], (size_t)m * ldc, acc, bias,
                              gr ? &gr[v] : NULL, (size_t)m * ldr, ep && ep->relu);
    }
}

/* Lanes with a left (right) neighbour tile in their tile row, TX tiles per row. */
static __mmask16 lanes_not_first(int TX) {
    unsigned m = 0;
    for (int l = 0; l < 16; l++) m |= (l % TX ? 1u : 0u) << l;
    return (__mmask16)m;
}
static __mmask16 lanes_not_last(int TX) {
    unsigned m = 0;
    for (int l = 0; l < 16; l++) m |= (l % TX != TX - 1 ? 1u : 0u) << l;
    return (__mmask16)m;
}

void conv3x3_wino4_avx512(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
                          const RowsEpilogue *ep, float *work) {
    const int TX = W / 4, tiles = H / 4 * TX, tb = tiles % TILE_BLOCK ? 16 : TILE_BLOCK, nv = tb / 16;
    float *Vb = work, *Mb = work + (size_t)36 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += tb) {
        Segs gx[2], gy[2], gr[2];
        for (int v = 0; v < nv; v++) {
            const int ty0 = (t0 + 16 * v) / TX;
            gx[v] = segs_one(x, H, W, ty0), gy[v] = segs_one(y, H, W, ty0);
            if (ep && ep->res) gr[v] = segs_one(ep->res, H, W, ty0);
        }
        block4(M, C, (size_t)H * W, U, gx, gy, ep && ep->res ? gr : NULL, ldc, ep ? ep->ldr : 0, acc, ep,
               lanes_not_first(TX), lanes_not_last(TX), Vb, Mb, nv);
    }
}

void conv3x3_wino4_group_avx512(int M, int C, const float *U, const float *const x[4], float *const y[4], size_t ldc,
                                int acc, const RowsEpilogue *ep, const float *const res[4], float *work) {
    const float *yp[4]; /* no sample, no output */
    for (int n = 0; n < 4; n++) yp[n] = x[n] ? y[n] : NULL;
    const Segs gx = segs_group(x, 8), gy = segs_group(yp, 8);
    const Segs gr = res ? segs_group(res, 8) : gx;
    block4(M, C, 64, U, &gx, &gy, res ? &gr : NULL, ldc, ep ? ep->ldr : 0, acc, ep, lanes_not_first(2),
           lanes_not_last(2), work, work + (size_t)36 * C * 16, 1);
}

/* ---- F(4x4, 3x3) weight gradient: dU_p[k][c] += sum_t dM_p[k][t] V_p[c][t] over 36 positions, dM = A^T' dy A^T
 * per 4x4 tile of dy (A^T the forward's 4 x 6 output transform), V from x^T padded (lanes are channels) ---- */

/* V^T[p][t][c .. c + 16) of tile (ty, tx) (patch rows 4 ty .. 4 ty + 5 of x^T padded, rows of Wp pixels). */
INL void dw_input_transform4(const float *xT, int Wp, int C, int ty, int tx, float *vt, size_t ldp) {
    const size_t rs = (size_t)Wp * C;
    const float *b = xT + ((size_t)4 * ty * Wp + 4 * tx) * C;
    __m512 t[6][6];
    for (int r = 0; r < 6; r++) {
        __m512 d[6];
        for (int j = 0; j < 6; j++) d[j] = _mm512_loadu_ps(b + r * rs + (size_t)j * C);
        bt6(d, t[r]);
    }
    for (int j = 0; j < 6; j++) {
        const __m512 col[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
        __m512 o[6];
        bt6(col, o);
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(vt + (size_t)(6 * i + j) * ldp, o[i]);
    }
}

/* The transpose of A^T (4 values to 6): y -> (y0, y0+y1+y2+y3, y0-y1+y2-y3, y0+2y1+4y2+8y3, y0-2y1+4y2-8y3, y3). */
INL void a6(const __m512 y[4], __m512 m[6]) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), eight = _mm512_set1_ps(8.0f);
    const __m512 e = _mm512_add_ps(y[0], y[2]), o = _mm512_add_ps(y[1], y[3]);
    const __m512 e4 = _mm512_fmadd_ps(four, y[2], y[0]), o8 = _mm512_fmadd_ps(eight, y[3], _mm512_mul_ps(two, y[1]));
    m[0] = y[0], m[1] = _mm512_add_ps(e, o), m[2] = _mm512_sub_ps(e, o);
    m[3] = _mm512_add_ps(e4, o8), m[4] = _mm512_sub_ps(e4, o8), m[5] = y[3];
}

/* dM[p][k][16 v ..] of the vector of tiles whose first tile row is ty0, from dy's plane k (stride between p: ldp). */
INL void dw_output_grad4(const Segs *g, size_t off, float *dm, size_t ldp) {
    __m512 r[4][6];
    for (int a = 0; a < 4; a++) {
        __m512 S[4], y[4];
        load_segs(g, off, a, S);
        residues(S, y);
        a6(y, r[a]);
    }
    for (int j = 0; j < 6; j++) {
        const __m512 col[4] = {r[0][j], r[1][j], r[2][j], r[3][j]};
        __m512 m[6];
        a6(col, m);
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(dm + (size_t)(6 * i + j) * ldp, m[i]);
    }
}

/* dU += one block: its tiles' V^T (xT[t]: tile t's x^T padded, at its (ty, tx)), dM from gd[v] (dy planes). */
static void dw_block4(int K, int C, size_t HW, int Wp, const float *const *xT, const int *ty, const int *tx,
                      const Segs *gd, float *dU, float *Vb, float *Mb, int nv) {
    const int tb = 16 * nv;
    for (int t = 0; t < tb; t++)
        for (int c = 0; c < C; c += 16) {
            float *vt = Vb + (size_t)t * C + c;
            if (xT[t]) {
                dw_input_transform4(xT[t] + c, Wp, C, ty[t], tx[t], vt, (size_t)tb * C);
            } else { /* no sample: dM is 0 there, and V must be (0 x garbage could be NaN) */
                for (int p = 0; p < 36; p++) _mm512_storeu_ps(vt + (size_t)p * tb * C, _mm512_setzero_ps());
            }
        }
    for (int v = 0; v < nv; v++)
        for (int k = 0; k < K; k++)
            dw_output_grad4(&gd[v], (size_t)k * HW, Mb + (size_t)k * tb + 16 * v, (size_t)K * tb);
    for (int p = 0; p < 36; p++) {
        const float *dm = Mb + (size_t)p * K * tb, *vt = Vb + (size_t)p * tb * C;
        float *du = dU + (size_t)p * K * C;
        int k = 0;
        for (; k + 16 <= K; k += 16)
            for (int c = 0; c < C; c += 16) {
                if (nv == 2) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, 32);
                else dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, 16);
            }
        for (; k < K; k++)
            for (int c = 0; c < C; c += 16) {
                if (nv == 2) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, 32);
                else dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, 16);
            }
    }
}

void conv3x3_wino4_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work) {
    const int TX = W / 4, tiles = H / 4 * TX, tb = tiles % TILE_BLOCK ? 16 : TILE_BLOCK, nv = tb / 16;
    float *Vb = work, *Mb = work + (size_t)36 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += tb) {
        const float *xs[TILE_BLOCK];
        int ty[TILE_BLOCK], tx[TILE_BLOCK];
        for (int t = 0; t < tb; t++) xs[t] = xT, ty[t] = (t0 + t) / TX, tx[t] = (t0 + t) % TX;
        Segs gd[2];
        for (int v = 0; v < nv; v++) gd[v] = segs_one(dy, H, W, (t0 + 16 * v) / TX);
        dw_block4(K, C, (size_t)H * W, W + 2, xs, ty, tx, gd, dU, Vb, Mb, nv);
    }
}

void conv3x3_wino4_dw_group_avx512(int K, int C, const float *const xT[4], const float *const dy[4], float *dU,
                                   float *work) {
    const float *xs[16];
    int ty[16], tx[16];
    for (int t = 0; t < 16; t++) xs[t] = dy[t / 4] ? xT[t / 4] : NULL, ty[t] = t % 4 / 2, tx[t] = t % 2;
    const Segs gd = segs_group(dy, 8);
    dw_block4(K, C, 64, 10, xs, ty, tx, &gd, dU, work, work + (size_t)36 * C * 16, 1);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else /* not x86-64 GCC/clang: no AVX-512 path */

int conv3x3_wino_available(KernelIsa isa) {
    (void)isa;
    return 0;
}
int conv3x3_wino4_available(KernelIsa isa) {
    (void)isa;
    return 0;
}
void conv3x3_wino_avx512(int M, int C, int H, int W, const float *U, const float *plan, const float *x, float *y,
                         size_t ldc, int acc, const RowsEpilogue *ep, float *work) {
    (void)M, (void)C, (void)H, (void)W, (void)U, (void)plan, (void)x, (void)y, (void)ldc, (void)acc, (void)ep;
    (void)work;
}
void conv3x3_wino4_avx512(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
                          const RowsEpilogue *ep, float *work) {
    (void)M, (void)C, (void)H, (void)W, (void)U, (void)x, (void)y, (void)ldc, (void)acc, (void)ep, (void)work;
}
void conv3x3_wino4_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work) {
    (void)K, (void)C, (void)H, (void)W, (void)xT, (void)dy, (void)dU, (void)work;
}
void conv3x3_wino4_group_avx512(int M, int C, const float *U, const float *const x[4], float *const y[4], size_t ldc,
                                int acc, const RowsEpilogue *ep, const float *const res[4], float *work) {
    (void)M, (void)C, (void)U, (void)x, (void)y, (void)ldc, (void)acc, (void)ep, (void)res, (void)work;
}
void conv3x3_wino4_dw_group_avx512(int K, int C, const float *const xT[4], const float *const dy[4], float *dU,
                                   float *work) {
    (void)K, (void)C, (void)xT, (void)dy, (void)dU, (void)work;
}
void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *plan, const float *xT, const float *dy, float *dU,
                            float *work) {
    (void)K, (void)C, (void)H, (void)W, (void)plan, (void)xT, (void)dy, (void)dU, (void)work;
}
#endif
