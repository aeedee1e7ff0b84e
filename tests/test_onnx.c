/* test_onnx.c — ONNX export (interop.h: onnx_export, onnx_verify) of resnet8 and vit-micro with the
 * PyTorch fixture weights (tools/ref/make_interop.py), three ways:
 *  1. pure C: the file re-read with protobuf-c matches the model (IR 8, opset 17, signature, every
 *     initializer's name, shape and bytes, topological order); a file whose weights were changed
 *     afterwards, a truncated file and a model of another input size are refused with a clear message;
 *  2. Debian's python3-onnx checker (tools/ref/check_onnx.py: check_model(full_check=True)), skipped
 *     with a message when python3-onnx is absent;
 *  3. ONNX Runtime (npm onnxruntime-node via tools/onnx-runtime.sh) on the fixture batch: its logits
 *     equal locus's and PyTorch's within 1e-5 of the largest logit; skipped with a message when node or
 *     the npm registry is unavailable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "interop_util.h"

#define LOGIT_TOL 1e-5

static char tmp[] = "/tmp/locus_onnx_XXXXXX";

static void check_python(const char *path) {
    char cmd[600], out[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/ref/check_onnx.py %s", path);
    int rc = access("/usr/bin/python3", X_OK) ? 77 : run_captured(cmd, out, sizeof out);
    if (rc == 77)
        printf("  onnx checker skipped: /usr/bin/python3 with python3-onnx is not available\n");
    else
        EXPECT(rc == 0 && strstr(out, "checker (full_check) ok"), "onnx checker refused %s (exit %d)", path, rc);
}

static void check_runtime(const char *arch, const char *path, const float *x, const float *want, const float *locus) {
    char in[300], outp[300], cmd[1200], text[4096];
    snprintf(in, sizeof in, "%s/x.f32", tmp);
    snprintf(outp, sizeof outp, "%s/%s_ort.f32", tmp, arch);
    FILE *f = fopen(in, "wb");
    if (!f || fwrite(x, sizeof(float), FIXTURE_N * 28 * 28, f) != FIXTURE_N * 28 * 28) EXPECT(0, "write %s", in);
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "sh tools/onnx-runtime.sh %s %s %d 1 28 28 %s", path, in, FIXTURE_N, outp);
    int rc = run_captured(cmd, text, sizeof text);
    if (rc == 77) {
        printf("  %s: ONNX Runtime comparison skipped (%s)\n", arch, "node/npm onnxruntime-node not available");
        return;
    }
    EXPECT(rc == 0, "onnxruntime-node failed on %s (exit %d)", path, rc);
    float got[FIXTURE_N * 10];
    f = fopen(outp, "rb");
    size_t n = f ? fread(got, sizeof(float), FIXTURE_N * 10 + 1, f) : 0;
    if (f) fclose(f);
    EXPECT(n == FIXTURE_N * 10, "runtime wrote %zu logits, expected %d", n, FIXTURE_N * 10);
    if (n != FIXTURE_N * 10) return;
    double m = max_abs(want, n), d_torch = max_abs_diff(got, want, n), d_locus = max_abs_diff(got, locus, n);
    printf("%s: ONNX Runtime logits: max|ort - torch| = %.3g, max|ort - locus| = %.3g (max|logit| %.3g)\n", arch,
           d_torch, d_locus, m);
    EXPECT(d_torch <= LOGIT_TOL * m && d_locus <= LOGIT_TOL * m, "%s: ONNX Runtime disagrees", arch);
}

static void test_arch(const char *arch) {
    FixtureModel fm;
    if (!fixture_model_open(&fm, arch, 1)) {
        EXPECT(0, "build %s", arch);
        return;
    }
    char w[200], path[300], key[64];
    snprintf(w, sizeof w, "tests/fixtures/interop_%s.safetensors", arch);
    snprintf(path, sizeof path, "%s/%s.onnx", tmp, arch);
    snprintf(key, sizeof key, "logits.%s", arch);
    ErrorMsg err;
    EXPECT(state_dict_load(&fm.ps, fm.count, w, 0, arch, &err) == LOCUS_OK, "%s", err.text);
    Status st = onnx_export(&fm.model, path, &err);
    EXPECT(st == LOCUS_OK, "export %s: %s", arch, err.text);
    OnnxSummary sum;
    st = st ? st : onnx_verify(path, &fm.model, &sum, &err);
    EXPECT(st == LOCUS_OK, "verify %s: %s", arch, err.text);
    if (st) return fixture_model_free(&fm);
    printf("%s: %s: IR %lld, opset %lld, %d nodes (%s), %d initializers, %zu bytes of weights\n", arch, path,
           sum.ir_version, sum.opset, sum.nodes, sum.ops, sum.initializers, sum.weight_bytes);
    EXPECT(sum.ir_version == 8 && sum.opset == 17, "versions");
    size_t param_bytes = 0;
    for (int h = 0; h < fm.count; h++) param_bytes += fm.ps.info[h].numel * sizeof(float);
    EXPECT(sum.initializers >= fm.count && sum.weight_bytes >= param_bytes, "%d initializers, %zu bytes (params %zu)",
           sum.initializers, sum.weight_bytes, param_bytes);
    if (!strncmp(arch, "resnet", 6))
        EXPECT(strstr(sum.ops, "Conv") && strstr(sum.ops, "BatchNormalization") && strstr(sum.ops, "GlobalAveragePool") &&
                   strstr(sum.ops, "Gemm") && strstr(sum.ops, "Add"), "resnet ops: %s", sum.ops);
    else
        EXPECT(strstr(sum.ops, "LayerNormalization") && strstr(sum.ops, "Softmax") && strstr(sum.ops, "Erf"),
               "vit ops: %s", sum.ops);

    /* the weights changed after export: the file no longer matches the model */
    params_value(&fm.ps, 0)[0] += 1.0f;
    st = onnx_verify(path, &fm.model, &sum, &err);
    EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "other values"), "changed weights: %s", err.text);
    params_value(&fm.ps, 0)[0] -= 1.0f;

    check_python(path);
    size_t nx = 0, nl = 0;
    float *x = fixture_tensor(FIXTURE_IO, "x", &nx), *want = fixture_tensor(FIXTURE_IO, key, &nl);
    float locus[FIXTURE_N * 10];
    if (x && want && !model_predict(&fm.model, &fm.mt, x, FIXTURE_N, 2, locus, &err))
        check_runtime(arch, path, x, want, locus);
    else
        EXPECT(0, "fixture batch / predict: %s", err.text);
    free(x);
    free(want);
    fixture_model_free(&fm);
}

static void test_bad_files(void) {
    FixtureModel fm, other;
    if (!fixture_model_open(&fm, "resnet8", 1)) return;
    char path[300], cut[300];
    snprintf(path, sizeof path, "%s/bad.onnx", tmp);
    snprintf(cut, sizeof cut, "%s/cut.onnx", tmp);
    ErrorMsg err;
    OnnxSummary sum;
    EXPECT(onnx_export(&fm.model, path, &err) == LOCUS_OK, "%s", err.text);
    FILE *f = fopen(path, "rb");
    static char buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    f = fopen(cut, "wb");
    if (f) fwrite(buf, 1, n / 3, f), fclose(f);
    Status st = onnx_verify(cut, &fm.model, &sum, &err);
    EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "cut.onnx"), "truncated: %d %s", st, err.text);
    printf("truncated: %s\n", err.text);
    if (fixture_model_open(&other, "resnet8", 3)) {
        st = onnx_verify(path, &other.model, &sum, &err);
        EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "input"), "other input size: %d %s", st, err.text);
        printf("other model: %s\n", err.text);
        fixture_model_free(&other);
    }
    st = onnx_export(&fm.model, "/nonexistent/dir/m.onnx", &err);
    EXPECT(st == LOCUS_ERR_IO, "unwritable path: %d %s", st, err.text);
    fixture_model_free(&fm);
}

int main(void) {
    if (!mkdtemp(tmp)) return printf("cannot create a temp dir\n"), 1;
    test_arch("resnet8");
    test_arch("vit-micro");
    test_bad_files();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) printf("could not remove %s\n", tmp);
    return expect_report();
}
