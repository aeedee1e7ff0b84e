/* test_gradcheck.c — every layer and composite against finite differences, plus the coverage check:
 * the test fails if a layer type in src/layers/registry.c has no case here. Cases live in
 * tests/grad_cases_*.c, one file per group of layers. */
#include <stdio.h>
#include <string.h>

#include "grad_cases.h"
#include "gradcheck.h"
#include "layers/registry.h"

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL; /* optional: run one group, skip coverage */
    int failures = 0;
    for (int g = 0; grad_case_groups[g].name; g++) {
        if (only && strcmp(only, grad_case_groups[g].name)) continue;
        failures += grad_case_groups[g].run();
    }
    if (!only) {
        int n;
        const char *const *types = layer_registry(&n);
        for (int i = 0; i < n; i++)
            if (!gradcheck_covered(types[i])) {
                printf("COVERAGE FAIL: layer type '%s' has no gradient-check case\n", types[i]);
                failures++;
            }
    }
    printf("%s: %d failing tensors/coverage gaps\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
