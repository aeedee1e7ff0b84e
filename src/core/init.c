/* init.c — weight initialisers (see init.h). Sequential, so results do not depend on threads. */
#include "locus/init.h"

void init_normal(float *w, size_t n, float std, Rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = std * rng_normal(rng);
}

void init_uniform(float *w, size_t n, float bound, Rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = bound * (2.0f * rng_uniform(rng) - 1.0f);
}

void init_trunc_normal(float *w, size_t n, float std, Rng *rng) {
    for (size_t i = 0; i < n; i++) {
        float v;
        do v = rng_normal(rng);
        while (v < -2.0f || v > 2.0f);
        w[i] = std * v;
    }
}

void init_const(float *w, size_t n, float v) {
    for (size_t i = 0; i < n; i++) w[i] = v;
}
