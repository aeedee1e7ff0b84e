/* dataset.c — dataset_load(): from a dataset name and folder to images + labels in memory.
 *
 * This file knows the file names of each dataset, where they usually live, the checks that span
 * files (image and label counts agree, 28 x 28 Fashion-MNIST images) and the hints that tell a user
 * how to get a missing dataset. Parsing is idx.c's and cifar.c's job. On any error the Dataset is
 * left zeroed and nothing stays charged to the tracker. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "locus/data.h"

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

void dataset_free(Dataset *ds) {
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

static Status load_idx_pair(Dataset *ds, const char *name, const char *dir, int train, int limit, MemTracker *mt,
                            ErrorMsg *err) {
    const int fmnist = strcmp(name, "fashion-mnist") == 0;
    if (!dir || !*dir) {
        if (!fmnist)
            return status_fail(err, LOCUS_ERR_ARG, "%s: no data folder given\nhint: pass --data-dir DIR with the "
                               "four IDX files", name);
        dir = FMNIST_DEFAULT_DIR;
    }
    const char *split = train ? "train" : "t10k";
    char base[64], img_path[PATH_BYTES], lbl_path[PATH_BYTES];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    Status st = idx_path(img_path, name, dir, base, fmnist, err);
    if (st) return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    if ((st = idx_path(lbl_path, name, dir, base, fmnist, err))) return st;

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

static Status load_cifar10(Dataset *ds, const char *dir, int train, int limit, MemTracker *mt, ErrorMsg *err) {
    if (!dir || !*dir) dir = CIFAR_DEFAULT_DIR;
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                              "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    const char *const *files = train ? train_files : test_files;
    const int nfiles = train ? 5 : 1;
    const char *hint = "hint: download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (162 MB) and "
                       "extract it with `tar xzf cifar-10-binary.tar.gz -C DIR`, which creates "
                       "DIR/cifar-10-batches-bin/; then pass --data-dir DIR";

    char folder[PATH_BYTES], path[PATH_BYTES];
    Status st = join(folder, dir, "cifar-10-batches-bin", "", err);
    if (st) return st;
    if ((st = join(path, folder, files[0], "", err))) return st;
    if (!file_exists(path)) {
        if ((st = join(path, dir, files[0], "", err))) return st;
        if (!file_exists(path))
            return status_fail(err, LOCUS_ERR_IO, "cifar10: cannot find %s in %s/cifar-10-batches-bin/ or in %s/\n%s",
                               files[0], dir, dir, hint);
        snprintf(folder, sizeof folder, "%s", dir);
    }

    int counts[5], total = 0;
    for (int f = 0; f < nfiles; f++) {
        if ((st = join(path, folder, files[f], "", err))) return st;
        if (!file_exists(path))
            return status_fail(err, LOCUS_ERR_IO, "cifar10: cannot find %s (the %s split needs %s)\n%s", path,
                               train ? "train" : "test",
                               train ? "data_batch_1.bin .. data_batch_5.bin" : "test_batch.bin", hint);
        if ((st = cifar_count(path, &counts[f], err))) return st;
        total += counts[f];
    }
    const int n = limit > 0 && limit < total ? limit : total;
    if ((st = dataset_alloc(ds, "cifar10", n, 3, 32, 32, 10, mt, err))) return st;
    for (int f = 0, at = 0; f < nfiles && at < n; f++) {
        int take = counts[f] < n - at ? counts[f] : n - at;
        if ((st = join(path, folder, files[f], "", err)) ||
            (st = cifar_read(path, take, ds->images + (size_t)at * CIFAR_IMAGE_BYTES, ds->labels + at, err))) {
            dataset_free(ds);
            return st;
        }
        at += take;
    }
    return LOCUS_OK;
}

Status dataset_load(Dataset *ds, const char *name, const char *dir, int train, int limit, MemTracker *mt,
                    ErrorMsg *err) {
    memset(ds, 0, sizeof *ds);
    if (!name) name = "";
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "mnist"))
        return load_idx_pair(ds, name, dir, train, limit, mt, err);
    if (!strcmp(name, "cifar10")) return load_cifar10(ds, dir, train, limit, mt, err);
    return status_fail(err, LOCUS_ERR_ARG, "unknown dataset '%s'\nhint: known datasets: fashion-mnist, mnist, cifar10",
                       name);
}
