/* loader.c — shuffled, augmented float batches with one background prefetch thread.
 *
 * Double buffering: slot b % 2 holds batch b. The worker fills batch next_fill as soon as its slot is
 * FREE; loader_next hands out batch next_take (waiting until it is READY) and marks it HELD until the
 * next call, which frees it. So the worker fills batch b+1 while the caller computes on batch b, and
 * never writes a slot the caller holds.
 *
 * Invariants (all shared fields under mu):
 *  - busy == 1 only while the worker fills a slot without the lock; loader_start_epoch and
 *    loader_free wait for busy == 0 before touching `order` or the slots, so a restart or a shutdown
 *    mid-epoch costs at most one batch fill and never hangs.
 *  - Epoch e's order is Fisher-Yates from the identity with an Rng seeded by rng_hash(seed, e, 0): it
 *    depends only on (seed, e), not on earlier epochs. Sample i's augmentation is augment_draw(seed,
 *    e, i) (augment.c). Batches are therefore identical with or without prefetching.
 *  - All memory (order, both slots) is allocated in loader_init and charged to MEM_TAG_DATA.
 *  - drop_last = false: the last batch of an epoch holds n - (nbatches-1) * batch samples. */
#include <string.h>
#include <time.h>

#include "locus/data.h"
#include "locus/rng.h"

enum { SLOT_FREE = 0, SLOT_READY, SLOT_HELD };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t sample_floats(const Dataset *ds) { return (size_t)ds->c * ds->h * ds->w; }

/* Runs on the worker without the lock: reads order, dataset and preset, writes only slot s. */
static void fill_slot(Loader *l, int s, int b, int epoch) {
    const Dataset *ds = l->ds;
    const size_t chw = sample_floats(ds);
    const int start = b * l->batch;
    const int n = ds->n - start < l->batch ? ds->n - start : l->batch;
    const int augment = l->preset.pad > 0 || l->preset.flip;
    for (int i = 0; i < n; i++) {
        const int idx = l->order[start + i];
        const AugDraw d = augment ? augment_draw(&l->preset, l->seed, epoch, idx) : (AugDraw){0, 0, 0};
        augment_sample(&l->preset, &l->norm, ds->images + (size_t)idx * chw, ds->c, ds->h, ds->w, d,
                       l->x[s] + (size_t)i * chw);
        l->y[s][i] = (float)ds->labels[idx];
    }
    l->count[s] = n;
}

static void *worker_main(void *arg) {
    Loader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        const int b = l->next_fill, s = b & 1;
        if (b < l->nbatches && l->slot_state[s] == SLOT_FREE) {
            const int epoch = l->epoch;
            l->busy = 1;
            pthread_mutex_unlock(&l->mu);
            fill_slot(l, s, b, epoch);
            pthread_mutex_lock(&l->mu);
            l->busy = 0;
            l->slot_batch[s] = b;
            l->slot_state[s] = SLOT_READY;
            l->next_fill = b + 1;
            pthread_cond_broadcast(&l->cv);
            continue;
        }
        pthread_cond_wait(&l->cv, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void release_buffers(Loader *l) {
    const size_t xb = (size_t)l->batch * sample_floats(l->ds) * sizeof(float);
    for (int s = 0; s < 2; s++) {
        mem_free(l->mt, MEM_TAG_DATA, l->x[s], xb);
        mem_free(l->mt, MEM_TAG_DATA, l->y[s], (size_t)l->batch * sizeof(float));
    }
    mem_free(l->mt, MEM_TAG_DATA, l->order, (size_t)l->ds->n * sizeof(int32_t));
}

Status loader_init(Loader *l, const Dataset *ds, int batch, int shuffle, const DataPreset *p, uint64_t seed,
                   MemTracker *mt, ErrorMsg *err) {
    memset(l, 0, sizeof *l);
    if (!ds || ds->n < 1 || !ds->images || !ds->labels)
        return status_fail(err, LOCUS_ERR_ARG, "loader: the dataset is empty\nhint: load a dataset first");
    if (batch < 1)
        return status_fail(err, LOCUS_ERR_ARG, "loader: batch size %d, expected >= 1\nhint: pass a positive "
                           "batch size", batch);
    if (ds->c < 1 || ds->c > 3)
        return status_fail(err, LOCUS_ERR_ARG, "loader: %s has %d channels, the loader normalises 1 to 3\n"
                           "hint: this dataset needs its own preset", ds->name, ds->c);
    DataPreset none = {0, 0, 0, {0, 0, 0}, {1, 1, 1}};
    if (!p) p = &none;
    if (p->pad < 0 || p->pad > 1024 || (p->reflect && (p->pad >= ds->h || p->pad >= ds->w)))
        return status_fail(err, LOCUS_ERR_ARG, "loader: padding %d%s does not fit %d x %d images of %s\n"
                           "hint: reflect padding must be smaller than the image side; zero padding 0..1024",
                           p->pad, p->reflect ? " (reflect)" : "", ds->h, ds->w, ds->name);
    for (int ch = 0; ch < ds->c; ch++)
        if (!(p->std[ch] > 0))
            return status_fail(err, LOCUS_ERR_ARG, "loader: std[%d] = %g, expected > 0\nhint: check the data "
                               "preset", ch, (double)p->std[ch]);

    l->ds = ds;
    l->preset = *p;
    augment_norm_table(p, &l->norm);
    l->batch = batch;
    l->shuffle = shuffle;
    l->seed = seed;
    l->mt = mt;
    l->nbatches = (int)(((int64_t)ds->n + batch - 1) / batch);
    l->next_fill = l->next_take = l->nbatches; /* no epoch yet: loader_next answers 0 */
    l->held = -1;
    const size_t xb = (size_t)batch * sample_floats(ds) * sizeof(float);
    l->order = mem_alloc(mt, MEM_TAG_DATA, (size_t)ds->n * sizeof(int32_t));
    int ok = l->order != NULL;
    for (int s = 0; s < 2; s++) {
        l->x[s] = mem_alloc(mt, MEM_TAG_DATA, xb);
        l->y[s] = mem_alloc(mt, MEM_TAG_DATA, (size_t)batch * sizeof(float));
        ok = ok && l->x[s] && l->y[s];
    }
    if (!ok) {
        release_buffers(l);
        memset(l, 0, sizeof *l);
        return status_fail(err, LOCUS_ERR_OOM, "loader: cannot allocate 2 batch buffers of %zu bytes\nhint: use a "
                           "smaller batch size", xb);
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->worker, NULL, worker_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        release_buffers(l);
        memset(l, 0, sizeof *l);
        return status_fail(err, LOCUS_ERR_INTERNAL, "loader: cannot start the prefetch thread\nhint: the system "
                           "is out of threads or memory");
    }
    l->worker_started = 1;
    return LOCUS_OK;
}

void loader_start_epoch(Loader *l, int epoch) {
    CHECK(l->worker_started, "loader_start_epoch on a loader that is not initialised");
    pthread_mutex_lock(&l->mu);
    while (l->busy) pthread_cond_wait(&l->cv, &l->mu);
    const int n = l->ds->n;
    for (int i = 0; i < n; i++) l->order[i] = i;
    if (l->shuffle) {
        Rng r;
        rng_seed(&r, rng_hash(l->seed, (uint64_t)(int64_t)epoch, 0));
        for (int i = n - 1; i > 0; i--) {
            const int j = (int)rng_below(&r, (uint64_t)i + 1);
            const int32_t t = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = t;
        }
    }
    l->epoch = epoch;
    l->slot_state[0] = l->slot_state[1] = SLOT_FREE;
    l->held = -1;
    l->next_fill = l->next_take = 0;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

int loader_next(Loader *l, const float **x, const float **labels, int *n) {
    CHECK(l->worker_started, "loader_next on a loader that is not initialised");
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) {
        l->slot_state[l->held] = SLOT_FREE;
        l->held = -1;
        pthread_cond_broadcast(&l->cv);
    }
    if (l->next_take >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        *x = *labels = NULL;
        *n = 0;
        return 0;
    }
    const int b = l->next_take, s = b & 1;
    if (!(l->slot_state[s] == SLOT_READY && l->slot_batch[s] == b)) {
        const uint64_t t0 = now_ns();
        while (!(l->slot_state[s] == SLOT_READY && l->slot_batch[s] == b)) pthread_cond_wait(&l->cv, &l->mu);
        l->stall_ns += now_ns() - t0;
    }
    l->slot_state[s] = SLOT_HELD;
    l->held = s;
    l->next_take = b + 1;
    *x = l->x[s];
    *labels = l->y[s];
    *n = l->count[s];
    pthread_mutex_unlock(&l->mu);
    return 1;
}

int loader_batches_per_epoch(const Loader *l) { return l->nbatches; }

void loader_free(Loader *l) {
    if (!l->worker_started) return; /* zeroed, failed init or already freed */
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->worker, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    release_buffers(l);
    memset(l, 0, sizeof *l);
}
