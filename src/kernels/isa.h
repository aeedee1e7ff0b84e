/* isa.h — which instruction set the compute kernels of src/kernels/ use, chosen at run time.
 *
 * The build has no -march flag: each SIMD kernel file asks the compiler for its instruction set itself
 * (a target pragma), and nothing reaches that code unless the CPU reports the features (cpuid through
 * __builtin_cpu_supports). LOCUS_ISA=avx512|avx2|generic in the environment forces a path (tests run every
 * path this way; a benchmark can compare them); a forced path the CPU lacks falls back to the best it has,
 * and kernel_isa_check_env says so as an error that a session or benchmark reports before it starts. */
#ifndef LOCUS_KERNELS_ISA_H
#define LOCUS_KERNELS_ISA_H

#include "locus/status.h"

typedef enum KernelIsa {
    KERNEL_ISA_GENERIC = 0, /* portable C */
    KERNEL_ISA_AVX2,        /* AVX2 + FMA, 8 floats per vector */
    KERNEL_ISA_AVX512,      /* AVX-512F, 16 floats per vector */
} KernelIsa;

/* "generic", "avx2", "avx512". */
const char *kernel_isa_name(KernelIsa isa);
/* 1 when this CPU can run the path. */
int kernel_isa_supported(KernelIsa isa);
/* The best path this CPU runs. */
KernelIsa kernel_isa_best(void);
/* The path to use now: LOCUS_ISA when set, valid and supported, else the best (reads the environment on
 * each call: cheap next to a layer call, and no hidden process state). */
KernelIsa kernel_isa(void);
/* LOCUS_ISA, if set, names a path this CPU runs; LOCUS_ERR_ARG with a hint otherwise. */
Status kernel_isa_check_env(ErrorMsg *err);

#endif
