/* dense.h — y = x W^T + b over R rows and its gradients (nn.Linear's products) on locus's rows_* kernels
 * (rows.h), with the AVX-512 / AVX2 / C path of isa.h, instead of OpenBLAS (whose kernels the machine image
 * may pin to AVX2 with OPENBLAS_CORETYPE=Haswell; spec performance.md).
 *
 * x is R x in, W out x in, y and dy R x out (row-major). Rows are taken in chunks of DENSE_MB:
 *   forward  y[r] = b + x[r] W^T:     rows_gemm_strided, A = the chunk of x (read in place), rows B_k = row k
 *                                     of W^T (W transposed once per call); the bias is per column, so y's
 *                                     chunk starts as the bias and the product accumulates onto it
 *   dx      dx[r] += dy[r] W:          rows_gemm_strided, A = the chunk of dy, rows B_k = row k of W (no copy)
 *   dW      dW[o] += sum_r dy[r][o] x[r]: rows_dot_t with D^T = x's chunk (its rows run along `in`, which
 *                                     must be a multiple of 16) and rows B_o = the chunk of dy transposed
 *   db      db[o] += sum_r dy[r][o]: with dW, per chunk from the transposed chunk (float), chunks added in double
 * Threads: forward and dx split the rows, dW and db split the output features (disjoint gradient rows: no
 * reduction, results independent of the thread count). Sums run in a fixed order; they differ from
 * OpenBLAS's by rounding only. */
#ifndef LOCUS_KERNELS_DENSE_H
#define LOCUS_KERNELS_DENSE_H

#include <stddef.h>

#include "kernels/isa.h"

#define DENSE_MB 64 /* rows per chunk: the chunk of x (or dy) stays in L2 */

/* 1 when dense_backward can compute dW for this width (rows_dot_t runs along `in` in vectors of 16). */
static inline int dense_dw_ok(int in) { return in % 16 == 0; }

/* Scratch bytes for dense_forward and dense_backward with these sizes and threads. */
size_t dense_scratch_bytes(int in, int out, int threads);

/* y (R x out) = x W^T + b (b may be NULL). scratch: dense_scratch_bytes. */
void dense_forward(KernelIsa isa, int threads, int R, int in, int out, const float *x, const float *W, const float *b,
                   float *y, float *scratch);
/* The forward in two parts, for callers that apply one W to many small row blocks (attention's eval forward,
 * a sample at a time): dense_prepare writes W^T and its row pointers into area (dense_prepared_floats) and
 * returns the pointers, which dense_forward_prepared takes. dense_forward = both, W^T in its scratch. */
size_t dense_prepared_floats(int in, int out);
const float *const *dense_prepare(KernelIsa isa, int in, int out, const float *W, float *area);
void dense_forward_prepared(KernelIsa isa, int threads, int R, int in, int out, const float *x,
                            const float *const *Bt, const float *b, float *y);
/* g[j] += sum over the rows of m (row stride ld) of column j, for j0 <= j < j1: each column's sum in double,
 * rows in order (so the result does not depend on how callers split the columns). */
void dense_colsum_add(const float *m, int rows, size_t ld, int j0, int j1, float *g);
/* dx += dy W (dx = dy W with dx_overwrite: dx's old values are not read), dW += dy^T x, db += colsum(dy); each may
 * be NULL (not wanted). dW needs dense_dw_ok(in). */
void dense_backward(KernelIsa isa, int threads, int R, int in, int out, const float *x, const float *W,
                    const float *dy, float *dx, int dx_overwrite, float *dW, float *db, float *scratch);

#endif
