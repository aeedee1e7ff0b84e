/* test_data_idx.c — the IDX reader and the Fashion-MNIST loader on small generated files in the real
 * format (gzip and raw): good files read back byte for byte; truncated, wrong magic, count mismatch,
 * bad label, trailing bytes, absurd headers and missing files give the right Status and a message that
 * names the file and carries a hint. Then the real Debian test split when installed (skipped cleanly
 * otherwise) and a bounded, deterministic mutation fuzz of the parser (2000 mutants). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "locus/data.h"
#include "locus/rng.h"

#include "expect.h"

static char tmp[256];

static void path_in(char *out, const char *name) { snprintf(out, 512, "%s/%s", tmp, name); }

static void write_bytes(const char *path, const uint8_t *b, size_t n, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g || (n && gzwrite(g, b, (unsigned)n) != (int)n)) { printf("cannot write %s\n", path); exit(1); }
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(b, 1, n, f) != n) { printf("cannot write %s\n", path); exit(1); }
        fclose(f);
    }
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v; }

/* An IDX images file image in memory: header + count*rows*cols bytes (pixel = f(i)). */
static size_t make_images(uint8_t *buf, uint32_t count, uint32_t rows, uint32_t cols) {
    buf[0] = 0, buf[1] = 0, buf[2] = 8, buf[3] = 3;
    put32(buf + 4, count), put32(buf + 8, rows), put32(buf + 12, cols);
    size_t n = (size_t)count * rows * cols;
    for (size_t i = 0; i < n; i++) buf[16 + i] = (uint8_t)(i * 7 + i / 784);
    return 16 + n;
}
static size_t make_labels(uint8_t *buf, uint32_t count) {
    buf[0] = 0, buf[1] = 0, buf[2] = 8, buf[3] = 1;
    put32(buf + 4, count);
    for (uint32_t i = 0; i < count; i++) buf[8 + i] = (uint8_t)((i * 3) % 10);
    return 8 + count;
}

static uint8_t img_buf[16 + 8 * 784 + 64], lbl_buf[8 + 8 + 64];

/* Writes the Fashion-MNIST test pair (n images) with the real names. */
static void write_pair(int n, int gz) {
    char p[512];
    const char *sfx = gz ? ".gz" : "";
    char name[128];
    snprintf(name, sizeof name, "t10k-images-idx3-ubyte%s", sfx);
    path_in(p, name);
    write_bytes(p, img_buf, make_images(img_buf, (uint32_t)n, 28, 28), gz);
    snprintf(name, sizeof name, "t10k-labels-idx1-ubyte%s", sfx);
    path_in(p, name);
    write_bytes(p, lbl_buf, make_labels(lbl_buf, (uint32_t)n), gz);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void clear_tmp(void) {
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(tmp, 0700) != 0) { printf("cannot recreate %s\n", tmp); exit(1); }
}

/* The error contract: this status, the file's name in the message, and a hint line. */
static void expect_error(Status got, Status want, const ErrorMsg *err, const char *needle, const char *what) {
    EXPECT(got == want, "%s: status %s, expected %s (%s)", what, status_name(got), status_name(want), err->text);
    EXPECT(strstr(err->text, needle) != NULL, "%s: message lacks '%s': %s", what, needle, err->text);
    EXPECT(strstr(err->text, "\nhint: ") != NULL, "%s: message lacks a hint: %s", what, err->text);
}

static void test_good_files(void) {
    for (int gz = 0; gz <= 1; gz++) {
        clear_tmp();
        write_pair(5, gz);
        MemTracker mt = {0};
        Dataset ds;
        ErrorMsg err = {{0}};
        Status st = dataset_load(&ds, "fashion-mnist", tmp, 0, 0, &mt, &err);
        EXPECT(st == LOCUS_OK, "gz %d: %s", gz, err.text);
        if (st) continue;
        EXPECT(ds.n == 5 && ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.classes == 10, "geometry %d %d %d %d",
               ds.n, ds.c, ds.h, ds.w);
        EXPECT(!strcmp(ds.name, "fashion-mnist"), "name %s", ds.name);
        make_images(img_buf, 5, 28, 28);
        make_labels(lbl_buf, 5);
        EXPECT(!memcmp(ds.images, img_buf + 16, 5 * 784), "gz %d: image bytes differ", gz);
        EXPECT(!memcmp(ds.labels, lbl_buf + 8, 5), "gz %d: labels differ", gz);
        EXPECT(mt.live[MEM_TAG_DATA] == 5 * 784 + 5, "DATA live %zu", mt.live[MEM_TAG_DATA]);
        dataset_free(&ds);
        EXPECT(mt.live[MEM_TAG_DATA] == 0, "DATA live %zu after free", mt.live[MEM_TAG_DATA]);

        st = dataset_load(&ds, "fashion-mnist", tmp, 0, 3, &mt, &err); /* limit */
        EXPECT(st == LOCUS_OK && ds.n == 3, "limit 3: n %d, %s", ds.n, err.text);
        if (!st) EXPECT(!memcmp(ds.images, img_buf + 16, 3 * 784) && !memcmp(ds.labels, lbl_buf + 8, 3), "limit");
        EXPECT(mt.live[MEM_TAG_DATA] == 3 * 785, "limit DATA live %zu", mt.live[MEM_TAG_DATA]);
        dataset_free(&ds);
    }
    /* a generic IDX with other dims, straight through the parser */
    clear_tmp();
    char p[512];
    path_in(p, "small.idx");
    write_bytes(p, img_buf, make_images(img_buf, 4, 3, 2), 0);
    IdxU8 a;
    ErrorMsg err = {{0}};
    Status st = idx_read_u8(p, 3, 0, 0, &a, NULL, &err);
    EXPECT(st == LOCUS_OK && a.dims[0] == 4 && a.dims[1] == 3 && a.dims[2] == 2 && a.kept == 4 && a.bytes == 24,
           "small idx: %s", err.text);
    if (!st) EXPECT(!memcmp(a.data, img_buf + 16, 24), "small idx bytes");
    idx_free(&a, NULL);
}

/* Writes the pair with one file replaced by the given bytes; expects `want` naming `needle`. */
static void bad_case(const char *what, int gz, int images_file, const uint8_t *b, size_t n, Status want,
                     const char *needle) {
    clear_tmp();
    write_pair(5, gz);
    char p[512], name[128];
    snprintf(name, sizeof name, "t10k-%s%s", images_file ? "images-idx3-ubyte" : "labels-idx1-ubyte", gz ? ".gz" : "");
    path_in(p, name);
    write_bytes(p, b, n, gz);
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    Status st = dataset_load(&ds, "fashion-mnist", tmp, 0, 0, &mt, &err);
    char w[160];
    snprintf(w, sizeof w, "%s (%s)", what, gz ? "gz" : "raw");
    expect_error(st, want, &err, needle ? needle : name, w);
    EXPECT(ds.images == NULL && ds.n == 0, "%s: dataset not empty after error", w);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "%s: %zu DATA bytes leaked", w, mt.live[MEM_TAG_DATA]);
    if (st == LOCUS_OK) dataset_free(&ds);
}

static void test_bad_files(void) {
    uint8_t b[16 + 6 * 784 + 64];
    for (int gz = 0; gz <= 1; gz++) {
        size_t n = make_images(b, 5, 28, 28);
        bad_case("truncated images (1 byte short)", gz, 1, b, n - 1, LOCUS_ERR_FORMAT, NULL);
        bad_case("truncated header", gz, 1, b, 10, LOCUS_ERR_FORMAT, "header");
        bad_case("empty images file", gz, 1, b, 0, LOCUS_ERR_FORMAT, NULL);
        n = make_images(b, 5, 28, 28);
        b[n] = 0x42;
        bad_case("trailing byte", gz, 1, b, n + 1, LOCUS_ERR_FORMAT, "trailing");
        n = make_images(b, 5, 28, 28);
        b[3] = 1;
        bad_case("wrong magic (labels magic in images file)", gz, 1, b, n, LOCUS_ERR_FORMAT, "magic");
        b[3] = 3, b[2] = 9;
        bad_case("wrong magic (int8 type)", gz, 1, b, n, LOCUS_ERR_FORMAT, "00 00 09 03");
        n = make_images(b, 5, 27, 28);
        bad_case("27 x 28 images", gz, 1, b, n, LOCUS_ERR_FORMAT, "28 x 28");
        n = make_images(b, 5, 28, 28);
        put32(b + 4, 0x7fffffff); /* absurd count: must not allocate ~1.7 TB */
        bad_case("absurd count", gz, 1, b, n, LOCUS_ERR_FORMAT, NULL);
        put32(b + 4, 2000000); /* plausible count, tiny file: 1.5 GB claimed */
        bad_case("count beyond file", gz, 1, b, n, LOCUS_ERR_FORMAT, "truncated");
        n = make_images(b, 5, 28, 28);
        put32(b + 8, 0);
        bad_case("zero rows", gz, 1, b, n, LOCUS_ERR_FORMAT, "rows");

        n = make_labels(b, 4);
        bad_case("count mismatch (4 labels, 5 images)", gz, 0, b, n, LOCUS_ERR_FORMAT, "images-idx3");
        n = make_labels(b, 5);
        b[8 + 3] = 10;
        bad_case("label 10", gz, 0, b, n, LOCUS_ERR_FORMAT, "found 10");
        n = make_labels(b, 5);
        b[n] = 0;
        bad_case("trailing label byte", gz, 0, b, n + 1, LOCUS_ERR_FORMAT, "trailing");
        bad_case("truncated labels", gz, 0, b, n - 2, LOCUS_ERR_FORMAT, "truncated");
    }
    /* a gzip file cut short: the deflate stream ends early */
    {
        clear_tmp();
        write_pair(5, 1);
        char p[512];
        path_in(p, "t10k-images-idx3-ubyte.gz");
        FILE *f = fopen(p, "rb");
        uint8_t gzb[8192];
        size_t n = fread(gzb, 1, sizeof gzb, f);
        fclose(f);
        const size_t cuts[3] = {1, 5, n / 2}; /* inside the size trailer, the CRC, the deflate data */
        for (int c = 0; c < 3; c++) {
            write_bytes(p, gzb, n - cuts[c], 0);
            MemTracker mt = {0};
            Dataset ds;
            ErrorMsg err = {{0}};
            Status st = dataset_load(&ds, "fashion-mnist", tmp, 0, 0, &mt, &err);
            expect_error(st, LOCUS_ERR_FORMAT, &err, "t10k-images-idx3-ubyte.gz", "gzip cut short");
            EXPECT(mt.live[MEM_TAG_DATA] == 0, "gzip cut: leaked");
            if (!st) dataset_free(&ds);
        }
        /* a flipped bit in the compressed data: zlib's CRC (or the inflater) catches it */
        gzb[n / 2] ^= 0x10;
        write_bytes(p, gzb, n, 0);
        Dataset ds;
        ErrorMsg err = {{0}};
        Status st = dataset_load(&ds, "fashion-mnist", tmp, 0, 0, NULL, &err);
        expect_error(st, LOCUS_ERR_FORMAT, &err, "t10k-images-idx3-ubyte.gz", "gzip bit flip");
        if (!st) dataset_free(&ds);
    }
    /* the absurd header must not have allocated: peak DATA stays tiny */
    {
        clear_tmp();
        char p[512];
        path_in(p, "huge.idx.gz");
        uint8_t h[16 + 64] = {0};
        make_images(h, 0, 28, 28);
        put32(h + 4, 9000000); /* 7 GB claimed, ~100 bytes on disk */
        write_bytes(p, h, 16 + 64, 1);
        MemTracker mt = {0};
        IdxU8 a;
        ErrorMsg err = {{0}};
        Status st = idx_read_u8(p, 3, 0, 0, &a, &mt, &err);
        expect_error(st, LOCUS_ERR_FORMAT, &err, "huge.idx.gz", "huge header");
        EXPECT(mt.peak[MEM_TAG_DATA] == 0, "huge header: peak DATA %zu", mt.peak[MEM_TAG_DATA]);
        put32(h + 4, 60000); /* 47 MB claimed in a gzip of ~100 bytes: over deflate's limit */
        write_bytes(p, h, 16 + 64, 1);
        st = idx_read_u8(p, 3, 0, 0, &a, &mt, &err);
        expect_error(st, LOCUS_ERR_FORMAT, &err, "huge.idx.gz", "47 MB header, tiny gzip");
        EXPECT(mt.peak[MEM_TAG_DATA] == 0, "tiny gzip: peak DATA %zu", mt.peak[MEM_TAG_DATA]);
    }
}

static void test_missing(void) {
    clear_tmp();
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    Status st = dataset_load(&ds, "fashion-mnist", tmp, 1, 0, &mt, &err);
    expect_error(st, LOCUS_ERR_IO, &err, "train-images-idx3-ubyte", "missing dir contents");
    EXPECT(strstr(err.text, "apt-get install dataset-fashion-mnist") != NULL, "hint: %s", err.text);
    EXPECT(strstr(err.text, "--data-dir") != NULL, "hint lacks --data-dir: %s", err.text);
    write_pair(5, 1);
    char p[512];
    path_in(p, "t10k-labels-idx1-ubyte.gz");
    remove(p);
    st = dataset_load(&ds, "fashion-mnist", tmp, 0, 0, &mt, &err);
    expect_error(st, LOCUS_ERR_IO, &err, "t10k-labels-idx1-ubyte", "missing labels");
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "missing labels: leaked");
    st = dataset_load(&ds, "fashion-mnist", "/nonexistent/locus", 0, 0, &mt, &err);
    expect_error(st, LOCUS_ERR_IO, &err, "/nonexistent/locus", "missing dir");
    IdxU8 a;
    path_in(p, "nope.gz");
    st = idx_read_u8(p, 3, 0, 0, &a, &mt, &err);
    expect_error(st, LOCUS_ERR_IO, &err, "nope.gz", "idx missing");
    st = dataset_load(&ds, "imagenet-1k", tmp, 0, 0, &mt, &err);
    EXPECT(st == LOCUS_ERR_ARG && strstr(err.text, "imagenet-1k"), "unknown dataset: %s", err.text);
}

static void test_real(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("skip: %s not installed (apt-get install dataset-fashion-mnist)\n", dir);
        return;
    }
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    Status st = dataset_load(&ds, "fashion-mnist", NULL, 0, 0, &mt, &err); /* NULL: the default folder */
    EXPECT(st == LOCUS_OK, "real test split: %s", err.text);
    if (st) return;
    EXPECT(ds.n == 10000 && ds.h == 28 && ds.w == 28 && ds.c == 1, "real: n %d %dx%d", ds.n, ds.h, ds.w);
    int hist[10] = {0};
    for (int i = 0; i < ds.n; i++) hist[ds.labels[i]]++;
    for (int k = 0; k < 10; k++) EXPECT(hist[k] == 1000, "class %d: %d images", k, hist[k]);
    EXPECT(ds.labels[0] == 9 && ds.labels[1] == 2, "first labels %d %d (expected 9 2)", ds.labels[0], ds.labels[1]);
    long sum0 = 0;
    for (int i = 0; i < 784; i++) sum0 += ds.images[i];
    EXPECT(sum0 == 33456, "first image pixel sum %ld (expected 33456)", sum0);
    EXPECT(mt.live[MEM_TAG_DATA] == 10000 * 785, "DATA live %zu", mt.live[MEM_TAG_DATA]);
    EXPECT(mt.peak[MEM_TAG_DATA] == 10000 * 785, "DATA peak %zu: the gzip trailer should size it exactly",
           mt.peak[MEM_TAG_DATA]);
    dataset_free(&ds);
    printf("real Fashion-MNIST test split: 10000 images, 1000 per class\n");
}

/* 2000 mutants (bit flips, byte sets, truncations, header edits, appends) of small IDX files, raw and
 * gzip, through both parsers: each must succeed or fail cleanly with the file's name and a hint. */
static void test_fuzz(void) {
    clear_tmp();
    uint8_t seed_img[16 + 3 * 20], seed_lbl[8 + 3], m[256];
    make_images(seed_img, 3, 4, 5);
    make_labels(seed_lbl, 3);
    char p[512];
    path_in(p, "mutant");
    Rng r;
    rng_seed(&r, 20240611);
    int ok = 0, bad = 0;
    for (int it = 0; it < 2000; it++) {
        const int labels = it & 1, gz = (it >> 1) & 1;
        const uint8_t *src = labels ? seed_lbl : seed_img;
        size_t n = labels ? sizeof seed_lbl : sizeof seed_img;
        memcpy(m, src, n);
        int edits = 1 + (int)rng_below(&r, 3);
        for (int e = 0; e < edits; e++) {
            switch (rng_below(&r, 6)) {
            case 0: m[rng_below(&r, n)] ^= (uint8_t)(1u << rng_below(&r, 8)); break;
            case 1: m[rng_below(&r, n)] = (uint8_t)rng_u64(&r); break;
            case 2: n = rng_below(&r, n + 1); break;
            case 3: { /* header int edit: a dim set to a random, huge, zero or off-by-one value */
                size_t at = 4 * rng_below(&r, labels ? 2 : 4);
                if (at + 4 > n) break;
                uint32_t v[4] = {(uint32_t)rng_u64(&r), 0xffffffffu, 0, 4u + (uint32_t)rng_below(&r, 3) - 1u};
                put32(m + at, v[rng_below(&r, 4)]);
                break;
            }
            case 4: { size_t k = rng_below(&r, 16); while (k-- && n < sizeof m) m[n++] = (uint8_t)rng_u64(&r); break; }
            default: if (n) m[rng_below(&r, n)] = rng_below(&r, 2) ? 0 : 0xff; break;
            }
            if (n == 0) break;
        }
        if (gz && rng_below(&r, 4) == 0) { /* mutate the compressed bytes instead */
            write_bytes(p, src, labels ? sizeof seed_lbl : sizeof seed_img, 1);
            FILE *f = fopen(p, "rb");
            n = fread(m, 1, sizeof m, f);
            fclose(f);
            m[rng_below(&r, n)] ^= (uint8_t)(1u << rng_below(&r, 8));
            if (rng_below(&r, 2)) n = rng_below(&r, n + 1);
            write_bytes(p, m, n, 0);
        } else {
            write_bytes(p, m, n, gz);
        }
        for (int ndim = 1; ndim <= 3; ndim += 2) {
            MemTracker mt = {0};
            IdxU8 a;
            ErrorMsg err = {{0}};
            Status st = idx_read_u8(p, ndim, (int)rng_below(&r, 4), ndim == 1 ? 10 : 0, &a, &mt, &err);
            if (st == LOCUS_OK) {
                ok++;
                EXPECT(a.bytes == (size_t)a.kept * (ndim == 3 ? (size_t)a.dims[1] * a.dims[2] : 1), "fuzz %d: bytes", it);
                idx_free(&a, &mt);
            } else {
                bad++;
                EXPECT(st == LOCUS_ERR_FORMAT || st == LOCUS_ERR_IO, "fuzz %d: status %s", it, status_name(st));
                EXPECT(strstr(err.text, p) && strstr(err.text, "\nhint: "), "fuzz %d: message %s", it, err.text);
            }
            EXPECT(mt.live[MEM_TAG_DATA] == 0, "fuzz %d: %zu DATA bytes leaked", it, mt.live[MEM_TAG_DATA]);
            /* idx.c's bound: at most deflate's ratio x the file's size, or the 64 KiB first growth step */
            EXPECT(mt.peak[MEM_TAG_DATA] <= 256 * 1024, "fuzz %d: peak DATA %zu for a tiny file", it,
                   mt.peak[MEM_TAG_DATA]);
        }
    }
    printf("fuzz: 2000 mutants x 2 parsers: %d parsed, %d rejected cleanly\n", ok, bad);
    EXPECT(ok > 0 && bad > 0, "fuzz exercised only one outcome (ok %d, bad %d)", ok, bad);
}

int main(void) {
    /* tmpfs when there is one: the fuzz loop writes 2000 small files */
    snprintf(tmp, sizeof tmp, "%s/locus-test-idx-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmp)) { printf("cannot create a temp dir\n"); return 1; }
    test_good_files();
    test_bad_files();
    test_missing();
    test_real();
    test_fuzz();
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %d expect_failures\n", expect_failures ? "FAILED" : "PASSED", expect_failures);
    return expect_failures ? 1 : 0;
}
