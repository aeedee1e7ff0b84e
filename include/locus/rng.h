/* rng.h — seedable random numbers whose results never depend on the thread count.
 *
 * Two generators:
 *  - Rng: a sequential splitmix64 stream, for things done in a fixed order on one thread
 *    (weight init, the epoch shuffle).
 *  - rng_hash(): a counter-based generator (a pure function of seed and counters) for things done in
 *    parallel (dropout masks, per-sample augmentation): element i of step s gets the same number
 *    whichever thread computes it. */
#ifndef LOCUS_RNG_H
#define LOCUS_RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t state;
} Rng;

static inline uint64_t rng_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline void rng_seed(Rng *r, uint64_t seed) { r->state = seed; }
static inline uint64_t rng_u64(Rng *r) {
    r->state += 0x9e3779b97f4a7c15ULL;
    return rng_mix64(r->state);
}
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
static inline float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
/* Uniform integer in [0, n). */
static inline uint64_t rng_below(Rng *r, uint64_t n) { return rng_u64(r) % n; }
/* Standard normal (Box-Muller, one value per call). */
float rng_normal(Rng *r);
/* Counter-based: a 64-bit value from (seed, a, b). */
static inline uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b) {
    return rng_mix64(seed ^ rng_mix64(a + 0x9e3779b97f4a7c15ULL * (b + 1)));
}
static inline float rng_hash_uniform(uint64_t seed, uint64_t a, uint64_t b) {
    return (float)(rng_hash(seed, a, b) >> 40) * (1.0f / 16777216.0f);
}

#endif
