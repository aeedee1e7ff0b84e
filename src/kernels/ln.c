/* ln.c — the portable C path of ln.h and the instruction-set dispatch. */
#include "kernels/ln.h"

#define FN(name) name##_generic
#include "kernels/ln_body.h"
#undef FN

void ln_rows_forward(KernelIsa isa, const float *x, float *y, const float *w, const float *b, size_t rows, int d,
                     float eps, float *mean, float *rstd) {
    switch (isa) {
    case KERNEL_ISA_AVX512: ln_rows_forward_avx512(x, y, w, b, rows, d, eps, mean, rstd); break;
    case KERNEL_ISA_AVX2: ln_rows_forward_avx2(x, y, w, b, rows, d, eps, mean, rstd); break;
    default: ln_rows_forward_generic(x, y, w, b, rows, d, eps, mean, rstd); break;
    }
}

void ln_rows_backward(KernelIsa isa, const float *x, const float *dy, const float *w, const float *mean,
                      const float *rstd, size_t rows, int d, float *dx) {
    switch (isa) {
    case KERNEL_ISA_AVX512: ln_rows_backward_avx512(x, dy, w, mean, rstd, rows, d, dx); break;
    case KERNEL_ISA_AVX2: ln_rows_backward_avx2(x, dy, w, mean, rstd, rows, d, dx); break;
    default: ln_rows_backward_generic(x, dy, w, mean, rstd, rows, d, dx); break;
    }
}

void ln_cols_backward(KernelIsa isa, const float *x, const float *dy, const float *mean, const float *rstd,
                      size_t rows, int d, int i0, int i1, float *dw, float *db) {
    switch (isa) {
    case KERNEL_ISA_AVX512: ln_cols_backward_avx512(x, dy, mean, rstd, rows, d, i0, i1, dw, db); break;
    case KERNEL_ISA_AVX2: ln_cols_backward_avx2(x, dy, mean, rstd, rows, d, i0, i1, dw, db); break;
    default: ln_cols_backward_generic(x, dy, mean, rstd, rows, d, i0, i1, dw, db); break;
    }
}
