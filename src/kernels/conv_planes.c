/* conv_planes.c — shifted planes, im2col and col2im (see conv_planes.h). */
#include "kernels/conv_planes.h"


size_t conv_planes_floats(int C, int H, int W, int k, int p) {
    return (size_t)k * C * (size_t)(H + 2 * p) * (size_t)(W + 2 * p - k + 1);
}

#define FN(name) name##_generic
#include "kernels/conv_planes_fill.h"
#undef FN

void conv_planes_fill(KernelIsa isa, const float *x, int C, int H, int W, int k, int p, float *planes) {
    switch (isa) {
    case KERNEL_ISA_AVX512: conv_planes_fill_avx512(x, C, H, W, k, p, planes); break;
    case KERNEL_ISA_AVX2: conv_planes_fill_avx2(x, C, H, W, k, p, planes); break;
    default: conv_planes_fill_generic(x, C, H, W, k, p, planes); break;
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

void conv_im2col_generic(const float *restrict x, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
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

void conv_col2im_add_generic(const float *restrict dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
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

void conv_im2col(KernelIsa isa, const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col) {
    if (isa == KERNEL_ISA_AVX512) conv_im2col_avx512(x, C, H, W, k, s, p, Ho, Wo, col);
    else if (isa == KERNEL_ISA_AVX2) conv_im2col_avx2(x, C, H, W, k, s, p, Ho, Wo, col);
    else conv_im2col_generic(x, C, H, W, k, s, p, Ho, Wo, col);
}

void conv_col2im_add(KernelIsa isa, const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
                     float *dx) {
    if (isa == KERNEL_ISA_AVX512) conv_col2im_add_avx512(dcol, C, H, W, k, s, p, Ho, Wo, dx);
    else if (isa == KERNEL_ISA_AVX2) conv_col2im_add_avx2(dcol, C, H, W, k, s, p, Ho, Wo, dx);
    else conv_col2im_add_generic(dcol, C, H, W, k, s, p, Ho, Wo, dx);
}

void conv_col_rows(const float *col, int C, int k, int Ho, int Wo, const float **B) {
    for (int r = 0; r < C * k * k; r++) B[r] = col + (size_t)r * Ho * Wo;
}
