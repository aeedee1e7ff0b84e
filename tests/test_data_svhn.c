/* test_data_svhn.c — the MAT v5 reader and the SVHN loader on files written here in the real structure
 * (tests/data_writers.c): compressed and uncompressed variables, y of class double stored as uint8 (as
 * MATLAB writes it) and as double (as scipy writes it), a big-endian ("MI") file, and a file written by
 * scipy.io.savemat (tests/fixtures/svhn_scipy_32x32.mat, tools/ref/make_svhn_fixture.py). Pixels must come
 * out CHW (X is column-major 32 x 32 x 3 x N) and label 10 must become 0. Truncations at every length, bit
 * flips and header edits must give a format/IO error naming the file, with a hint, leaking no DATA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/data.h"
#include "locus/rng.h"

#include "data_writers.h"
#include "expect.h"

static char tmp[256], path[512];

static void check_pixels(const Dataset *ds, int n, const char *what) {
    int bad = 0, badlab = 0;
    for (int k = 0; k < n; k++) {
        if (ds->labels[k] != k % 10) badlab++;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    if (ds->images[(size_t)k * 3072 + c * 1024 + y * 32 + x] != dw_pix(k, c, y, x)) bad++;
    }
    EXPECT(bad == 0 && badlab == 0, "%s: %d pixels, %d labels differ", what, bad, badlab);
}

static void test_good(void) {
    for (int compressed = 0; compressed < 2; compressed++)
        for (int stored = 0; stored < 2; stored++) {
            const int y_type = stored ? 9 : 2;
            char what[64];
            snprintf(what, sizeof what, "compressed %d, y stored as %s", compressed, stored ? "double" : "uint8");
            EXPECT(dw_write_svhn(path, 12, compressed, y_type) == 0, "write");
            MatFile m;
            ErrorMsg err = {{0}};
            EXPECT(mat_open(&m, path, &err) == LOCUS_OK, "%s: %s", what, err.text);
            const MatVar *x = mat_find(&m, "X"), *y = mat_find(&m, "y");
            EXPECT(x && x->mclass == 9 && x->stored == 2 && x->ndims == 4 && x->dims[3] == 12 && x->compressed == compressed,
                   "%s: X listed wrong", what);
            EXPECT(y && y->mclass == 6 && y->stored == y_type && y->numel == 12, "%s: y listed wrong (class %d, stored %d)",
                   what, y ? y->mclass : -1, y ? y->stored : -1);
            MemTracker mt = {0};
            Dataset ds;
            Status st = dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err);
            EXPECT(st == LOCUS_OK, "%s: %s", what, err.text);
            if (st) continue;
            EXPECT(ds.n == 12 && ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.classes == 10, "%s: geometry", what);
            check_pixels(&ds, 12, what);
            EXPECT(mt.live[MEM_TAG_DATA] == 12 * 3073 && mt.peak[MEM_TAG_DATA] == 12 * 3073, "%s: DATA %zu", what,
                   mt.live[MEM_TAG_DATA]);
            dataset_free(&ds);
            EXPECT(mt.live[MEM_TAG_DATA] == 0, "%s: leaked", what);
            /* the plan sizes it from the headers: same bytes */
            MemTracker pm = {0};
            EXPECT(dataset_plan(&ds, "svhn", tmp, 1, 7, NULL, &pm, &err) == LOCUS_OK && ds.n == 7 &&
                   pm.live[MEM_TAG_DATA] == 7 * 3073, "%s: plan %zu (%s)", what, pm.live[MEM_TAG_DATA], err.text);
            dataset_free(&ds);
            EXPECT(pm.live[MEM_TAG_DATA] == 0, "plan not given back");
            st = dataset_load(&ds, "svhn", tmp, 1, 7, &mt, &err);
            EXPECT(st == LOCUS_OK && ds.n == 7, "%s: limit 7: %s", what, err.text);
            if (!st) check_pixels(&ds, 7, "limit 7");
            dataset_free(&ds);
        }
    /* a big-endian ("MI") file with a short (4-byte) y stored as int16 */
    double xv[3072], yv[1] = {10};
    for (int c = 0; c < 3; c++)
        for (int w = 0; w < 32; w++)
            for (int h = 0; h < 32; h++) xv[c * 1024 + w * 32 + h] = dw_pix(0, c, h, w);
    DwMatVar v[2] = {{"X", 9, 2, 4, {32, 32, 3, 1}, xv}, {"y", 6, 3, 2, {1, 1, 0, 0}, yv}};
    for (int compressed = 0; compressed < 2; compressed++) {
        EXPECT(dw_write_mat(path, v, 2, compressed, 1) == 0, "write BE");
        MemTracker mt = {0};
        Dataset ds;
        ErrorMsg err = {{0}};
        Status st = dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err);
        EXPECT(st == LOCUS_OK, "big-endian, compressed %d: %s", compressed, err.text);
        if (!st) check_pixels(&ds, 1, "big-endian");
        dataset_free(&ds);
    }
}

/* A file written by scipy.io.savemat (compressed, y stored as double): 3 images, labels 10, 1, 2. */
static void test_scipy_fixture(void) {
    const char *fx = "tests/fixtures/svhn_scipy_32x32.mat";
    if (access(fx, R_OK) != 0) {
        EXPECT(0, "missing %s (tools/ref/make_svhn_fixture.py writes it)", fx);
        return;
    }
    uint8_t images[3 * 3072], labels[3];
    ErrorMsg err = {{0}};
    int n = 0;
    EXPECT(svhn_count(fx, &n, &err) == LOCUS_OK && n == 3, "scipy fixture: count %d: %s", n, err.text);
    EXPECT(svhn_read(fx, 3, images, labels, &err) == LOCUS_OK, "scipy fixture: %s", err.text);
    EXPECT(labels[0] == 0 && labels[1] == 1 && labels[2] == 2, "scipy fixture labels %u %u %u", labels[0], labels[1],
           labels[2]);
    int bad = 0;
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    if (images[k * 3072 + c * 1024 + y * 32 + x] != dw_pix(k, c, y, x)) bad++;
    EXPECT(bad == 0, "scipy fixture: %d pixels differ", bad);
}

static int read_file(const char *p, uint8_t **data, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(*n + 1);
    size_t got = fread(*data, 1, *n, f);
    fclose(f);
    return got == *n ? 0 : -1;
}

static void write_file(const char *p, const uint8_t *data, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Must fail cleanly (or, for a harmless mutation, succeed) without leaking. */
static int try_load(const char *what, int must_fail) {
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    Status st = dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err);
    int bad = 0;
    if (st == LOCUS_OK) {
        if (must_fail) { printf("  %s: accepted\n", what); bad++; }
        if (ds.n < 1 || ds.n > 12) { printf("  %s: %d images\n", what, ds.n); bad++; }
        for (int i = 0; i < ds.n; i++) if (ds.labels[i] > 9) { bad++; break; }
        dataset_free(&ds);
    } else if ((st != LOCUS_ERR_FORMAT && st != LOCUS_ERR_IO) || !strstr(err.text, "train_32x32.mat") ||
               !strstr(err.text, "\nhint: ")) {
        printf("  %s: bad error (%s): %s\n", what, status_name(st), err.text);
        bad++;
    }
    if (mt.live[MEM_TAG_DATA]) { printf("  %s: leaked %zu\n", what, mt.live[MEM_TAG_DATA]); bad++; }
    return bad;
}

static void test_corrupt(void) {
    for (int compressed = 0; compressed < 2; compressed++) {
        EXPECT(dw_write_svhn(path, 12, compressed, 2) == 0, "write");
        uint8_t *good = NULL;
        size_t n = 0;
        if (read_file(path, &good, &n) != 0 || n < 400) {
            EXPECT(0, "cannot read back %s", path);
            return;
        }
        int bad = 0;
        /* every truncation (each length for the header region, then a stride) must be an error */
        for (size_t len = 0; len < n; len += len < 300 ? 1 : 97) {
            write_file(path, good, len);
            char what[64];
            snprintf(what, sizeof what, "compressed %d truncated to %zu", compressed, len);
            bad += try_load(what, 1);
        }
        /* bit flips and byte sets anywhere: an error or a valid dataset, never a crash or a leak */
        Rng r;
        rng_seed(&r, 1234 + (uint64_t)compressed);
        uint8_t *m = malloc(n);
        for (int it = 0; it < 300; it++) {
            memcpy(m, good, n);
            for (int k = 0; k < 1 + (int)rng_below(&r, 3); k++) {
                size_t at = it < 150 ? 116 + rng_below(&r, n < 400 ? n - 116 : 284) : rng_below(&r, n);
                if (rng_below(&r, 2)) m[at] ^= (uint8_t)(1u << rng_below(&r, 8));
                else m[at] = (uint8_t)(rng_below(&r, 2) ? 0xff : rng_below(&r, 256));
            }
            write_file(path, m, n);
            bad += try_load("mutant", 0);
        }
        free(m);
        EXPECT(bad == 0, "compressed %d: %d corrupt files handled badly", compressed, bad);
        free(good);
    }
    /* specific wrong contents */
    double y11[2] = {11, 1}, xv[2 * 3072] = {0};
    DwMatVar v[2] = {{"X", 9, 2, 4, {32, 32, 3, 2}, xv}, {"y", 6, 2, 2, {2, 1, 0, 0}, y11}};
    ErrorMsg err;
    MemTracker mt = {0};
    Dataset ds;
    dw_write_mat(path, v, 2, 1, 0);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "1..10"),
           "label 11: %s", err.text);
    double yfrac[2] = {1.5, 1};
    v[1].values = yfrac, v[1].stored = 9;
    dw_write_mat(path, v, 2, 0, 0);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "integer"),
           "label 1.5: %s", err.text);
    v[1].stored = 2, v[1].dims[0] = 3;
    double y3[3] = {1, 2, 3};
    v[1].values = y3;
    dw_write_mat(path, v, 2, 1, 0);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "y has 3"),
           "3 labels for 2 images: %s", err.text);
    v[0].dims[0] = 28, v[1].dims[0] = 2;
    dw_write_mat(path, v, 2, 1, 0);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "32 x 32 x 3"),
           "28 x 32 images: %s", err.text);
    v[0].dims[0] = 32;
    dw_write_mat(path, v, 1, 1, 0);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "'X' and 'y'"),
           "no y: %s", err.text);
    FILE *f = fopen(path, "wb");
    char h[128];
    memset(h, ' ', sizeof h);
    memcpy(h, "MATLAB 7.3 MAT-file", 19);
    h[124] = 0, h[125] = 2, h[126] = 'I', h[127] = 'M';
    fwrite(h, 1, 128, f);
    for (int i = 0; i < 1000; i++) fputc(0, f);
    fclose(f);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "v7.3"),
           "v7.3: %s", err.text);
    f = fopen(path, "wb");
    fputs("this is not a MAT file at all, but it is long enough to hold a header ......................"
          "...........................................", f);
    fclose(f);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "not a MAT v5"),
           "text file: %s", err.text);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "errors leaked %zu", mt.live[MEM_TAG_DATA]);
    unlink(path);
    EXPECT(dataset_load(&ds, "svhn", tmp, 1, 0, &mt, &err) == LOCUS_ERR_IO && strstr(err.text, "ufldl"),
           "missing file gives the download hint: %s", err.text);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/locus_svhn_%d", (int)getpid());
    dw_rmtree(tmp);
    mkdir(tmp, 0700);
    snprintf(path, sizeof path, "%s/train_32x32.mat", tmp);
    test_good();
    test_scipy_fixture();
    test_corrupt();
    dw_rmtree(tmp);
    return expect_report();
}
