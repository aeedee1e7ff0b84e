/* method.h — a training method: the strategy that drives units, barriers, auxiliary heads and losses
 * for one training step. The loop, data, optimizer step, logging and checkpoints are shared
 * (train.h); a method only turns a batch into accumulated gradients and a StepResult.
 * Every method's step must also run on a plan tape (no data, no compute), which is how memplan works. */
#ifndef LOCUS_METHOD_H
#define LOCUS_METHOD_H

#include "locus/train.h"

struct MethodOps {
    const char *name;
    const char *help;
    /* Registers the method's own layers/parameters (auxiliary heads, loss layers) before the
     * parameter store is finalized; allocates s->method_state. */
    Status (*open)(Session *s, ErrorMsg *err);
    /* Forward + backward for one batch; x: N x C x H x W, labels: N (floats). Leaves parameter
     * gradients accumulated and the tape released to where it started. */
    Status (*step)(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err);
    /* Initialises the method's own parameters after the model's (NULL: nothing to do). */
    void (*init_weights)(Session *s, Rng *rng);
    void (*close)(Session *s);
};

/* The method called `name`, or NULL. */
const MethodOps *method_find(const char *name);
/* "e2e" ..., for help texts. */
const char *method_list(void);

#endif
