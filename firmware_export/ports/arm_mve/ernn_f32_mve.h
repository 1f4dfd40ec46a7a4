/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_f32_mve.h
 * @brief Port: the float32 path's FCs with the M-profile Vector Extension's float instructions (Cortex-M55/M85
 *        with MVE-F).
 *
 * Included by src/ernn_cells_f32.c when the compiler defines __ARM_FEATURE_MVE with its float bit. FCs
 * (the paneled layout, ERNN_FC_F32_PANELS): one panel's four vectors of outputs (MVE has eight q
 * registers) stay in registers while the panel streams by, each input multiplied in by VFMA with a scalar
 * operand. The element-wise math stays in the plain C (MVE has no vector divide).
 */
#ifndef ERNN_F32_MVE_H
#define ERNN_F32_MVE_H

#include <arm_mve.h>

#define ERNN_F32_PORT_NAME "arm_mve"

static inline const char *ernn_f32_kernel_port(void)
{
    return "arm_mve (FC)";
}

/* The paneled FC's first `panels` whole panels, one at a time (four q accumulators); returns the panels done. */
static inline int32_t ernn_fc_f32_panels_port(const float *w, const float *bias, const float *x, int32_t in,
                                              int32_t panels, float *y)
{
    for (int32_t p = 0; p < panels; ++p, bias += ERNN_F32_PANEL, y += ERNN_F32_PANEL) {
        float32x4_t a0 = vld1q_f32(bias), a1 = vld1q_f32(bias + 4), a2 = vld1q_f32(bias + 8);
        float32x4_t a3 = vld1q_f32(bias + 12);
        for (int32_t i = 0; i < in; ++i, w += ERNN_F32_PANEL) {
            const float xi = x[i];
            a0 = vfmaq_n_f32(a0, vld1q_f32(w), xi);
            a1 = vfmaq_n_f32(a1, vld1q_f32(w + 4), xi);
            a2 = vfmaq_n_f32(a2, vld1q_f32(w + 8), xi);
            a3 = vfmaq_n_f32(a3, vld1q_f32(w + 12), xi);
        }
        vst1q_f32(y, a0);
        vst1q_f32(y + 4, a1);
        vst1q_f32(y + 8, a2);
        vst1q_f32(y + 12, a3);
    }
    return panels;
}

#endif /* ERNN_F32_MVE_H */
