/* data_writers.h — writers of small datasets in their official on-disk formats, for the data tests and the
 * CLI tests (tests/data_writers.c): MAT v5 (SVHN), STL-10 binary, CIFAR-100 binary, and image folders of
 * PNG (stb_image_write) and JPEG (TurboJPEG) files. Pixel and label values come from the formulas below, so
 * a reader's output can be checked element by element. */
#ifndef LOCUS_TESTS_DATA_WRITERS_H
#define LOCUS_TESTS_DATA_WRITERS_H

#include <stddef.h>
#include <stdint.h>

/* The value of pixel (image k, channel c, row y, col x) every writer uses. */
static inline uint8_t dw_pix(int k, int c, int y, int x) { return (uint8_t)(k * 37 + c * 85 + y * 3 + x * 7 + (x * y) % 5); }

/* One variable of a MAT v5 file: class (6 double, 9 uint8, ...), stored type (2 uint8, 9 double, ...),
 * dims, values (converted to the stored type on write). */
typedef struct DwMatVar {
    const char *name;
    int mclass, stored;
    int ndims;
    int dims[4];
    const double *values; /* numel values in column-major order */
} DwMatVar;

/* Writes a MAT v5 file; compressed != 0 wraps each variable in an miCOMPRESSED element. big_endian writes
 * an "MI" file. Returns 0 on success. */
int dw_write_mat(const char *path, const DwMatVar *vars, int nvars, int compressed, int big_endian);
/* An SVHN-like file: X = 32 x 32 x 3 x n uint8 (dw_pix), y = n x 1 labels (k % 10, 0 written as 10) with
 * class double stored as `y_stored` (2 uint8 like MATLAB, 9 double like scipy). */
int dw_write_svhn(const char *path, int n, int compressed, int y_stored);
/* STL-10: DIR/{split}_X.bin (column-major planes of dw_pix) and {split}_y.bin (labels k % 10 + 1). */
int dw_write_stl10(const char *dir, const char *split, int first, int n);
/* CIFAR-100: path with n records: coarse k % 20, fine (k * 7) % 100, then dw_pix planes. */
int dw_write_cifar100(const char *path, int first, int n);
/* An image of w x h, RGB, pixel (y, x, c) = dw_pix(k, c, y, x), as PNG (jpeg = 0) or JPEG (quality 95). */
int dw_write_image(const char *path, int k, int w, int h, int jpeg);
/* Removes a folder tree (tests' temporary folders). */
void dw_rmtree(const char *path);

#endif
