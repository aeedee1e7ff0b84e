/* predictor.c — evaluation-mode logits of whole batches, one pipeline per thread (see predictor.h), and
 * model_predict (interop.h) on it. Each pipe's tape and scratch come from the same plan-then-allocate sequence
 * as a training session (session.c), for one micro-batch on one thread. */
#include "locus/predictor.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "locus/interop.h"

#define PREDICTOR_META_BYTES ((size_t)4 << 20)

static Tensor *forward_chunk(Model *m, Tape *t, float *x, int n) {
    t->recording = 0;
    return model_forward(m, t, tape_wrap(t, shape4(n, m->in_c, m->in_h, m->in_w), x, 0));
}

Status predictor_open(Predictor *p, Model *m, MemTracker *mt, int threads, int chunk, ErrorMsg *err) {
    memset(p, 0, sizeof *p);
    p->model = m, p->mt = mt;
    p->threads = threads > 0 ? threads : 1;
    p->chunk = chunk > 0 ? chunk : PREDICTOR_CHUNK;
    StepCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.params = m->params;
    ctx.threads = 1;
    ctx.training = 0;
    Tape t;
    MemTracker throwaway = {0};
    Status st = tape_init_plan(&t, &ctx, &throwaway, PREDICTOR_META_BYTES, err);
    if (st) return st;
    Tensor *out = forward_chunk(m, &t, NULL, p->chunk);
    if (!out) {
        st = status_fail(err, t.status ? t.status : LOCUS_ERR_INTERNAL, "%s", t.err.text);
        tape_free(&t);
        return st;
    }
    p->out_per_sample = tensor_numel(out) / (size_t)p->chunk;
    const size_t data = tape_plan_data_bytes(&t), meta = tape_plan_meta_bytes(&t);
    p->scratch_bytes = t.scratch_need;
    tape_free(&t);
    p->pipes = calloc((size_t)p->threads, sizeof *p->pipes);
    if (!p->pipes) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    for (int i = 0; i < p->threads; i++) {
        PredictorPipe *pp = &p->pipes[i];
        pp->ctx = ctx; /* the tape keeps a pointer to it: it lives in the pipe */
        if (p->scratch_bytes) {
            pp->scratch = mem_alloc(&pp->mt, MEM_TAG_SCRATCH, p->scratch_bytes);
            if (!pp->scratch) {
                predictor_close(p);
                return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %zu bytes of scratch", p->scratch_bytes);
            }
            pp->ctx.scratch = pp->scratch, pp->ctx.scratch_bytes = p->scratch_bytes;
        }
        if ((st = tape_init(&pp->tape, &pp->ctx, &pp->mt, data, 0, meta, err))) {
            predictor_close(p);
            return st;
        }
        pp->tape_open = 1;
    }
    /* the caller's tracker sees what the pipes hold, all of it live while the predictor is open */
    for (int i = 0; i < p->threads; i++)
        for (int tag = 0; tag < MEM_TAG_COUNT; tag++) mem_track_use(mt, (MemTag)tag, p->pipes[i].mt.reserved[tag]);
    p->charged = 1;
    return LOCUS_OK;
}

Status predictor_run(Predictor *p, const float *x, int n, float *logits, ErrorMsg *err) {
    Model *m = p->model;
    const size_t in_per = (size_t)m->in_c * (size_t)m->in_h * (size_t)m->in_w;
    const int chunks = (n + p->chunk - 1) / p->chunk;
    for (int i = 0; i < p->threads; i++) p->pipes[i].status = LOCUS_OK;
#pragma omp parallel num_threads(p->threads)
    {
        PredictorPipe *pp = &p->pipes[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            if (pp->status) continue;
            const int s0 = c * p->chunk, cn = n - s0 < p->chunk ? n - s0 : p->chunk;
            TapeMark mark = tape_mark(&pp->tape);
            /* the input is only read; the tape wants a mutable pointer for tensors it may also write */
            Tensor *out = forward_chunk(m, &pp->tape, (float *)x + (size_t)s0 * in_per, cn);
            if (out) memcpy(logits + (size_t)s0 * p->out_per_sample, out->data, tensor_bytes(out));
            else pp->status = pp->tape.status ? pp->tape.status : LOCUS_ERR_INTERNAL;
            tape_release(&pp->tape, mark);
        }
    }
    for (int i = 0; i < p->threads; i++)
        if (p->pipes[i].status) return status_fail(err, p->pipes[i].status, "%s", p->pipes[i].tape.err.text);
    return LOCUS_OK;
}

void predictor_profile(Predictor *p, Profile *prof) {
    if (p->pipes) p->pipes[0].tape.profile = prof;
}

void predictor_close(Predictor *p) {
    if (p->pipes) {
        for (int i = 0; i < p->threads; i++) {
            PredictorPipe *pp = &p->pipes[i];
            if (p->charged)
                for (int tag = 0; tag < MEM_TAG_COUNT; tag++) mem_track_unuse(p->mt, (MemTag)tag, pp->mt.reserved[tag]);
            if (pp->tape_open) tape_free(&pp->tape);
            if (pp->scratch) mem_free(&pp->mt, MEM_TAG_SCRATCH, pp->scratch, p->scratch_bytes);
        }
        free(p->pipes);
    }
    memset(p, 0, sizeof *p);
}

Status model_predict(Model *m, MemTracker *mt, const float *x, int n, int threads, float *logits, ErrorMsg *err) {
    Predictor p;
    Status st = predictor_open(&p, m, mt, threads, 0, err);
    if (st) return st;
    st = predictor_run(&p, x, n, logits, err);
    predictor_close(&p);
    return st;
}
