/* test_golden.c — whole models against PyTorch, tensor by tensor (DESIGN.md §6.2).
 *
 * For each fixture tests/fixtures/golden_<arch>.safetensors (written by tools/ref/make_golden.py, which
 * lists every key) the test builds the model with model_create, copies the fixture's initial weights
 * "w.<name>" into the ParamStore by name (every parameter and buffer must be there, with PyTorch's
 * shape), and checks:
 *   - a training-mode forward: logits, mean cross-entropy loss, every parameter gradient, and the BN
 *     running statistics after that one forward;
 *   - an eval-mode forward on the initial weights: logits_eval;
 *   - 10 steps of SGD (nesterov) and 10 of AdamW on the same batch: the loss before each step and the
 *     final values of the tensors the fixture holds ("sgd_final.*", "adamw_final.*").
 * The reference is float64 PyTorch rounded to float32; a float32 PyTorch run deviates from it by
 * ~2e-6 (relative to a tensor's largest element) at most, so the tolerances below leave ~40x margin.
 * A tensor passes when ||got - ref|| <= TOL_NORM ||ref|| and every element has
 * |got - ref| <= TOL_ABS max|ref| + TOL_REL |ref|; the loss curves are checked per element, relatively.
 * The fixture's weights make the BN and LayerNorm eps matter well above these tolerances (SMALL in
 * make_golden.py), and a mutated fixture (1% off one gradient element, 0.1% off one loss) fails.
 * Every comparison prints one line (name, norm error, worst element), so a failure says which tensor
 * and by how much. Fixture paths are relative to the repository root (where `make test` runs). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/loss.h"
#include "locus/model.h"
#include "locus/optim.h"
#include "locus/safetensors.h"
#include "locus/tape.h"

#define TOL_NORM 1e-4  /* ||got - ref|| / ||ref|| */
#define TOL_ABS 1e-4   /* elementwise, in units of max|ref| */
#define TOL_REL 1e-3   /* elementwise, in units of |ref_i| */
#define TOL_CURVE 1e-4 /* loss curves: |got - ref| / |ref| per step */
#define STEPS 10
#define META_BYTES ((size_t)1 << 20)

typedef struct Golden {
    const char *arch;
    StFile st;
    MemTracker mt;
    ParamStore ps;
    Model model;
    StepCtx ctx;
    float *scratch;
    Tape tape;
    SoftmaxCE ce;
    float *x, *y;
    int n, failures;
} Golden;

/* A copy of fixture tensor `name` (numel floats in *numel), or NULL after reporting a failure. */
static float *fx_read(Golden *g, const char *name, size_t *numel) {
    const StTensor *t = safetensors_find(&g->st, name);
    if (!t) {
        printf("FAIL %s: fixture has no tensor '%s'\n", g->arch, name);
        g->failures++;
        return NULL;
    }
    float *buf = malloc(t->numel * sizeof(float) + 1);
    ErrorMsg err;
    CHECK(buf, "out of memory");
    if (safetensors_read_f32(&g->st, name, NULL, buf, &err)) {
        printf("FAIL %s: %s\n", g->arch, err.text);
        g->failures++;
        free(buf);
        return NULL;
    }
    *numel = t->numel;
    return buf;
}

/* Compares n floats against the reference; prints one line; counts a failure. */
static void compare(Golden *g, const char *what, const float *got, const float *ref, size_t n, size_t n_ref) {
    if (n != n_ref) {
        printf("FAIL %s %-40s size %zu, reference %zu\n", g->arch, what, n, n_ref);
        g->failures++;
        return;
    }
    double dd = 0, rr = 0, rmax = 0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i];
        rr += r * r;
        if (fabs(r) > rmax) rmax = fabs(r);
    }
    size_t worst = 0;
    double worst_ratio = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) finite = 0;
        double d = (double)got[i] - ref[i];
        dd += d * d;
        double allowed = TOL_ABS * rmax + TOL_REL * fabs(ref[i]);
        double ratio = allowed > 0 ? fabs(d) / allowed : (d != 0 ? INFINITY : 0);
        if (ratio > worst_ratio || !isfinite(got[i])) worst_ratio = isfinite(got[i]) ? ratio : INFINITY, worst = i;
    }
    double norm_err = rr > 0 ? sqrt(dd / rr) : sqrt(dd);
    int ok = finite && norm_err <= TOL_NORM && worst_ratio <= 1.0;
    printf("%s %s %-40s rel.norm %.2e  worst [%zu] got %.7g ref %.7g (%.3f of allowed)\n", ok ? "ok  " : "FAIL",
           g->arch, what, norm_err, worst, got[worst], ref[worst], worst_ratio);
    if (!ok) g->failures++;
}

static void compare_fx(Golden *g, const char *name, const float *got, size_t n) {
    size_t n_ref;
    float *ref = fx_read(g, name, &n_ref);
    if (!ref) return;
    compare(g, name, got, ref, n, n_ref);
    free(ref);
}

/* Copies every "w.<name>" into the ParamStore (all parameters and buffers; PyTorch shapes). */
static int load_weights(Golden *g) {
    int missing = 0, in_file = 0;
    for (int i = 0; i < g->st.count; i++)
        if (!strncmp(g->st.tensors[i].name, "w.", 2)) in_file++;
    for (int h = 0; h < g->ps.count; h++) {
        char key[128];
        ErrorMsg err;
        snprintf(key, sizeof key, "w.%s", g->ps.info[h].name);
        if (safetensors_read_f32(&g->st, key, &g->ps.info[h].shape, params_value(&g->ps, h), &err)) {
            printf("FAIL %s: parameter %s: %s\n", g->arch, g->ps.info[h].name, err.text);
            missing++;
        }
    }
    if (in_file != g->ps.count) {
        printf("FAIL %s: the fixture has %d weights, the model %d parameters and buffers\n", g->arch, in_file,
               g->ps.count);
        missing++;
    }
    g->failures += missing;
    return missing == 0;
}

/* Training-mode forward + loss (+ backward when backward != 0) on g->tape above mark m. */
static Tensor *train_forward(Golden *g, Tensor **logits_out, int backward, TapeMark m) {
    Tape *t = &g->tape;
    g->ctx.training = 1;
    t->recording = 1;
    Tensor *x = tape_wrap(t, shape4(g->n, g->model.in_c, g->model.in_h, g->model.in_w), g->x, 0);
    Tensor *y = tape_wrap(t, shape1(g->n), g->y, 0);
    Tensor *logits = model_forward(&g->model, t, x);
    Tensor *loss = tape_call2(t, &g->ce.base, logits, y);
    if (logits_out) *logits_out = logits;
    if (!loss) return NULL;
    if (backward) {
        float one = 1.0f;
        if (tape_backward(t, &loss, &one, 1, m)) return NULL;
    }
    return loss;
}

static Tensor *eval_forward(Golden *g) {
    Tape *t = &g->tape;
    g->ctx.training = 0;
    t->recording = 0;
    Tensor *x = tape_wrap(t, shape4(g->n, g->model.in_c, g->model.in_h, g->model.in_w), g->x, 0);
    Tensor *logits = model_forward(&g->model, t, x);
    g->ctx.training = 1;
    t->recording = 1;
    return logits;
}

/* Plan pass (sizes), then the real tape and scratch, as session.c does. */
static Status open_tape(Golden *g, ErrorMsg *err) {
    MemTracker throwaway = {0};
    Status st = tape_init_plan(&g->tape, &g->ctx, &throwaway, META_BYTES, err);
    if (st) return st;
    TapeMark m = tape_mark(&g->tape);
    float *x = g->x, *y = g->y;
    g->x = g->y = NULL; /* plan mode: no data */
    int ok = train_forward(g, NULL, 1, m) != NULL;
    tape_release(&g->tape, m);
    ok = ok && eval_forward(g) != NULL;
    g->x = x, g->y = y;
    if (!ok) {
        st = status_fail(err, g->tape.status ? g->tape.status : LOCUS_ERR_INTERNAL, "plan pass: %s", g->tape.err.text);
        tape_free(&g->tape);
        return st;
    }
    size_t data = tape_plan_data_bytes(&g->tape), grad = tape_plan_grad_bytes(&g->tape);
    size_t meta = tape_plan_meta_bytes(&g->tape), scratch = g->tape.scratch_need;
    tape_free(&g->tape);
    if (scratch) {
        g->scratch = mem_alloc(&g->mt, MEM_TAG_SCRATCH, scratch);
        if (!g->scratch) return status_fail(err, LOCUS_ERR_OOM, "scratch");
    }
    g->ctx.scratch = g->scratch;
    g->ctx.scratch_bytes = scratch;
    return tape_init(&g->tape, &g->ctx, &g->mt, data, grad, meta, err);
}

static void check_first_step(Golden *g) {
    Tape *t = &g->tape;
    TapeMark m = tape_mark(t);
    params_zero_grads(&g->ps);
    Tensor *logits = NULL;
    Tensor *loss = train_forward(g, &logits, 1, m);
    if (!loss) {
        printf("FAIL %s: training step: %s\n", g->arch, t->err.text);
        g->failures++;
        tape_release(t, m);
        return;
    }
    compare_fx(g, "logits", logits->data, tensor_numel(logits));
    compare_fx(g, "loss", loss->data, 1);
    int n_grads = 0, n_stats = 0;
    for (int h = 0; h < g->ps.count; h++) {
        char key[128];
        const ParamInfo *p = &g->ps.info[h];
        if (p->kind == PARAM_TRAINABLE) {
            snprintf(key, sizeof key, "g.%s", p->name);
            compare_fx(g, key, params_grad(&g->ps, h), p->numel);
            n_grads++;
        } else {
            snprintf(key, sizeof key, "rm.%s", p->name);
            compare_fx(g, key, params_value(&g->ps, h), p->numel);
            n_stats++;
        }
    }
    printf("%s: compared %d gradients and %d running statistics\n", g->arch, n_grads, n_stats);
    tape_release(t, m);
}

static void check_eval(Golden *g) {
    Tape *t = &g->tape;
    TapeMark m = tape_mark(t);
    Tensor *logits = eval_forward(g);
    if (!logits) {
        printf("FAIL %s: eval forward: %s\n", g->arch, t->err.text);
        g->failures++;
    } else {
        compare_fx(g, "logits_eval", logits->data, tensor_numel(logits));
    }
    tape_release(t, m);
}

/* STEPS optimizer steps on the fixture's batch from the initial weights; compares the loss curve and
 * the final tensors "<tag>_final.<name>" the fixture holds. */
static void check_training(Golden *g, const char *tag, const OptimConfig *oc, float lr) {
    if (!load_weights(g)) return;
    Optimizer opt;
    ErrorMsg err;
    if (optim_init(&opt, oc, &g->ps, g->ctx.threads, &err)) {
        printf("FAIL %s: optim_init: %s\n", g->arch, err.text);
        g->failures++;
        return;
    }
    float losses[STEPS];
    Tape *t = &g->tape;
    for (int s = 0; s < STEPS; s++) {
        TapeMark m = tape_mark(t);
        params_zero_grads(&g->ps);
        Tensor *loss = train_forward(g, NULL, 1, m);
        if (!loss) {
            printf("FAIL %s: %s step %d: %s\n", g->arch, tag, s, t->err.text);
            g->failures++;
            tape_release(t, m);
            optim_free(&opt);
            return;
        }
        losses[s] = loss->data[0];
        tape_release(t, m);
        optim_step(&opt, lr);
    }
    optim_free(&opt);

    char key[128];
    size_t n_ref;
    snprintf(key, sizeof key, "%s_losses", tag);
    float *ref = fx_read(g, key, &n_ref);
    if (ref) {
        int ok = n_ref == STEPS;
        for (int s = 0; ok && s < STEPS; s++) ok = fabs((double)losses[s] - ref[s]) <= TOL_CURVE * fabs(ref[s]);
        printf("%s %s %s:", ok ? "ok  " : "FAIL", g->arch, key);
        for (int s = 0; s < STEPS && s < (int)n_ref; s++) printf(" %.6f/%.6f", losses[s], ref[s]);
        printf("  (got/ref)\n");
        if (!ok) g->failures++;
        free(ref);
    }
    int n_final = 0;
    for (int h = 0; h < g->ps.count; h++) {
        snprintf(key, sizeof key, "%s_final.%s", tag, g->ps.info[h].name);
        if (!safetensors_find(&g->st, key)) continue;
        compare_fx(g, key, params_value(&g->ps, h), g->ps.info[h].numel);
        n_final++;
    }
    if (n_final == 0) {
        printf("FAIL %s: the fixture has no %s_final.* tensors for this model's parameters\n", g->arch, tag);
        g->failures++;
    }
}

static int run_golden(const char *arch) {
    Golden g;
    memset(&g, 0, sizeof g);
    g.arch = arch;
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/golden_%s.safetensors", arch);
    ErrorMsg err;
    if (safetensors_open(&g.st, path, &err)) {
        printf("FAIL %s: %s\n", arch, err.text);
        return 1;
    }
    size_t nx = 0, ny = 0;
    g.x = fx_read(&g, "x", &nx);
    g.y = fx_read(&g, "y", &ny);
    const StTensor *xt = safetensors_find(&g.st, "x");
    if (!g.x || !g.y || xt->shape.ndim != 4 || (size_t)xt->shape.d[0] != ny) {
        printf("FAIL %s: fixture batch x/y missing or malformed\n", arch);
        safetensors_close(&g.st);
        free(g.x), free(g.y);
        return 1;
    }
    g.n = xt->shape.d[0];

    params_init(&g.ps, &g.mt);
    ModelSpec spec = {arch, xt->shape.d[1], xt->shape.d[2], xt->shape.d[3], 10};
    Status st = model_create(&g.model, &spec, &g.ps, &err);
    if (!st) st = params_finalize(&g.ps, &err);
    g.ctx.params = &g.ps;
    g.ctx.threads = 2;
    g.ctx.seed = 1;
    g.ctx.training = 1;
    softmax_ce_init(&g.ce, "loss", 0.0f);
    if (!st && load_weights(&g)) st = open_tape(&g, &err);
    if (st) {
        printf("FAIL %s: setup: %s\n", arch, err.text);
        g.failures++;
    } else if (!g.failures) {
        check_first_step(&g);
        if (load_weights(&g)) check_eval(&g); /* BN running stats back to their initial values */
        OptimConfig sgd = {.kind = OPTIM_SGD, .momentum = 0.9f, .nesterov = 1, .weight_decay = 5e-4f};
        check_training(&g, "sgd", &sgd, 0.05f);
        OptimConfig adamw = {.kind = OPTIM_ADAMW, .weight_decay = 0.05f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
        check_training(&g, "adamw", &adamw, 1e-3f);
        tape_free(&g.tape);
    }
    if (g.scratch) mem_free(&g.mt, MEM_TAG_SCRATCH, g.scratch, g.ctx.scratch_bytes);
    if (g.model.params) model_free(&g.model);
    params_free(&g.ps);
    safetensors_close(&g.st);
    free(g.x);
    free(g.y);
    printf("%s %s: %d failing checks\n", g.failures ? "FAILED" : "PASSED", arch, g.failures);
    return g.failures;
}

int main(int argc, char **argv) {
    static const char *const archs[] = {"resnet8", "vit-micro"};
    int failures = 0;
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (argc < 2 || !strcmp(argv[1], archs[i])) failures += run_golden(archs[i]) != 0;
    return failures ? 1 : 0;
}
