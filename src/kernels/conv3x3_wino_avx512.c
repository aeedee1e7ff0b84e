/* conv3x3_wino_avx512.c — Winograd F(2x2, 3x3) for the 3x3 / stride 1 / padding 1 convolution (conv3x3_wino.h).
 *
 * Lanes are tiles. With TX = W / 2 tiles per tile row, a vector holds R = 16 / TX tile rows ("segments"), and
 * the 32 input columns that its tiles read on one patch row are the R input rows of its segments laid end to
 * end (R W = 32): loaded as two vectors (lo, hi) with per-segment masked loads (a row outside the map loads
 * as zeros), split into even and odd columns by two permutes; patch column j of tile tx is then
 *   j = 0: odd[tx - 1] (0 at tx = 0)   j = 1: even[tx]   j = 2: odd[tx]   j = 3: even[tx + 1] (0 at tx = TX-1).
 * The output transform's two columns per tile row interleave back into the same 32-column layout, stored
 * with the same per-segment masks. The work goes in blocks of 32 tiles (16 on 8x8 maps): all V of the block,
 * then its 16 products (register tile 8 output channels x 32 tiles, or 16 x 16), then all outputs.
 * The weight gradient (conv3x3_wino_dw_avx512) takes V from x transposed instead (lanes are 16 channels: no
 * gathers), dM = A dy A^T from dy with the forward's gathers (lanes are tiles), and adds dU_p += dM_p V_p^T
 * over the block's tiles with a register tile of 16 output channels x 16 input channels. */
#include "kernels/conv3x3_wino.h"

#include <stdlib.h>
#include <string.h>

#define TILE_BLOCK 32 /* tiles per block (2 vectors); 16 where a map has only 16 */

int conv3x3_wino_fits(int H, int W) {
    if (W != 8 && W != 16 && W != 32) return 0;
    const int rows_per_vector = 32 / W; /* tile rows per vector */
    return H >= 2 && H % 2 == 0 && (H / 2) % rows_per_vector == 0;
}

/* -1: unset or empty; 0: "direct"; 1: "winograd"; -2: another value */
static int env_choice(void) {
    const char *v = getenv("LOCUS_CONV3X3");
    if (!v || !*v) return -1;
    if (!strcmp(v, "direct")) return 0;
    if (!strcmp(v, "winograd")) return 1;
    return -2;
}

Status conv3x3_wino_check_env(ErrorMsg *err) {
    if (env_choice() == -2)
        return status_fail(err, LOCUS_ERR_ARG, "LOCUS_CONV3X3='%s' is not a 3x3 convolution algorithm\nhint: use "
                           "winograd (the default where it runs) or direct, or unset it", getenv("LOCUS_CONV3X3"));
    return LOCUS_OK;
}

const char *conv3x3_algorithm(KernelIsa isa) {
    return conv3x3_wino_available(isa) ? "Winograd F(2x2,3x3) on 8/16/32-wide maps, direct elsewhere" : "direct";
}

size_t conv3x3_wino_weight_floats(int M, int C) { return (size_t)16 * ((M + 7) / 8 * 8) * C; }

static int block_tiles(int H, int W) { return (H / 2) * (W / 2) % TILE_BLOCK == 0 ? TILE_BLOCK : 16; }

size_t conv3x3_wino_work_floats(int M, int C, int H, int W) {
    return (size_t)16 * block_tiles(H, W) * ((size_t)M + C);
}

void conv3x3_wino_weights(int M, int C, const float *A, size_t lda, float *U) {
    const size_t plane = (size_t)(M + 7) / 8 * 8 * C; /* floats of one position p */
    memset(U, 0, sizeof(float) * 16 * plane);           /* the padding rows of the last block */
    for (int m = 0; m < M; m++)
        for (int c = 0; c < C; c++) {
            const float *g = A + (size_t)m * lda + (size_t)c * 9;
            float gg[4][3]; /* G g: rows */
            for (int kw = 0; kw < 3; kw++) {
                gg[0][kw] = g[kw];
                gg[1][kw] = 0.5f * (g[kw] + g[3 + kw] + g[6 + kw]);
                gg[2][kw] = 0.5f * (g[kw] - g[3 + kw] + g[6 + kw]);
                gg[3][kw] = g[6 + kw];
            }
            float *u = U + ((size_t)(m / 8) * C + c) * 8 + m % 8;
            for (int i = 0; i < 4; i++) {
                u[(4 * i + 0) * plane] = gg[i][0];
                u[(4 * i + 1) * plane] = 0.5f * (gg[i][0] + gg[i][1] + gg[i][2]);
                u[(4 * i + 2) * plane] = 0.5f * (gg[i][0] - gg[i][1] + gg[i][2]);
                u[(4 * i + 3) * plane] = gg[i][2];
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

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#include <immintrin.h>

int conv3x3_wino_available(KernelIsa isa) { return isa == KERNEL_ISA_AVX512 && env_choice() != 0; }

#define INL static inline __attribute__((always_inline))

/* Where one vector of tiles reads or writes a row of its 32-column layout: per half (lo, hi) and segment run
 * s < 2, the lanes (mask, 0 where the row is outside the map or the half has one run) and the offset from
 * the plane's start of lane 0's column. */
typedef struct RowSpans {
    __mmask16 mask[2][2];
    long off[2][2];
} RowSpans;

/* The map's layout: the rows each vector of tiles reads (4 patch rows) and writes (2 output rows), and the
 * lane masks of the taps that exist (tx > 0, tx < TX - 1). */
typedef struct Layout {
    int runs; /* runs of lanes per half: 1 when W >= 16, 2 when W = 8 */
    __mmask16 not_first, not_last;
} Layout;

static Layout layout(int W) {
    Layout L;
    const int TX = W / 2;
    L.runs = W < 16 ? 2 : 1;
    unsigned nf = 0, nl = 0;
    for (int l = 0; l < 16; l++) {
        if (l % TX) nf |= 1u << l;
        if (l % TX != TX - 1) nl |= 1u << l;
    }
    L.not_first = (__mmask16)nf, L.not_last = (__mmask16)nl;
    return L;
}

/* The spans of the row at offset dr (patch row r: 2 ty - 1 + r; output row i: 2 ty + i) of each tile row of
 * the vector whose first tile row is ty0. */
static RowSpans row_spans(int H, int W, int ty0, int dr) {
    RowSpans rs;
    for (int h = 0; h < 2; h++) {
        int s = 0;
        for (int l = 0; l < 16;) { /* a run of lanes in one segment (tile row ty0 + seg) */
            const int f = 16 * h + l, seg = f / W, len = W - f % W < 16 - l ? W - f % W : 16 - l;
            const int row = 2 * (ty0 + seg) + dr;
            const int inside = row >= 0 && row < H;
            rs.mask[h][s] = inside ? (__mmask16)(((1u << len) - 1) << l) : 0;
            rs.off[h][s] = inside ? (long)row * W + f % W - l : 0;
            s++, l += len;
        }
        for (; s < 2; s++) rs.mask[h][s] = 0, rs.off[h][s] = 0;
    }
    return rs;
}

INL __m512 load_half(const RowSpans *rs, int h, const float *xc, const int runs) {
    __m512 v = _mm512_maskz_loadu_ps(rs->mask[h][0], xc + rs->off[h][0]);
    if (runs == 2) v = _mm512_mask_loadu_ps(v, rs->mask[h][1], xc + rs->off[h][1]);
    return v;
}

/* V[p][c][0..16) of one vector of tiles from channel plane xc (p = 4 i + j; stride between p: ldp floats);
 * rows: the spans of its 4 patch rows. */
INL void input_transform(const Layout *L, const RowSpans *rows, const float *xc, float *v, size_t ldp,
                         const int runs) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512i prev = _mm512_set_epi32(14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15);
    const __m512i next = _mm512_set_epi32(0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    __m512 t[4][4];
    for (int r = 0; r < 4; r++) {
        const __m512 lo = load_half(&rows[r], 0, xc, runs), hi = load_half(&rows[r], 1, xc, runs);
        const __m512 e = _mm512_permutex2var_ps(lo, even, hi), o = _mm512_permutex2var_ps(lo, odd, hi);
        const __m512 d0 = _mm512_maskz_permutexvar_ps(L->not_first, prev, o);
        const __m512 d3 = _mm512_maskz_permutexvar_ps(L->not_last, next, e);
        t[r][0] = _mm512_sub_ps(d0, o);
        t[r][1] = _mm512_add_ps(e, o);
        t[r][2] = _mm512_sub_ps(o, e);
        t[r][3] = _mm512_sub_ps(e, d3);
    }
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_ps(v + 0 * 4 * ldp + j * ldp, _mm512_sub_ps(t[0][j], t[2][j]));
        _mm512_storeu_ps(v + 1 * 4 * ldp + j * ldp, _mm512_add_ps(t[1][j], t[2][j]));
        _mm512_storeu_ps(v + 2 * 4 * ldp + j * ldp, _mm512_sub_ps(t[2][j], t[1][j]));
        _mm512_storeu_ps(v + 3 * 4 * ldp + j * ldp, _mm512_sub_ps(t[1][j], t[3][j]));
    }
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

/* The 16 products of one block: Mb[p][m][..] = U_p V_p (U_p: M x C packed in blocks of 8 rows, V_p: C x 16 nv). */
static void block_products(int M, int C, const float *U, const float *Vb, float *Mb, const int nv) {
    const size_t tb = (size_t)16 * nv, up_floats = (size_t)(M + 7) / 8 * 8 * C;
    for (int p = 0; p < 16; p++) {
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

/* One output row i (0, 1) of the tiles of one vector, as the 32-column layout, through the epilogue into the
 * plane ym (res: the residual's plane or NULL). */
INL void store_row(const RowSpans *rs, __m512 c0, __m512 c1, float *ym, int acc, const float *res, int relu,
                   const int runs) {
    const __m512i il_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i il_hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    const __m512 v[2] = {_mm512_permutex2var_ps(c0, il_lo, c1), _mm512_permutex2var_ps(c0, il_hi, c1)};
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < runs; s++) {
            const __mmask16 k = rs->mask[h][s];
            const long at = rs->off[h][s];
            __m512 out = v[h];
            if (acc) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, ym + at));
            if (res) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(k, res + at));
            if (relu) out = _mm512_max_ps(_mm512_setzero_ps(), out);
            _mm512_mask_storeu_ps(ym + at, k, out);
        }
}

/* y's tiles of one vector for one output channel from its Mb[p][m][16 v ..] (stride between p: ldp floats);
 * rows: the spans of its 2 output rows. */
INL void output_transform(const RowSpans *rows, const float *mv, size_t ldp, float *ym, int acc, float bias,
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
        store_row(&rows[i], c0, c1, ym, acc, res, relu, runs);
    }
}

/* One block of tiles (nv vectors from tile t0), runs lanes-runs per half. */
INL void block(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
               const RowsEpilogue *ep, float *Vb, float *Mb, int t0, const int nv, const int runs) {
    const Layout L = layout(W);
    const size_t HW = (size_t)H * W, tb = (size_t)16 * nv;
    RowSpans in[2][4], out[2][2];
    for (int v = 0; v < nv; v++) {
        const int ty0 = (t0 + 16 * v) / (W / 2);
        for (int r = 0; r < 4; r++) in[v][r] = row_spans(H, W, ty0, r - 1);
        for (int i = 0; i < 2; i++) out[v][i] = row_spans(H, W, ty0, i);
    }
    for (int c = 0; c < C; c++)
        for (int v = 0; v < nv; v++) input_transform(&L, in[v], x + (size_t)c * HW, Vb + (size_t)c * tb + 16 * v, C * tb, runs);
    block_products(M, C, U, Vb, Mb, nv);
    for (int m = 0; m < M; m++) {
        const float bias = ep && ep->bias ? ep->bias[m] : 0.0f;
        const float *res = ep && ep->res ? ep->res + (size_t)m * ep->ldr : NULL;
        const int relu = ep && ep->relu;
        for (int v = 0; v < nv; v++)
            output_transform(out[v], Mb + (size_t)m * tb + 16 * v, (size_t)M * tb, y + (size_t)m * ldc, acc, bias, res,
                             relu, runs);
    }
}

void conv3x3_wino_avx512(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
                         const RowsEpilogue *ep, float *work) {
    const int tiles = (H / 2) * (W / 2), tb = block_tiles(H, W);
    float *Vb = work, *Mb = work + (size_t)16 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += tb) {
        if (tb == 32 && W >= 16) block(M, C, H, W, U, x, y, ldc, acc, ep, Vb, Mb, t0, 2, 1);
        else if (tb == 32) block(M, C, H, W, U, x, y, ldc, acc, ep, Vb, Mb, t0, 2, 2);
        else if (W >= 16) block(M, C, H, W, U, x, y, ldc, acc, ep, Vb, Mb, t0, 1, 1);
        else block(M, C, H, W, U, x, y, ldc, acc, ep, Vb, Mb, t0, 1, 2);
    }
}

/* ---- weight gradient: dU_p[k][c] += sum_t dM_p[k][t] V_p[c][t], dM = A dy A^T per tile ---- */

/* V^T[p][t][c .. c + 16) of tile (ty, tx) from x^T padded (xT points at channel c of its rows of W + 2 pixels
 * of C channels; patch row r at padded row 2 ty + r); stride between p: ldp floats. */
INL void dw_input_transform(const float *xT, int W, int C, int ty, int tx, float *vt, size_t ldp) {
    const size_t rs = (size_t)(W + 2) * C;
    const float *b = xT + ((size_t)2 * ty * (W + 2) + 2 * tx) * C;
    __m512 t[4][4];
    for (int r = 0; r < 4; r++) {
        const __m512 d0 = _mm512_loadu_ps(b + r * rs), d1 = _mm512_loadu_ps(b + r * rs + C);
        const __m512 d2 = _mm512_loadu_ps(b + r * rs + 2 * (size_t)C), d3 = _mm512_loadu_ps(b + r * rs + 3 * (size_t)C);
        t[r][0] = _mm512_sub_ps(d0, d2);
        t[r][1] = _mm512_add_ps(d1, d2);
        t[r][2] = _mm512_sub_ps(d2, d1);
        t[r][3] = _mm512_sub_ps(d1, d3);
    }
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_ps(vt + (0 + j) * ldp, _mm512_sub_ps(t[0][j], t[2][j]));
        _mm512_storeu_ps(vt + (4 + j) * ldp, _mm512_add_ps(t[1][j], t[2][j]));
        _mm512_storeu_ps(vt + (8 + j) * ldp, _mm512_sub_ps(t[2][j], t[1][j]));
        _mm512_storeu_ps(vt + (12 + j) * ldp, _mm512_sub_ps(t[1][j], t[3][j]));
    }
}

/* dM[p][k][16 v ..] of one vector of tiles from dy's plane k (rows: the spans of its 2 output rows; stride
 * between p: ldp floats): per dy row a, (dy0, dy0 + dy1, dy0 - dy1, -dy1), then the same over the rows. */
INL void dw_output_grad(const RowSpans *rows, const float *dyk, float *dm, size_t ldp, const int runs) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512 zero = _mm512_setzero_ps();
    __m512 r[2][4];
    for (int a = 0; a < 2; a++) {
        const __m512 lo = load_half(&rows[a], 0, dyk, runs), hi = load_half(&rows[a], 1, dyk, runs);
        const __m512 e = _mm512_permutex2var_ps(lo, even, hi), o = _mm512_permutex2var_ps(lo, odd, hi);
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

INL void dw_block(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *Vb, float *Mb, int t0,
                  const int nv, const int runs) {
    const int TX = W / 2, tb = 16 * nv;
    const size_t HW = (size_t)H * W;
    for (int t = 0; t < tb; t++)
        for (int c = 0; c < C; c += 16)
            dw_input_transform(xT + c, W, C, (t0 + t) / TX, (t0 + t) % TX, Vb + (size_t)t * C + c, (size_t)tb * C);
    for (int v = 0; v < nv; v++) {
        const int ty0 = (t0 + 16 * v) / TX;
        RowSpans rows[2];
        for (int a = 0; a < 2; a++) rows[a] = row_spans(H, W, ty0, a);
        for (int k = 0; k < K; k++)
            dw_output_grad(rows, dy + (size_t)k * HW, Mb + (size_t)k * tb + 16 * v, (size_t)K * tb, runs);
    }
    for (int p = 0; p < 16; p++) {
        const float *dm = Mb + (size_t)p * K * tb, *vt = Vb + (size_t)p * tb * C;
        float *du = dU + (size_t)p * K * C;
        int k = 0;
        for (; k + 16 <= K; k += 16)
            for (int c = 0; c < C; c += 16) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, tb);
        for (; k < K; k++)
            for (int c = 0; c < C; c += 16) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, tb);
    }
}

void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work) {
    const int tiles = (H / 2) * (W / 2), tb = block_tiles(H, W);
    float *Vb = work, *Mb = work + (size_t)16 * C * tb;
    for (int t0 = 0; t0 < tiles; t0 += tb) {
        if (tb == 32 && W >= 16) dw_block(K, C, H, W, xT, dy, dU, Vb, Mb, t0, 2, 1);
        else if (tb == 32) dw_block(K, C, H, W, xT, dy, dU, Vb, Mb, t0, 2, 2);
        else if (W >= 16) dw_block(K, C, H, W, xT, dy, dU, Vb, Mb, t0, 1, 1);
        else dw_block(K, C, H, W, xT, dy, dU, Vb, Mb, t0, 1, 2);
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
void conv3x3_wino_avx512(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
                         const RowsEpilogue *ep, float *work) {
    (void)M, (void)C, (void)H, (void)W, (void)U, (void)x, (void)y, (void)ldc, (void)acc, (void)ep, (void)work;
}
void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work) {
    (void)K, (void)C, (void)H, (void)W, (void)xT, (void)dy, (void)dU, (void)work;
}
#endif
