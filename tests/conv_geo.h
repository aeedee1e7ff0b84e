/* conv_geo.h — what the kernel tests (test_conv_kernels, test_conv_bn, test_dense_kernels) share: a convolution's
 * geometry and a random one of odd sizes, strides and paddings. */
#ifndef LOCUS_TEST_CONV_GEO_H
#define LOCUS_TEST_CONV_GEO_H

#include "locus/rng.h"

typedef struct Geo {
    int n, cin, cout, h, w, k, s, p, bias;
} Geo;

/* Uniform in [-1, 1). */
float frand(Rng *r);
/* A random geometry: 1-3 samples, 1-9 -> 1-19 channels, k in {1, 2, 3, 5}, stride 1-3, padding 0-2, maps of
 * 1-12 x 1-19 (raised to k where the padded map would be smaller than the kernel), bias or not. */
Geo conv_geo_random(Rng *rng);

#endif
