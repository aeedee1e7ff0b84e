/* test_data_cifar.c — the CIFAR-10 binary reader on generated batch files in the real layout (a few
 * records each): label byte then the R, G, B planes, read back as CHW; both folder conventions
 * (DIR/cifar-10-batches-bin/ and the folder itself); limit across a file boundary; and the errors:
 * size not a multiple of 3073, empty file, bad label, missing folder / missing batch (with the download
 * hint). Every message must name the file and carry a hint; no DATA bytes may leak. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/data.h"

#include "expect.h"

static char tmp[256], bin[512];

/* Pixel (channel c, row y, col x) of global image k: distinct per plane, row and image. */
static uint8_t pix(int k, int c, int y, int x) { return (uint8_t)(k * 37 + c * 85 + y * 3 + x * 5); }
static int label_of(int k) { return (k * 7 + 3) % 10; }

/* Writes `records` records for global images first..first+records-1 to dir/name (+ extra bytes). */
static void write_batch(const char *dir, const char *name, int first, int records, int extra, int bad_record) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { printf("cannot write %s\n", p); exit(1); }
    uint8_t rec[CIFAR_RECORD_BYTES];
    for (int r = 0; r < records; r++) {
        int k = first + r;
        rec[0] = (uint8_t)(r == bad_record ? 10 : label_of(k));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = pix(k, c, y, x);
        fwrite(rec, 1, sizeof rec, f);
    }
    for (int i = 0; i < extra; i++) fputc(0, f);
    fclose(f);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* Train: data_batch_i holds 2 records (images 2(i-1), 2(i-1)+1); test: 3 records (images 100..102). */
static void write_all(void) {
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(tmp, 0700);
    mkdir(bin, 0700);
    for (int i = 1; i <= 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", i);
        write_batch(bin, name, 2 * (i - 1), 2, 0, -1);
    }
    write_batch(bin, "test_batch.bin", 100, 3, 0, -1);
}

static void check_images(const Dataset *ds, int first, int n, const char *what) {
    int bad = 0;
    for (int k = 0; k < n; k++) {
        if (ds->labels[k] != label_of(first + k)) bad++;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    if (ds->images[(size_t)k * 3072 + c * 1024 + y * 32 + x] != pix(first + k, c, y, x)) bad++;
    }
    EXPECT(bad == 0, "%s: %d bytes differ from the written records", what, bad);
}

static void expect_error(Status got, Status want, const ErrorMsg *err, const char *needle, const char *what) {
    EXPECT(got == want, "%s: status %s, expected %s (%s)", what, status_name(got), status_name(want), err->text);
    EXPECT(strstr(err->text, needle) != NULL, "%s: message lacks '%s': %s", what, needle, err->text);
    EXPECT(strstr(err->text, "\nhint: ") != NULL, "%s: message lacks a hint: %s", what, err->text);
}

static void test_good(void) {
    write_all();
    const char *dirs[2] = {tmp, bin};
    for (int d = 0; d < 2; d++) {
        MemTracker mt = {0};
        Dataset ds;
        ErrorMsg err = {{0}};
        Status st = dataset_load(&ds, "cifar10", dirs[d], 1, 0, &mt, &err);
        EXPECT(st == LOCUS_OK, "train from %s: %s", dirs[d], err.text);
        if (st) continue;
        EXPECT(ds.n == 10 && ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.classes == 10, "train geometry n %d", ds.n);
        EXPECT(!strcmp(ds.name, "cifar10"), "name %s", ds.name);
        check_images(&ds, 0, 10, "train");
        EXPECT(mt.live[MEM_TAG_DATA] == 10 * 3073, "DATA live %zu", mt.live[MEM_TAG_DATA]);
        dataset_free(&ds);
        EXPECT(mt.live[MEM_TAG_DATA] == 0, "DATA live %zu after free", mt.live[MEM_TAG_DATA]);

        st = dataset_load(&ds, "cifar10", dirs[d], 0, 0, &mt, &err);
        EXPECT(st == LOCUS_OK && ds.n == 3, "test split: n %d %s", ds.n, err.text);
        if (!st) check_images(&ds, 100, 3, "test");
        dataset_free(&ds);

        st = dataset_load(&ds, "cifar10", dirs[d], 1, 3, &mt, &err); /* 2 from batch 1, 1 from batch 2 */
        EXPECT(st == LOCUS_OK && ds.n == 3, "limit 3: n %d %s", ds.n, err.text);
        if (!st) check_images(&ds, 0, 3, "limit 3");
        dataset_free(&ds);
        EXPECT(mt.live[MEM_TAG_DATA] == 0, "leak");
    }
    int records = 0;
    char p[1024];
    snprintf(p, sizeof p, "%s/test_batch.bin", bin);
    ErrorMsg err = {{0}};
    EXPECT(cifar_count(p, &records, &err) == LOCUS_OK && records == 3, "cifar_count %d %s", records, err.text);
}

static void load_expect(const char *what, int train, Status want, const char *needle) {
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    Status st = dataset_load(&ds, "cifar10", tmp, train, 0, &mt, &err);
    expect_error(st, want, &err, needle, what);
    EXPECT(ds.images == NULL && ds.n == 0, "%s: dataset not empty after error", what);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "%s: %zu DATA bytes leaked", what, mt.live[MEM_TAG_DATA]);
    if (st == LOCUS_OK) dataset_free(&ds);
}

static void test_bad(void) {
    write_all();
    write_batch(bin, "data_batch_3.bin", 4, 2, 1, -1); /* one stray byte */
    load_expect("size not a multiple of 3073", 1, LOCUS_ERR_FORMAT, "data_batch_3.bin");
    load_expect("size message", 1, LOCUS_ERR_FORMAT, "3073");
    write_all();
    write_batch(bin, "data_batch_2.bin", 2, 2, 3072, -1); /* 3 records minus 1 byte */
    load_expect("truncated last record", 1, LOCUS_ERR_FORMAT, "data_batch_2.bin");
    write_all();
    write_batch(bin, "data_batch_4.bin", 6, 0, 0, -1);
    load_expect("empty file", 1, LOCUS_ERR_FORMAT, "data_batch_4.bin");
    write_all();
    write_batch(bin, "test_batch.bin", 100, 3, 0, 2); /* third record labelled 10 */
    load_expect("bad label", 0, LOCUS_ERR_FORMAT, "test_batch.bin");
    load_expect("bad label message", 0, LOCUS_ERR_FORMAT, "record 2");
    write_all();
    char p[1024];
    snprintf(p, sizeof p, "%s/data_batch_3.bin", bin);
    remove(p);
    load_expect("missing data_batch_3", 1, LOCUS_ERR_IO, "data_batch_3.bin");
    load_expect("missing batch hint", 1, LOCUS_ERR_IO, "cifar-10-binary.tar.gz");
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(tmp, 0700);
    load_expect("missing folder", 1, LOCUS_ERR_IO, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
    load_expect("missing folder names the layout", 0, LOCUS_ERR_IO, "cifar-10-batches-bin");
    load_expect("missing folder names the dir", 0, LOCUS_ERR_IO, tmp);

    ErrorMsg err = {{0}};
    int records;
    expect_error(cifar_count(tmp, &records, &err), LOCUS_ERR_IO, &err, tmp, "a folder is not a batch file");
    snprintf(p, sizeof p, "%s/nope.bin", tmp);
    expect_error(cifar_count(p, &records, &err), LOCUS_ERR_IO, &err, "nope.bin", "cifar_count missing");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/locus-test-cifar-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmp)) { printf("cannot create a temp dir\n"); return 1; }
    snprintf(bin, sizeof bin, "%s/cifar-10-batches-bin", tmp);
    test_good();
    test_bad();
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %d expect_failures\n", expect_failures ? "FAILED" : "PASSED", expect_failures);
    return expect_failures ? 1 : 0;
}
