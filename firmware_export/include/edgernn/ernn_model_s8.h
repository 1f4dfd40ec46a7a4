/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_model_s8.h
 * @brief A whole int8 model: optional embedding, 1-4 stacked layers (one or two directions),
 *        optional dense head. Streaming (step, run) and whole-sequence (run_sequence) execution.
 *
 * The model descriptor is constant (generated into flash); all mutable memory is the caller's
 * ernn_model_s8_mem. The recurrent state is layer-major: cell k = layer * num_directions + direction
 * owns hidden[k * hidden_size ...] (and cell[...] for GRU and LSTM), so the top layer's directions are
 * contiguous and concatenate without copying.
 */
#ifndef ERNN_MODEL_S8_H
#define ERNN_MODEL_S8_H

#include "edgernn/ernn_s8.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ERNN_MAX_LAYERS 4

/** One (layer, direction) cell: its type selects the member of params. */
typedef struct {
    ernn_cell_type type;
    union {
        ernn_rnn_s8_params rnn;
        ernn_gru_s8_params gru;
        ernn_lstm_s8_params lstm;
    } params;
} ernn_cell_s8;

/** Descriptor of an int8 model (all cells share type and hidden size). */
typedef struct {
    const ernn_cell_s8 *cells;                  /**< num_layers * num_directions, layer-major. */
    int32_t num_layers;                         /**< 1 .. ERNN_MAX_LAYERS. */
    int32_t num_directions;                     /**< 1, or 2 (bidirectional: run_sequence only). */
    int32_t hidden_size;
    int32_t input_size;                         /**< int8 (int16: input_bits) values per step into layer 0. */
    const ernn_embedding_s8_params *embedding;  /**< Token input, or NULL for int8 features. */
    const ernn_fc_params *head;                 /**< Dense head, or NULL: the output is the hidden state. */
    int32_t head_relu;      /**< 1: ReLU between the top layer and the head, max(h, top_zero_point). 0: none. */
    int32_t top_zero_point; /**< The top layer's hidden zero point (real 0), for head_relu. */
    int32_t readout;        /**< ernn_readout (0, ERNN_READOUT_STATE, by default). */
    /** 1: tanh between the top layer and the head (head_relu 0), edgernn.ir.HeadTanh: the int8 h becomes
     * sat16(requantize(h - top_zero_point, head_to_q312)) (Q3.12), the int16 TANH gives Q0.15, and
     * requantize(., head_to_int8) + head_tanh_zero_point (int8) is the head's input. 0: none. */
    int32_t head_tanh;
    ernn_rescale head_to_q312;   /**< top hidden scale / 2^-12. */
    ernn_rescale head_to_int8;   /**< 2^-15 / the tanh output's scale. */
    int32_t head_tanh_zero_point; /**< The tanh output's zero point (the head's input zero point). */
    /** A dense head with int16 output (a regression head: edgernn.ir.Dense with output_bits 16, symmetric,
     * zero point 0) in place of head, which is then NULL. Such a model's outputs are int16: the *_s16
     * functions run it, the int8-output ones return ERNN_UNSUPPORTED. NULL (the default): int8 outputs. */
    const ernn_fc_params *head_s16;
    /** 0 or 8 (the default): int8 features. 16: symmetric int16 features (zero point 0, a regression model's
     * 16-bit input, edgernn.ir.QuantizedRNN.input_bits): layer 0's cells' x_fc are 16x8 (ERNN_FC_INPUT_S16),
     * and the *_x16 functions take them (the int8-input ones return ERNN_UNSUPPORTED, and the *_x16 ones for
     * other models). */
    int32_t input_bits;
} ernn_model_s8;

/** Caller-owned memory of one model instance. */
typedef struct {
    int8_t *hidden;   /**< num_layers * num_directions * hidden_size int8 (recurrent state). */
    int16_t *cell;    /**< Same count of int16 for GRU (Q0.15 hidden state) and LSTM (cell state); NULL for Elman. */
    int16_t *scratch; /**< ernn_model_s8_get_buffer_size() bytes; meaningless between calls. */
} ernn_model_s8_mem;

/** Output values per step: the head's (head or head_s16) width, or num_directions * hidden_size. */
int32_t ernn_model_s8_output_size(const ernn_model_s8 *m);

/** Bytes of recurrent state (int8 hidden plus, for GRU and LSTM, the int16 state). */
int32_t ernn_model_s8_get_state_size(const ernn_model_s8 *m);

/** Bytes of scratch that mem.scratch must hold. */
int32_t ernn_model_s8_get_buffer_size(const ernn_model_s8 *m);

/** Bytes of the work buffer ernn_model_s8_run_sequence needs for `steps` steps. */
int32_t ernn_model_s8_get_sequence_buffer_size(const ernn_model_s8 *m, int32_t steps);

/** Check that a descriptor is consistent (shapes, counts, pointers). */
ernn_status ernn_model_s8_check(const ernn_model_s8 *m);

/** Zero state: every hidden value at its layer's zero point, int16 state 0. */
ernn_status ernn_model_s8_reset(const ernn_model_s8 *m, const ernn_model_s8_mem *mem);

/**
 * One time step of a unidirectional model on int8 features x (input_size values); writes
 * output_size values to y. ERNN_UNSUPPORTED for bidirectional models or models with an embedding.
 */
ernn_status ernn_model_s8_step(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int8_t *y);

/** One time step of a unidirectional token model (ERNN_ARG_ERROR for a token out of range). */
ernn_status ernn_model_s8_step_token(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t token,
                                     int8_t *y);

/**
 * `steps` time steps of a unidirectional model: identical to stepping. Input is either int8
 * features xs (steps * input_size) or token ids tokens (steps); pass the other one as NULL.
 * ys receives steps * output_size values.
 */
ernn_status ernn_model_s8_run(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                              const int32_t *tokens, int32_t steps, int8_t *ys);

/**
 * A whole sequence, layer by layer, from the state in mem (call reset first for a fresh one):
 * any model, bidirectional ones too. The head is applied at every step (ys: steps * output_size).
 * Afterwards mem holds the final state: forward directions after the last step, backward
 * directions after step 0. work: ernn_model_s8_get_sequence_buffer_size(m, steps) bytes.
 */
ernn_status ernn_model_s8_run_sequence(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                       const int32_t *tokens, int32_t steps, int8_t *ys, int8_t *work);

/**
 * The many-to-one output: the head (if any) applied to the top layer's current hidden state,
 * directions concatenated. After run_sequence this is a bidirectional classifier's output.
 */
ernn_status ernn_model_s8_final_output(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int8_t *y);

/*
 * The same five functions for a model with an int16 head (head_s16 set): int16 outputs at the head's
 * scale (y = scale * y_q). ERNN_UNSUPPORTED for a model without one. run_sequence_s16's work holds
 * ernn_model_s8_get_sequence_buffer_size(m, steps) bytes, as run_sequence's.
 */
ernn_status ernn_model_s8_step_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *x, int16_t *y);
ernn_status ernn_model_s8_step_token_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int32_t token,
                                         int16_t *y);
ernn_status ernn_model_s8_run_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                  const int32_t *tokens, int32_t steps, int16_t *ys);
ernn_status ernn_model_s8_run_sequence_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int8_t *xs,
                                           const int32_t *tokens, int32_t steps, int16_t *ys, int8_t *work);
ernn_status ernn_model_s8_final_output_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, int16_t *y);

/*
 * step, run and run_sequence for a model with a 16-bit input (input_bits 16): int16 features x (input_size
 * values per step, at the input scale, zero point 0); int8 outputs, or (the *_x16_s16 ones) int16 outputs of
 * an int16 head. ERNN_UNSUPPORTED for a model without a 16-bit input, or with the other output width.
 */
ernn_status ernn_model_s8_step_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *x, int8_t *y);
ernn_status ernn_model_s8_run_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                  int32_t steps, int8_t *ys);
ernn_status ernn_model_s8_run_sequence_x16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                           int32_t steps, int8_t *ys, int8_t *work);
ernn_status ernn_model_s8_step_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *x,
                                       int16_t *y);
ernn_status ernn_model_s8_run_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem, const int16_t *xs,
                                      int32_t steps, int16_t *ys);
ernn_status ernn_model_s8_run_sequence_x16_s16(const ernn_model_s8 *m, const ernn_model_s8_mem *mem,
                                               const int16_t *xs, int32_t steps, int16_t *ys, int8_t *work);

#ifdef __cplusplus
}
#endif

#endif /* ERNN_MODEL_S8_H */
