/* session.c — builds everything a run owns, in one fixed order, for real runs and for memplan.
 *
 * Order (the same in both modes, so the tracked peaks agree tag by tag and in total):
 *   1. datasets and loader buffers (DATA)
 *   2. model + method parameters (PARAM, GRAD), weights initialised from the seed, then the model's
 *      replaced by --init-from's (a PyTorch state dict) when given (not in plan mode: no file needed)
 *   3. optimizer state (OPTIM)
 *   4. a sizing pass: one training step and one evaluation forward on a plan tape with a throwaway
 *      tracker, which gives the arena, grad-pool, record and scratch sizes
 *   5. the shared scratch workspace (SCRATCH)
 *   6. real mode: the tape, reserved at exactly the planned sizes (ACT, live only while a step runs);
 *      plan mode: the sizing pass again, now charged to the session's tracker. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/interop.h"
#include "locus/fpmode.h"
#include "kernels/conv3x3_wino.h"
#include "kernels/isa.h"
#include "locus/method.h"
#include "train/progress.h"
#include "methods/replace.h"
#include "train/session_internal.h"

#define META_BYTES ((size_t)8 << 20) /* tape records + tensor headers; ~100 B per layer call */

static Status open_data(Session *s, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    const char *dir = c->data_dir[0] ? c->data_dir : NULL;
    DataOptions o;
    data_options_defaults(&o);
    o.cifar100_coarse = !strcmp(c->cifar100_labels, "coarse");
    o.image_size = (int)c->image_size;
    o.decode_threads = (int)c->decode_threads;
    o.image_max_pixels = c->image_max_pixels;
    /* plan mode sizes the datasets from their headers and accounts the loaders' buffers without them */
    Status (*open_set)(Dataset *, const char *, const char *, int, int, const DataOptions *, MemTracker *,
                       ErrorMsg *) = s->plan_only ? dataset_plan : dataset_load_opts;
    Status st = open_set(&s->train_set, c->data, dir, 1, (int)c->limit_train, &o, &s->mt, err);
    if (st) return st;
    st = open_set(&s->test_set, c->data, dir, 0, (int)c->limit_test, &o, &s->mt, err);
    if (st) return st;
    DataPreset train_p, test_p;
    if ((st = data_preset(c->data, 1, &train_p, err)) || (st = data_preset(c->data, 0, &test_p, err))) return st;
    if (!c->augment) train_p = test_p;
    if (s->plan_only) {
        mem_track_use(&s->mt, MEM_TAG_DATA, loader_bytes(&s->train_set, (int)c->batch));
        s->train_loader_open = 1;
        mem_track_use(&s->mt, MEM_TAG_DATA, loader_bytes(&s->test_set, (int)c->batch));
        s->test_loader_open = 1;
        return LOCUS_OK;
    }
    st = loader_init(&s->train_loader, &s->train_set, (int)c->batch, 1, &train_p, (uint64_t)c->seed, &s->mt, err);
    if (st) return st;
    s->train_loader_open = 1;
    st = loader_init(&s->test_loader, &s->test_set, (int)c->batch, 0, &test_p, (uint64_t)c->seed, &s->mt, err);
    if (st) return st;
    s->test_loader_open = 1;
    return LOCUS_OK;
}

static Status open_model(Session *s, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    params_init(&s->ps, &s->mt);
    ModelSpec spec = {c->model, s->train_set.c, s->train_set.h, s->train_set.w, s->train_set.classes};
    Status st = model_create(&s->model, &spec, &s->ps, err);
    if (st) return st;
    const int n_model_params = s->ps.count; /* registered before the method's aux heads */
    s->method = method_find(c->method);
    if (!s->method)
        return status_fail(err, LOCUS_ERR_ARG, "unknown method '%s'\nhint: choose one of %s", c->method,
                           method_list());
    if (c->recompute_units && strcmp(c->method, "e2e"))
        return status_fail(err, LOCUS_ERR_ARG, "--recompute-units is for --method e2e, not %s (a local method already "
                           "keeps one block's activations alive)\nhint: drop --recompute-units, or raise --k",
                           c->method);
    if ((st = s->method->open(s, err))) return st;
    if ((st = replace_open(s, err))) return st;
    if (c->recompute_units && s->model.replace)
        return status_fail(err, LOCUS_ERR_ARG, "--recompute-units does not combine with Replacement Learning yet "
                           "(its weight folding runs inside the units)\nhint: drop --recompute-units or --replace-every");
    if ((st = params_finalize(&s->ps, err))) return st;
    Rng rng;
    rng_seed(&rng, (uint64_t)c->seed);
    model_init_weights(&s->model, &rng);
    if (s->method->init_weights) s->method->init_weights(s, &rng);
    if ((st = replace_init(s, err))) return st;
    if (c->init_from[0] && !s->plan_only &&
        (st = state_dict_load(&s->ps, n_model_params, c->init_from, 0, c->model, err)))
        return status_wrap(err, st, "--init-from: ");
    OptimConfig oc = {0};
    oc.kind = strcmp(c->optimizer, "adamw") ? OPTIM_SGD : OPTIM_ADAMW;
    oc.momentum = (float)c->momentum;
    oc.nesterov = (int)c->nesterov;
    oc.weight_decay = (float)c->weight_decay;
    oc.beta1 = (float)c->beta1, oc.beta2 = (float)c->beta2, oc.eps = 1e-8f;
    return optim_init(&s->opt, &oc, &s->ps, (int)c->threads, err);
}

/* One training step and one evaluation forward at full batch size (none when cfg.no_eval), on whatever tape
 * s->tape is. */
static Status plan_pass(Session *s, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    Tape *t = &s->tape;
    int rows = (int)(c->step_batch > 0 ? c->step_batch : c->batch);
    Shape xs = shape4(rows, s->train_set.c, s->train_set.h, s->train_set.w);
    TapeMark m = tape_mark(t);
    t->recording = 1;
    s->ctx.training = 1;
    Tensor *x = tape_wrap(t, xs, NULL, 0);
    Tensor *y = tape_wrap(t, shape1(rows), NULL, 0);
    StepResult r;
    Status st = s->method->step(s, x, y, &r, err);
    if (st) return st;
    tape_release(t, m);
    if (c->no_eval) return LOCUS_OK;
    xs.d[0] = (int)c->batch;
    Tensor *xe = tape_wrap(t, xs, NULL, 0);
    tape_wrap(t, shape1((int)c->batch), NULL, 0); /* the labels, as session_evaluate wraps them */
    Tensor *logits = session_eval_forward(s, xe);
    if (!logits) return status_fail(err, t->status, "%s", t->err.text);
    tape_release(t, m);
    return LOCUS_OK;
}

static Status size_tape(Session *s, size_t *data, size_t *grad, size_t *meta, size_t *scratch, ErrorMsg *err) {
    MemTracker throwaway = {0};
    Status st = tape_init_plan(&s->tape, &s->ctx, &throwaway, META_BYTES, err);
    if (st) return st;
    s->tape.observe = flops_observe;
    s->tape.observe_ctx = &s->pending_flops;
    s->pending_flops = 0;
    st = plan_pass(s, err);
    *data = tape_plan_data_bytes(&s->tape);
    *grad = tape_plan_grad_bytes(&s->tape);
    *meta = tape_plan_meta_bytes(&s->tape);
    *scratch = s->tape.scratch_need;
    tape_free(&s->tape);
    for (int b = 0; b < s->n_blocks; b++) memset(&s->blocks[b].peak, 0, sizeof s->blocks[b].peak);
    return st;
}

Status session_open(Session *s, const TrainConfig *cfg, int plan_only, ErrorMsg *err) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->plan_only = plan_only;
    s->ctx.params = &s->ps;
    s->ctx.seed = (uint64_t)cfg->seed;
    s->ctx.threads = (int)cfg->threads;
    /* we parallelise over samples ourselves; OpenBLAS inside our loops must stay single-threaded
     * (a team of one thread is not "in parallel" for OpenBLAS, which would then spawn its own) */
    openblas_set_num_threads(1);
    fpmode_flush_denormals((int)cfg->threads, 1); /* FTZ/DAZ: no slow subnormal arithmetic (fpmode.h) */
    Status st = kernel_isa_check_env(err); /* LOCUS_ISA / LOCUS_CONV3X3 misspelt: say so, do not ignore it */
    if (!st) st = conv3x3_wino_check_env(err);
    if (!st) st = open_data(s, err);
    if (!st) st = open_model(s, err);
    size_t data = 0, grad = 0, meta = 0, scratch = 0;
    if (!st) st = size_tape(s, &data, &grad, &meta, &scratch, err);
    if (st) return st;
    s->scratch_bytes = scratch;
    if (plan_only) {
        mem_track_use(&s->mt, MEM_TAG_SCRATCH, scratch);
        if ((st = tape_init_plan(&s->tape, &s->ctx, &s->mt, META_BYTES, err))) return st;
        s->tape_open = 1;
        return plan_pass(s, err);
    }
    if (scratch) {
        s->scratch = mem_alloc(&s->mt, MEM_TAG_SCRATCH, scratch);
        if (!s->scratch) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %zu bytes of scratch", scratch);
    }
    s->ctx.scratch = s->scratch;
    s->ctx.scratch_bytes = scratch;
    if ((st = tape_init(&s->tape, &s->ctx, &s->mt, data, grad, meta, err))) return st;
    s->tape_open = 1;
    return LOCUS_OK;
}

void session_close(Session *s) {
    if (s->tape_open) tape_free(&s->tape);
    if (s->scratch) mem_free(&s->mt, MEM_TAG_SCRATCH, s->scratch, s->scratch_bytes);
    else if (s->plan_only && s->scratch_bytes) mem_track_unuse(&s->mt, MEM_TAG_SCRATCH, s->scratch_bytes);
    if (s->method && s->method->close) s->method->close(s);
    replace_close(s);
    optim_free(&s->opt);
    model_free(&s->model);
    params_free(&s->ps);
    if (s->plan_only) {
        if (s->test_loader_open) mem_track_unuse(&s->mt, MEM_TAG_DATA, loader_bytes(&s->test_set, (int)s->cfg.batch));
        if (s->train_loader_open) mem_track_unuse(&s->mt, MEM_TAG_DATA, loader_bytes(&s->train_set, (int)s->cfg.batch));
    } else {
        if (s->test_loader_open) loader_free(&s->test_loader);
        if (s->train_loader_open) loader_free(&s->train_loader);
    }
    dataset_free(&s->test_set);
    dataset_free(&s->train_set);
    memset(s, 0, sizeof *s);
}

Tensor *session_eval_forward(Session *s, Tensor *x) {
    int was = s->tape.recording;
    s->tape.recording = 0;
    s->ctx.training = 0;
    Tensor *logits = model_forward(&s->model, &s->tape, x);
    s->tape.recording = was;
    s->ctx.training = 1;
    return logits;
}

Status session_plan_pass(Session *s, ErrorMsg *err) { return plan_pass(s, err); }

void session_block_begin(Session *s) {
    mem_window_begin(&s->mt);
    s->pending_flops = 0;
    if (!s->plan_only) s->block_t0 = progress_now();
}

void session_block_end(Session *s, int b) {
    CHECK(b >= 0 && b < s->n_blocks, "block %d of %d", b, s->n_blocks);
    s->blocks[b].flops += s->pending_flops;
    s->pending_flops = 0;
    if (!s->plan_only && !tape_is_plan(&s->tape)) s->blocks[b].seconds += progress_now() - s->block_t0;
    MemReport *p = &s->blocks[b].peak;
    for (int t = 0; t < MEM_TAG_COUNT; t++)
        if (s->mt.window_peak[t] > p->peak[t]) p->peak[t] = s->mt.window_peak[t];
    if (s->mt.window_peak_total > p->peak_total) p->peak_total = s->mt.window_peak_total;
}

void session_block_name(Session *s, int b, int first_unit, int last_unit) {
    snprintf(s->blocks[b].units, sizeof s->blocks[b].units, "%s-%s", s->model.units[first_unit].name,
             s->model.units[last_unit].name);
}

Status train_memplan_blocks(const TrainConfig *cfg, MemReport *out, BlockMem *blocks, int *n_blocks,
                            ErrorMsg *err) {
    Session *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    Status st = session_open(s, cfg, 1, err);
    if (!st) {
        for (int t = 0; t < MEM_TAG_COUNT; t++) out->peak[t] = s->mt.peak[t];
        out->peak_total = s->mt.peak_total;
        if (blocks) memcpy(blocks, s->blocks, sizeof s->blocks[0] * (size_t)s->n_blocks);
        if (n_blocks) *n_blocks = s->n_blocks;
    }
    session_close(s);
    free(s);
    return st;
}

Status train_memplan(const TrainConfig *cfg, MemReport *out, ErrorMsg *err) {
    return train_memplan_blocks(cfg, out, NULL, NULL, err);
}
