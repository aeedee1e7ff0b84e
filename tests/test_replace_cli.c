/* test_replace_cli.c — Replacement Learning from the command line: a short `locus train --method replace`
 * run (what the header and the summary say; summary.json's "replace" object and learnable counts; planned ==
 * measured), resume (1 epoch + resume to 2 == 2 epochs, bit for bit, with (a, b) in the checkpoint and P in
 * it equal to a*P_prev + b*P_next), eval of that run, memplan's replacement lines and bad options.
 * Needs the locus binary ($LOCUS_BIN, set by tools/run-tests.sh) and Fashion-MNIST (else skipped). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "locus/fileutil.h"
#include "locus/safetensors.h"
#include "cli_capture.h"
#include "expect.h"

static const char *bin;
static char tmp[256];
static char out_text[1 << 16];

/* Runs "locus ARGS", captures stdout+stderr into out_text, returns the exit code. */
static int run(const char *args) {
    char cmd[2048], log[400];
    snprintf(log, sizeof log, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive %s %s > %s 2>&1", bin, args, log);
    return cli_system_capture(cmd, log, out_text, sizeof out_text);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* resnet20 with k = 2 replaces block 1.1 (from 1.0 and 1.2) */
#define TINY "--model resnet20 --method replace --replace-every 2 --limit-train 96 --limit-test 64 --batch 32 " \
             "--progress none --threads 2"

static void test_train_and_summary(void) {
    char args[800], path[400];
    snprintf(args, sizeof args, "train " TINY " --epochs 2 --out %s --name a", tmp);
    int rc = run(args);
    EXPECT(rc == 0, "training with replacement exits 0 (got %d): %s", rc, out_text);
    EXPECT(strstr(out_text, "replacement learning: k = 2") && strstr(out_text, "replaced: 1.1"),
           "the header names the replaced block: %s", out_text);
    EXPECT(strstr(out_text, "planned == measured: yes"), "planned == measured");
    EXPECT(strstr(out_text, "vs no replacement"), "the summary compares with the run without replacement");
    snprintf(path, sizeof path, "%s/a/summary.json", tmp);
    cJSON *s = cli_read_json(path);
    EXPECT(s, "summary.json readable");
    if (!s) return;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "replace");
    EXPECT(cJSON_IsObject(r), "summary.json has a replace object");
    if (r) {
        const cJSON *units = cJSON_GetObjectItemCaseSensitive(r, "units");
        EXPECT(cJSON_GetArraySize(units) == 1 && !strcmp(cJSON_GetArrayItem(units, 0)->valuestring, "1.1"),
               "units [\"1.1\"]");
        double learn = num(s, "params_learnable"), full = num(r, "params_learnable_without_replacement");
        double derived = 2 * 16 * 16 * 9 + 4 * 16;
        EXPECT(learn == num(r, "params_learnable") && learn == full - derived + 2,
               "params_learnable %.0f == %.0f - %.0f + 2", learn, full, derived);
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(r, "mem_predicted_without_replacement_bytes");
        const cJSON *meas = cJSON_GetObjectItemCaseSensitive(s, "mem_peak_bytes");
        /* every tensor of block 1.1 is a multiple of 16 floats; (a, b) takes one 16-float slot */
        EXPECT(num(off, "optim") - num(meas, "optim") == (derived - 16) * 4,
               "no optimizer state for the replaced tensors: optim %.0f -> %.0f", num(off, "optim"), num(meas, "optim"));
        EXPECT(num(r, "transient_grad_bytes") == derived * 4, "the transient gradient buffer: %.0f bytes",
               num(r, "transient_grad_bytes"));
    }
    cJSON_Delete(s);
    snprintf(args, sizeof args, "eval %s/a", tmp);
    EXPECT(run(args) == 0 && strstr(out_text, "test accuracy"), "eval of a replaced run: %s", out_text);
}

/* P in the checkpoint = a * P_prev + b * P_next for every tensor of block 1.1, and (a, b) are there. */
static void check_checkpoint_mix(const char *dir) {
    char path[500];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    StFile f;
    ErrorMsg err;
    if (safetensors_open(&f, path, &err)) {
        EXPECT(0, "%s", err.text);
        return;
    }
    const StTensor *ab = safetensors_find(&f, "replace.layer1.1.ab");
    EXPECT(ab && ab->nbytes == 8, "(a, b) saved with the checkpoint");
    EXPECT(safetensors_find(&f, "optim.m.replace.layer1.1.ab") && !safetensors_find(&f, "optim.m.layer1.1.conv1.weight"),
           "(a, b) have optimizer state, the replaced tensors none");
    if (ab) {
        float a, b;
        memcpy(&a, ab->bytes, 4), memcpy(&b, (const char *)ab->bytes + 4, 4);
        EXPECT(a != 0.5f || b != 0.5f, "(a, b) were trained (%g %g)", a, b);
        const char *names[] = {"conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"};
        double worst = 0;
        for (int i = 0; i < 6; i++) {
            char n0[64], n1[64], n2[64];
            snprintf(n0, sizeof n0, "layer1.0.%s", names[i]);
            snprintf(n1, sizeof n1, "layer1.1.%s", names[i]);
            snprintf(n2, sizeof n2, "layer1.2.%s", names[i]);
            const StTensor *t0 = safetensors_find(&f, n0), *t1 = safetensors_find(&f, n1), *t2 = safetensors_find(&f, n2);
            if (!t0 || !t1 || !t2) {
                EXPECT(0, "block tensors %s in the checkpoint", n1);
                continue;
            }
            for (size_t q = 0; q < t1->nbytes / 4; q++) {
                float x, p, y;
                memcpy(&x, (const char *)t0->bytes + 4 * q, 4);
                memcpy(&p, (const char *)t1->bytes + 4 * q, 4);
                memcpy(&y, (const char *)t2->bytes + 4 * q, 4);
                worst = fmax(worst, fabs(p - (a * x + b * y)));
            }
        }
        EXPECT(worst <= 1e-6, "P = a*P_prev + b*P_next in the checkpoint (worst error %g)", worst);
    }
    safetensors_close(&f);
}

/* 1 if every tensor of the two checkpoints is bit-identical. */
static int same_checkpoint(const char *run_a, const char *run_b) {
    char pa[500], pb[500];
    snprintf(pa, sizeof pa, "%s/checkpoint.safetensors", run_a);
    snprintf(pb, sizeof pb, "%s/checkpoint.safetensors", run_b);
    StFile a, b;
    ErrorMsg err;
    if (safetensors_open(&a, pa, &err)) return printf("  %s\n", err.text), 0;
    if (safetensors_open(&b, pb, &err)) return safetensors_close(&a), printf("  %s\n", err.text), 0;
    int same = a.count == b.count && a.count > 0;
    for (int i = 0; same && i < a.count; i++) {
        const StTensor *tb = safetensors_find(&b, a.tensors[i].name);
        same = tb && tb->nbytes == a.tensors[i].nbytes && !memcmp(tb->bytes, a.tensors[i].bytes, tb->nbytes);
        if (!same) printf("  tensor %s differs\n", a.tensors[i].name);
    }
    safetensors_close(&a);
    safetensors_close(&b);
    return same;
}

static void test_resume(void) {
    char args[800], a[400], b[400];
    snprintf(args, sizeof args, "train " TINY " --epochs 2 --stop-after 1 --out %s --name b", tmp);
    EXPECT(run(args) == 0 && strstr(out_text, "--resume"), "run stopped after 1 epoch: %s", out_text);
    snprintf(args, sizeof args, "train --resume %s/b --stop-after 0", tmp);
    EXPECT(run(args) == 0 && strstr(out_text, "resumed"), "resume to 2 epochs: %s", out_text);
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    EXPECT(same_checkpoint(a, b), "resumed run == uninterrupted run (bit for bit)");
    check_checkpoint_mix(b);
}

static void test_memplan_and_options(void) {
    EXPECT(run("memplan --model resnet32 --method dgl --k 4 --replace-every 4 --batch 16 --limit-train 64") == 0 &&
               strstr(out_text, "blocks 1.3 2.2 replaced") && strstr(out_text, "without replacement"),
           "memplan with dgl + replacement: %s", out_text);
    EXPECT(run("memplan --model resnet32 --method replace --batch 16 --limit-train 64 --json") == 0 &&
               strstr(out_text, "\"replace\"") && strstr(out_text, "params_learnable_without_replacement"),
           "memplan --json: %s", out_text);
    EXPECT(run("train " TINY " --replace-every 1") == 2 && strstr(out_text, "hint"), "k = 1 refused: %s", out_text);
    EXPECT(run("train " TINY " --replace-count layer") == 2 && strstr(out_text, "stage"), "bad --replace-count: %s",
           out_text);
    EXPECT(run("train --model resnet20 --method replace --limit-train 64 --progress none") == 2 &&
               strstr(out_text, "replaces no block"),
           "resnet20 with k = 4 has no block to replace: %s", out_text);
    EXPECT(run("train --help") == 0 && strstr(out_text, "--replace-every") && strstr(out_text, "--no-replace-neighbour-grad"),
           "train --help lists the options");
}

int main(void) {
    bin = getenv("LOCUS_BIN");
    if (!bin) {
        printf("skip: LOCUS_BIN not set (run through make test)\n");
        return 77;
    }
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK)) {
        printf("skip: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)\n");
        return 77;
    }
    snprintf(tmp, sizeof tmp, "/tmp/locus-test-replace-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    test_train_and_summary();
    test_resume();
    test_memplan_and_options();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (!expect_failures && system(cmd) != 0) printf("note: could not remove %s\n", tmp);
    return expect_report();
}
