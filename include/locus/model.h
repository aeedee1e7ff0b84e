/* model.h — a trainable network as a chain of units, so one description serves every method.
 *
 * A model is an ordered list of units: for a CIFAR ResNet, unit 0 is the stem ("0.0"), then one unit per
 * residual block ("1.0" .. "3.n-1"), then the head (global average pool + linear). For the ViT: patch
 * embedding, one unit per transformer block, then the head (final LayerNorm, CLS token, linear).
 * End-to-end training runs all units in one tape; local learning (a later issue) puts a barrier
 * after chosen units. Parameters of all units live in one ParamStore with PyTorch state_dict names. */
#ifndef LOCUS_MODEL_H
#define LOCUS_MODEL_H

#include "locus/params.h"
#include "locus/rng.h"
#include "locus/tape.h"

typedef struct Model Model;

typedef struct ModelUnit {
    char name[32];       /* "0.0" stem, "2.3" block, "head"; the spec's (stage, index) */
    int out_c, out_h, out_w; /* output feature map (out_h = out_w = 0 for token or logit outputs) */
    int param_first, param_count; /* the unit's parameters: handles param_first .. +param_count-1 */
} ModelUnit;

/* A stand-alone instance of one unit's architecture with parameters of its own (MAN's EMA and learnable copies
 * of the next block): same layers and shapes as the unit, registered in registration order under a new prefix. */
typedef struct UnitCopy {
    int unit;                     /* the unit it was copied from */
    int param_first, param_count; /* its parameters, in the same order and shapes as the unit's */
    void *impl;
} UnitCopy;

struct Model {
    char arch[32];       /* "resnet32", "vit-tiny", ... */
    int in_c, in_h, in_w, classes;
    int n_units;
    ModelUnit *units;
    ParamStore *params;
    void *impl;          /* architecture-specific layers */
    /* Runs unit u on x (output of unit u-1, or the image for u = 0). */
    Tensor *(*unit_forward)(Model *m, Tape *t, int u, Tensor *x);
    /* Optional (NULL: none): units n_units - 2 and n_units - 1 (the last block and the head) as one, computing only
     * what the logits read (vit.c: the class token's row of the last block). model_forward takes it when nothing
     * wraps unit_forward (Replacement Learning); same logits and gradients as the two units, to rounding. */
    Tensor *(*tail_forward)(Model *m, Tape *t, Tensor *x);
    void (*free_impl)(Model *m);
    /* Copies (NULL where the architecture has none): build, run, initialise like the model's units. */
    void *(*copy_create)(Model *m, int u, ParamStore *ps, const char *prefix);
    Tensor *(*copy_forward)(const void *impl, Tape *t, Tensor *x);
    void (*copy_init)(const void *impl, ParamStore *ps, Rng *rng);
    /* Replacement Learning (methods/replace.h) wraps unit_forward and keeps its state here; NULL when
     * off. Owned and freed by replace_close, not by model_free. */
    struct Replacement *replace;
};

/* 1 when model_forward runs the last two units through m->tail_forward. */
static inline int model_has_tail(const Model *m) { return m->tail_forward && !m->replace && m->n_units >= 2; }

typedef struct ModelSpec {
    const char *arch; /* resnet20|32|44|56|110, resnet8 (n = 1, for quick tests), vit-tiny */
    int in_c, in_h, in_w, classes;
} ModelSpec;

/* Builds the model, registers its parameters in ps (not yet finalized; the caller finalizes and then
 * calls model_init_weights). Unknown arch or a bad input size: LOCUS_ERR_ARG. */
Status model_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err);
/* The spec's initialisation (He normal fan-out for convs, PyTorch defaults for linear, ...). */
void model_init_weights(Model *m, Rng *rng);
void model_free(Model *m);
/* All units: the logits (N x classes). When the tape is not recording (inference), each unit's
 * intermediate activations are released as soon as the unit is done. */
Tensor *model_forward(Model *m, Tape *t, Tensor *x);
/* A copy of unit u registered in ps (not yet finalized) under "<prefix>.", its trainable parameters as kind `as`
 * (PARAM_TRAINABLE, or PARAM_EMA for a frozen copy); buffers stay buffers. LOCUS_ERR_ARG when unit u is not a
 * block that can be copied (the stem, the head). */
Status model_copy_unit(Model *m, int u, ParamStore *ps, const char *prefix, ParamKind as, UnitCopy *out,
                       ErrorMsg *err);
Tensor *unit_copy_forward(const Model *m, const UnitCopy *c, Tape *t, Tensor *x);
/* The architecture's initialisation, drawn from rng. */
void unit_copy_init_weights(const Model *m, const UnitCopy *c, ParamStore *ps, Rng *rng);
void unit_copy_free(UnitCopy *c);
/* The parameter-name prefix of unit u's own parameters ("layer2.3." for ResNet block (2,3), "blocks.4."
 * for ViT block 4) into buf, or NULL for units that are not blocks (stem/embedding, head). */
const char *model_unit_param_prefix(const Model *m, int u, char *buf, size_t n);
/* Comma-separated list of known architectures, for help texts. */
const char *model_arch_list(void);

#endif
