/* transform.c — the image-folder transforms of torchvision's ImageNet recipe, on decoded RGB pixels:
 *   train: RandomResizedCrop(S, scale = [scale_min, scale_max], ratio = [ratio_min, ratio_max]), then the
 *          loader's flip and normalisation (augment.c);
 *   eval:  Resize(floor(S / crop_fraction)) + CenterCrop(S), then normalisation.
 * Both end in one resample of a source box to S x S with PIL's antialiased bilinear filter (the triangle
 * kernel widened by the reduction factor, as Pillow's ImagingResample does; torchvision resizes PIL
 * images with it): horizontal pass into uint8 rows, then vertical pass, with Pillow's weights (computed in
 * double, normalised, then rounded to 22-bit fixed point) and its rounding, so the bytes match Pillow's
 * (tests/test_data_resample.c checks against Pillow 9.4).
 * Resize + CenterCrop is done as one resample of the source region the crop covers: the same weights
 * as resizing the whole image, for the pixels that survive the crop.
 *
 * The random box for sample `index` in `epoch` comes from rng_hash(seed ^ RRC_SALT, epoch, index), so a
 * sample's crop is independent of batch composition, threads and prefetching. Scratch memory is the
 * caller's (transform_tmp_bytes): rows of the source box x S x 3 plus the filter weights, bounded by
 * IMAGE_MAX_SIDE whatever the image. */
#include <math.h>
#include <string.h>

#include "locus/data.h"
#include "locus/rng.h"

#define RRC_SALT 0x7272632d626f7831ULL

/* torch.randint / uniform through one Rng stream. */
static double draw_uniform(Rng *r, double lo, double hi) { return lo + (hi - lo) * ((double)(rng_u64(r) >> 11) * 0x1p-53); }

CropBox transform_random_box(const DataPreset *p, int W, int H, uint64_t seed, int epoch, int index) {
    Rng r;
    rng_seed(&r, rng_hash(seed ^ RRC_SALT, (uint64_t)(int64_t)epoch, (uint64_t)(int64_t)index));
    const double area = (double)W * H, lr0 = log(p->ratio_min), lr1 = log(p->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        const double target = area * draw_uniform(&r, p->scale_min, p->scale_max);
        const double aspect = exp(draw_uniform(&r, lr0, lr1));
        const int w = (int)lround(sqrt(target * aspect)), h = (int)lround(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            const int i = (int)rng_below(&r, (uint64_t)(H - h + 1)), j = (int)rng_below(&r, (uint64_t)(W - w + 1));
            return (CropBox){j, i, w, h};
        }
    }
    const double in_ratio = (double)W / H; /* fallback: a centre crop of the clamped aspect ratio */
    int w = W, h = H;
    if (in_ratio < p->ratio_min) h = (int)lround(w / p->ratio_min);
    else if (in_ratio > p->ratio_max) w = (int)lround(h * p->ratio_max);
    if (h > H) h = H;
    if (w > W) w = W;
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    return (CropBox){(W - w) / 2, (H - h) / 2, w, h};
}

/* Python's round() of d / 2 (halves to even), as torchvision's center_crop computes its offset. */
static int half_round_even(int d) {
    if (d % 2 == 0) return d / 2;
    const int k = (d - 1) / 2; /* d / 2 = k + 0.5 */
    return k % 2 == 0 ? k : k + 1;
}

CropBox transform_center_box(const DataPreset *p, int W, int H, int S) {
    const double frac = p->crop_fraction > 0 ? p->crop_fraction : 1.0;
    const int R = (int)floor(S / frac + 1e-9);
    int nw, nh; /* torchvision Resize(R): the shorter side becomes R, the longer int(R * long / short) */
    if (W <= H) nw = R, nh = (int)((int64_t)R * H / W);
    else nh = R, nw = (int)((int64_t)R * W / H);
    const double sx = (double)W / nw, sy = (double)H / nh;
    const int top = half_round_even(nh - S), left = half_round_even(nw - S);
    return (CropBox){left * sx, top * sy, S * sx, S * sy};
}

#define PRECISION_BITS 22 /* Pillow's 8-bit resample precision: 32 - 8 - 2 */

static inline double tri(double x) { /* Pillow's bilinear_filter */
    x = fabs(x);
    return x < 1 ? 1 - x : 0;
}

/* Weights of the antialiased bilinear filter for `out` outputs over source [in0, in0 + len) of an axis of
 * `in_size` samples (Pillow's precompute_coeffs + normalize_coeffs_8bpc): output o reads first[o] ..
 * first[o] + count[o] - 1 with fixed-point weights w. */
static size_t coeffs(double in0, double len, int in_size, int out, int *first, int *count, int32_t *w) {
    const double scale = len / out, filterscale = scale > 1 ? scale : 1, support = filterscale, ss = 1.0 / filterscale;
    size_t at = 0;
    for (int o = 0; o < out; o++) {
        const double center = in0 + (o + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        if (hi <= lo) hi = lo + 1 <= in_size ? lo + 1 : in_size, lo = hi - 1;
        double sum = 0;
        int32_t *wo = w + at;
        for (int x = lo; x < hi; x++) sum += tri((x - center + 0.5) * ss);
        for (int x = lo; x < hi; x++) /* the same doubles again, normalised, then to fixed point */
            wo[x - lo] = (int32_t)(0.5 + (sum != 0 ? tri((x - center + 0.5) * ss) / sum : 0) * (1 << PRECISION_BITS));
        if (!(sum > 0)) wo[0] = 1 << PRECISION_BITS; /* a degenerate window: nearest sample */
        first[o] = lo, count[o] = hi - lo;
        at += (size_t)(hi - lo);
    }
    return at;
}

#define WEIGHTS_MAX(S) ((size_t)2 * IMAGE_MAX_SIDE + 4 * (size_t)(S) + 16)

size_t transform_tmp_bytes(int S) {
    return (size_t)IMAGE_MAX_SIDE * S * 3 + 2 * WEIGHTS_MAX(S) * sizeof(int32_t) + 4 * (size_t)S * sizeof(int) + 64;
}

/* Pillow's clip8: the sum started at 2^21 (rounding), shifted down by 22 bits, clamped to 0..255. */
static inline uint8_t to_u8(int64_t ss) {
    if (ss >= ((int64_t)1 << PRECISION_BITS << 8)) return 255;
    if (ss <= 0) return 0;
    return (uint8_t)(ss >> PRECISION_BITS);
}

void transform_resample(const uint8_t *rgb, int W, int H, CropBox box, int S, uint8_t *tmp, uint8_t *out) {
    CHECK(W >= 1 && H >= 1 && W <= IMAGE_MAX_SIDE && H <= IMAGE_MAX_SIDE && S >= 1, "resample %d x %d -> %d", W, H, S);
    int32_t *wx = (int32_t *)(tmp + (size_t)IMAGE_MAX_SIDE * S * 3);
    int32_t *wy = wx + WEIGHTS_MAX(S);
    int *fx = (int *)(wy + WEIGHTS_MAX(S)), *cx = fx + S, *fy = cx + S, *cy = fy + S;
    CHECK(coeffs(box.x, box.w, W, S, fx, cx, wx) <= WEIGHTS_MAX(S), "horizontal weights overflow");
    CHECK(coeffs(box.y, box.h, H, S, fy, cy, wy) <= WEIGHTS_MAX(S), "vertical weights overflow");
    const int y0 = fy[0], y1 = fy[S - 1] + cy[S - 1]; /* source rows the vertical pass reads */
    uint8_t *rows = tmp; /* (y1 - y0) x S x 3 */
    for (int y = y0; y < y1; y++) {
        const uint8_t *src = rgb + (size_t)y * W * 3;
        uint8_t *dst = rows + (size_t)(y - y0) * S * 3;
        const int32_t *k = wx;
        for (int o = 0; o < S; o++) {
            int64_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
            const uint8_t *s = src + (size_t)fx[o] * 3;
            for (int t = 0; t < cx[o]; t++) r += (int64_t)k[t] * s[3 * t], g += (int64_t)k[t] * s[3 * t + 1], b += (int64_t)k[t] * s[3 * t + 2];
            dst[3 * o] = to_u8(r), dst[3 * o + 1] = to_u8(g), dst[3 * o + 2] = to_u8(b);
            k += cx[o];
        }
    }
    const size_t plane = (size_t)S * S;
    const int32_t *k = wy;
    for (int o = 0; o < S; o++) {
        for (int x = 0; x < S; x++) {
            int64_t r = 1 << (PRECISION_BITS - 1), g = r, b = r;
            for (int t = 0; t < cy[o]; t++) {
                const uint8_t *s = rows + ((size_t)(fy[o] + t - y0) * S + x) * 3;
                r += (int64_t)k[t] * s[0], g += (int64_t)k[t] * s[1], b += (int64_t)k[t] * s[2];
            }
            const size_t at = (size_t)o * S + x;
            out[at] = to_u8(r), out[plane + at] = to_u8(g), out[2 * plane + at] = to_u8(b);
        }
        k += cy[o];
    }
}
