/* layernorm.c — LayerNorm over the last dimension (see layernorm.h).
 *
 * Per row r of D values (xhat = (x - mean_r) * rstd_r, g = dy * weight):
 *   forward   y = xhat * weight + bias; caches mean_r, rstd_r (training)
 *   backward  dx = rstd_r * (g - mean(g) - xhat * mean(g * xhat))
 *             dweight += sum_r dy * xhat,  dbias += sum_r dy
 * Statistics are accumulated in double (two passes: mean, then centred variance), so large offsets do
 * not cancel; each row sum in 8 independent lanes (vectorisable; one chain was latency-bound). Rows are
 * spread over OpenMP threads; the parameter gradients are reduced per column
 * block (each thread owns whole columns, summing rows in order), so they do not depend on the thread
 * count. Cache layout: [mean_0 .. mean_{R-1} | rstd_0 .. rstd_{R-1}]. */
#include "layers/layernorm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static size_t ln_rows(const Tensor *x, int d) { return tensor_numel(x) / (size_t)d; }

static Status ln_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const LayerNorm *ln = (const LayerNorm *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "layernorm takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim < 1 || s->d[s->ndim - 1] != ln->d)
        return status_fail(err, LOCUS_ERR_ARG,
                           "layernorm expects input (..., %d), found %s\nhint: check the model width", ln->d,
                           shape_format(s, b, sizeof b));
    *out = *s;
    return LOCUS_OK;
}

static size_t ln_cache(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)n_in;
    const LayerNorm *ln = (const LayerNorm *)l;
    return training ? 2 * ln_rows(in[0], ln->d) * sizeof(float) : 0;
}

/* Row sums run in LN_LANES independent double chains (element i in lane i % LN_LANES), the lanes then added
 * pairwise: one chain of d dependent adds made every LayerNorm of ViT-tiny latency-bound (3 ms per layer). */
#define LN_LANES 8

static double lanes_total(const double *lane) {
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

/* mean and rstd of one row of d floats */
static void ln_stats(const float *x, int d, float eps, float *mean, float *rstd) {
    double s[LN_LANES] = {0}, v[LN_LANES] = {0};
    int i = 0;
    for (; i + LN_LANES <= d; i += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) s[l] += x[i + l];
    for (; i < d; i++) s[0] += x[i];
    const double m = lanes_total(s) / d;
    for (i = 0; i + LN_LANES <= d; i += LN_LANES)
        for (int l = 0; l < LN_LANES; l++) {
            const double c = x[i + l] - m;
            v[l] += c * c;
        }
    for (; i < d; i++) {
        const double c = x[i] - m;
        v[0] += c * c;
    }
    *mean = (float)m;
    *rstd = (float)(1.0 / sqrt(lanes_total(v) / d + eps));
}

static void ln_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in;
    const LayerNorm *ln = (const LayerNorm *)l;
    const int d = ln->d;
    const ptrdiff_t rows = (ptrdiff_t)ln_rows(in[0], d);
    const float *x = in[0]->data, *w = params_value(ctx->params, ln->weight),
                *b = params_value(ctx->params, ln->bias);
    float *y = out->data, *cmean = cache, *crstd = cache ? (float *)cache + rows : NULL;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d, mean, rstd;
        ln_stats(xr, d, ln->eps, &mean, &rstd);
        for (int i = 0; i < d; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
        if (cmean) cmean[r] = mean, crstd[r] = rstd;
    }
}

static void ln_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)n_in;
    const LayerNorm *ln = (const LayerNorm *)l;
    const int d = ln->d;
    const ptrdiff_t rows = (ptrdiff_t)ln_rows(in[0], d);
    const float *x = in[0]->data, *dy = out->grad, *w = params_value(ctx->params, ln->weight);
    const float *cmean = cache, *crstd = (const float *)cache + rows;
    float *dx = in[0]->grad;
    float *dw = params_grad(ctx->params, ln->weight), *db = params_grad(ctx->params, ln->bias);
    if (dx) {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
        for (ptrdiff_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *dyr = dy + r * d;
            float mean = cmean[r], rstd = crstd[r];
            double sg[LN_LANES] = {0}, sgx[LN_LANES] = {0};
            int i = 0;
            for (; i + LN_LANES <= d; i += LN_LANES)
                for (int l = 0; l < LN_LANES; l++) {
                    const double g = (double)dyr[i + l] * w[i + l], xh = (double)(xr[i + l] - mean) * rstd;
                    sg[l] += g;
                    sgx[l] += g * xh;
                }
            for (; i < d; i++) {
                const double g = (double)dyr[i] * w[i], xh = (double)(xr[i] - mean) * rstd;
                sg[0] += g;
                sgx[0] += g * xh;
            }
            float mg = (float)(lanes_total(sg) / d), mgx = (float)(lanes_total(sgx) / d);
            float *dxr = dx + r * d;
            for (int i = 0; i < d; i++) {
                float xh = (xr[i] - mean) * rstd;
                dxr[i] += rstd * (dyr[i] * w[i] - mg - xh * mgx);
            }
        }
    }
    if (!dw && !db) return;
    /* columns in blocks of 16: each block is summed over all rows, in row order, by one thread */
    const int nblk = (d + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
    for (int bk = 0; bk < nblk; bk++) {
        int i0 = bk * 16, i1 = i0 + 16 < d ? i0 + 16 : d;
        double sw[16] = {0}, sb[16] = {0};
        for (ptrdiff_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *dyr = dy + r * d;
            float mean = cmean[r], rstd = crstd[r];
            for (int i = i0; i < i1; i++) {
                sw[i - i0] += (double)dyr[i] * ((xr[i] - mean) * rstd);
                sb[i - i0] += dyr[i];
            }
        }
        for (int i = i0; i < i1; i++) {
            if (dw) dw[i] += (float)sw[i - i0];
            if (db) db[i] += (float)sb[i - i0];
        }
    }
}

static const LayerOps ln_ops = {.type = "layernorm",
                                .out_shape = ln_shape,
                                .cache_bytes = ln_cache,
                                .forward = ln_forward,
                                .backward = ln_backward};

void layernorm_init(LayerNorm *l, ParamStore *ps, const char *name, int d, float eps) {
    CHECK(d >= 1 && eps > 0, "layernorm %s: d %d, eps %g", name, d, eps);
    layer_set_name(&l->base, &ln_ops, name);
    l->d = d;
    l->eps = eps;
    char pn[128];
    snprintf(pn, sizeof pn, "%s.weight", name);
    l->weight = params_add(ps, pn, shape1(d), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.bias", name);
    l->bias = params_add(ps, pn, shape1(d), PARAM_TRAINABLE);
}

void layernorm_reset(const LayerNorm *l, ParamStore *ps) {
    float *w = params_value(ps, l->weight), *b = params_value(ps, l->bias);
    for (int i = 0; i < l->d; i++) w[i] = 1.0f, b[i] = 0.0f;
}
