/* common.h — small pieces every method's step needs: loss checks (tape errors, NaN with the first
 * layer that produced it) and filling the StepResult. */
#ifndef LOCUS_METHODS_COMMON_H
#define LOCUS_METHODS_COMMON_H

#include "locus/method.h"
#include "models/aux_heads.h"

/* LOCUS_OK if the tape is fine and the loss is finite; otherwise a Status with a message that names
 * the first layer whose output was not finite. Works in plan mode (no data: always OK). */
Status method_check_loss(Tape *t, const Tensor *loss, TapeMark m, ErrorMsg *err);
/* loss value and top-1 hits of logits (N x K) against labels (N). No-op in plan mode. */
void method_fill_result(const Tensor *loss, const Tensor *logits, const Tensor *labels, StepResult *r);
/* The reconstruction target of decoders: x (a normalised batch) de-normalised back to [0, 1] with the
 * dataset's per-channel mean and std, as a new tape tensor (no gradient). */
Tensor *method_image01(Tape *t, const Tensor *x, const float *mean, const float *std);
/* One auxiliary loss, backpropagated at once down to the block output h and no further: the head runs on h
 * (head may be NULL: the loss reads h itself), the loss layer compares it with target, and
 * dL/dh * scale accumulates into h's gradient; then the head's activations are freed. A block with
 * several heads runs them one after the other and then replays the block once from h's accumulated
 * gradient (tape_backward with no losses), so only one head is alive at a time. */
Status method_head_backward(Tape *t, const AuxHead *head, const Layer *loss, Tensor *h, Tensor *target, float scale,
                            ErrorMsg *err);
/* Top-1 hits of logits against labels. */
int method_count_correct(const Tensor *logits, const Tensor *labels);

#endif
