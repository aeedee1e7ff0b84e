/* fpmode.h — the floating-point mode of the threads that run a step.
 *
 * Flush-to-zero (FTZ: tiny results become 0) and denormals-are-zero (DAZ: tiny inputs read as 0) keep
 * arithmetic on subnormal floats from falling onto the CPU's slow microcoded path. Training does not need
 * subnormals (PyTorch offers the same switch, torch.set_flush_denormal). The mode is per thread: this sets
 * it on the calling thread and, through one parallel region, on every thread of an OpenMP team of
 * `threads`; libgomp keeps its threads, so later parallel regions of up to that size inherit it. Running
 * that region before the step loop also starts the team's threads there, not in the first timed step. */
#ifndef LOCUS_FPMODE_H
#define LOCUS_FPMODE_H

/* on = 1: FTZ and DAZ on; on = 0: both off (IEEE subnormals). Returns 1 when the CPU has the switch
 * (x86 with SSE), 0 otherwise (then it does nothing). */
int fpmode_flush_denormals(int threads, int on);

/* 1 when the calling thread flushes denormals (FTZ and DAZ both on). */
int fpmode_flushing(void);

#endif
