/* ln_avx512.c — LayerNorm's loops (ln_body.h) compiled for AVX-512. Reached only when cpuid reports the features
 * (isa.c). No FMA contraction in the sums (-std=c11: none), so the results equal the portable path's. */
#include "kernels/ln.h"

#if defined(__x86_64__) && defined(__GNUC__)
#if defined(__clang__) /* clang ignores GCC's target pragma (the fuzz and sanitizer builds use clang) */
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,fma")
#endif
#define FN(name) name##_avx512
#include "kernels/ln_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* not an x86-64 GCC build: isa.c never selects this path; these only satisfy the linker */
void ln_rows_forward_avx512(const float *x, float *y, const float *w, const float *b, size_t rows, int d, float eps,
                          float *mean, float *rstd) {
    ln_rows_forward_generic(x, y, w, b, rows, d, eps, mean, rstd);
}
void ln_rows_backward_avx512(const float *x, const float *dy, const float *w, const float *mean, const float *rstd,
                           size_t rows, int d, float *dx) {
    ln_rows_backward_generic(x, dy, w, mean, rstd, rows, d, dx);
}
void ln_cols_backward_avx512(const float *x, const float *dy, const float *mean, const float *rstd, size_t rows, int d,
                           int i0, int i1, float *dw, float *db) {
    ln_cols_backward_generic(x, dy, mean, rstd, rows, d, i0, i1, dw, db);
}
#endif
