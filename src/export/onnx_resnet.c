/* onnx_resnet.c — the CIFAR ResNets (src/models/resnet.c) as an ONNX inference graph.
 *
 * The graph mirrors resnet.c layer by layer, in evaluation mode: Conv (no bias; pads k/2; stride 2 in
 * the first block of stages 2 and 3, as resnet.c builds them) -> BatchNormalization (running
 * statistics, eps 1e-5 like PyTorch) -> Relu; each BasicBlock adds its projection shortcut
 * (Conv 1x1 + BatchNormalization) when the model has one; the head is GlobalAveragePool -> Flatten ->
 * Gemm(transB) with fc.weight [K, 64]. BatchNorm is kept as its own node (not folded into the conv),
 * so the initializers are exactly the state dict's tensors. */
#include <stdio.h>

#include "export/onnx_export.h"
#include "models/resnet.h"

#define BN_EPS 1e-5f

static const char *conv(OnnxGraph *g, const char *x, const char *prefix, int stride) {
    char name[128];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const char *w = onnx_param(g, name);
    int h = params_find(g->ps, name);
    int64_t k = h >= 0 ? g->ps->info[h].shape.d[2] : 1, p = k / 2;
    const int64_t strides[2] = {stride, stride}, pads[4] = {p, p, p, p}, kernel[2] = {k, k};
    const OnnxAttr attrs[3] = {{"kernel_shape", ONNX_ATTR_INTS, 0, 0, kernel, 2},
                               {"strides", ONNX_ATTR_INTS, 0, 0, strides, 2},
                               {"pads", ONNX_ATTR_INTS, 0, 0, pads, 4}};
    const char *in[2] = {x, w};
    return onnx_node(g, "Conv", prefix, NULL, in, 2, attrs, 3);
}

static const char *batchnorm(OnnxGraph *g, const char *x, const char *prefix) {
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    const char *in[5] = {x};
    for (int i = 0; i < 4; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
        in[1 + i] = onnx_param(g, name);
    }
    const OnnxAttr eps = {"epsilon", ONNX_ATTR_FLOAT, 0, BN_EPS, NULL, 0};
    return onnx_node(g, "BatchNormalization", prefix, NULL, in, 5, &eps, 1);
}

static const char *block(OnnxGraph *g, const char *x, int stage, int index) {
    char prefix[64], name[128];
    int stride = stage > 1 && index == 0 ? 2 : 1;
    snprintf(prefix, sizeof prefix, "layer%d.%d", stage, index);
    snprintf(name, sizeof name, "%s.conv1", prefix);
    const char *h = conv(g, x, name, stride);
    snprintf(name, sizeof name, "%s.bn1", prefix);
    h = onnx_node1(g, "Relu", prefix, batchnorm(g, h, name));
    snprintf(name, sizeof name, "%s.conv2", prefix);
    h = conv(g, h, name, 1);
    snprintf(name, sizeof name, "%s.bn2", prefix);
    h = batchnorm(g, h, name);
    const char *sc = x;
    snprintf(name, sizeof name, "%s.shortcut.0.weight", prefix);
    if (params_find(g->ps, name) >= 0) {
        snprintf(name, sizeof name, "%s.shortcut.0", prefix);
        sc = conv(g, x, name, stride);
        snprintf(name, sizeof name, "%s.shortcut.1", prefix);
        sc = batchnorm(g, sc, name);
    }
    return onnx_node1(g, "Relu", prefix, onnx_node2(g, "Add", prefix, h, sc));
}

Status onnx_build_resnet(OnnxGraph *g, const Model *m, ErrorMsg *err) {
    int n = resnet_blocks_per_stage(m->arch);
    if (!n) return status_fail(err, LOCUS_ERR_ARG, "%s is not a CIFAR ResNet", m->arch);
    const char *x = onnx_node1(g, "Relu", "stem", batchnorm(g, conv(g, ONNX_INPUT, "conv1", 1), "bn1"));
    for (int s = 1; s <= 3; s++)
        for (int i = 0; i < n; i++) x = block(g, x, s, i);
    x = onnx_node1(g, "GlobalAveragePool", "avgpool", x);
    const OnnxAttr axis = {"axis", ONNX_ATTR_INT, 1, 0, NULL, 0};
    x = onnx_node(g, "Flatten", "flatten", NULL, &x, 1, &axis, 1);
    const char *in[3] = {x, onnx_param(g, "fc.weight"), onnx_param(g, "fc.bias")};
    const OnnxAttr trans_b = {"transB", ONNX_ATTR_INT, 1, 0, NULL, 0};
    onnx_node(g, "Gemm", "fc", ONNX_OUTPUT, in, 3, &trans_b, 1);
    return LOCUS_OK;
}
