/**
 * @file ernn_fc_s8.c
 * @brief int8 fully connected with per-row requantization (TFLite FULLY_CONNECTED).
 */
#include "edgernn/ernn_s8.h"

#define ERNN_MAX_FC_IN_FEATURES 65536 /* 65536 * 128 * 128 < 2^31: the dot product cannot overflow */

static int fc_params_ok(const ernn_fc_params *p)
{
    return p != NULL && p->weight != NULL && p->bias != NULL && p->multiplier != NULL && p->shift != NULL &&
           p->in_features > 0 && p->in_features <= ERNN_MAX_FC_IN_FEATURES && p->out_features > 0;
}

/* bias[o] + sum_i weight[o][i] * x[i], requantized to [lo, hi] with the output zero point. */
static int32_t fc_row(const ernn_fc_params *p, const int8_t *x, int32_t o, int32_t lo, int32_t hi)
{
    const int8_t *w = p->weight + (size_t)o * (size_t)p->in_features;
    int32_t dot = 0;
    for (int32_t i = 0; i < p->in_features; ++i) {
        dot += (int32_t)w[i] * (int32_t)x[i];
    }
    /* The reference rejects models whose accumulator leaves int32; saturate rather than overflow. */
    const int64_t wide = (int64_t)p->bias[o] + dot;
    const int32_t acc = wide > INT32_MAX ? INT32_MAX : (wide < INT32_MIN ? INT32_MIN : (int32_t)wide);
    const ernn_rescale r = {p->multiplier[o], p->shift[o]};
    return ernn_requantize(acc, r, p->output_zero_point, lo, hi);
}

ernn_status ernn_fc_s8_s16(const ernn_fc_params *p, const int8_t *x, int16_t *y)
{
    if (!fc_params_ok(p) || x == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t o = 0; o < p->out_features; ++o) {
        y[o] = (int16_t)fc_row(p, x, o, INT16_MIN, INT16_MAX);
    }
    return ERNN_OK;
}

ernn_status ernn_fc_s8_s8(const ernn_fc_params *p, const int8_t *x, int8_t *y)
{
    if (!fc_params_ok(p) || x == NULL || y == NULL) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t o = 0; o < p->out_features; ++o) {
        y[o] = (int8_t)fc_row(p, x, o, INT8_MIN, INT8_MAX);
    }
    return ERNN_OK;
}
