/**
 * @file test_fixedpoint.c
 * @brief Fixed-point primitives and the int16 LUT activations: known values and properties.
 *
 * Exhaustive bit-exactness against edgernn.fixedpoint is checked from Python
 * (tests/conformance/test_c_host.py); these pin the rounding rules and the edge cases.
 */
#include "edgernn/ernn_fixedpoint.h"
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
    CHECK_EQ(ernn_sigmoid_table_u16[0], 32768);
    CHECK_EQ(ernn_sigmoid_table_u16[255], 65535);
}

int main(void)
{
    test_srdhm();
    test_rdpot();
    test_mbqm();
    test_activations();
    return ernn_test_report("test_fixedpoint");
}
