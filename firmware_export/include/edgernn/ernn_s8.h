/**
 * @file ernn_s8.h
 * @brief int8 kernels: fully connected, embedding, and the Elman / GRU / LSTM cell steps.
 *
 * Activations are int8 (asymmetric), weights int8 (symmetric), biases int32, gate
 * pre-activations int16 Q3.12, gates Q0.15, the LSTM cell state int16 at a power-of-two scale:
 * TFLite's 8x8_16 scheme. The arithmetic is the integer reference (edgernn.reference) exactly.
 * No floating point is used anywhere on this path.
 */
#ifndef ERNN_S8_H
#define ERNN_S8_H

#include "edgernn/ernn_common.h"
#include "edgernn/ernn_fixedpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Quantized fully connected layer with per-row requantization:
 * `y[o] = clamp(MBQM(bias[o] + sum_i weight[o][i] * x[i], multiplier[o], shift[o]) + output_zero_point)`.
 * The input zero point is folded into the bias: `bias = b - input_zero_point * rowsum(weight)`.
 */
typedef struct {
    const int8_t *weight;       /**< [out_features][in_features], row-major. */
    const int32_t *bias;        /**< [out_features], input zero point folded in. */
    const int32_t *multiplier;  /**< [out_features] Q31 multipliers. */
    const int32_t *shift;       /**< [out_features] shifts in [-31, 30]. */
    int32_t in_features;        /**< At most 65536 (keeps the int32 dot product exact). */
    int32_t out_features;
    int32_t output_zero_point;
} ernn_fc_params;

/** Fully connected, int8 in, int16 out (gate pre-activations). */
ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y);

/** Fully connected, int8 in, int8 out (the dense head). */
ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y);

/** Token embedding: a table of vocab_size rows of dim int8 values. */
typedef struct {
    const int8_t *table;  /**< [vocab_size][dim]. */
    int32_t vocab_size;
    int32_t dim;
} ernn_embedding_s8_params;

/** Point *row at the embedding of token (ERNN_ARG_ERROR if token is outside [0, vocab_size)). */
ernn_status ernn_embedding_s8(const ernn_embedding_s8_params *p, int32_t token, const int8_t **row);

/**
 * Elman cell: `h' = requant(tanh(sat16(x_fc(x) + h_fc(h))))`.
 * x_fc carries both biases; to_hidden rescales the Q0.15 tanh to the int8 hidden state.
 */
typedef struct {
    ernn_fc_params x_fc;        /**< hidden_size rows. */
    ernn_fc_params h_fc;        /**< hidden_size rows. */
    ernn_rescale to_hidden;
    int32_t hidden_zero_point;
} ernn_rnn_s8_params;

/**
 * GRU cell (PyTorch semantics): r, z, n gate blocks stacked in x_fc and h_fc (3*hidden rows).
 * The n block of h_fc is at its own int16 scale; reset_mul brings r * h_n to Q3.12, gate_mul a
 * Q0.15 product to Q0.15 and to_hidden the Q0.15 state to the int8 hidden tensor.
 * The recurrent state is the int16 Q0.15 hidden state (the GRU's memory, 16 bits as the LSTM's
 * cell state) plus its int8 requantization, which the recurrent FC reads.
 */
typedef struct {
    ernn_fc_params x_fc;
    ernn_fc_params h_fc;
    ernn_rescale reset_mul;
    ernn_rescale gate_mul;
    ernn_rescale to_hidden;
    int32_t hidden_zero_point;
} ernn_gru_s8_params;

/**
 * LSTM cell, TFLite Micro's 8x8_16 step: i, f, g, o gate blocks stacked in x_fc and h_fc
 * (4*hidden rows); int16 cell state at scale 2^cell_scale_power.
 */
typedef struct {
    ernn_fc_params x_fc;
    ernn_fc_params h_fc;
    ernn_rescale forget_mul;      /**< f * c to the cell scale. */
    ernn_rescale input_mul;       /**< i * g to the cell scale. */
    ernn_rescale output_mul;      /**< o * tanh(c) to the int8 hidden state. */
    int32_t cell_tanh_multiplier; /**< TANH input multiplier for the cell state's scale. */
    int32_t cell_tanh_shift;      /**< TANH input left shift for the cell state's scale. */
    int32_t hidden_zero_point;
} ernn_lstm_s8_params;

/** Scratch bytes of ernn_rnn_step_s8. */
int32_t ernn_rnn_s8_get_buffer_size(const ernn_rnn_s8_params *p);
/** Scratch bytes of ernn_gru_step_s8. */
int32_t ernn_gru_s8_get_buffer_size(const ernn_gru_s8_params *p);
/** Scratch bytes of ernn_lstm_step_s8. */
int32_t ernn_lstm_s8_get_buffer_size(const ernn_lstm_s8_params *p);

/** One Elman step; h (int8, hidden_size) is updated in place. scratch: get_buffer_size bytes. */
ernn_status ernn_rnn_step_s8(const ernn_rnn_s8_params *p, const int8_t *x, int8_t *h, int16_t *scratch);

/** One GRU step; h (int8) and h_q15 (int16 Q0.15 hidden state) are updated in place. */
ernn_status ernn_gru_step_s8(const ernn_gru_s8_params *p, const int8_t *x, int8_t *h, int16_t *h_q15,
                             int16_t *scratch);

/** One LSTM step; h (int8) and c (int16 cell state) are updated in place. */
ernn_status ernn_lstm_step_s8(const ernn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                              int16_t *scratch);

#ifdef __cplusplus
}
#endif

#endif /* ERNN_S8_H */
