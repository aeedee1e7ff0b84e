/* grad_cases_basic.c — gradient checks for ReLU and for a whole CIFAR ResNet (resnet8: stem, three
 * stages with projection shortcuts, head).
 * The whole model is checked in eval mode (BN with running statistics). In training mode, batch-statistics
 * BN couples every ReLU of the batch, and float32 central differences over thousands of ReLU kinks do not
 * converge (measured: bn1.bias numeric -0.178 / -0.174 / -0.169 at eps 1e-3 / 3e-4 / 1e-4 against an
 * analytic -0.154 that PyTorch confirms). Training-mode whole-model gradients are therefore checked
 * against PyTorch in test_golden.c (rel. error < 1e-6), and training-mode BN inside a residual block by
 * finite differences in grad_cases_core.c. */
#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/activation.h"
#include <string.h>

#include "locus/model.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

static Tensor *whole_model(void *user, Tape *t, Tensor *const *in, int n_in) {
    (void)n_in;
    return model_forward((Model *)user, t, in[0]);
}

static int check_resnet(int eval_mode) {
    /* eval_mode = 0 is not used: see the top of this file */
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Model m;
    ErrorMsg err;
    ModelSpec spec = {"resnet8", 1, 8, 8, 3};
    CHECK(model_create(&m, &spec, &ps, &err) == LOCUS_OK, "%s", err.text);
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 11);
    model_init_weights(&m, &rng);
    /* non-trivial BN affine parameters and running statistics */
    for (int h = 0; h < ps.count; h++) {
        const char *n = ps.info[h].name;
        float *v = params_value(&ps, h);
        for (size_t i = 0; i < ps.info[h].numel; i++) {
            if (strstr(n, "running_var")) v[i] = 0.5f + rng_uniform(&rng);
            else if (strstr(n, "running_mean")) v[i] = 0.2f * rng_normal(&rng);
            else if (strstr(n, "bn") || strstr(n, "shortcut.1")) v[i] += 0.2f * rng_normal(&rng);
        }
    }
    int bad = gradcheck_run(&(GradcheckCase){.name = eval_mode ? "resnet8 (eval mode)" : "resnet8 (training mode)",
                                             .fn = whole_model,
                                             .user = &m,
                                             .params = &ps,
                                             .n_in = 1,
                                             .in_shape = {shape4(4, 1, 8, 8)},
                                             .eval_mode = eval_mode,
                                             .max_checks = 12,
                                             .eps = 1e-3,
                                             .seed = 5});
    model_free(&m);
    params_free(&ps);
    return bad;
}

int grad_cases_basic(void) {
    int bad = 0;
    Relu relu;
    relu_init(&relu, "relu");
    bad += gradcheck_run(&(GradcheckCase){
        .name = "relu", .fn = one_layer, .user = &relu, .n_in = 1, .in_shape = {shape4(2, 3, 4, 5)}, .seed = 1});
    bad += check_resnet(1);
    return bad;
}
