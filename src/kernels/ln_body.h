/* ln_body.h — the loops of ln.h, written once and compiled per instruction set: ln.c (portable C), ln_avx2.c and
 * ln_avx512.c define FN(name) (the ISA suffix) and include this under their target pragma. */
#include <math.h>

#define LN_LANES 8

static inline double FN(ln_lanes_total)(const double *lane) {
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

/* mean and rstd of one row of d floats */
static inline void FN(ln_stats)(const float *restrict x, int d, float eps, float *mean, float *rstd) {
    double s[LN_LANES] = {0}, v[LN_LANES] = {0};
    int i = 0;
    for (; i + LN_LANES <= d; i += LN_LANES)
#pragma omp simd
        for (int l = 0; l < LN_LANES; l++) s[l] += x[i + l];
    for (; i < d; i++) s[0] += x[i];
    const double m = FN(ln_lanes_total)(s) / d;
    for (i = 0; i + LN_LANES <= d; i += LN_LANES)
#pragma omp simd
        for (int l = 0; l < LN_LANES; l++) {
            const double c = x[i + l] - m;
            v[l] += c * c;
        }
    for (; i < d; i++) {
        const double c = x[i] - m;
        v[0] += c * c;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(FN(ln_lanes_total)(v) / d + eps));
}

void FN(ln_rows_forward)(const float *x, float *y, const float *w, const float *b, size_t rows, int d, float eps,
                         float *mean, float *rstd) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * (size_t)d;
        float *restrict yr = y + r * (size_t)d, m, s;
        FN(ln_stats)(xr, d, eps, &m, &s);
#pragma omp simd
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - m) * s * w[i] + b[i];
        mean[r] = m, rstd[r] = s;
    }
}

void FN(ln_rows_backward)(const float *x, const float *dy, const float *w, const float *mean, const float *rstd,
                          size_t rows, int d, float *dx) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * (size_t)d, *restrict dyr = dy + r * (size_t)d;
        const float m = mean[r], s = rstd[r];
        double sg[LN_LANES] = {0}, sgx[LN_LANES] = {0};
        int i = 0;
        for (; i + LN_LANES <= d; i += LN_LANES)
#pragma omp simd
            for (int l = 0; l < LN_LANES; l++) {
                const double g = (double)dyr[i + l] * w[i + l], xh = (double)(xr[i + l] - m) * s;
                sg[l] += g;
                sgx[l] += g * xh;
            }
        for (; i < d; i++) {
            const double g = (double)dyr[i] * w[i], xh = (double)(xr[i] - m) * s;
            sg[0] += g;
            sgx[0] += g * xh;
        }
        const float mg = (float)(FN(ln_lanes_total)(sg) / d), mgx = (float)(FN(ln_lanes_total)(sgx) / d);
        float *restrict dxr = dx + r * (size_t)d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
            const float xh = (xr[k] - m) * s;
            dxr[k] += s * (dyr[k] * w[k] - mg - xh * mgx);
        }
    }
}

void FN(ln_cols_backward)(const float *x, const float *dy, const float *mean, const float *rstd, size_t rows, int d,
                          int i0, int i1, float *dw, float *db) {
    double sw[16] = {0}, sb[16] = {0};
    const int w = i1 - i0;
    for (size_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * (size_t)d + i0, *restrict dyr = dy + r * (size_t)d + i0;
        const float m = mean[r], s = rstd[r];
        if (w == 16) /* a whole block: a constant trip count, so it vectorises */
#pragma omp simd
            for (int i = 0; i < 16; i++) {
                sw[i] += (double)dyr[i] * ((xr[i] - m) * s);
                sb[i] += dyr[i];
            }
        else
            for (int i = 0; i < w; i++) {
                sw[i] += (double)dyr[i] * ((xr[i] - m) * s);
                sb[i] += dyr[i];
            }
    }
    for (int i = 0; i < w; i++) {
        if (dw) dw[i0 + i] += (float)sw[i];
        if (db) db[i0 + i] += (float)sb[i];
    }
}
