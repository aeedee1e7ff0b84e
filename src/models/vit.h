/* vit.h — the Vision Transformer (timm VisionTransformer semantics) as a chain of model units.
 *
 * Archs: "vit-tiny"  patch 4, dim 192, depth 6, heads 3, MLP 768;
 *        "vit-micro" patch 4, dim 48,  depth 2, heads 2, MLP 96 (fast tests).
 * Pre-norm blocks with a CLS token: x = x + attn(norm1(x)); x = x + fc2(gelu(fc1(norm2(x)))); final
 * LayerNorm (eps 1e-6), then the head Linear on the CLS token. Any in_c, any class count, in_h and in_w
 * divisible by the patch size (T = 1 + (in_h/4) * (in_w/4) tokens).
 * Units: 0 = "embed" (patch embedding + CLS + position embedding), 1..depth = "block0".., last = "head"
 * (final norm + CLS token + linear). Token outputs report out_c = D, out_h = T, out_w = 0; the head
 * reports out_c = classes, out_h = out_w = 0.
 * Parameter names are timm's state_dict names (patch_embed.proj.weight, cls_token, pos_embed,
 * blocks.{i}.norm1.weight, ..., norm.weight, head.weight). */
#ifndef LOCUS_MODELS_VIT_H
#define LOCUS_MODELS_VIT_H

#include "locus/model.h"

/* Builds the model for spec->arch "vit-tiny" / "vit-micro" (called by model_create, which has filled
 * m->arch, in_*, classes and params). LOCUS_ERR_ARG for an unknown vit arch or a bad input size. */
Status vit_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err);

/* timm's init (mode ''): pos_embed, cls_token and every Linear weight trunc_normal(std 0.02) with zero
 * biases, LayerNorm weight 1 / bias 0, the patch conv with PyTorch's Conv2d default. ps finalized. */
void vit_init_weights(Model *m, Rng *rng);

/* The configuration of a ViT arch (for exporters); 0 when arch is not one. */
int vit_arch_dims(const char *arch, int *patch, int *dim, int *depth, int *heads, int *mlp);

#endif
