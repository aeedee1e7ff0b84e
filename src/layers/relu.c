/* relu.c — y = max(x, 0). Backward needs only the output (dy passes where y > 0), so no cache.
 * Shapes: any; in[0] and out have the same shape. */
#include <stddef.h>

#include "layers/activation.h"

static Status relu_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "relu takes 1 input, got %d", n_in);
    *out = in[0]->shape;
    return LOCUS_OK;
}

static void relu_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)l, (void)n_in, (void)cache, (void)ctx;
    const float *x = in[0]->data;
    float *y = out->data;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i]; /* NaN propagates, as in PyTorch */
}

static void relu_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const float *y = out->data, *dy = out->grad;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++)
        if (y[i] > 0.0f) dx[i] += dy[i];
}

static const LayerOps relu_ops = {
    .type = "relu", .out_shape = relu_shape, .forward = relu_forward, .backward = relu_backward};

void relu_init(Relu *l, const char *name) { layer_set_name(&l->base, &relu_ops, name); }
