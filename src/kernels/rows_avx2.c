/* rows_avx2.c — rows_gemm / rows_dot_t with AVX2 + FMA (8 floats per vector), see rows.h and rows_simd.h.
 * Compiled for AVX2 by the pragma below (no -march flag); reached only when cpuid reports AVX2 and FMA.
 * Tiles: gemm 4 rows x 3 vectors (12 accumulators + 3 loaded + 1 broadcast of the 16 registers), dot 2 x 6
 * (12 accumulators + 2 loaded + 1 streamed); dot_t 12 x 1, 6 x 2, 4 x 3, 3 x 4 (rows of B x vectors of m).
 * rows_transpose (used by both SIMD paths) moves 8 x 8 blocks through registers. */
#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
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
#define V_ADD(a, b) _mm256_add_ps((a), (b))
/* vmaxps returns its second operand when either is NaN: max(0, v) keeps a NaN v, as relu.c */
#define V_RELU(v) _mm256_max_ps(_mm256_setzero_ps(), (v))
#define V_HSUM(v) hsum256(v)
#define V_MASK_T __m256i
#define V_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define V_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define FN(name) name##_avx2
#define GEMM_MR 4
#define GEMM_NV 3
#define DOTT_KRMAX 12
#define DOTT_KR(mv) ((mv) == 1 ? 12 : (mv) == 2 ? 6 : (mv) == 3 ? 4 : 3)
#include "kernels/rows_simd.h"

/* 8 rows of 8 floats (row stride ld) transposed into dst (row stride ldt). */
static inline void transpose8(const float *src, size_t ld, float *dst, size_t ldt) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (size_t)i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + (size_t)i * ldt, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (size_t)(i + 4) * ldt, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

void rows_transpose_avx2(int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp) {
    const int m8 = M / 8 * 8, n8 = N / 8 * 8;
    for (int q = 0; q < n8; q += 8)
        for (int m = 0; m < m8; m += 8) transpose8(D + (size_t)m * ldd + q, ldd, DT + (size_t)q * ldt + m, ldt);
    for (int q = 0; q < N; q++) {
        float *row = DT + (size_t)q * ldt;
        const int m_from = q < n8 ? m8 : 0;
        for (int m = m_from; m < M; m++) row[m] = D[(size_t)m * ldd + q];
        for (int m = M; m < Mp; m++) row[m] = 0.0f;
    }
}
#else
#include "kernels/rows.h"
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void rows_gemm_avx2(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                    const RowsEpilogue *ep) {
    rows_gemm_generic(M, N, K, Ap, B, C, ldc, acc, ep);
}
void rows_gemm_strided_avx2(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                            float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    rows_gemm_strided_generic(M, N, K, A, ars, aks, B, C, ldc, acc, ep);
}
void rows_dot_t_avx2(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                     float *CT, size_t ldc) {
    rows_dot_t_generic(Mp, K, N, G, DT, ldt, dtg, B, CT, ldc);
}
void rows_transpose_avx2(int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp) {
    rows_transpose_generic(M, N, D, ldd, DT, ldt, Mp);
}
#endif

#if defined(__clang__)
#pragma clang attribute pop
#endif
