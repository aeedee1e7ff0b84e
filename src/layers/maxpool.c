/* maxpool.c — 2-D max pooling, PyTorch nn.MaxPool2d semantics (floor mode, dilation 1, padding acts
 * as -inf). In a window the first maximum in row-major order wins ties, and NaN wins over any number
 * (the last NaN's position is kept), as in PyTorch's CPU kernel. Training caches the argmax of every
 * output as an int32 offset inside its input plane (h * W + w), so backward is a scatter:
 * dx[argmax] += dy.
 * Shapes: in[0] N x C x H x W, out N x C x Ho x Wo (see pool.h). Planes are independent, so both passes
 * parallelise over the N*C planes with no write conflicts. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/pool.h"

static Status maxpool_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const MaxPool2d *p = (const MaxPool2d *)l;
    return pool_window_shape(l, in, n_in, p->k, p->stride, p->pad, out, err);
}

static size_t maxpool_cache_bytes(const Layer *l, Tensor *const *in, int n_in, int training) {
    if (!training) return 0;
    Shape o;
    if (maxpool_shape(l, in, n_in, &o, NULL)) return 0;
    return shape_numel(&o) * sizeof(int32_t);
}

/* cache: N*C*Ho*Wo int32 argmax offsets, or NULL (eval). */
static void maxpool_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                            void *cache) {
    (void)n_in;
    const MaxPool2d *p = (const MaxPool2d *)l;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const int k = p->k, s = p->stride, pad = p->pad;
    const float *x = in[0]->data;
    float *y = out->data;
    int32_t *arg = cache;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * Ho * Wo * k * k > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * Ho * Wo;
        int32_t *ap = arg ? arg + pl * Ho * Wo : NULL;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            pool_window_range(oh, s, pad, k, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                pool_window_range(ow, s, pad, k, W, &w0, &w1);
                float best = -INFINITY;
                int32_t bi = h0 * W + w0;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        float v = xp[h * W + w];
                        if (v > best || isnan(v)) {
                            best = v;
                            bi = h * W + w;
                        }
                    }
                yp[oh * Wo + ow] = best;
                if (ap) ap[oh * Wo + ow] = bi;
            }
        }
    }
}

static void maxpool_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                             const void *cache) {
    (void)l, (void)n_in;
    float *dx = in[0]->grad;
    if (!dx) return;
    CHECK(cache, "%s: backward without the argmax cache (forward ran in eval mode?)", l->name);
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const ptrdiff_t o = (ptrdiff_t)out->shape.d[2] * out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *dy = out->grad;
    const int32_t *arg = cache;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * o > 65536)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * H * W;
        for (ptrdiff_t i = pl * o; i < (pl + 1) * o; i++) dxp[arg[i]] += dy[i];
    }
}

static const LayerOps maxpool_ops = {.type = "maxpool2d",
                                     .out_shape = maxpool_shape,
                                     .cache_bytes = maxpool_cache_bytes,
                                     .forward = maxpool_forward,
                                     .backward = maxpool_backward};

void maxpool2d_init(MaxPool2d *l, const char *name, int k, int stride, int pad) {
    layer_set_name(&l->base, &maxpool_ops, name);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
}
