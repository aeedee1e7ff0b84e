/* test_tape.c — the engine's core invariants (DESIGN.md §6.3, §6.4):
 *  - grad pool: random alloc/free sequences never hand out overlapping blocks, every block is zeroed,
 *    and a plan-mode pool makes exactly the same offsets and peak as a real one;
 *  - arena: mark/release returns to the base; an over-full arena is an OOM Status, not a crash;
 *  - barrier: no gradient crosses it (the upstream gradient is exactly zero) and the detached output
 *    keeps its values; the arena is back at the barrier's mark afterwards;
 *  - a parameter used twice gets the sum of the gradients of both uses (checked against a copy);
 *  - gradient accumulation over two half batches == one full batch (no batch coupling: linear layers);
 *  - plan mode makes the same ACT peak as a real forward + backward;
 *  - compaction (HiLo's sliding window) keeps values and re-points pointers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/activation.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "locus/tape.h"
#include "expect.h"


static void test_gradpool(void) {
    MemTracker mt_real = {0}, mt_plan = {0};
    GradPool real, plan;
    EXPECT(gradpool_init(&real, 1 << 20, &mt_real, MEM_TAG_ACT) == 0, "pool init");
    gradpool_init_plan(&plan, &mt_plan, MEM_TAG_ACT);
    Rng rng;
    rng_seed(&rng, 7);
    enum { MAXB = 64 };
    size_t off[MAXB], size[MAXB];
    int live[MAXB] = {0};
    for (int step = 0; step < 5000; step++) {
        int i = (int)rng_below(&rng, MAXB);
        if (live[i]) {
            gradpool_release(&real, off[i], size[i]);
            gradpool_release(&plan, off[i], size[i]);
            live[i] = 0;
            continue;
        }
        size[i] = 4 * (1 + rng_below(&rng, 2000));
        int ok1, ok2;
        float *p = gradpool_alloc(&real, size[i], &ok1);
        size_t o_real = gradpool_last_offset(&real);
        gradpool_alloc(&plan, size[i], &ok2);
        if (!ok1) { /* full: the plan pool never is; undo it there */
            gradpool_release(&plan, gradpool_last_offset(&plan), size[i]);
            continue;
        }
        EXPECT(ok2 && gradpool_last_offset(&plan) == o_real, "plan and real offsets differ at step %d", step);
        off[i] = o_real;
        for (size_t k = 0; k < size[i] / 4; k++)
            if (p[k] != 0.0f) {
                EXPECT(0, "block not zeroed");
                break;
            }
        memset(p, 0xAB, size[i]); /* dirty it: the next owner must still see zeros */
        for (int j = 0; j < MAXB; j++)
            if (live[j] && j != i)
                EXPECT(off[j] + mem_round_up(size[j]) <= o_real || o_real + mem_round_up(size[i]) <= off[j],
                       "blocks %d and %d overlap", i, j);
        live[i] = 1;
    }
    EXPECT(mt_real.peak[MEM_TAG_ACT] == mt_plan.peak[MEM_TAG_ACT] || real.high >= real.capacity - 65536,
           "peaks differ");
    for (int i = 0; i < MAXB; i++)
        if (live[i]) gradpool_release(&real, off[i], size[i]), gradpool_release(&plan, off[i], size[i]);
    EXPECT(real.live == 0 && real.top == 0 && real.n_free == 0, "pool not empty after freeing all (top %zu, %d free)",
           real.top, real.n_free);
    gradpool_free(&real);
    gradpool_free(&plan);
}

typedef struct Net {
    ParamStore ps;
    Linear fc1, fc2, fc2b, fc3;
    Relu relu;
    SoftmaxCE ce;
    MemTracker mt;
    StepCtx ctx;
    Tape tape;
} Net;

static void net_open(Net *n, int plan) {
    memset(n, 0, sizeof *n);
    params_init(&n->ps, &n->mt);
    linear_init(&n->fc1, &n->ps, "fc1", 6, 8, 1);
    linear_init(&n->fc2, &n->ps, "fc2", 8, 8, 1);
    linear_init(&n->fc2b, &n->ps, "fc2b", 8, 8, 1);
    linear_init(&n->fc3, &n->ps, "fc3", 8, 4, 1);
    relu_init(&n->relu, "relu");
    softmax_ce_init(&n->ce, "ce", 0.0f);
    ErrorMsg err;
    CHECK(params_finalize(&n->ps, &err) == LOCUS_OK, "finalize");
    Rng rng;
    rng_seed(&rng, 3);
    linear_init_weights(&n->fc1, &n->ps, &rng);
    linear_init_weights(&n->fc2, &n->ps, &rng);
    linear_init_weights(&n->fc3, &n->ps, &rng);
    n->ctx.params = &n->ps;
    n->ctx.training = 1;
    n->ctx.threads = 1;
    static float scratch[1 << 14];
    n->ctx.scratch = scratch;
    n->ctx.scratch_bytes = sizeof scratch;
    if (plan)
        CHECK(tape_init_plan(&n->tape, &n->ctx, &n->mt, 1 << 16, &err) == LOCUS_OK, "plan");
    else
        CHECK(tape_init(&n->tape, &n->ctx, &n->mt, 1 << 16, 1 << 16, 1 << 16, &err) == LOCUS_OK, "tape");
}

static void net_close(Net *n) {
    tape_free(&n->tape);
    params_free(&n->ps);
}

/* x (N x 6) -> fc1 -> relu -> [barrier?] -> fc2 -> fc2 again (shared) -> fc3 -> CE */
static Tensor *net_loss(Net *n, Tensor *x, Tensor *y, int shared, Tensor **h_out) {
    Tape *t = &n->tape;
    Tensor *h = tape_call1(t, &n->relu.base, tape_call1(t, &n->fc1.base, x));
    if (h_out) *h_out = h;
    h = tape_call1(t, &n->fc2.base, h);
    if (shared) h = tape_call1(t, &n->fc2.base, h);
    return tape_call2(t, &n->ce.base, tape_call1(t, &n->fc3.base, h), y);
}

static void test_barrier_shared_accum(void) {
    float xd[8 * 6], yd[8];
    Rng rng;
    rng_seed(&rng, 9);
    for (int i = 0; i < 48; i++) xd[i] = rng_normal(&rng);
    for (int i = 0; i < 8; i++) yd[i] = (float)(i % 4);
    float one = 1.0f;

    /* barrier: a local loss after the barrier leaves fc1's gradient exactly zero */
    Net n;
    net_open(&n, 0);
    Tape *t = &n.tape;
    TapeMark base = tape_mark(t);
    Tensor *x = tape_wrap(t, shape2(8, 6), xd, 1);
    Tensor *y = tape_wrap(t, shape1(8), yd, 0);
    TapeMark m = tape_mark(t);
    Tensor *h = tape_call1(t, &n.relu.base, tape_call1(t, &n.fc1.base, x));
    float hcopy[64];
    memcpy(hcopy, h->data, sizeof hcopy);
    size_t used_before = t->data.used;
    (void)used_before;
    Tensor *hd = tape_barrier(t, h, m);
    EXPECT(hd && !hd->requires_grad && !memcmp(hd->data, hcopy, sizeof hcopy), "barrier keeps values, detaches");
    EXPECT(t->data.used == m.data + mem_round_up(sizeof hcopy), "barrier releases to its mark (used %zu)",
           t->data.used);
    TapeMark m2 = tape_mark(t);
    Tensor *loss = tape_call2(t, &n.ce.base, tape_call1(t, &n.fc3.base, tape_call1(t, &n.fc2.base, hd)), y);
    params_zero_grads(&n.ps);
    EXPECT(tape_backward(t, &loss, &one, 1, m2) == LOCUS_OK, "backward: %s", t->err.text);
    float s1 = 0, s2 = 0;
    for (size_t i = 0; i < params_numel(&n.ps, n.fc1.w); i++) s1 += fabsf(params_grad(&n.ps, n.fc1.w)[i]);
    for (size_t i = 0; i < params_numel(&n.ps, n.fc2.w); i++) s2 += fabsf(params_grad(&n.ps, n.fc2.w)[i]);
    EXPECT(s1 == 0.0f && s2 > 0.0f, "gradient upstream of the barrier is exactly zero (fc1 %g, fc2 %g)", s1, s2);
    EXPECT(x->grad == NULL, "no gradient reaches the input");
    tape_release(t, base);
    EXPECT(t->data.used == 0 && t->meta.used == 0 && t->grads.live == 0, "tape back at base");

    /* shared parameter: fc2 used twice == sum of two separately computed uses */
    x = tape_wrap(t, shape2(8, 6), xd, 0);
    y = tape_wrap(t, shape1(8), yd, 0);
    m = tape_mark(t);
    params_zero_grads(&n.ps);
    loss = net_loss(&n, x, y, 1, NULL);
    EXPECT(tape_backward(t, &loss, &one, 1, m) == LOCUS_OK, "backward shared");
    float *g = params_grad(&n.ps, n.fc2.w);
    size_t nw = params_numel(&n.ps, n.fc2.w);
    float *shared = malloc(sizeof(float) * nw);
    memcpy(shared, g, sizeof(float) * nw);
    tape_release(t, m);
    /* the same network with the second use given its own copy fc2b of fc2's values: the shared
     * gradient must equal grad(fc2) + grad(fc2b) */
    params_zero_grads(&n.ps);
    memcpy(params_value(&n.ps, n.fc2b.w), params_value(&n.ps, n.fc2.w), sizeof(float) * nw);
    memcpy(params_value(&n.ps, n.fc2b.b), params_value(&n.ps, n.fc2.b), sizeof(float) * 8);
    {
        Tensor *h2 = tape_call1(t, &n.relu.base, tape_call1(t, &n.fc1.base, x));
        h2 = tape_call1(t, &n.fc2b.base, tape_call1(t, &n.fc2.base, h2));
        loss = tape_call2(t, &n.ce.base, tape_call1(t, &n.fc3.base, h2), y);
    }
    EXPECT(tape_backward(t, &loss, &one, 1, m) == LOCUS_OK, "backward with a copy");
    float worst = 0, *gb = params_grad(&n.ps, n.fc2b.w);
    for (size_t i = 0; i < nw; i++) worst = fmaxf(worst, fabsf(g[i] + gb[i] - shared[i]));
    EXPECT(worst < 1e-6f, "shared gradient == sum of both uses (max diff %g)", worst);
    tape_release(t, m);
    free(shared);

    /* gradient accumulation: two half batches (loss scaled by 1/2 each) == one full batch */
    params_zero_grads(&n.ps);
    Tensor *xf = tape_wrap(t, shape2(8, 6), xd, 0), *yf = tape_wrap(t, shape1(8), yd, 0);
    loss = net_loss(&n, xf, yf, 0, NULL);
    EXPECT(tape_backward(t, &loss, &one, 1, m) == LOCUS_OK, "full");
    size_t total = n.ps.numel_trainable;
    float *full = malloc(sizeof(float) * total);
    memcpy(full, n.ps.grads, sizeof(float) * total);
    tape_release(t, m);
    params_zero_grads(&n.ps);
    float half = 0.5f;
    for (int part = 0; part < 2; part++) {
        TapeMark mp = tape_mark(t);
        Tensor *xh = tape_wrap(t, shape2(4, 6), xd + part * 24, 0), *yh = tape_wrap(t, shape1(4), yd + part * 4, 0);
        loss = net_loss(&n, xh, yh, 0, NULL);
        EXPECT(tape_backward(t, &loss, &half, 1, mp) == LOCUS_OK, "half");
        tape_release(t, mp);
    }
    float worst2 = 0;
    for (size_t i = 0; i < total; i++) worst2 = fmaxf(worst2, fabsf(n.ps.grads[i] - full[i]));
    EXPECT(worst2 < 1e-6f, "accumulated half batches == full batch (max diff %g)", worst2);
    free(full);
    tape_release(t, base);
    net_close(&n);
}

static void test_plan_equals_real_and_oom(void) {
    size_t peaks[2];
    for (int plan = 1; plan >= 0; plan--) {
        Net n;
        net_open(&n, plan);
        Tape *t = &n.tape;
        float xd[48] = {0}, yd[8] = {0};
        TapeMark m = tape_mark(t);
        Tensor *x = tape_wrap(t, shape2(8, 6), plan ? NULL : xd, 0), *y = tape_wrap(t, shape1(8), plan ? NULL : yd, 0);
        Tensor *loss = net_loss(&n, x, y, 1, NULL);
        float one = 1.0f;
        EXPECT(tape_backward(t, &loss, &one, 1, m) == LOCUS_OK, "backward");
        tape_release(t, m);
        peaks[plan] = n.mt.peak[MEM_TAG_ACT];
        net_close(&n);
    }
    EXPECT(peaks[0] == peaks[1] && peaks[0] > 0, "plan ACT peak %zu == real %zu", peaks[1], peaks[0]);

    /* an arena too small: a Status with a hint, never a crash */
    Net n;
    memset(&n, 0, sizeof n);
    params_init(&n.ps, &n.mt);
    linear_init(&n.fc1, &n.ps, "fc1", 6, 8, 1);
    ErrorMsg err;
    CHECK(params_finalize(&n.ps, &err) == LOCUS_OK, "finalize");
    n.ctx.params = &n.ps;
    n.ctx.training = 1;
    n.ctx.threads = 1;
    CHECK(tape_init(&n.tape, &n.ctx, &n.mt, 128, 128, 4096, &err) == LOCUS_OK, "tape");
    float xd[6 * 64];
    Tensor *x = tape_wrap(&n.tape, shape2(64, 6), xd, 0);
    Tensor *h = tape_call1(&n.tape, &n.fc1.base, x);
    EXPECT(!h && n.tape.status == LOCUS_ERR_OOM && strstr(n.tape.err.text, "hint"), "OOM is a status: %s",
           n.tape.err.text);
    EXPECT(tape_call1(&n.tape, &n.fc1.base, x) == NULL, "errors are sticky");
    tape_free(&n.tape);
    params_free(&n.ps);
}

/* tape_compact: the older region goes, `keep` moves down, the newer region slides behind it with its
 * values intact and its pointers (tensor data, record caches) re-pointed; plan mode counts the same. */
static void test_compact(void) {
    size_t used_after[2];
    for (int plan = 0; plan < 2; plan++) {
        Net n;
        net_open(&n, plan);
        Tape *t = &n.tape;
        float xd[8 * 6];
        for (int i = 0; i < 48; i++) xd[i] = (float)i / 10.0f;
        Tensor *x = tape_wrap(t, shape2(8, 6), plan ? NULL : xd, 0);
        TapeMark lo = tape_mark(t);
        Tensor *a = tape_call1(t, &n.relu.base, tape_call1(t, &n.fc1.base, x)); /* older block, output a */
        TapeMark hi = tape_mark(t);
        Tensor *b = tape_call1(t, &n.fc2.base, a);                             /* newer block reads a */
        Tensor *c = tape_call1(t, &n.relu.base, b);
        float a_vals[64], c_vals[64];
        if (!plan) memcpy(a_vals, a->data, sizeof a_vals), memcpy(c_vals, c->data, sizeof c_vals);
        size_t before = t->data.used;
        tape_compact(t, lo, hi, a);
        used_after[plan] = t->data.used;
        EXPECT(t->data.used < before, "compaction frees memory (%zu -> %zu)", before, t->data.used);
        EXPECT(n.mt.live[MEM_TAG_ACT] == t->data.used + t->meta.used + t->grads.live, "accounting follows");
        if (!plan) {
            EXPECT((char *)a->data == t->data.base + lo.data && !memcmp(a->data, a_vals, sizeof a_vals),
                   "kept tensor moved to lo with its values");
            EXPECT(!memcmp(c->data, c_vals, sizeof c_vals) && (char *)c->data < t->data.base + t->data.used,
                   "newer tensors keep their values at their new place");
            /* the newer block still backpropagates (its records were re-pointed) */
            a->requires_grad = 0;
            float dc[64];
            for (int i = 0; i < 64; i++) dc[i] = 1.0f;
            params_zero_grads(&n.ps);
            EXPECT(tape_backward_from(t, c, dc, hi) == LOCUS_OK, "backward after compaction");
            float s = 0;
            for (size_t i = 0; i < params_numel(&n.ps, n.fc2.w); i++) s += fabsf(params_grad(&n.ps, n.fc2.w)[i]);
            EXPECT(s > 0, "fc2 got a gradient");
        }
        tape_release(t, (TapeMark){0, 0, NULL, NULL});
        net_close(&n);
    }
    EXPECT(used_after[0] == used_after[1], "plan mode compacts the same (%zu vs %zu)", used_after[1], used_after[0]);
}

int main(void) {
    test_gradpool();
    test_barrier_shared_accum();
    test_plan_equals_real_and_oom();
    test_compact();
    return expect_report();
}
