/* cifar.c — readers for CIFAR-10 binary batch files (spec data-formats.md §3.1) and CIFAR-100 binary
 * files (§3.2: coarse and fine label bytes before the same pixels; the caller picks which label).
 *
 * A file is a sequence of 3073-byte records with no header: 1 label byte (0..9), then 1024 R, 1024 G
 * and 1024 B bytes, each plane 32 x 32 row-major — already CHW, so pixels are copied as they are.
 * The size on disk decides the record count before anything is allocated: it must be a positive
 * multiple of 3073 and at most CIFAR_MAX_RECORDS records (official files: exactly 10000 = 30,730,000 B;
 * smaller multiples are accepted for tests). The caller allocates from cifar_count's answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "locus/data.h"

#define CIFAR_CLASSES 10

Status cifar_count(const char *path, int *records, ErrorMsg *err) {
    *records = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "%s: not a regular file\nhint: pass a CIFAR-10 .bin batch file", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0 || size % CIFAR_RECORD_BYTES != 0)
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: size %llu bytes is not a positive multiple of the %d-byte CIFAR-10 record "
                           "(official batch files are 30730000 bytes)\nhint: the file is truncated or not a "
                           "CIFAR-10 binary batch; download cifar-10-binary.tar.gz again",
                           path, (unsigned long long)size, CIFAR_RECORD_BYTES);
    if (size / CIFAR_RECORD_BYTES > CIFAR_MAX_RECORDS)
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: %llu records, expected at most %d per CIFAR-10 batch file\nhint: is this a "
                           "CIFAR-10 binary batch (CIFAR-100's train.bin has 3074-byte records)?",
                           path, (unsigned long long)(size / CIFAR_RECORD_BYTES), CIFAR_MAX_RECORDS);
    *records = (int)(size / CIFAR_RECORD_BYTES);
    return LOCUS_OK;
}

Status cifar_read(const char *path, int records, uint8_t *images, uint8_t *labels, ErrorMsg *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    Status st = LOCUS_OK;
    for (int r = 0; r < records; r++) {
        uint8_t *img = images + (size_t)r * CIFAR_IMAGE_BYTES;
        if (fread(&labels[r], 1, 1, f) != 1 || fread(img, 1, CIFAR_IMAGE_BYTES, f) != CIFAR_IMAGE_BYTES) {
            st = status_fail(err, LOCUS_ERR_FORMAT,
                             "%s: truncated: expected %d records of %d bytes, record %d is incomplete\n"
                             "hint: the file changed while reading or is damaged; download it again",
                             path, records, CIFAR_RECORD_BYTES, r);
            break;
        }
        if (labels[r] >= CIFAR_CLASSES) {
            st = status_fail(err, LOCUS_ERR_FORMAT,
                             "%s: record %d (byte offset %llu): label %u, expected 0..%d\nhint: the file is "
                             "damaged or not a CIFAR-10 batch (CIFAR-100 records start with a coarse label)",
                             path, r, (unsigned long long)r * CIFAR_RECORD_BYTES, labels[r], CIFAR_CLASSES - 1);
            break;
        }
    }
    fclose(f);
    return st;
}

/* ---- CIFAR-100 (spec data-formats.md §3.2): records of coarse label, fine label, 3072 pixel bytes ---- */

Status cifar100_count(const char *path, int *records, ErrorMsg *err) {
    *records = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "%s: not a regular file\nhint: pass CIFAR-100's train.bin or test.bin",
                           path);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0 || size % CIFAR100_RECORD_BYTES != 0)
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: size %llu bytes is not a positive multiple of the %d-byte CIFAR-100 record "
                           "(official files: train.bin 153700000, test.bin 30740000 bytes)\nhint: the file is "
                           "truncated or not CIFAR-100 binary (CIFAR-10 records have 3073 bytes); download "
                           "cifar-100-binary.tar.gz again", path, (unsigned long long)size, CIFAR100_RECORD_BYTES);
    if (size / CIFAR100_RECORD_BYTES > CIFAR100_MAX_RECORDS)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %llu records, expected at most %d\nhint: is this CIFAR-100's "
                           "train.bin or test.bin?", path, (unsigned long long)(size / CIFAR100_RECORD_BYTES),
                           CIFAR100_MAX_RECORDS);
    *records = (int)(size / CIFAR100_RECORD_BYTES);
    return LOCUS_OK;
}

Status cifar100_read(const char *path, int records, int coarse, uint8_t *images, uint8_t *labels, ErrorMsg *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    Status st = LOCUS_OK;
    for (int r = 0; r < records; r++) {
        uint8_t lab[2];
        if (fread(lab, 1, 2, f) != 2 || fread(images + (size_t)r * CIFAR_IMAGE_BYTES, 1, CIFAR_IMAGE_BYTES, f) !=
                                            CIFAR_IMAGE_BYTES) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: truncated: expected %d records of %d bytes, record %d is "
                             "incomplete\nhint: the file changed while reading or is damaged; download it again",
                             path, records, CIFAR100_RECORD_BYTES, r);
            break;
        }
        if (lab[0] >= 20 || lab[1] >= 100) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: record %d (byte offset %llu): coarse label %u (expected "
                             "0..19), fine label %u (expected 0..99)\nhint: the file is damaged or not CIFAR-100 "
                             "binary", path, r, (unsigned long long)r * CIFAR100_RECORD_BYTES, lab[0], lab[1]);
            break;
        }
        labels[r] = coarse ? lab[0] : lab[1];
    }
    fclose(f);
    return st;
}
