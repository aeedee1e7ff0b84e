/* test_replace.c — Replacement Learning (methods/replace.h, spec local-learning.md §5.4):
 *  - which blocks: ResNet-32 k=4 -> (1,3) (2,2); ResNet-110 k=4 -> the spec's 11 blocks; per-stage counting;
 *    ViT-tiny: the attention of block 3 (4 tensors; 12 with --replace-scope all);
 *  - learnable parameters = full count - replaced tensors + 2 per replaced block; replaced tensors have no
 *    gradient slot and no optimizer state;
 *  - a = 1, b = 0: the replaced block computes exactly what a copy of its predecessor computes;
 *  - P is recomputed by every forward (garbage in P before a forward changes nothing);
 *  - gradients of a, b and of both neighbours (through P) match central finite differences (resnet20 k=2 on a
 *    tiny input, vit-tiny attention);
 *  - exactly, against an end-to-end twin whose block has its own weights = a*P_prev + b*P_next: variant A
 *    (--no-replace-neighbour-grad) gives the twin's gradients bit for bit, variant B adds a*dP to block j-1
 *    and b*dP to block j+1, and da = <dP, P_prev>, db = <dP, P_next>.
 * Needs Fashion-MNIST (else skipped). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/method.h"
#include "locus/rng.h"
#include "methods/replace.h"
#include "train/session_internal.h"
#include "session_step.h"
#include "expect.h"

/* ---- selection on bare models (no data needed) ---- */

static int select_units(const char *arch, int every, int per_stage, int all, char names[][32], int *ntensors) {
    ParamStore ps;
    params_init(&ps, NULL);
    Model m;
    ModelSpec spec = {arch, 3, 32, 32, 10};
    ErrorMsg err;
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s: %s", arch, err.text);
    ReplaceSlot slots[64];
    int n = replace_select(&m, every, per_stage, all, slots, 64);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], 32, "%s", m.units[slots[i].unit].name);
        if (ntensors) ntensors[i] = slots[i].n;
    }
    model_free(&m);
    params_free(&ps);
    return n;
}

static void expect_units(const char *what, char got[][32], int n, const char *const *want, int nwant) {
    int same = n == nwant;
    for (int i = 0; same && i < n; i++) same = !strcmp(got[i], want[i]);
    char list[512] = "";
    for (int i = 0; i < n; i++) strcat(list, got[i]), strcat(list, " ");
    EXPECT(same, "%s: got %d blocks: %s", what, n, list);
}

static void test_selection(void) {
    char got[64][32];
    int nt[64];
    const char *r32[] = {"1.3", "2.2"};
    expect_units("resnet32 k=4", got, select_units("resnet32", 4, 0, 0, got, nt), r32, 2);
    EXPECT(nt[0] == 6 && nt[1] == 6, "resnet32: 6 tensors per block (2 convs, 2 BN gamma/beta): %d %d", nt[0], nt[1]);
    const char *r110[] = {"1.3", "1.7", "1.11", "1.15", "2.5", "2.9", "2.13", "3.3", "3.7", "3.11", "3.15"};
    expect_units("resnet110 k=4", got, select_units("resnet110", 4, 0, 0, got, NULL), r110, 11);
    const char *r32s[] = {"1.3", "2.3", "3.3"};
    expect_units("resnet32 k=4 per stage", got, select_units("resnet32", 4, 1, 0, got, NULL), r32s, 3);
    const char *r32k2[] = {"1.1", "1.3", "2.2", "3.3"};
    expect_units("resnet32 k=2", got, select_units("resnet32", 2, 0, 0, got, NULL), r32k2, 4);
    const char *r20k2[] = {"1.1"};
    expect_units("resnet20 k=2", got, select_units("resnet20", 2, 0, 0, got, NULL), r20k2, 1);
    EXPECT(select_units("resnet20", 4, 0, 0, got, NULL) == 0, "resnet20 k=4: nothing fits");
    const char *vit[] = {"block3"};
    expect_units("vit-tiny k=4", got, select_units("vit-tiny", 4, 0, 0, got, nt), vit, 1);
    EXPECT(nt[0] == 4, "vit-tiny: qkv and proj weight + bias (%d tensors)", nt[0]);
    select_units("vit-tiny", 4, 0, 1, got, nt);
    EXPECT(nt[0] == 12, "vit-tiny --replace-scope all: 12 tensors (%d)", nt[0]);
}

/* ---- sessions on Fashion-MNIST ---- */

static TrainConfig config(const char *model, int every) {
    TrainConfig c;
    train_config_defaults(&c);
    snprintf(c.model, sizeof c.model, "%s", model);
    c.replace_every = every;
    c.batch = 8;
    c.limit_train = 8;
    c.limit_test = 8;
    c.threads = 1;
    c.weight_decay = 0;
    return c;
}

static int open_session(Session *s, const TrainConfig *c) {
    ErrorMsg err;
    Status st = session_open(s, c, 0, &err);
    if (st == LOCUS_ERR_IO) {
        printf("skip: %s\n", err.text);
        exit(77);
    }
    if (st) printf("open %s: %s\n", c->model, err.text);
    return st;
}

/* One training step (forward + backward) on the first batch; returns the loss; gradients stay. */
static double step(Session *s) {
    double loss = 0;
    CHECK(session_step_first_batch(s, &loss) == 0, "step failed");
    return loss;
}

static int handle(const Session *s, const char *name) {
    int h = params_find(&s->ps, name);
    CHECK(h >= 0, "no parameter %s", name);
    return h;
}

static void test_counts(void) {
    TrainConfig c0 = config("resnet32", 0), c1 = config("resnet32", 4);
    Session s0, s1;
    if (open_session(&s0, &c0) || open_session(&s1, &c1)) {
        EXPECT(0, "sessions open");
        return;
    }
    size_t full = params_count_trainable(&s0.ps), with = params_count_trainable(&s1.ps);
    /* (1,3): 2 x 16x16x3x3 + 4 x 16; (2,2): 2 x 32x32x3x3 + 4 x 32; + (a, b) for each */
    size_t derived = 2 * 16 * 16 * 9 + 4 * 16 + 2 * 32 * 32 * 9 + 4 * 32;
    EXPECT(with == full - derived + 4, "learnable %zu == %zu - %zu + 4", with, full, derived);
    EXPECT(s1.model.replace && s1.model.replace->learnable_full == full && s1.model.replace->derived_numel == derived,
           "the replacement's own counts");
    int h = handle(&s1, "layer2.2.conv1.weight");
    EXPECT(s1.ps.info[h].kind == PARAM_DERIVED && params_grad(&s1.ps, h) == NULL, "replaced tensor: derived, no grad");
    EXPECT(s1.ps.info[handle(&s1, "layer2.2.bn1.running_mean")].kind == PARAM_BUFFER, "BN running stats stay");
    EXPECT(s1.ps.info[handle(&s1, "replace.layer2.2.ab")].kind == PARAM_TRAINABLE, "(a, b) trainable");
    /* persistent gradient and optimizer slabs shrink by the replaced tensors (each rounded to 16 floats) */
    EXPECT(s0.ps.numel_trainable - s1.ps.numel_trainable == derived - 2 * 16, "gradient slab %zu -> %zu",
           s0.ps.numel_trainable, s1.ps.numel_trainable);
    const float *ab = params_value(&s1.ps, handle(&s1, "replace.layer1.3.ab"));
    EXPECT(ab[0] == 0.5f && ab[1] == 0.5f, "a = b = 0.5 at init (%g %g)", ab[0], ab[1]);
    /* the other parameters are initialised exactly as without replacement (same random stream) */
    int h0 = handle(&s0, "layer3.4.conv2.weight"), h1 = handle(&s1, "layer3.4.conv2.weight");
    EXPECT(!memcmp(params_value(&s0.ps, h0), params_value(&s1.ps, h1), sizeof(float) * s0.ps.info[h0].numel),
           "same init as without replacement");
    session_close(&s0);
    session_close(&s1);
}

/* Runs unit u in training mode (batch statistics) on x; copies the output to out. */
static void run_unit(Session *s, int u, Tensor *x, float *out) {
    Tape *t = &s->tape;
    TapeMark m = tape_mark(t);
    s->ctx.training = 1;
    int was = t->recording;
    t->recording = 0;
    Tensor *y = s->model.unit_forward(&s->model, t, u, x);
    CHECK(y && tape_ok(t), "unit %d: %s", u, t->err.text);
    memcpy(out, y->data, tensor_bytes(y));
    t->recording = was;
    tape_release(t, m);
}

static void test_copy_and_refresh(void) {
    TrainConfig c = config("resnet20", 2);
    Session s;
    if (open_session(&s, &c)) {
        EXPECT(0, "session opens");
        return;
    }
    const int u = 2; /* block (1,1), replaced */
    EXPECT(s.model.replace->n_slots == 1 && s.model.replace->slots[0].unit == u, "resnet20 k=2 replaces 1.1");
    Rng rng;
    rng_seed(&rng, 7);
    Shape xs = shape4(4, 16, 28, 28);
    size_t n = shape_numel(&xs);
    float *xd = malloc(sizeof(float) * n), *y1 = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) xd[i] = rng_normal(&rng);
    Tape *t = &s.tape;
    TapeMark m = tape_mark(t);
    Tensor *x = tape_wrap(t, xs, xd, 0);
    float *ab = params_value(&s.ps, s.model.replace->slots[0].ab);
    ab[0] = 1.0f, ab[1] = 0.0f;
    run_unit(&s, u, x, y1);
    run_unit(&s, u - 1, x, y0);
    EXPECT(!memcmp(y0, y1, sizeof(float) * n), "a = 1, b = 0: the block computes what its predecessor computes");
    ab[0] = 0.5f, ab[1] = 0.5f;
    run_unit(&s, u, x, y1);
    EXPECT(memcmp(y0, y1, sizeof(float) * n), "a = b = 0.5: it does not");
    /* P is recomputed by every forward: garbage in P before it changes nothing */
    float *p = params_value(&s.ps, handle(&s, "layer1.1.conv2.weight"));
    for (size_t i = 0; i < s.ps.info[handle(&s, "layer1.1.conv2.weight")].numel; i++) p[i] = 1e3f;
    run_unit(&s, u, x, y0);
    EXPECT(!memcmp(y0, y1, sizeof(float) * n), "P recomputed at the forward");
    tape_release(t, m);
    free(xd), free(y1), free(y0);
    session_close(&s);
}

/* A probe for finite differences: L = sum(logits * R) in double on a fixed random batch (no rounding of a
 * loss layer), BN with its running statistics (the tape records, but training = 0), so that L is smooth
 * apart from ReLU kinks. The ViT is smooth throughout. */
typedef struct Probe {
    Session *s;
    Shape xs;
    float *x, *R;
} Probe;

static void probe_init(Probe *p, Session *s, Shape xs, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    p->s = s;
    p->xs = xs;
    p->x = malloc(sizeof(float) * shape_numel(&xs));
    p->R = malloc(sizeof(float) * (size_t)xs.d[0] * (size_t)s->model.classes);
    for (size_t i = 0; i < shape_numel(&xs); i++) p->x[i] = rng_normal(&rng);
    for (int i = 0; i < xs.d[0] * s->model.classes; i++) p->R[i] = rng_normal(&rng);
}

static void probe_free(Probe *p) { free(p->x), free(p->R); }

/* L; with grad, the parameter gradients of L are left in the store. */
static double probe_loss(Probe *p, int grad) {
    Session *s = p->s;
    Tape *t = &s->tape;
    params_zero_grads(&s->ps);
    TapeMark m = tape_mark(t);
    t->recording = 1;
    s->ctx.training = 0;
    Tensor *logits = model_forward(&s->model, t, tape_wrap(t, p->xs, p->x, 0));
    CHECK(logits && tape_ok(t), "probe forward: %s", t->err.text);
    double L = 0;
    for (size_t i = 0; i < tensor_numel(logits); i++) L += (double)logits->data[i] * p->R[i];
    if (grad) CHECK(tape_backward_from(t, logits, p->R, m) == LOCUS_OK, "probe backward: %s", t->err.text);
    tape_release(t, m);
    s->ctx.training = 1;
    return L;
}

static int close_enough(double num, double ana, double rtol, double atol) {
    return fabs(num - ana) <= atol + rtol * fmax(fabs(num), fabs(ana));
}

/* dL along a direction v of tensor `name` (v: normal, scaled by the tensor's RMS or 1; or e_i for the scalar
 * i of a pair when unit >= 0): analytic <grad, v> against a central difference with step eps. */
static void check_fd(Probe *p, const char *name, int unit, double eps, uint64_t seed) {
    Session *s = p->s;
    int h = handle(s, name);
    size_t n = s->ps.info[h].numel;
    float *w = params_value(&s->ps, h), *v = malloc(sizeof(float) * n), *saved = malloc(sizeof(float) * n);
    double rms = 0;
    for (size_t i = 0; i < n; i++) rms += (double)w[i] * w[i];
    rms = sqrt(rms / (double)n);
    if (rms == 0) rms = 1; /* a zero-initialised bias */
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) v[i] = unit >= 0 ? (float)(i == (size_t)unit) : rng_normal(&rng) * (float)rms;
    probe_loss(p, 1);
    const float *g = params_grad(&s->ps, h);
    double ana = 0;
    for (size_t i = 0; i < n; i++) ana += (double)g[i] * v[i];
    memcpy(saved, w, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) w[i] = saved[i] + (float)(eps * v[i]);
    double lp = probe_loss(p, 0);
    for (size_t i = 0; i < n; i++) w[i] = saved[i] - (float)(eps * v[i]);
    double lm = probe_loss(p, 0);
    memcpy(w, saved, sizeof(float) * n);
    double num = (lp - lm) / (2 * eps);
    printf("  %s %s%s: analytic %.6g, numeric %.6g\n", s->cfg.model, name, unit == 0 ? " (a)" : unit == 1 ? " (b)" : "",
           ana, num);
    EXPECT(close_enough(num, ana, 3e-2, 1e-4), "%s %s%s: analytic %.6g vs numeric %.6g", s->cfg.model, name,
           unit == 0 ? " (a)" : unit == 1 ? " (b)" : "", ana, num);
    free(v), free(saved);
}

static void set_ab(Session *s, const char *name, float a, float b) {
    float *ab = params_value(&s->ps, handle(s, name));
    ab[0] = a, ab[1] = b;
}

/* Finite differences on resnet20 k=2 (block 1.1 from 1.0 and 1.2) with a tiny 2 x 1 x 8 x 8 input, and on
 * vit-tiny (block 3's attention from blocks 2 and 4): a, b, and tensors of both neighbours (through P). */
static void test_finite_differences(void) {
    TrainConfig c = config("resnet20", 2);
    Session s;
    if (open_session(&s, &c)) {
        EXPECT(0, "session opens");
        return;
    }
    Probe p;
    probe_init(&p, &s, shape4(2, 1, 8, 8), 11);
    set_ab(&s, "replace.layer1.1.ab", 0.7f, 0.2f);
    check_fd(&p, "replace.layer1.1.ab", 0, 1e-4, 0);
    check_fd(&p, "replace.layer1.1.ab", 1, 1e-4, 0);
    check_fd(&p, "layer1.0.conv1.weight", -1, 1e-4, 3);
    check_fd(&p, "layer1.0.bn2.weight", -1, 1e-4, 4);
    check_fd(&p, "layer1.2.conv2.weight", -1, 1e-4, 5);
    check_fd(&p, "layer1.2.bn1.bias", -1, 1e-4, 6);
    probe_free(&p);
    session_close(&s);

    c = config("vit-tiny", 4);
    c.batch = c.limit_train = c.limit_test = 2;
    if (open_session(&s, &c)) {
        EXPECT(0, "session opens");
        return;
    }
    EXPECT(s.ps.info[handle(&s, "blocks.3.mlp.fc1.weight")].kind == PARAM_TRAINABLE &&
               s.ps.info[handle(&s, "blocks.3.attn.qkv.weight")].kind == PARAM_DERIVED,
           "ViT: the attention is replaced, the MLP stays the block's own");
    probe_init(&p, &s, shape4(2, 1, 28, 28), 12);
    set_ab(&s, "replace.blocks.3.attn.ab", 0.6f, 0.3f);
    check_fd(&p, "replace.blocks.3.attn.ab", 0, 1e-3, 0);
    check_fd(&p, "replace.blocks.3.attn.ab", 1, 1e-3, 0);
    check_fd(&p, "blocks.2.attn.qkv.weight", -1, 1e-3, 7);
    check_fd(&p, "blocks.2.attn.proj.bias", -1, 1e-3, 8);
    check_fd(&p, "blocks.4.attn.proj.weight", -1, 1e-3, 9);
    probe_free(&p);
    session_close(&s);
}

/* The exact double-check: an end-to-end twin whose block 1.1 has its own weights, set to a*P_prev + b*P_next,
 * computes the same forward, so its gradient of block 1.1 is dP. Then variant A's gradients equal the twin's
 * bit for bit (the option stops exactly the a*dP, b*dP terms and nothing else), variant B's neighbours get
 * + a*dP and + b*dP, and da = <dP, P_prev>, db = <dP, P_next>. One real batch, BN with batch statistics. */
static void test_against_twin(void) {
    TrainConfig cb = config("resnet20", 2), ca = cb, ce = config("resnet20", 0);
    ca.replace_neighbour_grad = 0;
    Session sb, sa, se;
    if (open_session(&sb, &cb) || open_session(&sa, &ca) || open_session(&se, &ce)) {
        EXPECT(0, "sessions open");
        return;
    }
    const float a = 0.7f, b = 0.2f;
    set_ab(&sb, "replace.layer1.1.ab", a, b);
    set_ab(&sa, "replace.layer1.1.ab", a, b);
    replace_refresh(sb.model.replace);
    static const char *const tensors[] = {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"};
    for (int i = 0; i < 6; i++) { /* the twin's block 1.1 = the replaced block's P */
        char name[64];
        snprintf(name, sizeof name, "layer1.1.%s", tensors[i]);
        int he = handle(&se, name), hb = handle(&sb, name);
        memcpy(params_value(&se.ps, he), params_value(&sb.ps, hb), sizeof(float) * se.ps.info[he].numel);
    }
    double lb = step(&sb), la = step(&sa), le = step(&se);
    EXPECT(lb == le && la == le, "same loss: replaced %.9g, variant A %.9g, twin %.9g", lb, la, le);
    /* every trainable tensor of variant A == the twin's (the neighbours included) */
    int differ_a = 0, compared = 0;
    for (int h = 0; h < sa.ps.count; h++) {
        const ParamInfo *pi = &sa.ps.info[h];
        if (pi->kind != PARAM_TRAINABLE || !strncmp(pi->name, "replace.", 8)) continue;
        int he = handle(&se, pi->name);
        compared++;
        if (memcmp(params_grad(&sa.ps, h), params_grad(&se.ps, he), sizeof(float) * pi->numel)) {
            printf("  variant A: %s differs from the twin\n", pi->name);
            differ_a++;
        }
    }
    EXPECT(compared > 50 && differ_a == 0, "variant A == twin for all %d tensors (%d differ)", compared, differ_a);
    double da = 0, db = 0, max_dp = 0, max_err = 0;
    for (int i = 0; i < 6; i++) {
        char pn[64], jn[64], nn[64];
        snprintf(pn, sizeof pn, "layer1.0.%s", tensors[i]);
        snprintf(jn, sizeof jn, "layer1.1.%s", tensors[i]);
        snprintf(nn, sizeof nn, "layer1.2.%s", tensors[i]);
        const float *dp = params_grad(&se.ps, handle(&se, jn));
        const float *gpe = params_grad(&se.ps, handle(&se, pn)), *gne = params_grad(&se.ps, handle(&se, nn));
        const float *gpb = params_grad(&sb.ps, handle(&sb, pn)), *gnb = params_grad(&sb.ps, handle(&sb, nn));
        const float *xp = params_value(&sb.ps, handle(&sb, pn)), *xn = params_value(&sb.ps, handle(&sb, nn));
        for (size_t q = 0, n = se.ps.info[handle(&se, jn)].numel; q < n; q++) {
            da += (double)dp[q] * xp[q];
            db += (double)dp[q] * xn[q];
            max_dp = fmax(max_dp, fabs(dp[q]));
            max_err = fmax(max_err, fabs(gpb[q] - (gpe[q] + a * dp[q])));
            max_err = fmax(max_err, fabs(gnb[q] - (gne[q] + b * dp[q])));
        }
    }
    const float *gab = params_grad(&sb.ps, handle(&sb, "replace.layer1.1.ab"));
    const float *gaa = params_grad(&sa.ps, handle(&sa, "replace.layer1.1.ab"));
    printf("  twin: max |dP| %.3g; variant B neighbours - (twin + a dP, b dP): max %.3g; da %.6g (<dP, P_prev> %.6g), "
           "db %.6g (%.6g)\n", max_dp, max_err, gab[0], da, gab[1], db);
    EXPECT(max_dp > 1e-4, "the replaced block has a gradient (max |dP| %g)", max_dp);
    EXPECT(max_err <= 1e-5 * max_dp + 1e-7, "variant B: neighbours = twin + a*dP / b*dP (error %g)", max_err);
    EXPECT(close_enough(da, gab[0], 1e-5, 1e-7) && close_enough(db, gab[1], 1e-5, 1e-7), "da, db = <dP, P_prev>, <dP, P_next>");
    EXPECT(gab[0] == gaa[0] && gab[1] == gaa[1], "(a, b) gradients do not depend on the option");
    session_close(&sb);
    session_close(&sa);
    session_close(&se);
}

static void test_bad_options(void) {
    TrainConfig c = config("resnet20", 1);
    Session s;
    ErrorMsg err;
    EXPECT(session_open(&s, &c, 1, &err) == LOCUS_ERR_ARG && strstr(err.text, "hint"), "k = 1 refused: %s", err.text);
    session_close(&s);
    c = config("resnet20", 4);
    EXPECT(session_open(&s, &c, 1, &err) == LOCUS_ERR_ARG && strstr(err.text, "no block"),
           "nothing to replace is an error: %s", err.text);
    session_close(&s);
    c = config("resnet32", 0);
    snprintf(c.method, sizeof c.method, "replace");
    EXPECT(session_open(&s, &c, 1, &err) == LOCUS_ERR_ARG, "--method replace --replace-every 0 refused: %s", err.text);
    session_close(&s);
    c = config("resnet32", -1);
    snprintf(c.method, sizeof c.method, "replace");
    EXPECT(session_open(&s, &c, 1, &err) == LOCUS_OK && s.model.replace && s.model.replace->every == 4,
           "--method replace: k = 4");
    session_close(&s);
}

int main(void) {
    test_selection();
    test_counts(); /* skips (77) without Fashion-MNIST */
    test_bad_options();
    test_copy_and_refresh();
    test_finite_differences();
    test_against_twin();
    return expect_report();
}
