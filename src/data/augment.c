/* augment.c — per-sample augmentation and normalisation, and the per-dataset presets.
 *
 * Follows torchvision's RandomCrop(size, padding=p[, padding_mode='reflect']) + RandomHorizontalFlip +
 * ToTensor + Normalize, the pipeline of the local-learning papers (spec local-learning.md §0.2):
 *   padded(Y, X) = src(Y - p, X - p), zero outside the image (or reflected: index -1 -> 1, h -> h-2);
 *   crop(y, x)   = padded(y + dy, x + dx), dy, dx uniform in [0, 2p];
 *   out(y, x)    = crop(y, flip ? w-1-x : x);
 *   value        = (v / 255 - mean[c]) / std[c] in float32, as torchvision computes it, through a 256-entry
 *                  table per channel (padded zeros become -mean/std, as in torchvision).
 * The draw for a sample is a pure function of (seed, epoch, dataset index) through rng_hash, so the
 * result does not depend on batch composition, prefetching or threads. */
#include <string.h>

#include "locus/data.h"
#include "locus/rng.h"

/* Keeps the augmentation stream apart from the shuffle stream, which uses rng_hash(seed, epoch, 0). */
#define AUG_SALT 0x6175676d656e7431ULL

static void preset_set(DataPreset *p, int pad, int reflect, int flip, const float mean[3], const float std[3]) {
    p->pad = pad, p->reflect = reflect, p->flip = flip;
    for (int i = 0; i < 3; i++) p->mean[i] = mean[i], p->std[i] = std[i];
}

Status data_preset(const char *dataset, int train, DataPreset *out, ErrorMsg *err) {
    memset(out, 0, sizeof *out);
    if (!dataset) dataset = "";
    if (!strcmp(dataset, "cifar10")) {
        const float mean[3] = {(float)(125.3 / 255), (float)(123.0 / 255), (float)(113.9 / 255)};
        const float std[3] = {(float)(63.0 / 255), (float)(62.1 / 255), (float)(66.7 / 255)};
        preset_set(out, train ? 4 : 0, train, train, mean, std);
    } else if (!strcmp(dataset, "cifar100")) { /* the usual CIFAR-100 statistics (train split, per channel) */
        const float mean[3] = {0.5071f, 0.4865f, 0.4409f}, std[3] = {0.2673f, 0.2564f, 0.2762f};
        preset_set(out, train ? 4 : 0, train, train, mean, std);
    } else if (!strcmp(dataset, "imagefolder")) { /* torchvision's ImageNet recipe */
        const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        preset_set(out, 0, 0, train, mean, std);
        out->resized_crop = train;
        out->scale_min = 0.08f, out->scale_max = 1.0f;
        out->ratio_min = 3.0f / 4.0f, out->ratio_max = 4.0f / 3.0f;
        out->crop_fraction = 0.875f;
    } else if (!strcmp(dataset, "fashion-mnist")) {
        const float mean[3] = {0.2860f, 0.2860f, 0.2860f}, std[3] = {0.3530f, 0.3530f, 0.3530f};
        preset_set(out, train ? 2 : 0, 0, train, mean, std);
    } else if (!strcmp(dataset, "mnist")) { /* digits are not mirror-symmetric: no flip */
        const float mean[3] = {0.1307f, 0.1307f, 0.1307f}, std[3] = {0.3081f, 0.3081f, 0.3081f};
        preset_set(out, train ? 2 : 0, 0, 0, mean, std);
    } else if (!strcmp(dataset, "svhn")) {
        const float half[3] = {0.5f, 0.5f, 0.5f};
        preset_set(out, train ? 2 : 0, 0, 0, half, half);
    } else if (!strcmp(dataset, "stl10")) {
        const float half[3] = {0.5f, 0.5f, 0.5f};
        preset_set(out, train ? 4 : 0, 0, train, half, half);
    } else {
        return status_fail(err, LOCUS_ERR_ARG, "no data preset for dataset '%s'\nhint: known: cifar10, cifar100, "
                           "fashion-mnist, mnist, svhn, stl10, imagefolder", dataset);
    }
    return LOCUS_OK;
}

AugDraw augment_draw(const DataPreset *p, uint64_t seed, int epoch, int index) {
    Rng r;
    rng_seed(&r, rng_hash(seed ^ AUG_SALT, (uint64_t)(int64_t)epoch, (uint64_t)(int64_t)index));
    AugDraw d = {0, 0, 0};
    if (p->pad > 0) {
        d.dy = (int)rng_below(&r, (uint64_t)(2 * p->pad + 1));
        d.dx = (int)rng_below(&r, (uint64_t)(2 * p->pad + 1));
    }
    if (p->flip) d.flip = (int)(rng_u64(&r) >> 63);
    return d;
}

/* Source index of padded coordinate i - pad along an axis of length n; -1 = zero padding. */
static inline int src_index(int i, int n, int reflect) {
    if (i >= 0 && i < n) return i;
    if (!reflect) return -1;
    return i < 0 ? -i : 2 * (n - 1) - i; /* single reflection: loader_init checks pad < n */
}

void augment_norm_table(const DataPreset *p, NormTable *t) {
    for (int ch = 0; ch < 3; ch++)
        for (int b = 0; b < 256; b++) t->v[ch][b] = ((float)b / 255.0f - p->mean[ch]) / p->std[ch];
}

void augment_sample(const DataPreset *p, const NormTable *t, const uint8_t *src, int c, int h, int w, AugDraw d,
                    float *dst) {
    CHECK(c >= 1 && c <= 3, "augment_sample: %d channels (1..3)", c);
    const int pad = p->pad;
    for (int ch = 0; ch < c; ch++) {
        const float *lut = t->v[ch];
        const float zero = lut[0];
        const uint8_t *s = src + (size_t)ch * h * w;
        float *o = dst + (size_t)ch * h * w;
        for (int y = 0; y < h; y++) {
            const int sy = src_index(y + d.dy - pad, h, p->reflect);
            float *orow = o + (size_t)y * w;
            if (sy < 0) {
                for (int x = 0; x < w; x++) orow[x] = zero;
                continue;
            }
            const uint8_t *srow = s + (size_t)sy * w;
            if (pad == 0 && !d.flip) { /* the common test-time path */
                for (int x = 0; x < w; x++) orow[x] = lut[srow[x]];
                continue;
            }
            for (int x = 0; x < w; x++) {
                const int sx = src_index((d.flip ? w - 1 - x : x) + d.dx - pad, w, p->reflect);
                orow[x] = sx < 0 ? zero : lut[srow[sx]];
            }
        }
    }
}
