/* conv3x3_wino_avx512.c — Winograd F(2x2, 3x3) for the 3x3 / stride 1 / padding 1 convolution (conv3x3_wino.h),
 * AVX-512.
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

#include "kernels/conv3x3_wino_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif

#include "kernels/conv3x3_wino_gemm_avx512.h"

int conv3x3_wino_available(KernelIsa isa) { return isa == KERNEL_ISA_AVX512 && conv3x3_wino_choice() != 0; }
int conv3x3_wino4_available(KernelIsa isa) { return conv3x3_wino_available(isa) && conv3x3_wino_choice() != 2; }

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
    const int tiles = tiles_of(H, W), tb = block_tiles(tiles);
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
    dw_block_products(16, K, C, Mb, Vb, dU, nv);
}

void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *plan, const float *xT, const float *dy, float *dU,
                            float *work) {
    const int tiles = tiles_of(H, W), tb = block_tiles(tiles);
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
void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *plan, const float *xT, const float *dy, float *dU,
                            float *work) {
    (void)K, (void)C, (void)H, (void)W, (void)plan, (void)xT, (void)dy, (void)dU, (void)work;
}
#endif
