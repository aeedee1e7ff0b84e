/* conv_im2col_avx2.c — im2col and col2im (conv_planes.h) for stride 2 with AVX2 registers: the AVX2 twin of
 * conv_im2col_avx512.c (see there for why). 8 outputs are two masked loads of 16 consecutive inputs (lanes outside
 * the row are not read and come out zero) and an even-lane shuffle; col2im spreads 8 values to the even lanes
 * of 16 and blends the sums in, so odd lanes keep their bits, storing with a mask only where a vector reaches
 * past the row. The same bits as the portable path (test_conv_kernels). Other strides: the portable code. */
#include "kernels/conv_planes.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC target("avx2")
#endif
#include <immintrin.h>
#include <stdint.h>

/* Lanes l < 8 with 0 <= j0 + l < W (all ones where true), and whether that is every lane. */
static __m256i row_lanes8(int j0, int W) {
    const __m256i j = _mm256_add_epi32(_mm256_set1_epi32(j0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_and_si256(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(-1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(W), j));
}
static const float *at(const float *p, int j) { return (const float *)((uintptr_t)p + (intptr_t)j * (intptr_t)sizeof(float)); }

/* out[o] = xr[2o + off] where 0 <= 2o + off < W, else 0, for o < Wo; xr NULL: a padding row. */
static void s2_row(const float *xr, int W, int off, int Wo, float *out) {
    for (int o = 0; o < Wo; o += 8) {
        const int n = Wo - o < 8 ? Wo - o : 8;
        const __m256i st = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 v = _mm256_setzero_ps();
        if (xr) {
            const int j0 = 2 * o + off;
            const int whole = j0 >= 0 && j0 + 16 <= W; /* AVX2's masked loads are slow: only at the row's ends */
            const __m256 a = whole ? _mm256_loadu_ps(xr + j0) : _mm256_maskload_ps(at(xr, j0), row_lanes8(j0, W));
            const __m256 b = whole ? _mm256_loadu_ps(xr + j0 + 8) : _mm256_maskload_ps(at(xr, j0 + 8), row_lanes8(j0 + 8, W));
            /* [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6] */
            const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
            v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
        }
        if (n == 8) _mm256_storeu_ps(out + o, v);
        else _mm256_maskstore_ps(out + o, st, v);
    }
}

/* dst[l] += (even l ? v[l / 2 + base] : nothing) for lanes inside the row [0, W) and below 2n; the others keep
 * their bits. */
static void spread_add(float *dr, int W, int j0, __m256 spread, int lanes) {
    const __m256i in_row = row_lanes8(j0, W);
    const __m256i even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
    const __m256i used = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i m = _mm256_and_si256(_mm256_and_si256(in_row, even), used);
    if (_mm256_testz_si256(m, m)) return;
    float *dst = (float *)at(dr, j0);
    const int whole = _mm256_movemask_ps(_mm256_castsi256_ps(in_row)) == 0xFF; /* AVX2's masked moves are slow */
    const __m256 old = whole ? _mm256_loadu_ps(dst) : _mm256_maskload_ps(dst, in_row);
    const __m256 sum = _mm256_blendv_ps(old, _mm256_add_ps(old, spread), _mm256_castsi256_ps(m));
    if (whole) _mm256_storeu_ps(dst, sum);
    else _mm256_maskstore_ps(dst, in_row, sum);
}

/* dr[2o + off] += r[o] where 0 <= 2o + off < W, for o < Wo. */
static void s2_row_add(const float *r, int W, int off, int Wo, float *dr) {
    const __m256i lo_idx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), hi_idx = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
    for (int o = 0; o < Wo; o += 8) {
        const int n = Wo - o < 8 ? Wo - o : 8;
        const __m256i ld = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 v = _mm256_maskload_ps(r + o, ld);
        const int j0 = 2 * o + off, lanes = 2 * n; /* even lanes 0 .. 2n - 2 of the 16 from j0 */
        spread_add(dr, W, j0, _mm256_permutevar8x32_ps(v, lo_idx), lanes < 8 ? lanes : 8);
        if (lanes > 8) spread_add(dr, W, j0 + 8, _mm256_permutevar8x32_ps(v, hi_idx), lanes - 8);
    }
}

void conv_im2col_avx2(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col) {
    if (s != 2) {
        conv_im2col_generic(x, C, H, W, k, s, p, Ho, Wo, col);
        return;
    }
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                float *row = col + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                for (int oh = 0; oh < Ho; oh++) {
                    const int ih = 2 * oh - p + kh;
                    const float *xr = ih >= 0 && ih < H ? x + ((size_t)c * H + ih) * W : NULL;
                    s2_row(xr, W, kw - p, Wo, row + (size_t)oh * Wo);
                }
            }
}

void conv_col2im_add_avx2(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx) {
    if (s != 2) {
        conv_col2im_add_generic(dcol, C, H, W, k, s, p, Ho, Wo, dx);
        return;
    }
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                const float *row = dcol + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                for (int oh = 0; oh < Ho; oh++) {
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
void conv_im2col_avx2(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col) {
    conv_im2col_generic(x, C, H, W, k, s, p, Ho, Wo, col);
}
void conv_col2im_add_avx2(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx) {
    conv_col2im_add_generic(dcol, C, H, W, k, s, p, Ho, Wo, dx);
}
#endif
