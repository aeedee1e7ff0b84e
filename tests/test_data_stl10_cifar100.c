/* test_data_stl10_cifar100.c — the STL-10 and CIFAR-100 binary readers on files written here in the real
 * layout (tests/data_writers.c). STL-10: planes are column-major on disk, so pixel (c, y, x) of image k
 * must land at CHW index c*9216 + y*96 + x (checked for every byte and for one hand-computed file offset),
 * labels 1..10 become 0..9; both folder conventions; y/X count mismatch, bad sizes and labels. CIFAR-100:
 * the fine and the coarse label of each record (config option), range checks, truncation. Every error
 * names the file and has a hint; no DATA bytes leak; dataset_plan charges what dataset_load does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/data.h"

#include "data_writers.h"
#include "expect.h"

static char tmp[256], sub[512];

static void expect_error(Status got, Status want, const ErrorMsg *err, const char *needle, const char *what) {
    EXPECT(got == want, "%s: status %s, expected %s (%s)", what, status_name(got), status_name(want), err->text);
    EXPECT(strstr(err->text, needle) != NULL, "%s: message lacks '%s': %s", what, needle, err->text);
    EXPECT(strstr(err->text, "\nhint: ") != NULL, "%s: message lacks a hint: %s", what, err->text);
}

static void test_stl10(void) {
    snprintf(sub, sizeof sub, "%s/stl10_binary", tmp);
    mkdir(sub, 0700);
    EXPECT(dw_write_stl10(sub, "train", 0, 4) == 0 && dw_write_stl10(sub, "test", 10, 3) == 0, "write");
    /* one byte by hand: image 1, channel 2, row 5, col 7 sits at file offset 1*27648 + 2*9216 + 7*96 + 5 */
    char p[600];
    snprintf(p, sizeof p, "%s/train_X.bin", sub);
    FILE *f = fopen(p, "rb");
    fseek(f, 27648 + 2 * 9216 + 7 * 96 + 5, SEEK_SET);
    const int byte = fgetc(f);
    fclose(f);
    EXPECT(byte == dw_pix(1, 2, 5, 7), "the writer's column-major offset");
    const char *dirs[2] = {tmp, sub};
    for (int d = 0; d < 2; d++)
        for (int train = 0; train < 2; train++) {
            MemTracker mt = {0};
            Dataset ds;
            ErrorMsg err = {{0}};
            Status st = dataset_load(&ds, "stl10", dirs[d], train, 0, &mt, &err);
            EXPECT(st == LOCUS_OK, "stl10 %s train %d: %s", dirs[d], train, err.text);
            if (st) continue;
            const int n = train ? 4 : 3, first = train ? 0 : 10;
            EXPECT(ds.n == n && ds.c == 3 && ds.h == 96 && ds.w == 96 && ds.classes == 10, "geometry");
            EXPECT(ds.images[(size_t)1 * 27648 + 2 * 9216 + 5 * 96 + 7] == dw_pix(first + 1, 2, 5, 7),
                   "pixel (image 1, c 2, y 5, x 7) is in row-major CHW");
            int bad = 0;
            for (int k = 0; k < n; k++) {
                if (ds.labels[k] != (first + k) % 10) bad++;
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 96; y++)
                        for (int x = 0; x < 96; x++)
                            if (ds.images[(size_t)k * 27648 + c * 9216 + y * 96 + x] != dw_pix(first + k, c, y, x)) bad++;
            }
            EXPECT(bad == 0, "stl10: %d values differ", bad);
            EXPECT(mt.live[MEM_TAG_DATA] == (size_t)n * 27649, "DATA %zu", mt.live[MEM_TAG_DATA]);
            dataset_free(&ds);
            MemTracker pm = {0};
            EXPECT(dataset_plan(&ds, "stl10", dirs[d], train, 2, NULL, &pm, &err) == LOCUS_OK &&
                   pm.live[MEM_TAG_DATA] == 2 * 27649, "plan: %s", err.text);
            dataset_free(&ds);
        }
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    EXPECT(dataset_load(&ds, "stl10", tmp, 1, 3, &mt, &err) == LOCUS_OK && ds.n == 3 && ds.labels[2] == 2, "limit 3");
    dataset_free(&ds);
    /* errors */
    snprintf(p, sizeof p, "%s/train_y.bin", sub);
    f = fopen(p, "ab");
    fputc(3, f);
    fclose(f);
    expect_error(dataset_load(&ds, "stl10", tmp, 1, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "5 labels", "y longer than X");
    f = fopen(p, "wb");
    fputs("\x01\x02\x0b\x04", f);
    fclose(f);
    expect_error(dataset_load(&ds, "stl10", tmp, 1, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "1..10", "label 11");
    f = fopen(p, "wb");
    fputs("\x01\x02\x03\x04", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/train_X.bin", sub);
    EXPECT(truncate(p, 3 * 27648 + 100) == 0, "truncate");
    expect_error(dataset_load(&ds, "stl10", tmp, 1, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "multiple of", "odd size");
    EXPECT(truncate(p, 0) == 0, "truncate");
    expect_error(dataset_load(&ds, "stl10", tmp, 1, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "train_X.bin", "empty X");
    unlink(p);
    expect_error(dataset_load(&ds, "stl10", tmp, 1, 0, &mt, &err), LOCUS_ERR_IO, &err, "stl10_binary.tar.gz", "no X");
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "stl10 errors leaked %zu", mt.live[MEM_TAG_DATA]);
}

static void test_cifar100(void) {
    snprintf(sub, sizeof sub, "%s/cifar-100-binary", tmp);
    mkdir(sub, 0700);
    char p[600];
    snprintf(p, sizeof p, "%s/train.bin", sub);
    EXPECT(dw_write_cifar100(p, 0, 25) == 0, "write");
    snprintf(p, sizeof p, "%s/test.bin", sub);
    EXPECT(dw_write_cifar100(p, 100, 6) == 0, "write");
    for (int coarse = 0; coarse < 2; coarse++)
        for (int train = 0; train < 2; train++) {
            DataOptions o;
            data_options_defaults(&o);
            o.cifar100_coarse = coarse;
            MemTracker mt = {0};
            Dataset ds;
            ErrorMsg err = {{0}};
            Status st = dataset_load_opts(&ds, "cifar100", tmp, train, 0, &o, &mt, &err);
            EXPECT(st == LOCUS_OK, "cifar100: %s", err.text);
            if (st) continue;
            const int n = train ? 25 : 6, first = train ? 0 : 100;
            EXPECT(ds.n == n && ds.classes == (coarse ? 20 : 100), "cifar100 coarse %d: n %d classes %d", coarse, ds.n,
                   ds.classes);
            int bad = 0;
            for (int k = 0; k < n; k++) {
                if (ds.labels[k] != (coarse ? (first + k) % 20 : ((first + k) * 7) % 100)) bad++;
                for (int i = 0; i < 3072; i++)
                    if (ds.images[(size_t)k * 3072 + i] != dw_pix(first + k, i / 1024, (i / 32) % 32, i % 32)) bad++;
            }
            EXPECT(bad == 0, "cifar100 coarse %d: %d values differ", coarse, bad);
            dataset_free(&ds);
            MemTracker pm = {0};
            EXPECT(dataset_plan(&ds, "cifar100", sub, train, 0, &o, &pm, &err) == LOCUS_OK &&
                   pm.live[MEM_TAG_DATA] == (size_t)n * 3073 && ds.classes == (coarse ? 20 : 100), "plan: %s", err.text);
            dataset_free(&ds);
        }
    MemTracker mt = {0};
    Dataset ds;
    ErrorMsg err = {{0}};
    snprintf(p, sizeof p, "%s/test.bin", sub);
    EXPECT(truncate(p, 3074 * 5 + 3073) == 0, "truncate");
    expect_error(dataset_load(&ds, "cifar100", tmp, 0, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "3074", "cut record");
    FILE *f = fopen(p, "r+b");
    EXPECT(truncate(p, 3074 * 2) == 0, "truncate");
    fseek(f, 3074 + 1, SEEK_SET);
    fputc(100, f);
    fclose(f);
    expect_error(dataset_load(&ds, "cifar100", tmp, 0, 0, &mt, &err), LOCUS_ERR_FORMAT, &err, "fine label 100",
                 "fine label 100");
    expect_error(dataset_load(&ds, "cifar100", "/nonexistent", 0, 0, &mt, &err), LOCUS_ERR_IO, &err,
                 "cifar-100-binary.tar.gz", "missing");
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "cifar100 errors leaked %zu", mt.live[MEM_TAG_DATA]);
    /* presets: CIFAR-style reflect padding and flip for cifar100, SVHN without flip, STL-10 zero pad 4 */
    DataPreset pr;
    EXPECT(data_preset("cifar100", 1, &pr, &err) == LOCUS_OK && pr.pad == 4 && pr.reflect && pr.flip, "cifar100 preset");
    EXPECT(data_preset("svhn", 1, &pr, &err) == LOCUS_OK && pr.pad == 2 && !pr.reflect && !pr.flip &&
           pr.mean[0] == 0.5f && pr.std[2] == 0.5f, "svhn preset");
    EXPECT(data_preset("stl10", 1, &pr, &err) == LOCUS_OK && pr.pad == 4 && !pr.reflect && pr.flip, "stl10 preset");
    EXPECT(data_preset("stl10", 0, &pr, &err) == LOCUS_OK && pr.pad == 0 && !pr.flip, "stl10 test preset");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/locus_stl_c100_%d", (int)getpid());
    dw_rmtree(tmp);
    mkdir(tmp, 0700);
    test_stl10();
    test_cifar100();
    dw_rmtree(tmp);
    return expect_report();
}
