/* crop.c — see crop.h. No cache: backward adds dout into the window of din. */
#include "layers/crop.h"

#include <string.h>

static Status crop_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Crop2d *c = (const Crop2d *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "crop2d takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || c->y0 < 0 || c->x0 < 0 || c->h < 1 || c->w < 1 || c->y0 + c->h > s->d[2] ||
        c->x0 + c->w > s->d[3])
        return status_fail(err, LOCUS_ERR_ARG,
                           "crop2d window rows %d..%d, columns %d..%d does not fit the input %s\nhint: the window "
                           "must lie inside an N x C x H x W input",
                           c->y0, c->y0 + c->h - 1, c->x0, c->x0 + c->w - 1, shape_format(s, b, sizeof b));
    *out = shape4(s->d[0], s->d[1], c->h, c->w);
    return LOCUS_OK;
}

/* in[0]: N x C x H x W; out: N x C x h x w. */
static void crop_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const Crop2d *c = (const Crop2d *)l;
    const int planes = in[0]->shape.d[0] * in[0]->shape.d[1], H = in[0]->shape.d[2], W = in[0]->shape.d[3];
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int p = 0; p < planes; p++)
        for (int y = 0; y < c->h; y++)
            memcpy(out->data + ((size_t)p * c->h + y) * c->w, in[0]->data + ((size_t)p * H + c->y0 + y) * W + c->x0,
                   sizeof(float) * (size_t)c->w);
}

static void crop_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)n_in, (void)cache;
    const Crop2d *c = (const Crop2d *)l;
    float *dx = in[0]->grad;
    if (!dx) return;
    const int planes = in[0]->shape.d[0] * in[0]->shape.d[1], H = in[0]->shape.d[2], W = in[0]->shape.d[3];
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int p = 0; p < planes; p++)
        for (int y = 0; y < c->h; y++) {
            float *restrict d = dx + ((size_t)p * H + c->y0 + y) * W + c->x0;
            const float *restrict g = out->grad + ((size_t)p * c->h + y) * c->w;
            for (int x = 0; x < c->w; x++) d[x] += g[x];
        }
}

static const LayerOps crop2d_ops = {
    .type = "crop2d", .out_shape = crop_shape, .forward = crop_forward, .backward = crop_backward};

void crop2d_init(Crop2d *l, const char *name, int y0, int x0, int h, int w) {
    layer_set_name(&l->base, &crop2d_ops, name);
    l->y0 = y0, l->x0 = x0, l->h = h, l->w = w;
}
