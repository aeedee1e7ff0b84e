/* hilo.c — HiLo (hierarchical local modules) and HPFF = HiLo + PFF (spec local-learning.md §2.2-2.4, the
 * authors' CIFAR code). M segments E_0..E_{M-1} (--k maps to the HPFF code's lists: the stem merged into E_0).
 * Segment i (1 <= i <= M-2) is trained by
 *   an independent classifier on its own output (CE, weight wx = 0.001), and
 *   a cascade over (E_{i-1}, E_i) — decoder BCE (hpff: PFF's four quadrant decoders) and a classifier —
 *   weighted wy = 0.999 and lambda1/lambda2 at r = i/(K-2) (K nominal);
 * E_0 (and the stem) learns only through cascade 1; the last segment through wx*CE + wy*CE on the logits.
 * The reference code evaluates each block three times per step. --hilo-mode picks one of three equivalent
 * schedules (same gradients up to float summation order):
 *   recompute (default): E_i runs, both its losses are backpropagated through it (the independent one with
 *     E_i's input detached), its activations are dropped (its output kept), then E_{i-1} is evaluated again
 *     from its saved input and backpropagated with the cascade's gradient at E_i's input. One segment's
 *     activations are alive at a time, as in DGL; each block runs forward twice. The second evaluation
 *     leaves BN running statistics alone (StepCtx.frozen_stats), so they are updated once per step.
 *   once: E_{i-1}'s activations are kept while E_i runs, the cascade backward crosses both, then E_{i-1}
 *     goes (tape_compact). Each block runs once; two segments are alive at a time.
 *   naive: the reference's three evaluations (for checking; most memory; BN running statistics are
 *     updated three times, as in the reference).
 * Aux classifiers use cross-entropy, as HPFF's README does. */
#include <stdlib.h>
#include <string.h>

#include "layers/loss.h"
#include "locus/method.h"
#include "methods/common.h"
#include "methods/cuts.h"
#include "methods/lambda.h"
#include "methods/pff.h"

typedef struct HiloSeg {
    int first, last;
    AuxHead *ind, *cas, *dec, *qdec[4];
    Crop2d qcrop[4];
    float lam_rec, lam_y;
} HiloSeg;

typedef struct HiloState {
    int pff, pff_sequential;
    char mode[16];
    float wx, wy;
    HiloSeg seg[LOCUS_MAX_BLOCKS];
    SoftmaxCE ce;
    SigmoidBCE bce;
    Crop2d img_crop[4];
    float mean[3], std[3];
} HiloState;

static Status hilo_open_kind(Session *s, int pff, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    Model *m = &s->model;
    if (m->units[0].out_h == 0 || m->units[m->n_units - 2].out_w == 0)
        return status_fail(err, LOCUS_ERR_ARG, "--method %s needs a ResNet; %s is not\nhint: use --model resnet32",
                           c->method, m->arch);
    HiloState *st = calloc(1, sizeof *st);
    if (!st) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    s->method_state = st;
    st->pff = pff;
    if (strcmp(c->hilo_mode, "recompute") && strcmp(c->hilo_mode, "once") && strcmp(c->hilo_mode, "naive"))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --hilo-mode '%s'\nhint: recompute, once or naive", c->hilo_mode);
    snprintf(st->mode, sizeof st->mode, "%s", c->hilo_mode);
    st->pff_sequential = c->pff_sequential;
    st->wx = (float)c->hilo_wx, st->wy = (float)c->hilo_wy;
    int last_unit[LOCUS_MAX_BLOCKS], n = 0;
    Status r = cuts_resolve(m, c->cuts, (int)c->k, cuts_convention(c->k_convention, "hpff"), last_unit, &n,
                            LOCUS_MAX_BLOCKS, err);
    if (r) return r;
    if (n < 2) return status_fail(err, LOCUS_ERR_ARG, "--method %s needs at least 2 segments\nhint: --k 4", c->method);
    s->n_blocks = n;
    softmax_ce_init(&st->ce, "loss", (float)c->label_smoothing);
    sigmoid_bce_init(&st->bce, "loss.rec");
    DataPreset p;
    if ((r = data_preset(c->data, 1, &p, err))) return r;
    memcpy(st->mean, p.mean, sizeof st->mean);
    memcpy(st->std, p.std, sizeof st->std);
    pff_quadrants(st->img_crop, "pff.img", m->in_h, m->in_w);
    AuxKind cls_kind = AUX_INFOPRO_2C2F;
    if (strcmp(c->aux, "default") && aux_kind_parse(c->aux, &cls_kind))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --aux '%s'", c->aux);
    LambdaConvention conv = LAMBDA_HPFF;
    if (strcmp(c->lambda_convention, "auto") && lambda_convention_parse(c->lambda_convention, &conv))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --lambda-convention '%s'", c->lambda_convention);
    const double readme[4] = {5, 0, 0.5, 0}; /* HPFF README: ixx_1 5, ixx_2 0, ixy_1 0.5, ixy_2 0 */
    double lam[4] = {c->ixx1, c->ixx2, c->ixy1, c->ixy2};
    for (int i = 0; i < 4; i++)
        if (lam[i] < 0) lam[i] = readme[i];
    int first = 0;
    for (int b = 0; b < n; b++) {
        HiloSeg *sg = &st->seg[b];
        sg->first = first, sg->last = last_unit[b], first = sg->last + 1;
        session_block_name(s, b, sg->first, sg->last);
        if (b == 0 || b == n - 1) continue;
        const ModelUnit *u = &m->units[sg->last];
        AuxSpec as = {cls_kind, u->out_c, u->out_h, u->out_w, m->classes, m->in_c, m->in_h, m->in_w};
        char prefix[64];
        snprintf(prefix, sizeof prefix, "aux.%d.ind", b);
        if ((r = aux_head_create(&sg->ind, &as, &s->ps, prefix, err))) return r;
        snprintf(prefix, sizeof prefix, "aux.%d.cas", b);
        if ((r = aux_head_create(&sg->cas, &as, &s->ps, prefix, err))) return r;
        if (pff) {
            pff_quadrants(sg->qcrop, "pff.q", u->out_h, u->out_w);
            for (int q = 0; q < 4; q++) {
                AuxSpec qs = {AUX_DECODER, u->out_c, sg->qcrop[q].h, sg->qcrop[q].w, 0, m->in_c,
                              st->img_crop[q].h, st->img_crop[q].w};
                snprintf(prefix, sizeof prefix, "aux.%d.dec.q%d", b, q);
                if ((r = aux_head_create(&sg->qdec[q], &qs, &s->ps, prefix, err))) return r;
            }
        } else {
            as.kind = AUX_DECODER;
            snprintf(prefix, sizeof prefix, "aux.%d.dec", b);
            if ((r = aux_head_create(&sg->dec, &as, &s->ps, prefix, err))) return r;
        }
        int next_stage = m->units[sg->last + 1].name[0] - '0';
        lambda_weights(lam, lambda_position(conv, b, n, (int)c->k, next_stage), &sg->lam_rec, &sg->lam_y);
    }
    return LOCUS_OK;
}

static Status hilo_open(Session *s, ErrorMsg *err) { return hilo_open_kind(s, 0, err); }
static Status hpff_open(Session *s, ErrorMsg *err) { return hilo_open_kind(s, 1, err); }

static void hilo_init_weights(Session *s, Rng *rng) {
    HiloState *st = s->method_state;
    for (int b = 1; b < s->n_blocks - 1; b++) {
        HiloSeg *sg = &st->seg[b];
        AuxHead *heads[7] = {sg->ind, sg->cas, sg->dec, sg->qdec[0], sg->qdec[1], sg->qdec[2], sg->qdec[3]};
        for (int i = 0; i < 7; i++)
            if (heads[i]) aux_head_init_weights(heads[i], &s->ps, rng);
    }
}

static Tensor *detached_copy(Tape *t, const Tensor *h) {
    Tensor *d = tape_tensor(t, h->shape, 0);
    if (d && d->data) memcpy(d->data, h->data, tensor_bytes(h));
    return d;
}

static Tensor *run_segment(Session *s, const HiloSeg *sg, Tensor *h) {
    for (int u = sg->first; u <= sg->last; u++) h = s->model.unit_forward(&s->model, &s->tape, u, h);
    return h;
}

static Status backward(Tape *t, Tensor **loss, float *scale, int n, TapeMark m, ErrorMsg *err) {
    for (int i = 0; i < n; i++) {
        Status st = method_check_loss(t, loss[i], m, err);
        if (st) return st;
    }
    Status st = tape_backward(t, loss, scale, n, m);
    return st ? status_fail(err, st, "%s", t->err.text) : LOCUS_OK;
}

/* The independent loss of segment i on its output h: backpropagated to `from` (E_i's start). */
static Status independent(Session *s, const HiloSeg *sg, int last, Tensor *h, Tensor *labels, TapeMark from,
                          ErrorMsg *err) {
    HiloState *st = s->method_state;
    Status status = method_head_backward(&s->tape, last ? NULL : sg->ind, &st->ce.base, h, labels, st->wx, err);
    return status ? status : backward(&s->tape, NULL, NULL, 0, from, err);
}

/* The cascade loss on z (the output of the window (E_{i-1}, E_i)): backpropagated to `from`. Each head
 * sends its gradient into z on its own (one head alive at a time), then the window replays once. */
static Status cascade(Session *s, const HiloSeg *sg, int last, Tensor *z, Tensor *labels, Tensor *img01,
                      TapeMark from, StepResult *r, ErrorMsg *err) {
    HiloState *st = s->method_state;
    Tape *t = &s->tape;
    Tensor *loss[6];
    float scale[6];
    int nl = 0;
    Status status = LOCUS_OK;
    if (last) {
        loss[nl] = tape_call2(t, &st->ce.base, z, labels), scale[nl++] = st->wy;
    } else {
        float wrec = st->wy * sg->lam_rec;
        if (st->pff && wrec != 0.0f)
            status = pff_losses(t, &st->bce.base, sg->qdec, sg->qcrop, st->img_crop, z, img01, wrec,
                                st->pff_sequential, loss, scale, &nl, err);
        if (!status && !st->pff && wrec != 0.0f)
            status = method_head_backward(t, sg->dec, &st->bce.base, z, img01, wrec, err);
        if (!status && sg->lam_y != 0.0f)
            status = method_head_backward(t, sg->cas, &st->ce.base, z, labels, st->wy * sg->lam_y, err);
    }
    if (status) return status;
    if (!nl && !z->grad_held) return LOCUS_OK; /* every weight is 0: nothing reaches the window */
    if ((status = backward(t, loss, scale, nl, from, err))) return status;
    if (last) method_fill_result(loss[0], z, labels, r);
    return LOCUS_OK;
}

static Status hilo_step_once(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    HiloState *st = s->method_state;
    Tape *t = &s->tape;
    const int n = s->n_blocks;
    Tensor *img01 = method_image01(t, x, st->mean, st->std);
    session_block_begin(s);
    TapeMark prev = tape_mark(t); /* start of E_{i-1} */
    Tensor *x_prev = run_segment(s, &st->seg[0], x);
    session_block_end(s, 0);
    Status status = tape_ok(t) ? LOCUS_OK : status_fail(err, t->status, "%s", t->err.text);
    for (int i = 1; i < n && !status; i++) {
        const HiloSeg *sg = &st->seg[i];
        const int last = i == n - 1;
        session_block_begin(s);
        TapeMark mi = tape_mark(t);
        Tensor *h = run_segment(s, sg, x_prev);
        if (!h) {
            status = status_fail(err, t->status, "%s", t->err.text);
            break;
        }
        TapeMark mh = tape_mark(t);
        x_prev->requires_grad = 0; /* the independent loss must not reach E_{i-1} */
        status = independent(s, sg, last, h, labels, mi, err);
        x_prev->requires_grad = 1;
        tape_release(t, mh);
        if (!status) status = cascade(s, sg, last, h, labels, img01, prev, r, err);
        tape_release(t, mh);
        if (!status && !last) {
            /* E_{i-1} goes; its output (E_i's input) moves down to prev and E_i slides behind it */
            TapeMark next = mi;
            next.data = prev.data + mem_round_up(tensor_bytes(x_prev));
            tape_compact(t, prev, mi, x_prev);
            x_prev->requires_grad = 0;
            prev = next;
            x_prev = h;
        }
        session_block_end(s, i);
    }
    return status;
}

/* One segment alive at a time. Between segments the tape keeps only, above base, b = E_i's input and
 * a = E_{i-1}'s input (x, off the tape, for i = 1). Once E_i's backward is done, b's values are not needed:
 * its gradient is taken off it and b goes before E_{i-1} is evaluated again, whose output (the same values)
 * becomes the next window's a. */
static Status hilo_step_recompute(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    HiloState *st = s->method_state;
    Tape *t = &s->tape;
    const int n = s->n_blocks;
    Tensor *img01 = method_image01(t, x, st->mean, st->std);
    TapeMark base = tape_mark(t);
    session_block_begin(s);
    Tensor *a = x, *b = run_segment(s, &st->seg[0], x);
    if (b) b = tape_barrier(t, b, base);
    session_block_end(s, 0);
    Status status = b ? LOCUS_OK : status_fail(err, t->status, "%s", t->err.text);
    for (int i = 1; i < n && !status; i++) {
        const HiloSeg *sg = &st->seg[i];
        const int last = i == n - 1;
        session_block_begin(s);
        TapeMark mi = tape_mark(t);
        b->requires_grad = 1;
        Tensor *h = run_segment(s, sg, b);
        if (!h) {
            status = status_fail(err, t->status, "%s", t->err.text);
            break;
        }
        TapeMark mh = tape_mark(t);
        b->requires_grad = 0; /* the independent loss must not reach E_{i-1} */
        status = independent(s, sg, last, h, labels, mi, err);
        b->requires_grad = 1;
        tape_release(t, mh);
        if (!status) status = cascade(s, sg, last, h, labels, img01, mi, r, err);
        tape_release(t, mh);
        if (!status && b->grad_held) {
            /* the cascade reached E_i's input: E_i's activations and b go (b's gradient is taken off it), a
             * (when on the tape) and h stay; E_{i-1} again from a (BN running statistics frozen), then its
             * backward */
            TapeGrad db = tape_grad_take(t, b);
            Tensor *keep[2];
            int nk = 0;
            if (a != x) keep[nk++] = a;
            keep[nk++] = h;
            if (!tape_keep(t, base, keep, nk)) status = status_fail(err, t->status, "%s", t->err.text);
            if (!status) a = a != x ? keep[0] : x, h = keep[nk - 1];
            TapeMark mr = tape_mark(t);
            Tensor *prev = NULL;
            if (!status) {
                t->ctx->frozen_stats = 1;
                prev = run_segment(s, &st->seg[i - 1], a);
                t->ctx->frozen_stats = 0;
                if (!prev) status = status_fail(err, t->status, "%s", t->err.text);
            }
            if (!status && (status = tape_backward_grad(t, prev, &db, mr)))
                status = status_fail(err, status, "%s", t->err.text);
            tape_grad_free(t, &db);
            /* the next window: a = E_i's input (E_{i-1}'s output, recomputed), b = h */
            Tensor *next[2] = {h, prev};
            if (!status && !last && !tape_keep(t, base, next, 2))
                status = status_fail(err, t->status, "%s", t->err.text);
            if (!status) a = next[1], b = next[0];
        } else if (!status && !last) { /* E_i's activations go; the next window: a = b, b = h */
            Tensor *next[2] = {b, h};
            if (!tape_keep(t, base, next, 2)) status = status_fail(err, t->status, "%s", t->err.text);
            if (!status) a = next[0], b = next[1];
        }
        session_block_end(s, i);
    }
    return status;
}

/* The reference code's order: every block evaluated on the x path and twice more on cascade paths. */
static Status hilo_step_naive(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    HiloState *st = s->method_state;
    Tape *t = &s->tape;
    const int n = s->n_blocks;
    Tensor *img01 = method_image01(t, x, st->mean, st->std);
    session_block_begin(s);
    Tensor *xd = detached_copy(t, run_segment(s, &st->seg[0], x)); /* x = stop_grad(E_0(x0)) */
    Tensor *y = x;                                                  /* the y path keeps the stem */
    session_block_end(s, 0);
    Status status = tape_ok(t) ? LOCUS_OK : status_fail(err, t->status, "%s", t->err.text);
    for (int i = 1; i < n && !status; i++) {
        const HiloSeg *sg = &st->seg[i];
        const int last = i == n - 1;
        session_block_begin(s);
        TapeMark ms = tape_mark(t);
        Tensor *xi = run_segment(s, sg, xd);
        status = xi ? independent(s, sg, last, xi, labels, ms, err) : status_fail(err, t->status, "%s", t->err.text);
        TapeMark mc = tape_mark(t);
        Tensor *yin = status ? NULL : run_segment(s, &st->seg[i - 1], y);
        Tensor *z = yin ? run_segment(s, sg, yin) : NULL;
        if (!status && !z) status = status_fail(err, t->status, "%s", t->err.text);
        if (!status) status = cascade(s, sg, last, z, labels, img01, mc, r, err);
        if (!status && !last) {
            xd = detached_copy(t, xi);
            y = detached_copy(t, yin);
        }
        session_block_end(s, i);
    }
    return status;
}

static Status hilo_step(Session *s, Tensor *x, Tensor *labels, StepResult *r, ErrorMsg *err) {
    HiloState *st = s->method_state;
    TapeMark m0 = tape_mark(&s->tape);
    Status status = !strcmp(st->mode, "naive")  ? hilo_step_naive(s, x, labels, r, err)
                    : !strcmp(st->mode, "once") ? hilo_step_once(s, x, labels, r, err)
                                                : hilo_step_recompute(s, x, labels, r, err);
    tape_release(&s->tape, m0);
    return status;
}

static void hilo_close(Session *s) {
    HiloState *st = s->method_state;
    if (!st) return;
    for (int b = 0; b < LOCUS_MAX_BLOCKS; b++) {
        HiloSeg *sg = &st->seg[b];
        AuxHead *heads[7] = {sg->ind, sg->cas, sg->dec, sg->qdec[0], sg->qdec[1], sg->qdec[2], sg->qdec[3]};
        for (int i = 0; i < 7; i++)
            if (heads[i]) aux_head_free(heads[i]);
    }
    free(st);
    s->method_state = NULL;
}

const MethodOps method_hilo = {.name = "hilo", .help = "HiLo: independent + cascade local modules (window 2)",
                               .open = hilo_open, .step = hilo_step, .init_weights = hilo_init_weights,
                               .close = hilo_close};
const MethodOps method_hpff = {.name = "hpff", .help = "HPFF: HiLo + patch feature fusion decoders",
                               .open = hpff_open, .step = hilo_step, .init_weights = hilo_init_weights,
                               .close = hilo_close};
