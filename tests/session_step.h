/* session_step.h — what the method tests (test_local, test_man) share: open a session and run one method step on
 * the first training batch, leaving the gradients in the session for the test to inspect. */
#ifndef LOCUS_TEST_SESSION_STEP_H
#define LOCUS_TEST_SESSION_STEP_H

#include "locus/train.h"

/* Opens s for c (real mode), runs one step on the first batch of epoch 1 (parameter gradients zeroed first) and
 * stores the final loss in *loss (may be NULL). 0 on success; -1 with a message printed otherwise. */
int session_one_step(Session *s, const TrainConfig *c, double *loss);
/* The step alone, on an open session. 0 on success; -1 with a message printed otherwise. */
int session_step_first_batch(Session *s, double *loss);

#endif
