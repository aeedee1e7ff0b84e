/* test_plot.c — `locus plot`: two runs (one really trained with the CLI: ResNet-8, 2 epochs, 128 images; one
 * written by hand in the same format, a 2-module local method over 3 epochs) drawn into one PNG. The PNG is
 * decoded here (zlib + PNG row filters) to check its signature, its IHDR size (1400 x 1000) and that it is
 * not blank: both runs' colours (line types 1 and 2 of the script) appear and most of it is not background.
 * Two runs whose folders share a name are told apart by their parent folder.
 * Bad input: a missing run folder, a malformed metrics.jsonl line, an empty metrics.jsonl, a damaged
 * summary.json, no --out, and gnuplot missing from PATH (clear error with the apt-get hint; the .gp script is
 * left for the user). Needs $LOCUS_BIN; the drawing cases are skipped (77) only when gnuplot is absent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cli_capture.h"
#include "expect.h"

static const char *bin;
static char root[256];
static char out_text[1 << 16];

static int run(const char *args) {
    char cmd[4096], log[400];
    snprintf(log, sizeof log, "%s/out.txt", root);
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive %s %s > %s 2>&1", bin, args, log);
    return cli_system_capture(cmd, log, out_text, sizeof out_text);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

typedef struct Png {
    uint32_t w, h;
    int channels;
    unsigned char *px; /* h rows of w * channels bytes, unfiltered */
} Png;

/* Decodes an 8-bit RGB/RGBA non-interlaced PNG (what pngcairo writes). 0 on anything else. */
static int png_decode(const char *path, Png *img) {
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static unsigned char file[1 << 23];
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    if (n < 33 || memcmp(file, "\x89PNG\r\n\x1a\n", 8) || memcmp(file + 12, "IHDR", 4)) return 0;
    img->w = be32(file + 16), img->h = be32(file + 20);
    int depth = file[24], type = file[25], interlace = file[28];
    if (depth != 8 || (type != 2 && type != 6) || interlace || img->w > 8192 || img->h > 8192) return 0;
    img->channels = type == 2 ? 3 : 4;
    size_t stride = (size_t)img->w * img->channels, raw_n = img->h * (stride + 1), idat_n = 0;
    unsigned char *idat = malloc(n), *raw = malloc(raw_n);
    img->px = malloc(img->h * stride);
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = be32(file + at);
        if (at + 12 + len > n) break;
        if (!memcmp(file + at + 4, "IDAT", 4)) memcpy(idat + idat_n, file + at + 8, len), idat_n += len;
        at += 12 + len;
    }
    uLongf got = raw_n;
    int ok = uncompress(raw, &got, idat, idat_n) == Z_OK && got == raw_n;
    for (uint32_t y = 0; ok && y < img->h; y++) {
        const unsigned char *in = raw + y * (stride + 1) + 1;
        unsigned char *out = img->px + y * stride, *up = y ? out - stride : NULL;
        int filter = in[-1], bpp = img->channels;
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)bpp ? out[x - bpp] : 0, b = up ? up[x] : 0, c = up && x >= (size_t)bpp ? up[x - bpp] : 0;
            int pred = filter == 0 ? 0 : filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : paeth(a, b, c);
            if (filter > 4) ok = 0;
            out[x] = (unsigned char)(in[x] + pred);
        }
    }
    free(idat);
    free(raw);
    if (!ok) free(img->px), img->px = NULL;
    return ok;
}

static long count_color(const Png *img, unsigned rgb) {
    long n = 0;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        const unsigned char *p = img->px + i * img->channels;
        n += ((unsigned)p[0] << 16 | p[1] << 8 | p[2]) == rgb;
    }
    return n;
}

/* A run folder in the format src/train/loop.c and report.c write: 3 epochs, 2 modules. */
static void write_fake_run(const char *dir) {
    mkdir(dir, 0755);
    write_text(dir, "metrics.jsonl",
               "{\"epoch\": 1, \"train_loss\": 2.100000, \"train_acc\": 0.280000, \"test_acc\": 0.300000, \"lr\": 0.1, "
               "\"img_per_s\": 300.5, \"epoch_s\": 1.00}\n"
               "{\"epoch\": 2, \"train_loss\": 1.600000, \"train_acc\": 0.500000, \"test_acc\": 0.520000, \"lr\": 0.05, "
               "\"img_per_s\": 310.0, \"epoch_s\": 1.00}\n"
               "{\"epoch\": 3, \"train_loss\": 1.200000, \"train_acc\": 0.610000, \"test_acc\": 0.630000, \"lr\": 0.01, "
               "\"img_per_s\": 305.0, \"epoch_s\": 1.00}\n");
    write_text(dir, "summary.json",
               "{\"model\": \"resnet8\", \"method\": \"dgl\", \"dataset\": \"fashion-mnist\", \"train_img_per_s\": 305.2,"
               " \"mem_peak_per_block\": [{\"total\": 44000000, \"act\": 40000000, \"param\": 1, \"block\": 0, "
               "\"units\": \"0.0-1.0\"}, {\"total\": 29000000, \"act\": 25000000, \"block\": 1, \"units\": \"2.0-head\"}]}");
}

static void test_bad_input(void) {
    char args[2048], dir[600];
    EXPECT(run("plot --help") == 0 && strstr(out_text, "--out"), "plot --help: %s", out_text);
    snprintf(args, sizeof args, "plot %s/fake", root);
    EXPECT(run(args) == 2 && strstr(out_text, "--out"), "no --out: %s", out_text);
    snprintf(args, sizeof args, "plot %s/nowhere --out %s/x.png", root, root);
    EXPECT(run(args) != 0 && strstr(out_text, "nowhere") && strstr(out_text, "hint:"), "missing run: %s", out_text);

    snprintf(dir, sizeof dir, "%s/broken", root);
    mkdir(dir, 0755);
    write_text(dir, "metrics.jsonl", "{\"epoch\": 1, \"train_loss\": 2.0, \"test_acc\": 0.1}\n{\"epoch\": 2, \"train_lo");
    snprintf(args, sizeof args, "plot %s --out %s/x.png", dir, root);
    EXPECT(run(args) != 0 && strstr(out_text, "metrics.jsonl line 2"), "malformed line: %s", out_text);
    write_text(dir, "metrics.jsonl", "{\"epoch\": 1, \"train_loss\": \"low\", \"test_acc\": 0.1}\n");
    EXPECT(run(args) != 0 && strstr(out_text, "line 1") && strstr(out_text, "train_loss"), "string loss: %s", out_text);
    write_text(dir, "metrics.jsonl", "");
    EXPECT(run(args) != 0 && strstr(out_text, "no epoch"), "empty metrics: %s", out_text);
    write_text(dir, "metrics.jsonl", "{\"epoch\": 1, \"train_loss\": 2.0, \"test_acc\": 0.1}\n");
    write_text(dir, "summary.json", "{\"mem_peak_per_block\": [{\"total\": 1}]}");
    EXPECT(run(args) != 0 && strstr(out_text, "summary.json") && strstr(out_text, "act"), "bad summary: %s", out_text);
    write_text(dir, "summary.json", "{not json");
    EXPECT(run(args) != 0 && strstr(out_text, "summary.json"), "damaged summary: %s", out_text);
    EXPECT(!exists(strcat(strcpy(dir, root), "/x.png")), "a PNG was written for bad input");

    /* gnuplot missing: clear error, the script stays for the user */
    snprintf(args, sizeof args, "plot %s/fake --out %s/nognuplot.png", root, root);
    char cmd[4096], path[600];
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent %s %s > %s/out.txt 2>&1", bin, args, root);
    int rc = system(cmd);
    snprintf(path, sizeof path, "%s/out.txt", root);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out_text, 1, sizeof out_text - 1, f) : 0;
    out_text[n] = 0;
    if (f) fclose(f);
    EXPECT(WIFEXITED(rc) && WEXITSTATUS(rc) != 0 && strstr(out_text, "apt-get install gnuplot-nox"),
           "no gnuplot: %s", out_text);
    snprintf(path, sizeof path, "%s/nognuplot.gp", root);
    EXPECT(exists(path), "the .gp script was not left for the user");
}

/* runs x/fake and y/fake: the labels keep the parent folder so they differ */
static void test_same_names(void) {
    char args[2048], path[600];
    snprintf(args, sizeof args, "mkdir -p %s/x %s/y && cp -r %s/fake %s/x/ && cp -r %s/fake %s/y/", root, root, root,
             root, root, root);
    EXPECT(system(args) == 0, "cannot copy the fake run");
    snprintf(args, sizeof args, "plot %s/x/fake %s/y/fake --out %s/same.png", root, root, root);
    run(args); /* the script is written before gnuplot runs, so this holds without gnuplot too */
    snprintf(path, sizeof path, "%s/same.gp", root);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out_text, 1, sizeof out_text - 1, f) : 0;
    out_text[n] = 0;
    if (f) fclose(f);
    EXPECT(strstr(out_text, "'x/fake (resnet8, dgl)'") && strstr(out_text, "'y/fake (resnet8, dgl)'"),
           "same-named runs not told apart: %.3000s", out_text);
}

static int on_path(const char *name) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "command -v %s > /dev/null 2>&1", name);
    return system(cmd) == 0;
}

static void test_plot_two_runs(void) {
    char args[2048], real[600], png[600], gp[600];
    /* a real run when Fashion-MNIST is installed, else a second hand-written one */
    snprintf(args, sizeof args,
             "train --model resnet8 --limit-train 128 --limit-test 100 --epochs 2 --batch 64 --progress none "
             "--threads 2 --out %s --name real", root);
    snprintf(real, sizeof real, "%s/real", root);
    if (run(args) != 0) {
        printf("training a tiny run failed (no Fashion-MNIST?); using a hand-written run instead:\n%s\n", out_text);
        write_fake_run(real);
    }
    snprintf(png, sizeof png, "%s/cmp.png", root);
    snprintf(args, sizeof args, "plot %s %s/fake/ --out %s", real, root, png);
    EXPECT(run(args) == 0 && strstr(out_text, "wrote"), "plot failed: %s", out_text);
    Png img;
    EXPECT(png_decode(png, &img), "%s is not a decodable 8-bit RGB(A) PNG", png);
    if (!img.px) return;
    EXPECT(img.w == 1400 && img.h == 1000, "IHDR says %ux%u, expected 1400x1000", img.w, img.h);
    long white = count_color(&img, 0xffffff), total = (long)img.w * img.h;
    long run1 = count_color(&img, 0x1f77b4), run2 = count_color(&img, 0xff7f0e); /* line types 1, 2 */
    EXPECT(white < total * 0.95, "blank image: %ld of %ld pixels are white", white, total);
    EXPECT(run1 > 100 && run2 > 100, "runs' colours missing: %ld (run 1) and %ld (run 2) pixels", run1, run2);
    free(img.px);
    snprintf(gp, sizeof gp, "%s/cmp.gp", root);
    FILE *f = fopen(gp, "r");
    size_t n = f ? fread(out_text, 1, sizeof out_text - 1, f) : 0;
    out_text[n] = 0;
    if (f) fclose(f);
    EXPECT(strstr(out_text, "set terminal pngcairo") && strstr(out_text, "'fake (resnet8, dgl)'") &&
               strstr(out_text, "'real (resnet8, ") && strstr(out_text, "$mem1"),
           "script lacks terminal/labels/data: %.2000s", out_text);
}

int main(void) {
    bin = getenv("LOCUS_BIN");
    if (!bin) return printf("LOCUS_BIN not set (run through make test)\n"), 77;
    snprintf(root, sizeof root, "/tmp/locus_plot_XXXXXX");
    if (!mkdtemp(root)) return printf("cannot create a temporary folder\n"), 1;
    char fake[400];
    snprintf(fake, sizeof fake, "%s/fake", root);
    write_fake_run(fake);
    test_bad_input();
    test_same_names();
    int skipped = !on_path("gnuplot");
    if (skipped) printf("gnuplot is not installed (apt-get install gnuplot-nox): drawing not tested\n");
    else test_plot_two_runs();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (!expect_failures && system(cmd) != 0) printf("could not remove %s\n", root);
    int rc = expect_report();
    return rc ? rc : skipped ? 77 : 0;
}
