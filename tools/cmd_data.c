/* cmd_data.c — `locus data info DIR [--data NAME]`: what a dataset folder holds, as locus reads it.
 * Prints the format (autodetected from the file names when --data is absent), then per split the image
 * count and shape, the class balance and the per-channel mean and std of the pixels in [0, 1]. In-memory
 * datasets are loaded whole (or the first --limit images); an image folder's samples are decoded through
 * the eval transform at --image-size (resize + centre crop), so its statistics are those of what training
 * sees. Other subcommands of `locus data` live in their own files with their own dispatch line; this one
 * refuses anything but "info" with a clear message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "locus/data.h"

static void usage(FILE *f) {
    fprintf(f, "usage: locus data info DIR [--data NAME] [--limit N] [--cifar100-labels fine|coarse]\n"
               "                          [--image-size S] [--decode-threads N]\n"
               "Prints the format of the dataset in DIR (autodetected unless --data is given: fashion-mnist,\n"
               "mnist, cifar10, cifar100, svhn, stl10, imagefolder), and per split the image count and shape,\n"
               "the class balance and the per-channel mean/std of the pixels scaled to [0, 1].\n"
               "  --limit N   look at the first N images of each split only (default: all)\n");
}

static const char *format_of(const char *name) {
    if (!strcmp(name, "fashion-mnist") || !strcmp(name, "mnist")) return "IDX files (gzip or raw), 28 x 28 grayscale";
    if (!strcmp(name, "cifar10")) return "CIFAR-10 binary batches, 3073-byte records (label, R, G, B planes)";
    if (!strcmp(name, "cifar100")) return "CIFAR-100 binary, 3074-byte records (coarse label, fine label, R, G, B)";
    if (!strcmp(name, "svhn")) return "MAT-file v5: X 32 x 32 x 3 x N (column-major), y N x 1 in 1..10 (10 = digit 0)";
    if (!strcmp(name, "stl10")) return "STL-10 binary: 96 x 96 x 3 images with column-major planes, labels 1..10";
    if (!strcmp(name, "imagefolder")) return "image folder: train/CLASS/FILE and val/CLASS/FILE (JPEG, PNG, BMP, PNM)";
    return "?";
}

/* "X: class uint8 stored uint8, compressed; y: class double stored uint8, compressed" */
static void print_mat_details(const char *dir) {
    char path[4200];
    const char *cands[2] = {"train_32x32.mat", "svhn/train_32x32.mat"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cands[i]);
        MatFile *m = malloc(sizeof *m);
        ErrorMsg err;
        if (!m || mat_open(m, path, &err)) {
            free(m);
            continue;
        }
        static const char *const types[] = {"?", "int8", "uint8", "int16", "uint16", "int32", "uint32", "single", "?",
                                            "double", "?", "?", "int64", "uint64"};
        printf("variables of %s:", cands[i]);
        for (int v = 0; v < m->nvars; v++) {
            const MatVar *x = &m->vars[v];
            printf("%s %s: class %s stored %s%s", v ? ";" : "", x->name, mat_class_name(x->mclass),
                   x->stored >= 0 && x->stored <= 13 ? types[x->stored] : "?", x->compressed ? ", compressed" : "");
        }
        printf("\n");
        mat_close(m);
        free(m);
        return;
    }
}

/* Counts per class and pixel sums of one split; in-memory from the bytes, an image folder through a loader. */
static Status split_stats(const Dataset *ds, const char *name, int threads, ErrorMsg *err) {
    long *count = calloc((size_t)ds->classes, sizeof *count);
    double sum[3] = {0}, sq[3] = {0};
    const size_t plane = (size_t)ds->h * ds->w;
    if (!count) return status_fail(err, LOCUS_ERR_OOM, "out of memory\nhint: pass --limit");
    Status st = LOCUS_OK;
    if (!dataset_is_files(ds)) {
        for (int i = 0; i < ds->n; i++) {
            count[ds->labels[i]]++;
            const uint8_t *im = ds->images + (size_t)i * ds->c * plane;
            for (int c = 0; c < ds->c; c++) {
                uint64_t s = 0, q = 0;
                for (size_t k = 0; k < plane; k++) s += im[c * plane + k], q += (uint64_t)im[c * plane + k] * im[c * plane + k];
                sum[c] += (double)s / 255.0, sq[c] += (double)q / (255.0 * 255.0);
            }
        }
    } else {
        DataPreset p;
        if ((st = data_preset(name, 0, &p, err))) goto done;
        for (int c = 0; c < 3; c++) p.mean[c] = 0, p.std[c] = 1;
        Dataset d = *ds;
        d.files.decode_threads = threads;
        Loader l;
        if ((st = loader_init(&l, &d, 64, 0, &p, 1, NULL, err))) goto done;
        loader_start_epoch(&l, 0);
        const float *x, *y;
        int n;
        while (loader_next(&l, &x, &y, &n))
            for (int i = 0; i < n; i++) {
                count[(int)y[i]]++;
                for (int c = 0; c < 3; c++)
                    for (size_t k = 0; k < plane; k++) {
                        const double v = x[((size_t)i * 3 + c) * plane + k];
                        sum[c] += v, sq[c] += v * v;
                    }
            }
        st = loader_status(&l, err);
        loader_free(&l);
        if (st) goto done;
    }
    long lo = -1, hi = 0, empty = 0;
    for (int k = 0; k < ds->classes; k++) {
        if (lo < 0 || count[k] < lo) lo = count[k];
        if (count[k] > hi) hi = count[k];
        empty += count[k] == 0;
    }
    printf("  class balance: ");
    if (ds->classes <= 20) {
        for (int k = 0; k < ds->classes; k++) {
            const char *cname = NULL;
            if (dataset_is_files(ds)) {
                cname = ds->files.class_names;
                for (int j = 0; j < k; j++) cname += strlen(cname) + 1;
            }
            printf("%s%d%s%s%s %ld (%.1f%%)", k ? ", " : "", k, cname ? " [" : "", cname ? cname : "", cname ? "]" : "",
                   count[k], 100.0 * count[k] / ds->n);
        }
        printf("\n");
    } else {
        printf("%d classes, %ld to %ld images per class, %ld empty\n", ds->classes, lo, hi, empty);
    }
    const double N = (double)ds->n * plane;
    printf("  mean:");
    for (int c = 0; c < ds->c; c++) printf(" %.4f", sum[c] / N);
    printf("   std:");
    for (int c = 0; c < ds->c; c++) printf(" %.4f", sqrt(fmax(sq[c] / N - (sum[c] / N) * (sum[c] / N), 0)));
    printf("%s\n", dataset_is_files(ds) ? "   (after resize + centre crop)" : "");
done:
    free(count);
    return st;
}

static int cmd_data_info(int argc, char **argv) {
    const char *name = cli_take_option(&argc, argv, "--data", 1);
    const char *limit_s = cli_take_option(&argc, argv, "--limit", 1);
    const char *labels = cli_take_option(&argc, argv, "--cifar100-labels", 1);
    const char *size_s = cli_take_option(&argc, argv, "--image-size", 1);
    const char *threads_s = cli_take_option(&argc, argv, "--decode-threads", 1);
    ErrorMsg err = {{0}};
    if (argc != 2 || argv[1][0] == '-') {
        usage(stderr);
        Status st = status_fail(&err, LOCUS_ERR_ARG, "%s\nhint: locus data info DIR [--data NAME]",
                                argc < 2 ? "no dataset folder given" : argc > 2 ? "unexpected argument" : "unknown option");
        return cli_fail("data info", st, &err);
    }
    const char *dir = argv[1];
    DataOptions o;
    data_options_defaults(&o);
    char *end = NULL;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 0;
    if (limit_s && (*end || limit < 0 || limit > 100000000))
        return cli_fail("data info", status_fail(&err, LOCUS_ERR_ARG, "--limit %s: expected an integer 0..100000000\n"
                                                 "hint: e.g. --limit 1000", limit_s), &err);
    if (labels && strcmp(labels, "fine") && strcmp(labels, "coarse"))
        return cli_fail("data info", status_fail(&err, LOCUS_ERR_ARG, "--cifar100-labels %s: expected fine or coarse\n"
                                                 "hint: --cifar100-labels coarse", labels), &err);
    o.cifar100_coarse = labels && !strcmp(labels, "coarse");
    if (size_s) {
        long s = strtol(size_s, &end, 10);
        if (*end || s < 8 || s > 4096)
            return cli_fail("data info", status_fail(&err, LOCUS_ERR_ARG, "--image-size %s: expected 8..4096\nhint: "
                                                     "e.g. --image-size 224", size_s), &err);
        o.image_size = (int)s;
    }
    int threads = 2;
    if (threads_s) {
        long t = strtol(threads_s, &end, 10);
        if (*end || t < 1 || t > 64)
            return cli_fail("data info", status_fail(&err, LOCUS_ERR_ARG, "--decode-threads %s: expected 1..64\nhint: "
                                                     "e.g. --decode-threads 4", threads_s), &err);
        threads = (int)t;
    }
    int detected = 0;
    if (!name) {
        name = dataset_detect(dir);
        detected = 1;
        if (!name)
            return cli_fail("data info", status_fail(&err, LOCUS_ERR_IO, "%s: no known dataset files found\nhint: pass "
                                                     "--data NAME (fashion-mnist, mnist, cifar10, cifar100, svhn, "
                                                     "stl10, imagefolder), or see README \"Datasets\" for the expected "
                                                     "files", dir), &err);
    }
    printf("dataset: %s%s in %s\nformat: %s\n", name, detected ? " (detected)" : "", dir, format_of(name));
    if (!strcmp(name, "svhn")) print_mat_details(dir);
    int shown = 0;
    for (int train = 1; train >= 0; train--) {
        Dataset ds;
        Status st = dataset_load_opts(&ds, name, dir, train, (int)limit, &o, NULL, &err);
        if (st) {
            if (st == LOCUS_ERR_IO && shown) { /* one split may be absent */
                printf("split %s: not found (%s)\n", train ? "train" : "test", err.text);
                continue;
            }
            if (st == LOCUS_ERR_IO && train) {
                printf("split train: not found (%s)\n", err.text);
                continue;
            }
            return cli_fail("data info", st, &err);
        }
        printf("split %s: %d images%s, %d x %d x %d (C x H x W), %d classes%s\n", train ? "train" : "test", ds.n,
               limit ? " (--limit)" : "", ds.c, ds.h, ds.w, ds.classes,
               !strcmp(name, "cifar100") ? (o.cifar100_coarse ? " (coarse labels)" : " (fine labels)") : "");
        st = split_stats(&ds, name, threads, &err);
        dataset_free(&ds);
        if (st) return cli_fail("data info", st, &err);
        shown++;
    }
    if (!shown)
        return cli_fail("data info", status_fail(&err, LOCUS_ERR_IO, "%s: neither split of %s could be found\nhint: "
                                                 "see README \"Datasets\" for the expected files", dir, name), &err);
    return 0;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) {
        if (cli_wants_help(argc - 1, argv + 1)) {
            usage(stdout);
            return 0;
        }
        return cmd_data_info(argc - 1, argv + 1);
    }
    fprintf(stderr, "locus data: unknown subcommand '%s'\nhint: `locus data info DIR [--data NAME]` describes a "
                    "dataset folder; see `locus data --help`\n", argv[1]);
    return 2;
}
