/* test_conv_kernels.c — every convolution engine and instruction-set path against a plain reference.
 *
 * For random geometries (odd channel counts and sizes, kernels 1/2/3/5, strides 1/2/3, paddings 0..2 and
 * padding >= kernel, bias on/off, 1..3 samples, 1 and 2 threads), for each engine (LOCUS_CONV=direct, the
 * default, and gemm) and, for the direct engine, each instruction set the CPU runs (LOCUS_ISA=generic, avx2,
 * avx512): forward output, input gradient, weight and bias gradients against a 7-loop reference computed in
 * double. The input gradient is checked on top of a non-zero starting value (backward accumulates), or,
 * when it is marked fresh (layer.h: grad_overwrite), from NaN garbage that backward must overwrite
 * everywhere (stride > kernel leaves positions no window covers); a detached input (grad NULL) is checked
 * to leave the parameter gradients right. Also the ResNet shapes
 * (3x3 stride 1 and 2, 1x1 stride 2; 16/32/64 channels) at batch 2, and the rows_* kernels at the vector
 * boundaries (N = 1..40 around 8 and 16; M from 11 to 70), conv_planes_fill, im2col and col2im on each ISA path
 * directly.
 * Fast: the shapes are small. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conv_geo.h"
#include "expect.h"
#include "kernels/conv3x3.h"
#include "kernels/conv3x3_wino.h"
#include "kernels/conv_planes.h"
#include "kernels/isa.h"
#include "kernels/rows.h"
#include "layers/conv.h"


/* y (N x Cout x Ho x Wo), dx, dW, db from x, W, b, dy in double. */
static void reference(const Geo *g, int ho, int wo, const float *x, const float *W, const float *b, const float *dy,
                      double *y, double *dx, double *dW, double *db) {
    const int kk = g->k * g->k;
    memset(dx, 0, sizeof(double) * (size_t)g->n * g->cin * g->h * g->w);
    memset(dW, 0, sizeof(double) * (size_t)g->cout * g->cin * kk);
    memset(db, 0, sizeof(double) * (size_t)g->cout);
    for (int n = 0; n < g->n; n++)
        for (int co = 0; co < g->cout; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    const size_t yi = (((size_t)n * g->cout + co) * ho + oh) * wo + ow;
                    double acc = g->bias ? b[co] : 0.0;
                    const double d = dy[yi];
                    db[co] += d;
                    for (int ci = 0; ci < g->cin; ci++)
                        for (int kh = 0; kh < g->k; kh++)
                            for (int kw = 0; kw < g->k; kw++) {
                                int ih = oh * g->s - g->p + kh, iw = ow * g->s - g->p + kw;
                                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                                const size_t xi = (((size_t)n * g->cin + ci) * g->h + ih) * g->w + iw;
                                const size_t wi = (((size_t)co * g->cin + ci) * g->k + kh) * g->k + kw;
                                acc += (double)W[wi] * x[xi];
                                dx[xi] += (double)W[wi] * d;
                                dW[wi] += (double)x[xi] * d;
                            }
                    y[yi] = acc;
                }
}

/* max |got - want| / (1 + |want|) over n values, and whether it is within tol. */
static int close_to(const char *what, const char *label, const float *got, const double *want, size_t n,
                    const float *base, double tol) {
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double ref = want[i] + (base ? base[i] : 0.0f);
        double e = fabs(got[i] - ref) / (1.0 + fabs(ref));
        if (!(e <= worst)) worst = e, at = i; /* NaN counts as worst */
    }
    EXPECT(worst <= tol, "%s: %s off by %.3g at %zu (got %g, want %g)", label, what, worst, at, got[at],
           want[at] + (base ? base[at] : 0.0));
    return worst <= tol;
}

/* fresh: the input gradient starts as garbage (NaN) marked fresh, and backward must overwrite all of it. */
static int run_case(const Geo *g, const char *engine, const char *isa, int threads, int detach, int fresh,
                    uint64_t seed) {
    setenv("LOCUS_CONV", engine, 1);
    if (isa) setenv("LOCUS_ISA", isa, 1);
    else unsetenv("LOCUS_ISA");
    char label[256];
    snprintf(label, sizeof label, "%s/%s T=%d n%d %d->%d %dx%d k%d s%d p%d%s%s", engine, isa ? isa : "-", threads,
             g->n, g->cin, g->cout, g->h, g->w, g->k, g->s, g->p, g->bias ? " bias" : "", detach ? " detached" : fresh ? " fresh dx" : "");
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    Conv2d conv;
    conv2d_init(&conv, &ps, "conv", g->cin, g->cout, g->k, g->s, g->p, g->bias);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    Rng rng;
    rng_seed(&rng, seed);
    float *W = params_value(&ps, conv.w), *b = g->bias ? params_value(&ps, conv.b) : NULL;
    const size_t nw = params_numel(&ps, conv.w);
    for (size_t i = 0; i < nw; i++) W[i] = frand(&rng);
    for (int i = 0; g->bias && i < g->cout; i++) b[i] = frand(&rng);
    const int ho = (g->h + 2 * g->p - g->k) / g->s + 1, wo = (g->w + 2 * g->p - g->k) / g->s + 1;
    const size_t nx = (size_t)g->n * g->cin * g->h * g->w, ny = (size_t)g->n * g->cout * ho * wo;
    Tensor x = {.shape = shape4(g->n, g->cin, g->h, g->w)}, y = {.shape = shape4(g->n, g->cout, ho, wo)};
    x.data = malloc(nx * sizeof(float));
    x.grad = detach ? NULL : malloc(nx * sizeof(float));
    y.data = malloc(ny * sizeof(float));
    y.grad = malloc(ny * sizeof(float));
    float *dx0 = malloc(nx * sizeof(float));
    for (size_t i = 0; i < nx; i++) x.data[i] = frand(&rng), dx0[i] = frand(&rng);
    for (size_t i = 0; i < ny; i++) y.grad[i] = frand(&rng), y.data[i] = NAN; /* forward must write all */
    if (x.grad && fresh)
        for (size_t i = 0; i < nx; i++) x.grad[i] = NAN;
    else if (x.grad)
        memcpy(x.grad, dx0, nx * sizeof(float));
    x.grad_fresh = x.grad && fresh;
    double *ry = malloc(ny * sizeof(double)), *rdx = malloc(nx * sizeof(double));
    double *rdw = malloc(nw * sizeof(double)), *rdb = malloc((size_t)g->cout * sizeof(double));
    reference(g, ho, wo, x.data, W, b, y.grad, ry, rdx, rdw, rdb);

    Tensor *in[1] = {&x};
    StepCtx ctx = {.params = &ps, .training = 1, .threads = threads};
    ctx.scratch_bytes = conv.base.ops->scratch_bytes(&conv.base, in, 1, threads);
    ctx.scratch = malloc(ctx.scratch_bytes + 64);
    params_zero_grads(&ps);
    conv.base.ops->forward(&conv.base, &ctx, in, 1, &y, NULL);
    conv.base.ops->backward(&conv.base, &ctx, in, 1, &y, NULL);
    /* float32 sums of up to Cin k k = 125 terms of size ~1, or N Ho Wo terms for the gradients */
    const double tol = 2e-5 * sqrt((double)g->cin * g->k * g->k + (double)g->n * ho * wo);
    int ok = close_to("forward", label, y.data, ry, ny, NULL, tol);
    if (x.grad) ok &= close_to("dx", label, x.grad, rdx, nx, fresh ? NULL : dx0, tol);
    EXPECT(!x.grad_fresh, "%s: backward left the input gradient marked fresh", label);
    ok &= close_to("dW", label, params_grad(&ps, conv.w), rdw, nw, NULL, tol);
    if (g->bias) ok &= close_to("db", label, params_grad(&ps, conv.b), rdb, (size_t)g->cout, NULL, tol);

    free(ctx.scratch), free(ry), free(rdx), free(rdw), free(rdb), free(dx0);
    free(x.data), free(x.grad), free(y.data), free(y.grad);
    params_free(&ps);
    return ok;
}

/* rows_pack: blocks of ROWS_PACK_MR rows stored k-major, the last block's missing rows zero, for M and K on both
 * sides of the 8 x 8 register blocks and a row stride wider than K. */
static void check_pack(KernelIsa isa, Rng *rng) {
    enum { MMAX = 70, KMAX = 40, LDA = KMAX + 3 };
    static float A[MMAX * LDA], Ap[(MMAX + ROWS_PACK_MR) * KMAX];
    for (int i = 0; i < MMAX * LDA; i++) A[i] = frand(rng);
    const int Ms[] = {1, 7, 8, 11, 70}, Ks[] = {1, 7, 8, 19, 40};
    for (int mi = 0; mi < 5; mi++)
        for (int ki = 0; ki < 5; ki++) {
            const int M = Ms[mi], K = Ks[ki];
            for (int i = 0; i < (MMAX + ROWS_PACK_MR) * KMAX; i++) Ap[i] = NAN;
            rows_pack(isa, M, K, A, LDA, Ap);
            int bad = 0;
            for (int m0 = 0; m0 < M; m0 += ROWS_PACK_MR)
                for (int k = 0; k < K; k++)
                    for (int r = 0; r < ROWS_PACK_MR; r++) {
                        const float want = m0 + r < M ? A[(size_t)(m0 + r) * LDA + k] : 0.0f;
                        bad += Ap[(size_t)m0 * K + (size_t)k * ROWS_PACK_MR + r] != want;
                    }
            EXPECT(!bad, "rows_pack %s M=%d K=%d: %d of %zu values wrong", kernel_isa_name(isa), M, K, bad,
                   rows_pack_floats(M, K));
        }
}

/* rows_gemm (plain and with each epilogue: bias, residual, ReLU), rows_transpose and rows_dot_t at every N
 * around the vector widths (and M across the dot_t tile widths: 1 to 5 vectors of m), against double sums;
 * nothing is written past N or M. */
static void check_rows(KernelIsa isa, Rng *rng) {
    enum { K = 7, G = 2, NMAX = 40, MMAX = 70, MPMAX = 80 };
    static float A[MMAX * K], AT[MMAX * K], Ap[MPMAX * K], C[MMAX * NMAX], D[G * MMAX * NMAX], Bd[G * K * (NMAX + 3)];
    static float DT[G * NMAX * MPMAX], CT[K * MPMAX], bias[MMAX], res[MMAX * (NMAX + 5)];
    const float *B[G * K];
    for (int i = 0; i < MMAX * K; i++) A[i] = frand(rng);
    for (int i = 0; i < G * K * (NMAX + 3); i++) Bd[i] = frand(rng);
    for (int i = 0; i < G * MMAX * NMAX; i++) D[i] = frand(rng);
    for (int i = 0; i < MMAX; i++) bias[i] = frand(rng);
    for (int i = 0; i < MMAX * (NMAX + 5); i++) res[i] = frand(rng);
    for (int i = 0; i < G * K; i++) B[i] = Bd + (size_t)i * (NMAX + 3) + (i % 3); /* unaligned rows */
    const int Ms[] = {11, 16, 40, 70};
    for (int mi = 0; mi < 4; mi++) {
        const int M = Ms[mi], Mp = rows_pad_m(M);
        rows_pack(isa, M, K, A, K, Ap);
        for (int i = 0; i < M * K; i++) AT[MMAX * K - M * K + (i % K) * M + i / K] = A[MMAX * K - M * K + i];
        for (int N = 1; N <= NMAX; N++) {
            /* variant: 0 plain rows_gemm; 1 bias; 2 residual + ReLU; 3 bias + residual + ReLU; 4 ReLU only */
            /* A packed (way 0), or read in place by rows_gemm_strided: row-major (1) or transposed (2), both at
             * the end of their arrays (no slack: a read past M x K lands past the array, as ASan would see) */
            for (int variant = 0; variant <= 4; variant++)
                for (int acc = 0; acc <= 1; acc++)
                for (int way = 0; way < 3; way++) {
                    for (int i = 0; i < MMAX * NMAX; i++) C[i] = 0.5f;
                    const RowsEpilogue ep = {variant == 1 || variant == 3 ? bias : NULL,
                                             variant == 2 || variant == 3 ? res : NULL, NMAX + 5, variant >= 2};
                    if (way == 1) rows_gemm_strided(isa, M, N, K, A + MMAX * K - M * K, K, 1, B, C, NMAX, acc, &ep);
                    else if (way == 2) rows_gemm_strided(isa, M, N, K, AT + MMAX * K - M * K, 1, (size_t)M, B, C, NMAX,
                                                         acc, &ep);
                    else if (variant) rows_gemm_ep(isa, M, N, K, Ap, B, C, NMAX, acc, &ep);
                    else rows_gemm(isa, M, N, K, Ap, B, C, NMAX, acc);
                    double worst = 0;
                    for (int m = 0; m < MMAX; m++)
                        for (int q = 0; q < NMAX; q++) {
                            double want = q >= N || m >= M ? 0.5 : (acc ? 0.5 : 0.0);
                            if (q < N && m < M) {
                                if (ep.bias) want += ep.bias[m];
                                for (int k = 0; k < K; k++)
                                    want += (double)(way == 1   ? A[MMAX * K - M * K + m * K + k]
                                                     : way == 2 ? AT[MMAX * K - M * K + k * M + m]
                                                                : A[m * K + k]) * B[k][q];
                                if (ep.res) want += ep.res[(size_t)m * ep.ldr + q];
                                if (variant >= 2 && want < 0) want = 0;
                            }
                            double e = fabs(C[m * NMAX + q] - want);
                            if (!(e <= worst)) worst = e;
                        }
                    EXPECT(worst < 1e-5, "rows_gemm%s %s M=%d N=%d acc=%d variant %d: off by %g (or wrote past M, N)",
                           way ? "_strided" : variant ? "_ep" : "", kernel_isa_name(isa), M, N, acc, variant, worst);
                }
            if (N == 5) { /* the ReLU keeps a NaN (as relu.c), on the vector and the scalar columns */
                float nanres[MMAX * (NMAX + 5)];
                for (int i = 0; i < MMAX * (NMAX + 5); i++) nanres[i] = NAN;
                const RowsEpilogue ep = {NULL, nanres, NMAX + 5, 1};
                rows_gemm_ep(isa, M, NMAX, K, Ap, B, C, NMAX, 0, &ep);
                int kept = 0;
                for (int i = 0; i < M * NMAX; i++) kept += isnan(C[i]);
                EXPECT(kept == M * NMAX, "rows_gemm_ep %s: the ReLU dropped %d NaNs", kernel_isa_name(isa), M * NMAX - kept);
            }
            for (int i = 0; i < G * NMAX * MPMAX; i++) DT[i] = NAN;
            for (int g = 0; g < G; g++)
                rows_transpose(isa, M, N, D + (size_t)g * M * NMAX, NMAX, DT + (size_t)g * N * Mp, Mp, Mp);
            int bad = 0;
            for (int g = 0; g < G; g++)
                for (int q = 0; q < N; q++)
                    for (int m = 0; m < Mp; m++)
                        bad += DT[((size_t)g * N + q) * Mp + m] != (m < M ? D[(size_t)g * M * NMAX + m * NMAX + q] : 0.0f);
            EXPECT(!bad, "rows_transpose %s M=%d N=%d: %d wrong", kernel_isa_name(isa), M, N, bad);
            for (int i = 0; i < K * MPMAX; i++) CT[i] = 0.25f;
            rows_dot_t(isa, Mp, K, N, G, DT, Mp, (size_t)N * Mp, B, CT, MPMAX);
            double worst = 0;
            for (int k = 0; k < K; k++)
                for (int m = 0; m < MPMAX; m++) {
                    double want = 0.25;
                    for (int g = 0; m < M && g < G; g++)
                        for (int q = 0; q < N; q++)
                            want += (double)D[(size_t)g * M * NMAX + m * NMAX + q] * B[g * K + k][q];
                    double e = fabs(CT[k * MPMAX + m] - want);
                    if (!(e <= worst)) worst = e;
                }
            EXPECT(worst < 1e-5 * (1 + N), "rows_dot_t %s M=%d N=%d: off by %g", kernel_isa_name(isa), M, N, worst);
        }
    }
}

/* conv_planes_fill on each ISA path writes exactly what the portable path writes (a copy), on random
 * geometries (odd sizes, kernels 1..5, paddings 0..k-1, "same" and other widths), nothing past its end. */
static void check_planes(KernelIsa isa, Rng *rng) {
    for (int t = 0; t < 60; t++) {
        const int C = 1 + (int)rng_below(rng, 5), k = 1 + (int)rng_below(rng, 5), p = (int)rng_below(rng, (uint64_t)k);
        int H = 1 + (int)rng_below(rng, 13), W = 1 + (int)rng_below(rng, 37);
        if (W + 2 * p < k) W = k;
        const size_t nx = (size_t)C * H * W, np = conv_planes_floats(C, H, W, k, p);
        float *x = malloc(nx * sizeof(float)), *a = malloc((np + 16) * sizeof(float)), *b = malloc((np + 16) * sizeof(float));
        for (size_t i = 0; i < nx; i++) x[i] = frand(rng);
        for (size_t i = 0; i < np + 16; i++) a[i] = b[i] = -7.0f;
        conv_planes_fill(KERNEL_ISA_GENERIC, x, C, H, W, k, p, a);
        conv_planes_fill(isa, x, C, H, W, k, p, b);
        EXPECT(!memcmp(a, b, (np + 16) * sizeof(float)), "conv_planes_fill %s C%d %dx%d k%d p%d differs from generic",
               kernel_isa_name(isa), C, H, W, k, p);
        int edge = 0; /* and it is the shifted input: plane kw at (c, i, o) reads x[c][i - p][o + kw - p] */
        const int hp = H + 2 * p, wo = W + 2 * p - k + 1;
        for (int kw = 0; kw < k; kw++)
            for (int c = 0; c < C; c++)
                for (int i = 0; i < hp; i++)
                    for (int o = 0; o < wo; o++) {
                        const int ih = i - p, iw = o + kw - p;
                        const float want = ih >= 0 && ih < H && iw >= 0 && iw < W ? x[((size_t)c * H + ih) * W + iw] : 0.0f;
                        edge += a[(((size_t)kw * C + c) * hp + i) * wo + o] != want;
                    }
        EXPECT(!edge && a[np] == -7.0f, "conv_planes_fill C%d %dx%d k%d p%d: %d wrong values", C, H, W, k, p, edge);
        free(x), free(a), free(b);
    }
}

/* conv_im2col / conv_col2im_add on each ISA path write exactly the portable path's bits (a copy; the same
 * additions in the same order), nothing past col's end, on random geometries with strides 1..3 (the AVX-512
 * path vectorises stride 2: output widths below and above 8 and 16, odd sizes, padding up to the kernel). */
static void check_im2col(KernelIsa isa, Rng *rng) {
    for (int t = 0; t < 80; t++) {
        const int C = 1 + (int)rng_below(rng, 4), k = 1 + (int)rng_below(rng, 5), s = 1 + (int)rng_below(rng, 3);
        const int p = (int)rng_below(rng, (uint64_t)k + 1);
        int H = 1 + (int)rng_below(rng, 19), W = 1 + (int)rng_below(rng, 45);
        if (H + 2 * p < k) H = k;
        if (W + 2 * p < k) W = k;
        const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
        const size_t nx = (size_t)C * H * W, nc = (size_t)C * k * k * Ho * Wo;
        float *x = malloc(nx * sizeof(float)), *a = malloc((nc + 16) * sizeof(float)), *b = malloc((nc + 16) * sizeof(float));
        float *da = malloc((nx + 16) * sizeof(float)), *db = malloc((nx + 16) * sizeof(float));
        for (size_t i = 0; i < nx; i++) x[i] = frand(rng);
        for (size_t i = 0; i < nc + 16; i++) a[i] = b[i] = -7.0f;
        conv_im2col(KERNEL_ISA_GENERIC, x, C, H, W, k, s, p, Ho, Wo, a);
        conv_im2col(isa, x, C, H, W, k, s, p, Ho, Wo, b);
        EXPECT(!memcmp(a, b, (nc + 16) * sizeof(float)) && a[nc] == -7.0f,
               "conv_im2col %s C%d %dx%d k%d s%d p%d differs from generic", kernel_isa_name(isa), C, H, W, k, s, p);
        for (size_t i = 0; i < nc; i++) a[i] = frand(rng);
        for (size_t i = 0; i < nx + 16; i++) da[i] = db[i] = i < nx ? frand(rng) : -7.0f;
        conv_col2im_add(KERNEL_ISA_GENERIC, a, C, H, W, k, s, p, Ho, Wo, da);
        conv_col2im_add(isa, a, C, H, W, k, s, p, Ho, Wo, db);
        EXPECT(!memcmp(da, db, (nx + 16) * sizeof(float)) && da[nx] == -7.0f,
               "conv_col2im_add %s C%d %dx%d k%d s%d p%d differs from generic", kernel_isa_name(isa), C, H, W, k, s, p);
        free(x), free(a), free(b), free(da), free(db);
    }
}

/* n floats that end at (tail) or start at (!tail) an inaccessible page: a read past that side faults. */
static float *guarded_floats(size_t n, int tail, void **map, size_t *map_bytes) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (n * sizeof(float) + page - 1) / page * page;
    *map_bytes = data + 2 * page;
    char *m = mmap(NULL, *map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    mprotect(m, page, PROT_NONE);
    mprotect(m + page + data, page, PROT_NONE);
    *map = m;
    return tail ? (float *)(void *)(m + page + data - n * sizeof(float)) : (float *)(void *)(m + page);
}

/* conv3x3_avx512 writes exactly what rows_gemm_ep over the shifted planes writes on the AVX-512 path (the same
 * FMAs in the same order), with and without accumulation, bias, residual and ReLU, on random maps (1..37 wide,
 * square or not, positions not a multiple of 16), channel counts 1..20 in and 1..19 out; nothing outside y,
 * and nothing read outside x (x lies against an inaccessible page, after or before it). */
static void check_conv3x3(Rng *rng) {
    for (int t = 0; t < 60; t++) {
        const int C = 1 + (int)rng_below(rng, 20), M = 1 + (int)rng_below(rng, 19);
        /* the first maps tiny (1x1 .. 2x3: the loads' reach spans several channels), then random */
        const int H = t < 6 ? 1 + t % 2 : 1 + (int)rng_below(rng, 37);
        const int W = t < 6 ? 1 + t / 2 : t % 3 ? H : 1 + (int)rng_below(rng, 37), N = H * W;
        const int acc = t % 2, use_ep = t % 4 >= 2;
        void *map;
        size_t map_bytes;
        /* x against a guard page: the loads that could leave x must be masked (a fault otherwise) */
        float *x = guarded_floats((size_t)C * N, t % 2, &map, &map_bytes), *A = malloc(sizeof(float) * (size_t)M * C * 9);
        EXPECT(x != NULL, "mmap failed");
        if (!x) return;
        float *Ap = malloc(sizeof(float) * rows_pack_floats(M, C * 9)), *res = malloc(sizeof(float) * (size_t)M * N);
        float *pl = malloc(sizeof(float) * conv_planes_floats(C, H, W, 3, 1)), *bias = malloc(sizeof(float) * (size_t)M);
        float *ya = malloc(sizeof(float) * ((size_t)M * N + 16)), *yb = malloc(sizeof(float) * ((size_t)M * N + 16));
        const float **B = malloc(sizeof(*B) * (size_t)C * 9);
        uint16_t *masks = malloc(sizeof(uint16_t) * conv3x3_mask_count(H, W));
        for (size_t i = 0; i < (size_t)C * N; i++) x[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * C * 9; i++) A[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * N; i++) res[i] = frand(rng);
        for (int i = 0; i < M; i++) bias[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * N + 16; i++) ya[i] = yb[i] = i < (size_t)M * N ? frand(rng) : -7.0f;
        rows_pack(KERNEL_ISA_AVX512, M, C * 9, A, (size_t)C * 9, Ap);
        conv_planes_fill(KERNEL_ISA_AVX512, x, C, H, W, 3, 1, pl);
        conv_planes_rows(pl, C, H, W, 3, 1, B);
        const RowsEpilogue ep = {bias, res, (size_t)N, 1};
        rows_gemm_ep(KERNEL_ISA_AVX512, M, N, C * 9, Ap, B, ya, (size_t)N, acc, use_ep ? &ep : NULL);
        conv3x3_masks(H, W, masks);
        conv3x3_avx512(M, C, H, W, Ap, x, yb, (size_t)N, acc, use_ep ? &ep : NULL, masks);
        EXPECT(!memcmp(ya, yb, sizeof(float) * ((size_t)M * N + 16)),
               "conv3x3_avx512 C%d M%d %dx%d acc%d ep%d differs from the planes path", C, M, H, W, acc, use_ep);
        munmap(map, map_bytes);
        free(A), free(Ap), free(res), free(pl), free(bias), free(ya), free(yb), free(B), free(masks);
    }
}

/* conv3x3_dw_avx512 adds exactly what rows_dot_t over the planes adds (on top of the same non-zero partials),
 * for 16 and 32 input channels, 1..19 rows of dy, maps 1..20 x 1..37. */
static void check_conv3x3_dw(Rng *rng) {
    for (int t = 0; t < 24; t++) {
        const int C = 16 * (1 + t % 2), M = 1 + (int)rng_below(rng, 19), H = 1 + (int)rng_below(rng, 20);
        const int W = 1 + (int)rng_below(rng, 37), P = H * W, KK = C * 9, Mp = rows_pad_m(M);
        float *x = malloc(sizeof(float) * (size_t)C * P), *dy = malloc(sizeof(float) * (size_t)M * P);
        float *pl = malloc(sizeof(float) * conv_planes_floats(C, H, W, 3, 1)), *dyt = malloc(sizeof(float) * (size_t)P * Mp);
        float *pw = malloc(sizeof(float) * (size_t)KK * Mp), *part = malloc(sizeof(float) * (size_t)KK * M);
        float *xT = calloc((size_t)(H + 2) * (W + 2) * C, sizeof(float));
        const float **B = malloc(sizeof(*B) * (size_t)KK);
        for (size_t i = 0; i < (size_t)C * P; i++) x[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * P; i++) dy[i] = frand(rng);
        for (int j = 0; j < KK; j++)
            for (int m = 0; m < Mp; m++) {
                pw[(size_t)j * Mp + m] = frand(rng);
                if (m < M) part[((size_t)m * 9 + j % 9) * C + j / 9] = pw[(size_t)j * Mp + m];
            }
        conv_planes_fill(KERNEL_ISA_AVX512, x, C, H, W, 3, 1, pl);
        conv_planes_rows(pl, C, H, W, 3, 1, B);
        rows_transpose(KERNEL_ISA_AVX512, M, P, dy, (size_t)P, dyt, (size_t)Mp, Mp);
        rows_dot_t(KERNEL_ISA_AVX512, Mp, KK, P, 1, dyt, (size_t)Mp, 0, B, pw, (size_t)Mp);
        for (int ih = 0; ih < H; ih++)
            for (int c = 0; c < C; c++)
                for (int iw = 0; iw < W; iw++) xT[((size_t)(ih + 1) * (W + 2) + iw + 1) * C + c] = x[((size_t)c * H + ih) * W + iw];
        conv3x3_dw_avx512(M, C, H, W, xT, dy, part);
        int wrong = 0;
        for (int j = 0; j < KK; j++)
            for (int m = 0; m < M; m++) wrong += part[((size_t)m * 9 + j % 9) * C + j / 9] != pw[(size_t)j * Mp + m];
        EXPECT(!wrong, "conv3x3_dw_avx512 C%d M%d %dx%d: %d of %d sums differ from rows_dot_t's", C, M, H, W, wrong, KK * M);
        free(x), free(dy), free(pl), free(dyt), free(pw), free(part), free(xT), free(B);
    }
}

/* conv3x3_wino_avx512 against the 7-loop sum in double, with and without accumulation, bias, residual and
 * ReLU, on maps whose vectors of 16 tiles start at tile rows (W = 8, 16, 32) and inside them (any other width),
 * odd heights and widths (half tiles), one block of 16 tiles, of 32, several and a part-filled last one; channel
 * counts 1..40 (output channels off the register tile's 8 / 16 rows); nothing written outside y, nothing read
 * outside x (x against a guard page). Its error bound: 1e-5 relative to the sum of the terms' magnitudes (F(2x2, 3x3)
 * adds a few roundings of terms of that size; the direct kernel's error is of the same order). Also which maps
 * it takes. */
static void check_conv3x3_wino(Rng *rng, int f4) {
    const int maps[][2] = {{8, 8},   {16, 8}, {4, 16}, {8, 16}, {16, 16}, {2, 32}, {4, 32},  {6, 32},  {32, 32}, {12, 16},
                           {7, 7},   {14, 14}, {28, 28}, {2, 4}, {3, 5},   {5, 9},  {9, 13}, {6, 30}, {11, 4},  {3, 37},
                           {17, 6}, {3, 19}};
    const int maps4[][2] = {{16, 16}, {32, 16}, {8, 32}, {16, 32}, {32, 32}};
    const int n_maps = f4 ? (int)(sizeof maps4 / sizeof *maps4) : (int)(sizeof maps / sizeof *maps);
    double worst_all = 0.0;
    for (int t = 0; t < 3 * n_maps; t++) {
        const int H = f4 ? maps4[t % n_maps][0] : maps[t % n_maps][0], W = f4 ? maps4[t % n_maps][1] : maps[t % n_maps][1];
        const int N = H * W;
        const int C = 1 + (int)rng_below(rng, 40), M = 1 + (int)rng_below(rng, 40), acc = t % 2, use_ep = t % 4 >= 2;
        EXPECT(f4 ? conv3x3_wino4_fits(H, W) : conv3x3_wino_fits(H, W), "conv3x3_wino%s_fits refuses %dx%d",
               f4 ? "4" : "", H, W);
        void *map;
        size_t map_bytes;
        float *x = guarded_floats((size_t)C * N, t % 2, &map, &map_bytes), *A = malloc(sizeof(float) * (size_t)M * C * 9);
        EXPECT(x != NULL, "mmap failed");
        if (!x) return;
        const size_t uf = f4 ? conv3x3_wino4_weight_floats(M, C) : conv3x3_wino_weight_floats(M, C);
        const size_t wf = f4 ? conv3x3_wino4_work_floats(M, C, H, W) : conv3x3_wino_work_floats(M, C, H, W);
        float *U = malloc(sizeof(float) * uf), *res = malloc(sizeof(float) * (size_t)M * N);
        float *work = aligned_alloc(64, sizeof(float) * ((wf + 15) & ~(size_t)15));
        float *bias = malloc(sizeof(float) * (size_t)M), *y = malloc(sizeof(float) * ((size_t)M * N + 16));
        float *y0 = malloc(sizeof(float) * (size_t)M * N), *plan = malloc(sizeof(float) * conv3x3_wino_plan_floats(H, W));
        for (size_t i = 0; i < (size_t)C * N; i++) x[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * C * 9; i++) A[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * N; i++) res[i] = frand(rng);
        for (int i = 0; i < M; i++) bias[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * N + 16; i++) y[i] = i < (size_t)M * N ? frand(rng) : -7.0f;
        memcpy(y0, y, sizeof(float) * (size_t)M * N);
        const RowsEpilogue ep = {bias, res, (size_t)N, 1};
        if (f4) {
            conv3x3_wino4_weights(M, C, A, (size_t)C * 9, U);
            conv3x3_wino4_avx512(M, C, H, W, U, x, y, (size_t)N, acc, use_ep ? &ep : NULL, work);
        } else {
            conv3x3_wino_weights(M, C, A, (size_t)C * 9, U);
            conv3x3_wino_plan(H, W, plan);
            conv3x3_wino_avx512(M, C, H, W, U, plan, x, y, (size_t)N, acc, use_ep ? &ep : NULL, work);
        }
        double worst = 0.0;
        for (int m = 0; m < M; m++)
            for (int q = 0; q < N; q++) {
                const int oh = q / W, ow = q % W;
                double sum = (acc ? y0[(size_t)m * N + q] : 0.0) + (use_ep ? bias[m] + res[(size_t)m * N + q] : 0.0);
                double mag = fabs(sum);
                for (int c = 0; c < C; c++)
                    for (int k = 0; k < 9; k++) {
                        const int ih = oh + k / 3 - 1, iw = ow + k % 3 - 1;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        const double term = (double)A[((size_t)m * C + c) * 9 + k] * x[((size_t)c * H + ih) * W + iw];
                        sum += term, mag += fabs(term);
                    }
                if (use_ep && sum < 0) sum = 0;
                const double e = fabs(y[(size_t)m * N + q] - sum) / (mag + 1e-30);
                if (!(e <= worst)) worst = e; /* NaN counts as worst */
            }
        int outside = 0;
        for (int i = 0; i < 16; i++) outside += y[(size_t)M * N + i] != -7.0f;
        if (worst > worst_all) worst_all = worst;
        EXPECT(worst <= (f4 ? 1e-4 : 1e-5), "conv3x3_wino%s C%d M%d %dx%d acc%d ep%d: relative error %.3g", f4 ? "4" : "", C, M, H, W, acc, use_ep,
               worst);
        EXPECT(!outside, "conv3x3_wino C%d M%d %dx%d wrote past y", C, M, H, W);
        munmap(map, map_bytes);
        free(A), free(U), free(res), free(work), free(bias), free(y), free(y0), free(plan);
    }
    printf("conv3x3_wino%s: worst relative error %.3g\n", f4 ? "4" : "", worst_all);
    const int refused[][2] = {{1, 32}, {8, 3}, {8, 1}, {1, 1}};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        EXPECT(!conv3x3_wino_fits(refused[i][0], refused[i][1]), "conv3x3_wino_fits takes %dx%d", refused[i][0],
               refused[i][1]);
    const int refused4[][2] = {{28, 28}, {8, 16}, {4, 32}, {16, 8}, {8, 8}, {16, 64}};
    for (size_t i = 0; i < sizeof refused4 / sizeof *refused4; i++)
        EXPECT(!conv3x3_wino4_fits(refused4[i][0], refused4[i][1]), "conv3x3_wino4_fits takes %dx%d", refused4[i][0],
               refused4[i][1]);
}

/* conv3x3_wino_dw_avx512 + conv3x3_wino_dw_finish against the weight gradient summed in double, added to
 * non-zero starting values, two samples accumulated into one dU, for 16 / 32 / 48 input channels and 1..40
 * output channels on maps of every kind check_conv3x3_wino takes; error bound as check_conv3x3_wino's. */
static void check_conv3x3_wino_dw(Rng *rng, int f4) {
    const int maps[][2] = {{8, 8}, {16, 8}, {4, 16}, {8, 16}, {16, 16}, {2, 32}, {6, 32}, {32, 32},
                           {7, 7}, {14, 14}, {28, 28}, {3, 5}, {9, 13}, {5, 4}};
    const int maps4[][2] = {{16, 16}, {32, 16}, {8, 32}, {16, 32}, {32, 32}};
    const int n_maps = f4 ? (int)(sizeof maps4 / sizeof *maps4) : (int)(sizeof maps / sizeof *maps);
    double worst_all = 0.0;
    for (int t = 0; t < 2 * n_maps; t++) {
        const int H = f4 ? maps4[t % n_maps][0] : maps[t % n_maps][0], W = f4 ? maps4[t % n_maps][1] : maps[t % n_maps][1];
        const int N = H * W, C = 16 * (1 + t % 3), P = f4 ? 36 : 16;
        int Hp, Wp;
        conv3x3_wino_padded(H, W, &Hp, &Wp);
        const int K = 1 + (int)rng_below(rng, 40);
        float *x = malloc(sizeof(float) * 2 * (size_t)C * N), *dy = malloc(sizeof(float) * 2 * (size_t)K * N);
        float *xT = calloc((size_t)Hp * Wp * C, sizeof(float)), *dU = calloc((size_t)P * K * C, sizeof(float));
        float *work = malloc(sizeof(float) * (f4 ? conv3x3_wino4_work_floats(K, C, H, W) : conv3x3_wino_work_floats(K, C, H, W)));
        float *dg = malloc(sizeof(float) * (size_t)K * C * 9), *dg0 = malloc(sizeof(float) * (size_t)K * C * 9);
        float *plan = malloc(sizeof(float) * conv3x3_wino_plan_floats(H, W));
        conv3x3_wino_plan(H, W, plan);
        for (size_t i = 0; i < 2 * (size_t)C * N; i++) x[i] = frand(rng);
        for (size_t i = 0; i < 2 * (size_t)K * N; i++) dy[i] = frand(rng);
        for (size_t i = 0; i < (size_t)K * C * 9; i++) dg[i] = dg0[i] = frand(rng);
        for (int n = 0; n < 2; n++) {
            for (int ih = 0; ih < H; ih++)
                for (int c = 0; c < C; c++)
                    for (int iw = 0; iw < W; iw++)
                        xT[((size_t)(ih + 1) * Wp + iw + 1) * C + c] = x[(((size_t)n * C + c) * H + ih) * W + iw];
            if (f4) conv3x3_wino4_dw_avx512(K, C, H, W, xT, dy + (size_t)n * K * N, dU, work);
            else conv3x3_wino_dw_avx512(K, C, H, W, plan, xT, dy + (size_t)n * K * N, dU, work);
        }
        for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++) {
                if (f4) conv3x3_wino4_dw_finish(dU + (size_t)k * C + c, (size_t)K * C, dg + ((size_t)k * C + c) * 9);
                else conv3x3_wino_dw_finish(dU + (size_t)k * C + c, (size_t)K * C, dg + ((size_t)k * C + c) * 9);
            }
        double worst = 0.0;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++)
                for (int tap = 0; tap < 9; tap++) {
                    const size_t at = ((size_t)k * C + c) * 9 + tap;
                    double sum = dg0[at], mag = fabs(sum);
                    for (int n = 0; n < 2; n++)
                        for (int q = 0; q < N; q++) {
                            const int ih = q / W + tap / 3 - 1, iw = q % W + tap % 3 - 1;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            const double term = (double)dy[((size_t)n * K + k) * N + q] * x[(((size_t)n * C + c) * H + ih) * W + iw];
                            sum += term, mag += fabs(term);
                        }
                    const double e = fabs(dg[at] - sum) / mag;
                    if (!(e <= worst)) worst = e;
                }
        if (worst > worst_all) worst_all = worst;
        EXPECT(worst <= (f4 ? 1e-4 : 1e-5), "conv3x3_wino%s_dw C%d K%d %dx%d: relative error %.3g", f4 ? "4" : "", C, K,
               H, W, worst);
        free(x), free(dy), free(xT), free(dU), free(work), free(dg), free(dg0), free(plan);
    }
    printf("conv3x3_wino%s_dw: worst relative error %.3g\n", f4 ? "4" : "", worst_all);
}

/* The 8x8 four-sample F(4x4, 3x3) kernels against sums in double: forward with accumulation, bias, residual and
 * ReLU on 1..4 present samples (an absent one's y untouched), and the weight gradient of 1..4 samples added
 * to non-zero values; channel counts 1..40 / 16..48. */
static void check_conv3x3_wino4_group(Rng *rng) {
    double worst_all = 0.0;
    for (int t = 0; t < 12; t++) {
        const int C = 16 * (1 + t % 3), M = 1 + (int)rng_below(rng, 40), present = 1 + t % 4, N = 64;
        const int acc = t % 2, use_ep = t % 4 >= 2;
        float *x = malloc(sizeof(float) * 4 * (size_t)C * N), *y = malloc(sizeof(float) * 4 * (size_t)M * N);
        float *y0 = malloc(sizeof(float) * 4 * (size_t)M * N), *res = malloc(sizeof(float) * 4 * (size_t)M * N);
        float *A = malloc(sizeof(float) * (size_t)M * C * 9), *bias = malloc(sizeof(float) * (size_t)M);
        float *U = malloc(sizeof(float) * conv3x3_wino4_weight_floats(M, C));
        float *work = malloc(sizeof(float) * conv3x3_wino4_work_floats(M > C ? M : C, M > C ? M : C, 8, 8));
        float *xT = calloc(4 * (size_t)100 * C, sizeof(float)), *dU = calloc((size_t)36 * M * C, sizeof(float));
        float *dg = malloc(sizeof(float) * (size_t)M * C * 9), *dg0 = malloc(sizeof(float) * (size_t)M * C * 9);
        for (size_t i = 0; i < 4 * (size_t)C * N; i++) x[i] = frand(rng);
        for (size_t i = 0; i < 4 * (size_t)M * N; i++) y[i] = y0[i] = frand(rng), res[i] = frand(rng);
        for (size_t i = 0; i < (size_t)M * C * 9; i++) A[i] = frand(rng), dg[i] = dg0[i] = frand(rng);
        for (int i = 0; i < M; i++) bias[i] = frand(rng);
        const float *xs[4], *rs[4], *xts[4], *dys[4];
        float *ys[4];
        for (int n = 0; n < 4; n++) {
            const int here = n < present;
            xs[n] = here ? x + (size_t)n * C * N : NULL, ys[n] = y + (size_t)n * M * N, rs[n] = res + (size_t)n * M * N;
            xts[n] = xT + (size_t)n * 100 * C, dys[n] = here ? y0 + (size_t)n * M * N : NULL; /* y0 as dy */
            for (int ih = 0; ih < 8; ih++)
                for (int c = 0; c < C; c++)
                    for (int iw = 0; iw < 8; iw++)
                        xT[(size_t)n * 100 * C + ((size_t)(ih + 1) * 10 + iw + 1) * C + c] = x[(((size_t)n * C + c) * 8 + ih) * 8 + iw];
        }
        const RowsEpilogue ep = {bias, NULL, (size_t)N, 1};
        conv3x3_wino4_weights(M, C, A, (size_t)C * 9, U);
        conv3x3_wino4_group_avx512(M, C, U, xs, ys, (size_t)N, acc, use_ep ? &ep : NULL, use_ep ? rs : NULL, work);
        double worst = 0.0;
        int touched = 0;
        for (int n = 0; n < 4; n++)
            for (int m = 0; m < M; m++)
                for (int q = 0; q < N; q++) {
                    const size_t at = ((size_t)n * M + m) * N + q;
                    if (n >= present) {
                        touched += y[at] != y0[at];
                        continue;
                    }
                    double sum = (acc ? y0[at] : 0.0) + (use_ep ? bias[m] + res[at] : 0.0), mag = fabs(sum);
                    for (int c = 0; c < C; c++)
                        for (int k = 0; k < 9; k++) {
                            const int ih = q / 8 + k / 3 - 1, iw = q % 8 + k % 3 - 1;
                            if (ih < 0 || ih >= 8 || iw < 0 || iw >= 8) continue;
                            const double term = (double)A[((size_t)m * C + c) * 9 + k] * x[(((size_t)n * C + c) * 8 + ih) * 8 + iw];
                            sum += term, mag += fabs(term);
                        }
                    if (use_ep && sum < 0) sum = 0;
                    const double e = fabs(y[at] - sum) / (mag + 1e-30);
                    if (!(e <= worst)) worst = e;
                }
        EXPECT(worst <= 1e-4, "conv3x3_wino4_group C%d M%d n%d acc%d ep%d: relative error %.3g", C, M, present, acc,
               use_ep, worst);
        EXPECT(!touched, "conv3x3_wino4_group wrote %d values of absent samples", touched);
        /* weight gradient, dy = y0 of the present samples (K = M output channels, C input channels) */
        conv3x3_wino4_dw_group_avx512(M, C, xts, dys, dU, work);
        for (int k = 0; k < M; k++)
            for (int c = 0; c < C; c++) conv3x3_wino4_dw_finish(dU + (size_t)k * C + c, (size_t)M * C, dg + ((size_t)k * C + c) * 9);
        double worst_dw = 0.0;
        for (int k = 0; k < M; k++)
            for (int c = 0; c < C; c++)
                for (int tap = 0; tap < 9; tap++) {
                    const size_t at = ((size_t)k * C + c) * 9 + tap;
                    double sum = dg0[at], mag = fabs(sum);
                    for (int n = 0; n < present; n++)
                        for (int q = 0; q < N; q++) {
                            const int ih = q / 8 + tap / 3 - 1, iw = q % 8 + tap % 3 - 1;
                            if (ih < 0 || ih >= 8 || iw < 0 || iw >= 8) continue;
                            const double term = (double)y0[((size_t)n * M + k) * N + q] * x[(((size_t)n * C + c) * 8 + ih) * 8 + iw];
                            sum += term, mag += fabs(term);
                        }
                    const double e = fabs(dg[at] - sum) / mag;
                    if (!(e <= worst_dw)) worst_dw = e;
                }
        EXPECT(worst_dw <= 1e-4, "conv3x3_wino4_dw_group C%d K%d n%d: relative error %.3g", C, M, present, worst_dw);
        if (worst > worst_all) worst_all = worst;
        if (worst_dw > worst_all) worst_all = worst_dw;
        free(x), free(y), free(y0), free(res), free(A), free(bias), free(U), free(work), free(xT), free(dU), free(dg),
            free(dg0);
    }
    printf("conv3x3_wino4 8x8 groups: worst relative error %.3g\n", worst_all);
}

int main(void) {
    Rng rng;
    rng_seed(&rng, 20261128);
    const char *isas[] = {"generic", "avx2", "avx512"};
    int n_isa = 0;
    const char *run_isas[3];
    for (int i = 0; i < 3; i++) {
        if (kernel_isa_supported((KernelIsa)i)) run_isas[n_isa++] = isas[i];
        else printf("note: this CPU cannot run the %s path; not tested here\n", isas[i]);
        if (kernel_isa_supported((KernelIsa)i)) check_pack((KernelIsa)i, &rng), check_rows((KernelIsa)i, &rng), check_planes((KernelIsa)i, &rng), check_im2col((KernelIsa)i, &rng);
    }
    if (conv3x3_available(KERNEL_ISA_AVX512) && kernel_isa_supported(KERNEL_ISA_AVX512)) {
        check_conv3x3(&rng), check_conv3x3_dw(&rng);
        check_conv3x3_wino(&rng, 0), check_conv3x3_wino(&rng, 1), check_conv3x3_wino_dw(&rng, 0);
        check_conv3x3_wino_dw(&rng, 1), check_conv3x3_wino4_group(&rng);
    } else {
        printf("note: no AVX-512: conv3x3_avx512 and the Winograd kernels not tested here\n");
    }
    /* the ResNet shapes, then random ones */
    Geo fixed[] = {{2, 16, 16, 8, 8, 3, 1, 1, 0}, {2, 16, 32, 8, 8, 3, 2, 1, 0}, {2, 16, 32, 8, 8, 1, 2, 0, 0},
                   {2, 32, 64, 6, 6, 3, 2, 1, 0}, {2, 64, 64, 4, 4, 3, 1, 1, 0}, {2, 3, 16, 7, 9, 3, 1, 1, 1},
                   {3, 5, 7, 5, 6, 1, 1, 0, 1},   {2, 4, 6, 5, 5, 3, 1, 3, 0},   {2, 3, 5, 9, 4, 2, 1, 0, 1},
                   /* 3x3/1/1 with Cin a multiple of 16 on maps >= 16 wide: dW by conv3x3_dw on AVX-512 */
                   {2, 16, 8, 16, 17, 3, 1, 1, 1}, {3, 32, 19, 5, 16, 3, 1, 1, 0},
                   /* maps conv3x3_wino.h takes: forward and dx by Winograd on AVX-512 (8x8 above too) */
                   {2, 5, 7, 16, 16, 3, 1, 1, 1}, {2, 16, 16, 32, 32, 3, 1, 1, 0}, {1, 3, 9, 4, 32, 3, 1, 1, 1},
                   /* and dW (Cin a multiple of 16), output channels off the 16-row tile */
                   {2, 32, 5, 16, 16, 3, 1, 1, 1}, {3, 16, 21, 8, 8, 3, 1, 1, 0},
                   /* F(4x4, 3x3) for forward and dx (>= 32 channels each way, 16 or 32 wide) */
                   {1, 32, 33, 16, 16, 3, 1, 1, 1}, {2, 48, 32, 8, 32, 3, 1, 1, 0},
                   /* 8x8 maps, >= 32 channels: 4 samples per F(4x4) vector, the last group part-filled */
                   {3, 32, 48, 8, 8, 3, 1, 1, 1}, {5, 64, 32, 8, 8, 3, 1, 1, 0}};
    int cases = 0, failed = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed + 40; i++) {
        const Geo g = i < sizeof fixed / sizeof *fixed ? fixed[i] : conv_geo_random(&rng);
        const int threads = 1 + (int)(i % 2), detach = i % 7 == 3, fresh = i % 3 == 1;
        failed += !run_case(&g, "gemm", NULL, threads, detach, fresh, 1000 + i), cases++;
        for (int a = 0; a < n_isa; a++)
            failed += !run_case(&g, "direct", run_isas[a], threads, detach, fresh, 1000 + i), cases++;
    }
    unsetenv("LOCUS_CONV");
    unsetenv("LOCUS_ISA");
    printf("%d convolution cases, %d failed; ISA paths: %d\n", cases, failed, n_isa);
    return expect_report();
}
