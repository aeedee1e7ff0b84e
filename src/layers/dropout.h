/* dropout.h — inverted dropout (PyTorch nn.Dropout): in training each element is kept with probability
 * 1 - p and scaled by 1 / (1 - p), else zeroed; in eval mode, and for p = 0, the layer is the identity.
 * The mask is a pure function of (ctx->seed ^ salt, ctx->step, element index) through rng_hash, so it
 * does not depend on the thread count, forward and backward agree without caching it, and two dropout
 * layers with different names draw different masks. Backward must run with the same ctx->step as forward.
 * (The mask is not PyTorch's: PyTorch's generator cannot be reproduced; only the distribution matches.) */
#ifndef LOCUS_LAYERS_DROPOUT_H
#define LOCUS_LAYERS_DROPOUT_H

#include <stdint.h>

#include "locus/layer.h"

typedef struct Dropout {
    Layer base;
    float p;       /* drop probability in [0, 1] (validated in out_shape) */
    uint64_t salt; /* hash of the instance name */
} Dropout;

void dropout_init(Dropout *l, const char *name, float p);

#endif
