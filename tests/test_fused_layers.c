/* test_fused_layers.c — the fused layers are bit for bit the pairs they replace:
 *  - batchnorm2d_relu == batchnorm2d then relu: output, input gradient, dgamma, dbeta and the running
 *    statistics, in training and in eval mode, with 1 and 2 threads, on shapes whose strips are not a
 *    multiple of the 16 summation lanes;
 *  - add_relu == add then relu: output and both input gradients, for two inputs and for add(x, x), with
 *    another consumer of an input before it (so one gradient is accumulated into, one overwritten).
 *  - batchnorm2d_add_relu == batchnorm2d then add_relu: output, both input gradients, dgamma, dbeta and the
 *    running statistics, training and eval, 1 and 2 threads (variant 2 of check());
 *  - resize_conv2d == resize_bilinear then conv2d: output and input gradient bit for bit, weight and bias
 *    gradients within float summation order (accumulated chunk by chunk), for batches that are not a
 *    multiple of the chunk, up- and down-sizing, with 1 and 2 threads.
 * Everything runs on a tape, so the input gradients go through the fresh-gradient path (layer.h
 * grad_overwrite) as in training. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "layers/activation.h"
#include "layers/merge.h"
#include "layers/norm.h"
#include "layers/resize_conv.h"
#include "locus/rng.h"
#include "locus/tape.h"

static int same(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

/* residual 0: batchnorm2d_relu vs batchnorm2d + relu; 1: batchnorm2d_add_relu(x, r) vs add_relu(bn(x), r). */
static void check(Shape s, int training, int threads, int residual, uint64_t seed) {
    const int C = s.d[1];
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    BatchNorm bn, fused;
    Relu relu;
    Add add;
    batchnorm2d_init(&bn, &ps, "bn", C);
    if (residual)
        batchnorm2d_add_relu_init(&fused, &ps, "fused", C);
    else
        batchnorm2d_relu_init(&fused, &ps, "fused", C);
    relu_init(&relu, "relu");
    add_relu_init(&add, "add_relu");
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, seed);
    const int h[4] = {bn.weight, bn.bias, bn.running_mean, bn.running_var};
    const int hf[4] = {fused.weight, fused.bias, fused.running_mean, fused.running_var};
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < C; c++) {
            float v = k == 3 ? 0.5f + rng_uniform(&rng) : rng_normal(&rng);
            params_value(&ps, h[k])[c] = v;
            params_value(&ps, hf[k])[c] = v;
        }
    const size_t n = shape_numel(&s);
    float *x = malloc(n * sizeof(float)), *R = malloc(n * sizeof(float)), *res = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&rng) + 0.5f, R[i] = rng_normal(&rng), res[i] = rng_normal(&rng);
    StepCtx ctx = {.params = &ps, .training = training, .threads = threads};
    Tape t;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)8 << 20, (size_t)8 << 20, (size_t)1 << 16, &err) == LOCUS_OK, "%s",
          err.text);
    t.recording = 1;
    float *out[2], *dx[2], *dr[2];
    params_zero_grads(&ps);
    for (int v = 0; v < 2; v++) {
        TapeMark m = tape_mark(&t);
        Tensor *in = tape_wrap(&t, s, x, 1), *r = tape_wrap(&t, s, res, 1), *y;
        if (v == 1)
            y = residual ? tape_call2(&t, &fused.base, in, r) : tape_call1(&t, &fused.base, in);
        else if (residual)
            y = tape_call2(&t, &add.base, tape_call1(&t, &bn.base, in), r);
        else
            y = tape_call1(&t, &relu.base, tape_call1(&t, &bn.base, in));
        CHECK(y && tape_ok(&t), "forward: %s", t.err.text);
        CHECK(tape_backward_from(&t, y, R, m) == LOCUS_OK, "backward: %s", t.err.text);
        out[v] = malloc(n * sizeof(float)), dx[v] = malloc(n * sizeof(float)), dr[v] = calloc(n, sizeof(float));
        memcpy(out[v], y->data, n * sizeof(float));
        memcpy(dx[v], in->grad, n * sizeof(float));
        if (residual) memcpy(dr[v], r->grad, n * sizeof(float));
        tape_release(&t, m);
    }
    char what[128];
    snprintf(what, sizeof what, "%s %s %s, %d thread(s)", fused.base.ops->type, shape_format(&s, (char[64]){0}, 64),
             training ? "training" : "eval", threads);
    EXPECT(same(out[0], out[1], n), "%s: outputs differ", what);
    EXPECT(same(dx[0], dx[1], n), "%s: input gradients differ", what);
    EXPECT(same(dr[0], dr[1], n), "%s: residual gradients differ", what);
    EXPECT(same(params_grad(&ps, bn.weight), params_grad(&ps, fused.weight), (size_t)C), "%s: dgamma differs", what);
    EXPECT(same(params_grad(&ps, bn.bias), params_grad(&ps, fused.bias), (size_t)C), "%s: dbeta differs", what);
    for (int k = 2; k < 4; k++)
        EXPECT(same(params_value(&ps, h[k]), params_value(&ps, hf[k]), (size_t)C), "%s: running stats differ", what);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += out[1][i] == 0.0f;
    EXPECT(zeros > 0 && zeros < n, "%s: the case exercises both sides of the ReLU (%zu of %zu zero)", what, zeros, n);
    for (int v = 0; v < 2; v++) free(out[v]), free(dx[v]), free(dr[v]);
    free(x), free(R), free(res);
    tape_free(&t);
    params_free(&ps);
}

/* variant 0: relu(add(a, b)); 1: add_relu(a, b); a also feeds a relu of its own first (fan-out), and with
 * twice, b is a (add(a, a)). */
static void check_add(int twice, int threads, uint64_t seed) {
    const Shape s = shape4(2, 3, 5, 7);
    const size_t n = shape_numel(&s);
    Add add, fused;
    Relu relu, side;
    add_init(&add, "add");
    add_relu_init(&fused, "add_relu");
    relu_init(&relu, "relu");
    relu_init(&side, "side");
    Rng rng;
    rng_seed(&rng, seed);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *R = malloc(2 * n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = rng_normal(&rng), b[i] = rng_normal(&rng);
    for (size_t i = 0; i < 2 * n; i++) R[i] = rng_normal(&rng);
    MemTracker mt = {0};
    StepCtx ctx = {.training = 1, .threads = threads};
    Tape t;
    ErrorMsg err;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)8 << 20, (size_t)8 << 20, (size_t)1 << 16, &err) == LOCUS_OK, "%s",
          err.text);
    t.recording = 1;
    float *out[2], *da[2], *db[2];
    for (int v = 0; v < 2; v++) {
        TapeMark m = tape_mark(&t);
        Tensor *ta = tape_wrap(&t, s, a, 1), *tb = twice ? ta : tape_wrap(&t, s, b, 1);
        Tensor *other = tape_call1(&t, &side.base, ta); /* a second consumer of a, run after in backward */
        Tensor *y = v == 0 ? tape_call1(&t, &relu.base, tape_call2(&t, &add.base, ta, tb))
                           : tape_call2(&t, &fused.base, ta, tb);
        CHECK(y && other && tape_ok(&t), "forward: %s", t.err.text);
        Tensor *losses[2] = {y, other};
        for (int k = 0; k < 2; k++) CHECK(tape_backward_from(&t, losses[k], R + k * n, m) == LOCUS_OK, "backward");
        out[v] = malloc(n * sizeof(float)), da[v] = malloc(n * sizeof(float)), db[v] = malloc(n * sizeof(float));
        memcpy(out[v], y->data, n * sizeof(float));
        memcpy(da[v], ta->grad, n * sizeof(float));
        memcpy(db[v], tb->grad, n * sizeof(float));
        tape_release(&t, m);
    }
    EXPECT(same(out[0], out[1], n), "add_relu%s, %d thread(s): outputs differ", twice ? " (x, x)" : "", threads);
    EXPECT(same(da[0], da[1], n), "add_relu%s, %d thread(s): gradients of a differ", twice ? " (x, x)" : "", threads);
    EXPECT(same(db[0], db[1], n), "add_relu%s, %d thread(s): gradients of b differ", twice ? " (x, x)" : "", threads);
    for (int v = 0; v < 2; v++) free(out[v]), free(da[v]), free(db[v]);
    free(a), free(b), free(R);
    tape_free(&t);
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs((double)b[i]));
    return m > 0 ? d / m : d;
}

static void check_resize_conv(Shape s, int oh, int ow, int stride, int threads, size_t chunk_bytes, uint64_t seed) {
    const int cin = s.d[1], cout = 5;
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    ResizeBilinear resize;
    Conv2d conv;
    ResizeConv2d fused;
    resize_bilinear_init(&resize, "resize", oh, ow);
    conv2d_init(&conv, &ps, "conv", cin, cout, 3, stride, 1, 1);
    resize_conv2d_init(&fused, &ps, "fused", oh, ow, cin, cout, 3, stride, 1, 1);
    if (chunk_bytes) fused.chunk_bytes = chunk_bytes;
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, seed);
    const size_t nw = (size_t)cout * cin * 9;
    for (size_t i = 0; i < nw; i++) params_value(&ps, conv.w)[i] = params_value(&ps, fused.conv.w)[i] = rng_normal(&rng);
    for (int o = 0; o < cout; o++) params_value(&ps, conv.b)[o] = params_value(&ps, fused.conv.b)[o] = rng_normal(&rng);
    const size_t n = shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&rng);
    Tensor probe = {.shape = s}, *pp = &probe;
    Tensor up = {.shape = shape4(s.d[0], cin, oh, ow)}, *upp = &up;
    size_t a = fused.base.ops->scratch_bytes(&fused.base, &pp, 1, threads);
    size_t b = conv.base.ops->scratch_bytes(&conv.base, &upp, 1, threads);
    StepCtx ctx = {.params = &ps, .training = 1, .threads = threads, .scratch_bytes = a > b ? a : b};
    ctx.scratch = malloc(ctx.scratch_bytes);
    Tape t;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)8 << 20, (size_t)8 << 20, (size_t)1 << 16, &err) == LOCUS_OK, "%s",
          err.text);
    t.recording = 1;
    float *out[2] = {NULL, NULL}, *dx[2] = {NULL, NULL}, *R = NULL;
    size_t ny = 0;
    params_zero_grads(&ps);
    for (int v = 0; v < 2; v++) {
        TapeMark m = tape_mark(&t);
        Tensor *in = tape_wrap(&t, s, x, 1);
        Tensor *y = v == 0 ? tape_call1(&t, &conv.base, tape_call1(&t, &resize.base, in)) : tape_call1(&t, &fused.base, in);
        CHECK(y && tape_ok(&t), "forward: %s", t.err.text);
        ny = tensor_numel(y);
        if (!R) {
            R = malloc(ny * sizeof(float));
            for (size_t i = 0; i < ny; i++) R[i] = rng_normal(&rng);
        }
        CHECK(tape_backward_from(&t, y, R, m) == LOCUS_OK, "backward: %s", t.err.text);
        out[v] = malloc(ny * sizeof(float)), dx[v] = malloc(n * sizeof(float));
        memcpy(out[v], y->data, ny * sizeof(float));
        memcpy(dx[v], in->grad, n * sizeof(float));
        tape_release(&t, m);
    }
    char what[128];
    snprintf(what, sizeof what, "resize_conv2d %s -> %dx%d s%d, %d thread(s), chunks of %zu bytes",
             shape_format(&s, (char[64]){0}, 64), oh, ow, stride, threads, fused.chunk_bytes);
    EXPECT(same(out[0], out[1], ny), "%s: outputs differ", what);
    EXPECT(same(dx[0], dx[1], n), "%s: input gradients differ", what);
    double dw = max_rel_diff(params_grad(&ps, fused.conv.w), params_grad(&ps, conv.w), nw);
    double db = max_rel_diff(params_grad(&ps, fused.conv.b), params_grad(&ps, conv.b), (size_t)cout);
    /* summed chunk by chunk vs in one go: float summation order only (up to 7 x 160 x 160 terms per weight) */
    EXPECT(dw < 1e-4 && db < 1e-4, "%s: weight/bias gradients differ by %g / %g (relative)", what, dw, db);
    for (int v = 0; v < 2; v++) free(out[v]), free(dx[v]);
    free(x), free(R), free(ctx.scratch);
    tape_free(&t);
    params_free(&ps);
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++) {
        /* chunk_bytes 1: chunks of `threads` samples; 0: the default (here the whole batch but the last case) */
        for (size_t cb = 0; cb <= 1; cb++) {
            check_resize_conv(shape4(5, 3, 4, 5), 9, 11, 1, threads, cb, 90);
            check_resize_conv(shape4(3, 2, 8, 7), 5, 4, 2, threads, cb, 91);
            check_resize_conv(shape4(1, 4, 7, 7), 28, 28, 1, threads, cb, 92);
        }
        check_resize_conv(shape4(7, 4, 8, 8), 160, 160, 1, threads, 0, 93); /* 400 KiB per sample: 7 chunks */
    }
    for (int twice = 0; twice <= 1; twice++)
        for (int threads = 1; threads <= 2; threads++) check_add(twice, threads, 70 + (uint64_t)twice);
    const Shape shapes[] = {shape4(3, 4, 5, 7), shape4(2, 3, 8, 8), shape4(5, 2, 1, 3)};
    for (int i = 0; i < 3; i++)
        for (int training = 0; training <= 1; training++)
            for (int threads = 1; threads <= 2; threads++)
                for (int residual = 0; residual <= 1; residual++)
                    check(shapes[i], training, threads, residual, 40 + (uint64_t)i);
    return expect_report();
}
