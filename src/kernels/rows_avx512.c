/* rows_avx512.c — rows_gemm / rows_dot_t with AVX-512F (16 floats per vector), see rows.h and rows_simd.h.
 * Compiled for AVX-512 by the pragma below (no -march flag); reached only when cpuid reports AVX-512F.
 * Tiles: gemm 8 rows x 3 vectors (24 accumulators; per k 3 loads + 8 broadcasts for 24 FMAs), dot 4 x 6
 * (24 accumulators; per vector of q 10 loads for 24 FMAs) of the 32 vector registers; dot_t 12 x 1, 12 x 2,
 * 8 x 3, 6 x 4 (rows of B x vectors of m). */
#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#include <immintrin.h>

#include "kernels/rows.h"

#define V __m512
#define VL 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
/* vmaxps returns its second operand when either is NaN: max(0, v) keeps a NaN v, as relu.c */
#define V_RELU(v) _mm512_max_ps(_mm512_setzero_ps(), (v))
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_MASK_T __mmask16
#define V_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define V_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define FN(name) name##_avx512
#define GEMM_MR 8
#define GEMM_NV 3
#define DOTT_KRMAX 12
#define DOTT_KR(mv) ((mv) <= 2 ? 12 : (mv) == 3 ? 8 : 6)
#include "kernels/rows_simd.h"
#else
#include "kernels/rows.h"
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void rows_gemm_avx512(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                    const RowsEpilogue *ep) {
    rows_gemm_generic(M, N, K, Ap, B, C, ldc, acc, ep);
}
void rows_gemm_strided_avx512(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                            float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    rows_gemm_strided_generic(M, N, K, A, ars, aks, B, C, ldc, acc, ep);
}
void rows_dot_t_avx512(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                       float *CT, size_t ldc) {
    rows_dot_t_generic(Mp, K, N, G, DT, ldt, dtg, B, CT, ldc);
}
#endif

#if defined(__clang__)
#pragma clang attribute pop
#endif
