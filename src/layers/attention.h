/* attention.h — multi-head self-attention, the whole attention sub-layer of a ViT block (timm Attention).
 *
 * Input N x T x D, output N x T x D, H heads of width Dh = D / H:
 *   qkv = x W_qkv^T + b_qkv                (N x T x 3D, timm layout: reshaped (N, T, 3, H, Dh))
 *   P_h = softmax(q_h k_h^T / sqrt(Dh))    (T x T per sample and head, softmax over the last dim)
 *   ctx[:, h*Dh:(h+1)*Dh] = P_h v_h        (heads concatenated: N x T x D)
 *   y = ctx W_proj^T + b_proj
 * Parameters: "<name>.qkv.weight" (3D x D), "<name>.qkv.bias" (3D), "<name>.proj.weight" (D x D),
 * "<name>.proj.bias" (D). No dropout (attn_drop = proj_drop = 0).
 * Cache (training), per sample: qkv (3 T D) + probabilities (H T T) + context (T D) floats,
 *   = 4 * (4 T D + H T^2) bytes (each of the three pieces padded to 64 bytes for the whole batch);
 *   vit-tiny on 32x32 (T = 65, D = 192, H = 3): 250,380 bytes per sample; on 96x96 (T = 577): 5,767,692.
 * Scratch: max(backward: 4 * (N T 4D + threads T^2), eval forward: 4 * threads * (4 T D + T^2)) bytes. */
#ifndef LOCUS_LAYERS_ATTENTION_H
#define LOCUS_LAYERS_ATTENTION_H

#include "locus/layer.h"
#include "locus/params.h"

typedef struct Attention {
    Layer base;
    int d, heads;
    int qkv_w, qkv_b, proj_w, proj_b; /* parameter handles */
} Attention;

/* Registers the four parameters under "<name>.qkv.*" and "<name>.proj.*". CHECKs d % heads == 0. */
void attention_init(Attention *l, ParamStore *ps, const char *name, int d, int heads);

/* LOCUS_OK when in is one N x T x D tensor for a (attention or attention_cls), else LOCUS_ERR_ARG and a message
 * naming the layer type. */
Status attention_check_input(const Attention *a, Tensor *const *in, int n_in, ErrorMsg *err);

/* view = the class token's row of `of` (attention_cls.c): the same parameters, output N x D (token 0 only), for a
 * last block whose other tokens nothing reads. */
void attention_cls_view(Attention *view, const Attention *of);

/* The attention probabilities of sample n, head h in a training-mode cache (T x T, rows sum to 1), for
 * tests and visualisation. */
const float *attention_cached_probs(const Attention *l, const void *cache, int n_batch, int t, int n, int h);

#endif
