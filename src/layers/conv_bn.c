/* conv_bn.c — conv2d_bn, conv2d_bn_relu, conv2d_bn_add_relu: conv + BN (+ residual + ReLU) for inference,
 * BN folded into the weights (see conv_bn.h).
 *
 * Scratch: the conv kernels' own (conv_direct_scratch), then W' (Cout x Cin k k) and b' (Cout), each rounded up
 * to 16 floats. The fold computes a[c] in double, as batchnorm.c does, and b'[c] in double from it. */
#include "layers/conv_bn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers/conv_direct.h"

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

static Status cbn_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const ConvBn *f = (const ConvBn *)l;
    char a[64], b[64];
    if (n_in != 1 + f->residual)
        return status_fail(err, LOCUS_ERR_ARG, "%s takes %d input(s), got %d", l->ops->type, 1 + f->residual, n_in);
    Status st = f->conv->base.ops->out_shape(&f->conv->base, in, 1, out, err);
    if (st) return st;
    if (f->residual && !shape_equal(&in[1]->shape, out))
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s: the residual is %s, the convolution gives %s\nhint: the shortcut must have the "
                           "block's output shape",
                           l->ops->type, shape_format(&in[1]->shape, a, sizeof a), shape_format(out, b, sizeof b));
    return LOCUS_OK;
}

static size_t cbn_fold_floats(const Conv2d *c) {
    return r16((size_t)c->cout * c->cin * c->k * c->k) + r16((size_t)c->cout);
}

static size_t cbn_scratch(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)n_in;
    const Conv2d *c = ((const ConvBn *)l)->conv;
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4 || s->d[2] + 2 * c->pad < c->k || s->d[3] + 2 * c->pad < c->k)
        return 0; /* out_shape reports the error */
    return conv_direct_scratch(c, s->d[0], s->d[2], s->d[3], threads) + cbn_fold_floats(c) * sizeof(float);
}

/* in[0]: N x Cin x H x W; in[1] (conv2d_bn_add_relu): N x Cout x Ho x Wo; out: N x Cout x Ho x Wo. No cache. */
static void cbn_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const ConvBn *f = (const ConvBn *)l;
    const Conv2d *c = f->conv;
    const BatchNorm *b = f->bn;
    CHECK(!ctx->training, "%s (%s) is an inference layer: BN with batch statistics cannot be folded", l->name,
          l->ops->type);
    const Shape *s = &in[0]->shape;
    const size_t conv_bytes = conv_direct_scratch(c, s->d[0], s->d[2], s->d[3], ctx->threads);
    CHECK(ctx->scratch_bytes >= conv_bytes + cbn_fold_floats(c) * sizeof(float), "%s: scratch too small", l->name);
    const size_t KK = (size_t)c->cin * c->k * c->k;
    float *Wf = (float *)(void *)((char *)ctx->scratch + conv_bytes), *bf = Wf + r16((size_t)c->cout * KK);
    const float *W = params_value(ctx->params, c->w), *cb = c->b >= 0 ? params_value(ctx->params, c->b) : NULL;
    const float *gamma = params_value(ctx->params, b->weight), *beta = params_value(ctx->params, b->bias);
    const float *rm = params_value(ctx->params, b->running_mean), *rv = params_value(ctx->params, b->running_var);
    for (int o = 0; o < c->cout; o++) {
        const double a = gamma[o] / sqrt((double)rv[o] + b->eps);
        const float af = (float)a;
        for (size_t j = 0; j < KK; j++) Wf[(size_t)o * KK + j] = W[(size_t)o * KK + j] * af;
        bf[o] = (float)((double)beta[o] + ((cb ? (double)cb[o] : 0.0) - (double)rm[o]) * a);
    }
    StepCtx sub = *ctx;
    sub.scratch_bytes = conv_bytes;
    conv_direct_forward_ep(c, &sub, in[0], out, Wf, bf, f->residual ? in[1] : NULL, f->residual || b->relu);
}

static const LayerOps conv_bn_ops = {
    .type = "conv2d_bn", .out_shape = cbn_shape, .scratch_bytes = cbn_scratch, .forward = cbn_forward};
static const LayerOps conv_bn_relu_ops = {
    .type = "conv2d_bn_relu", .out_shape = cbn_shape, .scratch_bytes = cbn_scratch, .forward = cbn_forward};
static const LayerOps conv_bn_add_relu_ops = {
    .type = "conv2d_bn_add_relu", .out_shape = cbn_shape, .scratch_bytes = cbn_scratch, .forward = cbn_forward};

void conv_bn_init(ConvBn *l, const char *name, const Conv2d *conv, const BatchNorm *bn) {
    CHECK(bn->c == conv->cout && bn->is2d && !bn->residual, "%s: BN over %d channels (residual %d) after a conv with %d",
          name, bn->c, bn->residual, conv->cout);
    memset(l, 0, sizeof *l);
    layer_set_name(&l->base, bn->relu ? &conv_bn_relu_ops : &conv_bn_ops, name);
    l->conv = conv, l->bn = bn;
}

void conv_bn_add_relu_init(ConvBn *l, const char *name, const Conv2d *conv, const BatchNorm *bn) {
    /* bn: a plain batchnorm2d, or the batchnorm2d_add_relu this layer replaces at inference */
    CHECK(bn->c == conv->cout && bn->is2d && (!bn->relu || bn->residual),
          "%s: BN over %d channels (ReLU %d) after a conv with %d", name, bn->c, bn->relu, conv->cout);
    memset(l, 0, sizeof *l);
    layer_set_name(&l->base, &conv_bn_add_relu_ops, name);
    l->conv = conv, l->bn = bn;
    l->residual = 1;
}

const Conv2d *conv_bn_conv(const Layer *l) {
    if (l->ops == &conv_bn_ops || l->ops == &conv_bn_relu_ops || l->ops == &conv_bn_add_relu_ops)
        return ((const ConvBn *)l)->conv;
    return NULL;
}
