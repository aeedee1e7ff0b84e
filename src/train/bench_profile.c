/* bench_profile.c — groups the tape's per-layer times into the `locus bench --profile` table (see
 * bench_profile.h). FLOPs come from bench_record_macs (bench.c) applied to each layer's recorded shapes. */
#include "train/bench_profile.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "layers/conv.h"
#include "layers/conv_bn.h"
#include "locus/tape.h"
#include "train/bench.h"

/* The row a layer belongs to: its type, convolutions also by geometry and input size. */
static void row_name(const ProfileEntry *e, int per_layer, char *buf, size_t n) {
    const Layer *l = e->layer;
    if (per_layer) {
        snprintf(buf, n, "%.95s (%.24s)", l->name, l->ops->type);
        return;
    }
    const Conv2d *c = !strcmp(l->ops->type, "conv2d") ? (const Conv2d *)l : conv_bn_conv(l);
    if (c && e->in_shape.ndim == 4) { /* conv2d, or an inference fusion conv2d_bn* */
        snprintf(buf, n, "%s %dx%d/%d %d->%d @%dx%d", l->ops->type, c->k, c->k, c->stride, c->cin, c->cout,
                 e->in_shape.d[2], e->in_shape.d[3]);
        return;
    }
    snprintf(buf, n, "%s", l->ops->type);
}

static int by_time(const void *a, const void *b) {
    const BenchProfileRow *x = a, *y = b;
    double tx = x->fwd_s + x->bwd_s, ty = y->fwd_s + y->bwd_s;
    return (tx < ty) - (tx > ty);
}

Status bench_profile_build(const Profile *p, int per_layer, int steps, double step_s, double param_zero_s,
                           double optim_s, BenchProfile *out, ErrorMsg *err) {
    memset(out, 0, sizeof *out);
    const ProfileEntry **es = malloc(sizeof *es * (size_t)(p->n ? p->n : 1));
    out->rows = calloc((size_t)(p->n ? p->n : 1), sizeof *out->rows);
    if (!es || !out->rows) {
        free(es);
        free(out->rows);
        out->rows = NULL;
        return status_fail(err, LOCUS_ERR_OOM, "out of memory for the profile table");
    }
    int ne = profile_entries(p, es, p->n);
    double per = 1.0 / (steps > 0 ? steps : 1), timed = 0;
    for (int i = 0; i < ne; i++) {
        const ProfileEntry *e = es[i];
        char name[128];
        row_name(e, per_layer, name, sizeof name);
        BenchProfileRow *row = NULL;
        for (int j = 0; j < out->n && !row; j++)
            if (!strcmp(out->rows[j].name, name)) row = &out->rows[j];
        if (!row) {
            row = &out->rows[out->n++];
            snprintf(row->name, sizeof row->name, "%s", name);
        }
        Tensor in0 = {.shape = e->in_shape}, o = {.shape = e->out_shape};
        TapeRecord r = {.layer = e->layer, .n_in = 1, .in = {&in0}, .out = &o};
        double flop = 2 * bench_record_macs(&r);
        row->layers++;
        row->calls += (double)e->fwd_calls * per;
        row->fwd_s += e->fwd_s * per;
        row->bwd_s += e->bwd_s * per;
        row->fwd_flop += flop * (double)e->fwd_calls * per;
        row->bwd_flop += flop * (e->in_grad ? 2 : 1) * (double)e->bwd_calls * per;
        timed += (e->fwd_s + e->bwd_s) * per;
    }
    free(es);
    qsort(out->rows, (size_t)out->n, sizeof *out->rows, by_time);
    out->step_s = step_s;
    out->tape_zero_s = p->grad_zero_s * per;
    out->param_zero_s = param_zero_s;
    out->optim_s = optim_s;
    out->other_s = step_s - timed - out->tape_zero_s - param_zero_s - optim_s;
    return LOCUS_OK;
}

void bench_profile_free(BenchProfile *bp) {
    free(bp->rows);
    memset(bp, 0, sizeof *bp);
}

static void print_row(FILE *f, const char *name, int layers, double fwd_s, double bwd_s, double fwd_flop,
                      double bwd_flop, double step_s) {
    char lay[16] = "";
    if (layers) snprintf(lay, sizeof lay, "%d", layers);
    fprintf(f, "  %-38s %6s %9.2f %9.2f %9.2f %6.1f%%", name, lay, 1e3 * fwd_s, 1e3 * bwd_s, 1e3 * (fwd_s + bwd_s),
            100 * (fwd_s + bwd_s) / step_s);
    if (fwd_flop > 0 && fwd_s > 0) fprintf(f, " %9.1f", 1e-9 * fwd_flop / fwd_s);
    else fprintf(f, " %9s", "");
    if (bwd_flop > 0 && bwd_s > 0) fprintf(f, " %9.1f", 1e-9 * bwd_flop / bwd_s);
    fprintf(f, "\n");
}

void bench_profile_print(FILE *f, const BenchProfile *bp) {
    if (!bp->rows) return;
    fprintf(f, "  profile per step (mean over the timed steps; ms; GFLOP/s = 2 x MACs, backward dW + dx):\n");
    fprintf(f, "  %-38s %6s %9s %9s %9s %7s %9s %9s\n", "layer", "layers", "fwd ms", "bwd ms", "total", "step",
            "fwd GF/s", "bwd GF/s");
    for (int i = 0; i < bp->n; i++) {
        const BenchProfileRow *r = &bp->rows[i];
        print_row(f, r->name, r->layers, r->fwd_s, r->bwd_s, r->fwd_flop, r->bwd_flop, bp->step_s);
    }
    print_row(f, "tape: zero activation grads", 0, 0, bp->tape_zero_s, 0, 0, bp->step_s);
    print_row(f, "zero parameter grads", 0, bp->param_zero_s, 0, 0, 0, bp->step_s);
    print_row(f, "optimizer step", 0, bp->optim_s, 0, 0, 0, bp->step_s);
    print_row(f, "other (tape bookkeeping)", 0, bp->other_s, 0, 0, 0, bp->step_s);
    fprintf(f, "  %-38s %6s %9s %9s %9.2f\n", "step", "", "", "", 1e3 * bp->step_s);
}

cJSON *bench_profile_json(const BenchProfile *bp) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "step_s", bp->step_s);
    cJSON_AddNumberToObject(o, "tape_zero_grads_s", bp->tape_zero_s);
    cJSON_AddNumberToObject(o, "param_zero_grads_s", bp->param_zero_s);
    cJSON_AddNumberToObject(o, "optim_s", bp->optim_s);
    cJSON_AddNumberToObject(o, "other_s", bp->other_s);
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    for (int i = 0; i < bp->n; i++) {
        const BenchProfileRow *r = &bp->rows[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", r->name);
        cJSON_AddNumberToObject(j, "layers", r->layers);
        cJSON_AddNumberToObject(j, "calls", r->calls);
        cJSON_AddNumberToObject(j, "fwd_s", r->fwd_s);
        cJSON_AddNumberToObject(j, "bwd_s", r->bwd_s);
        cJSON_AddNumberToObject(j, "fwd_flop", r->fwd_flop);
        cJSON_AddNumberToObject(j, "bwd_flop", r->bwd_flop);
        cJSON_AddItemToArray(rows, j);
    }
    return o;
}
