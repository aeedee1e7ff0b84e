/* conv_bn.h — inference fusions of a convolution with the batch norm after it (and a ResNet block's
 * residual join + ReLU): one layer, one pass over memory, instead of two or three.
 *
 * In evaluation mode BN is a per-channel affine map with the running statistics,
 *   bn(y)[c] = (y[c] - mean[c]) a[c] + beta[c],   a[c] = gamma[c] / sqrt(var[c] + eps),
 * so conv then BN is one convolution with W'[c] = a[c] W[c] and bias b'[c] = beta[c] - mean[c] a[c]
 * (+ a[c] b[c] when the conv has a bias). The forward folds W' and b' into scratch on each call (Cout x Cin k k
 * multiplies: nothing next to the convolution) and runs locus's conv kernels with b', the residual and the
 * ReLU applied in the product's epilogue (rows.h: rows_gemm_ep), while each tile is in registers.
 *   conv2d_bn           y = bn(conv(x))
 *   conv2d_bn_relu      y = relu(bn(conv(x)))           (the BN is a batchnorm2d_relu)
 *   conv2d_bn_add_relu  y = relu(bn(conv(x)) + r)       (two inputs: x, and r of y's shape)
 * The results equal the unfused layers' to float rounding (the fold rounds W' once), not bit for bit.
 * These layers are for inference only: forward CHECKs ctx->training == 0, and they have no backward, so a
 * model uses them only on a tape that does not record (resnet.c: eval forwards that nobody differentiates).
 * They always run locus's kernels (conv_direct.h), whatever LOCUS_CONV says. They hold pointers to the
 * conv and BN layers, whose parameters they read: no parameters of their own. */
#ifndef LOCUS_LAYERS_CONV_BN_H
#define LOCUS_LAYERS_CONV_BN_H

#include "layers/conv.h"
#include "layers/norm.h"

typedef struct ConvBn {
    Layer base;
    const Conv2d *conv;
    const BatchNorm *bn; /* a batchnorm2d or batchnorm2d_relu over conv's Cout channels */
    int residual;        /* conv2d_bn_add_relu: a second input added before the ReLU */
} ConvBn;

/* conv2d_bn, or conv2d_bn_relu when bn has the ReLU fused in. CHECKs bn->c == conv->cout. */
void conv_bn_init(ConvBn *l, const char *name, const Conv2d *conv, const BatchNorm *bn);
/* conv2d_bn_add_relu: relu(bn(conv(x)) + r). CHECKs that bn has no ReLU of its own and bn->c == conv->cout. */
void conv_bn_add_relu_init(ConvBn *l, const char *name, const Conv2d *conv, const BatchNorm *bn);
/* The conv of a conv2d_bn* layer, NULL for any other layer (the benchmark's FLOP count and profile rows). */
const Conv2d *conv_bn_conv(const Layer *l);

#endif
