/* supcon.c — supervised contrastive loss (Khosla et al. 2020), single view, as InfoPro's contrast mode
 * codes it (InfoPro-Pytorch networks/losses.py SupConLoss, called on F.normalize(features) with one view;
 * spec local-learning.md §1.4). With c = temperature / base_temperature:
 *   z_i  = x_i / max(||x_i||, 1e-12)                        (F.normalize, part of this layer)
 *   s_ia = z_i . z_a / tau,  m_i = max_a s_ia (self included, only for stability)
 *   lse_i = log sum_{a != i} exp(s_ia - m_i),  P(i) = {p != i : y_p == y_i}
 *   l_i  = -c / max(|P(i)|, 1) * sum_{p in P(i)} (s_ip - m_i - lse_i)     (0 when P(i) is empty)
 *   out  = (1 / N) sum_i l_i                                 (anchors without positives still count in N)
 * Gradient: with q_ia = exp(s_ia - m_i - lse_i) (a != i) and pos_ia = [a in P(i)],
 *   G_ia = dout/ds_ia = c / (N max(|P(i)|, 1)) (|P(i)| q_ia - pos_ia),  G_ii = 0,
 *   dz_i = (1 / tau) sum_a (G_ia + G_ai) z_a,
 *   dx_i += dout (dz_i - z_i (z_i . dz_i)) / ||x_i||   (or dout dz_i / 1e-12 where the norm was clamped).
 * Shapes: in[0] features N x D (N >= 2, D >= 1), in[1] labels [N] (class indices as floats, compared for
 * equality only; never differentiated), out [1].
 * Cache (training): z (N x D floats), G for dout = 1 (N x N floats), the row norms ||x_i|| (N floats):
 * (N D + N^2 + N) * 4 bytes, e.g. 4.6 MB for InfoPro's N = 1024, D = 128.
 * Scratch: N doubles of row losses | N x D floats for z in eval mode | per thread max(N, D) doubles.
 * Determinism: every row is computed by one thread in a fixed order (dot products in double with four
 * fixed partial sums, sums over a in index order) and the row losses are added in row order, so the
 * results are bitwise independent of the thread count. */
#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "layers/loss.h"

#define SUPCON_NORM_EPS 1e-12 /* F.normalize's default eps */

static size_t round64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static Status supcon_shape(const Layer *l, Tensor *const *in, int n_in, Shape *out, ErrorMsg *err) {
    const SupCon *c = (const SupCon *)l;
    if (n_in != 2)
        return status_fail(err, LOCUS_ERR_ARG, "supcon takes 2 inputs (features, labels), got %d", n_in);
    char a[64], b[64];
    const Shape *x = &in[0]->shape, *y = &in[1]->shape;
    if (x->ndim != 2 || x->d[0] < 2 || x->d[1] < 1)
        return status_fail(err, LOCUS_ERR_ARG,
                           "supcon expects N x D features with N >= 2 and D >= 1, found %s\nhint: flatten the "
                           "projection head's output; a contrastive loss needs at least two samples",
                           shape_format(x, a, sizeof a));
    if (y->ndim != 1 || y->d[0] != x->d[0])
        return status_fail(err, LOCUS_ERR_ARG, "supcon: features %s need labels [%d], found %s",
                           shape_format(x, a, sizeof a), x->d[0], shape_format(y, b, sizeof b));
    if (!(c->temperature > 0.0f && isfinite(c->temperature) && c->base_temperature > 0.0f &&
          isfinite(c->base_temperature)))
        return status_fail(err, LOCUS_ERR_ARG,
                           "supcon: temperature %g and base temperature %g must be positive and finite\nhint: "
                           "InfoPro uses 0.07 for both",
                           (double)c->temperature, (double)c->base_temperature);
    *out = shape1(1);
    return LOCUS_OK;
}

static size_t supcon_cache_bytes(const Layer *l, Tensor *const *in, int n_in, int training) {
    (void)l, (void)n_in;
    size_t N = (size_t)in[0]->shape.d[0], D = (size_t)in[0]->shape.d[1];
    return training ? (N * D + N * N + N) * sizeof(float) : 0;
}

static size_t supcon_per_thread(int N, int D) { return (size_t)(N > D ? N : D); }

static size_t supcon_scratch_bytes(const Layer *l, Tensor *const *in, int n_in, int threads) {
    (void)l, (void)n_in;
    int N = in[0]->shape.d[0], D = in[0]->shape.d[1];
    size_t T = threads > 1 ? (size_t)threads : 1;
    return round64((size_t)N * sizeof(double)) + round64((size_t)N * D * sizeof(float)) +
           T * round64(supcon_per_thread(N, D) * sizeof(double));
}

/* Threads worth using for N^2 D multiply-adds (the fork costs more than a small problem). */
static int supcon_threads(const StepCtx *ctx, int N, int D) {
    return (double)N * N * D < 65536.0 || ctx->threads < 1 ? 1 : ctx->threads;
}

/* a . b in double, with a fixed order (four partial sums) whatever the caller's thread. */
static double dot_f64(const float *a, const float *b, int n) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int k = 0;
    for (; k + 4 <= n; k += 4)
        for (int j = 0; j < 4; j++) acc[j] += (double)a[k + j] * b[k + j];
    double s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; k < n; k++) s += (double)a[k] * b[k];
    return s;
}

/* cache: [z N x D | G N x N | norm N] floats, or NULL (eval: z goes to scratch, G and norm are skipped). */
static void supcon_forward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, Tensor *out,
                           void *cache) {
    (void)n_in;
    const SupCon *c = (const SupCon *)l;
    const int N = in[0]->shape.d[0], D = in[0]->shape.d[1], T = supcon_threads(ctx, N, D);
    CHECK(ctx->scratch_bytes >= supcon_scratch_bytes(l, in, 2, ctx->threads), "%s: scratch too small", l->name);
    const float *x = in[0]->data, *y = in[1]->data;
    char *sp = (char *)ctx->scratch;
    double *row_loss = (double *)sp;
    float *zbuf = (float *)(sp + round64((size_t)N * sizeof(double)));
    double *tbuf = (double *)((char *)zbuf + round64((size_t)N * D * sizeof(float)));
    const size_t tstride = round64(supcon_per_thread(N, D) * sizeof(double)) / sizeof(double);
    float *z = cache ? (float *)cache : zbuf;
    float *G = cache ? z + (size_t)N * D : NULL;
    float *norm = cache ? G + (size_t)N * N : NULL;
    const double tau = c->temperature, scale = (double)c->temperature / c->base_temperature;

#pragma omp parallel num_threads(T)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *xi = x + (size_t)i * D;
            double r = sqrt(dot_f64(xi, xi, D));
            double den = r > SUPCON_NORM_EPS ? r : SUPCON_NORM_EPS;
            for (int d = 0; d < D; d++) z[(size_t)i * D + d] = (float)(xi[d] / den);
            if (norm) norm[i] = (float)r;
        }
        double *s = tbuf + (size_t)omp_get_thread_num() * tstride;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *zi = z + (size_t)i * D;
            double m = -INFINITY;
            for (int a = 0; a < N; a++) {
                s[a] = dot_f64(zi, z + (size_t)a * D, D) / tau;
                if (s[a] > m) m = s[a];
            }
            double sum = 0.0, pos = 0.0;
            int P = 0;
            for (int a = 0; a < N; a++) {
                if (a == i) continue;
                if (y[a] == y[i]) {
                    P++;
                    pos += s[a] - m;
                }
                s[a] = exp(s[a] - m); /* kept for q_ia below: one exp per pair */
                sum += s[a];
            }
            const double lse = log(sum), Pd = P > 0 ? P : 1;
            row_loss[i] = -scale * (pos - P * lse) / Pd;
            if (G) {
                const double gs = scale / ((double)N * Pd);
                float *Gi = G + (size_t)i * N;
                for (int a = 0; a < N; a++)
                    Gi[a] = a == i ? 0.0f : (float)(gs * (P * (s[a] / sum) - (y[a] == y[i] ? 1.0 : 0.0)));
            }
        }
    }
    double total = 0.0;
    for (int i = 0; i < N; i++) total += row_loss[i];
    out->data[0] = (float)(total / N);
}

/* Reads out->grad[0] and the cache; accumulates into in[0]->grad (labels get nothing). */
static void supcon_backward(const Layer *l, const StepCtx *ctx, Tensor *const *in, int n_in, const Tensor *out,
                            const void *cache) {
    (void)n_in;
    const SupCon *c = (const SupCon *)l;
    float *dx = in[0]->grad;
    if (!dx) return;
    CHECK(cache, "%s: backward without the cache (forward ran in eval mode?)", l->name);
    const int N = in[0]->shape.d[0], D = in[0]->shape.d[1], T = supcon_threads(ctx, N, D);
    CHECK(ctx->scratch_bytes >= supcon_scratch_bytes(l, in, 2, ctx->threads), "%s: scratch too small", l->name);
    const float *z = cache, *G = z + (size_t)N * D, *norm = G + (size_t)N * N;
    char *sp = (char *)ctx->scratch;
    double *tbuf = (double *)(sp + round64((size_t)N * sizeof(double)) + round64((size_t)N * D * sizeof(float)));
    const size_t tstride = round64(supcon_per_thread(N, D) * sizeof(double)) / sizeof(double);
    const double g = (double)out->grad[0] / c->temperature;
#pragma omp parallel num_threads(T)
    {
        double *dz = tbuf + (size_t)omp_get_thread_num() * tstride;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            for (int d = 0; d < D; d++) dz[d] = 0.0;
            for (int a = 0; a < N; a++) {
                const double h = (double)G[(size_t)i * N + a] + G[(size_t)a * N + i];
                const float *za = z + (size_t)a * D;
                for (int d = 0; d < D; d++) dz[d] += h * za[d];
            }
            const float *zi = z + (size_t)i * D;
            float *dxi = dx + (size_t)i * D;
            const double r = norm[i];
            if (r > SUPCON_NORM_EPS) {
                double zd = 0.0;
                for (int d = 0; d < D; d++) zd += zi[d] * dz[d];
                for (int d = 0; d < D; d++) dxi[d] += (float)(g * (dz[d] - zi[d] * zd) / r);
            } else {
                for (int d = 0; d < D; d++) dxi[d] += (float)(g * dz[d] / SUPCON_NORM_EPS);
            }
        }
    }
}

static const LayerOps supcon_ops = {.type = "supcon",
                                    .out_shape = supcon_shape,
                                    .cache_bytes = supcon_cache_bytes,
                                    .scratch_bytes = supcon_scratch_bytes,
                                    .forward = supcon_forward,
                                    .backward = supcon_backward};

void supcon_init(SupCon *l, const char *name, float temperature, float base_temperature) {
    layer_set_name(&l->base, &supcon_ops, name);
    l->temperature = temperature;
    l->base_temperature = base_temperature;
}
