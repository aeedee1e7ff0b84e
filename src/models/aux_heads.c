/* aux_heads.c — auxiliary heads for local learning (see aux_heads.h; spec local-learning.md §1.2-§1.4, §2.4).
 *
 * A head is an ordered list of layers (seq) run one after the other on the tape; the layer structs live in
 * small per-type arrays inside the AuxHead. Parameter names reproduce the authors' nn.Sequential indices:
 * every PyTorch module of the reference head advances the index, also where locus needs no layer for it
 * (nn.Flatten after a global average pool, whose output is already N x C) or skips an identity (an adaptive
 * pool or a bilinear resize to the size the map already has: both are exact identities, so skipping them
 * only saves a copy of the feature map).
 *
 * Generalisations beyond the CIFAR sizes the sources spell out:
 *  - InfoPro 1c2f/2c2f hard-code C in {16, 32, 64}: conv 16->32 s2, 32->64 s2, 64->64 s1. The rule used here
 *    is "stride 2 and width 2C while C < 64, else stride 1 and width C", which reproduces the table and
 *    gives the same heads on Fashion-MNIST (16x28x28, 32x14x14, 64x7x7) and STL-10 (96, 48, 24 px).
 *  - AugLocal's DGL port pools to ceil(size/4) and then to min(ceil(size/4), 2), from the *image* size at
 *    that stage; here both pools use the block output's own h and w (the same for a ResNet), per side.
 *  - A 2-d BN followed by a ReLU is one batchnorm2d_relu layer (bit for bit the same, one tensor less).
 *  - eugenium/DGL's original head also registers a BatchNorm2d (`self.bn`) that mlp-sr never uses; it is
 *    left out (it would change neither the output nor the gradients). */
#include "models/aux_heads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "layers/conv.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "layers/resize_conv.h"

#define AUX_MAX_SEQ 24
#define AUX_HIDDEN 128   /* InfoPro feature_dim * widen: the hidden width of the 1c2f/2c2f MLP */
#define AUX_DEC_WIDTH 12 /* InfoPro decoder: int(12 * widen) */

struct AuxHead {
    AuxSpec spec;
    char prefix[56]; /* at most 55 bytes (validated), so every name fits 96 bytes */
    int n_conv, n_bn, n_fc, n_relu, n_apool, n_seq;
    Conv2d conv[3];
    BatchNorm bn[6];
    Linear fc[4];
    Relu relu[6];
    AdaptiveAvgPool2d apool[2];
    GlobalAvgPool gap;
    Flatten flat;
    ResizeConv2d resize_conv; /* the decoder's resize + first conv, when it resizes */
    const Layer *seq[AUX_MAX_SEQ];
};

/* ---- names ---- */

static const char *const kind_names[] = {"greedy", "dgl", "dgl-orig", "1c2f", "2c2f", "decoder"};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *aux_kind_name(AuxKind k) { return (int)k >= 0 && (int)k < N_KINDS ? kind_names[k] : "?"; }

int aux_kind_parse(const char *name, AuxKind *out) {
    for (int k = 0; name && k < N_KINDS; k++)
        if (!strcmp(name, kind_names[k])) {
            *out = (AuxKind)k;
            return 0;
        }
    return -1;
}

const AuxSpec *aux_head_spec(const AuxHead *h) { return &h->spec; }

/* "<prefix>.<fmt...>" into buf (no dot when the prefix is empty). */
static const char *full_name(const AuxHead *h, char *buf, size_t size, const char *fmt, int i) {
    char part[32];
    snprintf(part, sizeof part, fmt, i);
    if (h->prefix[0])
        snprintf(buf, size, "%s.%s", h->prefix, part);
    else
        snprintf(buf, size, "%s", part);
    return buf;
}

/* ---- builders: each appends one layer to seq; `fmt` may hold one %d, filled with i ---- */

static void push(AuxHead *h, const Layer *l) {
    CHECK(h->n_seq < AUX_MAX_SEQ, "aux head: more than %d layers", AUX_MAX_SEQ);
    h->seq[h->n_seq++] = l;
}

static void add_conv(AuxHead *h, ParamStore *ps, const char *fmt, int i, int cin, int cout, int k, int stride,
                     int bias) {
    CHECK(h->n_conv < 3, "aux head: too many convs");
    char name[96];
    Conv2d *c = &h->conv[h->n_conv++];
    conv2d_init(c, ps, full_name(h, name, sizeof name, fmt, i), cin, cout, k, stride, k / 2, bias);
    push(h, &c->base);
}

static void add_bn(AuxHead *h, ParamStore *ps, const char *fmt, int i, int c, int is2d) {
    CHECK(h->n_bn < 6, "aux head: too many BNs");
    char name[96];
    BatchNorm *b = &h->bn[h->n_bn++];
    full_name(h, name, sizeof name, fmt, i);
    if (is2d)
        batchnorm2d_init(b, ps, name, c);
    else
        batchnorm1d_init(b, ps, name, c);
    push(h, &b->base);
}

/* A 2-d BN followed by a ReLU, as one batchnorm2d_relu layer (norm.h): the same numbers and parameter names,
 * one activation tensor less. The ReLU's own module index has no parameters: callers just skip it. */
static void add_bn_relu(AuxHead *h, ParamStore *ps, const char *fmt, int i, int c) {
    CHECK(h->n_bn < 6, "aux head: too many BNs");
    char name[96];
    BatchNorm *b = &h->bn[h->n_bn++];
    batchnorm2d_relu_init(b, ps, full_name(h, name, sizeof name, fmt, i), c);
    push(h, &b->base);
}

static void add_fc(AuxHead *h, ParamStore *ps, const char *fmt, int i, int in, int out, int bias) {
    CHECK(h->n_fc < 4, "aux head: too many linears");
    char name[96];
    Linear *f = &h->fc[h->n_fc++];
    linear_init(f, ps, full_name(h, name, sizeof name, fmt, i), in, out, bias);
    push(h, &f->base);
}

static void add_relu(AuxHead *h, const char *fmt, int i) {
    CHECK(h->n_relu < 6, "aux head: too many ReLUs");
    char name[96];
    Relu *r = &h->relu[h->n_relu++];
    relu_init(r, full_name(h, name, sizeof name, fmt, i));
    push(h, &r->base);
}

/* Adaptive average pool from ih x iw to oh x ow, skipped when it is the identity. */
static void add_apool(AuxHead *h, const char *fmt, int i, int ih, int iw, int oh, int ow) {
    if (ih == oh && iw == ow) return;
    CHECK(h->n_apool < 2, "aux head: too many pools");
    char name[96];
    AdaptiveAvgPool2d *p = &h->apool[h->n_apool++];
    adaptive_avgpool2d_init(p, full_name(h, name, sizeof name, fmt, i), oh, ow);
    push(h, &p->base);
}

static int ceil4(int v) { return (v + 3) / 4; }
static int min2(int v) { return v < 2 ? v : 2; }

/* ---- the heads ---- */

/* InfoPro 0c1f: head.0 AdaptiveAvgPool(1) (locus: global_avgpool, N x C), head.1 Flatten (not needed),
 * head.2 Linear(C -> out). */
static void build_greedy(AuxHead *h, ParamStore *ps) {
    char name[96];
    global_avgpool_init(&h->gap, full_name(h, name, sizeof name, "head.%d", 0));
    push(h, &h->gap.base);
    add_fc(h, ps, "head.%d", 2, h->spec.c, h->spec.out_dim, 1);
}

/* AugLocal's DGL head (networks/auxiliary_nets.py, net_config 'DGL'):
 *   0 pool ceil(h/4) | 1-9 3 x [conv1x1 C->C no bias, BN, ReLU] | 10 pool min(.,2) | 11 flatten (F) |
 *   12-14 Linear(F,F) no bias, BN1d, ReLU | 15-17 the same | 18 Linear(F -> out, bias). */
static void build_dgl(AuxHead *h, ParamStore *ps) {
    const int C = h->spec.c, ph = ceil4(h->spec.h), pw = ceil4(h->spec.w);
    const int qh = min2(ph), qw = min2(pw), F = C * qh * qw;
    add_apool(h, "head.%d", 0, h->spec.h, h->spec.w, ph, pw);
    for (int i = 0; i < 3; i++) {
        add_conv(h, ps, "head.%d", 1 + 3 * i, C, C, 1, 1, 0);
        add_bn_relu(h, ps, "head.%d", 2 + 3 * i, C); /* + head.(3 + 3i) ReLU */
    }
    add_apool(h, "head.%d", 10, ph, pw, qh, qw);
    char name[96];
    flatten_init(&h->flat, full_name(h, name, sizeof name, "head.%d", 11));
    push(h, &h->flat.base);
    for (int i = 0; i < 2; i++) {
        add_fc(h, ps, "head.%d", 12 + 3 * i, F, F, 0);
        add_bn(h, ps, "head.%d", 13 + 3 * i, F, 0);
        add_relu(h, "head.%d", 14 + 3 * i);
    }
    add_fc(h, ps, "head.%d", 18, F, h->spec.out_dim, 1);
}

/* eugenium/DGL auxillary_classifier2, aux_type 'mlp-sr' (n_lin = 3, mlp_layers = 3):
 *   pool ceil(h/4) | blocks.i = [conv1x1 C->C no bias, BN] + F.relu, i = 0..2 | pool 2x2 | view (4C) |
 *   classifier = 3 x [Linear(4C,4C) bias, BN1d, ReLU] + Linear(4C -> out). */
static void build_dgl_orig(AuxHead *h, ParamStore *ps) {
    const int C = h->spec.c, ph = ceil4(h->spec.h), pw = ceil4(h->spec.w), F = 4 * C;
    add_apool(h, "pool%d", 1, h->spec.h, h->spec.w, ph, pw);
    for (int i = 0; i < 3; i++) {
        char fmt[32];
        snprintf(fmt, sizeof fmt, "blocks.%d.%%d", i);
        add_conv(h, ps, fmt, 0, C, C, 1, 1, 0);
        add_bn_relu(h, ps, fmt, 1, C); /* + F.relu */
    }
    add_apool(h, "pool%d", 2, ph, pw, 2, 2);
    char name[96];
    flatten_init(&h->flat, full_name(h, name, sizeof name, "flatten%d", 0));
    push(h, &h->flat.base);
    for (int i = 0; i < 3; i++) {
        add_fc(h, ps, "classifier.%d", 3 * i, F, F, 1);
        add_bn(h, ps, "classifier.%d", 3 * i + 1, F, 0);
        add_relu(h, "classifier.%d", 3 * i + 2);
    }
    add_fc(h, ps, "classifier.%d", 9, F, h->spec.out_dim, 1);
}

/* InfoPro AuxClassifier 1c2f / 2c2f:
 *   0-2 conv3x3 C->W (stride s, no bias), BN, ReLU | [2c2f: 3-5 conv3x3 W->W s1, BN, ReLU] |
 *   GAP, Flatten | Linear(W -> 128), ReLU, Linear(128 -> out). */
static void build_infopro(AuxHead *h, ParamStore *ps, int two_convs) {
    const int C = h->spec.c, wide = C < 64, W = wide ? 2 * C : C, stride = wide ? 2 : 1;
    int i = 0;
    add_conv(h, ps, "head.%d", i++, C, W, 3, stride, 0);
    add_bn_relu(h, ps, "head.%d", i, W); /* + head.(i+1) ReLU */
    i += 2;
    if (two_convs) {
        add_conv(h, ps, "head.%d", i++, W, W, 3, 1, 0);
        add_bn_relu(h, ps, "head.%d", i, W);
        i += 2;
    }
    char name[96];
    global_avgpool_init(&h->gap, full_name(h, name, sizeof name, "head.%d", i++));
    push(h, &h->gap.base);
    i++; /* nn.Flatten: global_avgpool already gives N x W */
    add_fc(h, ps, "head.%d", i++, W, AUX_HIDDEN, 1);
    add_relu(h, "head.%d", i++);
    add_fc(h, ps, "head.%d", i, AUX_HIDDEN, h->spec.out_dim, 1);
}

/* InfoPro Decoder: F.interpolate(bilinear, align_corners) | decoder.0 conv3x3 C->12 bias | .1 BN | .2 ReLU |
 * .3 conv3x3 12->img_c bias | (.4 Sigmoid: left to the loss, sigmoid_bce works on logits). */
static void build_decoder(AuxHead *h, ParamStore *ps) {
    const AuxSpec *s = &h->spec;
    if (s->h != s->img_h || s->w != s->img_w) { /* interpolate + decoder.0 as one layer (resize_conv.h) */
        char name[96];
        resize_conv2d_init(&h->resize_conv, ps, full_name(h, name, sizeof name, "decoder.%d", 0), s->img_h, s->img_w,
                           s->c, AUX_DEC_WIDTH, 3, 1, 1, 1);
        push(h, &h->resize_conv.base);
    } else {
        add_conv(h, ps, "decoder.%d", 0, s->c, AUX_DEC_WIDTH, 3, 1, 1);
    }
    add_bn_relu(h, ps, "decoder.%d", 1, AUX_DEC_WIDTH); /* + decoder.2 ReLU */
    add_conv(h, ps, "decoder.%d", 3, AUX_DEC_WIDTH, s->img_c, 3, 1, 1);
}

/* ---- public ---- */

static Status validate(const AuxSpec *s, ParamStore *ps, const char *prefix, ErrorMsg *err) {
    if (!s) return status_fail(err, LOCUS_ERR_ARG, "aux head: no spec\nhint: pass an AuxSpec");
    CHECK(ps, "aux head: no parameter store");
    if (ps->finalized)
        return status_fail(err, LOCUS_ERR_ARG,
                           "aux head: the parameter store is already finalized\nhint: create every head before "
                           "params_finalize()");
    const char *kn = aux_kind_name(s->kind);
    if (!strcmp(kn, "?"))
        return status_fail(err, LOCUS_ERR_ARG, "aux head: unknown kind %d\nhint: one of greedy, dgl, dgl-orig, "
                           "1c2f, 2c2f, decoder", (int)s->kind);
    if (s->c < 1 || s->h < 1 || s->w < 1)
        return status_fail(err, LOCUS_ERR_ARG,
                           "aux head %s: input %d x %d x %d\nhint: the block output must be C x h x w, all >= 1", kn,
                           s->c, s->h, s->w);
    if (s->kind == AUX_DECODER) {
        if (s->img_c < 1 || s->img_h < 1 || s->img_w < 1)
            return status_fail(err, LOCUS_ERR_ARG,
                               "aux head decoder: image %d x %d x %d\nhint: set img_c, img_h, img_w to the "
                               "reconstruction target's size (e.g. 3 x 32 x 32)",
                               s->img_c, s->img_h, s->img_w);
    } else if (s->out_dim < 1) {
        return status_fail(err, LOCUS_ERR_ARG,
                           "aux head %s: out_dim %d\nhint: the number of classes, or 128 for a contrast projection",
                           kn, s->out_dim);
    }
    /* DGL's hidden weight is 4C x 4C: keep its element count (and every other one) inside an int */
    if ((long long)s->c * 4 * s->c * 4 > (1LL << 31) - 1)
        return status_fail(err, LOCUS_ERR_ARG, "aux head %s: C = %d is too wide\nhint: at most 11585 channels",
                           kn, s->c);
    const char *p = prefix ? prefix : "";
    /* longest suffix: ".classifier.9.running_mean" (27) or ".head.16.running_mean"; keep 40 bytes spare */
    if (strlen(p) > 55)
        return status_fail(err, LOCUS_ERR_ARG,
                           "aux head prefix '%s' is %zu bytes long\nhint: parameter names hold 95 bytes; use a "
                           "prefix of at most 55",
                           p, strlen(p));
    /* params_add aborts on a duplicate name: refuse a prefix that is taken (bare names: our module names) */
    static const char *const bare[] = {"head.", "decoder.", "blocks.", "classifier."};
    size_t n = strlen(p);
    for (int i = 0; ps && i < ps->count; i++) {
        const char *name = ps->info[i].name;
        int clash = 0;
        if (n)
            clash = !strncmp(name, p, n) && name[n] == '.';
        else
            for (size_t b = 0; b < sizeof bare / sizeof bare[0]; b++) clash |= !strncmp(name, bare[b], strlen(bare[b]));
        if (clash)
            return status_fail(err, LOCUS_ERR_ARG,
                               "aux head prefix '%s' is already used (parameter %s)\nhint: give each head its own "
                               "prefix, e.g. aux.<unit>.cls and aux.<unit>.dec",
                               p, name);
    }
    return LOCUS_OK;
}

Status aux_head_create(AuxHead **out, const AuxSpec *spec, ParamStore *ps, const char *prefix, ErrorMsg *err) {
    *out = NULL;
    Status st = validate(spec, ps, prefix, err);
    if (st) return st;
    AuxHead *h = calloc(1, sizeof *h);
    CHECK(h, "out of memory building an aux head");
    h->spec = *spec;
    snprintf(h->prefix, sizeof h->prefix, "%s", prefix ? prefix : "");
    switch (spec->kind) {
    case AUX_GREEDY: build_greedy(h, ps); break;
    case AUX_DGL: build_dgl(h, ps); break;
    case AUX_DGL_ORIG: build_dgl_orig(h, ps); break;
    case AUX_INFOPRO_1C2F: build_infopro(h, ps, 0); break;
    case AUX_INFOPRO_2C2F: build_infopro(h, ps, 1); break;
    case AUX_DECODER: build_decoder(h, ps); break;
    }
    *out = h;
    return LOCUS_OK;
}

void aux_head_init_weights(const AuxHead *h, ParamStore *ps, Rng *rng) {
    /* in sequence order, so the draws follow the registration order */
    for (int i = 0; i < h->n_seq; i++) {
        const Layer *l = h->seq[i];
        for (int k = 0; k < h->n_conv; k++)
            if (l == &h->conv[k].base) conv2d_init_weights(&h->conv[k], ps, rng);
        if (l == &h->resize_conv.base) conv2d_init_weights(&h->resize_conv.conv, ps, rng);
        for (int k = 0; k < h->n_bn; k++)
            if (l == &h->bn[k].base) batchnorm_reset(&h->bn[k], ps);
        for (int k = 0; k < h->n_fc; k++)
            if (l == &h->fc[k].base) linear_init_weights(&h->fc[k], ps, rng);
    }
}

Tensor *aux_head_forward(const AuxHead *h, Tape *t, Tensor *x) {
    if (!tape_ok(t)) return NULL;
    const AuxSpec *s = &h->spec;
    if (!x || x->shape.ndim != 4 || x->shape.d[1] != s->c || x->shape.d[2] != s->h || x->shape.d[3] != s->w) {
        char buf[64] = "(none)";
        if (x) shape_format(&x->shape, buf, sizeof buf);
        t->status = status_fail(&t->err, LOCUS_ERR_ARG,
                                "aux head %s '%s' expects N x %d x %d x %d, found %s\nhint: build the head from "
                                "the output size of the unit it reads",
                                aux_kind_name(s->kind), h->prefix, s->c, s->h, s->w, buf);
        return NULL;
    }
    for (int i = 0; i < h->n_seq; i++) x = tape_call1(t, h->seq[i], x);
    return x;
}

void aux_head_free(AuxHead *h) { free(h); }
