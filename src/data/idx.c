/* idx.c — reader for IDX uint8 files (Fashion-MNIST, MNIST), gzip-compressed or raw
 * (spec data-formats.md §2.2: magic 00 00 08 <ndim>, ndim big-endian int32 dims, row-major bytes).
 *
 * The file must hold exactly header + product of dims bytes: a short file, a corrupt gzip stream or
 * trailing bytes are LOCUS_ERR_FORMAT. The header is never trusted for an allocation:
 *  - dims are checked against sane maxima (IDX_MAX_*);
 *  - a raw file's size on disk must equal header + data before anything is allocated;
 *  - a gzip file cannot inflate to more than DEFLATE_MAX_RATIO x its size on disk, so a header that
 *    claims more is rejected at once; the buffer is allocated in full only when the gzip trailer's
 *    ISIZE agrees with the header, and otherwise grows (doubling) only as bytes actually arrive.
 * Bytes past `keep` items are read (to validate them) into a small stack buffer, not stored. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "locus/data.h"

#define IDX_MAX_COUNT 10000000u          /* items in one file */
#define IDX_MAX_SIDE 4096u               /* rows, cols */
#define IDX_MAX_BYTES ((uint64_t)1 << 31) /* data bytes in one file */
#define DEFLATE_MAX_RATIO 1032u          /* deflate's best case: 258-byte matches in ~2 bits */
#define IDX_GROW_START ((size_t)64 << 10)
#define IDX_CHUNK (1u << 20)

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* What the bytes on disk say before zlib reads them. */
typedef struct FileProbe {
    uint64_t disk_bytes;
    int gz;          /* starts with the gzip magic 1F 8B */
    uint32_t isize;  /* gzip trailer: uncompressed size mod 2^32 (gz only) */
} FileProbe;

static Status probe_file(const char *path, FileProbe *fp, ErrorMsg *err) {
    memset(fp, 0, sizeof *fp);
    FILE *f = fopen(path, "rb");
    if (!f)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path and permissions", path,
                           strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return status_fail(err, LOCUS_ERR_IO, "%s: not a regular file\nhint: pass the path of an IDX file", path);
    }
    fp->disk_bytes = (uint64_t)st.st_size;
    uint8_t m[4];
    if (fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        fp->gz = 1;
        if (fp->disk_bytes >= 18 && fseek(f, -4, SEEK_END) == 0 && fread(m, 1, 4, f) == 4)
            fp->isize = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
    }
    fclose(f);
    return LOCUS_OK;
}

/* gzread into dst until len bytes or end of data; returns bytes read, or -1 with *zmsg set. */
static long long gz_read_full(gzFile g, uint8_t *dst, size_t len, const char **zmsg) {
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < IDX_CHUNK ? len - done : IDX_CHUNK;
        int r = gzread(g, dst + done, (unsigned)want);
        if (r < 0) {
            int code;
            *zmsg = gzerror(g, &code);
            return -1;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    return (long long)done;
}

static const char *idx_kind(int ndim) { return ndim == 3 ? "images" : "labels"; }

static Status fail_gz(ErrorMsg *err, const char *path, uint64_t done, uint64_t want, const char *zmsg) {
    return status_fail(err, LOCUS_ERR_FORMAT,
                       "%s: corrupt or truncated gzip data after %llu of %llu bytes (zlib: %s)\n"
                       "hint: the file is damaged; download or reinstall it (gzip -t %s checks it)",
                       path, (unsigned long long)done, (unsigned long long)want, zmsg ? zmsg : "?", path);
}

Status idx_read_u8(const char *path, int ndim, int keep, int value_limit, IdxU8 *out, MemTracker *mt,
                   ErrorMsg *err) {
    CHECK(ndim == 1 || ndim == 3, "idx_read_u8: ndim %d (1 or 3)", ndim);
    memset(out, 0, sizeof *out);
    FileProbe fp;
    Status st = probe_file(path, &fp, err);
    if (st) return st;

    gzFile g = gzopen(path, "rb");
    if (!g)
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: check the path and permissions", path,
                           strerror(errno));
    gzbuffer(g, 256u << 10);

    const int header_bytes = 4 + 4 * ndim;
    uint8_t hdr[16];
    const char *zmsg = NULL;
    long long got = gz_read_full(g, hdr, (size_t)header_bytes, &zmsg);
    if (got < 0) { /* zlib's message lives in the gzFile: format it before gzclose frees it */
        st = fail_gz(err, path, 0, (uint64_t)header_bytes, zmsg);
        gzclose(g);
        return st;
    }
    if (got < header_bytes) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: truncated IDX header: expected %d bytes (IDX %s, %d dims), found %lld\n"
                           "hint: the file is empty or damaged; download or reinstall it",
                           path, header_bytes, idx_kind(ndim), ndim, got);
    }
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || hdr[3] != (uint8_t)ndim) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: wrong magic: expected 00 00 08 %02x (IDX uint8 %s, %d dims), found %02x %02x %02x "
                           "%02x\nhint: is this the right file? images are *-images-idx3-ubyte[.gz] (00 00 08 03), "
                           "labels *-labels-idx1-ubyte[.gz] (00 00 08 01)",
                           path, ndim, idx_kind(ndim), ndim, hdr[0], hdr[1], hdr[2], hdr[3]);
    }
    uint32_t d[3] = {be32(hdr + 4), 1, 1};
    if (ndim == 3) {
        d[1] = be32(hdr + 8);
        d[2] = be32(hdr + 12);
    }
    if (d[0] > IDX_MAX_COUNT || d[1] < 1 || d[1] > IDX_MAX_SIDE || d[2] < 1 || d[2] > IDX_MAX_SIDE) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: implausible IDX header: count %u, rows %u, cols %u (expected count <= %u, "
                           "1 <= rows, cols <= %u)\nhint: the header is corrupt; download or reinstall the file",
                           path, d[0], ndim == 3 ? d[1] : 0, ndim == 3 ? d[2] : 0, IDX_MAX_COUNT, IDX_MAX_SIDE);
    }
    const uint64_t item = (uint64_t)d[1] * d[2];
    const uint64_t want = (uint64_t)d[0] * item;
    const uint64_t total = (uint64_t)header_bytes + want;
    if (want > IDX_MAX_BYTES) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: implausible IDX header: %u x %u x %u = %llu data bytes (at most %llu expected)\n"
                           "hint: the header is corrupt; download or reinstall the file",
                           path, d[0], d[1], d[2], (unsigned long long)want, (unsigned long long)IDX_MAX_BYTES);
    }
    if (!fp.gz && fp.disk_bytes != total) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: %s: the header (%u items of %llu bytes) requires exactly %llu bytes, the file has "
                           "%llu\nhint: the file is %s; download or reinstall it",
                           path, fp.disk_bytes < total ? "truncated" : "trailing bytes", d[0],
                           (unsigned long long)item, (unsigned long long)total, (unsigned long long)fp.disk_bytes,
                           fp.disk_bytes < total ? "incomplete" : "damaged or not an IDX file");
    }
    if (fp.gz && total > fp.disk_bytes * DEFLATE_MAX_RATIO + 1024) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_FORMAT,
                           "%s: truncated: the header (%u items of %llu bytes) requires %llu bytes, but a gzip file "
                           "of %llu bytes cannot hold more than %llu\nhint: the file is incomplete; download or "
                           "reinstall it",
                           path, d[0], (unsigned long long)item, (unsigned long long)total,
                           (unsigned long long)fp.disk_bytes,
                           (unsigned long long)(fp.disk_bytes * DEFLATE_MAX_RATIO + 1024));
    }

    const uint32_t kept = keep > 0 && (uint32_t)keep < d[0] ? (uint32_t)keep : d[0];
    const size_t keep_bytes = (size_t)(kept * item);
    size_t cap = keep_bytes;
    if (fp.gz && fp.isize != (uint32_t)total && cap > IDX_GROW_START) cap = IDX_GROW_START;
    uint8_t *buf = mem_alloc(mt, MEM_TAG_DATA, cap);
    if (!buf) {
        gzclose(g);
        return status_fail(err, LOCUS_ERR_OOM, "%s: cannot allocate %zu bytes for %s\nhint: free memory or pass a "
                           "smaller limit", path, cap, idx_kind(ndim));
    }

    uint8_t scratch[1 << 16];
    uint64_t done = 0;
    st = LOCUS_OK;
    while (done < want) {
        uint8_t *dst;
        size_t len;
        if (done < keep_bytes) {
            if (done == cap) { /* grow: the bytes are really there */
                size_t ncap = cap * 2 < keep_bytes ? cap * 2 : keep_bytes;
                uint8_t *nb = mem_alloc(mt, MEM_TAG_DATA, ncap);
                if (!nb) {
                    st = status_fail(err, LOCUS_ERR_OOM, "%s: cannot allocate %zu bytes for %s\nhint: free memory "
                                     "or pass a smaller limit", path, ncap, idx_kind(ndim));
                    break;
                }
                memcpy(nb, buf, cap);
                mem_free(mt, MEM_TAG_DATA, buf, cap);
                buf = nb;
                cap = ncap;
            }
            dst = buf + done;
            len = cap - (size_t)done;
        } else {
            dst = scratch;
            len = sizeof scratch;
        }
        if (len > want - done) len = (size_t)(want - done);
        if (len > IDX_CHUNK) len = IDX_CHUNK;
        int r = gzread(g, dst, (unsigned)len);
        if (r < 0) {
            int code;
            st = fail_gz(err, path, done, want, gzerror(g, &code));
            break;
        }
        if (r == 0) {
            st = status_fail(err, LOCUS_ERR_FORMAT,
                             "%s: truncated: expected %llu data bytes after the %d-byte header (%u items of %llu "
                             "bytes), found %llu\nhint: the file is incomplete; download or reinstall it",
                             path, (unsigned long long)want, header_bytes, d[0], (unsigned long long)item,
                             (unsigned long long)done);
            break;
        }
        if (value_limit > 0)
            for (int i = 0; i < r; i++)
                if (dst[i] >= value_limit) {
                    st = status_fail(err, LOCUS_ERR_FORMAT,
                                     "%s: bad value at item %llu: expected 0..%d, found %u\nhint: the file is "
                                     "damaged or is not a %d-class label file",
                                     path, (unsigned long long)((done + (uint64_t)i) / item), value_limit - 1,
                                     dst[i], value_limit);
                    break;
                }
        if (st) break;
        done += (uint64_t)r;
    }
    if (!st) { /* exactly header + data: anything more is an error, and zlib checks the CRC here */
        uint8_t extra;
        int r = gzread(g, &extra, 1), code = Z_OK;
        const char *zmsg_end = gzerror(g, &code);
        if (r < 0) {
            st = fail_gz(err, path, done, want, zmsg_end);
        } else if (r == 0 && code == Z_BUF_ERROR) { /* zlib's "input ended inside a gzip stream" is not fatal */
            st = status_fail(err, LOCUS_ERR_FORMAT,
                             "%s: truncated gzip stream: all %llu data bytes arrived but the gzip trailer (CRC, "
                             "size) is cut short (zlib: %s)\nhint: the file is incomplete; download or reinstall it",
                             path, (unsigned long long)want, zmsg_end);
        } else if (r > 0) {
            st = status_fail(err, LOCUS_ERR_FORMAT,
                             "%s: trailing bytes: the header (%u items of %llu bytes) requires exactly %llu "
                             "bytes, the file holds more\nhint: the file is damaged or not an IDX file; download "
                             "or reinstall it",
                             path, d[0], (unsigned long long)item, (unsigned long long)total);
        }
    }
    gzclose(g);
    if (st) {
        mem_free(mt, MEM_TAG_DATA, buf, cap);
        return st;
    }
    CHECK(cap == keep_bytes, "idx: buffer %zu != kept bytes %zu", cap, keep_bytes);
    out->ndim = ndim;
    for (int i = 0; i < 3; i++) out->dims[i] = (int)d[i];
    out->kept = (int)kept;
    out->data = buf;
    out->bytes = keep_bytes;
    return LOCUS_OK;
}

void idx_free(IdxU8 *a, MemTracker *mt) {
    if (a->data) mem_free(mt, MEM_TAG_DATA, a->data, a->bytes);
    memset(a, 0, sizeof *a);
}
