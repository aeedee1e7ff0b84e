/* data.h — datasets in memory, the file parsers behind them, augmentation and the batch loader.
 *
 * Layers of this module (each its own file in src/data/):
 *   idx.c      IDX files (Fashion-MNIST, MNIST), gzip or raw           spec data-formats.md §2
 *   cifar.c    CIFAR-10 binary batches, CIFAR-100 binary (coarse/fine)  spec data-formats.md §3
 *   matv5.c    MAT-file v5 numeric variables (zlib-compressed or not)  spec data-formats.md §4.2
 *   svhn.c     SVHN cropped digits (X, y of a MAT v5 file)              spec data-formats.md §4
 *   stl10.c    STL-10 binary (column-major planes, labels 1..10)        spec data-formats.md §5
 *   imagefolder.c  DIR/{train,val}/CLASS/FILE lists (decoded by the loader)   spec data-formats.md §6
 *   image_decode.c JPEG (TurboJPEG) and PNG/BMP/PNM/... (stb_image), chosen by magic bytes
 *   transform.c    random-resized-crop / resize + centre crop with an antialiased bilinear resample
 *   dataset.c  dataset_load(): names -> files, cross-file checks, hints; dataset_plan() (memplan)
 *   augment.c  per-sample pad + random crop + horizontal flip + normalise, and the per-dataset presets
 *              (spec local-learning.md §0.2)
 *   loader.c   shuffled batches, converted to float by one background prefetch thread (double buffer)
 *
 * Invariants:
 *  - Images are uint8 CHW (channel order R,G,B), labels uint8 in [0, classes); a Dataset owns both and
 *    charges them to MEM_TAG_DATA of its tracker. Batches are float NCHW. An image-folder dataset holds
 *    no pixels: it holds its file list (ImageFiles, also DATA) and the loader decodes each sample.
 *  - Every parser checks sizes against the file before allocating: a corrupt header is a
 *    LOCUS_ERR_FORMAT with the file name, what was expected, what was found and a hint, never a huge
 *    malloc or a crash (tests/fuzz_idx.c, tools/fuzz-data.sh; every parser: tests/parser_checks.c, replayed
 *    by tests/test_parsers_replay.c and fuzzed by tools/fuzz-parsers.sh).
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

/* The file list of an image-folder dataset (one split): everything in DATA, sized by the scan. */
typedef struct ImageFiles {
    char *root;            /* the split's folder, e.g. DIR/train (root_bytes with the NUL) */
    char *names;           /* "CLASS/FILE\0" per image, classes in strcmp order, files sorted */
    uint32_t *name_at;     /* n offsets into names */
    uint16_t *labels;      /* n class indices */
    char *class_names;     /* classes names, "NAME\0" each, in class order */
    size_t root_bytes, names_bytes, class_names_bytes;
    int size;              /* output side S of every sample (S x S, 3 channels) */
    int decode_threads;    /* threads that decode one batch */
    int64_t max_pixels;    /* decoded pixels per image at most (JPEGs beyond are DCT-scaled down) */
} ImageFiles;

typedef struct Dataset {
    char name[32];     /* "fashion-mnist", "mnist", "cifar10", ..., or the caller's name (dataset_alloc) */
    int n, c, h, w, classes;
    uint8_t *images;   /* n * c*h*w bytes, CHW per image (MEM_TAG_DATA); NULL for an image folder */
    uint8_t *labels;   /* n bytes in [0, classes) (MEM_TAG_DATA); NULL for an image folder */
    ImageFiles files;  /* an image folder's file list (files.names != NULL), else zeroed */
    size_t planned;    /* dataset_plan: DATA bytes accounted (mem_track_use) without being allocated */
    MemTracker *mt;    /* the tracker the bytes are charged to (may be NULL) */
} Dataset;

static inline int dataset_is_files(const Dataset *ds) { return ds->files.names != NULL; }
static inline int dataset_label(const Dataset *ds, int i) {
    return dataset_is_files(ds) ? ds->files.labels[i] : ds->labels[i];
}

/* What dataset_load needs beyond a name and folder (data_options_defaults gives the defaults). */
typedef struct DataOptions {
    int cifar100_coarse;     /* cifar100: 1 = the 20 coarse (superclass) labels, 0 = the 100 fine labels */
    int image_size;          /* imagefolder: output side S (default 224) */
    int decode_threads;      /* imagefolder: decoding threads per loader (default 2) */
    int64_t image_max_pixels; /* imagefolder: decoded pixels per image at most (0 = max(2^20, 64 S^2)) */
} DataOptions;
void data_options_defaults(DataOptions *o);

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
/* The same with options. Further names:
 *   "cifar100":    dir holds cifar-100-binary/{train,test}.bin (or is that folder); opt->cifar100_coarse
 *                  picks the labels;
 *   "svhn":        dir holds train_32x32.mat / test_32x32.mat (or dir/svhn/...); labels 10 -> digit 0;
 *   "stl10":       dir holds stl10_binary/{train,test}_{X,y}.bin (or is that folder); 96 x 96 images;
 *   "imagefolder": dir holds train/CLASS/FILE and val/CLASS/FILE (JPEG, PNG, BMP, PNM, ...); classes come from
 *                  train's sorted folder names; samples are decoded by the loader at opt->image_size. */
Status dataset_load_opts(Dataset *ds, const char *name, const char *dir, int train, int limit,
                         const DataOptions *opt, MemTracker *mt, ErrorMsg *err);
/* For memplan: the dataset's geometry and exactly the DATA bytes dataset_load_opts would charge, read
 * from the files' headers and sizes without loading the pixels (an image folder is scanned, as that is
 * its whole content). The bytes are accounted with mem_track_use; dataset_free gives them back. */
Status dataset_plan(Dataset *ds, const char *name, const char *dir, int train, int limit, const DataOptions *opt,
                    MemTracker *mt, ErrorMsg *err);
/* The dataset a folder holds, judged by file names where dataset_load looks ("cifar10", "cifar100", "svhn",
 * "stl10", "fashion-mnist" for IDX files, "imagefolder"), or NULL. */
const char *dataset_detect(const char *dir);
/* DATA bytes a dataset holds (images + labels, or the file list). */
size_t dataset_bytes(const Dataset *ds);
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

#define CIFAR100_RECORD_BYTES 3074 /* coarse label, fine label, 3 x 32 x 32 pixel bytes */
#define CIFAR100_MAX_RECORDS 50000   /* train.bin */

/* Records in a CIFAR-100 binary file (size a positive multiple of 3074, at most 50000 records). */
Status cifar100_count(const char *path, int *records, ErrorMsg *err);
/* The first `records` records: images as cifar_read; labels the coarse (0..19) or fine (0..99) label,
 * both checked against their range. */
Status cifar100_read(const char *path, int records, int coarse, uint8_t *images, uint8_t *labels, ErrorMsg *err);

#define STL10_SIDE 96
#define STL10_IMAGE_BYTES (3 * 96 * 96)
#define STL10_MAX_IMAGES 1000000
/* Images in an STL-10 *_X.bin file (size a positive multiple of 27648). */
Status stl10_count(const char *path, int *images, ErrorMsg *err);
/* The first n images of x_path (column-major planes, turned into row-major CHW) and, when y_path is not
 * NULL, their labels (y_path's size must equal `total`, the image count of x_path; values 1..10 become 0..9). */
Status stl10_read(const char *x_path, const char *y_path, int total, int n, uint8_t *images, uint8_t *labels,
                  ErrorMsg *err);

/* A MAT v5 file's variable list (mat_open) and a streaming reader of one variable's values. */
#define MAT_MAX_DIMS 8
#define MAT_MAX_VARS 64
typedef struct MatVar {
    char name[64];
    int mclass;          /* array class: 1 cell .. 6 double, 7 single, 8 int8, 9 uint8, ... 15 uint64 */
    int stored;          /* MAT data type of the real part as stored (may be smaller than the class) */
    int is_complex, logical, compressed;
    int ndims;
    uint32_t dims[MAT_MAX_DIMS];
    uint64_t numel;
    uint64_t offset;     /* file offset of the top-level element's tag */
    uint64_t nbytes;     /* its payload bytes on disk */
    uint64_t inner_bytes; /* the miMATRIX payload bytes (after inflating) */
    int small;           /* the real part is a small element (<= 4 bytes, inline) */
    uint8_t small_bytes[4];
} MatVar;
typedef struct MatFile {
    char path[1024];
    uint64_t size;
    int swap;            /* big-endian file ("MI") */
    int nvars;
    MatVar vars[MAT_MAX_VARS];
} MatFile;
typedef struct MatStream MatStream;
/* Checks the header and lists the variables (a compressed one is inflated only as far as its header). */
Status mat_open(MatFile *m, const char *path, ErrorMsg *err);
void mat_close(MatFile *m);
const MatVar *mat_find(const MatFile *m, const char *name);
const char *mat_class_name(int mclass);
/* Values of v in column-major order, each converted from its stored type. */
Status mat_stream_open(const MatFile *m, const MatVar *v, MatStream **s, ErrorMsg *err);
/* The next n values, each required to be an integer in 0..255. */
Status mat_stream_read_u8(MatStream *s, uint8_t *dst, size_t n, ErrorMsg *err);
void mat_stream_close(MatStream *s);

/* SVHN: the number of images of a *_32x32.mat file (X: 32 x 32 x 3 x N, y: N values), from its headers. */
Status svhn_count(const char *path, int *images, ErrorMsg *err);
/* The first n images (CHW) and labels (10 -> 0, 1..9 as they are) of a *_32x32.mat file. */
Status svhn_read(const char *path, int n, uint8_t *images, uint8_t *labels, ErrorMsg *err);

/* ---- image files ------------------------------------------------------------------------------ */

/* The format of an encoded image by its magic bytes: "jpeg", "png", "bmp", "pnm", "gif", "tiff",
 * "webp", or NULL. */
const char *image_format(const uint8_t *data, size_t len);
/* Decodes an encoded image (JPEG: TurboJPEG; PNG, BMP, PNM, GIF: stb_image) into rgb as H x W x 3 (R,G,B).
 * rgb holds 4 * cap_pixels bytes (CMYK JPEGs decode through 4 channels). A JPEG with more than
 * cap_pixels pixels or a side over IMAGE_MAX_SIDE is decoded at the largest DCT scale (7/8 .. 1/8) that
 * fits; any other format that large is an error. name is used in messages. */
#define IMAGE_MAX_SIDE 8192
Status image_decode(const uint8_t *data, size_t len, const char *name, uint8_t *rgb, int64_t cap_pixels, int *w,
                    int *h, ErrorMsg *err);

/* ---- augmentation ----------------------------------------------------------------------------- */

/* What is done to a sample: pad by `pad` (zeros, or reflection when reflect != 0: PyTorch's 'reflect',
 * edge not repeated), a random crop back to h x w, a random horizontal flip when flip != 0, then
 * x = (v / 255 - mean[c]) / std[c]. pad = 0 and flip = 0: normalisation only (test splits). */
typedef struct DataPreset {
    int pad;
    int reflect;
    int flip;
    float mean[3], std[3];
    /* image folders only (decoded samples): resized_crop = 1 draws torchvision's RandomResizedCrop box
     * (area fraction in [scale_min, scale_max], aspect ratio log-uniform in [ratio_min, ratio_max]);
     * resized_crop = 0 resizes the shorter side to floor(S / crop_fraction) and takes the centre S x S. */
    int resized_crop;
    float scale_min, scale_max, ratio_min, ratio_max;
    float crop_fraction;
} DataPreset;

/* The paper settings (local-learning.md §0.2, §7 item 12): cifar10 and cifar100 train = reflect-pad 4 + crop + flip;
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

/* ---- decoded-image transforms (image folders; transform.c) -------------------------------------- */

/* A region of a source image in pixels (fractional: Resize + CenterCrop maps to one). */
typedef struct CropBox {
    double x, y, w, h;
} CropBox;
/* torchvision's RandomResizedCrop.get_params for a W x H image (10 tries, then the centre fallback),
 * drawn from rng_hash(seed ^ salt, epoch, index): a pure function of its arguments. */
CropBox transform_random_box(const DataPreset *p, int W, int H, uint64_t seed, int epoch, int index);
/* Resize(shorter side -> floor(S / crop_fraction)) then CenterCrop(S), as torchvision computes the sizes,
 * expressed as the source region the output covers. */
CropBox transform_center_box(const DataPreset *p, int W, int H, int S);
/* Bytes of scratch transform_resample needs for output side S (any source up to IMAGE_MAX_SIDE). */
size_t transform_tmp_bytes(int S);
/* Resamples `box` of rgb (H x W x 3) to S x S with PIL's antialiased bilinear filter (support scaled by
 * the reduction), separably, horizontal pass first; out is 3 x S x S (CHW). */
void transform_resample(const uint8_t *rgb, int W, int H, CropBox box, int S, uint8_t *tmp, uint8_t *out);

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
    /* image folders: decode_threads scratch areas of decode_stride bytes (DATA), and the first error */
    uint8_t *decode;
    size_t decode_stride;
    int decode_threads;
    Status status;           /* guarded by mu */
    ErrorMsg err;
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
 * (or no epoch was started, or a sample could not be decoded: see loader_status). The last batch of an
 * epoch may be partial (drop_last = false). */
int loader_next(Loader *l, const float **x, const float **labels, int *n);
int loader_batches_per_epoch(const Loader *l);
/* LOCUS_OK, or the first failure of the worker (an image that cannot be read or decoded), with its message. */
Status loader_status(Loader *l, ErrorMsg *err);
/* DATA bytes loader_init allocates for this dataset and batch (memplan). */
size_t loader_bytes(const Dataset *ds, int batch);
/* Stops the worker (also mid-epoch) and frees the buffers. Safe on a zeroed or freed Loader. */
void loader_free(Loader *l);

#endif
