/* conv3x3_wino.h — the 3x3 / stride 1 / padding 1 convolution of one sample by Winograd's F(2x2, 3x3) (AVX-512).
 *
 * Same result as conv3x3.h (y[m][q] = relu?((acc ? y : 0) + bias[m] + sum_{c,kh,kw} A[m][(c*3+kh)*3+kw]
 * x[c][oh+kh-1][ow+kw-1] + res[m][q])), computed with 16 multiplications per 2x2 output tile and channel pair
 * instead of 36 (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"):
 *   U = G g G^T  (weights, 4x4 per (m, c); conv3x3_wino_weights, once per call of the layer)
 *   V = B^T d B  (each 4x4 input patch d at rows 2ty-1.., columns 2tx-1..; zero outside the map)
 *   M_p[m][t] = sum_c U_p[m][c] V_p[c][t]     for the 16 positions p of the 4x4 transform domain
 *   y tile = A^T M A
 * with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1]. The transforms' coefficients are 0, +-1 and +-1/2, so the rounding error stays
 * that of a sum of a few more terms (test_conv_kernels bounds it against sums in double); the sums are not
 * those of conv3x3_avx512 bit for bit.
 *
 * Sixteen consecutive tiles (row-major, TX = ceil(W / 2) per tile row) fill one vector, on any map at least
 * 2 x 4 (odd sizes: the last tile row / column is half outside and not stored). The input transform gathers
 * the columns of 16 tiles with masked loads and four permutes per input row; the products run as 16 small GEMMs
 * (8 output channels x 32 tiles per register tile) over blocks of up to 32 tiles whose V and M stay in the
 * core's cache (the caller's work area, conv3x3_wino_work_floats). Portable parts in conv3x3_wino.c, kernels in
 * conv3x3_wino_avx512.c. */
#ifndef LOCUS_KERNELS_CONV3X3_WINO_H
#define LOCUS_KERNELS_CONV3X3_WINO_H

#include <stddef.h>

#include "kernels/isa.h"
#include "kernels/rows.h"

/* 1 when this kernel takes an H x W map (H >= 2, W >= 4). */
int conv3x3_wino_fits(int H, int W);
/* 1 when isa runs this kernel (AVX-512), and LOCUS_CONV3X3 does not say "direct". */
int conv3x3_wino_available(KernelIsa isa);
/* What runs 3x3 / stride 1 / padding 1 convolutions on isa (for reports): Winograd where it fits, or direct. */
const char *conv3x3_algorithm(KernelIsa isa);
/* LOCUS_CONV3X3 is unset, "winograd", "winograd2" or "direct"; LOCUS_ERR_ARG with a hint otherwise. */
Status conv3x3_wino_check_env(ErrorMsg *err);

/* Floats of U for M x C weights: 16 M' C, M' = M rounded up to 8. */
size_t conv3x3_wino_weight_floats(int M, int C);
/* U_p[m][c] (p = 4 i + j) = (G g G^T)[i][j] of g = A[m][c * 9 .. c * 9 + 8] (A: M rows, row stride lda), stored
 * in blocks of 8 rows for the product's broadcasts: U[p][m / 8][c][m % 8] (rows past M are 0). */
void conv3x3_wino_weights(int M, int C, const float *A, size_t lda, float *U);
/* Floats of the plan of an H x W map: where each vector of 16 tiles reads and writes its rows (masked-load runs),
 * computed once per map by conv3x3_wino_plan and shared by every call on it. */
size_t conv3x3_wino_plan_floats(int H, int W);
void conv3x3_wino_plan(int H, int W, float *plan);
/* Floats of the work area of one call (V and M of one block of tiles; best 64-byte aligned). */
size_t conv3x3_wino_work_floats(int M, int C, int H, int W);
/* y as above (M rows, row stride ldc), x C x H x W, U from conv3x3_wino_weights, plan from conv3x3_wino_plan;
 * ep NULL or as rows.h. */
void conv3x3_wino_avx512(int M, int C, int H, int W, const float *U, const float *plan, const float *x, float *y,
                         size_t ldc, int acc, const RowsEpilogue *ep, float *work);


/* The padded map conv3x3_wino_dw_avx512 reads x^T from: Hp x Wp pixels, H + 2 and W + 2 rounded up to even. */
void conv3x3_wino_padded(int H, int W, int *Hp, int *Wp);
/* The weight gradient of one sample, for C a multiple of 16 (vectors of channels in the input transform):
 *   dU[p][k][c] += sum_t dM_p[k][t] V_p[c][t]     dM = A dy_t A^T for each 2x2 tile dy_t of dy (K x H x W)
 * with V from x given transposed and zero-padded, xT[(ih + 1) Wp + iw + 1][c] = x[c][ih][iw] (everything else
 * 0; Hp x Wp pixels, conv3x3_wino_padded). dU is 16 K C floats; work as conv3x3_wino_work_floats(K, C, H, W). */
void conv3x3_wino_dw_avx512(int K, int C, int H, int W, const float *plan, const float *xT, const float *dy, float *dU,
                            float *work);
/* dg[kh * 3 + kw] += (G^T dU G)[kh][kw] for one (k, c): du[p * stride] is dU_p[k][c]. */
void conv3x3_wino_dw_finish(const float *du, size_t stride, float *dg);

/* F(4x4, 3x3): the same convolution with 36 products per 4x4 output tile (2.25x fewer than F(2x2, 3x3)'s per
 * output, 4x fewer than direct), for maps 16 or 32 wide whose tiles fill whole vectors (H a multiple of 16 or
 * 8; conv3x3_wino4_fits), and 8x8 maps 4 samples at a time (conv3x3_wino4_group_avx512 below). Its transforms
 * have coefficients up to 8 and 1/24, so its rounding error is larger than F(2x2, 3x3)'s (test_conv_kernels
 * bounds it at 1e-4 of the sum of the terms' magnitudes). U: conv3x3_wino4_weights, 36 M' C floats in the same
 * packed layout; work: conv3x3_wino4_work_floats. Kernels in conv3x3_wino4_avx512.c. */
int conv3x3_wino4_fits(int H, int W);
/* 1 when isa runs it and LOCUS_CONV3X3 says neither "direct" nor "winograd2". */
int conv3x3_wino4_available(KernelIsa isa);
size_t conv3x3_wino4_weight_floats(int M, int C);
void conv3x3_wino4_weights(int M, int C, const float *A, size_t lda, float *U);
size_t conv3x3_wino4_work_floats(int M, int C, int H, int W);
void conv3x3_wino4_avx512(int M, int C, int H, int W, const float *U, const float *x, float *y, size_t ldc, int acc,
                          const RowsEpilogue *ep, float *work);
/* The weight gradient by F(4x4, 3x3), as conv3x3_wino_dw_avx512 (C a multiple of 16, x^T padded to
 * (H + 2) x (W + 2)) with dU 36 K C floats and work conv3x3_wino4_work_floats(K, C, H, W); then
 * conv3x3_wino4_dw_finish: dg[kh * 3 + kw] += (G^T dU G)[kh][kw] of du[p * stride], p < 36. */
void conv3x3_wino4_dw_avx512(int K, int C, int H, int W, const float *xT, const float *dy, float *dU, float *work);
void conv3x3_wino4_dw_finish(const float *du, size_t stride, float *dg);
/* 8x8 maps have 4 F(4x4) tiles: these run 4 samples at once (one vector of 16 tiles). Forward / dx of samples
 * x[s] -> y[s] (channel rows at ldc; res[s] NULL or the residual's planes at ep->ldr; res NULL: none), weight
 * gradient from xT[s] (x^T padded to 10 x 10) and dy[s]; a NULL x[s] / dy[s] is no sample (nothing stored,
 * nothing added). ep: bias and ReLU as rows.h (its res unused). Work: conv3x3_wino4_work_floats(M, C, 8, 8). */
void conv3x3_wino4_group_avx512(int M, int C, const float *U, const float *const x[4], float *const y[4], size_t ldc,
                                int acc, const RowsEpilogue *ep, const float *const res[4], float *work);
void conv3x3_wino4_dw_group_avx512(int K, int C, const float *const xT[4], const float *const dy[4], float *dU,
                                   float *work);

#endif
