/* checkpoint.c — see checkpoint.h. The run state travels as __metadata__ strings; numbers are
 * printed with %.17g so they read back bit-exactly. */
#include "train/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/fileutil.h"
#include "locus/safetensors.h"

static const char *const optim_slot_names[2] = {"m", "v"};

Status checkpoint_save(const Session *s, const char *dir, const RunState *rs, ErrorMsg *err) {
    const ParamStore *ps = &s->ps;
    int slots = optim_state_count(&s->opt);
    StEntry *e = calloc((size_t)ps->count * (1 + (size_t)slots), sizeof *e);
    if (!e) return status_fail(err, LOCUS_ERR_OOM, "out of memory writing a checkpoint");
    int n = 0;
    for (int h = 0; h < ps->count; h++) {
        snprintf(e[n].name, sizeof e[n].name, "%s", ps->info[h].name);
        e[n].shape = ps->info[h].shape;
        e[n].data = params_value(ps, h);
        n++;
    }
    for (int k = 0; k < slots; k++)
        for (int h = 0; h < ps->count; h++) {
            if (ps->info[h].kind != PARAM_TRAINABLE) continue;
            snprintf(e[n].name, sizeof e[n].name, "optim.%s.%s", optim_slot_names[k], ps->info[h].name);
            e[n].shape = ps->info[h].shape;
            e[n].data = optim_state(&s->opt, k) + ps->info[h].grad_offset;
            n++;
        }
    char v[10][64];
    snprintf(v[0], 64, "%d", rs->epoch);
    snprintf(v[1], 64, "%lld", rs->global_step);
    snprintf(v[2], 64, "%.17g", rs->best_acc);
    snprintf(v[3], 64, "%d", rs->best_epoch);
    snprintf(v[4], 64, "%.17g", rs->last_acc);
    snprintf(v[5], 64, "%.17g", rs->train_time);
    snprintf(v[6], 64, "%lld", rs->train_images);
    snprintf(v[7], 64, "%lld", (long long)s->opt.t);
    snprintf(v[8], 64, "%dx%dx%d", s->model.in_c, s->model.in_h, s->model.in_w);
    snprintf(v[9], 64, "%d", s->model.classes);
    const char *meta[] = {"format", "locus-checkpoint-1", "model", s->cfg.model, "method", s->cfg.method,
                          "epoch", v[0], "global_step", v[1], "best_acc", v[2], "best_epoch", v[3],
                          "last_acc", v[4], "train_time", v[5], "train_images", v[6], "optim_t", v[7],
                          "input", v[8], "classes", v[9], NULL};
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    Status st = safetensors_write(path, e, n, meta, err);
    free(e);
    return st;
}

static Status meta_number(const StFile *f, const char *key, double *out, ErrorMsg *err) {
    const char *v = safetensors_meta(f, key);
    char *end = NULL;
    if (v) *out = strtod(v, &end);
    if (!v || end == v || *end)
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: run state '%s' is missing or not a number\nhint: this file was not written by "
                           "locus train, or is damaged",
                           f->path, key);
    return LOCUS_OK;
}

Status checkpoint_load(Session *s, const char *dir, RunState *rs, ErrorMsg *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    StFile f;
    Status st = safetensors_open(&f, path, err);
    if (st) return status_wrap(err, st, "cannot load the checkpoint: ");
    const char *fmt = safetensors_meta(&f, "format"), *model = safetensors_meta(&f, "model");
    if (!fmt || strcmp(fmt, "locus-checkpoint-1")) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s is not a locus checkpoint (format '%s')\nhint: pass a run "
                         "folder written by locus train", path, fmt ? fmt : "missing");
        goto done;
    }
    if (!model || strcmp(model, s->cfg.model)) {
        st = status_fail(err, LOCUS_ERR_ARG, "%s holds a %s, but the configuration says %s\nhint: do not change "
                         "--model when resuming", path, model ? model : "(unknown model)", s->cfg.model);
        goto done;
    }
    const ParamStore *ps = &s->ps;
    for (int h = 0; h < ps->count && !st; h++)
        st = safetensors_read_f32(&f, ps->info[h].name, &ps->info[h].shape, params_value(ps, h), err);
    for (int k = 0; k < optim_state_count(&s->opt) && !st; k++)
        for (int h = 0; h < ps->count && !st; h++) {
            if (ps->info[h].kind != PARAM_TRAINABLE) continue;
            char name[160];
            snprintf(name, sizeof name, "optim.%s.%s", optim_slot_names[k], ps->info[h].name);
            st = safetensors_read_f32(&f, name, &ps->info[h].shape,
                                      optim_state(&s->opt, k) + ps->info[h].grad_offset, err);
        }
    if (st) {
        status_wrap(err, st, "cannot restore %s: ", path);
        goto done;
    }
    double v[8];
    const char *keys[8] = {"epoch", "global_step", "best_acc", "best_epoch", "last_acc", "train_time",
                           "train_images", "optim_t"};
    for (int i = 0; i < 8 && !st; i++) st = meta_number(&f, keys[i], &v[i], err);
    if (st) goto done;
    memset(rs, 0, sizeof *rs);
    rs->epoch = (int)v[0];
    rs->global_step = (long long)v[1];
    rs->best_acc = v[2];
    rs->best_epoch = (int)v[3];
    rs->last_acc = v[4];
    rs->train_time = v[5];
    rs->train_images = (long long)v[6];
    s->opt.t = (int64_t)v[7];
done:
    safetensors_close(&f);
    return st;
}

Status metrics_truncate(const char *dir, int epoch, ErrorMsg *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) return LOCUS_OK;
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap), line[4096];
    if (!out) {
        fclose(f);
        return status_fail(err, LOCUS_ERR_OOM, "out of memory");
    }
    while (fgets(line, sizeof line, f)) {
        int e = 0;
        if (sscanf(line, "{\"epoch\": %d", &e) != 1 || e > epoch) continue;
        size_t l = strlen(line);
        if (len + l + 1 > cap) {
            cap = 2 * (len + l + 1);
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                fclose(f);
                return status_fail(err, LOCUS_ERR_OOM, "out of memory");
            }
            out = grown;
        }
        memcpy(out + len, line, l);
        len += l;
    }
    fclose(f);
    Status st = file_write_atomic(path, out, len, err);
    free(out);
    return st;
}
