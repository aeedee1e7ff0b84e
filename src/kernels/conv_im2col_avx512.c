/* conv_im2col_avx512.c — im2col and col2im (conv_planes.h) for stride 2 with AVX-512 registers.
 *
 * A stride-2 row reads every other input value: out[o] = x_row[2o + kw - p]. The portable loops do that one
 * float at a time, with a range computation per row of (for ResNet's stride-2 convs) 8 to 16 values, and the
 * im2col of a 3x3 stride-2 conv took twice as long as its product (3.0 vs 1.6 ms per 16->32 layer at 32x32,
 * batch 128, one core). Here 16 outputs are two masked loads of 32 consecutive inputs (lanes outside the row are
 * never read and come out zero: the padding) and one two-source permute picking the even lanes; col2im spreads
 * 16 values to the even lanes and adds them with masked load / store (odd lanes and lanes outside the row are
 * not touched). Each dx element receives its additions in the portable order, so both kernels write exactly
 * the portable path's bits (test_conv_kernels). Other strides go to the portable code. */
#include "kernels/conv_planes.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC target("avx512f")
#endif
#include <immintrin.h>
#include <stdint.h>

/* Bits i < 32 with 0 <= j0 + i < W: the lanes of the 32 floats from row index j0 that lie in the row. */
static uint32_t row_lanes(int j0, int W) {
    const int lo = j0 < 0 ? -j0 : 0, hi = W - j0 < 32 ? W - j0 : 32;
    if (hi <= lo) return 0;
    const uint64_t m = (((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1);
    return (uint32_t)m;
}

/* out[o] = xr[2o + off] where 0 <= 2o + off < W, else 0, for o < Wo; xr NULL: a padding row (all 0). */
static void s2_row(const float *xr, int W, int off, int Wo, float *out) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int o = 0; o < Wo; o += 16) {
        const int n = Wo - o < 16 ? Wo - o : 16;
        const __mmask16 st = (__mmask16)(((uint32_t)1 << n) - 1);
        if (!xr) {
            _mm512_mask_storeu_ps(out + o, st, _mm512_setzero_ps());
            continue;
        }
        const int j0 = 2 * o + off;
        const uint32_t m = row_lanes(j0, W);
        /* the address is only formed, never read, for lanes outside the row (masked) */
        const float *src = (const float *)((uintptr_t)xr + (intptr_t)j0 * (intptr_t)sizeof(float));
        __m512 a, b;
        if (m == 0xFFFFFFFFu) a = _mm512_loadu_ps(src), b = _mm512_loadu_ps(src + 16);
        else a = _mm512_maskz_loadu_ps((__mmask16)m, src), b = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), src + 16);
        const __m512 v = _mm512_permutex2var_ps(a, even, b);
        if (n == 16) _mm512_storeu_ps(out + o, v);
        else _mm512_mask_storeu_ps(out + o, st, v);
    }
}

/* dr[2o + off] += r[o] where 0 <= 2o + off < W, for o < Wo. */
static void s2_row_add(const float *r, int W, int off, int Wo, float *dr) {
    const __m512i lo_idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    const __m512i hi_idx = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    for (int o = 0; o < Wo; o += 16) {
        const int n = Wo - o < 16 ? Wo - o : 16;
        const __m512 v = _mm512_maskz_loadu_ps((__mmask16)(((uint32_t)1 << n) - 1), r + o);
        const int j0 = 2 * o + off;
        const uint64_t used = n == 16 ? 0xFFFFFFFFu : ((uint64_t)1 << (2 * n)) - 1;
        const uint32_t m = row_lanes(j0, W) & 0x55555555u & (uint32_t)used; /* even lanes: outputs o .. o + n */
        float *dst = (float *)((uintptr_t)dr + (intptr_t)j0 * (intptr_t)sizeof(float));
        const __mmask16 ml = (__mmask16)m, mh = (__mmask16)(m >> 16);
        _mm512_mask_storeu_ps(dst, ml, _mm512_add_ps(_mm512_maskz_loadu_ps(ml, dst), _mm512_permutexvar_ps(lo_idx, v)));
        _mm512_mask_storeu_ps(dst + 16, mh,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(mh, dst + 16), _mm512_permutexvar_ps(hi_idx, v)));
    }
}

/* The 16 lanes from row index off of xr (NULL: zeros), lanes outside the row 0. */
static __m512 row16(const float *xr, int W, int off) {
    if (!xr) return _mm512_setzero_ps();
    const float *src = (const float *)((uintptr_t)xr + (intptr_t)off * (intptr_t)sizeof(float));
    return _mm512_maskz_loadu_ps((__mmask16)row_lanes(off, W), src);
}

void conv_im2col_avx512(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col) {
    if (s != 2) {
        conv_im2col_generic(x, C, H, W, k, s, p, Ho, Wo, col);
        return;
    }
    /* Wo <= 8: two output rows per vector (rows oh and oh + 1 are adjacent in col), from one load of each
     * input row: lanes 0 .. Wo-1 take row ih's even lanes, Wo .. 2 Wo - 1 row ih + 2's */
    const int pair = Wo <= 8;
    int idx[16] = {0};
    for (int o = 0; o < Wo && pair; o++) idx[o] = 2 * o, idx[Wo + o] = 16 + 2 * o;
    const __m512i pidx = _mm512_loadu_si512(idx);
    const __mmask16 pst = pair ? (__mmask16)(((uint32_t)1 << (2 * Wo)) - 1) : 0; /* (a shift past 31 is undefined) */
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                float *row = col + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                int oh = 0;
                for (; pair && oh + 1 < Ho; oh += 2) {
                    const int ih = 2 * oh - p + kh;
                    const float *x0 = ih >= 0 && ih < H ? x + ((size_t)c * H + ih) * W : NULL;
                    const float *x1 = ih + 2 >= 0 && ih + 2 < H ? x + ((size_t)c * H + ih + 2) * W : NULL;
                    const __m512 v = _mm512_permutex2var_ps(row16(x0, W, kw - p), pidx, row16(x1, W, kw - p));
                    if (Wo == 8) _mm512_storeu_ps(row + (size_t)oh * Wo, v);
                    else _mm512_mask_storeu_ps(row + (size_t)oh * Wo, pst, v);
                }
                for (; oh < Ho; oh++) {
                    const int ih = 2 * oh - p + kh;
                    const float *xr = ih >= 0 && ih < H ? x + ((size_t)c * H + ih) * W : NULL;
                    s2_row(xr, W, kw - p, Wo, row + (size_t)oh * Wo);
                }
            }
}

/* dr[off + 2o] += v[first + o] for o < Wo where 0 <= off + 2o < W (Wo <= 8: one vector of dr); dr NULL: none. */
static void s2_pair_add(__m512 v, __m512i spread, int Wo, float *dr, int W, int off) {
    if (!dr) return;
    const __mmask16 m = (__mmask16)(row_lanes(off, W) & 0x5555u & (((uint32_t)1 << (2 * Wo - 1)) - 1));
    float *dst = (float *)((uintptr_t)dr + (intptr_t)off * (intptr_t)sizeof(float));
    _mm512_mask_storeu_ps(dst, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), _mm512_permutexvar_ps(spread, v)));
}

void conv_col2im_add_avx512(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx) {
    if (s != 2) {
        conv_col2im_add_generic(dcol, C, H, W, k, s, p, Ho, Wo, dx);
        return;
    }
    /* Wo <= 8: rows oh and oh + 1 of dcol in one vector, spread to the even lanes of dx rows ih and ih + 2 */
    const int pair = Wo <= 8;
    int i0[16] = {0}, i1[16] = {0};
    for (int o = 0; o < Wo && pair; o++) i0[2 * o] = o, i1[2 * o] = Wo + o;
    const __m512i spread0 = _mm512_loadu_si512(i0), spread1 = _mm512_loadu_si512(i1);
    const __mmask16 pld = pair ? (__mmask16)(((uint32_t)1 << (2 * Wo)) - 1) : 0; /* (a shift past 31 is undefined) */
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                const float *row = dcol + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                int oh = 0;
                for (; pair && oh + 1 < Ho; oh += 2) {
                    const int ih = 2 * oh - p + kh;
                    const __m512 v = _mm512_maskz_loadu_ps(pld, row + (size_t)oh * Wo);
                    s2_pair_add(v, spread0, Wo, ih >= 0 && ih < H ? dx + ((size_t)c * H + ih) * W : NULL, W, kw - p);
                    s2_pair_add(v, spread1, Wo, ih + 2 >= 0 && ih + 2 < H ? dx + ((size_t)c * H + ih + 2) * W : NULL, W,
                                kw - p);
                }
                for (; oh < Ho; oh++) {
                    const int ih = 2 * oh - p + kh;
                    if (ih >= 0 && ih < H) s2_row_add(row + (size_t)oh * Wo, W, kw - p, Wo, dx + ((size_t)c * H + ih) * W);
                }
            }
}
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void conv_im2col_avx512(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col) {
    conv_im2col_generic(x, C, H, W, k, s, p, Ho, Wo, col);
}
void conv_col2im_add_avx512(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx) {
    conv_col2im_add_generic(dcol, C, H, W, k, s, p, Ho, Wo, dx);
}
#endif
