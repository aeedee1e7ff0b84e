/* test_gelu_kernels.c — the vectorised GELU (src/kernels/gelu.h) on each instruction-set path against erf and
 * exp in double:
 *  - forward y = 0.5 x (1 + erf(x / sqrt 2)) and backward dx += dy (Phi(x) + x phi(x)) over a dense sweep of
 *    [-14, 14] (both erf branches, the far tails, exp's underflow): relative error within a few float ulps, plus
 *    the absolute error of 1 + erf (~1e-7, one ulp of 1: the accuracy of float 1 + erff, what PyTorch computes)
 *    times |x| / 2 (forward) or 1/2 (backward);
 *  - odd lengths and unaligned starts (the vector loops' remainders), nothing written past the end;
 *  - NaN in gives NaN out; +inf gives +inf; the backward accumulates onto what dx held;
 *  - exp_nonpos_rows (the softmax's exp) over [-100, 0] against exp in double;
 *  - softmax_row and its backward softmax_grad_row against double, lengths across the vector widths.
 * It fails for libm-free shortcuts such as the tanh approximation (errors ~1e-3).
 * The layer (gelu.c) is covered by the gradient checks (test_gradcheck) and the ViT golden test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "kernels/gelu.h"

static double ref_y(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double ref_d(double x) { return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

static void check_isa(KernelIsa isa) {
    enum { N = 28001 };
    float *x = malloc(N * sizeof(float)), *y = malloc((N + 8) * sizeof(float));
    float *dy = malloc(N * sizeof(float)), *dx = malloc((N + 8) * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = -14.0f + 28.0f * (float)i / (N - 1), dy[i] = 0.5f + (float)(i % 7) * 0.25f;
    for (int i = 0; i < N + 8; i++) y[i] = -3.0f, dx[i] = 0.75f;
    const size_t offs[] = {0, 1, 3, 5};
    double worst_y = 0, worst_d = 0;
    float at_y = 0, at_d = 0;
    char *over = calloc(N, 1);
    for (size_t o = 0; o < 4; o++) { /* unaligned starts, odd lengths: the whole array in 4 pieces; the backward
                                      * accumulates onto 0.75 in pieces 0 and 2, overwrites NaN in 1 and 3 */
        size_t lo = o * (N / 4) + offs[o], hi = o == 3 ? N : (o + 1) * (N / 4) + offs[o + 1];
        for (size_t i = lo; o % 2 && i < hi; i++) dx[i] = NAN, over[i] = 1;
        gelu_rows_forward(isa, x + lo, y + lo, hi - lo);
        gelu_rows_backward(isa, x + lo, dy + lo, dx + lo, hi - lo, (int)(o % 2));
    }
    for (int i = 0; i < N; i++) {
        const double ry = ref_y(x[i]), rd = (over[i] ? 0.0 : 0.75) + dy[i] * ref_d(x[i]);
        /* error / allowance: 4e-7 relative + (1.2e-7 absolute on 1 + erf) x |x| / 2, resp. x dy / 2 */
        const double ey = fabs(y[i] - ry) / (4e-7 * fabs(ry) + 0.5 * 1.2e-7 * fabs(x[i]) + 1e-37);
        const double ed = fabs(dx[i] - rd) / (4e-7 * fabs(rd) + 0.5 * 1.2e-7 * dy[i] + 1e-37);
        if (!(ey <= worst_y)) worst_y = ey, at_y = x[i];
        if (!(ed <= worst_d)) worst_d = ed, at_d = x[i];
    }
    EXPECT(worst_y <= 1, "gelu forward %s: error %.3g x the allowance at x = %g", kernel_isa_name(isa), worst_y, at_y);
    EXPECT(worst_d <= 1, "gelu backward %s: error %.3g x the allowance at x = %g", kernel_isa_name(isa), worst_d, at_d);
    printf("gelu %s: worst error / allowance: forward %.3f (x = %g), backward %.3f (x = %g)\n", kernel_isa_name(isa),
           worst_y, at_y, worst_d, at_d);
    int past = 0;
    for (int i = N; i < N + 8; i++) past += y[i] != -3.0f || dx[i] != 0.75f;
    EXPECT(!past, "gelu %s wrote past the end", kernel_isa_name(isa));

    float sx[5] = {NAN, INFINITY, 0.0f, -0.0f, 1e-30f}, sy[5], sd[5] = {0, 0, 0, 0, 0}, one[5] = {1, 1, 1, 1, 1};
    gelu_rows_forward(isa, sx, sy, 5);
    gelu_rows_backward(isa, sx, one, sd, 5, 0);
    EXPECT(isnan(sy[0]) && isnan(sd[0]), "gelu %s: NaN in, %g / %g out", kernel_isa_name(isa), sy[0], sd[0]);
    EXPECT(sy[1] == INFINITY, "gelu %s: +inf gives %g", kernel_isa_name(isa), sy[1]);
    EXPECT(sy[2] == 0.0f && sd[2] == 0.5f && sd[3] == 0.5f, "gelu %s at 0: %g, slope %g", kernel_isa_name(isa), sy[2], sd[2]);
    EXPECT(fabs(sy[4] - 0.5e-30) < 1e-37, "gelu %s(1e-30) = %g", kernel_isa_name(isa), sy[4]);
    free(x), free(y), free(dy), free(dx), free(over);

    /* exp_nonpos_rows: [-100, 0] (underflow below -87 to 0), odd length, relative error < 1.5e-7 */
    enum { M = 20001 };
    float *e = malloc((M + 4) * sizeof(float));
    for (int i = 0; i < M; i++) e[i] = -100.0f * (float)i / (M - 1);
    e[M] = 5.0f, e[M + 1] = 7.0f;
    float keep = e[M + 1];
    float *src = malloc(M * sizeof(float));
    memcpy(src, e, M * sizeof(float));
    exp_nonpos_rows(isa, e, M + 1);
    double worst = 0;
    float at = 0;
    for (int i = 0; i < M; i++) {
        const double r = exp((double)src[i]), err = src[i] < -87.0f ? fabs(e[i] - r) / 1e-37 * 1e-7 : fabs(e[i] - r) / r;
        if (!(err <= worst)) worst = err, at = src[i];
    }
    EXPECT(worst < 1.5e-7, "exp_nonpos_rows %s: relative error %.3g at %g", kernel_isa_name(isa), worst, at);
    EXPECT(e[M] == 1.0f && e[M + 1] == keep, "exp_nonpos_rows %s: positive input gave %g, or wrote past the end",
           kernel_isa_name(isa), e[M]);
    free(e), free(src);
}

/* softmax_row and softmax_grad_row against double, for lengths around the vector widths (the lanes' maximum, the
 * remainders), with scores spread over [-20, 20] and a score far above the rest (the shift); nothing written past
 * n. */
static void check_softmax(KernelIsa isa) {
    enum { NMAX = 70 };
    const int ns[] = {1, 5, 16, 17, 33, 65};
    double worst = 0, worst_g = 0;
    for (int c = 0; c < 6; c++) {
        const int n = ns[c];
        float row[NMAX + 1], p[NMAX + 1], dp[NMAX + 1], g[NMAX];
        for (int j = 0; j < n; j++) row[j] = 20.0f * sinf(1.7f * (float)(j + c)), g[j] = cosf(0.9f * (float)j);
        if (n > 3) row[n - 2] = 90.0f;
        row[n] = p[n] = dp[n] = -7.0f;
        const float scale = 0.125f;
        double ref[NMAX], mx = -1e300, sum = 0;
        for (int j = 0; j < n; j++) mx = fmax(mx, (double)row[j] * scale);
        for (int j = 0; j < n; j++) sum += ref[j] = exp((double)row[j] * scale - mx);
        memcpy(p, row, sizeof(float) * (size_t)n);
        softmax_row(isa, p, (size_t)n, scale);
        double dot = 0;
        for (int j = 0; j < n; j++) {
            ref[j] /= sum;
            worst = fmax(worst, fabs(p[j] - ref[j]) / (ref[j] + 1e-30) * (ref[j] > 1e-30));
            worst = fmax(worst, fabs(p[j] - ref[j]) > 1e-37 && ref[j] <= 1e-30 ? 1 : 0);
            dot += (double)g[j] * p[j];
        }
        memcpy(dp, g, sizeof(float) * (size_t)n);
        softmax_grad_row(isa, p, dp, (size_t)n, scale);
        for (int j = 0; j < n; j++)
            worst_g = fmax(worst_g, fabs(dp[j] - (double)p[j] * (g[j] - dot) * scale) / (1e-6 + fabs(p[j] * scale)));
        EXPECT(row[n] == -7.0f && p[n] == -7.0f && dp[n] == -7.0f, "softmax %s n=%d: wrote past the row",
               kernel_isa_name(isa), n);
    }
    printf("softmax %s: worst relative error %.2g, its gradient %.2g\n", kernel_isa_name(isa), worst, worst_g);
    EXPECT(worst < 1e-5 && worst_g < 1e-5, "softmax %s: off by %g, gradient by %g", kernel_isa_name(isa), worst,
           worst_g);
}

int main(void) {
    const char *names[] = {"generic", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        if (kernel_isa_supported((KernelIsa)i)) check_isa((KernelIsa)i), check_softmax((KernelIsa)i);
        else printf("note: this CPU cannot run the %s path; not tested here\n", names[i]);
    }
    return expect_report();
}
