/* gelu_body.h — the loops of gelu.h (and its exp, and the softmax rows), written once and compiled per
 * instruction set: gelu.c (portable C), gelu_avx2.c and gelu_avx512.c define FN(name) (the ISA suffix) and
 * MADD(a, b, c) = a * b + c (fmaf where the ISA has FMA) and include this under their target pragma.
 * Plain scalar code in `omp simd` loops: the compiler vectorises it with the ISA's registers (both branches of each
 * select are computed, except in blocks that skip erf's tail: gelu_block_poly). */
#include <stdint.h>
#include <string.h>

/* exp(v) for v <= 0 (any float; NaN stays NaN); 0 below -87 (where exp is below the normal range). */
static inline float FN(gelu_exp)(float v) {
    const float vc = v < -87.0f ? -87.0f : v;
    const float n = MADD(vc, 1.44269504088896341f, 12582912.0f) - 12582912.0f; /* round(v / ln 2), exact */
    float f = MADD(n, -0.693359375f, vc);                                       /* Cody-Waite: ln 2 in two parts */
    f = MADD(n, 2.12194440e-4f, f);
    float p = 1.0f / 5040.0f;
    p = MADD(p, f, 1.0f / 720.0f);
    p = MADD(p, f, 1.0f / 120.0f);
    p = MADD(p, f, 1.0f / 24.0f);
    p = MADD(p, f, 1.0f / 6.0f);
    p = MADD(p, f, 0.5f);
    p = MADD(p, f, 1.0f);
    p = MADD(p, f, 1.0f);
    /* 2^n, n in [-126, 0]; a NaN v gives a NaN p, and its n (whose conversion to int is undefined) is taken as 0 */
    const int32_t bits = ((int32_t)(n == n ? n : 0.0f) + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return v < -87.0f ? 0.0f : p * scale;
}

#define GELU_ERF_POLY_MAX 0.927734375f /* |z| up to which erf is the polynomial alone */
#define GELU_BLOCK 16                   /* elements checked at once for "all in the polynomial's range" */

/* erf(z) for |z| <= GELU_ERF_POLY_MAX: z + z P(z^2) */
static inline float FN(gelu_erf_poly)(float z) {
    const float s = z * z;
    float a = -5.96761703e-4f;
    a = MADD(a, s, 4.99119423e-3f);
    a = MADD(a, s, -2.67681349e-2f);
    a = MADD(a, s, 1.12819925e-1f);
    a = MADD(a, s, -3.76125336e-1f);
    a = MADD(a, s, 1.28379166e-1f);
    return MADD(a, z, z);
}

/* 1 + erf(z) (N. Juffa's erff, arranged so that the far negative tail does not cancel). */
static inline float FN(gelu_one_plus_erf)(float z) {
    const float t = z < 0.0f ? -z : z, s = z * z;
    const float a = FN(gelu_erf_poly)(z);
    /* beyond: erfc(|z|) = exp(Q(|z|)) */
    float r = MADD(-1.72853470e-5f, t, 3.83197126e-4f);
    const float u = MADD(-3.88396438e-3f, t, 2.42546219e-2f);
    r = MADD(r, s, u);
    r = MADD(r, t, -1.06777877e-1f);
    r = MADD(r, t, -6.34846687e-1f);
    r = MADD(r, t, -1.28717512e-1f);
    r = MADD(r, t, -t);
    const float e = FN(gelu_exp)(r);
    const float tail = z < 0.0f ? e : 2.0f - e;
    return t > GELU_ERF_POLY_MAX ? tail : 1.0f + a;
}

/* 1 when every x[i] / sqrt 2, i < GELU_BLOCK, is within the polynomial's range (not for NaN): the block may skip
 * the tail's exp, whose lanes the select would drop anyway (the same results, ~half the work of the forward). */
static inline int FN(gelu_block_poly)(const float *restrict x) {
    int all = 1;
#pragma omp simd reduction(& : all)
    for (int i = 0; i < GELU_BLOCK; i++) all &= (x[i] * 0.70710678118654752f <= GELU_ERF_POLY_MAX) &
                                                 (x[i] * 0.70710678118654752f >= -GELU_ERF_POLY_MAX);
    return all;
}

void FN(exp_nonpos_rows)(float *restrict x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) x[i] = FN(gelu_exp)(x[i] > 0.0f ? 0.0f : x[i]);
}

/* poly: every input lies in the polynomial's range (gelu_block_poly) */
static inline void FN(gelu_fwd_span)(const float *restrict x, float *restrict y, size_t n, const int poly) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float v = x[i], z = v * 0.70710678118654752f;
        y[i] = 0.5f * v * (poly ? 1.0f + FN(gelu_erf_poly)(z) : FN(gelu_one_plus_erf)(z));
    }
}

void FN(softmax_row)(float *restrict row, size_t n, float scale) {
    float lane[GELU_BLOCK], mx = row[0]; /* the maximum over 16 lanes, then across them: elementwise, vectorised */
    size_t j = 0;
    for (int l = 0; l < GELU_BLOCK; l++) lane[l] = row[0];
    for (; j + GELU_BLOCK <= n; j += GELU_BLOCK)
#pragma omp simd
        for (int l = 0; l < GELU_BLOCK; l++) lane[l] = row[j + l] > lane[l] ? row[j + l] : lane[l];
    for (; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    for (int l = 0; l < GELU_BLOCK; l++) mx = lane[l] > mx ? lane[l] : mx;
    const float shift = mx * scale;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (j = 0; j < n; j++) {
        const float v = row[j] * scale - shift;
        row[j] = FN(gelu_exp)(v > 0.0f ? 0.0f : v);
        sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (j = 0; j < n; j++) row[j] *= inv;
}

void FN(softmax_grad_row)(const float *restrict p, float *restrict dp, size_t n, float scale) {
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (size_t j = 0; j < n; j++) dot += dp[j] * p[j];
#pragma omp simd
    for (size_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - dot) * scale;
}

void FN(gelu_rows_forward)(const float *restrict x, float *restrict y, size_t n) {
    size_t i = 0;
    for (; i + GELU_BLOCK <= n; i += GELU_BLOCK) {
        if (FN(gelu_block_poly)(x + i)) FN(gelu_fwd_span)(x + i, y + i, GELU_BLOCK, 1);
        else FN(gelu_fwd_span)(x + i, y + i, GELU_BLOCK, 0);
    }
    FN(gelu_fwd_span)(x + i, y + i, n - i, 0);
}

static inline void FN(gelu_bwd_span)(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n,
                                     const int poly, const int overwrite) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float v = x[i], z = v * 0.70710678118654752f;
        const float cdf = 0.5f * (poly ? 1.0f + FN(gelu_erf_poly)(z) : FN(gelu_one_plus_erf)(z));
        const float pdf = 0.39894228040143268f * FN(gelu_exp)(-0.5f * v * v), g = dy[i] * MADD(v, pdf, cdf);
        dx[i] = overwrite ? g : dx[i] + g;
    }
}

static inline void FN(gelu_bwd)(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n,
                                const int overwrite) {
    size_t i = 0;
    for (; i + GELU_BLOCK <= n; i += GELU_BLOCK) {
        if (FN(gelu_block_poly)(x + i)) FN(gelu_bwd_span)(x + i, dy + i, dx + i, GELU_BLOCK, 1, overwrite);
        else FN(gelu_bwd_span)(x + i, dy + i, dx + i, GELU_BLOCK, 0, overwrite);
    }
    FN(gelu_bwd_span)(x + i, dy + i, dx + i, n - i, 0, overwrite);
}

void FN(gelu_rows_backward)(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n,
                            int overwrite) {
    if (overwrite) FN(gelu_bwd)(x, dy, dx, n, 1);
    else FN(gelu_bwd)(x, dy, dx, n, 0);
}
