/* conv2d_direct.c — conv2d on locus's kernels: shifted planes (stride 1) or im2col (other strides) as the
 * rows of rows_gemm / rows_dot_t (src/kernels/), samples spread over OpenMP threads.
 *
 * Per sample n (P = Ho * Wo, KK = Cin k k, rows B_(ci,kh,kw) of x_n as in conv_planes.h):
 *   forward    y_n[co][q]  = sum_kk W[co][kk] B_kk[q] (+ b[co])                   rows_gemm_ep, M = Cout
 *              (the bias, and for conv_direct_forward_ep a residual and a ReLU, applied in the product's
 *              epilogue while the tile is in registers)
 *   dW^T       dW^T[kk][co] += sum_n sum_q B_kk[q] dy_n^T[q][co]                   rows_dot_t, dy_n transposed
 *   dx, stride 1 and p <= k - 1: the transposed convolution is a stride-1 convolution of dy (padding
 *              k-1-p) with the flipped kernel  W'[ci][(co, kh, kw)] = W[co][ci][k-1-kh][k-1-kw]:
 *              dx_n[ci] += sum W' . rows of dy_n's shifted planes                   rows_gemm, M = Cin
 *   dx, other: col = W^T dy_n (rows_gemm, M = KK, rows = dy_n's channels), dx_n += col2im(col).
 * A 1x1, stride-1, unpadded conv needs no planes: the rows are x_n's (and dy_n's) channels themselves; nor, on
 * the AVX-512 path, does a 3x3 / stride 1 / padding 1 one for its forward and dx (conv3x3.h reads x_n and dy_n
 * directly, with the same sums in the same order as rows_gemm over the planes), and, with Cin a multiple of 16
 * on maps at least 16 wide, for dW (conv3x3_dw_avx512: from x transposed and padded, the same sums as
 * rows_dot_t over the planes). On maps conv3x3_wino.h takes (at least 2 x 4), the AVX-512 path runs
 * forward and dx by Winograd F(2x2, 3x3) instead (2.25x fewer multiplications; weights transformed once per
 * call into the shared scratch; F(4x4, 3x3) on 16- and 32-wide maps with at least 32 channels in and out, 4x
 * fewer multiplications), and, with Cin a multiple of 16, dW too (F(4x4, 3x3) where forward does, else
 * F(2x2, 3x3)): per-thread partials dU (36 or 16 x Cout x Cin, in the dW^T area) summed in thread order, then
 * dW += G^T dU G. On 8x8 maps (4 F(4x4) tiles) forward, dx and dW take 4 samples at a time
 * (conv3x3_wino4_group_avx512, group_backward): one vector of tiles per group. LOCUS_CONV3X3=direct turns
 * Winograd off, =winograd2 keeps F(2x2, 3x3) everywhere.
 * The weight gradient is accumulated transposed (KK x Cout, Cout padded to Mp = 16k) and transposed back
 * in the final reduction.
 *
 * Scratch (floats, each piece rounded up to 16 = 64 bytes), T = min(threads, N):
 *   [ packed forward W or packed dx matrix | unpacked dx matrix | 3x3/1/1: conv3x3 lane masks
 *     | Winograd: transformed weights (forward's or dx's, the larger), the map's plan | T x thread area ]
 *   thread area: [ x-rows buffer | dy-rows buffer | dy^T (P x Mp) | dW^T partial (KK x Mp) + db partial (Cout)
 *                  | pointers | Winograd: V and M of one block of tiles ]
 *   (conv3x3_dw and Winograd's dW: x^T padded, (H+2)(W+2) Cin or, for Winograd, H+2 and W+2 rounded up to even,
 *   in the x-rows buffer, which holds 3 (H+2) W Cin or more;
 *   their partials as [Cout][9][Cin] or [16 or 36][Cout][Cin] in the dW^T one)
 * Per-thread partials are summed in thread order: results are deterministic for a thread count; forward and
 * dx do not depend on it (each sample is computed the same way by whichever thread). */
#include "layers/conv_direct.h"

#include <omp.h>
#include <string.h>

#include "kernels/conv3x3.h"
#include "kernels/conv3x3_wino.h"
#include "kernels/conv_planes.h"
#include "kernels/rows.h"

static size_t r16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Geometry of one call. */
typedef struct ConvGeom {
    int n, cin, h, w, cout, k, s, p, ho, wo, P, KK, T;
    int rows_direct;  /* 1x1, stride 1, pad 0: x's channels are the rows */
    int planes;       /* stride 1: shifted planes (else im2col) */
    int dx_planes;    /* stride 1 and p <= k - 1: dx as a stride-1 convolution of dy */
    int same3;        /* 3x3, stride 1, padding 1: forward and dx can run conv3x3.h (no planes) */
    int dw3;          /* same3 with Cin a multiple of 16 and maps >= 16 wide: dW can too (conv3x3_dw) */
    int wino;         /* same3 on a map conv3x3_wino.h takes: forward and dx by Winograd F(2x2, 3x3) */
    int wino_dw;      /* wino with Cin a multiple of 16: dW by Winograd too */
    int wino4;        /* wino on a map F(4x4, 3x3) takes, with at least 32 channels in and out: forward, dx and
                       * (wino_dw) dW by F(4x4, 3x3) (with 16 channels its transforms cost more than its
                       * products save) */
    int group4;       /* wino4 on an 8x8 map (4 tiles): 4 samples at a time (conv3x3_wino4_group_avx512), Cin a
                       * multiple of 16 so that dW goes the same way */
    int Mp;           /* Cout padded for rows_dot_t */
} ConvGeom;

static ConvGeom geom(const Conv2d *c, int n, int h, int w, int threads) {
    ConvGeom g;
    g.n = n, g.cin = c->cin, g.h = h, g.w = w, g.cout = c->cout, g.k = c->k, g.s = c->stride, g.p = c->pad;
    g.ho = (h + 2 * g.p - g.k) / g.s + 1, g.wo = (w + 2 * g.p - g.k) / g.s + 1;
    g.P = g.ho * g.wo, g.KK = g.cin * g.k * g.k;
    g.T = threads < n ? threads : n;
    if (g.T < 1) g.T = 1;
    g.rows_direct = g.k == 1 && g.s == 1 && g.p == 0;
    g.planes = g.s == 1;
    g.dx_planes = g.s == 1 && g.p <= g.k - 1;
    g.same3 = g.k == 3 && g.s == 1 && g.p == 1;
    /* on 8-wide maps the row-by-row transpose of x costs more than the planes (64 channels at 8x8: 0.95x) */
    g.dw3 = g.same3 && g.cin % 16 == 0 && g.w >= 16;
    g.wino = g.same3 && conv3x3_wino_fits(h, w);
    g.wino_dw = g.wino && g.cin % 16 == 0;
    g.group4 = g.wino && h == 8 && w == 8 && g.cin >= 32 && g.cout >= 32 && g.cin % 16 == 0;
    g.wino4 = g.wino && (conv3x3_wino4_fits(h, w) || g.group4) && g.cin >= 32 && g.cout >= 32;
    g.Mp = rows_pad_m(g.cout);
    return g;
}

/* Floats of one sample's x rows (planes or col); 0 when x's channels are the rows. */
static size_t xrows_floats(const ConvGeom *g) {
    if (g->rows_direct) return 0;
    size_t n = g->planes ? conv_planes_floats(g->cin, g->h, g->w, g->k, g->p) : (size_t)g->KK * g->P;
    if (g->wino_dw) { /* or x^T padded for Winograd's dW (4 samples' in group4) */
        int hp, wp;
        conv3x3_wino_padded(g->h, g->w, &hp, &wp);
        const size_t need = (size_t)(g->group4 ? 4 : 1) * hp * wp * g->cin;
        if (need > n) n = need;
    }
    return n;
}
/* Floats of one sample's dy rows for dx: shifted planes of dy, or the col matrix W^T dy. */
static size_t dyrows_floats(const ConvGeom *g) {
    if (g->rows_direct) return 0;
    return g->dx_planes ? conv_planes_floats(g->cout, g->ho, g->wo, g->k, g->k - 1 - g->p) : (size_t)g->KK * g->P;
}
static size_t pointer_floats(size_t n) { return r16(n * sizeof(float *) / sizeof(float)); }
/* Rows of the dx product: B pointers count and the packed matrix. */
static int dx_rows_count(const ConvGeom *g) { return g->dx_planes ? g->cout * g->k * g->k : g->cout; }
static int dx_m(const ConvGeom *g) { return g->dx_planes ? g->cin : g->KK; }

/* Offsets (floats) of the shared scratch: [ packed matrix | unpacked dx matrix | conv3x3 lane masks
 * | Winograd weights | F(2x2) plan ]. */
typedef struct SharedArea {
    size_t tmp, masks, wino, plan, total;
} SharedArea;
static SharedArea shared_area(const ConvGeom *g) {
    SharedArea a;
    size_t fwd = rows_pack_floats(g->cout, g->KK);
    size_t bwd = rows_pack_floats(dx_m(g), dx_rows_count(g));
    a.tmp = r16(fwd > bwd ? fwd : bwd);
    a.masks = a.tmp + r16((size_t)g->cout * g->KK);
    a.wino = a.masks + (g->same3 ? r16((conv3x3_mask_count(g->h, g->w) * sizeof(uint16_t) + 3) / 4) : 0);
    size_t (*weights)(int, int) = g->wino4 ? conv3x3_wino4_weight_floats : conv3x3_wino_weight_floats;
    const size_t wf = weights(g->cout, g->cin), wb = weights(g->cin, g->cout);
    a.plan = a.wino + (g->wino ? r16(wf > wb ? wf : wb) : 0); /* forward's or dx's */
    a.total = a.plan + (g->wino ? r16(conv3x3_wino_plan_floats(g->h, g->w)) : 0);
    return a;
}
static size_t shared_floats(const ConvGeom *g) { return shared_area(g).total; }
/* x_n transposed and zero-padded, rows of wp pixels, for conv3x3_dw_avx512 (wp = W + 2) or Winograd's dW (its
 * border written once per call, see below). */
static void transpose_padded(const ConvGeom *g, KernelIsa isa, const float *xn, float *xT, size_t wp) {
    for (int ih = 0; ih < g->h; ih++)
        rows_transpose(isa, g->cin, g->w, xn + (size_t)ih * g->w, (size_t)g->h * g->w,
                       xT + ((ih + 1) * wp + 1) * g->cin, (size_t)g->cin, g->cin);
}

/* 0: this call runs no Winograd; 2: F(2x2, 3x3), its plan then in the shared scratch (wino_plan); 4: F(4x4, 3x3)
 * for forward and dx (and dW where wino_dw). */
static int use_wino(const ConvGeom *g, KernelIsa isa, float *scratch) {
    if (!g->wino || !conv3x3_wino_available(isa)) return 0;
    if (g->wino4 && conv3x3_wino4_available(isa)) return 4; /* (which needs no plan) */
    conv3x3_wino_plan(g->h, g->w, scratch + shared_area(g).plan);
    return 2;
}
static const float *wino_plan(const ConvGeom *g, const float *scratch) { return scratch + shared_area(g).plan; }
/* The Winograd weights (F(kind x kind, 3x3)) of the M x C (x 9) matrix A in the shared scratch. */
static const float *wino_weights(const ConvGeom *g, int kind, int M, int C, const float *A, float *scratch) {
    float *U = scratch + shared_area(g).wino;
    if (kind == 4) conv3x3_wino4_weights(M, C, A, (size_t)C * 9, U);
    else conv3x3_wino_weights(M, C, A, (size_t)C * 9, U);
    return U;
}
/* One sample's forward or dx by Winograd of that kind. */
static void wino_conv(const ConvGeom *g, int kind, int M, int C, const float *U, const float *plan, const float *x,
                      float *y, size_t ldc, int acc, const RowsEpilogue *ep, float *work) {
    if (kind == 4) conv3x3_wino4_avx512(M, C, g->h, g->w, U, x, y, ldc, acc, ep, work);
    else conv3x3_wino_avx512(M, C, g->h, g->w, U, plan, x, y, ldc, acc, ep, work);
}

/* The conv3x3.h lane masks of this geometry in the shared scratch, or NULL when that kernel does not run. */
static const uint16_t *same3_masks(const ConvGeom *g, KernelIsa isa, float *scratch) {
    if (!g->same3 || !conv3x3_available(isa)) return NULL;
    uint16_t *m = (uint16_t *)(void *)(scratch + shared_area(g).masks);
    conv3x3_masks(g->h, g->w, m);
    return m;
}
/* Offsets (floats) of the pieces of a thread area. */
typedef struct ThreadArea {
    size_t dy, dyt, part, bias, ptr_x, ptr_d, wino, total;
} ThreadArea;

static ThreadArea thread_area(const ConvGeom *g) {
    ThreadArea a;
    a.dy = r16(xrows_floats(g));
    a.dyt = a.dy + r16(dyrows_floats(g));
    a.part = a.dyt + r16((size_t)g->P * g->Mp);
    const size_t part = (size_t)g->KK * g->Mp;
    const size_t wino_part = g->wino_dw ? (size_t)(g->wino4 ? 36 : 16) * g->cout * g->cin : 0;
    a.bias = a.part + r16(part > wino_part ? part : wino_part); /* Winograd: dU [p][co][ci] */
    a.ptr_x = a.bias + r16((size_t)g->cout);
    a.ptr_d = a.ptr_x + pointer_floats((size_t)g->KK);
    a.wino = a.ptr_d + pointer_floats((size_t)dx_rows_count(g));
    /* the same for forward (M = Cout, C = Cin) and dx (M = Cin, C = Cout) */
    size_t work = g->wino ? conv3x3_wino_work_floats(g->cout, g->cin, g->h, g->w) : 0;
    if (g->wino4 && conv3x3_wino4_work_floats(g->cout, g->cin, g->h, g->w) > work)
        work = conv3x3_wino4_work_floats(g->cout, g->cin, g->h, g->w);
    a.total = a.wino + r16(work);
    return a;
}

size_t conv_direct_scratch(const Conv2d *c, int n, int h, int w, int threads) {
    ConvGeom g = geom(c, n, h, w, threads);
    return (shared_floats(&g) + (size_t)g.T * thread_area(&g).total) * sizeof(float);
}

/* B <- the rows of sample x_n; buf holds its planes or col (unused when x's channels are the rows). */
static void sample_rows(const ConvGeom *g, KernelIsa isa, const float *xn, float *buf, const float **B) {
    if (g->rows_direct) {
        for (int c = 0; c < g->cin; c++) B[c] = xn + (size_t)c * g->h * g->w;
    } else if (g->planes) {
        conv_planes_fill(isa, xn, g->cin, g->h, g->w, g->k, g->p, buf);
        conv_planes_rows(buf, g->cin, g->h, g->w, g->k, g->p, B);
    } else {
        conv_im2col(isa, xn, g->cin, g->h, g->w, g->k, g->s, g->p, g->ho, g->wo, buf);
        conv_col_rows(buf, g->cin, g->k, g->ho, g->wo, B);
    }
}

void conv_direct_forward_ep(const Conv2d *c, const StepCtx *ctx, const Tensor *x, Tensor *out, const float *W,
                           const float *bias, const Tensor *res, int relu) {
    const Shape *s = &x->shape;
    const ConvGeom g = geom(c, s->d[0], s->d[2], s->d[3], ctx->threads);
    CHECK(ctx->scratch_bytes >= conv_direct_scratch(c, g.n, g.h, g.w, ctx->threads), "%s: scratch too small",
          c->base.name);
    CHECK(!res || tensor_numel(res) == tensor_numel(out), "%s: residual of another size", c->base.name);
    const KernelIsa isa = kernel_isa();
    float *Ap = ctx->scratch;
    const int wino = use_wino(&g, isa, ctx->scratch);
    const float *U = wino ? wino_weights(&g, wino, g.cout, g.cin, W, ctx->scratch) : NULL;
    if (!U) rows_pack(isa, g.cout, g.KK, W, (size_t)g.KK, Ap); /* (Winograd needs neither this nor the masks) */
    const uint16_t *masks = U ? NULL : same3_masks(&g, isa, ctx->scratch);
    float *threads_base = ctx->scratch + shared_floats(&g);
    const ThreadArea ta = thread_area(&g);
    const int group = wino == 4 && g.group4;
#pragma omp parallel num_threads(g.T)
    {
        float *area = threads_base + (size_t)omp_get_thread_num() * ta.total;
        const float **B = (const float **)(void *)(area + ta.ptr_x);
        if (group) { /* 4 samples at a time: one vector of F(4x4) tiles */
#pragma omp for schedule(static)
            for (int gi = 0; gi < (g.n + 3) / 4; gi++) {
                const float *xs[4], *rs[4];
                float *ys[4];
                for (int q = 0; q < 4; q++) {
                    const int i = 4 * gi + q, here = i < g.n;
                    xs[q] = here ? x->data + (size_t)i * g.cin * g.P : NULL;
                    ys[q] = here ? out->data + (size_t)i * g.cout * g.P : NULL;
                    rs[q] = here && res ? res->data + (size_t)i * g.cout * g.P : NULL;
                }
                const RowsEpilogue ep = {bias, NULL, (size_t)g.P, relu};
                conv3x3_wino4_group_avx512(g.cout, g.cin, U, xs, ys, (size_t)g.P, 0, bias || res || relu ? &ep : NULL,
                                           res ? rs : NULL, area + ta.wino);
            }
        }
#pragma omp for schedule(static)
        for (int i = 0; i < (group ? 0 : g.n); i++) {
            const float *xn = x->data + (size_t)i * g.cin * g.h * g.w;
            const size_t off = (size_t)i * g.cout * g.P;
            const RowsEpilogue ep = {bias, res ? res->data + off : NULL, (size_t)g.P, relu};
            if (U) {
                wino_conv(&g, wino, g.cout, g.cin, U, wino_plan(&g, ctx->scratch), xn, out->data + off, (size_t)g.P, 0,
                          bias || res || relu ? &ep : NULL, area + ta.wino);
                continue;
            }
            if (masks) {
                conv3x3_avx512(g.cout, g.cin, g.h, g.w, Ap, xn, out->data + off, (size_t)g.P, 0,
                               bias || res || relu ? &ep : NULL, masks);
                continue;
            }
            sample_rows(&g, isa, xn, area, B);
            rows_gemm_ep(isa, g.cout, g.P, g.KK, Ap, B, out->data + off, (size_t)g.P, 0, &ep);
        }
    }
}

void conv_direct_forward(const Conv2d *c, const StepCtx *ctx, const Tensor *x, Tensor *out) {
    const float *bias = c->b >= 0 ? params_value(ctx->params, c->b) : NULL;
    conv_direct_forward_ep(c, ctx, x, out, params_value(ctx->params, c->w), bias, NULL, 0);
}

/* Sum of a row of n floats, in 8 independent lanes (vectorisable, and a fixed order). */
static float row_sum(const float *restrict v, int n) {
    float lane[8] = {0};
    int q = 0;
    for (; q + 8 <= n; q += 8)
        for (int j = 0; j < 8; j++) lane[j] += v[q + j];
    float acc = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    for (; q < n; q++) acc += v[q];
    return acc;
}

/* The dx product's matrix (see the file comment) unpacked into tmp and, with pack, packed into Ap. */
static void pack_dx_matrix(KernelIsa isa, const ConvGeom *g, const float *W, float *tmp, float *Ap, int pack) {
    const int k = g->k, kk = k * k;
    if (g->dx_planes) { /* W'[ci][(co, kh, kw)] = W[co][ci][k-1-kh][k-1-kw] */
        const int cols = g->cout * kk;
        for (int ci = 0; ci < g->cin; ci++)
            for (int co = 0; co < g->cout; co++)
                for (int t = 0; t < kk; t++)
                    tmp[(size_t)ci * cols + (size_t)co * kk + t] = W[((size_t)co * g->cin + ci) * kk + (kk - 1 - t)];
        if (pack) rows_pack(isa, g->cin, cols, tmp, (size_t)cols, Ap);
    } else { /* W^T: KK x Cout */
        for (int j = 0; j < g->KK; j++)
            for (int co = 0; co < g->cout; co++) tmp[(size_t)j * g->cout + co] = W[(size_t)co * g->KK + j];
        if (pack) rows_pack(isa, g->KK, g->cout, tmp, (size_t)g->cout, Ap);
    }
}

/* dx_n (Cin x H x W) += (or, overwrite, =) the input gradient of sample n from dy_n (Cout x Ho x Wo). */
static void sample_dx(const ConvGeom *g, KernelIsa isa, const float *Ap, int wino, const float *U, const float *plan,
                      const uint16_t *masks, const float *dyn, float *buf, const float **B, float *wino_work,
                      float *dxn, int overwrite) {
    const int HW = g->h * g->w;
    if (U) { /* 3x3 / 1 / 1 by Winograd, with the flipped weights' transform */
        wino_conv(g, wino, g->cin, g->cout, U, plan, dyn, dxn, (size_t)HW, !overwrite, NULL, wino_work);
    } else if (masks) { /* 3x3 / 1 / 1: dy -> dx is the same kind of convolution (padding k - 1 - p = 1) */
        conv3x3_avx512(g->cin, g->cout, g->h, g->w, Ap, dyn, dxn, (size_t)HW, !overwrite, NULL, masks);
    } else if (g->rows_direct) {
        for (int co = 0; co < g->cout; co++) B[co] = dyn + (size_t)co * g->P;
        rows_gemm(isa, g->cin, HW, g->cout, Ap, B, dxn, (size_t)HW, !overwrite);
    } else if (g->dx_planes) {
        const int pp = g->k - 1 - g->p;
        conv_planes_fill(isa, dyn, g->cout, g->ho, g->wo, g->k, pp, buf);
        conv_planes_rows(buf, g->cout, g->ho, g->wo, g->k, pp, B);
        rows_gemm(isa, g->cin, HW, g->cout * g->k * g->k, Ap, B, dxn, (size_t)HW, !overwrite);
    } else { /* col2im may leave positions no window covers (stride > k): zero them on overwrite */
        for (int co = 0; co < g->cout; co++) B[co] = dyn + (size_t)co * g->P;
        rows_gemm(isa, g->KK, g->P, g->cout, Ap, B, buf, (size_t)g->P, 0);
        if (overwrite) memset(dxn, 0, sizeof(float) * (size_t)g->cin * HW);
        conv_col2im_add(isa, buf, g->cin, g->h, g->w, g->k, g->s, g->p, g->ho, g->wo, dxn);
    }
}

/* Samples 4 gi .. 4 gi + 3 of an 8x8 group4 layer: their x^T padded (10 x 10, in area), dW partials dU into pw
 * (NULL: no dW), bias sums into pb (NULL: none), dx from U (NULL dx: none). */
static void group_backward(const ConvGeom *g, KernelIsa isa, int gi, const float *x, const float *dy, float *area,
                           size_t work_at, float *pw, float *pb, const float *U, float *dx, int overwrite) {
    const size_t xs = (size_t)g->cin * g->P, ys = (size_t)g->cout * g->P, pad = (size_t)100 * g->cin;
    const float *xT[4], *dys[4];
    float *dxs[4];
    for (int q = 0; q < 4; q++) {
        const int i = 4 * gi + q, here = i < g->n;
        xT[q] = area + q * pad, dys[q] = here ? dy + i * ys : NULL, dxs[q] = here && dx ? dx + i * xs : NULL;
        if (here && pw) transpose_padded(g, isa, x + i * xs, area + q * pad, 10);
        if (here && pb)
            for (int o = 0; o < g->cout; o++) pb[o] += row_sum(dys[q] + (size_t)o * g->P, g->P);
    }
    if (pw) conv3x3_wino4_dw_group_avx512(g->cout, g->cin, xT, dys, pw, area + work_at);
    if (dx)
        conv3x3_wino4_group_avx512(g->cin, g->cout, U, dys, dxs, (size_t)g->P, !overwrite, NULL, NULL, area + work_at);
}

void conv_direct_backward(const Conv2d *c, const StepCtx *ctx, Tensor *x, const Tensor *out) {
    const Shape *s = &x->shape;
    const ConvGeom g = geom(c, s->d[0], s->d[2], s->d[3], ctx->threads);
    CHECK(ctx->scratch_bytes >= conv_direct_scratch(c, g.n, g.h, g.w, ctx->threads), "%s: scratch too small",
          c->base.name);
    const KernelIsa isa = kernel_isa();
    const float *W = params_value(ctx->params, c->w);
    float *gW = params_grad(ctx->params, c->w);
    float *gb = c->b >= 0 ? params_grad(ctx->params, c->b) : NULL;
    const float *dy = out->grad;
    float *dx = x->grad;
    const int overwrite = dx && layer_grad_overwrite(x); /* samples are disjoint: all write or all add */
    float *Ap = ctx->scratch, *tmp = ctx->scratch + shared_area(&g).tmp;
    const int wino = use_wino(&g, isa, ctx->scratch);
    /* Winograd's dx weights come from the unpacked flipped matrix (Cin x Cout 9) in tmp, not the packed one */
    if (dx) pack_dx_matrix(isa, &g, W, tmp, Ap, !wino);
    const uint16_t *masks = dx && !wino ? same3_masks(&g, isa, ctx->scratch) : NULL;
    const float *U = dx && wino ? wino_weights(&g, wino, g.cin, g.cout, tmp, ctx->scratch) : NULL;
    const float *plan = wino_plan(&g, ctx->scratch);
    /* dW by Winograd (partials dU as [p][co][ci]; F(4x4) wherever the forward is) or conv3x3_dw (as
     * [co][tap][ci]), both from x transposed and padded in the x-rows buffer */
    const int wdw = gW && g.wino_dw && wino;
    const int wdw4 = wdw && wino == 4, npos = wdw4 ? 36 : 16;
    const int dw3 = gW && !wdw && g.dw3 && conv3x3_available(isa);
    const int group = wino == 4 && g.group4; /* 4 samples at a time (group_backward) */
    float *threads_base = ctx->scratch + shared_floats(&g);
    const ThreadArea ta = thread_area(&g);
#pragma omp parallel num_threads(g.T)
    {
        const int tid = omp_get_thread_num();
        float *area = threads_base + (size_t)tid * ta.total;
        float *dybuf = area + ta.dy, *dyt = area + ta.dyt, *pw = area + ta.part, *pb = area + ta.bias;
        const float **Bx = (const float **)(void *)(area + ta.ptr_x);
        const float **Bd = (const float **)(void *)(area + ta.ptr_d);
        memset(pw, 0, sizeof(float) * (ta.ptr_x - ta.part));
        int hp = g.h + 2, wp = g.w + 2; /* x^T's padded map */
        if (wdw) conv3x3_wino_padded(g.h, g.w, &hp, &wp);
        if (dw3 || wdw) memset(area, 0, sizeof(float) * (size_t)(group ? 4 : 1) * hp * wp * g.cin); /* zero border */
        if (group) {
#pragma omp for schedule(static)
            for (int gi = 0; gi < (g.n + 3) / 4; gi++)
                group_backward(&g, isa, gi, x->data, dy, area, ta.wino, wdw ? pw : NULL, gb ? pb : NULL, U, dx,
                               overwrite);
        }
#pragma omp for schedule(static)
        for (int i = 0; i < (group ? 0 : g.n); i++) {
            const float *dyn = dy + (size_t)i * g.cout * g.P;
            if (wdw) {
                transpose_padded(&g, isa, x->data + (size_t)i * g.cin * g.h * g.w, area, (size_t)wp);
                if (wdw4) conv3x3_wino4_dw_avx512(g.cout, g.cin, g.h, g.w, area, dyn, pw, area + ta.wino);
                else conv3x3_wino_dw_avx512(g.cout, g.cin, g.h, g.w, plan, area, dyn, pw, area + ta.wino);
            } else if (dw3) {
                transpose_padded(&g, isa, x->data + (size_t)i * g.cin * g.h * g.w, area, (size_t)wp);
                conv3x3_dw_avx512(g.cout, g.cin, g.h, g.w, area, dyn, pw);
            } else if (gW) {
                sample_rows(&g, isa, x->data + (size_t)i * g.cin * g.h * g.w, area, Bx);
                rows_transpose(isa, g.cout, g.P, dyn, (size_t)g.P, dyt, (size_t)g.Mp, g.Mp);
                rows_dot_t(isa, g.Mp, g.KK, g.P, 1, dyt, (size_t)g.Mp, 0, Bx, pw, (size_t)g.Mp);
            }
            if (gb)
                for (int o = 0; o < g.cout; o++) pb[o] += row_sum(dyn + (size_t)o * g.P, g.P);
            if (dx)
                sample_dx(&g, isa, Ap, wino, U, plan, masks, dyn, dybuf, Bd, area + ta.wino,
                          dx + (size_t)i * g.cin * g.h * g.w, overwrite);
        }
        /* the loop's implicit barrier: every partial is complete; sum them in thread order (dW^T back to dW) */
        if (wdw) { /* dU summed over threads, then dW += G^T dU G */
            const size_t plane = (size_t)g.cout * g.cin;
#pragma omp for schedule(static)
            for (int o = 0; o < g.cout; o++)
                for (int ci = 0; ci < g.cin; ci++) {
                    float du[36];
                    for (int p = 0; p < npos; p++) {
                        float acc = 0.0f;
                        for (int t = 0; t < g.T; t++)
                            acc += threads_base[(size_t)t * ta.total + ta.part + p * plane + (size_t)o * g.cin + ci];
                        du[p] = acc;
                    }
                    if (wdw4) conv3x3_wino4_dw_finish(du, 1, gW + ((size_t)o * g.cin + ci) * 9);
                    else conv3x3_wino_dw_finish(du, 1, gW + ((size_t)o * g.cin + ci) * 9);
                }
        } else if (gW) {
#pragma omp for schedule(static)
            for (int o = 0; o < g.cout; o++)
                for (int j = 0; j < g.KK; j++) {
                    /* dW^T[j][o], or for conv3x3_dw [o][tap][ci] with j = ci * 9 + tap */
                    const size_t at = dw3 ? ((size_t)o * 9 + j % 9) * g.cin + j / 9 : (size_t)j * g.Mp + o;
                    float acc = 0.0f;
                    for (int t = 0; t < g.T; t++) acc += threads_base[(size_t)t * ta.total + ta.part + at];
                    gW[(size_t)o * g.KK + j] += acc;
                }
        }
        if (gb) {
#pragma omp single
            for (int o = 0; o < g.cout; o++) {
                float acc = 0.0f;
                for (int t = 0; t < g.T; t++) acc += threads_base[(size_t)t * ta.total + ta.bias + o];
                gb[o] += acc;
            }
        }
    }
}
