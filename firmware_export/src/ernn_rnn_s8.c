/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_rnn_s8.c
 * @brief int8 Elman RNN step (edgernn.reference.rnn_step).
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

static int32_t hidden_size(const ernn_rnn_s8_params *p)
{
    return ernn_cell_hidden_size_s8(&p->x_fc, &p->h_fc, 1);
}

int32_t ernn_rnn_s8_get_buffer_size(const ernn_rnn_s8_params *p)
{
    if (p == NULL || hidden_size(p) == 0) {
        return 0;
    }
    return ernn_cell_buffer_size(&p->x_fc, &p->h_fc, ernn_cell_rows(ERNN_CELL_RNN, &p->h_fc, hidden_size(p)));
}

ernn_status ernn_rnn_step_s8(const ernn_rnn_s8_params *p, const int8_t *x, int8_t *h, int16_t *scratch)
{
    if (p == NULL || x == NULL || h == NULL || scratch == NULL || hidden_size(p) == 0) {
        return ERNN_ARG_ERROR;
    }
    const int32_t n = hidden_size(p);
    const int32_t rows = ernn_cell_rows(ERNN_CELL_RNN, &p->h_fc, n);
    /* tanh(sat16(x_fc(x) + h_fc(h))), Q0.15; or (ReLU) the int16 sum itself */
    const uint32_t act = p->relu ? ERNN_ACT_NONE : ERNN_ACT_TANH;
    if (ernn_cell_fcs(&p->x_fc, &p->h_fc, x, h, scratch, rows, rows, act) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    /* ReLU: clamp below at the zero point (real 0) */
    const int32_t lo = p->relu ? p->hidden_zero_point : INT8_MIN;
    if (p->to_hidden.shift <= 14) { /* the short form for an int16 value (ernn_fast_any: |x| <= 2^15) */
        const ernn_fast_rescale hm = ernn_fast_of(p->to_hidden.multiplier, p->to_hidden.shift);
        for (int32_t j = 0; j < n; ++j) {
            const int32_t v = ernn_ssat8(ernn_fast_any(scratch[j], hm) + p->hidden_zero_point);
            h[j] = (int8_t)(v < lo ? lo : v);
        }
        return ERNN_OK;
    }
    for (int32_t j = 0; j < n; ++j) {
        h[j] = (int8_t)ernn_requantize(scratch[j], p->to_hidden, p->hidden_zero_point, lo, INT8_MAX);
    }
    return ERNN_OK;
}
