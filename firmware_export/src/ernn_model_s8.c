/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_model_s8.c
 * @brief Stacking, directions and output of an int8 model (edgernn.engine, in C): the int8 cells,
 *        state and head for the driver in ernn_model_impl.h.
 */
#include <string.h>

#include "edgernn/ernn_model_s8.h"
#include "ernn_internal.h"

/* GRU and LSTM carry an int16 state beside the int8 hidden state (Q0.15 hidden, cell). */
static int has_state(const ernn_model_s8 *m)
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

/* Zero is the hidden quantization's zero point. */
static void zero_hidden(const ernn_cell_s8 *cell, int8_t *h, int32_t n)
{
    int32_t zero_point = 0;
    switch (cell->type) {
    case ERNN_CELL_RNN:
        zero_point = cell->params.rnn.hidden_zero_point;
        break;
    case ERNN_CELL_GRU:
        zero_point = cell->params.gru.hidden_zero_point;
        break;
    case ERNN_CELL_LSTM:
        zero_point = cell->params.lstm.hidden_zero_point;
        break;
    }
    memset(h, zero_point, (size_t)n);
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

/* The width of a model's input values: 1 for int8 (input_bits 0 or 8), 2 for int16 (16), 0 for anything else. */
static int32_t input_span(int32_t input_bits)
{
    return (input_bits == 0 || input_bits == 8) ? 1 : (input_bits == 16 ? 2 : 0);
}

/* ... and of an FC's input: 2 for a 16x8 layer (ERNN_FC_INPUT_S16), else 1. */
static int32_t fc_input_span(const ernn_fc_params *fc)
{
    return fc->bounded == ERNN_FC_INPUT_S16 ? 2 : 1;
}

static int cell_ok(const ernn_model_s8 *m, const ernn_cell_s8 *cell, int32_t in, int32_t gates)
{
    const ernn_fc_params *x_fc = cell_fc(cell, 0);
    const ernn_fc_params *h_fc = cell_fc(cell, 1);
    /* Only layer 0's cells read the model's input: int16 exactly when the model's input is (input_bits). */
    const int32_t x_span = cell - m->cells < m->num_directions ? input_span(m->input_bits) : 1;
    return x_fc != NULL && h_fc != NULL && x_fc->in_features == in && h_fc->in_features == m->hidden_size &&
           ernn_cell_hidden_size_s8(x_fc, h_fc, gates) == m->hidden_size && x_span != 0 &&
           fc_input_span(x_fc) == x_span && fc_input_span(h_fc) == 1;
}

static int embedding_ok(const ernn_model_s8 *m)
{
    return m->input_bits != 16 && m->embedding->table != NULL && m->embedding->vocab_size >= 1 &&
           m->embedding->dim == m->input_size;
}

static int32_t vocab_size(const ernn_model_s8 *m)
{
    return m->embedding->vocab_size;
}

static const int8_t *embedding_row(const ernn_model_s8 *m, int32_t token)
{
    return m->embedding->table + (size_t)token * (size_t)m->embedding->dim;
}

static int head_activated(const ernn_model_s8 *m)
{
    return m->head_relu || m->head_tanh;
}

/* The head is packed for the core like the cells' FCs: its widened input goes into scratch. */
static ernn_status head_fc(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *top, int8_t *y)
{
    if (head_activated(m)) {
        /* top is activation_buffer (the gate rows of scratch): the head's widened input goes after them */
        const int32_t rows = ernn_cell_rows(m->cells[0].type, cell_fc(&m->cells[0], 1), m->hidden_size);
        return ernn_fc_s8_s8_buffered(m->head, top, y, mem->scratch + rows);
    }
    return ernn_fc_s8_s8_buffered(m->head, top, y, mem->scratch);
}

/* Where the activated top values go before the head: the gate rows of scratch (int16 per gate row, so at
 * least 2 * hidden_size bytes >= the top width), unused between cell steps. */
static int8_t *activation_buffer(const ernn_model_s8 *m, const ernn_model_s8_mem *mem)
{
    (void)m;
    return (int8_t *)mem->scratch;
}

/* ReLU: max(h, top_zero_point). tanh: edgernn.reference.cells.head_activation (int8 -> Q3.12 -> Q0.15 -> int8). */
static void activate_values(const ernn_model_s8 *m, const int8_t *in, int8_t *out, int32_t n)
{
    const int8_t zero = (int8_t)m->top_zero_point;
    if (m->head_tanh) {
        for (int32_t j = 0; j < n; ++j) {
            const int32_t q312 = ernn_requantize(in[j] - zero, m->head_to_q312, 0, INT16_MIN, INT16_MAX);
            const int16_t t = ernn_tanh_s16((int16_t)q312, 0, 0);
            out[j] = (int8_t)ernn_requantize(t, m->head_to_int8, m->head_tanh_zero_point, INT8_MIN, INT8_MAX);
        }
        return;
    }
    for (int32_t j = 0; j < n; ++j) {
        out[j] = in[j] < zero ? zero : in[j];
    }
}

/* In place, each row t of seq (steps x width) becomes the mean of rows 0..t (edgernn.reference.running_mean):
 * zero_point + round_half_away(sum(h - zero_point) / (t + 1)), the sum exact in int32 (|h - zp| <= 255). */
static void running_mean(const ernn_model_s8 *m, int8_t *seq, int32_t steps, int32_t width)
{
    const int32_t zp = m->top_zero_point;
    for (int32_t j = 0; j < width; ++j) {
        int32_t sum = 0;
        for (int32_t t = 0; t < steps; ++t) {
            int8_t *v = seq + (size_t)t * (size_t)width + (size_t)j;
            sum += *v - zp;
            const int32_t n = t + 1;
            const int32_t magnitude = (2 * (sum < 0 ? -sum : sum) + n) / (2 * n);
            *v = (int8_t)(zp + (sum < 0 ? -magnitude : magnitude));
        }
    }
}

#define ERNN_MODEL ernn_model_s8
#define ERNN_MEM ernn_model_s8_mem
#define ERNN_VALUE int8_t
#define ERNN_STATE int16_t
/* The shared driver runs every model as if it had no int16 head (head_s16): its functions are this file's
 * any_* ones, and the public API below adds the int16 head around them (its outputs are int8 top values). */
#define ERNN_API(name) ernn_model_s8_any_##name
#define ERNN_MODEL_MAX_LAYERS ERNN_MAX_LAYERS
#define ERNN_INPUT_SPAN(m) ((m)->input_bits == 16 ? 2 : 1) /* a 16-bit input's int16_t values, as int8_t bytes */
#include "ernn_model_impl.h"

/* Declarations of the driver's functions (they are external: the driver defines them so). */
int32_t ernn_model_s8_any_output_size(const ernn_model_s8 *m);
ernn_status ernn_model_s8_any_check(const ernn_model_s8 *m);
int32_t ernn_model_s8_any_get_state_size(const ernn_model_s8 *m);
int32_t ernn_model_s8_any_get_sequence_buffer_size(const ernn_model_s8 *m, int32_t steps);
ernn_status ernn_model_s8_any_reset(const ernn_model_s8 *m, const ernn_model_s8_mem *mem);

static int int16_head(const ernn_model_s8 *m)
{
    return m != NULL && m->head_s16 != NULL;
}

int32_t ernn_model_s8_output_size(const ernn_model_s8 *m)
{
    return int16_head(m) ? m->head_s16->out_features : ernn_model_s8_any_output_size(m);
}

ernn_status ernn_model_s8_check(const ernn_model_s8 *m)
{
    const ernn_status status = ernn_model_s8_any_check(m);
    if (status != ERNN_OK || !int16_head(m)) {
        return status;
    }
    /* One head: head_s16 replaces head. */
    return m->head == NULL && m->head_s16->in_features == top_width(m) ? ERNN_OK : ERNN_ARG_ERROR;
}

int32_t ernn_model_s8_get_state_size(const ernn_model_s8 *m)
{
    return ernn_model_s8_check(m) == ERNN_OK ? ernn_model_s8_any_get_state_size(m) : 0;
}

int32_t ernn_model_s8_get_sequence_buffer_size(const ernn_model_s8 *m, int32_t steps)
{
    if (ernn_model_s8_check(m) != ERNN_OK) {
        return 0;
    }
    const int32_t bytes = ernn_model_s8_any_get_sequence_buffer_size(m, steps);
    if (!int16_head(m) || bytes == 0) {
        return bytes;
    }
    /* run_sequence_s16 puts the steps * top_width int8 top values after the driver's own work. */
    const int64_t total = (int64_t)bytes + (int64_t)steps * top_width(m);
    return total > INT32_MAX ? 0 : (int32_t)total;
}

ernn_status ernn_model_s8_reset(const ernn_model_s8 *m, const ernn_model_s8_mem *mem)
{
    return ernn_model_s8_check(m) == ERNN_OK ? ernn_model_s8_any_reset(m, mem) : ERNN_ARG_ERROR;
}

static int int16_input(const ernn_model_s8 *m)
{
    return m != NULL && m->input_bits == 16;
}

/* The int8-output functions: not for a model whose outputs are int16. The int8-input ones (features): not
 * for a model with a 16-bit input (the *_x16 functions below). */
#define ERNN_INT8_OUTPUT_ONLY(m)                                                                                      \
    do {                                                                                                              \
        if (int16_head(m)) {                                                                                          \
            return ERNN_UNSUPPORTED;                                                                                  \
        }                                                                                                             \
    } while (0)
#define ERNN_INPUT_BITS_ONLY(m, bits)                                                                                 \
    do {                                                                                                              \
        if ((m) != NULL && int16_input(m) != ((bits) == 16)) {                                                        \
            return ERNN_UNSUPPORTED;                                                                                  \
        }                                                                                                             \
    } while (0)

ernn_status ernn_model_s8_step(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int8_t *y)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 8);
    return ernn_model_s8_any_step(m, mem, x, y);
}

ernn_status ernn_model_s8_step_token(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t token, int8_t *y)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    return ernn_model_s8_any_step_token(m, mem, token, y);
}

#if defined(ERNN_LSTM_RUN) || defined(ERNN_GRU_RUN)
/* The block paths' sequence buffer: ERNN_RUN_STEPS steps of the largest hidden size (more of smaller ones). */
#define ERNN_RUN_STEPS 32
#define ERNN_RUN_MAX_HIDDEN 256

/* Calls of fewer steps take the per-step path: the block path's setup per call (rows in lanes, adjusted
 * biases) cost more than it saved below about 10 steps (GRU 32/32, 64/64, 16-128 on AVX-512 VNNI, interleaved
 * A/B of calls of 1..16 steps; a one-step LSTM 64/64 call took 1.37 us through it, 0.52 us for the GRU
 * without); a step of the compiled Python fast path is a call of one step. */
#define ERNN_RUN_MIN_STEPS 12

/* 1 if the cell's block path (ernn_lstm_run_s8, ernn_gru_run_s8) takes a call of `steps` steps. */
static int cell_run_ok(const ernn_cell_s8 *cell, int32_t steps)
{
    if (steps < ERNN_RUN_MIN_STEPS) {
        return 0;
    }
    switch (cell->type) {
#if defined(ERNN_LSTM_RUN)
    case ERNN_CELL_LSTM:
        return ernn_lstm_run_s8_ok(&cell->params.lstm);
#endif
#if defined(ERNN_GRU_RUN)
    case ERNN_CELL_GRU:
        return ernn_gru_run_s8_ok(&cell->params.gru);
#endif
    default:
        return 0;
    }
}

/* `steps` steps of a cell that cell_run_ok takes, through its block path (see ernn_lstm_run_s8); 0 if not. */
static int cell_run(const ernn_cell_s8 *cell, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                    int16_t *c, int8_t *hs, size_t hs_stride)
{
    switch (cell->type) {
#if defined(ERNN_LSTM_RUN)
    case ERNN_CELL_LSTM:
        return ernn_lstm_run_s8(&cell->params.lstm, xs, x_stride, steps, h, c, hs, hs_stride);
#endif
#if defined(ERNN_GRU_RUN)
    case ERNN_CELL_GRU:
        return ernn_gru_run_s8(&cell->params.gru, xs, x_stride, steps, h, c, hs, hs_stride);
#endif
    default:
        return 0;
    }
}

/* 1 if run_blocks takes this call: a unidirectional LSTM or GRU on features, every cell one its block path
 * takes, valid arguments and a head that runs (tried once on the current state into ys, which the run
 * overwrites: an error would then be the per-step path's). */
static int blocks_ok(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs, const int32_t *tokens,
                     int32_t steps, int8_t *ys)
{
    if (ernn_model_s8_any_check(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL || xs == NULL || tokens != NULL ||
        m->embedding != NULL || steps < 1 || whole_sequences_only(m) || m->hidden_size > ERNN_RUN_MAX_HIDDEN) {
        return 0;
    }
    for (int32_t k = 0; k < m->num_layers; ++k) {
        if (!cell_run_ok(&m->cells[k], steps)) {
            return 0;
        }
    }
    return head_output(m, mem, mem->hidden + (size_t)(m->num_layers - 1) * (size_t)m->hidden_size, ys) == ERNN_OK;
}

/*
 * ernn_model_s8_run as blocks of steps (as many as seq holds), layer by layer within a block (each layer's steps in
 * one ernn_lstm_run_s8 or ernn_gru_run_s8 call), then the head on each step's top hidden values (one
 * ernn_fc_s8_s8_rows call for the block where it takes the head). The same
 * integers as step by step: layer l's step t reads only its own state (step t - 1) and layer l - 1's output of
 * step t, which a block computes first; the head reads only step t's top hidden values.
 */
static ernn_status run_blocks(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs, int32_t steps,
                              int8_t *ys)
{
    int8_t seq[ERNN_RUN_STEPS * ERNN_RUN_MAX_HIDDEN]; /* the block's hidden values, one layer at a time */
    const size_t hidden = (size_t)m->hidden_size, in = (size_t)m->input_size;
    const size_t out = (size_t)ernn_model_s8_any_output_size(m);
    if (m->num_layers == 1 && m->head == NULL && !head_activated(m)) { /* the outputs are the hidden values */
        return cell_run(&m->cells[0], xs, in, steps, mem->hidden, cell_state(m, mem, 0), ys, hidden)
                   ? ERNN_OK
                   : ERNN_ARG_ERROR; /* not reached: blocks_ok checked the cell */
    }
    /* as many steps per block as seq holds: each block repeats the cells' per-call setup (256 steps at 32 units,
     * 32 at 256; measured 5.7% less time per step for an LSTM 7 in / 32 hidden with a head than 32 steps) */
    const int32_t block = (int32_t)(sizeof seq / hidden);
    for (int32_t t0 = 0; t0 < steps; t0 += block) {
        const int32_t n = steps - t0 < block ? steps - t0 : block;
        for (int32_t layer = 0; layer < m->num_layers; ++layer) {
            const int8_t *x = layer == 0 ? xs + (size_t)t0 * in : seq; /* above layer 0: in place */
            if (!cell_run(&m->cells[layer], x, layer == 0 ? in : hidden, n, mem->hidden + (size_t)layer * hidden,
                          cell_state(m, mem, layer), seq, hidden)) {
                return ERNN_ARG_ERROR; /* not reached: blocks_ok checked every cell */
            }
        }
        /* the head over the whole block where its kernel takes it, else step by step */
        if (m->head != NULL && !head_activated(m) &&
            ernn_fc_s8_s8_rows(m->head, seq, hidden, n, ys + (size_t)t0 * out, out)) {
            continue;
        }
        for (int32_t t = 0; t < n; ++t) {
            const ernn_status status = head_output(m, mem, seq + (size_t)t * hidden, ys + (size_t)(t0 + t) * out);
            if (status != ERNN_OK) {
                return status;
            }
        }
    }
    return ERNN_OK;
}
#endif

ernn_status ernn_model_s8_run(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                              const int32_t *tokens, int32_t steps, int8_t *ys)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 8);
#if defined(ERNN_LSTM_RUN) || defined(ERNN_GRU_RUN)
    if (blocks_ok(m, mem, xs, tokens, steps, ys)) {
        return run_blocks(m, mem, xs, steps, ys);
    }
#endif
    return ernn_model_s8_any_run(m, mem, xs, tokens, steps, ys);
}

ernn_status ernn_model_s8_run_sequence(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                       const int32_t *tokens, int32_t steps, int8_t *ys, int8_t *work)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 8);
    return ernn_model_s8_any_run_sequence(m, mem, xs, tokens, steps, ys, work);
}

ernn_status ernn_model_s8_final_output(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int8_t *y)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    return ernn_model_s8_any_final_output(m, mem, y);
}

/* Where the int8 top values (activated, when the model has an activation before the head) wait for the int16
 * head within one step: after the scratch ernn_model_s8_get_buffer_size() reserves for the cells and FCs. */
static int8_t *top_values(const ernn_model_s8 *m, const ernn_model_s8_mem *mem)
{
    return (int8_t *)(mem->scratch) + ernn_model_s8_get_buffer_size(m) - top_width(m);
}

/* The int16 head on n rows of int8 top values (its widened input in scratch after the gate rows, as head_fc). */
static ernn_status int16_head_rows(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *top,
                                   int32_t n, int16_t *ys)
{
    const int32_t rows = ernn_cell_rows(m->cells[0].type, cell_fc(&m->cells[0], 1), m->hidden_size);
    const size_t width = (size_t)top_width(m);
    const size_t out = (size_t)m->head_s16->out_features;
    for (int32_t t = 0; t < n; ++t) {
        const ernn_status status =
            ernn_fc_s8_s16_buffered(m->head_s16, top + (size_t)t * width, ys + (size_t)t * out, mem->scratch + rows);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

/* Checks shared by the *_s16 functions: ERNN_UNSUPPORTED without an int16 head, else the driver's. */
static ernn_status int16_head_ok(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const void *y)
{
    if (ernn_model_s8_check(m) != ERNN_OK || mem == NULL || mem->scratch == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    return int16_head(m) ? ERNN_OK : ERNN_UNSUPPORTED;
}

/* step_s16 on layer 0's input x (int8, or int16_t values for a 16-bit input), the input width not checked */
static ernn_status step_s16_any(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int16_t *y)
{
    ernn_status status = int16_head_ok(m, mem, y);
    if (status == ERNN_OK) {
        int8_t *top = top_values(m, mem);
        status = ernn_model_s8_any_step(m, mem, x, top);
        if (status == ERNN_OK) {
            status = int16_head_rows(m, mem, top, 1, y);
        }
    }
    return status;
}

ernn_status ernn_model_s8_step_token_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t token,
                                         int16_t *y)
{
    ernn_status status = int16_head_ok(m, mem, y);
    if (status == ERNN_OK) {
        int8_t *top = top_values(m, mem);
        status = ernn_model_s8_any_step_token(m, mem, token, top);
        if (status == ERNN_OK) {
            status = int16_head_rows(m, mem, top, 1, y);
        }
    }
    return status;
}

ernn_status ernn_model_s8_step_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int16_t *y)
{
    ERNN_INPUT_BITS_ONLY(m, 8);
    return step_s16_any(m, mem, x, y);
}

/* run_s16 on layer 0's inputs xs (as step_s16_any) or tokens */
static ernn_status run_s16_any(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                               const int32_t *tokens, int32_t steps, int16_t *ys)
{
    ernn_status status = int16_head_ok(m, mem, ys);
    if (status != ERNN_OK) {
        return status;
    }
    if (steps <= 0 || (xs == NULL) == (tokens == NULL)) {
        return ERNN_ARG_ERROR;
    }
    const size_t in = (size_t)m->input_size * (size_t)ERNN_INPUT_SPAN(m);
    const size_t out = (size_t)m->head_s16->out_features;
    for (int32_t t = 0; t < steps && status == ERNN_OK; ++t) {
        status = tokens != NULL ? ernn_model_s8_step_token_s16(m, mem, tokens[t], ys + (size_t)t * out)
                                : step_s16_any(m, mem, xs + (size_t)t * in, ys + (size_t)t * out);
    }
    return status;
}

ernn_status ernn_model_s8_run_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                  const int32_t *tokens, int32_t steps, int16_t *ys)
{
    ERNN_INPUT_BITS_ONLY(m, 8);
    return run_s16_any(m, mem, xs, tokens, steps, ys);
}

/* run_sequence_s16 on layer 0's inputs xs (as step_s16_any) or tokens */
static ernn_status run_sequence_s16_any(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                        const int32_t *tokens, int32_t steps, int16_t *ys, int8_t *work)
{
    ernn_status status = int16_head_ok(m, mem, ys);
    if (status != ERNN_OK) {
        return status;
    }
    const int32_t driver_bytes = ernn_model_s8_any_get_sequence_buffer_size(m, steps);
    if (work == NULL || driver_bytes == 0) {
        return ERNN_ARG_ERROR;
    }
    int8_t *top = work + driver_bytes; /* steps rows of int8 top values (get_sequence_buffer_size) */
    status = ernn_model_s8_any_run_sequence(m, mem, xs, tokens, steps, top, work);
    return status == ERNN_OK ? int16_head_rows(m, mem, top, steps, ys) : status;
}

ernn_status ernn_model_s8_run_sequence_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                           const int32_t *tokens, int32_t steps, int16_t *ys, int8_t *work)
{
    ERNN_INPUT_BITS_ONLY(m, 8);
    return run_sequence_s16_any(m, mem, xs, tokens, steps, ys, work);
}

ernn_status ernn_model_s8_final_output_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int16_t *y)
{
    ernn_status status = int16_head_ok(m, mem, y);
    if (status == ERNN_OK) {
        int8_t *top = top_values(m, mem);
        status = ernn_model_s8_any_final_output(m, mem, top);
        if (status == ERNN_OK) {
            status = int16_head_rows(m, mem, top, 1, y);
        }
    }
    return status;
}

int32_t ernn_model_s8_get_buffer_size(const ernn_model_s8 *m)
{
    if (ernn_model_s8_check(m) != ERNN_OK) {
        return 0;
    }
    /* The gate pre-activations of one cell, then the widened input the FCs share (the widest of all); with an
     * int16 head, then its int8 input (top_values). */
    int32_t widened = ernn_fc_s8_get_buffer_size(m->head != NULL ? m->head : m->head_s16);
    for (int32_t k = 0; k < num_cells(m); ++k) {
        for (int recurrent = 0; recurrent < 2; ++recurrent) {
            const int32_t b = ernn_fc_s8_get_buffer_size(cell_fc(&m->cells[k], recurrent));
            widened = b > widened ? b : widened;
        }
    }
    const int32_t top = int16_head(m) ? (top_width(m) + 1) / 2 * 2 : 0; /* whole int16s of scratch */
    return ernn_cell_rows(m->cells[0].type, cell_fc(&m->cells[0], 1), m->hidden_size) * (int32_t)sizeof(int16_t) +
           widened + top;
}

/* The 16-bit-input functions: the int16_t features go through the driver as int8_t bytes (ERNN_INPUT_SPAN 2), and
 * layer 0's cells read them as int16_t (ERNN_FC_INPUT_S16 layers, ernn_cell_fcs). A NULL xs stays NULL. */
static const int8_t *input_bytes(const int16_t *x)
{
    return (const int8_t *)(const void *)x;
}

ernn_status ernn_model_s8_step_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *x, int8_t *y)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 16);
    return ernn_model_s8_any_step(m, mem, input_bytes(x), y);
}

ernn_status ernn_model_s8_run_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                  int32_t steps, int8_t *ys)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 16);
    return ernn_model_s8_any_run(m, mem, input_bytes(xs), NULL, steps, ys);
}

ernn_status ernn_model_s8_run_sequence_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                           int32_t steps, int8_t *ys, int8_t *work)
{
    ERNN_INT8_OUTPUT_ONLY(m);
    ERNN_INPUT_BITS_ONLY(m, 16);
    return ernn_model_s8_any_run_sequence(m, mem, input_bytes(xs), NULL, steps, ys, work);
}

ernn_status ernn_model_s8_step_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *x,
                                       int16_t *y)
{
    ERNN_INPUT_BITS_ONLY(m, 16);
    return step_s16_any(m, mem, input_bytes(x), y);
}

ernn_status ernn_model_s8_run_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                      int32_t steps, int16_t *ys)
{
    ERNN_INPUT_BITS_ONLY(m, 16);
    return run_s16_any(m, mem, input_bytes(xs), NULL, steps, ys);
}

ernn_status ernn_model_s8_run_sequence_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem,
                                               const int16_t *xs, int32_t steps, int16_t *ys, int8_t *work)
{
    ERNN_INPUT_BITS_ONLY(m, 16);
    return run_sequence_s16_any(m, mem, input_bytes(xs), NULL, steps, ys, work);
}
