/* cuts.h — where a network is cut into locally trained modules.
 * A cut list names units after which a module ends ("1.2" = after block (1,2); "0.0" = after the stem).
 * --k N maps to the papers' lists for resnet32 and resnet110 (spec local-learning.md §1.1 for the InfoPro
 * convention, where the stem may be a module of its own; §2.1 for the HPFF/MAN convention, where the stem is
 * merged into the first segment); for other networks or K, units are split into K contiguous groups of
 * nearly equal size. The head (pool + classifier) always belongs to the last module. */
#ifndef LOCUS_METHODS_CUTS_H
#define LOCUS_METHODS_CUTS_H

#include "locus/model.h"

/* Fills last_unit[0..*n_blocks-1] (the index of each module's last unit; the last is the head).
 * cuts: comma-separated unit names or "" ; k: 0 = use cuts (no cuts and k = 0 gives one module). */
Status cuts_resolve(const Model *m, const char *cuts, int k, const char *convention, int *last_unit, int *n_blocks,
                    int max_blocks, ErrorMsg *err);

/* The cut-list convention: cfg_value ("infopro", "hpff"), or method_default when it is "auto". */
const char *cuts_convention(const char *cfg_value, const char *method_default);

#endif
