/**
 * @file ernn_model_f32.c
 * @brief Stacking, directions and output of a float32 model (mirrors ernn_model_s8.c).
 */
#include <string.h>

#include "edgernn/ernn_f32.h"

#define ERNN_F32_MAX_LAYERS 4

static int32_t num_cells(const ernn_model_f32 *m)
{
    return m->num_layers * m->num_directions;
}

static int32_t top_width(const ernn_model_f32 *m)
{
    return m->num_directions * m->hidden_size;
}

static int is_lstm(const ernn_model_f32 *m)
{
    return m->cells[0].type == ERNN_CELL_LSTM;
}

static ernn_status cell_step(const ernn_cell_f32 *cell, const float *x, float *h, float *c, float *scratch)
{
    switch (cell->type) {
    case ERNN_CELL_RNN:
        return ernn_rnn_step_f32(&cell->params, x, h, scratch);
    case ERNN_CELL_GRU:
        return ernn_gru_step_f32(&cell->params, x, h, scratch);
    case ERNN_CELL_LSTM:
        return ernn_lstm_step_f32(&cell->params, x, h, c, scratch);
    }
    return ERNN_ARG_ERROR;
}

int32_t ernn_model_f32_output_size(const ernn_model_f32 *m)
{
    if (m == NULL) {
        return 0;
    }
    return m->head != NULL ? m->head->out_features : top_width(m);
}

ernn_status ernn_model_f32_check(const ernn_model_f32 *m)
{
    if (m == NULL || m->cells == NULL || m->num_layers < 1 || m->num_layers > ERNN_F32_MAX_LAYERS ||
        m->num_directions < 1 || m->num_directions > 2 || m->hidden_size < 1 || m->input_size < 1) {
        return ERNN_ARG_ERROR;
    }
    const int32_t gates = ernn_cell_gates(m->cells[0].type);
    for (int32_t k = 0; k < num_cells(m); ++k) {
        const ernn_cell_f32 *cell = &m->cells[k];
        const int32_t in = k < m->num_directions ? m->input_size : top_width(m);
        if (cell->type != m->cells[0].type || cell->params.x_fc.in_features != in ||
            cell->params.x_fc.out_features != gates * m->hidden_size ||
            cell->params.h_fc.in_features != m->hidden_size ||
            cell->params.h_fc.out_features != gates * m->hidden_size) {
            return ERNN_ARG_ERROR;
        }
    }
    if (m->embedding != NULL && m->vocab_size < 1) {
        return ERNN_ARG_ERROR;
    }
    if (m->head != NULL && m->head->in_features != top_width(m)) {
        return ERNN_ARG_ERROR;
    }
    return ERNN_OK;
}

int32_t ernn_model_f32_get_state_size(const ernn_model_f32 *m)
{
    if (ernn_model_f32_check(m) != ERNN_OK) {
        return 0;
    }
    return num_cells(m) * m->hidden_size * (is_lstm(m) ? 2 : 1) * (int32_t)sizeof(float);
}

int32_t ernn_model_f32_get_buffer_size(const ernn_model_f32 *m)
{
    if (ernn_model_f32_check(m) != ERNN_OK) {
        return 0;
    }
    return 2 * ernn_cell_gates(m->cells[0].type) * m->hidden_size * (int32_t)sizeof(float);
}

int32_t ernn_model_f32_get_sequence_buffer_size(const ernn_model_f32 *m, int32_t steps)
{
    if (ernn_model_f32_check(m) != ERNN_OK || steps <= 0) {
        return 0;
    }
    const int64_t bytes = (int64_t)steps * top_width(m) * (m->num_layers > 1 ? 2 : 1) * (int64_t)sizeof(float);
    return bytes > INT32_MAX ? 0 : (int32_t)bytes;
}

static int mem_ok(const ernn_model_f32 *m, const ernn_model_f32_mem *mem)
{
    return mem != NULL && mem->hidden != NULL && mem->scratch != NULL && (mem->cell != NULL || !is_lstm(m));
}

static float *cell_state(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, int32_t k)
{
    return is_lstm(m) ? mem->cell + k * m->hidden_size : NULL;
}

ernn_status ernn_model_f32_reset(const ernn_model_f32 *m, const ernn_model_f32_mem *mem)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem)) {
        return ERNN_ARG_ERROR;
    }
    const int32_t values = num_cells(m) * m->hidden_size;
    for (int32_t i = 0; i < values; ++i) {
        mem->hidden[i] = 0.0f;
        if (is_lstm(m)) {
            mem->cell[i] = 0.0f;
        }
    }
    return ERNN_OK;
}

static ernn_status head_output(const ernn_model_f32 *m, const float *top, float *y)
{
    if (m->head != NULL) {
        return ernn_fc_f32(m->head, top, y);
    }
    memcpy(y, top, (size_t)top_width(m) * sizeof(float));
    return ERNN_OK;
}

static ernn_status step_layers(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *x, float *y)
{
    const float *in = x;
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        float *h = mem->hidden + layer * m->hidden_size;
        const ernn_status status = cell_step(&m->cells[layer], in, h, cell_state(m, mem, layer), mem->scratch);
        if (status != ERNN_OK) {
            return status;
        }
        in = h;
    }
    return head_output(m, in, y);
}

static ernn_status inputs_ok(const ernn_model_f32 *m, const float *xs, const int32_t *tokens, int32_t steps)
{
    if (steps < 1) {
        return ERNN_ARG_ERROR;
    }
    if (m->embedding == NULL) {
        return (xs != NULL && tokens == NULL) ? ERNN_OK : ERNN_ARG_ERROR;
    }
    if (xs != NULL || tokens == NULL) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t t = 0; t < steps; ++t) {
        if (tokens[t] < 0 || tokens[t] >= m->vocab_size) {
            return ERNN_ARG_ERROR;
        }
    }
    return ERNN_OK;
}

static const float *input_row(const ernn_model_f32 *m, const float *xs, const int32_t *tokens, int32_t t)
{
    if (m->embedding != NULL) {
        return m->embedding + (size_t)tokens[t] * (size_t)m->input_size;
    }
    return xs + (size_t)t * (size_t)m->input_size;
}

ernn_status ernn_model_f32_step(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *x, float *y)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem) || x == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1 || m->embedding != NULL) {
        return ERNN_UNSUPPORTED;
    }
    return step_layers(m, mem, x, y);
}

ernn_status ernn_model_f32_step_token(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, int32_t token,
                                      float *y)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1 || m->embedding == NULL) {
        return ERNN_UNSUPPORTED;
    }
    if (token < 0 || token >= m->vocab_size) {
        return ERNN_ARG_ERROR;
    }
    return step_layers(m, mem, m->embedding + (size_t)token * (size_t)m->input_size, y);
}

ernn_status ernn_model_f32_run(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *xs,
                               const int32_t *tokens, int32_t steps, float *ys)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL ||
        inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1) {
        return ERNN_UNSUPPORTED;
    }
    const size_t out = (size_t)ernn_model_f32_output_size(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = step_layers(m, mem, input_row(m, xs, tokens, t), ys + (size_t)t * out);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ernn_model_f32_run_sequence(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *xs,
                                        const int32_t *tokens, int32_t steps, float *ys, float *work)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL || work == NULL ||
        inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const size_t width = (size_t)top_width(m);
    const size_t hidden = (size_t)m->hidden_size;
    float *const buffers[2] = {work, work + (size_t)steps * width};
    const float *prev = NULL;
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        float *out = buffers[layer % 2];
        for (int32_t d = 0; d < m->num_directions; ++d) {
            const int32_t k = layer * m->num_directions + d;
            float *h = mem->hidden + (size_t)k * hidden;
            for (int32_t i = 0; i < steps; ++i) {
                const int32_t t = d == 0 ? i : steps - 1 - i;
                const float *in = layer == 0 ? input_row(m, xs, tokens, t) : prev + (size_t)t * width;
                const ernn_status status = cell_step(&m->cells[k], in, h, cell_state(m, mem, k), mem->scratch);
                if (status != ERNN_OK) {
                    return status;
                }
                memcpy(out + (size_t)t * width + (size_t)d * hidden, h, hidden * sizeof(float));
            }
        }
        prev = out;
    }
    const size_t out_size = (size_t)ernn_model_f32_output_size(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = head_output(m, prev + (size_t)t * width, ys + (size_t)t * out_size);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ernn_model_f32_final_output(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, float *y)
{
    if (ernn_model_f32_check(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    return head_output(m, mem->hidden + (size_t)(m->num_layers - 1) * (size_t)top_width(m), y);
}
