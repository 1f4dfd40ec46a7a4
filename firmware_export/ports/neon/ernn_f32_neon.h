/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_f32_neon.h
 * @brief Port: the float32 path's FCs and element-wise cell math for AArch64 NEON (FMLA).
 *
 * Included by src/ernn_cells_f32.c on AArch64 (NEON is always there). FCs (the paneled layout,
 * ERNN_FC_F32_PANELS): a tile of two panels (eight vectors of four outputs) stays in registers while the
 * panels stream by, four inputs per load, each multiplied into the tile by FMLA (by element); two sets of
 * accumulators (even and odd inputs) hide the FMLA latency. Element-wise math, four lanes: the same exp
 * (range reduction and degree-7 polynomial), sigmoid and tanh as the x86 port (see ernn_f32_x86.h).
 */
#ifndef ERNN_F32_NEON_H
#define ERNN_F32_NEON_H

#include <arm_neon.h>

#define ERNN_F32_PORT_NAME "neon"
#define ERNN_NEON_F32_TILE 2 /* panels: 2 x 8 accumulators + inputs and loads, within the 32 q registers */

static inline const char *ernn_f32_kernel_port(void)
{
    return "neon";
}

/* y[0 .. 16t) = bias + the t panels at w (ERNN_FC_F32_PANELS) times x; four q registers per panel. */
__attribute__((always_inline)) static inline void ernn_fc_tile_neon(const float *w, int32_t in, const float *bias,
                                                                    const float *x, float *y, const int32_t t)
{
    const size_t panel = (size_t)ERNN_F32_PANEL * (size_t)in;
    float32x4_t a[4 * ERNN_NEON_F32_TILE], b[4 * ERNN_NEON_F32_TILE];
#pragma GCC unroll 8
    for (int32_t k = 0; k < 4 * t; ++k) {
        a[k] = vld1q_f32(bias + 4 * k);
        b[k] = vdupq_n_f32(0.0f);
    }
    int32_t i = 0;
    for (; i + 4 <= in; i += 4, w += 4 * ERNN_F32_PANEL) {
        const float32x4_t xv = vld1q_f32(x + i);
#pragma GCC unroll 8
        for (int32_t k = 0; k < 4 * t; ++k) {
            const float *v = w + (size_t)(k / 4) * panel + 4 * (k % 4);
            a[k] = vfmaq_laneq_f32(a[k], vld1q_f32(v), xv, 0);
            b[k] = vfmaq_laneq_f32(b[k], vld1q_f32(v + ERNN_F32_PANEL), xv, 1);
            a[k] = vfmaq_laneq_f32(a[k], vld1q_f32(v + 2 * ERNN_F32_PANEL), xv, 2);
            b[k] = vfmaq_laneq_f32(b[k], vld1q_f32(v + 3 * ERNN_F32_PANEL), xv, 3);
        }
    }
    for (; i < in; ++i, w += ERNN_F32_PANEL) {
#pragma GCC unroll 8
        for (int32_t k = 0; k < 4 * t; ++k) {
            a[k] = vfmaq_n_f32(a[k], vld1q_f32(w + (size_t)(k / 4) * panel + 4 * (k % 4)), x[i]);
        }
    }
#pragma GCC unroll 8
    for (int32_t k = 0; k < 4 * t; ++k) {
        vst1q_f32(y + 4 * k, vaddq_f32(a[k], b[k]));
    }
}

/* The paneled FC's first `panels` whole panels, two at a time; returns the panels done. */
static inline int32_t ernn_fc_f32_panels_port(const float *w, const float *bias, const float *x, int32_t in,
                                              int32_t panels, float *y)
{
    int32_t p = 0;
    for (; p + 2 <= panels; p += 2) {
        ernn_fc_tile_neon(w + (size_t)p * ERNN_F32_PANEL * (size_t)in, in, bias + p * ERNN_F32_PANEL, x,
                          y + p * ERNN_F32_PANEL, 2);
    }
    if (p < panels) {
        ernn_fc_tile_neon(w + (size_t)p * ERNN_F32_PANEL * (size_t)in, in, bias + p * ERNN_F32_PANEL, x,
                          y + p * ERNN_F32_PANEL, 1);
    }
    return panels;
}

/* ---- element-wise: exp, sigmoid, tanh and the cells' steps, four lanes ------------------------- */

static inline float32x4_t ernn_neon_exp(float32x4_t x)
{
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(88.0f));
    const float32x4_t k = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896f));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, k, vdupq_n_f32(1.42860676533018e-6f));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), r, vdupq_n_f32(1.0f / 5040.0f));
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), r, p);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), r, p);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), r, p);
    p = vfmaq_f32(vdupq_n_f32(0.5f), r, p);
    p = vfmaq_f32(vdupq_n_f32(1.0f), r, p);
    p = vfmaq_f32(vdupq_n_f32(1.0f), r, p);
    const int32x4_t scale = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(scale));
}

static inline float32x4_t ernn_neon_sigmoid(float32x4_t x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    return vdivq_f32(one, vaddq_f32(one, ernn_neon_exp(vnegq_f32(x))));
}

static inline float32x4_t ernn_neon_tanh(float32x4_t x)
{
    const float32x4_t a = vminq_f32(vabsq_f32(x), vdupq_n_f32(9.0f));
    const float32x4_t y = vaddq_f32(a, a);
    float32x4_t s = vfmaq_f32(vdupq_n_f32(1.0f / 5040.0f), y, vdupq_n_f32(1.0f / 40320.0f));
    s = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), y, s);
    s = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), y, s);
    s = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), y, s);
    s = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), y, s);
    s = vfmaq_f32(vdupq_n_f32(0.5f), y, s);
    s = vfmaq_f32(vdupq_n_f32(1.0f), y, s);
    s = vmulq_f32(s, y);
    const float32x4_t big = vsubq_f32(ernn_neon_exp(y), vdupq_n_f32(1.0f));
    const float32x4_t e = vbslq_f32(vcltq_f32(y, vdupq_n_f32(0.5f)), s, big);
    const float32x4_t t = vdivq_f32(e, vaddq_f32(e, vdupq_n_f32(2.0f)));
    /* the sign of x onto t (t >= 0) */
    const uint32x4_t sign = vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(t), sign));
}

#define ERNN_F32_PORT_ELEMENTWISE 1
static inline int32_t ernn_act_f32_port(int32_t kind, const float *a, const float *b, float *y, int32_t n)
{
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        float32x4_t v = vld1q_f32(a + j);
        if (b != NULL) {
            v = vaddq_f32(v, vld1q_f32(b + j));
        }
        vst1q_f32(y + j, kind ? ernn_neon_tanh(v) : ernn_neon_sigmoid(v));
    }
    return j;
}

static inline int32_t ernn_gru_f32_port(const float *gx, const float *gh, float *h, int32_t n)
{
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float32x4_t r = ernn_neon_sigmoid(vaddq_f32(vld1q_f32(gx + j), vld1q_f32(gh + j)));
        const float32x4_t z = ernn_neon_sigmoid(vaddq_f32(vld1q_f32(gx + n + j), vld1q_f32(gh + n + j)));
        const float32x4_t cand = ernn_neon_tanh(vfmaq_f32(vld1q_f32(gx + 2 * n + j), r, vld1q_f32(gh + 2 * n + j)));
        vst1q_f32(h + j, vfmaq_f32(cand, z, vsubq_f32(vld1q_f32(h + j), cand)));
    }
    return j;
}

static inline int32_t ernn_lstm_f32_port(const float *gx, const float *gh, float *h, float *c, int32_t n)
{
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float32x4_t i = ernn_neon_sigmoid(vaddq_f32(vld1q_f32(gx + j), vld1q_f32(gh + j)));
        const float32x4_t f = ernn_neon_sigmoid(vaddq_f32(vld1q_f32(gx + n + j), vld1q_f32(gh + n + j)));
        const float32x4_t g = ernn_neon_tanh(vaddq_f32(vld1q_f32(gx + 2 * n + j), vld1q_f32(gh + 2 * n + j)));
        const float32x4_t o = ernn_neon_sigmoid(vaddq_f32(vld1q_f32(gx + 3 * n + j), vld1q_f32(gh + 3 * n + j)));
        const float32x4_t cv = vfmaq_f32(vmulq_f32(i, g), f, vld1q_f32(c + j));
        vst1q_f32(c + j, cv);
        vst1q_f32(h + j, vmulq_f32(o, ernn_neon_tanh(cv)));
    }
    return j;
}

#endif /* ERNN_F32_NEON_H */
