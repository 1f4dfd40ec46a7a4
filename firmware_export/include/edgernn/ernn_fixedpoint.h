/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_fixedpoint.h
 * @brief TFLite-exact fixed-point primitives (gemmlowp double-rounding requantization).
 *
 * Bit-exact ports of edgernn.fixedpoint. Where the Python reference rejects a model because an
 * int32 would overflow, these saturate instead of invoking undefined behaviour.
 */
#ifndef ERNN_FIXEDPOINT_H
#define ERNN_FIXEDPOINT_H

#include "edgernn/ernn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One Q31 multiplier and shift: `x * multiplier * 2^(shift - 31)` (TFLite convention). */
typedef struct {
    int32_t multiplier; /**< In [2^30, 2^31), or 0. */
    int32_t shift;      /**< In [-31, 30]. */
} ernn_rescale;

/** Clamp to [lo, hi]. */
static inline int32_t ernn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/** Saturate to int16. */
static inline int16_t ernn_sat16(int32_t x)
{
    return (int16_t)ernn_clamp(x, INT16_MIN, INT16_MAX);
}

/** gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from zero. */
static inline int32_t ernn_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* gemmlowp: (ab + nudge) / 2^31 truncated toward zero, nudge = 2^30 (ab >= 0) or 1 - 2^30.
     * For ab < 0 that is floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31): both signs reduce to one
     * arithmetic shift, floor((ab + 2^30) / 2^31), with no division. */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/** gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero; exponent in [0, 31]. */
static inline int32_t ernn_rdpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLite MultiplyByQuantizedMultiplier: `x * multiplier * 2^(shift - 31)` with double rounding.
 * A left shift that leaves int32 saturates (the reference rejects such a model instead).
 */
static inline int32_t ernn_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    int32_t shifted = x;
    if (shift > 0) { /* saturating x * 2^shift in int32: |x| is compared with the largest that fits */
        shifted = x > (INT32_MAX >> shift) ? INT32_MAX
                  : (x < (INT32_MIN >> shift) ? INT32_MIN : (int32_t)((uint32_t)x << shift));
    }
    return ernn_rdpot(ernn_srdhm(shifted, multiplier), shift < 0 ? -shift : 0);
}

/** `clamp(MBQM(x, r) + zero_point, lo, hi)` without intermediate overflow. */
static inline int32_t ernn_requantize(int32_t x, ernn_rescale r, int32_t zero_point, int32_t lo, int32_t hi)
{
    const int32_t scaled = ernn_mbqm(x, r.multiplier, r.shift);
    return ernn_clamp(scaled, lo - zero_point, hi - zero_point) + zero_point;
}

/** TFLite int16 MUL of two symmetric int16 values, requantized to int16 (zero point 0). */
static inline int16_t ernn_mul_s16(int16_t a, int16_t b, ernn_rescale r)
{
    return (int16_t)ernn_requantize((int32_t)a * (int32_t)b, r, 0, INT16_MIN, INT16_MAX);
}

/**
 * TFLite int16 LOGISTIC, Q0.15 out in [1, 32767]; LUT interpolation in TFLite's sigmoid table.
 * With input_multiplier = input_left_shift = 0 the input is Q3.12. Otherwise x * multiplier must
 * fit int32 (the multiplier is 3 << input_left_shift when input_multiplier is 0).
 */
int16_t ernn_sigmoid_s16(int16_t x, int32_t input_multiplier, int32_t input_left_shift);

/** TFLite int16 TANH, Q0.15 out; input as for ernn_sigmoid_s16. */
int16_t ernn_tanh_s16(int16_t x, int32_t input_multiplier, int32_t input_left_shift);

/**
 * TFLite's table T[i] = sigmoid(i / 24) in unsigned 0.16 (= edgernn.fixedpoint.SIGMOID_TABLE_UINT16) as
 * interpolation pairs over a signed index j = -256..255 (ernn_lut_pairs[j]): entry j >= 0 = (T[j] - 32768)
 * << 16 | (T[j + 1] - T[j]), entry 255 = 32767 << 16; entry -(i + 1) = (32768 - T[i + 1]) << 16 |
 * (T[i + 1] - T[i]) with T[256] = 65535 (the mirrored half, see src/ernn_lut_s16.h).
 */
extern const uint32_t ernn_lut_signed[512];
#define ernn_lut_pairs (ernn_lut_signed + 256)

#ifdef __cplusplus
}
#endif

#endif /* ERNN_FIXEDPOINT_H */
