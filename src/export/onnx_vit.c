/* onnx_vit.c — the ViT (src/models/vit.c, timm semantics) as an ONNX opset-17 inference graph.
 *
 *   patch embedding  Conv(p x p, stride p) -> Reshape [N, D, T-1] -> Transpose [N, T-1, D];
 *                    cls_token Expand-ed to [N, 1, D] (batch size read with Shape/Slice), Concat in
 *                    front, Add pos_embed
 *   block i          x += proj(attention(LayerNormalization(x))); x += fc2(GELU(fc1(LayerNormalization(x))))
 *                    attention: qkv = x W^T + b -> Reshape [N, T, 3, H, Dh] -> Transpose [3, N, H, T, Dh]
 *                    -> Gather q, k, v; Softmax(q k^T * Dh^-1/2) v -> Transpose/Reshape back to [N, T, D]
 *                    GELU exact: 0.5 x (1 + Erf(x / sqrt 2)) (opset 17 has no Gelu op)
 *   head             LayerNormalization -> Gather token 0 -> Gemm(transB) with head.weight
 * Linear layers are MatMul with a Transpose of the PyTorch-layout weight [out, in] (folded by any
 * runtime), so every initializer keeps the state dict's name, shape and bytes. LayerNorm eps 1e-6. */
#include <math.h>
#include <stdio.h>

#include "export/onnx_export.h"
#include "models/vit.h"

#define LN_EPS 1e-6f

static const char *param(OnnxGraph *g, const char *prefix, const char *leaf) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", prefix, leaf);
    return onnx_param(g, name);
}

static const char *transpose(OnnxGraph *g, const char *x, const int64_t *perm, int n) {
    const OnnxAttr a = {"perm", ONNX_ATTR_INTS, 0, 0, perm, n};
    return onnx_node(g, "Transpose", "transpose", NULL, &x, 1, &a, 1);
}

static const char *reshape(OnnxGraph *g, const char *x, const int64_t *shape, int n) {
    return onnx_node2(g, "Reshape", "reshape", x, onnx_const_i64(g, shape, n, 0));
}

/* x [..., in] -> x W^T + b with W [out, in] (PyTorch Linear). */
static const char *linear(OnnxGraph *g, const char *x, const char *prefix) {
    static const int64_t t2[2] = {1, 0};
    const char *wt = transpose(g, param(g, prefix, "weight"), t2, 2);
    return onnx_node2(g, "Add", prefix, onnx_node2(g, "MatMul", prefix, x, wt), param(g, prefix, "bias"));
}

static const char *layernorm(OnnxGraph *g, const char *x, const char *prefix) {
    const char *in[3] = {x, param(g, prefix, "weight"), param(g, prefix, "bias")};
    const OnnxAttr a[2] = {{"axis", ONNX_ATTR_INT, -1, 0, NULL, 0}, {"epsilon", ONNX_ATTR_FLOAT, 0, LN_EPS, NULL, 0}};
    return onnx_node(g, "LayerNormalization", prefix, NULL, in, 3, a, 2);
}

static const char *gather(OnnxGraph *g, const char *x, int64_t index, int64_t axis) {
    const char *in[2] = {x, onnx_const_i64(g, &index, 1, 1)};
    const OnnxAttr a = {"axis", ONNX_ATTR_INT, axis, 0, NULL, 0};
    return onnx_node(g, "Gather", "gather", NULL, in, 2, &a, 1);
}

static const char *attention(OnnxGraph *g, const char *x, const char *prefix, int dim, int heads) {
    char name[160];
    snprintf(name, sizeof name, "%s.qkv", prefix);
    const int64_t split[5] = {0, 0, 3, heads, dim / heads}, to_heads[5] = {2, 0, 3, 1, 4};
    const char *qkv = transpose(g, reshape(g, linear(g, x, name), split, 5), to_heads, 5); /* [3, N, H, T, Dh] */
    const char *q = gather(g, qkv, 0, 0), *k = gather(g, qkv, 1, 0), *v = gather(g, qkv, 2, 0);
    static const int64_t kt[4] = {0, 1, 3, 2}, back[4] = {0, 2, 1, 3};
    const char *s = onnx_node2(g, "MatMul", prefix, q, transpose(g, k, kt, 4));
    s = onnx_node2(g, "Mul", prefix, s, onnx_const_f32(g, 1.0f / sqrtf((float)(dim / heads))));
    const OnnxAttr last = {"axis", ONNX_ATTR_INT, -1, 0, NULL, 0};
    const char *p = onnx_node(g, "Softmax", prefix, NULL, &s, 1, &last, 1);
    const int64_t merge[3] = {0, 0, dim};
    const char *o = reshape(g, transpose(g, onnx_node2(g, "MatMul", prefix, p, v), back, 4), merge, 3);
    snprintf(name, sizeof name, "%s.proj", prefix);
    return linear(g, o, name);
}

static const char *gelu(OnnxGraph *g, const char *x) {
    const char *e = onnx_node1(g, "Erf", "gelu", onnx_node2(g, "Mul", "gelu", x, onnx_const_f32(g, (float)M_SQRT1_2)));
    const char *half_x = onnx_node2(g, "Mul", "gelu", x, onnx_const_f32(g, 0.5f));
    return onnx_node2(g, "Mul", "gelu", half_x, onnx_node2(g, "Add", "gelu", e, onnx_const_f32(g, 1.0f)));
}

static const char *block(OnnxGraph *g, const char *x, int i, int dim, int heads) {
    char prefix[32], name[64];
    snprintf(prefix, sizeof prefix, "blocks.%d", i);
    snprintf(name, sizeof name, "%s.norm1", prefix);
    const char *h = layernorm(g, x, name);
    snprintf(name, sizeof name, "%s.attn", prefix);
    x = onnx_node2(g, "Add", prefix, x, attention(g, h, name, dim, heads));
    snprintf(name, sizeof name, "%s.norm2", prefix);
    h = layernorm(g, x, name);
    snprintf(name, sizeof name, "%s.mlp.fc1", prefix);
    h = gelu(g, linear(g, h, name));
    snprintf(name, sizeof name, "%s.mlp.fc2", prefix);
    return onnx_node2(g, "Add", prefix, x, linear(g, h, name));
}

Status onnx_build_vit(OnnxGraph *g, const Model *m, ErrorMsg *err) {
    int patch, dim, depth, heads, mlp;
    if (!vit_arch_dims(m->arch, &patch, &dim, &depth, &heads, &mlp))
        return status_fail(err, LOCUS_ERR_ARG, "%s is not a known ViT", m->arch);
    const int64_t k[2] = {patch, patch};
    const OnnxAttr conv_attrs[2] = {{"kernel_shape", ONNX_ATTR_INTS, 0, 0, k, 2}, {"strides", ONNX_ATTR_INTS, 0, 0, k, 2}};
    const char *conv_in[3] = {ONNX_INPUT, onnx_param(g, "patch_embed.proj.weight"), onnx_param(g, "patch_embed.proj.bias")};
    const char *x = onnx_node(g, "Conv", "patch_embed.proj", NULL, conv_in, 3, conv_attrs, 2);
    const int64_t flat[3] = {0, dim, -1}, nd[3] = {0, 2, 1};
    x = transpose(g, reshape(g, x, flat, 3), nd, 3); /* [N, T-1, D] */

    const int64_t zero = 0, one = 1, tail[2] = {1, dim};
    const char *slice_in[3] = {onnx_node1(g, "Shape", "batch", ONNX_INPUT), onnx_const_i64(g, &zero, 1, 0),
                               onnx_const_i64(g, &one, 1, 0)};
    const char *n = onnx_node(g, "Slice", "batch", NULL, slice_in, 3, NULL, 0);
    const OnnxAttr axis0 = {"axis", ONNX_ATTR_INT, 0, 0, NULL, 0}, axis1 = {"axis", ONNX_ATTR_INT, 1, 0, NULL, 0};
    const char *shape_in[2] = {n, onnx_const_i64(g, tail, 2, 0)};
    const char *cls_shape = onnx_node(g, "Concat", "cls_shape", NULL, shape_in, 2, &axis0, 1);
    const char *cls = onnx_node2(g, "Expand", "cls", onnx_param(g, "cls_token"), cls_shape);
    const char *tokens[2] = {cls, x};
    x = onnx_node(g, "Concat", "tokens", NULL, tokens, 2, &axis1, 1);
    x = onnx_node2(g, "Add", "pos", x, onnx_param(g, "pos_embed"));

    for (int i = 0; i < depth; i++) x = block(g, x, i, dim, heads);
    x = gather(g, layernorm(g, x, "norm"), 0, 1); /* the CLS token, [N, D] */
    const char *in[3] = {x, onnx_param(g, "head.weight"), onnx_param(g, "head.bias")};
    const OnnxAttr trans_b = {"transB", ONNX_ATTR_INT, 1, 0, NULL, 0};
    onnx_node(g, "Gemm", "head", ONNX_OUTPUT, in, 3, &trans_b, 1);
    (void)mlp;
    return LOCUS_OK;
}
