/* data.h — datasets in memory, the file parsers behind them, augmentation and the batch loader.
 *
 * Layers of this module (each its own file in src/data/):
 *   idx.c      IDX files (Fashion-MNIST, MNIST), gzip or raw           spec data-formats.md §2
 *   cifar.c    CIFAR-10 binary batches                                  spec data-formats.md §3.1
 *   dataset.c  dataset_load(): names -> files, cross-file checks, hints
 *   augment.c  per-sample pad + random crop + horizontal flip + normalise, and the per-dataset presets
 *              (spec local-learning.md §0.2)
 *   loader.c   shuffled batches, converted to float by one background prefetch thread (double buffer)
 *
 * Invariants:
 *  - Images are uint8 CHW (channel order R,G,B), labels uint8 in [0, classes); a Dataset owns both and
 *    charges them to MEM_TAG_DATA of its tracker. Batches are float NCHW.
 *  - Every parser checks sizes against the file before allocating: a corrupt header is a
 *    LOCUS_ERR_FORMAT with the file name, what was expected, what was found and a hint, never a huge
 *    malloc or a crash (tests/fuzz_idx.c, tools/fuzz-data.sh).
 *  - A batch is a pure function of (dataset, seed, epoch, batch index, preset): the shuffle comes from
 *    rng_hash(seed, epoch, 0), sample i's augmentation from rng_hash(seed ^ AUG_SALT, epoch, i).
 *    Prefetching, batch size and thread count never change what a sample looks like. */
#ifndef LOCUS_DATA_H
#define LOCUS_DATA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "locus/mem.h"
#include "locus/status.h"

/* ---- datasets --------------------------------------------------------------------------------- */

typedef struct Dataset {
    char name[32];     /* "fashion-mnist", "mnist", "cifar10", or the caller's name (dataset_alloc) */
    int n, c, h, w, classes;
    uint8_t *images;   /* n * c*h*w bytes, CHW per image (MEM_TAG_DATA) */
    uint8_t *labels;   /* n bytes in [0, classes) (MEM_TAG_DATA) */
    MemTracker *mt;    /* the tracker the bytes are charged to (may be NULL) */
} Dataset;

/* Loads split `train` (1) or test (0) of a named dataset.
 *   "fashion-mnist": dir holds {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
 *                    NULL or "" means /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist).
 *   "mnist":         the same file names; dir is required.
 *   "cifar10":       dir is the folder holding cifar-10-batches-bin/, or that folder itself;
 *                    NULL or "" means "data".
 * limit > 0 keeps only the first `limit` images (the files are still validated in full for IDX).
 * Errors: LOCUS_ERR_IO (missing file, with an install/download hint), LOCUS_ERR_FORMAT (bad bytes),
 * LOCUS_ERR_ARG (unknown name), LOCUS_ERR_OOM. On error *ds is left empty (nothing to free). */
Status dataset_load(Dataset *ds, const char *name, const char *dir, int train, int limit, MemTracker *mt,
                    ErrorMsg *err);
/* An empty dataset of the given geometry with zeroed images and labels, charged to MEM_TAG_DATA
 * (for tests and for readers built elsewhere). */
Status dataset_alloc(Dataset *ds, const char *name, int n, int c, int h, int w, int classes, MemTracker *mt,
                     ErrorMsg *err);
void dataset_free(Dataset *ds);

/* ---- parsers (public for the fuzz driver and for tests) --------------------------------------- */

/* An IDX uint8 array: magic 00 00 08 <ndim>, ndim big-endian int32 dims, then the bytes. */
typedef struct IdxU8 {
    int ndim;        /* 1 (labels) or 3 (images) */
    int dims[3];     /* from the header; dims[0] = items in the file */
    int kept;        /* items stored in data: min(keep, dims[0]) */
    uint8_t *data;   /* kept * dims[1] * dims[2] bytes (dims[1..] = 1 when ndim = 1), MEM_TAG_DATA */
    size_t bytes;    /* size of data */
} IdxU8;

/* Reads an IDX uint8 file (gzip or raw) with exactly `ndim` dimensions. keep > 0 stores only the
 * first keep items; the whole file is still read and checked (exact size, no trailing bytes).
 * value_limit > 0: every data byte must be < value_limit (labels: the class count). */
Status idx_read_u8(const char *path, int ndim, int keep, int value_limit, IdxU8 *out, MemTracker *mt,
                   ErrorMsg *err);
void idx_free(IdxU8 *a, MemTracker *mt);

#define CIFAR_RECORD_BYTES 3073   /* 1 label byte + 3 x 32 x 32 pixel bytes */
#define CIFAR_IMAGE_BYTES 3072
#define CIFAR_MAX_RECORDS 10000   /* an official batch file holds exactly this many */

/* Number of records in a CIFAR-10 binary batch file; its size must be a positive multiple of 3073
 * holding at most CIFAR_MAX_RECORDS records. */
Status cifar_count(const char *path, int *records, ErrorMsg *err);
/* Reads the first `records` records: images gets records * 3072 bytes (CHW: 1024 R, 1024 G, 1024 B),
 * labels gets records bytes, each checked to be < 10. */
Status cifar_read(const char *path, int records, uint8_t *images, uint8_t *labels, ErrorMsg *err);

/* ---- augmentation ----------------------------------------------------------------------------- */

/* What is done to a sample: pad by `pad` (zeros, or reflection when reflect != 0: PyTorch's 'reflect',
 * edge not repeated), a random crop back to h x w, a random horizontal flip when flip != 0, then
 * x = (v / 255 - mean[c]) / std[c]. pad = 0 and flip = 0: normalisation only (test splits). */
typedef struct DataPreset {
    int pad;
    int reflect;
    int flip;
    float mean[3], std[3];
} DataPreset;

/* The paper settings (local-learning.md §0.2): cifar10 train = reflect-pad 4 + crop + flip;
 * fashion-mnist train = zero-pad 2 + crop + flip, mean 0.2860 std 0.3530; mnist train = zero-pad 2
 * + crop; svhn train = zero-pad 2 + crop, no flip; stl10 train = zero-pad 4 + crop + flip; test splits:
 * normalisation only. Unknown names: LOCUS_ERR_ARG. */
Status data_preset(const char *dataset, int train, DataPreset *out, ErrorMsg *err);

/* One sample's random choices: crop offset (dy, dx) in [0, 2*pad]^2 of the padded image, flip 0/1. */
typedef struct AugDraw {
    int dy, dx, flip;
} AugDraw;

/* The draw for dataset index `index` in `epoch`: a pure function of its arguments. */
AugDraw augment_draw(const DataPreset *p, uint64_t seed, int epoch, int index);
/* The normalised value of each byte per channel, computed as torchvision does in float32:
 * v[c][b] = ((float)b / 255 - mean[c]) / std[c]. */
typedef struct NormTable {
    float v[3][256];
} NormTable;
void augment_norm_table(const DataPreset *p, NormTable *t);
/* src: c x h x w uint8 (c <= 3); dst: c x h x w floats (t from augment_norm_table(p)).
 * out(y, x) = padded(y + dy, x' + dx) with x' = w-1-x when flipped, else x. */
void augment_sample(const DataPreset *p, const NormTable *t, const uint8_t *src, int c, int h, int w, AugDraw d,
                    float *dst);

/* ---- loader ----------------------------------------------------------------------------------- */

/* Batches of a Dataset in a per-epoch order. One worker thread fills the next batch while the caller
 * uses the current one (two slots). The pointers loader_next returns stay valid until the next
 * loader_next / loader_start_epoch / loader_free. Fields are private to loader.c; the worker holds the
 * Loader's address, so a Loader must not be copied or moved between loader_init and loader_free. */
typedef struct Loader {
    const Dataset *ds;
    DataPreset preset;
    NormTable norm;
    int batch, shuffle, nbatches;
    uint64_t seed;
    MemTracker *mt;
    int32_t *order;          /* ds->n dataset indices in this epoch's order */
    float *x[2], *y[2];      /* the two slots: batch*c*h*w and batch floats */
    int count[2];            /* samples in each slot */
    int slot_batch[2];       /* which batch a slot holds */
    int slot_state[2];       /* LOADER_SLOT_* (loader.c) */
    /* shared with the worker, guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    int worker_started, stop;
    int busy;                /* the worker is filling a slot (it reads order and writes that slot) */
    int epoch, next_fill, next_take;
    int held;                /* the slot the caller holds, -1 none */
    uint64_t stall_ns;       /* total time loader_next waited for the worker (diagnostics) */
} Loader;

/* batch >= 1; shuffle 0 keeps dataset order. p: the augmentation (NULL = no augmentation, mean 0,
 * std 1, i.e. x = v/255). All buffers are allocated here (MEM_TAG_DATA), none per batch.
 * Errors: LOCUS_ERR_ARG (bad batch/preset for this dataset), LOCUS_ERR_OOM, LOCUS_ERR_INTERNAL. */
Status loader_init(Loader *l, const Dataset *ds, int batch, int shuffle, const DataPreset *p, uint64_t seed,
                   MemTracker *mt, ErrorMsg *err);
/* Begins epoch `epoch` (any epoch, any time: an unfinished epoch is abandoned); the worker starts
 * filling batch 0 at once. */
void loader_start_epoch(Loader *l, int epoch);
/* 1: *x = n*c*h*w normalised floats (NCHW), *labels = n class indices as floats; 0: the epoch is done
 * (or no epoch was started). The last batch of an epoch may be partial (drop_last = false). */
int loader_next(Loader *l, const float **x, const float **labels, int *n);
int loader_batches_per_epoch(const Loader *l);
/* Stops the worker (also mid-epoch) and frees the buffers. Safe on a zeroed or freed Loader. */
void loader_free(Loader *l);

#endif
