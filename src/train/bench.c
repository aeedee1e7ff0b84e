/* bench.c — the timing behind `locus bench` (see bench.h).
 *
 * Setup order mirrors session.c so that memory is allocated once, before the clock starts:
 *   1. the synthetic batch (DATA), 2. model parameters (PARAM, GRAD), 3. SGD momentum state (OPTIM,
 *   train only), 4. a plan pass on a throwaway tracker (one training step), 5. the scratch workspace
 *   (SCRATCH), 6. the tape at exactly the planned sizes (ACT). Inference instead opens a predictor
 *   (predictor.h: micro-batches, one pipeline per thread, what model_predict runs), whose pipes are planned
 *   and reserved the same way, and times predictor_run over the batch.
 * The FLOP count comes from a separate recording plan pass (a plan tape computes nothing, so this is
 * free), whose records carry every layer call's input and output shapes.
 * Invariant: the timed loop performs no allocation (the tape is released back to its mark each step). */
#include "train/bench.h"

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/conv3x3_wino.h"
#include "kernels/isa.h"
#include "layers/attention.h"
#include "layers/conv.h"
#include "layers/conv_bn.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/patch_embed.h"
#include "locus/fpmode.h"
#include "locus/model.h"
#include "locus/optim.h"
#include "locus/predictor.h"
#include "methods/recompute.h"
#include "train/report.h"

#define BENCH_META_BYTES ((size_t)8 << 20) /* plan-tape records; session.c uses the same */

#define K(name, type, lo, hi, choices, help) \
    {#name, type, offsetof(BenchConfig, name), sizeof(((BenchConfig *)0)->name), lo, hi, choices, help}

const CfgKey bench_config_keys[] = {
    K(model, CFG_STRING, 0, 0, "resnet8|resnet20|resnet32|resnet44|resnet56|resnet110|vit-tiny|vit-micro",
      "network architecture"),
    K(mode, CFG_STRING, 0, 0, "train|infer",
      "train: forward + cross-entropy + backward + SGD step; infer: evaluation forward"),
    K(batch, CFG_INT, 1, 65536, NULL, "batch size"),
    K(threads, CFG_INT, 1, 256, NULL, "OpenMP threads"),
    K(steps, CFG_INT, 1, 100000, NULL, "timed steps (the report gives their median, min and max)"),
    K(warmup, CFG_INT, 0, 100000, NULL, "untimed steps before the timed ones"),
    K(in_c, CFG_INT, 1, 4, NULL, "input channels"),
    K(in_hw, CFG_INT, 1, 4096, NULL, "input height = width"),
    K(classes, CFG_INT, 2, 100000, NULL, "classes"),
    K(lr, CFG_FLOAT, 0, 100, NULL, "SGD learning rate (momentum 0.9, no weight decay)"),
    K(seed, CFG_INT, 0, 9007199254740991.0, NULL, "seed of the weights and the synthetic batch"),
    K(peak_gflops, CFG_FLOAT, 0, 1e9, NULL, "FMA peak GFLOP/s for these threads (0 = unknown); adds the fraction of peak"),
    K(json, CFG_BOOL, 0, 1, NULL, "print one JSON object instead of the text report"),
    K(ftz, CFG_BOOL, 0, 1, NULL, "flush denormals to zero (FTZ/DAZ) on every thread, as training does"),
    K(profile, CFG_BOOL, 0, 1, NULL,
      "time every layer's forward and backward over the timed steps: ms and GFLOP/s per layer type and conv geometry"),
    K(profile_layers, CFG_BOOL, 0, 1, NULL, "with --profile: one row per layer instead of per type"),
    K(recompute_units, CFG_BOOL, 0, 1, NULL,
      "train: keep only each unit's output and evaluate every unit again in the backward (as locus train "
      "--recompute-units)"),
    {NULL, CFG_INT, 0, 0, 0, 0, NULL, NULL},
};

#undef K

void bench_config_defaults(BenchConfig *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "resnet32");
    snprintf(c->mode, sizeof c->mode, "train");
    c->batch = 128;
    c->threads = 1;
    c->steps = 10;
    c->warmup = 2;
    c->in_c = 3, c->in_hw = 32, c->classes = 10;
    c->lr = 0.01;
    c->seed = 1;
    c->ftz = 1;
}

/* CPU seconds of every thread of the process: on a shared machine the wall time measures the load too. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Multiply-accumulates of one layer call, from its type and shapes. Layers that are not listed
 * (BN, ReLU, pools, adds, norms, losses) count zero, as the spec's accounting says. */
double bench_record_macs(const TapeRecord *r) {
    const Layer *l = r->layer;
    const char *type = l->ops->type;
    double out = (double)tensor_numel(r->out);
    if (!strcmp(type, "conv2d")) {
        const Conv2d *c = (const Conv2d *)l;
        return out * c->cin * c->k * c->k;
    }
    const Conv2d *fused = conv_bn_conv(l); /* inference fusions: the conv's MACs (BN and adds count zero) */
    if (fused) return out * fused->cin * fused->k * fused->k;
    if (!strcmp(type, "linear")) return out * ((const Linear *)l)->in;
    if (!strcmp(type, "patch_embed")) {
        const PatchEmbed *p = (const PatchEmbed *)l;
        double patches = (double)r->in[0]->shape.d[0] * p->grid_h * p->grid_w;
        return patches * p->d * p->in_c * p->patch * p->patch;
    }
    if (!strcmp(type, "attention_cls")) { /* token 0's row only (attention_cls.c) */
        const Shape *s = &r->in[0]->shape;   /* N x T x D */
        double n = s->d[0], t = s->d[1], d = ((const Attention *)l)->d;
        return n * t * d * 2 * d /* keys and values of every token */
               + 2 * n * d * d   /* token 0's query, output projection */
               + 2 * n * t * d;  /* its scores and context over all heads */
    }
    if (!strcmp(type, "attention")) {
        const Shape *s = &r->in[0]->shape; /* N x T x D */
        double n = s->d[0], t = s->d[1], d = ((const Attention *)l)->d;
        return n * t * d * 3 * d  /* qkv projection */
               + n * t * d * d    /* output projection */
               + 2 * n * t * t * d; /* QK^T and AV over all heads (H * Dh = D) */
    }
    return 0;
}

double bench_tape_flops(const Tape *t, TapeMark m) {
    double macs = 0;
    for (const TapeRecord *r = t->top; r && r != m.top; r = r->prev) macs += bench_record_macs(r);
    return 2 * macs;
}

size_t bench_rss_peak_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) {
            kib = (size_t)strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib * 1024;
}

typedef struct Bench {
    const BenchConfig *cfg;
    int train;
    MemTracker mt;
    ParamStore ps;
    Model model;
    int model_open;
    Optimizer opt;
    int opt_open;
    StepCtx ctx;
    SoftmaxCE ce;
    float *x, *y;     /* the synthetic batch (DATA) */
    size_t x_bytes, y_bytes;
    float *scratch;
    size_t scratch_bytes;
    Tape tape;        /* train */
    int tape_open;
    Predictor pred;   /* infer: micro-batches, one pipeline per thread (predictor.h), as model_predict */
    int pred_open;
    float *logits;    /* infer: the batch's logits (DATA) */
    size_t logits_bytes;
    Profile prof;
    int prof_open;
    double param_zero_s, optim_s; /* sums over the timed steps (profiling only) */
    double flop_fwd_per_img;      /* from count_flops: model_forward's */
    double flop_fwd_per_img_network; /* the units one by one, every token */
} Bench;

static Shape input_shape(const Bench *b) {
    const BenchConfig *c = b->cfg;
    return shape4((int)c->batch, (int)c->in_c, (int)c->in_hw, (int)c->in_hw);
}

/* One step of the benchmark's mode on b->tape (plan or real), without the optimizer: train = forward +
 * loss + backward (the loss value goes to *loss_out on a real tape; the tape left at its entry mark),
 * infer = the predictor's logits of the batch. */
static Status bench_step(Bench *b, double *loss_out, ErrorMsg *err) {
    if (!b->train) return predictor_run(&b->pred, b->x, (int)b->cfg->batch, b->logits, err);
    Tape *t = &b->tape;
    TapeMark m = tape_mark(t);
    Tensor *x = tape_wrap(t, input_shape(b), b->x, 0);
    Tensor *y = tape_wrap(t, shape1((int)b->cfg->batch), b->y, 0);
    if (b->train && b->cfg->recompute_units) {
        StepResult r = {0};
        Status st = e2e_recompute_step(&b->model, t, &b->ce.base, x, y, &r, err);
        *loss_out = r.loss;
        tape_release(t, m);
        return st;
    }
    Tensor *logits = model_forward(&b->model, t, x);
    Tensor *loss = tape_call2(t, &b->ce.base, logits, y);
    if (!tape_ok(t)) {
        Status st = status_fail(err, t->status, "%s", t->err.text);
        tape_release(t, m);
        return st;
    }
    if (loss->data && !isfinite(loss->data[0])) {
        double v = loss->data[0];
        tape_release(t, m);
        return status_fail(err, LOCUS_ERR_NUMERIC, "the loss is not finite (%g)\nhint: lower --lr", v);
    }
    float one = 1.0f;
    Status st = tape_backward(t, &loss, &one, 1, m);
    if (st) st = status_fail(err, st, "%s", t->err.text);
    if (loss->data) *loss_out = loss->data[0];
    tape_release(t, m);
    return st;
}

static void set_mode(Bench *b) {
    b->ctx.training = b->train;
    b->tape.recording = b->train;
}

/* Forward FLOPs per image and the number of layer calls of one forward, from a recording forward on a plan
 * tape with a throwaway tracker: model_forward's (what the step computes), or with `units` every unit one by one
 * (the whole network). */
static Status count_flops(Bench *b, int units, double *per_img, int *calls, ErrorMsg *err) {
    MemTracker throwaway = {0};
    StepCtx ctx = b->ctx;
    ctx.training = 1;
    Tape plan, *t = &plan;
    Status st = tape_init_plan(t, &ctx, &throwaway, BENCH_META_BYTES, err);
    if (st) return st;
    TapeMark m = tape_mark(t);
    Tensor *y = tape_wrap(t, input_shape(b), NULL, 0);
    if (units)
        for (int u = 0; u < b->model.n_units && y; u++) y = b->model.unit_forward(&b->model, t, u, y);
    else
        y = model_forward(&b->model, t, y);
    if (!y || !tape_ok(t)) st = status_fail(err, t->status, "%s", t->err.text);
    else {
        *per_img = bench_tape_flops(t, m) / (double)b->cfg->batch;
        *calls = 0;
        for (const TapeRecord *r = t->top; r && r != m.top; r = r->prev) ++*calls;
    }
    tape_free(t);
    return st;
}

/* The FLOPs per image; with --profile, a profile the caller attaches, off during the warm-up steps. One slot per
 * layer call of a recorded forward (+ the loss) is enough: layers are called at least once (an inference tape
 * records nothing, so its meta size would not do). */
static Status open_flops_profile(Bench *b, ErrorMsg *err) {
    int calls = 0, unit_calls = 0;
    Status st = count_flops(b, 0, &b->flop_fwd_per_img, &calls, err);
    if (!st) st = count_flops(b, 1, &b->flop_fwd_per_img_network, &unit_calls, err);
    if (st || !b->cfg->profile) return st;
    if ((st = profile_init(&b->prof, calls + 2, err))) return st;
    b->prof_open = 1;
    b->prof.enabled = 0;
    return LOCUS_OK;
}

/* Inference: the predictor's pipes and the logits, then the profile (pipe 0's layer calls). */
static Status bench_open_infer(Bench *b, ErrorMsg *err) {
    const BenchConfig *c = b->cfg;
    Status st = predictor_open(&b->pred, &b->model, &b->mt, (int)c->threads, 0, err);
    if (st) return st;
    b->pred_open = 1;
    b->logits_bytes = (size_t)c->batch * b->pred.out_per_sample * sizeof(float);
    b->logits = mem_alloc(&b->mt, MEM_TAG_DATA, b->logits_bytes);
    if (!b->logits) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate the %zu-byte logits", b->logits_bytes);
    if ((st = open_flops_profile(b, err))) return st;
    if (b->prof_open) predictor_profile(&b->pred, &b->prof);
    return LOCUS_OK;
}

static Status bench_open(Bench *b, ErrorMsg *err) {
    const BenchConfig *c = b->cfg;
    b->train = !strcmp(c->mode, "train");
    b->ctx.params = &b->ps;
    b->ctx.seed = (uint64_t)c->seed;
    b->ctx.threads = (int)c->threads;
    /* as in session.c: we parallelise over samples; OpenBLAS inside our loops stays single-threaded */
    openblas_set_num_threads(1);
    fpmode_flush_denormals((int)c->threads, c->ftz);

    /* 1. the synthetic batch: N(0,1) pixels, uniform labels */
    size_t nx = (size_t)c->batch * (size_t)c->in_c * (size_t)c->in_hw * (size_t)c->in_hw;
    b->x_bytes = nx * sizeof(float), b->y_bytes = (size_t)c->batch * sizeof(float);
    b->x = mem_alloc(&b->mt, MEM_TAG_DATA, b->x_bytes);
    b->y = mem_alloc(&b->mt, MEM_TAG_DATA, b->y_bytes);
    if (!b->x || !b->y) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate the %zu-byte batch", b->x_bytes);
    Rng rng;
    rng_seed(&rng, (uint64_t)c->seed ^ 0x5eedba7c4ULL);
    for (size_t i = 0; i < nx; i++) b->x[i] = rng_normal(&rng);
    for (int64_t i = 0; i < c->batch; i++) b->y[i] = (float)rng_below(&rng, (uint64_t)c->classes);

    /* 2. model; 3. optimizer */
    params_init(&b->ps, &b->mt);
    ModelSpec spec = {c->model, (int)c->in_c, (int)c->in_hw, (int)c->in_hw, (int)c->classes};
    Status st = model_create(&b->model, &spec, &b->ps, err);
    if (st) return st;
    b->model_open = 1;
    if ((st = params_finalize(&b->ps, err))) return st;
    rng_seed(&rng, (uint64_t)c->seed);
    model_init_weights(&b->model, &rng);
    softmax_ce_init(&b->ce, "loss", 0.0f);
    if (b->train) {
        OptimConfig oc = {0};
        oc.kind = OPTIM_SGD;
        oc.momentum = 0.9f;
        if ((st = optim_init(&b->opt, &oc, &b->ps, (int)c->threads, err))) return st;
        b->opt_open = 1;
    }

    if (!b->train) return bench_open_infer(b, err);

    /* 4. sizing pass on a throwaway tracker */
    MemTracker throwaway = {0};
    b->ctx.training = b->train;
    if ((st = tape_init_plan(&b->tape, &b->ctx, &throwaway, BENCH_META_BYTES, err))) return st;
    set_mode(b);
    double unused = 0;
    st = bench_step(b, &unused, err);
    size_t data = tape_plan_data_bytes(&b->tape), grad = tape_plan_grad_bytes(&b->tape);
    size_t meta = tape_plan_meta_bytes(&b->tape), scratch = b->tape.scratch_need;
    tape_free(&b->tape);
    if (st) return st;

    /* 5. scratch; 6. the real tape */
    if (scratch) {
        b->scratch = mem_alloc(&b->mt, MEM_TAG_SCRATCH, scratch);
        if (!b->scratch) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %zu bytes of scratch", scratch);
    }
    b->scratch_bytes = scratch;
    b->ctx.scratch = b->scratch;
    b->ctx.scratch_bytes = scratch;
    if ((st = tape_init(&b->tape, &b->ctx, &b->mt, data, grad, meta, err))) return st;
    b->tape_open = 1;
    set_mode(b);
    if ((st = open_flops_profile(b, err))) return st;
    if (b->prof_open) b->tape.profile = &b->prof;
    return LOCUS_OK;
}

static void bench_close(Bench *b) {
    if (b->prof_open) profile_free(&b->prof);
    if (b->tape_open) tape_free(&b->tape);
    if (b->pred_open) predictor_close(&b->pred);
    if (b->logits) mem_free(&b->mt, MEM_TAG_DATA, b->logits, b->logits_bytes);
    if (b->scratch) mem_free(&b->mt, MEM_TAG_SCRATCH, b->scratch, b->scratch_bytes);
    if (b->opt_open) optim_free(&b->opt);
    if (b->model_open) model_free(&b->model);
    params_free(&b->ps);
    if (b->x) mem_free(&b->mt, MEM_TAG_DATA, b->x, b->x_bytes);
    if (b->y) mem_free(&b->mt, MEM_TAG_DATA, b->y, b->y_bytes);
}

static Status bench_loop(Bench *b, double *times, double *cpu_times, double *loss_last, ErrorMsg *err) {
    const BenchConfig *c = b->cfg;
    int64_t total = c->warmup + c->steps;
    for (int64_t i = 0; i < total; i++) {
        const int timed = i >= c->warmup;
        if (b->prof_open) b->prof.enabled = timed;
        double c0 = cpu_s(), t0 = now_s();
        b->ctx.step = (uint64_t)i;
        if (b->train) params_zero_grads(&b->ps);
        double t1 = now_s();
        Status st = bench_step(b, loss_last, err);
        if (st) return status_wrap(err, st, "step %lld: ", (long long)i + 1);
        double t2 = now_s();
        if (b->train) optim_step(&b->opt, (float)c->lr);
        double t3 = now_s();
        if (timed) {
            times[i - c->warmup] = t3 - t0;
            cpu_times[i - c->warmup] = cpu_s() - c0;
            b->param_zero_s += t1 - t0;
            b->optim_s += t3 - t2;
        }
    }
    return LOCUS_OK;
}

Status bench_run(const BenchConfig *c, BenchResult *r, ErrorMsg *err) {
    memset(r, 0, sizeof *r);
    /* the CLI has checked already; a library caller may not have */
    Status st = config_validate(c, bench_config_keys, err);
    if (!st) st = kernel_isa_check_env(err);
    if (!st) st = conv3x3_wino_check_env(err);
    if (st) return st;
    double *times = malloc(sizeof *times * (size_t)c->steps * 2);
    if (!times) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    double *cpu_times = times + c->steps;
    Bench b;
    memset(&b, 0, sizeof b);
    b.cfg = c;
    st = bench_open(&b, err);
    if (!st) r->gflop_fwd_per_img = b.flop_fwd_per_img, r->gflop_fwd_per_img_network = b.flop_fwd_per_img_network;
    if (!st) st = bench_loop(&b, times, cpu_times, &r->loss_last, err);
    if (!st) {
        qsort(times, (size_t)c->steps, sizeof *times, cmp_double);
        size_t n = (size_t)c->steps;
        r->step_s_min = times[0];
        r->step_s_max = times[n - 1];
        r->step_s_median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
        r->img_per_s = (double)c->batch / r->step_s_median;
        r->gflop_fwd_per_img *= 1e-9;
        r->gflop_fwd_per_img_network *= 1e-9;
        r->gflop_per_img = (b.train ? 3 : 1) * r->gflop_fwd_per_img;
        r->gflop_per_s = r->gflop_per_img * r->img_per_s;
        r->peak_fraction = c->peak_gflops > 0 ? r->gflop_per_s / c->peak_gflops : 0;
        r->mem = report_from_tracker(&b.mt);
        r->params = params_count_trainable(&b.ps);
        r->rss_peak_bytes = bench_rss_peak_bytes();
    }
    if (!st) {
        qsort(cpu_times, (size_t)c->steps, sizeof *cpu_times, cmp_double);
        size_t n = (size_t)c->steps;
        r->cpu_s_median = n % 2 ? cpu_times[n / 2] : 0.5 * (cpu_times[n / 2 - 1] + cpu_times[n / 2]);
    }
    if (!st && b.prof_open) {
        double sum = 0;
        for (size_t i = 0; i < (size_t)c->steps; i++) sum += times[i];
        double k = 1.0 / (double)c->steps;
        st = bench_profile_build(&b.prof, c->profile_layers, (int)c->steps, sum * k, b.param_zero_s * k,
                                 b.optim_s * k, &r->profile, err);
    }
    bench_close(&b);
    free(times);
    return st;
}

cJSON *bench_result_json(const BenchConfig *c, const BenchResult *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "engine", "locus");
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddStringToObject(o, "mode", c->mode);
    cJSON_AddNumberToObject(o, "batch", (double)c->batch);
    cJSON_AddNumberToObject(o, "threads", (double)c->threads);
    cJSON_AddNumberToObject(o, "steps", (double)c->steps);
    cJSON_AddNumberToObject(o, "warmup", (double)c->warmup);
    cJSON_AddNumberToObject(o, "img_per_s", r->img_per_s);
    cJSON_AddNumberToObject(o, "step_s_median", r->step_s_median);
    cJSON_AddNumberToObject(o, "step_s_min", r->step_s_min);
    cJSON_AddNumberToObject(o, "step_s_max", r->step_s_max);
    cJSON_AddNumberToObject(o, "cpu_s_median", r->cpu_s_median);
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    cJSON_AddNumberToObject(o, "gflop_fwd_per_img", r->gflop_fwd_per_img);
    cJSON_AddNumberToObject(o, "gflop_fwd_per_img_network", r->gflop_fwd_per_img_network);
    cJSON_AddNumberToObject(o, "gflop_per_img", r->gflop_per_img);
    cJSON_AddNumberToObject(o, "gflop_per_s", r->gflop_per_s);
    if (c->peak_gflops > 0) {
        cJSON_AddNumberToObject(o, "peak_gflops", c->peak_gflops);
        cJSON_AddNumberToObject(o, "peak_fraction", r->peak_fraction);
    }
    if (!strcmp(c->mode, "train")) cJSON_AddNumberToObject(o, "loss_last", r->loss_last);
    cJSON_AddBoolToObject(o, "ftz", c->ftz);
    cJSON_AddStringToObject(o, "isa", kernel_isa_name(kernel_isa()));
    cJSON_AddStringToObject(o, "conv3x3", conv3x3_algorithm(kernel_isa()));
    cJSON_AddNumberToObject(o, "rss_peak_bytes", (double)r->rss_peak_bytes);
    cJSON_AddItemToObject(o, "mem_peak_bytes", report_mem_json(&r->mem));
    if (r->profile.rows) cJSON_AddItemToObject(o, "profile", bench_profile_json(&r->profile));
    return o;
}

void bench_print(FILE *f, const BenchConfig *c, const BenchResult *r) {
    char rss[32], tot[32];
    fprintf(f, "locus bench: %s %s, batch %lld, %lld threads, %lld steps after %lld warm-up, FTZ/DAZ %s\n", c->model,
            c->mode, (long long)c->batch, (long long)c->threads, (long long)c->steps, (long long)c->warmup,
            c->ftz ? "on" : "off");
    fprintf(f, "  kernels    %s; 3x3 stride-1 convolutions: %s\n", kernel_isa_name(kernel_isa()), conv3x3_algorithm(kernel_isa()));
    fprintf(f, "  step time  median %.4f s  (min %.4f, max %.4f); CPU time of all threads, median %.4f s\n",
            r->step_s_median, r->step_s_min, r->step_s_max, r->cpu_s_median);
    fprintf(f, "  speed      %.1f img/s, %.2f GFLOP/s (%.4f GFLOP/img: %s)", r->img_per_s, r->gflop_per_s,
            r->gflop_per_img, strcmp(c->mode, "train") ? "forward" : "3 x forward");
    if (c->peak_gflops > 0) fprintf(f, ", %.1f%% of the %.0f GFLOP/s peak", 100 * r->peak_fraction, c->peak_gflops);
    if (r->gflop_fwd_per_img_network > r->gflop_fwd_per_img * (1 + 1e-9))
        fprintf(f, "\n             (the network is %.4f GFLOP/img forward; the step computes %.4f: the ViT's last "
                "block for the class token only)", r->gflop_fwd_per_img_network, r->gflop_fwd_per_img);
    fprintf(f, "\n  memory     peak RSS %s; tracked peak %s:", mem_format(r->rss_peak_bytes, rss, sizeof rss),
            mem_format(r->mem.peak_total, tot, sizeof tot));
    for (int t = 0; t < MEM_TAG_COUNT; t++)
        if (r->mem.peak[t]) fprintf(f, " %s %s", mem_tag_name((MemTag)t), mem_format(r->mem.peak[t], tot, sizeof tot));
    fprintf(f, "\n");
    bench_profile_print(f, &r->profile);
}

void bench_result_free(BenchResult *r) { bench_profile_free(&r->profile); }
