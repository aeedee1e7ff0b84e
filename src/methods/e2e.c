/* e2e.c — end-to-end backpropagation, the baseline every paper compares against: all units in one
 * tape, one cross-entropy loss on the logits, one backward over everything. No barrier, so every
 * unit's activations stay alive until the backward (this is the memory local learning saves). */
#include <stdlib.h>

#include "layers/loss.h"
#include "locus/method.h"
#include "methods/common.h"
#include "methods/recompute.h"

typedef struct E2eState {
    SoftmaxCE ce;
} E2eState;

static Status e2e_open(Session *s, ErrorMsg *err) {
    if (s->cfg.k > 0 || s->cfg.cuts[0])
        return status_fail(err, LOCUS_ERR_ARG, "--k and --cuts cut the network for local learning; --method %s "
                           "trains it whole\nhint: add --method greedy|dgl|infopro, or drop --k/--cuts",
                           s->cfg.method);
    E2eState *st = calloc(1, sizeof *st);
    if (!st) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    softmax_ce_init(&st->ce, "loss", (float)s->cfg.label_smoothing);
    s->method_state = st;
    s->n_blocks = 1;
    session_block_name(s, 0, 0, s->model.n_units - 1);
    return LOCUS_OK;
}

static Status e2e_step(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    E2eState *st = s->method_state;
    Tape *t = &s->tape;
    session_block_begin(s);
    if (s->cfg.recompute_units) {
        Status status = e2e_recompute_step(&s->model, t, &st->ce.base, x, labels, r, err);
        if (!status) session_block_end(s, 0);
        return status;
    }
    TapeMark m = tape_mark(t);
    Tensor *logits = model_forward(&s->model, t, x);
    Tensor *loss = tape_call2(t, &st->ce.base, logits, labels);
    Status status = method_check_loss(t, loss, m, err);
    if (status) return status;
    float one = 1.0f;
    status = tape_backward(t, &loss, &one, 1, m);
    if (status) return status_fail(err, status, "%s", t->err.text);
    method_fill_result(loss, logits, labels, r);
    tape_release(t, m);
    session_block_end(s, 0);
    return LOCUS_OK;
}

static void e2e_close(Session *s) {
    free(s->method_state);
    s->method_state = NULL;
}

const MethodOps method_e2e = {
    .name = "e2e",
    .help = "end-to-end backpropagation (the baseline)",
    .open = e2e_open,
    .step = e2e_step,
    .close = e2e_close,
};

/* Replacement Learning (replace.h) with end-to-end training; k = 4 unless --replace-every says otherwise.
 * Replacement itself is set up by the session for any method. */
const MethodOps method_replace = {
    .name = "replace",
    .help = "end-to-end with Replacement Learning (every 4th block's weights = a*prev + b*next)",
    .open = e2e_open,
    .step = e2e_step,
    .close = e2e_close,
};
