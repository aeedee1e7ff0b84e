/* token_select.h — picks one token of every sample: N x T x D -> N x D (the ViT's CLS token, x[:, 0]).
 * No parameters, no cache; backward scatters dy into token `index` of dx. */
#ifndef LOCUS_LAYERS_TOKEN_SELECT_H
#define LOCUS_LAYERS_TOKEN_SELECT_H

#include "locus/layer.h"

typedef struct TokenSelect {
    Layer base;
    int index; /* token picked; 0 (the CLS token) after token_select_init */
} TokenSelect;

void token_select_init(TokenSelect *l, const char *name);

#endif
