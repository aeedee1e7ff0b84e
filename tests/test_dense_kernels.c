/* test_dense_kernels.c — dense_forward / dense_backward (src/kernels/dense.h, the linear layer's default
 * engine) on each instruction-set path against sums in double:
 *   y = x W^T + b,  dx += dy W,  dW += dy^T x,  db += colsum(dy)
 * on random sizes: rows R across the chunk size (1, 63, 64, 65, 200), odd widths in / out (in a multiple of 16
 * when dW is wanted, any otherwise), with and without bias, 1 and 2 threads; gradients accumulate onto
 * non-zero starting values; y starts as NaN (the forward must write all of it); nothing is written past the
 * ends. Also the linear layer itself with LOCUS_LINEAR=blas vs the default on a ViT-like shape, and the
 * attention layer (its projections on the dense kernels, its per-head products on rows_gemm) against its
 * OpenBLAS engine, training forward + backward and eval forward, for each ISA path, with an odd token count,
 * D a multiple of 16 and not (the weight gradients' fallback). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_geo.h"
#include "expect.h"
#include "kernels/dense.h"
#include "kernels/isa.h"
#include "layers/attention.h"
#include "layers/linear.h"
#include "locus/rng.h"


static float *fill(size_t n, Rng *r) {
    float *p = malloc((n + 8) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand(r);
    for (size_t i = n; i < n + 8; i++) p[i] = 1234.5f; /* sentinels */
    return p;
}

static int sentinels_ok(const float *p, size_t n) {
    for (size_t i = n; i < n + 8; i++)
        if (p[i] != 1234.5f) return 0;
    return 1;
}

/* max |got - want| / (1 + |want|), want = base + delta. */
static double worst(const float *got, const float *base, const double *delta, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double want = (base ? base[i] : 0.0) + delta[i], e = fabs(got[i] - want) / (1.0 + fabs(want));
        if (!(e <= w)) w = e;
    }
    return w;
}

/* overwrite: dx = dy W over a NaN-filled dx (dense_backward's dx_overwrite), else dx += dy W. */
static void run_case(KernelIsa isa, int R, int in, int out, int bias, int threads, int overwrite, Rng *rng) {
    const int want_dw = dense_dw_ok(in);
    float *x = fill((size_t)R * in, rng), *W = fill((size_t)out * in, rng), *b = fill((size_t)out, rng);
    float *dy = fill((size_t)R * out, rng), *y = fill((size_t)R * out, rng);
    float *dx = fill((size_t)R * in, rng), *dW = fill((size_t)out * in, rng), *db = fill((size_t)out, rng);
    float *dx0 = malloc(sizeof(float) * R * in), *dW0 = malloc(sizeof(float) * out * in), *db0 = malloc(sizeof(float) * out);
    for (size_t i = 0; overwrite && i < (size_t)R * in; i++) dx[i] = NAN;
    memcpy(dx0, dx, sizeof(float) * R * in), memcpy(dW0, dW, sizeof(float) * out * in), memcpy(db0, db, sizeof(float) * out);
    for (size_t i = 0; i < (size_t)R * out; i++) y[i] = NAN;
    double *ry = calloc((size_t)R * out, sizeof(double)), *rdx = calloc((size_t)R * in, sizeof(double));
    double *rdw = calloc((size_t)out * in, sizeof(double)), *rdb = calloc((size_t)out, sizeof(double));
    for (int r = 0; r < R; r++)
        for (int o = 0; o < out; o++) {
            double s = bias ? b[o] : 0.0, g = dy[(size_t)r * out + o];
            for (int k = 0; k < in; k++) {
                s += (double)x[(size_t)r * in + k] * W[(size_t)o * in + k];
                rdx[(size_t)r * in + k] += g * W[(size_t)o * in + k];
                rdw[(size_t)o * in + k] += g * x[(size_t)r * in + k];
            }
            ry[(size_t)r * out + o] = s;
            rdb[o] += g;
        }
    size_t sb = dense_scratch_bytes(in, out, threads);
    float *scratch = malloc(sb + 64);
    dense_forward(isa, threads, R, in, out, x, W, bias ? b : NULL, y, scratch);
    dense_backward(isa, threads, R, in, out, x, W, dy, dx, overwrite, want_dw ? dW : NULL, db, scratch);
    char label[128];
    snprintf(label, sizeof label, "%s R=%d in=%d out=%d bias=%d T=%d%s", kernel_isa_name(isa), R, in, out, bias,
             threads, overwrite ? " dx overwritten" : "");
    const double tol = 3e-6 * sqrt((double)in + out + R);
    double e;
    EXPECT((e = worst(y, NULL, ry, (size_t)R * out)) <= tol, "%s: y off by %.3g", label, e);
    EXPECT((e = worst(dx, overwrite ? NULL : dx0, rdx, (size_t)R * in)) <= tol, "%s: dx off by %.3g", label, e);
    if (want_dw) EXPECT((e = worst(dW, dW0, rdw, (size_t)out * in)) <= tol, "%s: dW off by %.3g", label, e);
    else EXPECT(!memcmp(dW, dW0, sizeof(float) * out * in), "%s: dW written though not asked for", label);
    EXPECT((e = worst(db, db0, rdb, (size_t)out)) <= tol, "%s: db off by %.3g", label, e);
    EXPECT(sentinels_ok(y, (size_t)R * out) && sentinels_ok(dx, (size_t)R * in) &&
               sentinels_ok(dW, (size_t)out * in) && sentinels_ok(db, (size_t)out),
           "%s: wrote past an end", label);
    free(x), free(W), free(b), free(dy), free(y), free(dx), free(dW), free(db), free(dx0), free(dW0), free(db0);
    free(ry), free(rdx), free(rdw), free(rdb), free(scratch);
}

/* The layer: default engine vs LOCUS_LINEAR=blas, forward and backward, on a (2, 65, 48) -> 80 input. */
static void check_layer(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Linear lin;
    linear_init(&lin, &ps, "fc", 48, 80, 1);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 9);
    linear_init_weights(&lin, &ps, &rng);
    const size_t nx = 2 * 65 * 48, ny = 2 * 65 * 80, nw = 80 * 48;
    Tensor x = {.shape = shape3(2, 65, 48)}, y = {.shape = shape3(2, 65, 80)};
    x.data = fill(nx, &rng), x.grad = malloc(nx * sizeof(float));
    y.data = malloc(ny * sizeof(float)), y.grad = fill(ny, &rng);
    float *res[2][4];
    Tensor *inp[1] = {&x};
    StepCtx ctx = {.params = &ps, .training = 1, .threads = 2};
    ctx.scratch_bytes = lin.base.ops->scratch_bytes(&lin.base, inp, 1, 2);
    ctx.scratch = malloc(ctx.scratch_bytes + 64);
    for (int e = 0; e < 2; e++) {
        if (e) setenv("LOCUS_LINEAR", "blas", 1);
        else unsetenv("LOCUS_LINEAR");
        memset(x.grad, 0, nx * sizeof(float));
        params_zero_grads(&ps);
        lin.base.ops->forward(&lin.base, &ctx, inp, 1, &y, NULL);
        lin.base.ops->backward(&lin.base, &ctx, inp, 1, &y, NULL);
        const float *src[4] = {y.data, x.grad, params_grad(&ps, lin.w), params_grad(&ps, lin.b)};
        const size_t n[4] = {ny, nx, nw, 80};
        for (int k = 0; k < 4; k++) res[e][k] = malloc(n[k] * sizeof(float)), memcpy(res[e][k], src[k], n[k] * sizeof(float));
    }
    unsetenv("LOCUS_LINEAR");
    const size_t n[4] = {ny, nx, nw, 80};
    const char *names[4] = {"y", "dx", "dW", "db"};
    for (int k = 0; k < 4; k++) {
        double w = 0;
        for (size_t i = 0; i < n[k]; i++) {
            double e = fabs(res[0][k][i] - res[1][k][i]) / (1.0 + fabs(res[1][k][i]));
            if (!(e <= w)) w = e;
        }
        EXPECT(w < 1e-4, "linear layer: %s of the default engine and of OpenBLAS differ by %.3g", names[k], w);
        free(res[0][k]), free(res[1][k]);
    }
    free(x.data), free(x.grad), free(y.data), free(y.grad), free(ctx.scratch);
    params_free(&ps);
}

/* Attention: out, dx, every parameter gradient (training) and the eval output, default engine on `isa` vs
 * LOCUS_LINEAR=blas. */
static void check_attention(const char *isa, int n, int t, int d, int heads) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Attention at;
    attention_init(&at, &ps, "attn", d, heads);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, (uint64_t)(d * 131 + t));
    for (int i = 0; i < ps.count; i++)
        for (size_t j = 0; j < params_numel(&ps, i); j++) params_value(&ps, i)[j] = 0.3f * frand(&rng);
    const size_t nx = (size_t)n * t * d;
    Tensor x = {.shape = shape3(n, t, d)}, y = x;
    x.data = fill(nx, &rng), x.grad = malloc(nx * sizeof(float)), y.data = malloc(nx * sizeof(float)), y.grad = fill(nx, &rng);
    Tensor *inp[1] = {&x};
    StepCtx ctx = {.params = &ps, .training = 1, .threads = 2};
    ctx.scratch_bytes = at.base.ops->scratch_bytes(&at.base, inp, 1, 2);
    ctx.scratch = malloc(ctx.scratch_bytes + 64);
    void *cache = malloc(at.base.ops->cache_bytes(&at.base, inp, 1, 1));
    const int np = 4;
    const int h[4] = {at.qkv_w, at.qkv_b, at.proj_w, at.proj_b};
    float *res[2][3 + 4];
    size_t len[3 + 4] = {nx, nx, nx};
    for (int k = 0; k < np; k++) len[3 + k] = params_numel(&ps, h[k]);
    for (int e = 0; e < 2; e++) {
        if (e) setenv("LOCUS_LINEAR", "blas", 1), unsetenv("LOCUS_ISA");
        else unsetenv("LOCUS_LINEAR"), setenv("LOCUS_ISA", isa, 1);
        memset(x.grad, 0, nx * sizeof(float));
        params_zero_grads(&ps);
        ctx.training = 1;
        at.base.ops->forward(&at.base, &ctx, inp, 1, &y, cache);
        res[e][0] = malloc(nx * sizeof(float)), memcpy(res[e][0], y.data, nx * sizeof(float));
        at.base.ops->backward(&at.base, &ctx, inp, 1, &y, cache);
        res[e][1] = malloc(nx * sizeof(float)), memcpy(res[e][1], x.grad, nx * sizeof(float));
        for (int k = 0; k < np; k++)
            res[e][3 + k] = malloc(len[3 + k] * sizeof(float)),
                     memcpy(res[e][3 + k], params_grad(&ps, h[k]), len[3 + k] * sizeof(float));
        ctx.training = 0;
        at.base.ops->forward(&at.base, &ctx, inp, 1, &y, NULL);
        res[e][2] = malloc(nx * sizeof(float)), memcpy(res[e][2], y.data, nx * sizeof(float));
    }
    unsetenv("LOCUS_LINEAR"), unsetenv("LOCUS_ISA");
    const char *names[7] = {"out", "dx", "eval out", "dW qkv", "db qkv", "dW proj", "db proj"};
    for (int k = 0; k < 3 + np; k++) {
        double w = 0;
        for (size_t i = 0; i < len[k]; i++) {
            double e = fabs(res[0][k][i] - res[1][k][i]) / (1.0 + fabs(res[1][k][i]));
            if (!(e <= w)) w = e;
        }
        EXPECT(w < 2e-5, "attention %s n%d t%d d%d h%d: %s differs from the OpenBLAS engine by %.3g", isa, n, t, d, heads,
               names[k], w);
        free(res[0][k]), free(res[1][k]);
    }
    free(x.data), free(x.grad), free(y.data), free(y.grad), free(ctx.scratch), free(cache);
    params_free(&ps);
}

int main(void) {
    Rng rng;
    rng_seed(&rng, 424242);
    const int Rs[] = {1, 63, 64, 65, 200};
    int cases = 0;
    for (int a = 0; a < 3; a++) {
        if (!kernel_isa_supported((KernelIsa)a)) {
            printf("note: this CPU cannot run the %s path; not tested here\n", kernel_isa_name((KernelIsa)a));
            continue;
        }
        for (int i = 0; i < 14; i++) {
            const int R = Rs[i % 5];
            const int in = i % 3 == 2 ? 1 + (int)rng_below(&rng, 40) : 16 * (1 + (int)rng_below(&rng, 4));
            const int out = 1 + (int)rng_below(&rng, 70);
            run_case((KernelIsa)a, R, in, out, i % 2, 1 + (i % 4 == 1), i % 4 == 3, &rng), cases++;
        }
        run_case((KernelIsa)a, 130, 192, 576, 1, 2, 1, &rng), cases++; /* a ViT qkv-like shape */
    }
    check_layer();
    const char *isas[3] = {"generic", "avx2", "avx512"};
    for (int a = 0; a < 3; a++)
        if (kernel_isa_supported((KernelIsa)a)) {
            check_attention(isas[a], 2, 17, 48, 3);
            check_attention(isas[a], 3, 9, 40, 2);
        }
    printf("%d dense cases\n", cases);
    return expect_report();
}
