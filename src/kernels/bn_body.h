/* bn_body.h — the loops of bn.h, written once and compiled per instruction set: bn.c (portable C), bn_avx2.c and
 * bn_avx512.c define FN(name) (the ISA suffix) and include this under their target pragma. Plain scalar code
 * (16-lane arrays, `omp simd` element loops) that the compiler vectorises with the ISA's registers; no FMA
 * contraction (ISO C mode), so every path gives the same bits. */
#include <stddef.h>

#define BN_LANES 16

/* The 16 lanes added pairwise (lane l + lane l+8, then +4, +2, +1): a few vector shuffles and adds where a
 * left-to-right sum is a chain of 15 dependent adds -- the cost that dominated short strips (S = 64). */
static inline float lanes_total(const float *lane) {
    float t[BN_LANES / 2];
    for (int l = 0; l < 8; l++) t[l] = lane[l] + lane[l + 8];
    for (int l = 0; l < 4; l++) t[l] += t[l + 4];
    for (int l = 0; l < 2; l++) t[l] += t[l + 2];
    return t[0] + t[1];
}

static inline void prefetch_strip(const float *p, int S) {
    for (int j = 0; j < S; j += 16) __builtin_prefetch(p + j); /* one request per 64-byte line */
}

static inline float strip_sum(const float *restrict v, int n) {
    float lane[BN_LANES] = {0};
    int j = 0;
    for (; j + BN_LANES <= n; j += BN_LANES)
        for (int l = 0; l < BN_LANES; l++) lane[l] += v[j + l];
    for (; j < n; j++) lane[0] += v[j];
    return lanes_total(lane);
}

static inline float strip_sqdev(const float *restrict v, int n, float mean) {
    float lane[BN_LANES] = {0};
    int j = 0;
    for (; j + BN_LANES <= n; j += BN_LANES)
        for (int l = 0; l < BN_LANES; l++) lane[l] += (v[j + l] - mean) * (v[j + l] - mean);
    for (; j < n; j++) lane[0] += (v[j] - mean) * (v[j] - mean);
    return lanes_total(lane);
}

/* g: dy, or dy where the fused ReLU's output is positive (a select on a value loaded either way: branch-free) */
static inline float grad_in(const float *restrict dy, const float *restrict y, int j) {
    const float g = dy[j];
    return y ? (y[j] > 0.0f ? g : 0.0f) : g;
}

/* pdy, py, px (or NULL): a strip to prefetch, one line of each per 16 values, spread over the loop (all of a
 * strip's lines at once, as prefetch_strip does, was slower here: three streams' worth of requests at once) */
static inline void strip_dots(const float *restrict dy, const float *restrict y, const float *restrict x, int n,
                              float mean, float invstd, double *sdy, double *sdyx, const float *pdy, const float *py,
                              const float *px) {
    float a[BN_LANES] = {0}, b[BN_LANES] = {0};
    int j = 0;
    for (; j + BN_LANES <= n; j += BN_LANES) {
        if (pdy) {
            __builtin_prefetch(pdy + j), __builtin_prefetch(px + j);
            if (py) __builtin_prefetch(py + j);
        }
        for (int l = 0; l < BN_LANES; l++) {
            const float g = grad_in(dy, y, j + l);
            a[l] += g;
            b[l] += g * ((x[j + l] - mean) * invstd);
        }
    }
    for (; j < n; j++) {
        const float g = grad_in(dy, y, j);
        a[0] += g;
        b[0] += g * ((x[j] - mean) * invstd);
    }
    *sdy += lanes_total(a);
    *sdyx += lanes_total(b);
}

void FN(bn_channel_stats)(const float *x, int n, size_t stride, int S, double *mean, double *sq) {
    const int pd = bn_prefetch_ahead(S);
    for (int i = 0; i < pd && i < n; i++) prefetch_strip(x + (size_t)i * stride, S);
    double m = 0, q = 0;
    for (int i = 0; i < n; i++) {
        const float *xs = x + (size_t)i * stride;
        if (pd && i + pd < n) prefetch_strip(x + (size_t)(i + pd) * stride, S);
        const double ms = (double)strip_sum(xs, S) / S;
        const double qs = strip_sqdev(xs, S, (float)ms);
        const double na = (double)i * S, nb = S, delta = ms - m;
        m += delta * nb / (na + nb);
        q += qs + delta * delta * na * nb / (na + nb);
    }
    *mean = m, *sq = q;
}

/* x was just read by bn_channel_stats (in L2 for a channel up to ~1 MB), so only r is prefetched. */
void FN(bn_channel_norm)(const float *x, const float *r, float *y, int n, size_t stride, int S, float mean, float a,
                         float b, int relu) {
    const int pd = r ? bn_prefetch_ahead(S) : 0;
    for (int i = 0; i < pd && i < n; i++) prefetch_strip(r + (size_t)i * stride, S);
    for (int i = 0; i < n; i++) {
        const float *restrict xs = x + (size_t)i * stride;
        float *restrict ys = y + (size_t)i * stride;
        if (r) {
            const float *restrict rs = r + (size_t)i * stride;
            if (pd && i + pd < n) prefetch_strip(r + (size_t)(i + pd) * stride, S);
#pragma omp simd
            for (int j = 0; j < S; j++) {
                const float v = (xs[j] - mean) * a + b + rs[j];
                ys[j] = v < 0.0f ? 0.0f : v;
            }
        } else if (relu) {
#pragma omp simd
            for (int j = 0; j < S; j++) {
                const float v = (xs[j] - mean) * a + b;
                ys[j] = v < 0.0f ? 0.0f : v;
            }
        } else {
#pragma omp simd
            for (int j = 0; j < S; j++) ys[j] = (xs[j] - mean) * a + b;
        }
    }
}

void FN(bn_channel_dots)(const float *dy, const float *y, const float *x, int n, size_t stride, int S, float mean,
                         float invstd, double *sdy, double *sdyx, float *dr, int dr_add) {
    const int pd = bn_prefetch_ahead(S);
    *sdy = 0, *sdyx = 0;
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * stride;
        const int ahead = pd && i + pd < n;
        const size_t p = (size_t)(i + pd) * stride;
        if (ahead && dr && dr_add) prefetch_strip(dr + p, S);
        const float *restrict dys = dy + o, *restrict ys = y ? y + o : NULL;
        strip_dots(dys, ys, x + o, S, mean, invstd, sdy, sdyx, ahead ? dy + p : NULL, ahead && y ? y + p : NULL,
                   ahead ? x + p : NULL);
        if (!dr) continue;
        float *restrict drs = dr + o;
        if (dr_add) {
#pragma omp simd
            for (int j = 0; j < S; j++) drs[j] += grad_in(dys, ys, j);
        } else {
#pragma omp simd
            for (int j = 0; j < S; j++) drs[j] = grad_in(dys, ys, j);
        }
    }
}

void FN(bn_channel_dx)(const float *x, const float *dy, const float *y, float *dx, int n, size_t stride, int S,
                       float mean, float invstd, float k, float mdy, float mdyx, int add) {
    const int pd = bn_prefetch_ahead(S);
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * stride;
        if (pd && i + pd < n) {
            const size_t p = (size_t)(i + pd) * stride;
            prefetch_strip(x + p, S), prefetch_strip(dy + p, S);
            if (y) prefetch_strip(y + p, S);
            if (add) prefetch_strip(dx + p, S);
        }
        const float *restrict xs = x + o, *restrict dys = dy + o, *restrict ys = y ? y + o : NULL;
        float *restrict dxs = dx + o;
        if (add) {
#pragma omp simd
            for (int j = 0; j < S; j++) dxs[j] += k * (grad_in(dys, ys, j) - mdy - (xs[j] - mean) * invstd * mdyx);
        } else {
#pragma omp simd
            for (int j = 0; j < S; j++) dxs[j] = k * (grad_in(dys, ys, j) - mdy - (xs[j] - mean) * invstd * mdyx);
        }
    }
}
