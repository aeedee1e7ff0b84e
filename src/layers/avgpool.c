/* avgpool.c — average pooling: avgpool2d (PyTorch nn.AvgPool2d, count_include_pad=True, floor mode),
 * adaptive_avgpool2d (nn.AdaptiveAvgPool2d) and global_avgpool (mean over H and W, N x C output).
 *  - avgpool2d divides every window by k*k, padding included: in floor mode with pad <= k/2 each window
 *    ends inside the padded input, which is exactly PyTorch's divisor.
 *  - adaptive bins: rows [floor(i H / Ho), ceil((i + 1) H / Ho)), same for columns; divisor = bin area.
 * No cache (backward needs only shapes). Windows and bins may overlap, so both passes parallelise over
 * the N*C planes, each of which is read and written by one thread only. Sums are float, as in PyTorch;
 * global_avgpool sums in double because its windows are large. */
#include <stddef.h>

#include "layers/pool.h"

/* ---- avgpool2d: in[0] N x C x H x W, out N x C x Ho x Wo ---- */

static Status avgpool_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const AvgPool2d *p = (const AvgPool2d *)l;
    return pool_window_shape(l, in, n_in, p->k, p->stride, p->pad, out, err);
}

static void avgpool_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                            void *cache) {
    (void)n_in, (void)cache;
    const AvgPool2d *p = (const AvgPool2d *)l;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const int k = p->k, s = p->stride, pad = p->pad;
    const float inv = 1.0f / (float)(k * k);
    const float *x = in[0]->data;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * Ho * Wo * k * k > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            pool_window_range(oh, s, pad, k, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                pool_window_range(ow, s, pad, k, W, &w0, &w1);
                float sum = 0.0f;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) sum += xp[h * W + w];
                yp[oh * Wo + ow] = sum * inv;
            }
        }
    }
}

static void avgpool_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                             const void *cache) {
    (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const AvgPool2d *p = (const AvgPool2d *)l;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const int k = p->k, s = p->stride, pad = p->pad;
    const float inv = 1.0f / (float)(k * k);
    const float *dy = out->grad;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * Ho * Wo * k * k > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * H * W;
        const float *dyp = dy + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            pool_window_range(oh, s, pad, k, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                pool_window_range(ow, s, pad, k, W, &w0, &w1);
                float g = dyp[oh * Wo + ow] * inv;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) dxp[h * W + w] += g;
            }
        }
    }
}

static const LayerOps avgpool_ops = {
    .type = "avgpool2d", .out_shape = avgpool_shape, .forward = avgpool_forward, .backward = avgpool_backward};

void avgpool2d_init(AvgPool2d *l, const char *name, int k, int stride, int pad) {
    layer_set_name(&l->base, &avgpool_ops, name);
    l->k = k;
    l->stride = stride;
    l->pad = pad;
}

/* ---- adaptive_avgpool2d: in[0] N x C x H x W, out N x C x out_h x out_w ---- */

static inline int bin_start(int i, int in, int out) { return (int)(((long long)i * in) / out); }
static inline int bin_end(int i, int in, int out) { return (int)(((long long)(i + 1) * in + out - 1) / out); }

static Status adaptive_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const AdaptiveAvgPool2d *p = (const AdaptiveAvgPool2d *)l;
    return spatial_resize_shape(l, in, n_in, p->out_h, p->out_w, out, err);
}

static void adaptive_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                             void *cache) {
    (void)l, (void)n_in, (void)cache;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *x = in[0]->data;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * H * W > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0 = bin_start(oh, H, Ho), h1 = bin_end(oh, H, Ho);
            for (int ow = 0; ow < Wo; ow++) {
                int w0 = bin_start(ow, W, Wo), w1 = bin_end(ow, W, Wo);
                float sum = 0.0f;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) sum += xp[h * W + w];
                yp[oh * Wo + ow] = sum / (float)((h1 - h0) * (w1 - w0));
            }
        }
    }
}

static void adaptive_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                              const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const int H = in[0]->shape.d[2], W = in[0]->shape.d[3];
    const int Ho = out->shape.d[2], Wo = out->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *dy = out->grad;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * H * W > 32768)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * H * W;
        const float *dyp = dy + pl * Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0 = bin_start(oh, H, Ho), h1 = bin_end(oh, H, Ho);
            for (int ow = 0; ow < Wo; ow++) {
                int w0 = bin_start(ow, W, Wo), w1 = bin_end(ow, W, Wo);
                float g = dyp[oh * Wo + ow] / (float)((h1 - h0) * (w1 - w0));
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) dxp[h * W + w] += g;
            }
        }
    }
}

static const LayerOps adaptive_ops = {.type = "adaptive_avgpool2d",
                                      .out_shape = adaptive_shape,
                                      .forward = adaptive_forward,
                                      .backward = adaptive_backward};

void adaptive_avgpool2d_init(AdaptiveAvgPool2d *l, const char *name, int out_h, int out_w) {
    layer_set_name(&l->base, &adaptive_ops, name);
    l->out_h = out_h;
    l->out_w = out_w;
}

/* ---- global_avgpool: in[0] N x C x H x W, out N x C ---- */

static Status global_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "global_avgpool takes 1 input, got %d", n_in);
    char buf[64];
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4)
        return status_fail(err, LOCUS_ERR_ARG, "global_avgpool expects an N x C x H x W input, found %s",
                           shape_format(s, buf, sizeof buf));
    *out = shape2(s->d[0], s->d[1]);
    return LOCUS_OK;
}

static void global_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                           void *cache) {
    (void)l, (void)n_in, (void)cache;
    const ptrdiff_t hw = (ptrdiff_t)in[0]->shape.d[2] * in[0]->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *x = in[0]->data;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * hw > 65536)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        double sum = 0.0;
        for (ptrdiff_t i = 0; i < hw; i++) sum += x[pl * hw + i];
        y[pl] = (float)(sum / (double)hw);
    }
}

static void global_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                            const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const ptrdiff_t hw = (ptrdiff_t)in[0]->shape.d[2] * in[0]->shape.d[3];
    const ptrdiff_t planes = (ptrdiff_t)out->shape.d[0] * out->shape.d[1];
    const float *dy = out->grad;
    const float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (planes * hw > 65536)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float g = dy[pl] * inv;
        for (ptrdiff_t i = 0; i < hw; i++) dx[pl * hw + i] += g;
    }
}

static const LayerOps global_ops = {
    .type = "global_avgpool", .out_shape = global_shape, .forward = global_forward, .backward = global_backward};

void global_avgpool_init(GlobalAvgPool *l, const char *name) { layer_set_name(&l->base, &global_ops, name); }
