/* conv.h — 2-D convolution (PyTorch nn.Conv2d semantics: square kernel, one stride and one zero padding
 * for both spatial dims, no groups, no dilation).
 *
 * Parameters (PyTorch state_dict names): "<name>.weight" Cout x Cin x k x k and, when bias is on,
 * "<name>.bias" Cout. Input N x Cin x H x W, output N x Cout x Ho x Wo with Ho = (H + 2 pad - k) / stride + 1
 * (same for W). Scratch per thread (min(threads, N) threads): one im2col buffer, Cin k k Ho Wo floats (none
 * on the 1x1 stride-1 pad-0 path), and a private dW/db partial. No cache: backward re-reads the input. */
#ifndef LOCUS_LAYERS_CONV_H
#define LOCUS_LAYERS_CONV_H

#include "locus/layer.h"
#include "locus/params.h"
#include "locus/rng.h"

typedef struct Conv2d {
    Layer base;
    int cin, cout, k, stride, pad;
    int w, b; /* parameter handles; b = -1 without bias */
} Conv2d;

/* Registers "<name>.weight" (and "<name>.bias" when bias != 0) in ps. CHECKs cin, cout, k, stride >= 1,
 * pad >= 0. */
void conv2d_init(Conv2d *l, ParamStore *ps, const char *name, int cin, int cout, int k, int stride, int pad,
                 int bias);
/* He normal, fan-out mode (the CIFAR ResNet convention): weight ~ N(0, 2 / (k * k * Cout));
 * bias ~ U(-1/sqrt(Cin k k), +1/sqrt(Cin k k)) as PyTorch's default. ps must be finalized. */
void conv2d_init_weights(const Conv2d *l, ParamStore *ps, Rng *rng);

#endif
