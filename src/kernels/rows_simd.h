/* rows_simd.h — the SIMD body of rows_gemm / rows_dot_t (see rows.h), written once and included by
 * rows_avx2.c and rows_avx512.c after they define, for their instruction set:
 *   V, VL                  vector type and floats per vector
 *   V_ZERO(), V_LOAD(p), V_STORE(p, v), V_BCAST(p), V_FMA(a, b, c) = a * b + c, V_HSUM(v), V_ADD(a, b),
 *   V_RELU(v) = max(v, 0) keeping NaN
 *   V_MASK_T, V_MASK(n)    a mask of the first n lanes (0 < n < VL), its type
 *   V_LOADM(p, m), V_STOREM(p, m, v)  loads / stores of the masked lanes only (the others are not touched)
 *   FN(name)               the exported name with the ISA suffix
 *   GEMM_MR, GEMM_NV       gemm register tile: MR rows of C (divides ROWS_PACK_MR) x NV vectors of q
 *   DOTT_TILES             rows_dot_t tiles, one (mv, kr) pair per vector count mv = 1..4 of m:
 *                          DOTT_KR(mv) rows of B by mv vectors of DT
 * Tiles are `always_inline` functions whose tile widths are compile-time constants at every call site, so
 * the accumulators live in registers; the widths below the maximum come from a switch over constants. */

#define ROWS_INLINE static inline __attribute__((always_inline))

/* The block's A rows: A[r][k] = ar[r][k * aks]. Packed (ars = 1, aks = ROWS_PACK_MR, the rows past M zero-padded:
 * constants, so every address is the block base plus a displacement) or in place (rows_gemm_strided: the rows past
 * M read row 0 instead, and their sums are not stored). */
ROWS_INLINE void FN(block_rows)(const float *a, size_t ars, int rows, const int in_place, const float **ar) {
    for (int r = 0; r < GEMM_MR; r++) ar[r] = a + (size_t)(in_place && r >= rows ? 0 : r) * ars;
}

/* C[r][q .. q + nv VL) for r < rows (rows past M are not stored); A as block_rows; ep (NULL or with its pointers
 * already offset to this block's first row) as in rows.h. */
ROWS_INLINE void FN(gemm_tile)(int K, const float *restrict a0, size_t ars, size_t aks, const int in_place,
                               const float *const *B, size_t q, float *restrict C, size_t ldc, int rows, int acc,
                               const RowsEpilogue *ep, const int nv) {
    const float *ar[GEMM_MR];
    FN(block_rows)(a0, ars, rows, in_place, ar);
    V c[GEMM_MR][GEMM_NV];
    for (int r = 0; r < GEMM_MR; r++)
        for (int v = 0; v < nv; v++)
            c[r][v] = acc && r < rows ? V_LOAD(C + (size_t)r * ldc + q + (size_t)v * VL) : V_ZERO();
    if (ep && ep->res) /* fetched while the products run: the residual comes from far back in the network */
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < nv; v++) __builtin_prefetch(ep->res + (size_t)r * ep->ldr + q + (size_t)v * VL);
    if (ep && ep->bias)
        for (int r = 0; r < GEMM_MR; r++)
            if (r < rows) {
                const V bv = V_BCAST(ep->bias + r);
                for (int v = 0; v < nv; v++) c[r][v] = V_ADD(c[r][v], bv);
            }
    for (int k = 0; k < K; k++) {
        const float *b = B[k] + q;
        V bv[GEMM_NV];
        for (int v = 0; v < nv; v++) bv[v] = V_LOAD(b + (size_t)v * VL);
        for (int r = 0; r < GEMM_MR; r++) {
            const V av = V_BCAST(ar[r] + (size_t)k * aks);
            for (int v = 0; v < nv; v++) c[r][v] = V_FMA(av, bv[v], c[r][v]);
        }
    }
    if (ep && ep->res)
        for (int r = 0; r < GEMM_MR; r++)
            if (r < rows)
                for (int v = 0; v < nv; v++)
                    c[r][v] = V_ADD(c[r][v], V_LOAD(ep->res + (size_t)r * ep->ldr + q + (size_t)v * VL));
    if (ep && ep->relu)
        for (int r = 0; r < GEMM_MR; r++)
            for (int v = 0; v < nv; v++) c[r][v] = V_RELU(c[r][v]);
    for (int r = 0; r < GEMM_MR; r++)
        if (r < rows)
            for (int v = 0; v < nv; v++) V_STORE(C + (size_t)r * ldc + q + (size_t)v * VL, c[r][v]);
}

/* ep restricted to the rows of the block that starts at row m0 (written to *e), or NULL without one. */
ROWS_INLINE const RowsEpilogue *block_ep(const RowsEpilogue *ep, int m0, RowsEpilogue *e) {
    if (!ep) return NULL;
    *e = *ep;
    if (e->bias) e->bias += m0;
    if (e->res) e->res += (size_t)m0 * e->ldr;
    return e;
}

/* gemm_tile for one vector of which only the lanes in mk exist (the last N % VL positions of q): the same sums in
 * the same order, so the results are those of a full tile, and nothing past N is read or written. */
ROWS_INLINE void FN(gemm_tail)(int K, const float *restrict a0, size_t ars, size_t aks, const int in_place,
                               const float *const *B, size_t q, float *restrict C, size_t ldc, int rows, int acc,
                               const RowsEpilogue *ep, V_MASK_T mk) {
    const float *ar[GEMM_MR];
    FN(block_rows)(a0, ars, rows, in_place, ar);
    V c[GEMM_MR];
    for (int r = 0; r < GEMM_MR; r++) c[r] = acc && r < rows ? V_LOADM(C + (size_t)r * ldc + q, mk) : V_ZERO();
    if (ep && ep->bias)
        for (int r = 0; r < GEMM_MR; r++)
            if (r < rows) c[r] = V_ADD(c[r], V_BCAST(ep->bias + r));
    for (int k = 0; k < K; k++) {
        const V bv = V_LOADM(B[k] + q, mk);
        for (int r = 0; r < GEMM_MR; r++) c[r] = V_FMA(V_BCAST(ar[r] + (size_t)k * aks), bv, c[r]);
    }
    if (ep && ep->res)
        for (int r = 0; r < GEMM_MR; r++)
            if (r < rows) c[r] = V_ADD(c[r], V_LOADM(ep->res + (size_t)r * ep->ldr + q, mk));
    if (ep && ep->relu)
        for (int r = 0; r < GEMM_MR; r++) c[r] = V_RELU(c[r]);
    /* (every loop over r runs to the constant GEMM_MR and tests rows inside: with `r < rows` as the bound, GCC
     * kept c[] on the stack and stored all of it at every k, 2.7x slower than a full tile) */
    for (int r = 0; r < GEMM_MR; r++)
        if (r < rows) V_STOREM(C + (size_t)r * ldc + q, mk, c[r]);
}

/* rows_gemm over A as block_rows says; row m0 of A starts at A + (m0 / lay_rows) lay_stride + (m0 % lay_rows) ars:
 * packed, lay_rows = ROWS_PACK_MR rows every ROWS_PACK_MR K floats (GEMM_MR divides it); in place, 1 row every ars. */
ROWS_INLINE void FN(gemm_blocks)(int M, int N, int K, const float *A, int lay_rows, size_t lay_stride, size_t ars,
                                 size_t aks, const int in_place, const float *const *B, float *C, size_t ldc, int acc,
                                 const RowsEpilogue *ep) {
    const int step = GEMM_NV * VL, nvec = N / VL * VL;
    /* q blocks outside, row blocks inside: one block's B strip (K x step floats) stays in L1 across the rows */
    for (int q = 0; q < nvec; q += step) {
        const int nv = (nvec - q) / VL < GEMM_NV ? (nvec - q) / VL : GEMM_NV;
        for (int m0 = 0; m0 < M; m0 += GEMM_MR) {
            const float *a = A + (size_t)(m0 / lay_rows) * lay_stride + (size_t)(m0 % lay_rows) * ars;
            const int rows = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
            float *c = C + (size_t)m0 * ldc;
            RowsEpilogue e;
            const RowsEpilogue *ep0 = block_ep(ep, m0, &e);
            switch (nv) {
#if GEMM_NV >= 4
            case 4: FN(gemm_tile)(K, a, ars, aks, in_place, B, (size_t)q, c, ldc, rows, acc, ep0, 4); break;
#endif
            case 3: FN(gemm_tile)(K, a, ars, aks, in_place, B, (size_t)q, c, ldc, rows, acc, ep0, 3); break;
            case 2: FN(gemm_tile)(K, a, ars, aks, in_place, B, (size_t)q, c, ldc, rows, acc, ep0, 2); break;
            default: FN(gemm_tile)(K, a, ars, aks, in_place, B, (size_t)q, c, ldc, rows, acc, ep0, 1); break;
            }
        }
    }
    if (nvec == N) return;
    const V_MASK_T mk = V_MASK(N - nvec); /* the last N % VL positions: one masked vector */
    for (int m0 = 0; m0 < M; m0 += GEMM_MR) {
        const float *a = A + (size_t)(m0 / lay_rows) * lay_stride + (size_t)(m0 % lay_rows) * ars;
        const int rows = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
        RowsEpilogue e;
        const RowsEpilogue *ep0 = block_ep(ep, m0, &e);
        FN(gemm_tail)(K, a, ars, aks, in_place, B, (size_t)nvec, C + (size_t)m0 * ldc, ldc, rows, acc, ep0, mk);
    }
}

void FN(rows_gemm)(int M, int N, int K, const float *Ap, const float *const *B, float *C, size_t ldc, int acc,
                   const RowsEpilogue *ep) {
    FN(gemm_blocks)(M, N, K, Ap, ROWS_PACK_MR, (size_t)ROWS_PACK_MR * K, 1, ROWS_PACK_MR, 0, B, C, ldc, acc, ep);
}

void FN(rows_gemm_strided)(int M, int N, int K, const float *A, size_t ars, size_t aks, const float *const *B,
                           float *C, size_t ldc, int acc, const RowsEpilogue *ep) {
    FN(gemm_blocks)(M, N, K, A, 1, ars, ars, aks, 1, B, C, ldc, acc, ep);
}

/* CT[k0 + j][m0 + v VL + lane] += sum_g sum_q B_{g, k0 + j}[q] DT_g[q][m0 + v VL + lane], j < kr, v < mv: the
 * B values are broadcast, DT is read along m, so the sums over q need no horizontal reduction. */
ROWS_INLINE void FN(dott_tile)(int G, int N, const float *DT, size_t ldt, size_t dtg, const float *const *B, int K,
                               int k0, int m0, float *CT, size_t ldc, const int mv, const int kr) {
    V c[DOTT_KRMAX][4];
    for (int j = 0; j < kr; j++)
        for (int v = 0; v < mv; v++) c[j][v] = V_LOAD(CT + (size_t)(k0 + j) * ldc + m0 + (size_t)v * VL);
    for (int g = 0; g < G; g++) {
        const float *const *b = B + (size_t)g * K + k0;
        const float *bp[DOTT_KRMAX];
        for (int j = 0; j < kr; j++) bp[j] = b[j];
        const float *dt = DT + g * dtg + m0;
        for (int q = 0; q < N; q++) {
            V d[4];
            for (int v = 0; v < mv; v++) d[v] = V_LOAD(dt + (size_t)q * ldt + (size_t)v * VL);
            for (int j = 0; j < kr; j++) {
                const V bb = V_BCAST(bp[j] + q);
                for (int v = 0; v < mv; v++) c[j][v] = V_FMA(bb, d[v], c[j][v]);
            }
        }
    }
    for (int j = 0; j < kr; j++)
        for (int v = 0; v < mv; v++) V_STORE(CT + (size_t)(k0 + j) * ldc + m0 + (size_t)v * VL, c[j][v]);
}

/* dott_tile with n (1 <= n <= DOTT_KRMAX) rows of B, the width a constant in each case. */
ROWS_INLINE void FN(dott_tile_n)(int G, int N, const float *DT, size_t ldt, size_t dtg, const float *const *B, int K,
                                 int k0, int m0, float *CT, size_t ldc, const int mv, int n) {
#define DOTT_CASE(w)                                                                                               \
    case w: FN(dott_tile)(G, N, DT, ldt, dtg, B, K, k0, m0, CT, ldc, mv, w); break;
    switch (n) {
        DOTT_CASE(1) DOTT_CASE(2) DOTT_CASE(3) DOTT_CASE(4) DOTT_CASE(5) DOTT_CASE(6)
#if DOTT_KRMAX >= 12
        DOTT_CASE(7) DOTT_CASE(8) DOTT_CASE(9) DOTT_CASE(10) DOTT_CASE(11) DOTT_CASE(12)
#endif
    default: break;
    }
#undef DOTT_CASE
}

/* All k for the vectors m0 .. m0 + mv VL: full tiles of kr = DOTT_KR(mv) rows while more than 2 kr remain, then
 * the rest in one or two tiles of nearly equal height (K = 16 with kr = 12 is 8 + 8, not 12 + 4: a short tile
 * has too few independent accumulators to hide the FMA latency). The tiling does not change any sum. */
ROWS_INLINE void FN(dott_cols)(int G, int N, const float *DT, size_t ldt, size_t dtg, const float *const *B, int K,
                               int m0, float *CT, size_t ldc, const int mv, const int kr) {
    int k0 = 0;
    for (; K - k0 >= 2 * kr || K - k0 == kr; k0 += kr) FN(dott_tile)(G, N, DT, ldt, dtg, B, K, k0, m0, CT, ldc, mv, kr);
    const int rest = K - k0;
    if (rest > kr) {
        const int first = (rest + 1) / 2;
        FN(dott_tile_n)(G, N, DT, ldt, dtg, B, K, k0, m0, CT, ldc, mv, first);
        FN(dott_tile_n)(G, N, DT, ldt, dtg, B, K, k0 + first, m0, CT, ldc, mv, rest - first);
    } else if (rest > 0) {
        FN(dott_tile_n)(G, N, DT, ldt, dtg, B, K, k0, m0, CT, ldc, mv, rest);
    }
}

void FN(rows_dot_t)(int Mp, int K, int N, int G, const float *DT, size_t ldt, size_t dtg, const float *const *B,
                    float *CT, size_t ldc) {
    for (int m0 = 0; m0 < Mp; m0 += 4 * VL) {
        switch ((Mp - m0) / VL) {
        case 1: FN(dott_cols)(G, N, DT, ldt, dtg, B, K, m0, CT, ldc, 1, DOTT_KR(1)); break;
        case 2: FN(dott_cols)(G, N, DT, ldt, dtg, B, K, m0, CT, ldc, 2, DOTT_KR(2)); break;
        case 3: FN(dott_cols)(G, N, DT, ldt, dtg, B, K, m0, CT, ldc, 3, DOTT_KR(3)); break;
        default: FN(dott_cols)(G, N, DT, ldt, dtg, B, K, m0, CT, ldc, 4, DOTT_KR(4)); break;
        }
    }
}
