/* grad_cases_misc.c — gradient checks for pooling, resizing, GELU, dropout and the loss layers.
 * Inputs that make a layer non-smooth are chosen so that the +/- eps probes never cross a kink:
 * maxpool gets a random permutation of values 0.1 apart (no window has two values within 2 eps), and
 * dropout's mask is fixed within a case because ctx->step does not change between evaluations. */
#include <stdlib.h>

#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/loss.h"
#include "layers/pool.h"
#include "layers/resize.h"
#include "locus/rng.h"

static Tensor *one_layer(void *user, Tape *t, Tensor *const *in, int n_in) {
    return tape_call(t, (const Layer *)user, in, n_in);
}

/* n distinct values (k - n/2) * 0.1 in a random order. */
static float *distinct_values(size_t n, uint64_t seed) {
    float *v = malloc(n * sizeof *v);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) v[i] = ((float)i - (float)n / 2) * 0.1f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(&r, i + 1);
        float tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
    return v;
}

static int check_maxpool(int k, int s, int p, Shape shape, uint64_t seed, const char *name) {
    MaxPool2d l;
    maxpool2d_init(&l, name, k, s, p);
    float *x = distinct_values(shape_numel(&shape), seed);
    int bad = gradcheck_run(&(GradcheckCase){.name = name, .fn = one_layer, .user = &l, .n_in = 1,
                                             .in_shape = {shape}, .in_data = {x}, .seed = seed});
    free(x);
    return bad;
}

int grad_cases_misc(void) {
    int bad = 0;
    bad += check_maxpool(2, 2, 0, shape4(2, 3, 6, 6), 11, "maxpool k2 s2");
    bad += check_maxpool(3, 2, 1, shape4(2, 2, 7, 6), 12, "maxpool k3 s2 p1");
    bad += check_maxpool(3, 1, 1, shape4(1, 2, 5, 5), 13, "maxpool k3 s1 p1 (overlapping)");

    AvgPool2d ap;
    avgpool2d_init(&ap, "avgpool k3 s2 p1", 3, 2, 1);
    bad += gradcheck_run(&(GradcheckCase){.name = "avgpool k3 s2 p1", .fn = one_layer, .user = &ap, .n_in = 1,
                                          .in_shape = {shape4(2, 3, 7, 6)}, .seed = 21});
    AvgPool2d ap2;
    avgpool2d_init(&ap2, "avgpool k2 s2", 2, 2, 0);
    bad += gradcheck_run(&(GradcheckCase){.name = "avgpool k2 s2", .fn = one_layer, .user = &ap2, .n_in = 1,
                                          .in_shape = {shape4(2, 2, 5, 4)}, .seed = 22});

    AdaptiveAvgPool2d aap;
    adaptive_avgpool2d_init(&aap, "adaptive 5x7->3x2", 3, 2);
    bad += gradcheck_run(&(GradcheckCase){.name = "adaptive 5x7->3x2", .fn = one_layer, .user = &aap, .n_in = 1,
                                          .in_shape = {shape4(2, 3, 5, 7)}, .seed = 31});
    AdaptiveAvgPool2d aap2;
    adaptive_avgpool2d_init(&aap2, "adaptive 3x4->5x6 (up)", 5, 6);
    bad += gradcheck_run(&(GradcheckCase){.name = "adaptive 3x4->5x6 (up)", .fn = one_layer, .user = &aap2,
                                          .n_in = 1, .in_shape = {shape4(1, 2, 3, 4)}, .seed = 32});

    GlobalAvgPool gap;
    global_avgpool_init(&gap, "global_avgpool");
    bad += gradcheck_run(&(GradcheckCase){.name = "global_avgpool", .fn = one_layer, .user = &gap, .n_in = 1,
                                          .in_shape = {shape4(3, 4, 5, 3)}, .seed = 41});

    ResizeBilinear up, down, one;
    resize_bilinear_init(&up, "resize 4x5->7x9", 7, 9);
    resize_bilinear_init(&down, "resize 8x7->3x4", 3, 4);
    resize_bilinear_init(&one, "resize 3x4->1x6", 1, 6);
    bad += gradcheck_run(&(GradcheckCase){.name = "resize 4x5->7x9", .fn = one_layer, .user = &up, .n_in = 1,
                                          .in_shape = {shape4(2, 2, 4, 5)}, .seed = 51});
    bad += gradcheck_run(&(GradcheckCase){.name = "resize 8x7->3x4", .fn = one_layer, .user = &down, .n_in = 1,
                                          .in_shape = {shape4(2, 2, 8, 7)}, .seed = 52});
    bad += gradcheck_run(&(GradcheckCase){.name = "resize 3x4->1x6", .fn = one_layer, .user = &one, .n_in = 1,
                                          .in_shape = {shape4(1, 2, 3, 4)}, .seed = 53});

    Gelu gelu;
    gelu_init(&gelu, "gelu");
    bad += gradcheck_run(&(GradcheckCase){.name = "gelu", .fn = one_layer, .user = &gelu, .n_in = 1,
                                          .in_shape = {shape3(2, 5, 7)}, .seed = 61});

    Dropout drop;
    dropout_init(&drop, "dropout p0.3", 0.3f);
    bad += gradcheck_run(&(GradcheckCase){.name = "dropout p0.3 (train)", .fn = one_layer, .user = &drop,
                                          .n_in = 1, .in_shape = {shape2(6, 20)}, .max_checks = 120, .seed = 71});

    /* softmax_ce: labels as a fixed, non-differentiated input */
    enum { N = 5, K = 4 };
    static const float labels[N] = {0, 3, 1, 2, 3};
    SoftmaxCE ce, ce_ls;
    softmax_ce_init(&ce, "softmax_ce", 0.0f);
    softmax_ce_init(&ce_ls, "softmax_ce ls0.1", 0.1f);
    bad += gradcheck_run(&(GradcheckCase){.name = "softmax_ce", .fn = one_layer, .user = &ce, .n_in = 2,
                                          .in_shape = {shape2(N, K), shape1(N)}, .in_no_grad = {0, 1},
                                          .in_data = {NULL, labels}, .seed = 81});
    bad += gradcheck_run(&(GradcheckCase){.name = "softmax_ce ls0.1", .fn = one_layer, .user = &ce_ls, .n_in = 2,
                                          .in_shape = {shape2(N, K), shape1(N)}, .in_no_grad = {0, 1},
                                          .in_data = {NULL, labels}, .seed = 82});

    /* sigmoid_bce: soft and hard targets in [0, 1] */
    enum { M = 24 };
    float targets[M];
    Rng r;
    rng_seed(&r, 91);
    for (int i = 0; i < M; i++) targets[i] = i % 3 == 0 ? (float)(i % 2) : rng_uniform(&r);
    SigmoidBCE bce;
    sigmoid_bce_init(&bce, "sigmoid_bce");
    bad += gradcheck_run(&(GradcheckCase){.name = "sigmoid_bce", .fn = one_layer, .user = &bce, .n_in = 2,
                                          .in_shape = {shape3(2, 3, 4), shape3(2, 3, 4)}, .in_no_grad = {0, 1},
                                          .in_data = {NULL, targets}, .seed = 92});
    return bad;
}
