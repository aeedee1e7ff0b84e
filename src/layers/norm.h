/* norm.h — batch normalisation (PyTorch nn.BatchNorm2d / nn.BatchNorm1d semantics, affine, tracked stats).
 *
 * batchnorm2d: input N x C x H x W, statistics per channel over N*H*W values.
 * batchnorm1d: input N x C, statistics per channel over the N values.
 * Training: normalise with the batch mean and biased variance; update
 *   running_mean = (1 - momentum) running_mean + momentum mean,
 *   running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased, M values).
 * Eval (ctx->training == 0): normalise with the running statistics.
 * Cache while recording: 2C + 1 floats (the mean and 1/std the forward used, and whether they were batch
 * statistics), so a BN run in eval mode on a recording tape (frozen BN) also has a correct backward.
 * M = 1 value per channel in training (PyTorch raises an error) gives y = beta and leaves the running
 * variance decaying towards 0; callers should not train BN on a batch of one.
 * Parameters: "<name>.weight" (gamma), "<name>.bias" (beta) trainable; "<name>.running_mean",
 * "<name>.running_var" buffers. PyTorch's num_batches_tracked is not stored (it is not used with a
 * fixed momentum). */
#ifndef LOCUS_LAYERS_NORM_H
#define LOCUS_LAYERS_NORM_H

#include "locus/layer.h"
#include "locus/params.h"

typedef struct BatchNorm {
    Layer base;
    int c;
    int is2d;
    float momentum, eps; /* 0.1 and 1e-5, as PyTorch */
    int weight, bias, running_mean, running_var; /* parameter handles */
    int relu;     /* batchnorm2d_relu, batchnorm2d_add_relu: max(y, 0) fused in */
    int residual; /* batchnorm2d_add_relu: a second input added before the ReLU */
} BatchNorm;

void batchnorm2d_init(BatchNorm *l, ParamStore *ps, const char *name, int c);
/* "batchnorm2d_relu": BN then ReLU as one layer (same parameters and names as batchnorm2d; the result and
 * the gradients are bit for bit those of batchnorm2d followed by relu, with one activation tensor less). */
void batchnorm2d_relu_init(BatchNorm *l, ParamStore *ps, const char *name, int c);
/* "batchnorm2d_add_relu": inputs (x, r), output ReLU(BN(x) + r) — a residual block's last BN, join and ReLU
 * as one layer; bit for bit batchnorm2d followed by add_relu, without storing BN's output. */
void batchnorm2d_add_relu_init(BatchNorm *l, ParamStore *ps, const char *name, int c);
void batchnorm1d_init(BatchNorm *l, ParamStore *ps, const char *name, int c);
/* gamma = 1, beta = 0, running_mean = 0, running_var = 1 (PyTorch's initial state). ps must be finalized. */
void batchnorm_reset(const BatchNorm *l, ParamStore *ps);

#endif
