/* registry.h — names of all shipped layer types (for the gradient-check coverage test). */
#ifndef LOCUS_LAYERS_REGISTRY_H
#define LOCUS_LAYERS_REGISTRY_H

const char *const *layer_registry(int *count);

#endif
