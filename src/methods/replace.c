/* replace.c — Replacement Learning (see replace.h): choosing the blocks, the forward wrapper that
 * recomputes P = a*P_prev + b*P_next, and the two backward hooks that give the block a transient weight
 * gradient and fold it into (a, b) and the neighbours.
 * Invariant: at most one slot's buffer is attached at a time (blocks do not nest and a backward replay
 * never starts or stops inside a block); the hooks CHECK it. */
#include "methods/replace.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/method.h"

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

int replace_every_effective(const TrainConfig *cfg) {
    if (cfg->replace_every >= 0) return (int)cfg->replace_every;
    return strcmp(cfg->method, "replace") ? 0 : 4;
}

/* Stage and 1-based index within the stage of block unit u ("s.i" ResNet units; a ViT is one stage). */
static void unit_position(const Model *m, int u, int *stage, int *index) {
    int s, i;
    if (sscanf(m->units[u].name, "%d.%d", &s, &i) == 2)
        *stage = s, *index = i + 1;
    else
        *stage = 1, *index = u;
}

/* The trainable tensors whose names start with prefix, in registration order; -1 if more than max. */
static int tensors_with_prefix(const ParamStore *ps, const char *prefix, int *h, int max) {
    int n = 0;
    size_t len = strlen(prefix);
    for (int i = 0; i < ps->count; i++) {
        if (ps->info[i].kind != PARAM_TRAINABLE || strncmp(ps->info[i].name, prefix, len)) continue;
        if (n == max) return -1;
        h[n++] = i;
    }
    return n;
}

static int same_shape(const Shape *a, const Shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->d[d] != b->d[d]) return 0;
    return 1;
}

/* The handle of `other_prefix` + (name of h without `prefix`) if it is trainable with h's shape, else -1. */
static int counterpart(const ParamStore *ps, int h, const char *prefix, const char *other_prefix) {
    char name[160];
    snprintf(name, sizeof name, "%s%s", other_prefix, ps->info[h].name + strlen(prefix));
    int o = params_find(ps, name);
    if (o < 0 || ps->info[o].kind != PARAM_TRAINABLE || !same_shape(&ps->info[o].shape, &ps->info[h].shape)) return -1;
    return o;
}

/* 1 if the blocks at units u and v have the same trainable tensors (names after their prefixes, shapes). */
static int blocks_alike(const Model *m, int u, int v) {
    const ParamStore *ps = m->params;
    char pu[64], pv[64];
    int hu[64], hv[64];
    if (!model_unit_param_prefix(m, u, pu, sizeof pu) || !model_unit_param_prefix(m, v, pv, sizeof pv)) return 0;
    int nu = tensors_with_prefix(ps, pu, hu, 64), nv = tensors_with_prefix(ps, pv, hv, 64);
    if (nu <= 0 || nu != nv) return 0;
    for (int i = 0; i < nu; i++)
        if (counterpart(ps, hu[i], pu, pv) < 0) return 0;
    return 1;
}

int replace_select(const Model *m, int every, int per_stage, int all, ReplaceSlot *slots, int max_slots) {
    CHECK(every >= 2, "replace_select: every = %d", every);
    const ParamStore *ps = m->params;
    const int vit = !strncmp(m->arch, "vit-", 4);
    int n = 0, last = -10;
    for (int u = 2; u < m->n_units - 2 && n < max_slots; u++) {
        int stage, index;
        unit_position(m, u, &stage, &index);
        if ((per_stage ? index : u) % every) continue;
        if (last == u - 1 || !blocks_alike(m, u, u - 1) || !blocks_alike(m, u, u + 1)) continue;
        char pu[64], pp[64], pn[64];
        model_unit_param_prefix(m, u, pu, sizeof pu);
        model_unit_param_prefix(m, u - 1, pp, sizeof pp);
        model_unit_param_prefix(m, u + 1, pn, sizeof pn);
        if (vit && !all) { /* the attention sub-layer only: qkv and proj of blocks j-1, j, j+1 */
            strcat(pu, "attn."), strcat(pp, "attn."), strcat(pn, "attn.");
        }
        ReplaceSlot *sl = &slots[n];
        memset(sl, 0, sizeof *sl);
        sl->unit = u;
        sl->ab = -1;
        sl->n = tensors_with_prefix(ps, pu, sl->p, REPLACE_MAX_TENSORS);
        CHECK(sl->n > 0, "replace_select: block %s has no tensors under %s (or more than %d)", m->units[u].name, pu,
              REPLACE_MAX_TENSORS);
        for (int i = 0; i < sl->n; i++) {
            sl->prev[i] = counterpart(ps, sl->p[i], pu, pp);
            sl->next[i] = counterpart(ps, sl->p[i], pu, pn);
            CHECK(sl->prev[i] >= 0 && sl->next[i] >= 0, "replace_select: %s has no counterpart",
                  ps->info[sl->p[i]].name);
            sl->grad_floats += round16(ps->info[sl->p[i]].numel);
        }
        last = u;
        n++;
    }
    return n;
}

/* P = a * P_prev + b * P_next for every tensor of the slot. */
static void slot_mix(const Replacement *r, const ReplaceSlot *sl) {
    const ParamStore *ps = r->ps;
    const float *ab = params_value(ps, sl->ab), a = ab[0], b = ab[1];
    for (int i = 0; i < sl->n; i++) {
        float *p = params_value(ps, sl->p[i]);
        const float *x = params_value(ps, sl->prev[i]), *y = params_value(ps, sl->next[i]);
        for (size_t q = 0, n = ps->info[sl->p[i]].numel; q < n; q++) p[q] = a * x[q] + b * y[q];
    }
}

void replace_refresh(const Replacement *r) {
    if (!r) return;
    for (int s = 0; s < r->n_slots; s++) slot_mix(r, &r->slots[s]);
}

/* Backward hook reached first (it sits after the block's last layer): attach a zeroed dP. */
static void slot_attach(Tape *t, void *arg) {
    ReplaceSlot *sl = arg;
    Replacement *r = sl->owner;
    CHECK(!r->open, "replacement: a backward reached block %d while block %d's gradient was attached", sl->unit,
          r->open ? r->open->unit : -1);
    r->open = sl;
    mem_track_use(t->data.mt, MEM_TAG_GRAD, sl->grad_floats * sizeof(float));
    if (tape_is_plan(t)) return;
    memset(r->grad_buf, 0, sl->grad_floats * sizeof(float));
    size_t off = 0;
    for (int i = 0; i < sl->n; i++) {
        r->ps->info[sl->p[i]].grad_transient = r->grad_buf + off;
        off += round16(r->ps->info[sl->p[i]].numel);
    }
}

/* Backward hook reached last (before the block's first layer): the block's dP is complete. Fold it into
 * (a, b) and, variant B, into the neighbours; detach. */
static void slot_fold(Tape *t, void *arg) {
    ReplaceSlot *sl = arg;
    Replacement *r = sl->owner;
    CHECK(r->open == sl, "replacement: block %d's backward ended without its gradient attached (a backward "
          "started inside the block?)", sl->unit);
    r->open = NULL;
    mem_track_unuse(t->data.mt, MEM_TAG_GRAD, sl->grad_floats * sizeof(float));
    if (tape_is_plan(t)) return;
    ParamStore *ps = r->ps;
    const float *ab = params_value(ps, sl->ab);
    double da = 0, db = 0;
    for (int i = 0; i < sl->n; i++) {
        ParamInfo *pi = &ps->info[sl->p[i]];
        const float *dp = pi->grad_transient;
        const float *x = params_value(ps, sl->prev[i]), *y = params_value(ps, sl->next[i]);
        float *gx = r->neighbour_grad ? params_grad(ps, sl->prev[i]) : NULL;
        float *gy = r->neighbour_grad ? params_grad(ps, sl->next[i]) : NULL;
        for (size_t q = 0; q < pi->numel; q++) {
            da += (double)dp[q] * x[q];
            db += (double)dp[q] * y[q];
        }
        if (gx)
            for (size_t q = 0; q < pi->numel; q++) gx[q] += ab[0] * dp[q], gy[q] += ab[1] * dp[q];
        pi->grad_transient = NULL;
    }
    float *gab = params_grad(ps, sl->ab);
    gab[0] += (float)da;
    gab[1] += (float)db;
}

static Tensor *replace_unit_forward(Model *m, Tape *t, int u, Tensor *x) {
    Replacement *r = m->replace;
    int s = r->slot_of_unit[u];
    if (s < 0) return r->inner(m, t, u, x);
    ReplaceSlot *sl = &r->slots[s];
    if (!tape_is_plan(t)) slot_mix(r, sl);
    tape_hook(t, slot_fold, sl);
    Tensor *y = r->inner(m, t, u, x);
    tape_hook(t, slot_attach, sl);
    return y;
}

Status replace_open(Session *s, ErrorMsg *err) {
    const TrainConfig *c = &s->cfg;
    Model *m = &s->model;
    int every = replace_every_effective(c);
    if (every == 0 && !strcmp(c->method, "replace"))
        return status_fail(err, LOCUS_ERR_ARG, "--method replace with --replace-every 0 replaces nothing\nhint: drop "
                           "--replace-every (k = 4), or use --method e2e");
    if (every == 0) return LOCUS_OK;
    if (every == 1)
        return status_fail(err, LOCUS_ERR_ARG, "--replace-every 1 would build blocks from replaced neighbours\nhint: "
                           "use 2 or more (the paper: 4), or 0 for off");
    int per_stage = !strcmp(c->replace_count, "stage"), all = !strcmp(c->replace_scope, "all");
    if (!per_stage && strcmp(c->replace_count, "network"))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --replace-count '%s'\nhint: network or stage", c->replace_count);
    if (!all && strcmp(c->replace_scope, "default"))
        return status_fail(err, LOCUS_ERR_ARG, "unknown --replace-scope '%s'\nhint: default or all", c->replace_scope);
    Replacement *r = calloc(1, sizeof *r);
    if (!r) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    m->replace = r; /* from here on replace_close frees it */
    r->slots = calloc((size_t)m->n_units, sizeof *r->slots);
    r->slot_of_unit = malloc(sizeof *r->slot_of_unit * (size_t)m->n_units);
    if (!r->slots || !r->slot_of_unit) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    r->every = every, r->per_stage = per_stage, r->all = all, r->neighbour_grad = c->replace_neighbour_grad;
    r->ps = &s->ps;
    r->n_slots = replace_select(m, every, per_stage, all, r->slots, m->n_units);
    if (!r->n_slots)
        return status_fail(err, LOCUS_ERR_ARG,
                           "--replace-every %d replaces no block of %s: no block j = 0 (mod %d) has two neighbours "
                           "with its parameter shapes\nhint: try a deeper network or a smaller --replace-every",
                           every, m->arch, every);
    r->learnable_full = params_count_trainable(&s->ps);
    for (int u = 0; u < m->n_units; u++) r->slot_of_unit[u] = -1;
    size_t buf_floats = 0;
    for (int i = 0; i < r->n_slots; i++) {
        ReplaceSlot *sl = &r->slots[i];
        sl->owner = r;
        r->slot_of_unit[sl->unit] = i;
        for (int j = 0; j < sl->n; j++) {
            params_set_kind(&s->ps, sl->p[j], PARAM_DERIVED);
            r->derived_numel += s->ps.info[sl->p[j]].numel;
        }
        char prefix[64], name[96];
        snprintf(name, sizeof name, "replace.%s%sab", model_unit_param_prefix(m, sl->unit, prefix, sizeof prefix),
                 !strncmp(m->arch, "vit-", 4) && !all ? "attn." : "");
        sl->ab = params_add(&s->ps, name, shape1(2), PARAM_TRAINABLE);
        if (sl->grad_floats > buf_floats) buf_floats = sl->grad_floats;
    }
    r->grad_buf_bytes = buf_floats * sizeof(float);
    r->inner = m->unit_forward;
    m->unit_forward = replace_unit_forward;
    return LOCUS_OK;
}

Status replace_init(Session *s, ErrorMsg *err) {
    Replacement *r = s->model.replace;
    if (!r) return LOCUS_OK;
    for (int i = 0; i < r->n_slots; i++) {
        float *ab = params_value(&s->ps, r->slots[i].ab);
        ab[0] = ab[1] = 0.5f;
    }
    replace_refresh(r);
    if (s->plan_only) return LOCUS_OK;
    r->grad_buf = mem_alloc_reserved(&s->mt, MEM_TAG_GRAD, r->grad_buf_bytes);
    if (!r->grad_buf)
        return status_fail(err, LOCUS_ERR_OOM, "cannot reserve %zu bytes for the replaced blocks' gradient",
                           r->grad_buf_bytes);
    r->mt = &s->mt;
    return LOCUS_OK;
}

void replace_close(Session *s) {
    Replacement *r = s->model.replace;
    if (!r) return;
    if (r->grad_buf) mem_free_reserved(r->mt, MEM_TAG_GRAD, r->grad_buf, r->grad_buf_bytes);
    if (r->inner) s->model.unit_forward = r->inner;
    free(r->slots);
    free(r->slot_of_unit);
    free(r);
    s->model.replace = NULL;
}

TrainConfig replace_config_off(const TrainConfig *cfg) {
    TrainConfig off = *cfg;
    off.replace_every = 0;
    if (!strcmp(off.method, "replace")) snprintf(off.method, sizeof off.method, "e2e");
    return off;
}

/* "18.1 KiB" for a saving, "-2.0 KiB" for a cost. */
static const char *saving(size_t before, size_t after, char *buf, size_t n) {
    char b[32];
    if (after > before) snprintf(buf, n, "-%s", mem_format(after - before, b, sizeof b));
    else snprintf(buf, n, "%s", mem_format(before - after, b, sizeof b));
    return buf;
}

static cJSON *mem_json(const MemReport *r) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "total", (double)r->peak_total);
    for (int t = 0; t < MEM_TAG_COUNT; t++) cJSON_AddNumberToObject(m, mem_tag_name((MemTag)t), (double)r->peak[t]);
    return m;
}

/* "1.3 2.2" (ResNet) or "block3" (ViT): the replaced units. */
static void unit_list(const Session *s, char *buf, size_t n) {
    const Replacement *r = s->model.replace;
    buf[0] = 0;
    for (int i = 0, at = 0; i < r->n_slots && (size_t)at < n; i++)
        at += snprintf(buf + at, n - (size_t)at, "%s%s", i ? " " : "", s->model.units[r->slots[i].unit].name);
}

void replace_report_params(FILE *f, const Session *s) {
    const Replacement *r = s->model.replace;
    if (!r) return;
    char units[512];
    unit_list(s, units, sizeof units);
    fprintf(f,
            "replacement learning: k = %d (blocks counted over the %s), %s, neighbour gradients %s; replaced: "
            "%s\n  learnable parameters %zu, without replacement %zu (%zu now derived, +%d scalars a, b)\n",
            r->every, r->per_stage ? "stage" : "network", r->all ? "all sub-layers" : "default scope",
            r->neighbour_grad ? "on (variant B)" : "off (variant A)", units, params_count_trainable(&s->ps),
            r->learnable_full, r->derived_numel, 2 * r->n_slots);
}

cJSON *replace_report_summary(FILE *f, const Session *s) {
    const Replacement *r = s->model.replace;
    if (!r) return NULL;
    size_t learnable = params_count_trainable(&s->ps);
    char units[512];
    unit_list(s, units, sizeof units);
    fprintf(f, "  replacement     blocks %s; learnable params %zu (without replacement %zu, %.1f%% fewer)\n", units,
            learnable, r->learnable_full, 100.0 * (1.0 - (double)learnable / (double)r->learnable_full));
    /* the same run without replacement, planned: what replacement saved, tag by tag */
    TrainConfig off = replace_config_off(&s->cfg);
    MemReport plan_off, measured;
    ErrorMsg e2;
    int have_off = train_memplan(&off, &plan_off, &e2) == LOCUS_OK;
    for (int t = 0; t < MEM_TAG_COUNT; t++) measured.peak[t] = s->mt.peak[t];
    measured.peak_total = s->mt.peak_total;
    if (have_off) {
        char a[40], b[40], c[40];
        fprintf(f, "  vs no replacement  saves grad %s, optim %s, total %s (planned without replacement: %zu bytes)\n",
                saving(plan_off.peak[MEM_TAG_GRAD], measured.peak[MEM_TAG_GRAD], a, sizeof a),
                saving(plan_off.peak[MEM_TAG_OPTIM], measured.peak[MEM_TAG_OPTIM], b, sizeof b),
                saving(plan_off.peak_total, measured.peak_total, c, sizeof c), plan_off.peak_total);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "every", r->every);
    cJSON_AddStringToObject(j, "count", r->per_stage ? "stage" : "network");
    cJSON_AddStringToObject(j, "scope", r->all ? "all" : "default");
    cJSON_AddBoolToObject(j, "neighbour_grad", r->neighbour_grad);
    cJSON *arr = cJSON_AddArrayToObject(j, "units");
    for (int i = 0; i < r->n_slots; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(s->model.units[r->slots[i].unit].name));
    cJSON_AddNumberToObject(j, "params_learnable", (double)learnable);
    cJSON_AddNumberToObject(j, "params_learnable_without_replacement", (double)r->learnable_full);
    cJSON_AddNumberToObject(j, "params_derived", (double)r->derived_numel);
    cJSON_AddNumberToObject(j, "transient_grad_bytes", (double)r->grad_buf_bytes);
    if (have_off) cJSON_AddItemToObject(j, "mem_predicted_without_replacement_bytes", mem_json(&plan_off));
    return j;
}

Status replace_memplan_report(FILE *f, const TrainConfig *cfg, const MemReport *plan, cJSON *json, ErrorMsg *err) {
    if (!replace_every_effective(cfg)) return LOCUS_OK;
    Session *s = calloc(1, sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    Status st = session_open(s, cfg, 1, err);
    TrainConfig off = replace_config_off(cfg);
    MemReport plan_off;
    if (!st) st = train_memplan(&off, &plan_off, err);
    if (!st) {
        const Replacement *r = s->model.replace;
        size_t learnable = params_count_trainable(&s->ps);
        char units[512];
        unit_list(s, units, sizeof units);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON *arr = cJSON_AddArrayToObject(j, "units");
            for (int i = 0; i < r->n_slots; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(s->model.units[r->slots[i].unit].name));
            cJSON_AddNumberToObject(j, "params_learnable", (double)learnable);
            cJSON_AddNumberToObject(j, "params_learnable_without_replacement", (double)r->learnable_full);
            cJSON_AddItemToObject(j, "mem_predicted_without_replacement_bytes", mem_json(&plan_off));
            cJSON_AddItemToObject(json, "replace", j);
        } else {
            char a[40], b[40], c[40];
            fprintf(f, "replacement learning: blocks %s replaced; learnable parameters %zu (without replacement %zu)\n",
                    units, learnable, r->learnable_full);
            fprintf(f, "without replacement: total %zu bytes planned; replacement saves grad %s, optim %s, total %s\n",
                    plan_off.peak_total, saving(plan_off.peak[MEM_TAG_GRAD], plan->peak[MEM_TAG_GRAD], a, sizeof a),
                    saving(plan_off.peak[MEM_TAG_OPTIM], plan->peak[MEM_TAG_OPTIM], b, sizeof b),
                    saving(plan_off.peak_total, plan->peak_total, c, sizeof c));
        }
    }
    session_close(s);
    free(s);
    return st;
}
