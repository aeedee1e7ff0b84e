/* test_local.c — local learning's defining properties, on real Fashion-MNIST batches:
 *  - one module == end-to-end: the greedy method with no cut gives the same loss and bit-identical
 *    gradients as e2e;
 *  - no gradient crosses a barrier: InfoPro with every auxiliary weight 0 (so only the last module's
 *    loss exists) leaves every parameter before the last cut with an exactly zero gradient, and the last
 *    module's parameters with a non-zero one;
 *  - PFF: patch decoders backpropagated one at a time == all at once, with a lower activation peak;
 *  - HiLo / HPFF evaluating each block once == the reference's three evaluations (gradients);
 *  - cut lists: --k maps to the papers' lists (resnet32 K=16: 16 modules, the stem alone; hpff: 15),
 *    bad --cuts are refused with a hint. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "locus/method.h"
#include "methods/cuts.h"
#include "methods/lambda.h"
#include "train/session_internal.h"
#include "session_step.h"
#include "expect.h"


static TrainConfig base_config(void) {
    TrainConfig c;
    train_config_defaults(&c);
    snprintf(c.model, sizeof c.model, "resnet20");
    c.batch = 16;
    c.limit_train = 32;
    c.limit_test = 16;
    c.threads = 2;
    return c;
}

static void test_one_module_is_e2e(void) {
    TrainConfig a = base_config(), b = base_config();
    snprintf(b.method, sizeof b.method, "greedy");
    Session sa, sb;
    double la, lb;
    if (session_one_step(&sa, &a, &la) || session_one_step(&sb, &b, &lb)) {
        EXPECT(0, "steps failed");
        return;
    }
    EXPECT(sb.n_blocks == 1, "no cut: one module (%d)", sb.n_blocks);
    EXPECT(la == lb, "loss e2e %.9g == greedy one module %.9g", la, lb);
    EXPECT(sa.ps.numel_trainable == sb.ps.numel_trainable &&
               !memcmp(sa.ps.grads, sb.ps.grads, sizeof(float) * sa.ps.numel_trainable),
           "gradients bit-identical");
    session_close(&sa);
    session_close(&sb);
}

static void test_barrier(void) {
    TrainConfig c = base_config();
    snprintf(c.method, sizeof c.method, "infopro");
    c.k = 4;
    c.ixx1 = c.ixx2 = c.ixy1 = c.ixy2 = 0; /* only the last module's loss remains */
    Session s;
    double loss;
    if (session_one_step(&s, &c, &loss)) {
        EXPECT(0, "step failed");
        return;
    }
    EXPECT(s.n_blocks == 4, "4 modules");
    /* the last module starts at the unit after the third cut; its parameters are layer3.* (for resnet20
     * K=4 balanced: units 0..9 split 0-2, 3-4, 5-7, 8-9+head) and fc */
    const char *last_first = s.blocks[3].units; /* "x.y-head" */
    char stage = last_first[0], idx = last_first[2];
    int zero_before = 1, nonzero_last = 0, checked = 0;
    for (int h = 0; h < s.ps.count; h++) {
        const ParamInfo *pi = &s.ps.info[h];
        if (pi->kind != PARAM_TRAINABLE || !strncmp(pi->name, "aux.", 4)) continue;
        int in_last = !strncmp(pi->name, "fc.", 3);
        if (!strncmp(pi->name, "layer", 5)) {
            char st = pi->name[5], ix = pi->name[7];
            in_last = st > stage || (st == stage && ix >= idx);
        }
        double sum = 0;
        const float *g = params_grad(&s.ps, h);
        for (size_t i = 0; i < pi->numel; i++) sum += fabs(g[i]);
        if (!in_last && sum != 0.0) {
            printf("  %s has gradient %g upstream of the barrier\n", pi->name, sum);
            zero_before = 0;
        }
        if (in_last && sum > 0) nonzero_last++;
        checked++;
    }
    EXPECT(checked > 10 && zero_before, "no gradient upstream of the last barrier");
    EXPECT(nonzero_last > 2, "the last module learns (%d tensors with gradient)", nonzero_last);
    session_close(&s);
}

static void test_cuts(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {"resnet32", 3, 32, 32, 10};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    int last[LOCUS_MAX_BLOCKS], n = 0;
    EXPECT(cuts_resolve(&m, "", 16, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_OK && n == 16 &&
               last[0] == 0 && last[15] == m.n_units - 1,
           "infopro K=16: 16 modules, stem alone (n=%d, first ends at %d)", n, last[0]);
    EXPECT(cuts_resolve(&m, "", 16, "hpff", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_OK && n == 15 && last[0] == 1,
           "hpff K=16: 15 segments, stem merged (n=%d)", n);
    EXPECT(cuts_resolve(&m, "", 8, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_OK && n == 8 &&
               !strcmp(m.units[last[1]].name, "1.2") && !strcmp(m.units[last[6]].name, "3.2"),
           "infopro K=8 follows the paper's list");
    EXPECT(cuts_resolve(&m, "1.2,2.1,3.0", 0, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_OK && n == 4,
           "explicit cuts");
    EXPECT(cuts_resolve(&m, "1.2,9.9", 0, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_ERR_ARG &&
               strstr(err.text, "hint"),
           "unknown unit refused: %s", err.text);
    EXPECT(cuts_resolve(&m, "2.1,1.2", 0, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_ERR_ARG,
           "out-of-order cuts refused");
    EXPECT(cuts_resolve(&m, "3.4", 0, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_ERR_ARG,
           "a cut that leaves the head alone is refused");
    EXPECT(cuts_resolve(&m, "1.0", 4, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_ERR_ARG,
           "--k and --cuts together refused");
    EXPECT(cuts_resolve(&m, "", 6, "infopro", last, &n, LOCUS_MAX_BLOCKS, &err) == LOCUS_OK && n == 6,
           "K without a table: balanced");
    model_free(&m);
    params_free(&ps);
}

static void test_lambdas(void) {
    float a, b;
    /* InfoPro R-32 K=4 (6 -> 1 ; 0 -> 2): modules 0, 1, 2 at r = 0, 1/2, 1 */
    const double ip[4] = {6, 1, 0, 2};
    const float want_rec[3] = {6, 3.5f, 1}, want_y[3] = {0, 1, 2};
    for (int m = 0; m < 3; m++) {
        lambda_weights(ip, lambda_position(LAMBDA_INFOPRO, m, 4, 4, 0), &a, &b);
        EXPECT(a == want_rec[m] && b == want_y[m], "infopro K=4 module %d: %g %g", m, a, b);
    }
    EXPECT(lambda_position(LAMBDA_INFOPRO, 0, 2, 2, 0) == 0.0, "K=2: r = 0");
    /* HPFF: nominal K=16 with 15 segments: segment i at i/14 */
    EXPECT(lambda_position(LAMBDA_HPFF, 7, 15, 16, 2) == 7.0 / 14.0, "hpff uses the nominal K");
    EXPECT(lambda_position(LAMBDA_INFOPRO, 7, 15, 16, 2) == 7.0 / 13.0, "infopro uses the modules built");
    /* MAN R-32 K=16, README (5 -> 0 ; 0.5 -> 0): lambda1 = 5*13/14, 5*12/14, 5*11/14 by stage */
    const double man[4] = {5, 0, 0.5, 0};
    for (int stage = 1; stage <= 3; stage++) {
        lambda_weights(man, lambda_position(LAMBDA_MAN, 9, 15, 16, stage), &a, &b);
        EXPECT(fabsf(a - 5.0f * (14 - stage) / 14.0f) < 1e-6f && fabsf(b - a / 10.0f) < 1e-6f,
               "man stage %d: %g %g", stage, a, b);
    }
    LambdaConvention c;
    EXPECT(lambda_convention_parse("man", &c) == 0 && c == LAMBDA_MAN && lambda_convention_parse("x", &c) == -1,
           "parse");
}

/* PFF: backpropagating the 4 patch decoders one at a time gives the same gradients as one backward over
 * all of them, and needs less activation memory. */
static void test_pff_sequential(void) {
    TrainConfig a = base_config(), b = base_config();
    snprintf(a.method, sizeof a.method, "pff");
    a.k = 4;
    b = a;
    b.pff_sequential = 0;
    Session sa, sb;
    double la, lb;
    if (session_one_step(&sa, &a, &la) || session_one_step(&sb, &b, &lb)) {
        EXPECT(0, "pff steps failed");
        return;
    }
    EXPECT(la == lb, "same loss %.9g %.9g", la, lb);
    double diff = 0, norm = 0;
    for (size_t i = 0; i < sa.ps.numel_trainable; i++) {
        diff = fmax(diff, fabs((double)sa.ps.grads[i] - sb.ps.grads[i]));
        norm = fmax(norm, fabs((double)sb.ps.grads[i]));
    }
    EXPECT(norm > 0 && diff <= 1e-5 * norm, "sequential == all at once (max diff %g of %g)", diff, norm);
    int decoders = 0;
    for (int h = 0; h < sa.ps.count; h++) decoders += strstr(sa.ps.info[h].name, ".dec.q3.") != NULL;
    EXPECT(decoders > 0, "quadrant decoders exist");
    size_t act_seq = sa.mt.peak[MEM_TAG_ACT], act_all = sb.mt.peak[MEM_TAG_ACT];
    EXPECT(act_seq < act_all, "sequential needs less ACT (%zu vs %zu)", act_seq, act_all);
    printf("pff: ACT peak sequential %zu, all at once %zu; max grad diff %g (max |g| %g)\n", act_seq, act_all, diff,
           norm);
    session_close(&sa);
    session_close(&sb);
}

/* Largest |a - b| over the parameters of one kind, with the largest |b| and the worst parameter's name. */
static double max_diff(const Session *sa, const Session *sb, int kind, int grads, double *norm, const char **worst) {
    double diff = 0;
    *norm = 0, *worst = "";
    for (int h = 0; h < sa->ps.count; h++) {
        const ParamInfo *pi = &sa->ps.info[h];
        if ((int)pi->kind != kind) continue;
        const float *ga = grads ? params_grad(&sa->ps, h) : params_value(&sa->ps, h);
        const float *gb = grads ? params_grad(&sb->ps, h) : params_value(&sb->ps, h);
        for (size_t i = 0; i < pi->numel; i++) {
            double d = fabs((double)ga[i] - gb[i]);
            if (d > diff) diff = d, *worst = pi->name;
            *norm = fmax(*norm, fabs((double)gb[i]));
        }
    }
    return diff;
}

/* HiLo's three schedules (--hilo-mode): naive evaluates each block three times like the reference, once
 * evaluates it once with two segments alive, recompute twice with one segment alive. Same loss, same
 * gradients up to float summation order; ACT recompute < once < naive; once and recompute update BN's
 * running statistics once per step (naive three times, by design). */
static void test_hilo_modes(const char *method) {
    const char *modes[3] = {"naive", "once", "recompute"};
    Session s[3];
    double loss[3];
    for (int m = 0; m < 3; m++) {
        TrainConfig c = base_config();
        snprintf(c.method, sizeof c.method, "%s", method);
        snprintf(c.hilo_mode, sizeof c.hilo_mode, "%s", modes[m]);
        c.k = 4;
        if (session_one_step(&s[m], &c, &loss[m])) {
            EXPECT(0, "%s --hilo-mode %s: step failed", method, modes[m]);
            for (int j = 0; j < m; j++) session_close(&s[j]);
            return;
        }
    }
    for (int m = 1; m < 3; m++) {
        EXPECT(fabs(loss[m] - loss[0]) <= 1e-6 * fabs(loss[0]), "%s loss %s %.9g naive %.9g", method, modes[m],
               loss[m], loss[0]);
        double norm;
        const char *worst;
        double diff = max_diff(&s[m], &s[0], PARAM_TRAINABLE, 1, &norm, &worst);
        EXPECT(norm > 0 && diff <= 1e-4 * norm, "%s %s == naive: max grad diff %g (%s) of max |g| %g", method,
               modes[m], diff, worst, norm);
        EXPECT(s[m].mt.peak[MEM_TAG_ACT] < s[m - 1].mt.peak[MEM_TAG_ACT], "%s ACT %s %zu < %s %zu", method, modes[m],
               s[m].mt.peak[MEM_TAG_ACT], modes[m - 1], s[m - 1].mt.peak[MEM_TAG_ACT]);
        printf("%s: %s vs naive max grad diff %g (max |g| %g), ACT %zu (naive %zu)\n", method, modes[m], diff, norm,
               s[m].mt.peak[MEM_TAG_ACT], s[0].mt.peak[MEM_TAG_ACT]);
    }
    double norm;
    const char *worst;
    double diff = max_diff(&s[2], &s[1], PARAM_BUFFER, 0, &norm, &worst);
    EXPECT(norm > 0 && diff <= 1e-6 * norm, "%s BN running stats recompute == once: max diff %g (%s) of %g", method,
           diff, worst, norm);
    diff = max_diff(&s[0], &s[1], PARAM_BUFFER, 0, &norm, &worst);
    EXPECT(diff > 1e-6 * norm, "%s naive updates BN running stats three times (differs from once by %g)", method, diff);
    for (int m = 0; m < 3; m++) session_close(&s[m]);
}

int main(void) {
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK)) {
        printf("skip: Fashion-MNIST not installed\n");
        return 77;
    }
    test_cuts();
    test_lambdas();
    test_one_module_is_e2e();
    test_barrier();
    test_pff_sequential();
    test_hilo_modes("hilo");
    test_hilo_modes("hpff");
    return expect_report();
}
