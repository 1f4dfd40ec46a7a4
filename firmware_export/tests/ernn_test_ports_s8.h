/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_test_ports_s8.h
 * @brief Included by test_kernels_s8.c. Packed FC layers (the kernels of this build: arm_dsp, arm_mve or portable)
 * against the row-major layer, and the row-major layer against a naive one, exactly (random and extreme
 * values, sizes 1..67). On a host without a port it checks the portable kernels alone; run it
 * built for an Arm core (e.g. qemu-arm, or the QEMU boards) to check a port.
 */
#ifndef ERNN_TEST_PORTS_S8_H
#define ERNN_TEST_PORTS_S8_H

#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"
#include "ernn_test.h"


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

/* Pack a row-major [rows][n] matrix as the exporter does for this build's ERNN_FC_PACK_K
 * (edgernn/export/c_packing.py): rows padded to a multiple of 4, columns to a multiple of K. */
static void pack(const int8_t *w, int32_t rows, int32_t n, int8_t *packed)
{
    const int32_t k = ERNN_FC_PACK_K;
    const int32_t r4 = ernn_round_up(rows, 4), cols = ernn_round_up(n, k);
    for (int32_t o = 0; o < r4; ++o) {
        for (int32_t i = 0; i < cols; ++i) {
            packed[((o / 4) * (cols / k) + i / k) * 4 * k + (o % 4) * k + i % k] =
                (o < rows && i < n) ? w[o * n + i] : 0;
        }
    }
}

/* The largest |bias + dot| over int8 inputs, as edgernn.export.c_packing.accumulator_bound. */
static int64_t bound(const int8_t *w, int32_t n, int32_t b)
{
    int64_t hi = b, lo = b;
    for (int32_t i = 0; i < n; ++i) {
        hi += w[i] > 0 ? 127 * w[i] : -128 * w[i];
        lo += w[i] > 0 ? -128 * w[i] : 127 * w[i];
    }
    return hi > -lo ? hi : -lo;
}

/* A packed layer (every form the kernels take: per-group and per-row multipliers, the short
 * requantization where its bound holds, the general form otherwise) equals the row-major one,
 * exactly, for sizes 1..67 and 1..9 rows, random and extreme values, and with shifts from -20 to 6. */
static void test_packed_fc(void)
{
    static int8_t w[MAX_ROWS * MAX_N], packed[12 * 80], x[MAX_N];
    static int32_t bias[12], mult[12], shift[12];
    static int16_t buffer[80];
    int16_t want16[MAX_ROWS], got16[12];
    int8_t want8[MAX_ROWS], got8[12];
    int checked_short = 0, checked_general = 0, checked_doubled = 0;
    for (int mode = 0; mode < 3; ++mode) {
        for (int32_t rows = 1; rows <= MAX_ROWS; ++rows) {
            for (int32_t n = 1; n <= MAX_N; n += (n < 20 ? 1 : 7)) {
                for (int32_t i = 0; i < rows * n; ++i) {
                    w[i] = rnd8(mode);
                }
                for (int32_t i = 0; i < n; ++i) {
                    x[i] = rnd8(mode);
                }
                rng_state = rng_state * 1664525u + 1013904223u;
                const int32_t group_shift = (int32_t)(rng_state % 27u) - 20;
                for (int32_t r = 0; r < 12; ++r) {
                    rng_state = rng_state * 1664525u + 1013904223u;
                    bias[r] = r < rows ? (int32_t)(rng_state >> 14) - (1 << 17) : 0;
                    mult[r] = (int32_t)((1u << 30) | (rng_state >> 2));
                    shift[r] = mode == 2 ? (int32_t)(rng_state % 27u) - 20 : group_shift;
                }
                const int32_t group_mult = mult[0];
                int64_t worst = 0;
                for (int32_t r = 0; r < rows; ++r) {
                    if (mode != 2) {
                        mult[r] = group_mult;
                    }
                    const int64_t bnd = bound(w + r * n, n, bias[r]) << ((shift[r] > 0 ? shift[r] : 0) + 1);
                    worst = bnd > worst ? bnd : worst;
                }
                const int32_t zp = mode == 1 ? -3 : 0;
                const ernn_fc_params rm = {w, bias, mult, shift, n, rows, zp, 0, 0, 0};
                CHECK_EQ(ernn_fc_s8_s16(&rm, x, want16), ERNN_OK);
                CHECK_EQ(ernn_fc_s8_s8(&rm, x, want8), ERNN_OK);
                pack(w, rows, n, packed);
                const int bounded = worst < ((int64_t)1 << 31) && zp == 0;
                checked_short += bounded;
                checked_general += !bounded;
                /* mode 2: per-row multipliers (group_rows 0); else one group for all rows */
                const ernn_fc_params pk = {packed, bias, mult, shift, n, rows, zp, ERNN_FC_PACK_K,
                                           mode == 2 ? 0 : ernn_round_up(rows, 4), bounded};
                CHECK(ernn_fc_s8_get_buffer_size(&pk) <= (int32_t)sizeof buffer);
                CHECK_EQ(ernn_fc_s8_s16_buffered(&pk, x, got16, buffer), ERNN_OK);
                CHECK_EQ(ernn_fc_s8_s8_buffered(&pk, x, got8, buffer), ERNN_OK);
                for (int32_t r = 0; r < rows; ++r) {
                    CHECK_EQ(got16[r], want16[r]);
                    CHECK_EQ(got8[r], want8[r]);
                }
                if (bounded && ERNN_FC_PACK_K == 4) { /* the doubled form: bias stored doubled, bounded 2 */
                    static int32_t bias2[12];
                    for (int32_t r = 0; r < 12; ++r) {
                        bias2[r] = 2 * bias[r];
                    }
                    const ernn_fc_params pk2 = {packed, bias2, mult, shift, n, rows, zp, ERNN_FC_PACK_K,
                                                mode == 2 ? 0 : ernn_round_up(rows, 4), 2};
                    CHECK_EQ(ernn_fc_s8_s16_buffered(&pk2, x, got16, buffer), ERNN_OK);
                    CHECK_EQ(ernn_fc_s8_s8_buffered(&pk2, x, got8, buffer), ERNN_OK);
                    for (int32_t r = 0; r < rows; ++r) {
                        CHECK_EQ(got16[r], want16[r]);
                        CHECK_EQ(got8[r], want8[r]);
                    }
                    checked_doubled += 1;
                }
            }
        }
    }
    CHECK(checked_short > 100 && checked_general > 100 && (ERNN_FC_PACK_K != 4 || checked_doubled > 100));
    {   /* a packed layer needs its buffer, and its packing must be this build's */
        const ernn_fc_params pk = {packed, bias, mult, shift, 3, 2, 0, ERNN_FC_PACK_K, 4, 1};
        CHECK_EQ(ernn_fc_s8_s16(&pk, x, got16), ERNN_ARG_ERROR);
        const ernn_fc_params other = {packed, bias, mult, shift, 3, 2, 0, ERNN_FC_PACK_K == 4 ? 16 : 4, 4, 1};
        CHECK_EQ(ernn_fc_s8_s16_buffered(&other, x, got16, buffer), ERNN_ARG_ERROR);
        /* the doubled form needs packing 4 (an int16 widened input) */
        const ernn_fc_params doubled16 = {packed, bias, mult, shift, 3, 2, 0, 16, 4, 2};
        CHECK_EQ(ernn_fc_s8_s16_buffered(&doubled16, x, got16, buffer), ERNN_ARG_ERROR);
    }
}

/*
 * A cell's gate layer through ernn_fc_s8_s16_into (the lean group loop and the DSP group kernel): four gate
 * blocks of `stride` rows, the first `added` blocks added to y with int16 saturation and activated (sigmoid,
 * tanh or none per block), the rest written to the tail; per-gate shifts from -20 to 3 (shift >= 0: the C form
 * beside the DSP kernel), bias stored as is (bounded 1) and doubled (bounded 2), against the general formulas.
 */
static void test_packed_gates(void)
{
    enum { GATES = 4, MAX_IN = 41, MAX_STRIDE = 12 };
    static int8_t w[GATES * MAX_STRIDE * MAX_IN], packed[GATES * MAX_STRIDE * 48], x[MAX_IN];
    static int32_t bias[GATES * MAX_STRIDE], bias2[GATES * MAX_STRIDE], mult[GATES], shift[GATES];
    static int16_t buffer[64];
    int16_t y[GATES * MAX_STRIDE], tail[GATES * MAX_STRIDE], want[GATES * MAX_STRIDE];
    int checked = 0;
    for (int32_t hidden = 1; hidden <= 9; hidden += 2) {
        const int32_t stride = ernn_round_up(hidden, 4), rows = GATES * stride;
        for (int32_t n = 1; n <= MAX_IN; n += 5) {
            for (int32_t added = 0; added <= GATES; added += 1) {
                for (int32_t o = 0; o < rows; ++o) {
                    for (int32_t i = 0; i < n; ++i) {
                        w[o * n + i] = (int8_t)(o % stride < hidden ? rnd8(0) / 4 : 0);
                    }
                    rng_state = rng_state * 1664525u + 1013904223u;
                    bias[o] = o % stride < hidden ? (int32_t)(rng_state >> 20) - (1 << 11) : 0;
                    bias2[o] = 2 * bias[o];
                }
                for (int32_t i = 0; i < n; ++i) {
                    x[i] = rnd8(0);
                }
                uint32_t acts = 0;
                for (int32_t g = 0; g < GATES; ++g) {
                    rng_state = rng_state * 1664525u + 1013904223u;
                    mult[g] = (int32_t)((1u << 30) | (rng_state >> 2));
                    shift[g] = (int32_t)(rng_state % 24u) - 20;
                    acts |= ((rng_state >> 8) % 3u) << (2 * g);
                }
                int64_t worst = 0;
                for (int32_t o = 0; o < rows; ++o) {
                    const int32_t sh = shift[o / stride];
                    const int64_t bnd = bound(w + o * n, n, bias[o]) << ((sh > 0 ? sh : 0) + 1);
                    worst = bnd > worst ? bnd : worst;
                }
                if (worst >= ((int64_t)1 << 31)) {
                    continue;
                }
                pack(w, rows, n, packed);
                for (int bounded = 1; bounded <= (ERNN_FC_PACK_K == 4 ? 2 : 1); ++bounded) {
                    for (int32_t o = 0; o < rows; ++o) {
                        rng_state = rng_state * 1664525u + 1013904223u;
                        y[o] = (int16_t)(rng_state >> 16);
                        const int32_t g = o / stride;
                        const ernn_rescale rs = {mult[g], shift[g]};
                        const int32_t v = ernn_requantize(bias[o] + naive_dot(w + o * n, n, x), rs, 0, INT16_MIN,
                                                          INT16_MAX);
                        want[o] = (int16_t)(g < added ? ernn_activate_q312((acts >> (2 * g)) & 3u,
                                                                           ernn_ssat16(y[o] + v))
                                                      : v);
                    }
                    const ernn_fc_params pk = {packed, bounded == 2 ? bias2 : bias, mult, shift, n, rows, 0,
                                               ERNN_FC_PACK_K, stride, bounded};
                    const ernn_fc_into into = {y, added * stride, tail, stride, acts};
                    CHECK_EQ(ernn_fc_s8_s16_into(&pk, x, into, buffer), ERNN_OK);
                    for (int32_t o = 0; o < rows; ++o) {
                        CHECK_EQ(o < added * stride ? y[o] : tail[o - added * stride], want[o]);
                    }
                    checked += 1;
                }
            }
        }
    }
    CHECK(checked > 100);
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
            const ernn_fc_params p = {w, bias, mult, shift, n, rows, 3, 0, 0, 0};
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
    test_packed_fc();
    test_packed_gates();
    test_fc_against_naive();
    test_srdhm();
}

#endif /* ERNN_TEST_PORTS_S8_H */
