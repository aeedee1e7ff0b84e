/* scaled_pair.h — MAN++'s combination of its two auxiliary branches (spec local-learning.md §3.4):
 *   y = s * a + (2 - s) * b
 * with one learnable scalar s per layer ("<name>.scale", init 1, so it starts as MAN's plain sum a + b).
 * Inputs a (the learnable branch) and b (the EMA branch) have the same shape. */
#ifndef LOCUS_LAYERS_SCALED_PAIR_H
#define LOCUS_LAYERS_SCALED_PAIR_H

#include "locus/layer.h"

typedef struct ScaledPair {
    Layer base;
    int scale; /* parameter handle, shape (1) */
} ScaledPair;

void scaled_pair_init(ScaledPair *l, ParamStore *ps, const char *name);
/* s = 1 */
void scaled_pair_reset(const ScaledPair *l, ParamStore *ps);

#endif
