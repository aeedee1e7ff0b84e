/* pool.h — spatial pooling over NCHW tensors: max, average, adaptive average and global average.
 * No parameters. Semantics follow PyTorch (nn.MaxPool2d, nn.AvgPool2d with count_include_pad=True,
 * nn.AdaptiveAvgPool2d, and mean over H, W), floor mode, dilation 1.
 *   maxpool2d / avgpool2d:  N x C x H x W -> N x C x Ho x Wo, Ho = floor((H + 2 pad - k) / stride) + 1;
 *                           pad <= k / 2 (PyTorch's rule: no window lies entirely in the padding).
 *   adaptive_avgpool2d:     N x C x H x W -> N x C x out_h x out_w, bin i covers
 *                           [floor(i H / out_h), ceil((i + 1) H / out_h)) (bins may overlap).
 *   global_avgpool:         N x C x H x W -> N x C. */
#ifndef LOCUS_LAYERS_POOL_H
#define LOCUS_LAYERS_POOL_H

#include "locus/layer.h"

typedef struct MaxPool2d {
    Layer base;
    int k, stride, pad;
} MaxPool2d;

typedef struct AvgPool2d {
    Layer base;
    int k, stride, pad;
} AvgPool2d;

typedef struct AdaptiveAvgPool2d {
    Layer base;
    int out_h, out_w;
} AdaptiveAvgPool2d;

typedef struct GlobalAvgPool {
    Layer base;
} GlobalAvgPool;

/* Window k x k, step `stride`, implicit padding `pad` (-inf for max, zeros counted for avg). Values are
 * validated when the layer first sees an input (out_shape returns LOCUS_ERR_ARG). */
void maxpool2d_init(MaxPool2d *l, const char *name, int k, int stride, int pad);
void avgpool2d_init(AvgPool2d *l, const char *name, int k, int stride, int pad);
void adaptive_avgpool2d_init(AdaptiveAvgPool2d *l, const char *name, int out_h, int out_w);
void global_avgpool_init(GlobalAvgPool *l, const char *name);

/* Shared by maxpool and avgpool: validates a 4-D input and the window, sets *out to the pooled shape. */
Status pool_window_shape(const Layer *l, Tensor *const *in, int n_in, int k, int stride, int pad, Shape *out,
                         ErrorMsg *err);
/* N x C x H x W -> N x C x out_h x out_w (adaptive_avgpool2d, resize_bilinear); out_h, out_w >= 1. */
Status spatial_resize_shape(const Layer *l, Tensor *const *in, int n_in, int out_h, int out_w, Shape *out,
                            ErrorMsg *err);
/* The input rows [*lo, *hi) under output index o of a window of k with stride s and padding pad, clipped
 * to [0, n). */
static inline void pool_window_range(int o, int s, int pad, int k, int n, int *lo, int *hi) {
    int a = o * s - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

#endif
