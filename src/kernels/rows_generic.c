/* rows_generic.c — the portable C path of the rows_* kernels (see rows.h): plain loops in the same
 * summation order as the SIMD paths (k ascending per output element), for CPUs without AVX2. */
#include "kernels/rows.h"

/* Row m of A starts at A + (m / lay_rows) lay_stride + (m % lay_rows) ars; A[m][k] = that[k aks] (rows_simd.h). */
static void gemm_rows(int M, int N, int K, const float *A, int lay_rows, size_t lay_stride, size_t ars, size_t aks,
                      const float *const *B, float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    for (int m = 0; m < M; m++) {
        const float *a = A + (size_t)(m / lay_rows) * lay_stride + (size_t)(m % lay_rows) * ars;
        float *restrict c = C + (size_t)m * ldc;
        if (!acc)
            for (int q = 0; q < N; q++) c[q] = 0.0f;
        if (ep && ep->bias)
            for (int q = 0; q < N; q++) c[q] += ep->bias[m];
        for (int k = 0; k < K; k++) {
            const float av = a[(size_t)k * aks];
            const float *restrict b = B[k];
            for (int q = 0; q < N; q++) c[q] += av * b[q];
        }
        if (ep && ep->res)
            for (int q = 0; q < N; q++) c[q] += ep->res[(size_t)m * ep->ldr + q];
        if (ep && ep->relu)
            for (int q = 0; q < N; q++) c[q] = c[q] < 0.0f ? 0.0f : c[q];
    }
}

void rows_gemm_generic(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                       const RowsEpilogue *ep) {
    gemm_rows(M, N, K, Ap, ROWS_PACK_MR, (size_t)ROWS_PACK_MR * K, 1, ROWS_PACK_MR, B, C, ldc, acc, ep);
}

void rows_gemm_strided_generic(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                               float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    gemm_rows(M, N, K, A, 1, ars, ars, aks, B, C, ldc, acc, ep);
}

void rows_dot_t_generic(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                        float *CT, size_t ldc) {
    for (int k = 0; k < K; k++) {
        float *restrict c = CT + (size_t)k * ldc;
        for (int g = 0; g < G; g++) {
            const float *b = B[(size_t)g * K + k];
            const float *dt = DT + g * dtg;
            for (int q = 0; q < N; q++) {
                const float bv = b[q];
                const float *restrict d = dt + (size_t)q * ldt;
                for (int m = 0; m < Mp; m++) c[m] += bv * d[m];
            }
        }
    }
}

void rows_transpose_generic(int M, int N, const float *D, size_t ldd, float *DT, size_t ldt, int Mp) {
    for (int q = 0; q < N; q++) {
        float *row = DT + (size_t)q * ldt;
        for (int m = 0; m < M; m++) row[m] = D[(size_t)m * ldd + q];
        for (int m = M; m < Mp; m++) row[m] = 0.0f;
    }
}
