/* image_decode.c — one encoded image file's bytes to RGB pixels (spec data-formats.md §6, dependencies.md
 * §2.1): the decoder is chosen by magic bytes, never by extension. JPEG goes to TurboJPEG (2.x API),
 * PNG / BMP / binary PNM to stb_image (libstb's precompiled implementation).
 *
 * Memory: the pixels land in the caller's buffer (4 * cap_pixels bytes, DATA of the loader), after the
 * image's size was read from its header and checked against cap_pixels and IMAGE_MAX_SIDE. A JPEG that
 * is larger is decoded at the largest TurboJPEG scale (7/8 .. 1/8) that fits, which is cheaper than a
 * full decode followed by a downscale; any other format that large is an error. The decoders' own
 * working memory (libjpeg-turbo's row buffers, stb's copy of the image) is theirs, transient and
 * bounded by the same checks. CMYK/YCCK JPEGs (ILSVRC has a few) decode as CMYK and are turned into RGB
 * the way stb does for Adobe files (R = C * K / 255, ...). Grayscale images become R = G = B. */
#include <stdio.h>
#include <string.h>
#include <stb_image.h>
#include <turbojpeg.h>

#include "locus/data.h"

const char *image_format(const uint8_t *d, size_t n) {
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "bmp";
    if (n >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6' || d[1] == '2' || d[1] == '3')) return "pnm";
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return "gif";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return "tiff";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "webp";
    return NULL;
}

static Status too_big(ErrorMsg *err, const char *name, const char *fmt, int w, int h, int64_t cap) {
    return status_fail(err, LOCUS_ERR_FORMAT, "%s: %s image of %d x %d pixels, more than the limit of %lld pixels or "
                       "%d per side\nhint: raise --image-max-pixels, or shrink the image (only JPEGs are scaled "
                       "down while decoding)", name, fmt, w, h, (long long)cap, IMAGE_MAX_SIDE);
}

static Status decode_jpeg(const uint8_t *data, size_t len, const char *name, uint8_t *rgb, int64_t cap, int *w, int *h,
                          ErrorMsg *err) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return status_fail(err, LOCUS_ERR_OOM, "%s: TurboJPEG cannot start\nhint: out of memory?", name);
    int W = 0, H = 0, subsamp = 0, cs = 0;
    Status st = LOCUS_OK;
    if (len > 0xffffffffUL || tjDecompressHeader3(tj, data, (unsigned long)len, &W, &H, &subsamp, &cs) != 0) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: not a readable JPEG (TurboJPEG: %s)\nhint: the file is damaged; "
                         "check it with an image viewer or `djpeg`", name, tjGetErrorStr2(tj));
        goto done;
    }
    if (W < 1 || H < 1) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: JPEG of %d x %d pixels\nhint: the file is damaged", name, W, H);
        goto done;
    }
    int nsf = 0;
    tjscalingfactor *sf = tjGetScalingFactors(&nsf);
    int best = -1;
    for (int i = 0; sf && i < nsf; i++) { /* the largest scale <= 1 that fits */
        if (sf[i].num > sf[i].denom) continue;
        const int sw = TJSCALED(W, sf[i]), sh = TJSCALED(H, sf[i]);
        if ((int64_t)sw * sh > cap || sw > IMAGE_MAX_SIDE || sh > IMAGE_MAX_SIDE) continue;
        if (best < 0 || sf[i].num * sf[best].denom > sf[best].num * sf[i].denom) best = i;
    }
    if (best < 0) {
        st = too_big(err, name, "JPEG", W, H, cap);
        goto done;
    }
    const int sw = TJSCALED(W, sf[best]), sh = TJSCALED(H, sf[best]);
    const int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    if (tjDecompress2(tj, data, (unsigned long)len, rgb, sw, 0, sh, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_LIMITSCANS) != 0 &&
        tjGetErrorCode(tj) != TJERR_WARNING) {
        st = status_fail(err, LOCUS_ERR_FORMAT, "%s: cannot decode the JPEG (TurboJPEG: %s)\nhint: the file is damaged "
                         "or truncated; check it with an image viewer or `djpeg`", name, tjGetErrorStr2(tj));
        goto done;
    }
    if (cmyk) /* Adobe CMYK is stored inverted: R = C * K / 255 (stb_image's rule), in place, front to back */
        for (size_t i = 0, np = (size_t)sw * sh; i < np; i++) {
            const unsigned c = rgb[4 * i], m = rgb[4 * i + 1], y = rgb[4 * i + 2], k = rgb[4 * i + 3];
            rgb[3 * i] = (uint8_t)((c * k + 127) / 255);
            rgb[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
            rgb[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
        }
    *w = sw, *h = sh;
done:
    tjDestroy(tj);
    return st;
}

Status image_decode(const uint8_t *data, size_t len, const char *name, uint8_t *rgb, int64_t cap_pixels, int *w,
                    int *h, ErrorMsg *err) {
    *w = *h = 0;
    const char *fmt = image_format(data, len);
    if (!fmt)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: not an image: the first bytes match no JPEG, PNG, BMP or PNM "
                           "signature\nhint: remove the file from the dataset folder or convert it", name);
    if (!strcmp(fmt, "jpeg")) return decode_jpeg(data, len, name, rgb, cap_pixels, w, h, err);
    if (!strcmp(fmt, "gif") || !strcmp(fmt, "tiff") || !strcmp(fmt, "webp") ||
        (!strcmp(fmt, "pnm") && (data[1] == '2' || data[1] == '3')))
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: a %s%s image, which locus does not decode (JPEG, PNG, BMP and "
                           "binary PNM only)\nhint: convert it, e.g. `convert FILE out.png`", name,
                           !strcmp(fmt, "pnm") ? "plain-text " : "", fmt);
    if (len > 0x7fffffff)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %zu bytes, too large for the %s decoder\nhint: shrink the image",
                           name, len, fmt);
    int W = 0, H = 0, comp = 0;
    if (!stbi_info_from_memory(data, (int)len, &W, &H, &comp) || W < 1 || H < 1)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: not a readable %s image (stb_image: %s)\nhint: the file is "
                           "damaged; check it with an image viewer", name, fmt, stbi_failure_reason());
    if ((int64_t)W * H > cap_pixels || W > IMAGE_MAX_SIDE || H > IMAGE_MAX_SIDE) return too_big(err, name, fmt, W, H, cap_pixels);
    int W2 = 0, H2 = 0;
    stbi_uc *px = stbi_load_from_memory(data, (int)len, &W2, &H2, &comp, 3);
    if (!px)
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: cannot decode the %s image (stb_image: %s)\nhint: the file is "
                           "damaged or truncated", name, fmt, stbi_failure_reason());
    if (W2 != W || H2 != H) {
        stbi_image_free(px);
        return status_fail(err, LOCUS_ERR_FORMAT, "%s: %s header says %d x %d, decoded %d x %d\nhint: the file is "
                           "damaged", name, fmt, W, H, W2, H2);
    }
    memcpy(rgb, px, (size_t)W * H * 3);
    stbi_image_free(px);
    *w = W, *h = H;
    return LOCUS_OK;
}
