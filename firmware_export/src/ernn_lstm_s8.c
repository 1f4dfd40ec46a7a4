/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_lstm_s8.c
 * @brief int8 LSTM step, TFLite Micro's 8x8_16 scheme (edgernn.reference.lstm_step).
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

#if !defined(ERNN_PORTABLE) && defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_dot_s8_neon.h" /* ernn_lstm_fast_port */
#elif !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_dot_s8_x86.h" /* ernn_lstm_fast_port */
#endif

static int32_t hidden_size(const ernn_lstm_s8_params *p)
{
    return ernn_cell_hidden_size_s8(&p->x_fc, &p->h_fc, 4);
}

int32_t ernn_lstm_s8_get_buffer_size(const ernn_lstm_s8_params *p)
{
    if (p == NULL || hidden_size(p) == 0) {
        return 0;
    }
    return ernn_cell_buffer_size(&p->x_fc, &p->h_fc, ernn_cell_rows(ERNN_CELL_LSTM, &p->h_fc, hidden_size(p)));
}

/* The cell state's tanh input rescale, a power-of-two scale folded into the multiplier (ernn_lut_input). */
static inline void cell_tanh_rescale(const ernn_lstm_s8_params *p, int32_t *multiplier, int32_t *shift)
{
    *multiplier = p->cell_tanh_multiplier;
    *shift = p->cell_tanh_shift;
    if (*multiplier == 0) {
        *multiplier = 3 * ((int32_t)1 << *shift);
        *shift = 0;
    }
}

ernn_status ernn_lstm_step_s8(const ernn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                              int16_t *scratch)
{
    if (p == NULL || x == NULL || h == NULL || c == NULL || scratch == NULL || hidden_size(p) == 0) {
        return ERNN_ARG_ERROR;
    }
    const int32_t n = hidden_size(p);
    const int32_t stride = ernn_gate_stride(&p->h_fc, n);
    const int32_t rows = ernn_cell_rows(ERNN_CELL_LSTM, &p->h_fc, n);
    /* gates i, f, g, o (stride rows each): sigmoid or tanh of sat16(x_fc(x) + h_fc(h)), Q0.15 */
    const uint32_t acts = ERNN_ACT_SIGMOID | ERNN_ACT_SIGMOID << 2 | ERNN_ACT_TANH << 4 | ERNN_ACT_SIGMOID << 6;
    if (ernn_cell_fcs(&p->x_fc, &p->h_fc, x, h, scratch, rows, rows, acts) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const int16_t *gi = scratch, *gf = scratch + stride, *gg = scratch + 2 * stride, *go = scratch + 3 * stride;
    /* cell_clip: the clipped update runs the general loop below (the fast path and ports do not clip). */
    if (p->cell_clip == 0 && p->forget_mul.shift < 0 && p->input_mul.shift < 0 && p->output_mul.shift < 0) {
        /* The short requantization (ernn_fast_out: products of Q0.15 gates, shift < 0 so left = 1 and the
         * rounding shift is on) and the one-load tanh (ernn_lut_s16.h): the same integers as the general
         * form below. Two light loops (cell state, then hidden state) keep every value in a register. */
        const ernn_fast_rescale fm = ernn_fast_of(p->forget_mul.multiplier, p->forget_mul.shift);
        const ernn_fast_rescale im = ernn_fast_of(p->input_mul.multiplier, p->input_mul.shift);
        int32_t tanh_multiplier, tanh_shift;
        int32_t done = 0; /* units a port did (c and h, the same integers), the loops below do the rest */
#if defined(ERNN_PORT_LSTM_FAST)
        cell_tanh_rescale(p, &tanh_multiplier, &tanh_shift);
        done = ernn_lstm_fast_port(gi, gf, gg, go, c, h, n, p->forget_mul.multiplier, -p->forget_mul.shift,
                                   p->input_mul.multiplier, -p->input_mul.shift, tanh_multiplier, tanh_shift,
                                   p->output_mul.multiplier, -p->output_mul.shift, p->hidden_zero_point);
#endif
        for (int32_t j = done; j < n; ++j) {
            c[j] = (int16_t)ernn_ssat16(ernn_ssat16(ernn_fast_out(gf[j] * c[j], fm, 1)) +
                                        ernn_ssat16(ernn_fast_out(gi[j] * gg[j], im, 1)));
        }
        cell_tanh_rescale(p, &tanh_multiplier, &tanh_shift); /* after the loop: fewer registers live in it */
        const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
        const ernn_fast_rescale om = ernn_fast_of(p->output_mul.multiplier, p->output_mul.shift);
        const int32_t zp = p->hidden_zero_point;
        const int16_t *cj = c + done;
        go += done;
        for (int8_t *hj = h + done; hj != h + n; ++hj, ++cj, ++go) {
            const int32_t tanh_c = ernn_tanh_lut((*cj * tanh_multiplier + tanh_round) >> tanh_shift);
            *hj = (int8_t)ernn_ssat8(ernn_fast_out(*go * tanh_c, om, 1) + zp);
        }
        return ERNN_OK;
    }
    for (int32_t j = 0; j < n; ++j) { /* the general requantization (the gates are activated above) */
        const int16_t i = gi[j], f = gf[j], g = gg[j], o = go[j];
        int16_t c_new = ernn_sat16((int32_t)ernn_mul_s16(f, c[j], p->forget_mul) + ernn_mul_s16(i, g, p->input_mul));
        if (p->cell_clip > 0) { /* TFLite's cell clip: after the saturating add, before tanh(c) */
            c_new = (int16_t)(c_new > p->cell_clip ? p->cell_clip : (c_new < -p->cell_clip ? -p->cell_clip : c_new));
        }
        const int16_t tanh_c = ernn_tanh_s16(c_new, p->cell_tanh_multiplier, p->cell_tanh_shift);
        c[j] = c_new;
        h[j] = (int8_t)ernn_requantize((int32_t)o * tanh_c, p->output_mul, p->hidden_zero_point, INT8_MIN, INT8_MAX);
    }
    return ERNN_OK;
}
