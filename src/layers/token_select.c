/* token_select.c — y[n, :] = x[n, index, :] (see token_select.h). Shapes: in N x T x D, out N x D.
 * Backward adds dy[n, :] into dx[n, index, :] and leaves the other tokens' gradients untouched. */
#include "layers/token_select.h"

#include <string.h>

static Status ts_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const TokenSelect *ts = (const TokenSelect *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "token_select takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim != 3 || ts->index < 0 || ts->index >= s->d[1])
        return status_fail(err, LOCUS_ERR_ARG, "token_select of token %d expects tokens N x T x D, found %s",
                           ts->index, shape_format(s, b, sizeof b));
    *out = shape2(s->d[0], s->d[2]);
    return LOCUS_OK;
}

static void ts_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)ctx, (void)n_in, (void)cache;
    const TokenSelect *ts = (const TokenSelect *)l;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = in[0]->shape.d[2];
    for (int s = 0; s < n; s++)
        memcpy(out->data + (size_t)s * d, in[0]->data + ((size_t)s * t + ts->index) * d, sizeof(float) * (size_t)d);
}

static void ts_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)ctx, (void)n_in, (void)cache;
    const TokenSelect *ts = (const TokenSelect *)l;
    float *dx = in[0]->grad;
    if (!dx) return;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = in[0]->shape.d[2];
    for (int s = 0; s < n; s++) {
        const float *dy = out->grad + (size_t)s * d;
        float *dst = dx + ((size_t)s * t + ts->index) * d;
        for (int j = 0; j < d; j++) dst[j] += dy[j];
    }
}

static const LayerOps ts_ops = {
    .type = "token_select", .out_shape = ts_shape, .forward = ts_forward, .backward = ts_backward};

void token_select_init(TokenSelect *l, const char *name) {
    layer_set_name(&l->base, &ts_ops, name);
    l->index = 0;
}
