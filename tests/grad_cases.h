/* grad_cases.h — the groups of gradient-check cases (each tests/grad_cases_<group>.c defines one
 * function returning its number of failures). Add a group here and in grad_cases.c. */
#ifndef LOCUS_TEST_GRAD_CASES_H
#define LOCUS_TEST_GRAD_CASES_H

typedef struct GradCaseGroup {
    const char *name;
    int (*run)(void);
} GradCaseGroup;

extern const GradCaseGroup grad_case_groups[];

int grad_cases_basic(void);
int grad_cases_misc(void);
int grad_cases_core(void);
int grad_cases_vit(void);
int grad_cases_supcon(void);
int grad_cases_aux(void);

#endif
