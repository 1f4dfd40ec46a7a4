/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_f32_mve.h
 * @brief Port: the float32 path's FCs with the M-profile Vector Extension's float instructions (Cortex-M55/M85
 *        with MVE-F).
 *
 * Included by src/ernn_cells_f32.c when the compiler defines __ARM_FEATURE_MVE with its float bit. FCs
 * (the transposed layout, weight[i][o]): a tile of up to 4 vectors of four outputs (MVE has eight q
 * registers) stays in registers while the inputs stream by, each input multiplied into the tile by VFMA
 * with a scalar operand. The element-wise math stays in the plain C (MVE has no vector divide).
 */
#ifndef ERNN_F32_MVE_H
#define ERNN_F32_MVE_H

#include <arm_mve.h>

#define ERNN_F32_PORT_NAME "arm_mve"
#define ERNN_MVE_F32_TILE 4

static inline const char *ernn_f32_kernel_port(void)
{
    return "arm_mve (FC)";
}

__attribute__((always_inline)) static inline void ernn_fc_tile_mve(const float *w, int32_t stride, const float *bias,
                                                                   const float *x, int32_t in, float *y,
                                                                   const int32_t t)
{
    float32x4_t a[ERNN_MVE_F32_TILE];
#pragma GCC unroll 4
    for (int32_t k = 0; k < t; ++k) {
        a[k] = vld1q_f32(bias + 4 * k);
    }
    for (int32_t i = 0; i < in; ++i, w += stride) {
        const float xi = x[i];
#pragma GCC unroll 4
        for (int32_t k = 0; k < t; ++k) {
            a[k] = vfmaq_n_f32(a[k], vld1q_f32(w + 4 * k), xi);
        }
    }
#pragma GCC unroll 4
    for (int32_t k = 0; k < t; ++k) {
        vst1q_f32(y + 4 * k, a[k]);
    }
}

/* The transposed FC's outputs [0, done), whole vectors in near-equal tiles; returns done. */
static inline int32_t ernn_fc_f32_cols_port(const float *wt, const float *bias, const float *x, int32_t in,
                                            int32_t out, float *y)
{
    int32_t vectors = out / 4;
    for (int32_t tiles = (vectors + ERNN_MVE_F32_TILE - 1) / ERNN_MVE_F32_TILE, col = 0; tiles > 0; --tiles) {
        const int32_t t = (vectors + tiles - 1) / tiles;
        switch (t) {
        case 1: ernn_fc_tile_mve(wt + col, out, bias + col, x, in, y + col, 1); break;
        case 2: ernn_fc_tile_mve(wt + col, out, bias + col, x, in, y + col, 2); break;
        case 3: ernn_fc_tile_mve(wt + col, out, bias + col, x, in, y + col, 3); break;
        default: ernn_fc_tile_mve(wt + col, out, bias + col, x, in, y + col, 4); break;
        }
        col += 4 * t;
        vectors -= t;
    }
    return out / 4 * 4;
}

static inline int32_t ernn_act_f32_port(int32_t kind, const float *a, const float *b, float *y, int32_t n)
{
    (void)kind, (void)a, (void)b, (void)y, (void)n;
    return 0;
}

static inline int32_t ernn_gru_f32_port(const float *gx, const float *gh, float *h, int32_t n)
{
    (void)gx, (void)gh, (void)h, (void)n;
    return 0;
}

static inline int32_t ernn_lstm_f32_port(const float *gx, const float *gh, float *h, float *c, int32_t n)
{
    (void)gx, (void)gh, (void)h, (void)c, (void)n;
    return 0;
}

#endif /* ERNN_F32_MVE_H */
