/* test_conv_speed_smoke.c — times the layer that dominates ResNet training: a 16 -> 16 3x3 conv (stride 1,
 * pad 1, no bias) on 128 x 16 x 32 x 32, forward and backward, with 1 and 2 threads, and prints ms and
 * GFLOP/s (forward 2 N Cout Cin k k Ho Wo flops, backward twice that: dx and dW).
 * It fails only on wrong results (2 threads must match 1 thread), never on speed: timings on a shared CI
 * machine are too noisy to assert. OpenBLAS is limited to 1 thread so that the "1 thread" row is one
 * core (all parallelism is ours, over samples). The process CPU time is printed too: on a machine shared
 * with other jobs the wall time measures the contention, the CPU time still measures the code. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layers/conv.h"

#define REPS 3

static double now(void) { return omp_get_wtime(); }
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    openblas_set_num_threads(1);
    const int N = 128, C = 16, H = 32, W = 32, K = 3;
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Conv2d conv;
    conv2d_init(&conv, &ps, "conv", C, C, K, 1, 1, 0);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, 1);
    conv2d_init_weights(&conv, &ps, &rng);

    const size_t n = (size_t)N * C * H * W;
    Tensor x = {.shape = shape4(N, C, H, W)}, y = {.shape = shape4(N, C, H, W)};
    x.data = malloc(n * sizeof(float));
    x.grad = malloc(n * sizeof(float));
    y.data = malloc(n * sizeof(float));
    y.grad = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x.data[i] = rng_normal(&rng), y.grad[i] = rng_normal(&rng);
    float *ref_y = malloc(n * sizeof(float)), *ref_dx = malloc(n * sizeof(float));
    const size_t nw = params_numel(&ps, conv.w);
    float *ref_dw = malloc(nw * sizeof(float));
    Tensor *in[1] = {&x};

    const double fwd_flop = 2.0 * N * C * C * K * K * H * W;
    int failures = 0;
    for (int threads = 1; threads <= 2; threads++) {
        StepCtx ctx = {.params = &ps, .training = 1, .threads = threads};
        ctx.scratch_bytes = conv.base.ops->scratch_bytes(&conv.base, in, 1, threads);
        ctx.scratch = aligned_alloc(64, ctx.scratch_bytes + 64);
        double best_f = 1e9, best_b = 1e9, best_cpu = 1e9;
        for (int r = 0; r < REPS; r++) {
            memset(x.grad, 0, n * sizeof(float));
            params_zero_grads(&ps);
            double c0 = cpu_now(), t0 = now();
            conv.base.ops->forward(&conv.base, &ctx, in, 1, &y, NULL);
            double t1 = now();
            conv.base.ops->backward(&conv.base, &ctx, in, 1, &y, NULL);
            double t2 = now(), c2 = cpu_now();
            if (c2 - c0 < best_cpu) best_cpu = c2 - c0;
            if (t1 - t0 < best_f) best_f = t1 - t0;
            if (t2 - t1 < best_b) best_b = t2 - t1;
        }
        printf("conv 16->16 3x3 on 128x16x32x32, %d thread%s: forward %.1f ms (%.1f GFLOP/s), backward %.1f ms "
               "(%.1f GFLOP/s), fwd+bwd %.1f ms (%.1f GFLOP/s); CPU time fwd+bwd %.1f ms\n",
               threads, threads > 1 ? "s" : "", 1e3 * best_f, fwd_flop / best_f * 1e-9, 1e3 * best_b,
               2 * fwd_flop / best_b * 1e-9, 1e3 * (best_f + best_b), 3 * fwd_flop / (best_f + best_b) * 1e-9, 1e3 * best_cpu);
        const float *gw = params_grad(&ps, conv.w);
        if (threads == 1) {
            memcpy(ref_y, y.data, n * sizeof(float));
            memcpy(ref_dx, x.grad, n * sizeof(float));
            memcpy(ref_dw, gw, nw * sizeof(float));
        } else {
            /* y and dx are computed per sample the same way whatever the thread count: bitwise equal.
             * dW sums per-thread partials, so only the rounding may differ (relative to the largest |dW|). */
            double ey = 0, edx = 0, edw = 0, scale = 0;
            for (size_t i = 0; i < n; i++) {
                ey = fmax(ey, fabs(y.data[i] - ref_y[i]));
                edx = fmax(edx, fabs(x.grad[i] - ref_dx[i]));
            }
            for (size_t i = 0; i < nw; i++) edw = fmax(edw, fabs(gw[i] - ref_dw[i])), scale = fmax(scale, fabs(ref_dw[i]));
            printf("2 threads vs 1: max |dy| %.3g, |ddx| %.3g, |ddW| / max |dW| %.3g\n", ey, edx, edw / scale);
            if (ey > 0 || edx > 0 || edw > 1e-5 * scale) {
                printf("FAIL: 2-thread results differ from 1-thread results\n");
                failures++;
            }
        }
        free(ctx.scratch);
    }
    free(x.data), free(x.grad), free(y.data), free(y.grad), free(ref_y), free(ref_dx), free(ref_dw);
    params_free(&ps);
    printf("%s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}
