/* test_conv_bn.c — the inference fusions (conv_bn.h) against the layers they replace.
 *  - conv2d_bn, conv2d_bn_relu and conv2d_bn_add_relu against conv2d (on the im2col + OpenBLAS engine, an
 *    independent implementation of the convolution) then batchnorm2d / batchnorm2d_relu in eval mode (then
 *    add_relu), on random geometries: odd channel counts and sizes, kernels 1/2/3/5, strides 1/2/3, paddings
 *    0..2, conv bias on/off, 1..3 samples, 1 and 2 threads, random running statistics and affine parameters
 *    (negative gammas too), for each instruction-set path the CPU runs (LOCUS_ISA); the output starts as NaN,
 *    so the fused forward must write all of it;
 *  - ResNet-8 evaluated on a tape that does not record (the fused path) gives the logits of the same network
 *    evaluated on a recording tape (the unfused layers), with non-trivial BN statistics;
 *  - the ResNet shapes (16/32/64 channels, 3x3 stride 1 and 2, 1x1 stride 2).
 * Tolerance: float sums of Cin k k terms of size ~1, relative to 1 + |value|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_geo.h"
#include "expect.h"
#include "kernels/isa.h"
#include "layers/conv.h"
#include "layers/conv_bn.h"
#include "layers/merge.h"
#include "layers/norm.h"
#include "locus/model.h"
#include "locus/tape.h"


static double worst_diff(const float *got, const double *want, size_t n, size_t *at) {
    double worst = 0;
    *at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= worst)) worst = e, *at = i; /* NaN counts as worst */
    }
    return worst;
}

/* variant 0: conv2d_bn, 1: conv2d_bn_relu, 2: conv2d_bn_add_relu. */
static int run_case(const Geo *g, int variant, const char *isa, int threads, uint64_t seed) {
    char label[200];
    snprintf(label, sizeof label, "%s v%d T=%d n%d %d->%d %dx%d k%d s%d p%d%s", isa, variant, threads, g->n, g->cin,
             g->cout, g->h, g->w, g->k, g->s, g->p, g->bias ? " bias" : "");
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Conv2d conv;
    BatchNorm bn;
    Add add;
    ConvBn fused;
    conv2d_init(&conv, &ps, "conv", g->cin, g->cout, g->k, g->s, g->p, g->bias);
    if (variant == 1) batchnorm2d_relu_init(&bn, &ps, "bn", g->cout);
    else batchnorm2d_init(&bn, &ps, "bn", g->cout);
    add_relu_init(&add, "add");
    if (variant == 2) conv_bn_add_relu_init(&fused, "fused", &conv, &bn);
    else conv_bn_init(&fused, "fused", &conv, &bn);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, seed);
    float *W = params_value(&ps, conv.w);
    for (size_t i = 0; i < params_numel(&ps, conv.w); i++) W[i] = frand(&rng);
    for (int i = 0; g->bias && i < g->cout; i++) params_value(&ps, conv.b)[i] = frand(&rng);
    for (int c = 0; c < g->cout; c++) {
        params_value(&ps, bn.weight)[c] = 1.5f * frand(&rng);
        params_value(&ps, bn.bias)[c] = frand(&rng);
        params_value(&ps, bn.running_mean)[c] = frand(&rng);
        params_value(&ps, bn.running_var)[c] = 0.3f + 2.0f * rng_uniform(&rng);
    }
    const int ho = (g->h + 2 * g->p - g->k) / g->s + 1, wo = (g->w + 2 * g->p - g->k) / g->s + 1;
    const size_t nx = (size_t)g->n * g->cin * g->h * g->w, ny = (size_t)g->n * g->cout * ho * wo;
    Tensor x = {.shape = shape4(g->n, g->cin, g->h, g->w)}, r = {.shape = shape4(g->n, g->cout, ho, wo)};
    Tensor y1 = r, y2 = r, y3 = r, yf = r;
    x.data = malloc(nx * sizeof(float));
    r.data = malloc(ny * sizeof(float));
    y1.data = malloc(ny * sizeof(float)), y2.data = malloc(ny * sizeof(float));
    y3.data = malloc(ny * sizeof(float)), yf.data = malloc(ny * sizeof(float));
    for (size_t i = 0; i < nx; i++) x.data[i] = frand(&rng);
    for (size_t i = 0; i < ny; i++) r.data[i] = frand(&rng), yf.data[i] = NAN;

    StepCtx ctx = {.params = &ps, .training = 0, .threads = threads};
    Tensor *in1[1] = {&x}, *inf[2] = {&x, &r};
    size_t sc = conv.base.ops->scratch_bytes(&conv.base, in1, 1, threads);
    size_t sf = fused.base.ops->scratch_bytes(&fused.base, inf, 1 + (variant == 2), threads);
    ctx.scratch_bytes = sc > sf ? sc : sf;
    ctx.scratch = malloc(ctx.scratch_bytes + 64);
    Shape os;
    EXPECT(fused.base.ops->out_shape(&fused.base, inf, 1 + (variant == 2), &os, &err) == LOCUS_OK &&
               shape_equal(&os, &r.shape),
           "%s: out_shape", label);

    /* the reference: conv on the GEMM engine, BN in eval mode, add_relu */
    setenv("LOCUS_CONV", "gemm", 1);
    unsetenv("LOCUS_ISA");
    conv.base.ops->forward(&conv.base, &ctx, in1, 1, &y1, NULL);
    Tensor *inb[1] = {&y1};
    bn.base.ops->forward(&bn.base, &ctx, inb, 1, &y2, NULL);
    const float *want = y2.data;
    if (variant == 2) {
        Tensor *ina[2] = {&y2, &r};
        add.base.ops->forward(&add.base, &ctx, ina, 2, &y3, NULL);
        want = y3.data;
    }
    setenv("LOCUS_ISA", isa, 1);
    fused.base.ops->forward(&fused.base, &ctx, inf, 1 + (variant == 2), &yf, NULL);
    unsetenv("LOCUS_CONV");
    unsetenv("LOCUS_ISA");

    double *wd = malloc(ny * sizeof(double));
    for (size_t i = 0; i < ny; i++) wd[i] = want[i];
    size_t at;
    const double tol = 3e-6 * sqrt((double)g->cin * g->k * g->k) + 1e-6, e = worst_diff(yf.data, wd, ny, &at);
    EXPECT(e <= tol, "%s: fused off by %.3g at %zu (got %g, want %g)", label, e, at, yf.data[at], want[at]);
    if (variant >= 1) {
        int neg = 0;
        for (size_t i = 0; i < ny; i++) neg += yf.data[i] < 0.0f;
        EXPECT(!neg, "%s: %d negative outputs after the ReLU", label, neg);
    }
    free(wd), free(ctx.scratch), free(x.data), free(r.data), free(y1.data), free(y2.data), free(y3.data);
    free(yf.data);
    params_free(&ps);
    return e <= tol;
}

/* ResNet-8 logits, eval mode: non-recording tape (fused) vs recording tape (the unfused layers). */
static void check_resnet(int threads) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {"resnet8", 3, 12, 10, 10};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 77);
    model_init_weights(&m, &rng);
    int bn_tensors = 0;
    for (int i = 0; i < ps.count; i++) { /* BN statistics and affine parameters away from the identity */
        const ParamInfo *p = &ps.info[i];
        float *v = params_value(&ps, i);
        const char *dot = strrchr(p->name, '.');
        const int is_bn = p->shape.ndim == 1 && strncmp(p->name, "fc.", 3) != 0;
        if (!is_bn || !dot) continue;
        bn_tensors++;
        for (size_t j = 0; j < p->numel; j++) {
            if (!strcmp(dot, ".running_var")) v[j] = 0.3f + rng_uniform(&rng);
            else if (!strcmp(dot, ".weight")) v[j] = 0.5f + rng_uniform(&rng);
            else v[j] = 0.3f * frand(&rng); /* .bias, .running_mean */
        }
    }
    EXPECT(bn_tensors >= 4 * 9, "resnet8 BN tensors found: %d", bn_tensors);
    const int N = 3;
    const size_t nx = (size_t)N * 3 * 12 * 10;
    float *x = malloc(nx * sizeof(float)), logits[2][N * 10];
    for (size_t i = 0; i < nx; i++) x[i] = frand(&rng);
    StepCtx ctx = {.params = &ps, .training = 0, .threads = threads};
    ctx.scratch_bytes = (size_t)4 << 20;
    ctx.scratch = malloc(ctx.scratch_bytes);
    int fused_calls = 0;
    for (int rec = 0; rec < 2; rec++) {
        Tape t;
        CHECK(tape_init(&t, &ctx, &mt, (size_t)8 << 20, (size_t)1 << 20, (size_t)1 << 16, &err) == LOCUS_OK, "%s",
              err.text);
        t.recording = rec;
        TapeMark mk = tape_mark(&t);
        Tensor *y = model_forward(&m, &t, tape_wrap(&t, shape4(N, 3, 12, 10), x, 0));
        CHECK(y && tape_ok(&t), "resnet8 forward: %s", t.err.text);
        memcpy(logits[rec], y->data, sizeof logits[rec]);
        if (rec) /* the recording tape holds the unfused layers only */
            for (const TapeRecord *r = t.top; r && r != mk.top; r = r->prev) fused_calls += conv_bn_conv(r->layer) != NULL;
        tape_release(&t, mk);
        tape_free(&t);
    }
    EXPECT(fused_calls == 0, "a recording tape ran %d fused inference layers", fused_calls);
    size_t at;
    double want[N * 10];
    for (int i = 0; i < N * 10; i++) want[i] = logits[1][i];
    double e = worst_diff(logits[0], want, N * 10, &at);
    EXPECT(e < 1e-4, "resnet8 T=%d: fused logits off by %.3g at %zu (%g vs %g)", threads, e, at, logits[0][at],
           logits[1][at]);
    double spread = 0;
    for (int i = 1; i < N * 10; i++) spread += fabs(logits[1][i] - logits[1][0]);
    EXPECT(spread > 1e-3, "resnet8 logits are all alike: the check would not see a difference");
    free(ctx.scratch), free(x);
    model_free(&m);
    params_free(&ps);
}

int main(void) {
    Rng rng;
    rng_seed(&rng, 20261128);
    const char *isas[] = {"generic", "avx2", "avx512"};
    int cases = 0, failed = 0;
    Geo fixed[] = {{2, 16, 16, 8, 8, 3, 1, 1, 0}, {2, 16, 32, 8, 8, 3, 2, 1, 0}, {2, 16, 32, 8, 8, 1, 2, 0, 0},
                   {2, 32, 64, 6, 6, 3, 2, 1, 0}, {2, 64, 64, 4, 4, 3, 1, 1, 0}, {2, 3, 16, 7, 9, 3, 1, 1, 1},
                   {3, 5, 7, 5, 6, 1, 1, 0, 1}};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed + 30; i++) {
        const Geo g = i < sizeof fixed / sizeof *fixed ? fixed[i] : conv_geo_random(&rng);
        for (int a = 0; a < 3; a++) {
            if (!kernel_isa_supported((KernelIsa)a)) continue;
            failed += !run_case(&g, (int)(i % 3), isas[a], 1 + (int)(i % 2), 500 + i), cases++;
        }
    }
    for (int a = 0; a < 3; a++)
        if (!kernel_isa_supported((KernelIsa)a)) printf("note: this CPU cannot run the %s path; not tested here\n", isas[a]);
    check_resnet(1);
    check_resnet(2);
    printf("%d fused convolution cases, %d failed\n", cases, failed);
    return expect_report();
}
