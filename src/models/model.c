/* model.c — architecture dispatch and the end-to-end forward over all units (see model.h). */
#include "locus/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/resnet.h"
#include "models/vit.h"

const char *model_arch_list(void) { return "resnet8, resnet20, resnet32, resnet44, resnet56, resnet110, vit-tiny, vit-micro"; }

Status model_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err) {
    memset(m, 0, sizeof *m);
    if (spec->in_c < 1 || spec->in_c > 4 || spec->in_h < 1 || spec->in_w < 1 || spec->classes < 2)
        return status_fail(err, LOCUS_ERR_ARG, "bad model input: %d channels, %dx%d, %d classes", spec->in_c,
                           spec->in_h, spec->in_w, spec->classes);
    snprintf(m->arch, sizeof m->arch, "%s", spec->arch);
    m->in_c = spec->in_c, m->in_h = spec->in_h, m->in_w = spec->in_w, m->classes = spec->classes;
    m->params = ps;
    Status s;
    if (resnet_blocks_per_stage(spec->arch))
        s = resnet_create(m, spec, ps, err);
    else if (!strncmp(spec->arch, "vit-", 4))
        s = vit_create(m, spec, ps, err);
    else
        s = status_fail(err, LOCUS_ERR_ARG, "unknown model '%s'\nhint: choose one of %s", spec->arch,
                        model_arch_list());
    if (s) model_free(m);
    return s;
}

void model_init_weights(Model *m, Rng *rng) {
    if (resnet_blocks_per_stage(m->arch))
        resnet_init_weights(m, rng);
    else
        vit_init_weights(m, rng);
}

void model_free(Model *m) {
    if (m->free_impl) m->free_impl(m);
    free(m->units);
    memset(m, 0, sizeof *m);
}

Tensor *model_forward(Model *m, Tape *t, Tensor *x) {
    const TapeMark base = tape_mark(t);
    for (int u = 0; u < m->n_units && x; u++) {
        const int tail = model_has_tail(m) && u == m->n_units - 2; /* the last two units as one */
        Tensor *y = tail ? m->tail_forward(m, t, x) : m->unit_forward(m, t, u, x);
        /* inference keeps nothing for a backward: once a unit is done, its intermediates and its input go
         * (the barrier moves the unit's output down to base), so the peak is one unit, not the net */
        x = t->recording || !y ? y : tape_barrier(t, y, base);
        if (tail) break;
    }
    return x;
}

Status model_copy_unit(Model *m, int u, ParamStore *ps, const char *prefix, ParamKind as, UnitCopy *out,
                       ErrorMsg *err) {
    memset(out, 0, sizeof *out);
    if (!m->copy_create || u <= 0 || u >= m->n_units - 1)
        return status_fail(err, LOCUS_ERR_ARG, "%s: unit %d (%s) cannot be copied: only blocks can\nhint: "
                           "cut the network so that every cut is followed by a block", m->arch, u,
                           u >= 0 && u < m->n_units ? m->units[u].name : "?");
    out->unit = u;
    out->param_first = ps->count;
    params_register_trainable_as(ps, as);
    out->impl = m->copy_create(m, u, ps, prefix);
    params_register_trainable_as(ps, PARAM_TRAINABLE);
    out->param_count = ps->count - out->param_first;
    CHECK(out->param_count == m->units[u].param_count, "copy of %s has %d parameters, the unit %d", m->units[u].name,
          out->param_count, m->units[u].param_count);
    for (int i = 0; i < out->param_count; i++)
        CHECK(shape_equal(&ps->info[out->param_first + i].shape, &ps->info[m->units[u].param_first + i].shape),
              "copy of %s: parameter %d differs in shape", m->units[u].name, i);
    return LOCUS_OK;
}

Tensor *unit_copy_forward(const Model *m, const UnitCopy *c, Tape *t, Tensor *x) { return m->copy_forward(c->impl, t, x); }

void unit_copy_init_weights(const Model *m, const UnitCopy *c, ParamStore *ps, Rng *rng) { m->copy_init(c->impl, ps, rng); }

void unit_copy_free(UnitCopy *c) {
    free(c->impl);
    memset(c, 0, sizeof *c);
}

const char *model_unit_param_prefix(const Model *m, int u, char *buf, size_t n) {
    if (u <= 0 || u >= m->n_units - 1) return NULL;
    int stage, index;
    if (resnet_blocks_per_stage(m->arch) && sscanf(m->units[u].name, "%d.%d", &stage, &index) == 2)
        snprintf(buf, n, "layer%d.%d.", stage, index);
    else
        snprintf(buf, n, "blocks.%d.", u - 1);
    return buf;
}
