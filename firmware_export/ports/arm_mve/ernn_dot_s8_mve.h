/**
 * @file ernn_dot_s8_mve.h
 * @brief Port: int8 dot products with the M-profile Vector Extension (Cortex-M55/M85).
 *
 * Included by src/ernn_fc_s8.c when the compiler defines __ARM_FEATURE_MVE (integer MVE).
 * Sixteen bytes per load; VMLADAVA multiplies 16 int8 pairs and adds them to an int32 scalar.
 * The last partial vector is loaded under a VCTP predicate (inactive lanes read as zero), so no
 * byte past a row or past x is read. Integer sums are exact: equal to the portable C bit for bit.
 */
#ifndef ERNN_DOT_S8_MVE_H
#define ERNN_DOT_S8_MVE_H

#include <arm_mve.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "arm_mve"

static inline void ernn_dot4_s8_port(const int8_t *w, int32_t n, const int8_t *x, int32_t sum[4])
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + n;
    const int8_t *w2 = w1 + n;
    const int8_t *w3 = w2 + n;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t i = 0; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        const int8x16_t xv = vldrbq_z_s8(x + i, p);
        s0 = vmladavaq_s8(s0, vldrbq_z_s8(w0 + i, p), xv);
        s1 = vmladavaq_s8(s1, vldrbq_z_s8(w1 + i, p), xv);
        s2 = vmladavaq_s8(s2, vldrbq_z_s8(w2 + i, p), xv);
        s3 = vmladavaq_s8(s3, vldrbq_z_s8(w3 + i, p), xv);
    }
    sum[0] = s0;
    sum[1] = s1;
    sum[2] = s2;
    sum[3] = s3;
}

static inline int32_t ernn_dot1_s8_port(const int8_t *w, int32_t n, const int8_t *x)
{
    int32_t s = 0;
    for (int32_t i = 0; i < n; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        s = vmladavaq_s8(s, vldrbq_z_s8(w + i, p), vldrbq_z_s8(x + i, p));
    }
    return s;
}

#endif /* ERNN_DOT_S8_MVE_H */
