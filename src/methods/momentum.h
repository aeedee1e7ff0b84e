/* momentum.h — the auxiliary input of MAN and MAN++ (spec local-learning.md §3.2-3.4, §7 items 2, 4, 11).
 *
 * For a cut after unit u, N = unit u+1 (the first block of the next module). The aux nets do not read the
 * module's output x directly but
 *   MAN:    y = LB(x) + EMA(x)
 *   MAN++:  y = s*LB(x) + (2-s)*EMA(x)       (s learnable, init 1; the scaled_pair layer)
 * where LB is a trainable copy of N's architecture and EMA a frozen copy (PARAM_EMA: no gradient, no optimizer
 * state) whose parameters follow N's: theta_EMA = m*theta_EMA + (1-m)*theta_N, parameters only, never BN running
 * statistics (the EMA copy keeps its own, updated by its own forward passes). The local loss reaches x through
 * both branches. Initialisation: the authors' code deep-copies N and then re-initialises everything randomly
 * (default), or copies N's current parameters into LB and EMA (--man-init copy). */
#ifndef LOCUS_METHODS_MOMENTUM_H
#define LOCUS_METHODS_MOMENTUM_H

#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/merge.h"
#include "layers/scaled_pair.h"
#include "layers/token_select.h"
#include "locus/model.h"

typedef struct MomentumAux {
    UnitCopy lb, ema;
    Add add;         /* MAN */
    ScaledPair mix;  /* MAN++ */
    int scaled;
} MomentumAux;

/* Registers LB and EMA copies of unit next_unit as "<prefix>.lb.*" / "<prefix>.ema.*" (and "<prefix>.mix.scale"
 * when scaled). LOCUS_ERR_ARG when next_unit is not a block. */
Status momentum_aux_create(MomentumAux *a, Model *m, int next_unit, ParamStore *ps, const char *prefix, int scaled,
                           ErrorMsg *err);
/* copy = 0: fresh random init of both copies (the authors' code); 1: both take N's current parameters. s = 1. */
void momentum_aux_init_weights(const MomentumAux *a, const Model *m, ParamStore *ps, Rng *rng, int copy);
/* y from the module output x (recorded on t like any layer call). */
Tensor *momentum_aux_forward(const MomentumAux *a, const Model *m, Tape *t, Tensor *x);
/* theta_EMA = decay*theta_EMA + (1-decay)*theta_N over N's learnable parameters (buffers untouched). */
void momentum_ema_update(const MomentumAux *a, const Model *m, ParamStore *ps, float decay);
void momentum_aux_free(MomentumAux *a);

/* MAN++'s ViT head (spec §3.4): the aux input y -> LB_1 (a second trainable block copy) -> LayerNorm -> CLS
 * token -> Linear(D -> classes), named "<prefix>.lb1.*", "<prefix>.norm.*", "<prefix>.fc.*". */
typedef struct MomentumVitHead {
    UnitCopy lb1;
    LayerNorm norm;
    TokenSelect cls;
    Linear fc;
} MomentumVitHead;

/* copy_unit: the block LB_1 copies (the second block of the next module, or any block: they are alike). */
Status momentum_vit_head_create(MomentumVitHead *h, Model *m, int copy_unit, ParamStore *ps, const char *prefix,
                                ErrorMsg *err);
void momentum_vit_head_init_weights(const MomentumVitHead *h, const Model *m, ParamStore *ps, Rng *rng);
/* logits N x classes */
Tensor *momentum_vit_head_forward(const MomentumVitHead *h, const Model *m, Tape *t, Tensor *y);
void momentum_vit_head_free(MomentumVitHead *h);

#endif
