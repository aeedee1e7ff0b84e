/* resize_conv.c — resize_bilinear + conv2d as one layer that keeps only chunk-sized resized maps (see
 * resize_conv.h). The two inner layers are called through their own ops on tensor views of one chunk;
 * the inner convolution gets the scratch that is left after the two chunk buffers. */
#include "layers/resize_conv.h"

#include <string.h>

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Samples per chunk: a multiple of threads (at least threads), within rc->chunk_bytes of resized maps when
 * that allows more than threads, at most n. Small maps go many samples at a time (each chunk is one parallel
 * region of the convolution, and thousands of tiny regions per step cost more than their arithmetic on a busy
 * machine); large ones (InfoPro's decoders at image size) go as many samples as threads. */
static int chunk_of(const ResizeConv2d *rc, const Shape *in, int threads) {
    const int n = in->d[0], t = threads < 1 ? 1 : threads;
    const size_t per = (size_t)in->d[1] * rc->resize.out_h * rc->resize.out_w * sizeof(float);
    size_t fit = per ? rc->chunk_bytes / per : (size_t)n;
    int c = fit > (size_t)t ? (int)(fit / (size_t)t) * t : t;
    return c < n ? c : n;
}

/* The resized chunk's shape (chunk samples). */
static Shape up_shape(const ResizeConv2d *rc, const Shape *in, int chunk) {
    return shape4(chunk, in->d[1], rc->resize.out_h, rc->resize.out_w);
}

static Status rc_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const ResizeConv2d *rc = (const ResizeConv2d *)l;
    Shape up;
    Status st = rc->resize.base.ops->out_shape(&rc->resize.base, in, n_in, &up, err);
    if (st) return st;
    Tensor t = {.shape = up};
    Tensor *tp = &t;
    return rc->conv.base.ops->out_shape(&rc->conv.base, &tp, 1, out, err);
}

static size_t conv_scratch_for(const ResizeConv2d *rc, const Shape *up, int threads) {
    Tensor t = {.shape = *up};
    Tensor *tp = &t;
    return rc->conv.base.ops->scratch_bytes(&rc->conv.base, &tp, 1, threads);
}

/* Scratch: [ resized chunk | its gradient | the convolution's scratch ]. */
static size_t rc_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in;
    const ResizeConv2d *rc = (const ResizeConv2d *)l;
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || s->d[0] < 1) return 0; /* out_shape reports the error */
    Shape up = up_shape(rc, s, chunk_of(rc, s, threads));
    return 2 * r16(shape_numel(&up)) * sizeof(float) + conv_scratch_for(rc, &up, threads);
}

typedef struct Chunk {
    Tensor x, up, y; /* views: input samples, resized samples (scratch), output samples */
    float *up_grad;  /* the second scratch buffer: the resized samples' gradient */
    StepCtx ctx;     /* the caller's, with the scratch after the two chunk buffers */
} Chunk;

static void chunk_at(const ResizeConv2d *rc, const StepCtx *ctx, const Tensor *x, const Tensor *y, int first,
                     int count, int chunk, Chunk *c) {
    const Shape *s = &x->shape;
    const size_t in_f = (size_t)s->d[1] * s->d[2] * s->d[3];
    const size_t out_f = (size_t)y->shape.d[1] * y->shape.d[2] * y->shape.d[3];
    const size_t up_f = r16((size_t)chunk * s->d[1] * rc->resize.out_h * rc->resize.out_w);
    memset(c, 0, sizeof *c);
    c->x.shape = shape4(count, s->d[1], s->d[2], s->d[3]);
    c->x.data = x->data + (size_t)first * in_f;
    c->x.grad = x->grad ? x->grad + (size_t)first * in_f : NULL;
    c->up.shape = up_shape(rc, s, count);
    c->up.data = ctx->scratch;
    c->up_grad = ctx->scratch + up_f;
    c->y.shape = shape4(count, y->shape.d[1], y->shape.d[2], y->shape.d[3]);
    c->y.data = y->data + (size_t)first * out_f;
    c->y.grad = y->grad ? y->grad + (size_t)first * out_f : NULL;
    c->ctx = *ctx;
    c->ctx.scratch = ctx->scratch + 2 * up_f;
    c->ctx.scratch_bytes = ctx->scratch_bytes - 2 * up_f * sizeof(float);
}

static void rc_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const ResizeConv2d *rc = (const ResizeConv2d *)l;
    const int n = in[0]->shape.d[0], chunk = chunk_of(rc, &in[0]->shape, ctx->threads);
    CHECK(ctx->scratch_bytes >= rc_scratch(l, in, 1, ctx->threads), "%s: scratch too small", l->name);
    for (int first = 0; first < n; first += chunk) {
        const int count = n - first < chunk ? n - first : chunk;
        Chunk c;
        chunk_at(rc, ctx, in[0], out, first, count, chunk, &c);
        Tensor *xp = &c.x, *up = &c.up;
        rc->resize.base.ops->forward(&rc->resize.base, &c.ctx, &xp, 1, &c.up, NULL);
        rc->conv.base.ops->forward(&rc->conv.base, &c.ctx, &up, 1, &c.y, NULL);
    }
}

/* grad_overwrite is 0: the tape zeroes a fresh input gradient, and each chunk's resize backward adds to it. */
static void rc_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)n_in, (void)cache;
    const ResizeConv2d *rc = (const ResizeConv2d *)l;
    const int n = in[0]->shape.d[0], chunk = chunk_of(rc, &in[0]->shape, ctx->threads);
    for (int first = 0; first < n; first += chunk) {
        const int count = n - first < chunk ? n - first : chunk;
        Chunk c;
        chunk_at(rc, ctx, in[0], out, first, count, chunk, &c);
        Tensor *xp = &c.x, *up = &c.up;
        rc->resize.base.ops->forward(&rc->resize.base, &c.ctx, &xp, 1, &c.up, NULL);
        if (c.x.grad) {
            c.up.grad = c.up_grad;
            c.up.grad_fresh = 1; /* the convolution overwrites it */
        }
        rc->conv.base.ops->backward(&rc->conv.base, &c.ctx, &up, 1, &c.y, NULL);
        if (c.x.grad) rc->resize.base.ops->backward(&rc->resize.base, &c.ctx, &xp, 1, &c.up, NULL);
    }
}

static const LayerOps resize_conv_ops = {.type = "resize_conv2d",
                                         .out_shape = rc_shape,
                                         .scratch_bytes = rc_scratch,
                                         .forward = rc_forward,
                                         .backward = rc_backward};

void resize_conv2d_init(ResizeConv2d *l, ParamStore *ps, const char *name, int out_h, int out_w, int cin, int cout,
                        int k, int stride, int pad, int bias) {
    layer_set_name(&l->base, &resize_conv_ops, name);
    resize_bilinear_init(&l->resize, name, out_h, out_w);
    conv2d_init(&l->conv, ps, name, cin, cout, k, stride, pad, bias);
    l->chunk_bytes = RESIZE_CONV_CHUNK_BYTES;
}
