/* layer.h — the layer interface: a small struct per layer type with a const ops table.
 *
 * A concrete layer embeds `Layer` as its first member (struct Conv2d { Layer base; ... }) and keeps
 * parameter handles into the ParamStore. Layers never allocate: the tape (tape.c) asks a layer for its
 * output shape, cache size and scratch size, allocates those from the step arena, then calls forward;
 * in backward it hands over gradients it has allocated. This is what makes `locus memplan` exact.
 *
 * Contracts for every layer:
 *  - forward writes every element of out->data; `cache` (cache_bytes long) holds whatever backward
 *    needs beyond the inputs and output (which stay alive until backward).
 *  - backward reads out->grad (dLoss/dout) and *accumulates* (+=) into in[i]->grad for each input whose
 *    grad is non-NULL (NULL = do not propagate), and into its parameter gradients. Accumulation makes
 *    fan-out, weight sharing and several losses work with no extra code. (Opt-in refinement: a layer
 *    with ops->grad_overwrite overwrites an input gradient that layer_grad_overwrite reports fresh, which
 *    is the same as adding into zeros, minus the zeroing.)
 *  - shapes are validated in out_shape, which returns LOCUS_ERR_ARG with a message on mismatch. */
#ifndef LOCUS_LAYER_H
#define LOCUS_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "locus/params.h"
#include "locus/status.h"
#include "locus/tensor.h"

/* Batch statistics shared by several processes that each hold a shard of one batch (SyncBatchNorm: a data-
 * parallel replica, src/dist). BatchNorm in training mode calls these instead of using its shard's statistics
 * alone; every process holding a shard makes the same calls in the same order (they are collective).
 *   merge_stats: buf[0, C) = this shard's per-channel mean, buf[C, 2C) = its sum of squared deviations, over
 *     `count` values per channel; on return the same for the whole batch (identical on every process).
 *     Returns the whole batch's count per channel.
 *   sum_grads: buf[0, 2C) = this shard's per-channel sum(dy), sum(dy xhat); on return their sums over the
 *     whole batch, in this shard's gradient units (the shards' losses are weighted means of the batch's).
 *     Returns the whole batch's count per channel.
 * buf holds at least 2 * channels doubles; the layer never calls these with more channels. */
typedef struct BnSync {
    double (*merge_stats)(void *arg, double *buf, int channels, double count);
    double (*sum_grads)(void *arg, double *buf, int channels, double count);
    void *arg;
    double *buf;
    int channels;
} BnSync;

/* What a layer may read while it runs. */
typedef struct StepCtx {
    ParamStore *params;
    float *scratch;       /* shared workspace, at least the largest scratch_bytes of any layer */
    size_t scratch_bytes;
    int training;         /* 1: batch statistics, dropout on, caches filled */
    uint64_t seed;        /* run seed, for counter-based randomness (dropout) */
    uint64_t step;        /* global step counter, for counter-based randomness */
    int threads;          /* OpenMP threads the layer may use */
    int frozen_stats;     /* 1: training-mode BN leaves its running statistics alone (a recomputed forward) */
    const BnSync *bn_sync; /* NULL: BatchNorm normalises with its own batch's statistics */
} StepCtx;

typedef struct Layer Layer;

typedef struct LayerOps {
    const char *type; /* "conv2d", "batchnorm2d", ... */
    /* Output shape for these inputs; LOCUS_ERR_ARG + message when the inputs do not fit the layer. */
    Status (*out_shape)(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err);
    /* Bytes of cache forward fills for backward (0 in eval mode is typical). NULL = 0. */
    size_t (*cache_bytes)(const Layer *l, Tensor *const *in, int n_in, int training);
    /* Bytes of shared workspace needed by forward or backward with `threads` threads. NULL = 0. */
    size_t (*scratch_bytes)(const Layer *l, Tensor *const *in, int n_in, int threads);
    void (*forward)(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out, void *cache);
    void (*backward)(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                     const void *cache);
    /* 1: backward calls layer_grad_overwrite on each input gradient it writes and, when that says so,
     * writes every element (=) instead of accumulating; 0 (the default): the tape zeroes a fresh input
     * gradient before backward, which then accumulates as always. */
    int grad_overwrite;
} LayerOps;

struct Layer {
    const LayerOps *ops;
    char name[96]; /* instance name, e.g. "layer1.0.conv1": used in errors and the NaN report */
};

/* For a backward about to write x->grad (grad_overwrite layers only): 1 when the gradient is fresh, so
 * the layer must overwrite every element; 0 when it must accumulate. Marks the gradient written, so call
 * it once per input before writing (an input listed twice, add(x, x), gets 1 then 0: write, then add). */
static inline int layer_grad_overwrite(Tensor *x) {
    int fresh = x->grad_fresh;
    x->grad_fresh = 0;
    return fresh;
}

static inline void layer_set_name(Layer *l, const LayerOps *ops, const char *name) {
    l->ops = ops;
    size_t i = 0;
    for (; name && name[i] && i + 1 < sizeof l->name; i++) l->name[i] = name[i];
    l->name[i] = 0;
}

#endif
