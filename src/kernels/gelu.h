/* gelu.h — the exact GELU (PyTorch's default nn.GELU) and its derivative over arrays, vectorised.
 *
 *   y  = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
 *   dx += dy (Phi(x) + x phi(x)),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
 * libm's erff and expf are scalar calls; these kernels compute erf with N. Juffa's branch-free float
 * approximation (max error 0.99 ulp: an odd polynomial for |z| <= 0.9277, 1 - exp(poly(|z|)) beyond) and exp
 * with a Cody-Waite reduction and a degree-7 Taylor polynomial (|f| <= ln2/2: error < 1 ulp), both branches
 * computed and one selected, so the loops vectorise; a block of 16 inputs that all lie within the polynomial's
 * range skips the other branch (the select would drop it: the same results). 1 + erf(z) is exp(poly) itself
 * when z < -0.9277 (no cancellation); its error is within ~1e-7 absolute, as float 1 + erff(z) (what PyTorch
 * computes). NaN propagates; exp below -87 gives 0; gelu'(+inf) is NaN (inf x 0), as before and in PyTorch.
 * The same exp serves the attention's softmax rows (softmax_row, softmax_grad_row).
 * Paths: portable C, AVX2 + FMA, AVX-512 (isa.h), agreeing to rounding (the C path may round the multiply-adds
 * twice where the SIMD paths use FMA). */
#ifndef LOCUS_KERNELS_GELU_H
#define LOCUS_KERNELS_GELU_H

#include <stddef.h>

#include "kernels/isa.h"

/* y[i] = gelu(x[i]), i < n. */
void gelu_rows_forward(KernelIsa isa, const float *x, float *y, size_t n);
/* dx[i] += dy[i] gelu'(x[i]), i < n; with overwrite, dx[i] = dy[i] gelu'(x[i]) (dx's old values are not read). */
void gelu_rows_backward(KernelIsa isa, const float *x, const float *dy, float *dx, size_t n, int overwrite);

/* x[i] = exp(x[i]) for x[i] <= 0 (a softmax row after subtracting its maximum; positive values are taken as 0),
 * with the same exp: < 1 ulp, 0 below -87, NaN stays NaN. */
void exp_nonpos_rows(KernelIsa isa, float *x, size_t n);
/* row (n >= 1 values) = softmax(scale row) in place (scale > 0), with this exp; the maximum and the sum are
 * vector reductions (omp simd: the sum runs in the lanes' order, not the row's). */
void softmax_row(KernelIsa isa, float *row, size_t n, float scale);
/* The softmax's backward for one row p (n values): dp <- p .* (dp - p . dp) * scale (dp: the gradient at p, in,
 * the gradient at the scaled scores, out). */
void softmax_grad_row(KernelIsa isa, const float *p, float *dp, size_t n, float scale);
void softmax_row_generic(float *row, size_t n, float scale);
void softmax_row_avx2(float *row, size_t n, float scale);
void softmax_row_avx512(float *row, size_t n, float scale);
void softmax_grad_row_generic(const float *p, float *dp, size_t n, float scale);
void softmax_grad_row_avx2(const float *p, float *dp, size_t n, float scale);
void softmax_grad_row_avx512(const float *p, float *dp, size_t n, float scale);
void exp_nonpos_rows_generic(float *x, size_t n);
void exp_nonpos_rows_avx2(float *x, size_t n);
void exp_nonpos_rows_avx512(float *x, size_t n);

void gelu_rows_forward_generic(const float *x, float *y, size_t n);
void gelu_rows_backward_generic(const float *x, const float *dy, float *dx, size_t n, int overwrite);
void gelu_rows_forward_avx2(const float *x, float *y, size_t n);
void gelu_rows_backward_avx2(const float *x, const float *dy, float *dx, size_t n, int overwrite);
void gelu_rows_forward_avx512(const float *x, float *y, size_t n);
void gelu_rows_backward_avx512(const float *x, const float *dy, float *dx, size_t n, int overwrite);

#endif
