/* conv_geo.c — random convolution geometries for the kernel tests (see conv_geo.h). */
#include "conv_geo.h"

float frand(Rng *r) { return rng_uniform(r) * 2.0f - 1.0f; }

Geo conv_geo_random(Rng *rng) {
    static const int ks[] = {1, 2, 3, 5};
    Geo g;
    g.n = 1 + (int)rng_below(rng, 3), g.cin = 1 + (int)rng_below(rng, 9), g.cout = 1 + (int)rng_below(rng, 19);
    g.k = ks[rng_below(rng, 4)], g.s = 1 + (int)rng_below(rng, 3), g.p = (int)rng_below(rng, 3);
    g.h = 1 + (int)rng_below(rng, 12), g.w = 1 + (int)rng_below(rng, 19), g.bias = (int)rng_below(rng, 2);
    if (g.h + 2 * g.p < g.k) g.h = g.k;
    if (g.w + 2 * g.p < g.k) g.w = g.k;
    return g;
}
