/* rows_avx2.c — rows_gemm / rows_dot with AVX2 + FMA (8 floats per vector), see rows.h and rows_simd.h.
 * Compiled for AVX2 by the pragma below (no -march flag); reached only when cpuid reports AVX2 and FMA.
 * Tiles: gemm 4 rows x 3 vectors (12 accumulators + 3 loaded + 1 broadcast of the 16 registers), dot 2 x 6
 * (12 accumulators + 2 loaded + 1 streamed). */
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernels/rows.h"

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define V __m256
#define VL 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_HSUM(v) hsum256(v)
#define FN(name) name##_avx2
#define GEMM_MR 4
#define GEMM_NV 3
#define DOT_DM 2
#define DOT_DK 6
#include "kernels/rows_simd.h"
#else
#include "kernels/rows.h"
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void rows_gemm_avx2(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc) {
    rows_gemm_generic(M, N, K, Ap, B, C, ldc, acc);
}
void rows_dot_avx2(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B,
                   float *C, size_t ldc) {
    rows_dot_generic(M, K, N, G, D, ldd, dg, B, C, ldc);
}
#endif
