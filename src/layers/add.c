/* add.c — y = x0 + x1 (+ x2 + x3), elementwise, same shapes (see merge.h); add_relu clamps y at 0 and
 * masks dy with y > 0 in backward (y is the layer's output, kept anyway).
 * Backward adds dy into each input's gradient in turn (or copies it into a fresh one); the inputs are
 * handled one after the other (never two at once), so an input that appears twice (add(x, x)) correctly
 * receives 2 dy without a race: the first pass writes, the second adds. */
#include <stddef.h>

#include "layers/merge.h"

static Status add_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    char a[64], b[64];
    if (n_in < 2 || n_in > 4) return status_fail(err, LOCUS_ERR_ARG, "add takes 2 to 4 inputs, got %d", n_in);
    for (int i = 1; i < n_in; i++)
        if (!shape_equal(&in[i]->shape, &in[0]->shape))
            return status_fail(err, LOCUS_ERR_ARG,
                               "add expects input %d to have the shape of input 0, %s, found %s\nhint: a residual "
                               "shortcut that changes channels or resolution needs a projection",
                               i, shape_format(&in[0]->shape, a, sizeof a), shape_format(&in[i]->shape, b, sizeof b));
    *out = in[0]->shape;
    return LOCUS_OK;
}

/* in[0..n_in-1], out: same shape. */
static void add_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)cache;
    const int relu = ((const Add *)l)->relu;
    const float *x0 = in[0]->data, *x1 = in[1]->data;
    const float *x2 = n_in > 2 ? in[2]->data : NULL, *x3 = n_in > 3 ? in[3]->data : NULL;
    float *y = out->data;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = x0[i] + x1[i];
        if (x2) v += x2[i];
        if (x3) v += x3[i];
        y[i] = relu && v < 0.0f ? 0.0f : v; /* NaN propagates, as in relu.c */
    }
}

/* Reads out->grad (and, with the fused ReLU, out->data); accumulates into every in[i]->grad that is
 * non-NULL. */
static void add_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                         const void *cache) {
    (void)cache;
    const float *restrict dy = out->grad, *restrict y = ((const Add *)l)->relu ? out->data : NULL;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
    for (int k = 0; k < n_in; k++) {
        float *restrict dx = in[k]->grad;
        if (!dx) continue;
        const int overwrite = layer_grad_overwrite(in[k]);
        /* the ReLU mask is a select on values loaded either way (see relu.c): branch-free */
        if (y && overwrite) {
#pragma omp parallel for simd schedule(static) num_threads(ctx->threads) if (n > 65536)
            for (ptrdiff_t i = 0; i < n; i++) {
                const float g = dy[i];
                dx[i] = y[i] > 0.0f ? g : 0.0f;
            }
        } else if (y) {
#pragma omp parallel for simd schedule(static) num_threads(ctx->threads) if (n > 65536)
            for (ptrdiff_t i = 0; i < n; i++) {
                const float g = dy[i];
                dx[i] += y[i] > 0.0f ? g : 0.0f;
            }
        } else if (overwrite) {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
            for (ptrdiff_t i = 0; i < n; i++) dx[i] = dy[i];
        } else {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
            for (ptrdiff_t i = 0; i < n; i++) dx[i] += dy[i];
        }
    }
}

static const LayerOps add_ops = {
    .type = "add", .out_shape = add_shape, .forward = add_forward, .backward = add_backward, .grad_overwrite = 1};

static const LayerOps add_relu_ops = {.type = "add_relu",
                                      .out_shape = add_shape,
                                      .forward = add_forward,
                                      .backward = add_backward,
                                      .grad_overwrite = 1};

void add_init(Add *l, const char *name) {
    layer_set_name(&l->base, &add_ops, name);
    l->relu = 0;
}

void add_relu_init(Add *l, const char *name) {
    layer_set_name(&l->base, &add_relu_ops, name);
    l->relu = 1;
}
