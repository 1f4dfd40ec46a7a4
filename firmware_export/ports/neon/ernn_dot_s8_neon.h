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

/* x as int8, zero padded to a multiple of 16 values. */
static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    int8_t *b = (int8_t *)buffer;
    const int32_t padded = (n + 15) & ~15;
    vst1q_s8(b + padded - 16, vdupq_n_s8(0));
    memcpy(b, x, (size_t)n);
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

/* acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp (chunks >= 1 vectors). */
static inline __attribute__((always_inline)) void ernn_mac4_port(const int8_t **wp, const int32_t *bias,
                                                                 const int16_t *buffer, int32_t chunks,
                                                                 const int16_t *const *buffer_end, int32_t acc[4])
{
    (void)buffer_end;
    const int8_t *w = *wp;
    const int8_t *x = (const int8_t *)buffer;
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t c = 0; c < chunks; ++c) {
        const int8x16_t xv = vld1q_s8(x);
        const int8x16x4_t wv = vld1q_s8_x4(w); /* one LD1 of the block's 64 bytes */
        s0 = ernn_neon_dot16(s0, wv.val[0], xv);
        s1 = ernn_neon_dot16(s1, wv.val[1], xv);
        s2 = ernn_neon_dot16(s2, wv.val[2], xv);
        s3 = ernn_neon_dot16(s3, wv.val[3], xv);
        w += 64;
        x += 16;
    }
    *wp = w;
    const int32x4_t sums = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3)); /* row r in lane r */
    vst1q_s32(acc, vaddq_s32(sums, vld1q_s32(bias)));
}

#endif /* ERNN_DOT_S8_NEON_H */
