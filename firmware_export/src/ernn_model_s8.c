/**
 * @file ernn_model_s8.c
 * @brief Stacking, directions and output of an int8 model (edgernn.engine, in C).
 */
#include <string.h>

#include "edgernn/ernn_model_s8.h"
#include "ernn_internal.h"

static int32_t num_cells(const ernn_model_s8 *m)
{
    return m->num_layers * m->num_directions;
}

static int32_t top_width(const ernn_model_s8 *m)
{
    return m->num_directions * m->hidden_size;
}

/* GRU and LSTM carry an int16 state beside the int8 hidden state (Q0.15 hidden, cell). */
static int has_int16_state(const ernn_model_s8 *m)
{
    return m->cells[0].type != ERNN_CELL_RNN;
}

/* The FC pair of a cell, whatever its type. */
static const ernn_fc_params *cell_fc(const ernn_cell_s8 *cell, int recurrent)
{
    switch (cell->type) {
    case ERNN_CELL_RNN:
        return recurrent ? &cell->params.rnn.h_fc : &cell->params.rnn.x_fc;
    case ERNN_CELL_GRU:
        return recurrent ? &cell->params.gru.h_fc : &cell->params.gru.x_fc;
    case ERNN_CELL_LSTM:
        return recurrent ? &cell->params.lstm.h_fc : &cell->params.lstm.x_fc;
    }
    return NULL;
}

static int32_t cell_zero_point(const ernn_cell_s8 *cell)
{
    switch (cell->type) {
    case ERNN_CELL_RNN:
        return cell->params.rnn.hidden_zero_point;
    case ERNN_CELL_GRU:
        return cell->params.gru.hidden_zero_point;
    case ERNN_CELL_LSTM:
        return cell->params.lstm.hidden_zero_point;
    }
    return 0;
}

static ernn_status cell_step(const ernn_cell_s8 *cell, const int8_t *x, int8_t *h, int16_t *c, int16_t *scratch)
{
    switch (cell->type) {
    case ERNN_CELL_RNN:
        return ernn_rnn_step_s8(&cell->params.rnn, x, h, scratch);
    case ERNN_CELL_GRU:
        return ernn_gru_step_s8(&cell->params.gru, x, h, c, scratch);
    case ERNN_CELL_LSTM:
        return ernn_lstm_step_s8(&cell->params.lstm, x, h, c, scratch);
    }
    return ERNN_ARG_ERROR;
}

int32_t ernn_model_s8_output_size(const ernn_model_s8 *m)
{
    if (m == NULL) {
        return 0;
    }
    return m->head != NULL ? m->head->out_features : top_width(m);
}

int32_t ernn_model_s8_get_state_size(const ernn_model_s8 *m)
{
    if (ernn_model_s8_check(m) != ERNN_OK) {
        return 0;
    }
    const int32_t values = num_cells(m) * m->hidden_size;
    return values * (int32_t)(sizeof(int8_t) + (has_int16_state(m) ? sizeof(int16_t) : 0u));
}

int32_t ernn_model_s8_get_buffer_size(const ernn_model_s8 *m)
{
    if (ernn_model_s8_check(m) != ERNN_OK) {
        return 0;
    }
    /* The gate pre-activations of one cell, then the widened input the FCs share (the widest of all). */
    int32_t widened = ernn_fc_s8_get_buffer_size(m->head);
    for (int32_t k = 0; k < num_cells(m); ++k) {
        for (int recurrent = 0; recurrent < 2; ++recurrent) {
            const int32_t b = ernn_fc_s8_get_buffer_size(cell_fc(&m->cells[k], recurrent));
            widened = b > widened ? b : widened;
        }
    }
    return ernn_cell_rows(m->cells[0].type, cell_fc(&m->cells[0], 1), m->hidden_size) * (int32_t)sizeof(int16_t) +
           widened;
}

int32_t ernn_model_s8_get_sequence_buffer_size(const ernn_model_s8 *m, int32_t steps)
{
    if (ernn_model_s8_check(m) != ERNN_OK || steps <= 0) {
        return 0;
    }
    const int64_t bytes = (int64_t)steps * top_width(m) * (m->num_layers > 1 ? 2 : 1);
    return bytes > INT32_MAX ? 0 : (int32_t)bytes;
}

ernn_status ernn_model_s8_check(const ernn_model_s8 *m)
{
    if (m == NULL || m->cells == NULL || m->num_layers < 1 || m->num_layers > ERNN_MAX_LAYERS ||
        m->num_directions < 1 || m->num_directions > 2 || m->hidden_size < 1 || m->input_size < 1) {
        return ERNN_ARG_ERROR;
    }
    const int32_t gates = ernn_cell_gates(m->cells[0].type);
    for (int32_t k = 0; k < num_cells(m); ++k) {
        const ernn_cell_s8 *cell = &m->cells[k];
        const int32_t in = k < m->num_directions ? m->input_size : top_width(m);
        const ernn_fc_params *x_fc = cell_fc(cell, 0);
        const ernn_fc_params *h_fc = cell_fc(cell, 1);
        if (cell->type != m->cells[0].type || x_fc == NULL || h_fc == NULL || x_fc->in_features != in ||
            h_fc->in_features != m->hidden_size || ernn_cell_hidden_size_s8(x_fc, h_fc, gates) != m->hidden_size) {
            return ERNN_ARG_ERROR;
        }
    }
    if (m->embedding != NULL &&
        (m->embedding->table == NULL || m->embedding->vocab_size < 1 || m->embedding->dim != m->input_size)) {
        return ERNN_ARG_ERROR;
    }
    if (m->head != NULL && m->head->in_features != top_width(m)) {
        return ERNN_ARG_ERROR;
    }
    return ERNN_OK;
}

static int mem_ok(const ernn_model_s8 *m, const ernn_model_s8_mem *mem)
{
    return mem != NULL && mem->hidden != NULL && mem->scratch != NULL && (mem->cell != NULL || !has_int16_state(m));
}

static int16_t *cell_state(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t k)
{
    return has_int16_state(m) ? mem->cell + k * m->hidden_size : NULL;
}

ernn_status ernn_model_s8_reset(const ernn_model_s8 *m, const ernn_model_s8_mem *mem)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem)) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t k = 0; k < num_cells(m); ++k) {
        memset(mem->hidden + k * m->hidden_size, cell_zero_point(&m->cells[k]), (size_t)m->hidden_size);
        if (has_int16_state(m)) {
            memset(cell_state(m, mem, k), 0, (size_t)m->hidden_size * sizeof(int16_t));
        }
    }
    return ERNN_OK;
}

/* The head on the top layer's hidden values (or a copy of them when there is no head). */
static ernn_status head_output(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *top, int8_t *y)
{
    if (m->head != NULL) {
        return ernn_fc_s8_s8_buffered(m->head, top, y, mem->scratch);
    }
    memcpy(y, top, (size_t)top_width(m));
    return ERNN_OK;
}

/* One step through the stack of a unidirectional model; the state is updated in place. */
static ernn_status step_layers(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int8_t *y)
{
    const int8_t *in = x;
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        int8_t *h = mem->hidden + layer * m->hidden_size;
        const ernn_status status = cell_step(&m->cells[layer], in, h, cell_state(m, mem, layer), mem->scratch);
        if (status != ERNN_OK) {
            return status;
        }
        in = h;
    }
    return head_output(m, mem, in, y);
}

/* Validate a sequence's input: features exactly for feature models, in-range tokens for token models. */
static ernn_status inputs_ok(const ernn_model_s8 *m, const int8_t *xs, const int32_t *tokens, int32_t steps)
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
        if (tokens[t] < 0 || tokens[t] >= m->embedding->vocab_size) {
            return ERNN_ARG_ERROR;
        }
    }
    return ERNN_OK;
}

/* Layer 0's input at step t (inputs already validated). */
static const int8_t *input_row(const ernn_model_s8 *m, const int8_t *xs, const int32_t *tokens, int32_t t)
{
    if (m->embedding != NULL) {
        return m->embedding->table + (size_t)tokens[t] * (size_t)m->embedding->dim;
    }
    return xs + (size_t)t * (size_t)m->input_size;
}

ernn_status ernn_model_s8_step(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int8_t *y)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem) || x == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1 || m->embedding != NULL) {
        return ERNN_UNSUPPORTED;
    }
    return step_layers(m, mem, x, y);
}

ernn_status ernn_model_s8_step_token(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t token,
                                     int8_t *y)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1 || m->embedding == NULL) {
        return ERNN_UNSUPPORTED;
    }
    const int8_t *row = NULL;
    const ernn_status status = ernn_embedding_s8(m->embedding, token, &row);
    return status != ERNN_OK ? status : step_layers(m, mem, row, y);
}

ernn_status ernn_model_s8_run(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                              const int32_t *tokens, int32_t steps, int8_t *ys)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL || inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    if (m->num_directions != 1) {
        return ERNN_UNSUPPORTED;
    }
    const int32_t out = ernn_model_s8_output_size(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = step_layers(m, mem, input_row(m, xs, tokens, t), ys + (size_t)t * (size_t)out);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ernn_model_s8_run_sequence(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                       const int32_t *tokens, int32_t steps, int8_t *ys, int8_t *work)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL || work == NULL || inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const size_t width = (size_t)top_width(m);
    const size_t hidden = (size_t)m->hidden_size;
    int8_t *const buffers[2] = {work, work + (size_t)steps * width};
    const int8_t *prev = NULL; /* the previous layer's outputs, steps * width */
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        int8_t *out = buffers[layer % 2];
        for (int32_t d = 0; d < m->num_directions; ++d) {
            const int32_t k = layer * m->num_directions + d;
            int8_t *h = mem->hidden + (size_t)k * hidden;
            for (int32_t i = 0; i < steps; ++i) {
                const int32_t t = d == 0 ? i : steps - 1 - i;
                const int8_t *in = layer == 0 ? input_row(m, xs, tokens, t) : prev + (size_t)t * width;
                const ernn_status status = cell_step(&m->cells[k], in, h, cell_state(m, mem, k), mem->scratch);
                if (status != ERNN_OK) {
                    return status;
                }
                memcpy(out + (size_t)t * width + (size_t)d * hidden, h, hidden);
            }
        }
        prev = out;
    }
    const size_t out_size = (size_t)ernn_model_s8_output_size(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = head_output(m, mem, prev + (size_t)t * width, ys + (size_t)t * out_size);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ernn_model_s8_final_output(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int8_t *y)
{
    if (ernn_model_s8_check(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    return head_output(m, mem, mem->hidden + (size_t)(m->num_layers - 1) * (size_t)top_width(m), y);
}
