/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_lut_s16.h
 * @brief TFLite's int16 LOGISTIC / TANH interpolation, with one table load and one multiply-add.
 *
 * TFLite (and edgernn.fixedpoint) compute, for v = the rescaled input and a = |v|:
 *   sigmoid (bits 9): index = a >> 9; index >= 255 -> 0x7FFF << 10; else r = T[index] * 2^9 + frac * (T[index+1] - T[index]);
 *                     v >= 0: (r + 2^9) >> 10;  v < 0: (2^25 - r + 2^9 - 1) >> 10
 *   tanh (bits 8):    index >= 255 -> r = 0xFFFF << 8, else r as above with 2^8;
 *                     v >= 0: (r - 2^23 + 2^7) >> 8;  v < 0: (-r + 2^23 + 2^7 - 1) >> 8
 * with frac = a & (2^bits - 1). Here, with the pair table of ernn_activation_s16.c:
 *  - r - 2^(15 + bits) = hi * 2^bits + lo * frac = SMLAD(entry, 2^bits << 16 | frac): one load, one SMLAD
 *    (hi = T[index] - 32768, lo = T[index + 1] - T[index]; the second operand is one ORR of an immediate).
 *  - The negative branch is the mirror of the positive one: floor((2^25 + 511 - r) / 1024) =
 *    2^15 - ceil((r - 511) / 1024) = 2^15 - floor((r + 512) / 1024), so sigmoid(-a) = 32768 - sigmoid(a);
 *    likewise floor((2^23 + 127 - r) / 256) = -floor((r - 2^23 + 128) / 256), so tanh(-a) = -tanh(a).
 *  - tanh's saturation: entry 255 is (32767, 0), so any index clamped to 255 gives r = 65535 * 2^8 =
 *    0xFFFF << 8, TFLite's saturated value; USAT #8 clamps the index. sigmoid takes Q3.12 inputs only
 *    through ernn_sigmoid_q312 (a = 3|x| <= 98304, index <= 192: never saturated); the general
 *    ernn_sigmoid_lut keeps TFLite's explicit saturation.
 * tests: firmware_export/tests/test_fixedpoint.c compares all 65,536 inputs (and the cell state's
 * rescaled inputs) with TFLite's formulas as written above, on the host and on every QEMU core
 * (tests/conformance/test_c_unit_targets.py).
 */
#ifndef ERNN_LUT_S16_H
#define ERNN_LUT_S16_H

#include "edgernn/ernn_fixedpoint.h"

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#include <arm_acle.h>
#endif

extern const uint32_t ernn_lut_pairs[256];

/* hi * 2^bits + lo * frac + acc for a pair entry (SMLAD with the DSP extension). */
static inline int32_t ernn_lut_mla(uint32_t entry, int32_t frac, int32_t bits, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    return __smlad((int32_t)entry, frac | ((int32_t)1 << (16 + bits)), acc);
#else
    return (int32_t)(entry >> 16) * ((int32_t)1 << bits) + (int32_t)(entry & 0xFFFFu) * frac + acc;
#endif
}

/* The input rescale shared by LOGISTIC and TANH: (x * multiplier + rounding) >> left_shift. */
static inline int32_t ernn_lut_input(int16_t x, int32_t multiplier, int32_t left_shift)
{
    if (multiplier == 0) { /* power-of-two input scale: fold the shift into the multiplier 3 */
        multiplier = 3 * ((int32_t)1 << left_shift);
        left_shift = 0;
    }
    const int32_t rounding = left_shift > 0 ? ((int32_t)1 << (left_shift - 1)) : 0;
    return ((int32_t)x * multiplier + rounding) >> left_shift;
}

/* sigmoid of the rescaled input v, Q0.15 (TFLite's saturation kept: any v). */
static inline int32_t ernn_sigmoid_lut(int32_t v)
{
    const int32_t a = v < 0 ? -v : v;
    int32_t pos = 0x7FFF;
    if ((a >> 9) < 255) {
        pos = ernn_lut_mla(ernn_lut_pairs[a >> 9], a & 511, 9, (1 << 24) + (1 << 9)) >> 10;
    }
    return v < 0 ? 32768 - pos : pos;
}

/* min(a >> 8, 255) for a >= 0: one USAT with the DSP extension. */
static inline int32_t ernn_lut_index8(int32_t a)
{
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
    int32_t r;
    __asm__("usat %0, #8, %1, asr #8" : "=r"(r) : "r"(a));
    return r;
#else
    return (a >> 8) < 255 ? a >> 8 : 255;
#endif
}

/* tanh of the rescaled input v, Q0.15 (any v). */
static inline int32_t ernn_tanh_lut(int32_t v)
{
    const int32_t a = v < 0 ? -v : v;
    const int32_t pos = ernn_lut_mla(ernn_lut_pairs[ernn_lut_index8(a)], a & 255, 8, 1 << 7) >> 8;
    return v < 0 ? -pos : pos;
}

/* sigmoid of a Q3.12 gate pre-activation (input_multiplier = input_left_shift = 0): v = 3x. */
static inline int32_t ernn_sigmoid_q312(int32_t x)
{
    const int32_t a = 3 * (x < 0 ? -x : x); /* <= 98304: index <= 192, never saturated */
    const int32_t pos = ernn_lut_mla(ernn_lut_pairs[a >> 9], a & 511, 9, (1 << 24) + (1 << 9)) >> 10;
    return x < 0 ? 32768 - pos : pos;
}

/* tanh of a Q3.12 gate pre-activation: v = 3x. */
static inline int32_t ernn_tanh_q312(int32_t x)
{
    return ernn_tanh_lut(3 * x);
}

#endif /* ERNN_LUT_S16_H */
