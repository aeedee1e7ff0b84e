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
 *  - drop_last = false: the last batch of an epoch holds n - (nbatches-1) * batch samples.
 *  - Image folders: the worker splits each batch over decode_threads threads (itself and helpers started
 *    per batch), each with its own scratch area (file pixels, resample rows, the S x S sample) allocated
 *    here in DATA; a file is mapped read-only while it is decoded. Sample i's crop is drawn from
 *    (seed, epoch, i) (transform.c), so batches do not depend on the thread count either. A file that
 *    cannot be read or decoded stops the epoch: loader_next answers 0 and loader_status has the message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "locus/data.h"
#include "locus/rng.h"

enum { SLOT_FREE = 0, SLOT_READY, SLOT_HELD };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t sample_floats(const Dataset *ds) { return (size_t)ds->c * ds->h * ds->w; }

/* Scratch of one decode thread: 4 * max_pixels decoded bytes, resample rows, then the S x S x 3 sample. */
static size_t decode_stride(const Dataset *ds) {
    const ImageFiles *f = &ds->files;
    return mem_round_up((size_t)4 * (size_t)f->max_pixels) + mem_round_up(transform_tmp_bytes(f->size)) +
           mem_round_up((size_t)3 * f->size * f->size);
}

static void set_error(Loader *l, Status st, const ErrorMsg *e) {
    pthread_mutex_lock(&l->mu);
    if (!l->status) {
        l->status = st;
        l->err = *e;
    }
    pthread_mutex_unlock(&l->mu);
}

/* Reads, decodes and transforms dataset sample idx into dst (3 x S x S normalised floats). */
static Status decode_sample(Loader *l, uint8_t *scratch, int idx, int epoch, float *dst, ErrorMsg *err) {
    const Dataset *ds = l->ds;
    const ImageFiles *f = &ds->files;
    const int S = f->size;
    char path[8192];
    if (snprintf(path, sizeof path, "%s/%s", f->root, f->names + f->name_at[idx]) >= (int)sizeof path)
        return status_fail(err, LOCUS_ERR_IO, "%s/%s: path too long\nhint: use shorter folder names", f->root,
                           f->names + f->name_at[idx]);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return status_fail(err, LOCUS_ERR_IO, "%s: cannot open: %s\nhint: the dataset folder changed after it "
                                   "was listed; list it again", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
        close(fd);
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: empty or unreadable file\nhint: remove it from the dataset "
                           "folder", path);
    }
    const size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return status_fail(err, LOCUS_ERR_IO, "%s: cannot map: %s\nhint: check the file", path,
                                                strerror(errno));
    uint8_t *rgb = scratch, *tmp = rgb + mem_round_up((size_t)4 * (size_t)f->max_pixels);
    uint8_t *sample = tmp + mem_round_up(transform_tmp_bytes(S));
    int W = 0, H = 0;
    Status st = image_decode(map, len, path, rgb, f->max_pixels, &W, &H, err);
    munmap(map, len);
    if (st) return st;
    const CropBox box = l->preset.resized_crop ? transform_random_box(&l->preset, W, H, l->seed, epoch, idx)
                                               : transform_center_box(&l->preset, W, H, S);
    transform_resample(rgb, W, H, box, S, tmp, sample);
    const AugDraw d = l->preset.flip ? augment_draw(&l->preset, l->seed, epoch, idx) : (AugDraw){0, 0, 0};
    augment_sample(&l->preset, &l->norm, sample, 3, S, S, d, dst);
    return LOCUS_OK;
}

typedef struct DecodeJob {
    Loader *l;
    int slot, start, first, count, epoch, thread;
} DecodeJob;

static void *decode_range(void *arg) {
    DecodeJob *j = arg;
    Loader *l = j->l;
    const size_t chw = sample_floats(l->ds);
    uint8_t *scratch = l->decode + (size_t)j->thread * l->decode_stride;
    for (int i = j->first; i < j->first + j->count; i++) {
        const int idx = l->order[j->start + i];
        float *dst = l->x[j->slot] + (size_t)i * chw;
        ErrorMsg e;
        Status st = decode_sample(l, scratch, idx, j->epoch, dst, &e);
        if (st) {
            memset(dst, 0, chw * sizeof *dst);
            set_error(l, st, &e);
        }
    }
    return NULL;
}

/* Decodes samples [start, start + n) of the order into slot s on decode_threads threads. */
static void fill_files(Loader *l, int s, int start, int n, int epoch) {
    enum { MAX_THREADS = 64 };
    DecodeJob jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    const int T = l->decode_threads < n ? l->decode_threads : n;
    for (int t = 0; t < T; t++) {
        const int first = (int)((int64_t)n * t / T), last = (int)((int64_t)n * (t + 1) / T);
        jobs[t] = (DecodeJob){l, s, start, first, last - first, epoch, t};
        if (t > 0) started[t] = pthread_create(&tid[t], NULL, decode_range, &jobs[t]) == 0;
    }
    decode_range(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else decode_range(&jobs[t]); /* no thread to spare: do it here */
    }
}

/* Runs on the worker without the lock: reads order, dataset and preset, writes only slot s. */
static void fill_slot(Loader *l, int s, int b, int epoch) {
    const Dataset *ds = l->ds;
    const size_t chw = sample_floats(ds);
    const int start = b * l->batch;
    const int n = ds->n - start < l->batch ? ds->n - start : l->batch;
    const int augment = l->preset.pad > 0 || l->preset.flip;
    if (dataset_is_files(ds)) {
        fill_files(l, s, start, n, epoch);
        for (int i = 0; i < n; i++) l->y[s][i] = (float)dataset_label(ds, l->order[start + i]);
        l->count[s] = n;
        return;
    }
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
        if (b < l->nbatches && !l->status && l->slot_state[s] == SLOT_FREE) {
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
    mem_free(l->mt, MEM_TAG_DATA, l->decode, (size_t)l->decode_threads * l->decode_stride);
}

size_t loader_bytes(const Dataset *ds, int batch) {
    size_t bytes = (size_t)ds->n * sizeof(int32_t) + 2 * ((size_t)batch * sample_floats(ds) * sizeof(float) +
                                                          (size_t)batch * sizeof(float));
    if (dataset_is_files(ds)) bytes += (size_t)ds->files.decode_threads * decode_stride(ds);
    return bytes;
}

Status loader_status(Loader *l, ErrorMsg *err) {
    if (!l->worker_started) return LOCUS_OK;
    pthread_mutex_lock(&l->mu);
    Status st = l->status;
    if (st && err) *err = l->err;
    pthread_mutex_unlock(&l->mu);
    return st;
}

Status loader_init(Loader *l, const Dataset *ds, int batch, int shuffle, const DataPreset *p, uint64_t seed,
                   MemTracker *mt, ErrorMsg *err) {
    memset(l, 0, sizeof *l);
    if (!ds || ds->n < 1 || (!dataset_is_files(ds) && (!ds->images || !ds->labels)))
        return status_fail(err, LOCUS_ERR_ARG, "loader: the dataset is empty\nhint: load a dataset first");
    if (batch < 1)
        return status_fail(err, LOCUS_ERR_ARG, "loader: batch size %d, expected >= 1\nhint: pass a positive "
                           "batch size", batch);
    if (ds->c < 1 || ds->c > 3)
        return status_fail(err, LOCUS_ERR_ARG, "loader: %s has %d channels, the loader normalises 1 to 3\n"
                           "hint: this dataset needs its own preset", ds->name, ds->c);
    DataPreset none = {0, 0, 0, {0, 0, 0}, {1, 1, 1}, 0, 0, 0, 0, 0, 0};
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
    if (ok && dataset_is_files(ds)) {
        const int T = ds->files.decode_threads;
        if (T < 1 || T > 64) {
            release_buffers(l);
            memset(l, 0, sizeof *l);
            return status_fail(err, LOCUS_ERR_ARG, "loader: %d decode threads, expected 1..64\nhint: pass "
                               "--decode-threads N", T);
        }
        l->decode_stride = decode_stride(ds);
        l->decode = mem_alloc(mt, MEM_TAG_DATA, (size_t)T * l->decode_stride);
        l->decode_threads = l->decode ? T : 0;
        ok = l->decode != NULL;
    }
    if (!ok) {
        release_buffers(l);
        memset(l, 0, sizeof *l);
        return status_fail(err, LOCUS_ERR_OOM, "loader: cannot allocate 2 batch buffers of %zu bytes%s\nhint: use a "
                           "smaller batch size%s", xb, dataset_is_files(ds) ? " and the decode scratch" : "",
                           dataset_is_files(ds) ? ", fewer --decode-threads or a smaller --image-max-pixels" : "");
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
    l->status = LOCUS_OK;
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
    if (l->next_take >= l->nbatches || l->status) {
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
    if (l->status) { /* the batch holds a sample that failed: end the epoch here */
        l->slot_state[s] = SLOT_FREE;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        *x = *labels = NULL;
        *n = 0;
        return 0;
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
