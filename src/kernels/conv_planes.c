/* conv_planes.c — shifted planes, im2col and col2im (see conv_planes.h). */
#include "kernels/conv_planes.h"


size_t conv_planes_floats(int C, int H, int W, int k, int p) {
    return (size_t)k * C * (size_t)(H + 2 * p) * (size_t)(W + 2 * p - k + 1);
}

/* GCC would turn the short zeroing and copy loops below into memset / memcpy calls, one per row of 8 to 32
 * floats, and the call overhead made the fill 15% of a ResNet-32 step; inline loops instead. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void conv_planes_fill(const float *x, int C, int H,
                                                                                     int W, int k, int p,
                                                                                     float *planes) {
    const int hp = H + 2 * p, wo = W + 2 * p - k + 1;
    for (int kw = 0; kw < k; kw++)
        for (int c = 0; c < C; c++) {
            float *restrict pl = planes + ((size_t)kw * C + c) * hp * wo;
            const float *restrict xc = x + (size_t)c * H * W;
            for (size_t j = 0; j < (size_t)p * wo; j++) pl[j] = 0.0f;           /* top padding rows */
            for (size_t j = (size_t)(p + H) * wo; j < (size_t)hp * wo; j++) pl[j] = 0.0f; /* bottom */
            const int shift = kw - p; /* row o of the plane reads x's column o + shift */
            float *restrict body = pl + (size_t)p * wo;
            if (wo == W) {
                /* "same" width (k = 2p + 1): the whole channel moves as one block shifted by `shift`
                 * floats; what crosses a row end is exactly the edge column that must be zero */
                const size_t n = (size_t)H * W;
                if (shift >= 0) {
                    for (size_t j = 0; j + shift < n; j++) body[j] = xc[j + shift];
                    for (int i = 0; i < H; i++)
                        for (int o = W - shift; o < W; o++) body[(size_t)i * W + o] = 0.0f;
                } else {
                    for (size_t j = (size_t)-shift; j < n; j++) body[j] = xc[j + shift];
                    for (int i = 0; i < H; i++)
                        for (int o = 0; o < -shift; o++) body[(size_t)i * W + o] = 0.0f;
                }
                continue;
            }
            /* columns o with 0 <= o + shift < W hold input; the others are padding */
            int o0 = -shift > 0 ? -shift : 0, o1 = W - shift < wo ? W - shift : wo;
            if (o1 < o0) o1 = o0;
            for (int i = 0; i < H; i++) {
                float *restrict r = body + (size_t)i * wo;
                const float *restrict xr = xc + (size_t)i * W + shift;
                for (int o = 0; o < o0; o++) r[o] = 0.0f;
                for (int o = o0; o < o1; o++) r[o] = xr[o];
                for (int o = o1; o < wo; o++) r[o] = 0.0f;
            }
        }
}

void conv_planes_rows(const float *planes, int C, int H, int W, int k, int p, const float **B) {
    const int hp = H + 2 * p, wo = W + 2 * p - k + 1;
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++)
                B[((size_t)c * k + kh) * k + kw] = planes + (((size_t)kw * C + c) * hp + kh) * wo;
}

/* Valid output columns [*o0, *o1) for kernel column kw: those whose input column ow*s - p + kw is in [0, w). */
static void valid_range(int w, int wo, int s, int p, int kw, int *o0, int *o1) {
    int lo = p - kw, hi = w - 1 + p - kw; /* need lo <= ow*s <= hi */
    int a = lo <= 0 ? 0 : (lo + s - 1) / s;
    int b = hi < 0 ? 0 : hi / s + 1;
    if (b > wo) b = wo;
    if (a > b) a = b;
    *o0 = a, *o1 = b;
}

void conv_im2col(const float *restrict x, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
                 float *restrict col) {
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                float *row = col + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                const float *xc = x + (size_t)c * H * W;
                int o0, o1;
                valid_range(W, Wo, s, p, kw, &o0, &o1);
                for (int oh = 0; oh < Ho; oh++) {
                    float *restrict r = row + (size_t)oh * Wo;
                    int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) {
                        for (int ow = 0; ow < Wo; ow++) r[ow] = 0.0f;
                        continue;
                    }
                    const float *restrict xr = xc + (size_t)ih * W - p + kw;
                    for (int ow = 0; ow < o0; ow++) r[ow] = 0.0f;
                    if (s == 1)
                        for (int ow = o0; ow < o1; ow++) r[ow] = xr[ow];
                    else
                        for (int ow = o0; ow < o1; ow++) r[ow] = xr[ow * s];
                    for (int ow = o1; ow < Wo; ow++) r[ow] = 0.0f;
                }
            }
}

void conv_col2im_add(const float *restrict dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
                     float *restrict dx) {
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                const float *row = dcol + ((size_t)(c * k + kh) * k + kw) * Ho * Wo;
                float *dc = dx + (size_t)c * H * W;
                int o0, o1;
                valid_range(W, Wo, s, p, kw, &o0, &o1);
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    const float *restrict r = row + (size_t)oh * Wo;
                    float *restrict dr = dc + (size_t)ih * W - p + kw;
                    if (s == 1) {
                        /* GCC's -O2 cost model leaves unknown-length loops scalar; this one is hot */
#pragma omp simd
                        for (int ow = o0; ow < o1; ow++) dr[ow] += r[ow];
                    } else {
                        for (int ow = o0; ow < o1; ow++) dr[ow * s] += r[ow];
                    }
                }
            }
}

void conv_col_rows(const float *col, int C, int k, int Ho, int Wo, const float **B) {
    for (int r = 0; r < C * k * k; r++) B[r] = col + (size_t)r * Ho * Wo;
}
