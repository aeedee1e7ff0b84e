/* test_export_cli.c — weights in and out from the command line, as the README shows them:
 *   locus train --init-from W   (PyTorch state dicts from tools/ref/make_interop.py; F32 and F16)
 *   locus export RUN --format safetensors|onnx --out F
 * With --lr 0 and no weight decay, the trained run's learnable tensors must equal the file it started
 * from bit for bit, and its export must hold exactly the model's tensors (a DGL run's aux heads and the
 * optimizer state stay behind). Bad input: unknown format, missing options, a missing run folder, a
 * damaged checkpoint, weights of another architecture, a missing --init-from file: each a clear message
 * and the documented exit code. Needs $LOCUS_BIN and Fashion-MNIST (else skipped). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_capture.h"
#include "expect.h"
#include "locus/interop.h"

static const char *bin;
static char tmp[] = "/tmp/locus_export_cli_XXXXXX";
static char out_text[1 << 16];

/* Runs "locus ARGS" with stdout + stderr captured in out_text; returns the exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char args[1500], cmd[2048], log[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(log, sizeof log, "%s/out.txt", tmp);
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive %s %s > %s 2>&1", bin, args, log);
    int rc = cli_system_capture(cmd, log, out_text, sizeof out_text);
    printf("$ locus %s  -> exit %d\n", args, rc);
    return rc;
}

#define TINY "--limit-train 64 --limit-test 64 --batch 32 --epochs 1 --progress none --threads 2"

/* Every learnable tensor of the export `got_path` (BN running statistics excepted: a training forward
 * updates them) must equal the one in `ref_path` after widening to float, as locus loads it. Returns the
 * number compared, -1 on a mismatch or a tensor the reference lacks. */
static int same_learned(const char *ref_path, const char *got_path) {
    StFile ref, got;
    ErrorMsg err;
    if (safetensors_open(&ref, ref_path, &err)) return printf("%s\n", err.text), -1;
    if (safetensors_open(&got, got_path, &err)) return safetensors_close(&ref), printf("%s\n", err.text), -1;
    int compared = 0;
    for (int i = 0; i < got.count && compared >= 0; i++) {
        const StTensor *g = &got.tensors[i], *r = safetensors_find(&ref, g->name);
        if (strstr(g->name, "running_")) continue;
        float *a = malloc(g->numel * sizeof(float) + 1), *b = malloc(g->numel * sizeof(float) + 1);
        int same = r && r->numel == g->numel && a && b && !state_dict_tensor_f32(&got, g, a, &err) &&
                   !state_dict_tensor_f32(&ref, r, b, &err) && !memcmp(a, b, g->numel * sizeof(float));
        if (!same) printf("tensor %s differs from the initial weights (or is missing there)\n", g->name);
        compared = same ? compared + 1 : -1;
        free(a), free(b);
    }
    safetensors_close(&ref);
    safetensors_close(&got);
    return compared;
}

/* Names in the file that contain `needle`. */
static int count_names(const char *path, const char *needle, int *total) {
    StFile f;
    ErrorMsg err;
    if (safetensors_open(&f, path, &err)) return printf("%s\n", err.text), -1;
    int n = 0;
    for (int i = 0; i < f.count; i++) n += strstr(f.tensors[i].name, needle) != NULL;
    *total = f.count;
    safetensors_close(&f);
    return n;
}

static void test_round_trip(const char *arch, int tensors) {
    char w[128];
    snprintf(w, sizeof w, "tests/fixtures/interop_%s.safetensors", arch);
    int rc = run("train --model %s --init-from %s --lr 0 --weight-decay 0 " TINY " --out %s --name %s", arch, w, tmp,
                 arch);
    EXPECT(rc == 0, "train --init-from %s: %s", w, out_text);
    EXPECT(strstr(out_text, "init_from") && strstr(out_text, w), "the resolved configuration shows init_from");
    rc = run("export %s/%s --format safetensors --out %s/%s.safetensors", tmp, arch, tmp, arch);
    EXPECT(rc == 0 && strstr(out_text, "wrote"), "export safetensors: %s", out_text);
    char e[400];
    snprintf(e, sizeof e, "%s/%s.safetensors", tmp, arch);
    int total = 0, aux = count_names(e, "aux.", &total);
    EXPECT(total == tensors && aux == 0, "%s export holds %d tensors (%d aux), expected %d", arch, total, aux, tensors);
    int n = same_learned(w, e);
    EXPECT(n > 0, "%s: the learnable weights after --init-from with lr 0 equal the file's (%d compared)", arch, n);
    printf("%s: %d learnable tensors equal to the --init-from file after training with lr 0\n", arch, n);
    rc = run("export %s/%s --format onnx --out %s/%s.onnx", tmp, arch, tmp, arch);
    EXPECT(rc == 0 && strstr(out_text, "verified"), "export onnx: %s", out_text);
    printf("%s", out_text);
}

static void test_method_run(void) {
    int rc = run("train --model resnet8 --method dgl --k 2 " TINY " --out %s --name dgl", tmp);
    EXPECT(rc == 0, "dgl run: %s", out_text);
    rc = run("export %s/dgl --format safetensors --out %s/dgl.safetensors", tmp, tmp);
    EXPECT(rc == 0, "export: %s", out_text);
    char e[400];
    snprintf(e, sizeof e, "%s/dgl.safetensors", tmp);
    int total = 0, aux = count_names(e, "aux.", &total), opt = count_names(e, "optim.", &total);
    EXPECT(total == 47 && aux == 0 && opt == 0, "dgl export: %d tensors, %d aux, %d optim", total, aux, opt);
    /* the exported backbone starts a new run; its aux heads get their own init */
    rc = run("train --model resnet8 --method dgl --k 2 --init-from %s " TINY " --out %s --name dgl2", e, tmp);
    EXPECT(rc == 0, "--init-from a dgl export: %s", out_text);
}

static void test_bad_input(void) {
    int rc = run("export");
    EXPECT(rc == 2 && strstr(out_text, "RUN_DIR"), "no run dir: %s", out_text);
    rc = run("export %s/resnet8 --format pt --out x.pt", tmp);
    EXPECT(rc == 2 && strstr(out_text, "unknown format 'pt'") && strstr(out_text, "hint:"), "bad format: %s", out_text);
    rc = run("export %s/resnet8 --out x.onnx", tmp);
    EXPECT(rc == 2 && strstr(out_text, "missing --format"), "no format: %s", out_text);
    rc = run("export %s/resnet8 --format onnx", tmp);
    EXPECT(rc == 2 && strstr(out_text, "missing --out"), "no out: %s", out_text);
    rc = run("export %s/nonexistent --format onnx --out %s/x.onnx", tmp, tmp);
    EXPECT(rc == 3 && strstr(out_text, "not a readable run folder"), "missing run: %s", out_text);
    rc = run("export --help");
    EXPECT(rc == 0 && strstr(out_text, "--format safetensors|onnx"), "help: %s", out_text);

    /* a damaged checkpoint: cut in half */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir %s/cut && cp %s/resnet8/config.json %s/cut/ && head -c 200000 "
             "%s/resnet8/checkpoint.safetensors > %s/cut/checkpoint.safetensors", tmp, tmp, tmp, tmp, tmp);
    EXPECT(system(cmd) == 0, "%s", cmd);
    rc = run("export %s/cut --format safetensors --out %s/cut.safetensors", tmp, tmp);
    EXPECT(rc == 4 && strstr(out_text, "checkpoint.safetensors") && strstr(out_text, "hint:"), "damaged checkpoint: %s",
           out_text);

    rc = run("train --model resnet8 --init-from tests/fixtures/interop_vit-micro.safetensors " TINY " --out %s --name w",
             tmp);
    EXPECT(rc == 4 && strstr(out_text, "--init-from") && strstr(out_text, "missing") && strstr(out_text, "hint:"),
           "weights of another arch: %s", out_text);
    rc = run("train --model resnet8 --init-from %s/none.safetensors " TINY " --out %s --name w2", tmp, tmp);
    EXPECT(rc == 3 && strstr(out_text, "none.safetensors"), "missing --init-from file: %s", out_text);
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
    if (!mkdtemp(tmp)) return 1;
    test_round_trip("resnet8", 47);
    test_round_trip("vit-micro", 32);
    test_method_run();
    test_bad_input();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (!expect_failures && system(cmd) != 0) printf("note: could not remove %s\n", tmp);
    return expect_report();
}
