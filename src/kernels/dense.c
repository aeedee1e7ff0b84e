/* dense.c — y = x W^T + b and its gradients on the rows_* kernels (see dense.h).
 *
 * Scratch (floats, each piece rounded up to 16), T = threads actually used:
 *   forward:  [ W^T (in x out) | pointers to its rows (in) ]
 *   backward: [ pointers to W's rows (out) | T x ( chunk of dy transposed, this thread's features
 *               (ceil(out / T) x DENSE_MB) | pointers | db's sums (ceil(out / T) doubles) ) ]
 * The chunks of x (forward) and dy (dx) are read in place (rows_gemm_strided): packing them first cost more than
 * it saved (ViT-tiny training 1.024x, inference 1.009x without it; ABBA pairs).
 * Forward and backward of one layer never run at once, so they share the space (the larger of the two). */
#include "kernels/dense.h"

#include <omp.h>
#include <string.h>

#include "kernels/rows.h"

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }
static size_t ptr_floats(size_t n) { return r16(n * sizeof(float *) / sizeof(float) + 1); }

/* [lo, hi) of n items for part t of T. */
static void split(int n, int t, int T, int *lo, int *hi) {
    *lo = (int)((long long)n * t / T);
    *hi = (int)((long long)n * (t + 1) / T);
}

/* Threads worth using for R x in x out multiply-adds (a fork costs more than a small product). */
static int dense_threads(int threads, int R, int in, int out) {
    return (double)R * in * out < 262144.0 || threads < 1 ? 1 : threads;
}

static size_t bwd_thread_floats(int out, int T) {
    const size_t oc = (size_t)(out + T - 1) / T;
    return r16(oc * (size_t)rows_pad_m(DENSE_MB)) + ptr_floats(oc) + r16(2 * oc); /* + db's sums in double */
}

size_t dense_scratch_bytes(int in, int out, int threads) {
    const int T = threads < 1 ? 1 : threads;
    const size_t fwd = dense_prepared_floats(in, out);
    const size_t bwd = ptr_floats((size_t)out) + (size_t)T * bwd_thread_floats(out, T);
    return (fwd > bwd ? fwd : bwd) * sizeof(float);
}

void dense_colsum_add(const float *m, int rows, size_t ld, int j0, int j1, float *g) {
    for (int b0 = j0; b0 < j1; b0 += 16) { /* 16 columns at a time: whole cache lines, a vectorisable row loop */
        const int w = j1 - b0 < 16 ? j1 - b0 : 16;
        double acc[16] = {0};
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < w; j++) acc[j] += m[(size_t)r * ld + b0 + j];
        for (int j = 0; j < w; j++) g[b0 + j] += (float)acc[j];
    }
}

size_t dense_prepared_floats(int in, int out) { return r16((size_t)in * out) + ptr_floats((size_t)in); }

const float *const *dense_prepare(KernelIsa isa, int in, int out, const float *W, float *area) {
    float *Wt = area;
    const float **Bt = (const float **)(void *)(area + r16((size_t)in * out));
    /* 8 x 8 register blocks where the CPU has AVX2 (an element loop wrote Wt a row apart each step: ~8% of an
     * inference linear layer over a 16-sample micro-batch) */
    rows_transpose(isa, out, in, W, (size_t)in, Wt, (size_t)out, out);
    for (int k = 0; k < in; k++) Bt[k] = Wt + (size_t)k * out;
    return Bt;
}

void dense_forward_prepared(KernelIsa isa, int threads, int R, int in, int out, const float *x,
                            const float *const *Bt, const float *b, float *y) {
    const int T = dense_threads(threads, R, in, out);
#pragma omp parallel num_threads(T)
    {
        int r0, r1;
        split(R, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
        for (int r = r0; r < r1; r += DENSE_MB) {
            const int mb = r1 - r < DENSE_MB ? r1 - r : DENSE_MB;
            float *yc = y + (size_t)r * out;
            if (b)
                for (int i = 0; i < mb; i++) memcpy(yc + (size_t)i * out, b, sizeof(float) * (size_t)out);
            rows_gemm_strided(isa, mb, out, in, x + (size_t)r * in, (size_t)in, 1, Bt, yc, (size_t)out, b != NULL,
                              NULL);
        }
    }
}

void dense_forward(KernelIsa isa, int threads, int R, int in, int out, const float *x, const float *W, const float *b,
                   float *y, float *scratch) {
    const float *const *Bt = dense_prepare(isa, in, out, W, scratch);
    dense_forward_prepared(isa, threads, R, in, out, x, Bt, b, y);
}

void dense_backward(KernelIsa isa, int threads, int R, int in, int out, const float *x, const float *W,
                    const float *dy, float *dx, int dx_overwrite, float *dW, float *db, float *scratch) {
    const int T = dense_threads(threads, R, in, out), MBp = rows_pad_m(DENSE_MB);
    const float **Bw = (const float **)(void *)scratch;
    float *areas = scratch + ptr_floats((size_t)out);
    CHECK(!dW || dense_dw_ok(in), "dense_backward: dW needs in %% 16 == 0 (in = %d)", in);
    for (int k = 0; k < out; k++) Bw[k] = W + (size_t)k * in;
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        float *dyT = areas + (size_t)t * bwd_thread_floats(out, T);
        const size_t oc = (size_t)(out + T - 1) / T;
        const float **Bd = (const float **)(void *)(dyT + r16(oc * (size_t)MBp));
        int lo, hi;
        if (dx) {
            split(R, t, nt, &lo, &hi);
            for (int r = lo; r < hi; r += DENSE_MB) {
                const int mb = hi - r < DENSE_MB ? hi - r : DENSE_MB;
                rows_gemm_strided(isa, mb, in, out, dy + (size_t)r * out, (size_t)out, 1, Bw, dx + (size_t)r * in,
                                  (size_t)in, !dx_overwrite, NULL);
            }
        }
        split(out, t, nt, &lo, &hi);
        const int no = hi - lo;
        if (dW && no > 0) {
            /* db from the same transposed chunks, while they are in L1: each chunk's sum per feature (a vector
             * reduction in a fixed order), the chunks added in order in double (a separate column pass over dy
             * took 2% of a ViT training step) */
            double *dbs = (double *)(void *)(Bd + oc);
            for (int j = 0; db && j < no; j++) dbs[j] = 0.0;
            for (int j = 0; j < no; j++) Bd[j] = dyT + (size_t)j * MBp;
            for (int r = 0; r < R; r += DENSE_MB) {
                const int mb = R - r < DENSE_MB ? R - r : DENSE_MB;
                rows_transpose(isa, mb, no, dy + (size_t)r * out + lo, (size_t)out, dyT, (size_t)MBp, MBp);
                rows_dot_t(isa, in, no, mb, 1, x + (size_t)r * in, (size_t)in, 0, Bd, dW + (size_t)lo * in, (size_t)in);
                for (int j = 0; db && j < no; j++) {
                    const float *row = dyT + (size_t)j * MBp;
                    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                    for (int i = 0; i < MBp; i++) sum += row[i]; /* (zero past mb) */
                    dbs[j] += sum;
                }
            }
            for (int j = 0; db && j < no; j++) db[lo + j] += (float)dbs[j];
        } else if (db) {
            dense_colsum_add(dy, R, (size_t)out, lo, hi, db);
        }
    }
}
