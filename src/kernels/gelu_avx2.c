/* gelu_avx2.c — the GELU loops (gelu_body.h) compiled for AVX2 + FMA, with fused multiply-adds. Reached only
 * when cpuid reports the features (isa.c). */
#include "kernels/gelu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#include <math.h>
#define FN(name) name##_avx2
#define MADD(a, b, c) fmaf((a), (b), (c))
#include "kernels/gelu_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void gelu_rows_forward_avx2(const float *x, float *y, size_t n) { gelu_rows_forward_generic(x, y, n); }
void exp_nonpos_rows_avx2(float *x, size_t n) { exp_nonpos_rows_generic(x, n); }
void softmax_row_avx2(float *row, size_t n, float scale) { softmax_row_generic(row, n, scale); }
void softmax_grad_row_avx2(const float *p, float *dp, size_t n, float scale) {
    softmax_grad_row_generic(p, dp, n, scale);
}
void gelu_rows_backward_avx2(const float *x, const float *dy, float *dx, size_t n, int overwrite) {
    gelu_rows_backward_generic(x, dy, dx, n, overwrite);
}
#endif
