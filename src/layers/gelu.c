/* gelu.c — y = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU of PyTorch's default nn.GELU().
 * dy/dx = Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi).
 * The arithmetic is src/kernels/gelu.h (vectorised erf and exp, < 1 ulp each); this file splits the tensor
 * into one contiguous chunk per thread.
 * No cache: backward recomputes from the input, which stays alive until backward anyway.
 * Shapes: any; in[0] and out have the same shape. */
#include <omp.h>
#include <stddef.h>

#include "kernels/gelu.h"
#include "layers/activation.h"

/* [*lo, *hi) of n elements for thread t of T: contiguous chunks, whole vectors where possible. */
static void chunk(size_t n, int t, int T, size_t *lo, size_t *hi) {
    size_t per = (n / (size_t)T + 15) & ~(size_t)15;
    *lo = per * (size_t)t < n ? per * (size_t)t : n;
    *hi = *lo + per < n ? *lo + per : n;
}

static Status gelu_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "gelu takes 1 input, got %d", n_in);
    *out = in[0]->shape;
    return LOCUS_OK;
}

static void gelu_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)l, (void)n_in, (void)cache;
    const float *x = in[0]->data;
    float *y = out->data;
    const size_t n = tensor_numel(out);
    const KernelIsa isa = kernel_isa();
#pragma omp parallel num_threads(ctx->threads) if (n > 16384)
    {
        size_t lo, hi;
        chunk(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        gelu_rows_forward(isa, x + lo, y + lo, hi - lo);
    }
}

static void gelu_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                          const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const int fresh = layer_grad_overwrite(in[0]); /* write a fresh gradient instead of the tape zeroing it first */
    const float *x = in[0]->data, *dy = out->grad;
    const size_t n = tensor_numel(out);
    const KernelIsa isa = kernel_isa();
#pragma omp parallel num_threads(ctx->threads) if (n > 16384)
    {
        size_t lo, hi;
        chunk(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        gelu_rows_backward(isa, x + lo, dy + lo, dx + lo, hi - lo, fresh);
    }
}

static const LayerOps gelu_ops = {
    .type = "gelu", .out_shape = gelu_shape, .forward = gelu_forward, .backward = gelu_backward, .grad_overwrite = 1};

void gelu_init(Gelu *l, const char *name) { layer_set_name(&l->base, &gelu_ops, name); }
