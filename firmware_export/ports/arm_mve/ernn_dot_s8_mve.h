/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_dot_s8_mve.h
 * @brief Port: packed int8 FC kernels with the M-profile Vector Extension (Cortex-M55/M85).
 *
 * Included by src/ernn_fc_s8.c when the compiler defines __ARM_FEATURE_MVE (integer MVE). Packing
 * K = 16: a 4-row block stores, per sixteen input columns, 16 bytes of each row one after the
 * other, zero padded; the input is copied once per layer into a zero-padded buffer. So every load
 * is a whole unpredicated vector from one advancing weight pointer, and VMLADAVA multiplies 16 int8
 * pairs and adds them to a row's int32 sum. Integer sums are exact: equal to the portable C bit for bit.
 */
#ifndef ERNN_DOT_S8_MVE_H
#define ERNN_DOT_S8_MVE_H

#include <arm_mve.h>
#include <string.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "arm_mve"
#define ERNN_PORT_SPECIALIZE 1 /* ernn_fc_s8.c: one loop per gate epilogue (the C requantization is the hot path here) */

/* x as int8, zero padded to a multiple of 16 values. */
static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    int8_t *b = (int8_t *)buffer;
    const int32_t padded = (n + 15) & ~15;
    vst1q_s8(b + padded - 16, vdupq_n_s8(0));
    memcpy(b, x, (size_t)n);
}

/* acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp (chunks >= 1 vectors). */
static inline __attribute__((always_inline)) void ernn_mac4_port(const int8_t **wp, const int32_t *bias,
                                                                 const int16_t *buffer, int32_t chunks,
                                                                 const int16_t *const *buffer_end, int32_t acc[4])
{
    (void)buffer_end;
    const int8_t *w = *wp;
    const int8_t *x = (const int8_t *)buffer;
    int32_t s0 = bias[0], s1 = bias[1], s2 = bias[2], s3 = bias[3];
    for (int32_t c = 0; c < chunks; ++c) {
        const int8x16_t xv = vld1q_s8(x);
        s0 = vmladavaq_s8(s0, vld1q_s8(w), xv);
        s1 = vmladavaq_s8(s1, vld1q_s8(w + 16), xv);
        s2 = vmladavaq_s8(s2, vld1q_s8(w + 32), xv);
        s3 = vmladavaq_s8(s3, vld1q_s8(w + 48), xv);
        w += 64;
        x += 16;
    }
    *wp = w;
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}

#endif /* ERNN_DOT_S8_MVE_H */
