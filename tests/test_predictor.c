/* test_predictor.c — the predictor (predictor.h: micro-batches, one pipeline per thread) against one forward of
 * the whole batch on one tape:
 *  - resnet8 (BN statistics and affine parameters away from the identity, so the fused inference layers do
 *    real work) and vit-micro, odd input sizes, 11 samples in micro-batches of 1, 3, 4 and the default, 1 and
 *    2 threads (and more threads than micro-batches), twice on the same pipes: resnet8's logits are the same
 *    bits, vit-micro's equal to 1e-5 (its patch embedding runs on OpenBLAS, see same_logits' caller);
 *  - memory: while open, the caller's tracker holds the pipes' reservations as live bytes (more with two
 *    pipes than with one); after closing, nothing; model_predict leaves nothing either;
 *  - a model that refuses the input shape fails predictor_open with its message, and nothing stays charged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/init.h"
#include "locus/interop.h"
#include "locus/model.h"
#include "locus/predictor.h"
#include "locus/tape.h"

#include "expect.h"

#define N 11

static float frand(Rng *r) { return 2.0f * rng_uniform(r) - 1.0f; }

typedef struct Fixture {
    MemTracker mt;
    ParamStore ps;
    Model m;
} Fixture;

static void fixture_open(Fixture *f, const char *arch, int c, int h, int w) {
    memset(f, 0, sizeof *f);
    params_init(&f->ps, &f->mt);
    ErrorMsg err;
    ModelSpec spec = {arch, c, h, w, 7};
    CHECK(model_create(&f->m, &spec, &f->ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&f->ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 5);
    model_init_weights(&f->m, &rng);
    for (int i = 0; i < f->ps.count; i++) { /* BN statistics and affine parameters away from the identity */
        const ParamInfo *p = &f->ps.info[i];
        const char *dot = strrchr(p->name, '.');
        if (!dot || !strstr(p->name, "bn")) continue;
        float *v = params_value(&f->ps, i);
        for (size_t j = 0; j < p->numel; j++) {
            if (!strcmp(dot, ".running_var")) v[j] = 0.3f + rng_uniform(&rng);
            else if (!strcmp(dot, ".weight")) v[j] = 0.5f + rng_uniform(&rng);
            else if (!strcmp(dot, ".bias") || !strcmp(dot, ".running_mean")) v[j] = 0.3f * frand(&rng);
        }
    }
}

static void fixture_close(Fixture *f) {
    model_free(&f->m);
    params_free(&f->ps);
}

/* Logits of one evaluation forward of the whole batch on one tape (the path the predictor replaces). */
static void batch_logits(Fixture *f, const float *x, int n, float *out) {
    StepCtx ctx = {.params = &f->ps, .training = 0, .threads = 2};
    ctx.scratch_bytes = (size_t)16 << 20;
    ctx.scratch = malloc(ctx.scratch_bytes);
    MemTracker mt = {0};
    Tape t;
    ErrorMsg err;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)64 << 20, 0, (size_t)1 << 20, &err) == LOCUS_OK, "%s", err.text);
    t.recording = 0;
    Model *m = &f->m;
    Tensor *y = model_forward(m, &t, tape_wrap(&t, shape4(n, m->in_c, m->in_h, m->in_w), (float *)x, 0));
    CHECK(y && tape_ok(&t), "%s", t.err.text);
    memcpy(out, y->data, tensor_bytes(y));
    tape_free(&t);
    free(ctx.scratch);
}

/* Largest |a - b| / (1 + |b|). */
static double worst_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (d > worst) worst = d;
    }
    return worst;
}

/* exact: the same bits are required (every layer's arithmetic is per sample); else equal to rounding. */
static void same_logits(const char *arch, int c, int h, int w, int exact) {
    double worst = 0;
    Fixture f;
    fixture_open(&f, arch, c, h, w);
    const size_t nx = (size_t)N * c * h * w, nl = (size_t)N * 7;
    float *x = malloc(nx * sizeof(float)), *want = malloc(nl * sizeof(float)), *got = malloc(nl * sizeof(float));
    Rng rng;
    rng_seed(&rng, 9);
    for (size_t i = 0; i < nx; i++) x[i] = frand(&rng);
    batch_logits(&f, x, N, want);
    const int chunks[] = {1, 3, 4, 0}, threads[] = {1, 2, 5};
    size_t live_one = 0, live_two = 0;
    for (int ci = 0; ci < 4; ci++)
        for (int ti = 0; ti < 3; ti++) {
            Predictor p;
            ErrorMsg err;
            const size_t live_before = f.mt.live_total;
            Status st = predictor_open(&p, &f.m, &f.mt, threads[ti], chunks[ci], &err);
            EXPECT(st == LOCUS_OK, "%s: predictor_open: %s", arch, err.text);
            if (st) continue;
            EXPECT(p.out_per_sample == 7, "%s: %zu logits per sample", arch, p.out_per_sample);
            if (chunks[ci] == 3 && threads[ti] == 1) live_one = f.mt.live_total - live_before;
            if (chunks[ci] == 3 && threads[ti] == 2) live_two = f.mt.live_total - live_before;
            for (size_t i = 0; i < nl; i++) got[i] = -12345.0f;
            for (int rep = 0; rep < 2; rep++) { /* a second run on the same pipes: the tapes were released */
                st = predictor_run(&p, x, N, got, &err);
                EXPECT(st == LOCUS_OK, "%s: predictor_run: %s", arch, err.text);
                const double d = worst_diff(got, want, nl);
                if (d > worst) worst = d;
                EXPECT(exact ? !memcmp(got, want, nl * sizeof(float)) : d < 1e-5,
                       "%s: chunk %d, %d threads, run %d: logits differ from the batch forward's by %g", arch,
                       chunks[ci], threads[ti], rep + 1, d);
            }
            predictor_close(&p);
            EXPECT(f.mt.live_total == live_before, "%s: %zu bytes still live after close", arch,
                   f.mt.live_total - live_before);
        }
    EXPECT(live_one > 0 && live_two > live_one, "%s: pipes charged %zu (1 thread) and %zu (2 threads) bytes", arch,
           live_one, live_two);
    const size_t live_before = f.mt.live_total;
    ErrorMsg err;
    EXPECT(model_predict(&f.m, &f.mt, x, N, 2, got, &err) == LOCUS_OK, "%s: model_predict: %s", arch, err.text);
    EXPECT(exact ? !memcmp(got, want, nl * sizeof(float)) : worst_diff(got, want, nl) < 1e-5,
           "%s: model_predict differs from the batch forward", arch);
    EXPECT(f.mt.live_total == live_before, "%s: model_predict left %zu bytes live", arch,
           f.mt.live_total - live_before);
    printf("%s %dx%dx%d: predictor vs batch logits (chunks 1/3/4/%d, threads 1/2/5): largest relative difference %.2g "
           "(%s); pipes %zu / %zu bytes\n",
           arch, c, h, w, PREDICTOR_CHUNK, worst, exact ? "the same bits required" : "rounding allowed", live_one,
           live_two);
    free(x), free(want), free(got);
    fixture_close(&f);
}

/* vit-micro's patches do not tile 13 x 13: the plan pass refuses it, and nothing stays charged. */
static void refused_shape(void) {
    Fixture f;
    fixture_open(&f, "vit-micro", 3, 16, 12);
    f.m.in_h = 13, f.m.in_w = 13;
    const size_t live_before = f.mt.live_total;
    Predictor p;
    ErrorMsg err = {{0}};
    Status st = predictor_open(&p, &f.m, &f.mt, 2, 0, &err);
    EXPECT(st != LOCUS_OK && err.text[0], "a 13x13 input to vit-micro was accepted");
    EXPECT(f.mt.live_total == live_before, "%zu bytes live after a refused open", f.mt.live_total - live_before);
    printf("refused: %s\n", err.text);
    f.m.in_h = 16, f.m.in_w = 12;
    fixture_close(&f);
}

int main(void) {
    same_logits("resnet8", 3, 13, 11, 1);
    /* the patch embedding's product runs on OpenBLAS, whose kernel (and so the order of its sums) depends on
     * the number of rows, i.e. on the micro-batch */
    same_logits("vit-micro", 3, 16, 12, 0);
    refused_shape();
    return expect_report();
}
