/* test_layers_misc.c — forward and backward values of pooling, resize, GELU, dropout and the loss
 * layers against PyTorch, plus hand-checked properties (adaptive bins, align_corners corners, dropout
 * keep rate and thread-count independence) and the shape errors out_shape reports.
 *
 * Inputs are exact in float: x[i] = ((37 i) mod 7 - 3) / 2 (so every 3x3 window has ties), and the
 * upstream gradient is dy[i] = (i mod 5) / 2 - 1.
 * The expected arrays below were produced offline with PyTorch 1.13 (/usr/bin/python3) by:
 *   F.max_pool2d(x, 3, 2, 1) and F.avg_pool2d(x, 3, 2, 1) on 1x2x5x6; F.adaptive_avg_pool2d(x, (3, 2))
 *   on 1x1x5x7; x.mean((2, 3)) on 2x3x2x2; F.interpolate(x, size, mode='bilinear', align_corners=True)
 *   for 1x1x3x4 -> 5x7 and 1x1x6x5 -> 4x3; each followed by y.backward(dy), giving *_y and *_dx;
 *   F.gelu on the 8 points of gelu_x with dy = 1; F.cross_entropy(ce_logits, [2, 0, 3],
 *   label_smoothing = 0 / 0.1) and its gradient; F.cross_entropy on ce_big with labels [0, 2];
 *   F.binary_cross_entropy_with_logits(bce_x, bce_t) and its gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/loss.h"
#include "layers/pool.h"
#include "layers/resize.h"
#include "locus/tape.h"

/* ---- expected values (PyTorch, see the header) ---- */
static const float maxpool_y[18] = {1, 1.5, 1.5, 1, 1, 1.5, 1.5, 1, 1, 1.5, 1.5, 1, 1, 1.5, 1.5, 1, 1, 1.5};
static const float maxpool_dx[60] = {
    0, 0, 0, -0.5, 0, 0, -0.5, 0, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.5, 0, 0, 0.5, 0, 0,
    0, 0, 0, 0, -0.5, 0, 0, 0, 0.5, 0, 0, 0, 0, 0, 0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 0, -0.5, 0, 0, 0, 0
};
static const float avgpool_y[18] = {
    -0.277777791, 0, 0.166666672, -0.055555556, -0.333333343, 0.111111112, -0.055555556, -0.055555556,
    -0.277777791, 0.222222224, 0.166666672, -0.055555556, -0.277777791, 0.111111112, 0.166666672,
    0.055555556, -0.277777791, 0.277777791
};
static const float avgpool_dx[60] = {
    -0.111111112, -0.166666672, -0.055555556, -0.055555556, 0, 0, -0.055555556, -7.4505806e-09,
    0.055555556, -0.055555556, -0.111111112, -0.111111112, 0.055555556, 0.166666672, 0.111111112, 0,
    -0.111111112, -0.111111112, 0, 0.111111119, 0.111111112, 0.055555556, -0.055555556, -0.055555556,
    -0.055555556, -0.055555556, 0, 0.055555556, 0.055555556, 0.055555556, 0.111111112, 0, -0.111111112,
    -0.166666672, -0.055555556, -0.055555556, 0.111111112, 0.055555556, -0.055555556, -7.4505806e-09,
    0.055555556, 0.055555556, 0, 0.055555556, 0.055555556, 0.166666672, 0.111111112, 0.111111112,
    -0.111111112, -0.111111112, 0, 0.111111119, 0.111111112, 0.111111112, -0.111111112, -0.166666672,
    -0.055555556, -0.055555556, 0, 0
};
static const float adaptive_y[6] = {0, 0.375, 0, 0.375, 0, 0.375};
static const float adaptive_dx[35] = {
    -0.125, -0.125, -0.125, -0.1875, -0.0625, -0.0625, -0.0625, -0.125, -0.125, -0.125, -0.145833328,
    -0.0208333321, -0.0208333321, -0.0208333321, 0, 0, 0, 0.0416666679, 0.0416666679, 0.0416666679,
    0.0416666679, 0.125, 0.125, 0.125, 0.0416666716, -0.0833333284, -0.0833333284, -0.0833333284, 0.125,
    0.125, 0.125, 0, -0.125, -0.125, -0.125
};
static const float gap_y[6] = {0, -0.375, 0.125, -0.25, 0.25, -0.125};
static const float gap_dx[24] = {
    -0.25, -0.25, -0.25, -0.25, -0.125, -0.125, -0.125, -0.125, 0, 0, 0, 0, 0.125, 0.125, 0.125, 0.125,
    0.25, 0.25, 0.25, 0.25, -0.25, -0.25, -0.25, -0.25
};
static const float resize_up_y[35] = {
    -1.5, -1, -0.5, 0, 0.5, 1, 1.5, -1.25, -0.75, -0.25, 0.25, 0.75, 0.375, 0, -1, -0.5, 0, 0.5, 1, -0.25,
    -1.5, -0.75, -0.25, 0.25, 0.75, 1.25, 0, -1.25, -0.5, 0, 0.5, 1, 1.5, 0.25, -1
};
static const float resize_up_dx[12] = {
    -1.125, 0.375, 0.25, -0.75, 0.375, -0.125, 0.125, -0.375, 0.75, -0.25, -0.375, 1.125
};
static const float resize_down_y[12] = {
    -1.5, 0.5, -1, 0.99999994, -0.50000006, -0.833333254, -1.1920929e-07, 0.833333492, 0.499999881,
    -0.999999762, 0.999999821, -0.499999762
};
static const float resize_down_dx[30] = {
    -1, 0, -0.5, 0, 0, 0.166666687, 0, 0.333333373, 0, -0.333333373, 0.333333313, 0, 0.666666627, 0,
    -0.666666627, -0.333333373, 0, 0, 0, 0.333333373, -0.166666508, 0, -1.1920929e-07, 0, 0.166666567,
    0.999999881, 0, -0.999999881, 0, -0.49999994
};
static const float gelu_y[8] = {
    -0.00404986739, -0.10021086, -0.154268786, 0, 0.149676561, 0.841344714, 2.48447585, 3.99987316
};
static const float gelu_dx[8] = {
    -0.0119456053, -0.127469152, 0.13250491, 0.5, 0.695373297, 1.08331537, 1.03761101, 1.00050366
};
static const float ce_loss[1] = {2.59826493};
static const float ce_dx[12] = {
    0.0747359395, 0.203153357, -0.288003713, 0.0101144109, -0.320597947, 0.00772441318, 0.255797386,
    0.0570761189, 0.152061909, 0.152061909, 0.00278511085, -0.306908935
};
static const float ce_ls_loss[1] = {2.55034804};
static const float ce_ls_dx[12] = {
    0.0664025992, 0.194820002, -0.263003677, 0.00178107584, -0.295597911, -0.000608921866, 0.247464016,
    0.0487427749, 0.143728569, 0.143728569, -0.00554822292, -0.281908929
};
static const float ce_big_loss[1] = {0.656630814};
static const float bce_loss[1] = {13.3619909};
static const float bce_dx[8] = {0, -0.119071767, 0.00969258323, 0, -0.0414765328, 0.110099629, 0, 0.125};

static const float gelu_x[8] = {-3, -1.5, -0.5, 0, 0.25, 1, 2.5, 4};
static const float ce_logits[12] = {1.0, 2.0, 0.5, -1.0, 0.0, -0.5, 3.0, 1.5, 2.0, 2.0, -2.0, 0.25};
static const float ce_labels[3] = {2, 0, 3};
static const float ce_big[6] = {1000, -1000, 0, -500, 500, 499};
static const float ce_big_labels[2] = {0, 2};
static const float bce_x[8] = {-100, -3, -0.5, 0, 0.7, 2, 50, 100};
static const float bce_t[8] = {0, 1, 0.3f, 0.5f, 1, 0, 1, 0};


#include "expect.h"

static float pattern_x(size_t i) { return (float)((int)((i * 37) % 7) - 3) * 0.5f; }
static float pattern_dy(size_t i) { return (float)(i % 5) * 0.5f - 1.0f; }

/* Compares n floats with tolerance atol + rtol |want|; prints the first few mismatches. */
static void expect_near(const char *what, const float *got, const float *want, size_t n, float atol) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float tol = atol + 1e-5f * fabsf(want[i]);
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            if (bad < 5) printf("FAIL %s[%zu]: got %.9g want %.9g\n", what, i, (double)got[i], (double)want[i]);
            bad++;
        }
    }
    if (bad) expect_failures++;
    printf("%-4s %s (%zu values)\n", bad ? "BAD" : "ok", what, n);
}

typedef struct Run {
    const float *const *in; /* n_in input arrays */
    Shape shape[4];
    int n_in;
    int training, threads;
    uint64_t step;
    const float *dy; /* NULL: forward only; else backward seeded with dy (numel(out) floats) */
    float *y;        /* receives the output (ny floats) */
    size_t ny;
    float *dx;       /* receives input 0's gradient when dy != NULL */
} Run;

/* Runs one layer on a fresh tape; returns the tape's status (the error text goes to err). */
static Status run_layer(const Layer *l, const Run *r, ErrorMsg *err) {
    MemTracker mt = {0};
    StepCtx ctx = {0};
    ctx.training = r->training;
    ctx.threads = r->threads ? r->threads : 1;
    ctx.seed = 1234;
    ctx.step = r->step;
    ctx.scratch_bytes = (size_t)1 << 20;
    ctx.scratch = malloc(ctx.scratch_bytes);
    Tape tape;
    CHECK(tape_init(&tape, &ctx, &mt, (size_t)16 << 20, (size_t)16 << 20, (size_t)1 << 16, err) == LOCUS_OK, "%s",
          err->text);
    TapeMark m = tape_mark(&tape);
    Tensor *in[4];
    for (int i = 0; i < r->n_in; i++)
        in[i] = tape_wrap(&tape, r->shape[i], (float *)r->in[i], i == 0 && r->dy != NULL);
    Tensor *out = tape_call(&tape, l, in, r->n_in);
    Status s = tape.status;
    if (out && s == LOCUS_OK) {
        CHECK(tensor_numel(out) == r->ny, "%s: output has %zu values, test expects %zu", l->name, tensor_numel(out),
              r->ny);
        memcpy(r->y, out->data, r->ny * sizeof(float));
        if (r->dy) {
            CHECK(tape_backward_from(&tape, out, r->dy, m) == LOCUS_OK, "%s", tape.err.text);
            memcpy(r->dx, in[0]->grad, tensor_numel(in[0]) * sizeof(float));
        }
    } else {
        *err = tape.err;
    }
    tape_release(&tape, m);
    tape_free(&tape);
    free(ctx.scratch);
    return s;
}

/* Forward + backward on the pattern input of `shape`, compared with PyTorch's y and dx. */
static void check_pattern(const char *what, const Layer *l, Shape shape, const float *want_y, size_t ny,
                          const float *want_dx) {
    size_t n = shape_numel(&shape);
    float *x = malloc(n * sizeof *x), *dx = malloc(n * sizeof *dx), *dy = malloc(ny * sizeof *dy),
          *y = malloc(ny * sizeof *y);
    for (size_t i = 0; i < n; i++) x[i] = pattern_x(i);
    for (size_t i = 0; i < ny; i++) dy[i] = pattern_dy(i);
    const float *ins[1] = {x};
    ErrorMsg err;
    Status s = run_layer(l, &(Run){.in = ins, .shape = {shape}, .n_in = 1, .training = 1, .dy = dy, .y = y,
                                   .ny = ny, .dx = dx},
                         &err);
    EXPECT(s == LOCUS_OK, "%s: %s", what, err.text);
    if (s == LOCUS_OK) {
        char name[96];
        snprintf(name, sizeof name, "%s forward", what);
        expect_near(name, y, want_y, ny, 1e-6f);
        snprintf(name, sizeof name, "%s backward", what);
        expect_near(name, dx, want_dx, n, 1e-6f);
    }
    free(x), free(dx), free(dy), free(y);
}

static void test_pools(void) {
    MaxPool2d mp;
    maxpool2d_init(&mp, "mp", 3, 2, 1);
    check_pattern("maxpool k3 s2 p1 (with ties)", &mp.base, shape4(1, 2, 5, 6), maxpool_y, 18, maxpool_dx);
    AvgPool2d ap;
    avgpool2d_init(&ap, "ap", 3, 2, 1);
    check_pattern("avgpool k3 s2 p1", &ap.base, shape4(1, 2, 5, 6), avgpool_y, 18, avgpool_dx);
    AdaptiveAvgPool2d aap;
    adaptive_avgpool2d_init(&aap, "aap", 3, 2);
    check_pattern("adaptive_avgpool 5x7->3x2", &aap.base, shape4(1, 1, 5, 7), adaptive_y, 6, adaptive_dx);
    GlobalAvgPool gap;
    global_avgpool_init(&gap, "gap");
    check_pattern("global_avgpool", &gap.base, shape4(2, 3, 2, 2), gap_y, 6, gap_dx);

    /* Adaptive bins by hand: x[h][w] = h + 10 w on 5x7 -> 3x2. Row bins [0,2) [1,4) [3,5) have means
     * 0.5, 2, 3.5; column bins [0,4) [3,7) have means 1.5 and 4.5, i.e. 15 and 45. */
    float x[35], y[6];
    for (int h = 0; h < 5; h++)
        for (int w = 0; w < 7; w++) x[h * 7 + w] = (float)(h + 10 * w);
    const float want[6] = {15.5f, 45.5f, 17.0f, 47.0f, 18.5f, 48.5f};
    const float *ins[1] = {x};
    ErrorMsg err;
    EXPECT(run_layer(&aap.base, &(Run){.in = ins, .shape = {shape4(1, 1, 5, 7)}, .n_in = 1, .y = y, .ny = 6},
                     &err) == LOCUS_OK,
           "%s", err.text);
    expect_near("adaptive bins by hand", y, want, 6, 1e-5f);

    /* Eval mode: maxpool keeps no argmax cache but computes the same values. */
    float xm[60], ym[18];
    for (int i = 0; i < 60; i++) xm[i] = pattern_x((size_t)i);
    const float *insm[1] = {xm};
    EXPECT(run_layer(&mp.base, &(Run){.in = insm, .shape = {shape4(1, 2, 5, 6)}, .n_in = 1, .y = ym, .ny = 18},
                     &err) == LOCUS_OK,
           "%s", err.text);
    expect_near("maxpool eval forward", ym, maxpool_y, 18, 0.0f);
}

static void test_resize(void) {
    ResizeBilinear up, down;
    resize_bilinear_init(&up, "up", 5, 7);
    resize_bilinear_init(&down, "down", 4, 3);
    check_pattern("resize 3x4->5x7", &up.base, shape4(1, 1, 3, 4), resize_up_y, 35, resize_up_dx);
    check_pattern("resize 6x5->4x3", &down.base, shape4(1, 1, 6, 5), resize_down_y, 12, resize_down_dx);

    /* align_corners: the four corners are copied exactly; a linear ramp stays a linear ramp. */
    float x[12], y[35];
    for (int h = 0; h < 3; h++)
        for (int w = 0; w < 4; w++) x[h * 4 + w] = (float)(3 * h + w);
    const float *ins[1] = {x};
    ErrorMsg err;
    EXPECT(run_layer(&up.base, &(Run){.in = ins, .shape = {shape4(1, 1, 3, 4)}, .n_in = 1, .y = y, .ny = 35}, &err) ==
               LOCUS_OK,
           "%s", err.text);
    EXPECT(y[0] == x[0] && y[6] == x[3] && y[28] == x[8] && y[34] == x[11], "resize corners %g %g %g %g",
           (double)y[0], (double)y[6], (double)y[28], (double)y[34]);
    float ramp[35];
    for (int h = 0; h < 5; h++)
        for (int w = 0; w < 7; w++) ramp[h * 7 + w] = 3.0f * (float)h * 2.0f / 4.0f + (float)w * 3.0f / 6.0f;
    expect_near("resize of a ramp (align_corners)", y, ramp, 35, 1e-5f);
}

static void test_gelu(void) {
    Gelu g;
    gelu_init(&g, "gelu");
    float y[8], dx[8];
    const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const float *ins[1] = {gelu_x};
    ErrorMsg err;
    EXPECT(run_layer(&g.base, &(Run){.in = ins, .shape = {shape1(8)}, .n_in = 1, .training = 1, .dy = ones, .y = y,
                                     .ny = 8, .dx = dx},
                     &err) == LOCUS_OK,
           "%s", err.text);
    expect_near("gelu forward", y, gelu_y, 8, 1e-6f);
    expect_near("gelu backward", dx, gelu_dx, 8, 1e-6f);
}

static void test_losses(void) {
    const float one[1] = {1.0f};
    float loss, dx[12];
    ErrorMsg err;
    SoftmaxCE ce, ce_ls;
    softmax_ce_init(&ce, "ce", 0.0f);
    softmax_ce_init(&ce_ls, "ce_ls", 0.1f);
    const float *ins[2] = {ce_logits, ce_labels};
    Run r = {.in = ins, .shape = {shape2(3, 4), shape1(3)}, .n_in = 2, .training = 1, .dy = one, .y = &loss,
             .ny = 1, .dx = dx};
    EXPECT(run_layer(&ce.base, &r, &err) == LOCUS_OK, "%s", err.text);
    expect_near("softmax_ce loss", &loss, ce_loss, 1, 1e-6f);
    expect_near("softmax_ce dlogits", dx, ce_dx, 12, 1e-6f);
    EXPECT(run_layer(&ce_ls.base, &r, &err) == LOCUS_OK, "%s", err.text);
    expect_near("softmax_ce ls=0.1 loss", &loss, ce_ls_loss, 1, 1e-6f);
    expect_near("softmax_ce ls=0.1 dlogits", dx, ce_ls_dx, 12, 1e-6f);
    Run eval = r;
    eval.training = 0, eval.dy = NULL;
    EXPECT(run_layer(&ce.base, &eval, &err) == LOCUS_OK, "%s", err.text);
    expect_near("softmax_ce eval loss", &loss, ce_loss, 1, 1e-6f);

    const float *big[2] = {ce_big, ce_big_labels};
    EXPECT(run_layer(&ce.base, &(Run){.in = big, .shape = {shape2(2, 3), shape1(2)}, .n_in = 2, .y = &loss, .ny = 1},
                     &err) == LOCUS_OK,
           "%s", err.text);
    expect_near("softmax_ce logits +-1000 (stable)", &loss, ce_big_loss, 1, 1e-6f);

    SigmoidBCE bce;
    sigmoid_bce_init(&bce, "bce");
    const float *bins[2] = {bce_x, bce_t};
    EXPECT(run_layer(&bce.base, &(Run){.in = bins, .shape = {shape1(8), shape1(8)}, .n_in = 2, .training = 1,
                                       .dy = one, .y = &loss, .ny = 1, .dx = dx},
                     &err) == LOCUS_OK,
           "%s", err.text);
    expect_near("sigmoid_bce loss (logits +-100)", &loss, bce_loss, 1, 1e-5f);
    expect_near("sigmoid_bce dlogits", dx, bce_dx, 8, 1e-6f);

    /* The loss sums in a fixed order: 1 and 2 threads agree bitwise on 100k elements. */
    enum { M = 100000 };
    float *x = malloc(M * sizeof *x), *t = malloc(M * sizeof *t), l1, l2;
    for (size_t i = 0; i < M; i++) x[i] = pattern_x(i) * 3.0f, t[i] = (float)(i % 7) / 6.0f;
    const float *mins[2] = {x, t};
    Run rm = {.in = mins, .shape = {shape1(M), shape1(M)}, .n_in = 2, .threads = 1, .y = &l1, .ny = 1};
    EXPECT(run_layer(&bce.base, &rm, &err) == LOCUS_OK, "%s", err.text);
    rm.threads = 2, rm.y = &l2;
    EXPECT(run_layer(&bce.base, &rm, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(l1 == l2, "sigmoid_bce 1 vs 2 threads: %.9g vs %.9g", (double)l1, (double)l2);
    free(x), free(t);
}

static void test_dropout(void) {
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *y1 = malloc(N * sizeof *y1), *y2 = malloc(N * sizeof *y2),
          *dx = malloc(N * sizeof *dx);
    for (size_t i = 0; i < N; i++) x[i] = 1.0f;
    const float *ins[1] = {x};
    ErrorMsg err;
    Dropout d, d_other, d0;
    dropout_init(&d, "drop", 0.3f);
    dropout_init(&d_other, "drop2", 0.3f);
    dropout_init(&d0, "drop0", 0.0f);
    const float scale = 1.0f / (1.0f - 0.3f);

    /* keep rate and scale, with backward seeded by ones: dx must equal y (same mask, same scale) */
    Run r = {.in = ins, .shape = {shape1(N)}, .n_in = 1, .training = 1, .threads = 1, .dy = x, .y = y1, .ny = N,
             .dx = dx};
    EXPECT(run_layer(&d.base, &r, &err) == LOCUS_OK, "%s", err.text);
    size_t kept = 0, odd = 0, mismatch = 0;
    for (size_t i = 0; i < N; i++) {
        if (y1[i] != 0.0f) kept++;
        if (y1[i] != 0.0f && y1[i] != scale) odd++;
        if (dx[i] != y1[i]) mismatch++;
    }
    double rate = (double)kept / N; /* std of the rate: sqrt(0.21 / N) ~ 0.001 */
    printf("dropout p=0.3: keep rate %.4f over %d elements\n", rate, N);
    EXPECT(fabs(rate - 0.7) < 0.005, "dropout keep rate %.4f, expected 0.7 +- 0.005", rate);
    EXPECT(odd == 0, "dropout: %zu kept values are not 1 / (1 - p)", odd);
    EXPECT(mismatch == 0, "dropout: backward mask differs from forward at %zu elements", mismatch);

    /* thread-count independence */
    r.threads = 2, r.y = y2;
    EXPECT(run_layer(&d.base, &r, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(memcmp(y1, y2, N * sizeof(float)) == 0, "dropout mask differs between 1 and 2 threads");

    /* another step, another layer name: different masks */
    r.threads = 1, r.step = 1;
    EXPECT(run_layer(&d.base, &r, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(memcmp(y1, y2, N * sizeof(float)) != 0, "dropout mask did not change with the step");
    r.step = 0;
    EXPECT(run_layer(&d_other.base, &r, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(memcmp(y1, y2, N * sizeof(float)) != 0, "two dropout layers with different names share a mask");

    /* eval mode and p = 0 are the identity (forward and backward) */
    for (size_t i = 0; i < N; i++) x[i] = pattern_x(i);
    r.training = 0, r.dy = NULL;
    EXPECT(run_layer(&d.base, &r, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(memcmp(x, y2, N * sizeof(float)) == 0, "dropout in eval mode is not the identity");
    r.training = 1, r.dy = x;
    EXPECT(run_layer(&d0.base, &r, &err) == LOCUS_OK, "%s", err.text);
    EXPECT(memcmp(x, y2, N * sizeof(float)) == 0 && memcmp(x, dx, N * sizeof(float)) == 0,
           "dropout p=0 is not the identity");
    free(x), free(y1), free(y2), free(dx);
}

/* out_shape errors: LOCUS_ERR_ARG and a message showing what was found. */
static void expect_shape_error(const char *what, const Layer *l, int n_in, const Shape *shapes, const char *needle) {
    static float buf[4096];
    const float *ins[4] = {buf, buf, buf, buf};
    float y[4096];
    ErrorMsg err = {{0}};
    Run r = {.in = ins, .n_in = n_in, .y = y, .ny = 1};
    for (int i = 0; i < n_in; i++) r.shape[i] = shapes[i];
    Status s = run_layer(l, &r, &err);
    int good = s == LOCUS_ERR_ARG && strstr(err.text, needle) != NULL;
    EXPECT(good, "%s: status %d, message '%s' lacks '%s'", what, (int)s, err.text, needle);
    if (good) printf("ok   error %s: %s\n", what, err.text);
}

static void test_shape_errors(void) {
    MaxPool2d mp, mp_bad;
    maxpool2d_init(&mp, "mp", 2, 2, 0);
    maxpool2d_init(&mp_bad, "mp_bad", 3, 1, 2);
    AvgPool2d ap;
    avgpool2d_init(&ap, "ap", 5, 1, 0);
    ResizeBilinear rz;
    resize_bilinear_init(&rz, "rz", 0, 4);
    SoftmaxCE ce;
    softmax_ce_init(&ce, "ce", 0.0f);
    SigmoidBCE bce;
    sigmoid_bce_init(&bce, "bce");
    Dropout dr;
    dropout_init(&dr, "dr", 1.5f);
    GlobalAvgPool gap;
    global_avgpool_init(&gap, "gap");
    expect_shape_error("maxpool on 3-D", &mp.base, 1, (Shape[]){shape3(2, 4, 4)}, "found [2, 4, 4]");
    expect_shape_error("maxpool pad > k/2", &mp_bad.base, 1, (Shape[]){shape4(1, 1, 8, 8)}, "padding 2");
    expect_shape_error("avgpool window > input", &ap.base, 1, (Shape[]){shape4(1, 1, 4, 8)}, "[1, 1, 4, 8]");
    expect_shape_error("resize to 0 rows", &rz.base, 1, (Shape[]){shape4(1, 1, 4, 8)}, "0 x 4");
    expect_shape_error("global_avgpool on 2-D", &gap.base, 1, (Shape[]){shape2(4, 8)}, "found [4, 8]");
    expect_shape_error("softmax_ce label count", &ce.base, 2, (Shape[]){shape2(3, 5), shape1(4)},
                       "need labels [3], found [4]");
    expect_shape_error("softmax_ce 1 input", &ce.base, 1, (Shape[]){shape2(3, 5)}, "2 inputs");
    expect_shape_error("sigmoid_bce shapes", &bce.base, 2, (Shape[]){shape2(3, 5), shape2(5, 3)},
                       "[3, 5] need targets of the same shape, found [5, 3]");
    expect_shape_error("dropout p > 1", &dr.base, 1, (Shape[]){shape2(3, 5)}, "1.5");
}

int main(void) {
    test_pools();
    test_resize();
    test_gelu();
    test_losses();
    test_dropout();
    test_shape_errors();
    return expect_report();
}
