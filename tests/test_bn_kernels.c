/* test_bn_kernels.c — the batch-norm channel loops (src/kernels/bn.h) on each instruction-set path against a
 * plain double-precision reference, on odd shapes (strip lengths 1, 5, 17, 33, 67, 1030: the 16-lane loops'
 * remainders and the prefetch distance; 3 or 7 strips), the middle channel of 3 so that nothing outside the
 * channel may be touched:
 *  - statistics: mean and sum of squared deviations (inputs with a mean of 1000 and a spread of 1, where a
 *    naive sum of squares minus the squared sum loses every digit);
 *  - normalisation with and without residual and ReLU;
 *  - the backward sums sum(g), sum(g xhat) with and without the ReLU mask, and the residual gradient stored
 *    or added;
 *  - dx stored or added, with and without the mask.
 * Every path must give the portable C path's bits exactly (no FMA, the same summation order), and the
 * portable path must match the reference within float rounding. The layer (batchnorm.c) is covered by the
 * gradient checks, test_fused_layers and the PyTorch golden tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "kernels/bn.h"

enum { CH = 3, SENT = 0x7fc00123 }; /* a NaN pattern marks memory outside the channel */

typedef struct Out {
    double mean, sq, sdy[2], sdyx[2];
    float *y[3], *dr[2], *dx[4]; /* whole tensors, sentinels outside the channel */
} Out;

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f; /* [0, 1) */
}

static float *sentinel_tensor(size_t len) {
    float *t = malloc(len * sizeof(float));
    const unsigned v = SENT;
    for (size_t i = 0; i < len; i++) memcpy(&t[i], &v, sizeof v);
    return t;
}

/* runs every kernel on channel 1 of n x CH x S tensors */
static void run(KernelIsa isa, int n, int S, const float *x, const float *r, const float *dy, const float *yin,
                const float *prev, Out *o) {
    const size_t len = (size_t)n * CH * S, stride = (size_t)CH * S, c0 = S;
    bn_channel_stats(isa, x + c0, n, stride, S, &o->mean, &o->sq);
    const float mean = (float)o->mean, invstd = (float)(1.0 / sqrt(o->sq / ((double)n * S) + 1e-5));
    for (int v = 0; v < 3; v++) { /* plain, relu, residual + relu */
        o->y[v] = sentinel_tensor(len);
        bn_channel_norm(isa, x + c0, v == 2 ? r + c0 : NULL, o->y[v] + c0, n, stride, S, mean, 1.5f * invstd, 0.25f,
                        v >= 1);
    }
    for (int v = 0; v < 2; v++) { /* without / with the ReLU mask; residual gradient stored / added */
        o->dr[v] = sentinel_tensor(len);
        if (v) memcpy(o->dr[v], prev, len * sizeof(float));
        bn_channel_dots(isa, dy + c0, v ? yin + c0 : NULL, x + c0, n, stride, S, mean, invstd, &o->sdy[v], &o->sdyx[v],
                        o->dr[v] + c0, v);
    }
    for (int v = 0; v < 4; v++) { /* bit 0: mask, bit 1: add */
        o->dx[v] = sentinel_tensor(len);
        if (v & 2) memcpy(o->dx[v], prev, len * sizeof(float));
        bn_channel_dx(isa, x + c0, dy + c0, v & 1 ? yin + c0 : NULL, o->dx[v] + c0, n, stride, S, mean, invstd,
                      1.5f * invstd, 0.125f, -0.5f, v >> 1);
    }
}

static void out_free(Out *o) {
    for (int v = 0; v < 3; v++) free(o->y[v]);
    for (int v = 0; v < 2; v++) free(o->dr[v]);
    for (int v = 0; v < 4; v++) free(o->dx[v]);
}

static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

/* |a - b| <= tol (|b| + 1); NaN a fails */
static int near(double a, double b, double tol) { return fabs(a - b) <= tol * (fabs(b) + 1.0); }

static void check_shape(int n, int S) {
    const size_t len = (size_t)n * CH * S, stride = (size_t)CH * S, c0 = S;
    const double M = (double)n * S;
    float *x = malloc(len * sizeof(float)), *r = malloc(len * sizeof(float)), *dy = malloc(len * sizeof(float));
    float *yin = malloc(len * sizeof(float)), *prev = malloc(len * sizeof(float));
    unsigned s = 12345u + (unsigned)(n * 1000 + S);
    for (size_t i = 0; i < len; i++) {
        x[i] = 1000.0f + 2.0f * frand(&s) - 1.0f;
        r[i] = frand(&s) - 0.5f, dy[i] = frand(&s) - 0.5f, prev[i] = frand(&s);
        yin[i] = frand(&s) < 0.4f ? 0.0f : frand(&s); /* a ReLU output: 0 or positive */
    }
    /* the reference, in double, two passes */
    double rm = 0, rq = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < S; j++) rm += x[c0 + i * stride + j];
    rm /= M;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < S; j++) rq += (x[c0 + i * stride + j] - rm) * (x[c0 + i * stride + j] - rm);

    Out g;
    run(KERNEL_ISA_GENERIC, n, S, x, r, dy, yin, prev, &g);
    /* float strip sums: the mean within a few float roundings (2e-7 relative; 1e-4 of the spread here), the
     * squared deviations within 1e-4 (the naive sum(x^2) - M mean^2 in float would have no correct digit) */
    EXPECT(fabs(g.mean - rm) <= 2e-7 * fabs(rm) && fabs(g.sq - rq) <= 1e-4 * rq, "n %d S %d: mean %.10g sq %.10g, reference %.10g %.10g",
           n, S, g.mean, g.sq, rm, rq);
    const float mean = (float)g.mean, invstd = (float)(1.0 / sqrt(g.sq / M + 1e-5));
    int bad = 0, outside = 0;
    double sdy[2] = {0, 0}, sdyx[2] = {0, 0};
    for (size_t e = 0; e < len; e++) {
        const int in_ch = e % stride >= c0 && e % stride < c0 + (size_t)S;
        unsigned bits;
        for (int v = 0; v < 3; v++) {
            memcpy(&bits, &g.y[v][e], sizeof bits);
            if (!in_ch) {
                outside += bits != SENT;
                continue;
            }
            double ry = ((double)x[e] - mean) * (1.5f * invstd) + 0.25 + (v == 2 ? r[e] : 0.0);
            if (v >= 1 && ry < 0) ry = 0;
            bad += !near(g.y[v][e], ry, 1e-5);
        }
        for (int v = 0; v < 2; v++) {
            memcpy(&bits, &g.dr[v][e], sizeof bits);
            const double gg = v && !(yin[e] > 0) ? 0.0 : dy[e];
            if (!in_ch) {
                outside += v ? g.dr[v][e] != prev[e] : bits != SENT;
                continue;
            }
            bad += !near(g.dr[v][e], gg + (v ? prev[e] : 0.0), 1e-6);
            sdy[v] += gg, sdyx[v] += gg * ((x[e] - (double)mean) * invstd);
        }
        for (int v = 0; v < 4; v++) {
            memcpy(&bits, &g.dx[v][e], sizeof bits);
            if (!in_ch) {
                outside += v & 2 ? g.dx[v][e] != prev[e] : bits != SENT;
                continue;
            }
            const double gg = v & 1 && !(yin[e] > 0) ? 0.0 : dy[e];
            const double rd = 1.5 * invstd * (gg - 0.125 + ((double)x[e] - mean) * invstd * 0.5);
            bad += !near(g.dx[v][e], rd + (v & 2 ? prev[e] : 0.0), 1e-4);
        }
    }
    for (int v = 0; v < 2; v++)
        EXPECT(near(g.sdy[v], sdy[v], 1e-5) && near(g.sdyx[v], sdyx[v], 1e-4),
               "n %d S %d mask %d: sums %.8g %.8g, reference %.8g %.8g", n, S, v, g.sdy[v], g.sdyx[v], sdy[v], sdyx[v]);
    EXPECT(!bad, "n %d S %d: %d values off the reference", n, S, bad);
    EXPECT(!outside, "n %d S %d: %d values outside the channel touched", n, S, outside);

    for (int i = KERNEL_ISA_AVX2; i <= KERNEL_ISA_AVX512; i++) {
        if (!kernel_isa_supported((KernelIsa)i)) continue;
        Out o;
        run((KernelIsa)i, n, S, x, r, dy, yin, prev, &o);
        int diff = o.mean != g.mean || o.sq != g.sq;
        for (int v = 0; v < 2; v++) diff += o.sdy[v] != g.sdy[v] || o.sdyx[v] != g.sdyx[v];
        for (int v = 0; v < 3; v++) diff += !same_bits(o.y[v], g.y[v], len);
        for (int v = 0; v < 2; v++) diff += !same_bits(o.dr[v], g.dr[v], len);
        for (int v = 0; v < 4; v++) diff += !same_bits(o.dx[v], g.dx[v], len);
        EXPECT(!diff, "n %d S %d: the %s path differs from the portable one in %d outputs", n, S,
               kernel_isa_name((KernelIsa)i), diff);
        out_free(&o);
    }
    out_free(&g);
    free(x), free(r), free(dy), free(yin), free(prev);
}

int main(void) {
    const int strips[] = {1, 5, 17, 33, 67, 1030};
    for (int k = 0; k < 6; k++) {
        check_shape(3, strips[k]);
        check_shape(7, strips[k]);
    }
    const char *names[] = {"generic", "avx2", "avx512"};
    for (int i = 0; i < 3; i++)
        printf("bn kernels %s: %s\n", names[i], kernel_isa_supported((KernelIsa)i) ? "tested" : "not on this CPU");
    return expect_report();
}
