/* params.c — the parameter store (see params.h). Registration grows a small array with realloc
 * (model build time only); finalize reserves the value and gradient slabs once. */
#include "locus/params.h"

#include <stdlib.h>
#include <string.h>

void params_init(ParamStore *ps, MemTracker *mt) {
    memset(ps, 0, sizeof *ps);
    ps->mt = mt;
}

void params_free(ParamStore *ps) {
    if (ps->values) mem_free(ps->mt, MEM_TAG_PARAM, ps->values, ps->numel_total * sizeof(float));
    if (ps->grads) mem_free(ps->mt, MEM_TAG_GRAD, ps->grads, ps->numel_trainable * sizeof(float));
    if (ps->ema_values) mem_free(ps->mt, MEM_TAG_EMA, ps->ema_values, ps->numel_ema * sizeof(float));
    free(ps->info);
    memset(ps, 0, sizeof *ps);
}

int params_find(const ParamStore *ps, const char *name) {
    for (int i = 0; i < ps->count; i++)
        if (!strcmp(ps->info[i].name, name)) return i;
    return -1;
}

int params_add(ParamStore *ps, const char *name, Shape shape, ParamKind kind) {
    CHECK(!ps->finalized, "params_add(%s) after finalize", name);
    CHECK(strlen(name) < sizeof ps->info[0].name, "parameter name too long: %s", name);
    CHECK(params_find(ps, name) < 0, "duplicate parameter name %s", name);
    if (ps->count == ps->capacity) {
        ps->capacity = ps->capacity ? ps->capacity * 2 : 64;
        ps->info = realloc(ps->info, sizeof *ps->info * (size_t)ps->capacity);
        CHECK(ps->info, "out of memory registering parameters");
    }
    ParamInfo *p = &ps->info[ps->count];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->shape = shape;
    p->numel = shape_numel(&shape);
    if (kind == PARAM_TRAINABLE) kind = ps->trainable_as;
    p->kind = kind;
    /* keep every tensor 64-byte aligned inside its slab: round offsets to 16 floats */
    size_t *slab = kind == PARAM_EMA ? &ps->numel_ema : &ps->numel_total;
    p->offset = *slab;
    *slab += (p->numel + 15) & ~(size_t)15;
    return ps->count++;
}

void params_register_trainable_as(ParamStore *ps, ParamKind as) { ps->trainable_as = as; }

void params_set_kind(ParamStore *ps, int h, ParamKind kind) {
    CHECK(h >= 0 && h < ps->count, "params_set_kind: no parameter %d", h);
    CHECK(!ps->finalized, "params_set_kind(%s) after finalize", ps->info[h].name);
    CHECK(kind != PARAM_EMA && ps->info[h].kind != PARAM_EMA, "params_set_kind(%s): EMA parameters live in their own slab",
          ps->info[h].name);
    ps->info[h].kind = kind;
}

Status params_finalize(ParamStore *ps, ErrorMsg *err) {
    CHECK(!ps->finalized, "params_finalize twice");
    ps->numel_trainable = 0;
    for (int i = 0; i < ps->count; i++) {
        ParamInfo *p = &ps->info[i];
        if (p->kind != PARAM_TRAINABLE) continue;
        p->grad_offset = ps->numel_trainable;
        ps->numel_trainable += (p->numel + 15) & ~(size_t)15;
    }
    ps->values = mem_alloc(ps->mt, MEM_TAG_PARAM, ps->numel_total * sizeof(float));
    ps->grads = ps->numel_trainable ? mem_alloc(ps->mt, MEM_TAG_GRAD, ps->numel_trainable * sizeof(float)) : NULL;
    ps->ema_values = ps->numel_ema ? mem_alloc(ps->mt, MEM_TAG_EMA, ps->numel_ema * sizeof(float)) : NULL;
    if (!ps->values || (ps->numel_trainable && !ps->grads) || (ps->numel_ema && !ps->ema_values))
        return status_fail(err, LOCUS_ERR_OOM, "cannot allocate %zu parameters", ps->numel_total + ps->numel_ema);
    ps->finalized = 1;
    return LOCUS_OK;
}

void params_zero_grads(ParamStore *ps) {
    if (ps->grads) memset(ps->grads, 0, ps->numel_trainable * sizeof(float));
}

size_t params_count_trainable(const ParamStore *ps) {
    size_t n = 0;
    for (int i = 0; i < ps->count; i++)
        if (ps->info[i].kind == PARAM_TRAINABLE) n += ps->info[i].numel;
    return n;
}
