/* pff.h — patch feature fusion's reconstruction loss (HPFF, the authors' code; spec local-learning.md
 * §2.4), shared by the pff and hpff methods: each quadrant of a module's output h goes through its own
 * decoder against the matching quadrant of the image; L_rec = sum of the 4 BCE means, weighted lam.
 * sequential: each quadrant's loss is backpropagated at once down to h (its gradient accumulates in h's
 * gradient) and its activations are freed before the next, so one quadrant's decoder is alive at a time;
 * otherwise the 4 losses are appended to loss/scale for the caller's single backward. */
#ifndef LOCUS_METHODS_PFF_H
#define LOCUS_METHODS_PFF_H

#include "layers/crop.h"
#include "locus/tape.h"
#include "models/aux_heads.h"

/* The four quadrants of an h x w map (rows [0, h/2) / [h/2, h), columns likewise: the authors' integer
 * floor split), as crop layers q[0] top-left, q[1] top-right, q[2] bottom-left, q[3] bottom-right. */
void pff_quadrants(Crop2d q[4], const char *name, int h, int w);

Status pff_losses(Tape *t, const Layer *bce, AuxHead *const *qdec, const Crop2d *qcrop, const Crop2d *img_crop,
                  Tensor *h, Tensor *img01, float lam, int sequential, Tensor **loss, float *scale, int *nl,
                  ErrorMsg *err);

#endif
