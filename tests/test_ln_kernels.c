/* test_ln_kernels.c — LayerNorm's kernels (src/kernels/ln.h) on each instruction-set path against double:
 * forward (y, mean, rstd), the input gradient (accumulated onto non-zero values) and the column sums of the
 * weight and bias gradients (a full block of 16 columns and a partial one), for widths below, at and above the
 * 8 summation lanes (5, 8, 48, 192) and rows offset by 100 (the centred variance must not cancel). Errors are
 * measured against an allowance of 4e-6 plus, for a row, 4 float roundings of its mean in units of its spread
 * (|mean| rstd 6e-8: the mean is stored as a float, as PyTorch's is); nothing is written past the ends. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "kernels/ln.h"
#include "locus/rng.h"

static double rel(double got, double want) { return fabs(got - want) / (1e-6 + fabs(want)); }

static void check(KernelIsa isa, int d, Rng *rng) {
    enum { ROWS = 70 };
    const size_t n = (size_t)ROWS * d;
    float *x = malloc((n + 4) * sizeof(float)), *dy = malloc(n * sizeof(float)), *y = malloc((n + 4) * sizeof(float));
    float *dx = malloc((n + 4) * sizeof(float)), *w = malloc(d * sizeof(float)), *b = malloc(d * sizeof(float));
    float mean[ROWS + 1], rstd[ROWS + 1], dw[256], db[256];
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(rng) + (i / d % 3 == 0 ? 100.0f : 0.0f);
    for (size_t i = 0; i < n; i++) dy[i] = (float)rng_normal(rng), dx[i] = 0.25f;
    for (int i = 0; i < d; i++) w[i] = 1.0f + 0.3f * (float)rng_normal(rng), b[i] = (float)rng_normal(rng);
    for (int i = 0; i < d; i++) dw[i] = 0.5f, db[i] = -0.5f;
    x[n] = y[n] = dx[n] = mean[ROWS] = rstd[ROWS] = -7.0f;
    const float eps = 1e-6f;
    ln_rows_forward(isa, x, y, w, b, ROWS, d, eps, mean, rstd);
    ln_rows_backward(isa, x, dy, w, mean, rstd, ROWS, d, dx);
    for (int i0 = 0; i0 < d; i0 += 16)
        ln_cols_backward(isa, x, dy, mean, rstd, ROWS, d, i0, i0 + 16 < d ? i0 + 16 : d, dw, db);
    double worst = 0;
    double rdw[256] = {0}, rdb[256] = {0};
    for (int r = 0; r < ROWS; r++) {
        const float *xr = x + (size_t)r * d, *dyr = dy + (size_t)r * d;
        double m = 0, v = 0, sg = 0, sgx = 0;
        for (int i = 0; i < d; i++) m += xr[i];
        m /= d;
        for (int i = 0; i < d; i++) v += (xr[i] - m) * (xr[i] - m);
        const double s = 1.0 / sqrt(v / d + eps), tol = 4e-6 + 4 * 6e-8 * fabs(m) * s;
        worst = fmax(worst, fmax(rel(mean[r], m), rel(rstd[r], s)) / 4e-6);
        for (int i = 0; i < d; i++) {
            const double xh = (xr[i] - m) * s, g = (double)dyr[i] * w[i];
            worst = fmax(worst, fabs(y[(size_t)r * d + i] - (xh * w[i] + b[i])) / (1 + fabs(xh * w[i] + b[i])) / tol);
            sg += g, sgx += g * xh;
            rdw[i] += dyr[i] * xh, rdb[i] += dyr[i];
        }
        for (int i = 0; i < d; i++) {
            const double xh = (xr[i] - m) * s, want = 0.25 + s * ((double)dyr[i] * w[i] - sg / d - xh * sgx / d);
            worst = fmax(worst, fabs(dx[(size_t)r * d + i] - want) / (1 + fabs(want)) / (tol * s));
        }
    }
    for (int i = 0; i < d; i++) /* (sums over 70 rows, some offset: the offset rows' allowance, times 10) */
        worst = fmax(worst, fmax(fabs(dw[i] - (0.5 + rdw[i])) / (1 + fabs(rdw[i])),
                                 fabs(db[i] - (-0.5 + rdb[i])) / (1 + fabs(rdb[i]))) / 1e-4);
    printf("layernorm kernels %s d=%d: worst error / allowance %.2g\n", kernel_isa_name(isa), d, worst);
    EXPECT(worst <= 1, "layernorm kernels %s d=%d: off by %g x the allowance", kernel_isa_name(isa), d, worst);
    EXPECT(x[n] == -7.0f && y[n] == -7.0f && dx[n] == -7.0f && mean[ROWS] == -7.0f && rstd[ROWS] == -7.0f,
           "layernorm kernels %s d=%d: wrote past an end", kernel_isa_name(isa), d);
    free(x), free(dy), free(y), free(dx), free(w), free(b);
}

int main(void) {
    Rng rng;
    rng_seed(&rng, 17);
    const int ds[] = {5, 8, 48, 192};
    for (int i = 0; i < 3; i++) {
        if (!kernel_isa_supported((KernelIsa)i)) {
            printf("note: this CPU cannot run the %s path; not tested here\n", kernel_isa_name((KernelIsa)i));
            continue;
        }
        for (int k = 0; k < 4; k++) check((KernelIsa)i, ds[k], &rng);
    }
    return expect_report();
}
