/* test_aux_heads.c — structure of the local-learning auxiliary heads (src/models/aux_heads.c):
 *  - trainable parameter counts against the spec's computed values (local-learning.md §1.4 b: InfoPro 1c2f
 *    with D = 128 at the three CIFAR cuts 25,408 / 43,392 / 61,824; decoder for a 3-channel image
 *    2,091 / 3,819 / 7,275) and against closed forms for the other kinds;
 *  - PyTorch-style parameter names (the authors' nn.Sequential indices);
 *  - output shapes of every kind on the ResNet block outputs of 28x28 (Fashion-MNIST), 32x32 (CIFAR) and
 *    96x96 (STL-10) inputs, on a plan tape;
 *  - one real forward per kind: finite outputs, and the greedy head equals GAP + Linear computed by hand;
 *  - the error paths: impossible specs, a taken or too long prefix, a finalized store, a wrong input shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/aux_heads.h"
#include "expect.h"


static AuxSpec spec_of(AuxKind k, int c, int h, int w, int out_dim, int img_c, int img_hw) {
    AuxSpec s = {k, c, h, w, out_dim, img_c, img_hw, img_hw};
    return s;
}

/* Trainable parameter count of one head alone in a fresh store (0 when creation fails). */
static size_t count_params(const AuxSpec *s) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    AuxHead *h;
    ErrorMsg err;
    Status st = aux_head_create(&h, s, &ps, "aux", &err);
    EXPECT(st == LOCUS_OK, "create %s: %s", aux_kind_name(s->kind), err.text);
    size_t n = st ? 0 : params_count_trainable(&ps);
    aux_head_free(h);
    params_free(&ps);
    return n;
}

static void test_counts(void) {
    /* the spec's computed values (CIFAR cuts: 16x32x32, 32x16x16, 64x8x8) */
    static const int cut[3][3] = {{16, 32, 32}, {32, 16, 16}, {64, 8, 8}};
    static const size_t c1c2f[3] = {25408, 43392, 61824}, dec[3] = {2091, 3819, 7275};
    for (int i = 0; i < 3; i++) {
        AuxSpec s = spec_of(AUX_INFOPRO_1C2F, cut[i][0], cut[i][1], cut[i][2], 128, 0, 0);
        size_t n = count_params(&s);
        EXPECT(n == c1c2f[i], "1c2f C=%d: %zu params, spec says %zu", cut[i][0], n, c1c2f[i]);
        s = spec_of(AUX_DECODER, cut[i][0], cut[i][1], cut[i][2], 0, 3, 32);
        n = count_params(&s);
        EXPECT(n == dec[i], "decoder C=%d: %zu params, spec says %zu", cut[i][0], n, dec[i]);
    }
    /* closed forms for the other kinds (K = out_dim) */
    for (int i = 0; i < 3; i++) {
        const size_t C = (size_t)cut[i][0], K = 10, F = 4 * C;
        const size_t W = C < 64 ? 2 * C : C;
        AuxSpec s = spec_of(AUX_GREEDY, cut[i][0], cut[i][1], cut[i][2], (int)K, 0, 0);
        size_t n = count_params(&s);
        EXPECT(n == C * K + K, "greedy C=%zu: %zu", C, n);
        s.kind = AUX_DGL; /* 3 conv1x1 + 3 BN, 2 x (Linear F->F no bias + BN1d), Linear F->K */
        n = count_params(&s);
        EXPECT(n == 3 * C * C + 6 * C + 2 * F * F + 4 * F + F * K + K, "dgl C=%zu: %zu", C, n);
        s.kind = AUX_DGL_ORIG; /* 3 conv1x1 + 3 BN, 3 x (Linear F->F bias + BN1d), Linear F->K */
        n = count_params(&s);
        EXPECT(n == 3 * C * C + 6 * C + 3 * (F * F + F) + 6 * F + F * K + K, "dgl-orig C=%zu: %zu", C, n);
        s.kind = AUX_INFOPRO_2C2F; /* 1c2f (D = K) + conv3x3 W->W + BN */
        n = count_params(&s);
        EXPECT(n == 9 * C * W + 2 * W + 9 * W * W + 2 * W + W * 128 + 128 + 128 * K + K, "2c2f C=%zu: %zu", C, n);
    }
    /* the spec's DGL example: CIFAR C=16 -> F = 64 (8x8 then 2x2) */
    AuxSpec s = spec_of(AUX_DGL, 16, 32, 32, 10, 0, 0);
    EXPECT(count_params(&s) == 9962, "dgl C=16@32: %zu (expected 9,962)", count_params(&s));
    /* a 1-channel (Fashion-MNIST) decoder: 16*12*9+12 + 24 + 12*1*9+1 */
    s = spec_of(AUX_DECODER, 16, 28, 28, 0, 1, 28);
    EXPECT(count_params(&s) == 1740 + 24 + 109, "decoder 1ch: %zu", count_params(&s));
}

static void test_names(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ErrorMsg err;
    AuxHead *h[6];
    AuxSpec specs[6] = {
        spec_of(AUX_GREEDY, 16, 32, 32, 10, 0, 0),       spec_of(AUX_DGL, 16, 32, 32, 10, 0, 0),
        spec_of(AUX_DGL_ORIG, 16, 32, 32, 10, 0, 0),     spec_of(AUX_INFOPRO_1C2F, 16, 32, 32, 128, 0, 0),
        spec_of(AUX_INFOPRO_2C2F, 32, 16, 16, 10, 0, 0), spec_of(AUX_DECODER, 32, 16, 16, 0, 3, 32),
    };
    const char *prefixes[6] = {"aux.1.greedy", "aux.1.dgl", "aux.1.dglo", "aux.1.cls", "aux.2.cls", "aux.2.dec"};
    for (int i = 0; i < 6; i++)
        EXPECT(aux_head_create(&h[i], &specs[i], &ps, prefixes[i], &err) == LOCUS_OK, "%s", err.text);
    static const char *const names[] = {
        "aux.1.greedy.head.2.weight", "aux.1.greedy.head.2.bias",
        "aux.1.dgl.head.1.weight",    "aux.1.dgl.head.8.running_var", "aux.1.dgl.head.12.weight",
        "aux.1.dgl.head.16.bias",     "aux.1.dgl.head.18.bias",
        "aux.1.dglo.blocks.2.0.weight", "aux.1.dglo.blocks.0.1.running_mean", "aux.1.dglo.classifier.6.bias",
        "aux.1.dglo.classifier.7.weight", "aux.1.dglo.classifier.9.bias",
        "aux.1.cls.head.0.weight",    "aux.1.cls.head.1.running_mean", "aux.1.cls.head.5.bias",
        "aux.1.cls.head.7.weight",
        "aux.2.cls.head.3.weight",    "aux.2.cls.head.4.bias",        "aux.2.cls.head.8.weight",
        "aux.2.cls.head.10.bias",
        "aux.2.dec.decoder.0.bias",   "aux.2.dec.decoder.1.running_var", "aux.2.dec.decoder.3.weight",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        EXPECT(params_find(&ps, names[i]) >= 0, "missing parameter %s", names[i]);
    static const char *const absent[] = {"aux.1.dgl.head.12.bias", "aux.1.dgl.head.15.bias", "aux.1.cls.head.0.bias",
                                         "aux.1.dglo.bn.weight"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        EXPECT(params_find(&ps, absent[i]) < 0, "unexpected parameter %s", absent[i]);
    int hw = params_find(&ps, "aux.1.cls.head.0.weight");
    EXPECT(hw >= 0 && ps.info[hw].shape.d[0] == 32 && ps.info[hw].shape.d[1] == 16 && ps.info[hw].shape.d[2] == 3,
           "1c2f conv is 32 x 16 x 3 x 3");
    int fw = params_find(&ps, "aux.1.dgl.head.12.weight");
    EXPECT(fw >= 0 && ps.info[fw].shape.d[0] == 64 && ps.info[fw].shape.d[1] == 64, "dgl hidden FC is 64 x 64");
    for (int i = 0; i < 6; i++) aux_head_free(h[i]);
    params_free(&ps);
}

/* The ResNet block outputs for an image of `px` pixels: 16 x px, 32 x px/2, 64 x px/4 (ceil). */
static void test_shapes(int img_c, int px) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ErrorMsg err;
    AuxHead *heads[3][6];
    int sz[3] = {px, (px + 1) / 2, ((px + 1) / 2 + 1) / 2};
    for (int cut = 0; cut < 3; cut++)
        for (int k = 0; k < 6; k++) {
            AuxSpec s = spec_of((AuxKind)k, 16 << cut, sz[cut], sz[cut], k == AUX_INFOPRO_1C2F ? 128 : 10, img_c, px);
            char prefix[32];
            snprintf(prefix, sizeof prefix, "aux.%d.%s", cut, aux_kind_name((AuxKind)k));
            EXPECT(aux_head_create(&heads[cut][k], &s, &ps, prefix, &err) == LOCUS_OK, "%s: %s", prefix, err.text);
        }
    EXPECT(params_finalize(&ps, &err) == LOCUS_OK, "finalize: %s", err.text);
    for (int training = 0; training < 2; training++) {
        StepCtx ctx = {.params = &ps, .training = training, .threads = 1};
        Tape t;
        EXPECT(tape_init_plan(&t, &ctx, &mt, 1 << 20, &err) == LOCUS_OK, "plan tape");
        for (int cut = 0; cut < 3; cut++)
            for (int k = 0; k < 6; k++) {
                TapeMark m = tape_mark(&t);
                Tensor *x = tape_wrap(&t, shape4(5, 16 << cut, sz[cut], sz[cut]), NULL, 1);
                Tensor *y = aux_head_forward(heads[cut][k], &t, x);
                char buf[64] = "NULL";
                if (y) shape_format(&y->shape, buf, sizeof buf);
                if (k == AUX_DECODER)
                    EXPECT(y && y->shape.ndim == 4 && y->shape.d[0] == 5 && y->shape.d[1] == img_c &&
                               y->shape.d[2] == px && y->shape.d[3] == px,
                           "decoder on %dx%dx%d -> %s, expected [5, %d, %d, %d]", 16 << cut, sz[cut], sz[cut], buf,
                           img_c, px, px);
                else {
                    int d = k == AUX_INFOPRO_1C2F ? 128 : 10;
                    EXPECT(y && y->shape.ndim == 2 && y->shape.d[0] == 5 && y->shape.d[1] == d,
                           "%s on %dx%dx%d -> %s, expected [5, %d] (%s)", aux_kind_name((AuxKind)k), 16 << cut,
                           sz[cut], sz[cut], buf, d, t.err.text);
                }
                tape_release(&t, m);
            }
        EXPECT(tape_ok(&t), "plan tape error: %s", t.err.text);
        tape_free(&t);
    }
    for (int cut = 0; cut < 3; cut++)
        for (int k = 0; k < 6; k++) aux_head_free(heads[cut][k]);
    params_free(&ps);
}

/* Every kind on real data (a Fashion-MNIST-sized cut, 32 x 14 x 14): finite outputs in training and eval
 * mode; the greedy head equals mean over h, w followed by W x + b. */
static void test_forward(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ErrorMsg err;
    AuxHead *heads[6];
    const int N = 4, C = 32, H = 14;
    for (int k = 0; k < 6; k++) {
        AuxSpec s = spec_of((AuxKind)k, C, H, H, 10, 1, 28);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "h%d", k);
        EXPECT(aux_head_create(&heads[k], &s, &ps, prefix, &err) == LOCUS_OK, "%s", err.text);
    }
    EXPECT(params_finalize(&ps, &err) == LOCUS_OK, "finalize: %s", err.text);
    Rng rng;
    rng_seed(&rng, 9);
    for (int k = 0; k < 6; k++) aux_head_init_weights(heads[k], &ps, &rng);
    int bnw = params_find(&ps, "h1.head.2.weight"), rv = params_find(&ps, "h1.head.2.running_var");
    EXPECT(bnw >= 0 && params_value(&ps, bnw)[0] == 1.0f && params_value(&ps, rv)[3] == 1.0f, "BN init 1");
    size_t n = (size_t)N * C * H * H;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&rng);
    float *scratch = malloc((size_t)8 << 20);
    for (int training = 0; training < 2; training++) {
        StepCtx ctx = {.params = &ps, .training = training, .threads = 2, .scratch = scratch,
                       .scratch_bytes = (size_t)8 << 20};
        Tape t;
        EXPECT(tape_init(&t, &ctx, &mt, (size_t)16 << 20, (size_t)16 << 20, 1 << 20, &err) == LOCUS_OK, "tape");
        for (int k = 0; k < 6; k++) {
            TapeMark m = tape_mark(&t);
            Tensor *in = tape_wrap(&t, shape4(N, C, H, H), x, 0);
            Tensor *y = aux_head_forward(heads[k], &t, in);
            EXPECT(y && tape_ok(&t), "%s forward: %s", aux_kind_name((AuxKind)k), t.err.text);
            if (!y) continue;
            int finite = 1;
            for (size_t i = 0; i < tensor_numel(y); i++) finite &= isfinite(y->data[i]) != 0;
            EXPECT(finite, "%s: non-finite output", aux_kind_name((AuxKind)k));
            if (k == AUX_GREEDY) {
                const float *W = params_value(&ps, params_find(&ps, "h0.head.2.weight"));
                const float *b = params_value(&ps, params_find(&ps, "h0.head.2.bias"));
                double worst = 0;
                for (int s = 0; s < N; s++)
                    for (int o = 0; o < 10; o++) {
                        double acc = b[o];
                        for (int c = 0; c < C; c++) {
                            double mean = 0;
                            for (int p = 0; p < H * H; p++) mean += x[((size_t)s * C + c) * H * H + p];
                            acc += W[o * C + c] * mean / (H * H);
                        }
                        worst = fmax(worst, fabs(acc - y->data[s * 10 + o]));
                    }
                EXPECT(worst < 1e-5, "greedy head differs from GAP + Linear by %g", worst);
            }
            tape_release(&t, m);
        }
        tape_free(&t);
    }
    free(scratch);
    free(x);
    for (int k = 0; k < 6; k++) aux_head_free(heads[k]);
    params_free(&ps);
}

static void test_errors(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ErrorMsg err;
    AuxHead *h = (AuxHead *)&err; /* must be reset to NULL on failure */
    AuxSpec bad[] = {
        spec_of(AUX_DGL, 0, 8, 8, 10, 0, 0),          spec_of(AUX_INFOPRO_1C2F, 16, 0, 8, 10, 0, 0),
        spec_of(AUX_GREEDY, 16, 8, 8, 0, 0, 0),       spec_of(AUX_DECODER, 16, 8, 8, 0, 0, 32),
        spec_of(AUX_DECODER, 16, 8, 8, 10, 3, 0),     spec_of((AuxKind)42, 16, 8, 8, 10, 0, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.text[0] = 0;
        Status st = aux_head_create(&h, &bad[i], &ps, "aux", &err);
        EXPECT(st == LOCUS_ERR_ARG && h == NULL, "bad spec %zu accepted", i);
        EXPECT(strstr(err.text, "hint:") != NULL, "bad spec %zu: no hint in '%s'", i, err.text);
        h = (AuxHead *)&err;
    }
    EXPECT(aux_head_create(&h, NULL, &ps, "aux", &err) == LOCUS_ERR_ARG, "NULL spec");
    EXPECT(ps.count == 0, "a failed create registered %d parameters", ps.count);
    /* a prefix already taken, and one too long for the names */
    AuxSpec ok = spec_of(AUX_INFOPRO_1C2F, 16, 8, 8, 10, 0, 0);
    EXPECT(aux_head_create(&h, &ok, &ps, "aux.1", &err) == LOCUS_OK, "%s", err.text);
    aux_head_free(h);
    EXPECT(aux_head_create(&h, &ok, &ps, "aux.1", &err) == LOCUS_ERR_ARG && strstr(err.text, "already used"),
           "duplicate prefix: %s", err.text);
    EXPECT(aux_head_create(&h, &ok, &ps, "aux.10", &err) == LOCUS_OK, "aux.10 is not aux.1: %s", err.text);
    aux_head_free(h);
    char longp[80];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    EXPECT(aux_head_create(&h, &ok, &ps, longp, &err) == LOCUS_ERR_ARG, "long prefix");
    /* bare names clash with bare names */
    EXPECT(aux_head_create(&h, &ok, &ps, "", &err) == LOCUS_OK, "%s", err.text);
    aux_head_free(h);
    EXPECT(aux_head_create(&h, &ok, &ps, NULL, &err) == LOCUS_ERR_ARG, "bare names twice");
    EXPECT(params_finalize(&ps, &err) == LOCUS_OK, "finalize");
    EXPECT(aux_head_create(&h, &ok, &ps, "late", &err) == LOCUS_ERR_ARG, "create after finalize");
    /* forward on the wrong input: a sticky tape error, not a crash */
    AuxSpec dec = spec_of(AUX_DECODER, 16, 8, 8, 0, 3, 32);
    ParamStore ps2;
    params_init(&ps2, &mt);
    EXPECT(aux_head_create(&h, &dec, &ps2, "dec", &err) == LOCUS_OK, "%s", err.text);
    EXPECT(params_finalize(&ps2, &err) == LOCUS_OK, "finalize");
    StepCtx ctx = {.params = &ps2, .training = 1, .threads = 1};
    Tape t;
    EXPECT(tape_init_plan(&t, &ctx, &mt, 1 << 20, &err) == LOCUS_OK, "plan tape");
    Tensor *y = aux_head_forward(h, &t, tape_wrap(&t, shape4(2, 16, 16, 16), NULL, 0));
    EXPECT(!y && t.status == LOCUS_ERR_ARG && strstr(t.err.text, "expects N x 16 x 8 x 8"), "wrong shape: %s",
           t.err.text);
    EXPECT(!aux_head_forward(h, &t, tape_wrap(&t, shape4(2, 16, 8, 8), NULL, 0)), "errors are sticky");
    tape_free(&t);
    aux_head_free(h);
    aux_head_free(NULL);
    params_free(&ps2);
    params_free(&ps);
    /* kind names */
    for (int k = 0; k < 6; k++) {
        AuxKind back;
        EXPECT(aux_kind_parse(aux_kind_name((AuxKind)k), &back) == 0 && back == (AuxKind)k, "kind %d round trip", k);
    }
    AuxKind any;
    EXPECT(aux_kind_parse("DGL", &any) == -1 && aux_kind_parse("", &any) == -1 && aux_kind_parse(NULL, &any) == -1,
           "unknown kind names");
    EXPECT(!strcmp(aux_kind_name(AUX_DGL_ORIG), "dgl-orig") && !strcmp(aux_kind_name((AuxKind)9), "?"), "names");
}

int main(void) {
    test_counts();
    test_names();
    test_shapes(1, 28);
    test_shapes(3, 32);
    test_shapes(3, 96);
    test_forward();
    test_errors();
    return expect_report();
}
