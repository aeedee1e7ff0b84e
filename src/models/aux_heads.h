/* aux_heads.h — the auxiliary networks that local-learning methods attach to a block's output
 * (spec local-learning.md §1.2 Greedy SL, §1.3 DGL, §1.4(b) InfoPro, §2.4 PFF decoders).
 *
 * A head is a fixed chain of layers built from an AuxSpec; its forward is plain tape calls, so it needs no
 * backward code and its activations are counted by memplan like any other layer's. Heads return raw
 * outputs: classifier logits / projection features (N x out_dim), or the decoder's pre-sigmoid
 * reconstruction logits (N x img_c x img_h x img_w, to pair with the sigmoid_bce layer against img01).
 * The loss (CE, SupCon, BCE) is the method's business.
 *
 * Parameter names follow the authors' PyTorch modules (nn.Sequential indices), under "<prefix>.":
 *   greedy    head.2 (Linear C->out, bias)                                      [InfoPro 0c1f]
 *   dgl       head.{1,4,7} conv1x1, head.{2,5,8} BN, head.{12,15} Linear no bias,
 *             head.{13,16} BN1d, head.18 Linear(F->out, bias)                   [AugLocal "DGL"]
 *   dgl-orig  blocks.{0,1,2}.0 conv1x1, blocks.{0,1,2}.1 BN, classifier.{0,3,6} Linear(bias),
 *             classifier.{1,4,7} BN1d, classifier.9 Linear(4C->out)             [eugenium/DGL mlp-sr]
 *   1c2f      head.0 conv3x3, head.1 BN, head.5 Linear(W->128), head.7 Linear(128->out)
 *   2c2f      head.0 conv3x3, head.1 BN, head.3 conv3x3, head.4 BN, head.8 Linear(W->128),
 *             head.10 Linear(128->out)                                           [InfoPro AuxClassifier]
 *   decoder   decoder.0 conv3x3 C->12 (bias), decoder.1 BN, decoder.3 conv3x3 12->img_c (bias)
 *                                                                                [InfoPro Decoder]
 * BN layers also register their running_mean / running_var buffers.
 *
 * Sizes that the papers give only for CIFAR are generalised as follows (documented in aux_heads.c):
 *  - 1c2f / 2c2f first conv: stride 2 and width 2C while C < 64, else stride 1 and width C
 *    (CIFAR: 16->32 s2, 32->64 s2, 64->64 s1; any h, w).
 *  - dgl: pool to ceil(h/4) x ceil(w/4), then to min(that, 2) per side (AugLocal's rule), so F = 4C for
 *    every map of 5 px or more; dgl-orig always pools to 2x2 (F = 4C), as eugenium/DGL does. */
#ifndef LOCUS_MODELS_AUX_HEADS_H
#define LOCUS_MODELS_AUX_HEADS_H

#include "locus/params.h"
#include "locus/rng.h"
#include "locus/status.h"
#include "locus/tape.h"

typedef enum AuxKind {
    AUX_GREEDY,       /* "greedy" (0c1f): GAP -> Linear(C -> out_dim) (spec §1.2) */
    AUX_DGL,          /* "dgl": AugLocal's port of DGL's MLP-SR head, 2 hidden FC layers (spec §1.3, default) */
    AUX_DGL_ORIG,     /* "dgl-orig": original DGL mlp-sr: 3 conv1x1 + 3 hidden FC (bias + BN1d + ReLU) (§1.3) */
    AUX_INFOPRO_1C2F, /* "1c2f": InfoPro aux classifier (spec §1.4 b); out_dim = 128 contrast, or classes */
    AUX_INFOPRO_2C2F, /* "2c2f": one more conv3x3 s1 + BN + ReLU after the first conv */
    AUX_DECODER       /* "decoder": InfoPro decoder: bilinear resize (align_corners) to img_h x img_w ->
                       * conv3x3 C->12 (bias) -> BN(12) -> ReLU -> conv3x3 12->img_c (bias); pre-sigmoid
                       * logits (pair with sigmoid_bce against img01) */
} AuxKind;

typedef struct AuxSpec {
    AuxKind kind;
    int c, h, w;             /* the block output this head reads: C x h x w */
    int out_dim;             /* classes, or the projection dim (128) for contrast mode; ignored by AUX_DECODER */
    int img_c, img_h, img_w; /* AUX_DECODER only: the reconstruction target (1x28x28, 3x32x32, a 16x16 PFF
                              * quadrant, ...); ignored by the other kinds */
} AuxSpec;

typedef struct AuxHead AuxHead; /* opaque: holds its layers and parameter handles */

/* Builds the head and registers its parameters in ps (not yet finalized) as "<prefix>.<module>..." (prefix
 * may be NULL or "" for bare names). LOCUS_ERR_ARG for impossible specs (non-positive sizes, unknown kind,
 * a prefix too long for the 96-byte parameter names, or a prefix whose names are already registered). */
Status aux_head_create(AuxHead **out, const AuxSpec *spec, ParamStore *ps, const char *prefix, ErrorMsg *err);
/* Spec §0.1 init: convs He normal fan-out (bias PyTorch default), BN gamma 1 / beta 0 / running stats 0 and 1,
 * Linear PyTorch default. ps must be finalized. Draws from rng in registration order. */
void aux_head_init_weights(const AuxHead *h, ParamStore *ps, Rng *rng);
/* x: N x C x h x w as in the spec (anything else sets a LOCUS_ERR_ARG tape error and returns NULL).
 * Returns N x out_dim, or N x img_c x img_h x img_w logits for the decoder. Sticky tape errors as tape_call. */
Tensor *aux_head_forward(const AuxHead *h, Tape *t, Tensor *x);
void aux_head_free(AuxHead *h);
/* The spec the head was built from. */
const AuxSpec *aux_head_spec(const AuxHead *h);

/* "greedy", "dgl", "dgl-orig", "1c2f", "2c2f", "decoder" ("?" for an invalid value). */
const char *aux_kind_name(AuxKind k);
/* 0 and *out set when name is one of aux_kind_name's names, -1 otherwise. */
int aux_kind_parse(const char *name, AuxKind *out);

#endif
