/* patch_embed.h — ViT patch embedding with the CLS token and the position embedding (timm PatchEmbed +
 * VisionTransformer._pos_embed, class token first, no dropout).
 *
 * Input N x C x H x W (H, W divisible by p), output N x T x D with T = 1 + (H/p) (W/p):
 *   token 0       = cls_token + pos_embed[0]
 *   token 1 + i   = conv_{p x p, stride p}(x) at patch i (row-major patch order, timm's
 *                   x.flatten(2).transpose(1, 2)) + proj.bias + pos_embed[1 + i]
 * Parameters (names given at init, so the ViT registers timm's exact names):
 *   "<name>.proj.weight" (D, C, p, p), "<name>.proj.bias" (D), cls_name (1, 1, D), pos_name (1, T, D).
 * No cache (backward re-reads the input). Scratch: the patch matrix and the patch outputs,
 * 4 * N * (H/p)(W/p) * (C p p + D) bytes. */
#ifndef LOCUS_LAYERS_PATCH_EMBED_H
#define LOCUS_LAYERS_PATCH_EMBED_H

#include "locus/layer.h"
#include "locus/params.h"
#include "locus/rng.h"

typedef struct PatchEmbed {
    Layer base;
    int in_c, in_h, in_w, patch, d;
    int grid_h, grid_w;            /* in_h / patch, in_w / patch */
    int proj_w, proj_b, cls, pos;  /* parameter handles */
} PatchEmbed;

/* Registers cls_name, pos_name, "<name>.proj.weight", "<name>.proj.bias" (timm state_dict order).
 * LOCUS_ERR_ARG (nothing registered) when in_h or in_w is not divisible
 * by patch or a size is < 1. The position embedding is sized for in_h x in_w: other input sizes are
 * refused at run time. */
Status patch_embed_init(PatchEmbed *l, ParamStore *ps, const char *name, const char *cls_name,
                        const char *pos_name, int in_c, int in_h, int in_w, int patch, int d, ErrorMsg *err);

/* Tokens per sample including the CLS token. */
static inline int patch_embed_tokens(const PatchEmbed *l) { return 1 + l->grid_h * l->grid_w; }

/* timm's init: pos_embed and cls_token trunc_normal(std 0.02) (timm >= 0.9 draws cls_token from
 * N(0, 1e-6^2); we follow the older trunc_normal(0.02)); the patch conv keeps PyTorch's Conv2d default,
 * weight and bias U(-1/sqrt(C p p), +1/sqrt(C p p)), as timm does. ps must be finalized. */
void patch_embed_init_weights(const PatchEmbed *l, ParamStore *ps, Rng *rng);

#endif
