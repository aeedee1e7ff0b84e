/* test_data_resample.c — src/data/transform.c's antialiased bilinear resample against Pillow's
 * Image.resize(BILINEAR, box=...) (tests/fixtures/resample_pil.bin, tools/ref/make_resample_fixture.py):
 * downscaling (the widened triangle filter), upscaling, fractional boxes, the identity, and a 300 x 200
 * crop as Resize + CenterCrop produce. locus uses Pillow's weights and fixed-point rounding, so every byte
 * must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "locus/data.h"

#include "data_writers.h"
#include "expect.h"

typedef struct Case {
    int k, W, H;
    CropBox box;
    int S;
} Case;

static const Case CASES[] = {
    {0, 37, 23, {0.0, 0.0, 37.0, 23.0}, 16},
    {1, 40, 30, {5.0, 3.0, 20.0, 17.0}, 24},
    {2, 100, 80, {10.5, 7.25, 60.3, 50.1}, 16},
    {3, 64, 48, {0.0, 0.0, 64.0, 48.0}, 64},
    {4, 300, 200, {58.0, 16.0, 224.0, 170.0}, 32},
};

int main(void) {
    FILE *f = fopen("tests/fixtures/resample_pil.bin", "rb");
    if (!f) {
        EXPECT(0, "missing tests/fixtures/resample_pil.bin (tools/ref/make_resample_fixture.py)");
        return expect_report();
    }
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const Case *c = &CASES[i];
        const int S = c->S;
        uint8_t *ref = malloc((size_t)S * S * 3), *out = malloc((size_t)S * S * 3), *tmp = malloc(transform_tmp_bytes(S));
        uint8_t *rgb = malloc((size_t)c->W * c->H * 3);
        EXPECT(fread(ref, 1, (size_t)S * S * 3, f) == (size_t)S * S * 3, "case %zu: fixture too short", i);
        for (int y = 0; y < c->H; y++)
            for (int x = 0; x < c->W; x++)
                for (int ch = 0; ch < 3; ch++) rgb[((size_t)y * c->W + x) * 3 + ch] = dw_pix(c->k, ch, y, x);
        transform_resample(rgb, c->W, c->H, c->box, S, tmp, out);
        int worst = 0, off = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < S * S; p++) {
                int d = abs((int)out[ch * S * S + p] - (int)ref[p * 3 + ch]);
                if (d > worst) worst = d;
                off += d != 0;
            }
        printf("case %zu: %d x %d box %.2f %.2f %.2f %.2f -> %d: max diff %d, %d of %d values differ\n", i, c->W, c->H,
               c->box.x, c->box.y, c->box.w, c->box.h, S, worst, off, 3 * S * S);
        EXPECT(off == 0, "case %zu: %d of %d values differ from Pillow's (by up to %d levels)", i, off, 3 * S * S, worst);
        free(ref), free(out), free(tmp), free(rgb);
    }
    fclose(f);
    return expect_report();
}
