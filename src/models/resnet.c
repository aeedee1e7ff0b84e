/* resnet.c — CIFAR ResNet-(6n+2) as a chain of units (spec local-learning.md §0.1).
 *
 *   stem ("0.0"):   conv3x3 in_c->16 (no bias) + BN + ReLU
 *   stage s=1..3:   n BasicBlocks, widths 16/32/64, first block of stages 2 and 3 has stride 2
 *   BasicBlock:     h = BN2(conv3x3(ReLU(BN1(conv3x3(x, stride))))); sc = x, or BN(conv1x1(x, stride))
 *                   when the stride or width changes (projection shortcut, "option B"); out = ReLU(h + sc)
 *   head ("head"):  global average pool + Linear(64 -> classes, bias)
 * Parameter names are PyTorch's (conv1, bn1, layer1.0.conv1, layer1.0.shortcut.0, fc, ...).
 * Init: convs N(0, sqrt(2 / (k*k*C_out))), BN gamma 1 / beta 0, Linear PyTorch default.
 * A BN directly followed by a ReLU (stem, bn1 of each block) is one batchnorm2d_relu layer (norm.h), and a
 * block's bn2, the residual join and the ReLU after it are one batchnorm2d_add_relu: the same numbers bit for
 * bit, fewer passes over memory, and the BN outputs that only the next elementwise op read are never stored
 * (a block keeps 4 activations: conv1's output, bn1's, conv2's and the block's own).
 * Inference (a forward in eval mode on a tape that does not record, so nothing will differentiate it) runs
 * each conv + BN pair as one conv2d_bn layer with BN folded into the weights, and a block's conv2 + bn2 +
 * residual join + ReLU as one conv2d_bn_add_relu (conv_bn.h): no BN or add pass over memory at all. The
 * results equal the unfused layers' to float rounding. */
#include "models/resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv.h"
#include "layers/conv_bn.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/pool.h"
#include "locus/params.h"

typedef struct BasicBlock {
    Conv2d conv1, conv2, sc_conv;
    BatchNorm bn1, bn2, sc_bn; /* bn1: + ReLU; bn2: + residual + ReLU (batchnorm2d_add_relu) */
    ConvBn fused1, fused2, sc_fused; /* inference: conv1+bn1(+ReLU), conv2+bn2+add+ReLU, sc_conv+sc_bn */
    int has_shortcut;
} BasicBlock;

typedef struct ResNet {
    int n; /* blocks per stage */
    Conv2d stem_conv;
    BatchNorm stem_bn; /* ReLU fused in */
    ConvBn stem_fused; /* inference: stem_conv + stem_bn */
    BasicBlock *blocks; /* 3n */
    GlobalAvgPool gap;
    Linear fc;
} ResNet;

int resnet_blocks_per_stage(const char *arch) {
    if (strncmp(arch, "resnet", 6) != 0) return 0;
    char *end;
    long depth = strtol(arch + 6, &end, 10);
    if (*end || depth < 8 || (depth - 2) % 6 != 0 || depth > 1202) return 0;
    return (int)((depth - 2) / 6);
}

static void block_create(BasicBlock *b, ParamStore *ps, const char *prefix, int cin, int c, int stride) {
    char name[96];
    snprintf(name, sizeof name, "%s.conv1", prefix);
    conv2d_init(&b->conv1, ps, name, cin, c, 3, stride, 1, 0);
    snprintf(name, sizeof name, "%s.bn1", prefix);
    batchnorm2d_relu_init(&b->bn1, ps, name, c);
    snprintf(name, sizeof name, "%s.conv2", prefix);
    conv2d_init(&b->conv2, ps, name, c, c, 3, 1, 1, 0);
    snprintf(name, sizeof name, "%s.bn2", prefix);
    batchnorm2d_add_relu_init(&b->bn2, ps, name, c);
    b->has_shortcut = stride != 1 || cin != c;
    if (b->has_shortcut) {
        snprintf(name, sizeof name, "%s.shortcut.0", prefix);
        conv2d_init(&b->sc_conv, ps, name, cin, c, 1, stride, 0, 0);
        snprintf(name, sizeof name, "%s.shortcut.1", prefix);
        batchnorm2d_init(&b->sc_bn, ps, name, c);
    }
    snprintf(name, sizeof name, "%s.conv1+bn1", prefix);
    conv_bn_init(&b->fused1, name, &b->conv1, &b->bn1);
    snprintf(name, sizeof name, "%s.conv2+bn2+add", prefix);
    conv_bn_add_relu_init(&b->fused2, name, &b->conv2, &b->bn2);
    if (b->has_shortcut) {
        snprintf(name, sizeof name, "%s.shortcut", prefix);
        conv_bn_init(&b->sc_fused, name, &b->sc_conv, &b->sc_bn);
    }
}

/* 1: run the inference fusions (eval-mode BN, and nothing records for a backward). */
static int fuse_for_inference(const Tape *t) { return !t->recording && !t->ctx->training; }

static Tensor *block_forward(const BasicBlock *b, Tape *t, Tensor *x) {
    if (fuse_for_inference(t)) {
        Tensor *sc = b->has_shortcut ? tape_call1(t, &b->sc_fused.base, x) : x;
        return tape_call2(t, &b->fused2.base, tape_call1(t, &b->fused1.base, x), sc);
    }
    Tensor *h = tape_call1(t, &b->conv1.base, x);
    h = tape_call1(t, &b->bn1.base, h);
    h = tape_call1(t, &b->conv2.base, h);
    Tensor *sc = x;
    if (b->has_shortcut) sc = tape_call1(t, &b->sc_bn.base, tape_call1(t, &b->sc_conv.base, x));
    return tape_call2(t, &b->bn2.base, h, sc);
}

static Tensor *resnet_unit_forward(Model *m, Tape *t, int u, Tensor *x) {
    const ResNet *r = m->impl;
    if (u == 0) {
        if (fuse_for_inference(t)) return tape_call1(t, &r->stem_fused.base, x);
        Tensor *h = tape_call1(t, &r->stem_conv.base, x);
        return tape_call1(t, &r->stem_bn.base, h);
    }
    if (u == m->n_units - 1) return tape_call1(t, &r->fc.base, tape_call1(t, &r->gap.base, x));
    return block_forward(&r->blocks[u - 1], t, x);
}

static void block_init_weights(const BasicBlock *b, ParamStore *ps, Rng *rng) {
    conv2d_init_weights(&b->conv1, ps, rng);
    batchnorm_reset(&b->bn1, ps);
    conv2d_init_weights(&b->conv2, ps, rng);
    batchnorm_reset(&b->bn2, ps);
    if (b->has_shortcut) {
        conv2d_init_weights(&b->sc_conv, ps, rng);
        batchnorm_reset(&b->sc_bn, ps);
    }
}

/* Model copy ops: a BasicBlock with unit u's input width, width and stride. */
static void *resnet_copy_create(Model *m, int u, ParamStore *ps, const char *prefix) {
    const BasicBlock *src = &((const ResNet *)m->impl)->blocks[u - 1];
    BasicBlock *b = calloc(1, sizeof *b);
    CHECK(b, "out of memory copying a block");
    block_create(b, ps, prefix, src->conv1.cin, src->conv1.cout, src->conv1.stride);
    return b;
}

static Tensor *resnet_copy_forward(const void *impl, Tape *t, Tensor *x) { return block_forward(impl, t, x); }

static void resnet_copy_init(const void *impl, ParamStore *ps, Rng *rng) { block_init_weights(impl, ps, rng); }

static void resnet_free_impl(Model *m) {
    ResNet *r = m->impl;
    if (r) free(r->blocks);
    free(r);
    m->impl = NULL;
}

Status resnet_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err) {
    int n = resnet_blocks_per_stage(spec->arch);
    if (!n)
        return status_fail(err, LOCUS_ERR_ARG, "unknown ResNet '%s'\nhint: CIFAR ResNets are resnet6n+2: %s",
                           spec->arch, "resnet8, resnet20, resnet32, resnet44, resnet56, resnet110");
    if (spec->in_h < 8 || spec->in_w < 8)
        return status_fail(err, LOCUS_ERR_ARG, "%s needs inputs of at least 8x8, got %dx%d", spec->arch,
                           spec->in_h, spec->in_w);
    ResNet *r = calloc(1, sizeof *r);
    CHECK(r, "out of memory building %s", spec->arch);
    r->n = n;
    r->blocks = calloc((size_t)(3 * n), sizeof *r->blocks);
    m->units = calloc((size_t)(3 * n + 2), sizeof *m->units);
    CHECK(r->blocks && m->units, "out of memory building %s", spec->arch);
    m->impl = r;
    m->n_units = 3 * n + 2;
    m->unit_forward = resnet_unit_forward;
    m->free_impl = resnet_free_impl;
    m->copy_create = resnet_copy_create;
    m->copy_forward = resnet_copy_forward;
    m->copy_init = resnet_copy_init;

    m->units[0].param_first = ps->count;
    conv2d_init(&r->stem_conv, ps, "conv1", spec->in_c, 16, 3, 1, 1, 0);
    batchnorm2d_relu_init(&r->stem_bn, ps, "bn1", 16);
    conv_bn_init(&r->stem_fused, "conv1+bn1", &r->stem_conv, &r->stem_bn);
    m->units[0].param_count = ps->count - m->units[0].param_first;
    int h = spec->in_h, w = spec->in_w;
    snprintf(m->units[0].name, sizeof m->units[0].name, "0.0");
    m->units[0].out_c = 16, m->units[0].out_h = h, m->units[0].out_w = w;
    int cin = 16;
    for (int s = 0; s < 3; s++) {
        int c = 16 << s;
        for (int i = 0; i < n; i++) {
            int stride = (s > 0 && i == 0) ? 2 : 1;
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, i);
            ModelUnit *un = &m->units[1 + s * n + i];
            un->param_first = ps->count;
            block_create(&r->blocks[s * n + i], ps, prefix, cin, c, stride);
            un->param_count = ps->count - un->param_first;
            if (stride == 2) h = (h + 1) / 2, w = (w + 1) / 2;
            snprintf(un->name, sizeof un->name, "%d.%d", s + 1, i);
            un->out_c = c, un->out_h = h, un->out_w = w;
            cin = c;
        }
    }
    global_avgpool_init(&r->gap, "avgpool");
    ModelUnit *head = &m->units[m->n_units - 1];
    head->param_first = ps->count;
    linear_init(&r->fc, ps, "fc", 64, spec->classes, 1);
    head->param_count = ps->count - head->param_first;
    snprintf(head->name, sizeof head->name, "head");
    head->out_c = spec->classes;
    return LOCUS_OK;
}

void resnet_init_weights(Model *m, Rng *rng) {
    ResNet *r = m->impl;
    ParamStore *ps = m->params;
    conv2d_init_weights(&r->stem_conv, ps, rng);
    batchnorm_reset(&r->stem_bn, ps);
    for (int i = 0; i < 3 * r->n; i++) block_init_weights(&r->blocks[i], ps, rng);
    linear_init_weights(&r->fc, ps, rng);
}
