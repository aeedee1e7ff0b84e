/* ln.h — LayerNorm's row and column loops (layers/layernorm.c) over a block of rows, compiled per instruction set
 * (ln_body.h: plain loops the compiler vectorises, so statistics in double run 8 lanes to a vector on AVX-512
 * instead of the 2 of the portable build; LayerNorm was 3% of a ViT-tiny training step).
 *
 * Per row r of d values (xhat = (x - mean_r) rstd_r, g = dy weight):
 *   forward   mean_r and rstd_r = 1 / sqrt(var_r + eps) in double (two passes: mean, then centred variance),
 *             y = xhat weight + bias
 *   backward  dx += rstd_r (g - mean(g) - xhat mean(g xhat)), the means in double
 *   columns   dweight[i] += sum_r dy xhat, dbias[i] += sum_r dy for i0 <= i < i1, rows in order, in double
 * Each row sum runs in 8 independent lanes (element i in lane i % 8, the last d % 8 elements in lane 0), the lanes
 * then added pairwise, the same order on every path (and as layernorm.c summed before these kernels). */
#ifndef LOCUS_KERNELS_LN_H
#define LOCUS_KERNELS_LN_H

#include <stddef.h>

#include "kernels/isa.h"

/* rows x d: x, y (row stride d); mean and rstd (rows values; written). */
void ln_rows_forward(KernelIsa isa, const float *x, float *y, const float *w, const float *b, size_t rows, int d,
                     float eps, float *mean, float *rstd);
/* dx (rows x d) += the input gradient; mean and rstd as the forward wrote them. */
void ln_rows_backward(KernelIsa isa, const float *x, const float *dy, const float *w, const float *mean,
                      const float *rstd, size_t rows, int d, float *dx);
/* dw[i] += sum_r dy[r][i] xhat[r][i], db[i] += sum_r dy[r][i], i0 <= i < i1 (i1 - i0 <= 16); dw or db may be NULL. */
void ln_cols_backward(KernelIsa isa, const float *x, const float *dy, const float *mean, const float *rstd,
                      size_t rows, int d, int i0, int i1, float *dw, float *db);

void ln_rows_forward_generic(const float *x, float *y, const float *w, const float *b, size_t rows, int d, float eps,
                             float *mean, float *rstd);
void ln_rows_forward_avx2(const float *x, float *y, const float *w, const float *b, size_t rows, int d, float eps,
                          float *mean, float *rstd);
void ln_rows_forward_avx512(const float *x, float *y, const float *w, const float *b, size_t rows, int d, float eps,
                            float *mean, float *rstd);
void ln_rows_backward_generic(const float *x, const float *dy, const float *w, const float *mean, const float *rstd,
                              size_t rows, int d, float *dx);
void ln_rows_backward_avx2(const float *x, const float *dy, const float *w, const float *mean, const float *rstd,
                           size_t rows, int d, float *dx);
void ln_rows_backward_avx512(const float *x, const float *dy, const float *w, const float *mean, const float *rstd,
                             size_t rows, int d, float *dx);
void ln_cols_backward_generic(const float *x, const float *dy, const float *mean, const float *rstd, size_t rows, int d,
                              int i0, int i1, float *dw, float *db);
void ln_cols_backward_avx2(const float *x, const float *dy, const float *mean, const float *rstd, size_t rows, int d,
                           int i0, int i1, float *dw, float *db);
void ln_cols_backward_avx512(const float *x, const float *dy, const float *mean, const float *rstd, size_t rows, int d,
                             int i0, int i1, float *dw, float *db);

#endif
