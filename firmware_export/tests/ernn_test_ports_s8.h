/**
 * @file ernn_test_ports_s8.h
 * @brief Included by test_kernels_s8.c. The FC dot-product kernels: the port chosen for this compiler (arm_dsp, arm_mve, or none)
 * against the portable C, and the whole FC against a naive one, exactly (random and extreme
 * values, sizes 1..67). On a host without a port it checks the portable kernels alone; run it
 * built for an Arm core (e.g. qemu-arm, or the QEMU boards) to check a port.
 */
#ifndef ERNN_TEST_PORTS_S8_H
#define ERNN_TEST_PORTS_S8_H

#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"
#include "ernn_test.h"

#if !defined(ERNN_PORTABLE)
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include "../ports/arm_mve/ernn_dot_s8_mve.h"
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include "../ports/arm_dsp/ernn_dot_s8_dsp.h"
#endif
#endif

#define MAX_N 67
#define MAX_ROWS 9

static uint32_t rng_state = 12345u;

static int8_t rnd8(int mode)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    const uint32_t r = rng_state >> 24;
    if (mode == 1) {
        return (r & 1u) ? INT8_MAX : INT8_MIN;
    }
    if (mode == 2) {
        return INT8_MIN;
    }
    return (int8_t)((int32_t)r - 128);
}

/* The naive dot product the kernels must equal. */
static int32_t naive_dot(const int8_t *w, int32_t n, const int8_t *x)
{
    int32_t s = 0;
    for (int32_t i = 0; i < n; ++i) {
        s += (int32_t)w[i] * (int32_t)x[i];
    }
    return s;
}

static void test_dot(void)
{
    /* one extra byte in front so that rows and x start unaligned, too */
    static int8_t wbuf[MAX_ROWS * MAX_N + 1];
    static int8_t xbuf[MAX_N + 1];
    for (int mode = 0; mode < 3; ++mode) {
        for (int32_t off = 0; off < 2; ++off) {
            for (int32_t n = 1; n <= MAX_N; ++n) {
                int8_t *w = wbuf + off;
                int8_t *x = xbuf + off;
                for (int32_t i = 0; i < 4 * n; ++i) {
                    w[i] = rnd8(mode);
                }
                for (int32_t i = 0; i < n; ++i) {
                    x[i] = rnd8(mode);
                }
                int32_t s[4];
                ernn_dot4_s8_portable(w, n, x, s);
                for (int32_t r = 0; r < 4; ++r) {
                    CHECK_EQ(s[r], naive_dot(w + r * n, n, x));
                }
                CHECK_EQ(ernn_dot1_s8_portable(w, n, x), naive_dot(w, n, x));
#if defined(ERNN_PORT_NAME)
                int32_t t[4];
                ernn_dot4_s8_port(w, n, x, t);
                for (int32_t r = 0; r < 4; ++r) {
                    CHECK_EQ(t[r], s[r]);
                }
                CHECK_EQ(ernn_dot1_s8_port(w + n, n, x), naive_dot(w + n, n, x));
#endif
            }
        }
    }
}

/* The whole FC (whatever kernel the library was built with) against the naive sum + requantize. */
static void test_fc_against_naive(void)
{
    static int8_t w[MAX_ROWS * MAX_N];
    static int8_t x[MAX_N];
    static int32_t bias[MAX_ROWS], mult[MAX_ROWS], shift[MAX_ROWS];
    int16_t y16[MAX_ROWS];
    int8_t y8[MAX_ROWS];
    for (int32_t rows = 1; rows <= MAX_ROWS; ++rows) {
        for (int32_t n = 1; n <= MAX_N; n += 3) {
            const int mode = (rows + n) % 3 == 0 ? 1 : 0;
            for (int32_t i = 0; i < rows * n; ++i) {
                w[i] = rnd8(mode);
            }
            for (int32_t i = 0; i < n; ++i) {
                x[i] = rnd8(mode);
            }
            for (int32_t r = 0; r < rows; ++r) {
                rng_state = rng_state * 1664525u + 1013904223u;
                bias[r] = (int32_t)(rng_state >> 12) - (1 << 19);
                mult[r] = (int32_t)((1u << 30) | (rng_state >> 2));
                shift[r] = (int32_t)(rng_state % 24u) - 16;
            }
            if (rows == MAX_ROWS) { /* bias that saturates the accumulator */
                bias[0] = INT32_MAX;
                bias[1] = INT32_MIN;
            }
            const ernn_fc_params p = {w, bias, mult, shift, n, rows, 3};
            CHECK_EQ(ernn_fc_s8_s16(&p, x, y16), ERNN_OK);
            CHECK_EQ(ernn_fc_s8_s8(&p, x, y8), ERNN_OK);
            for (int32_t r = 0; r < rows; ++r) {
                const int64_t wide = (int64_t)bias[r] + naive_dot(w + r * n, n, x);
                const int32_t acc = wide > INT32_MAX ? INT32_MAX : (wide < INT32_MIN ? INT32_MIN : (int32_t)wide);
                const ernn_rescale rs = {mult[r], shift[r]};
                CHECK_EQ(y16[r], ernn_requantize(acc, rs, 3, INT16_MIN, INT16_MAX));
                CHECK_EQ(y8[r], ernn_requantize(acc, rs, 3, INT8_MIN, INT8_MAX));
            }
        }
    }
}

/* The division-free SRDHM against gemmlowp's definition, with int64 division. */
static void test_srdhm(void)
{
    static const int32_t v[] = {0, 1, -1, 2, -2, 3, -3, 1 << 30, -(1 << 30), (1 << 30) + 1, -(1 << 30) - 1,
                                INT32_MAX, INT32_MIN, INT32_MIN + 1, 12345, -12345, 46341, -46341};
    const size_t k = sizeof v / sizeof v[0];
    for (size_t i = 0; i < k; ++i) {
        for (size_t j = 0; j < k; ++j) {
            const int32_t a = v[i], b = v[j];
            int32_t want = INT32_MAX;
            if (!(a == INT32_MIN && b == INT32_MIN)) {
                const int64_t ab = (int64_t)a * (int64_t)b;
                const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
                want = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
            }
            CHECK_EQ(ernn_srdhm(a, b), want);
        }
    }
}

/* Every check of this file (called from test_kernels_s8.c's main). */
static void test_ports(void)
{
    test_dot();
    test_fc_against_naive();
    test_srdhm();
#if defined(ERNN_PORT_NAME)
    printf("port: %s\n", ERNN_PORT_NAME);
#endif
}

#endif /* ERNN_TEST_PORTS_S8_H */
