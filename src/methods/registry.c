/* registry.c — the list of training methods (--method). */
#include <string.h>

#include "locus/method.h"

extern const MethodOps method_e2e, method_greedy, method_dgl, method_infopro, method_pff,
    method_hilo, method_hpff, method_man, method_manpp,
    method_replace;

static const MethodOps *const methods[] = {&method_e2e, &method_greedy, &method_dgl, &method_infopro, &method_pff,
                                           &method_hilo, &method_hpff, &method_man, &method_manpp,
                                           &method_replace};

const MethodOps *method_find(const char *name) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}

const char *method_list(void) { return "e2e, greedy, dgl, infopro, pff, hilo, hpff, man, man++, replace"; }
