/* conv_planes_avx512.c — conv_planes_fill compiled for AVX-512 (see conv_planes_fill.h): the plane copies
 * vectorised with its registers. Reached only when cpuid reports the features (isa.c). */
#include "kernels/conv_planes.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#define FN(name) name##_avx512
#include "kernels/conv_planes_fill.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: isa.c never selects this path; this only satisfies the linker */
void conv_planes_fill_avx512(const float *x, int C, int H, int W, int k, int p, float *planes) {
    conv_planes_fill_generic(x, C, H, W, k, p, planes);
}
#endif
