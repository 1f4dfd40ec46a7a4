/**
 * @file ernn_lstm_s8.c
 * @brief int8 LSTM step, TFLite Micro's 8x8_16 scheme (edgernn.reference.lstm_step).
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

static int32_t hidden_size(const ernn_lstm_s8_params *p)
{
    return ernn_cell_hidden_size_s8(&p->x_fc, &p->h_fc, 4);
}

int32_t ernn_lstm_s8_get_buffer_size(const ernn_lstm_s8_params *p)
{
    return p == NULL || hidden_size(p) == 0 ? 0 : ernn_cell_buffer_size(&p->x_fc, &p->h_fc, 4, hidden_size(p));
}

static int16_t gate(const int16_t *gx, const int16_t *gh, int32_t k)
{
    return ernn_sat16((int32_t)gx[k] + gh[k]);
}

ernn_status ernn_lstm_step_s8(const ernn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                              int16_t *scratch)
{
    if (p == NULL || x == NULL || h == NULL || c == NULL || scratch == NULL || hidden_size(p) == 0) {
        return ERNN_ARG_ERROR;
    }
    const int32_t n = hidden_size(p);
    const int32_t stride = ernn_gate_stride(&p->h_fc, n);
    int16_t *gx = scratch;              /* x_i, x_f, x_g, x_o (stride rows each) */
    int16_t *gh = scratch + 4 * stride; /* h_i, h_f, h_g, h_o */
    if (ernn_cell_fcs(&p->x_fc, &p->h_fc, x, h, scratch) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const ernn_fast_rescale fm = ernn_fast_of(p->forget_mul.multiplier, p->forget_mul.shift);
    const ernn_fast_rescale im = ernn_fast_of(p->input_mul.multiplier, p->input_mul.shift);
    const ernn_fast_rescale om = ernn_fast_of(p->output_mul.multiplier, p->output_mul.shift);
    if (p->forget_mul.shift <= 0 && p->input_mul.shift <= 0 && p->output_mul.shift <= 0) {
        /* The short requantization (ernn_fast_any: products of Q0.15 gates, shift <= 0) and the
         * one-load activations (ernn_lut_s16.h): the same integers as the general form below. */
        int32_t tanh_multiplier = p->cell_tanh_multiplier, tanh_shift = p->cell_tanh_shift;
        if (tanh_multiplier == 0) {
            tanh_multiplier = 3 * ((int32_t)1 << tanh_shift);
            tanh_shift = 0;
        }
        const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
        const int32_t zp = p->hidden_zero_point;
        const int16_t *ghf = gh + stride, *ghg = gh + 2 * stride, *gho = gh + 3 * stride;
        const int16_t *gxf = gx + stride, *gxg = gx + 2 * stride, *gxo = gx + 3 * stride;
        for (int32_t j = 0; j < n; ++j) {
            const int32_t i = ernn_sigmoid_q312(ernn_ssat16(gx[j] + gh[j]));
            const int32_t f = ernn_sigmoid_q312(ernn_ssat16(gxf[j] + ghf[j]));
            const int32_t g = ernn_tanh_q312(ernn_ssat16(gxg[j] + ghg[j]));
            const int32_t o = ernn_sigmoid_q312(ernn_ssat16(gxo[j] + gho[j]));
            const int32_t c_new = ernn_ssat16(ernn_ssat16(ernn_fast_any(f * c[j], fm)) +
                                              ernn_ssat16(ernn_fast_any(i * g, im)));
            const int32_t tanh_c = ernn_tanh_lut((c_new * tanh_multiplier + tanh_round) >> tanh_shift);
            c[j] = (int16_t)c_new;
            h[j] = (int8_t)ernn_ssat8(ernn_fast_any(o * tanh_c, om) + zp);
        }
        return ERNN_OK;
    }
    for (int32_t j = 0; j < n; ++j) {
        const int16_t i = ernn_sigmoid_s16(gate(gx, gh, j), 0, 0);
        const int16_t f = ernn_sigmoid_s16(gate(gx, gh, stride + j), 0, 0);
        const int16_t g = ernn_tanh_s16(gate(gx, gh, 2 * stride + j), 0, 0);
        const int16_t o = ernn_sigmoid_s16(gate(gx, gh, 3 * stride + j), 0, 0);
        const int16_t c_new = ernn_sat16((int32_t)ernn_mul_s16(f, c[j], p->forget_mul) + ernn_mul_s16(i, g, p->input_mul));
        const int16_t tanh_c = ernn_tanh_s16(c_new, p->cell_tanh_multiplier, p->cell_tanh_shift);
        c[j] = c_new;
        h[j] = (int8_t)ernn_requantize((int32_t)o * tanh_c, p->output_mul, p->hidden_zero_point, INT8_MIN, INT8_MAX);
    }
    return ERNN_OK;
}
