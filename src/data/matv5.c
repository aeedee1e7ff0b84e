/* matv5.c — reader for MATLAB MAT-file v5 numeric variables (spec data-formats.md §4.2), enough for
 * SVHN's train_32x32.mat / test_32x32.mat and for what scipy.io.savemat writes.
 *
 * A file is a 128-byte header ('I','M' at bytes 126-127 for little-endian; "MI" means every multi-byte
 * value is byte-swapped) followed by top-level data elements: an 8-byte tag (uint32 type, uint32 nbytes)
 * and a payload padded to 8 bytes, or an miCOMPRESSED (15) element whose zlib payload (not padded)
 * inflates to exactly one miMATRIX element. An miMATRIX holds array flags (class in the low byte),
 * dimensions, the name, then the real part, whose *stored* type may be smaller than the class (MATLAB
 * stores integer-valued doubles as uint8): values are converted element by element on read.
 *
 * mat_open lists the variables by parsing only each element's header (a compressed element is
 * inflated only as far as its real part's tag), so listing SVHN's 182 MB train file reads a few KB.
 * mat_stream_* then inflates one variable in chunks. No allocation depends on a header value: the
 * listing keeps at most MAT_MAX_VARS variables in the MatFile, and every size is checked against the
 * bytes that can hold it (raw: the element's bytes on disk; compressed: deflate's best ratio, 1032:1,
 * times the compressed bytes). Errors name the file, the variable, what was expected and what was found. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "locus/data.h"

#define MAT_HEADER_BYTES 128
#define MI_INT8 1
#define MI_UINT8 2
#define MI_INT16 3
#define MI_UINT16 4
#define MI_INT32 5
#define MI_UINT32 6
#define MI_SINGLE 7
#define MI_DOUBLE 9
#define MI_INT64 12
#define MI_UINT64 13
#define MI_MATRIX 14
#define MI_COMPRESSED 15
#define DEFLATE_MAX_RATIO 1032u
#define MAT_MAX_NUMEL ((uint64_t)1 << 40)
#define MAT_CHUNK 16384

/* Bytes per value of a numeric MAT data type, 0 for anything else. */
static int mi_size(uint32_t type) {
    switch (type) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

static const char *class_name(int c) {
    static const char *const names[] = {"?", "cell", "struct", "object", "char", "sparse", "double", "single",
                                        "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"};
    return c >= 0 && c <= 15 ? names[c] : "unknown";
}

/* The payload of one element, read raw from the file or inflated. */
struct MatStream {
    const MatFile *m;
    const MatVar *v;
    FILE *f;
    int compressed;
    uint64_t raw_left;   /* payload bytes of the element not yet taken from the file */
    uint64_t produced;   /* payload (inflated) bytes handed out */
    uint64_t values_left;
    z_stream z;
    int z_open, z_end;
    uint8_t in[MAT_CHUNK];
    uint8_t buf[MAT_CHUNK];
};

static uint32_t rd32(const MatFile *m, const uint8_t *p) {
    return m->swap ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                   : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static Status fail(ErrorMsg *err, const MatStream *s, const char *fmt, const char *detail) {
    const char *var = s && s->v && s->v->name[0] ? s->v->name : "?";
    return status_fail(err, LOCUS_ERR_FORMAT, "%s: MAT v5 variable '%s' at byte %llu: %s%s\nhint: the file is "
                       "damaged or not a MAT v5 file; download it again (SVHN: train_32x32.mat, test_32x32.mat)",
                       s->m->path, var, (unsigned long long)(s->v ? s->v->offset : 0), fmt, detail ? detail : "");
}

/* Exactly n payload bytes into dst (or LOCUS_ERR_FORMAT: the element or the zlib stream ends early). */
static Status src_read(MatStream *s, void *dst, size_t n, ErrorMsg *err) {
    uint8_t *out = dst;
    if (!s->compressed) {
        if (n > s->raw_left) return fail(err, s, "the element ends before its contents", NULL);
        if (n && fread(out, 1, n, s->f) != n) return fail(err, s, "the file ends inside the element", NULL);
        s->raw_left -= n;
        s->produced += n;
        return LOCUS_OK;
    }
    s->z.next_out = out;
    s->z.avail_out = (uInt)n;
    while (s->z.avail_out > 0) {
        if (s->z_end) return fail(err, s, "the compressed data ends before the variable's contents", NULL);
        if (s->z.avail_in == 0 && s->raw_left > 0) {
            size_t want = s->raw_left < MAT_CHUNK ? (size_t)s->raw_left : MAT_CHUNK;
            if (fread(s->in, 1, want, s->f) != want) return fail(err, s, "the file ends inside compressed data", NULL);
            s->raw_left -= want;
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)want;
        }
        const uInt before = s->z.avail_out;
        int r = inflate(&s->z, Z_NO_FLUSH);
        if (r == Z_STREAM_END) s->z_end = 1;
        else if (r == Z_BUF_ERROR && s->z.avail_in == 0 && s->raw_left == 0)
            return fail(err, s, "the compressed data is truncated", NULL);
        else if (r != Z_OK && r != Z_BUF_ERROR)
            return fail(err, s, "corrupt compressed data (zlib: ", s->z.msg ? s->z.msg : "error");
        if (r == Z_BUF_ERROR && before == s->z.avail_out && s->z.avail_in == 0 && s->raw_left == 0)
            return fail(err, s, "the compressed data is truncated", NULL);
    }
    s->produced += n;
    return LOCUS_OK;
}

/* A sub-element tag: normal (8 bytes, payload follows, padded to 8) or small (<= 4 bytes inline). */
typedef struct SubTag {
    uint32_t type, nbytes;
    int small;
    uint8_t inline_bytes[4];
} SubTag;

static Status read_subtag(MatStream *s, SubTag *t, ErrorMsg *err) {
    uint8_t b[8];
    Status st = src_read(s, b, 8, err);
    if (st) return st;
    uint32_t w0 = rd32(s->m, b);
    memset(t, 0, sizeof *t);
    if (w0 >> 16) {
        t->small = 1;
        t->nbytes = w0 >> 16;
        t->type = w0 & 0xffff;
        if (t->nbytes > 4) return fail(err, s, "a small data element claims more than 4 bytes", NULL);
        memcpy(t->inline_bytes, b + 4, 4);
    } else {
        t->type = w0;
        t->nbytes = rd32(s->m, b + 4);
    }
    return LOCUS_OK;
}

/* Reads a sub-element's payload of exactly `want` bytes (plus padding) into dst. */
static Status read_payload(MatStream *s, const SubTag *t, void *dst, size_t want, ErrorMsg *err) {
    if (t->small) {
        if (want > sizeof t->inline_bytes) return fail(err, s, "a small data element holds more than 4 bytes", NULL);
        memcpy(dst, t->inline_bytes, want);
        return LOCUS_OK;
    }
    Status st = src_read(s, dst, want, err);
    uint8_t pad[8];
    size_t padding = (8 - want % 8) % 8;
    if (!st && padding) st = src_read(s, pad, padding, err);
    return st;
}

static Status stream_begin(MatStream *s, const MatFile *m, const MatVar *v, ErrorMsg *err) {
    memset(s, 0, offsetof(MatStream, in));
    s->m = m, s->v = v;
    s->f = fopen(m->path, "rb");
    if (!s->f) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", m->path,
                                  strerror(errno));
    if (fseeko(s->f, (off_t)v->offset + 8, SEEK_SET) != 0) return fail(err, s, "cannot seek to the element", NULL);
    s->compressed = v->compressed;
    s->raw_left = v->nbytes;
    if (s->compressed) {
        if (inflateInit(&s->z) != Z_OK) return fail(err, s, "zlib cannot start", NULL);
        s->z_open = 1;
    }
    return LOCUS_OK;
}

static void stream_end(MatStream *s) {
    if (s->z_open) inflateEnd(&s->z);
    if (s->f) fclose(s->f);
    s->z_open = 0, s->f = NULL;
}

/* Parses the miMATRIX header at the stream's start into v (name, class, dims, stored type); leaves the
 * stream at the first byte of the real part's values. *is_matrix = 0 for a non-matrix element. */
static Status parse_header(MatStream *s, MatVar *v, int *is_matrix, ErrorMsg *err) {
    uint8_t b[8];
    Status st;
    *is_matrix = 0;
    if (s->compressed) {
        if ((st = src_read(s, b, 8, err))) return st;
        uint32_t type = rd32(s->m, b), inner = rd32(s->m, b + 4);
        if (type != MI_MATRIX) return LOCUS_OK; /* some other compressed element: skipped */
        if ((uint64_t)inner > v->nbytes * DEFLATE_MAX_RATIO + 64)
            return fail(err, s, "the compressed matrix claims more bytes than its compressed size can hold", NULL);
        v->inner_bytes = inner;
        s->produced = 0;
    } else {
        v->inner_bytes = v->nbytes;
    }
    *is_matrix = 1;
    if (v->inner_bytes == 0) { /* an empty placeholder matrix */
        v->mclass = 0;
        return LOCUS_OK;
    }
    SubTag t;
    uint8_t flags[8];
    if ((st = read_subtag(s, &t, err))) return st;
    if (t.type != MI_UINT32 || t.nbytes != 8) return fail(err, s, "expected the array-flags sub-element (uint32 x 2)", NULL);
    if ((st = read_payload(s, &t, flags, 8, err))) return st;
    uint32_t f0 = rd32(s->m, flags);
    v->mclass = (int)(f0 & 0xff);
    v->is_complex = (f0 & 0x0800) != 0;
    v->logical = (f0 & 0x0200) != 0;
    if (v->mclass < 1 || v->mclass > 15) return fail(err, s, "unknown array class", NULL);

    if ((st = read_subtag(s, &t, err))) return st;
    if (t.type != MI_INT32 || t.nbytes % 4 || t.nbytes < 8 || t.nbytes > 4 * MAT_MAX_DIMS)
        return fail(err, s, "expected the dimensions sub-element (int32 x 2..8)", NULL);
    uint8_t dims[4 * MAT_MAX_DIMS];
    if ((st = read_payload(s, &t, dims, t.nbytes, err))) return st;
    v->ndims = (int)(t.nbytes / 4);
    v->numel = 1;
    for (int d = 0; d < v->ndims; d++) {
        int32_t x = (int32_t)rd32(s->m, dims + 4 * d);
        if (x < 0) return fail(err, s, "a negative dimension", NULL);
        v->dims[d] = (uint32_t)x;
        v->numel = v->numel * (uint64_t)x;
        if (v->numel > MAT_MAX_NUMEL) return fail(err, s, "more than 2^40 elements", NULL);
    }

    if ((st = read_subtag(s, &t, err))) return st;
    if (t.type != MI_INT8 && t.type != MI_UINT8) return fail(err, s, "expected the array-name sub-element (int8)", NULL);
    if (t.nbytes >= sizeof v->name) return fail(err, s, "the variable name is longer than 63 characters", NULL);
    memset(v->name, 0, sizeof v->name);
    if ((st = read_payload(s, &t, v->name, t.nbytes, err))) return st;
    for (uint32_t i = 0; i < t.nbytes; i++)
        if (v->name[i] < 32 || v->name[i] > 126) return fail(err, s, "the variable name holds non-ASCII bytes", NULL);

    if (v->mclass < 6) return LOCUS_OK; /* cell, struct, object, char, sparse: listed, never read */
    if ((st = read_subtag(s, &t, err))) return st;
    const int size = mi_size(t.type);
    if (!size) return fail(err, s, "the real part has a non-numeric data type", NULL);
    v->stored = (int)t.type;
    if ((uint64_t)t.nbytes != v->numel * (uint64_t)size)
        return fail(err, s, "the real part's byte count does not match the dimensions", NULL);
    uint64_t header = s->compressed ? s->produced : (v->nbytes - s->raw_left);
    if (!t.small && header + t.nbytes > v->inner_bytes)
        return fail(err, s, "the real part runs past the end of the matrix element", NULL);
    v->small = t.small;
    memcpy(v->small_bytes, t.inline_bytes, 4);
    return LOCUS_OK;
}

static Status header_fail(ErrorMsg *err, const char *path, const char *what) {
    return status_fail(err, LOCUS_ERR_FORMAT, "%s: not a MAT v5 file: %s\nhint: SVHN needs the cropped-digits files "
                       "train_32x32.mat / test_32x32.mat (MAT v5); a v7.3 file is HDF5 and is not supported: "
                       "re-save it with scipy.io.savemat or MATLAB's save -v7", path, what);
}

void mat_close(MatFile *m) {
    memset(m, 0, sizeof *m);
}

Status mat_open(MatFile *m, const char *path, ErrorMsg *err) {
    memset(m, 0, sizeof *m);
    if (snprintf(m->path, sizeof m->path, "%s", path) >= (int)sizeof m->path)
        return status_fail(err, LOCUS_ERR_ARG, "%s: path too long\nhint: use a shorter path", path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "%s: not a regular file\nhint: pass a .mat file", path);
    m->size = (uint64_t)sb.st_size;
    FILE *f = fopen(path, "rb");
    if (!f) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the permissions", path, strerror(errno));
    uint8_t h[MAT_HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got < 8 || (got == sizeof h && !memcmp(h, "\x89HDF", 4)) ||
        (m->size > 512 + 8 && got == sizeof h && !memcmp(h, "MATLAB 7.3", 10)))
        return header_fail(err, path, got < 8 ? "shorter than the 128-byte header" : "a MAT v7.3 (HDF5) file");
    if (got < MAT_HEADER_BYTES) return header_fail(err, path, "shorter than the 128-byte header");
    if (memcmp(h, "MATLAB", 6) != 0)
        return header_fail(err, path, "the header text does not start with 'MATLAB 5.0 MAT-file'");
    if (h[126] == 'I' && h[127] == 'M') m->swap = 0;
    else if (h[126] == 'M' && h[127] == 'I') m->swap = 1;
    else return header_fail(err, path, "no 'IM'/'MI' endian indicator at bytes 126-127");
    uint16_t version = m->swap ? (uint16_t)(h[124] << 8 | h[125]) : (uint16_t)(h[125] << 8 | h[124]);
    if (version == 0x0200) return header_fail(err, path, "a MAT v7.3 (HDF5) file");
    if (version != 0x0100) return header_fail(err, path, "version field is not 0x0100");

    MatStream *s = malloc(sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", path);
    uint64_t off = MAT_HEADER_BYTES;
    Status st = LOCUS_OK;
    while (off < m->size) {
        MatVar v;
        memset(&v, 0, sizeof v);
        v.offset = off;
        uint8_t tag[8];
        if (m->size - off < 8) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: %llu stray bytes at the end (byte %llu), expected an "
                             "8-byte element tag\nhint: the file is truncated or damaged; download it again",
                             path, (unsigned long long)(m->size - off), (unsigned long long)off);
            break;
        }
        FILE *g = fopen(path, "rb");
        size_t r = g && fseeko(g, (off_t)off, SEEK_SET) == 0 ? fread(tag, 1, 8, g) : 0;
        if (g) fclose(g);
        if (r != 8) { st = status_fail(err, LOCUS_ERR_IO, "%s: cannot read at byte %llu\nhint: check the file",
                                       path, (unsigned long long)off); break; }
        uint32_t type = rd32(m, tag), nbytes = rd32(m, tag + 4);
        if (type >> 16) { /* small element at top level: 8 bytes in all */
            off += 8;
            continue;
        }
        if ((uint64_t)nbytes > m->size - off - 8) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "%s: the element at byte %llu claims %u bytes, but only %llu "
                             "remain in the file\nhint: the file is truncated; download it again", path,
                             (unsigned long long)off, nbytes, (unsigned long long)(m->size - off - 8));
            break;
        }
        v.nbytes = nbytes;
        v.compressed = type == MI_COMPRESSED;
        uint64_t next = off + 8 + nbytes + (v.compressed ? 0 : (8 - nbytes % 8) % 8);
        if (type == MI_COMPRESSED || type == MI_MATRIX) {
            int is_matrix = 0;
            st = stream_begin(s, m, &v, err);
            if (!st) st = parse_header(s, &v, &is_matrix, err);
            stream_end(s);
            if (st) break;
            if (is_matrix && v.inner_bytes > 0) {
                if (m->nvars == MAT_MAX_VARS) {
                    st = status_fail(err, LOCUS_ERR_FORMAT, "%s: more than %d variables\nhint: a dataset file holds "
                                     "a few variables (SVHN: X and y)", path, MAT_MAX_VARS);
                    break;
                }
                if (mat_find(m, v.name)) {
                    st = status_fail(err, LOCUS_ERR_FORMAT, "%s: variable '%s' appears twice\nhint: the file is "
                                     "damaged", path, v.name);
                    break;
                }
                m->vars[m->nvars++] = v;
            }
        }
        if (next > m->size) next = m->size; /* the last element's padding may be missing */
        off = next;
    }
    free(s);
    if (st) mat_close(m);
    return st;
}

const MatVar *mat_find(const MatFile *m, const char *name) {
    for (int i = 0; i < m->nvars; i++)
        if (!strcmp(m->vars[i].name, name)) return &m->vars[i];
    return NULL;
}

const char *mat_class_name(int mclass) { return class_name(mclass); }

Status mat_stream_open(const MatFile *m, const MatVar *v, MatStream **out, ErrorMsg *err) {
    *out = NULL;
    if (v->mclass < 6 || v->is_complex)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: variable '%s' is a %s%s array, expected a real numeric "
                           "array\nhint: the file does not hold the expected dataset variables", m->path, v->name,
                           v->is_complex ? "complex " : "", class_name(v->mclass));
    MatStream *s = malloc(sizeof *s);
    if (!s) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", m->path);
    MatVar copy = *v;
    int is_matrix = 0;
    Status st = stream_begin(s, m, v, err);
    if (!st) st = parse_header(s, &copy, &is_matrix, err);
    if (!st && (!is_matrix || copy.numel != v->numel || copy.stored != v->stored))
        st = fail(err, s, "the variable changed since the file was listed", NULL);
    if (st) {
        stream_end(s);
        free(s);
        return st;
    }
    s->values_left = v->numel;
    *out = s;
    return LOCUS_OK;
}

void mat_stream_close(MatStream *s) {
    if (!s) return;
    stream_end(s);
    free(s);
}

/* Value i of a buffer of stored type `type` as a double (byte-swapped when the file is). */
static double value_at(const MatStream *s, const uint8_t *p, int type) {
    uint8_t b[8];
    const int size = mi_size((uint32_t)type);
    for (int k = 0; k < size; k++) b[k] = s->m->swap ? p[size - 1 - k] : p[k];
    switch (type) {
    case MI_INT8: return (int8_t)b[0];
    case MI_UINT8: return b[0];
    case MI_INT16: { int16_t x; memcpy(&x, b, 2); return x; }
    case MI_UINT16: { uint16_t x; memcpy(&x, b, 2); return x; }
    case MI_INT32: { int32_t x; memcpy(&x, b, 4); return x; }
    case MI_UINT32: { uint32_t x; memcpy(&x, b, 4); return x; }
    case MI_SINGLE: { float x; memcpy(&x, b, 4); return x; }
    case MI_DOUBLE: { double x; memcpy(&x, b, 8); return x; }
    case MI_INT64: { int64_t x; memcpy(&x, b, 8); return (double)x; }
    case MI_UINT64: { uint64_t x; memcpy(&x, b, 8); return (double)x; }
    default: return -1;
    }
}

Status mat_stream_read_u8(MatStream *s, uint8_t *dst, size_t n, ErrorMsg *err) {
    if (n > s->values_left) return fail(err, s, "reading past the variable's last value", NULL);
    const int type = s->v->stored, size = mi_size((uint32_t)type);
    if (s->v->small) { /* <= 4 bytes inline in the tag */
        const size_t first = (size_t)(s->v->numel - s->values_left);
        for (size_t i = 0; i < n; i++) {
            double x = value_at(s, s->v->small_bytes + (first + i) * (size_t)size, type);
            if (!(x >= 0 && x <= 255 && x == (double)(int)x))
                return fail(err, s, "a value is not an integer in 0..255", NULL);
            dst[i] = (uint8_t)x;
        }
        s->values_left -= n;
        return LOCUS_OK;
    }
    if (type == MI_UINT8) {
        Status st = src_read(s, dst, n, err);
        if (!st) s->values_left -= n;
        return st;
    }
    const size_t per_chunk = MAT_CHUNK / (size_t)size;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < per_chunk ? n - done : per_chunk;
        Status st = src_read(s, s->buf, k * (size_t)size, err);
        if (st) return st;
        for (size_t i = 0; i < k; i++) {
            double x = value_at(s, s->buf + i * (size_t)size, type);
            if (!(x >= 0 && x <= 255 && x == (double)(int)x))
                return fail(err, s, "a value is not an integer in 0..255", NULL);
            dst[done + i] = (uint8_t)x;
        }
        done += k;
        s->values_left -= k;
    }
    return LOCUS_OK;
}
