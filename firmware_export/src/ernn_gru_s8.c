/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_gru_s8.c
 * @brief int8 GRU step, PyTorch semantics (edgernn.reference.gru_step).
 */
#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

#if !defined(ERNN_PORTABLE) && defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_dot_s8_neon.h" /* ernn_gru_fast_port */
#elif !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_dot_s8_x86.h" /* ernn_gru_fast_port */
#endif

static int32_t hidden_size(const ernn_gru_s8_params *p)
{
    return ernn_cell_hidden_size_s8(&p->x_fc, &p->h_fc, 3);
}

int32_t ernn_gru_s8_get_buffer_size(const ernn_gru_s8_params *p)
{
    if (p == NULL || hidden_size(p) == 0) {
        return 0;
    }
    return ernn_cell_buffer_size(&p->x_fc, &p->h_fc, ernn_cell_rows(ERNN_CELL_GRU, &p->h_fc, hidden_size(p)));
}

/* The short form of the element-wise step applies (every product's shift < 0: ernn_fast_out with left 1). */
static int short_form(const ernn_gru_s8_params *p)
{
    return p->reset_mul.shift < 0 && p->gate_mul.shift < 0 && p->to_hidden.shift < 0;
}

#if defined(ERNN_GRU_RUN)
/* The block path's preconditions: the short form, both layers in the fused kernel's layout and form (packed,
 * bounded, one rescale per gate block: ernn_cell_fcs_fusable), its size limits, and a CPU with AVX-512 VNNI, or
 * AVX-VNNI or AVX2 with the layer's weights within the eight-lane kernel's lanes. */
int ernn_gru_run_s8_ok(const ernn_gru_s8_params *p)
{
#if defined(ERNN_PORT_GRU_RUN)
    if (p == NULL || hidden_size(p) == 0 || !short_form(p) ||
        !ernn_x86_run_port_ok(3, hidden_size(p), p->x_fc.in_features)) {
        return 0;
    }
    const int32_t n = hidden_size(p), stride = ernn_gate_stride(&p->h_fc, n), rows = 3 * stride;
    const int32_t per_step = rows * (int32_t)sizeof(int16_t) + ernn_round_up(p->x_fc.in_features, 16);
    return ernn_cell_fcs_fusable(&p->x_fc, &p->h_fc, 2 * stride) && n <= ERNN_X86_RUN_MAX_HIDDEN &&
           rows <= ERNN_X86_RUN_MAX_ROWS && per_step <= ERNN_X86_RUN_BYTES;
#else
    (void)p;
    return 0;
#endif
}

int ernn_gru_run_s8(const ernn_gru_s8_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                    int16_t *h_q15, int8_t *hs, size_t hs_stride)
{
    if (xs == NULL || h == NULL || h_q15 == NULL || hs == NULL || steps < 1 || !ernn_gru_run_s8_ok(p)) {
        return 0;
    }
#if defined(ERNN_PORT_GRU_RUN)
    const int32_t n = hidden_size(p);
    return ernn_gru_run_port(p, n, ernn_gate_stride(&p->h_fc, n), xs, x_stride, steps, h, h_q15, hs, hs_stride);
#else
    (void)x_stride, (void)hs_stride;
    return 0;
#endif
}
#endif

ernn_status ernn_gru_step_s8(const ernn_gru_s8_params *p, const int8_t *x, int8_t *h, int16_t *h_q15,
                             int16_t *scratch)
{
    if (p == NULL || x == NULL || h == NULL || h_q15 == NULL || scratch == NULL || hidden_size(p) == 0) {
        return ERNN_ARG_ERROR;
    }
    const int32_t n = hidden_size(p);
    const int32_t stride = ernn_gate_stride(&p->h_fc, n);
    /* r, z: sigmoid(sat16(x_fc(x) + h_fc(h))), Q0.15; then x_n; then h_n, kept apart (it is scaled by r) */
    const uint32_t acts = ERNN_ACT_SIGMOID | ERNN_ACT_SIGMOID << 2;
    if (ernn_cell_fcs(&p->x_fc, &p->h_fc, x, h, scratch, 2 * stride, ernn_cell_rows(ERNN_CELL_GRU, &p->h_fc, n),
                      acts) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const int16_t *gr = scratch, *gz = scratch + stride, *xn = scratch + 2 * stride, *hn = scratch + 3 * stride;
    if (short_form(p)) {
        /* The short requantization (ernn_fast_out: Q0.15 products and the int16 state with shift < 0, so
         * left = 1 and the rounding shift is on) and the one-load tanh: the same integers as the general
         * form below. Two light loops (candidate, then the blend) keep every value in a register. */
        const ernn_fast_rescale rm = ernn_fast_of(p->reset_mul.multiplier, p->reset_mul.shift);
        int16_t *cand = scratch + 2 * stride; /* x_n, replaced by the candidate */
        int32_t done = 0; /* units a port did (the same integers), the loops below do the rest */
#if defined(ERNN_PORT_GRU_FAST)
        done = ernn_gru_fast_port(gr, gz, xn, hn, h_q15, h, n, p->reset_mul.multiplier, -p->reset_mul.shift,
                                  p->gate_mul.multiplier, -p->gate_mul.shift, p->to_hidden.multiplier,
                                  -p->to_hidden.shift, p->hidden_zero_point);
#endif
        for (int32_t j = done; j < n; ++j) {
            const int32_t reset_hidden = ernn_ssat16(ernn_fast_out(gr[j] * hn[j], rm, 1));
            cand[j] = (int16_t)ernn_tanh_q312(ernn_ssat16(xn[j] + reset_hidden));
        }
        const ernn_fast_rescale gm = ernn_fast_of(p->gate_mul.multiplier, p->gate_mul.shift);
        const ernn_fast_rescale hm = ernn_fast_of(p->to_hidden.multiplier, p->to_hidden.shift);
        const int32_t zp = p->hidden_zero_point;
        for (int32_t j = done; j < n; ++j) {
            const int32_t z = gz[j];
            const int32_t keep = ernn_ssat16(ernn_fast_out(z * h_q15[j], gm, 1));
            const int32_t update = ernn_ssat16(ernn_fast_out((INT16_MAX - z) * cand[j], gm, 1));
            const int32_t blended = ernn_ssat16(keep + update);
            h_q15[j] = (int16_t)blended;
            h[j] = (int8_t)ernn_ssat8(ernn_fast_out(blended, hm, 1) + zp);
        }
        return ERNN_OK;
    }
    for (int32_t j = 0; j < n; ++j) {
        const int16_t r = gr[j], z = gz[j]; /* activated above */
        const int16_t reset_hidden = ernn_mul_s16(r, hn[j], p->reset_mul);
        const int16_t cand = ernn_tanh_s16(ernn_sat16((int32_t)xn[j] + reset_hidden), 0, 0);
        /* The blend reads the int16 state: a change below half an int8 step accumulates.
         * 1 - z is 32767 - z in Q0.15 (TFLite's int16 SUB from the largest int16). */
        const int16_t keep = ernn_mul_s16(z, h_q15[j], p->gate_mul);
        const int16_t update = ernn_mul_s16(ernn_sat16(INT16_MAX - (int32_t)z), cand, p->gate_mul);
        const int16_t blended = ernn_sat16((int32_t)keep + update);
        h_q15[j] = blended;
        h[j] = (int8_t)ernn_requantize(blended, p->to_hidden, p->hidden_zero_point, INT8_MIN, INT8_MAX);
    }
    return ERNN_OK;
}
