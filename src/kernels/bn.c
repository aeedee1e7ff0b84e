/* bn.c — the portable C path of bn.h and the instruction-set dispatch. */
#include "kernels/bn.h"

#define FN(name) name##_generic
#include "kernels/bn_body.h"
#undef FN

void bn_channel_stats(KernelIsa isa, const float *x, int n, size_t stride, int S, double *mean, double *sq) {
    switch (isa) {
    case KERNEL_ISA_AVX512: bn_channel_stats_avx512(x, n, stride, S, mean, sq); break;
    case KERNEL_ISA_AVX2: bn_channel_stats_avx2(x, n, stride, S, mean, sq); break;
    default: bn_channel_stats_generic(x, n, stride, S, mean, sq); break;
    }
}

void bn_channel_norm(KernelIsa isa, const float *x, const float *r, float *y, int n, size_t stride, int S,
                     float mean, float a, float b, int relu) {
    switch (isa) {
    case KERNEL_ISA_AVX512: bn_channel_norm_avx512(x, r, y, n, stride, S, mean, a, b, relu); break;
    case KERNEL_ISA_AVX2: bn_channel_norm_avx2(x, r, y, n, stride, S, mean, a, b, relu); break;
    default: bn_channel_norm_generic(x, r, y, n, stride, S, mean, a, b, relu); break;
    }
}

void bn_channel_dots(KernelIsa isa, const float *dy, const float *y, const float *x, int n, size_t stride, int S,
                     float mean, float invstd, double *sdy, double *sdyx, float *dr, int dr_add) {
    switch (isa) {
    case KERNEL_ISA_AVX512: bn_channel_dots_avx512(dy, y, x, n, stride, S, mean, invstd, sdy, sdyx, dr, dr_add); break;
    case KERNEL_ISA_AVX2: bn_channel_dots_avx2(dy, y, x, n, stride, S, mean, invstd, sdy, sdyx, dr, dr_add); break;
    default: bn_channel_dots_generic(dy, y, x, n, stride, S, mean, invstd, sdy, sdyx, dr, dr_add); break;
    }
}

void bn_channel_dx(KernelIsa isa, const float *x, const float *dy, const float *y, float *dx, int n, size_t stride,
                   int S, float mean, float invstd, float k, float mdy, float mdyx, int add) {
    switch (isa) {
    case KERNEL_ISA_AVX512: bn_channel_dx_avx512(x, dy, y, dx, n, stride, S, mean, invstd, k, mdy, mdyx, add); break;
    case KERNEL_ISA_AVX2: bn_channel_dx_avx2(x, dy, y, dx, n, stride, S, mean, invstd, k, mdy, mdyx, add); break;
    default: bn_channel_dx_generic(x, dy, y, dx, n, stride, S, mean, invstd, k, mdy, mdyx, add); break;
    }
}
