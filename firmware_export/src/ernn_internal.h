/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_internal.h
 * @brief Private helpers shared by the runtime's source files (not part of the API).
 */
#ifndef ERNN_INTERNAL_H
#define ERNN_INTERNAL_H

#include "edgernn/ernn_s8.h"
#include "ernn_lut_s16.h"

#if defined(__GNUC__)
#define ERNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ERNN_ALWAYS_INLINE inline
#endif

/* The hand-scheduled Armv7E-M asm (ports/arm_dsp, the LSTM's cell pairs) needs r7, which unoptimized Thumb
 * builds reserve as the frame pointer; they take the portable C, which gives the same integers. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__thumb2__) && defined(__GNUC__) && \
    defined(__OPTIMIZE__)
#define ERNN_DSP_ASM 1
#endif

/** n rounded up to a multiple of m (a power of two). */
static inline int32_t ernn_round_up(int32_t n, int32_t m)
{
    return (n + m - 1) & ~(m - 1);
}

/** Rows of one gate block in a cell's FCs: hidden_size, padded to a multiple of 4 when packed. */
static inline int32_t ernn_gate_stride(const ernn_fc_params *fc, int32_t hidden)
{
    return fc->packing != 0 ? ernn_round_up(hidden, 4) : hidden;
}

/**
 * Hidden size of a cell whose input and recurrent layers have `gates` stacked blocks of
 * hidden rows, or 0 if their shapes disagree: x_out == h_out == gates * h_in (the float path).
 */
static inline int32_t ernn_cell_hidden_size(int32_t x_out, int32_t h_in, int32_t h_out, int32_t gates)
{
    return (h_in > 0 && x_out == gates * h_in && h_out == gates * h_in) ? h_in : 0;
}

/**
 * Hidden size of an int8 cell whose input and recurrent layers hold `gates` stacked blocks of hidden
 * rows (each padded as ernn_gate_stride says; both layers packed alike), or 0 if their shapes disagree.
 */
static inline int32_t ernn_cell_hidden_size_s8(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, int32_t gates)
{
    const int32_t n = h_fc->in_features;
    if (n <= 0 || x_fc->packing != h_fc->packing) {
        return 0;
    }
    const int32_t rows = gates * ernn_gate_stride(h_fc, n);
    return (x_fc->out_features == rows && h_fc->out_features == rows) ? n : 0;
}

/**
 * Scratch bytes of a cell: `rows` int16 gate pre-activations (the input and recurrent parts summed,
 * see ernn_cell_fcs), then the widened-input buffer the two FCs share.
 */
static inline int32_t ernn_cell_buffer_size(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, int32_t rows)
{
    const int32_t fx = ernn_fc_s8_get_buffer_size(x_fc);
    const int32_t fh = ernn_fc_s8_get_buffer_size(h_fc);
    return rows * (int32_t)sizeof(int16_t) + (fx > fh ? fx : fh);
}

/* Activation codes of ernn_fc_into.activations, 2 bits per gate block. */
#define ERNN_ACT_NONE 0u
#define ERNN_ACT_SIGMOID 1u
#define ERNN_ACT_TANH 2u

/**
 * Where an int16 layer's rows go (the cells' gates): rows o < added_rows are added to y[o] with int16
 * saturation (a gate's input and recurrent parts summed) and then, if gate block o / gate_rows has an
 * activation in `activations` (2 bits per block), replaced by sigmoid or tanh of the sum (Q3.12 in,
 * Q0.15 out: ernn_sigmoid_q312 / ernn_tanh_q312); rows o >= added_rows are written to tail[o - added_rows].
 */
typedef struct {
    int16_t *y;
    int32_t added_rows;
    int16_t *tail;
    int32_t gate_rows;
    uint32_t activations;
} ernn_fc_into;

ernn_status ernn_fc_s8_s16_into(const ernn_fc_params *p, const int8_t *x, ernn_fc_into into, int16_t *buffer);

/** The activation `code` (ERNN_ACT_*) of a Q3.12 value. */
static inline int32_t ernn_activate_q312(uint32_t code, int32_t v)
{
    return code == ERNN_ACT_SIGMOID ? ernn_sigmoid_q312(v) : (code == ERNN_ACT_TANH ? ernn_tanh_q312(v) : v);
}

/**
 * Run a cell's two FCs into scratch: scratch[o] = act(x_fc(x)[o] (+) h_fc(h)[o]) (int16 saturating sum)
 * for o < added_rows (see ernn_fc_into), and h_fc's rows from added_rows on to scratch + x_fc's rows
 * (the GRU's h_n). The shared buffer follows `rows` gate values.
 */
#if !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
/* 1 if a port's fused kernel did all of ernn_cell_fcs (ernn_fc_s8.c; x86-64: AVX-512 VNNI), else 0. */
int ernn_cell_fcs_fused(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int8_t *x, const int8_t *h,
                        int16_t *scratch, int16_t *buffer, int32_t added_rows, uint32_t activations);
/* 1 if ernn_cell_fcs_fused takes these layers (valid parameters, the fused kernel's layout and form). */
int ernn_cell_fcs_fusable(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, int32_t added_rows);
/* The LSTM over many steps in one call (ernn_lstm_s8.c, x86-64 with AVX2 or wider): 1 if ernn_lstm_run_s8
 * takes this cell (on this CPU), else 0. */
int ernn_lstm_run_s8_ok(const ernn_lstm_s8_params *p);
/* `steps` steps of an LSTM cell that ernn_lstm_run_s8_ok takes, on the inputs xs + t * x_stride: h and c
 * updated in place as by `steps` calls of ernn_lstm_step_s8 (the same integers), step t's h also to
 * hs + t * hs_stride (hs may be xs when the strides are equal). Returns 0 (nothing done) if the cell is
 * not one it takes. */
int ernn_lstm_run_s8(const ernn_lstm_s8_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                     int16_t *c, int8_t *hs, size_t hs_stride);
#define ERNN_LSTM_RUN 1
/* The GRU over many steps in one call (ernn_gru_s8.c, x86-64 with AVX2 or wider): 1 if ernn_gru_run_s8 takes
 * this cell (on this CPU), else 0. */
int ernn_gru_run_s8_ok(const ernn_gru_s8_params *p);
/* `steps` steps of a GRU cell that ernn_gru_run_s8_ok takes, on the inputs xs + t * x_stride: h and h_q15
 * updated in place as by `steps` calls of ernn_gru_step_s8 (the same integers), step t's h also to
 * hs + t * hs_stride (hs may be xs when the strides are equal). Returns 0 (nothing done) if the cell is not
 * one it takes. */
int ernn_gru_run_s8(const ernn_gru_s8_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                    int16_t *h_q15, int8_t *hs, size_t hs_stride);
#define ERNN_GRU_RUN 1
/* A packed int8 layer on `steps` inputs xs + t * x_stride in one call, ys + t * y_stride getting what
 * ernn_fc_s8_s8 gives for each (the same integers): 1 if done, 0 (nothing done) if the layer, or this CPU, is
 * not one it takes (x86-64 with AVX-512 VNNI: bounded packed layers of up to 256 rows; ernn_fc_s8.c). */
int ernn_fc_s8_s8_rows(const ernn_fc_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *ys,
                       size_t y_stride);
#define ERNN_FC_ROWS 1
#endif

/* ernn_cell_fcs for an x_fc with a 16-bit input (x holds int16_t values): the portable 16x8 layer, then
 * h_fc added as in ernn_cell_fcs (ernn_fc_s8.c). */
ernn_status ernn_cell_fcs_x16(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int16_t *x,
                              const int8_t *h, int16_t *scratch, int32_t added_rows, int32_t rows,
                              uint32_t activations);

static inline ernn_status ernn_cell_fcs(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int8_t *x,
                                        const int8_t *h, int16_t *scratch, int32_t added_rows, int32_t rows,
                                        uint32_t activations)
{
    if (x_fc->bounded == ERNN_FC_INPUT_S16) { /* layer 0 of a 16-bit-input model: x is int16_t (ernn_s8.h) */
        return ernn_cell_fcs_x16(x_fc, h_fc, (const int16_t *)(const void *)x, h, scratch, added_rows, rows,
                                 activations);
    }
    int16_t *buffer = scratch + rows;
#if !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
    if (ernn_cell_fcs_fused(x_fc, h_fc, x, h, scratch, buffer, added_rows, activations)) {
        return ERNN_OK;
    }
#endif
    const ernn_fc_into into = {scratch, added_rows, scratch + x_fc->out_features,
                               ernn_gate_stride(h_fc, h_fc->in_features), activations};
    if (ernn_fc_s8_s16_buffered(x_fc, x, scratch, buffer) != ERNN_OK ||
        ernn_fc_s8_s16_into(h_fc, h, into, buffer) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    return ERNN_OK;
}

/** Gate rows a cell keeps in scratch: its gates (summed), plus the GRU's recurrent n block. */
static inline int32_t ernn_cell_rows(ernn_cell_type type, const ernn_fc_params *h_fc, int32_t hidden)
{
    const int32_t gates = ernn_cell_gates(type);
    return (gates + (type == ERNN_CELL_GRU ? 1 : 0)) * ernn_gate_stride(h_fc, hidden);
}

/* ---- row-major dot products (packing 0) ---------------------------------------------------- */

/** One row of a row-major matrix: sum_i w[i] * x[i], exact in int32 (n <= 65536). */
static inline int32_t ernn_dot1_s8_portable(const int8_t *w, int32_t n, const int8_t *x)
{
    int32_t s = 0;
    for (int32_t i = 0; i < n; ++i) {
        s += w[i] * x[i];
    }
    return s;
}

/* ---- the short requantization ---------------------------------------------------------- */

/** round(a * b / 2^32), ties up: SMMULR. With a = 2x (no overflow) it is SRDHM(x, b) exactly. */
static inline int32_t ernn_smmulr(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
#endif
}

/*
 * The short requantization of a bounded layer. With a = acc * 2^max(shift, 0), TFLite's
 * MultiplyByQuantizedMultiplier is RDPOT(SRDHM(a, M), right), right = max(-shift, 0), where
 * SRDHM(a, M) = (a * M + 2^30) >> 31 (ernn_srdhm; a == M == INT32_MIN is impossible, M >= 0) and no
 * saturation of the left shift happens. The exporter proved |acc| * 2^(max(shift, 0) + 1) < 2^31, so
 * 2a is an int32 and SMMULR(2a, M) = (2a * M + 2^31) >> 32 = (a * M + 2^30) >> 31 = SRDHM(a, M): the
 * same integer, no case left out. Then |t| <= 2^30 - 1 (|a| < 2^30, M < 2^31), and RDPOT (round
 * half away from zero) is t / 2^right rounded: floor((t + 2^(right - 1) - [t < 0]) / 2^right) for
 * right >= 1, which is (t + (t >> 31) + 2^(right - 1)) >> right with no overflow (|t| + 2^30 < 2^31);
 * for right == 0 it is t itself. tests/unit/test_c_packing.py checks both identities on edge and
 * random operands against edgernn.fixedpoint.
 */
typedef struct {
    int32_t multiplier;
    int32_t left;  /* max(shift, 0) + 1 */
    int32_t right; /* max(-shift, 0) */
    int32_t round; /* 2^(right - 1), or 0 */
    int32_t mask;  /* -1 if right > 0, else 0 */
} ernn_fast_rescale;

static inline ernn_fast_rescale ernn_fast_of(int32_t multiplier, int32_t shift)
{
    ernn_fast_rescale r;
    r.multiplier = multiplier;
    r.left = (shift > 0 ? shift : 0) + 1;
    r.right = shift < 0 ? -shift : 0;
    r.round = r.right > 0 ? (int32_t)1 << (r.right - 1) : 0;
    r.mask = r.right > 0 ? -1 : 0;
    return r;
}

/**
 * The short form with the rounding shift on (rounding_shift != 0, needs right > 0) or off (right == 0).
 * With the DSP extension the rounding is folded into SMMLAR: SMMLAR(a, M, R) = R + SMMULR(a, M) exactly,
 * and R = round + (acc >> 31) uses the sign of acc for the sign of t: they agree whenever t != 0 (M > 0),
 * and for t == 0 with acc < 0 both give (round - 1) >> right = 0 = round >> right.
 */
static ERNN_ALWAYS_INLINE int32_t ernn_fast_out(int32_t acc, ernn_fast_rescale r, int rounding_shift)
{
    const int32_t a = (int32_t)((uint32_t)acc << r.left);
    if (!rounding_shift) {
        return ernn_smmulr(a, r.multiplier);
    }
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t t;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(t) : "r"(a), "r"(r.multiplier), "r"(r.round + (acc >> 31)));
    return t >> r.right;
#else
    const int32_t t = ernn_smmulr(a, r.multiplier);
    return (t + (t >> 31) + r.round) >> r.right;
#endif
}

/**
 * The short form for any right (one AND more than ernn_fast_out), for the cells' element-wise
 * products: exact when |x| * 2^r.left < 2^31. A product of two Q0.15 values of which one is never
 * -32768 has |x| <= 2^15 * (2^15 - 1) < 2^30, so shift <= 0 suffices; one int16 value (|x| <= 2^15)
 * allows shift <= 14. The cells check these shifts each step and keep the general form otherwise.
 */
static inline int32_t ernn_fast_any(int32_t x, ernn_fast_rescale r)
{
    const int32_t t = ernn_smmulr((int32_t)((uint32_t)x << r.left), r.multiplier);
    return (t + ((t >> 31) & r.mask) + r.round) >> r.right;
}

/** Saturate to int16 / int8 (one SSAT). */
#if defined(__ARM_FEATURE_SAT) && defined(__GNUC__)
static inline int32_t ernn_ssat16(int32_t v)
{
    int32_t r;
    __asm__("ssat %0, #16, %1" : "=r"(r) : "r"(v)); /* ACLE's __ssat trips -Wsign-conversion in gcc 12 */
    return r;
}
static inline int32_t ernn_ssat8(int32_t v)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(v));
    return r;
}
#else
static inline int32_t ernn_ssat16(int32_t v)
{
    return ernn_clamp(v, INT16_MIN, INT16_MAX);
}
static inline int32_t ernn_ssat8(int32_t v)
{
    return ernn_clamp(v, INT8_MIN, INT8_MAX);
}
#endif

#endif /* ERNN_INTERNAL_H */
