/* SPDX-License-Identifier: Apache-2.0 */
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
 * Weight packing of the exporter, per core: 4 output rows by ERNN_FC_PACK_K input columns are stored
 * together (see ernn_fc_params.packing). 16 on cores with integer MVE, on AArch64 and on x86-64 (one
 * 16-byte vector per row), else 4 (one 32-bit word per row: one LDM feeds 16 DSP multiply-accumulates).
 */
#if (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)) || defined(__aarch64__) || defined(__x86_64__) || \
    defined(_M_X64) || defined(_M_ARM64)
#define ERNN_FC_PACK_K 16 /* MVE, AArch64 NEON, x86-64 AVX2: 16 columns per row and vector */
#else
#define ERNN_FC_PACK_K 4
#endif

/**
 * Quantized fully connected layer:
 * `y[o] = clamp(MBQM(bias[o] + sum_i weight[o][i] * x[i], multiplier, shift) + output_zero_point)`.
 * The input zero point is folded into the bias: `bias = b - input_zero_point * rowsum(weight)`.
 *
 * packing 0 (what hand-built layers use, every core): weight row-major [out_features][in_features],
 * bias, multiplier and shift per row; group_rows and bounded are ignored.
 *
 * packing ERNN_FC_PACK_K (what the exporter writes for the core): rows padded with zeros to R, a
 * multiple of 4, columns to C, a multiple of K = packing; weight[o][i] is stored at
 * `((o / 4) * (C / K) + i / K) * 4 * K + (o % 4) * K + i % K`; bias has R entries.
 * group_rows > 0 (a multiple of 4): rows [g * group_rows, (g + 1) * group_rows) share multiplier[g]
 * and shift[g] (a gate block of a cell); group_rows 0: one per row. bounded != 0 states what the
 * exporter proved (edgernn/export/c_packing.py): for every row o and every int8 input,
 * `|bias[o] + dot| * 2^(max(shift, 0) + 1) < 2^31` and, for int16 output, output_zero_point == 0;
 * then the requantization is the exact short form (SMMULR of the doubled accumulator, see
 * ernn_fc_s8.c). Otherwise the general saturating form runs. bounded == 2 (packing 4 only): the same
 * proof, and bias holds 2 * bias; the kernels double the widened input, so the accumulator arrives
 * already doubled (one shift fewer per row, edgernn/export/c_packing.py). bounded == 3: the same proof
 * and no weight is -128 (the NEON port's Cortex-A72 kernel then sums two int8 products in int16; 1
 * keeps its widening kernel).
 * Packed layers need a buffer of ernn_fc_s8_get_buffer_size() bytes (the input, widened).
 */
typedef struct {
    const int8_t *weight;       /**< See packing. */
    const int32_t *bias;        /**< Per row (padded rows too), input zero point folded in. */
    const int32_t *multiplier;  /**< Q31 multipliers: per row, or per group of rows. */
    const int32_t *shift;       /**< Shifts in [-31, 30], as multiplier. */
    int32_t in_features;        /**< At most 65536 (keeps the int32 dot product exact). */
    int32_t out_features;       /**< Rows written to y. */
    int32_t output_zero_point;
    int32_t packing;            /**< 0: row-major; else ERNN_FC_PACK_K of the core it was packed for. */
    int32_t group_rows;         /**< Packed: rows per multiplier (a multiple of 4), 0: per row. */
    int32_t bounded;            /**< Packed: 0 general form; 1 short form (2: bias doubled; 3: no -128 weight). */
} ernn_fc_params;

/**
 * ernn_fc_params.bounded of a 16x8 layer: its input is symmetric int16 (zero point 0), the x_fc of layer 0 of a
 * model with a 16-bit input (edgernn.ir.FullyConnected.input_bits 16; any packing, the general requantization
 * of the same int32 accumulator). Only a cell step runs it: pass the int16_t features cast to const int8_t *;
 * the 16x8 part runs in portable C (the SIMD ports are 8x8), then the recurrent part is added as for any cell.
 * The int8 FC functions refuse such a layer (ERNN_ARG_ERROR).
 */
#define ERNN_FC_INPUT_S16 (-16)

/** Bytes of buffer a packed layer needs (0 for packing 0): 2 * in_features rounded up to 16 values. */
int32_t ernn_fc_s8_get_buffer_size(const ernn_fc_params *p);

/** Fully connected, int8 in, int16 out (gate pre-activations); packing 0 only. */
ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y);

/** Fully connected, int8 in, int8 out (the dense head); packing 0 only. */
ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y);

/** Fully connected, int16 out, any packing; buffer: ernn_fc_s8_get_buffer_size bytes (may be NULL if 0). */
ernn_status ernn_fc_s8_s16_buffered(const ernn_fc_params *p, const int8_t *x, int16_t *y, int16_t *buffer);

/** Fully connected, int8 out, any packing (see ernn_fc_s8_s16_buffered). */
ernn_status ernn_fc_s8_s8_buffered(const ernn_fc_params *p, const int8_t *x, int8_t *y, int16_t *buffer);

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
 * With relu set: `h' = max(requant(sat16(x_fc(x) + h_fc(h))), hidden_zero_point)`, the int16
 * pre-activation (at the FCs' own scale) requantized and clamped below at real 0.
 */
typedef struct {
    ernn_fc_params x_fc;        /**< hidden_size rows. */
    ernn_fc_params h_fc;        /**< hidden_size rows. */
    ernn_rescale to_hidden;
    int32_t hidden_zero_point;
    int32_t relu;               /**< 0: tanh (the default), 1: ReLU. */
} ernn_rnn_s8_params;

/**
 * GRU cell (PyTorch semantics): r, z, n gate blocks stacked in x_fc and h_fc (3 blocks of hidden rows;
 * packed layers pad each block to a multiple of 4 rows, the same for every cell below).
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
    int32_t cell_clip;            /**< > 0: c clamped to [-cell_clip, cell_clip] after each update; 0: no clip. */
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
