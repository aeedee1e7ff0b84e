/* fpmode.c — FTZ/DAZ on the threads of a step (see fpmode.h). The switches are bits 15 (FTZ) and 6 (DAZ)
 * of MXCSR, the SSE control register that AVX and AVX-512 arithmetic also obey. */
#include "locus/fpmode.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define FPMODE_BITS 0x8040u

static void set_bits(int on) {
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? csr | FPMODE_BITS : csr & ~FPMODE_BITS);
}

int fpmode_flush_denormals(int threads, int on) {
    set_bits(on);
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
    set_bits(on);
    return 1;
}

int fpmode_flushing(void) { return (_mm_getcsr() & FPMODE_BITS) == FPMODE_BITS; }
#else
int fpmode_flush_denormals(int threads, int on) {
    (void)threads, (void)on;
    return 0;
}

int fpmode_flushing(void) { return 0; }
#endif
