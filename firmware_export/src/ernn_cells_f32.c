/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_cells_f32.c
 * @brief float32 fully connected and Elman / GRU / LSTM steps (edgernn.floatmodel.float_cell_step).
 */
#include "edgernn/ernn_f32.h"
#include "ernn_internal.h"

ernn_status ernn_fc_f32(const ernn_fc_f32_params *p, const float *x, float *y)
{
    if (p == NULL || p->weight == NULL || p->bias == NULL || x == NULL || y == NULL || p->in_features < 1 ||
        p->out_features < 1) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t o = 0; o < p->out_features; ++o) {
        const float *w = p->weight + (size_t)o * (size_t)p->in_features;
        float acc = 0.0f;
        for (int32_t i = 0; i < p->in_features; ++i) {
            acc += w[i] * x[i];
        }
        y[o] = acc + p->bias[o];
    }
    return ERNN_OK;
}

static int32_t hidden_size(const ernn_cell_f32_params *p, int32_t gates)
{
    return ernn_cell_hidden_size(p->x_fc.out_features, p->h_fc.in_features, p->h_fc.out_features, gates);
}

int32_t ernn_cell_f32_get_buffer_size(const ernn_cell_f32_params *p, int32_t gates)
{
    return p == NULL ? 0 : 2 * gates * hidden_size(p, gates) * (int32_t)sizeof(float);
}

/* W_ih x + b_ih into scratch[0 .. G*H), W_hh h + b_hh into scratch[G*H .. 2*G*H); returns H or 0. */
static int32_t gate_inputs(const ernn_cell_f32_params *p, int32_t gates, const float *x, const float *h,
                           float *scratch)
{
    const int32_t n = p == NULL ? 0 : hidden_size(p, gates);
    if (n == 0 || x == NULL || h == NULL || scratch == NULL || ernn_fc_f32(&p->x_fc, x, scratch) != ERNN_OK ||
        ernn_fc_f32(&p->h_fc, h, scratch + gates * n) != ERNN_OK) {
        return 0;
    }
    return n;
}

ernn_status ernn_rnn_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch)
{
    const int32_t n = gate_inputs(p, 1, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t j = 0; j < n; ++j) {
        const float pre = scratch[j] + scratch[n + j];
        h[j] = p->relu ? (pre > 0.0f ? pre : 0.0f) : ernn_tanh_f32(pre);
    }
    return ERNN_OK;
}

ernn_status ernn_gru_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch)
{
    const int32_t n = gate_inputs(p, 3, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    const float *gx = scratch;
    const float *gh = scratch + 3 * n;
    for (int32_t j = 0; j < n; ++j) {
        const float r = ernn_sigmoid_f32(gx[j] + gh[j]);
        const float z = ernn_sigmoid_f32(gx[n + j] + gh[n + j]);
        const float cand = ernn_tanh_f32(gx[2 * n + j] + r * gh[2 * n + j]);
        h[j] = (1.0f - z) * cand + z * h[j];
    }
    return ERNN_OK;
}

ernn_status ernn_lstm_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *c, float *scratch)
{
    const int32_t n = c == NULL ? 0 : gate_inputs(p, 4, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    const float *gx = scratch;
    const float *gh = scratch + 4 * n;
    for (int32_t j = 0; j < n; ++j) {
        const float i = ernn_sigmoid_f32(gx[j] + gh[j]);
        const float f = ernn_sigmoid_f32(gx[n + j] + gh[n + j]);
        const float g = ernn_tanh_f32(gx[2 * n + j] + gh[2 * n + j]);
        const float o = ernn_sigmoid_f32(gx[3 * n + j] + gh[3 * n + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * ernn_tanh_f32(c[j]);
    }
    return ERNN_OK;
}
