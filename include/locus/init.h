/* init.h — weight initialisers shared by all models (spec local-learning.md §0.1). */
#ifndef LOCUS_INIT_H
#define LOCUS_INIT_H

#include <stddef.h>

#include "locus/rng.h"

/* N(0, std^2) */
void init_normal(float *w, size_t n, float std, Rng *rng);
/* U(-bound, bound) */
void init_uniform(float *w, size_t n, float bound, Rng *rng);
/* Truncated normal on [-2 std, 2 std] (ViT convention). */
void init_trunc_normal(float *w, size_t n, float std, Rng *rng);
void init_const(float *w, size_t n, float v);

#endif
