/* activation.h — elementwise activations: ReLU, GELU (exact, erf form), sigmoid. No parameters. */
#ifndef LOCUS_LAYERS_ACTIVATION_H
#define LOCUS_LAYERS_ACTIVATION_H

#include "locus/layer.h"

typedef struct Relu {
    Layer base;
} Relu;

void relu_init(Relu *l, const char *name);

#endif
