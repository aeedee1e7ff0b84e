/* test_recompute.c — --recompute-units (methods/recompute.h), on real Fashion-MNIST batches: end-to-end with
 * gradient checkpointing gives the same loss, bit-identical parameter gradients and BN running statistics as
 * plain end-to-end (ResNet-20 and the ViT), with a lower activation peak; it is refused, with a hint, for
 * local methods and with Replacement Learning. (Planned == measured memory: test_memplan.c.) */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "train/session_internal.h"
#include "session_step.h"
#include "expect.h"

static TrainConfig config(const char *model, int recompute) {
    TrainConfig c;
    train_config_defaults(&c);
    snprintf(c.model, sizeof c.model, "%s", model);
    c.batch = 16;
    c.limit_train = 32;
    c.limit_test = 16;
    c.threads = 2;
    c.recompute_units = recompute;
    return c;
}

/* Values (kind PARAM_BUFFER) or gradients (PARAM_TRAINABLE) of a and b bit for bit equal; n counts them. */
static int same(const Session *a, const Session *b, ParamKind kind, size_t *n) {
    *n = 0;
    for (int h = 0; h < a->ps.count; h++) {
        const ParamInfo *pi = &a->ps.info[h];
        if (pi->kind != kind) continue;
        const float *va = kind == PARAM_TRAINABLE ? params_grad(&a->ps, h) : params_value(&a->ps, h);
        const float *vb = kind == PARAM_TRAINABLE ? params_grad(&b->ps, h) : params_value(&b->ps, h);
        if (memcmp(va, vb, pi->numel * sizeof *va)) {
            printf("  %s differs\n", pi->name);
            return 0;
        }
        *n += pi->numel;
    }
    return 1;
}

static void test_same_as_e2e(const char *model) {
    TrainConfig a = config(model, 0), b = config(model, 1);
    Session sa, sb;
    double la, lb;
    if (session_one_step(&sa, &a, &la)) {
        EXPECT(0, "%s: e2e step failed", model);
        return;
    }
    if (session_one_step(&sb, &b, &lb)) {
        EXPECT(0, "%s: e2e --recompute-units step failed", model);
        session_close(&sa);
        return;
    }
    size_t ng, nb;
    EXPECT(la == lb, "%s: loss %.9g == %.9g", model, la, lb);
    EXPECT(same(&sa, &sb, PARAM_TRAINABLE, &ng) && ng > 0, "%s: gradients bit-identical (%zu)", model, ng);
    EXPECT(same(&sa, &sb, PARAM_BUFFER, &nb), "%s: BN running statistics bit-identical (%zu), updated once", model,
           nb);
    size_t act_a = sa.mt.peak[MEM_TAG_ACT], act_b = sb.mt.peak[MEM_TAG_ACT];
    EXPECT(act_b < act_a, "%s: ACT peak with recompute %zu < without %zu", model, act_b, act_a);
    printf("%s: ACT peak %zu -> %zu bytes with --recompute-units (%.0f%%)\n", model, act_a, act_b,
           100.0 * act_b / act_a);
    session_close(&sa);
    session_close(&sb);
}

static void test_refused(const char *method, int replace_every) {
    TrainConfig c = config("resnet20", 1);
    snprintf(c.method, sizeof c.method, "%s", method);
    if (strcmp(method, "e2e")) c.k = 2;
    c.replace_every = replace_every;
    Session s;
    ErrorMsg err;
    Status st = session_open(&s, &c, 0, &err);
    EXPECT(st == LOCUS_ERR_ARG && strstr(err.text, "--recompute-units") && strstr(err.text, "hint:"),
           "--recompute-units with %s (replace every %d) refused with a hint: %s", method, replace_every,
           st ? err.text : "(accepted)");
    session_close(&s);
}

int main(void) {
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK)) {
        printf("skip: Fashion-MNIST not installed\n");
        return 77;
    }
    test_same_as_e2e("resnet20");
    test_same_as_e2e("vit-micro");
    test_refused("dgl", -1);
    test_refused("e2e", 2);
    return expect_report();
}
