/* conv3x3_wino.c — the portable half of the Winograd convolutions (conv3x3_wino.h): which maps they take,
 * LOCUS_CONV3X3, the weight transforms (U = G g G^T) for F(2x2, 3x3) and F(4x4, 3x3), the F(2x2) plan of
 * masked-load runs, and the weight gradient's last step (dW += G^T dU G). The AVX-512 kernels are in
 * conv3x3_wino_avx512.c (F(2x2)) and conv3x3_wino4_avx512.c (F(4x4)). */
#include "kernels/conv3x3_wino.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/conv3x3_wino_internal.h"

int conv3x3_wino_fits(int H, int W) { return H >= 2 && W >= 4; }

void conv3x3_wino_padded(int H, int W, int *Hp, int *Wp) { *Hp = (H + 1) / 2 * 2 + 2, *Wp = tiles_x(W) * 2 + 2; }

int conv3x3_wino_choice(void) {
    const char *v = getenv("LOCUS_CONV3X3");
    if (!v || !*v) return -1;
    if (!strcmp(v, "direct")) return 0;
    if (!strcmp(v, "winograd")) return 1;
    if (!strcmp(v, "winograd2")) return 2;
    return -2;
}

Status conv3x3_wino_check_env(ErrorMsg *err) {
    if (conv3x3_wino_choice() == -2)
        return status_fail(err, LOCUS_ERR_ARG,
                           "LOCUS_CONV3X3='%s' is not a 3x3 convolution algorithm\nhint: use winograd (the default "
                           "where it runs), winograd2 (F(2x2, 3x3) only) or direct, or unset it",
                           getenv("LOCUS_CONV3X3"));
    return LOCUS_OK;
}

const char *conv3x3_algorithm(KernelIsa isa) {
    if (!conv3x3_wino_available(isa)) return "direct";
    return conv3x3_wino4_available(isa) ? "Winograd F(4x4,3x3) on 8/16/32-wide maps with >= 32 channels, "
                                          "F(2x2,3x3) on other maps >= 2 x 4, direct elsewhere"
                                        : "Winograd F(2x2,3x3) on maps >= 2 x 4, direct elsewhere";
}

size_t conv3x3_wino_weight_floats(int M, int C) { return 16 * rows8(M) * C; }

/* The runs of the vector of tiles t0 .. t0 + 15: position 2 l + k is row 2 ty + dr, column 2 tx + k of tile
 * t0 + l (ty, tx), present when that tile exists and the position is inside the map. */
static Runs runs_of(int H, int W, int t0, int dr) {
    Runs R;
    const int TX = tiles_x(W), tiles = tiles_of(H, W);
    for (int h = 0; h < 2; h++) {
        R.n[h] = 0;
        for (int s = 0; s < MAX_RUNS; s++) R.mask[h][s] = 0, R.off[h][s] = 0; /* unused runs load nothing */
        long prev = -2; /* plane offset of the previous present position of this half, -2: none */
        for (int f = 0; f < 16; f++) {
            const int pos = 16 * h + f, t = t0 + pos / 2;
            const int row = 2 * (t / TX) + dr, col = 2 * (t % TX) + pos % 2;
            if (t >= tiles || row < 0 || row >= H || col < 0 || col >= W) {
                prev = -2;
                continue;
            }
            const long at = (long)row * W + col;
            if (at != prev + 1 || prev == -2) { /* a new run */
                if (R.n[h] == MAX_RUNS) break;  /* (cannot happen with TX >= 2) */
                R.mask[h][R.n[h]] = 0, R.off[h][R.n[h]] = (int)(at - f), R.n[h]++;
            }
            R.mask[h][R.n[h] - 1] |= (uint16_t)(1u << f);
            prev = at;
        }
    }
    return R;
}

static size_t vectors_of(int H, int W) { return ((size_t)tiles_of(H, W) + 15) / 16; }

size_t conv3x3_wino_plan_floats(int H, int W) {
    return (vectors_of(H, W) * sizeof(VectorRuns) + sizeof(float) - 1) / sizeof(float);
}

void conv3x3_wino_plan(int H, int W, float *plan) {
    VectorRuns *vr = (VectorRuns *)(void *)plan;
    const int TX = tiles_x(W), tiles = tiles_of(H, W);
    for (size_t v = 0; v < vectors_of(H, W); v++) {
        const int t0 = (int)(16 * v), t15 = t0 + 15;
        VectorRuns *r = &vr[v];
        for (int i = 0; i < 4; i++) r->in[i] = runs_of(H, W, t0, i - 1);
        for (int i = 0; i < 2; i++) r->out[i] = runs_of(H, W, t0, i);
        r->not_first = r->not_last = 0;
        for (int l = 0; l < 16; l++) {
            if (l > 0 && (t0 + l) % TX) r->not_first |= (uint16_t)(1u << l);
            if (l < 15 && (t0 + l) % TX != TX - 1) r->not_last |= (uint16_t)(1u << l);
        }
        for (int i = 0; i < 4; i++) {
            const int row0 = 2 * (t0 / TX) + i - 1, row15 = 2 * (t15 / TX) + i - 1, col15 = 2 * (t15 % TX) + 2;
            r->edge_lo[i] = t0 % TX && row0 >= 0 && row0 < H ? row0 * W + 2 * (t0 % TX) - 1 : -1;
            const int right = t15 < tiles && t15 % TX != TX - 1 && col15 < W && row15 >= 0 && row15 < H;
            r->edge_hi[i] = right ? row15 * W + col15 : -1;
        }
    }
}

size_t conv3x3_wino_work_floats(int M, int C, int H, int W) {
    return (size_t)16 * block_tiles(tiles_of(H, W)) * ((size_t)M + C);
}

/* The 8 rows m0 .. m0 + 7 of channel c's 3x3 kernels, g[t][j] = A[m0 + j][c * 9 + t] (0 past M): the weight
 * transforms work on 8 rows at once, the 8 floats U keeps together (a per-row scalar loop cost the predictor's
 * 16-sample calls more than F(4x4) saved on 64 channels). */
static void kernels_of_8(int M, int m0, int c, const float *A, size_t lda, float g[9][8]) {
    for (int j = 0; j < 8; j++)
        for (int t = 0; t < 9; t++) g[t][j] = m0 + j < M ? A[(size_t)(m0 + j) * lda + (size_t)c * 9 + t] : 0.0f;
}

void conv3x3_wino_weights(int M, int C, const float *A, size_t lda, float *U) {
    const size_t plane = rows8(M) * C; /* floats of one position p */
    for (int m0 = 0; m0 < M; m0 += 8)
        for (int c = 0; c < C; c++) {
            float g[9][8], gg[4][3][8]; /* G g: rows */
            kernels_of_8(M, m0, c, A, lda, g);
            for (int kw = 0; kw < 3; kw++)
                for (int j = 0; j < 8; j++) {
                    gg[0][kw][j] = g[kw][j];
                    gg[1][kw][j] = 0.5f * (g[kw][j] + g[3 + kw][j] + g[6 + kw][j]);
                    gg[2][kw][j] = 0.5f * (g[kw][j] - g[3 + kw][j] + g[6 + kw][j]);
                    gg[3][kw][j] = g[6 + kw][j];
                }
            float *u = U + ((size_t)(m0 / 8) * C + c) * 8;
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 8; j++) {
                    u[(4 * i + 0) * plane + j] = gg[i][0][j];
                    u[(4 * i + 1) * plane + j] = 0.5f * (gg[i][0][j] + gg[i][1][j] + gg[i][2][j]);
                    u[(4 * i + 2) * plane + j] = 0.5f * (gg[i][0][j] - gg[i][1][j] + gg[i][2][j]);
                    u[(4 * i + 3) * plane + j] = gg[i][2][j];
                }
        }
}

void conv3x3_wino_dw_finish(const float *du, size_t stride, float *dg) {
    float gu[3][4]; /* G^T dU: rows kh */
    for (int j = 0; j < 4; j++) {
        const float u0 = du[(0 + j) * stride], u1 = du[(4 + j) * stride], u2 = du[(8 + j) * stride];
        const float u3 = du[(12 + j) * stride];
        gu[0][j] = u0 + 0.5f * (u1 + u2);
        gu[1][j] = 0.5f * (u1 - u2);
        gu[2][j] = 0.5f * (u1 + u2) + u3;
    }
    for (int kh = 0; kh < 3; kh++) {
        dg[kh * 3 + 0] += gu[kh][0] + 0.5f * (gu[kh][1] + gu[kh][2]);
        dg[kh * 3 + 1] += 0.5f * (gu[kh][1] - gu[kh][2]);
        dg[kh * 3 + 2] += 0.5f * (gu[kh][1] + gu[kh][2]) + gu[kh][3];
    }
}

/* ---- F(4x4, 3x3): 36 products per 4x4 output tile (16 outputs) instead of 16 per 2x2 tile ---- */

static const float G4[6][3] = {{1.0f / 4, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6},
                               {0, 0, 1}};

void conv3x3_wino4_dw_finish(const float *du, size_t stride, float *dg) {
    float gu[3][6]; /* G^T dU */
    for (int kh = 0; kh < 3; kh++)
        for (int j = 0; j < 6; j++) {
            float acc = 0.0f;
            for (int i = 0; i < 6; i++) acc += G4[i][kh] * du[(6 * i + j) * stride];
            gu[kh][j] = acc;
        }
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) {
            float acc = 0.0f;
            for (int j = 0; j < 6; j++) acc += gu[kh][j] * G4[j][kw];
            dg[kh * 3 + kw] += acc;
        }
}

int conv3x3_wino4_fits(int H, int W) {
    if (W != 16 && W != 32) return 0;
    const int rows_per_vector = 64 / W; /* tile rows per vector of 16 tiles */
    return H % 4 == 0 && (H / 4) % rows_per_vector == 0;
}

size_t conv3x3_wino4_weight_floats(int M, int C) { return 36 * rows8(M) * C; }

size_t conv3x3_wino4_work_floats(int M, int C, int H, int W) {
    return (size_t)36 * block_tiles4(H / 4 * (W / 4)) * ((size_t)M + C);
}

void conv3x3_wino4_weights(int M, int C, const float *A, size_t lda, float *U) {
    const size_t plane = rows8(M) * C;
    for (int m0 = 0; m0 < M; m0 += 8)
        for (int c = 0; c < C; c++) {
            float g[9][8], gg[6][3][8]; /* G g */
            kernels_of_8(M, m0, c, A, lda, g);
            for (int i = 0; i < 6; i++)
                for (int kw = 0; kw < 3; kw++)
                    for (int j = 0; j < 8; j++)
                        gg[i][kw][j] = G4[i][0] * g[kw][j] + G4[i][1] * g[3 + kw][j] + G4[i][2] * g[6 + kw][j];
            float *u = U + ((size_t)(m0 / 8) * C + c) * 8;
            for (int i = 0; i < 6; i++)
                for (int q = 0; q < 6; q++)
                    for (int j = 0; j < 8; j++)
                        u[(6 * i + q) * plane + j] =
                            gg[i][0][j] * G4[q][0] + gg[i][1][j] * G4[q][1] + gg[i][2][j] * G4[q][2];
        }
}
