/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_cells_f32.c
 * @brief float32 fully connected and Elman / GRU / LSTM steps (edgernn.floatmodel.float_cell_step).
 */
#include "edgernn/ernn_f32.h"
#include "ernn_internal.h"

/* SIMD drop-ins from firmware_export/ports/, picked by the compiler's own macros (an export carries the
 * chosen text inline). Each defines ERNN_F32_PORT_NAME, ernn_f32_kernel_port (its run-time choice),
 * ernn_fc_f32_panels_port (the whole panels it did, from the first) and, defining ERNN_F32_PORT_ELEMENTWISE,
 * ernn_act_f32_port, ernn_gru_f32_port and ernn_lstm_f32_port (the units they did, from the first): the
 * plain C below does the rest.
 * -DERNN_PORTABLE disables them. */
#if !defined(ERNN_PORTABLE)
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include "../ports/arm_mve/ernn_f32_mve.h"
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_f32_neon.h"
#elif defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_f32_x86.h"
#endif
#endif

#if !defined(ERNN_F32_PORT_NAME)
#define ERNN_F32_PORT_NAME "portable"
static inline const char *ernn_f32_kernel_port(void)
{
    return "plain C";
}
static inline int32_t ernn_fc_f32_panels_port(const float *w, const float *bias, const float *x, int32_t in,
                                              int32_t panels, float *y)
{
    (void)w, (void)bias, (void)x, (void)in, (void)panels, (void)y;
    return 0;
}
#endif

/* A port without element-wise kernels (the MVE one: no vector divide) leaves them all to the plain C. */
#if !defined(ERNN_F32_PORT_ELEMENTWISE)
static inline int32_t ernn_act_f32_port(int32_t kind, const float *a, const float *b, float *y, int32_t n)
{
    (void)kind, (void)a, (void)b, (void)y, (void)n;
    return 0;
}
static inline int32_t ernn_gru_f32_port(const float *gx, const float *gh, float *h, int32_t n)
{
    (void)gx, (void)gh, (void)h, (void)n;
    return 0;
}
static inline int32_t ernn_lstm_f32_port(const float *gx, const float *gh, float *h, float *c, int32_t n)
{
    (void)gx, (void)gh, (void)h, (void)c, (void)n;
    return 0;
}
#endif

/* a * b + c, fused where the core has a fast fmaf (the M4F/M7 VFMA, AArch64 FMLA); a product and a sum
 * elsewhere (a libm fmaf call would be slow, and the path needs no libm). */
#if defined(__FP_FAST_FMAF) && defined(__GNUC__)
#define ERNN_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define ERNN_FMAF(a, b, c) ((a) * (b) + (c))
#endif

/* Panels [p, ...) of a paneled FC in plain C: per panel eight outputs at a time (accumulators that fit the
 * registers of a scalar FPU, one weight load per multiply-add), then one at a time. */
static void fc_panels_c(const float *weight, const float *bias, const float *x, int32_t in, int32_t out, int32_t p,
                        float *y)
{
    for (int32_t first = p * ERNN_F32_PANEL; first < out; first += ERNN_F32_PANEL) {
        const int32_t width = out - first < ERNN_F32_PANEL ? out - first : ERNN_F32_PANEL;
        const float *panel = weight + (size_t)first * (size_t)in;
        int32_t k = 0;
        for (; k + 8 <= width; k += 8) {
            const int32_t o = first + k;
            float a0 = bias[o], a1 = bias[o + 1], a2 = bias[o + 2], a3 = bias[o + 3];
            float a4 = bias[o + 4], a5 = bias[o + 5], a6 = bias[o + 6], a7 = bias[o + 7];
            const float *w = panel + k;
            for (int32_t i = 0; i < in; ++i, w += width) {
                const float xi = x[i];
                a0 = ERNN_FMAF(w[0], xi, a0);
                a1 = ERNN_FMAF(w[1], xi, a1);
                a2 = ERNN_FMAF(w[2], xi, a2);
                a3 = ERNN_FMAF(w[3], xi, a3);
                a4 = ERNN_FMAF(w[4], xi, a4);
                a5 = ERNN_FMAF(w[5], xi, a5);
                a6 = ERNN_FMAF(w[6], xi, a6);
                a7 = ERNN_FMAF(w[7], xi, a7);
            }
            y[o] = a0, y[o + 1] = a1, y[o + 2] = a2, y[o + 3] = a3;
            y[o + 4] = a4, y[o + 5] = a5, y[o + 6] = a6, y[o + 7] = a7;
        }
        for (; k < width; ++k) {
            float acc = bias[first + k];
            for (int32_t i = 0; i < in; ++i) {
                acc = ERNN_FMAF(panel[(size_t)i * (size_t)width + (size_t)k], x[i], acc);
            }
            y[first + k] = acc;
        }
    }
}

ernn_status ernn_fc_f32(const ernn_fc_f32_params *p, const float *x, float *y)
{
    if (p == NULL || p->weight == NULL || p->bias == NULL || x == NULL || y == NULL || p->in_features < 1 ||
        p->out_features < 1 || (p->layout != ERNN_FC_F32_ROWS && p->layout != ERNN_FC_F32_PANELS)) {
        return ERNN_ARG_ERROR;
    }
    if (p->layout == ERNN_FC_F32_PANELS) {
        const int32_t whole = p->out_features / ERNN_F32_PANEL;
        const int32_t done = ernn_fc_f32_panels_port(p->weight, p->bias, x, p->in_features, whole, y);
        fc_panels_c(p->weight, p->bias, x, p->in_features, p->out_features, done, y);
        return ERNN_OK;
    }
    for (int32_t o = 0; o < p->out_features; ++o) {
        const float *w = p->weight + (size_t)o * (size_t)p->in_features;
        float acc = 0.0f;
        for (int32_t i = 0; i < p->in_features; ++i) {
            acc += w[i] * x[i];
        }
        y[o] = acc + p->bias[o];
    }
    return ERNN_OK;
}

const char *ernn_f32_kernel_name(void)
{
    return ernn_f32_kernel_port();
}

void ernn_sigmoid_vec_f32(const float *x, float *y, int32_t n)
{
    for (int32_t j = x == NULL || y == NULL ? n : ernn_act_f32_port(0, x, NULL, y, n); j < n; ++j) {
        y[j] = ernn_sigmoid_f32(x[j]);
    }
}

void ernn_tanh_vec_f32(const float *x, float *y, int32_t n)
{
    for (int32_t j = x == NULL || y == NULL ? n : ernn_act_f32_port(1, x, NULL, y, n); j < n; ++j) {
        y[j] = ernn_tanh_f32(x[j]);
    }
}

static int32_t hidden_size(const ernn_cell_f32_params *p, int32_t gates)
{
    return ernn_cell_hidden_size(p->x_fc.out_features, p->h_fc.in_features, p->h_fc.out_features, gates);
}

int32_t ernn_cell_f32_get_buffer_size(const ernn_cell_f32_params *p, int32_t gates)
{
    return p == NULL ? 0 : 2 * gates * hidden_size(p, gates) * (int32_t)sizeof(float);
}

/* W_ih x + b_ih into scratch[0 .. G*H), W_hh h + b_hh into scratch[G*H .. 2*G*H); returns H or 0. */
static int32_t gate_inputs(const ernn_cell_f32_params *p, int32_t gates, const float *x, const float *h,
                           float *scratch)
{
    const int32_t n = p == NULL ? 0 : hidden_size(p, gates);
    if (n == 0 || x == NULL || h == NULL || scratch == NULL || ernn_fc_f32(&p->x_fc, x, scratch) != ERNN_OK ||
        ernn_fc_f32(&p->h_fc, h, scratch + gates * n) != ERNN_OK) {
        return 0;
    }
    return n;
}

ernn_status ernn_rnn_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch)
{
    const int32_t n = gate_inputs(p, 1, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    for (int32_t j = p->relu ? 0 : ernn_act_f32_port(1, scratch, scratch + n, h, n); j < n; ++j) {
        const float pre = scratch[j] + scratch[n + j];
        h[j] = p->relu ? (pre > 0.0f ? pre : 0.0f) : ernn_tanh_f32(pre);
    }
    return ERNN_OK;
}

ernn_status ernn_gru_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *scratch)
{
    const int32_t n = gate_inputs(p, 3, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    const float *gx = scratch;
    const float *gh = scratch + 3 * n;
    for (int32_t j = ernn_gru_f32_port(gx, gh, h, n); j < n; ++j) {
        const float r = ernn_sigmoid_f32(gx[j] + gh[j]);
        const float z = ernn_sigmoid_f32(gx[n + j] + gh[n + j]);
        const float cand = ernn_tanh_f32(gx[2 * n + j] + r * gh[2 * n + j]);
        h[j] = (1.0f - z) * cand + z * h[j];
    }
    return ERNN_OK;
}

ernn_status ernn_lstm_step_f32(const ernn_cell_f32_params *p, const float *x, float *h, float *c, float *scratch)
{
    const int32_t n = c == NULL ? 0 : gate_inputs(p, 4, x, h, scratch);
    if (n == 0) {
        return ERNN_ARG_ERROR;
    }
    const float *gx = scratch;
    const float *gh = scratch + 4 * n;
    for (int32_t j = ernn_lstm_f32_port(gx, gh, h, c, n); j < n; ++j) {
        const float i = ernn_sigmoid_f32(gx[j] + gh[j]);
        const float f = ernn_sigmoid_f32(gx[n + j] + gh[n + j]);
        const float g = ernn_tanh_f32(gx[2 * n + j] + gh[2 * n + j]);
        const float o = ernn_sigmoid_f32(gx[3 * n + j] + gh[3 * n + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * ernn_tanh_f32(c[j]);
    }
    return ERNN_OK;
}
