/* flops.c — a predicted FLOP count of a training step, layer call by layer call, for balancing pipeline
 * stages (src/dist). It is a model, not a measurement: convolutions and linear layers count 2 * MACs
 * forward and twice that backward (input and weight gradients); every other layer counts one operation
 * per output element forward and one backward. Good enough to compare blocks of one network. */
#include <string.h>

#include "layers/conv.h"
#include "layers/linear.h"
#include "train/session_internal.h"

void flops_observe(void *ctx, const Layer *l, Tensor *const *in, int n_in, const Shape *out) {
    (void)n_in;
    double *sum = ctx, n_out = (double)shape_numel(out);
    const char *type = l->ops->type;
    if (!strcmp(type, "conv2d")) {
        const Conv2d *c = (const Conv2d *)l;
        *sum += 3.0 * 2.0 * n_out * c->cin * c->k * c->k;
    } else if (!strcmp(type, "linear")) {
        const Linear *lin = (const Linear *)l;
        *sum += 3.0 * 2.0 * n_out * lin->in;
    } else {
        *sum += 2.0 * (n_out > (double)shape_numel(&in[0]->shape) ? n_out : (double)shape_numel(&in[0]->shape));
    }
}
