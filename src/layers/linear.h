/* linear.h — fully connected layer, y = x W^T + b (PyTorch nn.Linear semantics).
 *
 * Parameters: "<name>.weight" out x in, "<name>.bias" out (optional). Input (..., in) of rank 2 to 4: the
 * leading dims are flattened into rows (N x D, or N x T x D tokens), output (..., out). No cache; scratch
 * for the kernels (kernels/dense.h: W transposed and per-thread packed chunks). */
#ifndef LOCUS_LAYERS_LINEAR_H
#define LOCUS_LAYERS_LINEAR_H

#include "locus/layer.h"
#include "locus/params.h"
#include "locus/rng.h"

typedef struct Linear {
    Layer base;
    int in, out;
    int w, b; /* parameter handles; b = -1 without bias */
} Linear;

void linear_init(Linear *l, ParamStore *ps, const char *name, int in, int out, int bias);
/* PyTorch's default: weight and bias ~ U(-1/sqrt(in), +1/sqrt(in)). ps must be finalized. */
void linear_init_weights(const Linear *l, ParamStore *ps, Rng *rng);

#endif
