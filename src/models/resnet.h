/* resnet.h — CIFAR ResNets (He et al. 2016, the InfoPro/HPFF/MAN code's variant; spec
 * local-learning.md §0.1): resnet8/20/32/44/56/110, any input channels, classes and input size. */
#ifndef LOCUS_MODELS_RESNET_H
#define LOCUS_MODELS_RESNET_H

#include "locus/model.h"

/* arch "resnetN" with N = 6n+2; registers parameters in ps; fills m. */
Status resnet_create(Model *m, const ModelSpec *spec, ParamStore *ps, ErrorMsg *err);
void resnet_init_weights(Model *m, Rng *rng);
/* Blocks per stage for "resnetN" (N = 6n + 2), or 0 if the name is not a CIFAR ResNet. */
int resnet_blocks_per_stage(const char *arch);

#endif
