/* test_safetensors.c — the safetensors reader/writer (src/io/safetensors.c):
 *  - round trip: write tensors of every rank (0..5, an empty one, awkward names, metadata), read back
 *    bit-exactly through mmap, check alignment, find/meta/read_f32 and their errors;
 *  - cross-check with an independent reader, tools/ref/check_safetensors.py (json + struct), when
 *    /usr/bin/python3 exists: names, dtypes, shapes and left-to-right double sums must agree exactly;
 *  - a hand-built file as other writers produce it (unpadded header, I64 entry, misaligned F32 data);
 *  - corrupt files (truncated, header length too big, overlaps, holes, bad dtype, wrong byte count,
 *    non-object JSON, ...): a clean LOCUS_ERR_FORMAT whose message names the file, and the Python
 *    reader rejects them too;
 *  - writer argument errors and atomic replacement (a failed write leaves the old file intact);
 *  - a deterministic mutation fuzz loop (2000 mutants) checking the reader's invariants on every file
 *    it accepts (run under `make asan` to catch any out-of-bounds read). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/rng.h"
#include "locus/safetensors.h"

#include "expect.h"

static char tmpdir[64];
static const char *PY = "/usr/bin/python3";
static const char *CHECKER = "tools/ref/check_safetensors.py";

static const char *tmp_path(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f, "cannot create %s", path);
    CHECK(fwrite(p, 1, n, f) == n, "short write");
    fclose(f);
}

/* A file from header text (padded to `pad` spaces, or as is when pad < 0) and a data buffer. */
static size_t build_file(unsigned char *out, size_t cap, const char *header, int pad, const void *data, size_t dn) {
    size_t hl = strlen(header);
    size_t total_h = hl;
    if (pad >= 0) while ((8 + total_h) % 8) total_h++;
    CHECK(8 + total_h + dn <= cap, "build_file: buffer too small");
    for (int k = 0; k < 8; k++) out[k] = (unsigned char)((unsigned long long)total_h >> (8 * k));
    memcpy(out + 8, header, hl);
    memset(out + 8 + hl, ' ', total_h - hl);
    if (dn) memcpy(out + 8 + total_h, data, dn);
    return 8 + total_h + dn;
}

static int have_checker(void) { return access(PY, X_OK) == 0 && access(CHECKER, R_OK) == 0; }

/* Runs the Python reader; returns its exit status, output into out (may be NULL). */
static int run_checker(const char *path, char *out, size_t cap) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s '%s' 2>/dev/null", PY, CHECKER, path);
    FILE *p = popen(cmd, "r");
    CHECK(p, "popen failed");
    size_t n = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && n + got < cap) {
            memcpy(out + n, tmp, got);
            n += got;
        }
    }
    if (out) out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 255;
}

static double sum_seq(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i];
    return s;
}

/* ------------------------------------------------------------------ round trip */

#define NT 8
static float buf_conv[4 * 3 * 3 * 3], buf_bias[10], buf_scalar[1], buf_odd[7], buf_5d[2 * 1 * 2 * 1 * 3],
    buf_special[8], buf_q[3];

static void fill_entries(StEntry *e) {
    Rng r;
    rng_seed(&r, 42);
    for (size_t i = 0; i < sizeof buf_conv / 4; i++) buf_conv[i] = rng_normal(&r);
    for (int i = 0; i < 10; i++) buf_bias[i] = rng_uniform(&r) - 0.5f;
    buf_scalar[0] = 3.25f;
    for (int i = 0; i < 7; i++) buf_odd[i] = (float)i * 1e-3f;
    for (size_t i = 0; i < sizeof buf_5d / 4; i++) buf_5d[i] = (float)i;
    float sp[8] = {NAN, -0.0f, INFINITY, -INFINITY, 1e-45f, 3.4028235e38f, -1.0f, 0.1f};
    memcpy(buf_special, sp, sizeof sp);
    buf_q[0] = 1, buf_q[1] = 2, buf_q[2] = 3;
    memset(e, 0, NT * sizeof *e);
    snprintf(e[0].name, sizeof e[0].name, "layer1.0.conv1.weight");
    e[0].shape = shape4(4, 3, 3, 3), e[0].data = buf_conv;
    snprintf(e[1].name, sizeof e[1].name, "fc.bias");
    e[1].shape = shape1(10), e[1].data = buf_bias;
    snprintf(e[2].name, sizeof e[2].name, "scalar");
    e[2].shape.ndim = 0, e[2].data = buf_scalar;
    snprintf(e[3].name, sizeof e[3].name, "empty");
    e[3].shape = shape2(0, 5), e[3].data = NULL;
    snprintf(e[4].name, sizeof e[4].name, "odd");
    e[4].shape = shape1(7), e[4].data = buf_odd;
    snprintf(e[5].name, sizeof e[5].name, "five.d");
    e[5].shape = (Shape){5, {2, 1, 2, 1, 3}}, e[5].data = buf_5d;
    snprintf(e[6].name, sizeof e[6].name, "special");
    e[6].shape = shape2(2, 4), e[6].data = buf_special;
    snprintf(e[7].name, sizeof e[7].name, "a \"quoted\" \\ name \xc3\xbc");
    e[7].shape = shape1(3), e[7].data = buf_q;
}

static void test_round_trip(void) {
    StEntry e[NT];
    fill_entries(e);
    const char *meta[] = {"format", "pt", "step", "123", "odd", "a\"b\\c\nd\t\x01", NULL};
    char path[256], tmp[300];
    tmp_path("rt.safetensors", path, sizeof path);
    ErrorMsg err = {{0}};
    Status s = safetensors_write(path, e, NT, meta, &err);
    EXPECT(s == LOCUS_OK, "write: %s", err.text);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    EXPECT(access(tmp, F_OK) != 0, "the .tmp file was left behind");

    StFile f;
    s = safetensors_open(&f, path, &err);
    EXPECT(s == LOCUS_OK, "open: %s", err.text);
    if (s) return;
    EXPECT(f.count == NT, "count %d", f.count);
    size_t data_start = (size_t)-1;
    for (int i = 0; i < NT; i++) {
        const StTensor *t = safetensors_find(&f, e[i].name);
        EXPECT(t != NULL, "tensor '%s' not found", e[i].name);
        if (!t) continue;
        EXPECT(t == &f.tensors[i], "header order not kept for '%s'", e[i].name);
        EXPECT(t->dtype == ST_F32, "dtype");
        EXPECT(shape_equal(&t->shape, &e[i].shape), "shape of '%s'", e[i].name);
        size_t nb = shape_numel(&e[i].shape) * 4;
        EXPECT(t->nbytes == nb, "nbytes %zu vs %zu", t->nbytes, nb);
        EXPECT(nb == 0 || memcmp(t->bytes, e[i].data, nb) == 0, "bytes of '%s' differ", e[i].name);
        EXPECT(t->data == (const float *)t->bytes, "F32 data pointer missing for '%s'", e[i].name);
        if (t->offset < data_start) data_start = t->offset;
    }
    EXPECT(data_start % 8 == 0, "data buffer starts at %zu, not 8-aligned", data_start);
    EXPECT(f.tensors[0].offset % 8 == 0, "first tensor not 8-aligned");
    EXPECT(f.tensors[2].shape.ndim == 0 && f.tensors[2].numel == 1, "scalar");
    EXPECT(safetensors_find(&f, "nope") == NULL, "find of a missing name");
    EXPECT(safetensors_meta(&f, "format") && !strcmp(safetensors_meta(&f, "format"), "pt"), "meta format");
    EXPECT(safetensors_meta(&f, "odd") && !strcmp(safetensors_meta(&f, "odd"), meta[5]), "meta escaping");
    EXPECT(safetensors_meta(&f, "missing") == NULL, "missing meta");

    float dst[108];
    Shape want = shape4(4, 3, 3, 3), wrong = shape4(4, 3, 3, 2);
    s = safetensors_read_f32(&f, "layer1.0.conv1.weight", &want, dst, &err);
    EXPECT(s == LOCUS_OK && !memcmp(dst, buf_conv, sizeof buf_conv), "read_f32: %s", err.text);
    s = safetensors_read_f32(&f, "layer1.0.conv1.weight", &wrong, dst, &err);
    EXPECT(s == LOCUS_ERR_FORMAT && strstr(err.text, path) && strstr(err.text, "hint:"), "shape mismatch: %s", err.text);
    s = safetensors_read_f32(&f, "layer9.weight", NULL, dst, &err);
    EXPECT(s == LOCUS_ERR_FORMAT && strstr(err.text, "layer9.weight") && strstr(err.text, path), "missing: %s", err.text);

    /* Independent reader. */
    if (have_checker()) {
        static char out[1 << 16];
        int rc = run_checker(path, out, sizeof out);
        EXPECT(rc == 0, "python checker rejected our file (rc %d)", rc);
        int seen = 0, metas = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            char *f1 = line, *f2 = strchr(f1, '\t');
            if (!f2) continue;
            *f2++ = 0;
            if (!strcmp(f1, "meta")) {
                metas++;
                EXPECT(strncmp(f2, "format\t", 7) || !strcmp(f2 + 7, "\"pt\""), "meta line %s", f2);
                continue;
            }
            char *f3 = strchr(f2, '\t');
            char *f4 = f3 ? strchr(f3 + 1, '\t') : NULL;
            if (!f3 || !f4) { EXPECT(0, "bad checker line"); continue; }
            *f3++ = 0;
            *f4++ = 0;
            const StTensor *t = safetensors_find(&f, f1);
            EXPECT(t != NULL, "checker lists '%s' which we do not have", f1);
            if (!t) continue;
            char sb[96];
            EXPECT(!strcmp(f2, "F32"), "checker dtype %s", f2);
            EXPECT(!strcmp(f3, shape_format(&t->shape, sb, sizeof sb)), "shape %s vs %s", f3, sb);
            double py = strtod(f4, NULL), c = sum_seq((const float *)t->bytes, t->numel);
            EXPECT((isnan(py) && isnan(c)) || py == c, "sum of '%s': python %s, C %.17g", f1, f4, c);
            seen++;
        }
        EXPECT(seen == NT, "checker listed %d tensors", seen);
        EXPECT(metas == 3, "checker listed %d metadata pairs", metas);
    } else {
        printf("note: %s or %s missing; python cross-check skipped\n", PY, CHECKER);
    }
    safetensors_close(&f);

    /* Zero tensors, no metadata: the smallest valid file. */
    tmp_path("empty.safetensors", path, sizeof path);
    s = safetensors_write(path, NULL, 0, NULL, &err);
    EXPECT(s == LOCUS_OK, "empty write: %s", err.text);
    s = safetensors_open(&f, path, &err);
    EXPECT(s == LOCUS_OK && f.count == 0 && f.meta_count == 0, "empty open: %s", err.text);
    if (!s) safetensors_close(&f);
}

/* ------------------------------------------------------------------ other writers' files */

static void test_foreign_layout(void) {
    /* Unpadded header as some writers leave it; F32 data may then be misaligned. */
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char data[24];
    float a[2] = {1.5f, -2.0f};
    int64_t b[2] = {7, -9};
    memcpy(data, a, 8);
    memcpy(data + 8, b, 16);
    unsigned char file[512];
    size_t n = build_file(file, sizeof file, hdr, -1, data, sizeof data);
    ErrorMsg err = {{0}};
    for (int shift = 0; shift < 4; shift++) {
        unsigned char *mem = malloc(n + 4);
        memcpy(mem + shift, file, n);
        StFile f;
        Status s = safetensors_parse(&f, mem + shift, n, "mem", &err);
        EXPECT(s == LOCUS_OK, "foreign parse: %s", err.text);
        if (!s) {
            const StTensor *ta = safetensors_find(&f, "a"), *tb = safetensors_find(&f, "b");
            EXPECT(ta && tb && tb->dtype == ST_I64 && tb->numel == 2, "entries");
            if (ta && tb) {
                int aligned = ((uintptr_t)ta->bytes % 4) == 0;
                EXPECT(aligned ? ta->data != NULL : ta->data == NULL, "data pointer vs alignment");
                float got[2];
                s = safetensors_read_f32(&f, "a", NULL, got, &err);
                EXPECT(s == LOCUS_OK && got[0] == 1.5f && got[1] == -2.0f, "misaligned read_f32");
                int64_t gb[2];
                memcpy(gb, tb->bytes, 16);
                EXPECT(gb[0] == 7 && gb[1] == -9, "I64 bytes");
                s = safetensors_read_f32(&f, "b", NULL, got, &err);
                EXPECT(s == LOCUS_ERR_FORMAT && strstr(err.text, "I64"), "non-F32 read: %s", err.text);
            }
            safetensors_close(&f);
        }
        free(mem);
    }
    EXPECT(!strcmp(safetensors_dtype_name(ST_BF16), "BF16") && safetensors_dtype_size(ST_BF16) == 2, "dtype table");
    EXPECT(safetensors_dtype_size(ST_U64) == 8 && safetensors_dtype_size(ST_BOOL) == 1, "dtype sizes");
}

/* ------------------------------------------------------------------ corrupt files */

typedef struct Bad {
    const char *what;
    const char *header; /* NULL: raw bytes built by the case itself */
    size_t data_bytes;
    const char *needle; /* expected in the message */
    int py_accepts;     /* valid safetensors that only locus refuses (a locus limit) */
} Bad;

/* Files the Python reader must also reject, checked in one run at the end of test_corrupt. */
static char py_paths[64][256];
static int py_count;

static void expect_rejected(const char *what, const unsigned char *bytes, size_t n, const char *needle, int check_py) {
    static int serial;
    char path[256], name[64];
    snprintf(name, sizeof name, "bad-%02d.safetensors", serial++);
    tmp_path(name, path, sizeof path);
    write_bytes(path, bytes, n);
    StFile f;
    ErrorMsg err = {{0}};
    Status s = safetensors_open(&f, path, &err);
    EXPECT(s == LOCUS_ERR_FORMAT, "%s: status %d (%s)", what, (int)s, err.text);
    EXPECT(strstr(err.text, path) != NULL, "%s: message lacks the file name: %s", what, err.text);
    EXPECT(strstr(err.text, "hint:") != NULL, "%s: message lacks a hint: %s", what, err.text);
    EXPECT(!needle || strstr(err.text, needle), "%s: message lacks '%s': %s", what, needle, err.text);
    if (s == LOCUS_OK) safetensors_close(&f);
    if (check_py && py_count < 64) snprintf(py_paths[py_count++], sizeof py_paths[0], "%s", path);
}

/* The Python reader must reject every file in py_paths. */
static void python_rejects_all(void) {
    if (!have_checker() || !py_count) return;
    static char cmd[64 * 300], out[1 << 16];
    size_t m = (size_t)snprintf(cmd, sizeof cmd, "%s %s --status", PY, CHECKER);
    for (int i = 0; i < py_count; i++) m += (size_t)snprintf(cmd + m, sizeof cmd - m, " '%s'", py_paths[i]);
    FILE *p = popen(cmd, "r");
    CHECK(p, "popen failed");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    EXPECT(pclose(p) == 0, "python checker --status failed");
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        char *tab = strchr(line, '\t');
        EXPECT(tab && !strncmp(tab + 1, "bad", 3), "the python reader accepted %s", line);
    }
    EXPECT(lines == py_count, "python checked %d of %d files", lines, py_count);
}

static void test_corrupt(void) {
    static const Bad cases[] = {
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap", 0},
        {"hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "hole", 0},
        {"trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "no tensor", 0},
        {"bad dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "F33", 0},
        {"wrong byte count", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12", 0},
        {"past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "truncated", 0},
        {"array header", "[1, 2]", 0, "JSON object", 0},
        {"string header", "\"abc\"", 0, "JSON object", 0},
        {"invalid json", "{\"a\": {", 0, "not valid JSON", 0},
        {"trailing garbage", "{} x", 0, "after the header", 0},
        {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets", 0},
        {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape", 0},
        {"fractional dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "shape", 0},
        {"rank 6", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, "dimensions", 1},
        {"reversed offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "data_offsets", 0},
        {"offsets not pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, "data_offsets", 0},
        {"entry not object", "{\"a\":[1,2]}", 0, "not an object", 0},
        {"unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unknown field", 0},
        {"meta not object", "{\"__metadata__\":[1]}", 0, "__metadata__", 0},
        {"meta value number", "{\"__metadata__\":{\"k\":1}}", 0, "not a string", 0},
        {"dtype not string", "{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype", 0},
        {"shape overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,2147483647,2147483647],"
                           "\"data_offsets\":[0,8]}}", 8, "overflow", 0},
        {"not utf8", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "UTF-8", 0},
        {"leading space", " {}", 0, "JSON object", 0},
        {"two __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice", 1},
    };
    unsigned char file[4096], zeros[64] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = build_file(file, sizeof file, cases[i].header, 1, zeros, cases[i].data_bytes);
        expect_rejected(cases[i].what, file, n, cases[i].needle, !cases[i].py_accepts);
    }
    /* Duplicate names: the Python reader (dict of pairs) catches these too. */
    {
        const char *h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        size_t n = build_file(file, sizeof file, h, 1, zeros, 8);
        expect_rejected("duplicate names", file, n, "twice", 1);
    }
    {   /* A 200-byte name is valid safetensors but beyond our ST_NAME_MAX: a clear error. */
        char h[512], nm[201];
        memset(nm, 'x', 200);
        nm[200] = 0;
        snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", nm);
        size_t n = build_file(file, sizeof file, h, 1, zeros, 4);
        expect_rejected("long name", file, n, "127", 0);
    }
    {   /* NUL inside the header. */
        size_t n = build_file(file, sizeof file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 1,
                              zeros, 4);
        file[12] = 0;
        expect_rejected("NUL in header", file, n, "NUL", 0);
    }
    /* Raw-byte cases. */
    expect_rejected("empty file", file, 0, "too short", 1);
    expect_rejected("5 bytes", (const unsigned char *)"\x02\0\0\0\0", 5, "too short", 1);
    {
        size_t n = build_file(file, sizeof file, "{}", 1, NULL, 0);
        file[0] = (unsigned char)(n - 8 + 1); /* one more than exists */
        expect_rejected("header length past the end", file, n, "only", 1);
        memset(file, 0, 8);
        file[5] = 1; /* 2^40 */
        expect_rejected("header length 1 TB", file, n, "100 MB", 1);
        memset(file, 0xff, 8);
        expect_rejected("header length 2^64-1", file, n, "100 MB", 1);
    }
    {   /* A valid file cut short. */
        StEntry e[NT];
        fill_entries(e);
        char path[256];
        tmp_path("trunc.safetensors", path, sizeof path);
        ErrorMsg err;
        CHECK(safetensors_write(path, e, NT, NULL, &err) == LOCUS_OK, "%s", err.text);
        FILE *fp = fopen(path, "rb");
        size_t n = fread(file, 1, sizeof file, fp);
        fclose(fp);
        CHECK(n < sizeof file && n > 20, "fixture size %zu", n);
        expect_rejected("truncated by 10 bytes", file, n - 10, "truncated", 1);
        expect_rejected("truncated in the header", file, 30, "truncated", 1);
    }
    python_rejects_all();
    {   /* Not a file at all. */
        StFile f;
        ErrorMsg err = {{0}};
        char path[256];
        Status s = safetensors_open(&f, tmp_path("does-not-exist.safetensors", path, sizeof path), &err);
        EXPECT(s == LOCUS_ERR_IO && strstr(err.text, path), "missing file: %d %s", (int)s, err.text);
        s = safetensors_open(&f, tmpdir, &err);
        EXPECT(s == LOCUS_ERR_IO && strstr(err.text, tmpdir), "directory: %d %s", (int)s, err.text);
    }
}

/* ------------------------------------------------------------------ writer errors, atomicity */

static void test_writer_errors(void) {
    StEntry e[NT];
    fill_entries(e);
    char path[256], tmp[300];
    tmp_path("keep.safetensors", path, sizeof path);
    ErrorMsg err = {{0}};
    CHECK(safetensors_write(path, e, 2, NULL, &err) == LOCUS_OK, "%s", err.text);
    struct stat st0;
    CHECK(stat(path, &st0) == 0, "stat");

    StEntry bad[2];
    memcpy(bad, e, sizeof bad);
    memcpy(bad[1].name, bad[0].name, sizeof bad[1].name);
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG && strstr(err.text, "twice"), "dup: %s", err.text);
    memcpy(bad, e, sizeof bad);
    snprintf(bad[0].name, sizeof bad[0].name, "__metadata__");
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG, "__metadata__ name");
    memcpy(bad, e, sizeof bad);
    bad[0].name[0] = 0;
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG, "empty name");
    memcpy(bad, e, sizeof bad);
    bad[1].shape.ndim = 6;
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG, "rank 6");
    memcpy(bad, e, sizeof bad);
    bad[1].shape.d[0] = -1;
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG, "negative dim");
    memcpy(bad, e, sizeof bad);
    bad[1].data = NULL;
    EXPECT(safetensors_write(path, bad, 2, NULL, &err) == LOCUS_ERR_ARG, "NULL data");
    const char *odd_meta[] = {"k", NULL};
    EXPECT(safetensors_write(path, e, 2, odd_meta, &err) == LOCUS_ERR_ARG, "meta key without value");

    /* "<path>.tmp" cannot be created (it is a directory): IO error, the old file untouched. */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(mkdir(tmp, 0700) == 0, "mkdir %s", tmp);
    Status s = safetensors_write(path, e, NT, NULL, &err);
    EXPECT(s == LOCUS_ERR_IO && strstr(err.text, tmp), "tmp blocked: %d %s", (int)s, err.text);
    rmdir(tmp);
    struct stat st1;
    EXPECT(stat(path, &st1) == 0 && st1.st_size == st0.st_size && st1.st_ino == st0.st_ino, "old file changed");
    StFile f;
    s = safetensors_open(&f, path, &err);
    EXPECT(s == LOCUS_OK && f.count == 2, "old file no longer valid: %s", err.text);
    if (!s) safetensors_close(&f);

    s = safetensors_write("/nonexistent-dir/x.safetensors", e, 2, NULL, &err);
    EXPECT(s == LOCUS_ERR_IO && strstr(err.text, "/nonexistent-dir/x.safetensors"), "bad dir: %s", err.text);

    /* Replacing works and leaves no tmp. */
    s = safetensors_write(path, e, NT, NULL, &err);
    EXPECT(s == LOCUS_OK && access(tmp, F_OK) != 0, "replace: %s", err.text);
    s = safetensors_open(&f, path, &err);
    EXPECT(s == LOCUS_OK && f.count == NT, "replaced file: %s", err.text);
    if (!s) safetensors_close(&f);
}

/* ------------------------------------------------------------------ mutation fuzz */

/* Checks what a successful parse promises; returns the number of violations. */
static int check_invariants(const StFile *f, const unsigned char *buf, size_t n) {
    int bad = 0;
    size_t covered = 0;
    volatile unsigned sink = 0;
    for (int i = 0; i < f->count; i++) {
        const StTensor *t = &f->tensors[i];
        if ((const unsigned char *)t->bytes != buf + t->offset || t->offset + t->nbytes > n ||
            t->nbytes != t->numel * safetensors_dtype_size(t->dtype) || strlen(t->name) >= ST_NAME_MAX ||
            safetensors_find(f, t->name) != t)
            bad++;
        const unsigned char *p = t->bytes;
        for (size_t k = 0; k < t->nbytes; k++) sink += p[k]; /* touch every byte (ASan) */
        covered += t->nbytes;
    }
    if (f->count && covered > n) bad++;
    for (int i = 0; i < f->meta_count; i++)
        if (safetensors_meta(f, f->meta[2 * i]) == NULL) bad++;
    (void)sink;
    return bad;
}

static void test_fuzz(void) {
    static const char interesting[] = "{}[]\",:0123456789-.e \\\x00\xff";
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]},"
                      "\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[30,38]}}";
    unsigned char seed[512], data[38];
    for (int i = 0; i < 38; i++) data[i] = (unsigned char)(i * 7);
    size_t seed_n = build_file(seed, sizeof seed, hdr, 1, data, sizeof data);
    StFile f;
    ErrorMsg err;
    CHECK(safetensors_parse(&f, seed, seed_n, "seed", &err) == LOCUS_OK, "fuzz seed invalid: %s", err.text);
    safetensors_close(&f);

    Rng r;
    rng_seed(&r, 2024);
    int accepted = 0, rejected = 0, violations = 0, bad_msgs = 0;
    const int N = 2000;
    for (int it = 0; it < N; it++) {
        unsigned char m[1024];
        size_t n = seed_n;
        memcpy(m, seed, n);
        int ops = 1 + (int)rng_below(&r, 3);
        for (int o = 0; o < ops && n > 0; o++) {
            /* 90% of positions inside the 8-byte length + header, where the parser works hardest. */
            size_t hend = seed_n - sizeof data;
            size_t pos = rng_below(&r, 10) ? rng_below(&r, hend < n ? hend : n) : rng_below(&r, n);
            switch (rng_below(&r, 7)) {
            case 0: m[pos] ^= (unsigned char)(1u << rng_below(&r, 8)); break;
            case 1: m[pos] = (unsigned char)interesting[rng_below(&r, sizeof interesting - 1)]; break;
            case 2: { /* delete a short range */
                size_t len = 1 + rng_below(&r, 8);
                if (pos + len > n) len = n - pos;
                memmove(m + pos, m + pos + len, n - pos - len);
                n -= len;
                break;
            }
            case 3: { /* insert a few bytes */
                size_t len = 1 + rng_below(&r, 6);
                if (n + len > sizeof m) break;
                memmove(m + pos + len, m + pos, n - pos);
                for (size_t k = 0; k < len; k++) m[pos + k] = (unsigned char)interesting[rng_below(&r, sizeof interesting - 1)];
                n += len;
                break;
            }
            case 4: n = rng_below(&r, n + 1); break; /* truncate */
            case 5: if (n >= 8) m[rng_below(&r, 8)] = (unsigned char)rng_u64(&r); break; /* length field */
            case 6: { /* a digit becomes a big or negative number */
                static const char *nums[] = {"99999999999", "-1", "18446744073709551616", "1e300", "4.5", "0"};
                const char *s = nums[rng_below(&r, 6)];
                size_t len = strlen(s);
                if (m[pos] >= '0' && m[pos] <= '9' && n + len <= sizeof m) {
                    memmove(m + pos + len, m + pos + 1, n - pos - 1);
                    memcpy(m + pos, s, len);
                    n += len - 1;
                }
                break;
            }
            }
        }
        /* Parse from an exact-size heap copy, so an over-read is visible to ASan. */
        unsigned char *heap = malloc(n ? n : 1);
        memcpy(heap, m, n);
        err.text[0] = 0;
        Status s = safetensors_parse(&f, heap, n, "mutant", &err);
        if (s == LOCUS_OK) {
            accepted++;
            violations += check_invariants(&f, heap, n);
            safetensors_close(&f);
        } else {
            rejected++;
            if (s != LOCUS_ERR_FORMAT || !strstr(err.text, "mutant") || !strstr(err.text, "hint:")) {
                if (bad_msgs++ < 5) printf("bad rejection (status %d): %s\n", (int)s, err.text);
            }
        }
        free(heap);
    }
    printf("fuzz: %d mutants, %d accepted, %d rejected\n", N, accepted, rejected);
    EXPECT(violations == 0, "%d invariant violations in accepted mutants", violations);
    EXPECT(bad_msgs == 0, "%d rejections without a FORMAT status / file name / hint", bad_msgs);
    EXPECT(rejected > N / 2, "the mutator is too weak (%d rejected)", rejected);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/locus-st-XXXXXX");
    CHECK(mkdtemp(tmpdir), "mkdtemp failed");
    test_round_trip();
    test_foreign_layout();
    test_corrupt();
    test_writer_errors();
    test_fuzz();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    printf("%s: %d expect_failures\n", expect_failures ? "FAILED" : "PASSED", expect_failures);
    return expect_failures ? 1 : 0;
}
