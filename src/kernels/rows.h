/* rows.h — the two products every convolution pass reduces to, with the right-hand rows given by pointers.
 *
 * A convolution reads its input through rows: for a kernel tap k = (ci, kh, kw), row B_k holds, at each output
 * position q, the input value that tap multiplies. conv_planes.c lays the input out so that B_k is a pointer
 * into k shifted copies of it (stride 1) or into an im2col matrix (other strides), so
 *   rows_gemm:  C[m][q] = (acc ? C[m][q] : 0) + sum_k A[m][k] B_k[q]       forward (A = W) and backward-data
 *   rows_dot:   C[m][k] += sum_g sum_q D_g[m][q] B_{g,k}[q]               backward-weights (D = dy), G samples
 * with m < M, q < N, k < K. A is packed first by rows_pack (blocks of ROWS_PACK_MR rows stored k-major, the
 * last block zero-padded), so the kernel reads the MR values it broadcasts at one k from one cache line.
 *
 * Every product has an AVX-512, an AVX2 and a portable C path (isa.h picks one); all three sum over k in
 * increasing order per output element, the SIMD paths with FMA (one rounding per step), so they agree with
 * each other to rounding, not bit for bit. Vector tiles cover q (gemm) or the pairs (m, k) (dot); the q
 * elements past the last full vector go through a scalar loop, so any N works. Pointers need no alignment. */
#ifndef LOCUS_KERNELS_ROWS_H
#define LOCUS_KERNELS_ROWS_H

#include <stddef.h>

#include "kernels/isa.h"

#define ROWS_PACK_MR 8

/* Floats of a packed M x K matrix. */
size_t rows_pack_floats(int M, int K);
/* Ap <- A (M x K, element (m, k) at A[m * lda + k]), packed. */
void rows_pack(int M, int K, const float *A, size_t lda, float *Ap);

void rows_gemm(KernelIsa isa, int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc,
               int acc);
/* D_g = D + g * dg (rows m at D_g + m * ldd, N floats each); B holds G * K row pointers (sample g's at g * K);
 * C is M x K with row stride ldc. */
void rows_dot(KernelIsa isa, int M, int K, int N, int G, const float *D, size_t ldd, size_t dg,
              const float *const *B, float *C, size_t ldc);

/* The per-ISA implementations (rows_generic.c, rows_avx2.c, rows_avx512.c). */
void rows_gemm_generic(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc);
void rows_dot_generic(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B,
                      float *C, size_t ldc);
void rows_gemm_avx2(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc);
void rows_dot_avx2(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B,
                   float *C, size_t ldc);
void rows_gemm_avx512(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc);
void rows_dot_avx512(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B,
                     float *C, size_t ldc);

#endif
