/* test_man.c — MAN and MAN++ (spec local-learning.md §3, §7 items 2, 4, 5, 11):
 *  - EMA update: decay 0 == copy of the next block, decay 1 == frozen; parameters only (BN running statistics of
 *    the EMA copy are left alone);
 *  - in a training step the update happens inside the method's step (after the module's backward) and before the
 *    optimizer step: with decay 0 the EMA copy holds the next block's pre-step weights, which the optimizer then
 *    moves away from;
 *  - EMA parameters have no gradient slot and no optimizer state; LB, the heads and MAN++'s scalar get gradients;
 *  - ResNet blocks: the input gradient of LB(x) + EMA(x) is exactly the sum of the two branches' input gradients
 *    (finite differences of the same on ViT blocks are in grad_cases_man.c);
 *  - --man-init copy starts LB and EMA at the next block's weights; random (default) does not;
 *  - MAN++ has the stem as its own module; bad setups (a cut before the head) are refused with a hint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/method.h"
#include "methods/momentum.h"
#include "train/session_internal.h"
#include "session_step.h"
#include "expect.h"

static TrainConfig man_config(const char *method, const char *init, double decay) {
    TrainConfig c;
    train_config_defaults(&c);
    snprintf(c.model, sizeof c.model, "resnet20");
    snprintf(c.method, sizeof c.method, "%s", method);
    snprintf(c.man_init, sizeof c.man_init, "%s", init);
    snprintf(c.cuts, sizeof c.cuts, "1.2,2.1,3.0"); /* next blocks: layer2.0 (projection), layer2.2, layer3.1 */
    c.ixx2 = c.ixy2 = 1; /* MAN's r = stage/(K-2) reaches 1 at 4 modules, where the README's weights are 0 */
    c.ema_decay = decay;
    c.batch = 16;
    c.limit_train = 32;
    c.limit_test = 16;
    c.threads = 2;
    return c;
}

/* Max |a - b| between the EMA copy "aux.<b>.man.ema.<suffix>" and the unit's own "<prefix>.<suffix>" over the
 * learnable parameters of the EMA copy of module b; *n_params: how many were compared. */
static double ema_vs_unit(const Session *s, const char *copy_prefix, const char *unit_prefix, int *n_params) {
    const ParamStore *ps = &s->ps;
    double worst = 0;
    *n_params = 0;
    size_t lp = strlen(copy_prefix);
    for (int h = 0; h < ps->count; h++) {
        if (strncmp(ps->info[h].name, copy_prefix, lp) || ps->info[h].kind == PARAM_BUFFER) continue;
        char name[128];
        snprintf(name, sizeof name, "%s%s", unit_prefix, ps->info[h].name + lp);
        int u = params_find(ps, name);
        CHECK(u >= 0, "no %s", name);
        const float *a = params_value(ps, h), *b = params_value(ps, u);
        for (size_t i = 0; i < ps->info[h].numel; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
        (*n_params)++;
    }
    return worst;
}

/* resnet20 cut after 1.2, 2.1, 3.0: module 0's next block is layer2.0 (9 learnable tensors with its shortcut) */
static void test_ema_decay_and_timing(void) {
    TrainConfig c0 = man_config("man", "random", 0.0);
    Session s;
    if (session_one_step(&s, &c0, NULL)) {
        EXPECT(0, "man step failed");
        return;
    }
    int n = 0;
    double d = ema_vs_unit(&s, "aux.0.man.ema.", "layer2.0.", &n);
    EXPECT(n == 9 && d == 0.0, "decay 0: EMA copy == layer2.0 before the optimizer step (%d tensors, max diff %g)", n, d);
    /* the optimizer step then moves layer2.0, not the EMA copy */
    optim_step(&s.opt, 0.1f);
    d = ema_vs_unit(&s, "aux.0.man.ema.", "layer2.0.", &n);
    EXPECT(d > 0.0, "after the optimizer step layer2.0 moved away from its EMA copy (max diff %g)", d);
    /* EMA parameters: no gradient slot, no optimizer state; LB parameters: gradients */
    int ema = 0, lb_grad = 0;
    for (int h = 0; h < s.ps.count; h++) {
        if (strstr(s.ps.info[h].name, ".man.ema.") && s.ps.info[h].kind != PARAM_BUFFER) {
            ema++;
            EXPECT(s.ps.info[h].kind == PARAM_EMA && params_grad(&s.ps, h) == NULL, "%s: EMA kind, no gradient",
                   s.ps.info[h].name);
        }
        if (strstr(s.ps.info[h].name, ".man.lb.") && s.ps.info[h].kind == PARAM_TRAINABLE) {
            const float *g = params_grad(&s.ps, h);
            for (size_t i = 0; i < s.ps.info[h].numel; i++)
                if (g[i] != 0.0f) {
                    lb_grad++;
                    break;
                }
        }
    }
    EXPECT(ema == 9 + 6 + 6, "EMA copies of layer2.0, layer2.2, layer3.1: 21 learnable tensors (found %d)", ema);
    EXPECT(lb_grad == 21, "LB copies receive gradients (%d tensors non-zero)", lb_grad);
    EXPECT(s.mt.peak[MEM_TAG_EMA] == s.ps.numel_ema * sizeof(float) && s.ps.numel_ema > 0, "EMA tag %zu bytes",
           s.mt.peak[MEM_TAG_EMA]);
    session_close(&s);

    /* decay 1: frozen at its (random) initial value */
    TrainConfig c1 = man_config("man", "random", 1.0);
    Session a, b;
    ErrorMsg err;
    if (session_open(&a, &c1, 0, &err) || session_one_step(&b, &c1, NULL)) {
        EXPECT(0, "sessions failed");
        return;
    }
    int h = params_find(&a.ps, "aux.1.man.ema.conv1.weight");
    EXPECT(h >= 0 && !memcmp(params_value(&a.ps, h), params_value(&b.ps, h), a.ps.info[h].numel * sizeof(float)),
           "decay 1: the EMA copy did not move");
    d = ema_vs_unit(&b, "aux.1.man.ema.", "layer2.2.", &n);
    EXPECT(d > 0.01, "random init (the authors' quirk): EMA copy differs from layer2.2 (max diff %g)", d);
    session_close(&a);
    session_close(&b);

    /* --man-init copy: LB and EMA start at the next block's weights */
    TrainConfig cc = man_config("man", "copy", 1.0);
    if (session_open(&a, &cc, 0, &err)) {
        EXPECT(0, "open: %s", err.text);
        return;
    }
    double de = ema_vs_unit(&a, "aux.1.man.ema.", "layer2.2.", &n), dl = ema_vs_unit(&a, "aux.1.man.lb.", "layer2.2.", &n);
    EXPECT(de == 0.0 && dl == 0.0, "--man-init copy: EMA and LB == layer2.2 (max diff %g, %g)", de, dl);
    session_close(&a);
}

/* resnet8 on 3x8x8 with MAN's LB and EMA copies of block (2,0) as "aux.lb" / "aux.ema", initialised from seed. */
static void resnet8_with_momentum_aux(MemTracker *mt, ParamStore *ps, Model *m, MomentumAux *a, Rng *rng,
                                      uint64_t seed) {
    params_init(ps, mt);
    ErrorMsg err;
    ModelSpec spec = {"resnet8", 3, 8, 8, 10};
    CHECK(model_create(m, &spec, ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(momentum_aux_create(a, m, 2, ps, "aux", 0, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(ps, &err) == LOCUS_OK, "%s", err.text);
    rng_seed(rng, seed);
    model_init_weights(m, rng);
    momentum_aux_init_weights(a, m, ps, rng, 0);
}

/* momentum_ema_update on its own: parameters move, BN running statistics of the copy do not. */
static void test_ema_buffers_untouched(void) {
    MemTracker mt = {0};
    ParamStore ps;
    Model m;
    MomentumAux a;
    Rng rng;
    resnet8_with_momentum_aux(&mt, &ps, &m, &a, &rng, 5);
    int rm = params_find(&ps, "aux.ema.bn1.running_mean"), w = params_find(&ps, "aux.ema.conv1.weight");
    int src_rm = params_find(&ps, "layer2.0.bn1.running_mean"), src_w = params_find(&ps, "layer2.0.conv1.weight");
    params_value(&ps, rm)[0] = 42.0f;
    params_value(&ps, src_rm)[0] = -7.0f;
    float w0 = params_value(&ps, w)[3], s0 = params_value(&ps, src_w)[3];
    momentum_ema_update(&a, &m, &ps, 0.75f);
    EXPECT(params_value(&ps, rm)[0] == 42.0f, "running mean of the EMA copy untouched (%g)", params_value(&ps, rm)[0]);
    float want = 0.75f * w0 + 0.25f * s0;
    EXPECT(fabsf(params_value(&ps, w)[3] - want) < 1e-7f, "theta = 0.75 theta + 0.25 theta_next: %g vs %g",
           params_value(&ps, w)[3], want);
    momentum_aux_free(&a);
    model_free(&m);
    params_free(&ps);
}

/* d/dx sum(R * f(x)) on a fresh tape, f = LB, EMA or LB + EMA. */
static void input_grad(const Model *m, const MomentumAux *a, ParamStore *ps, int which, const float *x, Shape xs,
                       float *dx) {
    MemTracker mt = {0};
    StepCtx ctx = {.params = ps, .training = 1, .threads = 1, .scratch_bytes = (size_t)8 << 20};
    ctx.scratch = malloc(ctx.scratch_bytes);
    Tape t;
    ErrorMsg err;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)32 << 20, (size_t)32 << 20, (size_t)1 << 20, &err) == LOCUS_OK, "%s",
          err.text);
    t.recording = 1;
    TapeMark mk = tape_mark(&t);
    Tensor *xt = tape_wrap(&t, xs, (float *)x, 1);
    Tensor *y = which == 0 ? unit_copy_forward(m, &a->lb, &t, xt)
              : which == 1 ? unit_copy_forward(m, &a->ema, &t, xt)
                           : momentum_aux_forward(a, m, &t, xt);
    CHECK(y && tape_ok(&t), "forward: %s", t.err.text);
    float *R = malloc(tensor_bytes(y));
    Rng rng;
    rng_seed(&rng, 99);
    for (size_t i = 0; i < tensor_numel(y); i++) R[i] = rng_normal(&rng);
    CHECK(tape_backward_from(&t, y, R, mk) == LOCUS_OK, "backward: %s", t.err.text);
    memcpy(dx, xt->grad, shape_numel(&xs) * sizeof(float));
    free(R);
    tape_free(&t);
    free(ctx.scratch);
}

static void test_input_gradient_is_sum_of_branches(void) {
    MemTracker mt = {0};
    ParamStore ps;
    Model m;
    MomentumAux a;
    Rng rng;
    resnet8_with_momentum_aux(&mt, &ps, &m, &a, &rng, 6);
    Shape xs = shape4(4, 16, 8, 8);
    size_t n = shape_numel(&xs);
    float *x = malloc(n * sizeof *x), *g[3];
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&rng);
    for (int k = 0; k < 3; k++) {
        g[k] = malloc(n * sizeof(float));
        input_grad(&m, &a, &ps, k, x, xs, g[k]);
    }
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)g[2][i] - ((double)g[0][i] + g[1][i])));
        scale = fmax(scale, fabs((double)g[1][i]));
    }
    EXPECT(scale > 1e-3, "the frozen EMA branch passes an input gradient (max |dx_ema| %g)", scale);
    EXPECT(worst <= 1e-5 * fmax(1.0, scale), "dx(LB + EMA) == dx(LB) + dx(EMA): max diff %g", worst);
    for (int k = 0; k < 3; k++) free(g[k]);
    free(x);
    momentum_aux_free(&a);
    model_free(&m);
    params_free(&ps);
}

static void test_manpp_structure(void) {
    TrainConfig c = man_config("man++", "random", 0.995);
    Session s;
    if (session_one_step(&s, &c, NULL)) {
        EXPECT(0, "man++ step failed");
        return;
    }
    EXPECT(s.n_blocks == 5 && !strcmp(s.blocks[0].units, "0.0-0.0"), "stem alone, then 4 modules (%d, %s)",
           s.n_blocks, s.blocks[0].units);
    int h = params_find(&s.ps, "aux.0.man.mix.scale");
    EXPECT(h >= 0 && params_value(&s.ps, h)[0] == 1.0f && params_grad(&s.ps, h)[0] != 0.0f,
           "MAN++ scalar starts at 1 and gets a gradient");
    EXPECT(params_find(&s.ps, "aux.0.man.ema.conv1.weight") >= 0 && params_find(&s.ps, "aux.0.cls.head.5.weight") >= 0,
           "the stem module copies block 1.0 and has a 1c2f head");
    session_close(&s);
    /* MAN's stage-based lambdas at 4 modules give weights 0 and 0: refused with a hint */
    TrainConfig zero = man_config("man", "random", 0.995);
    zero.ixx2 = zero.ixy2 = -1;
    ErrorMsg zerr;
    Session z;
    Status zs = session_open(&z, &zero, 1, &zerr);
    EXPECT(zs == LOCUS_ERR_ARG && strstr(zerr.text, "--ixx2 1"), "zero weights refused: %s",
           zerr.text);
    session_close(&z);
    /* a cut right before the head leaves no block to copy */
    TrainConfig bad = man_config("man", "random", 0.995);
    snprintf(bad.cuts, sizeof bad.cuts, "3.2");
    ErrorMsg err;
    Session t;
    Status st = session_open(&t, &bad, 1, &err);
    EXPECT(st == LOCUS_ERR_ARG && strstr(err.text, "hint"), "cut before the head refused: %s", err.text);
    session_close(&t);
}

int main(void) {
    test_ema_decay_and_timing();
    test_ema_buffers_untouched();
    test_input_gradient_is_sum_of_branches();
    test_manpp_structure();
    return expect_report();
}
