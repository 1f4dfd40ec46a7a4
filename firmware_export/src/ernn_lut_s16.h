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
 * with frac = a & (2^bits - 1). Here, with the signed pair table of ernn_activation_s16.c (entry j for
 * j = -256..255, ernn_lut_pairs[j]):
 *  - r - 2^(15 + bits) = hi * 2^bits + lo * frac = SMLAD(entry, 2^bits << 16 | frac): one load, one SMLAD
 *    (hi = T[index] - 32768, lo = T[index + 1] - T[index]; the second operand is one BFI into a constant).
 *  - No branch on the sign: index and fraction come from v itself, j = v >> bits (floor), f = v & (2^bits - 1).
 *    For v >= 0 that is TFLite's index and frac. For v < 0 let j = -(i + 1), so v = -(i + 1) * 2^bits + f,
 *    a = (i + 1) * 2^bits - f: TFLite's r is T[i + 1] * 2^bits (f = 0: index i + 1, frac 0) or T[i] * 2^bits +
 *    (2^bits - f) * (T[i + 1] - T[i]) (f > 0: index i), both equal to T[i + 1] * 2^bits - f * lo. Entry j holds
 *    hi' = 32768 - T[i + 1] and lo, so SMLAD(entry j, 2^bits << 16 | f) = 2^(15 + bits) - r. Hence with
 *    m = v >> 31 (0 or -1) and one accumulator constant C + m:
 *      sigmoid: (SMLAD + 2^24 + 2^9 + m) >> 10 is (r + 2^9) >> 10 for v >= 0 and (2^25 - r + 2^9 - 1) >> 10
 *               for v < 0: TFLite's two branches;
 *      tanh:    (SMLAD + 2^7 + m) >> 8 is (r - 2^23 + 2^7) >> 8, resp. (-r + 2^23 + 2^7 - 1) >> 8.
 *  - Saturation: tanh clamps j to [-256, 255] (one SSAT #9 of v >> 8). Entry 255 = (32767, 0) gives r = 0xFFFF
 *    << 8 for any f, as TFLite's saturated value; entry -256 = (-32767, 0) gives 2^23 - 0xFFFF * 2^8, TFLite's
 *    saturated negative r; entries 255 and -255 at f = 0 are the same values (T[255] = 65535). TFLite saturates
 *    from a >= 255 * 2^8 on, which is j >= 255 or j <= -256 (j = -255 only with f = 0): exactly the clamped j.
 *    sigmoid takes Q3.12 inputs only through ernn_sigmoid_q312 (|v| = 3|x| <= 98304, |j| <= 192: never
 *    saturated); the general ernn_sigmoid_lut keeps TFLite's explicit saturation on |v|.
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

/* ernn_lut_pairs in a register: indexed from its middle, not from the array's base + 256 per lookup
 * (Thumb-1 adds an offset of 256 in two steps). */
static inline const uint32_t *ernn_lut_middle(void)
{
    const uint32_t *t = ernn_lut_pairs;
#if defined(__GNUC__)
    __asm__("" : "+r"(t));
#endif
    return t;
}

/* hi * 2^bits + lo * frac + acc for a pair entry, hi signed (SMLAD with the DSP extension). */
static inline int32_t ernn_lut_mla(uint32_t entry, int32_t frac, int32_t bits, int32_t acc)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    return __smlad((int32_t)entry, frac | ((int32_t)1 << (16 + bits)), acc);
#else
    return ((int32_t)entry >> 16) * ((int32_t)1 << bits) + (int32_t)(entry & 0xFFFFu) * frac + acc;
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

/* clamp(v >> 8, -256, 255): one SSAT with the DSP extension. */
static inline int32_t ernn_lut_index8(int32_t v)
{
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
    int32_t r;
    __asm__("ssat %0, #9, %1, asr #8" : "=r"(r) : "r"(v));
    return r;
#else
    return ernn_clamp(v >> 8, -256, 255);
#endif
}

/* tanh of the rescaled input v, Q0.15 (any v): the signed index, no branch. */
static inline int32_t ernn_tanh_lut(int32_t v)
{
    return ernn_lut_mla(ernn_lut_middle()[ernn_lut_index8(v)], v & 255, 8, (1 << 7) + (v >> 31)) >> 8;
}

/* sigmoid of a Q3.12 gate pre-activation (input_multiplier = input_left_shift = 0): v = 3x, |v >> 9| <= 192. */
static inline int32_t ernn_sigmoid_q312(int32_t x)
{
    const int32_t v = 3 * x;
    return ernn_lut_mla(ernn_lut_middle()[v >> 9], v & 511, 9, (1 << 24) + (1 << 9) + (v >> 31)) >> 10;
}

/* tanh of a Q3.12 gate pre-activation: v = 3x. */
static inline int32_t ernn_tanh_q312(int32_t x)
{
    return ernn_tanh_lut(3 * x);
}

#endif /* ERNN_LUT_S16_H */
