/* pool_window.c — shape rules shared by the spatial layers:
 *  - maxpool2d and avgpool2d (PyTorch floor mode, dilation 1): Ho = floor((H + 2 pad - k) / stride) + 1,
 *    with k >= 1, stride >= 1, 0 <= pad <= k / 2 (PyTorch's limit: every window overlaps the real input);
 *  - adaptive_avgpool2d and resize_bilinear: N x C x H x W -> N x C x out_h x out_w. */
#include <stdio.h>

#include "layers/pool.h"

Status pool_window_shape(const Layer *l, Tensor *const *in, int n_in, int k, int stride, int pad, Shape *out,
                         ErrorMsg *err) {
    const char *type = l->ops->type;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "%s takes 1 input, got %d", type, n_in);
    char buf[64];
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4)
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s expects an N x C x H x W input, found %s\nhint: pool image feature maps; "
                           "reshape token tensors first",
                           type, shape_format(s, buf, sizeof buf));
    if (k < 1 || stride < 1 || pad < 0 || pad > k / 2)
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s: kernel %d, stride %d, padding %d are not valid\nhint: kernel >= 1, stride >= 1, "
                           "0 <= padding <= kernel / 2 (as in PyTorch)",
                           type, k, stride, pad);
    int H = s->d[2], W = s->d[3];
    if (H + 2 * pad < k || W + 2 * pad < k)
        return status_fail(err, LOCUS_ERR_ARG,
                           "%s: input %s is smaller than the %d x %d window (padding %d)\nhint: expected H and W "
                           ">= %d",
                           type, shape_format(s, buf, sizeof buf), k, k, pad, k - 2 * pad);
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    *out = shape4(s->d[0], s->d[1], Ho, Wo);
    return LOCUS_OK;
}

Status spatial_resize_shape(const Layer *l, Tensor *const *in, int n_in, int out_h, int out_w, Shape *out,
                            ErrorMsg *err) {
    const char *type = l->ops->type;
    if (n_in != 1) return status_fail(err, LOCUS_ERR_ARG, "%s takes 1 input, got %d", type, n_in);
    char buf[64];
    const Shape *s = &in[0]->shape;
    if (s->ndim != 4)
        return status_fail(err, LOCUS_ERR_ARG, "%s expects an N x C x H x W input, found %s", type,
                           shape_format(s, buf, sizeof buf));
    if (out_h < 1 || out_w < 1)
        return status_fail(err, LOCUS_ERR_ARG, "%s: output size %d x %d\nhint: expected >= 1 x 1", type, out_h,
                           out_w);
    *out = shape4(s->d[0], s->d[1], out_h, out_w);
    return LOCUS_OK;
}
