/* flatten.h — N x d1 x ... x dk -> N x (d1 * ... * dk) (PyTorch nn.Flatten(), start_dim = 1).
 * Used where a head turns a pooled feature map (N x C x 2 x 2) into one vector per sample before a Linear
 * (Linear alone would act per spatial position: it flattens leading dims, not trailing ones).
 * Since tensors are contiguous NCHW, the element order is unchanged: forward copies, backward adds.
 * No parameters, no cache, no scratch. */
#ifndef LOCUS_LAYERS_FLATTEN_H
#define LOCUS_LAYERS_FLATTEN_H

#include "locus/layer.h"

typedef struct Flatten {
    Layer base;
} Flatten;

/* Input of rank 2 to 5 (rank 2 is passed through as a copy). */
void flatten_init(Flatten *l, const char *name);

#endif
