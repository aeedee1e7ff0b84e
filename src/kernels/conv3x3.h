/* conv3x3.h — 3x3, stride-1, padding-1 convolution of one sample straight from its input (AVX-512).
 *
 *   y[m][q] = relu?( (acc ? y[m][q] : 0) + bias[m] + sum_{c, kh, kw} A[m][(c*3 + kh)*3 + kw] x[c][oh+kh-1][ow+kw-1]
 *                    + res[m][q] )          q = oh * W + ow, terms outside the input are 0
 *
 * The shifted-planes path (conv_planes.h) first copies the input three times (209 KB per 16-channel 32x32
 * sample) and then multiplies; the copies cost 20-35% of the product's time. This kernel reads x itself: per
 * input channel and kernel row it loads the vectors of that input row band once (aligned with the output
 * vectors), forms the kw = 0 and kw = 2 operands with lane shifts (valignd), and zeroes the taps that fall in
 * the padding with per-vector lane masks precomputed for the map (conv3x3_masks). The sums run over
 * (c, kh, kw) in increasing order with one FMA per term, exactly as rows_gemm over the planes' rows, so the
 * results are those of the AVX-512 planes path bit for bit (test_conv_kernels). Forward (A = the packed
 * weights, x = the input) and the input gradient (A = the flipped weights of conv2d_direct.c, x = dy) both
 * have this form. Loads never leave x: those that could (the first and last input channel of tiles near the
 * map's ends) are masked to the channel.
 *
 * Only the AVX-512 path has it (conv3x3_available); elsewhere the planes path runs. */
#ifndef LOCUS_KERNELS_CONV3X3_H
#define LOCUS_KERNELS_CONV3X3_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/isa.h"
#include "kernels/rows.h"

/* 1 when isa runs this kernel. */
int conv3x3_available(KernelIsa isa);
/* Entries of the mask table of an H x W map: 9 per 16 output positions (rounded up). */
size_t conv3x3_mask_count(int H, int W);
/* masks[v * 9 + kh * 3 + kw], bit l: output position 16 v + l exists (< H W) and its tap (kh, kw) is inside x. */
void conv3x3_masks(int H, int W, uint16_t *masks);
/* y (M rows, row stride ldc) as above; Ap = rows_pack(M, C * 9, A); x is C x H x W; ep NULL or as rows.h
 * (res rows of H W values at res + m * ldr, not overlapping y). */
void conv3x3_avx512(int M, int C, int H, int W, const float *Ap, const float *x, float *y, size_t ldc, int acc,
                    const RowsEpilogue *ep, const uint16_t *masks);

/* The weight gradient of one sample, for C a multiple of 16: for m < M, c < C, taps t = kh * 3 + kw,
 *   part[(m * 9 + t) * C + c] += sum_q dy[m][q] x[c][oh+kh-1][ow+kw-1]     (q = oh * W + ow in increasing order)
 * with x given transposed and zero-padded, xT[(ih + 1) * (W + 2) + iw + 1][c] = x[c][ih][iw] (its border 0), and
 * dy as M rows of H W. The products and their order are those of rows_dot_t over the planes (one FMA per
 * term, the padding's terms included as products with 0), so the sums are the same bits. Instead of three
 * planes of x and dy^T it needs one padded transpose of x, and its register tile does 24 FMAs per 9 loads
 * (rows_dot_t with 16 output channels: 12 per 13). */
void conv3x3_dw_avx512(int M, int C, int H, int W, const float *xT, const float *dy, float *part);

#endif
