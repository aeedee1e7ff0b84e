/* scaled_pair.c — y = s*a + (2-s)*b (see scaled_pair.h).
 * Backward: da += s dy, db += (2-s) dy, ds += sum(dy * (a - b)) (summed in double for a stable scalar). */
#include "layers/scaled_pair.h"

#include <stddef.h>
#include <stdio.h>

static Status pair_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    char a[64], b[64];
    if (n_in != 2) return status_fail(err, LOCUS_ERR_ARG, "%s takes 2 inputs, got %d", l->name, n_in);
    if (!shape_equal(&in[0]->shape, &in[1]->shape))
        return status_fail(err, LOCUS_ERR_ARG, "%s expects two inputs of one shape, found %s and %s", l->name,
                           shape_format(&in[0]->shape, a, sizeof a), shape_format(&in[1]->shape, b, sizeof b));
    *out = in[0]->shape;
    return LOCUS_OK;
}

static void pair_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const float s = params_value(ctx->params, ((const ScaledPair *)l)->scale)[0], t = 2.0f - s;
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out->data;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = s * a[i] + t * b[i];
}

static void pair_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)n_in, (void)cache;
    const ScaledPair *p = (const ScaledPair *)l;
    const float s = params_value(ctx->params, p->scale)[0], t = 2.0f - s;
    const float *a = in[0]->data, *b = in[1]->data, *dy = out->grad;
    float *da = in[0]->grad, *db = in[1]->grad, *ds = params_grad(ctx->params, p->scale);
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
    double sum = 0;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536) reduction(+ : sum)
    for (ptrdiff_t i = 0; i < n; i++) {
        if (da) da[i] += s * dy[i];
        if (db) db[i] += t * dy[i];
        sum += (double)dy[i] * ((double)a[i] - (double)b[i]);
    }
    if (ds) ds[0] += (float)sum;
}

static const LayerOps pair_ops = {
    .type = "scaled_pair", .out_shape = pair_shape, .forward = pair_forward, .backward = pair_backward};

void scaled_pair_init(ScaledPair *l, ParamStore *ps, const char *name) {
    layer_set_name(&l->base, &pair_ops, name);
    char pn[96];
    snprintf(pn, sizeof pn, "%s.scale", name);
    l->scale = params_add(ps, pn, shape1(1), PARAM_TRAINABLE);
}

void scaled_pair_reset(const ScaledPair *l, ParamStore *ps) { params_value(ps, l->scale)[0] = 1.0f; }
