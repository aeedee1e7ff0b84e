/* conv2d.c — the 2-D convolution layer: shapes, parameters, and the choice of engine.
 *
 * Two engines compute it. By default locus's own kernels (conv2d_direct.c: shifted planes + register-tiled
 * AVX-512 / AVX2 / C products, src/kernels/). LOCUS_CONV=gemm in the environment selects the engine below,
 * im2col + GEMM (OpenBLAS), kept as a second implementation to compare against (tests, benchmarks); the
 * scratch size covers both, so the variable may change between planning and running.
 *
 * The GEMM engine: one GEMM per sample, samples spread over
 * OpenMP threads (OpenBLAS runs single-threaded inside an active parallel region, which is what we want:
 * the parallelism is ours and the thread count is ctx->threads).
 *
 * Per sample n (P = Ho * Wo, KK = Cin * k * k, col = im2col(x_n), KK x P):
 *   forward   y_n (Cout x P)  = W (Cout x KK) . col + b
 *   backward  dW^T (KK x Cout) += col . dy_n^T         (into a per-thread partial, reduced at the end)
 *             db  (Cout)       += rowsum(dy_n)
 *             dx_n            += col2im(W^T . dy_n)    (samples are disjoint: no race)
 * 1x1, stride 1, pad 0: col is x_n itself (Cin x H*W), so no im2col and dx_n += W^T . dy_n directly.
 *
 * The weight gradient is accumulated transposed (KK x Cout): OpenBLAS runs that shape (M = KK, N = Cout,
 * K = P) about 1.2x faster than Cout x KK (16 -> 16 3x3 on 32x32: 82 vs 67 GFLOP/s on one core), and the
 * transpose is free in the final reduction.
 *
 * Scratch layout (floats, each piece rounded up to 16 floats = 64 bytes), T = min(threads, N):
 *   [ col_0 | ... | col_{T-1} | dW^T_0 db_0 | ... | dW^T_{T-1} db_{T-1} ]
 * The reduction order is fixed for a given T, so results are deterministic for a thread count; forward
 * and dx do not depend on T at all (each sample is computed the same way by whichever thread). */
#include "layers/conv.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv_planes.h"
#include "layers/conv_direct.h"
#include "locus/init.h"

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static int conv_out_dim(int h, int k, int s, int p) { return (h + 2 * p - k) / s + 1; }

static int conv_is_1x1(const Conv2d *c) { return c->k == 1 && c->stride == 1 && c->pad == 0; }

static int conv_threads(int threads, int n) {
    int t = threads < n ? threads : n;
    return t < 1 ? 1 : t;
}

/* Scratch floats per thread for the col buffer, and for the dW/db partial. */
static size_t conv_col_floats(const Conv2d *c, int ho, int wo) {
    return conv_is_1x1(c) ? 0 : round16((size_t)c->cin * c->k * c->k * (size_t)ho * wo);
}
static size_t conv_part_floats(const Conv2d *c) {
    return round16((size_t)c->cout * c->cin * c->k * c->k) + round16((size_t)c->cout);
}

static Status conv_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Conv2d *c = (const Conv2d *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "conv2d takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || s->d[1] != c->cin)
        return status_fail(err, LOCUS_ERR_ARG,
                           "conv2d expects input N x %d x H x W, found %s\nhint: check the previous layer's "
                           "output channels",
                           c->cin, shape_format(s, b, sizeof b));
    if (s->d[2] + 2 * c->pad < c->k || s->d[3] + 2 * c->pad < c->k)
        return status_fail(err, LOCUS_ERR_ARG,
                           "conv2d input %s is smaller than its %dx%d kernel with padding %d\nhint: use a "
                           "larger input or fewer downsampling stages",
                           shape_format(s, b, sizeof b), c->k, c->k, c->pad);
    *out = shape4(s->d[0], c->cout, conv_out_dim(s->d[2], c->k, c->stride, c->pad),
                  conv_out_dim(s->d[3], c->k, c->stride, c->pad));
    return LOCUS_OK;
}

/* Scratch of the GEMM engine. */
static size_t conv_gemm_scratch(const Conv2d *c, const Shape *s, int threads) {
    int ho = conv_out_dim(s->d[2], c->k, c->stride, c->pad), wo = conv_out_dim(s->d[3], c->k, c->stride, c->pad);
    int t = conv_threads(threads, s->d[0]);
    return (size_t)t * (conv_col_floats(c, ho, wo) + conv_part_floats(c)) * sizeof(float);
}

/* The larger of the two engines' needs, so LOCUS_CONV may change after planning. */
static size_t conv_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in;
    const Conv2d *c = (const Conv2d *)l;
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || s->d[2] + 2 * c->pad < c->k || s->d[3] + 2 * c->pad < c->k)
        return 0; /* out_shape reports the error */
    size_t g = conv_gemm_scratch(c, s, threads), d = conv_direct_scratch(c, s->d[0], s->d[2], s->d[3], threads);
    return g > d ? g : d;
}

/* 1: the GEMM engine (LOCUS_CONV=gemm); 0: locus's kernels (unset, or LOCUS_CONV=direct). */
static int conv_use_gemm(void) {
    const char *v = getenv("LOCUS_CONV");
    return v && !strcmp(v, "gemm");
}

/* in[0]: N x Cin x H x W; out: N x Cout x Ho x Wo; cache unused. Scratch: T col buffers. */
static void conv_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const Conv2d *c = (const Conv2d *)l;
    if (!conv_use_gemm()) {
        conv_direct_forward(c, ctx, in[0], out);
        return;
    }
    const Shape *s = &in[0]->shape;
    const int n = s->d[0], h = s->d[2], w = s->d[3], ho = out->shape.d[2], wo = out->shape.d[3];
    const int kk = c->cin * c->k * c->k, P = ho * wo, T = conv_threads(ctx->threads, n);
    const size_t colf = conv_col_floats(c, ho, wo);
    CHECK(ctx->scratch_bytes >= conv_scratch(l, in, 1, ctx->threads), "%s: scratch too small", l->name);
    const float *W = params_value(ctx->params, c->w);
    const float *bias = c->b >= 0 ? params_value(ctx->params, c->b) : NULL;
    const float *x = in[0]->data;
    float *y = out->data;
#pragma omp parallel for schedule(static) num_threads(T)
    for (int i = 0; i < n; i++) {
        float *col = ctx->scratch + (size_t)omp_get_thread_num() * colf;
        const float *xn = x + (size_t)i * c->cin * h * w;
        float *yn = y + (size_t)i * c->cout * P;
        if (colf)
            conv_im2col(KERNEL_ISA_GENERIC, xn, c->cin, h, w, c->k, c->stride, c->pad, ho, wo, col);
        else
            col = (float *)xn;
        float beta = 0.0f;
        if (bias) {
            for (int o = 0; o < c->cout; o++)
                for (int q = 0; q < P; q++) yn[(size_t)o * P + q] = bias[o];
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, P, kk, 1.0f, W, kk, col, P, beta, yn, P);
    }
}

/* Sum of a row of n floats, in 8 independent lanes (vectorisable, and a fixed order). */
static float row_sum(const float *restrict v, int n) {
    float lane[8] = {0};
    int q = 0;
    for (; q + 8 <= n; q += 8)
        for (int j = 0; j < 8; j++) lane[j] += v[q + j];
    float acc = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    for (; q < n; q++) acc += v[q];
    return acc;
}

/* Reads out->grad (N x Cout x Ho x Wo) and in[0]->data; accumulates into in[0]->grad (if non-NULL),
 * the weight gradient and the bias gradient. */
static void conv_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)n_in, (void)cache;
    const Conv2d *c = (const Conv2d *)l;
    if (!conv_use_gemm()) {
        conv_direct_backward(c, ctx, in[0], out);
        return;
    }
    const Shape *s = &in[0]->shape;
    const int n = s->d[0], h = s->d[2], w = s->d[3], ho = out->shape.d[2], wo = out->shape.d[3];
    const int kk = c->cin * c->k * c->k, P = ho * wo, T = conv_threads(ctx->threads, n);
    const size_t colf = conv_col_floats(c, ho, wo), partf = conv_part_floats(c);
    const size_t bofs = round16((size_t)c->cout * kk);
    CHECK(ctx->scratch_bytes >= conv_scratch(l, in, 1, ctx->threads), "%s: scratch too small", l->name);
    const float *W = params_value(ctx->params, c->w);
    float *gW = params_grad(ctx->params, c->w);
    float *gb = c->b >= 0 ? params_grad(ctx->params, c->b) : NULL;
    const float *x = in[0]->data, *dy = out->grad;
    float *dx = in[0]->grad;
    const int overwrite = dx && layer_grad_overwrite(in[0]);
    float *parts = ctx->scratch + (size_t)T * colf;
#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num();
        float *col = ctx->scratch + (size_t)tid * colf;
        float *pwt = parts + (size_t)tid * partf, *pb = pwt + bofs; /* dW^T (KK x Cout), db (Cout) */
        memset(pwt, 0, sizeof(float) * partf);
#pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            const float *xn = x + (size_t)i * c->cin * h * w;
            const float *dyn = dy + (size_t)i * c->cout * P;
            const float *cn = xn;
            if (gW && colf) {
                conv_im2col(KERNEL_ISA_GENERIC, xn, c->cin, h, w, c->k, c->stride, c->pad, ho, wo, col);
                cn = col;
            }
            if (gW)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kk, c->cout, P, 1.0f, cn, P, dyn, P, 1.0f, pwt,
                            c->cout);
            if (gb)
                for (int o = 0; o < c->cout; o++) pb[o] += row_sum(dyn + (size_t)o * P, P);
            if (dx) {
                float *dxn = dx + (size_t)i * c->cin * h * w;
                if (overwrite) memset(dxn, 0, sizeof(float) * (size_t)c->cin * h * w);
                if (colf) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, P, c->cout, 1.0f, W, kk, dyn, P, 0.0f,
                                col, P);
                    conv_col2im_add(KERNEL_ISA_GENERIC, col, c->cin, h, w, c->k, c->stride, c->pad, ho, wo, dxn);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, P, c->cout, 1.0f, W, kk, dyn, P, 1.0f,
                                dxn, P);
                }
            }
        }
        /* the implicit barrier of the loop above makes every partial complete; threads sum them in
         * thread order and transpose dW^T back to Cout x KK */
        if (gW) {
#pragma omp for schedule(static)
            for (int o = 0; o < c->cout; o++)
                for (int j = 0; j < kk; j++) {
                    float acc = 0.0f;
                    for (int t = 0; t < T; t++) acc += parts[(size_t)t * partf + (size_t)j * c->cout + o];
                    gW[(size_t)o * kk + j] += acc;
                }
        }
        if (gb) {
#pragma omp single
            for (int o = 0; o < c->cout; o++) {
                float acc = 0.0f;
                for (int t = 0; t < T; t++) acc += parts[(size_t)t * partf + bofs + o];
                gb[o] += acc;
            }
        }
    }
}

static const LayerOps conv2d_ops = {.type = "conv2d",
                                    .out_shape = conv_shape,
                                    .scratch_bytes = conv_scratch,
                                    .forward = conv_forward,
                                    .backward = conv_backward,
                                    .grad_overwrite = 1};

void conv2d_init(Conv2d *l, ParamStore *ps, const char *name, int cin, int cout, int k, int stride, int pad,
                 int bias) {
    CHECK(cin >= 1 && cout >= 1 && k >= 1 && stride >= 1 && pad >= 0,
          "conv2d %s: bad geometry cin=%d cout=%d k=%d stride=%d pad=%d", name, cin, cout, k, stride, pad);
    memset(l, 0, sizeof *l);
    layer_set_name(&l->base, &conv2d_ops, name);
    l->cin = cin, l->cout = cout, l->k = k, l->stride = stride, l->pad = pad;
    char pn[128];
    snprintf(pn, sizeof pn, "%s.weight", name);
    l->w = params_add(ps, pn, shape4(cout, cin, k, k), PARAM_TRAINABLE);
    l->b = -1;
    if (bias) {
        snprintf(pn, sizeof pn, "%s.bias", name);
        l->b = params_add(ps, pn, shape1(cout), PARAM_TRAINABLE);
    }
}

void conv2d_init_weights(const Conv2d *l, ParamStore *ps, Rng *rng) {
    init_normal(params_value(ps, l->w), params_numel(ps, l->w), sqrtf(2.0f / (float)(l->k * l->k * l->cout)), rng);
    if (l->b >= 0)
        init_uniform(params_value(ps, l->b), params_numel(ps, l->b), 1.0f / sqrtf((float)(l->cin * l->k * l->k)),
                     rng);
}
