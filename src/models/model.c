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
    for (int u = 0; u < m->n_units && x; u++) {
        if (t->recording) {
            x = m->unit_forward(m, t, u, x);
            continue;
        }
        /* inference keeps nothing for a backward: free each unit's intermediates as soon as it is done
         * (the barrier moves the unit's output down to the mark), so the peak is one unit, not the net */
        TapeMark mark = tape_mark(t);
        Tensor *y = m->unit_forward(m, t, u, x);
        x = y ? tape_barrier(t, y, mark) : NULL;
    }
    return x;
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
