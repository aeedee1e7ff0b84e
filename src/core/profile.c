/* profile.c — per-layer timing table for the tape (see profile.h).
 * Open addressing with linear probing on the Layer pointer; never grows (a full table counts the calls it
 * drops), so the timed loop never allocates. The table is diagnostic state owned by the caller, not
 * trainer memory, so it is not charged to a MemTracker tag. */
#include "locus/profile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

Status profile_init(Profile *p, int layers, ErrorMsg *err) {
    memset(p, 0, sizeof *p);
    int cap = 64;
    while (cap < 2 * layers) cap *= 2;
    p->slots = calloc((size_t)cap, sizeof *p->slots);
    if (!p->slots) return status_fail(err, LOCUS_ERR_OOM, "cannot allocate a profile of %d layers", layers);
    p->cap = cap;
    p->enabled = 1;
    return LOCUS_OK;
}

void profile_free(Profile *p) {
    free(p->slots);
    memset(p, 0, sizeof *p);
}

void profile_reset(Profile *p) {
    memset(p->slots, 0, sizeof *p->slots * (size_t)p->cap);
    p->n = 0;
    p->dropped = 0;
    p->grad_zero_s = 0;
}

double profile_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static ProfileEntry *slot_for(Profile *p, const Layer *l) {
    uintptr_t h = (uintptr_t)l;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    size_t mask = (size_t)p->cap - 1;
    for (size_t i = (size_t)(h >> 32) & mask, probes = 0; probes < (size_t)p->cap; i = (i + 1) & mask, probes++) {
        ProfileEntry *e = &p->slots[i];
        if (e->layer == l) return e;
        if (!e->layer) {
            if (2 * (p->n + 1) > p->cap) return NULL; /* keep probes short: at most half full */
            e->layer = l;
            e->order = p->n++;
            return e;
        }
    }
    return NULL;
}

void profile_add_forward(Profile *p, const Layer *l, Tensor *const *in, const Tensor *out, double seconds) {
    ProfileEntry *e = slot_for(p, l);
    if (!e) {
        p->dropped++;
        return;
    }
    if (!e->fwd_calls) {
        e->in_shape = in[0]->shape;
        e->out_shape = out->shape;
    }
    e->fwd_calls++;
    e->fwd_s += seconds;
}

void profile_add_backward(Profile *p, const Layer *l, Tensor *const *in, double seconds) {
    ProfileEntry *e = slot_for(p, l);
    if (!e) {
        p->dropped++;
        return;
    }
    if (!e->bwd_calls) e->in_grad = in[0]->grad != NULL;
    e->bwd_calls++;
    e->bwd_s += seconds;
}

static int by_order(const void *a, const void *b) {
    const ProfileEntry *x = *(const ProfileEntry *const *)a, *y = *(const ProfileEntry *const *)b;
    return (x->order > y->order) - (x->order < y->order);
}

int profile_entries(const Profile *p, const ProfileEntry **out, int max) {
    int n = 0;
    for (int i = 0; i < p->cap && n < max; i++)
        if (p->slots[i].layer) out[n++] = &p->slots[i];
    qsort(out, (size_t)n, sizeof *out, by_order);
    return n;
}
