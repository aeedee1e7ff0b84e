/* patch_embed.c — ViT patch embedding (see patch_embed.h).
 *
 * The conv has stride == kernel, so patches do not overlap and im2col is a permutation of the input:
 *   Xp (N P x K), K = C p p, column c p p + ki p + kj, row n P + gi gw + gj
 *   forward   Yp = Xp W^T (one GEMM, W is D x K); out[n, 1 + i] = Yp[n P + i] + b + pos[1 + i];
 *             out[n, 0] = cls + pos[0]
 *   backward  dYp = rows 1.. of dout; dW += dYp^T Xp; db += colsum dYp; dcls += sum_n dout[n, 0];
 *             dpos[t] += sum_n dout[n, t]; dXp = dYp W, scattered back (+=) into dx.
 * Sums over samples run in sample order inside one thread per column block, so parameter gradients do
 * not depend on the thread count. Scratch: [Xp (N P K) | Yp (N P D)]. */
#include "layers/patch_embed.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "locus/init.h"

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static Status pe_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const PatchEmbed *p = (const PatchEmbed *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "patch_embed takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || s->d[1] != p->in_c || s->d[2] != p->in_h || s->d[3] != p->in_w)
        return status_fail(err, LOCUS_ERR_ARG,
                           "patch_embed expects images N x %d x %d x %d, found %s\nhint: the position "
                           "embedding fixes the input size; build the model for this size",
                           p->in_c, p->in_h, p->in_w, shape_format(s, b, sizeof b));
    *out = shape3(s->d[0], patch_embed_tokens(p), p->d);
    return LOCUS_OK;
}

static size_t pe_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in, (void)threads;
    const PatchEmbed *p = (const PatchEmbed *)l;
    if (in[0]->shape.ndim != 4) return 0;
    size_t rows = (size_t)in[0]->shape.d[0] * p->grid_h * p->grid_w;
    size_t k = (size_t)p->in_c * p->patch * p->patch;
    return (round16(rows * k) + round16(rows * (size_t)p->d)) * sizeof(float);
}

/* Xp from x (gather) or, with back != 0, dx += Xp (scatter). One sample per iteration. */
static void pe_permute(const PatchEmbed *p, int n, float *img, float *xp, int back, int threads) {
    const int c = p->in_c, h = p->in_h, w = p->in_w, ps = p->patch, gh = p->grid_h, gw = p->grid_w;
    const size_t k = (size_t)c * ps * ps, np = (size_t)gh * gw;
#pragma omp parallel for schedule(static) num_threads(threads) if ((size_t)n * np * k > 65536)
    for (int s = 0; s < n; s++)
        for (int gi = 0; gi < gh; gi++)
            for (int gj = 0; gj < gw; gj++) {
                float *row = xp + ((size_t)s * np + (size_t)gi * gw + gj) * k;
                for (int ch = 0; ch < c; ch++)
                    for (int ki = 0; ki < ps; ki++) {
                        float *pix = img + (((size_t)s * c + ch) * h + (size_t)gi * ps + ki) * w + (size_t)gj * ps;
                        float *col = row + ((size_t)ch * ps + ki) * ps;
                        if (back)
                            for (int kj = 0; kj < ps; kj++) pix[kj] += col[kj];
                        else
                            memcpy(col, pix, sizeof(float) * (size_t)ps);
                    }
            }
}

static void pe_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const PatchEmbed *p = (const PatchEmbed *)l;
    const int n = in[0]->shape.d[0], d = p->d, np = p->grid_h * p->grid_w, tk = np + 1;
    const int k = p->in_c * p->patch * p->patch;
    float *xp = ctx->scratch, *yp = xp + round16((size_t)n * np * k);
    const float *w = params_value(ctx->params, p->proj_w), *b = params_value(ctx->params, p->proj_b);
    const float *cls = params_value(ctx->params, p->cls), *pos = params_value(ctx->params, p->pos);
    float *y = out->data;
    pe_permute(p, n, in[0]->data, xp, 0, ctx->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n * np, d, k, 1.0f, xp, k, w, k, 0.0f, yp, d);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if ((size_t)n * tk * d > 65536)
    for (int s = 0; s < n; s++) {
        float *ys = y + (size_t)s * tk * d;
        for (int j = 0; j < d; j++) ys[j] = cls[j] + pos[j];
        for (int i = 0; i < np; i++) {
            const float *src = yp + ((size_t)s * np + i) * d, *ps = pos + (size_t)(1 + i) * d;
            float *dst = ys + (size_t)(1 + i) * d;
            for (int j = 0; j < d; j++) dst[j] = src[j] + b[j] + ps[j];
        }
    }
}

static void pe_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)n_in, (void)cache;
    const PatchEmbed *p = (const PatchEmbed *)l;
    const int n = in[0]->shape.d[0], d = p->d, np = p->grid_h * p->grid_w, tk = np + 1;
    const int k = p->in_c * p->patch * p->patch;
    float *xp = ctx->scratch, *dyp = xp + round16((size_t)n * np * k);
    const float *w = params_value(ctx->params, p->proj_w), *dy = out->grad;
    float *dw = params_grad(ctx->params, p->proj_w), *db = params_grad(ctx->params, p->proj_b);
    float *dcls = params_grad(ctx->params, p->cls), *dpos = params_grad(ctx->params, p->pos);
    float *dx = in[0]->grad;
    for (int s = 0; s < n; s++)
        memcpy(dyp + (size_t)s * np * d, dy + ((size_t)s * tk + 1) * d, sizeof(float) * (size_t)np * d);
    /* bias, cls and pos: per column, summed over samples in order */
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if ((size_t)n * tk * d > 65536)
    for (int j = 0; j < d; j++) {
        double sc = 0, sb = 0;
        for (int s = 0; s < n; s++) sc += dy[(size_t)s * tk * d + j];
        if (dcls) dcls[j] += (float)sc;
        for (int t = 0; t < tk; t++) {
            double st = 0;
            for (int s = 0; s < n; s++) st += dy[((size_t)s * tk + t) * d + j];
            if (dpos) dpos[(size_t)t * d + j] += (float)st;
            if (t > 0) sb += st;
        }
        if (db) db[j] += (float)sb;
    }
    if (dw) {
        pe_permute(p, n, in[0]->data, xp, 0, ctx->threads);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, k, n * np, 1.0f, dyp, d, xp, k, 1.0f, dw, k);
    }
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n * np, k, d, 1.0f, dyp, d, w, k, 0.0f, xp, k);
        pe_permute(p, n, dx, xp, 1, ctx->threads);
    }
}

static const LayerOps pe_ops = {.type = "patch_embed",
                                .out_shape = pe_shape,
                                .scratch_bytes = pe_scratch,
                                .forward = pe_forward,
                                .backward = pe_backward};

Status patch_embed_init(PatchEmbed *l, ParamStore *ps, const char *name, const char *cls_name,
                        const char *pos_name, int in_c, int in_h, int in_w, int patch, int d, ErrorMsg *err) {
    memset(l, 0, sizeof *l);
    if (in_c < 1 || in_h < 1 || in_w < 1 || patch < 1 || d < 1)
        return status_fail(err, LOCUS_ERR_ARG, "patch embedding %s: bad sizes (%d channels, %dx%d, patch %d, dim %d)",
                           name, in_c, in_h, in_w, patch, d);
    if (in_h % patch || in_w % patch)
        return status_fail(err, LOCUS_ERR_ARG,
                           "input %dx%d is not divisible by the patch size %d\nhint: resize the input to a "
                           "multiple of %d",
                           in_h, in_w, patch, patch);
    layer_set_name(&l->base, &pe_ops, name);
    l->in_c = in_c, l->in_h = in_h, l->in_w = in_w, l->patch = patch, l->d = d;
    l->grid_h = in_h / patch, l->grid_w = in_w / patch;
    /* timm's state_dict order: the model's own parameters before the patch_embed submodule */
    l->cls = params_add(ps, cls_name, shape3(1, 1, d), PARAM_TRAINABLE);
    l->pos = params_add(ps, pos_name, shape3(1, patch_embed_tokens(l), d), PARAM_TRAINABLE);
    char pn[128];
    snprintf(pn, sizeof pn, "%s.proj.weight", name);
    l->proj_w = params_add(ps, pn, shape4(d, in_c, patch, patch), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.proj.bias", name);
    l->proj_b = params_add(ps, pn, shape1(d), PARAM_TRAINABLE);
    return LOCUS_OK;
}

void patch_embed_init_weights(const PatchEmbed *l, ParamStore *ps, Rng *rng) {
    float bound = 1.0f / sqrtf((float)(l->in_c * l->patch * l->patch));
    init_trunc_normal(params_value(ps, l->cls), params_numel(ps, l->cls), 0.02f, rng);
    init_trunc_normal(params_value(ps, l->pos), params_numel(ps, l->pos), 0.02f, rng);
    init_uniform(params_value(ps, l->proj_w), params_numel(ps, l->proj_w), bound, rng);
    init_uniform(params_value(ps, l->proj_b), params_numel(ps, l->proj_b), bound, rng);
}
