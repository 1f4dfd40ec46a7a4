/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_lstm_s8.c
 * @brief int8 LSTM step, TFLite Micro's 8x8_16 scheme (edgernn.reference.lstm_step).
 */
#include <string.h>

#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"

#if !defined(ERNN_PORTABLE) && defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_dot_s8_neon.h" /* ernn_lstm_fast_port */
#elif !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_dot_s8_x86.h" /* ernn_lstm_fast_port */
#endif

#if !defined(ERNN_PORTABLE) && defined(ERNN_DSP_ASM) && !defined(__ARM_BIG_ENDIAN)
#define ERNN_LSTM_PAIRS 1
#include <arm_acle.h>

static inline uint32_t load_pair(const int16_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* LDR: these cores allow the 2-byte alignment the state and scratch have */
    return v;
}

/* The signed 16 x 16 products of halves (gcc 12's arm_acle.h has no SMULxy). */
#define ERNN_SMUL_HALVES(name, insn)                                                                            \
    static inline int32_t name(uint32_t a, uint32_t b)                                                          \
    {                                                                                                           \
        int32_t r;                                                                                              \
        __asm__(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));                                                 \
        return r;                                                                                               \
    }
ERNN_SMUL_HALVES(smulbb, "smulbb")
ERNN_SMUL_HALVES(smultt, "smultt")
ERNN_SMUL_HALVES(smultb, "smultb")
ERNN_SMUL_HALVES(qadd16, "qadd16") /* the int16 saturating sums of the halves */

/* The low halves of a and b as one word (PKHBT). */
static inline uint32_t pack16(int32_t a, int32_t b)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* ernn_tanh_lut(v) with the SMLAD operand built by one BFI into op (bits 24 and up: 1 << 24, kept by the
 * caller across calls) and the table pointer in a register. */
static ERNN_ALWAYS_INLINE int32_t tanh_bfi(int32_t v, const uint32_t *table, uint32_t *op)
{
    __asm__("bfi %0, %1, #0, #8" : "+r"(*op) : "r"(v));
    return __smlad((int32_t)table[ernn_lut_index8(v)], (int32_t)*op, (1 << 7) + (v >> 31)) >> 8;
}

/* ernn_fast_out with the rounding shift on, for left == 1 (shift < 0): one instruction fewer. */
static ERNN_ALWAYS_INLINE int32_t fast_out_left1(int32_t x, ernn_fast_rescale r)
{
    int32_t t;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(t) : "r"(x * 2), "r"(r.multiplier), "r"(r.round + (x >> 31)));
    return t >> r.right;
}

/* One hidden element of hidden_pairs_asm: C puts v = the rescaled c half in r6, SMO picks the o half; out: h. */
#define ERNN_LSTM_HIDDEN(C, SMO, out)                                                                           \
    C                                                                                                           \
    "bfi r10, r6, #0, #8\n\t"                                                                                  \
    "asr r7, r6, #31\n\t"                                                                                      \
    "ssat r6, #9, r6, asr #8\n\t"                                                                              \
    "ldr r6, [r9, r6, lsl #2]\n\t"                                                                             \
    "add r7, r7, #128\n\t"                                                                                     \
    "smlad r6, r6, r10, r7\n\t"                                                                                \
    "asr r6, r6, #8\n\t"                                                                                       \
    SMO " r6, r5, r6\n\t"                                                                                      \
    "add r7, r11, r6, asr #31\n\t"                                                                             \
    "lsl r6, r6, #1\n\t"                                                                                       \
    "smmlar r6, r6, r12, r7\n\t"                                                                               \
    "asr r6, r6, lr\n\t"                                                                                       \
    "ssat " out ", #8, r6\n\t"

/*
 * h = ssat8(short_out(o * tanh(c * m), om) + zp) for pairs of elements, [h, h_end), every value in a register.
 * The tanh is ernn_tanh_lut of v = (c * m + round) >> s, which is SMMULR(c * 2^16, m * 2^(16 - s)) exactly
 * (round half up of c * m * 2^(32 - s) / 2^32 = (c * m + 2^(s - 1)) >> s; for s = 0 the product is exact)
 * when 0 <= s <= 16 and m * 2^(16 - s) is an int32: c * 2^16 is one LSL (low half) or BFC (high half).
 * The zero point rides in the rounding constant: with round_zp = round + zp * 2^right,
 * (t + zp * 2^right) >> right == (t >> right) + zp exactly, and SMMLAR's R + SMMULR(2p, M) stays an int32 when
 * |round_zp| + 2^30 + 1 < 2^31 (|SMMULR(2p, M)| <= 2^30, sign term -1): the caller checks both.
 */
static void hidden_pairs_asm(const int16_t *c, const int16_t *go, int8_t *h, int8_t *h_end, int32_t m_scaled,
                             ernn_fast_rescale om, int32_t round_zp)
{
    register const int16_t *rc __asm__("r0") = c;
    register const int16_t *ro __asm__("r1") = go;
    register int8_t *rh __asm__("r2") = h;
    register int32_t t3 __asm__("r3");
    register int32_t t4 __asm__("r4");
    register int32_t t5 __asm__("r5");
    register int32_t t6 __asm__("r6");
    register int32_t t7 __asm__("r7");
    register int32_t rm __asm__("r8") = m_scaled;
    register const uint32_t *table __asm__("r9") = ernn_lut_pairs;
    register int32_t op __asm__("r10") = 1 << 24;
    register int32_t rz __asm__("r11") = round_zp;
    register int32_t mult __asm__("r12") = om.multiplier;
    register int32_t right __asm__("lr") = om.right;
    __asm__ volatile("1:\n\t"
                     "ldr r4, [r0], #4\n\t"
                     "ldr r5, [r1], #4\n\t" ERNN_LSTM_HIDDEN("lsl r6, r4, #16\n\tsmmulr r6, r6, r8\n\t", "smulbb", "r3")
                         ERNN_LSTM_HIDDEN("bfc r4, #0, #16\n\tsmmulr r6, r4, r8\n\t", "smultb", "r6")
                     "bfi r3, r6, #8, #8\n\t"
                     "strh r3, [r2], #2\n\t"
                     "ldr r6, %[end]\n\t"
                     "cmp r2, r6\n\t"
                     "bne 1b\n\t"
                     : "+r"(rc), "+r"(ro), "+r"(rh), "=&r"(t3), "=&r"(t4), "=&r"(t5), "=&r"(t6), "=&r"(t7),
                       "+r"(rm), "+r"(table), "+r"(op), "+r"(rz), "+r"(mult), "+r"(right)
                     : [end] "m"(h_end)
                     : "cc", "memory");
}

/*
 * The cell update of the short form two elements at a time (one word of each gate and of the state):
 * SMULBB / SMULTT form the products of the same elements, QADD16 is the int16 saturating sum of the two
 * already saturated terms. The same operations on the same values as the scalar loops, so the same integers.
 */
static void cell_pairs(const int16_t *gi, const int16_t *gf, const int16_t *gg, const int16_t *go, int16_t *c,
                       int8_t *h, int32_t pairs, ernn_fast_rescale fm, ernn_fast_rescale im, ernn_fast_rescale om,
                       int32_t tanh_multiplier, int32_t tanh_shift, int32_t tanh_round, int32_t zp)
{
    for (int32_t k = 0; k < pairs; ++k, gi += 2, gf += 2, gg += 2) {
        const uint32_t f2 = load_pair(gf), c2 = load_pair(c + 2 * k), i2 = load_pair(gi), g2 = load_pair(gg);
        const int32_t a0 = ernn_ssat16(fast_out_left1(smulbb(f2, c2), fm));
        const int32_t a1 = ernn_ssat16(fast_out_left1(smultt(f2, c2), fm));
        const int32_t b0 = ernn_ssat16(fast_out_left1(smulbb(i2, g2), im));
        const int32_t b1 = ernn_ssat16(fast_out_left1(smultt(i2, g2), im));
        const int32_t sum = qadd16(pack16(a0, a1), pack16(b0, b1));
        memcpy(c + 2 * k, &sum, sizeof sum);
    }
    /* The hidden state in one asm loop where its preconditions hold (see hidden_pairs_asm). */
    const int64_t round_zp = (int64_t)om.round + (int64_t)zp * ((int64_t)1 << om.right);
    const int64_t m_scaled =
        tanh_shift >= 0 && tanh_shift <= 16 ? (int64_t)tanh_multiplier * ((int64_t)1 << (16 - tanh_shift)) : 0;
    if (pairs > 0 && m_scaled != 0 && m_scaled >= INT32_MIN && m_scaled <= INT32_MAX &&
        (round_zp < 0 ? -round_zp : round_zp) + ((int64_t)1 << 30) + 1 < ((int64_t)1 << 31)) {
        hidden_pairs_asm(c, go, h, h + 2 * pairs, (int32_t)m_scaled, om, (int32_t)round_zp);
        return;
    }
    const uint32_t *table = ernn_lut_pairs;
    __asm__("" : "+r"(table)); /* one register for the table's middle, not its base + 256 per index */
    uint32_t op = (uint32_t)1 << 24;
    for (int32_t k = 0; k < pairs; ++k, go += 2, h += 2) {
        const uint32_t c2 = load_pair(c + 2 * k), o2 = load_pair(go);
        const int32_t t0 = tanh_bfi(((int32_t)(int16_t)c2 * tanh_multiplier + tanh_round) >> tanh_shift, table, &op);
        const int32_t t1 = tanh_bfi((((int32_t)c2 >> 16) * tanh_multiplier + tanh_round) >> tanh_shift, table, &op);
        int32_t h0 = ernn_ssat8(fast_out_left1(smulbb(o2, (uint32_t)t0), om) + zp);
        const int32_t h1 = ernn_ssat8(fast_out_left1(smultb(o2, (uint32_t)t1), om) + zp);
        __asm__("bfi %0, %1, #8, #8" : "+r"(h0) : "r"(h1)); /* the two bytes in one halfword */
        const uint16_t pair = (uint16_t)h0;
        memcpy(h, &pair, sizeof pair);
    }
}
#endif

static int32_t hidden_size(const ernn_lstm_s8_params *p)
{
    return ernn_cell_hidden_size_s8(&p->x_fc, &p->h_fc, 4);
}

int32_t ernn_lstm_s8_get_buffer_size(const ernn_lstm_s8_params *p)
{
    if (p == NULL || hidden_size(p) == 0) {
        return 0;
    }
    return ernn_cell_buffer_size(&p->x_fc, &p->h_fc, ernn_cell_rows(ERNN_CELL_LSTM, &p->h_fc, hidden_size(p)));
}

/* The cell state's tanh input rescale, a power-of-two scale folded into the multiplier (ernn_lut_input). */
static inline void cell_tanh_rescale(const ernn_lstm_s8_params *p, int32_t *multiplier, int32_t *shift)
{
    *multiplier = p->cell_tanh_multiplier;
    *shift = p->cell_tanh_shift;
    if (*multiplier == 0) {
        *multiplier = 3 * ((int32_t)1 << *shift);
        *shift = 0;
    }
}

/* The short form of the element-wise step applies (no cell clip, every product shift < 0). */
static int short_form(const ernn_lstm_s8_params *p)
{
    return p->cell_clip == 0 && p->forget_mul.shift < 0 && p->input_mul.shift < 0 && p->output_mul.shift < 0;
}

#if defined(ERNN_LSTM_RUN)
int ernn_lstm_run_s8_ok(const ernn_lstm_s8_params *p)
{
#if defined(ERNN_PORT_LSTM_RUN)
    if (p == NULL || hidden_size(p) == 0 || !short_form(p) || !ernn_lstm_run_port_ok(p, hidden_size(p))) {
        return 0;
    }
    const int32_t rows = ernn_cell_rows(ERNN_CELL_LSTM, &p->h_fc, hidden_size(p));
    const int32_t per_step = rows * (int32_t)sizeof(int16_t) + ernn_round_up(p->x_fc.in_features, 16);
    return ernn_cell_fcs_fusable(&p->x_fc, &p->h_fc, rows) && rows <= ERNN_X86_RUN_MAX_ROWS &&
           per_step <= ERNN_X86_RUN_BYTES;
#else
    (void)p;
    return 0;
#endif
}

int ernn_lstm_run_s8(const ernn_lstm_s8_params *p, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                     int16_t *c, int8_t *hs, size_t hs_stride)
{
    if (xs == NULL || h == NULL || c == NULL || hs == NULL || steps < 1 || !ernn_lstm_run_s8_ok(p)) {
        return 0;
    }
#if defined(ERNN_PORT_LSTM_RUN)
    const int32_t n = hidden_size(p);
    int32_t tanh_multiplier, tanh_shift;
    cell_tanh_rescale(p, &tanh_multiplier, &tanh_shift);
    return ernn_lstm_run_port(p, n, ernn_gate_stride(&p->h_fc, n), tanh_multiplier, tanh_shift, xs, x_stride, steps, h,
                              c, hs, hs_stride);
#else
    (void)x_stride, (void)hs_stride;
    return 0;
#endif
}
#endif

ernn_status ernn_lstm_step_s8(const ernn_lstm_s8_params *p, const int8_t *x, int8_t *h, int16_t *c,
                              int16_t *scratch)
{
    if (p == NULL || x == NULL || h == NULL || c == NULL || scratch == NULL || hidden_size(p) == 0) {
        return ERNN_ARG_ERROR;
    }
    const int32_t n = hidden_size(p);
    const int32_t stride = ernn_gate_stride(&p->h_fc, n);
    const int32_t rows = ernn_cell_rows(ERNN_CELL_LSTM, &p->h_fc, n);
    /* gates i, f, g, o (stride rows each): sigmoid or tanh of sat16(x_fc(x) + h_fc(h)), Q0.15 */
    const uint32_t acts = ERNN_ACT_SIGMOID | ERNN_ACT_SIGMOID << 2 | ERNN_ACT_TANH << 4 | ERNN_ACT_SIGMOID << 6;
    if (ernn_cell_fcs(&p->x_fc, &p->h_fc, x, h, scratch, rows, rows, acts) != ERNN_OK) {
        return ERNN_ARG_ERROR;
    }
    const int16_t *gi = scratch, *gf = scratch + stride, *gg = scratch + 2 * stride, *go = scratch + 3 * stride;
    /* cell_clip: the clipped update runs the general loop below (the fast path and ports do not clip). */
    if (short_form(p)) {
        /* The short requantization (ernn_fast_out: products of Q0.15 gates, shift < 0 so left = 1 and the
         * rounding shift is on) and the one-load tanh (ernn_lut_s16.h): the same integers as the general
         * form below. Two light loops (cell state, then hidden state) keep every value in a register. */
        const ernn_fast_rescale fm = ernn_fast_of(p->forget_mul.multiplier, p->forget_mul.shift);
        const ernn_fast_rescale im = ernn_fast_of(p->input_mul.multiplier, p->input_mul.shift);
        int32_t tanh_multiplier, tanh_shift;
        cell_tanh_rescale(p, &tanh_multiplier, &tanh_shift);
        const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
        const ernn_fast_rescale om = ernn_fast_of(p->output_mul.multiplier, p->output_mul.shift);
        const int32_t zp = p->hidden_zero_point;
        int32_t j0 = 0; /* units a port did (c and h, the same integers); the loops below do the rest */
#if defined(ERNN_PORT_LSTM_FAST)
        j0 = ernn_lstm_fast_port(gi, gf, gg, go, c, h, n, p->forget_mul.multiplier, -p->forget_mul.shift,
                                 p->input_mul.multiplier, -p->input_mul.shift, tanh_multiplier, tanh_shift,
                                 p->output_mul.multiplier, -p->output_mul.shift, zp);
#elif defined(ERNN_LSTM_PAIRS)
        j0 = n & ~1;
        cell_pairs(gi, gf, gg, go, c, h, n / 2, fm, im, om, tanh_multiplier, tanh_shift, tanh_round, zp);
#endif
        gi += j0;
        gf += j0;
        gg += j0;
        go += j0;
        for (int32_t j = j0; j < n; ++j) { /* every element, or those left of the port's or the pairs' */
            c[j] = (int16_t)ernn_ssat16(ernn_ssat16(ernn_fast_out(gf[j - j0] * c[j], fm, 1)) +
                                        ernn_ssat16(ernn_fast_out(gi[j - j0] * gg[j - j0], im, 1)));
        }
        const int16_t *cj = c + j0;
        for (int8_t *hj = h + j0; hj != h + n; ++hj, ++cj, ++go) {
            const int32_t tanh_c = ernn_tanh_lut((*cj * tanh_multiplier + tanh_round) >> tanh_shift);
            *hj = (int8_t)ernn_ssat8(ernn_fast_out(*go * tanh_c, om, 1) + zp);
        }
        return ERNN_OK;
    }
    for (int32_t j = 0; j < n; ++j) { /* the general requantization (the gates are activated above) */
        const int16_t i = gi[j], f = gf[j], g = gg[j], o = go[j];
        int16_t c_new = ernn_sat16((int32_t)ernn_mul_s16(f, c[j], p->forget_mul) + ernn_mul_s16(i, g, p->input_mul));
        if (p->cell_clip > 0) { /* TFLite's cell clip: after the saturating add, before tanh(c) */
            c_new = (int16_t)(c_new > p->cell_clip ? p->cell_clip : (c_new < -p->cell_clip ? -p->cell_clip : c_new));
        }
        const int16_t tanh_c = ernn_tanh_s16(c_new, p->cell_tanh_multiplier, p->cell_tanh_shift);
        c[j] = c_new;
        h[j] = (int8_t)ernn_requantize((int32_t)o * tanh_c, p->output_mul, p->hidden_zero_point, INT8_MIN, INT8_MAX);
    }
    return ERNN_OK;
}
