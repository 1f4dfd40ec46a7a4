/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_model_impl.h
 * @brief The model driver (stacking, directions, token input, output), written once for both paths.
 *
 * Included by ernn_model_s8.c and ernn_model_f32.c only (no include guard: once per path), after
 * <string.h>, the path's public header and these definitions:
 *
 *     ERNN_MODEL, ERNN_MEM       the path's model descriptor and caller-memory types
 *     ERNN_VALUE, ERNN_STATE     element types of the hidden state and of the second state
 *     ERNN_API(name)             the public name of `name` (ernn_model_s8_##name)
 *     ERNN_MODEL_MAX_LAYERS      the deepest stack check() accepts
 *
 *     static int has_state(const ERNN_MODEL *m)       the cells carry a second state (mem->cell)
 *     static ernn_status cell_step(cell, x, h, c, scratch)
 *     static int cell_ok(const ERNN_MODEL *m, cell, int32_t in, int32_t gates)
 *                                                     the cell's FCs fit `in` inputs and the hidden size
 *     static void zero_hidden(cell, ERNN_VALUE *h, int32_t n)   set the cell's n hidden values to zero
 *     static int embedding_ok(const ERNN_MODEL *m)    the (non-NULL) embedding is usable
 *     static int32_t vocab_size(const ERNN_MODEL *m)
 *     static const ERNN_VALUE *embedding_row(const ERNN_MODEL *m, int32_t token)   (token in range)
 *     static ernn_status head_fc(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *top, ERNN_VALUE *y)
 *     static int head_activated(const ERNN_MODEL *m)  an activation (ReLU or tanh) between the top layer and the head
 *     static ERNN_VALUE *activation_buffer(const ERNN_MODEL *m, const ERNN_MEM *mem)   top_width values head_fc may read
 *     static void activate_values(const ERNN_MODEL *m, const ERNN_VALUE *in, ERNN_VALUE *out, int32_t n)
 *     static void running_mean(const ERNN_MODEL *m, ERNN_VALUE *seq, int32_t steps, int32_t width)   in place
 *
 * Optionally, ERNN_INPUT_SPAN(m): ERNN_VALUE elements per input feature (1 when undefined; the int8 path's
 * 16-bit inputs span 2, their int16_t values passed as int8_t bytes).
 *
 * The path keeps what differs in its own .c: the cells, the head's kernel and get_buffer_size().
 * Static functions rather than function pointers, so that the compiler inlines them as before.
 */
#if !defined(ERNN_MODEL) || !defined(ERNN_MEM) || !defined(ERNN_VALUE) || !defined(ERNN_STATE) || \
    !defined(ERNN_API) || !defined(ERNN_MODEL_MAX_LAYERS)
#error "ernn_model_impl.h: define the path's types and names first (see the file's comment)"
#endif

#if !defined(ERNN_INPUT_SPAN)
#define ERNN_INPUT_SPAN(m) 1
#endif

static int32_t num_cells(const ERNN_MODEL *m)
{
    return m->num_layers * m->num_directions;
}

static int32_t top_width(const ERNN_MODEL *m)
{
    return m->num_directions * m->hidden_size;
}

int32_t ERNN_API(output_size)(const ERNN_MODEL *m)
{
    if (m == NULL) {
        return 0;
    }
    return m->head != NULL ? m->head->out_features : top_width(m);
}

ernn_status ERNN_API(check)(const ERNN_MODEL *m)
{
    if (m == NULL || m->cells == NULL || m->num_layers < 1 || m->num_layers > ERNN_MODEL_MAX_LAYERS ||
        m->num_directions < 1 || m->num_directions > 2 || m->hidden_size < 1 || m->input_size < 1) {
        return ERNN_ARG_ERROR;
    }
    const int32_t gates = ernn_cell_gates(m->cells[0].type);
    for (int32_t k = 0; k < num_cells(m); ++k) {
        const int32_t in = k < m->num_directions ? m->input_size : top_width(m);
        if (m->cells[k].type != m->cells[0].type || !cell_ok(m, &m->cells[k], in, gates)) {
            return ERNN_ARG_ERROR;
        }
    }
    if (m->embedding != NULL && !embedding_ok(m)) {
        return ERNN_ARG_ERROR;
    }
    if (m->head != NULL && m->head->in_features != top_width(m)) {
        return ERNN_ARG_ERROR;
    }
    if (m->head_relu != 0 && m->head_tanh != 0) { /* one activation before the head */
        return ERNN_ARG_ERROR;
    }
    return ERNN_OK;
}

int32_t ERNN_API(get_state_size)(const ERNN_MODEL *m)
{
    if (ERNN_API(check)(m) != ERNN_OK) {
        return 0;
    }
    const int32_t values = num_cells(m) * m->hidden_size;
    return values * (int32_t)(sizeof(ERNN_VALUE) + (has_state(m) ? sizeof(ERNN_STATE) : 0u));
}

int32_t ERNN_API(get_sequence_buffer_size)(const ERNN_MODEL *m, int32_t steps)
{
    if (ERNN_API(check)(m) != ERNN_OK || steps <= 0) {
        return 0;
    }
    const int64_t bytes =
        (int64_t)steps * top_width(m) * (m->num_layers > 1 ? 2 : 1) * (int64_t)sizeof(ERNN_VALUE);
    return bytes > INT32_MAX ? 0 : (int32_t)bytes;
}

static int mem_ok(const ERNN_MODEL *m, const ERNN_MEM *mem)
{
    return mem != NULL && mem->hidden != NULL && mem->scratch != NULL && (mem->cell != NULL || !has_state(m));
}

static ERNN_STATE *cell_state(const ERNN_MODEL *m, const ERNN_MEM *mem, int32_t k)
{
    return has_state(m) ? mem->cell + k * m->hidden_size : NULL;
}

ernn_status ERNN_API(reset)(const ERNN_MODEL *m, const ERNN_MEM *mem)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem)) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t k = 0; k < num_cells(m); ++k) {
        zero_hidden(&m->cells[k], mem->hidden + k * m->hidden_size, m->hidden_size);
        if (has_state(m)) {
            memset(cell_state(m, mem, k), 0, (size_t)m->hidden_size * sizeof(ERNN_STATE));
        }
    }
    return ERNN_OK;
}

/* The head on the top layer's hidden values (or a copy of them when there is no head), after the activation
 * between them when the model has one (ReLU or tanh: head_activated). */
static ernn_status head_output(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *top, ERNN_VALUE *y)
{
    if (m->head != NULL) {
        if (head_activated(m)) {
            ERNN_VALUE *activated = activation_buffer(m, mem);
            activate_values(m, top, activated, top_width(m));
            return head_fc(m, mem, activated, y);
        }
        return head_fc(m, mem, top, y);
    }
    if (head_activated(m)) {
        activate_values(m, top, y, top_width(m));
        return ERNN_OK;
    }
    memcpy(y, top, (size_t)top_width(m) * sizeof(ERNN_VALUE));
    return ERNN_OK;
}

/* A model that cannot stream one step at a time: bidirectional, or averaging over time. */
static int whole_sequences_only(const ERNN_MODEL *m)
{
    return m->num_directions != 1 || m->readout == ERNN_READOUT_MEAN;
}

/* One step through the stack of a unidirectional model; the state is updated in place. */
static ernn_status step_layers(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *x, ERNN_VALUE *y)
{
    const ERNN_VALUE *in = x;
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        ERNN_VALUE *h = mem->hidden + layer * m->hidden_size;
        const ernn_status status = cell_step(&m->cells[layer], in, h, cell_state(m, mem, layer), mem->scratch);
        if (status != ERNN_OK) {
            return status;
        }
        in = h;
    }
    return head_output(m, mem, in, y);
}

/* Validate a sequence's input: features exactly for feature models, in-range tokens for token models. */
static ernn_status inputs_ok(const ERNN_MODEL *m, const ERNN_VALUE *xs, const int32_t *tokens, int32_t steps)
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
        if (tokens[t] < 0 || tokens[t] >= vocab_size(m)) {
            return ERNN_ARG_ERROR;
        }
    }
    return ERNN_OK;
}

/* Layer 0's input at step t (inputs already validated). */
static const ERNN_VALUE *input_row(const ERNN_MODEL *m, const ERNN_VALUE *xs, const int32_t *tokens, int32_t t)
{
    if (m->embedding != NULL) {
        return embedding_row(m, tokens[t]);
    }
    return xs + (size_t)t * (size_t)m->input_size * (size_t)ERNN_INPUT_SPAN(m);
}

ernn_status ERNN_API(step)(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *x, ERNN_VALUE *y)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem) || x == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (whole_sequences_only(m) || m->embedding != NULL) {
        return ERNN_UNSUPPORTED;
    }
    return step_layers(m, mem, x, y);
}

ernn_status ERNN_API(step_token)(const ERNN_MODEL *m, const ERNN_MEM *mem, int32_t token, ERNN_VALUE *y)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (whole_sequences_only(m) || m->embedding == NULL) {
        return ERNN_UNSUPPORTED;
    }
    if (token < 0 || token >= vocab_size(m)) {
        return ERNN_ARG_ERROR;
    }
    return step_layers(m, mem, embedding_row(m, token), y);
}

ernn_status ERNN_API(run)(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *xs, const int32_t *tokens,
                          int32_t steps, ERNN_VALUE *ys)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL ||
        inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    if (whole_sequences_only(m)) {
        return ERNN_UNSUPPORTED;
    }
    const size_t out = (size_t)ERNN_API(output_size)(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = step_layers(m, mem, input_row(m, xs, tokens, t), ys + (size_t)t * out);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ERNN_API(run_sequence)(const ERNN_MODEL *m, const ERNN_MEM *mem, const ERNN_VALUE *xs,
                                   const int32_t *tokens, int32_t steps, ERNN_VALUE *ys, ERNN_VALUE *work)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem) || ys == NULL || work == NULL ||
        inputs_ok(m, xs, tokens, steps) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const size_t width = (size_t)top_width(m);
    const size_t hidden = (size_t)m->hidden_size;
    ERNN_VALUE *const buffers[2] = {work, work + (size_t)steps * width};
    const ERNN_VALUE *prev = NULL; /* the previous layer's outputs, steps * width */
    for (int32_t layer = 0; layer < m->num_layers; ++layer) {
        ERNN_VALUE *out = buffers[layer % 2];
        for (int32_t d = 0; d < m->num_directions; ++d) {
            const int32_t k = layer * m->num_directions + d;
            ERNN_VALUE *h = mem->hidden + (size_t)k * hidden;
            for (int32_t i = 0; i < steps; ++i) {
                const int32_t t = d == 0 ? i : steps - 1 - i;
                const ERNN_VALUE *in = layer == 0 ? input_row(m, xs, tokens, t) : prev + (size_t)t * width;
                const ernn_status status = cell_step(&m->cells[k], in, h, cell_state(m, mem, k), mem->scratch);
                if (status != ERNN_OK) {
                    return status;
                }
                memcpy(out + (size_t)t * width + (size_t)d * hidden, h, hidden * sizeof(ERNN_VALUE));
            }
        }
        prev = out;
    }
    if (m->readout == ERNN_READOUT_MEAN) {
        running_mean(m, (ERNN_VALUE *)prev, steps, (int32_t)width); /* prev is work, never the state */
    }
    const size_t out_size = (size_t)ERNN_API(output_size)(m);
    for (int32_t t = 0; t < steps; ++t) {
        const ernn_status status = head_output(m, mem, prev + (size_t)t * width, ys + (size_t)t * out_size);
        if (status != ERNN_OK) {
            return status;
        }
    }
    return ERNN_OK;
}

ernn_status ERNN_API(final_output)(const ERNN_MODEL *m, const ERNN_MEM *mem, ERNN_VALUE *y)
{
    if (ERNN_API(check)(m) != ERNN_OK || !mem_ok(m, mem) || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    if (m->readout != ERNN_READOUT_STATE) { /* not a function of the state: run_sequence's last row */
        return ERNN_UNSUPPORTED;
    }
    return head_output(m, mem, mem->hidden + (size_t)(m->num_layers - 1) * (size_t)top_width(m), y);
}

#undef ERNN_MODEL
#undef ERNN_MEM
#undef ERNN_VALUE
#undef ERNN_STATE
#undef ERNN_API
#undef ERNN_MODEL_MAX_LAYERS
