/* test_bench_cli.c — `locus bench` runs, prints one valid JSON object with the documented keys, counts
 * FLOPs the spec's way (ResNet-32 at 32x32: 0.1377 GFLOP/img forward, within 0.5%: our count includes
 * the two 1x1 projection-shortcut convs, +0.38%), and a bad option is an error (non-zero exit).
 * Needs the CLI binary: LOCUS_BIN (set by tools/run-tests.sh); skipped (exit 77) without it. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


#include "expect.h"

/* Runs `ENV $LOCUS_BIN bench ARGS` (ENV: environment assignments or ""); returns its stdout (malloc'd) and exit
 * code. */
static char *run_bench_env(const char *env, const char *bin, const char *args, int *exit_code) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=passive %s '%s' bench %s", env, bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    int status = pclose(p);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (buf) buf[len] = 0;
    return buf;
}
static char *run_bench(const char *bin, const char *args, int *exit_code) { return run_bench_env("", bin, args, exit_code); }

static double number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    EXPECT(cJSON_IsNumber(v), "key %s missing or not a number", key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static cJSON *run_json_env(const char *env, const char *bin, const char *args) {
    int rc = -1;
    char *out = run_bench_env(env, bin, args, &rc);
    EXPECT(out != NULL, "popen failed for %s", args);
    EXPECT(rc == 0, "exit code %d for bench %s", rc, args);
    cJSON *o = out ? cJSON_Parse(out) : NULL;
    EXPECT(cJSON_IsObject(o), "output is not one JSON object: %s", out ? out : "(none)");
    free(out);
    return cJSON_IsObject(o) ? o : NULL;
}
static cJSON *run_json(const char *bin, const char *args) { return run_json_env("", bin, args); }

/* Trainable scalars of CIFAR ResNet-(6n+2) with projection shortcuts, from the architecture (spec
 * local-learning.md §0.1): conv weights without bias, BN gamma + beta, the linear classifier with bias. */
static double resnet_params(int n, int classes) {
    double p = 3 * 16 * 9 + 2 * 16, cin = 16;
    for (int stage = 0, c = 16; stage < 3; stage++, c *= 2)
        for (int i = 0; i < n; i++) {
            p += cin * c * 9 + c * c * 9 + 2 * (2 * c);
            if (cin != c) p += cin * c + 2 * c;
            cin = c;
        }
    return p + 64 * classes + classes;
}

int main(void) {
    const char *bin = getenv("LOCUS_BIN");
    if (!bin || !*bin) {
        printf("LOCUS_BIN is not set (run through make test)\n");
        return 77;
    }

    cJSON *o = run_json(bin, "--model resnet8 --batch 4 --threads 1 --mode train --steps 1 --warmup 0 --json");
    if (o) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
        EXPECT(cJSON_IsString(model) && !strcmp(model->valuestring, "resnet8"), "model");
        EXPECT(cJSON_IsString(mode) && !strcmp(mode->valuestring, "train"), "mode");
        EXPECT(number(o, "batch") == 4 && number(o, "threads") == 1, "batch/threads echoed");
        const cJSON *conv = cJSON_GetObjectItemCaseSensitive(o, "conv3x3");
        EXPECT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "isa")) && cJSON_IsString(conv), "isa, conv3x3");
        double ips = number(o, "img_per_s"), med = number(o, "step_s_median");
        EXPECT(ips > 0 && isfinite(ips), "img_per_s = %g", ips);
        EXPECT(fabs(ips - 4 / med) < 1e-6 * ips, "img_per_s %g != batch / median %g", ips, 4 / med);
        EXPECT(number(o, "step_s_min") <= med && med <= number(o, "step_s_max"), "min <= median <= max");
        double fwd = number(o, "gflop_fwd_per_img"), per = number(o, "gflop_per_img");
        EXPECT(fwd > 0 && fabs(per - 3 * fwd) < 1e-12, "train FLOPs = 3 x forward (%g vs %g)", per, fwd);
        EXPECT(fabs(number(o, "gflop_per_s") - per * ips) < 1e-6 * per * ips, "gflop_per_s = gflop_per_img * img_per_s");
        EXPECT(number(o, "rss_peak_bytes") > 0, "rss_peak_bytes");
        EXPECT(number(o, "params") == resnet_params(1, 10), "params %.0f, the architecture has %.0f",
               number(o, "params"), resnet_params(1, 10));
        EXPECT(isfinite(number(o, "loss_last")), "loss_last finite");
        const cJSON *mem = cJSON_GetObjectItemCaseSensitive(o, "mem_peak_bytes");
        EXPECT(cJSON_IsObject(mem), "mem_peak_bytes is an object");
        EXPECT(number(mem, "act") > 0 && number(mem, "param") > 0 && number(mem, "optim") > 0, "tags");
        EXPECT(number(mem, "total") >= number(mem, "act"), "total >= act");
        cJSON_Delete(o);
    }

    o = run_json(bin, "--model resnet32 --batch 2 --threads 1 --mode infer --steps 1 --warmup 0 --json");
    if (o) {
        double g = number(o, "gflop_per_img");
        EXPECT(fabs(g / 0.1377 - 1) < 0.005, "resnet32 forward GFLOP/img %.6f, spec 0.1377", g);
        EXPECT(fabs(number(o, "gflop_fwd_per_img") - g) < 1e-12, "infer FLOPs = forward");
        EXPECT(number(o, "params") == resnet_params(5, 10), "resnet32 params %.0f, the architecture has %.0f",
               number(o, "params"), resnet_params(5, 10));
        EXPECT(number(o, "gflop_fwd_per_img_network") == number(o, "gflop_fwd_per_img"),
               "resnet32 computes its whole network");
        const cJSON *mem = cJSON_GetObjectItemCaseSensitive(o, "mem_peak_bytes");
        EXPECT(cJSON_IsObject(mem) && number(mem, "optim") == 0, "no optimizer state in infer mode");
        cJSON_Delete(o);
    }

    /* vit-tiny: the network is the spec's 0.366 GFLOP forward per image; the step computes less (the last block
     * for the class token only, 0.3153), and says so */
    o = run_json(bin, "--model vit-tiny --batch 2 --threads 1 --mode infer --steps 1 --warmup 0 --json");
    if (o) {
        const double net = number(o, "gflop_fwd_per_img_network"), own = number(o, "gflop_fwd_per_img");
        EXPECT(fabs(net / 0.366 - 1) < 0.005, "vit-tiny network forward GFLOP/img %.6f, spec 0.366", net);
        EXPECT(fabs(own / 0.3153 - 1) < 0.001 && own < net, "vit-tiny computes %.6f of %.6f GFLOP/img", own, net);
        cJSON_Delete(o);
    }

    const char *bad[] = {"--bogus-option 3", "--mode sideways", "--batch 0", "--steps 1.5", "stray"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[128];
        snprintf(args, sizeof args, "--model resnet8 --batch 2 --steps 1 --warmup 0 %s 2>/dev/null", bad[i]);
        int rc = 0;
        free(run_bench(bin, args, &rc));
        EXPECT(rc != 0, "bad option '%s' exited 0", bad[i]);
    }
    /* a misspelt kernel choice in the environment is an error, not silently the default */
    const char *bad_env[] = {"LOCUS_CONV3X3=wino", "LOCUS_ISA=avx9000"};
    for (size_t i = 0; i < sizeof bad_env / sizeof *bad_env; i++) {
        int rc = 0;
        free(run_bench_env(bad_env[i], bin, "--model resnet8 --batch 2 --steps 1 --warmup 0 2>/dev/null", &rc));
        EXPECT(rc != 0, "%s exited 0", bad_env[i]);
    }
    /* LOCUS_CONV3X3=direct is reported as such */
    o = run_json_env("LOCUS_CONV3X3=direct", bin, "--model resnet8 --batch 2 --steps 1 --warmup 0 --json");
    if (o) {
        const cJSON *conv = cJSON_GetObjectItemCaseSensitive(o, "conv3x3");
        EXPECT(cJSON_IsString(conv) && !strcmp(conv->valuestring, "direct"), "LOCUS_CONV3X3=direct not reported");
        cJSON_Delete(o);
    }

    if (expect_failures) fprintf(stderr, "%d failure(s)\n", expect_failures);
    else printf("test_bench_cli: all checks passed\n");
    return expect_failures ? 1 : 0;
}
