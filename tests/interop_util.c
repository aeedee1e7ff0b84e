/* interop_util.c — see interop_util.h. */
#include "interop_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int fixture_model_open(FixtureModel *f, const char *arch, int in_c) {
    memset(f, 0, sizeof *f);
    params_init(&f->ps, &f->mt);
    ModelSpec spec = {arch, in_c, 28, 28, 10};
    ErrorMsg err;
    if (model_create(&f->model, &spec, &f->ps, &err) || (f->count = f->ps.count, params_finalize(&f->ps, &err))) {
        printf("cannot build %s: %s\n", arch, err.text);
        params_free(&f->ps);
        return 0;
    }
    Rng rng;
    rng_seed(&rng, 3);
    model_init_weights(&f->model, &rng);
    return 1;
}

void fixture_model_free(FixtureModel *f) {
    if (f->model.params) model_free(&f->model);
    params_free(&f->ps);
}

float *fixture_tensor(const char *path, const char *name, size_t *n) {
    StFile st;
    ErrorMsg err;
    if (safetensors_open(&st, path, &err)) {
        printf("%s\n", err.text);
        return NULL;
    }
    const StTensor *t = safetensors_find(&st, name);
    float *v = t ? malloc(t->numel * sizeof(float) + 1) : NULL;
    if (!v || safetensors_read_f32(&st, name, NULL, v, &err)) {
        printf("%s: no F32 tensor '%s'\n", path, name);
        free(v);
        v = NULL;
    } else {
        *n = t->numel;
    }
    safetensors_close(&st);
    return v;
}

double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

int run_captured(const char *cmd, char *out, size_t cap) {
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    printf("  $ %s\n  %s", cmd, out);
    if (n && out[n - 1] != '\n') printf("\n");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}
