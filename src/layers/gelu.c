/* gelu.c — y = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU of PyTorch's default nn.GELU().
 * dy/dx = Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi).
 * No cache: backward recomputes from the input, which stays alive until backward anyway.
 * Shapes: any; in[0] and out have the same shape. */
#include <math.h>
#include <stddef.h>

#include "layers/activation.h"

static Status gelu_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "gelu takes 1 input, got %d", n_in);
    *out = in[0]->shape;
    return LOCUS_OK;
}

static void gelu_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)l, (void)n_in, (void)cache;
    const float *x = in[0]->data;
    float *y = out->data;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 16384)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void gelu_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const float *x = in[0]->data, *dy = out->grad;
    const float inv_sqrt_2pi = 0.3989422804014327f;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 16384)
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * v * v);
        dx[i] += dy[i] * (cdf + v * pdf);
    }
}

static const LayerOps gelu_ops = {
    .type = "gelu", .out_shape = gelu_shape, .forward = gelu_forward, .backward = gelu_backward};

void gelu_init(Gelu *l, const char *name) { layer_set_name(&l->base, &gelu_ops, name); }
