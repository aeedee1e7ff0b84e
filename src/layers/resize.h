/* resize.h — bilinear resizing of NCHW feature maps to a fixed size, align_corners=True semantics
 * (torch.nn.functional.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=True)):
 * output pixel i samples the input at i * (H - 1) / (out_h - 1) (0 when out_h == 1), so the corner pixels
 * of input and output coincide. Used by decoders (InfoPro) and feature-pyramid heads. No parameters. */
#ifndef LOCUS_LAYERS_RESIZE_H
#define LOCUS_LAYERS_RESIZE_H

#include "locus/layer.h"

typedef struct ResizeBilinear {
    Layer base;
    int out_h, out_w;
} ResizeBilinear;

/* N x C x H x W -> N x C x out_h x out_w (validated in out_shape: out_h, out_w >= 1). */
void resize_bilinear_init(ResizeBilinear *l, const char *name, int out_h, int out_w);

#endif
