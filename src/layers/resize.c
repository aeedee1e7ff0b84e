/* resize.c — bilinear resize with align_corners=True (see resize.h), PyTorch's CPU formula:
 *   src = scale * i with scale = (in - 1) / (out - 1) in float (0 if out == 1), i0 = (int)src,
 *   i1 = i0 + (i0 < in - 1), l1 = src - i0, l0 = 1 - l1;
 *   y = l0h (l0w x[h0,w0] + l1w x[h0,w1]) + l1h (l0w x[h1,w0] + l1w x[h1,w1]).
 * Backward scatters dy with the same four weights. No cache: the weights are recomputed from the shapes.
 * Shapes: in[0] N x C x H x W, out N x C x out_h x out_w. Both passes parallelise over the N*C planes
 * (a backward scatter writes only its own plane). */
#include <stddef.h>

#include "layers/pool.h"
#include "layers/resize.h"

typedef struct Tap {
    int i0, i1;
    float l0, l1;
} Tap;

static inline Tap resize_tap(int i, int in, int out) {
    float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    float src = scale * (float)i;
    Tap t;
    t.i0 = (int)src;
    if (t.i0 > in - 1) t.i0 = in - 1; /* float rounding at the last pixel */
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.l1 = src - (float)t.i0;
    t.l0 = 1.0f - t.l1;
    return t;
}

static Status resize_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const ResizeBilinear *r = (const ResizeBilinear *)l;
    return spatial_resize_shape(l, in, n_in, r->out_h, r->out_w, out, err);
}

static void resize_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                           void *cache) {
    (void)l, (void)n_in, (void)cache;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *x = in[0]->data;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * Ho * Wo > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            Tap th = resize_tap(oh, H, Ho);
            const float *r0 = xp + th.i0 * W, *r1 = xp + th.i1 * W;
            for (int ow = 0; ow < Wo; ow++) {
                Tap tw = resize_tap(ow, W, Wo);
                yp[oh * Wo + ow] = th.l0 * (tw.l0 * r0[tw.i0] + tw.l1 * r0[tw.i1]) +
                                   th.l1 * (tw.l0 * r1[tw.i0] + tw.l1 * r1[tw.i1]);
            }
        }
    }
}

static void resize_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                            const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *dy = out->grad;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * Ho * Wo > 16384)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * H * W;
        const float *dyp = dy + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            Tap th = resize_tap(oh, H, Ho);
            float *r0 = dxp + th.i0 * W, *r1 = dxp + th.i1 * W;
            for (int ow = 0; ow < Wo; ow++) {
                Tap tw = resize_tap(ow, W, Wo);
                float g = dyp[oh * Wo + ow];
                r0[tw.i0] += th.l0 * tw.l0 * g;
                r0[tw.i1] += th.l0 * tw.l1 * g;
                r1[tw.i0] += th.l1 * tw.l0 * g;
                r1[tw.i1] += th.l1 * tw.l1 * g;
            }
        }
    }
}

static const LayerOps resize_ops = {
    .type = "resize_bilinear", .out_shape = resize_shape, .forward = resize_forward, .backward = resize_backward};

void resize_bilinear_init(ResizeBilinear *l, const char *name, int out_h, int out_w) {
    layer_set_name(&l->base, &resize_ops, name);
    l->out_h = out_h;
    l->out_w = out_w;
}
