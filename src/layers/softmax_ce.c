/* softmax_ce.c — mean softmax cross-entropy with label smoothing (PyTorch nn.CrossEntropyLoss).
 * Per row n with label y and log-probabilities lp_k = z_k - m - log sum_j exp(z_j - m) (m = row max,
 * for stability):  loss_n = -(1 - eps) lp_y - (eps / K) sum_k lp_k;  out = (1 / N) sum_n loss_n.
 * Gradient: dz_nk += dout (p_nk - t_nk) / N with t = (1 - eps) onehot(y) + eps / K.
 * Shapes: in[0] logits N x K, in[1] labels [N] (class indices stored as floats; never differentiated),
 * out [1]. Cache (training): the softmax probabilities, N x K floats. Scratch: N doubles of row losses,
 * summed in row order so the loss does not depend on the thread count. Row work runs in double. */
#include <math.h>
#include <stddef.h>

#include "layers/loss.h"

static Status ce_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const SoftmaxCE *c = (const SoftmaxCE *)l;
    if (n_in != 2)
        return status_fail(err, LOCUS_ERR_ARG, "softmax_ce takes 2 inputs (logits, labels), got %d", n_in);
    char a[64], b[64];
    const Shape *x = &in[0]->shape, *y = &in[1]->shape;
    if (x->ndim != 2 || x->d[1] < 1)
        return status_fail(err, LOCUS_ERR_ARG, "softmax_ce expects N x K logits, found %s",
                           shape_format(x, a, sizeof a));
    if (y->ndim != 1 || y->d[0] != x->d[0])
        return status_fail(err, LOCUS_ERR_ARG, "softmax_ce: logits %s need labels [%d], found %s",
                           shape_format(x, a, sizeof a), x->d[0], shape_format(y, b, sizeof b));
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing <= 1.0f))
        return status_fail(err, LOCUS_ERR_ARG,
                           "softmax_ce: label smoothing %g is out of range\nhint: expected 0 <= eps <= 1",
                           (double)c->label_smoothing);
    *out = shape1(1);
    return LOCUS_OK;
}

static size_t ce_cache_bytes(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)l, (void)n_in;
    return training ? tensor_numel(in[0]) * sizeof(float) : 0;
}

static size_t ce_scratch_bytes(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)l, (void)n_in, (void)threads;
    return (size_t)in[0]->shape.d[0] * sizeof(double);
}

/* cache: N x K probabilities, or NULL (eval). */
static void ce_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in;
    const SoftmaxCE *c = (const SoftmaxCE *)l;
    const ptrdiff_t N = in[0]->shape.d[0];
    const int K = in[0]->shape.d[1];
    const double eps = c->label_smoothing;
    const float *z = in[0]->data, *labels = in[1]->data;
    float *prob = cache;
    double *row_loss = (double *)ctx->scratch;
    CHECK(ctx->scratch_bytes >= (size_t)N * sizeof(double), "%s: scratch too small", l->name);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (N * K > 16384)
    for (ptrdiff_t n = 0; n < N; n++) {
        const float *zn = z + n * K;
        float lab = labels[n];
        CHECK(lab >= 0.0f && lab < (float)K && lab == floorf(lab),
              "%s: label %g of row %td is not a class index in [0, %d); labels must be validated by the data "
              "loader",
              l->name, (double)lab, n, K);
        int y = (int)lab;
        float m = zn[0];
        for (int k = 1; k < K; k++)
            if (zn[k] > m) m = zn[k];
        double sum = 0.0, sum_z = 0.0;
        for (int k = 0; k < K; k++) {
            sum += exp((double)zn[k] - m);
            sum_z += zn[k];
        }
        double lse = m + log(sum);
        /* sum_k lp_k = sum_k z_k - K lse */
        row_loss[n] = -(1.0 - eps) * ((double)zn[y] - lse) - eps / K * (sum_z - K * lse);
        if (prob)
            for (int k = 0; k < K; k++) prob[n * K + k] = (float)exp((double)zn[k] - lse);
    }
    double total = 0.0;
    for (ptrdiff_t n = 0; n < N; n++) total += row_loss[n];
    out->data[0] = (float)(total / (double)N);
}

static void ce_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)n_in;
    const SoftmaxCE *c = (const SoftmaxCE *)l;
    float *dz = in[0]->grad;
    if (!dz) return;
    CHECK(cache, "%s: backward without the probability cache (forward ran in eval mode?)", l->name);
    const ptrdiff_t N = in[0]->shape.d[0];
    const int K = in[0]->shape.d[1];
    const float eps = c->label_smoothing;
    const float *prob = cache, *labels = in[1]->data;
    const float g = out->grad[0] / (float)N, off = eps / (float)K, on = 1.0f - eps;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (N * K > 16384)
    for (ptrdiff_t n = 0; n < N; n++) {
        int y = (int)labels[n];
        for (int k = 0; k < K; k++) {
            float t = off + (k == y ? on : 0.0f);
            dz[n * K + k] += g * (prob[n * K + k] - t);
        }
    }
}

static const LayerOps ce_ops = {.type = "softmax_ce",
                                .out_shape = ce_shape,
                                .cache_bytes = ce_cache_bytes,
                                .scratch_bytes = ce_scratch_bytes,
                                .forward = ce_forward,
                                .backward = ce_backward};

void softmax_ce_init(SoftmaxCE *l, const char *name, float label_smoothing) {
    layer_set_name(&l->base, &ce_ops, name);
    l->label_smoothing = label_smoothing;
}
