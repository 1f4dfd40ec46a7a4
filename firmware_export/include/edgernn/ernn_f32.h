/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_f32.h
 * @brief float32 path for cores with an FPU: the same cells and model on the float weights.
 *
 * Same formulas as the numpy float model (edgernn.floatmodel): PyTorch's GRU/LSTM/Elman cells.
 * Needs no libm: exp, sigmoid and tanh are computed here (relative error ~1e-7).
 * Inputs are in the model's normalized domain (features already standardized).
 * Where the compiler targets a SIMD unit (x86-64 AVX2+FMA / AVX-512F, chosen at run time; AArch64 NEON;
 * Cortex-M55 MVE float), ports/ kernels do the FCs of the paneled layout and the cells' element-wise
 * math; -DERNN_PORTABLE keeps the plain C. Results agree with the plain C to float32 rounding (the sums
 * are taken in another order), not bit for bit.
 */
#ifndef ERNN_F32_H
#define ERNN_F32_H

#include "edgernn/ernn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** exp(x) in float32 without libm (saturates to 0 / FLT_MAX-ish outside [-87, 88]). */
float ernn_exp_f32(float x);

/** 1 / (1 + exp(-x)). */
float ernn_sigmoid_f32(float x);

/** tanh(x), accurate near zero. */
float ernn_tanh_f32(float x);

/** Elementwise y = sigmoid(x) over n values (vectorized where a port is; in place allowed). */
void ernn_sigmoid_vec_f32(const float *x, float *y, int32_t n);

/** Elementwise y = tanh(x) over n values (vectorized where a port is; in place allowed). */
void ernn_tanh_vec_f32(const float *x, float *y, int32_t n);

/** The float kernels this build runs on this CPU (e.g. "x86 AVX-512F", "neon", "plain C"): ports pick at run time. */
const char *ernn_f32_kernel_name(void);

/** Outputs per panel of the paneled FC layout (ERNN_FC_F32_PANELS). */
#define ERNN_F32_PANEL 16

/** ernn_fc_f32_params.layout: how the weights are stored. */
typedef enum {
    ERNN_FC_F32_ROWS = 0,   /**< [out_features][in_features], row-major (the default). */
    /** The export's: outputs in panels of ERNN_F32_PANEL (the last one narrower when out_features is no
     *  multiple), each panel [in_features][its width], one after the other. Weight (o, i) is at
     *  16 * in_features * (o / 16) + i * width + o % 16. Each input's weights for a panel are contiguous
     *  and each panel is one sequential stream: the outputs vectorize with no horizontal sums. */
    ERNN_FC_F32_PANELS = 1
} ernn_fc_f32_layout;

/** Float fully connected: `y = weight * x + bias`. */
typedef struct {
    const float *weight; /**< Laid out as `layout` says. */
    const float *bias;   /**< [out_features]. */
    int32_t in_features;
    int32_t out_features;
    int32_t layout; /**< An ernn_fc_f32_layout (0, row-major, when an initializer leaves it out). */
} ernn_fc_f32_params;

/** y = weight * x + bias. */
ernn_status ernn_fc_f32(const ernn_fc_f32_params *p, const float *x, float *y);

/** A float cell: PyTorch's weight_ih/bias_ih (x_fc) and weight_hh/bias_hh (h_fc), gate blocks stacked. */
typedef struct {
    ernn_fc_f32_params x_fc;
    ernn_fc_f32_params h_fc;
    int32_t relu; /**< Elman only: 0 tanh (the default), 1 ReLU. */
} ernn_cell_f32_params;

/** Scratch bytes of a float cell step with `gates` gate blocks (1, 3 or 4). */
int32_t ernn_cell_f32_get_buffer_size(const ernn_cell_f32_params *p, int32_t gates);

/** Elman step: h = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu(...) with p->relu), in place. */
ernn_status ernn_rnn_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch);

/** GRU step (PyTorch): h = (1 - z) * n + z * h, in place. */
ernn_status ernn_gru_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch);

/** LSTM step: c = f * c + i * g, h = o * tanh(c), in place. */
ernn_status ernn_lstm_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *c, float *scratch);

/** One (layer, direction) float cell. */
typedef struct {
    ernn_cell_type type;
    ernn_cell_f32_params params;
} ernn_cell_f32;

/** Descriptor of a float model; same structure as ernn_model_s8. */
typedef struct {
    const ernn_cell_f32 *cells;         /**< num_layers * num_directions, layer-major. */
    int32_t num_layers;
    int32_t num_directions;
    int32_t hidden_size;
    int32_t input_size;                 /**< Values per step into layer 0. */
    const float *embedding;             /**< [vocab_size][input_size] for token input, or NULL. */
    int32_t vocab_size;
    const ernn_fc_f32_params *head;     /**< Dense head, or NULL. */
    int32_t head_relu;                  /**< 1: ReLU between the top layer and the head. */
    int32_t readout;                    /**< ernn_readout (0, ERNN_READOUT_STATE, by default). */
    int32_t head_tanh;                  /**< 1: tanh between the top layer and the head (head_relu 0). */
} ernn_model_f32;

/** Caller-owned memory of one float model instance. */
typedef struct {
    float *hidden;  /**< num_layers * num_directions * hidden_size. */
    float *cell;    /**< Same count for LSTM; NULL otherwise. */
    float *scratch; /**< ernn_model_f32_get_buffer_size() bytes. */
} ernn_model_f32_mem;

/** Output values per step. */
int32_t ernn_model_f32_output_size(const ernn_model_f32 *m);
/** Bytes of recurrent state. */
int32_t ernn_model_f32_get_state_size(const ernn_model_f32 *m);
/** Bytes of scratch. */
int32_t ernn_model_f32_get_buffer_size(const ernn_model_f32 *m);
/** Bytes of the work buffer of ernn_model_f32_run_sequence for `steps` steps. */
int32_t ernn_model_f32_get_sequence_buffer_size(const ernn_model_f32 *m, int32_t steps);
/** Check a descriptor's consistency. */
ernn_status ernn_model_f32_check(const ernn_model_f32 *m);
/** Zero state. */
ernn_status ernn_model_f32_reset(const ernn_model_f32 *m, const ernn_model_f32_mem *mem);
/** One step of a unidirectional model on features x (ERNN_UNSUPPORTED for token or bidirectional models). */
ernn_status ernn_model_f32_step(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *x, float *y);
/** One step of a unidirectional token model. */
ernn_status ernn_model_f32_step_token(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, int32_t token,
                                      float *y);
/** Many steps (features xs or tokens; the other NULL); identical to stepping. */
ernn_status ernn_model_f32_run(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *xs,
                               const int32_t *tokens, int32_t steps, float *ys);
/** A whole sequence layer by layer (bidirectional models too); see ernn_model_s8_run_sequence. */
ernn_status ernn_model_f32_run_sequence(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, const float *xs,
                                        const int32_t *tokens, int32_t steps, float *ys, float *work);
/** The head on the top layer's current hidden state, directions concatenated. */
ernn_status ernn_model_f32_final_output(const ernn_model_f32 *m, const ernn_model_f32_mem *mem, float *y);

#ifdef __cplusplus
}
#endif

#endif /* ERNN_F32_H */
