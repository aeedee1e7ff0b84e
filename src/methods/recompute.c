/* recompute.c — end-to-end training with gradient checkpointing at unit boundaries (--recompute-units).
 * The forward keeps only each unit's output (a barrier after every unit drops the unit's inside). The
 * backward walks the units from the last to the first: each one is evaluated again from its kept input,
 * with BN running statistics frozen (StepCtx.frozen_stats: they are updated once per step, by the first
 * pass), and the gradient at its output is backpropagated through it, handed over without a copy; then the
 * unit's output goes. Every kernel is deterministic and dropout masks are a hash of the step and the
 * element, so the second evaluation reproduces the first bit for bit and the gradients equal plain
 * end-to-end's exactly (tests/test_recompute.c). Alive at the peak: the units' outputs and one unit's inside
 * with its gradients, instead of every unit's inside; the price is one more forward per step. */
#include "methods/recompute.h"

#include "methods/common.h"

static Status tape_error(Tape *t, ErrorMsg *err) {
    return status_fail(err, t->status ? t->status : LOCUS_ERR_INTERNAL, "%s", t->err.text);
}

Status e2e_recompute_step(Model *m, Tape *t, const Layer *loss_layer, Tensor *x, Tensor *labels, StepResult *r,
                          ErrorMsg *err) {
    const int n = m->n_units;
    if (n > RECOMPUTE_MAX_UNITS)
        return status_fail(err, LOCUS_ERR_ARG, "--recompute-units: %d units, at most %d\nhint: drop the option",
                           n, RECOMPUTE_MAX_UNITS);
    Tensor *in[RECOMPUTE_MAX_UNITS]; /* in[u]: unit u's input (x, then the kept outputs) */
    TapeMark at[RECOMPUTE_MAX_UNITS]; /* at[u]: the tape just before in[u] (u >= 1) */
    const TapeMark m0 = tape_mark(t);
    in[0] = x;
    const int last = model_has_tail(m) ? n - 2 : n - 1; /* the units recorded once, with the loss: last .. n-1 */
    for (int u = 0; u < last; u++) {
        at[u + 1] = tape_mark(t);
        Tensor *h = m->unit_forward(m, t, u, in[u]);
        if (!h || !(in[u + 1] = tape_barrier(t, h, at[u + 1]))) return tape_error(t, err);
    }
    /* the last unit (with the classifier; with the model's tail, the last two as model_forward runs them) and the
     * loss: recorded once, backpropagated at once */
    const TapeMark ml = tape_mark(t);
    Tensor *last_in = in[last];
    if (last > 0) last_in->requires_grad = 1;
    Tensor *logits = last < n - 1 ? m->tail_forward(m, t, last_in) : m->unit_forward(m, t, last, last_in);
    Tensor *loss = logits ? tape_call2(t, loss_layer, logits, labels) : NULL;
    if (!loss) return tape_error(t, err);
    Status st = method_check_loss(t, loss, ml, err);
    float one = 1.0f;
    if (!st && (st = tape_backward(t, &loss, &one, 1, ml))) st = tape_error(t, err);
    if (!st) method_fill_result(loss, logits, labels, r);
    tape_release(t, ml);
    TapeGrad g = last > 0 && !st ? tape_grad_take(t, last_in) : (TapeGrad){0};
    for (int u = last - 1; u >= 0 && !st; u--) {
        const TapeMark mr = tape_mark(t);
        in[u]->requires_grad = u > 0;
        t->ctx->frozen_stats = 1;
        Tensor *out = m->unit_forward(m, t, u, in[u]);
        t->ctx->frozen_stats = 0;
        if (!out) st = tape_error(t, err);
        else if ((st = tape_backward_grad(t, out, &g, mr))) st = tape_error(t, err);
        if (!st && u > 0) g = tape_grad_take(t, in[u]);
        tape_release(t, at[u + 1]); /* unit u's inside, and its output in[u + 1] */
    }
    tape_grad_free(t, &g);
    tape_release(t, m0);
    return st;
}
