/* replace.h — Replacement Learning, v1 (arXiv 2410.01239; spec local-learning.md §5.4): some blocks get
 * no weights of their own. Block j's parameters are rebuilt from its two neighbours,
 *     P_j = a_j * P_{j-1} + b_j * P_{j+1}      (per tensor; a_j, b_j two learnable scalars, init 0.5),
 * and its weight gradient dP_j goes to da_j = <dP_j, P_{j-1}>, db_j = <dP_j, P_{j+1}> and (variant B,
 * the default, the paper's Eq. 15) to the neighbours: dP_{j-1} += a_j dP_j, dP_{j+1} += b_j dP_j.
 *
 * Which blocks: blocks are numbered 1..B in forward order (stem and head excluded); block j is replaced
 * when j = 0 (mod k), counted over the network (default) or within each stage, and blocks j-1 and j+1
 * exist, are not replaced themselves and have exactly the same parameter names and shapes as block j.
 * ResNet: every trainable tensor of the block (convs, BN gamma/beta; the BN running statistics stay the
 * block's own). ViT: the attention's qkv and proj weights and biases (--replace-scope all: every
 * parameter of the block).
 *
 * It works with every method: it wraps the model's unit_forward, which every method calls. The wrapper
 * recomputes P_j before the block runs (so P is always current: after each optimizer step, after a
 * checkpoint load, in evaluation) and puts two tape hooks around the block: the one that the backward
 * reaches first attaches a transient gradient buffer to P_j (charged to GRAD, live only during the
 * block's backward), the other folds it into a_j, b_j and the neighbours and detaches it. So replaced
 * parameters have no optimizer state, no slot in the persistent gradient slab and are not learnable;
 * only the (a, b) pairs are ("replace.<prefix>ab", 2 floats each). */
#ifndef LOCUS_METHODS_REPLACE_H
#define LOCUS_METHODS_REPLACE_H

#include <stdio.h>

#include "locus/train.h"

#define REPLACE_MAX_TENSORS 16

typedef struct ReplaceSlot {
    int unit;                                   /* the replaced unit (model unit index) */
    int n;                                      /* replaced tensors */
    int p[REPLACE_MAX_TENSORS];                 /* derived tensors of the block */
    int prev[REPLACE_MAX_TENSORS], next[REPLACE_MAX_TENSORS]; /* the same tensors of blocks j-1, j+1 */
    int ab;                                     /* the learnable (a, b) pair */
    size_t grad_floats;                         /* transient gradient buffer (each tensor rounded to 16) */
    struct Replacement *owner;
} ReplaceSlot;

typedef struct Replacement {
    int every, per_stage, neighbour_grad, all;
    int n_slots;
    ReplaceSlot *slots;
    int *slot_of_unit;          /* n_units entries, -1 where the unit is not replaced */
    ParamStore *ps;
    Tensor *(*inner)(Model *m, Tape *t, int u, Tensor *x); /* the model's own unit_forward */
    float *grad_buf;            /* reserved (real sessions), max over slots of grad_floats */
    size_t grad_buf_bytes;
    MemTracker *mt;
    const ReplaceSlot *open;    /* the slot whose buffer is attached now */
    size_t learnable_full;      /* learnable parameters without replacement */
    size_t derived_numel;       /* parameters that became derived */
} Replacement;

/* The k in effect: cfg->replace_every if >= 0, else 4 for --method replace and 0 (off) otherwise. */
int replace_every_effective(const TrainConfig *cfg);

/* The units to replace in m (parameters registered in m->params, kinds still trainable): units[0..*n-1]
 * in forward order, and for each the tensors (see ReplaceSlot). every >= 2; per_stage: count within each
 * stage; all: ViT every block parameter instead of the attention only. */
int replace_select(const Model *m, int every, int per_stage, int all, ReplaceSlot *slots, int max_slots);

/* Session hooks (session.c): open before params_finalize (chooses the blocks, makes their tensors
 * derived, registers the (a, b) pairs, wraps unit_forward; no-op when off), init after the weights are
 * initialised (a = b = 0.5, P computed, the transient buffer reserved), close frees everything. */
Status replace_open(Session *s, ErrorMsg *err);
Status replace_init(Session *s, ErrorMsg *err);
void replace_close(Session *s);

/* Recomputes every replaced block's parameters (every forward does it too). */
void replace_refresh(const Replacement *r);

/* Reports (no-ops / NULL when replacement is off): the run header's lines (what is replaced, learnable
 * parameters with and without replacement); the summary's lines, returning the "replace" object of
 * summary.json (the same counts and the memory plan of the run without replacement). */
void replace_report_params(FILE *f, const Session *s);
struct cJSON *replace_report_summary(FILE *f, const Session *s);
/* For `locus memplan` (nothing when replacement is off): the replaced blocks, learnable parameters with
 * and without replacement and the plan without replacement, as two text lines on f or, with json, as its
 * "replace" object. plan: the plan with replacement. */
Status replace_memplan_report(FILE *f, const TrainConfig *cfg, const MemReport *plan, struct cJSON *json,
                              ErrorMsg *err);
/* cfg with replacement off (--method replace becomes e2e). */
TrainConfig replace_config_off(const TrainConfig *cfg);

#endif
