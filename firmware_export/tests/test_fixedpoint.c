/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_fixedpoint.c
 * @brief Fixed-point primitives and the int16 LUT activations: known values and properties.
 *
 * Exhaustive bit-exactness against edgernn.fixedpoint is checked from Python
 * (tests/conformance/test_c_host.py); these pin the rounding rules and the edge cases.
 */
#include "edgernn/ernn_fixedpoint.h"
#include "ernn_lut_s16.h"
#include "ernn_test.h"

static void test_srdhm(void)
{
    CHECK_EQ(ernn_srdhm(INT32_MIN, INT32_MIN), INT32_MAX);       /* the one overflow saturates */
    CHECK_EQ(ernn_srdhm(1 << 30, 1 << 30), 1 << 29);              /* 0.5 * 0.5 = 0.25 */
    /* gemmlowp's nudge makes ties round toward +infinity */
    CHECK_EQ(ernn_srdhm(3, 1 << 30), 2);                          /* 1.5 -> 2 */
    CHECK_EQ(ernn_srdhm(-3, 1 << 30), -1);                        /* -1.5 -> -1 */
    CHECK_EQ(ernn_srdhm(1, 1 << 30), 1);                          /* 0.5 -> 1 */
    CHECK_EQ(ernn_srdhm(-1, 1 << 30), 0);                         /* -0.5 -> 0 */
    CHECK_EQ(ernn_srdhm(-5, 1 << 30), -2);                        /* -2.5 -> -2 */
    CHECK_EQ(ernn_srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
    CHECK_EQ(ernn_srdhm(INT32_MIN, INT32_MAX), -INT32_MAX);
}

static void test_rdpot(void)
{
    CHECK_EQ(ernn_rdpot(5, 1), 3);   /* 2.5 -> 3 */
    CHECK_EQ(ernn_rdpot(-5, 1), -3); /* -2.5 -> -3 */
    CHECK_EQ(ernn_rdpot(4, 1), 2);
    CHECK_EQ(ernn_rdpot(-7, 2), -2); /* -1.75 -> -2 */
    CHECK_EQ(ernn_rdpot(-6, 2), -2); /* -1.5 -> -2 */
    CHECK_EQ(ernn_rdpot(-5, 2), -1); /* -1.25 -> -1 */
    CHECK_EQ(ernn_rdpot(123, 0), 123);
    CHECK_EQ(ernn_rdpot(INT32_MAX, 31), 1);
    CHECK_EQ(ernn_rdpot(INT32_MIN, 31), -1);
}

static void test_mbqm(void)
{
    CHECK_EQ(ernn_mbqm(3, 1 << 30, 0), 2);        /* 1.5 -> 2 */
    CHECK_EQ(ernn_mbqm(100, 1 << 30, 1), 100);    /* x * 0.5 * 2 */
    CHECK_EQ(ernn_mbqm(100, 1 << 30, -2), 13);    /* 12.5 -> 13 (double rounding) */
    CHECK_EQ(ernn_mbqm(-100, 1 << 30, -2), -13);
    CHECK_EQ(ernn_mbqm(1 << 30, 1 << 30, 4), 1 << 30); /* 2^34 saturates to INT32_MAX, then * 0.5 */
    CHECK_EQ(ernn_mbqm(7, 0, 0), 0);
    {
        const ernn_rescale half = {1 << 30, 0};
        CHECK_EQ(ernn_requantize(1000, half, 10, -128, 127), 127);  /* 500 + 10 saturates */
        CHECK_EQ(ernn_requantize(-1000, half, 10, -128, 127), -128);
        CHECK_EQ(ernn_requantize(21, half, -3, -128, 127), 8);      /* 10.5 -> 11, - 3 */
        CHECK_EQ(ernn_requantize(INT32_MAX, (ernn_rescale){INT32_MAX, 0}, 127, -128, 127), 127); /* no overflow */
        CHECK_EQ(ernn_mul_s16(INT16_MIN, INT16_MIN, (ernn_rescale){1 << 30, 1}), INT16_MAX);
    }
}

static void test_activations(void)
{
    CHECK_EQ(ernn_sigmoid_s16(0, 0, 0), 16384);
    CHECK_EQ(ernn_tanh_s16(0, 0, 0), 0);
    CHECK_EQ(ernn_sigmoid_s16(INT16_MAX, 0, 0), 32757); /* Q3.12 reaches 8: below the table's end */
    CHECK_EQ(ernn_sigmoid_s16(INT16_MIN, 0, 0), 11);
    CHECK_EQ(ernn_sigmoid_s16(INT16_MAX, 0, 3), 32767); /* a larger input multiplier saturates */
    CHECK_EQ(ernn_tanh_s16(INT16_MAX, 0, 0), 32767);
    CHECK_EQ(ernn_tanh_s16(INT16_MIN, 0, 0), -32767);
    int32_t prev_s = 0;
    int32_t prev_t = -32768;
    int monotone = 1;
    int symmetric = 1;
    for (int32_t x = INT16_MIN; x <= INT16_MAX; ++x) {
        const int32_t s = ernn_sigmoid_s16((int16_t)x, 0, 0);
        const int32_t t = ernn_tanh_s16((int16_t)x, 0, 0);
        monotone &= s >= prev_s && t >= prev_t && s >= 1 && s <= 32767;
        if (x > INT16_MIN) {
            const int32_t sum = s + ernn_sigmoid_s16((int16_t)-x, 0, 0);
            const int32_t odd = t + ernn_tanh_s16((int16_t)-x, 0, 0);
            symmetric &= (sum >= 32766 && sum <= 32768) && (odd >= -1 && odd <= 1);
        }
        prev_s = s;
        prev_t = t;
    }
    CHECK(monotone);
    CHECK(symmetric);
    /* sigmoid(1.0) in Q3.12 -> 0.7311 in Q0.15 (23955.6); the LUT is within one LSB */
    CHECK(ernn_sigmoid_s16(4096, 0, 0) >= 23955 && ernn_sigmoid_s16(4096, 0, 0) <= 23957);
    /* tanh of an int16 at scale 2^-10 (LSTM cell state): multiplier 0, left shift 2 equals Q3.12 at x * 4 */
    CHECK_EQ(ernn_tanh_s16(1000, 0, 2), ernn_tanh_s16(4000, 0, 0));
}

static const uint16_t tflite_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
};

/* TFLite's int16 LOGISTIC / TANH as TFLite writes them (the oracle of the one-load, one-SMLAD
 * interpolation in src/ernn_lut_s16.h). */
static int32_t tflite_rescale(int32_t x, int32_t multiplier, int32_t left_shift)
{
    if (multiplier == 0) {
        multiplier = 3 * ((int32_t)1 << left_shift);
        left_shift = 0;
    }
    const int32_t rounding = left_shift > 0 ? ((int32_t)1 << (left_shift - 1)) : 0;
    return (x * multiplier + rounding) >> left_shift;
}

static int32_t tflite_interpolate(int32_t magnitude, int32_t bits, int32_t saturated)
{
    const int32_t index = magnitude >> bits;
    if (index >= 255) {
        return saturated;
    }
    const int32_t ua = tflite_table[index], ub = tflite_table[index + 1];
    return ua * ((int32_t)1 << bits) + (magnitude & (((int32_t)1 << bits) - 1)) * (ub - ua);
}

static int32_t tflite_sigmoid(int32_t x, int32_t multiplier, int32_t left_shift)
{
    const int32_t v = tflite_rescale(x, multiplier, left_shift);
    const int32_t r = tflite_interpolate(v < 0 ? -v : v, 9, 0x7FFF << 10);
    return (v >= 0 ? r + (1 << 9) : (1 << 25) - r + (1 << 9) - 1) >> 10;
}

static int32_t tflite_tanh(int32_t x, int32_t multiplier, int32_t left_shift)
{
    const int32_t v = tflite_rescale(x, multiplier, left_shift);
    const int32_t r = tflite_interpolate(v < 0 ? -v : v, 8, 0xFFFF << 8);
    return (v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1) >> 8;
}

/* Every int16 input, for the Q3.12 gates and for cell-state rescales (power-of-two scales 2^-15..2^-5
 * and multipliers that use the int32 range): exactly TFLite's values. */
static void test_activations_exhaustive(void)
{
    for (int32_t i = 0; i < 256; ++i) {
        const int32_t next = i < 255 ? tflite_table[i + 1] : tflite_table[255];
        CHECK_EQ(ernn_lut_pairs[i], ((uint32_t)(tflite_table[i] - 32768) << 16) | (uint32_t)(next - tflite_table[i]));
        /* the mirrored half: entry -(i + 1) = (32768 - T[i + 1], T[i + 1] - T[i]) */
        CHECK_EQ(ernn_lut_pairs[-(i + 1)],
                 ((uint32_t)(32768 - next) << 16 & 0xFFFF0000u) | (uint32_t)(next - tflite_table[i]));
    }
    static const int32_t params[][2] = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 5}, {0, 10}, {3, 0}, {1, 0}, {7, 1},
                                        {12345, 10}, {65535, 15}};
    int32_t mismatches = 0;
    for (size_t k = 0; k < sizeof params / sizeof params[0]; ++k) {
        for (int32_t x = INT16_MIN; x <= INT16_MAX; ++x) {
            const int32_t m = params[k][0], sh = params[k][1];
            mismatches += ernn_sigmoid_s16((int16_t)x, m, sh) != tflite_sigmoid(x, m, sh);
            mismatches += ernn_tanh_s16((int16_t)x, m, sh) != tflite_tanh(x, m, sh);
            if (m == 0 && sh == 0) {
                mismatches += ernn_sigmoid_q312(x) != tflite_sigmoid(x, 0, 0);
                mismatches += ernn_tanh_q312(x) != tflite_tanh(x, 0, 0);
            }
        }
    }
    CHECK_EQ(mismatches, 0);
}

int main(void)
{
    test_srdhm();
    test_rdpot();
    test_mbqm();
    test_activations();
    test_activations_exhaustive();
    return ernn_test_report("test_fixedpoint");
}
