/* attention_cls.c — the class token's row of multi-head self-attention (attention.h), for a ViT's last block,
 * whose other tokens nothing reads: the head takes token 0 alone (vit.c's tail). A view of the block's
 * Attention (attention_cls_view: the same parameters), so its output is row 0 of attention.c's and its
 * gradients are attention.c's with zero output gradients on the other rows, to rounding (sums over tokens run
 * in another order).
 *
 * Input N x T x D, output N x D. W_qkv = [W_q; W_kv] (rows 0 .. D-1, D .. 3D-1), scale = 1 / sqrt(Dh):
 *   x0 = x[:, 0, :],  q0 = x0 W_q^T + b_q (N x D),  kv = x W_kv^T + b_kv (N T x 2D, keys then values)
 *   per (n, h):  p = softmax(scale q0_h k_h^T) (T values),  ctx_h = p v_h (Dh values)
 *   y = ctx W_proj^T + b_proj
 * Backward (dy N x D):
 *   dctx = dy W_proj, dW_proj += dy^T ctx, db_proj += colsum dy
 *   per (n, h):  dp_j = dctx_h . v_j,  ds = p .* (dp - p . dp) scale,  dv_j = p_j dctx_h,  dk_j = ds_j q0_h,
 *                dq0_h = sum_j ds_j k_j
 *   dx += dkv W_kv (dW_kv, db_kv),  dx[:, 0, :] += dq0 W_q (dW_q, db_q)
 * The kv projection is most of the work (2/3 of the full layer's qkv); the rest runs on N rows instead of N T.
 * Cache (training): [kv | q0 | x0 | p (N H T) | ctx], each padded to 16 floats.
 * Eval: kv a sample at a time on per-thread scratch (W_kv^T prepared once per call).
 * Products on locus's dense kernels; weight gradients on OpenBLAS where D is not a multiple of 16. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/dense.h"
#include "kernels/gelu.h"
#include "layers/attention.h"

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

static Status cls_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Attention *a = (const Attention *)l;
    Status st = attention_check_input(a, in, n_in, err);
    if (st) return st;
    *out = shape2(in[0]->shape.d[0], a->d);
    return LOCUS_OK;
}

typedef struct ClsCache {
    float *kv, *q0, *x0, *p, *cx;
} ClsCache;

static size_t cls_cache_floats(const Attention *a, size_t n, size_t t, float *base, ClsCache *c) {
    const size_t d = (size_t)a->d, f_kv = r16(n * t * 2 * d), f_nd = r16(n * d), f_p = r16(n * (size_t)a->heads * t);
    if (c) {
        c->kv = base;
        c->q0 = c->kv + f_kv;
        c->x0 = c->q0 + f_nd;
        c->p = c->x0 + f_nd;
        c->cx = c->p + f_p;
    }
    return f_kv + 3 * f_nd + f_p;
}

static size_t cls_cache(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)n_in;
    const Shape *s = &in[0]->shape;
    if (!training || s->ndim != 3) return 0;
    return cls_cache_floats((const Attention *)l, (size_t)s->d[0], (size_t)s->d[1], NULL, NULL) * sizeof(float);
}

static size_t dense_floats(int d, int threads) {
    const size_t a = dense_scratch_bytes(d, 2 * d, threads), b = dense_scratch_bytes(d, d, threads);
    return r16((a > b ? a : b) / sizeof(float));
}
static int nthreads(int threads) { return threads < 1 ? 1 : threads; }

/* Eval scratch: [dense scratch (q0, proj) | W_kv^T prepared | x0 | q0 | ctx | per thread: kv_n | p]. */
static size_t eval_thread_floats(int d, size_t t) {
    return r16(t * 2 * (size_t)d) + r16(t);
}
static size_t eval_floats(int d, size_t n, size_t t, int threads) {
    return dense_floats(d, threads) + r16(dense_prepared_floats(d, 2 * d)) + 3 * r16(n * (size_t)d) +
           (size_t)nthreads(threads) * eval_thread_floats(d, t);
}
/* Backward scratch: [dctx | dq0 | dx0 | dkv | dp per thread (T) | dense scratch]. */
static size_t bwd_floats(int d, size_t n, size_t t, int threads) {
    return 3 * r16(n * (size_t)d) + r16(n * t * 2 * (size_t)d) + (size_t)nthreads(threads) * r16(t) +
           dense_floats(d, threads);
}

static size_t cls_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const Shape *s = &in[0]->shape;
    if (s->ndim != 3) return 0;
    const size_t n = (size_t)s->d[0], t = (size_t)s->d[1];
    const size_t e = eval_floats(a->d, n, t, threads), b = bwd_floats(a->d, n, t, threads);
    return (e > b ? e : b) * sizeof(float); /* (the training forward needs dense_floats, less than both) */
}

/* out[j] = a . rows[j] (n values each, rows ld apart), j < t. */
static void dots(const float *a, const float *rows, size_t ld, int n, int t, float *out) {
    for (int j = 0; j < t; j++) {
        const float *r = rows + (size_t)j * ld;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < n; c++) s += a[c] * r[c];
        out[j] = s;
    }
}

/* One head of one sample: p = softmax(scale q k^T), ctx_h = p v; kv_n is T x 2D (keys, then values). */
static void cls_head(KernelIsa isa, const float *kv_n, const float *q0_n, int t, int d, int dh, int h, float scale,
                     float *p, float *ctx_n) {
    const float *q = q0_n + h * dh, *k = kv_n + h * dh, *v = kv_n + d + h * dh;
    const size_t ld = 2 * (size_t)d;
    dots(q, k, ld, dh, t, p);
    softmax_row(isa, p, (size_t)t, scale);
    float *c = ctx_n + h * dh;
    memset(c, 0, sizeof(float) * (size_t)dh);
    for (int j = 0; j < t; j++) {
        const float pj = p[j], *vj = v + (size_t)j * ld;
#pragma omp simd
        for (int i = 0; i < dh; i++) c[i] += pj * vj[i];
    }
}

static void gather_cls(const float *x, int n, int t, int d, float *x0) {
    for (int s = 0; s < n; s++) memcpy(x0 + (size_t)s * d, x + (size_t)s * t * d, sizeof(float) * (size_t)d);
}

static void cls_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = a->d, hh = a->heads, dh = d / hh;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *x = in[0]->data;
    const float *wq = params_value(ctx->params, a->qkv_w), *bq = params_value(ctx->params, a->qkv_b);
    const float *wp = params_value(ctx->params, a->proj_w), *bp = params_value(ctx->params, a->proj_b);
    const KernelIsa isa = kernel_isa();
    const size_t ntd = (size_t)t * 2 * d;
    if (cache) {
        ClsCache c;
        cls_cache_floats(a, (size_t)n, (size_t)t, cache, &c);
        CHECK(dense_floats(d, ctx->threads) * sizeof(float) <= ctx->scratch_bytes, "%s: scratch too small", l->name);
        gather_cls(x, n, t, d, c.x0);
        dense_forward(isa, ctx->threads, n, d, d, c.x0, wq, bq, c.q0, ctx->scratch);
        dense_forward(isa, ctx->threads, n * t, d, 2 * d, x, wq + (size_t)d * d, bq + d, c.kv, ctx->scratch);
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
        for (int nh = 0; nh < n * hh; nh++)
            cls_head(isa, c.kv + (size_t)(nh / hh) * ntd, c.q0 + (size_t)(nh / hh) * d, t, d, dh, nh % hh, scale,
                     c.p + (size_t)nh * t, c.cx + (size_t)(nh / hh) * d);
        dense_forward(isa, ctx->threads, n, d, d, c.cx, wp, bp, out->data, ctx->scratch);
        return;
    }
    CHECK(eval_floats(d, (size_t)n, (size_t)t, ctx->threads) * sizeof(float) <= ctx->scratch_bytes,
          "%s: scratch too small", l->name);
    float *ds = ctx->scratch, *prep = ds + dense_floats(d, ctx->threads);
    float *x0 = prep + r16(dense_prepared_floats(d, 2 * d)), *q0 = x0 + r16((size_t)n * d);
    float *cx = q0 + r16((size_t)n * d);
    float *threads_base = cx + r16((size_t)n * d);
    const size_t per = eval_thread_floats(d, (size_t)t);
    gather_cls(x, n, t, d, x0);
    dense_forward(isa, ctx->threads, n, d, d, x0, wq, bq, q0, ds);
    const float *const *bt = dense_prepare(isa, d, 2 * d, wq + (size_t)d * d, prep);
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int s = 0; s < n; s++) {
        float *kv = threads_base + (size_t)omp_get_thread_num() * per, *p = kv + r16(ntd);
        dense_forward_prepared(isa, 1, t, d, 2 * d, x + (size_t)s * t * d, bt, bq + d, kv);
        for (int h = 0; h < hh; h++) cls_head(isa, kv, q0 + (size_t)s * d, t, d, dh, h, scale, p, cx + (size_t)s * d);
    }
    dense_forward(isa, ctx->threads, n, d, d, cx, wp, bp, out->data, ds);
}

/* dx += dy W (= with dx_overwrite), dW += dy^T x, db += colsum dy over R rows (each may be NULL): the dense
 * kernels, with dW on OpenBLAS where they cannot take it (in not a multiple of 16). */
static void lin_backward(int threads, int R, int in, int out, const float *x, const float *W, const float *dy,
                         float *dx, int dx_overwrite, float *dW, float *db, float *scratch) {
    const int ok = dense_dw_ok(in);
    dense_backward(kernel_isa(), threads, R, in, out, x, W, dy, dx, dx_overwrite, ok ? dW : NULL, db, scratch);
    if (dW && !ok) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, R, 1.0f, dy, out, x, in, 1.0f, dW, in);
}

static void cls_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                         const void *cache) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = a->d, hh = a->heads, dh = d / hh;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *x = in[0]->data, *dy = out->grad;
    const float *wq = params_value(ctx->params, a->qkv_w), *wp = params_value(ctx->params, a->proj_w);
    float *dwq = params_grad(ctx->params, a->qkv_w), *dbq = params_grad(ctx->params, a->qkv_b);
    float *dwp = params_grad(ctx->params, a->proj_w), *dbp = params_grad(ctx->params, a->proj_b);
    float *dx = in[0]->grad;
    ClsCache c;
    cls_cache_floats(a, (size_t)n, (size_t)t, (float *)cache, &c);
    CHECK(bwd_floats(d, (size_t)n, (size_t)t, ctx->threads) * sizeof(float) <= ctx->scratch_bytes,
          "%s: scratch too small", l->name);
    const size_t nd = r16((size_t)n * d), ntd = (size_t)t * 2 * d, ld = 2 * (size_t)d;
    float *dcx = ctx->scratch, *dq0 = dcx + nd, *dx0 = dq0 + nd, *dkv = dx0 + nd;
    float *dp_base = dkv + r16((size_t)n * ntd), *ds = dp_base + (size_t)nthreads(ctx->threads) * r16((size_t)t);
    lin_backward(ctx->threads, n, d, d, c.cx, wp, dy, dcx, 1, dwp, dbp, ds);
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int nh = 0; nh < n * hh; nh++) {
        const int s = nh / hh, h = nh % hh;
        const float *p = c.p + (size_t)nh * t, *dc = dcx + (size_t)s * d + h * dh, *q = c.q0 + (size_t)s * d + h * dh;
        const float *k = c.kv + (size_t)s * ntd + h * dh, *v = k + d;
        float *dk = dkv + (size_t)s * ntd + h * dh, *dv = dk + d, *dq = dq0 + (size_t)s * d + h * dh;
        float *dp = dp_base + (size_t)omp_get_thread_num() * r16((size_t)t), dot = 0.0f;
        dots(dc, v, ld, dh, t, dp);
        for (int j = 0; j < t; j++) dot += p[j] * dp[j];
        memset(dq, 0, sizeof(float) * (size_t)dh);
        for (int j = 0; j < t; j++) {
            const float pj = p[j], sj = pj * (dp[j] - dot) * scale, *kj = k + (size_t)j * ld;
            float *dkj = dk + (size_t)j * ld, *dvj = dv + (size_t)j * ld;
#pragma omp simd
            for (int i = 0; i < dh; i++) {
                dvj[i] = pj * dc[i];
                dkj[i] = sj * q[i];
                dq[i] += sj * kj[i];
            }
        }
    }
    lin_backward(ctx->threads, n * t, d, 2 * d, x, wq + (size_t)d * d, dkv, dx, 0, dwq ? dwq + (size_t)d * d : NULL,
                 dbq ? dbq + d : NULL, ds);
    lin_backward(ctx->threads, n, d, d, c.x0, wq, dq0, dx ? dx0 : NULL, 1, dwq, dbq, ds);
    if (dx)
        for (int s = 0; s < n; s++) {
            float *row = dx + (size_t)s * t * d;
            const float *add = dx0 + (size_t)s * d;
            for (int i = 0; i < d; i++) row[i] += add[i];
        }
}

static const LayerOps cls_ops = {.type = "attention_cls",
                                 .out_shape = cls_shape,
                                 .cache_bytes = cls_cache,
                                 .scratch_bytes = cls_scratch,
                                 .forward = cls_forward,
                                 .backward = cls_backward};

void attention_cls_view(Attention *view, const Attention *of) {
    *view = *of;
    layer_set_name(&view->base, &cls_ops, of->base.name);
}
