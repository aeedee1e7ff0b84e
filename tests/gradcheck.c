/* gradcheck.c — finite-difference gradient checks (see gradcheck.h). */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/rng.h"

#define MAX_COVERED 64
static const char *covered[MAX_COVERED];
static int n_covered;

int gradcheck_covered(const char *type) {
    for (int i = 0; i < n_covered; i++)
        if (!strcmp(covered[i], type)) return 1;
    return 0;
}

static void note_types(const Tape *t) {
    for (const TapeRecord *r = t->top; r; r = r->prev)
        if (!gradcheck_covered(r->layer->ops->type) && n_covered < MAX_COVERED)
            covered[n_covered++] = r->layer->ops->type;
}

typedef struct Env {
    const GradcheckCase *c;
    Tape tape;
    StepCtx ctx;
    float *inputs[4];
    float *R;
    size_t out_numel;
} Env;

static double loss_once(Env *e) {
    TapeMark m = tape_mark(&e->tape);
    Tensor *in[4];
    for (int i = 0; i < e->c->n_in; i++) in[i] = tape_wrap(&e->tape, e->c->in_shape[i], e->inputs[i], 0);
    Tensor *out = e->c->fn(e->c->user, &e->tape, in, e->c->n_in);
    CHECK(out && tape_ok(&e->tape), "%s: forward failed: %s", e->c->name, e->tape.err.text);
    double L = 0;
    for (size_t i = 0; i < e->out_numel; i++) L += (double)out->data[i] * e->R[i];
    tape_release(&e->tape, m);
    return L;
}

static int compare(Env *e, const char *what, float *x, const float *analytic, size_t n, Rng *rng) {
    const GradcheckCase *c = e->c;
    int checks = c->max_checks ? c->max_checks : 40;
    double eps = c->eps > 0 ? c->eps : 1e-2, rtol = c->rtol > 0 ? c->rtol : 3e-2;
    size_t count = n < (size_t)checks ? n : (size_t)checks;
    double *num = malloc(sizeof(double) * count), *ana = malloc(sizeof(double) * count);
    size_t *idx = malloc(sizeof(size_t) * count);
    double scale = 0;
    for (size_t k = 0; k < count; k++) {
        size_t i = n <= (size_t)checks ? k : (size_t)rng_below(rng, n);
        idx[k] = i;
        float saved = x[i];
        x[i] = saved + (float)eps;
        double lp = loss_once(e);
        x[i] = saved - (float)eps;
        double lm = loss_once(e);
        x[i] = saved;
        num[k] = (lp - lm) / (2 * eps);
        ana[k] = analytic ? analytic[i] : 0.0;
        if (fabs(num[k]) > scale) scale = fabs(num[k]);
        if (fabs(ana[k]) > scale) scale = fabs(ana[k]);
    }
    int bad = 0;
    double worst = 0;
    size_t worst_k = 0;
    for (size_t k = 0; k < count; k++) {
        double err = fabs(num[k] - ana[k]);
        double tol = rtol * (fabs(num[k]) + 0.1 * scale) + 1e-4;
        if (err / tol > worst) worst = err / tol, worst_k = k;
        if (err > tol) bad = 1;
    }
    printf("  %-8s %-40s n=%-7zu checked=%-3zu worst err/tol=%.3f (idx %zu: analytic %.6g numeric %.6g)\n",
           bad ? "FAIL" : "ok", what, n, count, worst, count ? idx[worst_k] : 0, count ? ana[worst_k] : 0,
           count ? num[worst_k] : 0);
    free(num);
    free(ana);
    free(idx);
    return bad;
}

int gradcheck_run(const GradcheckCase *c) {
    Env e;
    memset(&e, 0, sizeof e);
    e.c = c;
    MemTracker mt = {0};
    e.ctx.params = c->params;
    e.ctx.training = !c->eval_mode;
    e.ctx.seed = c->seed ^ 0x5eedULL;
    e.ctx.threads = 1;
    e.ctx.scratch_bytes = (size_t)16 << 20;
    e.ctx.scratch = malloc(e.ctx.scratch_bytes);
    ErrorMsg err;
    CHECK(tape_init(&e.tape, &e.ctx, &mt, (size_t)48 << 20, (size_t)48 << 20, (size_t)1 << 20, &err) == LOCUS_OK,
          "%s", err.text);
    /* eval mode changes what layers compute (BN running statistics, no dropout), not whether backward
     * runs: the tape records in both modes, so eval-mode cases are checked too */
    e.tape.recording = 1;
    Rng rng;
    rng_seed(&rng, c->seed + 1);
    for (int i = 0; i < c->n_in; i++) {
        size_t n = shape_numel(&c->in_shape[i]);
        e.inputs[i] = malloc(sizeof(float) * n);
        for (size_t k = 0; k < n; k++) e.inputs[i][k] = c->in_data[i] ? c->in_data[i][k] : rng_normal(&rng);
    }
    /* analytic pass */
    printf("gradcheck %s\n", c->name);
    TapeMark m = tape_mark(&e.tape);
    Tensor *in[4];
    for (int i = 0; i < c->n_in; i++) in[i] = tape_wrap(&e.tape, c->in_shape[i], e.inputs[i], !c->in_no_grad[i]);
    Tensor *out = c->fn(c->user, &e.tape, in, c->n_in);
    CHECK(out && tape_ok(&e.tape), "%s: forward failed: %s", c->name, e.tape.err.text);
    note_types(&e.tape);
    e.out_numel = tensor_numel(out);
    e.R = malloc(sizeof(float) * e.out_numel);
    for (size_t k = 0; k < e.out_numel; k++) e.R[k] = rng_normal(&rng);
    if (c->params) params_zero_grads(c->params);
    int bad = 0, compared = 0;
    {
        CHECK(tape_backward_from(&e.tape, out, e.R, m) == LOCUS_OK, "%s: backward failed: %s", c->name,
              e.tape.err.text);
        float *dins[4];
        for (int i = 0; i < c->n_in; i++) {
            size_t n = shape_numel(&c->in_shape[i]);
            dins[i] = NULL;
            if (!c->in_no_grad[i]) {
                dins[i] = malloc(sizeof(float) * n);
                memcpy(dins[i], in[i]->grad, sizeof(float) * n);
            }
        }
        size_t total_pg = c->params ? c->params->numel_trainable : 0;
        float *pgrads = total_pg ? malloc(sizeof(float) * total_pg) : NULL;
        if (pgrads) memcpy(pgrads, c->params->grads, sizeof(float) * total_pg);
        tape_release(&e.tape, m);
        for (int i = 0; i < c->n_in; i++) {
            char what[64];
            snprintf(what, sizeof what, "input %d", i);
            if (dins[i]) bad += compare(&e, what, e.inputs[i], dins[i], shape_numel(&c->in_shape[i]), &rng), compared++;
            free(dins[i]);
        }
        for (int p = 0; c->params && p < c->params->count; p++) {
            const ParamInfo *pi = &c->params->info[p];
            if (pi->kind != PARAM_TRAINABLE) continue;
            bad += compare(&e, pi->name, params_value(c->params, p), pgrads + pi->grad_offset, pi->numel, &rng);
            compared++;
        }
        free(pgrads);
    }
    if (compared == 0) {
        printf("  FAIL     %s compared no tensor (nothing to differentiate?)\n", c->name);
        bad++;
    }
    CHECK(e.tape.grads.live == 0, "%s: %zu bytes of activation gradients still held after release", c->name,
          e.tape.grads.live);
    tape_free(&e.tape);
    CHECK(mt.live[MEM_TAG_ACT] == 0, "%s: ACT not back to zero", c->name);
    for (int i = 0; i < c->n_in; i++) free(e.inputs[i]);
    free(e.R);
    free(e.ctx.scratch);
    return bad;
}
