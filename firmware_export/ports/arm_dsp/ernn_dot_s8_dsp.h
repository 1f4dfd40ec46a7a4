/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_dot_s8_dsp.h
 * @brief Port: packed int8 FC kernels with the Arm DSP extension (Cortex-M4/M7/M33).
 *
 * Included by src/ernn_fc_s8.c when the compiler defines __ARM_FEATURE_DSP and __ARM_FEATURE_SIMD32
 * on an M-profile core (Thumb-2). Packing K = 4: a 4-row block stores, per four input columns, one
 * 32-bit word per row, so one LDM reads 16 weights; the input was widened once per layer to int16
 * pairs (x0, x2) and (x1, x3) (ernn_widen_port). Per row and word, SXTB16 and SXTB16 ROR #8 split the
 * weights into the same pairs and two SMLAD add the four products: 18 instructions per 16
 * multiply-accumulates. Integer sums are exact, so the result equals the portable C bit for bit.
 *
 * The block loops are asm statements with their registers pinned: the compiler cannot spill inside them.
 */
#ifndef ERNN_DOT_S8_DSP_H
#define ERNN_DOT_S8_DSP_H

#include <arm_acle.h>
#include <string.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "arm_dsp"
#define ERNN_DSP_INLINE inline __attribute__((always_inline))

/* Four bytes as a word (unaligned reads are fine on these cores; memcpy keeps C aliasing rules). */
static inline int32_t ernn_dsp_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t ernn_dsp_sxtb16_ror8(int32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v)); /* one instruction; the C form takes two */
    return r;
}

static inline int32_t ernn_dsp_sadd16(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("sadd16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* x (or 2x: doubled) as int16 pairs (x0, x2), (x1, x3) per four inputs, zero padded to a multiple of 4
 * values. SADD16 doubles each half alone (|2x| <= 256), where a plain ADD would carry between them. */
static ERNN_DSP_INLINE void ernn_dsp_widen(const int8_t *x, int32_t n, int16_t *buffer, int doubled)
{
    int32_t *out = (int32_t *)(void *)buffer;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t v = ernn_dsp_load4(x + i);
        int32_t even = __sxtb16(v), odd = ernn_dsp_sxtb16_ror8(v);
        if (doubled) {
            even = ernn_dsp_sadd16(even, even);
            odd = ernn_dsp_sadd16(odd, odd);
        }
        out[0] = even;
        out[1] = odd;
        out += 2;
    }
    if (i < n) { /* 1-3 bytes left: a word of them, zeros above (no memcpy call) */
        uint32_t u = (uint8_t)x[i];
        if (i + 1 < n) {
            u |= (uint32_t)(uint8_t)x[i + 1] << 8;
        }
        if (i + 2 < n) {
            u |= (uint32_t)(uint8_t)x[i + 2] << 16;
        }
        const int32_t v = (int32_t)u;
        int32_t even = __sxtb16(v), odd = ernn_dsp_sxtb16_ror8(v);
        if (doubled) {
            even = ernn_dsp_sadd16(even, even);
            odd = ernn_dsp_sadd16(odd, odd);
        }
        out[0] = even;
        out[1] = odd;
    }
}

static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    ernn_dsp_widen(x, n, buffer, 0);
}

/* 2x, for layers with the doubled bias (bounded == 2). */
#define ERNN_PORT_WIDEN_DOUBLED 1
static inline void ernn_widen_doubled_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    ernn_dsp_widen(x, n, buffer, 1);
}

/* One 4-column chunk of the 4-row block: weights w0..w3 (r4-r7) from [r0]!, input pair (r8, r9)
 * from [r1]!, sums in r3, r10, r11, r12; r2 is the free temporary. */
#define ERNN_DSP_CHUNK                                                                                          \
    "ldm r0!, {r4, r5, r6, r7}\n\t"                                                                            \
    "ldrd r8, r9, [r1], #8\n\t"                                                                                \
    "sxtb16 r2, r4\n\t"                                                                                        \
    "smlad r3, r2, r8, r3\n\t"                                                                                 \
    "sxtb16 r4, r4, ror #8\n\t"                                                                                \
    "smlad r3, r4, r9, r3\n\t"                                                                                 \
    "sxtb16 r2, r5\n\t"                                                                                        \
    "smlad r10, r2, r8, r10\n\t"                                                                               \
    "sxtb16 r5, r5, ror #8\n\t"                                                                                \
    "smlad r10, r5, r9, r10\n\t"                                                                               \
    "sxtb16 r2, r6\n\t"                                                                                        \
    "smlad r11, r2, r8, r11\n\t"                                                                               \
    "sxtb16 r6, r6, ror #8\n\t"                                                                                \
    "smlad r11, r6, r9, r11\n\t"                                                                               \
    "sxtb16 r2, r7\n\t"                                                                                        \
    "smlad r12, r2, r8, r12\n\t"                                                                               \
    "sxtb16 r7, r7, ror #8\n\t"                                                                                \
    "smlad r12, r7, r9, r12\n\t"

/*
 * acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp with the widened input
 * (chunks >= 1 groups of four columns, ending at buffer_end); *wp advances past the block.
 */
/* Not inlined: the gates go through ernn_group16_port; this serves heads and fallbacks, once in flash. */
static __attribute__((noinline)) void ernn_mac4_port(const int8_t **wp, const int32_t *bias, const int16_t *buffer,
                                                     int32_t chunks, const int16_t *const *buffer_end,
                                                     int32_t acc[4])
{
    const int16_t *end = *buffer_end; /* on the stack: the asm reads it by an sp-relative "m" operand */
    register const int8_t *w __asm__("r0") = *wp;
    register const int16_t *x __asm__("r1") = buffer;
    register int32_t t __asm__("r2") = chunks;
    register int32_t s0 __asm__("r3");
    register const int32_t *b __asm__("r4") = bias;
    register int32_t w1 __asm__("r5");
    register int32_t w2 __asm__("r6");
    register int32_t w3 __asm__("r7");
    register int32_t xe __asm__("r8");
    register int32_t xo __asm__("r9");
    register int32_t s1 __asm__("r10");
    register int32_t s2 __asm__("r11");
    register int32_t s3 __asm__("r12");
    __asm__ volatile(
        "ldm r4, {r3, r10, r11, r12}\n"
        "3:\n\t" ERNN_DSP_CHUNK /* one chunk per turn: heads and fallbacks only, small in flash */
        "ldr r2, %[end]\n\t"    /* r2 was the temporary: reload the end */
        "cmp r1, r2\n\t"
        "bne 3b\n\t"
        : "+r"(w), "+r"(x), "+r"(t), "=&r"(s0), "+r"(b), "=&r"(w1), "=&r"(w2), "=&r"(w3), "=&r"(xe), "=&r"(xo),
          "=&r"(s1), "=&r"(s2), "=&r"(s3)
        : [end] "m"(end)
        : "cc", "memory");
    *wp = w;
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}

/* What ernn_group16_port keeps in memory while every register holds the dot product (offsets used by the asm). */
typedef struct {              /* ordered for the loads: LDMDB r4, r5, r6, r9; LDM r1, r2, r4; LDR + LDRD; LDRD */
    int32_t three;            /* -16: 3 (SMULBB's multiplier: the activations take 3x) */
    const uint32_t *table;    /* -12: ernn_lut_pairs */
    int32_t round_const;      /* -8: 2^24 + 2^9 (sigmoid) or 2^7 (tanh): see ernn_lut_s16.h */
    int32_t operand;          /* -4: 2^25 (sigmoid) or 2^24 (tanh): the SMLAD operand's high half */
    const int16_t *buffer;    /* 0 (the kernel's base): the widened input */
    int32_t chunks_mod8;      /* 4: 4-column groups per row, modulo 8 (the first 0-7 are outside the loop) */
    const int32_t *bias;      /* 8: the next block's biases */
    int32_t multiplier;       /* 12 */
    int32_t right;            /* 16: -shift (> 0) */
    int32_t round;            /* 20: 2^(right - 1) */
    int16_t *y;               /* 24: the next block's outputs */
    int32_t mode;             /* 28: 0 store; 1 add to y (QADD16); 2 add, then sigmoid; 3 add, then tanh */
    int16_t *y_end;           /* 32: the group's end */
    const int16_t *end;       /* 36: the widened input's end */
} ernn_dsp_group;

/*
 * ernn_sigmoid_q312 of the element whose 3x is in v, into a, still to be shifted right by 10 (b: temporary;
 * r5: ernn_lut_pairs, r6: 2^24 + 2^9, r9: 2^25 and the fraction, BFI keeping bit 25), as ernn_lut_s16.h:
 * the signed index v >> 9 and the constant C + (v >> 31), no branch.
 */
#define ERNN_DSP_SIGMOID(v, a, b)                                                                               \
    "bfi r9, " v ", #0, #9\n\t"                                                                                \
    "asr " a ", " v ", #9\n\t"                                                                                  \
    "ldr " a ", [r5, " a ", lsl #2]\n\t"                                                                        \
    "add " b ", r6, " v ", asr #31\n\t"                                                                         \
    "smlad " a ", " a ", r9, " b "\n\t"

/* ernn_tanh_q312 likewise, to be shifted right by 8 (r6: 2^7, r9: 2^24 and the fraction; SSAT clamps j). */
#define ERNN_DSP_TANH(v, a, b)                                                                                  \
    "bfi r9, " v ", #0, #8\n\t"                                                                                \
    "ssat " a ", #9, " v ", asr #8\n\t"                                                                         \
    "ldr " a ", [r5, " a ", lsl #2]\n\t"                                                                        \
    "add " b ", r6, " v ", asr #31\n\t"                                                                         \
    "smlad " a ", " a ", r9, " b "\n\t"

/*
 * The activation F (its result shifted right by S) of the four int16 values packed in r3 and r11, in place
 * (r4: 3; r7, r8, r10, r12 temporaries). SMULBB / SMULTB take a half and multiply by 3 in one; the high
 * result's shift is PKHBT's: bits [S + 15:S] of it are the top half of it << (16 - S).
 */
#define ERNN_DSP_ACTIVATE4(F, S, L)                                                                             \
    "smulbb r7, r3, r4\n\t" F("r7", "r8", "r10") "smultb r7, r3, r4\n\t" F("r7", "r12", "r10")                  \
    "asr r8, r8, #" S "\n\t"                                                                                    \
    "pkhbt r3, r8, r12, lsl #" L "\n\t"                                                                         \
    "smulbb r7, r11, r4\n\t" F("r7", "r8", "r10") "smultb r7, r11, r4\n\t" F("r7", "r12", "r10")               \
    "asr r8, r8, #" S "\n\t"                                                                                    \
    "pkhbt r11, r8, r12, lsl #" L "\n\t"

/*
 * A whole group of a bounded layer with int16 output (a gate block: rows sharing one multiplier), per
 * 4-row block: the dot products (entered Duff-style at the chunk count modulo 8, then eight chunks per
 * loop), the short requantization of ernn_fc_s8.c (LSL, SMMULR / SMMLAR with the rounding folded in,
 * SSAT), two rows per PKHBT; then by mode (one TBB): stored, or added to the output with QADD16 (int16
 * saturation: the cells' sat16(x part + h part)) and optionally replaced by sigmoid or tanh of the sums
 * (the cells' gates), as ernn_lut_s16.h computes them. One asm statement: r0-r12 and lr are pinned,
 * the loop state lives in *g.
 */
#define ERNN_PORT_GROUP16 1
#define ERNN_PORT_GROUP16_DOUBLED 1 /* this struct and the doubled, right > 0 layers (ernn_fc_s8.c) */
/*
 * The short requantization with right > 0 in three instructions. right > 0 means shift < 0, so left = 1,
 * and the layer's accumulator arrives doubled (bounded == 2: the only layers this kernel takes), a = 2 acc:
 * with M (r4), round = 2^(right - 1) (r7), right (r6):  (SMMLAR(a, M, round + (a >> 31))) >> right
 * (a and acc have the same sign).
 * SMMLAR(a, M, R) = (R * 2^32 + a * M + 2^31) >> 32 = R + SMMULR(a, M) exactly, so this is
 * (t + round - [acc < 0]) >> right with t = SMMULR(a, M) = SRDHM (ernn_fc_s8.c). ernn_fc_s8.c rounds
 * with [t < 0]; the two agree: t and acc have the same sign when t != 0 (M > 0), and when t == 0 with
 * acc < 0, (round - 1) >> right = 0 = round >> right.
 */
#define ERNN_DSP_REQUANT(r)                                                                                     \
    "add r8, r7, " r ", asr #31\n\t"                                                                           \
    "smmlar " r ", " r ", r4, r8\n\t"                                                                          \
    "asr " r ", " r ", r6\n\t"
static inline void ernn_group16_port(const int8_t **wp, ernn_dsp_group *g)
{
    register const int8_t *w __asm__("r0") = *wp;
    register const int16_t **ctx __asm__("lr") = &g->buffer; /* fields before it: LDMDB */
    register int32_t r1 __asm__("r1");
    register int32_t r2 __asm__("r2");
    register int32_t r3 __asm__("r3");
    register int32_t r4 __asm__("r4");
    register int32_t r5 __asm__("r5");
    register int32_t r6 __asm__("r6");
    register int32_t r7 __asm__("r7");
    register int32_t r8 __asm__("r8");
    register int32_t r9 __asm__("r9");
    register int32_t r10 __asm__("r10");
    register int32_t r11 __asm__("r11");
    register int32_t r12 __asm__("r12");
    __asm__ volatile(
        "0:\n\t"
        "ldm lr, {r1, r2, r4}\n\t"
        "ldm r4!, {r3, r10, r11, r12}\n\t"
        "str r4, [lr, #8]\n\t"
        "tbb [pc, r2]\n"
        "1:\n\t"
        ".byte (10f - 1b) / 2, (11f - 1b) / 2, (12f - 1b) / 2, (13f - 1b) / 2\n\t"
        ".byte (14f - 1b) / 2, (15f - 1b) / 2, (16f - 1b) / 2, (17f - 1b) / 2\n"
        "17:\n\t" ERNN_DSP_CHUNK
        "16:\n\t" ERNN_DSP_CHUNK
        "15:\n\t" ERNN_DSP_CHUNK
        "14:\n\t" ERNN_DSP_CHUNK
        "13:\n\t" ERNN_DSP_CHUNK
        "12:\n\t" ERNN_DSP_CHUNK
        "11:\n\t" ERNN_DSP_CHUNK
        "ldr r2, [lr, #36]\n\t"
        "cmp r1, r2\n\t"
        "beq 4f\n"
        "10:\n"
        "3:\n\t" ERNN_DSP_CHUNK ERNN_DSP_CHUNK ERNN_DSP_CHUNK ERNN_DSP_CHUNK ERNN_DSP_CHUNK ERNN_DSP_CHUNK
        ERNN_DSP_CHUNK ERNN_DSP_CHUNK
        "ldr r2, [lr, #36]\n\t"
        "cmp r1, r2\n\t"
        "bne 3b\n"
        "4:\n\t"
        "ldr r4, [lr, #12]\n\t"
        "ldrd r6, r7, [lr, #16]\n\t"
        ERNN_DSP_REQUANT("r3") ERNN_DSP_REQUANT("r10") ERNN_DSP_REQUANT("r11") ERNN_DSP_REQUANT("r12")
        "ssat r3, #16, r3\n\t"
        "ssat r10, #16, r10\n\t"
        "ssat r11, #16, r11\n\t"
        "ssat r12, #16, r12\n\t"
        "pkhbt r3, r3, r10, lsl #16\n\t"
        "pkhbt r11, r11, r12, lsl #16\n\t"
        "ldrd r2, r4, [lr, #24]\n\t"
        "tbh [pc, r4, lsl #1]\n"
        "7:\n\t"
        ".hword (9f - 7b) / 2, (20f - 7b) / 2, (21f - 7b) / 2, (22f - 7b) / 2\n"
        "20:\n\t" /* add */
        "ldr r5, [r2]\n\t" /* y: 2-byte aligned only (LDR/STR allow that, LDRD/STRD do not) */
        "ldr r6, [r2, #4]\n\t"
        "qadd16 r3, r3, r5\n\t"
        "qadd16 r11, r11, r6\n\t"
        "b 9f\n"
        "22:\n\t" /* add, then tanh */
        "ldr r5, [r2]\n\t"
        "ldr r6, [r2, #4]\n\t"
        "qadd16 r3, r3, r5\n\t"
        "qadd16 r11, r11, r6\n\t"
        "ldmdb lr, {r4, r5, r6, r9}\n\t" ERNN_DSP_ACTIVATE4(ERNN_DSP_TANH, "8", "8")
        "b 9f\n"
        "21:\n\t" /* add, then sigmoid (the most frequent: falls through to the store) */
        "ldr r5, [r2]\n\t"
        "ldr r6, [r2, #4]\n\t"
        "qadd16 r3, r3, r5\n\t"
        "qadd16 r11, r11, r6\n\t"
        "ldmdb lr, {r4, r5, r6, r9}\n\t" ERNN_DSP_ACTIVATE4(ERNN_DSP_SIGMOID, "10", "6")
        "9:\n\t"
        "str r3, [r2], #4\n\t"
        "str r11, [r2], #4\n\t"
        "str r2, [lr, #24]\n\t"
        "ldr r4, [lr, #32]\n\t"
        "cmp r2, r4\n\t"
        "bne 0b\n\t"
        "2:\n\t"
        : "+r"(w), "+r"(ctx), "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4), "=&r"(r5), "=&r"(r6), "=&r"(r7),
          "=&r"(r8), "=&r"(r9), "=&r"(r10), "=&r"(r11), "=&r"(r12)
        :
        : "cc", "memory");
    *wp = w;
}

#endif /* ERNN_DOT_S8_DSP_H */
