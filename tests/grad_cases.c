/* grad_cases.c — the table of gradient-check groups run by test_gradcheck. */
#include "grad_cases.h"

#include <stddef.h>

const GradCaseGroup grad_case_groups[] = {
    {"basic", grad_cases_basic},
    {"misc", grad_cases_misc},
    {"core", grad_cases_core},
    {"vit", grad_cases_vit},
    {"supcon", grad_cases_supcon},
    {"aux", grad_cases_aux},
    {"man", grad_cases_man},
    {NULL, NULL},
};
