/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_dot_s8_neon.h
 * @brief Port: packed int8 FC kernels with AArch64 Advanced SIMD (Raspberry Pi 4: Cortex-A72; Pi 5: Cortex-A76).
 *
 * Included by src/ernn_fc_s8.c on AArch64 (packing K = 16, as MVE: a 4-row block stores, per sixteen
 * input columns, 16 bytes of each row one after the other, zero padded; the input is copied once per
 * layer into a zero-padded int8 buffer). Two kernels, chosen at build time by the target's flags:
 *  - with the dot-product extension (__ARM_FEATURE_DOTPROD: -mcpu=cortex-a76, Armv8.2-A+dotprod), one
 *    SDOT per row and 16 columns adds four 4-product sums into the row's four int32 lanes;
 *  - without it (Cortex-A72, Armv8.0-A), SMULL / SMULL2 form the 16 int16 products (each fits: |w * x| <=
 *    2^14) and two SADALP add them pairwise into the row's int32 lanes, widening before any sum: no
 *    int16 sum of two products is ever formed (128 * 128 * 2 would not fit).
 * Every sum is an exact int32 sum (the caller's bound keeps it inside int32), so the result equals the
 * portable C bit for bit. A final pairwise reduction gives the four rows' sums.
 * Gate blocks of up to 8 chunks (128 inputs) run fully unrolled kernels, one per chunk count, epilogue and
 * requantization form, with the input held in registers (ernn_neon_group16_any); the A72's pair kernel is
 * written as one asm block per chunk. They cost flash (about 24 KB more for ernn_fc_s8.o at -O2).
 */
#ifndef ERNN_DOT_S8_NEON_H
#define ERNN_DOT_S8_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "edgernn/ernn_common.h"

#if defined(__ARM_FEATURE_DOTPROD)
#define ERNN_PORT_NAME "neon_sdot"
#else
#define ERNN_PORT_NAME "neon"
#endif

/* x as int8, zero padded to a multiple of 16 values: whole vectors copied, memcpy only for a partial last one. */
static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    int8_t *b = (int8_t *)buffer;
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vst1q_s8(b + i, vld1q_s8(x + i));
    }
    if (i < n) {
        vst1q_s8(b + i, vdupq_n_s8(0));
        memcpy(b + i, x + i, (size_t)(n - i));
    }
}

/* acc += the 16 products of one row's 16 weights with the input's 16 values, in int32 lanes. */
static inline __attribute__((always_inline)) int32x4_t ernn_neon_dot16(int32x4_t acc, int8x16_t w, int8x16_t x)
{
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, w, x);
#else
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    return vpadalq_s16(acc, vmull_high_s8(w, x));
#endif
}

#if !defined(__ARM_FEATURE_DOTPROD)
/*
 * acc += the 16 products, for a row with no weight equal to -128 (ernn_fc_params.bounded == 3, checked at
 * export): SMULL forms the low 8 products in int16 lanes, SMLAL2 adds the high 8 to them, SADALP widens.
 * Exact: with |w| <= 127 and |x| <= 128 each product has |w x| <= 16,256, so a lane's two-product sum has
 * magnitude <= 32,512 < 2^15 and never wraps. (With w = -128 allowed, (-128)(-128) + (-128)(-128) = 32,768
 * would: hence the check, and the widening ernn_neon_dot16 for every other layer.) One instruction fewer
 * per row and 16 columns than ernn_neon_dot16.
 */
static inline __attribute__((always_inline)) int32x4_t ernn_neon_dot16_pairs(int32x4_t acc, int8x16_t w, int8x16_t x)
{
    return vpadalq_s16(acc, vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x));
}
#endif

/* The four rows' dot products of the 4-row block at *wp (chunks >= 1 vectors), row r in lane r; *wp advances.
 * pairs (a constant): ernn_neon_dot16_pairs instead of ernn_neon_dot16 (only where no weight is -128). */
static inline __attribute__((always_inline)) int32x4_t ernn_neon_mac4v_with(const int8_t **wp, const int8_t *x,
                                                                            int32_t chunks, int pairs)
{
    const int8_t *w = *wp;
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t c = 0; c < chunks; ++c) {
        const int8x16_t xv = vld1q_s8(x);
#if defined(__ARM_FEATURE_DOTPROD)
        const int8x16x4_t wv = vld1q_s8_x4(w); /* one LD1 of the block's 64 bytes */
        s0 = ernn_neon_dot16(s0, wv.val[0], xv);
        s1 = ernn_neon_dot16(s1, wv.val[1], xv);
        s2 = ernn_neon_dot16(s2, wv.val[2], xv);
        s3 = ernn_neon_dot16(s3, wv.val[3], xv);
#else
        /* two LDPs, not one LD1 of four registers: gcc copies an LD1's registers before SMULL2 (4 MOVs) */
        if (pairs) {
            s0 = ernn_neon_dot16_pairs(s0, vld1q_s8(w), xv);
            s1 = ernn_neon_dot16_pairs(s1, vld1q_s8(w + 16), xv);
            s2 = ernn_neon_dot16_pairs(s2, vld1q_s8(w + 32), xv);
            s3 = ernn_neon_dot16_pairs(s3, vld1q_s8(w + 48), xv);
        } else {
            s0 = ernn_neon_dot16(s0, vld1q_s8(w), xv);
            s1 = ernn_neon_dot16(s1, vld1q_s8(w + 16), xv);
            s2 = ernn_neon_dot16(s2, vld1q_s8(w + 32), xv);
            s3 = ernn_neon_dot16(s3, vld1q_s8(w + 48), xv);
        }
#endif
        w += 64;
        x += 16;
    }
    *wp = w;
    (void)pairs;
    return vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
}

static inline __attribute__((always_inline)) int32x4_t ernn_neon_mac4v(const int8_t **wp, const int8_t *x,
                                                                       int32_t chunks)
{
    return ernn_neon_mac4v_with(wp, x, chunks, 0);
}

/* acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp (chunks >= 1 vectors). */
static inline __attribute__((always_inline)) void ernn_mac4_port(const int8_t **wp, const int32_t *bias,
                                                                 const int16_t *buffer, int32_t chunks,
                                                                 const int16_t *const *buffer_end, int32_t acc[4])
{
    (void)buffer_end;
    vst1q_s32(acc, vaddq_s32(ernn_neon_mac4v(wp, (const int8_t *)buffer, chunks), vld1q_s32(bias)));
}

/*
 * A whole gate block at once (ernn_fc_s8.c calls it for bounded int16 groups whose rows share one
 * multiplier, through the hook the DSP port introduced; the struct is its, field for field): per 4-row
 * block the dot products, the short requantization of ernn_fc_s8.c in four lanes, int16 saturation, and by
 * mode the saturating sum with y and the gate's sigmoid or tanh (ernn_lut_s16.h), as ernn_fc_s8.c computes
 * them row by row:
 *  - SMMULR(acc << left, M) = SQRDMULH(acc << (left - 1), M): both are (acc * 2^(left - 1) * M + 2^30) >> 31,
 *    and SQRDMULH cannot saturate (M >= 0, so never INT32_MIN * INT32_MIN);
 *  - (t + (t >> 31) + 2^(right - 1)) >> right = SRSHL(t + (t >> 31), -right) (|t| < 2^30: no overflow); right
 *    == 0 leaves t alone (the mask drops the sign term, SRSHL by 0 is the identity);
 *  - SQXTN is ernn_ssat16, SQADD the cells' sat16(x part + h part).
 */
typedef struct {
    const int32_t *bias;
    int16_t *y;
    int16_t *y_end;
    const int16_t *buffer;
    const int16_t *end; /* buffer + 8 * chunks */
    int32_t chunks_mod8;
    int32_t multiplier;
    int32_t left;  /* max(shift, 0) + 1 */
    int32_t right; /* max(-shift, 0) */
    int32_t round;
    int32_t mode; /* 0 store; 1 add to y; 2 add, then sigmoid; 3 add, then tanh */
    const uint32_t *table;
    int32_t round_const;
} ernn_dsp_group;
#define ERNN_PORT_GROUP16 1

/* The pair-table entries of four indices (no gather in NEON: four loads). */
static inline __attribute__((always_inline)) uint32x4_t ernn_neon_gather(const uint32_t *table, uint32x4_t idx)
{
    uint32x4_t e = vdupq_n_u32(table[vgetq_lane_u32(idx, 0)]);
    e = vsetq_lane_u32(table[vgetq_lane_u32(idx, 1)], e, 1);
    e = vsetq_lane_u32(table[vgetq_lane_u32(idx, 2)], e, 2);
    return vsetq_lane_u32(table[vgetq_lane_u32(idx, 3)], e, 3);
}

/* ernn_lut_mla's portable form in four lanes: (e >> 16) * 2^bits + (e & 0xFFFF) * frac + c (all < 2^31). */
#define ERNN_NEON_LUT_MLA(e, frac, bits, c)                                                                     \
    vreinterpretq_s32_u32(vmlaq_u32(vaddq_u32(vshlq_n_u32(vshrq_n_u32((e), 16), (bits)), vdupq_n_u32(c)),         \
                                    vandq_u32((e), vdupq_n_u32(0xFFFFu)), (frac)))

/* ernn_sigmoid_q312 of four Q3.12 values. 3|v| by UMULL of |v| as unsigned (|-32768| = 32768 so); the
 * choice pos / 32768 - pos in int16 lanes, which wrap as the C's int16 result (both are taken mod 2^16). */
static inline __attribute__((always_inline)) int16x4_t ernn_neon_sigmoid(int16x4_t v, const uint32_t *table)
{
    const uint32x4_t a = vmull_u16(vreinterpret_u16_s16(vabs_s16(v)), vdup_n_u16(3));
    const uint32x4_t e = ernn_neon_gather(table, vshrq_n_u32(a, 9));
    const int16x4_t pos =
        vmovn_s32(vshrq_n_s32(ERNN_NEON_LUT_MLA(e, vandq_u32(a, vdupq_n_u32(511)), 9, (1u << 24) + (1u << 9)), 10));
    return vbsl_s16(vcltz_s16(v), vsub_s16(vdup_n_s16(INT16_MIN), pos), pos);
}

/* ernn_tanh_lut of four int32 values (any v; |v| as an unsigned value, so the index clamps as ernn_lut_index8). */
static inline __attribute__((always_inline)) int32x4_t ernn_neon_tanh_lut(int32x4_t v, const uint32_t *table)
{
    const uint32x4_t a = vreinterpretq_u32_s32(vabsq_s32(v));
    const uint32x4_t e = ernn_neon_gather(table, vminq_u32(vshrq_n_u32(a, 8), vdupq_n_u32(255)));
    const int32x4_t pos = vshrq_n_s32(ERNN_NEON_LUT_MLA(e, vandq_u32(a, vdupq_n_u32(255)), 8, 1u << 7), 8);
    return vbslq_s32(vcltzq_s32(v), vnegq_s32(pos), pos);
}

/* ernn_tanh_q312 of four Q3.12 values: tanh_lut(3x). */
static inline __attribute__((always_inline)) int16x4_t ernn_neon_tanh(int16x4_t v, const uint32_t *table)
{
    return vmovn_s32(ernn_neon_tanh_lut(vmull_n_s16(v, 3), table));
}

/* The gate epilogue of four rows (see above): requantize acc, saturate to int16, and by mode add y and activate. */
/* The gates' short requantization of four accumulators (see above), saturated to int16. short_form (a
 * constant): left == 1 and right > 0, the usual gate scales, where it is SQRDMULH, SSRA, SRSHL. */
static inline __attribute__((always_inline)) int16x4_t ernn_neon_requant4(int32x4_t acc, int32x4_t left, int32x4_t m,
                                                                          int32x4_t right, int32x4_t sign_mask,
                                                                          int short_form)
{
    if (short_form) {
        const int32x4_t t = vqrdmulhq_s32(acc, m);
        return vqmovn_s32(vrshlq_s32(vsraq_n_s32(t, t, 31), right));
    }
    const int32x4_t t = vqrdmulhq_s32(vshlq_s32(acc, left), m);
    /* t + (t >> 31) where right > 0 (sign_mask all ones), then the rounding shift */
    return vqmovn_s32(vrshlq_s32(vsraq_n_s32(t, vandq_s32(t, sign_mask), 31), right));
}

/* By mode: store v at y, or add y to it and store, then activated by sigmoid or tanh. */
static inline __attribute__((always_inline)) void ernn_neon_finish4(int16x4_t v, int16_t *y, int32_t mode,
                                                                    const uint32_t *table)
{
    if (mode != 0) {
        v = vqadd_s16(v, vld1_s16(y));
        if (mode == 2) {
            v = ernn_neon_sigmoid(v, table);
        } else if (mode == 3) {
            v = ernn_neon_tanh(v, table);
        }
    }
    vst1_s16(y, v);
}

static inline __attribute__((always_inline)) void ernn_neon_group16(const int8_t **wp, const ernn_dsp_group *g,
                                                                     int pairs)
{
    const int8_t *x = (const int8_t *)g->buffer;
    const int32_t chunks = (int32_t)(g->end - g->buffer) / 8;
    const int32x4_t left = vdupq_n_s32(g->left - 1);
    const int32x4_t m = vdupq_n_s32(g->multiplier);
    const int32x4_t right = vdupq_n_s32(-g->right);
    const int32x4_t sign_mask = vdupq_n_s32(g->right > 0 ? -1 : 0);
    const int32_t mode = g->mode;
    const int32_t *bias = g->bias;
    for (int16_t *y = g->y; y != g->y_end; y += 4, bias += 4) {
        const int32x4_t acc = vaddq_s32(ernn_neon_mac4v_with(wp, x, chunks, pairs), vld1q_s32(bias));
        ernn_neon_finish4(ernn_neon_requant4(acc, left, m, right, sign_mask, 0), y, mode, g->table);
    }
}

/*
 * The four rows' dot products of the 4-row block at w, n = 1..8 chunks (a constant: fully unrolled), from the
 * input's n vectors held in registers; the first chunk's sums start the accumulators (SADDLP, or SDOT into
 * zeros) instead of being added to zeros. The same integer sums as ernn_neon_mac4v_with. Without SDOT only
 * the pair kernel comes here (pairs: no -128 weight; ernn_neon_group16_any sends the rest to the loop).
 */
#if defined(__ARM_FEATURE_DOTPROD)
static inline __attribute__((always_inline)) int32x4_t ernn_neon_block4_n(const int8_t *w, const int8x16_t *xv,
                                                                          int32_t n)
{
    int32x4_t s[4];
    int8x16x4_t wv = vld1q_s8_x4(w);
#pragma GCC unroll 4
    for (int32_t r = 0; r < 4; ++r) {
        s[r] = vdotq_s32(vdupq_n_s32(0), wv.val[r], xv[0]);
    }
#pragma GCC unroll 7
    for (int32_t c = 1; c < n; ++c) {
        wv = vld1q_s8_x4(w + 64 * c);
#pragma GCC unroll 4
        for (int32_t r = 0; r < 4; ++r) {
            s[r] = vdotq_s32(s[r], wv.val[r], xv[c]);
        }
    }
    return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}
#else
/* One chunk of the pair kernel (ernn_neon_dot16_pairs) for the 4-row block's rows at w + off, written out:
 * gcc, given the intrinsics, loaded the SMULL halves a second time or shuffled registers. START is the
 * first chunk's SADDLP (it sets s) or SADALP (it adds to s). */
typedef struct {
    int8_t bytes[8 * 64];
} ernn_neon_block8; /* a 4-row block of up to 8 chunks: the memory the chunks' asm reads, declared to gcc */
#define ERNN_NEON_PAIRS_CHUNK(START, SC, w, off, xv, s)                                                          \
    do {                                                                                                         \
        int8x16_t w0_, w1_, w2_, w3_;                                                                            \
        int16x8_t t0_, t1_, t2_, t3_;                                                                            \
        __asm__("ldp %q[w0], %q[w1], [%[p], %c[o0]]\n\t"                                                         \
                "ldp %q[w2], %q[w3], [%[p], %c[o1]]\n\t"                                                         \
                "smull %[t0].8h, %[w0].8b, %[x].8b\n\t"                                                          \
                "smull %[t1].8h, %[w1].8b, %[x].8b\n\t"                                                          \
                "smull %[t2].8h, %[w2].8b, %[x].8b\n\t"                                                          \
                "smull %[t3].8h, %[w3].8b, %[x].8b\n\t"                                                          \
                "smlal2 %[t0].8h, %[w0].16b, %[x].16b\n\t"                                                       \
                "smlal2 %[t1].8h, %[w1].16b, %[x].16b\n\t"                                                       \
                "smlal2 %[t2].8h, %[w2].16b, %[x].16b\n\t"                                                       \
                "smlal2 %[t3].8h, %[w3].16b, %[x].16b\n\t"                                                       \
                START " %[s0].4s, %[t0].8h\n\t"                                                                 \
                START " %[s1].4s, %[t1].8h\n\t"                                                                 \
                START " %[s2].4s, %[t2].8h\n\t"                                                                 \
                START " %[s3].4s, %[t3].8h"                                                                      \
                : [s0] SC(s[0]), [s1] SC(s[1]), [s2] SC(s[2]), [s3] SC(s[3]), [w0] "=&w"(w0_),                    \
                  [w1] "=&w"(w1_), [w2] "=&w"(w2_), [w3] "=&w"(w3_), [t0] "=&w"(t0_), [t1] "=&w"(t1_),            \
                  [t2] "=&w"(t2_), [t3] "=&w"(t3_)                                                               \
                : [p] "r"(w), [o0] "i"(off), [o1] "i"((off) + 32), [x] "w"(xv),                                 \
                  "m"(*(const ernn_neon_block8 *)(const void *)(w))); /* the block's bytes, read */             \
    } while (0)

static inline __attribute__((always_inline)) int32x4_t ernn_neon_block4_n(const int8_t *w, const int8x16_t *xv,
                                                                          int32_t n)
{
    int32x4_t s[4];
    ERNN_NEON_PAIRS_CHUNK("saddlp", "=&w", w, 0, xv[0], s);
#pragma GCC unroll 7
    for (int32_t c = 1; c < n; ++c) {
        ERNN_NEON_PAIRS_CHUNK("sadalp", "+w", w, 64 * c, xv[c], s);
    }
    return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}
#endif

/*
 * ernn_neon_group16 for a layer of n = 1..8 chunks (up to 128 inputs): the input stays in registers for the
 * whole gate block. (Two 4-row blocks per iteration, tried, spilled at n = 4 and counted more instructions.)
 */
static inline __attribute__((always_inline)) void ernn_neon_group16_n(const int8_t **wp, const ernn_dsp_group *g,
                                                                       int32_t n,
                                                                       int32_t mode, int short_form)
{
    const int8_t *x = (const int8_t *)g->buffer;
    int8x16_t xv[8];
#pragma GCC unroll 8
    for (int32_t c = 0; c < n; ++c) {
        xv[c] = vld1q_s8(x + 16 * c);
    }
    const int32x4_t left = vdupq_n_s32(g->left - 1);
    const int32x4_t m = vdupq_n_s32(g->multiplier);
    const int32x4_t right = vdupq_n_s32(-g->right);
    const int32x4_t sign_mask = vdupq_n_s32(g->right > 0 ? -1 : 0);
    const int32_t *bias = g->bias;
    const uint32_t *table = g->table;
    int16_t *const y_end = g->y_end; /* locals: the stores to y may alias *g as far as the compiler knows */
    const int8_t *w = *wp;
    for (int16_t *y = g->y; y != y_end; y += 4, bias += 4, w += 64 * n) {
        const int32x4_t acc = vaddq_s32(ernn_neon_block4_n(w, xv, n), vld1q_s32(bias));
        ernn_neon_finish4(ernn_neon_requant4(acc, left, m, right, sign_mask, short_form), y, mode, table);
    }
    *wp = w;
}

/*
 * A gate block: the unrolled kernel for up to 8 chunks, one per chunk count, epilogue (store; sum then
 * sigmoid; sum then tanh: no per-block branch on the mode) and requantization form (short, general); the
 * loop otherwise (more chunks, a sum without activation, and on the A72 a layer with a -128 weight, rare
 * enough not to be worth the flash of 48 more kernels).
 */
static inline __attribute__((always_inline)) void ernn_neon_group16_any(const int8_t **wp, const ernn_dsp_group *g,
                                                                         int pairs)
{
    const int32_t chunks = (int32_t)(g->end - g->buffer) / 8;
#if !defined(__ARM_FEATURE_DOTPROD)
    const int unrolled = pairs;
#else
    const int unrolled = 1;
#endif
    if (!unrolled || chunks > 8 || g->mode == 1) {
        ernn_neon_group16(wp, g, pairs);
        return;
    }
    const int short_form = g->left == 1 && g->right > 0;
    switch (chunks + 16 * (g->mode == 0 ? 0 : g->mode - 1) + 64 * short_form) {
    case 1: ernn_neon_group16_n(wp, g, 1, 0, 0); break;
    case 2: ernn_neon_group16_n(wp, g, 2, 0, 0); break;
    case 3: ernn_neon_group16_n(wp, g, 3, 0, 0); break;
    case 4: ernn_neon_group16_n(wp, g, 4, 0, 0); break;
    case 5: ernn_neon_group16_n(wp, g, 5, 0, 0); break;
    case 6: ernn_neon_group16_n(wp, g, 6, 0, 0); break;
    case 7: ernn_neon_group16_n(wp, g, 7, 0, 0); break;
    case 8: ernn_neon_group16_n(wp, g, 8, 0, 0); break;
    case 17: ernn_neon_group16_n(wp, g, 1, 2, 0); break;
    case 18: ernn_neon_group16_n(wp, g, 2, 2, 0); break;
    case 19: ernn_neon_group16_n(wp, g, 3, 2, 0); break;
    case 20: ernn_neon_group16_n(wp, g, 4, 2, 0); break;
    case 21: ernn_neon_group16_n(wp, g, 5, 2, 0); break;
    case 22: ernn_neon_group16_n(wp, g, 6, 2, 0); break;
    case 23: ernn_neon_group16_n(wp, g, 7, 2, 0); break;
    case 24: ernn_neon_group16_n(wp, g, 8, 2, 0); break;
    case 33: ernn_neon_group16_n(wp, g, 1, 3, 0); break;
    case 34: ernn_neon_group16_n(wp, g, 2, 3, 0); break;
    case 35: ernn_neon_group16_n(wp, g, 3, 3, 0); break;
    case 36: ernn_neon_group16_n(wp, g, 4, 3, 0); break;
    case 37: ernn_neon_group16_n(wp, g, 5, 3, 0); break;
    case 38: ernn_neon_group16_n(wp, g, 6, 3, 0); break;
    case 39: ernn_neon_group16_n(wp, g, 7, 3, 0); break;
    case 40: ernn_neon_group16_n(wp, g, 8, 3, 0); break;
    case 65: ernn_neon_group16_n(wp, g, 1, 0, 1); break;
    case 66: ernn_neon_group16_n(wp, g, 2, 0, 1); break;
    case 67: ernn_neon_group16_n(wp, g, 3, 0, 1); break;
    case 68: ernn_neon_group16_n(wp, g, 4, 0, 1); break;
    case 69: ernn_neon_group16_n(wp, g, 5, 0, 1); break;
    case 70: ernn_neon_group16_n(wp, g, 6, 0, 1); break;
    case 71: ernn_neon_group16_n(wp, g, 7, 0, 1); break;
    case 72: ernn_neon_group16_n(wp, g, 8, 0, 1); break;
    case 81: ernn_neon_group16_n(wp, g, 1, 2, 1); break;
    case 82: ernn_neon_group16_n(wp, g, 2, 2, 1); break;
    case 83: ernn_neon_group16_n(wp, g, 3, 2, 1); break;
    case 84: ernn_neon_group16_n(wp, g, 4, 2, 1); break;
    case 85: ernn_neon_group16_n(wp, g, 5, 2, 1); break;
    case 86: ernn_neon_group16_n(wp, g, 6, 2, 1); break;
    case 87: ernn_neon_group16_n(wp, g, 7, 2, 1); break;
    case 88: ernn_neon_group16_n(wp, g, 8, 2, 1); break;
    case 97: ernn_neon_group16_n(wp, g, 1, 3, 1); break;
    case 98: ernn_neon_group16_n(wp, g, 2, 3, 1); break;
    case 99: ernn_neon_group16_n(wp, g, 3, 3, 1); break;
    case 100: ernn_neon_group16_n(wp, g, 4, 3, 1); break;
    case 101: ernn_neon_group16_n(wp, g, 5, 3, 1); break;
    case 102: ernn_neon_group16_n(wp, g, 6, 3, 1); break;
    case 103: ernn_neon_group16_n(wp, g, 7, 3, 1); break;
    case 104: ernn_neon_group16_n(wp, g, 8, 3, 1); break;
    default: ernn_neon_group16(wp, g, pairs); break;
    }
}

static __attribute__((noinline, unused)) void ernn_group16_port(const int8_t **wp, ernn_dsp_group *g)
{
    ernn_neon_group16_any(wp, g, 0);
}

#if !defined(__ARM_FEATURE_DOTPROD)
/* A gate block of a layer with no -128 weight (bounded == 3): ernn_neon_dot16_pairs. */
#define ERNN_PORT_PAIRS16 1
static __attribute__((noinline, unused)) void ernn_group16_pairs_port(const int8_t **wp, ernn_dsp_group *g)
{
    ernn_neon_group16_any(wp, g, 1);
}
#endif

/* ernn_fast_out(x, r, 1) of four values with left == 1 (the cells' Q0.15 products: shift < 0), int32 lanes. */
static inline __attribute__((always_inline)) int32x4_t ernn_neon_fast_q15(int32x4_t x, int32x4_t m, int32x4_t right)
{
    const int32x4_t t = vqrdmulhq_s32(x, m);
    return vrshlq_s32(vaddq_s32(t, vshrq_n_s32(t, 31)), right);
}

/* Four units of the GRU's element-wise step below: stores the new int16 state, returns the int8 output's
 * values before the int8 narrowing (int16 lanes). */
static inline __attribute__((always_inline)) int16x4_t ernn_neon_gru4(int16x4_t r, int16x4_t z, int16x4_t xn,
                                                                      int16x4_t hn, int16_t *h_q15, int32x4_t rm,
                                                                      int32x4_t rr, int32x4_t gm, int32x4_t gr_,
                                                                      int32x4_t hm, int32x4_t hr, int32x4_t zp)
{
    const int16x4_t reset_hidden = vqmovn_s32(ernn_neon_fast_q15(vmull_s16(r, hn), rm, rr));
    /* ernn_tanh_q312 in int32 lanes, used as they are: |tanh| <= 32,767 (the table's largest value), so the C's
     * int16 candidate holds the same values */
    const int32x4_t cand = ernn_neon_tanh_lut(vmull_n_s16(vqadd_s16(xn, reset_hidden), 3), ernn_lut_pairs);
    const int16x4_t keep = vqmovn_s32(ernn_neon_fast_q15(vmull_s16(z, vld1_s16(h_q15)), gm, gr_));
    const int32x4_t one_minus_z = vsubq_s32(vdupq_n_s32(INT16_MAX), vmovl_s16(z));
    const int16x4_t update = vqmovn_s32(ernn_neon_fast_q15(vmulq_s32(one_minus_z, cand), gm, gr_));
    const int16x4_t blended = vqadd_s16(keep, update);
    vst1_s16(h_q15, blended);
    return vqmovn_s32(vaddq_s32(ernn_neon_fast_q15(vmovl_s16(blended), hm, hr), zp));
}

/*
 * The GRU's element-wise step (ernn_gru_s8.c, its short form: every shift < 0) for j in [0, n rounded down
 * to 4), eight units at a time (int16x8 loads, one int8 narrowing and store), then four, with the same
 * integer operations as the C loops there (ernn_neon_fast_q15, SQXTN / SQADD for the int16 saturations,
 * ernn_neon_tanh); returns how many units it did.
 */
#define ERNN_PORT_GRU_FAST 1
static inline int32_t ernn_gru_fast_port(const int16_t *gr, const int16_t *gz, const int16_t *xn, const int16_t *hn,
                                         int16_t *h_q15, int8_t *h, int32_t n, int32_t reset_m, int32_t reset_right,
                                         int32_t gate_m, int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                         int32_t zero_point)
{
    const int32x4_t rm = vdupq_n_s32(reset_m), rr = vdupq_n_s32(-reset_right);
    const int32x4_t gm = vdupq_n_s32(gate_m), gr_ = vdupq_n_s32(-gate_right);
    const int32x4_t hm = vdupq_n_s32(hidden_m), hr = vdupq_n_s32(-hidden_right);
    const int32x4_t zp = vdupq_n_s32(zero_point);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const int16x8_t r = vld1q_s16(gr + j), z = vld1q_s16(gz + j), x = vld1q_s16(xn + j), hh = vld1q_s16(hn + j);
        const int16x4_t lo = ernn_neon_gru4(vget_low_s16(r), vget_low_s16(z), vget_low_s16(x), vget_low_s16(hh),
                                            h_q15 + j, rm, rr, gm, gr_, hm, hr, zp);
        const int16x4_t hi = ernn_neon_gru4(vget_high_s16(r), vget_high_s16(z), vget_high_s16(x), vget_high_s16(hh),
                                            h_q15 + j + 4, rm, rr, gm, gr_, hm, hr, zp);
        vst1_s8(h + j, vqmovn_s16(vcombine_s16(lo, hi)));
    }
    for (; j + 4 <= n; j += 4) {
        const int16x4_t out = ernn_neon_gru4(vld1_s16(gr + j), vld1_s16(gz + j), vld1_s16(xn + j), vld1_s16(hn + j),
                                             h_q15 + j, rm, rr, gm, gr_, hm, hr, zp);
        const int8x8_t out8 = vqmovn_s16(vcombine_s16(out, out));
        vst1_lane_s32((int32_t *)(void *)(h + j), vreinterpret_s32_s8(out8), 0);
    }
    return j;
}

/*
 * The LSTM's element-wise step (ernn_lstm_s8.c, its short form: every shift < 0) for j in [0, n rounded
 * down to 4), four units at a time: the cell state c, then h, with the same integer operations as the C
 * loops there (the cell state's tanh input (c * tanh_multiplier + round) >> tanh_shift in int32, as the C);
 * returns how many units it did.
 */
#define ERNN_PORT_LSTM_FAST 1
static inline int32_t ernn_lstm_fast_port(const int16_t *gi, const int16_t *gf, const int16_t *gg, const int16_t *go,
                                          int16_t *c, int8_t *h, int32_t n, int32_t forget_m, int32_t forget_right,
                                          int32_t input_m, int32_t input_right, int32_t tanh_multiplier,
                                          int32_t tanh_shift, int32_t output_m, int32_t output_right,
                                          int32_t zero_point)
{
    const int32x4_t fm = vdupq_n_s32(forget_m), fr = vdupq_n_s32(-forget_right);
    const int32x4_t im = vdupq_n_s32(input_m), ir = vdupq_n_s32(-input_right);
    const int32x4_t om = vdupq_n_s32(output_m), orr = vdupq_n_s32(-output_right);
    const int32x4_t tr = vdupq_n_s32(tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0);
    const int32x4_t ts = vdupq_n_s32(-tanh_shift);
    const int32x4_t zp = vdupq_n_s32(zero_point);
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const int16x4_t forget = vqmovn_s32(ernn_neon_fast_q15(vmull_s16(vld1_s16(gf + j), vld1_s16(c + j)), fm, fr));
        const int16x4_t input = vqmovn_s32(ernn_neon_fast_q15(vmull_s16(vld1_s16(gi + j), vld1_s16(gg + j)), im, ir));
        const int16x4_t c_new = vqadd_s16(forget, input);
        vst1_s16(c + j, c_new);
        /* SSHL by -tanh_shift: the arithmetic shift right of the C (no rounding) */
        const int32x4_t v = vshlq_s32(vmlaq_n_s32(tr, vmovl_s16(c_new), tanh_multiplier), ts);
        const int32x4_t tanh_c = ernn_neon_tanh_lut(v, ernn_lut_pairs);
        const int32x4_t out = vaddq_s32(ernn_neon_fast_q15(vmulq_s32(vmovl_s16(vld1_s16(go + j)), tanh_c), om, orr), zp);
        const int8x8_t out8 = vqmovn_s16(vcombine_s16(vqmovn_s32(out), vdup_n_s16(0)));
        vst1_lane_s32((int32_t *)(void *)(h + j), vreinterpret_s32_s8(out8), 0);
    }
    return j;
}

#endif /* ERNN_DOT_S8_NEON_H */
