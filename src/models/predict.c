/* predict.c — evaluation-mode logits of one batch (see interop.h): the same plan-then-allocate sequence
 * as a training session (session.c), reduced to one inference forward, so the tape and scratch are
 * reserved at exactly the sizes the forward needs and freed before returning. Used by the interop tests
 * and by anything that needs a model's answer on a batch without a training session. */
#include <string.h>

#include "locus/interop.h"

#define PREDICT_META_BYTES ((size_t)4 << 20)

static Tensor *forward_once(Model *m, Tape *t, float *x, int n) {
    t->recording = 0;
    Tensor *in = tape_wrap(t, shape4(n, m->in_c, m->in_h, m->in_w), x, 0);
    return model_forward(m, t, in);
}

Status model_predict(Model *m, MemTracker *mt, const float *x, int n, int threads, float *logits, ErrorMsg *err) {
    StepCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.params = m->params;
    ctx.threads = threads > 0 ? threads : 1;
    ctx.training = 0;
    Tape t;
    MemTracker throwaway = {0};
    Status st = tape_init_plan(&t, &ctx, &throwaway, PREDICT_META_BYTES, err);
    if (st) return st;
    Tensor *out = forward_once(m, &t, NULL, n);
    if (!out) {
        st = status_fail(err, t.status ? t.status : LOCUS_ERR_INTERNAL, "%s", t.err.text);
        tape_free(&t);
        return st;
    }
    size_t data = tape_plan_data_bytes(&t), meta = tape_plan_meta_bytes(&t), scratch = t.scratch_need;
    tape_free(&t);
    if (scratch) {
        ctx.scratch = mem_alloc(mt, MEM_TAG_SCRATCH, scratch);
        if (!ctx.scratch) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %zu bytes of scratch", scratch);
        ctx.scratch_bytes = scratch;
    }
    st = tape_init(&t, &ctx, mt, data, 0, meta, err);
    if (!st) {
        /* the input is only read; the tape wants a mutable pointer for tensors it may also write */
        out = forward_once(m, &t, (float *)x, n);
        if (out)
            memcpy(logits, out->data, tensor_bytes(out));
        else
            st = status_fail(err, t.status ? t.status : LOCUS_ERR_INTERNAL, "%s", t.err.text);
        tape_free(&t);
    }
    if (ctx.scratch) mem_free(mt, MEM_TAG_SCRATCH, ctx.scratch, scratch);
    return st;
}
