/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_math_f32.c
 * @brief exp, sigmoid and tanh in float32 without libm (for the float path).
 */
#include "edgernn/ernn_f32.h"

float ernn_exp_f32(float x)
{
    /* exp(x) = 2^k * exp(r), r = x - k ln2 in [-ln2/2, ln2/2]; the clamp keeps 2^k a normal float. */
    const float ln2_hi = 0.693145751953125f; /* few significant bits: k * ln2_hi is exact */
    const float ln2_lo = 1.42860676533018e-6f;
    x = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x);
    const float t = x * 1.44269504088896f;
    const int32_t k = (int32_t)(t >= 0.0f ? t + 0.5f : t - 0.5f);
    const float r = (x - (float)k * ln2_hi) - (float)k * ln2_lo;
    /* Taylor series to r^7 / 7!: relative error below 2e-7 for |r| <= ln2 / 2. */
    const float p =
        1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f + r * (1.0f / 120.0f +
                                                                             r * (1.0f / 720.0f + r / 5040.0f))))));
    union {
        uint32_t bits;
        float value;
    } scale;
    scale.bits = (uint32_t)(k + 127) << 23;
    return p * scale.value;
}

float ernn_sigmoid_f32(float x)
{
    return 1.0f / (1.0f + ernn_exp_f32(-x));
}

/* exp(y) - 1 for y >= 0, without cancellation for small y. */
static float expm1_nonneg(float y)
{
    if (y >= 0.5f) {
        return ernn_exp_f32(y) - 1.0f;
    }
    return y * (1.0f + y * (0.5f + y * (1.0f / 6.0f + y * (1.0f / 24.0f + y * (1.0f / 120.0f +
                                                                             y * (1.0f / 720.0f + y * (1.0f / 5040.0f + y / 40320.0f)))))));
}

float ernn_tanh_f32(float x)
{
    const float a = x < 0.0f ? -x : x;
    if (a > 9.0f) { /* tanh(9) rounds to 1 in float32 */
        return x < 0.0f ? -1.0f : 1.0f;
    }
    const float e = expm1_nonneg(2.0f * a); /* tanh(a) = (e^2a - 1) / (e^2a + 1) */
    const float t = e / (e + 2.0f);
    return x < 0.0f ? -t : t;
}
