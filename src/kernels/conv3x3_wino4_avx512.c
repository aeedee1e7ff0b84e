/* conv3x3_wino4_avx512.c — Winograd F(4x4, 3x3) for the 3x3 / stride 1 / padding 1 convolution (conv3x3_wino.h),
 * AVX-512: 36 products per 4x4 output tile, 4x fewer than direct convolution. */
#include "kernels/conv3x3_wino.h"

#include "kernels/conv3x3_wino_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif

#include "kernels/conv3x3_wino_gemm_avx512.h"

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
/* B^T over the rows r of t[r][j] (each row already transformed), V[6 i + j] stored at v + (6 i + j) ldp. */
INL void bt6_columns_store(__m512 t[6][6], float *v, size_t ldp) {
    for (int j = 0; j < 6; j++) {
        const __m512 col[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
        __m512 o[6];
        bt6(col, o);
        for (int i = 0; i < 6; i++) _mm512_storeu_ps(v + (size_t)(6 * i + j) * ldp, o[i]);
    }
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
    bt6_columns_store(t, v, ldp);
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
    block_products(36, M, C, U, Vb, Mb, nv);
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
    const int TX = W / 4, tiles = H / 4 * TX, tb = block_tiles4(tiles), nv = tb / 16;
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
    bt6_columns_store(t, vt, ldp);
}

/* The transpose of A^T (4 values to 6): y -> (y0, y0+y1+y2+y3, y0-y1+y2-y3, y0+2y1+4y2+8y3, y0-2y1+4y2-8y3, y3). */
INL void a6(const __m512 y[4], __m512 m[6]) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), eight = _mm512_set1_ps(8.0f);
    const __m512 e = _mm512_add_ps(y[0], y[2]), o = _mm512_add_ps(y[1], y[3]);
    const __m512 e4 = _mm512_fmadd_ps(four, y[2], y[0]), o8 = _mm512_fmadd_ps(eight, y[3], _mm512_mul_ps(two, y[1]));
    m[0] = y[0], m[1] = _mm512_add_ps(e, o), m[2] = _mm512_sub_ps(e, o);
    m[3] = _mm512_add_ps(e4, o8), m[4] = _mm512_sub_ps(e4, o8), m[5] = y[3];
}

/* dM[p][k][..] of the vector of tiles g, from dy's plane k at offset off of its planes (stride between p: ldp). */
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
    dw_block_products(36, K, C, Mb, Vb, dU, nv);
}

void conv3x3_wino4_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work) {
    const int TX = W / 4, tiles = H / 4 * TX, tb = block_tiles4(tiles), nv = tb / 16;
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
#endif
