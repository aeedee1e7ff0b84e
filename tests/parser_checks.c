/* parser_checks.c — see parser_checks.h. Each check writes the input to a file when the parser reads
 * files, runs the parser in every mode it has (IDX as images and labels, with and without a keep limit;
 * CIFAR-100 fine and coarse; every MAT variable streamed to its end), and holds it to its contract. */
#include "parser_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_writers.h"
#include "locus/data.h"
#include "locus/safetensors.h"
#include "locus/train.h"

static const char *const NAMES[PARSER_COUNT] = {"idx", "cifar", "mat", "stl10", "image", "safetensors", "config"};
const char *parser_name(ParserKind k) { return k < PARSER_COUNT ? NAMES[k] : "?"; }

static int write_input(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(d, 1, n, f) : 0;
    fclose(f);
    return w == n ? 0 : -1;
}

/* An error must be I/O, format or argument, name `who` and carry a hint. */
static int contract(const char *what, const char *who, Status st, const ErrorMsg *err) {
    if (st == LOCUS_OK) return 0;
    if ((st == LOCUS_ERR_FORMAT || st == LOCUS_ERR_IO || st == LOCUS_ERR_ARG) && (!who || strstr(err->text, who)) &&
        strstr(err->text, "\nhint: "))
        return 0;
    printf("%s broke the error contract (status %s): %s\n", what, status_name(st), err->text);
    return 1;
}

static int leak(const char *what, const MemTracker *mt) {
    if (!mt->live[MEM_TAG_DATA]) return 0;
    printf("%s: %zu DATA bytes leaked\n", what, mt->live[MEM_TAG_DATA]);
    return 1;
}

static int check_idx(const char *path, size_t n) {
    int bad = 0;
    for (int ndim = 1; ndim <= 3; ndim += 2)
        for (int keep = 0; keep <= 2; keep += 2) {
            MemTracker mt = {0};
            IdxU8 a;
            ErrorMsg err = {{0}};
            Status st = idx_read_u8(path, ndim, keep, ndim == 1 ? 10 : 0, &a, &mt, &err);
            bad += contract("idx", path, st, &err);
            if (st == LOCUS_OK) {
                size_t item = ndim == 3 ? (size_t)a.dims[1] * (size_t)a.dims[2] : 1;
                if (a.bytes != (size_t)a.kept * item || a.kept > a.dims[0] || (keep && a.kept > keep)) bad++;
                for (size_t i = 0; ndim == 1 && i < a.bytes; i++)
                    if (a.data[i] >= 10) { bad++; break; }
                idx_free(&a, &mt);
            }
            bad += leak("idx", &mt);
            if (mt.peak[MEM_TAG_DATA] > n * 1032 + 1024 && mt.peak[MEM_TAG_DATA] > (64 << 10)) {
                printf("idx: peak DATA %zu for a %zu-byte file\n", mt.peak[MEM_TAG_DATA], n);
                bad++;
            }
        }
    return bad;
}

static int check_cifar(const char *path) {
    int bad = 0, records = 0;
    ErrorMsg err = {{0}};
    Status st = cifar_count(path, &records, &err);
    bad += contract("cifar_count", path, st, &err);
    if (!st) {
        uint8_t *im = malloc((size_t)records * CIFAR_IMAGE_BYTES), *lb = malloc((size_t)records);
        st = cifar_read(path, records, im, lb, &err);
        bad += contract("cifar_read", path, st, &err);
        for (int i = 0; !st && i < records; i++) bad += lb[i] >= 10;
        free(im), free(lb);
    }
    st = cifar100_count(path, &records, &err);
    bad += contract("cifar100_count", path, st, &err);
    for (int coarse = 0; !st && coarse < 2; coarse++) {
        uint8_t *im = malloc((size_t)records * CIFAR_IMAGE_BYTES), *lb = malloc((size_t)records);
        Status s2 = cifar100_read(path, records, coarse, im, lb, &err);
        bad += contract("cifar100_read", path, s2, &err);
        for (int i = 0; !s2 && i < records; i++) bad += lb[i] >= (coarse ? 20 : 100);
        free(im), free(lb);
    }
    return bad;
}

static int check_mat(const char *path) {
    int bad = 0;
    MatFile *m = malloc(sizeof *m);
    ErrorMsg err = {{0}};
    Status st = mat_open(m, path, &err);
    bad += contract("mat_open", path, st, &err);
    for (int v = 0; !st && v < m->nvars; v++) {
        const MatVar *x = &m->vars[v];
        if (x->ndims < 2 || x->ndims > MAT_MAX_DIMS || x->numel > ((uint64_t)1 << 40)) {
            printf("mat: variable %d listed with %d dims, %llu values\n", v, x->ndims, (unsigned long long)x->numel);
            bad++;
        }
        MatStream *s = NULL;
        Status s2 = mat_stream_open(m, x, &s, &err);
        bad += contract("mat_stream_open", path, s2, &err);
        uint8_t buf[4096];
        uint64_t left = x->numel < (1u << 20) ? x->numel : (1u << 20);
        while (!s2 && left) {
            size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
            s2 = mat_stream_read_u8(s, buf, k, &err);
            bad += contract("mat_stream_read_u8", path, s2, &err);
            left -= k;
        }
        mat_stream_close(s);
    }
    mat_close(m);
    free(m);
    int n = 0;
    st = svhn_count(path, &n, &err);
    bad += contract("svhn_count", path, st, &err);
    if (!st) {
        if (n < 1) bad++;
        const int take = n < 64 ? n : 64;
        uint8_t *im = malloc((size_t)take * 3072 + 1), *lb = malloc((size_t)take + 1);
        st = svhn_read(path, take, im, lb, &err);
        bad += contract("svhn_read", path, st, &err);
        for (int i = 0; !st && i < take; i++) bad += lb[i] > 9;
        free(im), free(lb);
    }
    return bad;
}

static int check_stl10(const char *path) {
    int bad = 0, n = 0;
    ErrorMsg err = {{0}};
    Status st = stl10_count(path, &n, &err);
    bad += contract("stl10_count", path, st, &err);
    if (!st) {
        const int take = n < 8 ? n : 8;
        uint8_t *im = malloc((size_t)take * STL10_IMAGE_BYTES + 1), lb[8];
        st = stl10_read(path, NULL, n, take, im, lb, &err);
        bad += contract("stl10_read", path, st, &err);
        st = stl10_read(path, path, n, take, im, lb, &err); /* X as its own labels: a size mismatch */
        bad += contract("stl10_read (y)", path, st, &err);
        for (int i = 0; !st && i < take; i++) bad += lb[i] > 9;
        free(im);
    }
    return bad;
}

#define IMAGE_CAP (1 << 18)
static int check_image(const uint8_t *d, size_t n) {
    static uint8_t rgb[4 * IMAGE_CAP];
    static uint8_t *tmp;
    if (!tmp) tmp = malloc(transform_tmp_bytes(24));
    int w = 0, h = 0;
    ErrorMsg err = {{0}};
    Status st = image_decode(d, n, "fuzz-image", rgb, IMAGE_CAP, &w, &h, &err);
    int bad = contract("image_decode", "fuzz-image", st, &err);
    if (st) return bad;
    if (w < 1 || h < 1 || (int64_t)w * h > IMAGE_CAP || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE) {
        printf("image_decode: accepted %d x %d\n", w, h);
        return bad + 1;
    }
    DataPreset tr, ev;
    data_preset("imagefolder", 1, &tr, &err);
    data_preset("imagefolder", 0, &ev, &err);
    uint8_t out[3 * 24 * 24];
    transform_resample(rgb, w, h, transform_random_box(&tr, w, h, 1, 1, (int)(n % 1000)), 24, tmp, out);
    transform_resample(rgb, w, h, transform_center_box(&ev, w, h, 24), 24, tmp, out);
    return bad;
}

static int check_safetensors(const uint8_t *d, size_t n) {
    uint8_t *heap = malloc(n ? n : 1);
    if (n) memcpy(heap, d, n);
    StFile f;
    ErrorMsg err = {{0}};
    Status st = safetensors_parse(&f, heap, n, "fuzz-st", &err);
    int bad = contract("safetensors_parse", "fuzz-st", st, &err);
    if (!st) {
        for (int i = 0; i < f.count; i++)
            if (f.tensors[i].offset + f.tensors[i].nbytes > n || safetensors_find(&f, f.tensors[i].name) != &f.tensors[i]) {
                printf("safetensors: tensor %d out of bounds\n", i);
                bad++;
            }
        safetensors_close(&f);
    }
    free(heap);
    return bad;
}

static int check_config(const char *path) {
    TrainConfig c;
    train_config_defaults(&c);
    ErrorMsg err = {{0}};
    Status st = config_load_json(&c, train_config_keys, path, &err);
    int bad = contract("config_load_json", path, st, &err);
    if (!st) {
        st = config_validate(&c, train_config_keys, &err);
        if (st) {
            printf("config_load_json accepted values config_validate refuses: %s\n", err.text);
            bad++;
        }
    }
    return bad;
}

int parser_check(ParserKind k, const uint8_t *data, size_t n, const char *path) {
    if (k == PARSER_IMAGE) return check_image(data, n);
    if (k == PARSER_SAFETENSORS) return check_safetensors(data, n);
    if (write_input(path, data, n)) {
        printf("cannot write %s\n", path);
        return 1;
    }
    switch (k) {
    case PARSER_IDX: return check_idx(path, n);
    case PARSER_CIFAR: return check_cifar(path);
    case PARSER_MAT: return check_mat(path);
    case PARSER_STL10: return check_stl10(path);
    case PARSER_CONFIG: return check_config(path);
    default: return 1;
    }
}

/* ---- seeds ------------------------------------------------------------------------------------- */

static int add_file(const char *p, uint8_t ***seeds, size_t **sizes, int n) {
    FILE *f = fopen(p, "rb");
    if (!f) return n;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    *seeds = realloc(*seeds, sizeof **seeds * (size_t)(n + 1));
    *sizes = realloc(*sizes, sizeof **sizes * (size_t)(n + 1));
    (*seeds)[n] = b, (*sizes)[n] = (size_t)len;
    unlink(p);
    return n + 1;
}

static int add_bytes(const void *d, size_t len, uint8_t ***seeds, size_t **sizes, int n) {
    *seeds = realloc(*seeds, sizeof **seeds * (size_t)(n + 1));
    *sizes = realloc(*sizes, sizeof **sizes * (size_t)(n + 1));
    (*seeds)[n] = malloc(len + 1);
    memcpy((*seeds)[n], d, len);
    (*sizes)[n] = len;
    return n + 1;
}

int parser_seeds(ParserKind k, const char *dir, uint8_t ***seeds, size_t **sizes) {
    *seeds = NULL, *sizes = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/seed.bin", dir);
    int n = 0;
    switch (k) {
    case PARSER_IDX: {
        uint8_t img[16 + 2 * 4 * 3], lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 7, 2};
        const uint8_t h[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 3};
        memcpy(img, h, 16);
        for (int i = 0; i < 24; i++) img[16 + i] = (uint8_t)(i * 11);
        n = add_bytes(img, sizeof img, seeds, sizes, n);
        n = add_bytes(lab, sizeof lab, seeds, sizes, n);
        break;
    }
    case PARSER_CIFAR:
        dw_write_cifar100(p, 0, 1);
        n = add_file(p, seeds, sizes, n);
        break;
    case PARSER_MAT:
        dw_write_svhn(p, 2, 1, 2);
        n = add_file(p, seeds, sizes, n);
        dw_write_svhn(p, 1, 0, 9);
        n = add_file(p, seeds, sizes, n);
        break;
    case PARSER_STL10: {
        dw_write_stl10(dir, "seed", 0, 1);
        snprintf(p, sizeof p, "%s/seed_X.bin", dir);
        n = add_file(p, seeds, sizes, n);
        snprintf(p, sizeof p, "%s/seed_y.bin", dir);
        unlink(p);
        break;
    }
    case PARSER_IMAGE:
        dw_write_image(p, 1, 9, 7, 0);
        n = add_file(p, seeds, sizes, n);
        dw_write_image(p, 2, 12, 10, 1);
        n = add_file(p, seeds, sizes, n);
        break;
    case PARSER_SAFETENSORS: {
        const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"a\":\"b\"}}";
        uint8_t b[8 + sizeof hdr + 8] = {0};
        const size_t hl = sizeof hdr - 1;
        for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hl >> (8 * i));
        memcpy(b + 8, hdr, hl);
        n = add_bytes(b, 8 + hl + 8, seeds, sizes, n);
        break;
    }
    case PARSER_CONFIG: {
        const char *j = "{\"model\": \"resnet8\", \"data\": \"svhn\", \"batch\": 64, \"lr\": 0.1, \"nesterov\": true, "
                        "\"mem_limit\": \"2G\", \"image_size\": 96, \"cifar100_labels\": \"coarse\"}";
        n = add_bytes(j, strlen(j), seeds, sizes, n);
        break;
    }
    default: break;
    }
    return n;
}
