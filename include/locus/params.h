/* params.h — the parameter store: every learnable tensor and buffer of a model, in one place.
 *
 * Layers register their parameters by name while a model is built (params_add), keep the returned
 * integer handle, and look the memory up at run time (params_value / params_grad). After the model is
 * built, params_finalize() reserves one slab for values (PARAM), one for gradients (GRAD, trainable
 * parameters only) and the optimizer reserves its state (OPTIM) with the same layout. Sharing a
 * parameter = two layers holding one handle. The registry order is the order of registration, which is
 * deterministic, and names follow PyTorch state_dict names (e.g. "layer1.0.conv1.weight") so that
 * checkpoints move between locus and PyTorch unchanged.
 * Buffers (BN running statistics) are registered with trainable = 0: stored and checkpointed, no
 * gradient, no optimizer state.
 * Derived parameters (Replacement Learning, methods/replace.h) hold values computed from other parameters:
 * stored and checkpointed, not learned and not counted as learnable, no slot in the gradient slab and no
 * optimizer state; they have a gradient only while their owner attaches a transient buffer to them
 * (grad_transient) around the backward of the layers that use them. Layers treat a NULL params_grad() as
 * "no weight gradient wanted", so a derived parameter without a buffer costs nothing in backward. */
#ifndef LOCUS_PARAMS_H
#define LOCUS_PARAMS_H

#include <stddef.h>

#include "locus/mem.h"
#include "locus/status.h"
#include "locus/tensor.h"

typedef enum ParamKind {
    PARAM_TRAINABLE = 0, /* learned, has a gradient and optimizer state */
    PARAM_BUFFER = 1,    /* state such as BN running mean/var: saved, never learned */
    PARAM_EMA = 2,       /* a frozen copy updated by an exponential moving average (MAN's EMA blocks): saved, no
                          * gradient, no optimizer state; values live in their own slab, tagged EMA */
    PARAM_DERIVED = 3    /* computed from other parameters (Replacement Learning): saved, never learned */
} ParamKind;

typedef struct ParamInfo {
    char name[96];
    Shape shape;
    size_t numel;
    size_t offset;      /* into the value slab, in floats */
    size_t grad_offset; /* into the gradient slab, in floats (trainable only; set by params_finalize) */
    ParamKind kind;
    float *grad_transient; /* derived only: the gradient buffer attached now, or NULL */
} ParamInfo;

typedef struct ParamStore {
    ParamInfo *info;
    int count, capacity;
    size_t numel_total;     /* all floats in the value slab */
    size_t numel_trainable; /* floats in the gradient slab */
    size_t numel_ema;       /* floats in the EMA slab */
    float *values;
    float *grads;
    float *ema_values;
    ParamKind trainable_as; /* what PARAM_TRAINABLE registrations become (params_register_trainable_as) */
    int finalized;
    MemTracker *mt;
} ParamStore;

void params_init(ParamStore *ps, MemTracker *mt);
void params_free(ParamStore *ps);
/* Registers a parameter; returns its handle. Names must be unique (CHECKed). */
int params_add(ParamStore *ps, const char *name, Shape shape, ParamKind kind);
/* Until the next call, parameters registered as PARAM_TRAINABLE get kind `as` instead (PARAM_EMA: build a frozen
 * EMA copy of a block with the block's own constructor; PARAM_TRAINABLE restores the default). */
void params_register_trainable_as(ParamStore *ps, ParamKind as);
/* Changes a parameter's kind before finalize (Replacement Learning turns a block's trainable tensors
 * into derived ones after the model has registered them); never to or from PARAM_EMA (another slab). */
void params_set_kind(ParamStore *ps, int h, ParamKind kind);
/* Lays out the gradient slab (trainable parameters, in registration order) and reserves the value, gradient
 * and EMA slabs (zeroed). */
Status params_finalize(ParamStore *ps, ErrorMsg *err);

static inline float *params_value(const ParamStore *ps, int h) {
    return (ps->info[h].kind == PARAM_EMA ? ps->ema_values : ps->values) + ps->info[h].offset;
}
static inline float *params_grad(const ParamStore *ps, int h) {
    const ParamInfo *p = &ps->info[h];
    return p->kind == PARAM_TRAINABLE ? ps->grads + p->grad_offset : p->kind == PARAM_DERIVED ? p->grad_transient : NULL;
}
static inline size_t params_numel(const ParamStore *ps, int h) { return ps->info[h].numel; }
/* Handle of the parameter with this name, or -1. */
int params_find(const ParamStore *ps, const char *name);
void params_zero_grads(ParamStore *ps);
/* Number of trainable scalars. */
size_t params_count_trainable(const ParamStore *ps);

#endif
