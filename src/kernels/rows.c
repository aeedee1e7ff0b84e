/* rows.c — packing and the instruction-set dispatch of the rows_* kernels (see rows.h). */
#include "kernels/rows.h"

#include <string.h>

size_t rows_pack_floats(int M, int K) {
    return (size_t)((M + ROWS_PACK_MR - 1) / ROWS_PACK_MR) * ROWS_PACK_MR * (size_t)K;
}

/* Each block of ROWS_PACK_MR rows is their transpose (K x ROWS_PACK_MR, the missing rows of the last block zero):
 * rows_transpose's 8 x 8 register blocks on the SIMD paths (an element loop cost 6% of a ViT training step). */
void rows_pack(KernelIsa isa, int M, int K, const float *A, size_t lda, float *Ap) {
    for (int m0 = 0; m0 < M; m0 += ROWS_PACK_MR) {
        const int rows = M - m0 < ROWS_PACK_MR ? M - m0 : ROWS_PACK_MR;
        rows_transpose(isa, rows, K, A + (size_t)m0 * lda, lda, Ap + (size_t)m0 * K, ROWS_PACK_MR, ROWS_PACK_MR);
    }
}

void rows_gemm_ep(KernelIsa isa, int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc,
                  int acc, const RowsEpilogue *ep) {
    if (ep && !ep->bias && !ep->res && !ep->relu) ep = NULL;
    switch (isa) {
    case KERNEL_ISA_AVX512: rows_gemm_avx512(M, N, K, Ap, B, C, ldc, acc, ep); break;
    case KERNEL_ISA_AVX2: rows_gemm_avx2(M, N, K, Ap, B, C, ldc, acc, ep); break;
    default: rows_gemm_generic(M, N, K, Ap, B, C, ldc, acc, ep); break;
    }
}

void rows_gemm_strided(KernelIsa isa, int M, int N, int K, const float *A, size_t ars, size_t aks,
                       const float *const *B, float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    if (ep && !ep->bias && !ep->res && !ep->relu) ep = NULL;
    switch (isa) {
    case KERNEL_ISA_AVX512: rows_gemm_strided_avx512(M, N, K, A, ars, aks, B, C, ldc, acc, ep); break;
    case KERNEL_ISA_AVX2: rows_gemm_strided_avx2(M, N, K, A, ars, aks, B, C, ldc, acc, ep); break;
    default: rows_gemm_strided_generic(M, N, K, A, ars, aks, B, C, ldc, acc, ep); break;
    }
}

void rows_gemm(KernelIsa isa, int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc,
               int acc) {
    rows_gemm_ep(isa, M, N, K, Ap, B, C, ldc, acc, NULL);
}

void rows_dot_t(KernelIsa isa, int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg,
                const float *const *B, float *CT, size_t ldc) {
    switch (isa) {
    case KERNEL_ISA_AVX512: rows_dot_t_avx512(Mp, K, N, G, DT, ldt, dtg, B, CT, ldc); break;
    case KERNEL_ISA_AVX2: rows_dot_t_avx2(Mp, K, N, G, DT, ldt, dtg, B, CT, ldc); break;
    default: rows_dot_t_generic(Mp, K, N, G, DT, ldt, dtg, B, CT, ldc); break;
    }
}

void rows_transpose(KernelIsa isa, int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp) {
    /* AVX-512 CPUs have AVX2: the 8 x 8 register transpose serves both SIMD paths */
    if (isa == KERNEL_ISA_GENERIC) rows_transpose_generic(M, N, D, ldd, DT, ldt, Mp);
    else rows_transpose_avx2(M, N, D, ldd, DT, ldt, Mp);
}
