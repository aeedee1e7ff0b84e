/* test_interop.c — weights in and out of locus as PyTorch state dicts (interop.h).
 *
 *  1. PyTorch -> locus: tools/ref/make_interop.py's state dicts (resnet8 as F32 with the BatchNorms'
 *     I64 num_batches_tracked, vit-micro as F16) load into locus models, and locus's eval-mode logits on
 *     the fixture batch equal PyTorch's (float64 reference) within 1e-5 of the largest logit.
 *  2. Bad files: another architecture, another input channel count, a DataParallel "module." prefix, a
 *     truncated file and an integer weight each give a LOCUS_ERR_FORMAT whose message names the tensors
 *     (and shapes) and carries a hint; a failed load leaves the weights untouched.
 *  3. Conversions: F64, F16 (incl. subnormals and infinities) and BF16 to float.
 *  4. locus -> PyTorch: a locus-initialised model with non-trivial BN statistics is saved with
 *     state_dict_save, reloaded bit for bit, and (when /usr/bin/python3 has torch) loaded by
 *     tools/ref/check_interop.py with load_state_dict(strict=True), whose logits must match locus's;
 *     without torch that direction is skipped with a message (the rest still runs). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "interop_util.h"

#define LOGIT_TOL 1e-5 /* max|locus - torch| / max|torch| */

static char tmp[] = "/tmp/locus_interop_XXXXXX";

static void test_from_pytorch(const char *arch) {
    FixtureModel f;
    if (!fixture_model_open(&f, arch, 1)) {
        EXPECT(0, "build %s", arch);
        return;
    }
    char path[256], key[64];
    snprintf(path, sizeof path, "tests/fixtures/interop_%s.safetensors", arch);
    snprintf(key, sizeof key, "logits.%s", arch);
    ErrorMsg err;
    Status st = state_dict_load(&f.ps, f.count, path, 0, arch, &err);
    EXPECT(st == LOCUS_OK, "load %s: %s", path, err.text);
    size_t nx = 0, nl = 0;
    float *x = fixture_tensor(FIXTURE_IO, "x", &nx), *want = fixture_tensor(FIXTURE_IO, key, &nl);
    float got[FIXTURE_N * 10];
    if (!st && x && want && nl == sizeof got / sizeof *got) {
        st = model_predict(&f.model, &f.mt, x, FIXTURE_N, 2, got, &err);
        EXPECT(st == LOCUS_OK, "predict: %s", err.text);
        double d = max_abs_diff(got, want, nl), m = max_abs(want, nl);
        printf("%s: PyTorch state dict -> locus: logits max|locus - torch| = %.3g (%.3g of max|logit| %.3g)\n", arch,
               d, d / m, m);
        EXPECT(d <= LOGIT_TOL * m, "%s logits differ from PyTorch's by %.3g (max %.3g)", arch, d, m);
    } else {
        EXPECT(0, "fixture tensors x / %s missing", key);
    }
    free(x);
    free(want);
    fixture_model_free(&f);
}

/* Expects state_dict_load of path into arch (in_c channels) to fail with every needle in the message. */
static void expect_load_error(const char *arch, int in_c, const char *path, const char *const *needles) {
    FixtureModel f;
    if (!fixture_model_open(&f, arch, in_c)) return;
    float before = params_value(&f.ps, 0)[0];
    ErrorMsg err = {{0}};
    Status st = state_dict_load(&f.ps, f.count, path, 0, arch, &err);
    EXPECT(st == LOCUS_ERR_FORMAT, "%s into %s: status %d", path, arch, st);
    EXPECT(strstr(err.text, "hint:") != NULL, "message has a hint: %s", err.text);
    for (int i = 0; needles[i]; i++) EXPECT(strstr(err.text, needles[i]), "'%s' in: %s", needles[i], err.text);
    EXPECT(params_value(&f.ps, 0)[0] == before, "a failed load changed the weights");
    printf("%s <- %s: %s\n", arch, path, err.text);
    fixture_model_free(&f);
}

static void test_bad_files(void) {
    const char *wrong_arch[] = {"missing", "does not have", "patch_embed.proj.weight", "layer1.0.conv1.weight", NULL};
    expect_load_error("vit-micro", 1, "tests/fixtures/interop_resnet8.safetensors", wrong_arch);
    const char *wrong_c[] = {"shape mismatch", "conv1.weight", "[16, 1, 3, 3]", "[16, 3, 3, 3]", NULL};
    expect_load_error("resnet8", 3, "tests/fixtures/interop_resnet8.safetensors", wrong_c);

    /* a DataParallel-style prefix: every name is "module.<name>" */
    FixtureModel f;
    if (fixture_model_open(&f, "resnet8", 1)) {
        StEntry *e = calloc((size_t)f.count, sizeof *e);
        for (int h = 0; h < f.count; h++) {
            snprintf(e[h].name, sizeof e[h].name, "module.%s", f.ps.info[h].name);
            e[h].shape = f.ps.info[h].shape;
            e[h].data = params_value(&f.ps, h);
        }
        char path[300];
        snprintf(path, sizeof path, "%s/prefixed.safetensors", tmp);
        ErrorMsg err;
        EXPECT(safetensors_write(path, e, f.count, NULL, &err) == LOCUS_OK, "%s", err.text);
        const char *prefixed[] = {"module.conv1.weight", "module.", "state_dict", NULL};
        expect_load_error("resnet8", 1, path, prefixed);
        free(e);

        /* truncated: the same file cut in half */
        FILE *in = fopen("tests/fixtures/interop_resnet8.safetensors", "rb");
        static char buf[1 << 20];
        size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
        if (in) fclose(in);
        snprintf(path, sizeof path, "%s/truncated.safetensors", tmp);
        FILE *out = fopen(path, "wb");
        if (out) fwrite(buf, 1, n / 2, out), fclose(out);
        float before = params_value(&f.ps, 0)[0];
        Status st = state_dict_load(&f.ps, f.count, path, 0, "resnet8", &err);
        EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "truncated.safetensors"), "truncated: %d %s", st, err.text);
        EXPECT(params_value(&f.ps, 0)[0] == before, "a failed load changed the weights");
        printf("truncated: %s\n", err.text);
        st = state_dict_load(&f.ps, f.count, "/nonexistent/w.safetensors", 0, "resnet8", &err);
        EXPECT(st == LOCUS_ERR_IO && strstr(err.text, "/nonexistent/w.safetensors"), "missing file: %d %s", st, err.text);
        fixture_model_free(&f);
    }
}

/* A one-tensor safetensors file in memory: name "t", the given dtype, shape [n], raw bytes. */
static int parse_one(StFile *f, char *mem, size_t cap, const char *dtype, const void *bytes, size_t nbytes, int n) {
    char header[256];
    int hl = snprintf(header, sizeof header, "{\"t\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,%zu]}}", dtype,
                      n, nbytes);
    while ((8 + hl) % 8) header[hl++] = ' ';
    uint64_t len = (uint64_t)hl;
    if (8 + (size_t)hl + nbytes > cap) return 0;
    memcpy(mem, &len, 8);
    memcpy(mem + 8, header, (size_t)hl);
    memcpy(mem + 8 + hl, bytes, nbytes);
    ErrorMsg err;
    if (safetensors_parse(f, mem, 8 + (size_t)hl + nbytes, "mem", &err)) return printf("%s\n", err.text), 0;
    return 1;
}

static void test_conversions(void) {
    static char mem[1024];
    StFile f;
    ErrorMsg err;
    float out[6];
    const double d[3] = {1.5, -0.1, 1e-30};
    if (parse_one(&f, mem, sizeof mem, "F64", d, sizeof d, 3)) {
        EXPECT(!state_dict_tensor_f32(&f, &f.tensors[0], out, &err), "%s", err.text);
        EXPECT(out[0] == 1.5f && out[1] == -0.1f && out[2] == 1e-30f, "F64: %g %g %g", out[0], out[1], out[2]);
        safetensors_close(&f);
    }
    /* F16: 1.0, -2.5, smallest subnormal 2^-24, largest normal 65504, +inf, -0 */
    const uint16_t h[6] = {0x3c00, 0xc100, 0x0001, 0x7bff, 0x7c00, 0x8000};
    if (parse_one(&f, mem, sizeof mem, "F16", h, sizeof h, 6)) {
        EXPECT(!state_dict_tensor_f32(&f, &f.tensors[0], out, &err), "%s", err.text);
        EXPECT(out[0] == 1.0f && out[1] == -2.5f && out[2] == ldexpf(1, -24) && out[3] == 65504.0f &&
                   isinf(out[4]) && out[4] > 0 && out[5] == 0 && signbit(out[5]),
               "F16: %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5]);
        safetensors_close(&f);
    }
    const uint16_t b[3] = {0x3f80, 0xc020, 0x3dcd}; /* 1.0, -2.5, ~0.1 */
    if (parse_one(&f, mem, sizeof mem, "BF16", b, sizeof b, 3)) {
        EXPECT(!state_dict_tensor_f32(&f, &f.tensors[0], out, &err), "%s", err.text);
        EXPECT(out[0] == 1.0f && out[1] == -2.5f && fabsf(out[2] - 0.1f) < 1e-3f, "BF16: %g %g %g", out[0], out[1],
               out[2]);
        safetensors_close(&f);
    }
    const int64_t i[2] = {1, 2};
    if (parse_one(&f, mem, sizeof mem, "I64", i, sizeof i, 2)) {
        Status st = state_dict_tensor_f32(&f, &f.tensors[0], out, &err);
        EXPECT(st == LOCUS_ERR_FORMAT && strstr(err.text, "I64") && strstr(err.text, "'t'"), "I64: %s", err.text);
        safetensors_close(&f);
    }
}

/* Non-trivial BN running statistics, so that eval-mode logits depend on them. */
static void perturb_buffers(FixtureModel *f) {
    Rng rng;
    rng_seed(&rng, 11);
    for (int h = 0; h < f->count; h++) {
        const ParamInfo *p = &f->ps.info[h];
        float *v = params_value(&f->ps, h);
        int is_var = strstr(p->name, "running_var") != NULL, is_bn_w = strstr(p->name, "bn") && strstr(p->name, "weight");
        if (p->kind != PARAM_BUFFER && !is_bn_w) continue;
        for (size_t k = 0; k < p->numel; k++) {
            float u = (float)(rng_u64(&rng) >> 40) / (float)(1 << 24);
            v[k] = is_var || is_bn_w ? 0.5f + u : 0.2f * (u - 0.5f);
        }
    }
}

/* Saves a locus-initialised arch (perturbed BN statistics) with state_dict_save, reloads it bit for bit,
 * and writes the batch and locus's logits next to it; appends "--check ARCH W IO" to args. */
static void prepare_to_pytorch(const char *arch, char *args, size_t cap) {
    FixtureModel f, g;
    if (!fixture_model_open(&f, arch, 1)) return;
    if (!fixture_model_open(&g, arch, 1)) return fixture_model_free(&f);
    perturb_buffers(&f);
    char w[300], io[300];
    snprintf(w, sizeof w, "%s/%s.safetensors", tmp, arch);
    snprintf(io, sizeof io, "%s/%s_io.safetensors", tmp, arch);
    ErrorMsg err;
    const char *meta[] = {"locus_model", arch, NULL};
    EXPECT(state_dict_save(&f.ps, f.count, w, meta, &err) == LOCUS_OK, "save: %s", err.text);
    EXPECT(state_dict_load(&g.ps, g.count, w, 0, arch, &err) == LOCUS_OK, "reload: %s", err.text);
    EXPECT(!memcmp(f.ps.values, g.ps.values, f.ps.numel_total * sizeof(float)), "reloaded weights differ");
    StFile st;
    if (!safetensors_open(&st, w, &err)) {
        EXPECT(st.count == f.count, "export holds %d tensors, the model %d", st.count, f.count);
        const char *fmt = safetensors_meta(&st, "format");
        EXPECT(fmt && !strcmp(fmt, "pt"), "format metadata 'pt'");
        safetensors_close(&st);
    }
    size_t nx = 0;
    float *x = fixture_tensor(FIXTURE_IO, "x", &nx);
    float logits[FIXTURE_N * 10];
    if (x && !model_predict(&f.model, &f.mt, x, FIXTURE_N, 2, logits, &err)) {
        StEntry e[2] = {{"x", shape4(FIXTURE_N, 1, 28, 28), x}, {"logits", shape2(FIXTURE_N, 10), logits}};
        EXPECT(safetensors_write(io, e, 2, NULL, &err) == LOCUS_OK, "%s", err.text);
        size_t len = strlen(args);
        snprintf(args + len, cap - len, " --check %s %s %s", arch, w, io);
    } else {
        EXPECT(0, "predict: %s", err.text);
    }
    free(x);
    fixture_model_free(&f);
    fixture_model_free(&g);
}

/* One python process for every model (importing torch is the slow part). */
static void test_to_pytorch(void) {
    char args[2000] = "", cmd[2200], out[4096];
    prepare_to_pytorch("resnet8", args, sizeof args);
    prepare_to_pytorch("vit-micro", args, sizeof args);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/ref/check_interop.py%s", args);
    int rc = access("/usr/bin/python3", X_OK) ? 77 : run_captured(cmd, out, sizeof out);
    if (rc == 77)
        printf("locus -> PyTorch skipped: /usr/bin/python3 with torch is not available\n");
    else
        EXPECT(rc == 0 && strstr(out, "check_interop vit-micro"), "check_interop.py failed (exit %d)", rc);
}

int main(void) {
    if (!mkdtemp(tmp)) return printf("cannot create a temp dir\n"), 1;
    test_from_pytorch("resnet8");
    test_from_pytorch("vit-micro");
    test_bad_files();
    test_conversions();
    test_to_pytorch();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) printf("could not remove %s\n", tmp);
    return expect_report();
}
