/* linear.c — y = x W^T + b over R = numel / in rows (see linear.h).
 *
 * Two engines. By default locus's kernels (src/kernels/dense.h: the rows_* products on the AVX-512 / AVX2 / C
 * path of isa.h); the weight gradient falls back to OpenBLAS when `in` is not a multiple of 16. LOCUS_LINEAR=blas
 * selects OpenBLAS for everything (kept as a second implementation to compare against; below).
 *
 * The OpenBLAS engine:
 * Threads: the work is split by hand inside one OpenMP region of ctx->threads threads (OpenBLAS runs
 * single-threaded inside it). Forward and dx split the rows; dW and db split the output features, so
 * every thread owns a disjoint block of the parameter gradient and no reduction is needed:
 *   y[r0:r1]      = x[r0:r1] W^T + b
 *   dx[r0:r1]    += dy[r0:r1] W
 *   dW[o0:o1, :] += dy[:, o0:o1]^T x,   db[o0:o1] += colsum(dy[:, o0:o1])
 * Small problems run on one thread (the fork costs more than the work). */
#include "layers/linear.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dense.h"
#include "locus/init.h"

/* 1: the OpenBLAS engine (LOCUS_LINEAR=blas); 0: locus's kernels (unset, or LOCUS_LINEAR=rows). */
static int linear_use_blas(void) {
    const char *v = getenv("LOCUS_LINEAR");
    return v && !strcmp(v, "blas");
}

static size_t linear_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)in, (void)n_in;
    const Linear *f = (const Linear *)l;
    return dense_scratch_bytes(f->in, f->out, threads);
}

/* Threads worth using for R x in x out multiply-adds. */
static int linear_threads(const StepCtx *ctx, size_t rows, int in, int out) {
    double work = (double)rows * in * out;
    return work < 262144.0 || ctx->threads < 1 ? 1 : ctx->threads;
}

/* [lo, hi) of n items for part t of T. */
static void split(int n, int t, int T, int *lo, int *hi) {
    *lo = (int)((long long)n * t / T);
    *hi = (int)((long long)n * (t + 1) / T);
}

static Status linear_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const Linear *f = (const Linear *)l;
    char b[64];
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "linear takes 1 input, got %d", n_in);
    const Shape *s = &in[0]->shape;
    if (s->ndim < 2 || s->ndim > 4 || s->d[s->ndim - 1] != f->in)
        return status_fail(err, LOCUS_ERR_ARG,
                           "linear expects input (..., %d) of rank 2 to 4, found %s\nhint: check the previous "
                           "layer's output width, or flatten/pool the input first",
                           f->in, shape_format(s, b, sizeof b));
    *out = *s;
    out->d[s->ndim - 1] = f->out;
    return LOCUS_OK;
}

/* in[0]: R x in (any leading dims); out: R x out. */
static void linear_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                           void *cache) {
    (void)n_in, (void)cache;
    const Linear *f = (const Linear *)l;
    const int R = (int)(tensor_numel(in[0]) / f->in), T = linear_threads(ctx, R, f->in, f->out);
    const float *W = params_value(ctx->params, f->w), *bias = f->b >= 0 ? params_value(ctx->params, f->b) : NULL;
    const float *x = in[0]->data;
    float *y = out->data;
    if (!linear_use_blas()) {
        CHECK(ctx->scratch_bytes >= dense_scratch_bytes(f->in, f->out, ctx->threads), "%s: scratch too small", l->name);
        dense_forward(kernel_isa(), T, R, f->in, f->out, x, W, bias, y, ctx->scratch);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        int r0, r1;
        split(R, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        if (r1 > r0) {
            float beta = 0.0f;
            if (bias) {
                for (int r = r0; r < r1; r++) memcpy(y + (size_t)r * f->out, bias, sizeof(float) * f->out);
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, f->out, f->in, 1.0f, x + (size_t)r0 * f->in,
                        f->in, W, f->in, beta, y + (size_t)r0 * f->out, f->out);
        }
    }
}

/* Reads out->grad (R x out) and in[0]->data; writes in[0]->grad (if non-NULL; overwritten when fresh, else
 * accumulated: grad_overwrite, which spares the tape a zeroing pass), accumulates into dW and db. */
static void linear_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                            const void *cache) {
    (void)n_in, (void)cache;
    const Linear *f = (const Linear *)l;
    const int R = (int)(tensor_numel(in[0]) / f->in), T = linear_threads(ctx, R, f->in, f->out);
    const float *W = params_value(ctx->params, f->w), *x = in[0]->data, *dy = out->grad;
    float *gW = params_grad(ctx->params, f->w), *gb = f->b >= 0 ? params_grad(ctx->params, f->b) : NULL;
    float *dx = in[0]->grad;
    const int fresh = dx && layer_grad_overwrite(in[0]);
    if (!linear_use_blas() && (!gW || dense_dw_ok(f->in))) {
        CHECK(ctx->scratch_bytes >= dense_scratch_bytes(f->in, f->out, ctx->threads), "%s: scratch too small", l->name);
        dense_backward(kernel_isa(), T, R, f->in, f->out, x, W, dy, dx, fresh, gW, gb, ctx->scratch);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo, hi;
        if (dx) {
            split(R, t, nt, &lo, &hi);
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, f->in, f->out, 1.0f,
                            dy + (size_t)lo * f->out, f->out, W, f->in, fresh ? 0.0f : 1.0f, dx + (size_t)lo * f->in,
                            f->in);
        }
        split(f->out, t, nt, &lo, &hi);
        if (gW && hi > lo)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, f->in, R, 1.0f, dy + lo, f->out, x, f->in,
                        1.0f, gW + (size_t)lo * f->in, f->in);
        if (gb)
            for (int o = lo; o < hi; o++) {
                float acc = 0.0f;
                for (int r = 0; r < R; r++) acc += dy[(size_t)r * f->out + o];
                gb[o] += acc;
            }
    }
}

static const LayerOps linear_ops = {
    .type = "linear", .out_shape = linear_shape, .scratch_bytes = linear_scratch, .forward = linear_forward,
    .backward = linear_backward, .grad_overwrite = 1};

void linear_init(Linear *l, ParamStore *ps, const char *name, int in, int out, int bias) {
    CHECK(in >= 1 && out >= 1, "linear %s: in=%d out=%d", name, in, out);
    memset(l, 0, sizeof *l);
    layer_set_name(&l->base, &linear_ops, name);
    l->in = in, l->out = out;
    char pn[128];
    snprintf(pn, sizeof pn, "%s.weight", name);
    l->w = params_add(ps, pn, shape2(out, in), PARAM_TRAINABLE);
    l->b = -1;
    if (bias) {
        snprintf(pn, sizeof pn, "%s.bias", name);
        l->b = params_add(ps, pn, shape1(out), PARAM_TRAINABLE);
    }
}

void linear_init_weights(const Linear *l, ParamStore *ps, Rng *rng) {
    const float bound = 1.0f / sqrtf((float)l->in);
    init_uniform(params_value(ps, l->w), params_numel(ps, l->w), bound, rng);
    if (l->b >= 0) init_uniform(params_value(ps, l->b), params_numel(ps, l->b), bound, rng);
}
