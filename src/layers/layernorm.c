/* layernorm.c — LayerNorm over the last dimension (see layernorm.h).
 *
 * Per row r of D values (xhat = (x - mean_r) * rstd_r, g = dy * weight):
 *   forward   y = xhat * weight + bias; caches mean_r, rstd_r (training)
 *   backward  dx = rstd_r * (g - mean(g) - xhat * mean(g * xhat))
 *             dweight += sum_r dy * xhat,  dbias += sum_r dy
 * The loops are kernels/ln.h (per instruction set). Statistics are accumulated in double (two passes: mean,
 * then centred variance), so large offsets do not cancel; each row sum in 8 independent lanes (vectorisable;
 * one chain was latency-bound). Rows are spread over OpenMP threads; the parameter gradients are reduced per column
 * block (each thread owns whole columns, summing rows in order), so they do not depend on the thread
 * count. Cache layout: [mean_0 .. mean_{R-1} | rstd_0 .. rstd_{R-1}]. */
#include "layers/layernorm.h"

#include <stdio.h>

#include "kernels/ln.h"

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

/* Rows go to the kernels (kernels/ln.h) in blocks of LN_BLOCK, the blocks spread over the threads. */
#define LN_BLOCK 64

static void ln_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in;
    const LayerNorm *ln = (const LayerNorm *)l;
    const int d = ln->d;
    const ptrdiff_t rows = (ptrdiff_t)ln_rows(in[0], d);
    const float *x = in[0]->data, *w = params_value(ctx->params, ln->weight),
                *b = params_value(ctx->params, ln->bias);
    float *y = out->data, *cmean = cache, *crstd = cache ? (float *)cache + rows : NULL;
    const KernelIsa isa = kernel_isa();
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LN_BLOCK) {
        const size_t nr = (size_t)(rows - r0 < LN_BLOCK ? rows - r0 : LN_BLOCK);
        float m[LN_BLOCK], s[LN_BLOCK]; /* the statistics, when no cache keeps them (eval) */
        ln_rows_forward(isa, x + r0 * d, y + r0 * d, w, b, nr, d, ln->eps, cmean ? cmean + r0 : m,
                        crstd ? crstd + r0 : s);
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
    const KernelIsa isa = kernel_isa();
    if (dx) {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += LN_BLOCK)
            ln_rows_backward(isa, x + r0 * d, dy + r0 * d, w, cmean + r0, crstd + r0,
                             (size_t)(rows - r0 < LN_BLOCK ? rows - r0 : LN_BLOCK), d, dx + r0 * d);
    }
    if (!dw && !db) return;
    /* columns in blocks of 16: each block is summed over all rows, in row order, by one thread */
    const int nblk = (d + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (rows * d > 32768)
    for (int bk = 0; bk < nblk; bk++)
        ln_cols_backward(isa, x, dy, cmean, crstd, (size_t)rows, d, bk * 16, bk * 16 + 16 < d ? bk * 16 + 16 : d, dw,
                         db);
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
