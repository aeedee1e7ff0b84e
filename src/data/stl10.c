/* stl10.c — STL-10 binary files (spec data-formats.md §5): train_X.bin / test_X.bin hold 96 x 96 RGB
 * images with no header, 27648 bytes each, every plane column-major (byte c*9216 + w*96 + h), turned
 * here into row-major CHW; train_y.bin / test_y.bin hold one byte per image in 1..10 (made 0..9).
 * Sizes decide the counts before anything is allocated: X's size must be a positive multiple of 27648
 * and y's size must equal X's image count. unlabeled_X.bin (100000 images) is never loaded whole. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "locus/data.h"

static Status file_size(const char *path, uint64_t *size, const char *what, ErrorMsg *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "%s: not a regular file\nhint: pass STL-10's %s", path, what);
    *size = (uint64_t)st.st_size;
    return LOCUS_OK;
}

Status stl10_count(const char *path, int *images, ErrorMsg *err) {
    *images = 0;
    uint64_t size;
    Status st = file_size(path, &size, "train_X.bin or test_X.bin", err);
    if (st) return st;
    if (size == 0 || size % STL10_IMAGE_BYTES != 0)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: size %llu bytes is not a positive multiple of the %d-byte "
                           "STL-10 image (train_X.bin is 138240000 bytes, test_X.bin 221184000)\nhint: the file is "
                           "truncated or not an STL-10 *_X.bin; download stl10_binary.tar.gz again", path,
                           (unsigned long long)size, STL10_IMAGE_BYTES);
    if (size / STL10_IMAGE_BYTES > STL10_MAX_IMAGES)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %llu images, expected at most %d\nhint: is this an STL-10 file?",
                           path, (unsigned long long)(size / STL10_IMAGE_BYTES), STL10_MAX_IMAGES);
    *images = (int)(size / STL10_IMAGE_BYTES);
    return LOCUS_OK;
}

Status stl10_read(const char *x_path, const char *y_path, int total, int n, uint8_t *images, uint8_t *labels,
                  ErrorMsg *err) {
    CHECK(n >= 0 && n <= total, "stl10_read: n %d of %d", n, total);
    Status st = LOCUS_OK;
    if (y_path) {
        uint64_t ysize = 0;
        if ((st = file_size(y_path, &ysize, "train_y.bin or test_y.bin", err))) return st;
        if (ysize != (uint64_t)total)
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: %llu labels, but %s holds %d images (one label byte per "
                               "image)\nhint: the two files come from different splits or one is damaged",
                               y_path, (unsigned long long)ysize, x_path, total);
        FILE *f = fopen(y_path, "rb");
        if (!f) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", y_path, strerror(errno));
        size_t got = fread(labels, 1, (size_t)n, f);
        fclose(f);
        if (got != (size_t)n)
            return status_fail(err, LOCUS_ERR_FORMAT, "%s: truncated after %zu of %d labels\nhint: download it again",
                               y_path, got, n);
        for (int i = 0; i < n; i++) {
            if (labels[i] < 1 || labels[i] > 10)
                return status_fail(err, LOCUS_ERR_FORMAT, "%s: label %d is %u, expected 1..10\nhint: the file is "
                                   "damaged or not an STL-10 *_y.bin", y_path, i, labels[i]);
            labels[i]--;
        }
    }
    FILE *f = fopen(x_path, "rb");
    if (!f) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", x_path, strerror(errno));
    static const int S = STL10_SIDE, P = STL10_SIDE * STL10_SIDE;
    uint8_t col[STL10_IMAGE_BYTES];
    for (int i = 0; i < n; i++) {
        if (fread(col, 1, sizeof col, f) != sizeof col) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: truncated: image %d of %d is incomplete\nhint: the file "
                             "changed while reading or is damaged; download it again", x_path, i, n);
            break;
        }
        uint8_t *out = images + (size_t)i * STL10_IMAGE_BYTES;
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < S; w++)
                for (int h = 0; h < S; h++) out[c * P + h * S + w] = col[c * P + w * S + h];
    }
    fclose(f);
    return st;
}
