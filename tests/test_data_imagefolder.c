/* test_data_imagefolder.c — image folders end to end on tiny PNG (stb_image_write) and JPEG (TurboJPEG)
 * files written here: the scan (classes from train's sorted folders, files sorted, non-images skipped, val
 * classes mapped by name), decoding by magic bytes (a PNG named .jpg works), the eval transform (with
 * crop_fraction 1 a PNG of the output size comes back exactly; a JPEG within JPEG error), the geometry of
 * Resize + CenterCrop as torchvision computes it, the random-resized-crop box (inside the image, area and
 * ratio in range, a pure function of seed/epoch/index), batches identical for 1 and 3 decode threads and
 * for two loaders with one seed, and the errors: a truncated JPEG and a text file named .png stop the epoch
 * with a message naming the file (loader_status), missing folders and val-only classes are refused.
 * DATA accounting: dataset_plan == dataset_load, loader_bytes == what loader_init charges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "locus/data.h"

#include "data_writers.h"
#include "expect.h"

static char tmp[256];

static void mk(const char *rel) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    mkdir(p, 0700);
}

static void img(const char *rel, int k, int w, int h, int jpeg) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    EXPECT(dw_write_image(p, k, w, h, jpeg) == 0, "write %s", p);
}

static void text(const char *rel, const char *s) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    FILE *f = fopen(p, "wb");
    fputs(s, f);
    fclose(f);
}

/* train: cat (a.png 16x16 k0, b.jpg 16x16 k1), dog (c.png 40x24 k2, d.PNG 20x50 k3, notes.txt),
 * zebra (e.jpg 33x17 k4, f.jpg = a PNG's bytes k5); val: dog (g.png 16x16 k6), cat (h.jpg 30x30 k7). */
static void write_tree(void) {
    dw_rmtree(tmp);
    mkdir(tmp, 0700);
    mk("train"), mk("train/cat"), mk("train/dog"), mk("train/zebra"), mk("val"), mk("val/dog"), mk("val/cat");
    img("train/cat/a.png", 0, 16, 16, 0);
    img("train/cat/b.jpg", 1, 16, 16, 1);
    img("train/dog/c.png", 2, 40, 24, 0);
    img("train/dog/d.PNG", 3, 20, 50, 0);
    text("train/dog/notes.txt", "not an image");
    img("train/zebra/e.jpg", 4, 33, 17, 1);
    img("train/zebra/f.jpg", 5, 16, 16, 0); /* PNG bytes under a .jpg name */
    img("val/dog/g.png", 6, 16, 16, 0);
    img("val/cat/h.jpg", 7, 30, 30, 1);
}

static void test_scan(void) {
    DataOptions o;
    data_options_defaults(&o);
    o.image_size = 16;
    MemTracker mt = {0};
    Dataset tr, va;
    ErrorMsg err = {{0}};
    EXPECT(dataset_load_opts(&tr, "imagefolder", tmp, 1, 0, &o, &mt, &err) == LOCUS_OK, "train: %s", err.text);
    EXPECT(tr.n == 6 && tr.classes == 3 && tr.c == 3 && tr.h == 16 && tr.w == 16, "train geometry n %d classes %d",
           tr.n, tr.classes);
    static const char *const names[6] = {"cat/a.png", "cat/b.jpg", "dog/c.png", "dog/d.PNG", "zebra/e.jpg", "zebra/f.jpg"};
    static const int labels[6] = {0, 0, 1, 1, 2, 2};
    for (int i = 0; i < tr.n && i < 6; i++)
        EXPECT(!strcmp(tr.files.names + tr.files.name_at[i], names[i]) && dataset_label(&tr, i) == labels[i],
               "file %d: %s label %d", i, tr.files.names + tr.files.name_at[i], dataset_label(&tr, i));
    EXPECT(dataset_load_opts(&va, "imagefolder", tmp, 0, 0, &o, &mt, &err) == LOCUS_OK, "val: %s", err.text);
    EXPECT(va.n == 2 && va.classes == 3 && dataset_label(&va, 0) == 0 && dataset_label(&va, 1) == 1,
           "val maps names to train's indices: n %d labels %d %d", va.n, dataset_label(&va, 0), dataset_label(&va, 1));
    const size_t loaded = mt.live[MEM_TAG_DATA];
    EXPECT(loaded == dataset_bytes(&tr) + dataset_bytes(&va), "DATA %zu vs dataset_bytes", loaded);
    dataset_free(&tr);
    dataset_free(&va);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "leaked %zu", mt.live[MEM_TAG_DATA]);
    MemTracker pm = {0};
    EXPECT(dataset_plan(&tr, "imagefolder", tmp, 1, 0, &o, &pm, &err) == LOCUS_OK, "plan");
    EXPECT(dataset_plan(&va, "imagefolder", tmp, 0, 0, &o, &pm, &err) == LOCUS_OK, "plan");
    EXPECT(pm.live[MEM_TAG_DATA] == loaded, "plan %zu, load %zu", pm.live[MEM_TAG_DATA], loaded);
    dataset_free(&tr);
    dataset_free(&va);
    EXPECT(dataset_load_opts(&tr, "imagefolder", tmp, 1, 3, &o, &mt, &err) == LOCUS_OK && tr.n == 3, "limit 3");
    dataset_free(&tr);
}

/* One pass of a loader over ds; returns a malloc'ed copy of all batches in order. */
static float *pass(const Dataset *ds, const DataPreset *p, int batch, int threads, uint64_t seed, int epoch,
                   Status *status, ErrorMsg *err) {
    Dataset d = *ds;
    d.files.decode_threads = threads;
    Loader l;
    MemTracker mt = {0};
    const size_t chw = (size_t)3 * ds->h * ds->w;
    float *all = calloc((size_t)ds->n * chw + 1, sizeof *all);
    *status = loader_init(&l, &d, batch, 1, p, seed, &mt, err);
    if (*status) return all;
    EXPECT(mt.live[MEM_TAG_DATA] == loader_bytes(&d, batch), "loader DATA %zu, loader_bytes %zu", mt.live[MEM_TAG_DATA],
           loader_bytes(&d, batch));
    loader_start_epoch(&l, epoch);
    const float *x, *y;
    int n, at = 0;
    while (loader_next(&l, &x, &y, &n)) {
        memcpy(all + (size_t)at * chw, x, (size_t)n * chw * sizeof *x);
        at += n;
    }
    *status = loader_status(&l, err);
    loader_free(&l);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "loader leaked");
    return all;
}

static void test_decode_and_transforms(void) {
    DataOptions o;
    data_options_defaults(&o);
    o.image_size = 16;
    MemTracker mt = {0};
    Dataset tr;
    ErrorMsg err = {{0}};
    if (dataset_load_opts(&tr, "imagefolder", tmp, 1, 0, &o, &mt, &err)) {
        EXPECT(0, "%s", err.text);
        return;
    }
    /* eval transform with crop_fraction 1 and mean 0 / std 1: a 16 x 16 image comes back as v / 255 */
    DataPreset p;
    EXPECT(data_preset("imagefolder", 0, &p, &err) == LOCUS_OK && !p.resized_crop && fabsf(p.crop_fraction - 0.875f) < 1e-6f,
           "imagefolder test preset");
    p.crop_fraction = 1;
    for (int c = 0; c < 3; c++) p.mean[c] = 0, p.std[c] = 1;
    Loader l;
    EXPECT(loader_init(&l, &tr, 6, 0, &p, 1, &mt, &err) == LOCUS_OK, "%s", err.text);
    loader_start_epoch(&l, 0);
    const float *x, *y;
    int n = 0;
    EXPECT(loader_next(&l, &x, &y, &n) == 1 && n == 6, "one batch of 6");
    double png_err = 0, jpg_err = 0;
    for (int c = 0; c < 3; c++)
        for (int yy = 0; yy < 16; yy++)
            for (int xx = 0; xx < 16; xx++) {
                const size_t at = (size_t)c * 256 + yy * 16 + xx;
                png_err = fmax(png_err, fabs(x[at] * 255.0 - dw_pix(0, c, yy, xx)));              /* a.png */
                jpg_err += fabs(x[768 + at] * 255.0 - dw_pix(1, c, yy, xx)) / 768;              /* b.jpg */
                png_err = fmax(png_err, fabs(x[5 * 768 + at] * 255.0 - dw_pix(5, c, yy, xx))); /* f.jpg (PNG) */
            }
    EXPECT(png_err < 1e-3, "PNG through the eval transform: max error %g levels", png_err);
    EXPECT(jpg_err < 4, "JPEG q95 through the eval transform: mean error %g levels", jpg_err);
    EXPECT(y[0] == 0 && y[2] == 1 && y[5] == 2, "labels %g %g %g", y[0], y[2], y[5]);
    EXPECT(loader_status(&l, &err) == LOCUS_OK, "status");
    loader_free(&l);

    /* Resize(256) + CenterCrop(224) of a 500 x 375 image: 341 x 256, offsets (58, 16) (round half to even) */
    DataPreset ev;
    data_preset("imagefolder", 0, &ev, &err);
    CropBox b = transform_center_box(&ev, 500, 375, 224);
    EXPECT(fabs(b.x - 58 * 500.0 / 341) < 1e-9 && fabs(b.y - 16 * 375.0 / 256) < 1e-9 &&
           fabs(b.w - 224 * 500.0 / 341) < 1e-9 && fabs(b.h - 224 * 375.0 / 256) < 1e-9,
           "centre box %g %g %g %g", b.x, b.y, b.w, b.h);
    /* random-resized-crop boxes */
    DataPreset trp;
    data_preset("imagefolder", 1, &trp, &err);
    EXPECT(trp.resized_crop && trp.flip && trp.scale_min == 0.08f, "imagefolder train preset");
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        const int W = 20 + i % 300, H = 15 + (i * 7) % 200;
        CropBox r = transform_random_box(&trp, W, H, 9, 1, i), r2 = transform_random_box(&trp, W, H, 9, 1, i);
        const double frac = r.w * r.h / ((double)W * H), ratio = r.w / r.h;
        if (memcmp(&r, &r2, sizeof r) || r.x < 0 || r.y < 0 || r.x + r.w > W || r.y + r.h > H || r.w < 1 || r.h < 1) bad++;
        else if (frac < 0.06 || ratio < 0.7 || ratio > 1.4) {
            /* only the centre fallback may leave the ranges, and it keeps a full side */
            if (!(r.w == W || r.h == H)) bad++;
        }
    }
    EXPECT(bad == 0, "%d random boxes outside the rules", bad);

    /* train transform: same seed -> same batches, whatever the decode threads; another seed differs */
    Status st1, st3, st4;
    float *a = pass(&tr, &trp, 4, 1, 42, 3, &st1, &err), *b3 = pass(&tr, &trp, 4, 3, 42, 3, &st3, &err),
          *c = pass(&tr, &trp, 4, 2, 43, 3, &st4, &err);
    const size_t total = (size_t)tr.n * 768;
    EXPECT(st1 == LOCUS_OK && st3 == LOCUS_OK && st4 == LOCUS_OK, "passes: %s", err.text);
    EXPECT(!memcmp(a, b3, total * sizeof *a), "1 and 3 decode threads give the same batches");
    EXPECT(memcmp(a, c, total * sizeof *a) != 0, "another seed gives other crops");
    free(a), free(b3), free(c);
    dataset_free(&tr);
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "leaked");
}

static void test_errors(void) {
    DataOptions o;
    data_options_defaults(&o);
    o.image_size = 16;
    MemTracker mt = {0};
    Dataset tr;
    ErrorMsg err = {{0}};
    DataPreset p;
    data_preset("imagefolder", 1, &p, &err);
    /* a truncated JPEG and a text file named .png */
    const char *bad_files[2] = {"train/zebra/e.jpg", "train/dog/c.png"};
    for (int k = 0; k < 2; k++) {
        write_tree();
        char path[600];
        snprintf(path, sizeof path, "%s/%s", tmp, bad_files[k]);
        if (k == 0) EXPECT(truncate(path, 200) == 0, "truncate");
        else text(bad_files[k], "hello, I am text");
        EXPECT(dataset_load_opts(&tr, "imagefolder", tmp, 1, 0, &o, &mt, &err) == LOCUS_OK, "%s", err.text);
        Status st;
        float *all = pass(&tr, &p, 2, 2, 1, 1, &st, &err);
        free(all);
        EXPECT((st == LOCUS_ERR_FORMAT) && strstr(err.text, bad_files[k]) && strstr(err.text, "\nhint: "),
               "bad file %s: status %s: %s", bad_files[k], status_name(st), err.text);
        dataset_free(&tr);
    }
    write_tree();
    mk("val/okapi");
    img("val/okapi/x.png", 1, 8, 8, 0);
    EXPECT(dataset_load_opts(&tr, "imagefolder", tmp, 0, 0, &o, &mt, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "okapi"),
           "val-only class refused: %s", err.text);
    char p2[600];
    snprintf(p2, sizeof p2, "%s/val/okapi/x.png", tmp);
    unlink(p2);
    snprintf(p2, sizeof p2, "%s/val/okapi", tmp);
    rmdir(p2);
    EXPECT(dataset_load_opts(&tr, "imagefolder", "/nonexistent", 1, 0, &o, &mt, &err) == LOCUS_ERR_IO &&
           strstr(err.text, "DIR/train/CLASS"), "missing folder: %s", err.text);
    o.image_size = 4;
    EXPECT(dataset_load_opts(&tr, "imagefolder", tmp, 1, 0, &o, &mt, &err) == LOCUS_ERR_ARG, "image size 4 refused");
    EXPECT(mt.live[MEM_TAG_DATA] == 0, "errors leaked %zu", mt.live[MEM_TAG_DATA]);
    /* image_decode directly: format sniffing and the pixel cap */
    uint8_t buf[64] = "GIF89a", rgb[4 * 64];
    int w, h;
    EXPECT(image_decode(buf, sizeof buf, "x.gif", rgb, 64, &w, &h, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "gif"),
           "gif refused: %s", err.text);
    char big[600];
    snprintf(big, sizeof big, "%s/big.png", tmp);
    dw_write_image(big, 0, 40, 30, 0);
    FILE *f = fopen(big, "rb");
    uint8_t file[65536];
    size_t len = fread(file, 1, sizeof file, f);
    fclose(f);
    uint8_t *px = malloc(4 * 1200);
    EXPECT(image_decode(file, len, "big.png", px, 1199, &w, &h, &err) == LOCUS_ERR_FORMAT && strstr(err.text, "limit"),
           "PNG over the pixel cap refused: %s", err.text);
    EXPECT(image_decode(file, len, "big.png", px, 1200, &w, &h, &err) == LOCUS_OK && w == 40 && h == 30, "at the cap");
    snprintf(big, sizeof big, "%s/big.jpg", tmp);
    dw_write_image(big, 0, 40, 32, 1);
    f = fopen(big, "rb");
    len = fread(file, 1, sizeof file, f);
    fclose(f);
    EXPECT(image_decode(file, len, "big.jpg", px, 400, &w, &h, &err) == LOCUS_OK && w == 20 && h == 16,
           "JPEG over the cap is DCT-scaled to fit: %d x %d (%s)", w, h, err.text);
    free(px);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/locus_imgfolder_%d", (int)getpid());
    write_tree();
    test_scan();
    test_decode_and_transforms();
    test_errors();
    dw_rmtree(tmp);
    return expect_report();
}
