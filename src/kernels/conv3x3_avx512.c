/* conv3x3_avx512.c — the 3x3 / stride 1 / padding 1 convolution read straight from its input (see conv3x3.h).
 *
 * Tile: 8 output channels (one packed block of A) x NV = 2 vectors of 16 output positions, 16 accumulators.
 * Per (input channel c, kernel row kh) a step loads the NV + 2 input vectors around the tile's positions on
 * row offset kh - 1 (L[0] .. L[NV+1], L[j] at q + (kh-1) W + 16 (j-1)); tap kw of vector v is then
 *   kw = 0: valignd(L[v+1], L[v], 15)   (x one position to the left)
 *   kw = 1: L[v+1]
 *   kw = 2: valignd(L[v+2], L[v+1], 1)  (one to the right)
 * and 8 FMAs with the broadcast weights, merge-masked with the tap's lane mask: a lane outside the map keeps
 * its sum, as adding the planes path's product with a padding zero does (the sums start at +0 or a bias and
 * stay bit-equal; only an infinite or NaN weight, times the planes' zero, would differ). Masking the FMAs
 * rather than zeroing the operands saves two of six shuffle-unit ops per step: 5% on Zen 4, where they
 * share ports with the FMAs. (Three output vectors per tile
 * measured slower: with the four operand vectors live, the 24 accumulators spill.) Loads past the channel
 * read a neighbouring channel, whose lanes the masks drop; only the first and last channels of a tile that
 * reaches past the map's ends could leave x (more than one when the map is smaller than the reach), and
 * their steps use loads masked to the channel. */
#include "kernels/conv3x3.h"

#include "kernels/conv_planes.h"

size_t conv3x3_mask_count(int H, int W) { return ((size_t)H * W + 15) / 16 * 9; }

void conv3x3_masks(int H, int W, uint16_t *masks) {
    const long N = (long)H * W;
    for (long v = 0; v * 16 < N; v++)
        for (int t = 0; t < 9; t++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                const long q = v * 16 + l;
                const long oh = q / W + t / 3 - 1, ow = q % W + t % 3 - 1;
                if (q < N && oh >= 0 && oh < H && ow >= 0 && ow < W) m |= 1u << l;
            }
            masks[v * 9 + t] = (uint16_t)m;
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma,prfchw"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma,prfchw") /* prfchw: prefetchw (a no-op hint where a CPU lacks it) */
#endif
#include <immintrin.h>

int conv3x3_available(KernelIsa isa) { return isa == KERNEL_ISA_AVX512; }

#define INL static inline __attribute__((always_inline))
#define NV 2

/* Lanes l < 16 with 0 <= s + l < N. */
INL __mmask16 range_mask(long s, long N) {
    const long lo = s < 0 ? -s : 0, hi = N - s < 16 ? N - s : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Accumulate the (c, kh) step ck into acc. */
INL void step(__m512 acc[8][NV], long N, int W, const float *ap, const float *x, const uint16_t *m, long q, int ck,
              const int nv, const int guard) {
    const int c = ck / 3, kh = ck - c * 3;
    const float *a = ap + (size_t)ck * 3 * 8;
    const long o = q + (long)(kh - 1) * W - 16; /* L[0]'s position in channel c */
    const float *xc = x + (size_t)c * (size_t)N;
    __m512i L[NV + 2];
    if (guard) {
        for (int j = 0; j < nv + 2; j++) {
            const long s = o + 16 * j;
            /* the address is formed from integers: it may lie outside x when the load is masked to nothing */
            const float *p = (const float *)((uintptr_t)xc + (uintptr_t)(s * (long)sizeof(float)));
            L[j] = _mm512_castps_si512(_mm512_maskz_loadu_ps(range_mask(s, N), p));
        }
    } else { /* every vector lies inside x */
        const float *xb = xc + o;
        for (int j = 0; j < nv + 2; j++) L[j] = _mm512_castps_si512(_mm512_loadu_ps(xb + 16 * j));
    }
    for (int kw = 0; kw < 3; kw++) {
        const int t = kh * 3 + kw;
        for (int v = 0; v < nv; v++) {
            const __mmask16 mk = (__mmask16)m[v * 9 + t];
            const __m512 b = kw == 0   ? _mm512_castsi512_ps(_mm512_alignr_epi32(L[v + 1], L[v], 15))
                             : kw == 1 ? _mm512_castsi512_ps(L[v + 1])
                                       : _mm512_castsi512_ps(_mm512_alignr_epi32(L[v + 2], L[v + 1], 1));
            for (int r = 0; r < 8; r++)
                acc[r][v] = _mm512_mask3_fmadd_ps(_mm512_set1_ps(a[kw * 8 + r]), b, acc[r][v], mk);
        }
    }
}

/* Output rows r < rows of the block, positions q .. q + 16 nv (the last vector's lanes in last); the steps
 * ck in [ck_lo, ck_hi) read whole vectors, the others loads masked to their channel. */
INL void tile(int C, long N, int W, const float *ap, const float *x, const uint16_t *masks, long q, float *y,
              size_t ldc, int rows, int accum, const RowsEpilogue *ep, __mmask16 last, int ck_lo, int ck_hi,
              const int nv, const int edge) {
    __m512 acc[8][NV];
    for (int r = 0; r < 8; r++)
        for (int v = 0; v < nv; v++) {
            const __mmask16 lm = v == nv - 1 ? last : (__mmask16)0xFFFF;
            acc[r][v] = !accum || r >= rows ? _mm512_setzero_ps()
                        : lm == 0xFFFF      ? _mm512_loadu_ps(y + (size_t)r * ldc + q + 16 * v)
                                            : _mm512_maskz_loadu_ps(lm, y + (size_t)r * ldc + q + 16 * v);
        }
    /* the tile's output lines, fetched for writing now so that the stores at its end do not wait for them
     * (y is fresh memory, 8 rows a plane apart): 84 -> 90 and 86 -> 92 GFLOP/s over 128 cold samples of
     * 16 x 32 x 32 and 32 x 16 x 16 on Zen 4 */
    if (!accum)
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < nv; v++) __builtin_prefetch(y + (size_t)r * ldc + q + 16 * v, 1, 3);
    if (ep && ep->res)
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < nv; v++) __builtin_prefetch(ep->res + (size_t)r * ep->ldr + q + 16 * v);
    if (ep && ep->bias)
        for (int r = 0; r < 8; r++)
            if (r < rows) {
                const __m512 bv = _mm512_set1_ps(ep->bias[r]);
                for (int v = 0; v < nv; v++) acc[r][v] = _mm512_add_ps(acc[r][v], bv);
            }
    const uint16_t *m = masks + (size_t)(q / 16) * 9;
    if (edge) { /* (a compile-time split: with the bounds known only at run time, the interior tiles ran 10% slower) */
        int ck = 0;
        for (; ck < ck_lo; ck++) step(acc, N, W, ap, x, m, q, ck, nv, 1);
        for (; ck < ck_hi; ck++) step(acc, N, W, ap, x, m, q, ck, nv, 0);
        for (; ck < 3 * C; ck++) step(acc, N, W, ap, x, m, q, ck, nv, 1);
    } else {
        for (int ck = 0; ck < 3 * C; ck++) step(acc, N, W, ap, x, m, q, ck, nv, 0);
    }
    for (int r = 0; r < 8; r++)
        if (r < rows)
            for (int v = 0; v < nv; v++) {
                const __mmask16 lm = v == nv - 1 ? last : (__mmask16)0xFFFF;
                __m512 val = acc[r][v];
                if (ep && ep->res)
                    val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(lm, ep->res + (size_t)r * ep->ldr + q + 16 * v));
                if (ep && ep->relu) val = _mm512_max_ps(_mm512_setzero_ps(), val);
                if (lm == 0xFFFF) _mm512_storeu_ps(y + (size_t)r * ldc + q + 16 * v, val);
                else _mm512_mask_storeu_ps(y + (size_t)r * ldc + q + 16 * v, lm, val);
            }
}

void conv3x3_avx512(int M, int C, int H, int W, const float *Ap, const float *x, float *y, size_t ldc, int acc,
                    const RowsEpilogue *ep, const uint16_t *masks) {
    const long N = (long)H * W, nvec = (N + 15) / 16;
    for (long q = 0; q < N; q += 16 * NV) {
        const int nv = nvec - q / 16 < NV ? (int)(nvec - q / 16) : NV;
        const long end = q + 16 * nv; /* positions q .. end; the last vector may pass N */
        const __mmask16 last = end > N ? (__mmask16)((1u << (N - (end - 16))) - 1) : (__mmask16)0xFFFF;
        /* a step of channel c reads c N + [q - W - 16, end + W + 16): whole vectors stay inside x (C N floats)
         * for c_lo <= c <= c_hi (a channel's neighbours hold the lanes the masks drop) */
        const long before = W + 16 - q, after = end + W + 16 - N;
        long c_lo = before > 0 ? (before + N - 1) / N : 0, c_hi = C - 1 - (after > 0 ? (after + N - 1) / N : 0);
        if (c_lo > C) c_lo = C; /* tiny maps: every channel's loads masked */
        const int ck_lo = (int)(3 * c_lo), ck_hi = c_hi >= c_lo ? (int)(3 * (c_hi + 1)) : ck_lo;
        const int edge = ck_lo > 0 || ck_hi < 3 * C;
        for (int m0 = 0; m0 < M; m0 += 8) {
            const float *ap = Ap + (size_t)m0 * 9 * C;
            const int rows = M - m0 < 8 ? M - m0 : 8;
            RowsEpilogue e;
            const RowsEpilogue *ep0 = NULL;
            if (ep) {
                e = *ep;
                if (e.bias) e.bias += m0;
                if (e.res) e.res += (size_t)m0 * e.ldr;
                ep0 = &e;
            }
            float *yb = y + (size_t)m0 * ldc;
            if (nv == NV && !edge) tile(C, N, W, ap, x, masks, q, yb, ldc, rows, acc, ep0, last, 0, 3 * C, NV, 0);
            else if (nv == NV) tile(C, N, W, ap, x, masks, q, yb, ldc, rows, acc, ep0, last, ck_lo, ck_hi, NV, 1);
            else tile(C, N, W, ap, x, masks, q, yb, ldc, rows, acc, ep0, last, ck_lo, ck_hi, 1, 1);
        }
    }
}
/* The weight gradient (conv3x3.h): per pass (8 rows of dy, kernel row kh, 16 channels c0 .. c0 + 15) the
 * accumulators are acc[r][kw]: 24 vectors over c. Along an output row, the x vector of tap kw + 1 at ow is that
 * of tap kw at ow + 1, so each position loads one new vector of xT and broadcasts 8 values of dy for 24 FMAs. */
INL void dw_pass(int M, int C, int H, int W, const float *xT, const float *dy, float *part, int m0, int kh, int c0,
                 int rows) {
    const size_t P = (size_t)H * W, wp = (size_t)W + 2;
    __m512 acc[8][3];
    for (int r = 0; r < 8; r++)
        for (int kw = 0; kw < 3; kw++)
            acc[r][kw] = r < rows ? _mm512_loadu_ps(part + ((size_t)(m0 + r) * 9 + kh * 3 + kw) * C + c0)
                                  : _mm512_setzero_ps();
    const float *d = dy + (size_t)m0 * P;
    const size_t rs[8] = {0, P, 2 * P, 3 * P, 4 * P, 5 * P, 6 * P, 7 * P};
    for (int oh = 0; oh < H; oh++) {
        const float *xr = xT + ((size_t)(oh + kh) * wp) * C + c0; /* padded row oh + kh - 1 + 1 */
        const float *dr = d + (size_t)oh * W;
        __m512 v0 = _mm512_loadu_ps(xr), v1 = _mm512_loadu_ps(xr + C);
        for (int ow = 0; ow < W; ow++) {
            const __m512 v2 = _mm512_loadu_ps(xr + (size_t)(ow + 2) * C);
            for (int r = 0; r < 8; r++) {
                const __m512 b = _mm512_set1_ps(r < rows ? dr[rs[r] + ow] : 0.0f);
                acc[r][0] = _mm512_fmadd_ps(b, v0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(b, v1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(b, v2, acc[r][2]);
            }
            v0 = v1, v1 = v2;
        }
    }
    for (int r = 0; r < 8; r++)
        if (r < rows)
            for (int kw = 0; kw < 3; kw++)
                _mm512_storeu_ps(part + ((size_t)(m0 + r) * 9 + kh * 3 + kw) * C + c0, acc[r][kw]);
    (void)M;
}

void conv3x3_dw_avx512(int M, int C, int H, int W, const float *xT, const float *dy, float *part) {
    for (int m0 = 0; m0 < M; m0 += 8) {
        const int rows = M - m0 < 8 ? M - m0 : 8;
        for (int kh = 0; kh < 3; kh++)
            for (int c0 = 0; c0 < C; c0 += 16) dw_pass(M, C, H, W, xT, dy, part, m0, kh, c0, rows);
    }
}
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: conv3x3_available says no, and conv2d_direct.c never calls these */
int conv3x3_available(KernelIsa isa) {
    (void)isa;
    return 0;
}
void conv3x3_avx512(int M, int C, int H, int W, const float *Ap, const float *x, float *y, size_t ldc, int acc,
                    const RowsEpilogue *ep, const uint16_t *masks) {
    (void)M, (void)C, (void)H, (void)W, (void)Ap, (void)x, (void)y, (void)ldc, (void)acc, (void)ep, (void)masks;
}
void conv3x3_dw_avx512(int M, int C, int H, int W, const float *xT, const float *dy, float *part) {
    (void)M, (void)C, (void)H, (void)W, (void)xT, (void)dy, (void)part;
}
#endif
