/* gelu.c — the portable C path of gelu.h and the instruction-set dispatch. */
#include "kernels/gelu.h"

#define FN(name) name##_generic
#define MADD(a, b, c) ((a) * (b) + (c))
#include "kernels/gelu_body.h"
#undef FN
#undef MADD

void exp_nonpos_rows(KernelIsa isa, float *x, size_t n) {
    switch (isa) {
    case KERNEL_ISA_AVX512: exp_nonpos_rows_avx512(x, n); break;
    case KERNEL_ISA_AVX2: exp_nonpos_rows_avx2(x, n); break;
    default: exp_nonpos_rows_generic(x, n); break;
    }
}

void softmax_row(KernelIsa isa, float *row, size_t n, float scale) {
    switch (isa) {
    case KERNEL_ISA_AVX512: softmax_row_avx512(row, n, scale); break;
    case KERNEL_ISA_AVX2: softmax_row_avx2(row, n, scale); break;
    default: softmax_row_generic(row, n, scale); break;
    }
}

void softmax_grad_row(KernelIsa isa, const float *p, float *dp, size_t n, float scale) {
    switch (isa) {
    case KERNEL_ISA_AVX512: softmax_grad_row_avx512(p, dp, n, scale); break;
    case KERNEL_ISA_AVX2: softmax_grad_row_avx2(p, dp, n, scale); break;
    default: softmax_grad_row_generic(p, dp, n, scale); break;
    }
}

void gelu_rows_forward(KernelIsa isa, const float *x, float *y, size_t n) {
    switch (isa) {
    case KERNEL_ISA_AVX512: gelu_rows_forward_avx512(x, y, n); break;
    case KERNEL_ISA_AVX2: gelu_rows_forward_avx2(x, y, n); break;
    default: gelu_rows_forward_generic(x, y, n); break;
    }
}

void gelu_rows_backward(KernelIsa isa, const float *x, const float *dy, float *dx, size_t n, int overwrite) {
    switch (isa) {
    case KERNEL_ISA_AVX512: gelu_rows_backward_avx512(x, dy, dx, n, overwrite); break;
    case KERNEL_ISA_AVX2: gelu_rows_backward_avx2(x, dy, dx, n, overwrite); break;
    default: gelu_rows_backward_generic(x, dy, dx, n, overwrite); break;
    }
}
