/* loss.h — loss layers: each takes predictions and targets and returns a scalar (shape [1]) that
 * tape_backward seeds. Targets never receive a gradient (their grad, if any, is left untouched).
 *  - softmax_ce: softmax cross-entropy over K classes, mean over the batch, optional label smoothing
 *    (PyTorch nn.CrossEntropyLoss(label_smoothing=eps): target = (1 - eps) onehot + eps / K).
 *  - sigmoid_bce: binary cross-entropy on logits, mean over all elements (nn.BCEWithLogitsLoss()). */
#ifndef LOCUS_LAYERS_LOSS_H
#define LOCUS_LAYERS_LOSS_H

#include "locus/layer.h"

typedef struct SoftmaxCE {
    Layer base;
    float label_smoothing; /* eps in [0, 1] (validated in out_shape) */
} SoftmaxCE;

/* Inputs: logits N x K, labels [N] holding class indices 0..K-1 as floats. Labels are validated by
 * their producer (the data loaders); an out-of-range or non-integer label reaching forward is a broken
 * invariant and aborts through CHECK with the row and value. */
void softmax_ce_init(SoftmaxCE *l, const char *name, float label_smoothing);

typedef struct SigmoidBCE {
    Layer base;
} SigmoidBCE;

/* Inputs: logits (any shape) and targets of the same shape with values in [0, 1] (not checked). */
void sigmoid_bce_init(SigmoidBCE *l, const char *name);

/* supcon: supervised contrastive loss, single view, as InfoPro's contrast mode (spec local-learning.md
 * §1.4; formula and gradient in supcon.c). The L2 normalisation of the features is part of the layer.
 * Inputs: features N x D (N >= 2), labels [N] (class indices as floats, compared for equality).
 * Loss scale temperature / base_temperature (InfoPro: 0.07 / 0.07 = 1); both must be > 0.
 * Cache (training): (N D + N^2 + N) floats. Bitwise independent of the thread count. */
typedef struct SupCon {
    Layer base;
    float temperature, base_temperature;
} SupCon;

void supcon_init(SupCon *l, const char *name, float temperature, float base_temperature);

#endif
