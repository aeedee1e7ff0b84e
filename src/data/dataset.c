/* dataset.c — dataset_load(): from a dataset name and folder to images + labels in memory, and
 * dataset_plan(): the same geometry and DATA bytes from the files' headers only (memplan).
 *
 * This file knows the file names of each dataset, where they usually live, the checks that span
 * files (image and label counts agree, 28 x 28 Fashion-MNIST images) and the hints that tell a user
 * how to get a missing dataset. Parsing is idx.c's, cifar.c's, svhn.c's (matv5.c), stl10.c's and
 * imagefolder.c's job. On any error the Dataset is left zeroed and nothing stays charged to the tracker.
 * The loading of each in-memory dataset is split in two: a "geometry" step that finds the files and
 * reads their headers or sizes (shared by load and plan), then the reading of the pixels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define CIFAR_DEFAULT_DIR "data"
#define PATH_BYTES 4096

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static Status join(char *out, const char *dir, const char *a, const char *b, ErrorMsg *err) {
    int n = snprintf(out, PATH_BYTES, "%s%s%s%s%s", dir, *dir ? "/" : "", a, *b ? "/" : "", b);
    if (n < 0 || n >= PATH_BYTES)
        return status_fail(err, LOCUS_ERR_ARG, "data path too long: %s/%s\nhint: use a shorter --data-dir", dir, a);
    return LOCUS_OK;
}

static void name_set(Dataset *ds, const char *name) { snprintf(ds->name, sizeof ds->name, "%s", name); }

Status dataset_alloc(Dataset *ds, const char *name, int n, int c, int h, int w, int classes, MemTracker *mt,
                     ErrorMsg *err) {
    memset(ds, 0, sizeof *ds);
    if (n < 1 || c < 1 || h < 1 || w < 1 || classes < 1 || classes > 256 || (uint64_t)n * c * h * w > ((uint64_t)1 << 40))
        return status_fail(err, LOCUS_ERR_ARG, "dataset %s: bad geometry n %d, c %d, h %d, w %d, classes %d\n"
                           "hint: all must be >= 1 and classes <= 256", name, n, c, h, w, classes);
    size_t bytes = (size_t)n * c * h * w;
    ds->images = mem_alloc(mt, MEM_TAG_DATA, bytes);
    ds->labels = mem_alloc(mt, MEM_TAG_DATA, (size_t)n);
    if (!ds->images || !ds->labels) {
        mem_free(mt, MEM_TAG_DATA, ds->images, bytes);
        mem_free(mt, MEM_TAG_DATA, ds->labels, (size_t)n);
        memset(ds, 0, sizeof *ds);
        return status_fail(err, LOCUS_ERR_OOM, "dataset %s: cannot allocate %zu bytes\nhint: pass a smaller limit",
                           name, bytes + (size_t)n);
    }
    name_set(ds, name);
    ds->n = n, ds->c = c, ds->h = h, ds->w = w, ds->classes = classes;
    ds->mt = mt;
    return LOCUS_OK;
}

void data_options_defaults(DataOptions *o) {
    memset(o, 0, sizeof *o);
    o->image_size = 224;
    o->decode_threads = 2;
}

size_t dataset_bytes(const Dataset *ds) {
    if (ds->planned) return ds->planned;
    if (dataset_is_files(ds))
        return ds->files.root_bytes + ds->files.names_bytes + ds->files.class_names_bytes +
               (size_t)ds->n * (sizeof *ds->files.name_at + sizeof *ds->files.labels);
    return ds->images ? (size_t)ds->n * ds->c * ds->h * ds->w + (size_t)ds->n : 0;
}

void dataset_free(Dataset *ds) {
    if (ds->planned) mem_track_unuse(ds->mt, MEM_TAG_DATA, ds->planned);
    if (dataset_is_files(ds)) imagefolder_release(ds);
    if (ds->images) mem_free(ds->mt, MEM_TAG_DATA, ds->images, (size_t)ds->n * ds->c * ds->h * ds->w);
    if (ds->labels) mem_free(ds->mt, MEM_TAG_DATA, ds->labels, (size_t)ds->n);
    memset(ds, 0, sizeof *ds);
}

/* dir/base.gz, else dir/base. */
static Status idx_path(char *out, const char *name, const char *dir, const char *base, int fmnist, ErrorMsg *err) {
    char gz[128];
    snprintf(gz, sizeof gz, "%s.gz", base);
    Status st = join(out, dir, gz, "", err);
    if (st || file_exists(out)) return st;
    if ((st = join(out, dir, base, "", err))) return st;
    if (file_exists(out)) return LOCUS_OK;
    if (fmnist)
        return status_fail(err, LOCUS_ERR_IO,
                           "%s: cannot find %s/%s (or %s/%s)\nhint: install it: apt-get install "
                           "dataset-fashion-mnist (it installs %s), or pass --data-dir to point to a folder "
                           "holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]",
                           name, dir, gz, dir, base, FMNIST_DEFAULT_DIR);
    return status_fail(err, LOCUS_ERR_IO,
                       "%s: cannot find %s/%s (or %s/%s)\nhint: download the four MNIST IDX files "
                       "({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz) and pass --data-dir to their folder",
                       name, dir, gz, dir, base);
}

/* The image and label IDX files of a split (Fashion-MNIST defaults to Debian's folder). */
static Status idx_pair_paths(const char *name, const char *dir, int train, char *img_path, char *lbl_path,
                             ErrorMsg *err) {
    const int fmnist = strcmp(name, "fashion-mnist") == 0;
    if (!dir || !*dir) {
        if (!fmnist)
            return status_fail(err, LOCUS_ERR_ARG, "%s: no data folder given\nhint: pass --data-dir DIR with the "
                               "four IDX files", name);
        dir = FMNIST_DEFAULT_DIR;
    }
    const char *split = train ? "train" : "t10k";
    char base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    Status st = idx_path(img_path, name, dir, base, fmnist, err);
    if (st) return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    return idx_path(lbl_path, name, dir, base, fmnist, err);
}

static Status load_idx_pair(Dataset *ds, const char *name, const char *dir, int train, int limit, MemTracker *mt,
                            ErrorMsg *err) {
    char img_path[PATH_BYTES], lbl_path[PATH_BYTES];
    Status st = idx_pair_paths(name, dir, train, img_path, lbl_path, err);
    if (st) return st;

    IdxU8 im, lb;
    memset(&lb, 0, sizeof lb);
    if ((st = idx_read_u8(img_path, 3, limit, 0, &im, mt, err))) return st;
    if (im.dims[1] != 28 || im.dims[2] != 28) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: expected 28 x 28 images (%s), found %d x %d\nhint: the file "
                         "is not a %s images file; download or reinstall it", img_path, name, im.dims[1],
                         im.dims[2], name);
        goto fail;
    }
    if (im.dims[0] < 1) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: holds no images\nhint: the file is damaged; download or "
                         "reinstall it", img_path);
        goto fail;
    }
    if ((st = idx_read_u8(lbl_path, 1, limit, 10, &lb, mt, err))) goto fail;
    if (lb.dims[0] != im.dims[0]) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: %d labels, but %s has %d images (counts must be equal)\n"
                         "hint: the two files come from different splits or one is damaged; reinstall them",
                         lbl_path, lb.dims[0], img_path, im.dims[0]);
        goto fail;
    }
    CHECK(im.kept == lb.kept, "kept %d images, %d labels", im.kept, lb.kept);
    memset(ds, 0, sizeof *ds);
    name_set(ds, name);
    ds->n = im.kept, ds->c = 1, ds->h = im.dims[1], ds->w = im.dims[2], ds->classes = 10;
    ds->images = im.data;
    ds->labels = lb.data;
    ds->mt = mt;
    return LOCUS_OK;
fail:
    idx_free(&im, mt);
    idx_free(&lb, mt);
    return st;
}

/* Finds the folder of a dataset's files: dir/sub/first_file, else dir/first_file. */
static Status find_folder(char *folder, const char *name, const char *dir, const char *sub, const char *first_file,
                          const char *hint, ErrorMsg *err) {
    char path[PATH_BYTES];
    Status st = join(folder, dir, sub, "", err);
    if (!st) st = join(path, folder, first_file, "", err);
    if (st || file_exists(path)) return st;
    if ((st = join(path, dir, first_file, "", err))) return st;
    if (!file_exists(path))
        return status_fail(err, LOCUS_ERR_IO, "%s: cannot find %s in %s/%s/ or in %s/\n%s", name, first_file, dir, sub,
                           dir, hint);
    snprintf(folder, PATH_BYTES, "%s", dir);
    return LOCUS_OK;
}

/* An in-memory dataset's files and their image counts, found from headers and sizes only. */
typedef struct Geometry {
    const char *name;
    int c, h, w, classes;
    int nfiles;
    char paths[5][PATH_BYTES];   /* image files (CIFAR batches, the MAT file, STL-10 X, IDX images) */
    char labels_path[PATH_BYTES]; /* STL-10 y / IDX labels */
    int counts[5];
    int total;
} Geometry;

static const char *const CIFAR10_HINT =
    "hint: download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (162 MB) and extract it with "
    "`tar xzf cifar-10-binary.tar.gz -C DIR`, which creates DIR/cifar-10-batches-bin/; then pass --data-dir DIR";
static const char *const CIFAR100_HINT =
    "hint: download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (161 MB) and extract it with "
    "`tar xzf cifar-100-binary.tar.gz -C DIR`, which creates DIR/cifar-100-binary/; then pass --data-dir DIR";
static const char *const SVHN_HINT =
    "hint: download train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/ into DIR "
    "(or DIR/svhn/) and pass --data-dir DIR";
static const char *const STL10_HINT =
    "hint: download http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz (2.5 GB) and extract it with "
    "`tar xzf stl10_binary.tar.gz -C DIR`, which creates DIR/stl10_binary/; then pass --data-dir DIR";

static Status geometry_cifar10(Geometry *g, const char *dir, int train, ErrorMsg *err) {
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                              "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    const char *const *files = train ? train_files : test_files;
    g->nfiles = train ? 5 : 1;
    char folder[PATH_BYTES];
    Status st = find_folder(folder, "cifar10", dir, "cifar-10-batches-bin", files[0], CIFAR10_HINT, err);
    for (int f = 0; !st && f < g->nfiles; f++) {
        if ((st = join(g->paths[f], folder, files[f], "", err))) break;
        if (!file_exists(g->paths[f]))
            return status_fail(err, LOCUS_ERR_IO, "cifar10: cannot find %s (the %s split needs %s)\n%s", g->paths[f],
                               train ? "train" : "test",
                               train ? "data_batch_1.bin .. data_batch_5.bin" : "test_batch.bin", CIFAR10_HINT);
        st = cifar_count(g->paths[f], &g->counts[f], err);
    }
    return st;
}

static Status geometry_cifar100(Geometry *g, const char *dir, int train, const DataOptions *o, ErrorMsg *err) {
    const char *file = train ? "train.bin" : "test.bin";
    char folder[PATH_BYTES];
    g->nfiles = 1;
    g->classes = o->cifar100_coarse ? 20 : 100;
    Status st = find_folder(folder, "cifar100", dir, "cifar-100-binary", file, CIFAR100_HINT, err);
    if (!st) st = join(g->paths[0], folder, file, "", err);
    if (!st) st = cifar100_count(g->paths[0], &g->counts[0], err);
    return st;
}

static Status geometry_svhn(Geometry *g, const char *dir, int train, ErrorMsg *err) {
    const char *file = train ? "train_32x32.mat" : "test_32x32.mat";
    char folder[PATH_BYTES];
    g->nfiles = 1;
    Status st = find_folder(folder, "svhn", dir, "svhn", file, SVHN_HINT, err);
    if (!st) st = join(g->paths[0], folder, file, "", err);
    if (!st) st = svhn_count(g->paths[0], &g->counts[0], err);
    return st;
}

static Status geometry_stl10(Geometry *g, const char *dir, int train, ErrorMsg *err) {
    const char *x = train ? "train_X.bin" : "test_X.bin", *y = train ? "train_y.bin" : "test_y.bin";
    char folder[PATH_BYTES];
    g->nfiles = 1;
    Status st = find_folder(folder, "stl10", dir, "stl10_binary", x, STL10_HINT, err);
    if (!st) st = join(g->paths[0], folder, x, "", err);
    if (!st) st = join(g->labels_path, folder, y, "", err);
    if (!st && !file_exists(g->labels_path))
        return status_fail(err, LOCUS_ERR_IO, "stl10: cannot find %s (labels of %s)\n%s", g->labels_path, g->paths[0],
                           STL10_HINT);
    if (!st) st = stl10_count(g->paths[0], &g->counts[0], err);
    return st;
}

static Status geometry_of(Geometry *g, const char *name, const char *dir, int train, const DataOptions *o,
                          ErrorMsg *err) {
    memset(g, 0, sizeof *g);
    g->name = name;
    g->c = 3, g->h = g->w = 32, g->classes = 10;
    if (!dir || !*dir) dir = CIFAR_DEFAULT_DIR;
    Status st;
    if (!strcmp(name, "cifar10")) st = geometry_cifar10(g, dir, train, err);
    else if (!strcmp(name, "cifar100")) st = geometry_cifar100(g, dir, train, o, err);
    else if (!strcmp(name, "svhn")) st = geometry_svhn(g, dir, train, err);
    else if (!strcmp(name, "stl10")) g->h = g->w = STL10_SIDE, st = geometry_stl10(g, dir, train, err);
    else st = status_fail(err, LOCUS_ERR_ARG, "unknown dataset '%s'", name);
    for (int f = 0; !st && f < g->nfiles; f++) g->total += g->counts[f];
    return st;
}

static Status read_pixels(Dataset *ds, const Geometry *g, const DataOptions *o, ErrorMsg *err) {
    const size_t chw = (size_t)g->c * g->h * g->w;
    Status st = LOCUS_OK;
    for (int f = 0, at = 0; !st && f < g->nfiles && at < ds->n; f++) {
        const int take = g->counts[f] < ds->n - at ? g->counts[f] : ds->n - at;
        uint8_t *im = ds->images + (size_t)at * chw, *lb = ds->labels + at;
        if (!strcmp(g->name, "cifar10")) st = cifar_read(g->paths[f], take, im, lb, err);
        else if (!strcmp(g->name, "cifar100")) st = cifar100_read(g->paths[f], take, o->cifar100_coarse, im, lb, err);
        else if (!strcmp(g->name, "svhn")) st = svhn_read(g->paths[f], take, im, lb, err);
        else st = stl10_read(g->paths[f], g->labels_path, g->counts[f], take, im, lb, err);
        at += take;
    }
    return st;
}

static int is_memory_set(const char *name) {
    return !strcmp(name, "cifar10") || !strcmp(name, "cifar100") || !strcmp(name, "svhn") || !strcmp(name, "stl10");
}

static const char *const KNOWN = "fashion-mnist, mnist, cifar10, cifar100, svhn, stl10, imagefolder";

Status dataset_load_opts(Dataset *ds, const char *name, const char *dir, int train, int limit,
                         const DataOptions *opt, MemTracker *mt, ErrorMsg *err) {
    memset(ds, 0, sizeof *ds);
    DataOptions dflt;
    data_options_defaults(&dflt);
    if (!opt) opt = &dflt;
    if (!name) name = "";
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "mnist"))
        return load_idx_pair(ds, name, dir, train, limit, mt, err);
    if (!strcmp(name, "imagefolder")) {
        if (!dir || !*dir)
            return status_fail(err, LOCUS_ERR_ARG, "imagefolder: no data folder given\nhint: pass --data-dir DIR "
                               "holding train/CLASS/* and val/CLASS/*");
        return imagefolder_load(ds, dir, train, limit, opt, mt, err);
    }
    if (!is_memory_set(name))
        return status_fail(err, LOCUS_ERR_ARG, "unknown dataset '%s'\nhint: known datasets: %s", name, KNOWN);
    Geometry *g = malloc(sizeof *g);
    if (!g) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", name);
    Status st = geometry_of(g, name, dir, train, opt, err);
    const int n = limit > 0 && limit < g->total ? limit : g->total;
    if (!st) st = dataset_alloc(ds, name, n, g->c, g->h, g->w, g->classes, mt, err);
    if (!st && (st = read_pixels(ds, g, opt, err))) dataset_free(ds);
    free(g);
    return st;
}

Status dataset_load(Dataset *ds, const char *name, const char *dir, int train, int limit, MemTracker *mt,
                    ErrorMsg *err) {
    return dataset_load_opts(ds, name, dir, train, limit, NULL, mt, err);
}

/* IDX image count from the header (gzip or raw), for the plan; the labels file must exist. */
static Status plan_idx(Dataset *ds, const char *name, const char *dir, int train, int limit, ErrorMsg *err) {
    char img_path[PATH_BYTES], lbl_path[PATH_BYTES];
    Status st = idx_pair_paths(name, dir, train, img_path, lbl_path, err);
    if (st) return st;
    gzFile f = gzopen(img_path, "rb");
    uint8_t h[16];
    int got = f ? gzread(f, h, 16) : -1;
    if (f) gzclose(f);
    if (got != 16 || h[0] || h[1] || h[2] != 8 || h[3] != 3)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: expected an IDX images header (00 00 08 03 + 3 dims)\nhint: the "
                           "file is damaged; download or reinstall it", img_path);
    uint32_t d[3];
    for (int i = 0; i < 3; i++) d[i] = (uint32_t)h[4 + 4 * i] << 24 | (uint32_t)h[5 + 4 * i] << 16 | (uint32_t)h[6 + 4 * i] << 8 | h[7 + 4 * i];
    if (d[1] != 28 || d[2] != 28 || d[0] < 1 || d[0] > 10000000u)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %u images of %u x %u, expected 28 x 28\nhint: the file is not a "
                           "%s images file", img_path, d[0], d[1], d[2], name);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->n = limit > 0 && (uint32_t)limit < d[0] ? limit : (int)d[0];
    ds->c = 1, ds->h = ds->w = 28, ds->classes = 10;
    return LOCUS_OK;
}

Status dataset_plan(Dataset *ds, const char *name, const char *dir, int train, int limit, const DataOptions *opt,
                    MemTracker *mt, ErrorMsg *err) {
    memset(ds, 0, sizeof *ds);
    DataOptions dflt;
    data_options_defaults(&dflt);
    if (!opt) opt = &dflt;
    if (!name) name = "";
    if (!strcmp(name, "imagefolder")) /* the file list is the dataset: plan = load */
        return dataset_load_opts(ds, name, dir, train, limit, opt, mt, err);
    Status st;
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "mnist")) {
        st = plan_idx(ds, name, dir, train, limit, err);
    } else if (is_memory_set(name)) {
        Geometry *g = malloc(sizeof *g);
        if (!g) return status_fail(err, LOCUS_ERR_OOM, "%s: out of memory\nhint: free some memory", name);
        st = geometry_of(g, name, dir, train, opt, err);
        if (!st) {
            snprintf(ds->name, sizeof ds->name, "%s", name);
            ds->n = limit > 0 && limit < g->total ? limit : g->total;
            ds->c = g->c, ds->h = g->h, ds->w = g->w, ds->classes = g->classes;
        }
        free(g);
    } else {
        return status_fail(err, LOCUS_ERR_ARG, "unknown dataset '%s'\nhint: known datasets: %s", name, KNOWN);
    }
    if (st) {
        memset(ds, 0, sizeof *ds);
        return st;
    }
    ds->mt = mt;
    ds->planned = (size_t)ds->n * ds->c * ds->h * ds->w + (size_t)ds->n;
    mem_track_use(mt, MEM_TAG_DATA, ds->planned);
    return LOCUS_OK;
}
