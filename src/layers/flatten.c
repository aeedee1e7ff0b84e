/* flatten.c — N x ... -> N x rest (see flatten.h). The data order of a contiguous tensor does not change,
 * so forward is one copy and backward one accumulation; both are O(numel) and memory-bound, so they run
 * on one thread except for large tensors. Shapes: in[0] N x d1 x ... x dk, out N x (d1 ... dk). */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "layers/flatten.h"

static Status flatten_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "flatten takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim < 2) {
        char buf[64];
        return status_fail(err, LOCUS_ERR_ARG,
                           "flatten expects an input of rank >= 2 (N x ...), found %s\nhint: flatten keeps the "
                           "batch dim and merges the others",
                           shape_format(s, buf, sizeof buf));
    }
    size_t rest = 1;
    for (int i = 1; i < s->ndim; i++) rest *= (size_t)s->d[i];
    if (rest > INT_MAX) return status_fail(err, LOCUS_ERR_ARG, "flatten: %zu features per sample exceed INT_MAX", rest);
    *out = shape2(s->d[0], (int)rest);
    return LOCUS_OK;
}

static void flatten_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                            void *cache) {
    (void)l, (void)ctx, (void)n_in, (void)cache;
    memcpy(out->data, in[0]->data, tensor_bytes(out));
}

static void flatten_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                             const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *restrict dx = in[0]->grad;
    if (!dx) return;
    const float *restrict dy = out->grad;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
#pragma omp parallel for simd schedule(static) num_threads(ctx->threads) if (n > 65536)
    for (ptrdiff_t i = 0; i < n; i++) dx[i] += dy[i];
}

static const LayerOps flatten_ops = {
    .type = "flatten", .out_shape = flatten_shape, .forward = flatten_forward, .backward = flatten_backward};

void flatten_init(Flatten *l, const char *name) { layer_set_name(&l->base, &flatten_ops, name); }
