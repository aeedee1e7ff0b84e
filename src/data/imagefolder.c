/* imagefolder.c — ImageNet-style class folders (spec data-formats.md §6): DIR/train/CLASS/FILE and
 * DIR/val/CLASS/FILE (DIR/test/... when there is no val). The class index is the position of the folder
 * name in DIR/train's subfolders sorted byte-wise (torchvision ImageFolder's rule); a val folder must
 * use the same names (a class missing from val keeps its index; a class only in val is an error, where
 * torchvision would silently shift every index). Files are taken when their extension is an image one
 * (case-insensitive: .jpg .jpeg .png .ppm .pgm .pnm .bmp), sorted byte-wise within a class; the decoder
 * is chosen later by the bytes, not the extension. Only files directly inside a class folder count;
 * hidden entries are skipped.
 *
 * The list lives in DATA as exact-size blocks (root, names, offsets, uint16 labels, class names); the
 * scan collects into growing heap buffers first, freed before returning. Nothing is decoded here: the
 * loader decodes each sample when its batch is built. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data_internal.h"

#define IF_MAX_CLASSES 65535
#define IF_MAX_FILES 100000000
#define IF_PATH 4096

typedef struct StrList {
    char **v;
    int n, cap;
} StrList;

static int strlist_push(StrList *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void strlist_free(StrList *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *name) {
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pnm", ".bmp"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

/* Entries of dir (not hidden) that are folders (want_dirs) or image files, sorted. */
static Status list_dir(const char *dir, int want_dirs, StrList *out, ErrorMsg *err) {
    DIR *d = opendir(dir);
    if (!d) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open the folder: %s\nhint: check the path", dir, strerror(errno));
    struct dirent *e;
    char path[IF_PATH];
    Status st = LOCUS_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!want_dirs && !is_image_name(e->d_name)) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (want_dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) continue;
        if (strlist_push(out, e->d_name)) {
            st = status_fail(err, LOCUS_ERR_OOM, "%s: out of memory listing the folder\nhint: free some memory", dir);
            break;
        }
        if (out->n > IF_MAX_FILES) {
            st = status_fail(err, LOCUS_ERR_ARG, "%s: more than %d entries\nhint: split the folder", dir, IF_MAX_FILES);
            break;
        }
    }
    closedir(d);
    if (!st) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return st;
}

int imagefolder_size(const DataOptions *opt) { return opt && opt->image_size > 0 ? opt->image_size : 224; }

int64_t imagefolder_max_pixels(const DataOptions *opt) {
    if (opt && opt->image_max_pixels > 0) return opt->image_max_pixels;
    const int64_t s = imagefolder_size(opt), dflt = 64 * s * s;
    return dflt > ((int64_t)1 << 20) ? dflt : ((int64_t)1 << 20);
}

static void *dup_data(MemTracker *mt, const void *src, size_t bytes) {
    void *p = mem_alloc(mt, MEM_TAG_DATA, bytes);
    if (p && bytes) memcpy(p, src, bytes);
    return p;
}

void imagefolder_release(Dataset *ds) {
    ImageFiles *f = &ds->files;
    MemTracker *mt = ds->mt;
    mem_free(mt, MEM_TAG_DATA, f->root, f->root_bytes);
    mem_free(mt, MEM_TAG_DATA, f->names, f->names_bytes);
    mem_free(mt, MEM_TAG_DATA, f->name_at, (size_t)ds->n * sizeof *f->name_at);
    mem_free(mt, MEM_TAG_DATA, f->labels, (size_t)ds->n * sizeof *f->labels);
    mem_free(mt, MEM_TAG_DATA, f->class_names, f->class_names_bytes);
    memset(f, 0, sizeof *f);
}

Status imagefolder_load(Dataset *ds, const char *dir, int train, int limit, const DataOptions *opt, MemTracker *mt,
                        ErrorMsg *err) {
    memset(ds, 0, sizeof *ds);
    const int S = imagefolder_size(opt);
    if (S < 8 || S > 4096)
        return status_fail(err, LOCUS_ERR_ARG, "imagefolder: image size %d, expected 8..4096\nhint: e.g. "
                           "--image-size 224 (or 32, 64, 96)", S);
    const char *hint = "hint: an image folder is DIR/train/CLASS/*.jpg|png and DIR/val/CLASS/... (ImageNet's "
                       "validation images must first be sorted into class folders); pass --data-dir DIR";
    char train_dir[IF_PATH], split_dir[IF_PATH], path[IF_PATH];
    struct stat sb;
    if (strlen(dir) > IF_PATH - 16)
        return status_fail(err, LOCUS_ERR_ARG, "imagefolder: folder name too long: %s\nhint: use a shorter path", dir);
    snprintf(train_dir, sizeof train_dir, "%s/train", dir);
    if (stat(train_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return status_fail(err, LOCUS_ERR_IO, "imagefolder: cannot find the folder %s (the classes are taken from it)"
                           "\n%s", train_dir, hint);
    if (train) {
        snprintf(split_dir, sizeof split_dir, "%s", train_dir);
    } else {
        snprintf(split_dir, sizeof split_dir, "%s/val", dir);
        if (stat(split_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) snprintf(split_dir, sizeof split_dir, "%s/test", dir);
        if (stat(split_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return status_fail(err, LOCUS_ERR_IO, "imagefolder: cannot find %s/val (nor %s/test)\n%s", dir, dir, hint);
    }
    StrList classes = {0}, split_classes = {0}, files = {0};
    char *names = NULL;
    uint32_t *at = NULL;
    uint16_t *labels = NULL;
    size_t names_len = 0, names_cap = 0;
    int n = 0, cap = 0;
    Status st = list_dir(train_dir, 1, &classes, err);
    if (!st && classes.n == 0)
        st = status_fail(err, LOCUS_ERR_FORMAT, "imagefolder: %s has no class folders\n%s", train_dir, hint);
    if (!st && classes.n > IF_MAX_CLASSES)
        st = status_fail(err, LOCUS_ERR_FORMAT, "imagefolder: %s has %d class folders, at most %d are supported\n%s",
                         train_dir, classes.n, IF_MAX_CLASSES, hint);
    if (!st) st = train ? LOCUS_OK : list_dir(split_dir, 1, &split_classes, err);
    const StrList *walk = train ? &classes : &split_classes;
    for (int ci = 0; !st && ci < walk->n && (limit <= 0 || n < limit); ci++) {
        char **hit = bsearch(&walk->v[ci], classes.v, (size_t)classes.n, sizeof *classes.v, cmp_str);
        if (!hit) {
            st = status_fail(err, LOCUS_ERR_FORMAT, "imagefolder: %s/%s is a class folder that %s lacks, so it has no "
                             "class index\nhint: use the same class folder names in train and val", split_dir,
                             walk->v[ci], train_dir);
            break;
        }
        const int label = (int)(hit - classes.v);
        if (snprintf(path, sizeof path, "%s/%s", split_dir, walk->v[ci]) >= (int)sizeof path) {
            st = status_fail(err, LOCUS_ERR_ARG, "imagefolder: path too long: %s/%s\nhint: use shorter names",
                             split_dir, walk->v[ci]);
            break;
        }
        strlist_free(&files);
        if ((st = list_dir(path, 0, &files, err))) break;
        for (int k = 0; k < files.n && (limit <= 0 || n < limit); k++) {
            const size_t len = strlen(walk->v[ci]) + 1 + strlen(files.v[k]) + 1;
            if (names_len + len > names_cap || n == cap) {
                size_t ncap = names_cap ? 2 * names_cap : 4096;
                while (ncap < names_len + len) ncap *= 2;
                int ccap = cap ? 2 * cap : 256;
                char *nn = realloc(names, ncap);
                if (nn) names = nn, names_cap = ncap;
                uint32_t *na = n == cap ? realloc(at, sizeof *at * (size_t)ccap) : at;
                if (na) at = na;
                uint16_t *nl = n == cap ? realloc(labels, sizeof *labels * (size_t)ccap) : labels;
                if (nl) labels = nl;
                if (!nn || !na || !nl) {
                    st = status_fail(err, LOCUS_ERR_OOM, "imagefolder: out of memory listing %s\nhint: free some "
                                     "memory or pass --limit-train", split_dir);
                    break;
                }
                if (n == cap) cap = ccap;
            }
            if (names_len + len > 0xffffffffu) {
                st = status_fail(err, LOCUS_ERR_ARG, "imagefolder: the file names of %s exceed 4 GiB\nhint: pass "
                                 "--limit-train / --limit-test", split_dir);
                break;
            }
            at[n] = (uint32_t)names_len;
            labels[n] = (uint16_t)label;
            names_len += (size_t)snprintf(names + names_len, len, "%s/%s", walk->v[ci], files.v[k]) + 1;
            n++;
        }
    }
    if (!st && n == 0)
        st = status_fail(err, LOCUS_ERR_FORMAT, "imagefolder: no image files in %s/*/ (extensions .jpg .jpeg .png "
                         ".ppm .pgm .pnm .bmp)\n%s", split_dir, hint);
    size_t class_bytes = 0;
    for (int i = 0; !st && i < classes.n; i++) class_bytes += strlen(classes.v[i]) + 1;
    char *class_blob = st ? NULL : malloc(class_bytes ? class_bytes : 1);
    if (!st && !class_blob) st = status_fail(err, LOCUS_ERR_OOM, "imagefolder: out of memory\nhint: free some memory");
    for (int i = 0, o = 0; !st && i < classes.n; i++) o += sprintf(class_blob + o, "%s", classes.v[i]) + 1;
    if (!st) {
        ImageFiles *f = &ds->files;
        ds->mt = mt;
        ds->n = n;
        f->root_bytes = strlen(split_dir) + 1;
        f->names_bytes = names_len;
        f->class_names_bytes = class_bytes;
        f->root = dup_data(mt, split_dir, f->root_bytes);
        f->names = dup_data(mt, names, names_len);
        f->name_at = dup_data(mt, at, (size_t)n * sizeof *at);
        f->labels = dup_data(mt, labels, (size_t)n * sizeof *labels);
        f->class_names = dup_data(mt, class_blob, class_bytes);
        if (!f->root || !f->names || !f->name_at || !f->labels || !f->class_names) {
            imagefolder_release(ds);
            st = status_fail(err, LOCUS_ERR_OOM, "imagefolder: cannot allocate the list of %d files\nhint: pass "
                             "--limit-train / --limit-test", n);
        } else {
            snprintf(ds->name, sizeof ds->name, "imagefolder");
            ds->c = 3, ds->h = ds->w = S, ds->classes = classes.n;
            f->size = S;
            f->decode_threads = opt && opt->decode_threads > 0 ? opt->decode_threads : 2;
            f->max_pixels = imagefolder_max_pixels(opt);
        }
    }
    free(class_blob);
    free(names);
    free(at);
    free(labels);
    strlist_free(&classes);
    strlist_free(&split_classes);
    strlist_free(&files);
    if (st) memset(ds, 0, sizeof *ds);
    return st;
}
