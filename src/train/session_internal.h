/* session_internal.h — pieces of the session shared between the files of src/train/. */
#ifndef LOCUS_TRAIN_SESSION_INTERNAL_H
#define LOCUS_TRAIN_SESSION_INTERNAL_H

#include "locus/train.h"

/* Logits of the backbone + final classifier in evaluation mode (no records, running BN stats). */
Tensor *session_eval_forward(Session *s, Tensor *x);
/* Top-1 accuracy of the backbone on the whole test set. */
Status session_evaluate(Session *s, double *acc, ErrorMsg *err);

#endif
