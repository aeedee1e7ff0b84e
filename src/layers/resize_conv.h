/* resize_conv.h — bilinear resize (align_corners, resize.h) followed by a 2-D convolution (conv.h), as one
 * layer that never holds the resized map for the whole batch. InfoPro-style decoders upsample a small
 * feature map (e.g. 64 x 7 x 7) to the image size (64 x 28 x 28) before their first convolution; as two
 * layers the upsampled map and its gradient are each 16x the block output, the largest tensors of a
 * local step. Here the batch is processed a few samples at a time (the chunk: as many samples as fit
 * in chunk_bytes (512 KiB) of resized maps, rounded down to a multiple of the threads, at least as many as threads): forward resizes a chunk into scratch and convolves it; backward resizes the chunk again,
 * runs the convolution's backward into a chunk-sized input gradient in scratch, and resizes that gradient
 * back onto the small map. Same numbers as resize_bilinear + conv2d (the convolution sees the same
 * values, the weight gradient is accumulated chunk by chunk: float summation order differs); the cost
 * is one extra resize per step. Parameters: the convolution's ("<name>.weight", "<name>.bias"). */
#ifndef LOCUS_LAYERS_RESIZE_CONV_H
#define LOCUS_LAYERS_RESIZE_CONV_H

#include "layers/conv.h"
#include "layers/resize.h"

typedef struct ResizeConv2d {
    Layer base;
    ResizeBilinear resize;
    Conv2d conv;
    size_t chunk_bytes; /* resized bytes a chunk may hold (RESIZE_CONV_CHUNK_BYTES; tests lower it) */
} ResizeConv2d;

#define RESIZE_CONV_CHUNK_BYTES ((size_t)512 << 10)

/* N x cin x H x W -> resize to out_h x out_w -> conv (cin -> cout, k, stride, pad, bias); the parameters
 * are registered under `name` exactly as conv2d_init would. */
void resize_conv2d_init(ResizeConv2d *l, ParamStore *ps, const char *name, int out_h, int out_w, int cin, int cout,
                        int k, int stride, int pad, int bias);

#endif
