/* momentum.c — MAN / MAN++ auxiliary inputs (see momentum.h). The EMA copy's parameters pair with N's by
 * registration order (model_copy_unit guarantees the same order and shapes). */
#include "methods/momentum.h"

#include <stdio.h>
#include <string.h>

Status momentum_aux_create(MomentumAux *a, Model *m, int next_unit, ParamStore *ps, const char *prefix, int scaled,
                           ErrorMsg *err) {
    memset(a, 0, sizeof *a);
    char name[96];
    snprintf(name, sizeof name, "%s.lb", prefix);
    Status st = model_copy_unit(m, next_unit, ps, name, PARAM_TRAINABLE, &a->lb, err);
    if (st) return st;
    snprintf(name, sizeof name, "%s.ema", prefix);
    if ((st = model_copy_unit(m, next_unit, ps, name, PARAM_EMA, &a->ema, err))) return st;
    a->scaled = scaled;
    snprintf(name, sizeof name, "%s.mix", prefix);
    if (scaled) scaled_pair_init(&a->mix, ps, name);
    else add_init(&a->add, name);
    return LOCUS_OK;
}

static void copy_from_unit(const UnitCopy *c, const Model *m, ParamStore *ps) {
    const ModelUnit *u = &m->units[c->unit];
    for (int i = 0; i < c->param_count; i++) {
        int src = u->param_first + i, dst = c->param_first + i;
        if (ps->info[src].kind == PARAM_BUFFER) continue;
        memcpy(params_value(ps, dst), params_value(ps, src), ps->info[src].numel * sizeof(float));
    }
}

void momentum_aux_init_weights(const MomentumAux *a, const Model *m, ParamStore *ps, Rng *rng, int copy) {
    unit_copy_init_weights(m, &a->lb, ps, rng);
    unit_copy_init_weights(m, &a->ema, ps, rng);
    if (copy) {
        copy_from_unit(&a->lb, m, ps);
        copy_from_unit(&a->ema, m, ps);
    }
    if (a->scaled) scaled_pair_reset(&a->mix, ps);
}

Tensor *momentum_aux_forward(const MomentumAux *a, const Model *m, Tape *t, Tensor *x) {
    Tensor *l = unit_copy_forward(m, &a->lb, t, x);
    Tensor *e = unit_copy_forward(m, &a->ema, t, x);
    return tape_call2(t, a->scaled ? &a->mix.base : &a->add.base, l, e);
}

void momentum_ema_update(const MomentumAux *a, const Model *m, ParamStore *ps, float decay) {
    const int src0 = m->units[a->ema.unit].param_first;
    const float keep = decay, take = 1.0f - decay;
    for (int i = 0; i < a->ema.param_count; i++) {
        const int e = a->ema.param_first + i;
        if (ps->info[e].kind != PARAM_EMA) continue; /* BN running statistics stay the copy's own */
        float *dst = params_value(ps, e);
        const float *src = params_value(ps, src0 + i);
        for (size_t k = 0; k < ps->info[e].numel; k++) dst[k] = keep * dst[k] + take * src[k];
    }
}

void momentum_aux_free(MomentumAux *a) {
    unit_copy_free(&a->lb);
    unit_copy_free(&a->ema);
}

Status momentum_vit_head_create(MomentumVitHead *h, Model *m, int copy_unit, ParamStore *ps, const char *prefix,
                                ErrorMsg *err) {
    memset(h, 0, sizeof *h);
    char name[96];
    snprintf(name, sizeof name, "%s.lb1", prefix);
    Status st = model_copy_unit(m, copy_unit, ps, name, PARAM_TRAINABLE, &h->lb1, err);
    if (st) return st;
    const int d = m->units[copy_unit].out_c;
    snprintf(name, sizeof name, "%s.norm", prefix);
    layernorm_init(&h->norm, ps, name, d, 1e-6f);
    snprintf(name, sizeof name, "%s.cls", prefix);
    token_select_init(&h->cls, name);
    snprintf(name, sizeof name, "%s.fc", prefix);
    linear_init(&h->fc, ps, name, d, m->classes, 1);
    return LOCUS_OK;
}

void momentum_vit_head_init_weights(const MomentumVitHead *h, const Model *m, ParamStore *ps, Rng *rng) {
    unit_copy_init_weights(m, &h->lb1, ps, rng);
    layernorm_reset(&h->norm, ps);
    linear_init_weights(&h->fc, ps, rng);
}

Tensor *momentum_vit_head_forward(const MomentumVitHead *h, const Model *m, Tape *t, Tensor *y) {
    Tensor *z = unit_copy_forward(m, &h->lb1, t, y);
    z = tape_call1(t, &h->norm.base, z);
    return tape_call1(t, &h->fc.base, tape_call1(t, &h->cls.base, z));
}

void momentum_vit_head_free(MomentumVitHead *h) { unit_copy_free(&h->lb1); }
