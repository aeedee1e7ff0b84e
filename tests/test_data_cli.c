/* test_data_cli.c — the new datasets through the command line, on files written here in their real formats
 * (tests/data_writers.c): `locus data info` (autodetection, counts, class balance, mean/std, the MAT
 * variables' stored types, unknown subcommands refused), and one short `locus train` each on SVHN (MAT v5),
 * STL-10 (96 px), CIFAR-100 (coarse labels) and an image folder of PNG + JPEG files, each ending with
 * planned == measured memory in summary.json, plus `locus memplan --json` agreeing with the SVHN run.
 * Needs the locus binary ($LOCUS_BIN). */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "locus/fileutil.h"

#include "data_writers.h"
#include "cli_capture.h"
#include "expect.h"

static const char *bin;
static char tmp[256];
static char out_text[1 << 16];

static int run(const char *args) {
    char cmd[4096], log[400];
    snprintf(log, sizeof log, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive %s %s > %s 2>&1", bin, args, log);
    return cli_system_capture(cmd, log, out_text, sizeof out_text);
}

static const char *const TAGS[] = {"total", "param", "grad", "optim", "ema", "act", "scratch", "data"};

/* Trains; checks exit 0 and planned == measured per tag; returns the peak object's data bytes (or -1). */
static double train_ok(const char *what, const char *args, const char *name) {
    char cmd[2048], path[600];
    snprintf(cmd, sizeof cmd, "train %s --epochs 1 --progress none --threads 2 --out %s/runs --name %s", args, tmp, name);
    int rc = run(cmd);
    EXPECT(rc == 0, "%s: train exits %d: %s", what, rc, out_text);
    snprintf(path, sizeof path, "%s/runs/%s/summary.json", tmp, name);
    ErrorMsg err;
    size_t n;
    char *text = file_read_all(path, &n, &err);
    cJSON *s = text ? cJSON_Parse(text) : NULL;
    free(text);
    EXPECT(s, "%s: summary.json", what);
    if (!s) return -1;
    cJSON *peak = cJSON_GetObjectItem(s, "mem_peak_bytes"), *pred = cJSON_GetObjectItem(s, "mem_predicted_bytes");
    for (int i = 0; i < 8; i++) {
        double a = cJSON_GetNumberValue(cJSON_GetObjectItem(peak, TAGS[i]));
        double b = cJSON_GetNumberValue(cJSON_GetObjectItem(pred, TAGS[i]));
        EXPECT(a == b && a == a, "%s: %s peak %.0f predicted %.0f", what, TAGS[i], a, b);
    }
    double data = cJSON_GetNumberValue(cJSON_GetObjectItem(peak, "data"));
    cJSON_Delete(s);
    return data;
}

static void test_svhn(void) {
    char dir[400], p[600], args[1200];
    snprintf(dir, sizeof dir, "%s/svhn", tmp);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/train_32x32.mat", dir);
    EXPECT(dw_write_svhn(p, 512, 1, 2) == 0, "write");
    snprintf(p, sizeof p, "%s/test_32x32.mat", dir);
    EXPECT(dw_write_svhn(p, 100, 1, 2) == 0, "write");
    snprintf(args, sizeof args, "data info %s", dir);
    EXPECT(run(args) == 0, "data info svhn: %s", out_text);
    EXPECT(strstr(out_text, "svhn (detected)") && strstr(out_text, "split train: 512 images") &&
               strstr(out_text, "split test: 100 images") && strstr(out_text, "class balance: 0 52 (10.2%)") &&
               strstr(out_text, "y: class double stored uint8, compressed") && strstr(out_text, "mean:"),
           "data info svhn output: %s", out_text);
    snprintf(args, sizeof args, "--data svhn --data-dir %s --model resnet8 --limit-train 512 --batch 64", dir);
    double data = train_ok("svhn", args, "svhn");
    EXPECT(data > 612 * 3073, "svhn DATA %.0f holds both splits", data);
    /* memplan (headers only) agrees with the run */
    snprintf(args, sizeof args, "memplan --data svhn --data-dir %s --model resnet8 --limit-train 512 --batch 64 --json",
             dir);
    EXPECT(run(args) == 0, "memplan svhn: %s", out_text);
    cJSON *mp = cJSON_Parse(out_text), *pred = mp ? cJSON_GetObjectItem(mp, "mem_predicted_bytes") : NULL;
    EXPECT(pred && cJSON_GetNumberValue(cJSON_GetObjectItem(pred, "data")) == data, "memplan data %.0f vs run %.0f",
           pred ? cJSON_GetNumberValue(cJSON_GetObjectItem(pred, "data")) : -1, data);
    cJSON_Delete(mp);
    snprintf(args, sizeof args, "train --data svhn --data-dir %s/none --epochs 1", tmp);
    EXPECT(run(args) != 0 && strstr(out_text, "train_32x32.mat") && strstr(out_text, "hint:"),
           "missing svhn: %s", out_text);
}

static void test_stl10_cifar100(void) {
    char dir[400], p[600], args[1200];
    snprintf(dir, sizeof dir, "%s/stl", tmp);
    mkdir(dir, 0700);
    EXPECT(dw_write_stl10(dir, "train", 0, 24) == 0 && dw_write_stl10(dir, "test", 50, 8) == 0, "write stl10");
    snprintf(args, sizeof args, "--data stl10 --data-dir %s --model resnet8 --batch 8", dir);
    train_ok("stl10", args, "stl10");
    snprintf(dir, sizeof dir, "%s/c100", tmp);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/train.bin", dir);
    dw_write_cifar100(p, 0, 80);
    snprintf(p, sizeof p, "%s/test.bin", dir);
    dw_write_cifar100(p, 100, 40);
    snprintf(args, sizeof args, "--data cifar100 --cifar100-labels coarse --data-dir %s --model resnet8 --batch 16", dir);
    train_ok("cifar100 coarse", args, "c100");
    snprintf(args, sizeof args, "data info %s --cifar100-labels coarse", dir);
    EXPECT(run(args) == 0 && strstr(out_text, "cifar100 (detected)") && strstr(out_text, "20 classes (coarse labels)"),
           "data info cifar100: %s", out_text);
}

static void test_imagefolder(void) {
    char dir[400], p[700], args[1200];
    snprintf(dir, sizeof dir, "%s/if", tmp);
    static const char *const dirs[] = {"", "/train", "/train/ant", "/train/bee", "/val", "/val/ant", "/val/bee"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s%s", dir, dirs[i]);
        mkdir(p, 0700);
    }
    for (int k = 0; k < 12; k++) {
        snprintf(p, sizeof p, "%s/train/%s/%02d.%s", dir, k % 2 ? "bee" : "ant", k, k % 3 ? "png" : "jpg");
        EXPECT(dw_write_image(p, k, 40 + k, 30 + 2 * k, k % 3 == 0) == 0, "write");
    }
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/val/%s/%02d.jpg", dir, k % 2 ? "bee" : "ant", k);
        dw_write_image(p, 20 + k, 48, 36, 1);
    }
    snprintf(args, sizeof args, "data info %s --image-size 32", dir);
    EXPECT(run(args) == 0 && strstr(out_text, "imagefolder (detected)") && strstr(out_text, "split train: 12 images") &&
               strstr(out_text, "0 [ant] 6 (50.0%)") && strstr(out_text, "split test: 4 images"),
           "data info imagefolder: %s", out_text);
    snprintf(args, sizeof args, "--data imagefolder --data-dir %s --image-size 32 --model resnet8 --batch 4 "
             "--decode-threads 2", dir);
    train_ok("imagefolder", args, "if");
    EXPECT(run("data frob") == 2 && strstr(out_text, "unknown subcommand 'frob'"), "data frob: %s", out_text);
    EXPECT(run("data info") == 2, "data info without a folder");
    snprintf(args, sizeof args, "data info %s/nothing", tmp);
    EXPECT(run(args) != 0 && strstr(out_text, "--data NAME"), "data info on an empty path: %s", out_text);
    EXPECT(run("data --help") == 0 && strstr(out_text, "locus data info DIR"), "data --help");
    EXPECT(run("--help") == 0 && strstr(out_text, "data info"), "locus --help lists data");
}

int main(void) {
    bin = getenv("LOCUS_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("skip: LOCUS_BIN not set (run through make test)\n");
        return 77;
    }
    snprintf(tmp, sizeof tmp, "/tmp/locus_data_cli_%d", (int)getpid());
    dw_rmtree(tmp);
    mkdir(tmp, 0700);
    test_svhn();
    test_stl10_cifar100();
    test_imagefolder();
    dw_rmtree(tmp);
    return expect_report();
}
