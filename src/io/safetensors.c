/* safetensors.c — safetensors reader (mmap + full validation) and F32 writer (see safetensors.h and
 * spec data-formats.md §7).
 *
 * Reader invariants once safetensors_parse returns LOCUS_OK: every StTensor's bytes lie inside the
 * buffer, tensors are sorted-disjoint and cover the buffer exactly, names are unique NUL-terminated
 * strings < ST_NAME_MAX bytes, and numel * dtype size == nbytes without overflow. Nothing in the header
 * is trusted before it is checked against the file size (a corrupt header never causes a big malloc:
 * the only allocations are proportional to the header, which is bounded by the file). */
#include "locus/safetensors.h"

#include <cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/fileutil.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads and writes little-endian data in place; add byte swapping for this host"
#endif

static const struct {
    const char *name;
    size_t size;
} dtype_table[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1},     [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1},
    [ST_I16] = {"I16", 2},       [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2},     [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},       [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},
};

const char *safetensors_dtype_name(StDtype dt) {
    return (unsigned)dt < ST_DTYPE_COUNT ? dtype_table[dt].name : "?";
}
size_t safetensors_dtype_size(StDtype dt) { return (unsigned)dt < ST_DTYPE_COUNT ? dtype_table[dt].size : 0; }

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF): the format requires a UTF-8 header. */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned min, cp;
        if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; cp = c & 0x07; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* ---------------------------------------------------------------- writer */

/* A growable byte string for the header; `oom` sticks once an allocation fails. */
typedef struct SBuf {
    char *p;
    size_t len, cap;
    int oom;
} SBuf;

static void sbuf_put(SBuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sbuf_str(SBuf *b, const char *s) { sbuf_put(b, s, strlen(s)); }
static void sbuf_u64(SBuf *b, unsigned long long v) {
    char t[32];
    sbuf_put(b, t, (size_t)snprintf(t, sizeof t, "%llu", v));
}
/* A JSON string literal; UTF-8 passes through, controls are \u-escaped. */
static void sbuf_json_string(SBuf *b, const char *s) {
    sbuf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char t[2] = {'\\', (char)c};
            sbuf_put(b, t, 2);
        } else if (c < 0x20) {
            char t[8];
            sbuf_put(b, t, (size_t)snprintf(t, sizeof t, "\\u%04x", c));
        } else {
            sbuf_put(b, (const char *)&c, 1);
        }
    }
    sbuf_put(b, "\"", 1);
}

static Status write_check_entries(const char *path, const StEntry *e, int n, const char *const *meta_kv,
                                  ErrorMsg *err) {
    if (n < 0 || (n > 0 && !e))
        return status_fail(err, LOCUS_ERR_ARG, "%s: bad tensor list (n = %d)\nhint: pass n >= 0 entries", path, n);
    for (int i = 0; i < n; i++) {
        size_t len = strnlen(e[i].name, ST_NAME_MAX);
        if (len == 0 || len >= ST_NAME_MAX)
            return status_fail(err, LOCUS_ERR_ARG, "%s: tensor %d has an empty or unterminated name\n"
                               "hint: names are 1..%d bytes", path, i, ST_NAME_MAX - 1);
        if (!utf8_valid((const unsigned char *)e[i].name, len))
            return status_fail(err, LOCUS_ERR_ARG, "%s: tensor %d's name is not valid UTF-8\nhint: use ASCII names", path, i);
        if (!strcmp(e[i].name, "__metadata__"))
            return status_fail(err, LOCUS_ERR_ARG, "%s: a tensor cannot be called __metadata__\nhint: rename it", path);
        const Shape *s = &e[i].shape;
        if (s->ndim < 0 || s->ndim > TENSOR_MAX_DIMS)
            return status_fail(err, LOCUS_ERR_ARG, "%s: tensor '%s' has %d dims\nhint: 0..%d dims are supported", path,
                               e[i].name, s->ndim, TENSOR_MAX_DIMS);
        for (int k = 0; k < s->ndim; k++)
            if (s->d[k] < 0)
                return status_fail(err, LOCUS_ERR_ARG, "%s: tensor '%s' has a negative dimension\nhint: fix its shape",
                                   path, e[i].name);
        if (shape_numel(s) && !e[i].data)
            return status_fail(err, LOCUS_ERR_ARG, "%s: tensor '%s' has no data\nhint: pass its float buffer", path,
                               e[i].name);
        for (int j = 0; j < i; j++)
            if (!strcmp(e[i].name, e[j].name))
                return status_fail(err, LOCUS_ERR_ARG, "%s: tensor name '%s' appears twice\nhint: names must be unique",
                                   path, e[i].name);
    }
    for (int i = 0; meta_kv && meta_kv[i]; i += 2) {
        if (!meta_kv[i + 1])
            return status_fail(err, LOCUS_ERR_ARG, "%s: metadata key '%s' has no value\n"
                               "hint: meta_kv is key, value, ..., NULL", path, meta_kv[i]);
        if (!utf8_valid((const unsigned char *)meta_kv[i], strlen(meta_kv[i])) ||
            !utf8_valid((const unsigned char *)meta_kv[i + 1], strlen(meta_kv[i + 1])))
            return status_fail(err, LOCUS_ERR_ARG, "%s: metadata '%s' is not valid UTF-8\nhint: use ASCII", path, meta_kv[i]);
    }
    return LOCUS_OK;
}

Status safetensors_write(const char *path, const StEntry *entries, int n, const char *const *meta_kv,
                         ErrorMsg *err) {
    Status s = write_check_entries(path, entries, n, meta_kv, err);
    if (s) return s;

    SBuf h = {0};
    sbuf_str(&h, "{");
    if (meta_kv && meta_kv[0]) {
        sbuf_str(&h, "\"__metadata__\":{");
        for (int i = 0; meta_kv[i]; i += 2) {
            if (i) sbuf_str(&h, ",");
            sbuf_json_string(&h, meta_kv[i]);
            sbuf_str(&h, ":");
            sbuf_json_string(&h, meta_kv[i + 1]);
        }
        sbuf_str(&h, "}");
    }
    unsigned long long off = 0;
    for (int i = 0; i < n; i++) {
        if (i || (meta_kv && meta_kv[0])) sbuf_str(&h, ",");
        sbuf_json_string(&h, entries[i].name);
        sbuf_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < entries[i].shape.ndim; k++) {
            if (k) sbuf_str(&h, ",");
            sbuf_u64(&h, (unsigned long long)entries[i].shape.d[k]);
        }
        sbuf_str(&h, "],\"data_offsets\":[");
        sbuf_u64(&h, off);
        sbuf_str(&h, ",");
        off += shape_numel(&entries[i].shape) * sizeof(float);
        sbuf_u64(&h, off);
        sbuf_str(&h, "]}");
    }
    sbuf_str(&h, "}");
    while ((8 + h.len) % 8) sbuf_str(&h, " "); /* the data buffer starts 8-byte aligned */
    if (h.oom) {
        free(h.p);
        return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory building the header\nhint: none", path);
    }

    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((unsigned long long)h.len >> (8 * k));
    FileAtomic fa;
    s = file_atomic_begin(&fa, path, err);
    if (!s) s = file_atomic_write(&fa, len8, 8, err);
    if (!s) s = file_atomic_write(&fa, h.p, h.len, err);
    for (int i = 0; i < n && !s; i++)
        s = file_atomic_write(&fa, entries[i].data, shape_numel(&entries[i].shape) * sizeof(float), err);
    free(h.p);
    if (s) {
        file_atomic_abort(&fa);
        return s;
    }
    return file_atomic_commit(&fa, err);
}

/* ---------------------------------------------------------------- reader */

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sort context for qsort (no global state: the tensor array travels with each index). */
typedef struct SortItem {
    const StTensor *t;
    int index;
} SortItem;
static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const SortItem *)a)->t->name, ((const SortItem *)b)->t->name);
}
static int cmp_by_offset(const void *a, const void *b) {
    const StTensor *x = ((const SortItem *)a)->t, *y = ((const SortItem *)b)->t;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return ((const SortItem *)a)->index - ((const SortItem *)b)->index;
}

/* A JSON number that is a non-negative integer <= max, into *out. */
static int json_uint(const cJSON *j, double max, unsigned long long *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0) || v > max || v != floor(v)) return 0;
    *out = (unsigned long long)v;
    return 1;
}

#define FAIL(...) do { st = status_fail(err, LOCUS_ERR_FORMAT, __VA_ARGS__); goto fail; } while (0)
#define HINT_CORRUPT "\nhint: the file is corrupt or not a safetensors file; re-create it"

/* Fills t from one header entry (j->string is the name); checks it against the buffer size. */
static Status parse_entry(const char *fname, const cJSON *j, size_t buf_bytes, StTensor *t, ErrorMsg *err) {
    Status st = LOCUS_OK;
    const char *name = j->string;
    size_t nlen = strlen(name);
    if (nlen >= ST_NAME_MAX)
        FAIL("%s: tensor name '%.60s...' is %zu bytes; locus supports names up to %d bytes\n"
             "hint: rename the tensor before saving", fname, name, nlen, ST_NAME_MAX - 1);
    memcpy(t->name, name, nlen + 1);
    if (!cJSON_IsObject(j)) FAIL("%s: header entry '%s' is not an object" HINT_CORRUPT, fname, name);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = j->child; c; c = c->next) {
        const cJSON **slot = !strcmp(c->string, "dtype") ? &dtype
                           : !strcmp(c->string, "shape") ? &shape
                           : !strcmp(c->string, "data_offsets") ? &offs : NULL;
        if (!slot) FAIL("%s: tensor '%s' has an unknown field '%.60s'" HINT_CORRUPT, fname, name, c->string);
        if (*slot) FAIL("%s: tensor '%s' has field '%s' twice" HINT_CORRUPT, fname, name, c->string);
        *slot = c;
    }
    if (!dtype || !shape || !offs)
        FAIL("%s: tensor '%s' lacks '%s'" HINT_CORRUPT, fname, name, !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dtype)) FAIL("%s: tensor '%s': dtype is not a string" HINT_CORRUPT, fname, name);
    int dt = -1;
    for (int k = 0; k < ST_DTYPE_COUNT; k++)
        if (!strcmp(dtype->valuestring, dtype_table[k].name)) dt = k;
    if (dt < 0)
        FAIL("%s: tensor '%s' has dtype '%.40s', which is not a safetensors dtype\n"
             "hint: known dtypes are BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64",
             fname, name, dtype->valuestring);
    t->dtype = (StDtype)dt;
    if (!cJSON_IsArray(shape)) FAIL("%s: tensor '%s': shape is not an array" HINT_CORRUPT, fname, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > TENSOR_MAX_DIMS)
        FAIL("%s: tensor '%s' has %d dimensions; locus supports at most %d\n"
             "hint: reshape it before saving", fname, name, ndim, TENSOR_MAX_DIMS);
    t->shape.ndim = ndim;
    size_t numel = 1;
    int k = 0;
    for (const cJSON *c = shape->child; c; c = c->next, k++) {
        unsigned long long d;
        if (!json_uint(c, 2147483647.0, &d))
            FAIL("%s: tensor '%s': shape entry %d is not an integer in [0, 2^31)" HINT_CORRUPT, fname, name, k);
        t->shape.d[k] = (int)d;
        if (d && numel > SIZE_MAX / d) FAIL("%s: tensor '%s': shape overflows" HINT_CORRUPT, fname, name);
        numel *= (size_t)d;
    }
    size_t esize = dtype_table[dt].size;
    if (numel > SIZE_MAX / esize) FAIL("%s: tensor '%s': shape overflows" HINT_CORRUPT, fname, name);
    t->numel = numel;
    t->nbytes = numel * esize;
    unsigned long long b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, 9007199254740992.0, &b) ||
        !json_uint(offs->child->next, 9007199254740992.0, &e) || e < b)
        FAIL("%s: tensor '%s': data_offsets is not [begin, end] with 0 <= begin <= end" HINT_CORRUPT, fname, name);
    if (e > buf_bytes)
        FAIL("%s: tensor '%s': data_offsets [%llu, %llu] reach past the end of the data (%zu bytes)\n"
             "hint: the file is truncated; re-create it", fname, name, b, e, buf_bytes);
    if (e - b != t->nbytes) {
        char sb[96];
        FAIL("%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s %s needs %zu" HINT_CORRUPT, fname, name,
             b, e, e - b, dtype_table[dt].name, shape_format(&t->shape, sb, sizeof sb), t->nbytes);
    }
    t->offset = (size_t)b; /* relative to the buffer for now; made absolute by the caller */
    return LOCUS_OK;
fail:
    return st;
}

static void st_free(StFile *f) {
    free(f->tensors);
    free(f->by_name);
    for (int i = 0; i < 2 * f->meta_count; i++) free(f->meta[i]);
    free(f->meta);
    f->tensors = NULL;
    f->by_name = NULL;
    f->meta = NULL;
    f->count = f->meta_count = 0;
}

static Status parse_metadata(const char *fname, const cJSON *j, StFile *f, ErrorMsg *err) {
    Status st = LOCUS_OK;
    char **keys = NULL;
    if (!cJSON_IsObject(j)) FAIL("%s: __metadata__ is not an object" HINT_CORRUPT, fname);
    int m = cJSON_GetArraySize(j);
    f->meta = calloc((size_t)2 * (size_t)m + 1, sizeof(char *));
    keys = calloc((size_t)m + 1, sizeof(char *));
    if (!f->meta || !keys) {
        st = status_fail(err, LOCUS_ERR_OOM, "%s: out of memory for metadata\nhint: none", fname);
        goto fail;
    }
    for (const cJSON *c = j->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            FAIL("%s: __metadata__ value of '%.60s' is not a string" HINT_CORRUPT, fname, c->string);
        int i = f->meta_count;
        f->meta[2 * i] = strdup(c->string);
        f->meta[2 * i + 1] = strdup(c->valuestring);
        f->meta_count++;
        if (!f->meta[2 * i] || !f->meta[2 * i + 1]) {
            st = status_fail(err, LOCUS_ERR_OOM, "%s: out of memory for metadata\nhint: none", fname);
            goto fail;
        }
        keys[i] = f->meta[2 * i];
    }
    qsort(keys, (size_t)f->meta_count, sizeof *keys, cmp_str_ptr);
    for (int i = 1; i < f->meta_count; i++)
        if (!strcmp(keys[i - 1], keys[i])) FAIL("%s: __metadata__ has key '%.60s' twice" HINT_CORRUPT, fname, keys[i]);
fail:
    free(keys);
    return st;
}

Status safetensors_parse(StFile *f, const void *buf, size_t n, const char *name, ErrorMsg *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", name);
    const char *fname = f->path;
    const unsigned char *u = buf;
    Status st = LOCUS_OK;
    char *hdr = NULL;
    cJSON *root = NULL;
    SortItem *items = NULL;

    if (n < 8) FAIL("%s: file is %zu bytes, too short for the 8-byte header length\nhint: the file is truncated", fname, n);
    unsigned long long hlen = 0;
    for (int k = 0; k < 8; k++) hlen |= (unsigned long long)u[k] << (8 * k);
    if (hlen > ST_HEADER_MAX)
        FAIL("%s: header length %llu exceeds the 100 MB limit" HINT_CORRUPT, fname, hlen);
    if (hlen > n - 8)
        FAIL("%s: header length %llu but only %zu bytes follow\nhint: the file is truncated or corrupt", fname, hlen, n - 8);
    const char *h = (const char *)u + 8;
    if (hlen < 2 || h[0] != '{')
        FAIL("%s: header is not a JSON object (it must start with '{')" HINT_CORRUPT, fname);
    if (memchr(h, 0, hlen)) FAIL("%s: header contains a NUL byte" HINT_CORRUPT, fname);
    if (!utf8_valid((const unsigned char *)h, hlen)) FAIL("%s: header is not valid UTF-8" HINT_CORRUPT, fname);
    hdr = malloc(hlen + 1);
    if (!hdr) {
        st = status_fail(err, LOCUS_ERR_OOM, "%s: out of memory for a %llu-byte header\nhint: none", fname, hlen);
        goto fail;
    }
    memcpy(hdr, h, hlen);
    hdr[hlen] = 0;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        FAIL("%s: header is not valid JSON (error near byte %zu of the header)" HINT_CORRUPT, fname, at);
    }
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            FAIL("%s: unexpected bytes after the header's JSON object (byte %zu)" HINT_CORRUPT, fname, (size_t)(p - hdr));
    if (!cJSON_IsObject(root)) FAIL("%s: header is not a JSON object" HINT_CORRUPT, fname);

    size_t data_start = 8 + (size_t)hlen, buf_bytes = n - data_start;
    int total = cJSON_GetArraySize(root), nmeta = 0;
    f->tensors = calloc((size_t)total + 1, sizeof *f->tensors);
    f->by_name = calloc((size_t)total + 1, sizeof *f->by_name);
    items = calloc((size_t)total + 1, sizeof *items);
    if (!f->tensors || !f->by_name || !items) {
        st = status_fail(err, LOCUS_ERR_OOM, "%s: out of memory for %d header entries\nhint: none", fname, total);
        goto fail;
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if (nmeta++) FAIL("%s: __metadata__ appears twice" HINT_CORRUPT, fname);
            st = parse_metadata(fname, c, f, err);
            if (st) goto fail;
            continue;
        }
        StTensor *t = &f->tensors[f->count];
        st = parse_entry(fname, c, buf_bytes, t, err);
        if (st) goto fail;
        items[f->count].t = t;
        items[f->count].index = f->count;
        f->count++;
    }

    /* Unique names. */
    qsort(items, (size_t)f->count, sizeof *items, cmp_by_name);
    for (int i = 0; i < f->count; i++) {
        f->by_name[i] = items[i].index;
        if (i && !strcmp(items[i - 1].t->name, items[i].t->name))
            FAIL("%s: tensor name '%s' appears twice" HINT_CORRUPT, fname, items[i].t->name);
    }
    /* No overlaps, no holes, the buffer covered exactly. */
    qsort(items, (size_t)f->count, sizeof *items, cmp_by_offset);
    size_t pos = 0;
    const char *prev = NULL;
    for (int i = 0; i < f->count; i++) {
        const StTensor *t = items[i].t;
        if (t->offset < pos)
            FAIL("%s: tensors '%s' and '%s' overlap in the data buffer" HINT_CORRUPT, fname, prev, t->name);
        if (t->offset > pos)
            FAIL("%s: %zu bytes before tensor '%s' belong to no tensor (a hole in the data buffer)" HINT_CORRUPT, fname,
                 t->offset - pos, t->name);
        pos = t->offset + t->nbytes;
        prev = t->name;
    }
    if (pos != buf_bytes)
        FAIL("%s: the last %zu bytes of the data buffer belong to no tensor" HINT_CORRUPT, fname, buf_bytes - pos);

    for (int i = 0; i < f->count; i++) {
        StTensor *t = &f->tensors[i];
        t->offset += data_start;
        t->bytes = u + t->offset;
        t->data = (t->dtype == ST_F32 && ((uintptr_t)t->bytes % sizeof(float)) == 0) ? (const float *)t->bytes : NULL;
    }
    free(items);
    free(hdr);
    cJSON_Delete(root);
    return LOCUS_OK;
fail:
    free(items);
    free(hdr);
    cJSON_Delete(root);
    st_free(f);
    return st;
}

Status safetensors_open(StFile *f, const char *path, ErrorMsg *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return status_fail(err, LOCUS_ERR_IO, "cannot open %s: %s\nhint: check the checkpoint path", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return status_fail(err, LOCUS_ERR_IO, "cannot read %s: not a regular file\nhint: check the checkpoint path", path);
    }
    size_t n = (size_t)sb.st_size;
    void *map = NULL;
    if (n >= 8) {
        map = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return status_fail(err, LOCUS_ERR_IO, "cannot map %s: %s\nhint: is the file on a special file system?", path,
                               strerror(e));
        }
    }
    close(fd);
    static const unsigned char empty[1] = {0};
    Status st = safetensors_parse(f, map ? map : empty, n, path, err);
    if (st) {
        if (map) munmap(map, n);
        return st;
    }
    f->map = map;
    f->map_bytes = n;
    return LOCUS_OK;
}

void safetensors_close(StFile *f) {
    st_free(f);
    if (f->map) munmap(f->map, f->map_bytes);
    f->map = NULL;
    f->map_bytes = 0;
}

const StTensor *safetensors_find(const StFile *f, const char *name) {
    int lo = 0, hi = f->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const StTensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (!c) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *safetensors_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

Status safetensors_read_f32(const StFile *f, const char *name, const Shape *expect, float *dst, ErrorMsg *err) {
    const StTensor *t = safetensors_find(f, name);
    if (!t)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: no tensor '%s' (the file has %d tensors%s%s%s)\n"
                           "hint: the checkpoint was saved from a different model or configuration",
                           f->path, name, f->count, f->count ? ", e.g. '" : "", f->count ? f->tensors[0].name : "",
                           f->count ? "'" : "");
    if (t->dtype != ST_F32)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: tensor '%s' is %s; locus loads F32 only\n"
                           "hint: convert in PyTorch first: {k: v.float() for k, v in state_dict.items()}",
                           f->path, name, safetensors_dtype_name(t->dtype));
    if (expect && !shape_equal(expect, &t->shape)) {
        char a[96], b[96];
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: tensor '%s' has shape %s but the model expects %s\n"
                           "hint: the checkpoint was saved from a different model or configuration", f->path, name,
                           shape_format(&t->shape, a, sizeof a), shape_format(expect, b, sizeof b));
    }
    if (t->nbytes) memcpy(dst, t->bytes, t->nbytes);
    return LOCUS_OK;
}
