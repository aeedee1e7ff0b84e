/* registry.c — the list of every layer type locus ships. The gradient-check suite fails if a type
 * listed here has no gradient-check case (DESIGN.md §6.1): add a layer here and a case there.
 * Not listed: the inference-only fusions conv2d_bn, conv2d_bn_relu, conv2d_bn_add_relu (conv_bn.h), which have
 * no backward; test_conv_bn checks them against the layers they fuse. */
#include "layers/registry.h"

static const char *const layer_types[] = {
    "relu",
    "gelu", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "global_avgpool", "resize_bilinear", "resize_conv2d", "dropout",
    "softmax_ce", "sigmoid_bce", "supcon", "crop2d",
    "conv2d", "batchnorm2d", "batchnorm2d_relu", "batchnorm2d_add_relu", "batchnorm1d", "linear", "add", "add_relu", "concat",
    "layernorm", "attention", "attention_cls", "patch_embed", "token_select",
    "flatten", "scaled_pair",
};

const char *const *layer_registry(int *count) {
    *count = (int)(sizeof layer_types / sizeof layer_types[0]);
    return layer_types;
}
