/* merge.h — layers that join several tensors: elementwise Add (residual connections) and Concat
 * (PyTorch torch.cat). Both take 2 to 4 inputs, have no parameters, no cache and no scratch.
 * An input may appear more than once (add(x, x)): backward accumulates once per appearance. */
#ifndef LOCUS_LAYERS_MERGE_H
#define LOCUS_LAYERS_MERGE_H

#include "locus/layer.h"

typedef struct Add {
    Layer base;
    int relu; /* add_relu: max(sum, 0) fused in */
} Add;

/* out = in[0] + in[1] + ...; all inputs have the same shape. */
void add_init(Add *l, const char *name);
/* "add_relu": out = max(in[0] + in[1] + ..., 0), bit for bit add followed by relu (the residual join of a
 * ResNet block) with one activation tensor and one pass over memory fewer. */
void add_relu_init(Add *l, const char *name);

typedef struct Concat {
    Layer base;
    int axis; /* may be negative: counted from the last dim, as in PyTorch */
} Concat;

/* out = cat(in, axis); all other dims equal. */
void concat_init(Concat *l, const char *name, int axis);

#endif
