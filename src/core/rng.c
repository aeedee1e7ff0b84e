/* rng.c — the non-inline part of rng.h. */
#include "locus/rng.h"

#include <math.h>

float rng_normal(Rng *r) {
    /* Box-Muller; u1 in (0, 1] so the log is finite */
    double u1 = ((double)(rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
