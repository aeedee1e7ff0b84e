/* bench/kernels.c — GFLOP/s of the 3x3 convolution kernels on ResNet's shapes, alone, with the data hot (one
 * sample, again and again) and cold (128 samples in turn, as a layer of a training step sees them), beside
 * the FMA peak of one core. Where `locus bench --profile` says a layer is slow, this says whether the kernel
 * or the memory around it is: session 6 found the cold forward's stores waiting for their lines this way.
 * Built and run by `make bench-kernels` (one thread; nothing else should run). Not a test: numbers only.
 *
 *   conv3x3 fwd  conv3x3_avx512, M = C output channels, no epilogue (forward and input gradient alike)
 *   conv3x3 Winograd  conv3x3_wino_avx512 (F(2x2, 3x3)), the same (GFLOP/s of the direct convolution's FLOPs:
 *                an effective rate, which can pass the peak); Winograd 4x4: conv3x3_wino4_avx512 (F(4x4, 3x3))
 *   conv3x3 dW   conv3x3_dw_avx512 from a padded transpose of x (dy cold in the cold runs; x^T is per-sample
 *                scratch, hot either way)
 * Best of 5 timed passes each. Needs AVX-512 (says so and exits 0 otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "kernels/conv3x3.h"
#include "kernels/conv3x3_wino.h"
#include "kernels/dense.h"
#include "kernels/rows.h"

#define SAMPLES 128
#define PASSES 5

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n, unsigned seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 4095) / 4096 * 4096);
    if (!p) {
        fprintf(stderr, "bench/kernels: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = (float)((seed = seed * 1103515245u + 12345u) >> 16 & 0x7fff) / 32768.0f;
    return p;
}

/* FP32 FMA peak of this core: 12 independent chains of 16-lane FMAs (as bench/run.sh's peak.c). */
__attribute__((target("avx512f,fma"))) static double fma_peak(void) {
    __m512 a[12];
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int j = 0; j < 12; j++) a[j] = b;
    const long iters = 4000000;
    double best = 1e9;
    for (int r = 0; r < PASSES; r++) {
        double t = now_s();
        for (long i = 0; i < iters; i++)
            for (int j = 0; j < 12; j++) a[j] = _mm512_fmadd_ps(a[j], b, c);
        t = now_s() - t;
        if (t < best) best = t;
    }
    float sink = 0;
    for (int j = 0; j < 12; j++) sink += _mm512_reduce_add_ps(a[j]);
    if (sink == 12345.0f) puts("");
    return 2.0 * 16 * 12 * (double)iters / best * 1e-9;
}

static void conv_fwd(int C, int H, double peak, int wino) {
    const int W = H, M = C, K = C * 9;
    const size_t N = (size_t)H * W;
    float *A = filled((size_t)M * K, 1), *x = filled((size_t)C * N * SAMPLES, 2);
    float *y = filled((size_t)M * N * SAMPLES, 3);
    float *Ap = filled(rows_pack_floats(M, K), 4);
    rows_pack(KERNEL_ISA_AVX512, M, K, A, (size_t)K, Ap);
    uint16_t *masks = malloc(conv3x3_mask_count(H, W) * sizeof *masks);
    conv3x3_masks(H, W, masks);
    float *U = filled(conv3x3_wino_weight_floats(M, C), 8), *work = filled(conv3x3_wino_work_floats(M, C, H, W), 9);
    float *plan = filled(conv3x3_wino_plan_floats(H, W), 10);
    conv3x3_wino_weights(M, C, A, (size_t)K, U);
    conv3x3_wino_plan(H, W, plan);
    float *U4 = filled(conv3x3_wino4_weight_floats(M, C), 11);
    float *work4 = filled(conv3x3_wino4_work_floats(M, C, H, W), 12);
    conv3x3_wino4_weights(M, C, A, (size_t)K, U4);
    double best[2] = {1e9, 1e9};
    for (int pass = 0; pass < PASSES; pass++)
        for (int cold = 0; cold < 2; cold++) {
            double t = now_s();
            for (int s = 0; s < SAMPLES; s++) {
                const size_t i = cold ? (size_t)s : 0;
                if (wino == 2) conv3x3_wino4_avx512(M, C, H, W, U4, x + i * C * N, y + i * M * N, N, 0, NULL, work4);
                else if (wino) conv3x3_wino_avx512(M, C, H, W, U, plan, x + i * C * N, y + i * M * N, N, 0, NULL, work);
                else conv3x3_avx512(M, C, H, W, Ap, x + i * C * N, y + i * M * N, N, 0, NULL, masks);
            }
            t = now_s() - t;
            if (t < best[cold]) best[cold] = t;
        }
    const double flop = 2.0 * M * K * (double)N * SAMPLES * 1e-9;
    const char *name = wino == 2 ? "Winograd 4x4" : wino ? "Winograd" : "fwd";
    printf("| conv3x3 %s | %d -> %d @%dx%d | %.1f (%.0f%%) | %.1f (%.0f%%) |\n", name, C, M, H,
           W, flop / best[0], 100 * flop / best[0] / peak, flop / best[1], 100 * flop / best[1] / peak);
    free(A), free(x), free(y), free(Ap), free(masks), free(U), free(work), free(plan), free(U4), free(work4);
}

static void conv_dw(int C, int H, double peak) {
    const int W = H, M = C;
    const size_t N = (size_t)H * W;
    float *xT = filled((size_t)C * (H + 2) * (W + 2), 5), *dy = filled((size_t)M * N * SAMPLES, 6);
    float *part = filled((size_t)M * 9 * C, 7);
    double best[2] = {1e9, 1e9};
    for (int pass = 0; pass < PASSES; pass++)
        for (int cold = 0; cold < 2; cold++) {
            memset(part, 0, sizeof(float) * (size_t)M * 9 * C);
            double t = now_s();
            for (int s = 0; s < SAMPLES; s++)
                conv3x3_dw_avx512(M, C, H, W, xT, dy + (cold ? (size_t)s : 0) * M * N, part);
            t = now_s() - t;
            if (t < best[cold]) best[cold] = t;
        }
    const double flop = 2.0 * M * C * 9 * (double)N * SAMPLES * 1e-9;
    printf("| conv3x3 dW | %d -> %d @%dx%d | %.1f (%.0f%%) | %.1f (%.0f%%) |\n", C, M, H, W, flop / best[0],
           100 * flop / best[0] / peak, flop / best[1], 100 * flop / best[1] / peak);
    free(xT), free(dy), free(part);
}

/* dense_forward / dense_backward (dx and dW, no db) on one thread over R rows: ViT-tiny's projections at
 * batch 128 (R = 128 x 65 tokens). Data is as cold as in a training step (R rows stream through). */
static void dense(int R, int in, int out, double peak) {
    float *x = filled((size_t)R * in, 1), *W = filled((size_t)out * in, 2), *b = filled((size_t)out, 3);
    float *y = filled((size_t)R * out, 4), *dx = filled((size_t)R * in, 5), *dW = filled((size_t)out * in, 6);
    float *scratch = filled(dense_scratch_bytes(in, out, 1) / sizeof(float), 7);
    const KernelIsa isa = KERNEL_ISA_AVX512;
    double best[3] = {1e9, 1e9, 1e9};
    for (int pass = 0; pass < PASSES; pass++) {
        double t = now_s();
        dense_forward(isa, 1, R, in, out, x, W, b, y, scratch);
        t = now_s() - t;
        if (t < best[0]) best[0] = t;
        t = now_s();
        dense_backward(isa, 1, R, in, out, x, W, y, dx, 0, NULL, NULL, scratch);
        t = now_s() - t;
        if (t < best[1]) best[1] = t;
        t = now_s();
        dense_backward(isa, 1, R, in, out, x, W, y, NULL, 0, dW, NULL, scratch);
        t = now_s() - t;
        if (t < best[2]) best[2] = t;
    }
    const double flop = 2.0 * R * in * (double)out * 1e-9;
    const char *names[3] = {"fwd", "dx", "dW"};
    for (int i = 0; i < 3; i++)
        printf("| dense %s | %d x %d -> %d | %.1f (%.0f%%) | |\n", names[i], R, in, out, flop / best[i],
               100 * flop / best[i] / peak);
    free(x), free(W), free(b), free(y), free(dx), free(dW), free(scratch);
}

int main(void) {
    if (!kernel_isa_supported(KERNEL_ISA_AVX512) || !conv3x3_available(KERNEL_ISA_AVX512)) {
        puts("bench/kernels: this CPU has no AVX-512; the direct 3x3 kernels do not run here");
        return 0;
    }
    const double peak = fma_peak();
    printf("FMA peak of one core: %.1f GFLOP/s (12 chains of 16-lane FMAs, best of %d)\n\n", peak, PASSES);
    printf("| kernel | shape | hot GFLOP/s (%% of peak) | %d cold samples GFLOP/s (%% of peak) |\n", SAMPLES);
    printf("|---|---|---|---|\n");
    /* CIFAR's maps, then Fashion-MNIST's (28, 14, 7: vectors of tiles across tile rows, half tiles at 7) */
    const int shapes[6][2] = {{16, 32}, {32, 16}, {64, 8}, {16, 28}, {32, 14}, {64, 7}};
    for (int i = 0; i < 6; i++) conv_fwd(shapes[i][0], shapes[i][1], peak, 0);
    for (int i = 0; i < 6; i++) conv_fwd(shapes[i][0], shapes[i][1], peak, 1);
    for (int i = 0; i < 2; i++) conv_fwd(shapes[i][0], shapes[i][1], peak, 2); /* F(4x4): 16- and 32-wide maps */
    for (int i = 0; i < 3; i++) conv_dw(shapes[i][0], shapes[i][1], peak);
    const int dshapes[4][2] = {{192, 576}, {192, 192}, {192, 768}, {768, 192}}; /* ViT-tiny: qkv, proj, fc1, fc2 */
    for (int i = 0; i < 4; i++) dense(128 * 65, dshapes[i][0], dshapes[i][1], peak);
    return 0;
}
#else
int main(void) {
    puts("bench/kernels: needs an x86-64 GCC or clang build (the direct 3x3 kernels are AVX-512 only)");
    return 0;
}
#endif
