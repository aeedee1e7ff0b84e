/* state_dict.c — PyTorch state dicts in safetensors, in and out of a ParamStore (see interop.h).
 *
 * Import is all-or-nothing: the whole file is checked against the model (names, shapes, dtypes) and
 * every problem is listed in one message before a single value is copied, so a failed --init-from
 * never leaves half-loaded weights. Floats other than F32 are converted on the fly (F64 rounds to
 * nearest, F16 and BF16 widen exactly). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/interop.h"

#define LIST_SHOWN 4 /* names shown per kind of problem; the rest are counted */

static float half_to_float(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);                    /* zero and subnormals */
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

Status state_dict_tensor_f32(const StFile *f, const StTensor *t, float *dst, ErrorMsg *err) {
    const unsigned char *b = t->bytes;
    switch (t->dtype) {
    case ST_F32:
        memcpy(dst, b, t->numel * sizeof(float));
        return LOCUS_OK;
    case ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double v;
            memcpy(&v, b + 8 * i, 8);
            dst[i] = (float)v;
        }
        return LOCUS_OK;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t v = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
            if (t->dtype == ST_F16) {
                dst[i] = half_to_float(v);
            } else {
                uint32_t bits = (uint32_t)v << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
        return LOCUS_OK;
    default:
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: tensor '%s' has dtype %s; weights must be floating point (F32, F64, F16 or BF16)"
                           "\nhint: convert it in PyTorch (t.float()) before saving",
                           f->path, t->name, safetensors_dtype_name(t->dtype));
    }
}

/* Appends ", name" (or "name") to list while fewer than LIST_SHOWN are shown; counts all. */
static void list_add(char *list, size_t size, int *count, const char *name) {
    if (*count < LIST_SHOWN) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
    }
    (*count)++;
}

static void list_close(char *list, size_t size, int count) {
    if (count > LIST_SHOWN) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, " and %d more", count - LIST_SHOWN);
    }
}

/* 1 when name is "<prefix>.num_batches_tracked" and "<prefix>.running_mean" is one of the model's. */
static int is_bn_counter(const ParamStore *ps, int count, const char *name) {
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(name), s = sizeof suffix - 1;
    if (n <= s || strcmp(name + n - s, suffix)) return 0;
    char mean[ST_NAME_MAX + 16];
    snprintf(mean, sizeof mean, "%.*s.running_mean", (int)(n - s), name);
    int h = params_find(ps, mean);
    return h >= 0 && h < count;
}

static int model_has(const ParamStore *ps, int count, const char *name) {
    int h = params_find(ps, name);
    return h >= 0 && h < count;
}

/* A hint that fits the problems found. */
static const char *load_hint(int missing, int extra, int prefixed) {
    if (prefixed)
        return "the file's names carry a prefix such as 'module.' (nn.DataParallel) or 'model.': save "
               "the inner module's state_dict() instead";
    if (missing && extra)
        return "the file was saved from a different architecture; locus uses the PyTorch names of the "
               "reference modules in tools/ref/make_golden.py (e.g. layer1.0.conv1.weight, blocks.0.attn.qkv.weight)";
    return "the file was saved for a different model or input (channels, classes, image size); "
           "`locus export RUN_DIR --format safetensors` writes a file of the right kind";
}

Status state_dict_load(ParamStore *ps, int count, const char *path, int allow_extra, const char *what,
                       ErrorMsg *err) {
    StFile f;
    Status st = safetensors_open(&f, path, err);
    if (st) return status_wrap(err, st, "cannot read the weights: ");
    char missing[512] = "", extra[512] = "", bad_dtype[512] = "", shapes[768] = "";
    int n_missing = 0, n_extra = 0, n_dtype = 0, n_shape = 0, n_prefixed = 0;
    for (int h = 0; h < count; h++) {
        const ParamInfo *p = &ps->info[h];
        const StTensor *t = safetensors_find(&f, p->name);
        if (!t) {
            list_add(missing, sizeof missing, &n_missing, p->name);
            continue;
        }
        if (t->dtype != ST_F32 && t->dtype != ST_F64 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
            char item[200];
            snprintf(item, sizeof item, "%s (%s)", p->name, safetensors_dtype_name(t->dtype));
            list_add(bad_dtype, sizeof bad_dtype, &n_dtype, item);
        }
        if (!shape_equal(&t->shape, &p->shape)) {
            char a[64], b[64], item[300];
            snprintf(item, sizeof item, "%s is %s in the file, %s in the model", p->name,
                     shape_format(&t->shape, a, sizeof a), shape_format(&p->shape, b, sizeof b));
            if (n_shape < LIST_SHOWN) {
                size_t len = strlen(shapes);
                snprintf(shapes + len, sizeof shapes - len, "\n    %s", item);
            }
            n_shape++;
        }
    }
    if (!allow_extra)
        for (int i = 0; i < f.count; i++) {
            const char *name = f.tensors[i].name;
            if (model_has(ps, count, name) || is_bn_counter(ps, count, name)) continue;
            const char *dot = strchr(name, '.');
            if (dot && model_has(ps, count, dot + 1)) n_prefixed++;
            list_add(extra, sizeof extra, &n_extra, name);
        }
    list_close(missing, sizeof missing, n_missing);
    list_close(extra, sizeof extra, n_extra);
    list_close(bad_dtype, sizeof bad_dtype, n_dtype);
    if (n_shape > LIST_SHOWN) {
        size_t len = strlen(shapes);
        snprintf(shapes + len, sizeof shapes - len, "\n    and %d more", n_shape - LIST_SHOWN);
    }
    if (n_missing || n_extra || n_dtype || n_shape) {
        char msg[1800] = "";
        size_t len = 0;
        if (n_missing)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "\n  missing %d tensor%s: %s", n_missing,
                                    n_missing == 1 ? "" : "s", missing);
        if (n_extra && len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "\n  %d tensor%s the model does not have: %s",
                                    n_extra, n_extra == 1 ? "" : "s", extra);
        if (n_shape && len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "\n  %d shape mismatch%s:%s", n_shape,
                                    n_shape == 1 ? "" : "es", shapes);
        if (n_dtype && len < sizeof msg)
            snprintf(msg + len, sizeof msg - len, "\n  %d tensor%s not floating point: %s", n_dtype,
                     n_dtype == 1 ? "" : "s", bad_dtype);
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s does not match the parameters of %s (%d tensors, PyTorch "
                         "state_dict names):%s\nhint: %s", path, what, count, msg,
                         load_hint(n_missing, n_extra, n_prefixed && n_prefixed == n_extra));
        safetensors_close(&f);
        return st;
    }
    for (int h = 0; h < count && !st; h++)
        st = state_dict_tensor_f32(&f, safetensors_find(&f, ps->info[h].name), params_value(ps, h), err);
    safetensors_close(&f);
    return st;
}

Status state_dict_save(const ParamStore *ps, int count, const char *path, const char *const *meta_kv,
                       ErrorMsg *err) {
    CHECK(count >= 0 && count <= ps->count, "count %d of %d tensors", count, ps->count);
    StEntry *e = calloc((size_t)(count ? count : 1), sizeof *e);
    const char *meta[64];
    int m = 0;
    meta[m++] = "format";
    meta[m++] = "pt";
    for (int i = 0; meta_kv && meta_kv[i] && meta_kv[i + 1] && m < 62; i += 2) {
        meta[m++] = meta_kv[i];
        meta[m++] = meta_kv[i + 1];
    }
    meta[m] = NULL;
    if (!e) return status_fail(err, LOCUS_ERR_OOM, "out of memory writing %s", path);
    for (int h = 0; h < count; h++) {
        snprintf(e[h].name, sizeof e[h].name, "%s", ps->info[h].name);
        e[h].shape = ps->info[h].shape;
        e[h].data = params_value(ps, h);
    }
    Status st = safetensors_write(path, e, count, meta, err);
    free(e);
    return st;
}
