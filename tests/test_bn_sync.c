/* test_bn_sync.c — SyncBatchNorm (StepCtx.bn_sync, layer.h) without MPI: two threads each hold a shard of one
 * batch (unequal shards, 3 and 5 rows) and run BatchNorm forward and backward with hooks that meet at a
 * barrier, the way src/dist/mpi_bnsync.c meets over MPI. Against one BatchNorm on the whole batch:
 *  - each shard's output rows == the whole batch's, and the running statistics are the whole batch's;
 *  - with shard r's upstream gradient in its own units (the batch's over w_r = rows_r / rows, as a shard's
 *    mean loss gives), w_r dx == the whole batch's dx rows, and the shards' w_r dgamma, w_r dbeta add up to
 *    the whole batch's;
 * for batchnorm2d (strips not a multiple of the 16 summation lanes), batchnorm2d_relu, batchnorm2d_add_relu (whose
 * residual's gradient, w_r dr, must match too) and batchnorm1d, within
 * float summation tolerance. Without the hooks each shard would normalise with its own statistics: the test
 * checks that this is far off, so it can tell. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "layers/norm.h"
#include "locus/rng.h"
#include "locus/tape.h"

#define SHARDS 2
#define MAXC 8

typedef struct Meet {
    pthread_barrier_t bar;
    const double *buf[SHARDS];
    double count[SHARDS], w[SHARDS];
} Meet;

typedef struct Shard {
    Meet *meet;
    int me, kind, rows, lo, sync;
    Shape full;
    const float *x, *r, *dy; /* the whole batch's input, residual (add_relu) and upstream gradient */
    const float *init;   /* gamma, beta, running mean, running var: C each */
    float *out, *dx, *dr, dgamma[MAXC], dbeta[MAXC], rmean[MAXC], rvar[MAXC];
    double buf[2 * MAXC];
} Shard;

static double merge_stats(void *arg, double *buf, int C, double count) {
    Shard *s = arg;
    Meet *m = s->meet;
    m->buf[s->me] = buf, m->count[s->me] = count;
    pthread_barrier_wait(&m->bar);
    double mean[MAXC] = {0}, sq[MAXC] = {0}, total = 0;
    for (int p = 0; p < SHARDS; p++) {
        const double nb = m->count[p], na = total;
        for (int c = 0; c < C; c++) {
            const double delta = m->buf[p][c] - mean[c];
            mean[c] += delta * nb / (na + nb);
            sq[c] += m->buf[p][C + c] + delta * delta * na * nb / (na + nb);
        }
        total += nb;
    }
    pthread_barrier_wait(&m->bar); /* everyone has read every shard's buffer */
    for (int c = 0; c < C; c++) buf[c] = mean[c], buf[C + c] = sq[c];
    return total;
}

static double sum_grads(void *arg, double *buf, int C, double count) {
    Shard *s = arg;
    Meet *m = s->meet;
    m->buf[s->me] = buf;
    pthread_barrier_wait(&m->bar);
    double sum[2 * MAXC] = {0};
    for (int p = 0; p < SHARDS; p++)
        for (int i = 0; i < 2 * C; i++) sum[i] += m->w[p] * m->buf[p][i];
    pthread_barrier_wait(&m->bar);
    for (int i = 0; i < 2 * C; i++) buf[i] = sum[i] / m->w[s->me];
    return count / m->w[s->me];
}

static Shape rows_of(Shape s, int rows) {
    s.d[0] = rows;
    return s;
}

/* Runs one BatchNorm (kind 0: 2d, 1: 2d + ReLU, 2: 1d, 3: 2d + residual + ReLU) on `rows` rows of the batch starting at lo; dy
 * scaled by `scale`; sync: with the hooks. Fills out, dx, the parameter gradients and running statistics. */
static void run_bn(Shard *s, float scale) {
    const int C = s->full.d[1];
    MemTracker mt = {0};
    ParamStore ps;
    params_init(&ps, &mt);
    BatchNorm bn;
    if (s->kind == 0) batchnorm2d_init(&bn, &ps, "bn", C);
    else if (s->kind == 1) batchnorm2d_relu_init(&bn, &ps, "bn", C);
    else if (s->kind == 3) batchnorm2d_add_relu_init(&bn, &ps, "bn", C);
    else batchnorm1d_init(&bn, &ps, "bn", C);
    ErrorMsg err;
    CHECK(params_finalize(&ps, &err) == LOCUS_OK, "%s", err.text);
    const int h[4] = {bn.weight, bn.bias, bn.running_mean, bn.running_var};
    for (int k = 0; k < 4; k++) memcpy(params_value(&ps, h[k]), s->init + k * C, C * sizeof(float));
    Shape sh = rows_of(s->full, s->rows);
    const size_t row = shape_numel(&s->full) / (size_t)s->full.d[0], n = row * (size_t)s->rows;
    float *dy = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) dy[i] = s->dy[(size_t)s->lo * row + i] * scale;
    BnSync hooks = {.merge_stats = merge_stats, .sum_grads = sum_grads, .arg = s, .buf = s->buf, .channels = MAXC};
    StepCtx ctx = {.params = &ps, .training = 1, .threads = 1, .bn_sync = s->sync ? &hooks : NULL};
    Tape t;
    CHECK(tape_init(&t, &ctx, &mt, (size_t)1 << 20, (size_t)1 << 20, (size_t)1 << 14, &err) == LOCUS_OK, "%s",
          err.text);
    t.recording = 1;
    params_zero_grads(&ps);
    TapeMark mark = tape_mark(&t);
    Tensor *in = tape_wrap(&t, sh, (float *)s->x + (size_t)s->lo * row, 1);
    Tensor *res = s->kind == 3 ? tape_wrap(&t, sh, (float *)s->r + (size_t)s->lo * row, 1) : NULL;
    Tensor *y = res ? tape_call2(&t, &bn.base, in, res) : tape_call1(&t, &bn.base, in);
    CHECK(y && tape_ok(&t), "forward: %s", t.err.text);
    CHECK(tape_backward_from(&t, y, dy, mark) == LOCUS_OK, "backward: %s", t.err.text);
    memcpy(s->out, y->data, n * sizeof(float));
    memcpy(s->dx, in->grad, n * sizeof(float));
    if (res) memcpy(s->dr, res->grad, n * sizeof(float));
    memcpy(s->dgamma, params_grad(&ps, bn.weight), C * sizeof(float));
    memcpy(s->dbeta, params_grad(&ps, bn.bias), C * sizeof(float));
    memcpy(s->rmean, params_value(&ps, bn.running_mean), C * sizeof(float));
    memcpy(s->rvar, params_value(&ps, bn.running_var), C * sizeof(float));
    tape_release(&t, mark);
    tape_free(&t);
    params_free(&ps);
    free(dy);
}

static void *shard_main(void *arg) {
    Shard *s = arg;
    run_bn(s, 1.0f / (float)s->meet->w[s->me]);
    return NULL;
}

static double rel(double a, double b) { return fabs(a - b) / (1 + fabs(b)); }

/* Largest difference of the shards (sync or not) from the whole batch, over outputs, w dx, running stats and
 * summed parameter gradients. */
static double compare(int kind, Shape full, uint64_t seed, int sync) {
    const int C = full.d[1], N = full.d[0], split = 3;
    CHECK(C <= MAXC && N > split, "case");
    const size_t total = shape_numel(&full), row = total / (size_t)N;
    Rng rng;
    rng_seed(&rng, seed);
    float init[4 * MAXC];
    for (int c = 0; c < C; c++)
        init[c] = 1 + 0.3f * rng_normal(&rng), init[C + c] = 0.3f * rng_normal(&rng), init[2 * C + c] = 0.1f,
        init[3 * C + c] = 0.9f;
    float *x = malloc(total * sizeof(float)), *r = malloc(total * sizeof(float)), *dy = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++)
        x[i] = 2 * rng_normal(&rng) + 1.5f, r[i] = 0.5f * rng_normal(&rng), dy[i] = rng_normal(&rng);
    Shard whole = {.kind = kind, .rows = N, .full = full, .x = x, .r = r, .dy = dy, .init = init};
    whole.out = malloc(total * sizeof(float)), whole.dx = malloc(total * sizeof(float));
    whole.dr = malloc(total * sizeof(float));
    run_bn(&whole, 1.0f);
    Meet meet;
    pthread_barrier_init(&meet.bar, NULL, SHARDS);
    Shard sh[SHARDS];
    pthread_t th[SHARDS];
    for (int p = 0; p < SHARDS; p++) {
        sh[p] = whole;
        sh[p].meet = &meet, sh[p].me = p, sh[p].sync = sync;
        sh[p].lo = p ? split : 0, sh[p].rows = p ? N - split : split;
        sh[p].out = malloc((size_t)sh[p].rows * row * sizeof(float));
        sh[p].dx = malloc((size_t)sh[p].rows * row * sizeof(float));
        sh[p].dr = malloc((size_t)sh[p].rows * row * sizeof(float));
        meet.w[p] = (double)sh[p].rows / N;
    }
    if (sync) {
        for (int p = 0; p < SHARDS; p++) CHECK(!pthread_create(&th[p], NULL, shard_main, &sh[p]), "thread");
        for (int p = 0; p < SHARDS; p++) pthread_join(th[p], NULL);
    } else {
        for (int p = 0; p < SHARDS; p++) shard_main(&sh[p]);
    }
    double worst = 0;
    for (int p = 0; p < SHARDS; p++) {
        const size_t off = (size_t)sh[p].lo * row;
        for (size_t i = 0; i < (size_t)sh[p].rows * row; i++) {
            worst = fmax(worst, rel(sh[p].out[i], whole.out[off + i]));
            worst = fmax(worst, rel(meet.w[p] * sh[p].dx[i], whole.dx[off + i]));
            if (kind == 3) worst = fmax(worst, rel(meet.w[p] * sh[p].dr[i], whole.dr[off + i]));
        }
        for (int c = 0; c < C; c++) {
            worst = fmax(worst, rel(sh[p].rmean[c], whole.rmean[c]));
            worst = fmax(worst, rel(sh[p].rvar[c], whole.rvar[c]));
        }
    }
    for (int c = 0; c < C; c++) {
        double g = 0, b = 0;
        for (int p = 0; p < SHARDS; p++) g += meet.w[p] * sh[p].dgamma[c], b += meet.w[p] * sh[p].dbeta[c];
        worst = fmax(worst, fmax(rel(g, whole.dgamma[c]), rel(b, whole.dbeta[c])));
    }
    pthread_barrier_destroy(&meet.bar);
    for (int p = 0; p < SHARDS; p++) free(sh[p].out), free(sh[p].dx), free(sh[p].dr);
    free(whole.out), free(whole.dx), free(whole.dr), free(x), free(r), free(dy);
    return worst;
}

int main(void) {
    const char *names[4] = {"batchnorm2d", "batchnorm2d_relu", "batchnorm1d", "batchnorm2d_add_relu"};
    const Shape shapes[4] = {shape4(8, 3, 5, 7), shape4(8, 4, 3, 6), shape2(8, 6), shape4(8, 5, 4, 5)};
    for (int kind = 0; kind < 4; kind++) {
        double synced = compare(kind, shapes[kind], 11 + kind, 1), alone = compare(kind, shapes[kind], 11 + kind, 0);
        EXPECT(synced < 1e-5, "%s, shards of 3 and 5 rows synchronised: differ from the whole batch by %g", names[kind],
               synced);
        EXPECT(alone > 1e-2, "%s, shards with their own statistics: differ from the whole batch by only %g (the test "
               "cannot tell)", names[kind], alone);
        printf("%-21s synchronised shards vs whole batch: %.2g (each shard alone: %.2g)\n", names[kind], synced, alone);
    }
    return expect_report();
}
