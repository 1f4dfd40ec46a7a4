/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_fc_s8.c
 * @brief int8 fully connected (TFLite FULLY_CONNECTED): row-major layers, and layers the exporter packed
 *        for the core (see ernn_fc_params) with the short exact requantization where it proved it exact.
 */
#include <string.h>

#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

/* Optimized drop-ins from firmware_export/ports/, picked by the compiler's own macros (an export
 * carries the chosen text inline). Each defines ERNN_PORT_NAME, ernn_widen_port, ernn_mac4_port and
 * (MVE) nothing else, bit-exact to the portable C in ernn_internal.h. -DERNN_PORTABLE disables them.
 * The DSP port's asm uses r7, Thumb's frame pointer in unoptimized builds (gcc: "r7 cannot be used in
 * 'asm' here"), so an -O0 build takes the portable C (ERNN_DSP_ASM in ernn_internal.h). */
#if !defined(ERNN_PORTABLE)
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include "../ports/arm_mve/ernn_dot_s8_mve.h"
#elif defined(ERNN_DSP_ASM)
#include "../ports/arm_dsp/ernn_dot_s8_dsp.h"
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_dot_s8_neon.h"
#elif defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_dot_s8_x86.h"
#endif
#endif

#if defined(ERNN_PORT_NAME)
#define ernn_widen ernn_widen_port
#define ernn_mac4 ernn_mac4_port
#else
#define ERNN_PORT_NAME "portable"

/* ---- packed kernels, portable C (packing ERNN_FC_PACK_K) ----------------------------------- */

/*
 * The widened input of a packed layer, shared by all its rows. K = 4: per group of four inputs
 * x0..x3 the int16 values x0, x2, x1, x3 (the even/odd byte order of SXTB16, so the DSP port reads
 * them as two int16 pairs); zeros up to the padded width. K = 16: the int8 values themselves, zero
 * padded to a multiple of 16 (MVE loads them directly).
 */
/* 2x in the same order (the doubled form, bounded == 2). */
static inline void ernn_widen_doubled_portable(const int8_t *x, int32_t n, int16_t *buffer)
{
    const int32_t padded = ernn_round_up(n, 4);
    for (int32_t i = 0; i < padded; i += 4) {
        for (int32_t k = 0; k < 4; ++k) {
            static const int8_t order[4] = {0, 2, 1, 3};
            const int32_t j = i + order[k];
            buffer[i + k] = j < n ? (int16_t)(x[j] * 2) : 0;
        }
    }
}

static inline void ernn_widen_portable(const int8_t *x, int32_t n, int16_t *buffer)
{
#if ERNN_FC_PACK_K == 4
    const int32_t padded = ernn_round_up(n, 4);
    for (int32_t i = 0; i < padded; i += 4) {
        for (int32_t k = 0; k < 4; ++k) {
            static const int8_t order[4] = {0, 2, 1, 3};
            const int32_t j = i + order[k];
            buffer[i + k] = j < n ? (int16_t)x[j] : 0;
        }
    }
#else
    int8_t *b = (int8_t *)buffer;
    const int32_t padded = ernn_round_up(n, ERNN_FC_PACK_K);
    for (int32_t i = 0; i < padded; ++i) {
        b[i] = i < n ? x[i] : 0;
    }
#endif
}

/*
 * acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp with the widened input
 * (chunks groups of K columns; buffer_end is where they end), r = 0..3; *wp advances past the block.
 * Exact: the caller's bound keeps every partial sum inside int32.
 */
#if defined(__GNUC__)
__attribute__((noinline)) /* one copy in flash: every FC path of a build without a port calls it */
#endif
static void ernn_mac4_portable(const int8_t **wp, const int32_t *bias, const int16_t *buffer, int32_t chunks,
                               const int16_t *const *buffer_end, int32_t acc[4])
{
    (void)buffer_end;
    const int8_t *w = *wp;
    int32_t s0 = bias[0], s1 = bias[1], s2 = bias[2], s3 = bias[3];
#if ERNN_FC_PACK_K == 4
    for (int32_t c = 0; c < chunks; ++c, w += 16, buffer += 4) {
        const int32_t x0 = buffer[0], x2 = buffer[1], x1 = buffer[2], x3 = buffer[3];
        s0 += w[0] * x0 + w[1] * x1 + w[2] * x2 + w[3] * x3;
        s1 += w[4] * x0 + w[5] * x1 + w[6] * x2 + w[7] * x3;
        s2 += w[8] * x0 + w[9] * x1 + w[10] * x2 + w[11] * x3;
        s3 += w[12] * x0 + w[13] * x1 + w[14] * x2 + w[15] * x3;
    }
#else
    const int8_t *xb = (const int8_t *)buffer;
    for (int32_t c = 0; c < chunks; ++c, w += 4 * ERNN_FC_PACK_K, xb += ERNN_FC_PACK_K) {
        for (int32_t k = 0; k < ERNN_FC_PACK_K; ++k) {
            const int32_t xk = xb[k];
            s0 += w[k] * xk;
            s1 += w[ERNN_FC_PACK_K + k] * xk;
            s2 += w[2 * ERNN_FC_PACK_K + k] * xk;
            s3 += w[3 * ERNN_FC_PACK_K + k] * xk;
        }
    }
#endif
    *wp = w;
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}

#define ernn_widen ernn_widen_portable
#define ernn_mac4 ernn_mac4_portable
#if ERNN_FC_PACK_K == 4
#define ERNN_PORT_WIDEN_DOUBLED 1
#define ernn_widen_doubled_port ernn_widen_doubled_portable
#endif
#endif

/*
 * The widened input of a layer with the doubled bias (bounded == 2, packing 4): 2 * x. A port may widen
 * and double in one pass (ERNN_PORT_WIDEN_DOUBLED); otherwise its int16 widened values are doubled here.
 */
static void widen_layer(const ernn_fc_params *p, const int8_t *x, int16_t *buffer)
{
    if (p->bounded != 2) {
        ernn_widen(x, p->in_features, buffer);
        return;
    }
#if defined(ERNN_PORT_WIDEN_DOUBLED)
    ernn_widen_doubled_port(x, p->in_features, buffer);
#else
    ernn_widen(x, p->in_features, buffer);
    for (int32_t i = 0; i < ernn_round_up(p->in_features, 4); ++i) {
        buffer[i] = (int16_t)(buffer[i] * 2);
    }
#endif
}

/* The short requantization constants of group (or row) g of a bounded layer; a doubled accumulator
 * (bounded == 2) is shifted left once less. */
static inline ernn_fast_rescale layer_rescale(const ernn_fc_params *p, int32_t g)
{
    ernn_fast_rescale r = ernn_fast_of(p->multiplier[g], p->shift[g]);
    r.left -= p->bounded == 2;
    return r;
}

#define ERNN_MAX_FC_IN_FEATURES 65536 /* 65536 * 128 * 128 < 2^31: the dot product cannot overflow */

static int fc_params_ok(const ernn_fc_params *p)
{
    return p != NULL && p->weight != NULL && p->bias != NULL && p->multiplier != NULL && p->shift != NULL &&
           p->in_features > 0 && p->in_features <= ERNN_MAX_FC_IN_FEATURES && p->out_features > 0 &&
           (p->packing == 0 || (p->packing == ERNN_FC_PACK_K && p->group_rows >= 0 && p->group_rows % 4 == 0)) &&
           (p->bounded != 2 || p->packing == 4) && p->bounded != ERNN_FC_INPUT_S16;
}

int32_t ernn_fc_s8_get_buffer_size(const ernn_fc_params *p)
{
    if (p == NULL || p->packing == 0 || p->in_features <= 0 || p->in_features > ERNN_MAX_FC_IN_FEATURES) {
        return 0;
    }
    /* the widened input, rounded up to 16 values, + 2 values to align it to a word (fc_packed) */
    return (ernn_round_up(p->in_features, 16) + 2) * (int32_t)sizeof(int16_t);
}

/* clamp(MBQM(bias + dot), lo, hi) with the output zero point: the general form. The reference
 * rejects models whose accumulator leaves int32; saturate rather than overflow. */
static int32_t general_out(int32_t b, int32_t dot, ernn_rescale r, int32_t zero_point, int32_t lo, int32_t hi)
{
    const int32_t sum = (int32_t)((uint32_t)b + (uint32_t)dot);
    const int32_t acc = ((b ^ sum) & (dot ^ sum)) < 0 ? (b < 0 ? INT32_MIN : INT32_MAX) : sum;
    return ernn_requantize(acc, r, zero_point, lo, hi);
}

typedef ernn_fc_into fc_into;

static uint32_t act_of(const fc_into *into, int32_t o)
{
    return (into->activations >> (2 * (o / into->gate_rows))) & 3u;
}

static void put16(const fc_into *into, int32_t o, int32_t v)
{
    if (o < into->added_rows) {
        into->y[o] = (int16_t)ernn_activate_q312(act_of(into, o), ernn_ssat16(into->y[o] + v));
    } else {
        into->tail[o - into->added_rows] = (int16_t)v;
    }
}

/* Every row of a row-major layer into y16 (int16 out, see fc_into) or y8 (int8 out, y16 == NULL). */
static void fc_row_major(const ernn_fc_params *p, const int8_t *x, const fc_into *y16, int8_t *y8)
{
    const int32_t lo = y8 == NULL ? INT16_MIN : INT8_MIN;
    const int32_t hi = y8 == NULL ? INT16_MAX : INT8_MAX;
    const int8_t *w = p->weight;
    for (int32_t o = 0; o < p->out_features; ++o, w += p->in_features) {
        const ernn_rescale r = {p->multiplier[o], p->shift[o]};
        const int32_t v = general_out(p->bias[o], ernn_dot1_s8_portable(w, p->in_features, x), r,
                                      p->output_zero_point, lo, hi);
        if (y8 == NULL) {
            put16(y16, o, v);
        } else {
            y8[o] = (int8_t)v;
        }
    }
}

/* The outputs of one 4-row block (rows of it that exist: `rows`), short requantization. */
static ERNN_ALWAYS_INLINE void store_fast(const int32_t acc[4], int32_t rows, ernn_fast_rescale r,
                                           int rounding_shift, int32_t zero_point, int16_t *y16, int8_t *y8,
                                           int accumulate, uint32_t act)
{
    if (y16 != NULL && rows == 4) { /* the gates: zero point 0 (checked at export) */
        int32_t v0 = ernn_ssat16(ernn_fast_out(acc[0], r, rounding_shift));
        int32_t v1 = ernn_ssat16(ernn_fast_out(acc[1], r, rounding_shift));
        int32_t v2 = ernn_ssat16(ernn_fast_out(acc[2], r, rounding_shift));
        int32_t v3 = ernn_ssat16(ernn_fast_out(acc[3], r, rounding_shift));
        if (accumulate) {
            v0 = ernn_activate_q312(act, ernn_ssat16(v0 + y16[0]));
            v1 = ernn_activate_q312(act, ernn_ssat16(v1 + y16[1]));
            v2 = ernn_activate_q312(act, ernn_ssat16(v2 + y16[2]));
            v3 = ernn_activate_q312(act, ernn_ssat16(v3 + y16[3]));
        }
#if !defined(__ARM_BIG_ENDIAN) && (defined(__ARM_FEATURE_SIMD32) || defined(__ARM_FEATURE_MVE))
        /* two rows per store (the compiler makes each pair one PKHBT) */
        const uint32_t pair[2] = {((uint32_t)v0 & 0xFFFFu) | ((uint32_t)v1 << 16),
                                  ((uint32_t)v2 & 0xFFFFu) | ((uint32_t)v3 << 16)};
        memcpy(y16, pair, sizeof pair);
#else
        y16[0] = (int16_t)v0;
        y16[1] = (int16_t)v1;
        y16[2] = (int16_t)v2;
        y16[3] = (int16_t)v3;
#endif
        return;
    }
    for (int32_t k = 0; k < rows; ++k) {
        const int32_t v = ernn_fast_out(acc[k], r, rounding_shift);
        if (y16 != NULL) {
            y16[k] = (int16_t)(accumulate ? ernn_activate_q312(act, ernn_ssat16(ernn_ssat16(v) + y16[k]))
                                          : ernn_ssat16(v));
        } else if (y8 != NULL) { /* always (one of y16, y8 is set); gcc -O3 warns of a NULL store otherwise */
            y8[k] = (int8_t)(ernn_clamp(v, INT8_MIN - zero_point, INT8_MAX - zero_point) + zero_point);
        }
    }
}

/* Rows [o, end) of a bounded layer that share one multiplier and shift; returns end. */
/* Rows [o, end) of a bounded layer that share one multiplier and shift, row o going to y16[0] or y8[0]. */
static ERNN_ALWAYS_INLINE void group_fast(const ernn_fc_params *p, const int8_t **w, const int16_t *buffer,
                                          int32_t chunks, const int16_t *const *buffer_end, int32_t o, int32_t end,
                                          ernn_fast_rescale r, int rounding_shift, int16_t *y16, int8_t *y8,
                                          int accumulate, uint32_t act)
{
    for (int32_t k = 0; o < end; o += 4, k += 4) {
        int32_t acc[4];
        ernn_mac4(w, p->bias + o, buffer, chunks, buffer_end, acc);
        const int32_t rows = end - o < 4 ? end - o : 4;
        store_fast(acc, rows, r, rounding_shift, p->output_zero_point, y16 != NULL ? y16 + k : NULL,
                   y8 != NULL ? y8 + k : NULL, accumulate, act);
    }
}

/* Every row of a packed layer (see ernn_fc_params) into y16 (see fc_into) or y8 (y16->y == NULL). */
#if defined(ERNN_PORT_GROUP16_DOUBLED)
#define ERNN_FC_PACKED_INLINE ERNN_ALWAYS_INLINE /* one frame for the cells' layers: measured fewer instructions */
#else
#define ERNN_FC_PACKED_INLINE
#endif
static ERNN_FC_PACKED_INLINE void fc_packed(const ernn_fc_params *p, const int8_t *x, const fc_into *y16, int8_t *y8,
                                         int16_t *buffer)
{
    static const int32_t zeros[4] = {0, 0, 0, 0};
    const int32_t chunks = ernn_round_up(p->in_features, ERNN_FC_PACK_K) / ERNN_FC_PACK_K;
    const int32_t m = p->out_features;
    const int8_t *w = p->weight;
    buffer += ((uintptr_t)buffer & 2u) != 0u; /* to a word boundary (the buffer has 2 values to spare) */
    const int16_t *const buffer_end = buffer + chunks * (ERNN_FC_PACK_K == 4 ? 4 : ERNN_FC_PACK_K / 2);
    widen_layer(p, x, buffer);
#if defined(ERNN_PORT_GROUP16_DOUBLED) /* the DSP port's gate kernel: doubled layers, right shift > 0 */
    if (y8 == NULL && p->bounded == 2 && p->group_rows > 0 && p->group_rows % 4 == 0 && m % p->group_rows == 0 &&
        (y16->added_rows == 0 || (p->group_rows == y16->gate_rows && y16->added_rows % p->group_rows == 0))) {
        /* A cell's gate layer: every group is one gate block, wholly added (gate g's activation) or wholly
         * stored, so the general loop below (divisions, straddling groups) has nothing to decide; the
         * port's kernel carries the bias pointer from one group to the next. */
        ernn_dsp_group state; /* every field set before the kernel reads it (no zero-filling call) */
        state.buffer = buffer;
        state.chunks_mod8 = chunks % 8;
        state.bias = p->bias;
        state.end = buffer_end;
        state.three = 3;
        state.table = ernn_lut_pairs;
        for (int32_t g = 0, o = 0; o < m; ++g, o += p->group_rows) {
            const ernn_fast_rescale r = layer_rescale(p, g);
            const int added = o < y16->added_rows;
            const uint32_t act = added ? (y16->activations >> (2 * g)) & 3u : ERNN_ACT_NONE;
            state.y = added ? y16->y + o : y16->tail + (o - y16->added_rows);
            if (r.right == 0) { /* shift >= 0 (rare for gates): the C form of the same requantization */
                group_fast(p, &w, buffer, chunks, &buffer_end, o, o + p->group_rows, r, 0, state.y, NULL, added, act);
                state.bias += p->group_rows;
                continue;
            }
            state.y_end = state.y + p->group_rows;
            state.multiplier = r.multiplier;
            state.right = r.right;
            state.round = r.round;
            state.mode = added ? 1 + (int32_t)act : 0;
            state.round_const = act == ERNN_ACT_TANH ? 1 << 7 : (1 << 24) + (1 << 9);
            state.operand = act == ERNN_ACT_TANH ? 1 << 24 : 1 << 25;
            ernn_group16_port(&w, &state);
        }
        return;
    }
#endif
    int32_t o = 0;
    if (p->bounded && p->group_rows > 0) {
        for (int32_t g = 0; o < m; ++g) {
            const ernn_fast_rescale r = layer_rescale(p, g);
            const int32_t end = o + p->group_rows < m ? o + p->group_rows : m;
            int16_t *out16 = NULL;
            int accumulate = 0;
            uint32_t act = ERNN_ACT_NONE;
            if (y8 == NULL) { /* a group lies wholly in the accumulated or in the tail rows (the cells' gates) */
                if (end <= y16->added_rows && o / y16->gate_rows == (end - 1) / y16->gate_rows) {
                    out16 = y16->y + o;
                    accumulate = 1;
                    act = act_of(y16, o);
                } else if (o >= y16->added_rows) {
                    out16 = y16->tail + (o - y16->added_rows);
                } else {
                    break; /* straddles: the per-row loop below */
                }
            }
#if defined(ERNN_PORT_GROUP16_DOUBLED)
            if (out16 != NULL && (end - o) % 4 == 0 && p->bounded == 2 && r.right > 0) { /* the port's kernel */
                ernn_dsp_group state = {.three = 3, .table = ernn_lut_pairs,
                                        .round_const = act == ERNN_ACT_TANH ? 1 << 7 : (1 << 24) + (1 << 9),
                                        .operand = act == ERNN_ACT_TANH ? 1 << 24 : 1 << 25,
                                        .buffer = buffer, .chunks_mod8 = chunks % 8, .bias = p->bias + o,
                                        .multiplier = r.multiplier, .right = r.right, .round = r.round,
                                        .y = out16, .mode = accumulate ? 1 + (int32_t)act : 0,
                                        .y_end = out16 + (end - o), .end = buffer_end};
                ernn_group16_port(&w, &state);
                o = end;
                continue;
            }
#elif defined(ERNN_PORT_GROUP16) /* a port with the first gate-kernel interface (NEON) */
            if (out16 != NULL && (end - o) % 4 == 0) { /* a gate block: the port's kernel does all of it */
                ernn_dsp_group state = {p->bias + o, out16, out16 + (end - o), buffer, buffer_end, chunks % 8,
                                        r.multiplier, r.left, r.right, r.round,
                                        accumulate ? 1 + (int32_t)act : 0, ernn_lut_pairs,
                                        act == ERNN_ACT_TANH ? 1 << 7 : (1 << 24) + (1 << 9)};
#if defined(ERNN_PORT_PAIRS16)
                if (p->bounded == 3) { /* no weight is -128 (exporter's check): the port may sum two products in int16 */
                    ernn_group16_pairs_port(&w, &state);
                    o = end;
                    continue;
                }
#endif
                ernn_group16_port(&w, &state);
                o = end;
                continue;
            }
#endif
#if !defined(ERNN_PORT_GROUP16) && defined(ERNN_PORT_SPECIALIZE) /* MVE: worth its flash */
            if (out16 != NULL && r.right > 0) { /* the gates: one specialized loop per epilogue */
                const int32_t mode = accumulate ? 1 + (int32_t)act : 0;
                if (mode == 0) {
                    group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, out16, NULL, 0, ERNN_ACT_NONE);
                } else if (mode == 1) {
                    group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, out16, NULL, 1, ERNN_ACT_NONE);
                } else if (mode == 1 + (int32_t)ERNN_ACT_SIGMOID) {
                    group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, out16, NULL, 1, ERNN_ACT_SIGMOID);
                } else {
                    group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, out16, NULL, 1, ERNN_ACT_TANH);
                }
                o = end;
                continue;
            }
#endif
#if defined(ERNN_PORT_GROUP16)
            if (out16 != NULL) { /* int16 groups that the port's kernel does not take: the per-row loop */
                break;
            }
#endif
            int8_t *out8 = y8 != NULL ? y8 + o : NULL;
            if (accumulate) {
                group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, r.right > 0, out16, out8, 1, act);
            } else if (r.right > 0) {
                group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, out16, out8, 0, ERNN_ACT_NONE);
            } else {
                group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 0, out16, out8, 0, ERNN_ACT_NONE);
            }
            o = end;
        }
    }
    /* Per-row multipliers (a per-channel head) or an unproven bound: per row, the general form where unproven. */
    const int32_t lo = y8 == NULL ? INT16_MIN : INT8_MIN;
    const int32_t hi = y8 == NULL ? INT16_MAX : INT8_MAX;
    for (; o < m; o += 4) {
        int32_t acc[4];
        ernn_mac4(&w, p->bounded ? p->bias + o : zeros, buffer, chunks, &buffer_end, acc);
        for (int32_t k = 0; k < 4 && o + k < m; ++k) {
            const int32_t g = p->group_rows > 0 ? (o + k) / p->group_rows : o + k;
            int32_t v;
            if (p->bounded) {
                const ernn_fast_rescale r = layer_rescale(p, g);
                v = ernn_clamp(ernn_fast_out(acc[k], r, r.right > 0) + p->output_zero_point, lo, hi);
            } else {
                const ernn_rescale r = {p->multiplier[g], p->shift[g]};
                v = general_out(p->bias[o + k], acc[k], r, p->output_zero_point, lo, hi);
            }
            if (y8 == NULL) {
                put16(y16, o + k, v);
            } else {
                y8[o + k] = (int8_t)v;
            }
        }
    }
}

#if !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
int ernn_fc_s8_s8_rows(const ernn_fc_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *ys,
                       size_t y_stride)
{
#if defined(ERNN_PORT_FC_ROWS) && ERNN_X86_LEVEL >= 3
    if (fc_params_ok(p) && xs != NULL && ys != NULL && steps >= 1 && ernn_x86_has_avx512vnni()) {
        return ernn_fc_rows_avx512(p, xs, x_stride, steps, ys, y_stride);
    }
#else
    (void)p, (void)xs, (void)x_stride, (void)steps, (void)ys, (void)y_stride;
#endif
    return 0;
}

int ernn_cell_fcs_fused(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int8_t *x, const int8_t *h,
                        int16_t *scratch, int16_t *buffer, int32_t added_rows, uint32_t activations)
{
#if defined(ERNN_PORT_CELL_FCS)
    if (!fc_params_ok(x_fc) || !fc_params_ok(h_fc) || x == NULL || h == NULL || x_fc->packing == 0) {
        return 0;
    }
    const int32_t stride = ernn_gate_stride(h_fc, h_fc->in_features);
    return ernn_cell_fcs_x86(x_fc, h_fc, x, h, scratch, scratch + x_fc->out_features, buffer, stride, added_rows,
                             activations);
#else
    (void)x_fc, (void)h_fc, (void)x, (void)h, (void)scratch, (void)buffer, (void)added_rows, (void)activations;
    return 0;
#endif
}
#endif

static ernn_status fc_run(const ernn_fc_params *p, const int8_t *x, const fc_into *y16, int8_t *y8, int16_t *buffer);

/*
 * The 16x8 layer (bounded ERNN_FC_INPUT_S16): y[o] = sat16(MBQM(bias[o] + sum_i weight[o][i] * x[i])), x int16 (zero point
 * 0), in any packing (the weight's index as ernn_fc_params.packing says), portable C: only layer 0's input
 * part of a 16-bit-input model runs it, a few inputs wide. The int32 accumulator is exact: the IR refuses a
 * layer whose 32768 * sum|w| + |bias| leaves int32 (edgernn.ir._check_fc_arithmetic), and general_out
 * saturates rather than overflow as for int8 layers. Rows are int16 gate pre-activations (zero point 0).
 */
static int fc_x16_ok(const ernn_fc_params *p)
{
    return p != NULL && p->bounded == ERNN_FC_INPUT_S16 && p->weight != NULL && p->bias != NULL &&
           p->multiplier != NULL && p->shift != NULL && p->in_features > 0 &&
           p->in_features <= ERNN_MAX_FC_IN_FEATURES && p->out_features > 0 && p->output_zero_point == 0 &&
           (p->packing == 0 || (p->packing == ERNN_FC_PACK_K && p->group_rows >= 0 && p->group_rows % 4 == 0));
}

static void fc_x16(const ernn_fc_params *p, const int16_t *x, int16_t *y)
{
    const int32_t k = p->packing;
    const int32_t column_chunks = k != 0 ? ernn_round_up(p->in_features, k) / k : 0;
    for (int32_t o = 0; o < p->out_features; ++o) {
        int32_t dot = 0;
        for (int32_t i = 0; i < p->in_features; ++i) {
            const size_t at = k == 0 ? (size_t)o * (size_t)p->in_features + (size_t)i
                                     : ((size_t)(o / 4) * (size_t)column_chunks + (size_t)(i / k)) * 4u * (size_t)k +
                                           (size_t)(o % 4) * (size_t)k + (size_t)(i % k);
            dot += (int32_t)p->weight[at] * (int32_t)x[i];
        }
        const int32_t g = k != 0 && p->group_rows > 0 ? o / p->group_rows : o;
        const ernn_rescale r = {p->multiplier[g], p->shift[g]};
        y[o] = (int16_t)general_out(p->bias[o], dot, r, 0, INT16_MIN, INT16_MAX);
    }
}

ernn_status ernn_cell_fcs_x16(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int16_t *x,
                              const int8_t *h, int16_t *scratch, int32_t added_rows, int32_t rows,
                              uint32_t activations)
{
    if (!fc_x16_ok(x_fc) || x == NULL || scratch == NULL) {
        return ERNN_ARG_ERROR;
    }
    fc_x16(x_fc, x, scratch);
    /* the recurrent part added to it (and activated) as ernn_cell_fcs does, through the core's kernels */
    const fc_into into = {scratch, added_rows, scratch + x_fc->out_features, ernn_gate_stride(h_fc, h_fc->in_features),
                          activations};
    return into.gate_rows > 0 ? fc_run(h_fc, h, &into, NULL, scratch + rows) : ERNN_ARG_ERROR;
}

#if !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
int ernn_cell_fcs_fusable(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, int32_t added_rows)
{
#if defined(ERNN_PORT_CELL_FCS)
    return fc_params_ok(x_fc) && fc_params_ok(h_fc) && x_fc->packing != 0 &&
           ernn_x86_fused_layers(x_fc, h_fc, ernn_gate_stride(h_fc, h_fc->in_features), added_rows);
#else
    (void)x_fc, (void)h_fc, (void)added_rows;
    return 0;
#endif
}
#endif

static ernn_status fc_run(const ernn_fc_params *p, const int8_t *x, const fc_into *y16, int8_t *y8, int16_t *buffer)
{
    if (!fc_params_ok(p) || x == NULL || (y16->y == NULL && y8 == NULL) ||
        (y8 == NULL && (y16->tail == NULL || y16->gate_rows <= 0))) {
        return ERNN_ARG_ERROR;
    }
    if (p->packing == 0) {
        fc_row_major(p, x, y16, y8);
        return ERNN_OK;
    }
    if (buffer == NULL) {
        return ERNN_ARG_ERROR;
    }
    fc_packed(p, x, y16, y8, buffer);
    return ERNN_OK;
}

ernn_status ernn_fc_s8_s16_into(const ernn_fc_params *p, const int8_t *x, ernn_fc_into into, int16_t *buffer)
{
    return into.y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, &into, NULL, buffer);
}

ernn_status ernn_fc_s8_s16_buffered(const ernn_fc_params *p, const int8_t *x, int16_t *y, int16_t *buffer)
{
    const fc_into plain = {y, 0, y, 1, ERNN_ACT_NONE};
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, &plain, NULL, buffer);
}

ernn_status ernn_fc_s8_s8_buffered(const ernn_fc_params *p, const int8_t *x, int8_t *y, int16_t *buffer)
{
    const fc_into none = {NULL, 0, NULL, 1, ERNN_ACT_NONE};
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, &none, y, buffer);
}

ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y)
{
    return ernn_fc_s8_s16_buffered(p, x, y, NULL);
}

ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y)
{
    return ernn_fc_s8_s8_buffered(p, x, y, NULL);
}
