/* test_resnet.c — CIFAR ResNet structure: parameter counts against the spec's computed values
 * (local-learning.md §0.1: ResNet-32 466,906; ResNet-110 1,730,714), PyTorch names, unit list and
 * output shapes for 1- and 3-channel inputs of 28, 32 and 96 pixels; plus one timed training step of
 * ResNet-20 at batch 128 (printed, not asserted: timings are benchmarks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "locus/model.h"
#include "expect.h"


static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void check_model(const char *arch, int c, int hw, int classes, size_t expect_params, int expect_units) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {arch, c, hw, hw, classes};
    Status st = model_create(&m, &spec, &ps, &err);
    EXPECT(st == LOCUS_OK, "%s: %s", arch, err.text);
    if (st) return;
    EXPECT(params_finalize(&ps, &err) == LOCUS_OK, "finalize");
    Rng rng;
    rng_seed(&rng, 3);
    model_init_weights(&m, &rng);
    if (expect_params) EXPECT(params_count_trainable(&ps) == expect_params, "%s: %zu params, expected %zu", arch,
                              params_count_trainable(&ps), expect_params);
    EXPECT(m.n_units == expect_units, "%s: %d units, expected %d", arch, m.n_units, expect_units);
    EXPECT(params_find(&ps, "layer2.0.shortcut.0.weight") >= 0, "%s: projection shortcut name", arch);
    EXPECT(params_find(&ps, "layer1.0.shortcut.0.weight") < 0, "%s: no projection in stage 1", arch);
    EXPECT(params_find(&ps, "bn1.running_var") >= 0 && params_find(&ps, "fc.bias") >= 0, "%s: names", arch);
    /* forward on a plan tape: shapes only */
    StepCtx ctx = {.params = &ps, .training = 1, .threads = 1};
    Tape t;
    EXPECT(tape_init_plan(&t, &ctx, &mt, 1 << 20, &err) == LOCUS_OK, "plan tape");
    Tensor *x = tape_wrap(&t, shape4(2, c, hw, hw), NULL, 0);
    Tensor *y = model_forward(&m, &t, x);
    EXPECT(y && y->shape.ndim == 2 && y->shape.d[0] == 2 && y->shape.d[1] == classes, "%s: logits shape", arch);
    int last = (hw + 1) / 2;
    last = (last + 1) / 2;
    EXPECT(m.units[m.n_units - 2].out_h == last && m.units[m.n_units - 2].out_c == 64, "%s: last stage %d px", arch,
           m.units[m.n_units - 2].out_h);
    tape_free(&t);
    model_free(&m);
    params_free(&ps);
}

static void time_step(const char *arch, int batch, int threads) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {arch, 3, 32, 32, 10};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 1);
    model_init_weights(&m, &rng);
    StepCtx ctx = {.params = &ps, .training = 1, .threads = threads};
    Tape plan;
    CHECK(tape_init_plan(&plan, &ctx, &mt, 1 << 20, &err) == LOCUS_OK, "plan");
    model_forward(&m, &plan, tape_wrap(&plan, shape4(batch, 3, 32, 32), NULL, 0));
    size_t scratch = plan.scratch_need;
    TapeMark pm = tape_mark(&plan);
    (void)pm;
    Tape t;
    float *x = malloc(sizeof(float) * batch * 3 * 32 * 32);
    for (int i = 0; i < batch * 3 * 32 * 32; i++) x[i] = rng_normal(&rng);
    ctx.scratch = malloc(scratch + 64);
    ctx.scratch_bytes = scratch;
    /* grads: at most the activations again */
    CHECK(tape_init(&t, &ctx, &mt, plan.data.high + (1 << 20), plan.data.high + (1 << 20), 1 << 20, &err) == LOCUS_OK,
          "%s", err.text);
    tape_free(&plan);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        TapeMark mk = tape_mark(&t);
        Tensor *out = model_forward(&m, &t, tape_wrap(&t, shape4(batch, 3, 32, 32), x, 0));
        float *dout = calloc(tensor_numel(out), sizeof(float));
        for (size_t i = 0; i < tensor_numel(out); i++) dout[i] = 1e-3f;
        tape_backward_from(&t, out, dout, mk);
        tape_release(&t, mk);
        free(dout);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    printf("%s batch %d threads %d: train step %.3f s = %.0f img/s\n", arch, batch, threads, best, batch / best);
    tape_free(&t);
    free(ctx.scratch);
    free(x);
    model_free(&m);
    params_free(&ps);
}

int main(void) {
    check_model("resnet32", 3, 32, 10, 466906, 17);
    check_model("resnet110", 3, 32, 10, 1730714, 56);
    check_model("resnet20", 1, 28, 10, 0, 11);
    check_model("resnet8", 3, 96, 10, 0, 5);
    {
        ParamStore ps;
        params_init(&ps, NULL);
        Model m;
        ErrorMsg err;
        ModelSpec bad = {"resnet33", 3, 32, 32, 10};
        EXPECT(model_create(&m, &bad, &ps, &err) == LOCUS_ERR_ARG && strstr(err.text, "resnet32"),
               "resnet33 must be refused with a hint");
        params_free(&ps);
    }
    if (getenv("LOCUS_TIMING")) {
        openblas_set_num_threads(1);
        time_step("resnet20", 128, 1);
        time_step("resnet20", 128, 2);
        time_step("resnet32", 128, 1);
        time_step("resnet32", 128, 2);
    }
    return expect_report();
}
