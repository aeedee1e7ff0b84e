/* grad_cases_man.c — gradient checks for MAN / MAN++'s auxiliary input (spec local-learning.md §3.2, §3.4):
 *  - scaled_pair y = s*a + (2-s)*b at s != 1: both inputs and the scalar s;
 *  - MAN's y = LB(x) + EMA(x) with LB a trainable copy and EMA a frozen (PARAM_EMA) copy of a model block:
 *    the gradient into x must be the sum of both branches (the frozen branch still passes input gradients),
 *    LB's parameters are checked, the EMA copy's have no gradient slot at all;
 *  - MAN++'s s*LB(x) + (2-s)*EMA(x), the same with the scalar.
 * The copies are of vit-micro blocks (smooth: GELU, LayerNorm; random parameters of a scale that exercises every
 * term). For ResNet blocks the ReLU kinks of a block this wide make float32 central differences unreliable (see
 * grad_cases_basic.c); test_man.c checks there, exactly, that the input gradient of LB(x) + EMA(x) is the sum of
 * the two branches' input gradients. */
#include <stdio.h>

#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/merge.h"
#include "layers/scaled_pair.h"
#include "locus/model.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

typedef struct ManAux {
    Model model;
    UnitCopy lb, ema;
    Add add;
    ScaledPair mix;
    int scaled; /* MAN++ */
} ManAux;

static Tensor *man_aux(void *user, Tape *t, Tensor *const *in, int n_in) {
    (void)n_in;
    ManAux *a = user;
    Tensor *l = unit_copy_forward(&a->model, &a->lb, t, in[0]);
    Tensor *e = unit_copy_forward(&a->model, &a->ema, t, in[0]);
    return a->scaled ? tape_call2(t, &a->mix.base, l, e) : tape_call2(t, &a->add.base, l, e);
}

static int man_case(const char *arch, int unit, int scaled, Shape xs, uint64_t seed) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ManAux a = {0};
    ErrorMsg err;
    ModelSpec spec = {arch, 3, 8, 8, 10};
    CHECK(model_create(&a.model, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(model_copy_unit(&a.model, unit, &ps, "aux.lb", PARAM_TRAINABLE, &a.lb, &err) == LOCUS_OK, "%s", err.text);
    CHECK(model_copy_unit(&a.model, unit, &ps, "aux.ema", PARAM_EMA, &a.ema, &err) == LOCUS_OK, "%s", err.text);
    add_init(&a.add, "aux.add");
    a.scaled = scaled;
    if (scaled) scaled_pair_init(&a.mix, &ps, "aux.mix");
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    grad_randomize_params(&ps, 0.3f, seed);
    if (scaled) params_value(&ps, a.mix.scale)[0] = 0.7f;
    int bad = 0;
    for (int i = 0; i < a.ema.param_count; i++) {
        const ParamInfo *pi = &ps.info[a.ema.param_first + i];
        if (pi->kind == PARAM_TRAINABLE || params_grad(&ps, a.ema.param_first + i)) {
            printf("FAIL %s: EMA parameter %s is trainable or has a gradient slot\n", arch, pi->name);
            bad++;
        }
    }
    char name[96];
    snprintf(name, sizeof name, "%s LB(x) %s EMA(x), %s copies of unit %d", scaled ? "MAN++ s*" : "MAN",
             scaled ? "+ (2-s)*" : "+", arch, unit);
    bad += gradcheck_run(&(GradcheckCase){.name = name, .fn = man_aux, .user = &a, .params = &ps, .n_in = 1,
                                          .in_shape = {xs}, .seed = seed});
    unit_copy_free(&a.lb);
    unit_copy_free(&a.ema);
    model_free(&a.model);
    params_free(&ps);
    return bad;
}

static int scaled_pair_case(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ScaledPair p;
    scaled_pair_init(&p, &ps, "mix");
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    params_value(&ps, p.scale)[0] = 1.3f;
    int bad = gradcheck_run(&(GradcheckCase){.name = "scaled_pair s=1.3", .fn = one_layer, .user = &p, .params = &ps,
                                             .n_in = 2, .in_shape = {shape4(2, 3, 4, 5), shape4(2, 3, 4, 5)},
                                             .seed = 71});
    params_free(&ps);
    return bad;
}

int grad_cases_man(void) {
    int bad = scaled_pair_case();
    bad += man_case("vit-micro", 1, 0, shape3(2, 5, 48), 81);
    bad += man_case("vit-micro", 2, 1, shape3(2, 5, 48), 82);
    return bad;
}
