/* test_vit.c — the Vision Transformer's shapes, sizes and forward values:
 *  - vit-tiny on 2x1x28x28 and 2x3x32x32 gives 2 x classes logits, units report (D, T, 0);
 *  - vit-tiny's parameter count for 3x32x32 / 10 classes equals PyTorch's for the equivalent module, and
 *    the parameter names come in timm's state_dict order;
 *  - bad input sizes and unknown archs are refused with LOCUS_ERR_ARG;
 *  - attention: every row of the cached probabilities sums to 1, and the layer's output equals a naive
 *    double-precision reference; the eval path (no cache, scratch) gives the training path's output;
 *    gradients do not depend on the thread count;
 *  - layernorm: each output row has mean 0 and variance 1 with weight 1, bias 0;
 *  - the whole vit-micro model in eval mode equals training mode (no dropout, no batch statistics);
 *  - model_forward's class-token tail (the last block for token 0 only) gives the units' logits and gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/attention.h"
#include "layers/layernorm.h"
#include "layers/patch_embed.h"
#include "locus/init.h"
#include "locus/model.h"
#include "locus/tape.h"

#include "expect.h"

typedef struct Env {
    MemTracker mt;
    StepCtx ctx;
    Tape tape;
} Env;

static void env_init(Env *e, ParamStore *ps, int training, int threads) {
    memset(e, 0, sizeof *e);
    e->ctx.params = ps;
    e->ctx.training = training;
    e->ctx.threads = threads;
    e->ctx.scratch_bytes = (size_t)8 << 20;
    e->ctx.scratch = malloc(e->ctx.scratch_bytes);
    ErrorMsg err;
    CHECK(tape_init(&e->tape, &e->ctx, &e->mt, (size_t)32 << 20, (size_t)16 << 20, (size_t)1 << 20, &err) == LOCUS_OK,
          "%s", err.text);
}

static void env_free(Env *e) {
    tape_free(&e->tape);
    free(e->ctx.scratch);
}

static void fill_normal(float *x, size_t n, float std, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    init_normal(x, n, std, &rng);
}

/* vit-tiny forward on a 2-sample batch: logits shape and finiteness; returns the parameter count. */
static size_t tiny_shapes(int c, int h, int w, int classes) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {.arch = "vit-tiny", .in_c = c, .in_h = h, .in_w = w, .classes = classes};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 5);
    model_init_weights(&m, &rng);
    int tokens = 1 + (h / 4) * (w / 4);
    EXPECT(m.n_units == 8, "vit-tiny has %d units, expected 8", m.n_units);
    EXPECT(!strcmp(m.units[0].name, "embed") && !strcmp(m.units[1].name, "block0") &&
               !strcmp(m.units[6].name, "block5") && !strcmp(m.units[7].name, "head"),
           "unit names %s %s %s %s", m.units[0].name, m.units[1].name, m.units[6].name, m.units[7].name);
    for (int u = 0; u < 7; u++)
        EXPECT(m.units[u].out_c == 192 && m.units[u].out_h == tokens && m.units[u].out_w == 0,
               "unit %d reports (%d, %d, %d), expected (192, %d, 0)", u, m.units[u].out_c, m.units[u].out_h,
               m.units[u].out_w, tokens);
    EXPECT(m.units[7].out_c == classes && m.units[7].out_h == 0, "head reports %d classes", m.units[7].out_c);

    Env e;
    env_init(&e, &ps, 1, 2);
    size_t n_in = (size_t)2 * c * h * w;
    float *x = malloc(sizeof(float) * n_in);
    fill_normal(x, n_in, 1.0f, 7);
    Tensor *in = tape_wrap(&e.tape, shape4(2, c, h, w), x, 0);
    Tensor *y = model_forward(&m, &e.tape, in);
    EXPECT(tape_ok(&e.tape) && y, "forward failed: %s", e.tape.err.text);
    if (y) {
        char b[64];
        EXPECT(y->shape.ndim == 2 && y->shape.d[0] == 2 && y->shape.d[1] == classes, "logits shape %s",
               shape_format(&y->shape, b, sizeof b));
        int finite = 1;
        for (size_t i = 0; i < tensor_numel(y); i++) finite &= isfinite(y->data[i]) != 0;
        EXPECT(finite, "non-finite logits");
        printf("vit-tiny %dx%dx%d -> %s, logits[0][0] = %g\n", c, h, w, shape_format(&y->shape, b, sizeof b),
               y->data[0]);
    }
    env_free(&e);
    free(x);
    size_t count = params_count_trainable(&ps);
    model_free(&m);
    params_free(&ps);
    return count;
}

static void tiny_params(void) {
    /* PyTorch, an nn.Module with timm's VisionTransformer layout (patch 4, dim 192, depth 6, heads 3,
     * MLP 768, qkv bias, class token, LayerNorm eps 1e-6), in_chans 3, img 32, 10 classes:
     *   sum(p.numel() for p in model.parameters()) == 2693578  (1x28x28: 2684554) */
    size_t n32 = tiny_shapes(3, 32, 32, 10);
    printf("vit-tiny 3x32x32, 10 classes: %zu parameters (PyTorch: 2693578)\n", n32);
    EXPECT(n32 == 2693578, "vit-tiny 3x32x32 has %zu parameters, PyTorch 2693578", n32);
    size_t n28 = tiny_shapes(1, 28, 28, 10);
    EXPECT(n28 == 2684554, "vit-tiny 1x28x28 has %zu parameters, PyTorch 2684554", n28);
}

/* Names in timm's state_dict order; 96x96 gives 577 tokens; bad sizes and archs are refused. */
static void names_and_errors(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {.arch = "vit-tiny", .in_c = 3, .in_h = 96, .in_w = 96, .classes = 10};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    static const char *const first[] = {"cls_token",
                                        "pos_embed",
                                        "patch_embed.proj.weight",
                                        "patch_embed.proj.bias",
                                        "blocks.0.norm1.weight",
                                        "blocks.0.norm1.bias",
                                        "blocks.0.attn.qkv.weight",
                                        "blocks.0.attn.qkv.bias",
                                        "blocks.0.attn.proj.weight",
                                        "blocks.0.attn.proj.bias",
                                        "blocks.0.norm2.weight",
                                        "blocks.0.norm2.bias",
                                        "blocks.0.mlp.fc1.weight",
                                        "blocks.0.mlp.fc1.bias",
                                        "blocks.0.mlp.fc2.weight",
                                        "blocks.0.mlp.fc2.bias"};
    for (int i = 0; i < 16; i++)
        EXPECT(i < ps.count && !strcmp(ps.info[i].name, first[i]), "parameter %d is %s, timm has %s", i,
               i < ps.count ? ps.info[i].name : "(none)", first[i]);
    static const char *const last[] = {"blocks.5.mlp.fc2.bias", "norm.weight", "norm.bias", "head.weight",
                                       "head.bias"};
    EXPECT(ps.count == 4 + 12 * 6 + 4, "%d parameters tensors", ps.count);
    for (int i = 0; i < 5 && ps.count >= 5; i++)
        EXPECT(!strcmp(ps.info[ps.count - 5 + i].name, last[i]), "parameter %d is %s, timm has %s",
               ps.count - 5 + i, ps.info[ps.count - 5 + i].name, last[i]);
    int pos = params_find(&ps, "pos_embed");
    EXPECT(pos >= 0 && ps.info[pos].shape.ndim == 3 && ps.info[pos].shape.d[1] == 577, "pos_embed for 96x96");
    EXPECT(m.units[0].out_h == 577, "96x96 gives %d tokens, expected 577", m.units[0].out_h);
    model_free(&m);
    params_free(&ps);

    ModelSpec bad[] = {{.arch = "vit-tiny", .in_c = 3, .in_h = 30, .in_w = 32, .classes = 10},
                       {.arch = "vit-tiny", .in_c = 3, .in_h = 32, .in_w = 2, .classes = 10},
                       {.arch = "vit-huge", .in_c = 3, .in_h = 32, .in_w = 32, .classes = 10}};
    for (int i = 0; i < 3; i++) {
        params_init(&ps, &mt);
        Status s = model_create(&m, &bad[i], &ps, &err);
        EXPECT(s == LOCUS_ERR_ARG, "%s on %dx%d: status %d, expected LOCUS_ERR_ARG", bad[i].arch, bad[i].in_h,
               bad[i].in_w, (int)s);
        EXPECT(s == LOCUS_OK || strstr(err.text, "hint:"), "error without a hint: %s", err.text);
        if (s == LOCUS_OK) model_free(&m);
        params_free(&ps);
    }
    /* the layer itself refuses a size that is not a multiple of the patch, and registers nothing */
    params_init(&ps, &mt);
    PatchEmbed pe;
    Status s = patch_embed_init(&pe, &ps, "patch_embed", "cls_token", "pos_embed", 3, 32, 30, 4, 8, &err);
    EXPECT(s == LOCUS_ERR_ARG && ps.count == 0 && strstr(err.text, "hint:"),
           "patch_embed_init on 32x30, p = 4: status %d, %d parameters", (int)s, ps.count);
    params_free(&ps);
}

/* Naive double-precision multi-head attention for one layer, x N x T x D -> y. */
static void attention_ref(const ParamStore *ps, const Attention *a, const float *x, int n, int t, double *y) {
    int d = a->d, hh = a->heads, dh = d / hh;
    const float *wq = params_value(ps, a->qkv_w), *bq = params_value(ps, a->qkv_b);
    const float *wp = params_value(ps, a->proj_w), *bp = params_value(ps, a->proj_b);
    double *qkv = malloc(sizeof(double) * (size_t)t * 3 * d), *cx = malloc(sizeof(double) * (size_t)t * d);
    double *row = malloc(sizeof(double) * (size_t)t);
    for (int s = 0; s < n; s++) {
        const float *xs = x + (size_t)s * t * d;
        for (int i = 0; i < t; i++)
            for (int o = 0; o < 3 * d; o++) {
                double acc = bq[o];
                for (int k = 0; k < d; k++) acc += (double)xs[i * d + k] * wq[o * d + k];
                qkv[i * 3 * d + o] = acc;
            }
        for (int h = 0; h < hh; h++)
            for (int i = 0; i < t; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < t; j++) {
                    double dot = 0;
                    for (int k = 0; k < dh; k++) dot += qkv[i * 3 * d + h * dh + k] * qkv[j * 3 * d + d + h * dh + k];
                    row[j] = dot / sqrt((double)dh);
                    if (row[j] > mx) mx = row[j];
                }
                for (int j = 0; j < t; j++) sum += row[j] = exp(row[j] - mx);
                for (int k = 0; k < dh; k++) {
                    double acc = 0;
                    for (int j = 0; j < t; j++) acc += row[j] / sum * qkv[j * 3 * d + 2 * d + h * dh + k];
                    cx[i * d + h * dh + k] = acc;
                }
            }
        for (int i = 0; i < t; i++)
            for (int o = 0; o < d; o++) {
                double acc = bp[o];
                for (int k = 0; k < d; k++) acc += cx[i * d + k] * wp[o * d + k];
                y[((size_t)s * t + i) * d + o] = acc;
            }
    }
    free(qkv);
    free(cx);
    free(row);
}

/* One attention forward (training or eval) on x, with `threads`; copies out y (and the probabilities'
 * row sums check, in training), and the parameter gradients for a fixed dy if grads != NULL. */
static void attention_run(ParamStore *ps, const Attention *a, float *x, int n, int t, int training, int threads,
                          float *y, float *grads, float *dx) {
    Env e;
    env_init(&e, ps, training, threads);
    int d = a->d;
    TapeMark mk = tape_mark(&e.tape);
    Tensor *in = tape_wrap(&e.tape, shape3(n, t, d), x, dx != NULL);
    Tensor *out = tape_call1(&e.tape, &a->base, in);
    CHECK(out && tape_ok(&e.tape), "%s", e.tape.err.text);
    memcpy(y, out->data, tensor_bytes(out));
    if (training) {
        const void *cache = e.tape.top->cache;
        double worst = 0;
        for (int s = 0; s < n; s++)
            for (int h = 0; h < a->heads; h++) {
                const float *p = attention_cached_probs(a, cache, n, t, s, h);
                for (int i = 0; i < t; i++) {
                    double sum = 0;
                    for (int j = 0; j < t; j++) {
                        sum += p[i * t + j];
                        EXPECT(p[i * t + j] >= 0.0f, "negative probability");
                    }
                    if (fabs(sum - 1.0) > worst) worst = fabs(sum - 1.0);
                }
            }
        EXPECT(worst < 1e-5, "attention rows sum to 1 within %g", worst);
        if (threads == 1) printf("attention: probability rows sum to 1 within %.2g\n", worst);
    }
    if (grads) {
        float *dy = malloc(tensor_bytes(out));
        fill_normal(dy, tensor_numel(out), 1.0f, 99);
        params_zero_grads(ps);
        CHECK(tape_backward_from(&e.tape, out, dy, mk) == LOCUS_OK, "%s", e.tape.err.text);
        memcpy(grads, ps->grads, sizeof(float) * ps->numel_trainable);
        if (dx) memcpy(dx, in->grad, tensor_bytes(in));
        free(dy);
    }
    tape_release(&e.tape, mk);
    env_free(&e);
}

static void attention_values(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Attention a;
    const int n = 3, t = 17, d = 24, heads = 3;
    attention_init(&a, &ps, "attn", d, heads);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    fill_normal(ps.values, ps.numel_total, 0.3f, 3);
    size_t nx = (size_t)n * t * d;
    float *x = malloc(sizeof(float) * nx), *y1 = malloc(sizeof(float) * nx), *y2 = malloc(sizeof(float) * nx);
    float *ye = malloc(sizeof(float) * nx), *dx1 = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
    float *g1 = malloc(sizeof(float) * ps.numel_trainable), *g2 = malloc(sizeof(float) * ps.numel_trainable);
    double *ref = malloc(sizeof(double) * nx);
    fill_normal(x, nx, 1.0f, 4);
    attention_run(&ps, &a, x, n, t, 1, 1, y1, g1, dx1);
    attention_run(&ps, &a, x, n, t, 1, 2, y2, g2, dx2);
    attention_run(&ps, &a, x, n, t, 0, 2, ye, NULL, NULL);
    attention_ref(&ps, &a, x, n, t, ref);
    double worst = 0, worst_eval = 0;
    for (size_t i = 0; i < nx; i++) {
        double e1 = fabs(y1[i] - ref[i]) / (1.0 + fabs(ref[i]));
        if (e1 > worst) worst = e1;
        double ee = fabs(ye[i] - y1[i]) / (1.0 + fabs(y1[i])); /* other GEMM shapes: other rounding */
        if (ee > worst_eval) worst_eval = ee;
    }
    printf("attention: max rel. error vs double reference %.2g, eval vs training %.2g\n", worst, worst_eval);
    EXPECT(worst < 1e-5, "attention output differs from the reference by %g", worst);
    EXPECT(worst_eval < 1e-5, "eval output differs from training output by %g", worst_eval);
    EXPECT(!memcmp(y1, y2, sizeof(float) * nx), "output depends on the thread count");
    EXPECT(!memcmp(g1, g2, sizeof(float) * ps.numel_trainable), "parameter gradients depend on the thread count");
    EXPECT(!memcmp(dx1, dx2, sizeof(float) * nx), "input gradient depends on the thread count");
    free(x), free(y1), free(y2), free(ye), free(dx1), free(dx2), free(g1), free(g2), free(ref);
    params_free(&ps);
}

static void layernorm_values(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    LayerNorm ln;
    layernorm_init(&ln, &ps, "norm", 10, 1e-6f);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    layernorm_reset(&ln, &ps);
    Env e;
    env_init(&e, &ps, 1, 2);
    float x[4 * 10];
    fill_normal(x, 40, 3.0f, 8);
    for (int i = 0; i < 40; i++) x[i] += 100.0f * (float)(i / 10); /* large per-row offsets */
    Tensor *y = tape_call1(&e.tape, &ln.base, tape_wrap(&e.tape, shape2(4, 10), x, 0));
    CHECK(y, "%s", e.tape.err.text);
    for (int r = 0; r < 4; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < 10; i++) m += y->data[r * 10 + i];
        m /= 10;
        for (int i = 0; i < 10; i++) v += (y->data[r * 10 + i] - m) * (y->data[r * 10 + i] - m);
        v /= 10;
        EXPECT(fabs(m) < 1e-5 && fabs(v - 1) < 1e-4, "layernorm row %d: mean %g var %g", r, m, v);
    }
    env_free(&e);
    params_free(&ps);
}

/* vit-micro: eval mode (no caches, attention on scratch) equals training mode. */
static void micro_eval_equals_train(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {.arch = "vit-micro", .in_c = 3, .in_h = 16, .in_w = 12, .classes = 5};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 1);
    model_init_weights(&m, &rng);
    float x[3 * 3 * 16 * 12], logits[2][15];
    fill_normal(x, sizeof x / sizeof x[0], 1.0f, 2);
    for (int mode = 0; mode < 2; mode++) {
        Env e;
        env_init(&e, &ps, mode, 2);
        Tensor *y = model_forward(&m, &e.tape, tape_wrap(&e.tape, shape4(3, 3, 16, 12), x, 0));
        CHECK(y && tape_ok(&e.tape), "%s", e.tape.err.text);
        CHECK(tensor_numel(y) == 15, "logits");
        memcpy(logits[mode], y->data, sizeof logits[mode]);
        env_free(&e);
    }
    double worst = 0;
    for (int i = 0; i < 15; i++) {
        double d = fabs(logits[0][i] - logits[1][i]) / (1.0 + fabs(logits[1][i]));
        if (d > worst) worst = d;
    }
    printf("vit-micro: eval vs training logits differ by %.2g (relative)\n", worst);
    EXPECT(worst < 1e-5, "vit-micro eval vs training logits differ by %g", worst);
    model_free(&m);
    params_free(&ps);
}

/* vit-micro: model_forward, which runs the last block for the class token only (vit.c's tail), gives the logits
 * and parameter gradients of the units run one by one (every token), in training mode; and it did take the
 * tail (an attention_cls record on the tape). */
static void tail_equals_units(void) {
    enum { N = 3, CLASSES = 5 };
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {.arch = "vit-micro", .in_c = 3, .in_h = 16, .in_w = 12, .classes = CLASSES};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 3);
    model_init_weights(&m, &rng);
    static float x[N * 3 * 16 * 12];
    float dout[N * CLASSES], logits[2][N * CLASSES];
    fill_normal(x, sizeof x / sizeof x[0], 1.0f, 4);
    fill_normal(dout, N * CLASSES, 1.0f, 5);
    float *grads[2];
    int took_tail = 0;
    for (int way = 0; way < 2; way++) {
        Env e;
        env_init(&e, &ps, 1, 2);
        params_zero_grads(&ps);
        TapeMark mark = tape_mark(&e.tape);
        Tensor *y = tape_wrap(&e.tape, shape4(N, 3, 16, 12), x, 0);
        if (way == 0) y = model_forward(&m, &e.tape, y);
        else
            for (int u = 0; u < m.n_units; u++) y = m.unit_forward(&m, &e.tape, u, y);
        CHECK(y && tape_ok(&e.tape) && tensor_numel(y) == N * CLASSES, "%s", e.tape.err.text);
        for (const TapeRecord *r = e.tape.top; way == 0 && r; r = r->prev)
            took_tail |= !strcmp(r->layer->ops->type, "attention_cls");
        memcpy(logits[way], y->data, sizeof logits[way]);
        CHECK(tape_backward_from(&e.tape, y, dout, mark) == LOCUS_OK, "%s", e.tape.err.text);
        grads[way] = malloc(sizeof(float) * ps.numel_trainable);
        memcpy(grads[way], ps.grads, sizeof(float) * ps.numel_trainable);
        env_free(&e);
    }
    EXPECT(took_tail, "model_forward did not run vit-micro's last block for the class token only");
    double worst = 0, worst_g = 0;
    for (int i = 0; i < N * CLASSES; i++) {
        double d = fabs(logits[0][i] - logits[1][i]) / (1.0 + fabs(logits[1][i]));
        if (d > worst) worst = d;
    }
    for (int p = 0; p < ps.count; p++) {
        const float *a = params_grad(&ps, p);
        if (!a) continue;
        const size_t off = (size_t)(a - ps.grads), n = ps.info[p].numel;
        double diff = 0, norm = 0;
        for (size_t i = 0; i < n; i++) {
            const double g0 = grads[0][off + i], g1 = grads[1][off + i];
            diff += (g0 - g1) * (g0 - g1), norm += g1 * g1;
        }
        const double rel = sqrt(diff) / (sqrt(norm) + 1e-12);
        EXPECT(norm > 0, "%s: no gradient on the unit-by-unit path", ps.info[p].name);
        if (rel > worst_g) worst_g = rel;
    }
    printf("vit-micro: class-token tail vs units: logits differ by %.2g, gradients by %.2g (relative norm)\n", worst,
           worst_g);
    EXPECT(worst < 1e-5 && worst_g < 1e-5, "tail vs units: logits %g, gradients %g", worst, worst_g);
    free(grads[0]), free(grads[1]);
    model_free(&m);
    params_free(&ps);
}

int main(void) {
    tiny_params();
    names_and_errors();
    attention_values();
    layernorm_values();
    micro_eval_equals_train();
    tail_equals_units();
    return expect_report();
}
