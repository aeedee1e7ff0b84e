/* layernorm.h — LayerNorm over the last dimension (PyTorch nn.LayerNorm(d, eps) semantics).
 *
 * Input (..., D) with D = l->d, output the same shape:
 *   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps), var biased (divide by D).
 * Parameters: "<name>.weight" (D) and "<name>.bias" (D); layernorm_reset sets them to 1 and 0.
 * Cache (training): mean and rstd per row, 2 floats per row (rows = numel / D). No scratch. */
#ifndef LOCUS_LAYERS_LAYERNORM_H
#define LOCUS_LAYERS_LAYERNORM_H

#include "locus/layer.h"
#include "locus/params.h"

typedef struct LayerNorm {
    Layer base;
    int d;
    float eps;
    int weight, bias; /* parameter handles */
} LayerNorm;

/* Registers "<name>.weight" and "<name>.bias" (shape D). CHECKs d >= 1, eps > 0. */
void layernorm_init(LayerNorm *l, ParamStore *ps, const char *name, int d, float eps);
/* weight = 1, bias = 0 (PyTorch's default). ps must be finalized. */
void layernorm_reset(const LayerNorm *l, ParamStore *ps);

#endif
