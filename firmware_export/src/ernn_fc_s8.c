/**
 * @file ernn_fc_s8.c
 * @brief int8 fully connected with per-row requantization (TFLite FULLY_CONNECTED).
 *
 * Rows go four at a time through ernn_dot4_s8 (portable C, or an optimized port chosen at compile
 * time, see below), then each row's int32 sum is requantized once.
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

/* Optimized drop-ins from firmware_export/ports/, picked by the compiler's own macros (an export
 * carries the chosen text inline). Each defines ERNN_PORT_NAME, ernn_dot4_s8_port and
 * ernn_dot1_s8_port, bit-exact to the portable C in ernn_internal.h. -DERNN_PORTABLE disables them. */
#if !defined(ERNN_PORTABLE)
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include "../ports/arm_mve/ernn_dot_s8_mve.h"
#elif defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include "../ports/arm_dsp/ernn_dot_s8_dsp.h"
#endif
#endif

#if defined(ERNN_PORT_NAME)
#define ernn_dot4_s8 ernn_dot4_s8_port
#define ernn_dot1_s8 ernn_dot1_s8_port
#else
#define ERNN_PORT_NAME "portable"
#define ernn_dot4_s8 ernn_dot4_s8_portable
#define ernn_dot1_s8 ernn_dot1_s8_portable
#endif

#define ERNN_MAX_FC_IN_FEATURES 65536 /* 65536 * 128 * 128 < 2^31: the dot product cannot overflow */

static int fc_params_ok(const ernn_fc_params *p)
{
    return p != NULL && p->weight != NULL && p->bias != NULL && p->multiplier != NULL && p->shift != NULL &&
           p->in_features > 0 && p->in_features <= ERNN_MAX_FC_IN_FEATURES && p->out_features > 0;
}

/* clamp(MBQM(bias[o] + dot), lo, hi) with the output zero point. The reference rejects models whose
 * accumulator leaves int32; saturate rather than overflow. */
static inline int32_t fc_out(const ernn_fc_params *p, int32_t o, int32_t dot, int32_t lo, int32_t hi)
{
    const int32_t b = p->bias[o];
    const int32_t sum = (int32_t)((uint32_t)b + (uint32_t)dot);
    const int32_t acc = ((b ^ sum) & (dot ^ sum)) < 0 ? (b < 0 ? INT32_MIN : INT32_MAX) : sum;
    const ernn_rescale r = {p->multiplier[o], p->shift[o]};
    return ernn_requantize(acc, r, p->output_zero_point, lo, hi);
}

/* Every row of p into y16 (int16 out) or y8 (int8 out, y16 == NULL). */
static ernn_status fc_run(const ernn_fc_params *p, const int8_t *x, int16_t *y16, int8_t *y8)
{
    if (!fc_params_ok(p) || x == NULL || (y16 == NULL && y8 == NULL)) {
        return ERNN_ARG_ERROR;
    }
    const int32_t lo = y16 != NULL ? INT16_MIN : INT8_MIN;
    const int32_t hi = y16 != NULL ? INT16_MAX : INT8_MAX;
    const int32_t n = p->in_features;
    const int32_t m = p->out_features;
    const int8_t *w = p->weight;
    int32_t o = 0;
    while (o < m) {
        int32_t s[4];
        int32_t rows = 4;
        if (o + 4 <= m) {
            ernn_dot4_s8(w, n, x, s);
        } else {
            s[0] = ernn_dot1_s8(w, n, x);
            rows = 1;
        }
        w += (size_t)rows * (size_t)n;
        for (int32_t r = 0; r < rows; ++r, ++o) {
            const int32_t v = fc_out(p, o, s[r], lo, hi);
            if (y16 != NULL) {
                y16[o] = (int16_t)v;
            } else {
                y8[o] = (int8_t)v;
            }
        }
    }
    return ERNN_OK;
}

ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y)
{
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, y, NULL);
}

ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y)
{
    return y == NULL ? ERNN_ARG_ERROR : fc_run(p, x, NULL, y);
}
