/* conv_planes_fill.h — the body of conv_planes_fill (see conv_planes.h), written once and compiled for each
 * instruction set: conv_planes.c (portable C, SSE2 on x86-64), conv_planes_avx2.c, conv_planes_avx512.c define
 * FN(name) (the name with the ISA suffix) and include it under their target pragma, so the compiler
 * vectorises the copies with that ISA's registers. A pure copy: every path writes the same bits. */

/* GCC would turn the short zeroing and copy loops below into memset / memcpy calls, one per row of 8 to 32
 * floats, and the call overhead made the fill 15% of a ResNet-32 step; inline loops instead. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void FN(conv_planes_fill)(const float *x, int C,
                                                                                         int H, int W, int k, int p,
                                                                                         float *planes) {
    const int hp = H + 2 * p, wo = W + 2 * p - k + 1;
    for (int kw = 0; kw < k; kw++)
        for (int c = 0; c < C; c++) {
            float *restrict pl = planes + ((size_t)kw * C + c) * hp * wo;
            const float *restrict xc = x + (size_t)c * H * W;
            for (size_t j = 0; j < (size_t)p * wo; j++) pl[j] = 0.0f;           /* top padding rows */
            for (size_t j = (size_t)(p + H) * wo; j < (size_t)hp * wo; j++) pl[j] = 0.0f; /* bottom */
            const int shift = kw - p; /* row o of the plane reads x's column o + shift */
            float *restrict body = pl + (size_t)p * wo;
            if (wo == W) {
                /* "same" width (k = 2p + 1): the whole channel moves as one block shifted by `shift`
                 * floats; what crosses a row end is exactly the edge column that must be zero */
                const size_t n = (size_t)H * W;
                if (shift >= 0) {
                    for (size_t j = 0; j + shift < n; j++) body[j] = xc[j + shift];
                    for (int i = 0; i < H; i++)
                        for (int o = W - shift; o < W; o++) body[(size_t)i * W + o] = 0.0f;
                } else {
                    for (size_t j = (size_t)-shift; j < n; j++) body[j] = xc[j + shift];
                    for (int i = 0; i < H; i++)
                        for (int o = 0; o < -shift; o++) body[(size_t)i * W + o] = 0.0f;
                }
                continue;
            }
            /* columns o with 0 <= o + shift < W hold input; the others are padding */
            int o0 = -shift > 0 ? -shift : 0, o1 = W - shift < wo ? W - shift : wo;
            if (o1 < o0) o1 = o0;
            for (int i = 0; i < H; i++) {
                float *restrict r = body + (size_t)i * wo;
                const float *restrict xr = xc + (size_t)i * W + shift;
                for (int o = 0; o < o0; o++) r[o] = 0.0f;
                for (int o = o0; o < o1; o++) r[o] = xr[o];
                for (int o = o1; o < wo; o++) r[o] = 0.0f;
            }
        }
}

