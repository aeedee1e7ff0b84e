/* isa.c — run-time choice of the kernel instruction set (see isa.h). */
#include "kernels/isa.h"

#include <stdlib.h>
#include <string.h>

const char *kernel_isa_name(KernelIsa isa) {
    switch (isa) {
    case KERNEL_ISA_AVX512: return "avx512";
    case KERNEL_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

int kernel_isa_supported(KernelIsa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    switch (isa) {
    case KERNEL_ISA_AVX512: /* its path also uses the AVX2 transpose; every AVX-512 CPU has AVX2 + FMA */
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KERNEL_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default: return 1;
    }
#else
    return isa == KERNEL_ISA_GENERIC;
#endif
}

KernelIsa kernel_isa_best(void) {
    if (kernel_isa_supported(KERNEL_ISA_AVX512)) return KERNEL_ISA_AVX512;
    if (kernel_isa_supported(KERNEL_ISA_AVX2)) return KERNEL_ISA_AVX2;
    return KERNEL_ISA_GENERIC;
}

/* -1: unset or empty; -2: not a known name */
static int env_isa(void) {
    const char *v = getenv("LOCUS_ISA");
    if (!v || !*v) return -1;
    for (int i = KERNEL_ISA_GENERIC; i <= KERNEL_ISA_AVX512; i++)
        if (!strcmp(v, kernel_isa_name((KernelIsa)i))) return i;
    return -2;
}

KernelIsa kernel_isa(void) {
    int e = env_isa();
    if (e >= 0 && kernel_isa_supported((KernelIsa)e)) return (KernelIsa)e;
    return kernel_isa_best();
}

Status kernel_isa_check_env(ErrorMsg *err) {
    int e = env_isa();
    if (e == -2)
        return status_fail(err, LOCUS_ERR_ARG, "LOCUS_ISA='%s' is not an instruction set\nhint: use avx512, avx2 or "
                           "generic, or unset it to use the best this CPU has (%s)",
                           getenv("LOCUS_ISA"), kernel_isa_name(kernel_isa_best()));
    if (e >= 0 && !kernel_isa_supported((KernelIsa)e))
        return status_fail(err, LOCUS_ERR_ARG, "LOCUS_ISA=%s, but this CPU cannot run it\nhint: the best it has is "
                           "%s; unset LOCUS_ISA", kernel_isa_name((KernelIsa)e), kernel_isa_name(kernel_isa_best()));
    return LOCUS_OK;
}
