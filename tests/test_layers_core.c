/* test_layers_core.c — forward values of the core layers against hand-computed (and PyTorch-confirmed)
 * numbers, conv2d against a naive double-precision reference (forward and backward, 1 and 2 threads,
 * every code path), and the shape errors. Layers are driven through their ops directly, the way the
 * tape drives them, so each test sees exactly one layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/merge.h"
#include "layers/norm.h"
#include "locus/init.h"

#include "expect.h"

static void expect_close(const char *what, const float *got, const float *want, size_t n, double tol) {
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs((double)want[i])))) {
            printf("FAIL %s[%zu]: got %.7g want %.7g\n", what, i, got[i], want[i]);
            expect_failures++;
            return;
        }
}

#define SCRATCH_BYTES ((size_t)8 << 20)

static StepCtx make_ctx(ParamStore *ps, int training, int threads) {
    StepCtx ctx = {0};
    ctx.params = ps;
    ctx.training = training;
    ctx.threads = threads;
    ctx.scratch_bytes = SCRATCH_BYTES;
    ctx.scratch = aligned_alloc(64, SCRATCH_BYTES);
    CHECK(ctx.scratch, "out of memory");
    return ctx;
}

static Tensor tensor_of(Shape s, const float *values) {
    Tensor t = {0};
    t.shape = s;
    t.data = calloc(shape_numel(&s), sizeof(float));
    if (values) memcpy(t.data, values, shape_numel(&s) * sizeof(float));
    return t;
}

static void tensor_release(Tensor *t) {
    free(t->data);
    free(t->grad);
    t->data = t->grad = NULL;
}

/* out_shape + cache + forward, as tape_call does; returns the cache (caller frees). */
static void *run_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out) {
    ErrorMsg err;
    Shape s;
    CHECK(l->ops->out_shape(l, in, n_in, &s, &err) == LOCUS_OK, "%s", err.text);
    size_t sb = l->ops->scratch_bytes ? l->ops->scratch_bytes(l, in, n_in, ctx->threads) : 0;
    CHECK(sb <= ctx->scratch_bytes, "scratch %zu", sb);
    *out = tensor_of(s, NULL);
    size_t cb = l->ops->cache_bytes ? l->ops->cache_bytes(l, in, n_in, ctx->training) : 0;
    void *cache = cb ? malloc(cb) : NULL;
    l->ops->forward(l, ctx, in, n_in, out, cache);
    return cache;
}

static void finalize(ParamStore *ps) {
    ErrorMsg err;
    CHECK(params_finalize(ps, &err) == LOCUS_OK, "%s", err.text);
}

/* 3x3 conv, weights 1..9, bias 0.5, on the 3x3 image 1..9 (cross-correlation, as PyTorch):
 * centre = sum i*i = 285 (+0.5); top-left = 5*1 + 6*2 + 8*4 + 9*5 = 94 (+0.5). */
static void test_conv_known(void) {
    static const float want_s1[] = {94.5f, 154.5f, 106.5f, 186.5f, 285.5f, 186.5f, 106.5f, 154.5f, 94.5f};
    static const float want_s2[] = {94.5f, 106.5f, 106.5f, 94.5f};
    for (int stride = 1; stride <= 2; stride++) {
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        Conv2d c;
        conv2d_init(&c, &ps, "conv", 1, 1, 3, stride, 1, 1);
        finalize(&ps);
        float v[9];
        for (int i = 0; i < 9; i++) v[i] = (float)(i + 1);
        memcpy(params_value(&ps, c.w), v, sizeof v);
        params_value(&ps, c.b)[0] = 0.5f;
        StepCtx ctx = make_ctx(&ps, 1, 1);
        Tensor x = tensor_of(shape4(1, 1, 3, 3), v), y;
        Tensor *in[1] = {&x};
        run_forward(&c.base, &ctx, in, 1, &y);
        EXPECT(y.shape.d[2] == 4 - stride && y.shape.d[3] == 4 - stride, "conv stride %d output shape", stride);
        expect_close(stride == 1 ? "conv3x3 s1" : "conv3x3 s2", y.data, stride == 1 ? want_s1 : want_s2,
                     stride == 1 ? 9 : 4, 1e-6);
        tensor_release(&x);
        tensor_release(&y);
        free(ctx.scratch);
        params_free(&ps);
    }
    /* 1x1 fast path, 2 -> 2 channels: y_o = sum_c w[o][c] x_c, w = [[1, 10], [100, 1000]] */
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Conv2d c;
    conv2d_init(&c, &ps, "conv", 2, 2, 1, 1, 0, 0);
    finalize(&ps);
    static const float w[] = {1, 10, 100, 1000}, xv[] = {1, 2, 3, 4}, want[] = {31, 42, 3100, 4200};
    memcpy(params_value(&ps, c.w), w, sizeof w);
    StepCtx ctx = make_ctx(&ps, 1, 1);
    Tensor x = tensor_of(shape4(1, 2, 1, 2), xv), y;
    Tensor *in[1] = {&x};
    run_forward(&c.base, &ctx, in, 1, &y);
    expect_close("conv1x1", y.data, want, 4, 1e-6);
    tensor_release(&x);
    tensor_release(&y);
    free(ctx.scratch);
    params_free(&ps);
}

/* Naive conv in double: y[n][o][i][j] = b[o] + sum_{c,u,v} w[o][c][u][v] x[n][c][i s - p + u][j s - p + v]. */
typedef struct Geo {
    int n, cin, h, w, cout, k, s, p, bias;
} Geo;

static double xat(const float *x, const Geo *g, int n, int c, int i, int j) {
    if (i < 0 || j < 0 || i >= g->h || j >= g->w) return 0.0;
    return x[(((size_t)n * g->cin + c) * g->h + i) * g->w + j];
}

static void test_conv_reference(void) {
    static const Geo geos[] = {
        {3, 3, 7, 6, 4, 3, 1, 1, 1}, {3, 3, 7, 6, 4, 3, 2, 1, 0}, {2, 4, 5, 5, 3, 1, 1, 0, 1},
        {3, 4, 6, 5, 5, 1, 2, 0, 0}, {2, 2, 6, 8, 3, 2, 2, 0, 1}, {5, 2, 9, 4, 2, 5, 3, 2, 1},
    };
    for (size_t gi = 0; gi < sizeof geos / sizeof geos[0]; gi++) {
        const Geo *g = &geos[gi];
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        Conv2d c;
        conv2d_init(&c, &ps, "conv", g->cin, g->cout, g->k, g->s, g->p, g->bias);
        finalize(&ps);
        Rng rng;
        rng_seed(&rng, 7 + gi);
        conv2d_init_weights(&c, &ps, &rng);
        const float *W = params_value(&ps, c.w), *B = g->bias ? params_value(&ps, c.b) : NULL;
        Tensor x = tensor_of(shape4(g->n, g->cin, g->h, g->w), NULL);
        for (size_t i = 0; i < tensor_numel(&x); i++) x.data[i] = rng_normal(&rng);
        const int ho = (g->h + 2 * g->p - g->k) / g->s + 1, wo = (g->w + 2 * g->p - g->k) / g->s + 1;
        const size_t ny = (size_t)g->n * g->cout * ho * wo, nw = params_numel(&ps, c.w);
        float *dy = malloc(ny * sizeof(float)), *ref_y = malloc(ny * sizeof(float));
        float *ref_dx = calloc(tensor_numel(&x), sizeof(float)), *ref_dw = calloc(nw, sizeof(float));
        float ref_db[8] = {0};
        for (size_t i = 0; i < ny; i++) dy[i] = rng_normal(&rng);
        for (int n = 0; n < g->n; n++)
            for (int o = 0; o < g->cout; o++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++) {
                        const size_t yi = (((size_t)n * g->cout + o) * ho + i) * wo + j;
                        double acc = B ? B[o] : 0.0;
                        for (int ci = 0; ci < g->cin; ci++)
                            for (int u = 0; u < g->k; u++)
                                for (int v = 0; v < g->k; v++) {
                                    const size_t wi = (((size_t)o * g->cin + ci) * g->k + u) * g->k + v;
                                    const int ii = i * g->s - g->p + u, jj = j * g->s - g->p + v;
                                    acc += W[wi] * xat(x.data, g, n, ci, ii, jj);
                                    ref_dw[wi] += (float)(dy[yi] * xat(x.data, g, n, ci, ii, jj));
                                    if (ii >= 0 && jj >= 0 && ii < g->h && jj < g->w)
                                        ref_dx[(((size_t)n * g->cin + ci) * g->h + ii) * g->w + jj] += W[wi] * dy[yi];
                                }
                        ref_y[yi] = (float)acc;
                        ref_db[o] += dy[yi];
                    }
        for (int threads = 1; threads <= 2; threads++) {
            char what[64];
            StepCtx ctx = make_ctx(&ps, 1, threads);
            params_zero_grads(&ps);
            Tensor y, *in[1] = {&x};
            x.grad = calloc(tensor_numel(&x), sizeof(float));
            run_forward(&c.base, &ctx, in, 1, &y);
            EXPECT(tensor_numel(&y) == ny, "conv geo %zu: output numel", gi);
            snprintf(what, sizeof what, "conv geo %zu threads %d y", gi, threads);
            expect_close(what, y.data, ref_y, ny, 1e-4);
            y.grad = dy;
            /* backward twice: everything it writes must accumulate */
            c.base.ops->backward(&c.base, &ctx, in, 1, &y, NULL);
            c.base.ops->backward(&c.base, &ctx, in, 1, &y, NULL);
            for (size_t i = 0; i < tensor_numel(&x); i++) x.grad[i] *= 0.5f;
            float *gw = params_grad(&ps, c.w);
            for (size_t i = 0; i < nw; i++) gw[i] *= 0.5f;
            snprintf(what, sizeof what, "conv geo %zu threads %d dx", gi, threads);
            expect_close(what, x.grad, ref_dx, tensor_numel(&x), 1e-4);
            snprintf(what, sizeof what, "conv geo %zu threads %d dW", gi, threads);
            expect_close(what, gw, ref_dw, nw, 1e-4);
            if (B) {
                float *gb = params_grad(&ps, c.b);
                for (int o = 0; o < g->cout; o++) gb[o] *= 0.5f;
                snprintf(what, sizeof what, "conv geo %zu threads %d db", gi, threads);
                expect_close(what, gb, ref_db, (size_t)g->cout, 1e-4);
            }
            y.grad = NULL;
            tensor_release(&y);
            free(x.grad);
            x.grad = NULL;
            free(ctx.scratch);
        }
        free(dy), free(ref_y), free(ref_dx), free(ref_dw);
        tensor_release(&x);
        params_free(&ps);
    }
}

/* BN on known values (numbers confirmed with torch.nn.BatchNorm1d/2d, momentum 0.1, eps 1e-5):
 * 1-D, x = [[1,2],[2,2],[3,2],[4,6]], gamma = [2,1], beta = [0,1]:
 *   channel 0: mean 2.5, biased var 1.25, unbiased 5/3; channel 1: mean 3, var 3, unbiased 4
 *   running_mean = 0.1 mean = [0.25, 0.3]; running_var = 0.9 + 0.1 unbiased = [1.0666667, 1.3]
 * 2-D, x = 2x1x1x2 [1,3 | 5,7]: mean 4, var 5, unbiased 20/3 -> running [0.4], [1.5666667]. */
static void test_batchnorm_known(void) {
    static const float x1[] = {1, 2, 2, 2, 3, 2, 4, 6};
    static const float train1[] = {-2.6832707f, 0.4226507f, -0.8944235f, 0.4226507f,
                                   0.8944237f,  0.4226507f, 2.6832709f,  2.7320480f};
    static const float eval1[] = {1.4523621f, 2.4909930f, 3.3888450f, 2.4909930f,
                                  5.3253279f, 2.4909930f, 7.2618103f, 5.9992118f};
    static const float x2[] = {1, 3, 5, 7};
    static const float train2[] = {-1.3416394f, -0.4472131f, 0.4472131f, 1.3416394f};
    static const float eval2[] = {0.4793597f, 2.0772257f, 3.6750913f, 5.2729573f};
    for (int is2d = 0; is2d <= 1; is2d++) {
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        BatchNorm bn;
        if (is2d)
            batchnorm2d_init(&bn, &ps, "bn", 1);
        else
            batchnorm1d_init(&bn, &ps, "bn", 2);
        finalize(&ps);
        batchnorm_reset(&bn, &ps);
        EXPECT(params_find(&ps, "bn.running_var") == bn.running_var && ps.info[bn.running_var].kind == PARAM_BUFFER,
               "running_var is a buffer named bn.running_var");
        EXPECT(params_value(&ps, bn.running_var)[0] == 1.0f && params_value(&ps, bn.weight)[0] == 1.0f,
               "batchnorm_reset");
        if (!is2d) {
            params_value(&ps, bn.weight)[0] = 2.0f;
            params_value(&ps, bn.bias)[1] = 1.0f;
        }
        const int nv = is2d ? 4 : 8;
        Tensor x = tensor_of(is2d ? shape4(2, 1, 1, 2) : shape2(4, 2), is2d ? x2 : x1), y;
        Tensor *in[1] = {&x};
        StepCtx ctx = make_ctx(&ps, 1, 2);
        void *cache = run_forward(&bn.base, &ctx, in, 1, &y);
        expect_close(is2d ? "bn2d train" : "bn1d train", y.data, is2d ? train2 : train1, nv, 2e-6);
        static const float rm1[] = {0.25f, 0.3f}, rv1[] = {1.0666667f, 1.3f}, rm2[] = {0.4f}, rv2[] = {1.5666667f};
        expect_close("running_mean", params_value(&ps, bn.running_mean), is2d ? rm2 : rm1, is2d ? 1 : 2, 1e-6);
        expect_close("running_var (unbiased)", params_value(&ps, bn.running_var), is2d ? rv2 : rv1, is2d ? 1 : 2,
                     1e-6);
        free(cache);
        tensor_release(&y);
        ctx.training = 0;
        cache = run_forward(&bn.base, &ctx, in, 1, &y);
        EXPECT(cache == NULL, "no cache in eval mode");
        expect_close(is2d ? "bn2d eval" : "bn1d eval", y.data, is2d ? eval2 : eval1, nv, 2e-6);
        expect_close("running_mean unchanged in eval", params_value(&ps, bn.running_mean), is2d ? rm2 : rm1,
                     is2d ? 1 : 2, 1e-6);
        tensor_release(&y);
        tensor_release(&x);
        free(ctx.scratch);
        params_free(&ps);
    }
}

/* W = [[1,2,3],[4,5,6]], b = [0.5,-1]; x = [[1,0,-1],[2,1,0]] -> [[-1.5,-3],[4.5,12]]; also as 1x2x3 tokens. */
static void test_linear_known(void) {
    static const float w[] = {1, 2, 3, 4, 5, 6}, b[] = {0.5f, -1}, xv[] = {1, 0, -1, 2, 1, 0};
    static const float want[] = {-1.5f, -3, 4.5f, 12};
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Linear l;
    linear_init(&l, &ps, "fc", 3, 2, 1);
    finalize(&ps);
    EXPECT(ps.info[l.w].shape.d[0] == 2 && ps.info[l.w].shape.d[1] == 3, "weight is out x in");
    memcpy(params_value(&ps, l.w), w, sizeof w);
    memcpy(params_value(&ps, l.b), b, sizeof b);
    StepCtx ctx = make_ctx(&ps, 1, 2);
    for (int rank = 2; rank <= 3; rank++) {
        Tensor x = tensor_of(rank == 2 ? shape2(2, 3) : shape3(1, 2, 3), xv), y;
        Tensor *in[1] = {&x};
        run_forward(&l.base, &ctx, in, 1, &y);
        EXPECT(y.shape.ndim == rank && y.shape.d[rank - 1] == 2, "linear output shape rank %d", rank);
        expect_close("linear", y.data, want, 4, 1e-6);
        tensor_release(&x);
        tensor_release(&y);
    }
    free(ctx.scratch);
    params_free(&ps);
}

/* Linear big enough to split over threads (rows for y and dx, output features for dW and db) against a
 * naive double reference, with 1 and 2 threads. */
static void test_linear_reference(void) {
    const int R = 100, IN = 60, OUT = 50;
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Linear l;
    linear_init(&l, &ps, "fc", IN, OUT, 1);
    finalize(&ps);
    Rng rng;
    rng_seed(&rng, 3);
    linear_init_weights(&l, &ps, &rng);
    const float *W = params_value(&ps, l.w), *B = params_value(&ps, l.b);
    Tensor x = tensor_of(shape3(4, R / 4, IN), NULL);
    for (int i = 0; i < R * IN; i++) x.data[i] = rng_normal(&rng);
    float *dy = malloc(sizeof(float) * R * OUT), *ry = malloc(sizeof(float) * R * OUT);
    float *rdx = calloc((size_t)R * IN, sizeof(float)), *rdw = calloc((size_t)OUT * IN, sizeof(float));
    float rdb[50] = {0};
    for (int i = 0; i < R * OUT; i++) dy[i] = rng_normal(&rng);
    for (int r = 0; r < R; r++)
        for (int o = 0; o < OUT; o++) {
            double acc = B[o];
            for (int i = 0; i < IN; i++) {
                acc += (double)x.data[r * IN + i] * W[o * IN + i];
                rdx[r * IN + i] += dy[r * OUT + o] * W[o * IN + i];
                rdw[o * IN + i] += dy[r * OUT + o] * x.data[r * IN + i];
            }
            ry[r * OUT + o] = (float)acc;
            rdb[o] += dy[r * OUT + o];
        }
    for (int threads = 1; threads <= 2; threads++) {
        StepCtx ctx = make_ctx(&ps, 1, threads);
        params_zero_grads(&ps);
        Tensor y, *in[1] = {&x};
        x.grad = calloc((size_t)R * IN, sizeof(float));
        run_forward(&l.base, &ctx, in, 1, &y);
        expect_close("linear ref y", y.data, ry, (size_t)R * OUT, 1e-4);
        y.grad = dy;
        l.base.ops->backward(&l.base, &ctx, in, 1, &y, NULL);
        expect_close("linear ref dx", x.grad, rdx, (size_t)R * IN, 1e-4);
        expect_close("linear ref dW", params_grad(&ps, l.w), rdw, (size_t)OUT * IN, 1e-4);
        expect_close("linear ref db", params_grad(&ps, l.b), rdb, OUT, 1e-4);
        y.grad = NULL;
        tensor_release(&y);
        free(x.grad);
        x.grad = NULL;
        free(ctx.scratch);
    }
    free(dy), free(ry), free(rdx), free(rdw);
    tensor_release(&x);
    params_free(&ps);
}

/* a = 2x2x2 (0..7), b = 2x1x2 (100..103), axis 1 -> each sample's a rows then its b row. */
static void test_concat_add_known(void) {
    static const float av[] = {0, 1, 2, 3, 4, 5, 6, 7}, bv[] = {100, 101, 102, 103};
    static const float want[] = {0, 1, 2, 3, 100, 101, 4, 5, 6, 7, 102, 103};
    StepCtx ctx = make_ctx(NULL, 1, 2);
    Tensor a = tensor_of(shape3(2, 2, 2), av), b = tensor_of(shape3(2, 1, 2), bv), y;
    Tensor *in[2] = {&a, &b};
    Concat cat;
    concat_init(&cat, "cat", 1);
    run_forward(&cat.base, &ctx, in, 2, &y);
    EXPECT(y.shape.ndim == 3 && y.shape.d[0] == 2 && y.shape.d[1] == 3 && y.shape.d[2] == 2, "concat shape");
    expect_close("concat axis 1", y.data, want, 12, 0);
    /* backward slices the gradient back: dy = 0..11 */
    y.grad = malloc(12 * sizeof(float));
    for (int i = 0; i < 12; i++) y.grad[i] = (float)i;
    a.grad = calloc(8, sizeof(float));
    b.grad = calloc(4, sizeof(float));
    cat.base.ops->backward(&cat.base, &ctx, in, 2, &y, NULL);
    static const float da[] = {0, 1, 2, 3, 6, 7, 8, 9}, db[] = {4, 5, 10, 11};
    expect_close("concat da", a.grad, da, 8, 0);
    expect_close("concat db", b.grad, db, 4, 0);
    tensor_release(&y);
    Concat catl;
    concat_init(&catl, "cat", -1);
    Tensor *same[2] = {&a, &a};
    run_forward(&catl.base, &ctx, same, 2, &y);
    EXPECT(y.shape.d[2] == 4, "concat axis -1 shape");
    static const float want_last[] = {0, 1, 0, 1, 2, 3, 2, 3};
    expect_close("concat axis -1", y.data, want_last, 8, 0);
    tensor_release(&y);
    Add add;
    add_init(&add, "add");
    run_forward(&add.base, &ctx, same, 2, &y);
    for (int i = 0; i < 8; i++) EXPECT(y.data[i] == 2 * av[i], "add(a, a)[%d]", i);
    tensor_release(&y);
    tensor_release(&a);
    tensor_release(&b);
    free(ctx.scratch);
}

static void expect_shape_error(const Layer *l, Tensor *const *in, int n_in, const char *needle) {
    ErrorMsg err = {{0}};
    Shape s;
    Status st = l->ops->out_shape(l, in, n_in, &s, &err);
    EXPECT(st == LOCUS_ERR_ARG, "%s: expected LOCUS_ERR_ARG, got %d", l->ops->type, (int)st);
    EXPECT(strstr(err.text, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", l->ops->type, err.text, needle);
}

static void test_shape_errors(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Conv2d conv;
    conv2d_init(&conv, &ps, "conv", 3, 4, 3, 1, 0, 0);
    BatchNorm bn;
    batchnorm2d_init(&bn, &ps, "bn", 4);
    Linear fc;
    linear_init(&fc, &ps, "fc", 8, 2, 1);
    Add add;
    add_init(&add, "add");
    Concat cat;
    concat_init(&cat, "cat", 1);
    Tensor a = {.shape = shape4(2, 5, 8, 8)}, b = {.shape = shape4(2, 3, 2, 2)}, c = {.shape = shape4(2, 5, 8, 7)};
    Tensor *one[1] = {&a}, *small[1] = {&b}, *two[2] = {&a, &c};
    expect_shape_error(&conv.base, one, 1, "found [2, 5, 8, 8]");
    expect_shape_error(&conv.base, small, 1, "smaller than its 3x3 kernel");
    expect_shape_error(&bn.base, one, 1, "C = 4, found [2, 5, 8, 8]");
    expect_shape_error(&fc.base, small, 1, "(..., 8) of rank 2 to 4, found [2, 3, 2, 2]");
    expect_shape_error(&add.base, two, 2, "found [2, 5, 8, 7]");
    expect_shape_error(&cat.base, two, 2, "found [2, 5, 8, 7]");
    expect_shape_error(&add.base, one, 1, "2 to 4 inputs");
    Concat bad_axis;
    concat_init(&bad_axis, "cat", 4);
    Tensor *aa[2] = {&a, &a};
    expect_shape_error(&bad_axis.base, aa, 2, "out of range");
    params_free(&ps);
}

int main(void) {
    test_conv_known();
    test_conv_reference();
    test_batchnorm_known();
    test_linear_known();
    test_linear_reference();
    test_concat_add_known();
    test_shape_errors();
    return expect_report();
}
