/* crop.h — a fixed window of a feature map: N x C x H x W -> N x C x h x w, rows [y0, y0+h), columns
 * [x0, x0+w). PFF (patch feature fusion) uses it to cut a block's output into quadrants. */
#ifndef LOCUS_LAYERS_CROP_H
#define LOCUS_LAYERS_CROP_H

#include "locus/layer.h"

typedef struct Crop2d {
    Layer base;
    int y0, x0, h, w;
} Crop2d;

void crop2d_init(Crop2d *l, const char *name, int y0, int x0, int h, int w);

#endif
