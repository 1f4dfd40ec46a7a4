/**
 * @file ernn_fc_s8.c
 * @brief int8 fully connected (TFLite FULLY_CONNECTED): row-major layers, and layers the exporter packed
 *        for the core (see ernn_fc_params) with the short exact requantization where it proved it exact.
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

/* Optimized drop-ins from firmware_export/ports/, picked by the compiler's own macros (an export
 * carries the chosen text inline). Each defines ERNN_PORT_NAME, ernn_widen_port, ernn_mac4_port and
 * ernn_smmulr_port, bit-exact to the portable C in ernn_internal.h. -DERNN_PORTABLE disables them. */
#if !defined(ERNN_PORTABLE)
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include "../ports/arm_mve/ernn_dot_s8_mve.h"
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__thumb2__)
#include "../ports/arm_dsp/ernn_dot_s8_dsp.h"
#endif
#endif

#if defined(ERNN_PORT_NAME)
#define ernn_widen ernn_widen_port
#define ernn_mac4 ernn_mac4_port
#define ernn_smmulr ernn_smmulr_port
#else
#define ERNN_PORT_NAME "portable"
#define ernn_widen ernn_widen_portable
#define ernn_mac4 ernn_mac4_portable
#define ernn_smmulr ernn_smmulr_portable
#endif

#define ERNN_MAX_FC_IN_FEATURES 65536 /* 65536 * 128 * 128 < 2^31: the dot product cannot overflow */

static int fc_params_ok(const ernn_fc_params *p)
{
    return p != NULL && p->weight != NULL && p->bias != NULL && p->multiplier != NULL && p->shift != NULL &&
           p->in_features > 0 && p->in_features <= ERNN_MAX_FC_IN_FEATURES && p->out_features > 0 &&
           (p->packing == 0 || (p->packing == ERNN_FC_PACK_K && p->group_rows >= 0 && p->group_rows % 4 == 0));
}

int32_t ernn_fc_s8_get_buffer_size(const ernn_fc_params *p)
{
    if (p == NULL || p->packing == 0 || p->in_features <= 0 || p->in_features > ERNN_MAX_FC_IN_FEATURES) {
        return 0;
    }
    return ernn_round_up(p->in_features, 16) * (int32_t)sizeof(int16_t);
}

/* clamp(MBQM(bias + dot), lo, hi) with the output zero point: the general form. The reference
 * rejects models whose accumulator leaves int32; saturate rather than overflow. */
static int32_t general_out(int32_t b, int32_t dot, ernn_rescale r, int32_t zero_point, int32_t lo, int32_t hi)
{
    const int32_t sum = (int32_t)((uint32_t)b + (uint32_t)dot);
    const int32_t acc = ((b ^ sum) & (dot ^ sum)) < 0 ? (b < 0 ? INT32_MIN : INT32_MAX) : sum;
    return ernn_requantize(acc, r, zero_point, lo, hi);
}

/* Every row of a row-major layer into y16 (int16 out) or y8 (int8 out, y16 == NULL). */
static void fc_row_major(const ernn_fc_params *p, const int8_t *x, int16_t *y16, int8_t *y8)
{
    const int32_t lo = y16 != NULL ? INT16_MIN : INT8_MIN;
    const int32_t hi = y16 != NULL ? INT16_MAX : INT8_MAX;
    const int8_t *w = p->weight;
    for (int32_t o = 0; o < p->out_features; ++o, w += p->in_features) {
        const ernn_rescale r = {p->multiplier[o], p->shift[o]};
        const int32_t v = general_out(p->bias[o], ernn_dot1_s8_portable(w, p->in_features, x), r,
                                      p->output_zero_point, lo, hi);
        if (y16 != NULL) {
            y16[o] = (int16_t)v;
        } else {
            y8[o] = (int8_t)v;
        }
    }
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
} fast_rescale;

static inline fast_rescale fast_of(int32_t multiplier, int32_t shift)
{
    fast_rescale r;
    r.multiplier = multiplier;
    r.left = (shift > 0 ? shift : 0) + 1;
    r.right = shift < 0 ? -shift : 0;
    r.round = r.right > 0 ? (int32_t)1 << (r.right - 1) : 0;
    return r;
}

static inline __attribute__((always_inline)) int32_t fast_out(int32_t acc, fast_rescale r, int rounding_shift)
{
    int32_t t = ernn_smmulr((int32_t)((uint32_t)acc << r.left), r.multiplier);
    if (rounding_shift) {
        t = (t + (t >> 31) + r.round) >> r.right;
    }
    return t;
}

#if defined(__ARM_FEATURE_SAT) && defined(__ARM_ACLE)
#include <arm_acle.h>
#define ernn_ssat16(v) __ssat((v), 16)
#else
#define ernn_ssat16(v) ((int32_t)ernn_sat16(v))
#endif

/* The outputs of one 4-row block (rows of it that exist: `rows`), short requantization. */
static inline __attribute__((always_inline)) void store_fast(const int32_t acc[4], int32_t rows, fast_rescale r,
                                                             int rounding_shift, int32_t zero_point, int16_t *y16,
                                                             int8_t *y8)
{
    if (y16 != NULL && rows == 4) { /* the gates: zero point 0 (checked at export) */
        y16[0] = (int16_t)ernn_ssat16(fast_out(acc[0], r, rounding_shift));
        y16[1] = (int16_t)ernn_ssat16(fast_out(acc[1], r, rounding_shift));
        y16[2] = (int16_t)ernn_ssat16(fast_out(acc[2], r, rounding_shift));
        y16[3] = (int16_t)ernn_ssat16(fast_out(acc[3], r, rounding_shift));
        return;
    }
    for (int32_t k = 0; k < rows; ++k) {
        const int32_t v = fast_out(acc[k], r, rounding_shift);
        if (y16 != NULL) {
            y16[k] = (int16_t)ernn_ssat16(v);
        } else {
            y8[k] = (int8_t)(ernn_clamp(v, INT8_MIN - zero_point, INT8_MAX - zero_point) + zero_point);
        }
    }
}

/* Rows [o, end) of a bounded layer that share one multiplier and shift; returns end. */
static inline __attribute__((always_inline)) int32_t group_fast(const ernn_fc_params *p, const int8_t **w,
                                                                const int16_t *buffer, int32_t chunks,
                                                                const int16_t *const *buffer_end, int32_t o,
                                                                int32_t end, fast_rescale r, int rounding_shift,
                                                                int16_t *y16, int8_t *y8)
{
    for (; o < end; o += 4) {
        int32_t acc[4];
        ernn_mac4(w, p->bias + o, buffer, chunks, buffer_end, acc);
        const int32_t rows = end - o < 4 ? end - o : 4;
        store_fast(acc, rows, r, rounding_shift, p->output_zero_point, y16 != NULL ? y16 + o : NULL,
                   y8 != NULL ? y8 + o : NULL);
    }
    return end;
}

/* Every row of a packed layer (see ernn_fc_params) into y16 or y8. */
static void fc_packed(const ernn_fc_params *p, const int8_t *x, int16_t *y16, int8_t *y8, int16_t *buffer)
{
    static const int32_t zeros[4] = {0, 0, 0, 0};
    const int32_t chunks = ernn_round_up(p->in_features, ERNN_FC_PACK_K) / ERNN_FC_PACK_K;
    const int16_t *const buffer_end = buffer + chunks * (ERNN_FC_PACK_K == 4 ? 4 : ERNN_FC_PACK_K / 2);
    const int32_t m = p->out_features;
    const int8_t *w = p->weight;
    ernn_widen(x, p->in_features, buffer);
    if (p->bounded && p->group_rows > 0) {
        for (int32_t o = 0, g = 0; o < m; ++g) {
            const fast_rescale r = fast_of(p->multiplier[g], p->shift[g]);
            const int32_t end = o + p->group_rows < m ? o + p->group_rows : m;
            o = r.right > 0 ? group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 1, y16, y8)
                            : group_fast(p, &w, buffer, chunks, &buffer_end, o, end, r, 0, y16, y8);
        }
        return;
    }
    /* Per-row multipliers (a per-channel head) or an unproven bound: per row, the general form where unproven. */
    const int32_t lo = y16 != NULL ? INT16_MIN : INT8_MIN;
    const int32_t hi = y16 != NULL ? INT16_MAX : INT8_MAX;
    for (int32_t o = 0; o < m; o += 4) {
        int32_t acc[4];
        ernn_mac4(&w, p->bounded ? p->bias + o : zeros, buffer, chunks, &buffer_end, acc);
        for (int32_t k = 0; k < 4 && o + k < m; ++k) {
            const int32_t g = p->group_rows > 0 ? (o + k) / p->group_rows : o + k;
            int32_t v;
            if (p->bounded) {
                const fast_rescale r = fast_of(p->multiplier[g], p->shift[g]);
                v = ernn_clamp(fast_out(acc[k], r, r.right > 0) + p->output_zero_point, lo, hi);
            } else {
                const ernn_rescale r = {p->multiplier[g], p->shift[g]};
                v = general_out(p->bias[o + k], acc[k], r, p->output_zero_point, lo, hi);
            }
            if (y16 != NULL) {
                y16[o + k] = (int16_t)v;
            } else {
                y8[o + k] = (int8_t)v;
            }
        }
    }
}

static ernn_status fc_run(const ernn_fc_params *p, const int8_t *x, int16_t *y16, int8_t *y8, int16_t *buffer)
{
    if (!fc_params_ok(p) || x == NULL || (y16 == NULL && y8 == NULL)) {
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

ernn_status ernn_fc_s8_s16_buffered(const ernn_fc_params *p, const int8_t *x, int16_t *y, int16_t *buffer)
{
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, y, NULL, buffer);
}

ernn_status ernn_fc_s8_s8_buffered(const ernn_fc_params *p, const int8_t *x, int8_t *y, int16_t *buffer)
{
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, NULL, y, buffer);
}

ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y)
{
    return ernn_fc_s8_s16_buffered(p, x, y, NULL);
}

ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y)
{
    return ernn_fc_s8_s8_buffered(p, x, y, NULL);
}
