/* bn.h — the per-channel loops of batch normalisation (src/layers/batchnorm.c), vectorised per instruction set.
 *
 * A channel of an N x C x S tensor (S = H*W) is n strips of S contiguous floats, strip i at base + i*stride
 * (stride = C*S; base = the tensor + c*S). Every kernel walks one channel strip by strip and software-
 * prefetches the strip BN_PREFETCH floats ahead: the strips are short (64 floats in a CIFAR ResNet's last
 * stage) and C*S apart, which the hardware prefetchers do not follow, and without it these loops waited on
 * memory (the forward's statistics pass ran at ~13 GB/s where one core streams ~30).
 * Numerics (the same on every path, bit for bit: plain adds and multiplies, no FMA, fixed order):
 *  - strip sums in 16 float lanes (each lane its own chain, so the loops vectorise without -ffast-math),
 *    lanes added in a fixed order;
 *  - statistics: each strip's mean and its sum of squared deviations from that mean (two reads of a strip
 *    in L1), merged across strips in double by Chan et al.'s pairwise update (as exact as two passes over
 *    the channel: a large mean does not cancel the variance);
 *  - the backward's sums in float lanes per strip, strip totals added in double.
 * g below is the gradient reaching the normalisation: dy, or where y (the output of a fused ReLU) is given,
 * dy where y > 0 and 0 elsewhere. */
#ifndef LOCUS_KERNELS_BN_H
#define LOCUS_KERNELS_BN_H

#include <stddef.h>

#include "kernels/isa.h"

/* Prefetch distance in floats (per stream), and how many strips of S that is (0: no prefetch, for S < 16). */
#define BN_PREFETCH 1024
static inline int bn_prefetch_ahead(int S) { return S < 16 ? 0 : S >= BN_PREFETCH ? 1 : BN_PREFETCH / S; }

/* *mean and *sq = sum of squared deviations of the channel's n*S values. */
void bn_channel_stats(KernelIsa isa, const float *x, int n, size_t stride, int S, double *mean, double *sq);
/* y = (x - mean) * a + b, then + r (when r is not NULL) and max(., 0) when relu (r implies relu); NaN
 * propagates through the clamp. */
void bn_channel_norm(KernelIsa isa, const float *x, const float *r, float *y, int n, size_t stride, int S,
                     float mean, float a, float b, int relu);
/* *sdy = sum(g), *sdyx = sum(g (x - mean) invstd) (y: NULL without a fused ReLU). dr (or NULL): also stores
 * g there (dr_add 0) or adds it (dr_add 1), each strip while it is in L1 — a fused residual's gradient. */
void bn_channel_dots(KernelIsa isa, const float *dy, const float *y, const float *x, int n, size_t stride, int S,
                     float mean, float invstd, double *sdy, double *sdyx, float *dr, int dr_add);
/* dx = k (g - mdy - (x - mean) invstd mdyx), stored (add 0) or added (add 1). */
void bn_channel_dx(KernelIsa isa, const float *x, const float *dy, const float *y, float *dx, int n, size_t stride,
                   int S, float mean, float invstd, float k, float mdy, float mdyx, int add);

#define BN_KERNEL_DECLS(sfx)                                                                                           \
    void bn_channel_stats_##sfx(const float *x, int n, size_t stride, int S, double *mean, double *sq);              \
    void bn_channel_norm_##sfx(const float *x, const float *r, float *y, int n, size_t stride, int S, float mean,     \
                               float a, float b, int relu);                                                            \
    void bn_channel_dots_##sfx(const float *dy, const float *y, const float *x, int n, size_t stride, int S,          \
                               float mean, float invstd, double *sdy, double *sdyx, float *dr, int dr_add);           \
    void bn_channel_dx_##sfx(const float *x, const float *dy, const float *y, float *dx, int n, size_t stride, int S, \
                             float mean, float invstd, float k, float mdy, float mdyx, int add);
BN_KERNEL_DECLS(generic)
BN_KERNEL_DECLS(avx2)
BN_KERNEL_DECLS(avx512)
#undef BN_KERNEL_DECLS

#endif
