/* conv3x3_wino_gemm_avx512.h — the products both Winograd kernels run (AVX-512): M_p = U_p V_p over a block
 * of tiles (forward, dx) and dU_p += dM_p V_p^T (weight gradient). Included by conv3x3_wino_avx512.c and
 * conv3x3_wino4_avx512.c after their target pragma; not a public header. */
#ifndef LOCUS_KERNELS_CONV3X3_WINO_GEMM_AVX512_H
#define LOCUS_KERNELS_CONV3X3_WINO_GEMM_AVX512_H

#include <immintrin.h>
#include <stddef.h>

#include "kernels/conv3x3_wino_internal.h"

#define INL static inline __attribute__((always_inline))

/* Mo[m][0..16 nv) = sum_c u[m][c] V[c][0..16 nv) for the nb blocks of 8 rows of u (packed: [block][c][8]),
 * storing rows m < rows (row strides: V and Mo 16 nv). */
INL void gemm_tile(const float *u, int C, const float *V, float *Mo, int rows, const int nb, const int nv) {
    __m512 acc[16][2];
#pragma GCC unroll 16
    for (int i = 0; i < 8 * nb; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) acc[i][j] = _mm512_setzero_ps();
    for (int c = 0; c < C; c++) {
        __m512 b[2];
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) b[j] = _mm512_loadu_ps(V + (size_t)c * 16 * nv + 16 * j);
#pragma GCC unroll 16
        for (int i = 0; i < 8 * nb; i++) {
            const __m512 a = _mm512_set1_ps(u[(size_t)(i / 8) * 8 * C + (size_t)c * 8 + i % 8]);
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8 * nb; i++)
        if (i < rows)
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) _mm512_storeu_ps(Mo + (size_t)i * 16 * nv + 16 * j, acc[i][j]);
}

/* The P products of one block: Mb[p][m][..] = U_p V_p (U_p: M x C packed in blocks of 8 rows, V_p: C x 16 nv). */
static void block_products(int P, int M, int C, const float *U, const float *Vb, float *Mb, const int nv) {
    const size_t tb = (size_t)16 * nv, up_floats = rows8(M) * C;
    for (int p = 0; p < P; p++) {
        const float *up = U + (size_t)p * up_floats, *vp = Vb + (size_t)p * C * tb;
        float *mp = Mb + (size_t)p * M * tb;
        int m = 0;
        if (nv == 1) /* 16 rows x 1 vector, else 8 x 2: 16 accumulators */
            for (; m + 16 <= M; m += 16) gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, 16, 2, 1);
        for (; m < M; m += 8) {
            if (nv == 2) gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, M - m, 1, 2);
            else gemm_tile(up + (size_t)m * C, C, vp, mp + m * tb, M - m, 1, 1);
        }
    }
}

/* du[i][c .. c + 16) += sum_{t < tb} dm[i][t] vt[t][c ..] for i < rows (dm row stride tb, vt and du row stride C). */
INL void dw_gemm_tile(const float *dm, const float *vt, float *du, int C, const int rows, const int tb) {
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) acc[i] = _mm512_loadu_ps(du + (size_t)i * C);
    for (int t = 0; t < tb; t++) {
        const __m512 b = _mm512_loadu_ps(vt + (size_t)t * C);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(dm[i * tb + t]), b, acc[i]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) _mm512_storeu_ps(du + (size_t)i * C, acc[i]);
}

/* dU[p] += the P products of one block's dM and V^T (dM: [p][k][tb], V^T: [p][tb][c], C a multiple of 16). */
static void dw_block_products(int P, int K, int C, const float *Mb, const float *Vb, float *dU, const int nv) {
    const int tb = 16 * nv;
    for (int p = 0; p < P; p++) {
        const float *dm = Mb + (size_t)p * K * tb, *vt = Vb + (size_t)p * tb * C;
        float *du = dU + (size_t)p * K * C;
        int k = 0;
        for (; k + 16 <= K; k += 16)
            for (int c = 0; c < C; c += 16) {
                if (nv == 2) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, 32);
                else dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 16, 16);
            }
        for (; k < K; k++)
            for (int c = 0; c < C; c += 16) {
                if (nv == 2) dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, 32);
                else dw_gemm_tile(dm + (size_t)k * tb, vt + c, du + (size_t)k * C + c, C, 1, 16);
            }
    }
}

#endif
