/* grad_cases.h — the groups of gradient-check cases (each tests/grad_cases_<group>.c defines one
 * function returning its number of failures). Add a group here and in grad_cases.c. */
#ifndef LOCUS_TEST_GRAD_CASES_H
#define LOCUS_TEST_GRAD_CASES_H

#include <stdint.h>

#include "locus/params.h"

typedef struct GradCaseGroup {
    const char *name;
    int (*run)(void);
} GradCaseGroup;

extern const GradCaseGroup grad_case_groups[];

/* Every parameter of ps ~ N(0, std^2), except LayerNorm weights ("...norm....weight", 1-D): 1 + N(0, 0.09).
 * Keeps softmax and GELU off their flat regions so every term of a backward is exercised. */
void grad_randomize_params(ParamStore *ps, float std, uint64_t seed);

int grad_cases_basic(void);
int grad_cases_misc(void);
int grad_cases_core(void);
int grad_cases_vit(void);
int grad_cases_supcon(void);
int grad_cases_aux(void);
int grad_cases_man(void);

#endif
