/* sigmoid_bce.c — mean binary cross-entropy on logits (PyTorch nn.BCEWithLogitsLoss()):
 *   out = (1 / M) sum_i [max(x_i, 0) - x_i t_i + log(1 + exp(-|x_i|))],  M = numel,
 * the stable form of -t log s(x) - (1 - t) log(1 - s(x)) with s the sigmoid.
 * Gradient: dx_i += dout (s(x_i) - t_i) / M; the targets get none.
 * Shapes: in[0] logits (any shape), in[1] targets (same shape, values in [0, 1]), out [1]. No cache
 * (backward recomputes s(x) from the input). Scratch: one double per fixed chunk of elements; chunk sums
 * are added in chunk order, so the loss does not depend on the thread count. */
#include <math.h>
#include <stddef.h>

#include "layers/loss.h"

#define BCE_CHUNK 4096

static Status bce_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    (void)l;
    if (n_in != 2)
        return status_fail(err, LOCUS_ERR_ARG, "sigmoid_bce takes 2 inputs (logits, targets), got %d", n_in);
    char a[64], b[64];
    if (!shape_equal(&in[0]->shape, &in[1]->shape))
        return status_fail(err, LOCUS_ERR_ARG, "sigmoid_bce: logits %s need targets of the same shape, found %s",
                           shape_format(&in[0]->shape, a, sizeof a), shape_format(&in[1]->shape, b, sizeof b));
    if (tensor_numel(in[0]) == 0)
        return status_fail(err, LOCUS_ERR_ARG, "sigmoid_bce: empty logits %s",
                           shape_format(&in[0]->shape, a, sizeof a));
    *out = shape1(1);
    return LOCUS_OK;
}

static size_t bce_chunks(const Tensor *x) { return (tensor_numel(x) + BCE_CHUNK - 1) / BCE_CHUNK; }

static size_t bce_scratch_bytes(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)l, (void)n_in, (void)threads;
    return bce_chunks(in[0]) * sizeof(double);
}

static void bce_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in, (void)cache;
    const float *x = in[0]->data, *t = in[1]->data;
    const size_t M = tensor_numel(in[0]);
    const ptrdiff_t chunks = (ptrdiff_t)bce_chunks(in[0]);
    double *part = (double *)ctx->scratch;
    CHECK(ctx->scratch_bytes >= (size_t)chunks * sizeof(double), "%s: scratch too small", l->name);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (chunks > 4)
    for (ptrdiff_t c = 0; c < chunks; c++) {
        size_t end = (size_t)(c + 1) * BCE_CHUNK < M ? (size_t)(c + 1) * BCE_CHUNK : M;
        double s = 0.0;
        for (size_t i = (size_t)c * BCE_CHUNK; i < end; i++) {
            double v = x[i];
            s += (v > 0.0 ? v : 0.0) - v * t[i] + log1p(exp(-fabs(v)));
        }
        part[c] = s;
    }
    double total = 0.0;
    for (ptrdiff_t c = 0; c < chunks; c++) total += part[c];
    out->data[0] = (float)(total / (double)M);
}

static void bce_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                         const void *cache) {
    (void)l, (void)n_in, (void)cache;
    float *dx = in[0]->grad;
    if (!dx) return;
    const float *x = in[0]->data, *t = in[1]->data;
    const ptrdiff_t M = (ptrdiff_t)tensor_numel(in[0]);
    const float g = out->grad[0] / (float)M;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (M > 16384)
    for (ptrdiff_t i = 0; i < M; i++) {
        float v = x[i], s;
        if (v >= 0.0f) {
            s = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            s = e / (1.0f + e);
        }
        dx[i] += g * (s - t[i]);
    }
}

static const LayerOps bce_ops = {.type = "sigmoid_bce",
                                 .out_shape = bce_shape,
                                 .scratch_bytes = bce_scratch_bytes,
                                 .forward = bce_forward,
                                 .backward = bce_backward};

void sigmoid_bce_init(SigmoidBCE *l, const char *name) { layer_set_name(&l->base, &bce_ops, name); }
