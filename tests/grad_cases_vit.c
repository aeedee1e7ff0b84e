/* grad_cases_vit.c — gradient checks for the Vision Transformer pieces: layernorm (3-D and 2-D inputs),
 * attention (D = 8, 2 heads, T = 5, N = 2; also 1 head and a single token) and its class-token row
 * attention_cls (the same, and D = 16), patch_embed (2x3x8x8,
 * p = 4, and a non-square 1x2x4x8 with p = 2), token_select, a whole pre-norm ViT block
 * (x + attn(norm1(x)), then + fc2(gelu(fc1(norm2(x))))), and the whole vit-micro model on 2x3x8x8.
 *
 * Every case owns a fresh ParamStore filled with random values: LayerNorm weights away from 1 and
 * biases away from 0, weights of a scale that keeps softmax and GELU off their flat regions, so every
 * term of every backward is exercised. Nothing needed a looser tolerance than the harness default. */
#include <stdio.h>
#include <string.h>

#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/merge.h"
#include "layers/patch_embed.h"
#include "layers/token_select.h"
#include "locus/model.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

static void finalize(ParamStore *ps) {
    ErrorMsg err;
    CHECK(params_finalize(ps, &err) == LOCUS_OK, "%s", err.text);
}

void grad_randomize_params(ParamStore *ps, float std, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    for (int p = 0; p < ps->count; p++) {
        const char *name = ps->info[p].name;
        int is_norm_w = ps->info[p].shape.ndim == 1 && strstr(name, "norm") && strstr(name, ".weight");
        float *v = params_value(ps, p);
        for (size_t i = 0; i < ps->info[p].numel; i++)
            v[i] = is_norm_w ? 1.0f + 0.3f * rng_normal(&rng) : std * rng_normal(&rng);
    }
}

static int layernorm_cases(void) {
    int bad = 0;
    const Shape shapes[] = {shape3(2, 5, 8), shape2(3, 6)};
    for (int i = 0; i < 2; i++) {
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        LayerNorm ln;
        int d = shapes[i].d[shapes[i].ndim - 1];
        layernorm_init(&ln, &ps, "norm", d, 1e-6f);
        finalize(&ps);
        grad_randomize_params(&ps, 0.5f, 11 + i);
        char name[64];
        snprintf(name, sizeof name, "layernorm %dd d=%d", shapes[i].ndim, d);
        bad += gradcheck_run(&(GradcheckCase){.name = name, .fn = one_layer, .user = &ln, .params = &ps,
                                              .n_in = 1, .in_shape = {shapes[i]}, .seed = 21 + i});
        params_free(&ps);
    }
    return bad;
}

static int attention_cases(void) {
    int bad = 0;
    struct {
        int n, t, d, heads;
    } cases[] = {{2, 5, 8, 2}, {2, 4, 6, 1}, {3, 1, 4, 2}, {2, 5, 16, 2}};
    for (int i = 0; i < 4; i++) {
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        Attention at, cls;
        attention_init(&at, &ps, "attn", cases[i].d, cases[i].heads);
        attention_cls_view(&cls, &at);
        finalize(&ps);
        grad_randomize_params(&ps, 0.5f, 31 + i);
        /* the full layer on the first three; the class token's row on all (D = 16: weight gradients on the dense
         * kernels, the others on OpenBLAS) */
        for (int only_cls = i == 3; only_cls <= 1; only_cls++) {
            char name[64];
            snprintf(name, sizeof name, "%s N=%d T=%d D=%d H=%d", only_cls ? "attention_cls" : "attention", cases[i].n,
                     cases[i].t, cases[i].d, cases[i].heads);
            bad += gradcheck_run(&(GradcheckCase){.name = name, .fn = one_layer, .user = only_cls ? &cls : &at,
                                                  .params = &ps, .n_in = 1,
                                                  .in_shape = {shape3(cases[i].n, cases[i].t, cases[i].d)},
                                                  .seed = 41 + i});
        }
        params_free(&ps);
    }
    return bad;
}

static int patch_embed_cases(void) {
    int bad = 0;
    struct {
        int n, c, h, w, p, d;
    } cases[] = {{2, 3, 8, 8, 4, 8}, {1, 2, 4, 8, 2, 5}};
    for (int i = 0; i < 2; i++) {
        MemTracker mt = {0};
        ParamStore ps;
        params_init(&ps, &mt);
        PatchEmbed pe;
        ErrorMsg err;
        CHECK(patch_embed_init(&pe, &ps, "patch_embed", "cls_token", "pos_embed", cases[i].c, cases[i].h,
                               cases[i].w, cases[i].p, cases[i].d, &err) == LOCUS_OK,
              "%s", err.text);
        finalize(&ps);
        grad_randomize_params(&ps, 0.3f, 51 + i);
        char name[64];
        snprintf(name, sizeof name, "patch_embed %dx%dx%dx%d p=%d D=%d", cases[i].n, cases[i].c, cases[i].h,
                 cases[i].w, cases[i].p, cases[i].d);
        bad += gradcheck_run(&(GradcheckCase){.name = name, .fn = one_layer, .user = &pe, .params = &ps,
                                              .n_in = 1,
                                              .in_shape = {shape4(cases[i].n, cases[i].c, cases[i].h, cases[i].w)},
                                              .seed = 61 + i});
        params_free(&ps);
    }
    return bad;
}

/* A pre-norm ViT block built from the layers, as the model builds it. */
typedef struct Block {
    LayerNorm norm1, norm2;
    Attention attn;
    Add add1, add2;
    Linear fc1, fc2;
    Gelu gelu;
} Block;

static Tensor *block_fn(void *user, Tape *t, Tensor *const *in, int n_in) {
    (void)n_in;
    const Block *b = user;
    Tensor *x = in[0];
    Tensor *h = tape_call1(t, &b->attn.base, tape_call1(t, &b->norm1.base, x));
    x = tape_call2(t, &b->add1.base, x, h);
    h = tape_call1(t, &b->norm2.base, x);
    h = tape_call1(t, &b->fc2.base, tape_call1(t, &b->gelu.base, tape_call1(t, &b->fc1.base, h)));
    return tape_call2(t, &b->add2.base, x, h);
}

static int block_case(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Block b;
    layernorm_init(&b.norm1, &ps, "blocks.0.norm1", 8, 1e-6f);
    attention_init(&b.attn, &ps, "blocks.0.attn", 8, 2);
    add_init(&b.add1, "blocks.0.add1");
    layernorm_init(&b.norm2, &ps, "blocks.0.norm2", 8, 1e-6f);
    linear_init(&b.fc1, &ps, "blocks.0.mlp.fc1", 8, 12, 1);
    gelu_init(&b.gelu, "blocks.0.mlp.act");
    linear_init(&b.fc2, &ps, "blocks.0.mlp.fc2", 12, 8, 1);
    add_init(&b.add2, "blocks.0.add2");
    finalize(&ps);
    grad_randomize_params(&ps, 0.4f, 71);
    int bad = gradcheck_run(&(GradcheckCase){.name = "vit block D=8 H=2 MLP=12 (N=2, T=5)", .fn = block_fn,
                                             .user = &b, .params = &ps, .n_in = 1, .in_shape = {shape3(2, 5, 8)},
                                             .seed = 72});
    params_free(&ps);
    return bad;
}

static int token_select_case(void) {
    TokenSelect ts;
    token_select_init(&ts, "cls");
    return gradcheck_run(&(GradcheckCase){
        .name = "token_select", .fn = one_layer, .user = &ts, .n_in = 1, .in_shape = {shape3(2, 5, 8)}, .seed = 81});
}

static Tensor *model_fn(void *user, Tape *t, Tensor *const *in, int n_in) {
    (void)n_in;
    return model_forward(user, t, in[0]);
}

static int model_case(void) {
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {.arch = "vit-micro", .in_c = 3, .in_h = 8, .in_w = 8, .classes = 3};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    finalize(&ps);
    grad_randomize_params(&ps, 0.2f, 91);
    int bad = gradcheck_run(&(GradcheckCase){.name = "vit-micro on 2x3x8x8, 3 classes", .fn = model_fn, .user = &m,
                                             .params = &ps, .n_in = 1, .in_shape = {shape4(2, 3, 8, 8)},
                                             .max_checks = 12, .seed = 92});
    model_free(&m);
    params_free(&ps);
    return bad;
}

int grad_cases_vit(void) {
    int bad = 0;
    bad += layernorm_cases();
    bad += attention_cases();
    bad += patch_embed_cases();
    bad += token_select_case();
    bad += block_case();
    bad += model_case();
    return bad;
}
