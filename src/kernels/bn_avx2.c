/* bn_avx2.c — the batch-norm loops (bn_body.h) compiled for AVX2. Reached only when cpuid reports the
 * features (isa.c). */
#include "kernels/bn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC target("avx2")
#endif
#define FN(name) name##_avx2
#include "kernels/bn_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void bn_channel_stats_avx2(const float *x, int n, size_t stride, int S, double *mean, double *sq) {
    bn_channel_stats_generic(x, n, stride, S, mean, sq);
}
void bn_channel_norm_avx2(const float *x, const float *r, float *y, int n, size_t stride, int S, float mean, float a,
                          float b, int relu) {
    bn_channel_norm_generic(x, r, y, n, stride, S, mean, a, b, relu);
}
void bn_channel_dots_avx2(const float *dy, const float *y, const float *x, int n, size_t stride, int S, float mean,
                          float invstd, double *sdy, double *sdyx, float *dr, int dr_add) {
    bn_channel_dots_generic(dy, y, x, n, stride, S, mean, invstd, sdy, sdyx, dr, dr_add);
}
void bn_channel_dx_avx2(const float *x, const float *dy, const float *y, float *dx, int n, size_t stride, int S,
                        float mean, float invstd, float k, float mdy, float mdyx, int add) {
    bn_channel_dx_generic(x, dy, y, dx, n, stride, S, mean, invstd, k, mdy, mdyx, add);
}
#endif
