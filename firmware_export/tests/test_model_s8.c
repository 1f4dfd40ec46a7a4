/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_model_s8.c
 * @brief The int8 model driver: sizes, reset, step == run == run_sequence, bidirectional
 *        symmetry, token input and argument checks, on models with pseudo-random weights.
 */
#include <string.h>

#include "edgernn/ernn_model_s8.h"
#include "ernn_test.h"

#define H 4
#define IN 3
#define MAX_ROWS (4 * H)
#define STEPS 20

static uint32_t rng_state = 12345u;

static int32_t rnd(int32_t lo, int32_t hi) /* uniform-ish in [lo, hi] */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (int32_t)((rng_state >> 8) % (uint32_t)(hi - lo + 1));
}

/* Storage of one FC with random int8 weights and requantization to Q3.12-ish gate values. */
typedef struct {
    int8_t w[MAX_ROWS * 2 * H];
    int32_t b[MAX_ROWS];
    int32_t m[MAX_ROWS];
    int32_t s[MAX_ROWS];
} fc_store;

static fc_store stores[16];
static int next_store;

static ernn_fc_params random_fc(int32_t in, int32_t out, int32_t zero_point)
{
    fc_store *st = &stores[next_store++];
    for (int32_t i = 0; i < in * out; ++i) {
        st->w[i] = (int8_t)rnd(-128, 127);
    }
    for (int32_t o = 0; o < out; ++o) {
        st->b[o] = rnd(-3000, 3000);
        st->m[o] = rnd(1 << 30, INT32_MAX);
        st->s[o] = rnd(-6, -3);
    }
    const ernn_fc_params p = {st->w, st->b, st->m, st->s, in, out, zero_point, 0, 0, 0};
    return p;
}

static ernn_cell_s8 random_cell(ernn_cell_type type, int32_t in, int32_t zp)
{
    const int32_t rows = ernn_cell_gates(type) * H;
    const ernn_rescale q15 = {1 << 30, -14};
    ernn_cell_s8 cell;
    memset(&cell, 0, sizeof cell);
    cell.type = type;
    if (type == ERNN_CELL_RNN) {
        ernn_rnn_s8_params *p = &cell.params.rnn;
        p->x_fc = random_fc(in, rows, 0);
        p->h_fc = random_fc(H, rows, 0);
        p->to_hidden = (ernn_rescale){1 << 30, -7};
        p->hidden_zero_point = zp;
    } else if (type == ERNN_CELL_GRU) {
        ernn_gru_s8_params *p = &cell.params.gru;
        p->x_fc = random_fc(in, rows, 0);
        p->h_fc = random_fc(H, rows, 0);
        p->reset_mul = (ernn_rescale){1 << 30, -2};
        p->gate_mul = q15;
        p->to_hidden = (ernn_rescale){1 << 30, -7};
        p->hidden_zero_point = zp;
    } else {
        ernn_lstm_s8_params *p = &cell.params.lstm;
        p->x_fc = random_fc(in, rows, 0);
        p->h_fc = random_fc(H, rows, 0);
        p->forget_mul = q15;
        p->input_mul = (ernn_rescale){1 << 30, -17};
        p->output_mul = (ernn_rescale){1 << 30, -22};
        p->cell_tanh_multiplier = 0;
        p->cell_tanh_shift = 0;
        p->hidden_zero_point = zp;
    }
    return cell;
}

static ernn_cell_s8 cells[4];
static ernn_fc_params head;
static int8_t hidden[2 * 2 * H];
static int16_t cell_state[2 * 2 * H];
static int16_t scratch[2 * 4 * H];
static int8_t work[2 * STEPS * 2 * H];
static const ernn_model_s8_mem mem = {hidden, cell_state, scratch};

static ernn_model_s8 two_layer_model(ernn_cell_type type)
{
    next_store = 0;
    cells[0] = random_cell(type, IN, 3);
    cells[1] = random_cell(type, H, -2);
    head = random_fc(H, 2, 7);
    const ernn_model_s8 m = {cells, 2, 1, H, IN, NULL, &head, 0, 0, ERNN_READOUT_STATE, 0, {0, 0}, {0, 0}, 0, NULL, 0};
    return m;
}

static void random_inputs(int8_t *xs, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        xs[i] = (int8_t)(i % 7 == 0 ? (i % 2 ? 127 : -128) : rnd(-128, 127));
    }
}

static void test_streaming(ernn_cell_type type)
{
    const ernn_model_s8 m = two_layer_model(type);
    int8_t xs[STEPS * IN];
    int8_t ys_run[STEPS * 2];
    int8_t ys_step[STEPS * 2];
    int8_t ys_seq[STEPS * 2];
    int8_t y_last[2];
    random_inputs(xs, STEPS * IN);
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_OK);
    CHECK_EQ(ernn_model_s8_output_size(&m), 2);
    CHECK_EQ(ernn_model_s8_get_state_size(&m), 2 * H * (type == ERNN_CELL_RNN ? 1 : 3));
    /* row-major layers: the summed gates (the GRU: + its recurrent n block), int16 each, no widened input */
    CHECK_EQ(ernn_model_s8_get_buffer_size(&m), (ernn_cell_gates(type) + (type == ERNN_CELL_GRU)) * H * 2);
    CHECK_EQ(ernn_model_s8_get_sequence_buffer_size(&m, STEPS), STEPS * H * 2);

    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(hidden[0], 3);
    CHECK_EQ(hidden[H], -2);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, xs, NULL, STEPS, ys_run), ERNN_OK);

    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    for (int32_t t = 0; t < STEPS; ++t) {
        CHECK_EQ(ernn_model_s8_step(&m, &mem, xs + t * IN, ys_step + t * 2), ERNN_OK);
    }
    CHECK(memcmp(ys_run, ys_step, sizeof ys_run) == 0);
    CHECK_EQ(ernn_model_s8_final_output(&m, &mem, y_last), ERNN_OK);
    CHECK(memcmp(y_last, ys_step + (STEPS - 1) * 2, 2) == 0);

    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run_sequence(&m, &mem, xs, NULL, STEPS, ys_seq, work), ERNN_OK);
    CHECK(memcmp(ys_run, ys_seq, sizeof ys_run) == 0);

    {   /* the recurrent state matters: a second run differs from the first */
        int8_t again[STEPS * 2];
        CHECK_EQ(ernn_model_s8_run(&m, &mem, xs, NULL, STEPS, again), ERNN_OK);
        CHECK(memcmp(again, ys_run, sizeof again) != 0);
    }
    {   /* argument errors */
        const ernn_model_s8_mem no_cell = {hidden, NULL, scratch};
        CHECK_EQ(ernn_model_s8_step(&m, NULL, xs, y_last), ERNN_ARG_ERROR);
        CHECK_EQ(ernn_model_s8_step(&m, &mem, NULL, y_last), ERNN_ARG_ERROR);
        CHECK_EQ(ernn_model_s8_run(&m, &mem, xs, NULL, 0, ys_run), ERNN_ARG_ERROR);
        CHECK_EQ(ernn_model_s8_step_token(&m, &mem, 0, y_last), ERNN_UNSUPPORTED);
        CHECK_EQ(ernn_model_s8_reset(&m, &no_cell), type == ERNN_CELL_RNN ? ERNN_OK : ERNN_ARG_ERROR);
    }
}

/* An int16 head (head_s16): the *_s16 functions give the head's int16 FC of the top layer's values, stepped,
 * run and as a whole sequence; the int8-output functions refuse the model, the *_s16 ones a model without one. */
static void test_int16_head(ernn_cell_type type)
{
    const ernn_model_s8 with_int8_head = two_layer_model(type);
    ernn_model_s8 top = with_int8_head;
    top.head = NULL;
    ernn_model_s8 m = top;
    m.head_s16 = &head;
    int8_t xs[STEPS * IN];
    int8_t tops[STEPS * H];
    int16_t want[STEPS * 2];
    int16_t got[STEPS * 2];
    int16_t y[2];
    int8_t y8[H];
    random_inputs(xs, STEPS * IN);
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_OK);
    CHECK_EQ(ernn_model_s8_output_size(&m), 2);
    CHECK_EQ(ernn_model_s8_get_buffer_size(&m), ernn_model_s8_get_buffer_size(&top) + H);
    CHECK_EQ(ernn_model_s8_get_sequence_buffer_size(&m, STEPS), STEPS * H * 2 + STEPS * H);
    CHECK_EQ(ernn_model_s8_reset(&top, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run(&top, &mem, xs, NULL, STEPS, tops), ERNN_OK);
    for (int32_t t = 0; t < STEPS; ++t) {
        CHECK_EQ(ernn_fc_s8_s16(&head, tops + t * H, want + t * 2), ERNN_OK);
    }
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run_s16(&m, &mem, xs, NULL, STEPS, got), ERNN_OK);
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK_EQ(ernn_model_s8_final_output_s16(&m, &mem, y), ERNN_OK);
    CHECK(memcmp(y, want + (STEPS - 1) * 2, sizeof y) == 0);
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    for (int32_t t = 0; t < STEPS; ++t) {
        CHECK_EQ(ernn_model_s8_step_s16(&m, &mem, xs + t * IN, got + t * 2), ERNN_OK);
    }
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    memset(got, 0, sizeof got);
    CHECK_EQ(ernn_model_s8_run_sequence_s16(&m, &mem, xs, NULL, STEPS, got, work), ERNN_OK);
    CHECK(memcmp(got, want, sizeof got) == 0);

    CHECK_EQ(ernn_model_s8_step(&m, &mem, xs, y8), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, xs, NULL, 1, y8), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_final_output(&m, &mem, y8), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_step_s16(&with_int8_head, &mem, xs, y), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_step_token_s16(&m, &mem, 0, y), ERNN_UNSUPPORTED); /* no embedding */
    CHECK_EQ(ernn_model_s8_run_s16(&m, &mem, xs, NULL, 0, got), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_model_s8_step_s16(&m, &mem, xs, NULL), ERNN_ARG_ERROR);
    ernn_model_s8 both = m;
    both.head = &head; /* two heads */
    CHECK_EQ(ernn_model_s8_check(&both), ERNN_ARG_ERROR);
}

/* The x_fc of a layer-0 cell, whatever its type. */
static ernn_fc_params *layer0_x_fc(ernn_cell_s8 *cell)
{
    return cell->type == ERNN_CELL_RNN ? &cell->params.rnn.x_fc
                                       : (cell->type == ERNN_CELL_GRU ? &cell->params.gru.x_fc : &cell->params.lstm.x_fc);
}

/* A 16-bit input (input_bits 16, layer 0's x_fc a 16x8 layer): on int16 features within the int8 range it computes
 * what the same weights compute on those int8 features (zero point 0), through every *_x16 function, with an int8
 * and an int16 head; each width's functions refuse the other width's model, and inconsistent descriptors fail. */
static void test_int16_input(ernn_cell_type type)
{
    const ernn_model_s8 m8 = two_layer_model(type);
    static ernn_cell_s8 cells16[2];
    cells16[0] = cells[0];
    cells16[1] = cells[1];
    layer0_x_fc(&cells16[0])->bounded = ERNN_FC_INPUT_S16;
    ernn_model_s8 m16 = m8;
    m16.cells = cells16;
    m16.input_bits = 16;
    int8_t xs[STEPS * IN];
    int16_t xs16[STEPS * IN];
    int8_t want[STEPS * 2];
    int8_t got[STEPS * 2];
    random_inputs(xs, STEPS * IN);
    for (int32_t i = 0; i < STEPS * IN; ++i) {
        xs16[i] = xs[i];
    }
    CHECK_EQ(ernn_model_s8_check(&m16), ERNN_OK);
    CHECK_EQ(ernn_model_s8_get_buffer_size(&m16), ernn_model_s8_get_buffer_size(&m8));
    CHECK_EQ(ernn_model_s8_reset(&m8, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run(&m8, &mem, xs, NULL, STEPS, want), ERNN_OK);
    CHECK_EQ(ernn_model_s8_reset(&m16, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run_x16(&m16, &mem, xs16, STEPS, got), ERNN_OK);
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK_EQ(ernn_model_s8_reset(&m16, &mem), ERNN_OK);
    for (int32_t t = 0; t < STEPS; ++t) {
        CHECK_EQ(ernn_model_s8_step_x16(&m16, &mem, xs16 + t * IN, got + t * 2), ERNN_OK);
    }
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK_EQ(ernn_model_s8_reset(&m16, &mem), ERNN_OK);
    memset(got, 0, sizeof got);
    CHECK_EQ(ernn_model_s8_run_sequence_x16(&m16, &mem, xs16, STEPS, got, work), ERNN_OK);
    CHECK(memcmp(got, want, sizeof got) == 0);
    {   /* with an int16 head */
        ernn_model_s8 h8 = m8, h16 = m16;
        h8.head = h16.head = NULL;
        h8.head_s16 = h16.head_s16 = &head;
        int16_t want16[STEPS * 2];
        int16_t got16[STEPS * 2];
        CHECK_EQ(ernn_model_s8_reset(&h8, &mem), ERNN_OK);
        CHECK_EQ(ernn_model_s8_run_s16(&h8, &mem, xs, NULL, STEPS, want16), ERNN_OK);
        CHECK_EQ(ernn_model_s8_reset(&h16, &mem), ERNN_OK);
        CHECK_EQ(ernn_model_s8_run_x16_s16(&h16, &mem, xs16, STEPS, got16), ERNN_OK);
        CHECK(memcmp(got16, want16, sizeof got16) == 0);
        CHECK_EQ(ernn_model_s8_reset(&h16, &mem), ERNN_OK);
        for (int32_t t = 0; t < STEPS; ++t) {
            CHECK_EQ(ernn_model_s8_step_x16_s16(&h16, &mem, xs16 + t * IN, got16 + t * 2), ERNN_OK);
        }
        CHECK(memcmp(got16, want16, sizeof got16) == 0);
        CHECK_EQ(ernn_model_s8_reset(&h16, &mem), ERNN_OK);
        memset(got16, 0, sizeof got16);
        CHECK_EQ(ernn_model_s8_run_sequence_x16_s16(&h16, &mem, xs16, STEPS, got16, work), ERNN_OK);
        CHECK(memcmp(got16, want16, sizeof got16) == 0);
        CHECK_EQ(ernn_model_s8_step_s16(&h16, &mem, xs, got16), ERNN_UNSUPPORTED);
        CHECK_EQ(ernn_model_s8_run_s16(&h16, &mem, xs, NULL, 1, got16), ERNN_UNSUPPORTED);
        CHECK_EQ(ernn_model_s8_run_sequence_s16(&h16, &mem, xs, NULL, 1, got16, work), ERNN_UNSUPPORTED);
        CHECK_EQ(ernn_model_s8_step_x16_s16(&h8, &mem, xs16, got16), ERNN_UNSUPPORTED);
        CHECK_EQ(ernn_model_s8_step_x16(&h16, &mem, xs16, got), ERNN_UNSUPPORTED); /* int16 outputs */
    }
    /* each input width's functions refuse the other's models */
    CHECK_EQ(ernn_model_s8_step(&m16, &mem, xs, got), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run(&m16, &mem, xs, NULL, 1, got), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run_sequence(&m16, &mem, xs, NULL, 1, got, work), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_step_x16(&m8, &mem, xs16, got), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run_x16(&m8, &mem, xs16, 1, got), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run_x16(&m16, &mem, NULL, 1, got), ERNN_ARG_ERROR);
    /* inconsistent descriptors: a 16x8 layer without input_bits 16, input_bits 16 without one, a 16x8 layer 1,
     * and the int8 FC functions on a 16x8 layer */
    ernn_model_s8 bad = m16;
    bad.input_bits = 0;
    CHECK_EQ(ernn_model_s8_check(&bad), ERNN_ARG_ERROR);
    bad = m8;
    bad.input_bits = 16;
    CHECK_EQ(ernn_model_s8_check(&bad), ERNN_ARG_ERROR);
    bad.input_bits = 12;
    CHECK_EQ(ernn_model_s8_check(&bad), ERNN_ARG_ERROR);
    layer0_x_fc(&cells16[1])->bounded = ERNN_FC_INPUT_S16;
    CHECK_EQ(ernn_model_s8_check(&m16), ERNN_ARG_ERROR);
    {
        int16_t y16[4 * H];
        CHECK_EQ(ernn_fc_s8_s16(layer0_x_fc(&cells16[0]), xs, y16), ERNN_ARG_ERROR);
    }
}

static void test_tokens(void)
{
    static const int8_t table[5 * IN] = {1, 2, 3, -4, -5, -6, 127, -128, 0, 9, 9, 9, -1, 0, 1};
    const ernn_embedding_s8_params emb = {table, 5, IN};
    ernn_model_s8 m = two_layer_model(ERNN_CELL_GRU);
    const int32_t tokens[6] = {0, 4, 2, 2, 1, 3};
    const int32_t bad[3] = {0, 5, 1};
    int8_t ys[6 * 2];
    int8_t y[2];
    int8_t before[sizeof hidden];
    m.embedding = &emb;
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_OK);
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, NULL, tokens, 6, ys), ERNN_OK);
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    for (int32_t t = 0; t < 6; ++t) {
        CHECK_EQ(ernn_model_s8_step_token(&m, &mem, tokens[t], y), ERNN_OK);
        CHECK(memcmp(y, ys + t * 2, 2) == 0);
    }
    memcpy(before, hidden, sizeof hidden);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, NULL, bad, 3, ys), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_model_s8_step_token(&m, &mem, -1, y), ERNN_ARG_ERROR);
    CHECK(memcmp(before, hidden, sizeof hidden) == 0); /* rejected input leaves the state alone */
    CHECK_EQ(ernn_model_s8_step(&m, &mem, table, y), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, table, NULL, 1, ys), ERNN_ARG_ERROR);
}

static void test_bidirectional(void)
{
    /* Both directions with the same weights: the backward half of the outputs is the forward
     * half of the time-reversed sequence, reversed. */
    next_store = 0;
    cells[0] = random_cell(ERNN_CELL_GRU, IN, 1);
    cells[1] = cells[0];
    const ernn_model_s8 m = {cells, 1, 2, H, IN, NULL, NULL, 0, 0, ERNN_READOUT_STATE, 0, {0, 0}, {0, 0}, 0, NULL, 0};
    int8_t xs[STEPS * IN];
    int8_t rev[STEPS * IN];
    int8_t ys[STEPS * 2 * H];
    int8_t ys_rev[STEPS * 2 * H];
    int8_t y[2 * H];
    random_inputs(xs, STEPS * IN);
    for (int32_t t = 0; t < STEPS; ++t) {
        memcpy(rev + t * IN, xs + (STEPS - 1 - t) * IN, IN);
    }
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_OK);
    CHECK_EQ(ernn_model_s8_output_size(&m), 2 * H);
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_step(&m, &mem, xs, y), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run(&m, &mem, xs, NULL, STEPS, ys), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_s8_run_sequence(&m, &mem, xs, NULL, STEPS, ys, work), ERNN_OK);
    CHECK_EQ(ernn_model_s8_final_output(&m, &mem, y), ERNN_OK);
    CHECK(memcmp(y, ys + (STEPS - 1) * 2 * H, H) == 0); /* forward: after the last step */
    CHECK(memcmp(y + H, ys + H, H) == 0);                /* backward: after step 0 */
    CHECK_EQ(ernn_model_s8_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_s8_run_sequence(&m, &mem, rev, NULL, STEPS, ys_rev, work), ERNN_OK);
    int symmetric = 1;
    for (int32_t t = 0; t < STEPS; ++t) {
        symmetric &= memcmp(ys + t * 2 * H + H, ys_rev + (STEPS - 1 - t) * 2 * H, H) == 0;
    }
    CHECK(symmetric);
    CHECK_EQ(ernn_model_s8_run_sequence(&m, &mem, xs, NULL, STEPS, ys, NULL), ERNN_ARG_ERROR);
}

static void test_check(void)
{
    ernn_model_s8 m = two_layer_model(ERNN_CELL_RNN);
    CHECK_EQ(ernn_model_s8_check(NULL), ERNN_ARG_ERROR);
    m.num_layers = 5;
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_ARG_ERROR);
    m.num_layers = 2;
    m.input_size = IN + 1; /* layer 0's FC takes IN values */
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_ARG_ERROR);
    CHECK_EQ(ernn_model_s8_get_buffer_size(&m), 0);
    m.input_size = IN;
    head.in_features = H + 1;
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_ARG_ERROR);
    head.in_features = H;
    m.head_relu = 1;
    m.head_tanh = 1; /* two activations before the head */
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_ARG_ERROR);
    m.head_relu = 0;
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_OK);
    m.head_tanh = 0;
    cells[1].type = ERNN_CELL_GRU; /* mixed cell types */
    CHECK_EQ(ernn_model_s8_check(&m), ERNN_ARG_ERROR);
}

/* ---- the cells against the general form, written out here from the public fixed-point API ---------- */

static int16_t sat16_add(int16_t a, int16_t b)
{
    return ernn_sat16((int32_t)a + b);
}

/* One step of the reference semantics (edgernn.reference), the general requantization throughout. */
static void oracle_step(const ernn_cell_s8 *cell, const int8_t *x, int8_t *h, int16_t *c)
{
    int16_t gx[MAX_ROWS], gh[MAX_ROWS];
    const ernn_fc_params *xf = cell->type == ERNN_CELL_RNN ? &cell->params.rnn.x_fc
                               : cell->type == ERNN_CELL_GRU ? &cell->params.gru.x_fc : &cell->params.lstm.x_fc;
    const ernn_fc_params *hf = cell->type == ERNN_CELL_RNN ? &cell->params.rnn.h_fc
                               : cell->type == ERNN_CELL_GRU ? &cell->params.gru.h_fc : &cell->params.lstm.h_fc;
    CHECK_EQ(ernn_fc_s8_s16(xf, x, gx), ERNN_OK);
    CHECK_EQ(ernn_fc_s8_s16(hf, h, gh), ERNN_OK);
    for (int32_t j = 0; j < H; ++j) {
        if (cell->type == ERNN_CELL_RNN) {
            const ernn_rnn_s8_params *p = &cell->params.rnn;
            const int16_t t = ernn_tanh_s16(sat16_add(gx[j], gh[j]), 0, 0);
            h[j] = (int8_t)ernn_requantize(t, p->to_hidden, p->hidden_zero_point, INT8_MIN, INT8_MAX);
        } else if (cell->type == ERNN_CELL_GRU) {
            const ernn_gru_s8_params *p = &cell->params.gru;
            const int16_t r = ernn_sigmoid_s16(sat16_add(gx[j], gh[j]), 0, 0);
            const int16_t z = ernn_sigmoid_s16(sat16_add(gx[H + j], gh[H + j]), 0, 0);
            const int16_t n = ernn_tanh_s16(sat16_add(gx[2 * H + j], ernn_mul_s16(r, gh[2 * H + j], p->reset_mul)), 0, 0);
            const int16_t keep = ernn_mul_s16(z, c[j], p->gate_mul);
            const int16_t update = ernn_mul_s16(ernn_sat16(INT16_MAX - (int32_t)z), n, p->gate_mul);
            c[j] = sat16_add(keep, update);
            h[j] = (int8_t)ernn_requantize(c[j], p->to_hidden, p->hidden_zero_point, INT8_MIN, INT8_MAX);
        } else {
            const ernn_lstm_s8_params *p = &cell->params.lstm;
            const int16_t i = ernn_sigmoid_s16(sat16_add(gx[j], gh[j]), 0, 0);
            const int16_t f = ernn_sigmoid_s16(sat16_add(gx[H + j], gh[H + j]), 0, 0);
            const int16_t g = ernn_tanh_s16(sat16_add(gx[2 * H + j], gh[2 * H + j]), 0, 0);
            const int16_t o = ernn_sigmoid_s16(sat16_add(gx[3 * H + j], gh[3 * H + j]), 0, 0);
            c[j] = sat16_add(ernn_mul_s16(f, c[j], p->forget_mul), ernn_mul_s16(i, g, p->input_mul));
            const int16_t t = ernn_tanh_s16(c[j], p->cell_tanh_multiplier, p->cell_tanh_shift);
            h[j] = (int8_t)ernn_requantize((int32_t)o * t, p->output_mul, p->hidden_zero_point, INT8_MIN, INT8_MAX);
        }
    }
}

/*
 * Each cell in its short form (the shifts of random_cell: < 0) and in its general form (shifts >= 0,
 * and the Elman's int16 bound just kept and just exceeded): step by step equal to the oracle.
 */
static void test_cell_forms(void)
{
    static const ernn_cell_type types[3] = {ERNN_CELL_RNN, ERNN_CELL_GRU, ERNN_CELL_LSTM};
    for (int form = 0; form < 3; ++form) {
        for (int k = 0; k < 3; ++k) {
            next_store = 0;
            ernn_cell_s8 cell = random_cell(types[k], IN, form == 2 ? -9 : 5);
            if (form > 0 && types[k] == ERNN_CELL_RNN) { /* the int16 bound of the short form: kept, exceeded */
                cell.params.rnn.to_hidden = (ernn_rescale){1 << 30, form == 1 ? 14 : 15};
            } else if (form > 0 && types[k] == ERNN_CELL_GRU) {
                cell.params.gru.reset_mul = (ernn_rescale){1 << 30, form == 1 ? 0 : 1};
                cell.params.gru.gate_mul = (ernn_rescale){(1 << 30) + 12345, form == 1 ? -14 : 0};
                cell.params.gru.to_hidden = (ernn_rescale){1 << 30, form == 1 ? 2 : 0};
            } else if (form > 0) {
                cell.params.lstm.forget_mul = (ernn_rescale){1 << 30, form == 1 ? 0 : -14};
                cell.params.lstm.input_mul = (ernn_rescale){1 << 30, form == 1 ? -17 : 1};
                cell.params.lstm.output_mul = (ernn_rescale){(1 << 30) + 777, form == 1 ? -22 : 0};
                cell.params.lstm.cell_tanh_multiplier = form == 1 ? 0 : 12345;
                cell.params.lstm.cell_tanh_shift = form == 1 ? 2 : 10;
            }
            int8_t h[H], h_want[H];
            int16_t c[H], c_want[H];
            int16_t buffer[4 * H + 32];
            memset(h, 0, sizeof h);
            memset(c, 0, sizeof c);
            memcpy(h_want, h, sizeof h);
            memcpy(c_want, c, sizeof c);
            int32_t mismatches = 0;
            for (int32_t t = 0; t < STEPS; ++t) {
                int8_t x[IN];
                random_inputs(x, IN);
                ernn_status st = ERNN_ARG_ERROR;
                if (types[k] == ERNN_CELL_RNN) {
                    st = ernn_rnn_step_s8(&cell.params.rnn, x, h, buffer);
                } else if (types[k] == ERNN_CELL_GRU) {
                    st = ernn_gru_step_s8(&cell.params.gru, x, h, c, buffer);
                } else {
                    st = ernn_lstm_step_s8(&cell.params.lstm, x, h, c, buffer);
                }
                CHECK_EQ(st, ERNN_OK);
                oracle_step(&cell, x, h_want, c_want);
                mismatches += memcmp(h, h_want, sizeof h) != 0 || (types[k] != ERNN_CELL_RNN && memcmp(c, c_want, sizeof c) != 0);
            }
            CHECK_EQ(mismatches, 0);
        }
    }
}

int main(void)
{
    test_cell_forms();
    test_streaming(ERNN_CELL_RNN);
    test_streaming(ERNN_CELL_GRU);
    test_streaming(ERNN_CELL_LSTM);
    test_int16_head(ERNN_CELL_RNN);
    test_int16_head(ERNN_CELL_GRU);
    test_int16_head(ERNN_CELL_LSTM);
    test_int16_input(ERNN_CELL_RNN);
    test_int16_input(ERNN_CELL_GRU);
    test_int16_input(ERNN_CELL_LSTM);
    test_tokens();
    test_bidirectional();
    test_check();
    return ernn_test_report("test_model_s8");
}
