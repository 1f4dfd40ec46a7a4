/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_kernels_s8.c
 * @brief int8 fully connected, embedding and cell steps: hand-computed values and argument checks;
 * the FC kernels (portable and the optimized port of this compiler) exactly (ernn_test_ports_s8.h).
 */
#include <string.h>

#include "edgernn/ernn_s8.h"
#include "ernn_test.h"
#include "ernn_test_ports_s8.h"

static const int32_t ONE_M[8] = {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30};
static const int32_t ONE_S[8] = {1, 1, 1, 1, 1, 1, 1, 1}; /* multiplier 0.5 * 2^1: identity */
static const int32_t ZERO32[8] = {0};
static const int8_t ZERO8[64] = {0};

static void test_fc(void)
{
    /* y = W x + b with the input zero point 2 folded into the bias: b' = b - 2 * rowsum(W) */
    static const int8_t w[2 * 3] = {1, 2, 3, -4, 5, -6};
    static const int32_t b[2] = {10 - 2 * 6, -7 - 2 * -5};
    static const int32_t m[2] = {1 << 30, 1 << 30};
    static const int32_t s[2] = {1, -1}; /* row 0: identity, row 1: / 4 */
    const ernn_fc_params p = {w, b, m, s, 3, 2, 5, 0, 0, 0};
    const int8_t x[3] = {3, -1, 4}; /* x - zp = 1, -3, 2 */
    int16_t y16[2];
    int8_t y8[2];
    CHECK_EQ(ernn_fc_s8_s16(&p, x, y16), ERNN_OK);
    CHECK_EQ(y16[0], 1 - 6 + 6 + 10 + 5);                 /* 16 */
    CHECK_EQ(y16[1], -10 + 5);                            /* (-4 - 15 - 12 - 7) / 4 = -9.5 -> -10, + 5 */
    CHECK_EQ(ernn_fc_s8_s8(&p, x, y8), ERNN_OK);
    CHECK_EQ(y8[0], y16[0]);
    CHECK_EQ(ernn_fc_s8_s16(NULL, x, y16), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_fc_s8_s16(&p, NULL, y16), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_fc_s8_s8(&p, x, NULL), ERNN_ARG_ERROR);
    {
        const ernn_fc_params bad = {w, b, m, s, 0, 2, 0, 0, 0, 0};
        CHECK_EQ(ernn_fc_s8_s16(&bad, x, y16), ERNN_ARG_ERROR);
    }
    {   /* saturation to int8 and int16 */
        static const int8_t big_w[4] = {127, 127, -128, -128};
        static const int32_t big_b[2] = {0, 0};
        static const int32_t big_s[2] = {30, 30};
        const ernn_fc_params big = {big_w, big_b, m, big_s, 2, 2, 0, 0, 0, 0};
        const int8_t xs[2] = {127, 127};
        CHECK_EQ(ernn_fc_s8_s16(&big, xs, y16), ERNN_OK);
        CHECK_EQ(y16[0], INT16_MAX);
        CHECK_EQ(y16[1], INT16_MIN);
        CHECK_EQ(ernn_fc_s8_s8(&big, xs, y8), ERNN_OK);
        CHECK_EQ(y8[0], INT8_MAX);
        CHECK_EQ(y8[1], INT8_MIN);
    }
}

static void test_embedding(void)
{
    static const int8_t table[3 * 2] = {1, 2, 3, 4, 5, 6};
    const ernn_embedding_s8_params p = {table, 3, 2};
    const int8_t *row = NULL;
    CHECK_EQ(ernn_embedding_s8(&p, 1, &row), ERNN_OK);
    CHECK(row == table + 2);
    CHECK_EQ(ernn_embedding_s8(&p, 3, &row), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_embedding_s8(&p, -1, &row), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_embedding_s8(NULL, 0, &row), ERNN_ARG_ERROR);
}

/* An FC with zero weights and bias: every gate pre-activation is 0. */
static ernn_fc_params zero_fc(int32_t in, int32_t out)
{
    const ernn_fc_params p = {ZERO8, ZERO32, ONE_M, ONE_S, in, out, 0, 0, 0, 0};
    return p;
}

static void test_rnn(void)
{
    const ernn_rnn_s8_params p = {zero_fc(2, 2), zero_fc(2, 2), {1 << 30, 1}, 3, 0};
    const int8_t x[2] = {100, -100};
    int8_t h[2] = {50, -50};
    int16_t scratch[8];
    CHECK_EQ(ernn_rnn_s8_get_buffer_size(&p), 4); /* the summed gate: 2 int16 */
    CHECK_EQ(ernn_rnn_step_s8(&p, x, h, scratch), ERNN_OK);
    CHECK_EQ(h[0], 3); /* tanh(0) = 0 -> the zero point */
    CHECK_EQ(h[1], 3);
    CHECK_EQ(ernn_rnn_step_s8(&p, x, h, NULL), ERNN_ARG_ERROR);
    {
        const ernn_rnn_s8_params bad = {zero_fc(2, 3), zero_fc(2, 2), {1 << 30, 1}, 3, 0};
        CHECK_EQ(ernn_rnn_step_s8(&bad, x, h, scratch), ERNN_ARG_ERROR);
        CHECK_EQ(ernn_rnn_s8_get_buffer_size(&bad), 0);
    }
}

static void test_gru(void)
{
    /* Zero weights: r = z = 0.5, n = 0, so h_q15' = round_away(h_q15 / 2) and h' = zp + h_q15'
     * with an identity to_hidden rescale. */
    const ernn_gru_s8_params p = {zero_fc(2, 6), zero_fc(2, 6), {1 << 30, 1}, {1 << 30, -14}, {1 << 30, 1}, 1};
    const int8_t x[2] = {7, 7};
    int8_t h[2] = {11, 12};
    int16_t h_q15[2] = {10, 11};
    int16_t scratch[12];
    CHECK_EQ(ernn_gru_s8_get_buffer_size(&p), 16); /* r, z summed, x_n, h_n: 4 x 2 int16 */
    CHECK_EQ(ernn_gru_step_s8(&p, x, h, h_q15, scratch), ERNN_OK);
    CHECK_EQ(h_q15[0], 5);
    CHECK_EQ(h_q15[1], 6); /* 11 / 2 = 5.5 rounds away from zero */
    CHECK_EQ(h[0], 1 + 5);
    CHECK_EQ(h[1], 1 + 6);
    /* The state is the int16 value: h_q15 = 1 halves to 1 (0.5 rounds away), so a state far
     * below one int8 step persists instead of being rounded away through the int8 tensor. */
    h_q15[0] = 1;
    CHECK_EQ(ernn_gru_step_s8(&p, x, h, h_q15, scratch), ERNN_OK);
    CHECK_EQ(h_q15[0], 1);
    CHECK_EQ(ernn_gru_step_s8(&p, NULL, h, h_q15, scratch), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_gru_step_s8(&p, x, h, NULL, scratch), ERNN_ARG_ERROR);
}

static void test_lstm(void)
{
    /* Zero weights: i = f = o = 0.5, g = 0: c' = round(c / 2), h' = zp + requant(0.5 * tanh(c')). */
    const ernn_lstm_s8_params p = {zero_fc(1, 4), zero_fc(1, 4), {1 << 30, -14}, {1 << 30, -14}, {1 << 30, -22},
                                   0, 0, -5, 0};
    const int8_t x[1] = {0};
    int8_t h[1] = {-5};
    int16_t c[1] = {4097};
    int16_t scratch[8];
    CHECK_EQ(ernn_lstm_s8_get_buffer_size(&p), 8); /* i, f, g, o summed: 4 int16 */
    CHECK_EQ(ernn_lstm_step_s8(&p, x, h, c, scratch), ERNN_OK);
    CHECK_EQ(c[0], 2049); /* 2048.5 rounds away from zero */
    /* tanh(2049 in Q3.12 = 0.5002) = 0.4623 -> 15149; 16384 * 15149 / 2^23 = 29.6 -> 30, + zp */
    CHECK_EQ(ernn_tanh_s16(2049, 0, 0), 15149);
    CHECK_EQ(h[0], -5 + 30);
    CHECK_EQ(ernn_lstm_step_s8(&p, x, h, NULL, scratch), ERNN_ARG_ERROR);
}

static void test_lstm_cell_clip(void)
{
    /* As test_lstm with cell_clip 1500: c' = round(c / 2) = +-2049 is clamped to +-1500 before tanh(c'). */
    const ernn_lstm_s8_params p = {zero_fc(1, 4), zero_fc(1, 4), {1 << 30, -14}, {1 << 30, -14}, {1 << 30, -22},
                                   0, 0, -5, 1500};
    const int8_t x[1] = {0};
    int8_t h[1] = {-5};
    int16_t c[1] = {4097};
    int16_t scratch[8];
    CHECK_EQ(ernn_lstm_step_s8(&p, x, h, c, scratch), ERNN_OK);
    CHECK_EQ(c[0], 1500);
    /* tanh(1500 in Q3.12) -> Q0.15, then 16384 * tanh / 2^23 rounded, + zp: the clipped c feeds h */
    CHECK_EQ(h[0], -5 + (int32_t)((16384 * (int32_t)ernn_tanh_s16(1500, 0, 0) + (1 << 22)) >> 23));
    c[0] = -4097;
    CHECK_EQ(ernn_lstm_step_s8(&p, x, h, c, scratch), ERNN_OK);
    CHECK_EQ(c[0], -1500);
}

/*
 * The LSTM step's short forms (the pairs and the hidden-state loop of the DSP build, the scalar loops
 * elsewhere) against the general formulas, free-running for 40 steps: hidden sizes 1..9 (odd ones leave
 * an element outside the pairs), cell-state TANH rescales of every kind (power of two, 3 >> 3, large
 * multipliers whose SMMULR form does not fit: the C fallback) and output shifts whose zero point does not
 * fit the rounding constant (the fallback again).
 */
static void test_lstm_forms(void)
{
    enum { N = 9, IN = 5 };
    static const int32_t tanh_params[][2] = {{0, 3}, {0, 0}, {3, 3}, {12345, 10}, {65535, 15}, {40000, 0}, {5, 17}};
    static const int32_t out_shifts[] = {-22, -25};
    static int8_t xw[4 * N * IN], hw[4 * N * N];
    static int32_t xb[4 * N], xm[4 * N], xs[4 * N], hm[4 * N], hs[4 * N];
    static const int32_t zero_b[4 * N] = {0};
    for (int32_t i = 0; i < 4 * N * IN; ++i) {
        xw[i] = rnd8(0);
    }
    for (int32_t i = 0; i < 4 * N * N; ++i) {
        hw[i] = rnd8(0);
    }
    for (int32_t o = 0; o < 4 * N; ++o) {
        rng_state = rng_state * 1664525u + 1013904223u;
        xb[o] = (int32_t)(rng_state >> 16) - 32768;
        xm[o] = hm[o] = 1 << 30;
        xs[o] = -4; /* Q3.12 gates over their whole range, some saturating */
        hs[o] = -5;
    }
    int32_t mismatches = 0;
    for (int32_t n = 1; n <= N; ++n) {
        for (size_t t = 0; t < sizeof tanh_params / sizeof tanh_params[0]; ++t) {
            for (size_t k = 0; k < sizeof out_shifts / sizeof out_shifts[0]; ++k) {
                const int32_t zp = k == 0 ? -6 : 127;
                const ernn_fc_params x_fc = {xw, xb, xm, xs, IN, 4 * n, 0, 0, 0, 0};
                const ernn_fc_params h_fc = {hw, zero_b, hm, hs, n, 4 * n, 0, 0, 0, 0};
                const ernn_lstm_s8_params p = {x_fc, h_fc, {1 << 30, -14}, {1 << 30, -17}, {1 << 30, out_shifts[k]},
                                               tanh_params[t][0], tanh_params[t][1], zp, 0};
                int8_t h[N], h_ref[N], x[IN];
                int16_t c[N], c_ref[N], scratch[8 * N + 64], gx[4 * N], gh[4 * N];
                for (int32_t j = 0; j < n; ++j) {
                    h[j] = h_ref[j] = (int8_t)zp;
                    c[j] = c_ref[j] = 0;
                }
                for (int32_t step = 0; step < 40; ++step) {
                    for (int32_t i = 0; i < IN; ++i) {
                        x[i] = rnd8(step % 7 == 0 ? 1 : 0);
                    }
                    CHECK_EQ(ernn_lstm_step_s8(&p, x, h, c, scratch), ERNN_OK);
                    CHECK_EQ(ernn_fc_s8_s16(&x_fc, x, gx), ERNN_OK);
                    CHECK_EQ(ernn_fc_s8_s16(&h_fc, h_ref, gh), ERNN_OK);
                    for (int32_t j = 0; j < n; ++j) {
                        int16_t g[4];
                        for (int32_t q = 0; q < 4; ++q) {
                            const int16_t sum = ernn_sat16((int32_t)gx[q * n + j] + gh[q * n + j]);
                            g[q] = q == 2 ? ernn_tanh_s16(sum, 0, 0) : ernn_sigmoid_s16(sum, 0, 0);
                        }
                        const int16_t c_new = ernn_sat16((int32_t)ernn_mul_s16(g[1], c_ref[j], p.forget_mul) +
                                                         ernn_mul_s16(g[0], g[2], p.input_mul));
                        const int16_t tc = ernn_tanh_s16(c_new, p.cell_tanh_multiplier, p.cell_tanh_shift);
                        c_ref[j] = c_new;
                        h_ref[j] = (int8_t)ernn_requantize((int32_t)g[3] * tc, p.output_mul, zp, INT8_MIN, INT8_MAX);
                    }
                    for (int32_t j = 0; j < n; ++j) {
                        mismatches += h[j] != h_ref[j] || c[j] != c_ref[j];
                    }
                }
            }
        }
    }
    CHECK_EQ(mismatches, 0);
}

int main(void)
{
    test_fc();
    test_embedding();
    test_rnn();
    test_gru();
    test_lstm();
    test_lstm_cell_clip();
    test_lstm_forms();
    test_ports();
    return ernn_test_report("test_kernels_s8");
}
