/* svhn.c — SVHN cropped digits from train_32x32.mat / test_32x32.mat (spec data-formats.md §4).
 *
 * Two MAT v5 variables (matv5.c does the parsing): X, class uint8 (any numeric class is accepted, each
 * value must be an integer 0..255), dims 32 x 32 x 3 x N, column-major, so image n is the 3072 values
 * from n*3072 with offset h + 32 w + 1024 c; and y, N values (N x 1 or 1 x N) in 1..10 where 10 means
 * the digit 0. The official y has class double stored as uint8 bytes: the stored type is read from the
 * file and every value converted (never assumed). Images are turned into row-major CHW one at a time
 * while X is inflated in chunks, so nothing but the dataset itself is allocated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/data.h"

#define SVHN_IMAGE_BYTES 3072

static Status svhn_vars(const char *path, MatFile *m, const MatVar **x, const MatVar **y, int *n, ErrorMsg *err) {
    Status st = mat_open(m, path, err);
    if (st) return st;
    *x = mat_find(m, "X");
    *y = mat_find(m, "y");
    if (!*x || !*y)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: expected MAT variables 'X' and 'y', found %s%s%s (%d variables)"
                           "\nhint: SVHN needs the cropped-digits files train_32x32.mat / test_32x32.mat, not the "
                           "full-numbers format", path, *x ? "X" : "", *x && *y ? ", " : "", *y ? "y" : "no X or y",
                           m->nvars);
    const MatVar *X = *x, *Y = *y;
    if (X->ndims != 4 || X->dims[0] != 32 || X->dims[1] != 32 || X->dims[2] != 3 || X->dims[3] < 1)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: X has %d dims (%u x %u x %u%s), expected 32 x 32 x 3 x N with "
                           "N >= 1\nhint: the file is not SVHN's *_32x32.mat", path, X->ndims, X->dims[0], X->dims[1],
                           X->ndims > 2 ? X->dims[2] : 0, X->ndims > 3 ? " x N" : "");
    if (X->dims[3] > 10000000u)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: X claims %u images, expected at most 10000000\nhint: the file "
                           "is damaged", path, X->dims[3]);
    const uint32_t N = X->dims[3];
    if (Y->numel != N || Y->ndims != 2 || (Y->dims[0] != 1 && Y->dims[1] != 1))
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: y has %llu values (%u x %u), expected N x 1 with N = %u (the "
                           "images of X)\nhint: the file is damaged or not SVHN", path,
                           (unsigned long long)Y->numel, Y->dims[0], Y->ndims > 1 ? Y->dims[1] : 1, N);
    *n = (int)N;
    return LOCUS_OK;
}

Status svhn_count(const char *path, int *images, ErrorMsg *err) {
    MatFile *m = malloc(sizeof *m);
    if (!m) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", path);
    const MatVar *x, *y;
    *images = 0;
    Status st = svhn_vars(path, m, &x, &y, images, err);
    if (st) *images = 0;
    mat_close(m);
    free(m);
    return st;
}

Status svhn_read(const char *path, int n, uint8_t *images, uint8_t *labels, ErrorMsg *err) {
    MatFile *m = malloc(sizeof *m);
    if (!m) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", path);
    const MatVar *x, *y;
    int total = 0;
    MatStream *s = NULL;
    Status st = svhn_vars(path, m, &x, &y, &total, err);
    if (!st && (n < 0 || n > total))
        st = status_fail(err, LOCUS_ERR_ARG, "%s: asked for %d images, the file holds %d\nhint: use svhn_count", path,
                         n, total);
    if (!st) st = mat_stream_open(m, x, &s, err);
    uint8_t col[SVHN_IMAGE_BYTES];
    for (int i = 0; !st && i < n; i++) {
        if ((st = mat_stream_read_u8(s, col, SVHN_IMAGE_BYTES, err))) break;
        uint8_t *out = images + (size_t)i * SVHN_IMAGE_BYTES;
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < 32; w++)
                for (int h = 0; h < 32; h++) out[c * 1024 + h * 32 + w] = col[c * 1024 + w * 32 + h];
    }
    mat_stream_close(s);
    s = NULL;
    if (!st) st = mat_stream_open(m, y, &s, err);
    if (!st) st = mat_stream_read_u8(s, labels, (size_t)n, err);
    for (int i = 0; !st && i < n; i++) {
        if (labels[i] < 1 || labels[i] > 10) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: y[%d] = %u, expected 1..10 (10 = digit 0)\nhint: the file "
                             "is damaged or not SVHN's *_32x32.mat", path, i, labels[i]);
            break;
        }
        if (labels[i] == 10) labels[i] = 0;
    }
    mat_stream_close(s);
    mat_close(m);
    free(m);
    return st;
}
