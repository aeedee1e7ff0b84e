/* conv_planes.h — lay a convolution's input out as the rows that rows.h multiplies.
 *
 * Stride 1 ("shifted planes"): with Hp = H + 2p rows of padded input and output width Wo = W + 2p - k + 1,
 * plane kw (kw < k) is the C x Hp x Wo array  plane_kw[c][i][o] = x[c][i - p][o + kw - p]  (0 in the
 * padding). Output position q = oh * Wo + ow of tap (c, kh, kw) then reads plane_kw[c] at q + kh * Wo:
 * every tap's row is a pointer into the planes, k copies of the input instead of im2col's k * k, and the
 * rows are contiguous across output rows, so a vector covers several short output rows at once.
 * Any other stride: the im2col matrix (row (c, kh, kw) of Ho * Wo values), rows at col + row * Ho * Wo.
 * Row order is always (c, kh, kw), the order of a PyTorch weight's Cin x k x k. */
#ifndef LOCUS_KERNELS_CONV_PLANES_H
#define LOCUS_KERNELS_CONV_PLANES_H

#include <stddef.h>

#include "kernels/isa.h"

/* Floats of the k shifted planes of a C x H x W input. */
size_t conv_planes_floats(int C, int H, int W, int k, int p);
/* planes <- the shifted planes of x (C x H x W). Needs W + 2p >= k. The copies run with isa's vector
 * registers (conv_planes_fill.h); every path writes the same bits. */
void conv_planes_fill(KernelIsa isa, const float *x, int C, int H, int W, int k, int p, float *planes);
void conv_planes_fill_generic(const float *x, int C, int H, int W, int k, int p, float *planes);
void conv_planes_fill_avx2(const float *x, int C, int H, int W, int k, int p, float *planes);
void conv_planes_fill_avx512(const float *x, int C, int H, int W, int k, int p, float *planes);
/* B[(c * k + kh) * k + kw] <- the row of tap (c, kh, kw) in planes (as filled for this C, H, W, k, p). */
void conv_planes_rows(const float *planes, int C, int H, int W, int k, int p, const float **B);

/* col (C*k*k x Ho*Wo) <- im2col of one sample x (C x H x W), zeros where the window is in the padding. The
 * AVX-512 and AVX2 paths vectorise stride 2 (conv_im2col_avx512.c, _avx2.c); every path writes the same bits. */
void conv_im2col(KernelIsa isa, const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col);
void conv_im2col_generic(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col);
void conv_im2col_avx512(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col);
void conv_im2col_avx2(const float *x, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *col);
/* dx (C x H x W) += the adjoint of im2col applied to dcol (every path: the same additions in the same order). */
void conv_col2im_add(KernelIsa isa, const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo,
                     float *dx);
void conv_col2im_add_generic(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx);
void conv_col2im_add_avx512(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx);
void conv_col2im_add_avx2(const float *dcol, int C, int H, int W, int k, int s, int p, int Ho, int Wo, float *dx);
/* B[row] <- col + row * Ho * Wo for the C*k*k rows. */
void conv_col_rows(const float *col, int C, int k, int Ho, int Wo, const float **B);

#endif
