/* test_bench_profile.c — `locus bench --profile`: the per-layer table adds up.
 *  - the JSON has a profile with rows; the conv rows' forward FLOPs per step sum to the bench's forward
 *    FLOPs per image x batch (every FLOP the accounting counts is in a conv or linear row);
 *  - ResNet-8 has 9 convolutions (stem, 3 x 2 in the blocks, 2 projection shortcuts): their rows hold 9
 *    layers called once per step;
 *  - the timed parts never exceed the step (other_s >= 0 up to clock noise) and every time is >= 0;
 *  - the table covers the timed steps only (warm-up excluded): calls per step are whole numbers;
 *  - the FTZ flag is echoed; and the in-process Profile drops calls, and counts them, once full;
 *  - inference mode profiles every layer too: ResNet-32's 33 convolutions (1 + 30 + 2) all have rows
 *    (an inference tape records nothing, so its table must not be sized from the tape's records).
 * Needs LOCUS_BIN for the CLI part (set by tools/run-tests.sh); that part is skipped without it. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "expect.h"
#include "locus/profile.h"

static char *run(const char *cmd, int *rc) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (buf) buf[len] = 0;
    return buf;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    EXPECT(cJSON_IsNumber(v), "key %s missing", k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* convs: the number of convolutions of the model, each called once per step */
static void check_cli(const char *bin, const char *model, const char *mode, int convs) {
    char cmd[1024];
    const int batch = 4;
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=passive '%s' bench --model %s --mode %s --batch %d --threads 1 --steps 2 --warmup 1 "
             "--profile --json",
             bin, model, mode, batch);
    int rc = -1;
    char *out = run(cmd, &rc);
    EXPECT(out && rc == 0, "bench --profile exited %d", rc);
    cJSON *o = out ? cJSON_Parse(out) : NULL;
    free(out);
    EXPECT(cJSON_IsObject(o), "bench --profile --json printed no JSON object");
    if (!o) return;
    EXPECT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ftz")), "ftz is on by default");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "profile");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(p, "rows");
    EXPECT(cJSON_IsArray(rows) && cJSON_GetArraySize(rows) > 3, "profile.rows");
    double fwd_flop = 0, conv_layers = 0, conv_calls = 0, timed = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(row, "name");
        EXPECT(cJSON_IsString(name), "row without a name");
        double f = num(row, "fwd_s"), b = num(row, "bwd_s"), calls = num(row, "calls");
        EXPECT(f >= 0 && b >= 0, "negative time in row %s", cJSON_IsString(name) ? name->valuestring : "?");
        EXPECT(fabs(calls - round(calls)) < 1e-9, "calls per step %g not whole (warm-up counted?)", calls);
        timed += f + b;
        fwd_flop += num(row, "fwd_flop");
        if (cJSON_IsString(name) && !strncmp(name->valuestring, "conv2d", 6)) {
            conv_layers += num(row, "layers");
            conv_calls += calls;
            if (!strcmp(mode, "train"))
                EXPECT(num(row, "bwd_flop") >= num(row, "fwd_flop"), "conv backward counts dW at least");
        }
    }
    double want = num(o, "gflop_fwd_per_img") * 1e9 * batch;
    EXPECT(fabs(fwd_flop - want) <= 1e-6 * want, "rows' forward FLOPs %g != bench's %g", fwd_flop, want);
    EXPECT(conv_layers == convs && conv_calls == convs, "%s %s convs: %g layers, %g calls per step, want %d", model,
           mode, conv_layers, conv_calls, convs);
    double step = num(p, "step_s");
    EXPECT(step > 0 && timed <= step * 1.001 + 1e-5, "layers' time %g > step %g", timed, step);
    EXPECT(num(p, "other_s") > -1e-4, "other_s %g", num(p, "other_s"));
    EXPECT(num(p, "tape_zero_grads_s") >= 0 && num(p, "optim_s") >= 0, "step parts >= 0");
    cJSON_Delete(o);
}

static void check_table(void) {
    Profile p;
    ErrorMsg err;
    EXPECT(profile_init(&p, 4, &err) == LOCUS_OK, "profile_init");
    Layer layers[200];
    float d = 0;
    Tensor x = {.shape = shape2(2, 3), .data = &d}, *in[1] = {&x};
    for (int i = 0; i < 200; i++) profile_add_forward(&p, &layers[i], in, &x, 0.5);
    EXPECT(p.n == p.cap / 2, "a %d-slot table holds %d layers, want half", p.cap, p.n);
    EXPECT(p.dropped == 200 - p.n, "dropped %d, want %d", p.dropped, 200 - p.n);
    profile_add_backward(&p, &layers[0], in, 0.25);
    const ProfileEntry *es[200];
    int n = profile_entries(&p, es, 200);
    EXPECT(n == p.n && es[0]->layer == &layers[0] && es[n - 1]->layer == &layers[n - 1], "first-seen order");
    EXPECT(es[0]->fwd_calls == 1 && es[0]->bwd_calls == 1 && es[0]->fwd_s == 0.5 && es[0]->bwd_s == 0.25,
           "times accumulate per layer");
    EXPECT(shape_equal(&es[0]->in_shape, &x.shape), "first call's shape kept");
    profile_reset(&p);
    EXPECT(p.n == 0 && p.dropped == 0 && profile_entries(&p, es, 200) == 0, "reset empties the table");
    profile_free(&p);
}

int main(void) {
    check_table();
    const char *bin = getenv("LOCUS_BIN");
    if (bin && *bin) {
        check_cli(bin, "resnet8", "train", 9);
        check_cli(bin, "resnet32", "infer", 33);
    }
    else printf("LOCUS_BIN not set: CLI part skipped\n");
    return expect_report();
}
