/* conv_direct.h — conv2d forward and backward on locus's own kernels (src/kernels/rows.h), the path
 * conv2d.c takes unless LOCUS_CONV=gemm asks for im2col + OpenBLAS (kept for comparison and as a
 * reference). Same contracts as the layer's ops (layer.h); scratch layout in conv_direct.c. */
#ifndef LOCUS_LAYERS_CONV_DIRECT_H
#define LOCUS_LAYERS_CONV_DIRECT_H

#include "layers/conv.h"

/* Bytes of scratch the direct forward and backward need for input N x Cin x H x W with `threads` threads. */
size_t conv_direct_scratch(const Conv2d *c, int n, int h, int w, int threads);
void conv_direct_forward(const Conv2d *c, const StepCtx *ctx, const Tensor *x, Tensor *out);
/* The forward with weights W (Cout x Cin x k x k) and bias (Cout, or NULL) given instead of the layer's
 * parameters, then, in the product's epilogue, + res (NULL, or a tensor of out's shape) and a ReLU (relu != 0):
 * out = relu?(conv(x; W) + bias + res). The inference fusion conv2d_bn (conv_bn.h) folds BN into W and bias. */
void conv_direct_forward_ep(const Conv2d *c, const StepCtx *ctx, const Tensor *x, Tensor *out, const float *W,
                            const float *bias, const Tensor *res, int relu);
/* Honours x->grad_fresh (layer_grad_overwrite): a fresh input gradient is written, not added to. */
void conv_direct_backward(const Conv2d *c, const StepCtx *ctx, Tensor *x, const Tensor *out);

#endif
