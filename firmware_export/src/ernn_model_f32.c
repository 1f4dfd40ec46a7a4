/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_model_f32.c
 * @brief Stacking, directions and output of a float32 model: the float cells, state and head for the
 *        driver in ernn_model_impl.h (shared with ernn_model_s8.c).
 */
#include <string.h>

#include "edgernn/ernn_f32.h"

/* Only the LSTM has a second (cell) state; the float GRU keeps its hidden state in h. */
static int has_state(const ernn_model_f32 *m)
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

static int cell_ok(const ernn_model_f32 *m, const ernn_cell_f32 *cell, int32_t in, int32_t gates)
{
    return cell->params.x_fc.in_features == in && cell->params.x_fc.out_features == gates * m->hidden_size &&
           cell->params.h_fc.in_features == m->hidden_size && cell->params.h_fc.out_features == gates * m->hidden_size;
}

static void zero_hidden(const ernn_cell_f32 *cell, float *h, int32_t n)
{
    (void)cell;
    for (int32_t i = 0; i < n; ++i) {
        h[i] = 0.0f;
    }
}

static int embedding_ok(const ernn_model_f32 *m)
{
    return m->vocab_size >= 1;
}

static int32_t vocab_size(const ernn_model_f32 *m)
{
    return m->vocab_size;
}

static const float *embedding_row(const ernn_model_f32 *m, int32_t token)
{
    return m->embedding + (size_t)token * (size_t)m->input_size;
}

static ernn_status head_fc(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *top, float *y)
{
    (void)mem;
    return ernn_fc_f32(m->head, top, y);
}

static int head_activated(const ernn_model_f32 *m)
{
    return m->head_relu || m->head_tanh;
}

/* Where the activated top values go before the head: scratch (2 * gates * hidden_size floats), unused between steps. */
static float *activation_buffer(const ernn_model_f32 *m, const ernn_model_f32_mem *mem)
{
    (void)m;
    return mem->scratch;
}

static void activate_values(const ernn_model_f32 *m, const float *in, float *out, int32_t n)
{
    if (m->head_tanh) {
        ernn_tanh_vec_f32(in, out, n);
        return;
    }
    for (int32_t j = 0; j < n; ++j) {
        out[j] = in[j] > 0.0f ? in[j] : 0.0f;
    }
}

/* In place, each row t of seq (steps x width) becomes the mean of rows 0..t. */
static void running_mean(const ernn_model_f32 *m, float *seq, int32_t steps, int32_t width)
{
    (void)m;
    for (int32_t j = 0; j < width; ++j) {
        float sum = 0.0f;
        for (int32_t t = 0; t < steps; ++t) {
            float *v = seq + (size_t)t * (size_t)width + (size_t)j;
            sum += *v;
            *v = sum / (float)(t + 1);
        }
    }
}

#define ERNN_MODEL ernn_model_f32
#define ERNN_MEM ernn_model_f32_mem
#define ERNN_VALUE float
#define ERNN_STATE float
#define ERNN_API(name) ernn_model_f32_##name
#define ERNN_MODEL_MAX_LAYERS 4 /* as the int8 path's ERNN_MAX_LAYERS */
#include "ernn_model_impl.h"

int32_t ernn_model_f32_get_buffer_size(const ernn_model_f32 *m)
{
    if (ernn_model_f32_check(m) != ERNN_OK) {
        return 0;
    }
    return 2 * ernn_cell_gates(m->cells[0].type) * m->hidden_size * (int32_t)sizeof(float);
}
