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
