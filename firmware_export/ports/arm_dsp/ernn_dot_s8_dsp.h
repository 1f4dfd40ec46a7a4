/**
 * @file ernn_dot_s8_dsp.h
 * @brief Port: int8 dot products with the Arm DSP extension (Cortex-M4/M7/M33, Armv7-A).
 *
 * Included by src/ernn_fc_s8.c when the compiler defines __ARM_FEATURE_DSP and
 * __ARM_FEATURE_SIMD32. Four bytes are read as one word; SXTB16 splits a word into its even and
 * odd bytes as two int16 pairs, and SMLAD adds both products of a pair. x is split the same way
 * once per four rows. Integer sums are exact, so the result equals the portable C bit for bit.
 */
#ifndef ERNN_DOT_S8_DSP_H
#define ERNN_DOT_S8_DSP_H

#include <arm_acle.h>
#include <string.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "arm_dsp"

/* Four bytes as a word (unaligned reads are fine on these cores; memcpy keeps C aliasing rules). */
static inline int32_t ernn_dsp_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytes 0, 2 and bytes 1, 3 of a word as sign-extended int16 pairs. */
static inline int16x2_t ernn_dsp_even(int32_t v)
{
    return __sxtb16(v);
}

static inline int16x2_t ernn_dsp_odd(int32_t v)
{
#if defined(__GNUC__)
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v)); /* one instruction; the C form takes two */
    return r;
#else
    const uint32_t u = (uint32_t)v;
    return __sxtb16((int32_t)((u >> 8) | (u << 24)));
#endif
}

static inline void ernn_dot4_s8_port(const int8_t *w, int32_t n, const int8_t *x, int32_t sum[4])
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + n;
    const int8_t *w2 = w1 + n;
    const int8_t *w3 = w2 + n;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const int8_t *x_end = x + (n & ~(int32_t)3);
    const int8_t *xp = x;
    while (xp != x_end) { /* pointers, not indices: keeps all 14 live values in registers */
        const int32_t xv = ernn_dsp_load4(xp);
        const int16x2_t xe = ernn_dsp_even(xv);
        const int16x2_t xo = ernn_dsp_odd(xv);
        int32_t v = ernn_dsp_load4(w0);
        s0 = __smlad(ernn_dsp_even(v), xe, s0);
        s0 = __smlad(ernn_dsp_odd(v), xo, s0);
        v = ernn_dsp_load4(w1);
        s1 = __smlad(ernn_dsp_even(v), xe, s1);
        s1 = __smlad(ernn_dsp_odd(v), xo, s1);
        v = ernn_dsp_load4(w2);
        s2 = __smlad(ernn_dsp_even(v), xe, s2);
        s2 = __smlad(ernn_dsp_odd(v), xo, s2);
        v = ernn_dsp_load4(w3);
        s3 = __smlad(ernn_dsp_even(v), xe, s3);
        s3 = __smlad(ernn_dsp_odd(v), xo, s3);
        xp += 4;
        w0 += 4;
        w1 += 4;
        w2 += 4;
        w3 += 4;
    }
    int32_t i = 0;
    w0 -= (n & ~(int32_t)3);
    w1 -= (n & ~(int32_t)3);
    w2 -= (n & ~(int32_t)3);
    w3 -= (n & ~(int32_t)3);
    i = n & ~(int32_t)3;
    for (; i < n; ++i) {
        const int32_t xi = x[i];
        s0 += w0[i] * xi;
        s1 += w1[i] * xi;
        s2 += w2[i] * xi;
        s3 += w3[i] * xi;
    }
    sum[0] = s0;
    sum[1] = s1;
    sum[2] = s2;
    sum[3] = s3;
}

static inline int32_t ernn_dot1_s8_port(const int8_t *w, int32_t n, const int8_t *x)
{
    int32_t s = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t xv = ernn_dsp_load4(x + i);
        const int32_t v = ernn_dsp_load4(w + i);
        s = __smlad(ernn_dsp_even(v), ernn_dsp_even(xv), s);
        s = __smlad(ernn_dsp_odd(v), ernn_dsp_odd(xv), s);
    }
    for (; i < n; ++i) {
        s += w[i] * x[i];
    }
    return s;
}

#endif /* ERNN_DOT_S8_DSP_H */
