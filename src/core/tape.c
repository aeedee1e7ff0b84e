/* tape.c — forward recording, backward replay and barriers (see tape.h).
 *
 * Memory per tape_call: one TapeTensor + one TapeRecord in the meta arena, out + cache in the data
 * arena. Per backward: the gradient of each record's inputs comes from the grad pool on first use,
 * uninitialised and marked fresh: the first consumer overwrites it if its layer can (grad_overwrite),
 * else the tape zeroes it first; later consumers accumulate. The gradient of a record's output goes back
 * to the pool right after that record's backward, when it is complete and no longer needed. */
#include "locus/tape.h"

#include <math.h>
#include <string.h>

struct TapeTensor {
    Tensor t;
    TapeTensor *prev;
};

static Status tape_setup(Tape *t, StepCtx *ctx, size_t meta_bytes, MemTracker *mt, ErrorMsg *err) {
    t->ctx = ctx;
    t->recording = ctx->training;
    if (arena_init(&t->meta, meta_bytes, mt, MEM_TAG_ACT))
        return status_fail(err, LOCUS_ERR_OOM, "cannot reserve %zu bytes for the tape records", meta_bytes);
    return LOCUS_OK;
}

Status tape_init(Tape *t, StepCtx *ctx, MemTracker *mt, size_t data_bytes, size_t grad_bytes, size_t meta_bytes,
                 ErrorMsg *err) {
    memset(t, 0, sizeof *t);
    if (arena_init(&t->data, data_bytes, mt, MEM_TAG_ACT)) {
        char b[32];
        return status_fail(err, LOCUS_ERR_OOM, "cannot reserve %s for activations\nhint: lower --batch",
                           mem_format(data_bytes, b, sizeof b));
    }
    if (gradpool_init(&t->grads, grad_bytes, mt, MEM_TAG_ACT)) {
        arena_free(&t->data);
        return status_fail(err, LOCUS_ERR_OOM, "cannot reserve %zu bytes for activation gradients", grad_bytes);
    }
    Status s = tape_setup(t, ctx, meta_bytes, mt, err);
    if (s) {
        gradpool_free(&t->grads);
        arena_free(&t->data);
    }
    return s;
}

Status tape_init_plan(Tape *t, StepCtx *ctx, MemTracker *mt, size_t meta_bytes, ErrorMsg *err) {
    memset(t, 0, sizeof *t);
    arena_init_plan(&t->data, mt, MEM_TAG_ACT);
    gradpool_init_plan(&t->grads, mt, MEM_TAG_ACT);
    return tape_setup(t, ctx, meta_bytes, mt, err);
}

void tape_free(Tape *t) {
    tape_release(t, (TapeMark){0, 0, NULL, NULL});
    gradpool_free(&t->grads);
    arena_free(&t->meta);
    arena_free(&t->data);
}

TapeMark tape_mark(const Tape *t) {
    TapeMark m = {t->data.used, t->meta.used, t->top, t->tensors};
    return m;
}

static void grad_drop(Tape *t, Tensor *x) {
    if (!x->grad_held) return;
    gradpool_release(&t->grads, x->grad_offset, tensor_bytes(x));
    x->grad_held = 0;
    x->grad_fresh = 0;
    x->grad = NULL;
}

void tape_release(Tape *t, TapeMark m) {
    for (TapeTensor *tt = t->tensors; tt != m.tensors; tt = tt->prev) {
        CHECK(tt, "tape_release: mark is not below the top of the tape");
        grad_drop(t, &tt->t);
    }
    t->tensors = m.tensors;
    t->top = m.top;
    arena_release(&t->meta, m.meta);
    arena_release(&t->data, m.data);
}

static void *meta_alloc(Tape *t, size_t bytes) {
    int ok;
    void *p = arena_alloc(&t->meta, bytes, &ok);
    if (!ok) {
        status_fail(&t->err, LOCUS_ERR_OOM,
                    "the tape's record area (%zu bytes) is full\nhint: this model records more layers than "
                    "planned; report it as a bug",
                    t->meta.capacity);
        t->status = LOCUS_ERR_OOM;
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void *data_alloc(Tape *t, size_t bytes, const char *what) {
    int ok;
    void *p = arena_alloc(&t->data, bytes, &ok);
    if (!ok) {
        char need[32], cap[32];
        status_fail(&t->err, LOCUS_ERR_OOM,
                    "activation arena full at %s: needs %s more, capacity %s\nhint: lower --batch, or run "
                    "`locus memplan` with the same options to see the plan",
                    what, mem_format(t->data.used + mem_round_up(bytes), need, sizeof need),
                    mem_format(t->data.capacity, cap, sizeof cap));
        t->status = LOCUS_ERR_OOM;
    }
    return p;
}

static Tensor *new_tensor(Tape *t, Shape shape, const char *what) {
    if (t->status) return NULL;
    TapeTensor *tt = meta_alloc(t, sizeof *tt);
    if (!tt) return NULL;
    tt->t.shape = shape;
    tt->prev = t->tensors;
    t->tensors = tt;
    tt->t.data = data_alloc(t, shape_numel(&shape) * sizeof(float), what);
    return t->status ? NULL : &tt->t;
}

Tensor *tape_tensor(Tape *t, Shape shape, int zero) {
    Tensor *x = new_tensor(t, shape, "a new tensor");
    if (x && zero && x->data) memset(x->data, 0, tensor_bytes(x));
    return x;
}

Tensor *tape_wrap(Tape *t, Shape shape, float *data, int requires_grad) {
    if (t->status) return NULL;
    TapeTensor *tt = meta_alloc(t, sizeof *tt);
    if (!tt) return NULL;
    tt->t.shape = shape;
    tt->t.data = data;
    tt->t.requires_grad = requires_grad;
    tt->prev = t->tensors;
    t->tensors = tt;
    return &tt->t;
}

Tensor *tape_call(Tape *t, const Layer *l, Tensor *const *in, int n_in) {
    if (t->status) return NULL;
    CHECK(n_in >= 1 && n_in <= TAPE_MAX_INPUTS, "%s: %d inputs", l->name, n_in);
    for (int i = 0; i < n_in; i++)
        if (!in[i]) {
            t->status = status_fail(&t->err, LOCUS_ERR_INTERNAL, "%s: input %d is missing", l->name, i);
            return NULL;
        }
    Shape os;
    Status s = l->ops->out_shape(l, in, n_in, &os, &t->err);
    if (s) {
        t->status = status_wrap(&t->err, s, "layer %s (%s): ", l->name, l->ops->type);
        return NULL;
    }
    if (t->observe && t->recording) t->observe(t->observe_ctx, l, in, n_in, &os, 0);
    size_t scratch = l->ops->scratch_bytes ? l->ops->scratch_bytes(l, in, n_in, t->ctx->threads) : 0;
    if (scratch > t->scratch_need) t->scratch_need = scratch;
    if (!tape_is_plan(t) && scratch > t->ctx->scratch_bytes) {
        t->status = status_fail(&t->err, LOCUS_ERR_OOM,
                                "layer %s needs %zu bytes of scratch, %zu were planned\nhint: plan with the "
                                "largest batch and input size you will use",
                                l->name, scratch, t->ctx->scratch_bytes);
        return NULL;
    }
    TapeRecord *r = NULL;
    if (t->recording) {
        r = meta_alloc(t, sizeof *r);
        if (!r) return NULL;
    }
    Tensor *out = new_tensor(t, os, l->name);
    if (!out) return NULL;
    out->requires_grad = t->recording; /* parameters may need gradients even if inputs do not */
    size_t cb = l->ops->cache_bytes ? l->ops->cache_bytes(l, in, n_in, t->recording) : 0;
    void *cache = cb ? data_alloc(t, cb, l->name) : NULL;
    if (t->status) return NULL;
    if (r) {
        r->prev = t->top;
        r->layer = l;
        r->n_in = n_in;
        for (int i = 0; i < n_in; i++) r->in[i] = in[i];
        r->out = out;
        r->cache = cache;
        t->top = r;
    }
    if (tape_is_plan(t)) return out;
    if (!t->profile || !t->profile->enabled) {
        l->ops->forward(l, t->ctx, in, n_in, out, cache);
        return out;
    }
    double t0 = profile_now();
    l->ops->forward(l, t->ctx, in, n_in, out, cache);
    profile_add_forward(t->profile, l, in, out, profile_now() - t0);
    return out;
}

typedef struct TapeHookCall {
    TapeHookFn fn;
    void *arg;
} TapeHookCall;

static const LayerOps hook_ops = {.type = "hook"};
static const Layer hook_layer = {.ops = &hook_ops, .name = "hook"};

void tape_hook(Tape *t, TapeHookFn fn, void *arg) {
    if (t->status || !t->recording) return;
    TapeRecord *r = meta_alloc(t, sizeof *r);
    TapeHookCall *call = r ? meta_alloc(t, sizeof *call) : NULL;
    Tensor *out = call ? tape_wrap(t, shape1(0), NULL, 0) : NULL;
    if (!out) return;
    call->fn = fn;
    call->arg = arg;
    r->prev = t->top;
    r->layer = &hook_layer;
    r->n_in = 0;
    r->out = out;
    r->cache = call; /* in the meta arena: tape_compact leaves it alone */
    t->top = r;
}

static int grad_hold(Tape *t, Tensor *x) {
    if (x->grad_held) return 1;
    int ok;
    x->grad = gradpool_alloc_uninit(&t->grads, tensor_bytes(x), &ok);
    if (!ok) {
        char cap[32];
        t->status = status_fail(&t->err, LOCUS_ERR_OOM,
                                "activation-gradient pool (%s) is full\nhint: lower --batch, or run `locus "
                                "memplan` with the same options",
                                mem_format(t->grads.capacity, cap, sizeof cap));
        return 0;
    }
    x->grad_offset = gradpool_last_offset(&t->grads);
    x->grad_held = 1;
    x->grad_fresh = x->grad != NULL;
    return 1;
}

/* A fresh gradient that will be accumulated into (by the tape, or a layer without grad_overwrite) is
 * zeroed first. */
static void grad_zero_if_fresh(Tape *t, Tensor *x) {
    if (!x->grad_fresh) return;
    const int timed = t->profile && t->profile->enabled;
    double t0 = timed ? profile_now() : 0;
    memset(x->grad, 0, tensor_bytes(x));
    x->grad_fresh = 0;
    if (timed) t->profile->grad_zero_s += profile_now() - t0;
}

static void run_backward(Tape *t, const TapeRecord *r) {
    const Layer *l = r->layer;
    if (!t->profile || !t->profile->enabled) {
        l->ops->backward(l, t->ctx, r->in, r->n_in, r->out, r->cache);
        return;
    }
    double t0 = profile_now();
    l->ops->backward(l, t->ctx, r->in, r->n_in, r->out, r->cache);
    profile_add_backward(t->profile, l, r->in, profile_now() - t0);
}

static Status replay(Tape *t, TapeMark m) {
    for (TapeRecord *r = t->top; r != m.top; r = r->prev) {
        CHECK(r, "tape_backward: mark is not below the top of the tape");
        if (r->n_in == 0) { /* a hook (tape_hook) */
            const TapeHookCall *call = r->cache;
            call->fn(t, call->arg);
            continue;
        }
        if (!r->out->grad_held) continue; /* not on a path to any loss */
        for (int i = 0; i < r->n_in; i++)
            if (r->in[i]->requires_grad && !grad_hold(t, r->in[i])) return t->status;
        if (!r->layer->ops->grad_overwrite)
            for (int i = 0; i < r->n_in; i++) grad_zero_if_fresh(t, r->in[i]);
        if (t->observe) t->observe(t->observe_ctx, r->layer, r->in, r->n_in, &r->out->shape, 1);
        if (!tape_is_plan(t)) run_backward(t, r);
        grad_drop(t, r->out);
    }
    return LOCUS_OK;
}

Status tape_backward(Tape *t, Tensor *const *losses, const float *scales, int n, TapeMark m) {
    if (t->status) return t->status;
    CHECK(t->recording, "tape_backward on a tape that did not record (eval mode)");
    for (int i = 0; i < n; i++) {
        CHECK(losses[i] && tensor_numel(losses[i]) == 1, "loss %d is not a scalar", i);
        if (!grad_hold(t, losses[i])) return t->status;
        grad_zero_if_fresh(t, losses[i]);
        if (losses[i]->grad) losses[i]->grad[0] += scales[i];
    }
    return replay(t, m);
}

Status tape_backward_from(Tape *t, Tensor *out, const float *dout, TapeMark m) {
    if (t->status) return t->status;
    CHECK(t->recording, "tape_backward_from on a tape that did not record (eval mode)");
    if (!grad_hold(t, out)) return t->status;
    grad_zero_if_fresh(t, out);
    if (out->grad && dout)
        for (size_t i = 0, n = tensor_numel(out); i < n; i++) out->grad[i] += dout[i];
    return replay(t, m);
}

/* How many tensors were created after x (-1: x is not above m). */
static long created_after(const Tape *t, const Tensor *x, TapeMark m) {
    long n = 0;
    for (const TapeTensor *tt = t->tensors; tt != m.tensors; tt = tt->prev, n++)
        if (&tt->t == x) return n;
    return -1;
}

int tape_keep(Tape *t, TapeMark base, Tensor **keep, int n) {
    Shape shape[8];
    const float *src[8];
    CHECK(n <= 8, "tape_keep: %d tensors, at most 8", n);
    for (int i = 0; i < n; i++) {
        shape[i] = keep[i]->shape, src[i] = keep[i]->data;
        long after = created_after(t, keep[i], base);
        CHECK(after >= 0, "tape_keep: tensor %d was not created above the mark", i);
        CHECK(!i || after < created_after(t, keep[i - 1], base), "tape_keep: tensors not in creation order");
    }
    if (t->status) return 0;
    tape_release(t, base);
    for (int i = 0; i < n; i++) { /* each moves down (or stays): nothing not yet moved is overwritten */
        Tensor *x = new_tensor(t, shape[i], "a block boundary");
        if (!x) return 0;
        if (x->data && src[i] != x->data) memmove(x->data, src[i], tensor_bytes(x));
        x->requires_grad = 0;
        keep[i] = x;
    }
    return 1;
}

Tensor *tape_barrier(Tape *t, Tensor *h, TapeMark m) { return tape_keep(t, m, &h, 1) ? h : NULL; }

TapeGrad tape_grad_take(Tape *t, Tensor *x) {
    (void)t;
    TapeGrad g = {x->grad, x->grad_offset, tensor_bytes(x), x->grad_held};
    x->grad_held = 0, x->grad_fresh = 0, x->grad = NULL;
    return g;
}

Status tape_backward_grad(Tape *t, Tensor *out, TapeGrad *g, TapeMark m) {
    if (t->status) return t->status;
    CHECK(t->recording, "tape_backward_grad on a tape that did not record (eval mode)");
    CHECK(g->held && !out->grad_held && g->bytes == tensor_bytes(out), "tape_backward_grad: gradient mismatch");
    out->grad = g->grad, out->grad_offset = g->offset, out->grad_held = 1, out->grad_fresh = 0;
    g->held = 0, g->grad = NULL;
    return replay(t, m);
}

void tape_grad_free(Tape *t, TapeGrad *g) {
    if (g->held) gradpool_release(&t->grads, g->offset, g->bytes);
    g->held = 0, g->grad = NULL;
}

void tape_compact(Tape *t, TapeMark lo, TapeMark hi, Tensor *keep) {
    CHECK(lo.data <= hi.data && hi.data <= t->data.used, "tape_compact: marks out of order");
    size_t keep_bytes = keep ? mem_round_up(tensor_bytes(keep)) : 0;
    CHECK(lo.data + keep_bytes <= hi.data, "tape_compact: the kept tensor does not fit below hi");
    char *base = t->data.base;
    if (keep && base) {
        memmove(base + lo.data, keep->data, tensor_bytes(keep));
        keep->data = (float *)(base + lo.data);
    }
    size_t delta = hi.data - (lo.data + keep_bytes), top = t->data.used;
    if (!delta) return;
    if (base) {
        memmove(base + lo.data + keep_bytes, base + hi.data, top - hi.data);
        for (TapeTensor *tt = t->tensors; tt != hi.tensors; tt = tt->prev) {
            CHECK(tt, "tape_compact: hi is not below the top of the tape");
            char *d = (char *)tt->t.data;
            if (d >= base + hi.data && d < base + top) tt->t.data = (float *)(d - delta);
        }
        for (TapeRecord *r = t->top; r != hi.top; r = r->prev) {
            CHECK(r, "tape_compact: hi is not below the top of the records");
            char *c = r->cache;
            if (c >= base + hi.data && c < base + top) r->cache = c - delta;
        }
    }
    t->data.used -= delta;
    mem_track_unuse(t->data.mt, t->data.tag, delta);
}

const TapeRecord *tape_first_nonfinite(const Tape *t, TapeMark m) {
    const TapeRecord *first = NULL;
    for (const TapeRecord *r = t->top; r && r != m.top; r = r->prev) {
        const float *d = r->out->data;
        if (!d) continue;
        size_t n = tensor_numel(r->out);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(d[i])) {
                first = r;
                break;
            }
    }
    return first;
}
