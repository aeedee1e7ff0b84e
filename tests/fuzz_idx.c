/* fuzz_idx.c — fuzz driver for the dataset parsers (not a test binary: tools/fuzz-data.sh runs it).
 *
 *   fuzz_idx FILE...
 *
 * Runs every parser of src/data on each file: the IDX reader as images (3 dims) and as labels (1 dim,
 * values < 10), with and without a keep limit, and the CIFAR-10 reader (cifar_count, then cifar_read
 * into buffers sized from its answer). Each call must either succeed or fail cleanly: an I/O or format
 * Status whose message names the file and has a hint line, no DATA bytes left charged, and no huge
 * allocation for a small file. A crash or sanitizer report is a bug; exit 1 means a broken error
 * contract; exit 0 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "locus/data.h"

static int contract(const char *path, const char *what, Status st, const ErrorMsg *err) {
    if (st == LOCUS_OK) return 0;
    if ((st == LOCUS_ERR_FORMAT || st == LOCUS_ERR_IO) && strstr(err->text, path) && strstr(err->text, "\nhint: "))
        return 0;
    printf("fuzz_idx: %s: %s broke the error contract (status %s): %s\n", path, what, status_name(st), err->text);
    return 1;
}

static int fuzz_file(const char *path) {
    int bad = 0;
    struct stat sb;
    const size_t disk = stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
    for (int ndim = 1; ndim <= 3; ndim += 2)
        for (int keep = 0; keep <= 2; keep += 2) {
            MemTracker mt = {0};
            IdxU8 a;
            ErrorMsg err = {{0}};
            Status st = idx_read_u8(path, ndim, keep, ndim == 1 ? 10 : 0, &a, &mt, &err);
            bad += contract(path, ndim == 1 ? "idx labels" : "idx images", st, &err);
            if (st == LOCUS_OK) {
                size_t item = ndim == 3 ? (size_t)a.dims[1] * (size_t)a.dims[2] : 1;
                if (a.bytes != (size_t)a.kept * item || a.kept > a.dims[0] || (keep && a.kept > keep)) {
                    printf("fuzz_idx: %s: inconsistent IdxU8 (kept %d of %d, %zu bytes)\n", path, a.kept,
                           a.dims[0], a.bytes);
                    bad++;
                }
                for (size_t i = 0; ndim == 1 && i < a.bytes; i++)
                    if (a.data[i] >= 10) { printf("fuzz_idx: %s: label %u passed\n", path, a.data[i]); bad++; break; }
                idx_free(&a, &mt);
            }
            if (mt.live[MEM_TAG_DATA] != 0) {
                printf("fuzz_idx: %s: %zu DATA bytes leaked\n", path, mt.live[MEM_TAG_DATA]);
                bad++;
            }
            /* the documented bound: deflate's ratio (1032) x the size on disk, or the 64 KiB growth step */
            if (mt.peak[MEM_TAG_DATA] > disk * 1032 + 1024 && mt.peak[MEM_TAG_DATA] > (64 << 10)) {
                printf("fuzz_idx: %s: peak DATA %zu bytes for a %zu-byte file\n", path, mt.peak[MEM_TAG_DATA], disk);
                bad++;
            }
        }
    int records = 0;
    ErrorMsg err = {{0}};
    Status st = cifar_count(path, &records, &err);
    bad += contract(path, "cifar_count", st, &err);
    if (st == LOCUS_OK) {
        uint8_t *images = malloc((size_t)records * CIFAR_IMAGE_BYTES), *labels = malloc((size_t)records);
        if (!images || !labels) { printf("fuzz_idx: out of memory\n"); exit(2); }
        st = cifar_read(path, records, images, labels, &err);
        bad += contract(path, "cifar_read", st, &err);
        for (int i = 0; st == LOCUS_OK && i < records; i++)
            if (labels[i] >= 10) { printf("fuzz_idx: %s: CIFAR label %u passed\n", path, labels[i]); bad++; break; }
        free(images);
        free(labels);
    }
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_idx FILE...\n");
        return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) bad += fuzz_file(argv[i]);
    return bad ? 1 : 0;
}
