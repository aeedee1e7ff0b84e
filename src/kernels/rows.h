/* rows.h — the two products every convolution pass reduces to, with the right-hand rows given by pointers.
 *
 * A convolution reads its input through rows: for a kernel tap k = (ci, kh, kw), row B_k holds, at each output
 * position q, the input value that tap multiplies. conv_planes.c lays the input out so that B_k is a pointer
 * into k shifted copies of it (stride 1) or into an im2col matrix (other strides), so
 *   rows_gemm:  C[m][q] = (acc ? C[m][q] : 0) + sum_k A[m][k] B_k[q]       forward (A = W) and backward-data
 *   rows_dot_t: CT[k][m] += sum_g sum_q B_{g,k}[q] DT_g[q][m]            backward-weights, dW^T from dy^T
 * rows_dot_t takes D = dy transposed (rows_transpose, m padded with zeros to a multiple of 16) so that its
 * vectors run along m: the sums over q need no horizontal reduction and short rows (small N, the 8x8 stage)
 * cost nothing extra (a q-vectorised dot product reached 63 GFLOP/s at N = 64, this one 200).
 * with m < M, q < N, k < K. A is packed first by rows_pack (blocks of ROWS_PACK_MR rows stored k-major, the
 * last block zero-padded), so the kernel reads the MR values it broadcasts at one k from one cache line.
 *
 * Every product has an AVX-512, an AVX2 and a portable C path (isa.h picks one); all three sum over k in
 * increasing order per output element, the SIMD paths with FMA (one rounding per step), so they agree with
 * each other to rounding, not bit for bit. Vector tiles cover q (gemm) or the pairs (m, k) (dot); the q
 * elements past the last full vector are one masked vector (nothing past N is read), so any N works at
 * nearly full speed (with a scalar tail, the 3x3 convolutions on the 14x14 and 7x7 maps of 28-pixel inputs ran at
 * 63 and 61 GFLOP/s forward on one core; masked: 124 and 87). Pointers need no alignment. */
#ifndef LOCUS_KERNELS_ROWS_H
#define LOCUS_KERNELS_ROWS_H

#include <stddef.h>

#include "kernels/isa.h"

#define ROWS_PACK_MR 8

/* Floats of a packed M x K matrix. */
size_t rows_pack_floats(int M, int K);
/* Ap <- A (M x K, element (m, k) at A[m * lda + k]), packed. */
void rows_pack(KernelIsa isa, int M, int K, const float *A, size_t lda, float *Ap);

void rows_gemm(KernelIsa isa, int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc,
               int acc);

/* What a forward product may do to C as it stores it, while the tile is still in registers (conv forward
 * with a bias; at inference, batch norm folded into the weights and the bias, a residual join and a ReLU):
 *   C[m][q] = relu?( (acc ? C[m][q] : 0) + bias[m] + sum_k A[m][k] B_k[q] + res[m][q] )
 * the bias is where the sum starts (before the first product, so a bias gives bit for bit the old
 * "fill C with the bias, then accumulate"), res is added after the last product, then the ReLU
 * (max(v, 0) with NaN kept, as relu.c). NULL pointers / relu 0 skip a part. */
typedef struct RowsEpilogue {
    const float *bias; /* M values, or NULL */
    const float *res;  /* M rows of N values at res + m * ldr, or NULL; may not overlap C */
    size_t ldr;
    int relu;
} RowsEpilogue;

/* rows_gemm with an epilogue (ep may be NULL: then exactly rows_gemm). */
void rows_gemm_ep(KernelIsa isa, int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc,
                  int acc, const RowsEpilogue *ep);

/* rows_gemm_ep with A read in place instead of packed: A[m][k] = A[m * ars + k * aks] (row-major: ars = lda,
 * aks = 1; transposed: ars = 1, aks = lda). Nothing outside the M x K elements is read. Saves the packing pass
 * where A is used once (the dense layers' row chunks, the attention heads); the same sums as rows_gemm_ep. */
void rows_gemm_strided(KernelIsa isa, int M, int N, int K, const float *A, size_t ars, size_t aks,
                       const float *const *B, float *C, size_t ldc, int acc, const RowsEpilogue *ep);

/* CT (K x Mp, row stride ldc) += the transposed product; DT_g = DT + g * dtg is N x Mp (row stride ldt);
 * Mp is a multiple of 16; B holds G * K row pointers. */
void rows_dot_t(KernelIsa isa, int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg,
                const float *const *B, float *CT, size_t ldc);
/* DT[q][m] <- D[m][q] (m < M, q < N; D row stride ldd, DT row stride ldt), DT[q][m] <- 0 for M <= m < Mp. */
void rows_transpose(KernelIsa isa, int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp);
/* M rounded up to the 16 floats of an AVX-512 vector (what rows_dot_t needs on every path). */
static inline int rows_pad_m(int M) { return (M + 15) / 16 * 16; }

/* The per-ISA implementations (rows_generic.c, rows_avx2.c, rows_avx512.c). */
void rows_gemm_generic(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                       const RowsEpilogue *ep);
void rows_gemm_avx2(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                    const RowsEpilogue *ep);
void rows_dot_t_generic(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                        float *CT, size_t ldc);
void rows_dot_t_avx2(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                     float *CT, size_t ldc);
void rows_dot_t_avx512(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                       float *CT, size_t ldc);
void rows_transpose_generic(int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp);
void rows_transpose_avx2(int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp);
void rows_gemm_avx512(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                      const RowsEpilogue *ep);
void rows_gemm_strided_generic(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                               float *C, size_t ldc, int acc, const RowsEpilogue *ep);
void rows_gemm_strided_avx2(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                            float *C, size_t ldc, int acc, const RowsEpilogue *ep);
void rows_gemm_strided_avx512(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                              float *C, size_t ldc, int acc, const RowsEpilogue *ep);

#endif
