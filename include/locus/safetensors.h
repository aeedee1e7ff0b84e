/* safetensors.h — read and write checkpoints in the safetensors format (spec data-formats.md §7).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON object (right-padded with spaces),
 * then the data buffer. Each entry is {"dtype", "shape", "data_offsets": [begin, end]} with offsets
 * relative to the buffer; "__metadata__" is an optional string->string object.
 *
 * Writing: F32 tensors only, in the order given (the parameter registry order), header padded so that
 * the buffer starts 8-byte aligned, written atomically ("<path>.tmp", fsync, rename: fileutil.h).
 * Reading: the file is mmap'd read-only and validated completely before anything is returned: header
 * length sane (<= 100,000,000 bytes, like the reference implementation, and inside the file), valid
 * UTF-8 JSON object, every entry has a known dtype, a shape of non-negative integers (rank <=
 * TENSOR_MAX_DIMS) and data_offsets with end - begin == numel * dtype size; names are unique and
 * shorter than 128 bytes; tensors neither overlap nor leave holes and cover the buffer exactly. Any
 * dtype is accepted and described; only F32 is handed out as float. Every error message starts with the
 * file name and ends with a hint. Host byte order must be little-endian (checked at compile time). */
#ifndef LOCUS_SAFETENSORS_H
#define LOCUS_SAFETENSORS_H

#include <stddef.h>

#include "locus/status.h"
#include "locus/tensor.h"

#define ST_NAME_MAX 128                /* names are at most ST_NAME_MAX - 1 bytes */
#define ST_HEADER_MAX 100000000ULL     /* the reference implementation's limit */

/* One tensor to write. data holds numel(shape) floats (may be NULL when numel is 0). */
typedef struct StEntry {
    char name[ST_NAME_MAX];
    Shape shape;
    const float *data;
} StEntry;

typedef enum StDtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64,
    ST_DTYPE_COUNT
} StDtype;

/* One tensor of an opened file. bytes/data point into the mapping: valid until safetensors_close. */
typedef struct StTensor {
    char name[ST_NAME_MAX];
    StDtype dtype;
    Shape shape;           /* ndim 0 = scalar (1 element) */
    size_t numel;
    size_t nbytes;         /* numel * dtype size */
    size_t offset;         /* of the first byte, from the start of the file (or memory block) */
    const void *bytes;     /* raw little-endian bytes */
    const float *data;     /* == bytes when dtype is F32 and the address is 4-byte aligned, else NULL */
} StTensor;

typedef struct StFile {
    char path[512];        /* for messages */
    void *map;             /* mmap'd file, or NULL when parsed from caller memory */
    size_t map_bytes;
    StTensor *tensors;     /* in header order */
    int count;
    int *by_name;          /* indices into tensors sorted by name (safetensors_find's binary search) */
    char **meta;           /* 2 * meta_count strings: key, value, key, value ... */
    int meta_count;
} StFile;

/* Writes entries (F32) and optional metadata (meta_kv: NULL-terminated key, value, key, value, ...
 * list, or NULL) to path atomically. Names must be unique, non-empty UTF-8, not "__metadata__", and
 * shorter than ST_NAME_MAX; shapes ndim 0..TENSOR_MAX_DIMS with non-negative dims (LOCUS_ERR_ARG). */
Status safetensors_write(const char *path, const StEntry *entries, int n, const char *const *meta_kv,
                         ErrorMsg *err);

/* Opens and validates path (LOCUS_ERR_IO: cannot open/map; LOCUS_ERR_FORMAT: anything malformed).
 * On failure *f is left closed (safetensors_close is allowed but not needed). */
Status safetensors_open(StFile *f, const char *path, ErrorMsg *err);
/* The same validation on n bytes in memory (fuzzing, in-memory checkpoints). The tensors point into
 * buf, which must outlive f. name is used in messages. */
Status safetensors_parse(StFile *f, const void *buf, size_t n, const char *name, ErrorMsg *err);
void safetensors_close(StFile *f);

/* The tensor called name, or NULL. */
const StTensor *safetensors_find(const StFile *f, const char *name);
/* The metadata value for key, or NULL. */
const char *safetensors_meta(const StFile *f, const char *key);

/* Copies tensor `name` into dst (numel floats). Errors (LOCUS_ERR_FORMAT, message names the file and
 * the tensor): missing tensor, dtype other than F32, shape different from *expect (skip the check with
 * expect == NULL). Works whatever the alignment. */
Status safetensors_read_f32(const StFile *f, const char *name, const Shape *expect, float *dst, ErrorMsg *err);

/* "F32", "BF16", ... and the element size in bytes. */
const char *safetensors_dtype_name(StDtype dt);
size_t safetensors_dtype_size(StDtype dt);

#endif
