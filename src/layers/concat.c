/* concat.c — torch.cat along one axis (see merge.h).
 * Viewing every tensor as outer x (d_axis * inner) with outer = product of the dims before the axis and
 * inner = product of those after it, the output row o is the inputs' rows o laid end to end. Forward
 * copies those strips, backward adds them back; rows are disjoint, so they run in parallel. */
#include <string.h>

#include "layers/merge.h"

static int concat_axis(const Concat *c, int ndim) { return c->axis < 0 ? c->axis + ndim : c->axis; }

static Status concat_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Concat *c = (const Concat *)l;
    char a[64], b[64];
    if (n_in < 2 || n_in > 4) return status_fail(err, LOCUS_ERR_ARG, "concat takes 2 to 4 inputs, got %d", n_in);
    const Shape *s0 = &in[0]->shape;
    const int ax = concat_axis(c, s0->ndim);
    if (ax < 0 || ax >= s0->ndim)
        return status_fail(err, LOCUS_ERR_ARG, "concat axis %d is out of range for input 0 of shape %s",
                           c->axis, shape_format(s0, a, sizeof a));
    *out = *s0;
    for (int i = 1; i < n_in; i++) {
        const Shape *s = &in[i]->shape;
        int ok = s->ndim == s0->ndim;
        for (int d = 0; ok && d < s0->ndim; d++) ok = d == ax || s->d[d] == s0->d[d];
        if (!ok)
            return status_fail(err, LOCUS_ERR_ARG,
                               "concat along axis %d expects input %d to match input 0 (%s) in every other "
                               "dim, found %s",
                               c->axis, i, shape_format(s0, a, sizeof a), shape_format(s, b, sizeof b));
        out->d[ax] += s->d[ax];
    }
    return LOCUS_OK;
}

/* outer and inner sizes around the axis of shape s. */
static void concat_split(const Shape *s, int ax, size_t *outer, size_t *inner) {
    *outer = 1, *inner = 1;
    for (int d = 0; d < ax; d++) *outer *= (size_t)s->d[d];
    for (int d = ax + 1; d < s->ndim; d++) *inner *= (size_t)s->d[d];
}

/* in[i]: (..., d_i, ...); out: (..., sum d_i, ...). */
static void concat_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                           void *cache) {
    (void)cache;
    const int ax = concat_axis((const Concat *)l, out->shape.ndim);
    size_t outer, inner;
    concat_split(&out->shape, ax, &outer, &inner);
    const size_t row = (size_t)out->shape.d[ax] * inner;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (outer * row > 65536)
    for (size_t o = 0; o < outer; o++) {
        float *dst = y + o * row;
        for (int i = 0; i < n_in; i++) {
            const size_t len = (size_t)in[i]->shape.d[ax] * inner;
            memcpy(dst, in[i]->data + o * len, sizeof(float) * len);
            dst += len;
        }
    }
}

/* Reads out->grad; accumulates each strip into the matching in[i]->grad (if non-NULL). */
static void concat_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                            const void *cache) {
    (void)cache;
    const int ax = concat_axis((const Concat *)l, out->shape.ndim);
    size_t outer, inner;
    concat_split(&out->shape, ax, &outer, &inner);
    const size_t row = (size_t)out->shape.d[ax] * inner;
    const float *dy = out->grad;
    /* one input at a time: concat(x, x) must not have two threads adding into the same gradient */
    size_t start = 0;
    for (int i = 0; i < n_in; i++) {
        const size_t len = (size_t)in[i]->shape.d[ax] * inner;
        float *dx = in[i]->grad;
        if (dx) {
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (outer * len > 65536)
            for (size_t o = 0; o < outer; o++) {
                const float *src = dy + o * row + start;
                float *dst = dx + o * len;
                for (size_t j = 0; j < len; j++) dst[j] += src[j];
            }
        }
        start += len;
    }
}

static const LayerOps concat_ops = {
    .type = "concat", .out_shape = concat_shape, .forward = concat_forward, .backward = concat_backward};

void concat_init(Concat *l, const char *name, int axis) {
    layer_set_name(&l->base, &concat_ops, name);
    l->axis = axis;
}
