/* dropout.c — inverted dropout with a counter-based mask (see dropout.h).
 * Element i is kept iff rng_hash_uniform(ctx->seed ^ salt, ctx->step, i) >= p; a uniform with 24 random
 * bits makes the keep probability 1 - p up to 2^-24, and p = 1 keeps nothing (output zero, as PyTorch).
 * Forward: out = in * mask / (1 - p). Backward: din += dout * mask / (1 - p), the mask recomputed.
 * No cache. Shapes: any; in[0] and out have the same shape. */
#include <stddef.h>
#include <string.h>

#include "layers/dropout.h"
#include "locus/rng.h"

static Status dropout_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Dropout *d = (const Dropout *)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "dropout takes 1 input, got %d", n_in);
    if (!(d->p >= 0.0f && d->p <= 1.0f))
        return status_fail(err, LOCUS_ERR_ARG, "dropout probability %g is out of range\nhint: expected 0 <= p <= 1",
                           (double)d->p);
    *out = in[0]->shape;
    return LOCUS_OK;
}

/* Whether this call applies a mask (training with p > 0) and, if so, its key and scale. */
static int dropout_active(const Dropout *d, const StepCtx *ctx, uint64_t *key, float *scale) {
    if (!ctx->training || d->p == 0.0f) return 0;
    *key = ctx->seed ^ d->salt;
    *scale = d->p < 1.0f ? 1.0f / (1.0f - d->p) : 0.0f;
    return 1;
}

static void dropout_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                            void *cache) {
    (void)n_in, (void)cache;
    const Dropout *d = (const Dropout *)l;
    const float *x = in[0]->data;
    float *y = out->data;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
    uint64_t key;
    float scale;
    if (!dropout_active(d, ctx, &key, &scale)) {
        memcpy(y, x, (size_t)n * sizeof(float));
        return;
    }
    const float p = d->p;
    const uint64_t step = ctx->step;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 16384)
    for (ptrdiff_t i = 0; i < n; i++)
        y[i] = rng_hash_uniform(key, step, (uint64_t)i) >= p ? x[i] * scale : 0.0f;
}

static void dropout_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                             const void *cache) {
    (void)n_in, (void)cache;
    const Dropout *d = (const Dropout *)l;
    float *dx = in[0]->grad;
    if (!dx) return;
    const float *dy = out->grad;
    ptrdiff_t n = (ptrdiff_t)tensor_numel(out);
    uint64_t key;
    float scale;
    if (!dropout_active(d, ctx, &key, &scale)) {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 65536)
        for (ptrdiff_t i = 0; i < n; i++) dx[i] += dy[i];
        return;
    }
    const float p = d->p;
    const uint64_t step = ctx->step;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (n > 16384)
    for (ptrdiff_t i = 0; i < n; i++)
        if (rng_hash_uniform(key, step, (uint64_t)i) >= p) dx[i] += dy[i] * scale;
}

static const LayerOps dropout_ops = {
    .type = "dropout", .out_shape = dropout_shape, .forward = dropout_forward, .backward = dropout_backward};

/* FNV-1a 64 of the name, mixed: distinct names give unrelated masks. */
static uint64_t name_salt(const char *name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *c = (const unsigned char *)name; c && *c; c++) h = (h ^ *c) * 0x100000001b3ULL;
    return rng_mix64(h);
}

void dropout_init(Dropout *l, const char *name, float p) {
    layer_set_name(&l->base, &dropout_ops, name);
    l->p = p;
    l->salt = name_salt(name);
}
