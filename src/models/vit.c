/* vit.c — the Vision Transformer (timm VisionTransformer, class token, pre-norm) as model units.
 *
 *   unit 0 "embed":       PatchEmbed (conv p x p stride p, CLS token, position embedding)
 *   unit 1+i "block<i>":  x = x + attn(norm1(x)); x = x + fc2(gelu(fc1(norm2(x))))
 *   last unit "head":     LayerNorm, token 0 (CLS), Linear(D -> classes)
 * model_forward runs the last block and the head as one (vit_tail_forward): the class token's row alone after
 * the last attention, since the head reads nothing else (the same logits and gradients; 1/7 less work for
 * vit-tiny). Local learning and recomputation call the units one by one and keep every token.
 * LayerNorm eps 1e-6 (timm's partial(nn.LayerNorm, eps=1e-6)); no dropout, no drop path, no layer scale.
 * Parameters are registered in timm's state_dict order: cls_token, pos_embed, patch_embed.proj.*,
 * blocks.{i}.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}.*, norm.*, head.*.
 * Token units report out_c = D, out_h = T, out_w = 0; the head out_c = classes. */
#include "models/vit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/merge.h"
#include "layers/patch_embed.h"
#include "layers/token_select.h"
#include "locus/init.h"

#define VIT_LN_EPS 1e-6f

typedef struct VitConfig {
    const char *arch;
    int patch, dim, depth, heads, mlp;
} VitConfig;

static const VitConfig vit_configs[] = {
    {"vit-tiny", 4, 192, 6, 3, 768},
    {"vit-micro", 4, 48, 2, 2, 96},
};

typedef struct VitBlock {
    LayerNorm norm1, norm2;
    Attention attn;
    Add add1, add2;
    Linear fc1, fc2;
    Gelu gelu;
} VitBlock;

typedef struct Vit {
    VitConfig cfg;
    PatchEmbed embed;
    VitBlock *blocks; /* cfg.depth */
    LayerNorm norm;
    TokenSelect cls;
    Linear head;
    Attention last_cls_attn; /* the last block's attention, token 0's row only (vit_tail_forward) */
} Vit;

/* prefix: "blocks.<i>" for the model's own blocks */
static void block_create(VitBlock *b, ParamStore *ps, const char *prefix, const VitConfig *c) {
    char name[96];
    snprintf(name, sizeof name, "%s.norm1", prefix);
    layernorm_init(&b->norm1, ps, name, c->dim, VIT_LN_EPS);
    snprintf(name, sizeof name, "%s.attn", prefix);
    attention_init(&b->attn, ps, name, c->dim, c->heads);
    snprintf(name, sizeof name, "%s.add1", prefix);
    add_init(&b->add1, name);
    snprintf(name, sizeof name, "%s.norm2", prefix);
    layernorm_init(&b->norm2, ps, name, c->dim, VIT_LN_EPS);
    snprintf(name, sizeof name, "%s.mlp.fc1", prefix);
    linear_init(&b->fc1, ps, name, c->dim, c->mlp, 1);
    snprintf(name, sizeof name, "%s.mlp.act", prefix);
    gelu_init(&b->gelu, name);
    snprintf(name, sizeof name, "%s.mlp.fc2", prefix);
    linear_init(&b->fc2, ps, name, c->mlp, c->dim, 1);
    snprintf(name, sizeof name, "%s.add2", prefix);
    add_init(&b->add2, name);
}

static Tensor *block_forward(const VitBlock *b, Tape *t, Tensor *x) {
    Tensor *h = tape_call1(t, &b->attn.base, tape_call1(t, &b->norm1.base, x));
    x = tape_call2(t, &b->add1.base, x, h);
    h = tape_call1(t, &b->norm2.base, x);
    h = tape_call1(t, &b->fc2.base, tape_call1(t, &b->gelu.base, tape_call1(t, &b->fc1.base, h)));
    return tape_call2(t, &b->add2.base, x, h);
}

/* timm init_weights_vit_timm: Linear weight trunc_normal(0.02), bias 0. */
static void vit_linear_init(const Linear *l, ParamStore *ps, Rng *rng) {
    init_trunc_normal(params_value(ps, l->w), params_numel(ps, l->w), 0.02f, rng);
    if (l->b >= 0) init_const(params_value(ps, l->b), params_numel(ps, l->b), 0.0f);
}

static void block_init_weights(const VitBlock *b, ParamStore *ps, Rng *rng) {
    layernorm_reset(&b->norm1, ps);
    init_trunc_normal(params_value(ps, b->attn.qkv_w), params_numel(ps, b->attn.qkv_w), 0.02f, rng);
    init_const(params_value(ps, b->attn.qkv_b), params_numel(ps, b->attn.qkv_b), 0.0f);
    init_trunc_normal(params_value(ps, b->attn.proj_w), params_numel(ps, b->attn.proj_w), 0.02f, rng);
    init_const(params_value(ps, b->attn.proj_b), params_numel(ps, b->attn.proj_b), 0.0f);
    layernorm_reset(&b->norm2, ps);
    vit_linear_init(&b->fc1, ps, rng);
    vit_linear_init(&b->fc2, ps, rng);
}

/* Model copy ops: a transformer block of the model's configuration. */
static void *vit_copy_create(Model *m, int u, ParamStore *ps, const char *prefix) {
    (void)u;
    VitBlock *b = calloc(1, sizeof *b);
    CHECK(b, "out of memory copying a block");
    block_create(b, ps, prefix, &((const Vit *)m->impl)->cfg);
    return b;
}

static Tensor *vit_copy_forward(const void *impl, Tape *t, Tensor *x) { return block_forward(impl, t, x); }

static void vit_copy_init(const void *impl, ParamStore *ps, Rng *rng) { block_init_weights(impl, ps, rng); }

static Tensor *vit_unit_forward(Model *m, Tape *t, int u, Tensor *x) {
    const Vit *v = m->impl;
    if (u == 0) return tape_call1(t, &v->embed.base, x);
    if (u == m->n_units - 1) {
        Tensor *h = tape_call1(t, &v->norm.base, x);
        return tape_call1(t, &v->head.base, tape_call1(t, &v->cls.base, h));
    }
    return block_forward(&v->blocks[u - 1], t, x);
}

/* The last block and the head for the class token only (model.h tail_forward): the head reads nothing else, so
 * after the attention (whose keys and values need every token) the block runs on N x D instead of N x T x D. */
static Tensor *vit_tail_forward(Model *m, Tape *t, Tensor *x) {
    const Vit *v = m->impl;
    const VitBlock *b = &v->blocks[v->cfg.depth - 1];
    Tensor *h = tape_call1(t, &v->last_cls_attn.base, tape_call1(t, &b->norm1.base, x));
    /* the residual's token 0, by the head's own token_select (the head below does not take it again) */
    x = tape_call2(t, &b->add1.base, tape_call1(t, &v->cls.base, x), h);
    h = tape_call1(t, &b->norm2.base, x);
    h = tape_call1(t, &b->fc2.base, tape_call1(t, &b->gelu.base, tape_call1(t, &b->fc1.base, h)));
    x = tape_call2(t, &b->add2.base, x, h);
    return tape_call1(t, &v->head.base, tape_call1(t, &v->norm.base, x));
}

static void vit_free_impl(Model *m) {
    Vit *v = m->impl;
    if (v) free(v->blocks);
    free(v);
    m->impl = NULL;
}

Status vit_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err) {
    const VitConfig *c = NULL;
    for (size_t i = 0; i < sizeof vit_configs / sizeof vit_configs[0]; i++)
        if (!strcmp(spec->arch, vit_configs[i].arch)) c = &vit_configs[i];
    if (!c) return status_fail(err, LOCUS_ERR_ARG, "unknown ViT '%s'\nhint: choose vit-tiny or vit-micro", spec->arch);
    if (spec->in_c < 1 || spec->classes < 1 || spec->in_h < c->patch || spec->in_w < c->patch ||
        spec->in_h % c->patch || spec->in_w % c->patch)
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s needs an input whose height and width are multiples of its patch size %d, got "
                           "%d x %d x %d\nhint: resize or crop the images (e.g. 28x28, 32x32, 96x96)",
                           spec->arch, c->patch, spec->in_c, spec->in_h, spec->in_w);
    Vit *v = calloc(1, sizeof *v);
    CHECK(v, "out of memory building %s", spec->arch);
    v->cfg = *c;
    v->blocks = calloc((size_t)c->depth, sizeof *v->blocks);
    m->units = calloc((size_t)c->depth + 2, sizeof *m->units);
    CHECK(v->blocks && m->units, "out of memory building %s", spec->arch);
    m->impl = v;
    m->n_units = c->depth + 2;
    m->unit_forward = vit_unit_forward;
    m->free_impl = vit_free_impl;
    m->copy_create = vit_copy_create;
    m->copy_forward = vit_copy_forward;
    m->copy_init = vit_copy_init;

    m->units[0].param_first = ps->count;
    Status s = patch_embed_init(&v->embed, ps, "patch_embed", "cls_token", "pos_embed", spec->in_c, spec->in_h,
                                spec->in_w, c->patch, c->dim, err);
    if (s) return s;
    const int tokens = patch_embed_tokens(&v->embed);
    m->units[0].param_count = ps->count - m->units[0].param_first;
    snprintf(m->units[0].name, sizeof m->units[0].name, "embed");
    m->units[0].out_c = c->dim, m->units[0].out_h = tokens, m->units[0].out_w = 0;
    for (int i = 0; i < c->depth; i++) {
        ModelUnit *un = &m->units[1 + i];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "blocks.%d", i);
        un->param_first = ps->count;
        block_create(&v->blocks[i], ps, prefix, c);
        un->param_count = ps->count - un->param_first;
        snprintf(un->name, sizeof un->name, "block%d", i);
        un->out_c = c->dim, un->out_h = tokens, un->out_w = 0;
    }
    attention_cls_view(&v->last_cls_attn, &v->blocks[c->depth - 1].attn);
    m->tail_forward = vit_tail_forward;
    ModelUnit *head = &m->units[m->n_units - 1];
    head->param_first = ps->count;
    layernorm_init(&v->norm, ps, "norm", c->dim, VIT_LN_EPS);
    token_select_init(&v->cls, "cls_token_select");
    linear_init(&v->head, ps, "head", c->dim, spec->classes, 1);
    head->param_count = ps->count - head->param_first;
    snprintf(head->name, sizeof head->name, "head");
    head->out_c = spec->classes, head->out_h = 0, head->out_w = 0;
    return LOCUS_OK;
}

void vit_init_weights(Model *m, Rng *rng) {
    Vit *v = m->impl;
    ParamStore *ps = m->params;
    patch_embed_init_weights(&v->embed, ps, rng);
    for (int i = 0; i < v->cfg.depth; i++) block_init_weights(&v->blocks[i], ps, rng);
    layernorm_reset(&v->norm, ps);
    vit_linear_init(&v->head, ps, rng);
}

int vit_arch_dims(const char *arch, int *patch, int *dim, int *depth, int *heads, int *mlp) {
    for (size_t i = 0; i < sizeof vit_configs / sizeof vit_configs[0]; i++)
        if (!strcmp(arch, vit_configs[i].arch)) {
            const VitConfig *c = &vit_configs[i];
            *patch = c->patch, *dim = c->dim, *depth = c->depth, *heads = c->heads, *mlp = c->mlp;
            return 1;
        }
    return 0;
}
