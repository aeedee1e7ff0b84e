/* batchnorm.c — batch normalisation forward/backward, one OpenMP task per channel (see norm.h).
 *
 * Element (n, c, i) of an N x C x S tensor (S = H*W for 2-D, 1 for 1-D) sits at (n*C + c)*S + i, so a
 * channel is N strips of S contiguous floats and channels never share memory: the per-channel loops run
 * in parallel with no reduction across threads, and the results do not depend on the thread count. The
 * loops over a channel are src/kernels/bn.h (vectorised per instruction set, prefetching the strided strips;
 * the statistics as Chan et al.'s merge of per-strip means and squared deviations, in double). Forward
 * reads a channel twice (statistics, then normalisation, the second read from L2: a channel is at most
 * ~0.5 MB in a CIFAR ResNet at batch 128). Backward makes two passes per channel: sums (reading dy, x and,
 * with a fused ReLU, y; storing a fused residual's gradient on the way), then dx (reading x and dy, y — or
 * the residual gradient just stored, which is the masked dy itself), writing dx once (overwriting a fresh
 * input gradient, see layer.h).
 *
 * Cache (when recording): mean[C], invstd[C] used by the forward, then one float: 1 when they are batch
 * statistics (training), 0 when they are the running statistics (eval mode while recording, e.g. a frozen
 * BN in fine-tuning). Backward recomputes xhat = (x - mean) * invstd from the input, so nothing of size
 * N*C*S is cached. With M values per channel and g = gamma:
 *   training: dx = g invstd / M * (M dy - sum(dy) - xhat sum(dy xhat))
 *   eval:     dx = g invstd dy        (the statistics are constants)
 *   both:     dgamma += sum(dy xhat),  dbeta += sum(dy).
 * batchnorm2d_relu is BN followed by ReLU in one layer: the forward clamps as it writes, the backward
 * masks dy with (y > 0) where it reads it (y is the layer's output, kept anyway): one pass over memory and
 * one activation tensor fewer than two layers, bit for bit the same results. batchnorm2d_add_relu takes a
 * second input r (a residual) and computes ReLU(BN(x) + r): the BN output is never stored (as two layers,
 * BN's output is a tensor only the add reads), r's gradient is dy where the output is positive, again bit
 * for bit batchnorm2d followed by add_relu.
 *
 * SyncBatchNorm (ctx->bn_sync, set by src/dist for data-parallel replicas): each process holds a shard of
 * the batch. Forward computes every channel's shard statistics first, merges them over the shards
 * (merge_stats), then normalises with the whole batch's; backward sums sum(dy), sum(dy xhat) over the
 * shards (sum_grads) before writing dx, with M the whole batch's count. dgamma and dbeta stay this shard's
 * (the caller sums parameter gradients over the shards anyway). The result is the single-process one up to
 * the order of float summation. */
#include "layers/norm.h"

#include "kernels/bn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void bn_dims(const BatchNorm *b, const Shape *s, int *n, int *spatial) {
    *n = s->d[0];
    *spatial = b->is2d ? s->d[2] * s->d[3] : 1;
}

static Status bn_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const BatchNorm *b = (const BatchNorm *)l;
    char buf[64], buf2[64];
    const int want = b->residual ? 2 : 1;
    if (n_in != want) return status_fail(err, LOCUS_ERR_ARG, "%s takes %d input(s), got %d", l->ops->type, want, n_in);
    const Shape *s = &in[0]->shape;
    if (b->residual && (!shape_equal(s, &in[1]->shape) || in[0] == in[1]))
        return status_fail(err, LOCUS_ERR_ARG, "%s: the residual %s must have the input's shape %s (and be another tensor)",
                           l->ops->type, shape_format(&in[1]->shape, buf2, sizeof buf2), shape_format(s, buf, sizeof buf));
    if (s->ndim != (b->is2d ? 4 : 2) || s->d[1] != b->c)
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s expects input %s with C = %d, found %s\nhint: check the previous layer's output "
                           "channels",
                           l->ops->type, b->is2d ? "N x C x H x W" : "N x C", b->c, shape_format(s, buf, sizeof buf));
    *out = *s;
    return LOCUS_OK;
}

static size_t bn_cache(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)in, (void)n_in;
    return training ? (2 * (size_t)((const BatchNorm *)l)->c + 1) * sizeof(float) : 0;
}

/* in[0], out: N x C x S; cache: see the file comment (NULL when not recording). */
static void bn_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache) {
    (void)n_in;
    const BatchNorm *b = (const BatchNorm *)l;
    int n, S;
    bn_dims(b, &in[0]->shape, &n, &S);
    const int C = b->c, train = ctx->training;
    const size_t M = (size_t)n * S, stride = (size_t)C * S;
    const KernelIsa isa = kernel_isa();
    const float *x = in[0]->data, *gamma = params_value(ctx->params, b->weight);
    const float *beta = params_value(ctx->params, b->bias);
    float *rm = params_value(ctx->params, b->running_mean), *rv = params_value(ctx->params, b->running_var);
    float *y = out->data, *cm = cache, *ci = cm ? cm + C : NULL;
    const float *res = b->residual ? in[1]->data : NULL;
    if (cm) cm[2 * C] = train ? 1.0f : 0.0f;
    const BnSync *sync = train ? ctx->bn_sync : NULL;
    double total = (double)M; /* values per channel in the whole batch (all shards, when synchronised) */
    if (sync) {
        CHECK(C <= sync->channels, "%s %s: %d channels, the shard statistics buffer holds %d", l->ops->type, l->name,
              C, sync->channels);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (M * C > 32768)
        for (int c = 0; c < C; c++) bn_channel_stats(isa, x + (size_t)c * S, n, stride, S, &sync->buf[c], &sync->buf[C + c]);
        total = sync->merge_stats(sync->arg, sync->buf, C, (double)M);
    }
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (M * C > 32768)
    for (int c = 0; c < C; c++) {
        double mean, var;
        if (train) {
            double sq;
            if (sync) mean = sync->buf[c], sq = sync->buf[C + c];
            else bn_channel_stats(isa, x + (size_t)c * S, n, stride, S, &mean, &sq);
            var = sq / total;
            double unbiased = total > 1 ? sq / (total - 1) : var;
            if (!ctx->frozen_stats) {
                rm[c] = (float)((1.0 - b->momentum) * rm[c] + b->momentum * mean);
                rv[c] = (float)((1.0 - b->momentum) * rv[c] + b->momentum * unbiased);
            }
        } else {
            mean = rm[c];
            var = rv[c];
        }
        const double invstd = 1.0 / sqrt(var + b->eps);
        if (cm) cm[c] = (float)mean, ci[c] = (float)invstd;
        /* (x - mean) first, as PyTorch, so a large mean does not cancel against the shift */
        const float a = (float)(gamma[c] * invstd), mf = (float)mean, bc = beta[c];
        const size_t o = (size_t)c * S;
        bn_channel_norm(isa, x + o, res ? res + o : NULL, y + o, n, stride, S, mf, a, bc, b->relu);
    }
}

/* Reads out->grad and in[0]->data; accumulates into in[0]->grad (if non-NULL), dgamma and dbeta. */
static void bn_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                        const void *cache) {
    (void)n_in;
    const BatchNorm *b = (const BatchNorm *)l;
    int n, S;
    bn_dims(b, &in[0]->shape, &n, &S);
    const int C = b->c;
    const size_t M = (size_t)n * S, stride = (size_t)C * S;
    const KernelIsa isa = kernel_isa();
    const float *cm = cache, *ci = cm + C;
    const int batch_stats = cm[2 * C] != 0.0f;
    const float *x = in[0]->data, *dy = out->grad, *gamma = params_value(ctx->params, b->weight);
    float *dx = in[0]->grad, *dg = params_grad(ctx->params, b->weight), *db = params_grad(ctx->params, b->bias);
    const int overwrite = dx && layer_grad_overwrite(in[0]); /* channels are disjoint: all write or all add */
    const float *yr = b->relu ? out->data : NULL; /* fused ReLU: where the output is 0, no gradient passes */
    float *dr = b->residual ? in[1]->grad : NULL;  /* the residual's gradient: dy where the output is positive */
    const int dr_overwrite = dr && layer_grad_overwrite(in[1]);
    /* synchronised: the shards' sums first (every shard's layer has the same dx-or-not, so all call or none) */
    const BnSync *sync = batch_stats && dx ? ctx->bn_sync : NULL;
    double total = (double)M;
    if (sync) {
        CHECK(C <= sync->channels, "%s %s: %d channels, the shard statistics buffer holds %d", l->ops->type, l->name,
              C, sync->channels);
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (M * C > 32768)
        for (int c = 0; c < C; c++) {
            const size_t o = (size_t)c * S;
            bn_channel_dots(isa, dy + o, yr ? yr + o : NULL, x + o, n, stride, S, cm[c], ci[c], &sync->buf[c],
                            &sync->buf[C + c], dr ? dr + o : NULL, !dr_overwrite);
            if (dg) dg[c] += (float)sync->buf[C + c];
            if (db) db[c] += (float)sync->buf[c];
        }
        total = sync->sum_grads(sync->arg, sync->buf, C, (double)M);
    }
    /* a residual gradient written (not added) in the first pass is g itself: the dx pass reads it instead of
     * dy and y, one stream fewer */
    const float *gr = dr && dr_overwrite ? dr : NULL;
#pragma omp parallel for schedule(static) num_threads(ctx->threads) if (M * C > 32768)
    for (int c = 0; c < C; c++) {
        const float mean = cm[c], invstd = ci[c];
        const size_t o = (size_t)c * S;
        double sdy, sdyx;
        if (sync) {
            sdy = sync->buf[c], sdyx = sync->buf[C + c];
        } else {
            bn_channel_dots(isa, dy + o, yr ? yr + o : NULL, x + o, n, stride, S, mean, invstd, &sdy, &sdyx,
                            dr ? dr + o : NULL, !dr_overwrite);
            if (dg) dg[c] += (float)sdyx;
            if (db) db[c] += (float)sdy;
        }
        if (!dx) continue;
        const float k = gamma[c] * invstd;
        const float mdy = batch_stats ? (float)(sdy / total) : 0.0f;
        const float mdyx = batch_stats ? (float)(sdyx / total) : 0.0f;
        if (gr) bn_channel_dx(isa, x + o, gr + o, NULL, dx + o, n, stride, S, mean, invstd, k, mdy, mdyx, !overwrite);
        else bn_channel_dx(isa, x + o, dy + o, yr ? yr + o : NULL, dx + o, n, stride, S, mean, invstd, k, mdy, mdyx,
                           !overwrite);
    }
}

static const LayerOps bn2d_ops = {.type = "batchnorm2d",
                                  .out_shape = bn_shape,
                                  .cache_bytes = bn_cache,
                                  .forward = bn_forward,
                                  .backward = bn_backward,
                                  .grad_overwrite = 1};
static const LayerOps bn2d_relu_ops = {.type = "batchnorm2d_relu",
                                       .out_shape = bn_shape,
                                       .cache_bytes = bn_cache,
                                       .forward = bn_forward,
                                       .backward = bn_backward,
                                       .grad_overwrite = 1};
static const LayerOps bn2d_add_relu_ops = {.type = "batchnorm2d_add_relu",
                                           .out_shape = bn_shape,
                                           .cache_bytes = bn_cache,
                                           .forward = bn_forward,
                                           .backward = bn_backward,
                                           .grad_overwrite = 1};
static const LayerOps bn1d_ops = {.type = "batchnorm1d",
                                  .out_shape = bn_shape,
                                  .cache_bytes = bn_cache,
                                  .forward = bn_forward,
                                  .backward = bn_backward,
                                  .grad_overwrite = 1};

static void bn_init(BatchNorm *l, const LayerOps *ops, ParamStore *ps, const char *name, int c, int is2d) {
    CHECK(c >= 1, "%s %s: %d channels", ops->type, name, c);
    memset(l, 0, sizeof *l);
    layer_set_name(&l->base, ops, name);
    l->c = c;
    l->is2d = is2d;
    l->momentum = 0.1f;
    l->eps = 1e-5f;
    char pn[128];
    snprintf(pn, sizeof pn, "%s.weight", name);
    l->weight = params_add(ps, pn, shape1(c), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.bias", name);
    l->bias = params_add(ps, pn, shape1(c), PARAM_TRAINABLE);
    snprintf(pn, sizeof pn, "%s.running_mean", name);
    l->running_mean = params_add(ps, pn, shape1(c), PARAM_BUFFER);
    snprintf(pn, sizeof pn, "%s.running_var", name);
    l->running_var = params_add(ps, pn, shape1(c), PARAM_BUFFER);
}

void batchnorm2d_init(BatchNorm *l, ParamStore *ps, const char *name, int c) { bn_init(l, &bn2d_ops, ps, name, c, 1); }
void batchnorm2d_relu_init(BatchNorm *l, ParamStore *ps, const char *name, int c) {
    bn_init(l, &bn2d_relu_ops, ps, name, c, 1);
    l->relu = 1;
}
void batchnorm2d_add_relu_init(BatchNorm *l, ParamStore *ps, const char *name, int c) {
    bn_init(l, &bn2d_add_relu_ops, ps, name, c, 1);
    l->relu = 1;
    l->residual = 1;
}
void batchnorm1d_init(BatchNorm *l, ParamStore *ps, const char *name, int c) { bn_init(l, &bn1d_ops, ps, name, c, 0); }

void batchnorm_reset(const BatchNorm *l, ParamStore *ps) {
    for (int c = 0; c < l->c; c++) {
        params_value(ps, l->weight)[c] = 1.0f;
        params_value(ps, l->bias)[c] = 0.0f;
        params_value(ps, l->running_mean)[c] = 0.0f;
        params_value(ps, l->running_var)[c] = 1.0f;
    }
}
