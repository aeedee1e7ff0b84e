/* session_step.c — see session_step.h. */
#include "session_step.h"

#include <stdio.h>

#include "locus/method.h"

int session_one_step(Session *s, const TrainConfig *c, double *loss) {
    ErrorMsg err;
    if (session_open(s, c, 0, &err)) {
        printf("open %s: %s\n", c->method, err.text);
        return -1;
    }
    return session_step_first_batch(s, loss);
}

int session_step_first_batch(Session *s, double *loss) {
    ErrorMsg err;
    loader_start_epoch(&s->train_loader, 1);
    const float *xb, *yb;
    int n;
    CHECK(loader_next(&s->train_loader, &xb, &yb, &n), "no batch");
    params_zero_grads(&s->ps);
    TapeMark m = tape_mark(&s->tape);
    Tensor *x = tape_wrap(&s->tape, shape4(n, s->train_set.c, s->train_set.h, s->train_set.w), (float *)xb, 0);
    Tensor *y = tape_wrap(&s->tape, shape1(n), (float *)yb, 0);
    StepResult r;
    Status st = s->method->step(s, x, y, &r, &err);
    tape_release(&s->tape, m);
    if (st) {
        printf("step %s: %s\n", s->cfg.method, err.text);
        return -1;
    }
    if (loss) *loss = r.loss;
    return 0;
}
