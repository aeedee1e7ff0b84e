/* attention.c — multi-head self-attention (see attention.h).
 *
 * Training forward: one GEMM for qkv over all N*T rows, then per (sample, head), spread over OpenMP
 * threads, S = scale q k^T and P = softmax(S) into the cache and ctx_h = P v into the cache, then one
 * GEMM for the output projection. The per-(n, h) GEMMs run single-threaded inside the parallel region
 * (OpenBLAS's OpenMP build does that on its own); the big projections use OpenBLAS's threads.
 * Eval forward (no cache): per sample, on per-thread scratch [qkv_n | P | ctx_n | the heads' work].
 * Backward (dY = out->grad, N*T x D; scale = 1/sqrt(Dh)):
 *   dW_proj += dY^T ctx,  db_proj += colsum dY,  dctx = dY W_proj                 (batch GEMMs)
 *   per (n, h):  dP = dctx_h v_h^T,  dv_h = P^T dctx_h,
 *                dS = P .* (dP - rowsum(dP .* P)) * scale,  dq_h = dS k_h,  dk_h = dS^T q_h
 *   dW_qkv += dqkv^T x,  db_qkv += colsum dqkv,  dx += dqkv W_qkv                  (batch GEMMs)
 * Every (n, h) writes disjoint columns of dqkv, and parameter gradients come from batch GEMMs and
 * column sums in row order, so results do not depend on the thread count.
 * Scratch in backward: [dctx (N T D) | dqkv (N T 3D) | dP per thread (T T) | dense kernels' scratch | per-thread
 * work of the per-head products (head_mm)].
 * The batch projections (training forward, backward) run on locus's kernels (kernels/dense.h) with ctx->threads
 * threads; the weight gradients fall back to OpenBLAS when D is not a multiple of 16 (dense_dw_ok), and
 * LOCUS_LINEAR=blas selects OpenBLAS for all of them, as for the linear layer. */
#include "layers/attention.h"

#include <stdlib.h>

#include "kernels/dense.h"
#include "kernels/gelu.h"
#include "kernels/rows.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

Status attention_check_input(const Attention *a, Tensor *const *in, int n_in, ErrorMsg *err) {
    const char *type = a->base.ops->type;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "%s takes 1 input, got %d", type, n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim != 3 || s->d[2] != a->d)
        return status_fail(err, LOCUS_ERR_ARG, "%s expects tokens N x T x %d, found %s\nhint: check the model width",
                           type, a->d, shape_format(s, b, sizeof b));
    return LOCUS_OK;
}

static Status attn_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    Status st = attention_check_input((const Attention *)l, in, n_in, err);
    if (st) return st;
    *out = in[0]->shape;
    return LOCUS_OK;
}

/* Cache floats: qkv | probs | ctx, each rounded to 16 floats. */
static size_t attn_cache_floats(const Attention *a, size_t n, size_t t, size_t *o_probs, size_t *o_ctx) {
    size_t d = (size_t)a->d;
    size_t f_qkv = round16(n * t * 3 * d), f_p = round16(n * (size_t)a->heads * t * t), f_ctx = round16(n * t * d);
    if (o_probs) *o_probs = f_qkv;
    if (o_ctx) *o_ctx = f_qkv + f_p;
    return f_qkv + f_p + f_ctx;
}

static size_t attn_cache(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)n_in;
    const Shape *s = &in[0]->shape;
    if (!training || s->ndim != 3) return 0;
    return attn_cache_floats((const Attention *)l, (size_t)s->d[0], (size_t)s->d[1], NULL, NULL) * sizeof(float);
}

static int attn_threads(int threads) { return threads < 1 ? 1 : threads; }

/* 1: the batch projections on OpenBLAS (LOCUS_LINEAR=blas, as linear.c). */
static int attn_use_blas(void) {
    const char *v = getenv("LOCUS_LINEAR");
    return v && !strcmp(v, "blas");
}

/* Floats of one thread's work area for the per-head products on the rows kernels (attn_head, head_mm): a transposed
 * operand of up to mk x pad(mk) and mk row pointers; mk = max(T, Dh). */
static size_t attn_head_floats(size_t t, size_t dh) {
    const size_t mk = t > dh ? t : dh;
    return round16(mk * (size_t)rows_pad_m((int)mk)) + round16(mk * sizeof(float *) / sizeof(float) + 1);
}

/* C (M x N, row stride ldc) = A B on the rows kernels, overwriting C. A[m][k] = a[m lda + k], or with a_t
 * a[k lda + m] (read in place either way); B[k][n] = b[k ldb + n], or with b_t b[n ldb + k] (transposed into
 * work first). work: attn_head_floats for M, N, K <= max(T, Dh). */
static void head_mm(KernelIsa isa, int M, int N, int K, const float *a, size_t lda, int a_t, const float *b,
                    size_t ldb, int b_t, float *c, size_t ldc, float *work) {
    const int mk = M > N ? (M > K ? M : K) : (N > K ? N : K), ld = rows_pad_m(mk);
    float *tr = work;
    const float **B = (const float **)(void *)(tr + round16((size_t)mk * ld));
    if (b_t) { /* tr[k][n] = b[n][k] */
        rows_transpose(isa, N, K, b, ldb, tr, (size_t)ld, ld);
        for (int k = 0; k < K; k++) B[k] = tr + (size_t)k * ld;
    } else {
        for (int k = 0; k < K; k++) B[k] = b + (size_t)k * ldb;
    }
    rows_gemm_strided(isa, M, N, K, a, a_t ? 1 : lda, a_t ? lda : 1, B, c, ldc, 0, NULL);
}

/* Scratch floats of the dense kernels for both projections (qkv: D -> 3D, proj: D -> D). */
static size_t attn_dense_floats(int d, int threads) {
    size_t a = dense_scratch_bytes(d, 3 * d, threads), b = dense_scratch_bytes(d, d, threads);
    return round16((a > b ? a : b) / sizeof(float));
}

/* Eval forward scratch: W^T of both projections, shared ([qkv | proj], dense_prepare), then per thread
 * [qkv_n (T x 3D) | P (T x T) | ctx_n (T x D) | attn_head's work]. */
static size_t attn_eval_shared_floats(int d) {
    return round16(dense_prepared_floats(d, 3 * d)) + round16(dense_prepared_floats(d, d));
}
static size_t attn_eval_thread_floats(int d, size_t t, size_t dh) {
    return round16(t * 3 * (size_t)d) + round16(t * t) + round16(t * (size_t)d) + attn_head_floats(t, dh);
}

static size_t attn_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const Shape *s = &in[0]->shape;
    if (s->ndim != 3) return 0;
    size_t n = (size_t)s->d[0], t = (size_t)s->d[1], d = (size_t)a->d, th = (size_t)attn_threads(threads);
    size_t bwd = round16(n * t * d) + round16(n * t * 3 * d) + th * round16(t * t) + attn_dense_floats(a->d, threads) +
                 th * attn_head_floats(t, d / (size_t)a->heads);
    const size_t dh = d / (size_t)a->heads, head = attn_head_floats(t, dh);
    size_t eval = attn_eval_shared_floats(a->d) + th * attn_eval_thread_floats(a->d, t, dh);
    size_t train = attn_dense_floats(a->d, threads); /* training forward: projections, then th head areas */
    if (train < th * head) train = th * head;
    if (eval < train) eval = train;
    return (bwd > eval ? bwd : eval) * sizeof(float);
}

/* y (rows x out) = x (rows x in) W^T + b, W out x in */
static void attn_linear(const float *x, int rows, int in, const float *w, const float *b, int out, float *y) {
    for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

/* One head of one sample: P (T x T) = softmax(scale q k^T), ctx_h = P v. qkv_n is T x 3D. On the rows kernels
 * (work: attn_head_floats) unless blas: S = q k^T with A = q and rows of k^T, the scale applied in the softmax;
 * ctx_h = P v with A = P and rows of v, A read in place (rows_gemm_strided). */
static void attn_head(KernelIsa isa, int blas, const float *qkv_n, int t, int d, int dh, int h, float scale, float *p,
                      float *ctx_n, float *work) {
    const float *q = qkv_n + h * dh, *k = qkv_n + d + h * dh, *v = qkv_n + 2 * d + h * dh;
    const int mk = t > dh ? t : dh, ldk = rows_pad_m(mk);
    float *kT = work;
    const float **B = (const float **)(void *)(kT + round16((size_t)mk * ldk));
    float row_scale = 1.0f;
    if (blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, scale, q, 3 * d, k, 3 * d, 0.0f, p, t);
    } else {
        rows_transpose(isa, t, dh, k, (size_t)(3 * d), kT, (size_t)ldk, ldk);
        for (int c = 0; c < dh; c++) B[c] = kT + (size_t)c * ldk;
        rows_gemm_strided(isa, t, t, dh, q, (size_t)(3 * d), 1, B, p, (size_t)t, 0, NULL);
        row_scale = scale;
    }
    for (int i = 0; i < t; i++) softmax_row(isa, p + (size_t)i * t, (size_t)t, row_scale);
    if (blas) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, 1.0f, p, t, v, 3 * d, 0.0f, ctx_n + h * dh, d);
        return;
    }
    for (int j = 0; j < t; j++) B[j] = v + (size_t)j * 3 * d;
    rows_gemm_strided(isa, t, dh, t, p, (size_t)t, 1, B, ctx_n + h * dh, (size_t)d, 0, NULL);
}

static void attn_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                         void *cache) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = a->d, hh = a->heads, dh = d / hh;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *x = in[0]->data;
    const float *wq = params_value(ctx->params, a->qkv_w), *bq = params_value(ctx->params, a->qkv_b);
    const float *wp = params_value(ctx->params, a->proj_w), *bp = params_value(ctx->params, a->proj_b);
    float *y = out->data;
    const size_t tqkv = (size_t)t * 3 * d, ttd = (size_t)t * d, ttt = (size_t)t * t;
    if (cache) {
        size_t o_p, o_ctx;
        attn_cache_floats(a, (size_t)n, (size_t)t, &o_p, &o_ctx);
        float *qkv = cache, *probs = (float *)cache + o_p, *cx = (float *)cache + o_ctx;
        const int blas = attn_use_blas();
        CHECK(blas || attn_dense_floats(d, ctx->threads) * sizeof(float) <= ctx->scratch_bytes, "%s: scratch too small",
              l->name);
        if (blas) attn_linear(x, n * t, d, wq, bq, 3 * d, qkv);
        else dense_forward(kernel_isa(), ctx->threads, n * t, d, 3 * d, x, wq, bq, qkv, ctx->scratch);
        const KernelIsa isa = kernel_isa();
        const size_t hw = attn_head_floats((size_t)t, (size_t)dh);
        CHECK((size_t)attn_threads(ctx->threads) * hw * sizeof(float) <= ctx->scratch_bytes, "%s: scratch too small",
              l->name);
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
        for (int nh = 0; nh < n * hh; nh++) {
            int s = nh / hh, h = nh % hh;
            attn_head(isa, blas, qkv + s * tqkv, t, d, dh, h, scale, probs + (size_t)nh * ttt, cx + s * ttd,
                      ctx->scratch + (size_t)omp_get_thread_num() * hw);
        }
        if (blas) attn_linear(cx, n * t, d, wp, bp, d, y);
        else dense_forward(kernel_isa(), ctx->threads, n * t, d, d, cx, wp, bp, y, ctx->scratch);
        return;
    }
    /* eval: one sample at a time per thread, on scratch (the projections on the dense kernels, one thread each,
     * their W^T written once per call) */
    const size_t per = attn_eval_thread_floats(d, (size_t)t, (size_t)dh);
    const int blas = attn_use_blas();
    const KernelIsa isa = kernel_isa();
    CHECK((attn_eval_shared_floats(d) + (size_t)attn_threads(ctx->threads) * per) * sizeof(float) <=
              ctx->scratch_bytes,
          "%s: scratch too small", l->name);
    const float *const *btq = NULL, *const *btp = NULL;
    if (!blas) {
        btq = dense_prepare(isa, d, 3 * d, wq, ctx->scratch);
        btp = dense_prepare(isa, d, d, wp, ctx->scratch + round16(dense_prepared_floats(d, 3 * d)));
    }
    float *threads_base = ctx->scratch + attn_eval_shared_floats(d);
#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int s = 0; s < n; s++) {
        float *qkv = threads_base + (size_t)omp_get_thread_num() * per;
        float *p = qkv + round16(tqkv), *cx = p + round16(ttt), *hw = cx + round16(ttd);
        if (blas) attn_linear(x + s * ttd, t, d, wq, bq, 3 * d, qkv);
        else dense_forward_prepared(isa, 1, t, d, 3 * d, x + s * ttd, btq, bq, qkv);
        for (int h = 0; h < hh; h++) attn_head(isa, blas, qkv, t, d, dh, h, scale, p, cx, hw);
        if (blas) attn_linear(cx, t, d, wp, bp, d, y + s * ttd);
        else dense_forward_prepared(isa, 1, t, d, d, cx, btp, bp, y + s * ttd);
    }
}

/* g[j] += sum over rows of m (rows x cols), columns in blocks, rows in order */
static void attn_colsum(const float *m, int rows, int cols, float *g, int threads) {
    const int nblk = (cols + 15) / 16;
#pragma omp parallel for schedule(static) num_threads(threads) if ((size_t)rows * cols > 32768)
    for (int bk = 0; bk < nblk; bk++) {
        const int j0 = bk * 16, j1 = j0 + 16 < cols ? j0 + 16 : cols;
        dense_colsum_add(m, rows, (size_t)cols, j0, j1, g);
    }
}

static void attn_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)n_in;
    const Attention *a = (const Attention *)l;
    const int n = in[0]->shape.d[0], t = in[0]->shape.d[1], d = a->d, hh = a->heads, dh = d / hh, nt = n * t;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *x = in[0]->data, *dy = out->grad;
    const float *wq = params_value(ctx->params, a->qkv_w), *wp = params_value(ctx->params, a->proj_w);
    float *dwq = params_grad(ctx->params, a->qkv_w), *dbq = params_grad(ctx->params, a->qkv_b);
    float *dwp = params_grad(ctx->params, a->proj_w), *dbp = params_grad(ctx->params, a->proj_b);
    float *dx = in[0]->grad;
    size_t o_p, o_ctx;
    attn_cache_floats(a, (size_t)n, (size_t)t, &o_p, &o_ctx);
    const float *qkv = cache, *probs = (const float *)cache + o_p, *cx = (const float *)cache + o_ctx;
    const size_t tqkv = (size_t)t * 3 * d, ttd = (size_t)t * d, ttt = (size_t)t * t;
    float *dcx = ctx->scratch, *dqkv = dcx + round16((size_t)nt * d), *dpbase = dqkv + round16((size_t)nt * 3 * d);
    const size_t hw = attn_head_floats((size_t)t, (size_t)dh);
    CHECK((size_t)(dpbase + (size_t)attn_threads(ctx->threads) * round16(ttt) - ctx->scratch +
                   attn_dense_floats(d, ctx->threads) + (size_t)attn_threads(ctx->threads) * hw) * sizeof(float) <=
              ctx->scratch_bytes,
          "%s: scratch too small", l->name);

    float *dense_scratch = dpbase + (size_t)attn_threads(ctx->threads) * round16(ttt);
    float *head_work = dense_scratch + attn_dense_floats(d, ctx->threads);
    const int blas = attn_use_blas(), dense = !blas && dense_dw_ok(d);
    const KernelIsa isa = kernel_isa();
    if (dense) {
        dense_backward(kernel_isa(), ctx->threads, nt, d, d, cx, wp, dy, dcx, 1, dwp, dbp, dense_scratch);
    } else {
        if (dwp) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, nt, 1.0f, dy, d, cx, d, 1.0f, dwp, d);
        if (dbp) attn_colsum(dy, nt, d, dbp, ctx->threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nt, d, d, 1.0f, dy, d, wp, d, 0.0f, dcx, d);
    }

#pragma omp parallel for schedule(static) num_threads(ctx->threads)
    for (int nh = 0; nh < n * hh; nh++) {
        int s = nh / hh, h = nh % hh;
        float *dp = dpbase + (size_t)omp_get_thread_num() * round16(ttt);
        const float *p = probs + (size_t)nh * ttt, *qkv_n = qkv + s * tqkv, *dc = dcx + s * ttd + h * dh;
        const float *q = qkv_n + h * dh, *k = q + d, *v = q + 2 * d;
        float *dq = dqkv + s * tqkv + h * dh, *dk = dq + d, *dv = dq + 2 * d;
        float *work = head_work + (size_t)omp_get_thread_num() * hw;
        if (blas) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, dh, 1.0f, dc, d, v, 3 * d, 0.0f, dp, t);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, 1.0f, p, t, dc, d, 0.0f, dv, 3 * d);
        } else {
            head_mm(isa, t, t, dh, dc, (size_t)d, 0, v, (size_t)(3 * d), 1, dp, (size_t)t, work);       /* dc v^T */
            head_mm(isa, t, dh, t, p, (size_t)t, 1, dc, (size_t)d, 0, dv, (size_t)(3 * d), work);       /* P^T dc */
        }
        for (int i = 0; i < t; i++) softmax_grad_row(isa, p + (size_t)i * t, dp + (size_t)i * t, (size_t)t, scale);
        if (blas) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, dh, t, 1.0f, dp, t, k, 3 * d, 0.0f, dq, 3 * d);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, dh, t, 1.0f, dp, t, q, 3 * d, 0.0f, dk, 3 * d);
        } else {
            head_mm(isa, t, dh, t, dp, (size_t)t, 0, k, (size_t)(3 * d), 0, dq, (size_t)(3 * d), work); /* dS k */
            head_mm(isa, t, dh, t, dp, (size_t)t, 1, q, (size_t)(3 * d), 0, dk, (size_t)(3 * d), work); /* dS^T q */
        }
    }

    if (dense) {
        dense_backward(kernel_isa(), ctx->threads, nt, d, 3 * d, x, wq, dqkv, dx, 0, dwq, dbq, dense_scratch);
        return;
    }
    if (dwq) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 3 * d, d, nt, 1.0f, dqkv, 3 * d, x, d, 1.0f, dwq, d);
    if (dbq) attn_colsum(dqkv, nt, 3 * d, dbq, ctx->threads);
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nt, d, 3 * d, 1.0f, dqkv, 3 * d, wq, d, 1.0f, dx, d);
}

static const LayerOps attn_ops = {.type = "attention",
                                  .out_shape = attn_shape,
                                  .cache_bytes = attn_cache,
                                  .scratch_bytes = attn_scratch,
                                  .forward = attn_forward,
                                  .backward = attn_backward};

void attention_init(Attention *l, ParamStore *ps, const char *name, int d, int heads) {
    CHECK(d >= 1 && heads >= 1 && d % heads == 0, "attention %s: width %d is not divisible by %d heads", name, d,
          heads);
    layer_set_name(&l->base, &attn_ops, name);
    l->d = d;
    l->heads = heads;
    char pn[128];
    snprintf(pn, sizeof pn, "%s.qkv.weight", name);
    l->qkv_w = params_add(ps, pn, shape2(3 * d, d), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.qkv.bias", name);
    l->qkv_b = params_add(ps, pn, shape1(3 * d), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.proj.weight", name);
    l->proj_w = params_add(ps, pn, shape2(d, d), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.proj.bias", name);
    l->proj_b = params_add(ps, pn, shape1(d), PARAM_TRAINABLE);
}

const float *attention_cached_probs(const Attention *l, const void *cache, int n_batch, int t, int n, int h) {
    size_t o_p;
    attn_cache_floats(l, (size_t)n_batch, (size_t)t, &o_p, NULL);
    return (const float *)cache + o_p + ((size_t)n * l->heads + h) * (size_t)t * t;
}
