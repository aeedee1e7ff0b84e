/* tape.h — the forward record, backward replay, and barriers (DESIGN.md §1).
 *
 * A model's forward is plain C that calls tape_call(tape, layer, inputs). In training mode each call
 * pushes a record (layer, inputs, output, cache) on the step arena. tape_backward() replays the records
 * in reverse down to a mark, accumulating gradients; it frees each activation gradient as soon as the
 * tensor's producer has run its backward (the gradient is complete at that point). tape_barrier()
 * ends a local-learning block: it releases everything above the mark and re-creates the block's output
 * at the mark as a detached tensor, so freeing a block and detaching it are one operation.
 * End-to-end training is the same code with no barrier.
 *
 * Errors are sticky: after a shape error or a full arena, tape_call returns NULL, later calls return NULL
 * too, and tape->status / tape->err say what went wrong. A model's forward can be written without an
 * error check per line; the caller checks tape_ok() once.
 *
 * Plan mode (arena in plan mode) runs the exact same allocation sequence without computing:
 * tape->arena's and tape->grads' peaks are then the activation peak of a real step. */
#ifndef LOCUS_TAPE_H
#define LOCUS_TAPE_H

#include "locus/arena.h"
#include "locus/layer.h"
#include "locus/profile.h"

#define TAPE_MAX_INPUTS 4

typedef struct TapeTensor TapeTensor;

typedef struct TapeRecord {
    struct TapeRecord *prev;
    const Layer *layer;
    int n_in;
    Tensor *in[TAPE_MAX_INPUTS];
    Tensor *out;
    void *cache;
} TapeRecord;

typedef struct TapeMark {
    size_t data;        /* data arena top */
    size_t meta;        /* meta arena top */
    TapeRecord *top;    /* last record */
    TapeTensor *tensors;/* last tensor */
} TapeMark;

typedef struct Tape {
    Arena data;          /* activations and caches (plan mode: counting only) */
    Arena meta;          /* Tensor structs and records: always real memory, also in plan mode */
    GradPool grads;      /* activation gradients */
    StepCtx *ctx;
    TapeRecord *top;
    TapeTensor *tensors;
    int recording;       /* 1 while training: push records, fill caches */
    size_t scratch_need; /* largest scratch any call asked for (plan mode sizes the workspace with it) */
    Profile *profile;    /* non-NULL: time every layer call into it (locus bench --profile) */
    Status status;
    ErrorMsg err;
    /* Optional: told of every recorded layer call (its inputs and output shape) before it runs
     * (backward = 0), and of every record a backward replay runs (backward = 1; a record replayed twice
     * is told twice); set after tape_init. The session counts predicted FLOPs per block with it on the
     * plan tape. */
    void (*observe)(void *ctx, const Layer *l, Tensor *const *in, int n_in, const Shape *out, int backward);
    void *observe_ctx;
} Tape;

/* Real tape: `data_bytes` of arena, `grad_bytes` of grad pool, `meta_bytes` for records, all under
 * MEM_TAG_ACT of mt. Sizes normally come from a plan run. */
Status tape_init(Tape *t, StepCtx *ctx, MemTracker *mt, size_t data_bytes, size_t grad_bytes,
                 size_t meta_bytes, ErrorMsg *err);
/* Plan tape: counts only; ctx->scratch may be NULL. */
Status tape_init_plan(Tape *t, StepCtx *ctx, MemTracker *mt, size_t meta_bytes, ErrorMsg *err);
void tape_free(Tape *t);
static inline int tape_is_plan(const Tape *t) { return arena_is_plan(&t->data); }
static inline int tape_ok(const Tape *t) { return t->status == LOCUS_OK; }

TapeMark tape_mark(const Tape *t);
/* Pops everything above the mark (records, tensors, activation data, their held gradients). */
void tape_release(Tape *t, TapeMark m);

/* A new tensor of this shape in the data arena (uninitialised; zeroed if `zero`). */
Tensor *tape_tensor(Tape *t, Shape shape, int zero);
/* A tensor that wraps caller memory (a data batch): nothing is copied or allocated for data. */
Tensor *tape_wrap(Tape *t, Shape shape, float *data, int requires_grad);

/* Runs one layer: allocates output + cache, records it when recording, runs forward (not in plan mode). */
Tensor *tape_call(Tape *t, const Layer *l, Tensor *const *in, int n_in);
static inline Tensor *tape_call1(Tape *t, const Layer *l, Tensor *x) { return tape_call(t, l, &x, 1); }
static inline Tensor *tape_call2(Tape *t, const Layer *l, Tensor *a, Tensor *b) {
    Tensor *in[2] = {a, b};
    return tape_call(t, l, in, 2);
}

/* A backward hook: fn(t, arg) runs whenever a backward replay passes this point of the tape, on a plan
 * tape too (where it may only count memory). Recorded only while the tape records; the record has no
 * inputs (n_in = 0), a 0-element output and a layer of type "hook", and costs a few bytes of the record
 * area. Replacement Learning puts one after and one before a replaced block, so that the block's
 * transient weight-gradient buffer is attached exactly while the block's backward runs. */
typedef void (*TapeHookFn)(Tape *t, void *arg);
void tape_hook(Tape *t, TapeHookFn fn, void *arg);

/* Backward from n scalar losses, each seeded with dL/dloss = scale[i], replaying records down to
 * `m` (records below m are not touched). Parameter gradients accumulate into the ParamStore. */
Status tape_backward(Tape *t, Tensor *const *losses, const float *scales, int n, TapeMark m);

/* Backward from a non-scalar tensor `out` seeded with dL/dout = dout (numel(out) floats; may be NULL in
 * plan mode). Used by gradient checks and by callers that compute a loss gradient themselves. */
Status tape_backward_from(Tape *t, Tensor *out, const float *dout, TapeMark m);

/* Ends a block: releases everything above `m` and returns `h` re-created at the mark, detached
 * (requires_grad = 0). h must have been created above m. */
Tensor *tape_barrier(Tape *t, Tensor *h, TapeMark m);

/* Keeps the n tensors `keep` (created above `base`, listed in the order they were created) and drops
 * everything else above base: they move down to base in that order and come back detached
 * (requires_grad = 0); each keep[i] is replaced by its new place. Returns 0 (tape status set) on failure. */
int tape_keep(Tape *t, TapeMark base, Tensor **keep, int n);

/* A gradient taken off its tensor (tape_grad_take): it stays in the grad pool, counted as activations,
 * until tape_grad_free, and survives releasing the tensor it came from. */
typedef struct TapeGrad {
    float *grad; /* NULL in plan mode */
    size_t offset, bytes;
    int held;
} TapeGrad;
TapeGrad tape_grad_take(Tape *t, Tensor *x);
void tape_grad_free(Tape *t, TapeGrad *g);
/* tape_backward_from with a taken gradient as dL/dout: g's buffer becomes out's gradient (no copy) and is
 * released when out's producer has run its backward; g is empty afterwards. */
Status tape_backward_grad(Tape *t, Tensor *out, TapeGrad *g, TapeMark m);

/* Drops the activations created between marks lo and hi, except `keep` (a tensor created there, e.g. a
 * block's output that the next block reads): keep moves down to lo, and everything created after hi
 * slides down right behind it; the moved tensors' data and the moved records' caches are re-pointed.
 * Records and tensors between lo and hi other than keep must not be used again. Marks taken before the
 * call above hi are invalid after it. This frees the older of two live blocks without a second arena
 * (HiLo's sliding window). In plan mode only the accounting moves. */
void tape_compact(Tape *t, TapeMark lo, TapeMark hi, Tensor *keep);

/* The first record above m (in forward order) whose output holds a NaN or Inf, or NULL. */
const TapeRecord *tape_first_nonfinite(const Tape *t, TapeMark m);

/* Peak bytes of activations: data arena + meta arena + grad pool high-water marks are tracked by the
 * MemTracker under MEM_TAG_ACT; these give the sizes a real tape needs after a plan run. */
static inline size_t tape_plan_data_bytes(const Tape *t) { return t->data.high; }
static inline size_t tape_plan_grad_bytes(const Tape *t) { return t->grads.high; }
static inline size_t tape_plan_meta_bytes(const Tape *t) { return t->meta.high; }

#endif
