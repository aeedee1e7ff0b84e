/* rows_generic.c — the portable C path of rows_gemm / rows_dot (see rows.h): plain loops in the same
 * summation order as the SIMD paths (k ascending per output element), for CPUs without AVX2. */
#include "kernels/rows.h"

void rows_gemm_generic(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc) {
    for (int m = 0; m < M; m++) {
        const float *a = Ap + (size_t)(m / ROWS_PACK_MR) * ROWS_PACK_MR * K + m % ROWS_PACK_MR;
        float *restrict c = C + (size_t)m * ldc;
        if (!acc)
            for (int q = 0; q < N; q++) c[q] = 0.0f;
        for (int k = 0; k < K; k++) {
            const float av = a[(size_t)k * ROWS_PACK_MR];
            const float *restrict b = B[k];
            for (int q = 0; q < N; q++) c[q] += av * b[q];
        }
    }
}

void rows_dot_generic(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B,
                      float *C, size_t ldc) {
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            float s = 0.0f;
            for (int g = 0; g < G; g++) {
                const float *restrict d = D + g * dg + (size_t)m * ldd, *restrict b = B[(size_t)g * K + k];
                for (int q = 0; q < N; q++) s += d[q] * b[q];
            }
            C[(size_t)m * ldc + k] += s;
        }
}
