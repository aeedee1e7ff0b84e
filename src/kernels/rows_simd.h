/* rows_simd.h — the SIMD body of rows_gemm / rows_dot (see rows.h), written once and included by
 * rows_avx2.c and rows_avx512.c after they define, for their instruction set:
 *   V, VL                  vector type and floats per vector
 *   V_ZERO(), V_LOAD(p), V_STORE(p, v), V_BCAST(p), V_FMA(a, b, c) = a * b + c, V_HSUM(v)
 *   FN(name)               the exported name with the ISA suffix
 *   GEMM_MR, GEMM_NV       gemm register tile: MR rows of C (divides ROWS_PACK_MR) x NV vectors of q
 *   DOT_DM, DOT_DK         dot register tile: DM rows of D x DK rows of B, each a vector of partial sums
 * Tiles are `always_inline` functions whose tile widths are compile-time constants at every call site, so
 * the accumulators live in registers; the widths below the maximum come from a switch over constants. */

#define ROWS_INLINE static inline __attribute__((always_inline))

/* C[r][q .. q + nv VL) for r < rows (the packed block's rows past M are zero and not stored). */
ROWS_INLINE void FN(gemm_tile)(int K, const float *restrict ap, const float *const *B, size_t q, float *restrict C,
                               size_t ldc, int rows, int acc, const int nv) {
    V c[GEMM_MR][GEMM_NV];
    for (int r = 0; r < GEMM_MR; r++)
        for (int v = 0; v < nv; v++)
            c[r][v] = acc && r < rows ? V_LOAD(C + (size_t)r * ldc + q + (size_t)v * VL) : V_ZERO();
    for (int k = 0; k < K; k++) {
        const float *b = B[k] + q;
        const float *a = ap + (size_t)k * ROWS_PACK_MR;
        V bv[GEMM_NV];
        for (int v = 0; v < nv; v++) bv[v] = V_LOAD(b + (size_t)v * VL);
        for (int r = 0; r < GEMM_MR; r++) {
            const V av = V_BCAST(a + r);
            for (int v = 0; v < nv; v++) c[r][v] = V_FMA(av, bv[v], c[r][v]);
        }
    }
    for (int r = 0; r < GEMM_MR; r++)
        if (r < rows)
            for (int v = 0; v < nv; v++) V_STORE(C + (size_t)r * ldc + q + (size_t)v * VL, c[r][v]);
}

void FN(rows_gemm)(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc) {
    const int step = GEMM_NV * VL, nvec = N / VL * VL;
    /* q blocks outside, row blocks inside: one block's B strip (K x step floats) stays in L1 across the rows */
    for (int q = 0; q < nvec; q += step) {
        const int nv = (nvec - q) / VL < GEMM_NV ? (nvec - q) / VL : GEMM_NV;
        for (int m0 = 0; m0 < M; m0 += GEMM_MR) {
            const float *ap = Ap + (size_t)(m0 / ROWS_PACK_MR) * ROWS_PACK_MR * K + m0 % ROWS_PACK_MR;
            const int rows = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
            float *c = C + (size_t)m0 * ldc;
            switch (nv) {
#if GEMM_NV >= 4
            case 4: FN(gemm_tile)(K, ap, B, (size_t)q, c, ldc, rows, acc, 4); break;
#endif
            case 3: FN(gemm_tile)(K, ap, B, (size_t)q, c, ldc, rows, acc, 3); break;
            case 2: FN(gemm_tile)(K, ap, B, (size_t)q, c, ldc, rows, acc, 2); break;
            default: FN(gemm_tile)(K, ap, B, (size_t)q, c, ldc, rows, acc, 1); break;
            }
        }
    }
    if (nvec == N) return;
    for (int m = 0; m < M; m++) { /* the last N % VL positions */
        const float *a = Ap + (size_t)(m / ROWS_PACK_MR) * ROWS_PACK_MR * K + m % ROWS_PACK_MR;
        for (int q = nvec; q < N; q++) {
            float s = acc ? C[(size_t)m * ldc + q] : 0.0f;
            for (int k = 0; k < K; k++) s = __builtin_fmaf(a[(size_t)k * ROWS_PACK_MR], B[k][q], s);
            C[(size_t)m * ldc + q] = s;
        }
    }
}

/* C[m0 + i][k0 + j] += sum_g sum_{q < nvec} D_g[m0 + i][q] B_{g, k0 + j}[q] for i < dm, j < dk. */
ROWS_INLINE void FN(dot_tile)(int G, int nvec, const float *D, size_t ldd, size_t dg, const float *const *B, int K,
                              int m0, int k0, float *C, size_t ldc, const int dm, const int dk) {
    V c[DOT_DM][DOT_DK];
    for (int i = 0; i < dm; i++)
        for (int j = 0; j < dk; j++) c[i][j] = V_ZERO();
    for (int g = 0; g < G; g++) {
        const float *d = D + g * dg + (size_t)m0 * ldd;
        const float *const *b = B + (size_t)g * K + k0;
        for (int q = 0; q < nvec; q += VL) {
            V a[DOT_DM];
            for (int i = 0; i < dm; i++) a[i] = V_LOAD(d + (size_t)i * ldd + q);
            for (int j = 0; j < dk; j++) {
                const V bv = V_LOAD(b[j] + q);
                for (int i = 0; i < dm; i++) c[i][j] = V_FMA(a[i], bv, c[i][j]);
            }
        }
    }
    for (int i = 0; i < dm; i++)
        for (int j = 0; j < dk; j++) C[(size_t)(m0 + i) * ldc + k0 + j] += V_HSUM(c[i][j]);
}

/* Rows m0 .. m0 + dm (dm = DOT_DM or 1) across all k. */
ROWS_INLINE void FN(dot_rows)(int G, int nvec, const float *D, size_t ldd, size_t dg, const float *const *B, int K,
                              int m0, float *C, size_t ldc, const int dm) {
    int k0 = 0;
    for (; k0 + DOT_DK <= K; k0 += DOT_DK) FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, DOT_DK);
    switch (K - k0) {
#if DOT_DK >= 6
    case 5: FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, 5); break;
#endif
#if DOT_DK >= 5
    case 4: FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, 4); break;
#endif
    case 3: FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, 3); break;
    case 2: FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, 2); break;
    case 1: FN(dot_tile)(G, nvec, D, ldd, dg, B, K, m0, k0, C, ldc, dm, 1); break;
    default: break;
    }
}

void FN(rows_dot)(int M, int K, int N, int G, const float *D, size_t ldd, size_t dg, const float *const *B, float *C,
                  size_t ldc) {
    const int nvec = N / VL * VL;
    int m0 = 0;
    for (; m0 + DOT_DM <= M; m0 += DOT_DM) FN(dot_rows)(G, nvec, D, ldd, dg, B, K, m0, C, ldc, DOT_DM);
    for (; m0 < M; m0++) FN(dot_rows)(G, nvec, D, ldd, dg, B, K, m0, C, ldc, 1);
    if (nvec == N) return;
    for (int m = 0; m < M; m++) /* the last N % VL positions */
        for (int k = 0; k < K; k++) {
            float s = 0.0f;
            for (int g = 0; g < G; g++) {
                const float *d = D + g * dg + (size_t)m * ldd, *b = B[(size_t)g * K + k];
                for (int q = nvec; q < N; q++) s = __builtin_fmaf(d[q], b[q], s);
            }
            C[(size_t)m * ldc + k] += s;
        }
}
