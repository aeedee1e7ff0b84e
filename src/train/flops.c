/* flops.c — a predicted FLOP count of a training step, layer call by layer call, for balancing pipeline
 * stages (src/dist) and for comparing methods (summary.json's train_flops_per_image). It is a model, not a
 * measurement: convolutions (resize_conv2d: its convolution) and linear layers count 2 * MACs forward and
 * twice that for each backward replay (input and weight gradients); every other layer counts one
 * operation per element of its larger side, forward and per backward. Backward replays are counted as
 * they happen, so a block whose tape is replayed twice (HiLo: independent and cascade losses) or that is
 * evaluated twice (HiLo's recompute) costs what it really runs. Good enough to compare blocks and methods. */
#include <string.h>

#include "layers/conv.h"
#include "layers/resize_conv.h"
#include "layers/linear.h"
#include "train/session_internal.h"

void flops_observe(void *ctx, const Layer *l, Tensor *const *in, int n_in, const Shape *out, int backward) {
    double *sum = ctx, n_out = (double)shape_numel(out);
    const char *type = l->ops->type;
    const double pass = backward ? 2.0 : 1.0; /* a product's backward: input and weight gradients */
    if (!strcmp(type, "conv2d") || !strcmp(type, "resize_conv2d")) {
        const Conv2d *c = !strcmp(type, "conv2d") ? (const Conv2d *)l : &((const ResizeConv2d *)l)->conv;
        *sum += pass * 2.0 * n_out * c->cin * c->k * c->k;
    } else if (!strcmp(type, "linear")) {
        const Linear *lin = (const Linear *)l;
        *sum += pass * 2.0 * n_out * lin->in;
    } else if (n_in > 0) {
        *sum += n_out > (double)shape_numel(&in[0]->shape) ? n_out : (double)shape_numel(&in[0]->shape);
    }
}
