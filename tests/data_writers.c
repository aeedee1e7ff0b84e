/* data_writers.c — see data_writers.h: small files in the datasets' real formats, written the way their
 * publishers' tools do (MAT v5 elements padded to 8 bytes, small data elements for short names,
 * zlib-compressed variables; STL-10 column-major planes; CIFAR-100 label bytes before the pixels). */
#include "data_writers.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>
#include <turbojpeg.h>
#include <zlib.h>

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
    int be;
} Buf;

static void put(Buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(Buf *b, uint32_t v) {
    uint8_t x[4];
    for (int i = 0; i < 4; i++) x[i] = b->be ? (uint8_t)(v >> (24 - 8 * i)) : (uint8_t)(v >> (8 * i));
    put(b, x, 4);
}
static void pad8(Buf *b) {
    static const uint8_t z[8] = {0};
    put(b, z, (8 - b->n % 8) % 8);
}
static int mi_size(int t) { return t == 1 || t == 2 ? 1 : t == 3 || t == 4 ? 2 : t == 5 || t == 6 || t == 7 ? 4 : 8; }

static void put_value(Buf *b, int type, double v) {
    uint8_t x[8];
    const int n = mi_size(type);
    switch (type) {
    case 1: { int8_t t = (int8_t)v; memcpy(x, &t, 1); break; }
    case 2: { uint8_t t = (uint8_t)v; memcpy(x, &t, 1); break; }
    case 3: { int16_t t = (int16_t)v; memcpy(x, &t, 2); break; }
    case 4: { uint16_t t = (uint16_t)v; memcpy(x, &t, 2); break; }
    case 5: { int32_t t = (int32_t)v; memcpy(x, &t, 4); break; }
    case 6: { uint32_t t = (uint32_t)v; memcpy(x, &t, 4); break; }
    case 7: { float t = (float)v; memcpy(x, &t, 4); break; }
    default: memcpy(x, &v, 8); break;
    }
    if (b->be) for (int i = 0; i < n / 2; i++) { uint8_t t = x[i]; x[i] = x[n - 1 - i]; x[n - 1 - i] = t; }
    put(b, x, (size_t)n);
}

/* One miMATRIX element (tag included). */
static void matrix_element(Buf *b, const DwMatVar *v) {
    Buf in = {0};
    in.be = b->be;
    put_u32(&in, 6), put_u32(&in, 8), put_u32(&in, (uint32_t)v->mclass), put_u32(&in, 0);
    put_u32(&in, 5), put_u32(&in, (uint32_t)(4 * v->ndims));
    size_t numel = 1;
    for (int d = 0; d < v->ndims; d++) put_u32(&in, (uint32_t)v->dims[d]), numel *= (size_t)v->dims[d];
    pad8(&in);
    const size_t len = strlen(v->name);
    if (len <= 4) { /* small data element, as MATLAB writes short names */
        uint8_t tag[8] = {0};
        Buf t = {tag, 0, 8, b->be};
        put_u32(&t, (uint32_t)(len << 16 | 1));
        memcpy(tag + 4, v->name, len);
        put(&in, tag, 8);
    } else {
        put_u32(&in, 1), put_u32(&in, (uint32_t)len), put(&in, v->name, len), pad8(&in);
    }
    put_u32(&in, (uint32_t)v->stored), put_u32(&in, (uint32_t)(numel * (size_t)mi_size(v->stored)));
    for (size_t i = 0; i < numel; i++) put_value(&in, v->stored, v->values[i]);
    pad8(&in);
    put_u32(b, 14), put_u32(b, (uint32_t)in.n);
    put(b, in.p, in.n);
    free(in.p);
}

int dw_write_mat(const char *path, const DwMatVar *vars, int nvars, int compressed, int big_endian) {
    Buf b = {0};
    b.be = big_endian;
    char text[116];
    memset(text, ' ', sizeof text);
    const char *h = "MATLAB 5.0 MAT-file, Platform: locus-test, Created on: today";
    memcpy(text, h, strlen(h));
    put(&b, text, sizeof text);
    static const uint8_t zeros[8] = {0};
    put(&b, zeros, 8);
    uint8_t ver[4] = {0x00, 0x01, 'I', 'M'};
    if (big_endian) ver[0] = 0x01, ver[1] = 0x00, ver[2] = 'M', ver[3] = 'I';
    put(&b, ver, 4);
    for (int i = 0; i < nvars; i++) {
        if (!compressed) {
            matrix_element(&b, &vars[i]);
            continue;
        }
        Buf m = {0};
        m.be = big_endian;
        matrix_element(&m, &vars[i]);
        uLongf zn = compressBound(m.n);
        uint8_t *z = malloc(zn);
        compress2(z, &zn, m.p, m.n, 6);
        put_u32(&b, 15), put_u32(&b, (uint32_t)zn);
        put(&b, z, zn);
        free(z);
        free(m.p);
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b.p, 1, b.n, f) == b.n;
    if (f) fclose(f);
    free(b.p);
    return ok ? 0 : -1;
}

int dw_write_svhn(const char *path, int n, int compressed, int y_stored) {
    double *x = malloc(sizeof *x * 3072 * (size_t)n), *y = malloc(sizeof *y * (size_t)n);
    for (int k = 0; k < n; k++) {
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < 32; w++)
                for (int h = 0; h < 32; h++) x[(size_t)k * 3072 + c * 1024 + w * 32 + h] = dw_pix(k, c, h, w);
        y[k] = k % 10 == 0 ? 10 : k % 10;
    }
    DwMatVar v[2] = {{"X", 9, 2, 4, {32, 32, 3, n}, x}, {"y", 6, y_stored, 2, {n, 1, 0, 0}, y}};
    int r = dw_write_mat(path, v, 2, compressed, 0);
    free(x);
    free(y);
    return r;
}

int dw_write_stl10(const char *dir, const char *split, int first, int n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s_X.bin", dir, split);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    for (int k = first; k < first + n; k++)
        for (int c = 0; c < 3; c++)
            for (int w = 0; w < 96; w++)
                for (int h = 0; h < 96; h++) fputc(dw_pix(k, c, h, w), f);
    fclose(f);
    snprintf(p, sizeof p, "%s/%s_y.bin", dir, split);
    if (!(f = fopen(p, "wb"))) return -1;
    for (int k = first; k < first + n; k++) fputc(k % 10 + 1, f);
    fclose(f);
    return 0;
}

int dw_write_cifar100(const char *path, int first, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (int k = first; k < first + n; k++) {
        fputc(k % 20, f);
        fputc((k * 7) % 100, f);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) fputc(dw_pix(k, c, y, x), f);
    }
    fclose(f);
    return 0;
}

int dw_write_image(const char *path, int k, int w, int h, int jpeg) {
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) px[((size_t)y * w + x) * 3 + c] = dw_pix(k, c, y, x);
    int ok;
    if (!jpeg) {
        ok = stbi_write_png(path, w, h, 3, px, w * 3) != 0;
    } else {
        tjhandle tj = tjInitCompress();
        unsigned char *out = NULL;
        unsigned long len = 0;
        ok = tj && tjCompress2(tj, px, w, 0, h, TJPF_RGB, &out, &len, TJSAMP_444, 95, 0) == 0;
        FILE *f = ok ? fopen(path, "wb") : NULL;
        ok = f && fwrite(out, 1, len, f) == len;
        if (f) fclose(f);
        tjFree(out);
        if (tj) tjDestroy(tj);
    }
    free(px);
    return ok ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

void dw_rmtree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }
