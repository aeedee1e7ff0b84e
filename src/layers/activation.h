/* activation.h — elementwise activations: ReLU, GELU (exact, erf form), sigmoid. No parameters. */
#ifndef LOCUS_LAYERS_ACTIVATION_H
#define LOCUS_LAYERS_ACTIVATION_H

#include "locus/layer.h"

typedef struct Relu {
    Layer base;
} Relu;

void relu_init(Relu *l, const char *name);

/* GELU, exact erf form (PyTorch nn.GELU()): y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). Any shape. */
typedef struct Gelu {
    Layer base;
} Gelu;

void gelu_init(Gelu *l, const char *name);

#endif
