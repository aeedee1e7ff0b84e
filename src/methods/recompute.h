/* recompute.h — end-to-end training with gradient checkpointing at unit boundaries (--recompute-units). */
#ifndef LOCUS_METHODS_RECOMPUTE_H
#define LOCUS_METHODS_RECOMPUTE_H

#include "locus/model.h"
#include "locus/train.h"

#define RECOMPUTE_MAX_UNITS 512

/* One end-to-end step of model m on x: forward, loss(logits, labels), backward into the parameter
 * gradients, with only the units' outputs kept between the forward and the backward. Fills r (loss, hits);
 * leaves the tape at its entry mark. Same gradients as a plain forward + backward, bit for bit. */
Status e2e_recompute_step(Model *m, Tape *t, const Layer *loss, Tensor *x, Tensor *labels, StepResult *r,
                          ErrorMsg *err);

#endif
