/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_dot_s8_x86.h
 * @brief Port: packed int8 FC kernels for x86-64 with AVX2, AVX-VNNI and AVX-512 VNNI, chosen at run time.
 *
 * Included by src/ernn_fc_s8.c on x86-64 with gcc or clang. Packing K = 16 (as MVE and NEON: a 4-row
 * block stores, per sixteen input columns, 16 bytes of each row one after the other, zero padded). The
 * input is widened once per layer to int16 (zero padded to a multiple of 16 values), so every kernel
 * multiplies int16 by int16:
 *  - AVX2: VPMOVSXBW sign-extends a row's 16 weights, VPMADDWD forms 8 sums of two products (each sum
 *    |w0 x0 + w1 x1| <= 2^15, in int32: exact) and VPADDD adds them to the row's lanes;
 *  - AVX-VNNI (256-bit) and AVX-512 VNNI (512-bit, two rows per register): VPDPWSSD does both in one
 *    instruction (the non-saturating form: an exact int32 sum).
 * Never VPMADDUBSW / VPDPBUSDS: their int16 pair sums or int32 sums saturate. With AVX-512 VNNI a cell's two
 * gate layers also run fused (ernn_cell_fcs_x86 below): VPDPBUSD on the weights + 128 (unsigned) and the
 * int8 input, sixteen rows per register, the 128 * sum x correction in the bias, the requantization,
 * sums and activations in sixteen lanes; and the GRU / LSTM element-wise steps run sixteen units at a time.
 * The LSTM and the GRU also run over many steps per call (ernn_lstm_run_avx512, ernn_gru_run_avx512 with the
 * ernn_x86_run helpers, for ernn_model_s8_run): the input projections of a block of steps do not depend on
 * the state and are taken apart from the recurrent chain. Without AVX-512 VNNI, with AVX-VNNI or AVX2, both cells run
 * over many steps in eight lanes (ERNN_X86_LANES8_RUNS).
 * The widest kernel the CPU
 * has is picked at each call with __builtin_cpu_supports (a load and a test: libgcc fills its table
 * before main); functions carry their ISA as a target attribute, so the library needs no -m flags and
 * runs on any x86-64, falling back to the plain C below. -DERNN_X86_LEVEL=n caps the choice
 * (0: plain C, 1: AVX2, 2: AVX-VNNI, 3: AVX-512 VNNI, 4: AVX-512 VNNI and VBMI, the LSTM's and the GRU's lane
 * kernels; default 4), for testing each kernel on one machine.
 * All sums are exact int32 sums (the caller's bound keeps them inside int32): each kernel equals the
 * portable C bit for bit.
 */
#ifndef ERNN_DOT_S8_X86_H
#define ERNN_DOT_S8_X86_H

/* gcc 12's AVX-512 intrinsics start from _mm512_undefined_* values: compiled as C++ with -Wall they raise
 * false "__Y is used uninitialized" warnings located in the header, which the diagnostic state at these
 * lines governs. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <string.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "x86"

#if !defined(ERNN_X86_LEVEL)
#define ERNN_X86_LEVEL 4
#endif

/* x as int16, zero padded to a multiple of 16 values. */
static inline void ernn_widen_x86_c(const int8_t *x, int32_t i, int32_t n, int16_t *buffer)
{
    const int32_t padded = (n + 15) & ~15;
    for (; i < padded; ++i) {
        buffer[i] = i < n ? (int16_t)x[i] : 0;
    }
}

/* Whole sixteens by VPMOVSXBW (x is not read past n), the rest in C: on small layers the scalar loop
 * with its padding test was a large part of the step. */
__attribute__((target("avx2"))) static inline void ernn_widen_avx2(const int8_t *x, int32_t n, int16_t *buffer)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(x + i));
        _mm256_storeu_si256((__m256i *)(void *)(buffer + i), _mm256_cvtepi8_epi16(v));
    }
    ernn_widen_x86_c(x, i, n, buffer);
}

static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
#if ERNN_X86_LEVEL >= 1
    if (__builtin_cpu_supports("avx2")) {
        ernn_widen_avx2(x, n, buffer);
        return;
    }
#endif
    ernn_widen_x86_c(x, 0, n, buffer);
}

/* Plain C over the same layout: the fallback on CPUs without AVX2. */
static inline void ernn_mac4_x86_c(const int8_t **wp, const int32_t *bias, const int16_t *x, int32_t chunks,
                                   int32_t acc[4])
{
    const int8_t *w = *wp;
    int32_t s[4] = {bias[0], bias[1], bias[2], bias[3]};
    for (int32_t c = 0; c < chunks; ++c, w += 64, x += 16) {
        for (int32_t r = 0; r < 4; ++r) {
            for (int32_t k = 0; k < 16; ++k) {
                s[r] += w[16 * r + k] * x[k];
            }
        }
    }
    *wp = w;
    memcpy(acc, s, sizeof s);
}

/* The four rows' int32 lanes summed, plus the biases, into acc. */
__attribute__((target("avx2"))) static inline void ernn_x86_reduce4(__m256i s0, __m256i s1, __m256i s2, __m256i s3,
                                                                    const int32_t *bias, int32_t acc[4])
{
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    const __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)bias);
    _mm_storeu_si128((__m128i *)(void *)acc, _mm_add_epi32(sums, b));
}

/* Row r's 16 weights of the chunk at w, sign-extended to int16. */
#define ERNN_X86_ROW(w, r) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)((w) + 16 * (r))))

#if ERNN_X86_LEVEL >= 1
__attribute__((target("avx2"))) static inline void ernn_mac4_avx2(const int8_t **wp, const int32_t *bias, const int16_t *x,
                                                          int32_t chunks, int32_t acc[4])
{
    const int8_t *w = *wp;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t c = 0; c < chunks; ++c, w += 64, x += 16) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x);
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(ERNN_X86_ROW(w, 0), xv));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(ERNN_X86_ROW(w, 1), xv));
        s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(ERNN_X86_ROW(w, 2), xv));
        s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(ERNN_X86_ROW(w, 3), xv));
    }
    *wp = w;
    ernn_x86_reduce4(s0, s1, s2, s3, bias, acc);
}
#endif

#if ERNN_X86_LEVEL >= 2
__attribute__((target("avx2,avxvnni"))) static inline void ernn_mac4_avxvnni(const int8_t **wp, const int32_t *bias,
                                                                     const int16_t *x, int32_t chunks, int32_t acc[4])
{
    const int8_t *w = *wp;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t c = 0; c < chunks; ++c, w += 64, x += 16) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x);
        s0 = _mm256_dpwssd_avx_epi32(s0, ERNN_X86_ROW(w, 0), xv);
        s1 = _mm256_dpwssd_avx_epi32(s1, ERNN_X86_ROW(w, 1), xv);
        s2 = _mm256_dpwssd_avx_epi32(s2, ERNN_X86_ROW(w, 2), xv);
        s3 = _mm256_dpwssd_avx_epi32(s3, ERNN_X86_ROW(w, 3), xv);
    }
    *wp = w;
    ernn_x86_reduce4(s0, s1, s2, s3, bias, acc);
}
#endif

#if ERNN_X86_LEVEL >= 3
/* Rows 0 and 1 in one register, rows 2 and 3 in another (the input repeated in both halves). */
__attribute__((target("avx2,avx512f,avx512bw,avx512vnni"))) static inline void ernn_mac4_avx512vnni(
    const int8_t **wp, const int32_t *bias, const int16_t *x, int32_t chunks, int32_t acc[4])
{
    const int8_t *w = *wp;
    __m512i s01 = _mm512_setzero_si512(), s23 = s01;
    for (int32_t c = 0; c < chunks; ++c, w += 64, x += 16) {
        const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)x));
        const __m512i w01 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)w));
        const __m512i w23 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(w + 32)));
        s01 = _mm512_dpwssd_epi32(s01, w01, xv);
        s23 = _mm512_dpwssd_epi32(s23, w23, xv);
    }
    *wp = w;
    ernn_x86_reduce4(_mm512_castsi512_si256(s01), _mm512_extracti64x4_epi64(s01, 1), _mm512_castsi512_si256(s23),
                     _mm512_extracti64x4_epi64(s23, 1), bias, acc);
}
#endif

/* acc[r] = bias[r] + the dot product of row r of the 4-row block at *wp with the widened input. */
static inline void ernn_mac4_port(const int8_t **wp, const int32_t *bias, const int16_t *buffer, int32_t chunks,
                                  const int16_t *const *buffer_end, int32_t acc[4])
{
    (void)buffer_end;
#if ERNN_X86_LEVEL >= 3
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        ernn_mac4_avx512vnni(wp, bias, buffer, chunks, acc);
        return;
    }
#endif
#if ERNN_X86_LEVEL >= 2
    if (__builtin_cpu_supports("avxvnni")) {
        ernn_mac4_avxvnni(wp, bias, buffer, chunks, acc);
        return;
    }
#endif
#if ERNN_X86_LEVEL >= 1
    if (__builtin_cpu_supports("avx2")) {
        ernn_mac4_avx2(wp, bias, buffer, chunks, acc);
        return;
    }
#endif
    ernn_mac4_x86_c(wp, bias, buffer, chunks, acc);
}

/* ---- gate blocks and the cells' element-wise steps ------------------------------------------- */

/*
 * A whole gate block at once (ernn_fc_s8.c calls it for bounded int16 groups whose rows share one
 * multiplier, through the hook the DSP port introduced; the struct is its, field for field): the dot
 * products of eight rows (two 4-row blocks) at a time, then, in eight int32 lanes, the short
 * requantization, int16 saturation and by mode the saturating sum with y and the gate's sigmoid or tanh,
 * the same integer operations as ernn_fc_s8.c row by row (see ernn_x86_fast_out, ernn_x86_lut).
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

/* The plain C gate block (CPUs without AVX2, and ERNN_X86_LEVEL=0): ernn_fc_s8.c's per-row epilogue. */
static inline void ernn_group16_x86_c(const int8_t **wp, const ernn_dsp_group *g, int32_t chunks)
{
    const ernn_fast_rescale r = {g->multiplier, g->left, g->right, g->round, g->right > 0 ? -1 : 0};
    const int32_t *bias = g->bias;
    for (int16_t *y = g->y; y != g->y_end; y += 4, bias += 4) {
        int32_t acc[4];
        ernn_mac4_x86_c(wp, bias, g->buffer, chunks, acc);
        for (int32_t k = 0; k < 4; ++k) {
            const int32_t v = ernn_ssat16(ernn_fast_any(acc[k], r)); /* = ernn_fast_out(acc, r, right > 0) */
            y[k] = (int16_t)(g->mode == 0 ? v : ernn_activate_q312((uint32_t)(g->mode - 1), ernn_ssat16(v + y[k])));
        }
    }
}

/* 1 if a rescale (multiplier, right = -shift) is a power of two that ernn_x86_pow2_product16 and ernn_x86_pow2_apply
 * take: multiplier 2^30, right in [1, 29] (the IR's products of a Q0.15 gate: ernn_x86_pow2_16's proof). */
static inline int ernn_x86_pow2_ok(int32_t multiplier, int32_t right)
{
    return multiplier == (int32_t)1 << 30 && right >= 1 && right <= 29;
}

#if ERNN_X86_LEVEL >= 1
#define ERNN_X86_AVX2 __attribute__((target("avx2")))

/* An ernn_fast_rescale for eight lanes: the rounding term and SMMULR's 2^31 as one 64-bit offset (see
 * ernn_x86_fast_out). */
typedef struct {
    __m256i multiplier;
    __m256i offset; /* round * 2^32 + 2^31 in each 64-bit lane */
    __m256i sign_shift; /* 31 where right > 0 (a >> 31, logical: 1 for a < 0, the sign term), 32 where not (0) */
    __m256i left;       /* shift counts per lane: VPSLLVD / VPSRAVD are one uop, a count in an xmm two on Intel */
    __m256i right;
} ernn_x86_rescale;

ERNN_X86_AVX2 static inline ernn_x86_rescale ernn_x86_rescale_of(int32_t multiplier, int32_t left, int32_t right)
{
    ernn_x86_rescale r;
    r.multiplier = _mm256_set1_epi32(multiplier);
    r.offset = _mm256_set1_epi64x(((int64_t)(right > 0 ? (int32_t)1 << (right - 1) : 0) << 32) + ((int64_t)1 << 31));
    r.sign_shift = _mm256_set1_epi32(right > 0 ? 31 : 32);
    r.left = _mm256_set1_epi32(left);
    r.right = _mm256_set1_epi32(right);
    return r;
}

/* ernn_fast_any (= ernn_fast_out with the rounding shift on exactly when right > 0) in eight lanes: SMMULR of
 * a = x << left (VPMULDQ on the even lanes, then on the odd ones moved down, each 64-bit sum's high half kept),
 * then the rounding shift with the sign term where right > 0. As ernn_x86_fast16, two operations fewer than
 * that literal form, the same integers: the shift's round joins SMMULR's 2^31 in the 64-bit add
 * ((a M + 2^31 + round 2^32) >> 32 = t + round exactly: |a M| < 2^62, round <= 2^30), and the sign term takes
 * a's sign rather than t's (M >= 0: t has a's sign whenever t != 0; when t == 0 and a < 0 the sum is
 * round - 1, and (round - 1) >> right == round >> right == 0 for right > 0). The sign term is subtracted as
 * a >> 31 (logical: 1 for a < 0), by a count of 32 (0) where right == 0: one operation, no mask. */
ERNN_X86_AVX2 static inline __m256i ernn_x86_fast_out(__m256i x, const ernn_x86_rescale *r)
{
    const __m256i a = _mm256_sllv_epi32(x, r->left);
    const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, r->multiplier), r->offset);
    const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), r->multiplier), r->offset);
    const __m256i t = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA); /* t + round */
    return _mm256_srav_epi32(_mm256_sub_epi32(t, _mm256_srlv_epi32(a, r->sign_shift)), r->right);
}

/* ernn_fast_any of a power-of-two rescale (ernn_x86_pow2_ok) in eight lanes, for |x| < 2^30 (a gate in [0, 32767]
 * times an int16 value): (x + 1 + 2^r - 2 [x < 0]) >> (r + 1), the form ernn_x86_pow2_16 proves, its offset
 * picked by x's sign (VBLENDVPS reads each lane's sign bit): three operations rather than ernn_x86_fast_out's
 * eleven. */
typedef struct {
    __m256i offset;          /* 1 + 2^r */
    __m256i offset_negative; /* 1 + 2^r - 2 */
    __m256i shift;           /* r + 1 */
} ernn_x86_pow2;

ERNN_X86_AVX2 static inline ernn_x86_pow2 ernn_x86_pow2_of(int32_t right)
{
    ernn_x86_pow2 r;
    r.offset = _mm256_set1_epi32(1 + ((int32_t)1 << right));
    r.offset_negative = _mm256_set1_epi32(((int32_t)1 << right) - 1);
    r.shift = _mm256_set1_epi32(right + 1);
    return r;
}

ERNN_X86_AVX2 static inline __m256i ernn_x86_pow2_apply(__m256i x, const ernn_x86_pow2 *r)
{
    const __m256 offset = _mm256_blendv_ps(_mm256_castsi256_ps(r->offset), _mm256_castsi256_ps(r->offset_negative),
                                           _mm256_castsi256_ps(x));
    return _mm256_srav_epi32(_mm256_add_epi32(x, _mm256_castps_si256(offset)), r->shift);
}

#define ERNN_X86_LOAD16(p) _mm_loadu_si128((const __m128i *)(const void *)(p))

/* ernn_ssat16 of eight int32 lanes, as eight int16 (VPACKSSDW). */
ERNN_X86_AVX2 static inline __m128i ernn_x86_sat16(__m256i v)
{
    return _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* a * b of eight int16 pairs as int32, exactly: VPMADDWD of a zero-extended (its high half 0, its low half
 * read back as the int16 a) with b sign-extended gives a * b + 0 * (b's sign half). */
ERNN_X86_AVX2 static inline __m256i ernn_x86_mul16(__m128i a, __m128i b)
{
    return _mm256_madd_epi16(_mm256_cvtepu16_epi32(a), _mm256_cvtepi16_epi32(b));
}

/* ernn_lut_mla(table[index], frac, bits, c) in eight lanes: a gather, then VPMADDWD of the pair entry
 * with (2^bits << 16 | frac) = hi * 2^bits + lo * frac with both halves read as int16 (the DSP port's
 * SMLAD); both halves are in [0, 32767] (ernn_activation_s16.c), so it equals the portable form. */
#define ERNN_X86_LUT(index, frac, bits, c)                                                                   \
    _mm256_add_epi32(_mm256_madd_epi16(_mm256_i32gather_epi32((const int *)(const void *)ernn_lut_pairs,    \
                                                              (index), 4),                                  \
                                       _mm256_or_si256((frac), _mm256_set1_epi32((int32_t)1 << (16 + (bits))))), \
                     _mm256_set1_epi32(c))

/* ernn_sigmoid_q312 of eight values. */
ERNN_X86_AVX2 static inline __m128i ernn_x86_sigmoid_q312(__m128i v)
{
    const __m256i x = _mm256_cvtepi16_epi32(v);
    const __m256i ax = _mm256_abs_epi32(x);
    const __m256i a = _mm256_add_epi32(ax, _mm256_add_epi32(ax, ax));
    const __m256i r = ERNN_X86_LUT(_mm256_srli_epi32(a, 9), _mm256_and_si256(a, _mm256_set1_epi32(511)), 9,
                                   (1 << 24) + (1 << 9));
    const __m256i pos = _mm256_srai_epi32(r, 10);
    const __m256i neg = _mm256_sub_epi32(_mm256_set1_epi32(32768), pos);
    return ernn_x86_sat16(_mm256_blendv_epi8(pos, neg, _mm256_srai_epi32(x, 31)));
}

/* ernn_tanh_lut of eight int32 values (any v: the index clamped to 255 as ernn_lut_index8; INT32_MIN taken
 * as INT32_MIN + 1, whose |v| is an int32: both saturate to entry -256). */
ERNN_X86_AVX2 static inline __m256i ernn_x86_tanh_lut(__m256i v)
{
    const __m256i a = _mm256_abs_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(-INT32_MAX)));
    const __m256i index = _mm256_min_epi32(_mm256_srai_epi32(a, 8), _mm256_set1_epi32(255));
    const __m256i pos = _mm256_srai_epi32(ERNN_X86_LUT(index, _mm256_and_si256(a, _mm256_set1_epi32(255)), 8, 1 << 7), 8);
    return _mm256_blendv_epi8(pos, _mm256_sub_epi32(_mm256_setzero_si256(), pos), _mm256_srai_epi32(v, 31));
}

/* ernn_tanh_q312 of eight values: tanh_lut(3x). */
ERNN_X86_AVX2 static inline __m128i ernn_x86_tanh_q312(__m128i v)
{
    const __m256i x = _mm256_cvtepi16_epi32(v);
    return ernn_x86_sat16(ernn_x86_tanh_lut(_mm256_add_epi32(x, _mm256_add_epi32(x, x))));
}

/* One gate block's rows (8, or the last 4) from their accumulators (bias included), as store_fast. */
ERNN_X86_AVX2 static inline void ernn_x86_epilogue(__m256i acc, const ernn_x86_rescale *r, int32_t mode, int16_t *y,
                                                   int32_t rows)
{
    __m128i v = ernn_x86_sat16(ernn_x86_fast_out(acc, r));
    if (mode != 0) {
        const __m128i *yv = (const __m128i *)(const void *)y;
        v = _mm_adds_epi16(v, rows == 8 ? _mm_loadu_si128(yv) : _mm_loadl_epi64(yv));
        if (mode == 2) {
            v = ernn_x86_sigmoid_q312(v);
        } else if (mode == 3) {
            v = ernn_x86_tanh_q312(v);
        }
    }
    if (rows == 8) {
        _mm_storeu_si128((__m128i *)(void *)y, v);
    } else {
        _mm_storel_epi64((__m128i *)(void *)y, v);
    }
}

/* The eight rows' sums of s0..s7 (eight int32 lanes each), row r in lane r. */
ERNN_X86_AVX2 static inline __m256i ernn_x86_reduce8(__m256i s0, __m256i s1, __m256i s2, __m256i s3, __m256i s4,
                                                     __m256i s5, __m256i s6, __m256i s7)
{
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(s4, s5), _mm256_hadd_epi32(s6, s7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* The dot products of the two 4-row blocks at *wp (rows 0..7, no bias); *wp advances past both. MAC(s, w, x)
 * is the level's multiply-accumulate of 16 int16 weights and inputs into s's eight int32 lanes. */
#define ERNN_X86_DOT8(MAC)                                                                                     \
    const int8_t *a = *wp, *b = a + 64 * chunks;                                                             \
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;       \
    for (int32_t c = 0; c < chunks; ++c, a += 64, b += 64, x += 16) {                                         \
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)x);                             \
        s0 = MAC(s0, ERNN_X86_ROW(a, 0), xv);                                                                 \
        s1 = MAC(s1, ERNN_X86_ROW(a, 1), xv);                                                                 \
        s2 = MAC(s2, ERNN_X86_ROW(a, 2), xv);                                                                 \
        s3 = MAC(s3, ERNN_X86_ROW(a, 3), xv);                                                                 \
        s4 = MAC(s4, ERNN_X86_ROW(b, 0), xv);                                                                 \
        s5 = MAC(s5, ERNN_X86_ROW(b, 1), xv);                                                                 \
        s6 = MAC(s6, ERNN_X86_ROW(b, 2), xv);                                                                 \
        s7 = MAC(s7, ERNN_X86_ROW(b, 3), xv);                                                                 \
    }                                                                                                         \
    *wp = b;                                                                                                  \
    return ernn_x86_reduce8(s0, s1, s2, s3, s4, s5, s6, s7)

#define ERNN_X86_MAC_AVX2(s, w, x) _mm256_add_epi32((s), _mm256_madd_epi16((w), (x)))
ERNN_X86_AVX2 static inline __m256i ernn_dot8_avx2(const int8_t **wp, const int16_t *x, int32_t chunks)
{
    ERNN_X86_DOT8(ERNN_X86_MAC_AVX2);
}

/* A gate block: eight rows at a time, then the last four (group rows are a multiple of 4). */
#define ERNN_X86_GROUP16_BODY(dot8, mac4)                                                                        \
    const ernn_x86_rescale r = ernn_x86_rescale_of(g->multiplier, g->left, g->right);                       \
    const int32_t *bias = g->bias;                                                                          \
    int16_t *y = g->y;                                                                                      \
    for (; g->y_end - y >= 8; y += 8, bias += 8) {                                                          \
        const __m256i acc = _mm256_add_epi32(dot8(wp, g->buffer, chunks),                                   \
                                             _mm256_loadu_si256((const __m256i *)(const void *)bias));      \
        ernn_x86_epilogue(acc, &r, g->mode, y, 8);                                                          \
    }                                                                                                       \
    if (y != g->y_end) {                                                                                    \
        int32_t acc[4];                                                                                     \
        mac4(wp, bias, g->buffer, chunks, acc);                                                             \
        const __m128i acc4 = _mm_loadu_si128((const __m128i *)(const void *)acc);                           \
        ernn_x86_epilogue(_mm256_inserti128_si256(_mm256_setzero_si256(), acc4, 0), &r, g->mode, y, 4);     \
    }

ERNN_X86_AVX2 static inline void ernn_group16_avx2(const int8_t **wp, const ernn_dsp_group *g, int32_t chunks)
{
    ERNN_X86_GROUP16_BODY(ernn_dot8_avx2, ernn_mac4_avx2)
}
#endif

#if ERNN_X86_LEVEL >= 2
#define ERNN_X86_MAC_AVXVNNI(s, w, x) _mm256_dpwssd_avx_epi32((s), (w), (x))
__attribute__((target("avx2,avxvnni"))) static inline __m256i ernn_dot8_avxvnni(const int8_t **wp, const int16_t *x,
                                                                              int32_t chunks)
{
    ERNN_X86_DOT8(ERNN_X86_MAC_AVXVNNI);
}

__attribute__((target("avx2,avxvnni"))) static inline void ernn_group16_avxvnni(const int8_t **wp,
                                                                              const ernn_dsp_group *g, int32_t chunks)
{
    ERNN_X86_GROUP16_BODY(ernn_dot8_avxvnni, ernn_mac4_avxvnni)
}
#endif

#if ERNN_X86_LEVEL >= 3
/* As ernn_mac4_avx512vnni, two blocks: rows 0, 1 | 2, 3 | 4, 5 | 6, 7 in the four registers' halves. */
__attribute__((target("avx2,avx512f,avx512bw,avx512vnni"))) static inline __m256i ernn_dot8_avx512vnni(
    const int8_t **wp, const int16_t *x, int32_t chunks)
{
    const int8_t *a = *wp, *b = a + 64 * chunks;
    __m512i s01 = _mm512_setzero_si512(), s23 = s01, s45 = s01, s67 = s01;
    for (int32_t c = 0; c < chunks; ++c, a += 64, b += 64, x += 16) {
        const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)x));
        s01 = _mm512_dpwssd_epi32(s01, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)a)), xv);
        s23 = _mm512_dpwssd_epi32(s23, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(a + 32))),
                                  xv);
        s45 = _mm512_dpwssd_epi32(s45, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)b)), xv);
        s67 = _mm512_dpwssd_epi32(s67, _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(b + 32))),
                                  xv);
    }
    *wp = b;
    return ernn_x86_reduce8(_mm512_castsi512_si256(s01), _mm512_extracti64x4_epi64(s01, 1),
                            _mm512_castsi512_si256(s23), _mm512_extracti64x4_epi64(s23, 1),
                            _mm512_castsi512_si256(s45), _mm512_extracti64x4_epi64(s45, 1),
                            _mm512_castsi512_si256(s67), _mm512_extracti64x4_epi64(s67, 1));
}

__attribute__((target("avx2,avx512f,avx512bw,avx512vnni"))) static inline void ernn_group16_avx512vnni(
    const int8_t **wp, const ernn_dsp_group *g, int32_t chunks)
{
    ERNN_X86_GROUP16_BODY(ernn_dot8_avx512vnni, ernn_mac4_avx512vnni)
}
#endif

/* The block paths' limits (ernn_lstm_run_s8_ok, ernn_gru_run_s8_ok). */
#define ERNN_X86_RUN_MAX_ROWS 1024 /* 4 gates x 256 rows: the block path's limit (hidden <= 256) */
#define ERNN_X86_RUN_MAX_STEPS 32  /* steps per block */
#define ERNN_X86_RUN_MAX_HIDDEN 256 /* units (the AVX-512 GRU's hu holds 16 * ceil(n / 16) bytes) */
#define ERNN_X86_RUN_BYTES 16384   /* per block: the x parts (int16) and the padded inputs */
#define ERNN_X86_RUN_LANES 32768   /* both layers' weights with rows in lanes (see ernn_x86_rows_in_lanes) */
/* Up to four columns: the weights in lanes at most ERNN_X86_LANE_SMALL_BYTES (64 units with up to 192 inputs, 32
 * with up to 480); from two columns on the x parts go by block, as for more columns. */
#define ERNN_X86_LANE_SMALL_BYTES 65536

#if ERNN_X86_LEVEL >= 3
/*
 * A cell's two gate layers in one pass (AVX-512 VNNI), for ernn_cell_fcs: per gate block, sixteen rows at
 * a time, both layers' dot products, requantization, the int16 sums and the gate's sigmoid or tanh stay
 * in sixteen int32 lanes; nothing goes through y between the layers.
 *
 * Dot products by VPDPBUSD (unsigned bytes times signed bytes, four products summed into each int32 lane,
 * not saturating: the sum wraps modulo 2^32). The packed layout is the K = 16 one above: per 4-row block
 * and chunk of sixteen inputs, 64 bytes (row r's sixteen weights at 16r), one zmm, multiplied by the
 * chunk's sixteen inputs repeated in the four 128-bit lanes. The weights are the unsigned operand:
 * w ^ 0x80 is w + 128 in [0, 255], so a lane gathers sum (w + 128) x = sum w x + 128 sum x, and the layer's
 * 128 * sum x (one value per call, |sum x| <= 2^23) is subtracted with the bias. All of it wraps modulo
 * 2^32 and the true value bias + sum w x is an int32 (bounded layers: |bias + dot| < 2^30, the exporter's
 * proof): the lanes hold it exactly. Four blocks' lanes (4 rows x 4 partial sums each) are summed to
 * sixteen rows by two unpack-and-add levels and one permutation.
 *
 * Requantization: ernn_fast_any in sixteen lanes (as ernn_x86_fast_out); then, as ernn_fc_s8.c: rows of
 * an added gate (o < added_rows) are act(sat16(sat16(x part) + sat16(h part))) with the sigmoid / tanh of
 * ernn_lut_s16.h (signed index, one table pair, VPMADDWD for the multiply-add, see ERNN_X86_LUT); rows of
 * a stored gate (the GRU's n) keep sat16(x part) at y[o] and sat16(h part) at tail[o - added_rows].
 */
#define ERNN_X86_512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni")))
#define ERNN_X86_512_INLINE __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni"), always_inline))

/* The inputs as bytes, zero padded to whole chunks of 16 (x is not read past n), at pad; returns sum x. */
ERNN_X86_512 static inline int32_t ernn_x86_pad16(const int8_t *x, int32_t n, int8_t *pad)
{
    const __m128i ones = _mm_set1_epi8(1);
    __m128i sum = _mm_setzero_si128();
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u);
        const __m128i v = _mm_maskz_loadu_epi8(m, x + i);
        _mm_storeu_si128((__m128i *)(void *)(pad + i), v);
        sum = _mm_dpbusd_epi32(sum, ones, v); /* 1 * x, four per lane: exact (|sum| <= 2^23) */
    }
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xB1));
    return _mm_cvtsi128_si32(sum);
}

/* Rows 4b..4b+3 of blocks b < blocks (1..4) from w (block 0) over `chunks` chunks of pad: the sixteen rows'
 * sums of (w + 128) x, row r in lane r (lanes of absent blocks hold garbage the caller does not store). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_dot16_body(const int8_t *w, const int8_t *pad, int32_t chunks,
                                                             int32_t blocks)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int64_t stride = 64 * (int64_t)chunks;
    const __mmask64 m1 = blocks > 1 ? ~(__mmask64)0 : 0, m2 = blocks > 2 ? ~(__mmask64)0 : 0;
    const __mmask64 m3 = blocks > 3 ? ~(__mmask64)0 : 0;
    const int8_t *w1 = blocks > 1 ? w + stride : w, *w2 = blocks > 2 ? w + 2 * stride : w;
    const int8_t *w3 = blocks > 3 ? w + 3 * stride : w;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t c = 0; c < chunks; ++c) {
        const __m512i xv = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(pad + 16 * c)));
        a0 = _mm512_dpbusd_epi32(a0, _mm512_xor_si512(_mm512_loadu_si512((const void *)(w + 64 * c)), flip), xv);
        a1 = _mm512_dpbusd_epi32(a1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m1, w1 + 64 * c), flip), xv);
        a2 = _mm512_dpbusd_epi32(a2, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m2, w2 + 64 * c), flip), xv);
        a3 = _mm512_dpbusd_epi32(a3, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m3, w3 + 64 * c), flip), xv);
    }
    /* lane 4L + q of a_b: row L of block b, partial q; two levels make lane 4L + b = row 4b + L */
    const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, s);
}

/* ernn_x86_dot16, with one, two or four chunks (16, 32, 64 inputs) as constants: gcc then unrolls the chunk
 * loop; as a loop it copied the four accumulators through other registers on every chunk (eight moves per
 * chunk; measured 3% of the GRU 32/32 step and of the GRU 64/64 step). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_dot16(const int8_t *w, const int8_t *pad, int32_t chunks, int32_t blocks)
{
    if (chunks == 2) {
        return ernn_x86_dot16_body(w, pad, 2, blocks);
    }
    if (chunks == 4) {
        return ernn_x86_dot16_body(w, pad, 4, blocks);
    }
    if (chunks == 1) {
        return ernn_x86_dot16_body(w, pad, 1, blocks);
    }
    return ernn_x86_dot16_body(w, pad, chunks, blocks);
}

/* An ernn_fast_rescale for sixteen lanes. */
typedef struct {
    __m512i multiplier;
    __m512i offset; /* 2^31 + round * 2^32 in each 64-bit lane: SMMULR's rounding and the shift's, one add */
    __m512i sign_shift; /* 31 where right > 0, 32 where not: the sign term, as ernn_x86_rescale's */
    __m512i left;       /* shift counts per lane (one uop each, as ernn_x86_rescale's) */
    __m512i right;
} ernn_x86_rescale16;

ERNN_X86_512 static inline ernn_x86_rescale16 ernn_x86_rescale16_of(int32_t multiplier, int32_t shift)
{
    const ernn_fast_rescale f = ernn_fast_of(multiplier, shift);
    ernn_x86_rescale16 r;
    r.multiplier = _mm512_set1_epi32(f.multiplier);
    r.offset = _mm512_set1_epi64(((int64_t)f.round << 32) + ((int64_t)1 << 31));
    r.sign_shift = _mm512_set1_epi32(f.mask != 0 ? 31 : 32);
    r.left = _mm512_set1_epi32(f.left);
    r.right = _mm512_set1_epi32(f.right);
    return r;
}

/* ernn_fast_any(x, r) in sixteen lanes: SMMULR as in ernn_x86_fast_out (VPMULDQ on the even lanes and on the
 * odd ones moved down, each 64-bit sum's high half kept: a swap of the even sums' halves, masked into the
 * odd sums), then the rounding shift with the sign term where right > 0 (a masked add).
 * One operation fewer than that literal form, and the same integers:
 *  - the shift's round joins SMMULR's 2^31 in the 64-bit add: (a M + 2^31 + round 2^32) >> 32 is
 *    t + round exactly (|a M| < 2^62, round <= 2^30: no 64-bit overflow);
 *  - the sign term takes a's sign rather than t's (as the DSP port's SMMLAR form, ernn_fast_out): M >= 0
 *    (a Q31 multiplier), so t has a's sign whenever t != 0; when t == 0 and a < 0 the sum is round - 1 and
 *    (round - 1) >> right == round >> right == 0 (right > 0, round = 2^(right - 1)); and a's sign is
 *    known before the multiplies, so the sign term no longer waits for them. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_smmulr16(__m512i a, __m512i m_even, __m512i m_odd, __m512i offset_even,
                                                             __m512i offset_odd)
{
    /* the even lanes' multiplier and offset in the even positions, the odd lanes' too (moved down) */
    const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(a, m_even), offset_even);
    const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_shuffle_epi32(a, _MM_PERM_CDAB), m_odd), offset_odd);
    return _mm512_mask_shuffle_epi32(odd, (__mmask16)0x5555, even, _MM_PERM_CDAB); /* t + round */
}

ERNN_X86_512_INLINE static inline __m512i ernn_x86_fast16(__m512i x, const ernn_x86_rescale16 *r)
{
    const __m512i a = _mm512_sllv_epi32(x, r->left);
    const __m512i t = ernn_x86_smmulr16(a, r->multiplier, r->multiplier, r->offset, r->offset);
    return _mm512_srav_epi32(_mm512_sub_epi32(t, _mm512_srlv_epi32(a, r->sign_shift)), r->right);
}

/* ernn_lut_pairs[i] for sixteen indices i in [0, 32 * pairs) (pairs 7 or 8), from the table's first entries
 * held as zmm: VPERMT2D picks by i's low five bits within each pair of registers, masked blends by bits 5, 6
 * and 7. The same values as a gather, with no memory access per lane (a zmm gather cost as much). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_lut_entries16(__m512i i, int32_t pairs)
{
    const __m512i *t = (const __m512i *)(const void *)ernn_lut_pairs;
    __m512i p[8];
    for (int32_t k = 0; k < pairs; ++k) {
        p[k] = _mm512_permutex2var_epi32(_mm512_loadu_si512((const void *)(t + 2 * k)), i,
                                         _mm512_loadu_si512((const void *)(t + 2 * k + 1)));
    }
    const __mmask16 b5 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(32));
    const __mmask16 b6 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(64));
    const __mmask16 b7 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(128));
    const __m512i q0 = _mm512_mask_blend_epi32(b6, _mm512_mask_blend_epi32(b5, p[0], p[1]),
                                               _mm512_mask_blend_epi32(b5, p[2], p[3]));
    const __m512i p67 = pairs > 7 ? _mm512_mask_blend_epi32(b5, p[6], p[7]) : p[6];
    const __m512i q1 = _mm512_mask_blend_epi32(b6, _mm512_mask_blend_epi32(b5, p[4], p[5]), p67);
    return _mm512_mask_blend_epi32(b7, q0, q1);
}

/* An activation of sixteen lanes around its table lookup: the entry's index in [0, 255], the multiply-add's
 * second operand (2^bits << 16 | fraction, as ernn_lut_mla) and the lanes whose input is negative. */
typedef struct {
    __m512i index, operand;
    __mmask16 negative;
} ernn_x86_lut_args;

/* 3 x: a Q3.12 gate pre-activation as the tables' input v (ernn_sigmoid_q312, ernn_tanh_q312). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_times3(__m512i x)
{
    return _mm512_add_epi32(x, _mm512_add_epi32(x, x));
}

/* ernn_tanh_lut of sixteen int32 values (any v), as ernn_x86_tanh_lut: |v|'s index clamped to 255, the sign
 * applied after (ernn_x86_tanh_finish). INT32_MIN, whose |v| is no int32, is taken as INT32_MIN + 1: both are
 * saturated (every v <= -256 * 2^8 gives entry -256), the same value. */
ERNN_X86_512_INLINE static inline ernn_x86_lut_args ernn_x86_tanh_args(__m512i v)
{
    const __m512i a = _mm512_abs_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-INT32_MAX)));
    ernn_x86_lut_args r;
    r.index = _mm512_min_epi32(_mm512_srai_epi32(a, 8), _mm512_set1_epi32(255));
    r.operand = _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(255)), _mm512_set1_epi32(1 << 24));
    r.negative = _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512());
    return r;
}

ERNN_X86_512_INLINE static inline __m512i ernn_x86_tanh_finish(__m512i entry, const ernn_x86_lut_args *r)
{
    const __m512i pos =
        _mm512_srai_epi32(_mm512_add_epi32(_mm512_madd_epi16(entry, r->operand), _mm512_set1_epi32(1 << 7)), 8);
    return _mm512_mask_sub_epi32(pos, r->negative, _mm512_setzero_si512(), pos);
}

/* ernn_sigmoid_q312 of sixteen Q3.12 values x, as ernn_x86_sigmoid_q312: |v| = |3 x| <= 98304, so the index
 * |v| >> 9 <= 192 (the table's first 224 entries) and no saturation. */
ERNN_X86_512_INLINE static inline ernn_x86_lut_args ernn_x86_sigmoid_args(__m512i x)
{
    const __m512i v = ernn_x86_times3(x);
    const __m512i a = _mm512_abs_epi32(v);
    ernn_x86_lut_args r;
    r.index = _mm512_srli_epi32(a, 9);
    r.operand = _mm512_or_si512(_mm512_and_si512(a, _mm512_set1_epi32(511)), _mm512_set1_epi32(1 << 25));
    r.negative = _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512());
    return r;
}

ERNN_X86_512_INLINE static inline __m512i ernn_x86_sigmoid_finish(__m512i entry, const ernn_x86_lut_args *r)
{
    const __m512i pos = _mm512_srai_epi32(
        _mm512_add_epi32(_mm512_madd_epi16(entry, r->operand), _mm512_set1_epi32((1 << 24) + (1 << 9))), 10);
    return _mm512_mask_sub_epi32(pos, r->negative, _mm512_set1_epi32(32768), pos);
}

ERNN_X86_512_INLINE static inline __m512i ernn_x86_tanh_lut16(__m512i v)
{
    const ernn_x86_lut_args r = ernn_x86_tanh_args(v);
    return ernn_x86_tanh_finish(ernn_x86_lut_entries16(r.index, 8), &r);
}

/* ernn_activate_q312(code, x) of sixteen int16 values in int32 lanes, as ernn_x86_sigmoid_q312 and
 * ernn_x86_tanh_q312 (the |v| forms of ernn_lut_s16.h, proven equal to the C by test_gate_ports). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_activate16(uint32_t code, __m512i x)
{
    if (code == ERNN_ACT_NONE) {
        return x;
    }
    if (code == ERNN_ACT_TANH) {
        return ernn_x86_tanh_lut16(ernn_x86_times3(x));
    }
    const ernn_x86_lut_args r = ernn_x86_sigmoid_args(x);
    return ernn_x86_sigmoid_finish(ernn_x86_lut_entries16(r.index, 7), &r);
}

/*
 * Sixty-four lookups at once with AVX-512 VBMI (the LSTM's lane kernel): ernn_lut_pairs' first 256 entries as
 * four byte planes (plane k: byte k of every entry, four zmm each). The indices of four vectors are packed
 * to 64 bytes; each plane gives 64 bytes by two VPERMT2B (entries 0-127 and 128-255, by the index's low seven
 * bits) and a blend on bit 7; two unpack levels put the planes' bytes back together as dwords, and they undo
 * the packing's order: VPACKSSDW and VPACKUSWB lay out each 128-bit lane as the four vectors' four dwords in
 * turn, the low unpacks take the first two vectors' and the high ones the last two's, in lane order. Per
 * vector 6 operations rather than ernn_x86_lut_entries16's 16-18, the same entries.
 */
#define ERNN_X86_512V __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
#define ERNN_X86_512V_INLINE                                                                                         \
    __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi"), always_inline))

typedef struct {
    uint8_t plane[4][256] __attribute__((aligned(64)));
} ernn_x86_lut_planes;

ERNN_X86_512 static inline void ernn_x86_lut_planes_of(ernn_x86_lut_planes *p)
{
    for (int32_t q = 0; q < 16; ++q) {
        const __m512i e = _mm512_loadu_si512((const void *)(ernn_lut_pairs + 16 * q));
        for (unsigned k = 0; k < 4; ++k) {
            _mm_store_si128((__m128i *)(void *)(p->plane[k] + 16 * q), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e, 8 * k)));
        }
    }
}

/* ernn_lut_pairs[index] for the 64 byte indices b: e[0] the entries of each 128-bit lane's bytes 0-3 as
 * dwords, e[1] of bytes 4-7, e[2] of 8-11, e[3] of 12-15 (the unpacks' order). */
ERNN_X86_512V_INLINE static inline void ernn_x86_lut_bytes64(const ernn_x86_lut_planes *p, __m512i b, __m512i e[4])
{
    const __mmask64 high = _mm512_movepi8_mask(b);
    __m512i v[4];
    for (int32_t k = 0; k < 4; ++k) {
        const __m512i *t = (const __m512i *)(const void *)p->plane[k];
        v[k] = _mm512_mask_blend_epi8(high, _mm512_permutex2var_epi8(_mm512_load_si512(t), b, _mm512_load_si512(t + 1)),
                                      _mm512_permutex2var_epi8(_mm512_load_si512(t + 2), b, _mm512_load_si512(t + 3)));
    }
    const __m512i lo01 = _mm512_unpacklo_epi8(v[0], v[1]), hi01 = _mm512_unpackhi_epi8(v[0], v[1]); /* low halves */
    const __m512i lo23 = _mm512_unpacklo_epi8(v[2], v[3]), hi23 = _mm512_unpackhi_epi8(v[2], v[3]); /* high */
    e[0] = _mm512_unpacklo_epi16(lo01, lo23);
    e[1] = _mm512_unpackhi_epi16(lo01, lo23);
    e[2] = _mm512_unpacklo_epi16(hi01, hi23);
    e[3] = _mm512_unpackhi_epi16(hi01, hi23);
}

/* e[v] = ernn_lut_pairs[i[v]] lane by lane, for four vectors of indices in [0, 255]: VPACKSSDW and VPACKUSWB lay
 * out each 128-bit lane as the four vectors' four dwords in turn, the order ernn_x86_lut_bytes64 undoes. */
ERNN_X86_512V_INLINE static inline void ernn_x86_lut_entries64(const ernn_x86_lut_planes *p, const __m512i i[4],
                                                               __m512i e[4])
{
    ernn_x86_lut_bytes64(p, _mm512_packus_epi16(_mm512_packs_epi32(i[0], i[1]), _mm512_packs_epi32(i[2], i[3])), e);
}

/*
 * The LSTM's four gate activations of sixteen units (i, f, g, o: sigmoid, sigmoid, tanh, sigmoid), as
 * ernn_x86_activate16 gives them, in one 64-lane lookup, from the gates' pre-activations as int16 values, two
 * gates to a zmm: if_ = VPACKSSDW of gates i and f (each 128-bit lane: i's four units, then f's), go = of g and
 * o; the activated gates out to g[0..3] in int32 lanes, unit order. With tanh_g 0 (a constant at each call
 * site) the third is a sigmoid too: the GRU's r and z of two columns, (r, z) and (r', z'). The arguments take
 * 32 lanes an operation:
 *  - |x| by VPABSW (|-32768| is 0x8000, read unsigned);
 *  - the index |3 x| >> 9 (sigmoid) or >> 8 (tanh) is VPMULHUW of |x| by 3 * 2^7 or 3 * 2^8, floor(|x| 3 2^k /
 *    2^16) exactly; tanh's clamped to 255 (VPMINUW; the sigmoid's are at most 192);
 *  - the fraction |3 x| & 511 (255) from VPMULLW's |3 x| mod 2^16, whose low bits are |3 x|'s.
 * One VPACKUSWB packs the 64 indices (each lane's bytes: i, f, g, o), ernn_x86_lut_bytes64 looks them up and
 * gives each gate's entries in unit order; the operands
 * (fraction | 2^bits << 16) are one unpack of the fractions with 2^bits each. The multiply-add and its constant
 * are one VPDPWSSD (no saturation: |operands| <= 512), the sign as the finish functions' (x < 0: the high
 * word of the unpacked (x, x) dword). Per column 19 operations fewer than taking the four gates in int32 lanes
 * (ernn_x86_sigmoid_args, ernn_x86_tanh_args), the same integers (test_gate_ports: every int16 input).
 */
ERNN_X86_512V_INLINE static inline void ernn_x86_lstm_gates_packed(const ernn_x86_lut_planes *p, __m512i if_, __m512i go,
                                                                   const int tanh_g, __m512i g[4])
{
    /* per word of each 128-bit lane: i and f, sigmoid's; g (words 0-3) tanh's (or sigmoid's), o (4-7) sigmoid's */
    const __m512i k_if = _mm512_set1_epi16(3 << 7), m_if = _mm512_set1_epi16(511), bits_if = _mm512_set1_epi16(512);
    const __m512i k_go = tanh_g ? _mm512_broadcast_i32x4(_mm_set_epi16(384, 384, 384, 384, 768, 768, 768, 768)) : k_if;
    const __m512i m_go = tanh_g ? _mm512_broadcast_i32x4(_mm_set_epi16(511, 511, 511, 511, 255, 255, 255, 255)) : m_if;
    const __m512i bits_go =
        tanh_g ? _mm512_broadcast_i32x4(_mm_set_epi16(512, 512, 512, 512, 256, 256, 256, 256)) : bits_if;
    const __m512i a_if = _mm512_abs_epi16(if_), a_go = _mm512_abs_epi16(go);
    const __m512i i_if = _mm512_mulhi_epu16(a_if, k_if);
    const __m512i i_go = tanh_g ? _mm512_min_epu16(_mm512_mulhi_epu16(a_go, k_go), _mm512_set1_epi16(255))
                                : _mm512_mulhi_epu16(a_go, k_go); /* the sigmoid's indices are at most 192 */
    const __m512i three = _mm512_set1_epi16(3);
    const __m512i f_if = _mm512_and_si512(_mm512_mullo_epi16(a_if, three), m_if);
    const __m512i f_go = _mm512_and_si512(_mm512_mullo_epi16(a_go, three), m_go);
    __m512i entry[4];
    ernn_x86_lut_bytes64(p, _mm512_packus_epi16(i_if, i_go), entry); /* each lane's bytes: i, f, g, o */
    const __m512i operand[4] = {_mm512_unpacklo_epi16(f_if, bits_if), _mm512_unpackhi_epi16(f_if, bits_if),
                                _mm512_unpacklo_epi16(f_go, bits_go), _mm512_unpackhi_epi16(f_go, bits_go)};
    const __m512i zero = _mm512_setzero_si512();
    const __mmask16 negative[4] = {_mm512_cmplt_epi32_mask(_mm512_unpacklo_epi16(if_, if_), zero),
                                   _mm512_cmplt_epi32_mask(_mm512_unpackhi_epi16(if_, if_), zero),
                                   _mm512_cmplt_epi32_mask(_mm512_unpacklo_epi16(go, go), zero),
                                   _mm512_cmplt_epi32_mask(_mm512_unpackhi_epi16(go, go), zero)};
    for (int32_t k = 0; k < 4; ++k) {
        if (k == 2 && tanh_g) { /* tanh, as ernn_x86_tanh_finish */
            const __m512i pos = _mm512_srai_epi32(_mm512_dpwssd_epi32(_mm512_set1_epi32(1 << 7), entry[k], operand[k]), 8);
            g[k] = _mm512_mask_sub_epi32(pos, negative[k], zero, pos);
        } else { /* sigmoid, as ernn_x86_sigmoid_finish */
            const __m512i pos = _mm512_srai_epi32(
                _mm512_dpwssd_epi32(_mm512_set1_epi32((1 << 24) + (1 << 9)), entry[k], operand[k]), 10);
            g[k] = _mm512_mask_sub_epi32(pos, negative[k], _mm512_set1_epi32(32768), pos);
        }
    }
}

/* The sixteen lanes' low halves (the C's (int16_t) casts) to y[0..rows). */
ERNN_X86_512_INLINE static inline void ernn_x86_store16(int16_t *y, __m512i v, int32_t rows)
{
    _mm256_mask_storeu_epi16(y, (__mmask16)((1u << rows) - 1u), _mm512_cvtepi32_epi16(v));
}

/* The bias of rows [o, o + rows) minus 128 sum x (wrapping: see above). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_bias16(const int32_t *bias, int32_t rows, __m512i offset)
{
    return _mm512_sub_epi32(_mm512_maskz_loadu_epi32((__mmask16)((1u << rows) - 1u), bias), offset);
}

/* The cell's gates (see above); x_fc and h_fc have `blocks` gate blocks of `stride` rows, one rescale each. */
ERNN_X86_512 static void ernn_cell_fcs_avx512vnni(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc,
                                                  const int8_t *x, const int8_t *h, int16_t *y, int16_t *tail,
                                                  int8_t *pad, int32_t stride, int32_t added_rows,
                                                  uint32_t activations)
{
    const int32_t cx = (x_fc->in_features + 15) / 16, ch = (h_fc->in_features + 15) / 16;
    int8_t *px = pad, *ph = pad + 16 * cx;
    const __m512i ox = _mm512_set1_epi32((int32_t)((uint32_t)ernn_x86_pad16(x, x_fc->in_features, px) << 7));
    const __m512i oh = _mm512_set1_epi32((int32_t)((uint32_t)ernn_x86_pad16(h, h_fc->in_features, ph) << 7));
    const int32_t gates = x_fc->out_features / stride;
    for (int32_t g = 0; g < gates; ++g) {
        const ernn_x86_rescale16 rx = ernn_x86_rescale16_of(x_fc->multiplier[g], x_fc->shift[g]);
        const ernn_x86_rescale16 rh = ernn_x86_rescale16_of(h_fc->multiplier[g], h_fc->shift[g]);
        const int added = g * stride < added_rows;
        for (int32_t o = g * stride; o < (g + 1) * stride; o += 16) {
            const int32_t rows = (g + 1) * stride - o < 16 ? (g + 1) * stride - o : 16;
            const __m512i ax = _mm512_add_epi32(ernn_x86_dot16(x_fc->weight + (int64_t)o * 16 * cx, px, cx, rows / 4),
                                                ernn_x86_bias16(x_fc->bias + o, rows, ox));
            const __m512i ah = _mm512_add_epi32(ernn_x86_dot16(h_fc->weight + (int64_t)o * 16 * ch, ph, ch, rows / 4),
                                                ernn_x86_bias16(h_fc->bias + o, rows, oh));
            /* sat16 by VPMOVSDW (the saturating narrowing) and the saturating int16 sum: fewer operations than
             * clamping in the int32 lanes, the same values */
            const __m256i vx = _mm512_cvtsepi32_epi16(ernn_x86_fast16(ax, &rx));
            const __m256i vh = _mm512_cvtsepi32_epi16(ernn_x86_fast16(ah, &rh));
            const __mmask16 m = (__mmask16)((1u << rows) - 1u);
            if (added) {
                _mm256_mask_storeu_epi16(y + o, m, _mm256_adds_epi16(vx, vh)); /* activated below */
            } else {
                _mm256_mask_storeu_epi16(y + o, m, vx);
                _mm256_mask_storeu_epi16(tail + (o - added_rows), m, vh);
            }
        }
    }
    /* The activations in a second pass: short independent iterations overlap better than one long chain
     * per group (measured: 15-19% less time per step). */
    for (int32_t g = 0; g * stride < added_rows; ++g) {
        const uint32_t act = (activations >> (2 * g)) & 3u;
        if (act == ERNN_ACT_NONE) {
            continue;
        }
        for (int32_t o = g * stride; o < (g + 1) * stride; o += 16) {
            const int32_t rows = (g + 1) * stride - o < 16 ? (g + 1) * stride - o : 16;
            const __mmask16 m = (__mmask16)((1u << rows) - 1u);
            const __m512i sum = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, y + o));
            ernn_x86_store16(y + o, ernn_x86_activate16(act, sum), rows);
        }
    }
}

/* Sixteen int16 values from p (the first `n` of them; n <= 16), sign-extended to int32 lanes. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_load16(const int16_t *p, __mmask16 m)
{
    return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, p));
}

/* gate * b in int32 lanes, exactly, for a gate in [0, 32767] (a sigmoid's output, or 32767 minus one: the
 * sigmoid's range is checked on every input by test_gate_ports) and b an int16 value: VPMADDWD gives
 * gate * b + 0 * (b's sign half), the gate's high half being 0. One uop, latency 5 (VPMULLD: two, 10). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_gate_mul16(__m512i gate, __m512i b)
{
    return _mm512_madd_epi16(gate, b);
}

/* The sixteen int32 lanes saturated to int8 at h[0..16), mask m. */
ERNN_X86_512_INLINE static inline void ernn_x86_store8(int8_t *h, __m512i v, __mmask16 m)
{
    _mm512_mask_cvtsepi32_storeu_epi8(h, m, v); /* VPMOVSDB: ernn_ssat8 and the store in one */
}

/* The GRU's element-wise constants in sixteen lanes (ernn_gru_s8.c's short form: every shift < 0). */
typedef struct {
    ernn_x86_rescale16 rm, gm, hm;
    __m512i zero_point;
} ernn_x86_gru16;

ERNN_X86_512 static inline ernn_x86_gru16 ernn_x86_gru16_of(int32_t reset_m, int32_t reset_right, int32_t gate_m,
                                                           int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                                           int32_t zero_point)
{
    ernn_x86_gru16 k;
    k.rm = ernn_x86_rescale16_of(reset_m, -reset_right);
    k.gm = ernn_x86_rescale16_of(gate_m, -gate_right);
    k.hm = ernn_x86_rescale16_of(hidden_m, -hidden_right);
    k.zero_point = _mm512_set1_epi32(zero_point);
    return k;
}

/* The GRU's element-wise step of sixteen units (lanes m) from their activated r, z and their x_n, h_n (int16
 * values in int32 lanes), the operations of ernn_gru_fast_avx2, each lane as the C loops of ernn_gru_s8.c:
 * h_q15[0..16) updated, the new h returned in int32 lanes (before its int8 saturation). Each sat16(a + b) of
 * int16 a, b is a saturating int16 add, each sat16 of an int32 lane VPMOVSDW. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_gru_lanes(const ernn_x86_gru16 *k, __m512i r, __m512i z,
                                                              __m512i xn, __m512i hn, int16_t *h_q15, __mmask16 m)
{
    const __m256i reset_hidden = _mm512_cvtsepi32_epi16(ernn_x86_fast16(ernn_x86_gate_mul16(r, hn), &k->rm));
    const __m256i pre = _mm256_adds_epi16(_mm512_cvtepi32_epi16(xn), reset_hidden);
    const __m512i cand = ernn_x86_activate16(ERNN_ACT_TANH, _mm512_cvtepi16_epi32(pre));
    const __m256i keep =
        _mm512_cvtsepi32_epi16(ernn_x86_fast16(ernn_x86_gate_mul16(z, ernn_x86_load16(h_q15, m)), &k->gm));
    const __m512i one_minus_z = _mm512_sub_epi32(_mm512_set1_epi32(INT16_MAX), z);
    const __m256i update = _mm512_cvtsepi32_epi16(ernn_x86_fast16(ernn_x86_gate_mul16(one_minus_z, cand), &k->gm));
    const __m256i blended = _mm256_adds_epi16(keep, update);
    _mm256_mask_storeu_epi16(h_q15, m, blended);
    return _mm512_add_epi32(ernn_x86_fast16(_mm512_cvtepi16_epi32(blended), &k->hm), k->zero_point);
}

/* The GRU's element-wise step for every unit, sixteen at a time (the last ones masked). */
ERNN_X86_512 static int32_t ernn_gru_fast_avx512(const int16_t *gr, const int16_t *gz, const int16_t *xn,
                                                 const int16_t *hn, int16_t *h_q15, int8_t *h, int32_t n,
                                                 int32_t reset_m, int32_t reset_right, int32_t gate_m,
                                                 int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                                 int32_t zero_point)
{
    const ernn_x86_gru16 k =
        ernn_x86_gru16_of(reset_m, reset_right, gate_m, gate_right, hidden_m, hidden_right, zero_point);
    for (int32_t j = 0; j < n; j += 16) {
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFFu : (1u << (n - j)) - 1u);
        ernn_x86_store8(h + j, ernn_x86_gru_lanes(&k, ernn_x86_load16(gr + j, m), ernn_x86_load16(gz + j, m),
                                                  ernn_x86_load16(xn + j, m), ernn_x86_load16(hn + j, m), h_q15 + j,
                                                  m),
                        m);
    }
    return n;
}

/*
 * ernn_fast_any(x, r) of a power-of-two rescale, multiplier 2^30 and right = r in [1, 29] (the products f c and
 * i g to the LSTM's cell state: 2^-15 and 2^-30 over the cell scale 2^p, p in [-15, 0], so r = 14 .. 29), for
 * |x| < 2^30 (a gate in [0, 32767] times an int16 value), as the form
 *   (x + 1 + 2^r - 2 [x < 0]) >> (r + 1),
 * which ernn_x86_pow2_product16 computes with the product in two operations (ernn_x86_fast16 takes ten after it).
 * Proof: ernn_fast_any takes a = 2 x (left = 1; no overflow), t = (a 2^30 + 2^31) >> 32 = floor((x + 1) / 2),
 * then floor((t - [t < 0] + 2^(r-1)) / 2^r). For an integer k, floor((x + 1) / 2) + k = floor((x + 1 + 2 k) / 2)
 * and floor(floor(y / 2) / 2^r) = floor(y / 2^(r+1)), so the value is floor((x + 1 + 2^r - 2 [t < 0]) / 2^(r+1)).
 * t < 0 is x <= -2; at x = -1 ([x < 0] = 1, [t < 0] = 0) both numerators, 2^r - 2 and 2^r, are in [0, 2^(r+1))
 * and give 0. No int32 overflow: |x| + 1 + 2^29 < 2^31. The callers check the multiplier and r
 * (ernn_x86_pow2_ok) and take the general kernels where they differ; the IR derives exactly these rescales.
 */
typedef struct {
    __m512i offset; /* 1 + 2^r */
    __m512i shift;  /* r + 1 (VPSRAVD: one uop) */
} ernn_x86_pow2_16;

ERNN_X86_512 static inline ernn_x86_pow2_16 ernn_x86_pow2_16_of(int32_t right)
{
    ernn_x86_pow2_16 r;
    r.offset = _mm512_set1_epi32(1 + ((int32_t)1 << right));
    r.shift = _mm512_set1_epi32(right + 1);
    return r;
}

/* The power-of-two rescale of ernn_x86_pow2_16 of the product x = gate * b in two operations, for gate2 = gate +
 * 2^17 (a gate in [0, 32767] in word 0, 2 in word 1) and b an int16 value in an int32 lane (its word 1 -[b < 0]):
 * VPDPWSSD gives 1 + 2^r + gate b - 2 [b < 0], the form's numerator where gate > 0 ([x < 0] is [b < 0]); where
 * gate is 0 (x = 0) the numerators 1 + 2^r and 1 + 2^r - 2 [b < 0] are both in [0, 2^(r+1)) and give 0. No
 * overflow: VPDPWSSD's sum is the int32 numerator. (The form as written takes five: VPMADDWD, the add, the
 * sign's compare and masked subtract, the shift.) */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_pow2_product16(__m512i gate2, __m512i b, const ernn_x86_pow2_16 *r)
{
    return _mm512_srav_epi32(_mm512_dpwssd_epi32(r->offset, gate2, b), r->shift);
}

/* The LSTM's element-wise constants in sixteen lanes (ernn_lstm_s8.c's short form; the cell's products by
 * ernn_x86_pow2_16, for cells whose rescales ernn_x86_lstm16_ok). */
typedef struct {
    ernn_x86_pow2_16 fm, im;
    ernn_x86_rescale16 om;
    __m512i tanh_multiplier, tanh_round, zero_point;
    __m512i tanh_shift; /* a count per lane (VPSRAVD: one uop) */
} ernn_x86_lstm16;

/* The AVX-512 element-wise step takes the cell (its product rescales the IR's powers of two). */
static inline int ernn_x86_lstm16_ok(int32_t forget_m, int32_t forget_right, int32_t input_m, int32_t input_right)
{
    return ernn_x86_pow2_ok(forget_m, forget_right) && ernn_x86_pow2_ok(input_m, input_right);
}

ERNN_X86_512 static inline ernn_x86_lstm16 ernn_x86_lstm16_of(int32_t forget_m, int32_t forget_right, int32_t input_m,
                                                             int32_t input_right, int32_t tanh_multiplier,
                                                             int32_t tanh_shift, int32_t output_m,
                                                             int32_t output_right, int32_t zero_point)
{
    ernn_x86_lstm16 k;
    (void)forget_m, (void)input_m; /* 2^30: ernn_x86_lstm16_ok */
    k.fm = ernn_x86_pow2_16_of(forget_right);
    k.im = ernn_x86_pow2_16_of(input_right);
    k.om = ernn_x86_rescale16_of(output_m, -output_right);
    k.tanh_multiplier = _mm512_set1_epi32(tanh_multiplier);
    k.tanh_round = _mm512_set1_epi32(tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0);
    k.tanh_shift = _mm512_set1_epi32(tanh_shift);
    k.zero_point = _mm512_set1_epi32(zero_point);
    return k;
}

/* The LSTM's element-wise step in three pieces, the operations of ernn_lstm_fast_avx2 on sixteen units whose
 * activated gates are int16 values in int32 lanes. The new cell state sat16(fast(f c) + fast(i g)) from the
 * old one c (int16 values in int32 lanes): */
ERNN_X86_512_INLINE static inline __m256i ernn_x86_lstm_cell16(const ernn_x86_lstm16 *k, __m512i gi, __m512i gf,
                                                                __m512i gg, __m512i c)
{
    const __m512i word1 = _mm512_set1_epi32(2 << 16); /* ernn_x86_pow2_product16's gate2 */
    const __m256i forget = _mm512_cvtsepi32_epi16(ernn_x86_pow2_product16(_mm512_or_si512(gf, word1), c, &k->fm));
    const __m256i input = _mm512_cvtsepi32_epi16(ernn_x86_pow2_product16(_mm512_or_si512(gi, word1), gg, &k->im));
    return _mm256_adds_epi16(forget, input); /* sat16(forget + input), as the GRU above */
}

/* the new cell state c rescaled to the tanh table's input v, */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_lstm_tanh_input(const ernn_x86_lstm16 *k, __m512i c)
{
    return _mm512_srav_epi32(_mm512_add_epi32(_mm512_mullo_epi32(c, k->tanh_multiplier), k->tanh_round), k->tanh_shift);
}

/* and the new h from the output gate and tanh(c), in int32 lanes before its int8 saturation. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_lstm_h16(const ernn_x86_lstm16 *k, __m512i go, __m512i tanh_c)
{
    return _mm512_add_epi32(ernn_x86_fast16(ernn_x86_gate_mul16(go, tanh_c), &k->om), k->zero_point);
}

/* The element-wise step of sixteen units (lanes m): c[0..16) updated, the new h returned in int32 lanes. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_lstm_lanes(const ernn_x86_lstm16 *k, __m512i gi, __m512i gf,
                                                               __m512i gg, __m512i go, int16_t *c, __mmask16 m)
{
    const __m256i c_new = ernn_x86_lstm_cell16(k, gi, gf, gg, ernn_x86_load16(c, m));
    _mm256_mask_storeu_epi16(c, m, c_new);
    return ernn_x86_lstm_h16(k, go, ernn_x86_tanh_lut16(ernn_x86_lstm_tanh_input(k, _mm512_cvtepi16_epi32(c_new))));
}

/* The LSTM's element-wise step for every unit, sixteen at a time (the last ones masked). */
ERNN_X86_512_INLINE static inline void ernn_x86_lstm_units(const ernn_x86_lstm16 *k, const int16_t *gi,
                                                            const int16_t *gf, const int16_t *gg, const int16_t *go,
                                                            int16_t *c, int8_t *h, int32_t n)
{
    for (int32_t j = 0; j < n; j += 16) {
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFFu : (1u << (n - j)) - 1u);
        ernn_x86_store8(h + j, ernn_x86_lstm_lanes(k, ernn_x86_load16(gi + j, m), ernn_x86_load16(gf + j, m),
                                                   ernn_x86_load16(gg + j, m), ernn_x86_load16(go + j, m), c + j, m),
                        m);
    }
}

/* The LSTM's element-wise step for every unit (see ernn_x86_lstm_units). */
ERNN_X86_512 static int32_t ernn_lstm_fast_avx512(const int16_t *gi, const int16_t *gf, const int16_t *gg,
                                                  const int16_t *go, int16_t *c, int8_t *h, int32_t n,
                                                  int32_t forget_m, int32_t forget_right, int32_t input_m,
                                                  int32_t input_right, int32_t tanh_multiplier, int32_t tanh_shift,
                                                  int32_t output_m, int32_t output_right, int32_t zero_point)
{
    const ernn_x86_lstm16 k = ernn_x86_lstm16_of(forget_m, forget_right, input_m, input_right, tanh_multiplier,
                                                 tanh_shift, output_m, output_right, zero_point);
    ernn_x86_lstm_units(&k, gi, gf, gg, go, c, h, n);
    return n;
}

/*
 * The LSTM over a block of steps (ernn_lstm_run_s8, AVX-512 VNNI). Each gate is
 * act(sat16(sat16(fast(x_fc(x_t))) + sat16(fast(h_fc(h_t-1))))) (ernn_fc_s8.c, ernn_cell_fcs_avx512vnni): the
 * x part of step t is a function of x_t alone, not of the state, so the x parts of every step of a block are
 * computed first, one gate group (sixteen rows) at a time over all the block's steps (the group's weights
 * stay in L1 across the steps), and kept as the int16 values sat16(fast(.)); each step then computes only
 * the h part and adds it, the same integer operations on the same integers as one step at a time.
 *
 * Dot products: VPDPBUSD with the inputs as the unsigned operand, u = x ^ 0x80 = x + 128 in [0, 255], and
 * the weights as the signed one: a lane gathers sum w (x + 128) = sum w x + 128 sum w, so the rows' weight
 * sums (one pass per call: VPDPBUSD of bytes 1 with the weights) are folded into the bias once,
 * bias - 128 sum w. Modulo 2^32 as in ernn_cell_fcs_avx512vnni, and the true value bias + sum w x is an
 * int32 (bounded layers), so the lanes hold it exactly. Padded inputs (u = 128) meet zero weights.
 * Compared with the step kernel: no per-step flip of every weight register, no per-step sum of the input,
 * and two accumulator sets over alternate chunks (twice the independent VPDPBUSD chains).
 */

/* Rows 4b..4b+3 of blocks b < blocks (1..4) from w (block 0) over `chunks` chunks of the unsigned input u
 * (step bytes apart; 0 repeats the first sixteen): the sixteen rows' sums of w u, row r in lane r (lanes
 * of absent blocks hold garbage the caller does not store). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_udot16_body(const int8_t *w, const uint8_t *u, int32_t step,
                                                              int32_t chunks, int32_t blocks)
{
    const int64_t stride = 64 * (int64_t)chunks;
    const __mmask64 m1 = blocks > 1 ? ~(__mmask64)0 : 0, m2 = blocks > 2 ? ~(__mmask64)0 : 0;
    const __mmask64 m3 = blocks > 3 ? ~(__mmask64)0 : 0;
    const int8_t *w1 = blocks > 1 ? w + stride : w, *w2 = blocks > 2 ? w + 2 * stride : w;
    const int8_t *w3 = blocks > 3 ? w + 3 * stride : w;
#define ERNN_X86_W(mask, p) (blocks == 4 ? _mm512_loadu_si512((const void *)(p)) : _mm512_maskz_loadu_epi8((mask), (p)))
#define ERNN_X86_U(c) _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(u + (int64_t)step * (c))))
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int32_t c = 0;
    for (; c + 2 <= chunks; c += 2) {
        const __m512i x0 = ERNN_X86_U(c), x1 = ERNN_X86_U(c + 1);
        a0 = _mm512_dpbusd_epi32(a0, x0, _mm512_loadu_si512((const void *)(w + 64 * c)));
        a1 = _mm512_dpbusd_epi32(a1, x0, ERNN_X86_W(m1, w1 + 64 * c));
        a2 = _mm512_dpbusd_epi32(a2, x0, ERNN_X86_W(m2, w2 + 64 * c));
        a3 = _mm512_dpbusd_epi32(a3, x0, ERNN_X86_W(m3, w3 + 64 * c));
        b0 = _mm512_dpbusd_epi32(b0, x1, _mm512_loadu_si512((const void *)(w + 64 * c + 64)));
        b1 = _mm512_dpbusd_epi32(b1, x1, ERNN_X86_W(m1, w1 + 64 * c + 64));
        b2 = _mm512_dpbusd_epi32(b2, x1, ERNN_X86_W(m2, w2 + 64 * c + 64));
        b3 = _mm512_dpbusd_epi32(b3, x1, ERNN_X86_W(m3, w3 + 64 * c + 64));
    }
    if (c < chunks) {
        const __m512i x0 = ERNN_X86_U(c);
        a0 = _mm512_dpbusd_epi32(a0, x0, _mm512_loadu_si512((const void *)(w + 64 * c)));
        a1 = _mm512_dpbusd_epi32(a1, x0, ERNN_X86_W(m1, w1 + 64 * c));
        a2 = _mm512_dpbusd_epi32(a2, x0, ERNN_X86_W(m2, w2 + 64 * c));
        a3 = _mm512_dpbusd_epi32(a3, x0, ERNN_X86_W(m3, w3 + 64 * c));
    }
#undef ERNN_X86_W
#undef ERNN_X86_U
    a0 = _mm512_add_epi32(a0, b0);
    a1 = _mm512_add_epi32(a1, b1);
    a2 = _mm512_add_epi32(a2, b2);
    a3 = _mm512_add_epi32(a3, b3);
    /* lane 4L + q of a_b: row L of block b, partial q; two levels make lane 4L + b = row 4b + L */
    const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, s);
}

/* ernn_x86_udot16_body with whole groups and one to eight chunks as constants (gcc unrolls them). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_udot16(const int8_t *w, const uint8_t *u, int32_t step,
                                                         int32_t chunks, int32_t blocks)
{
    if (blocks == 4) {
        switch (chunks) {
        case 1:
            return ernn_x86_udot16_body(w, u, step, 1, 4);
        case 2:
            return ernn_x86_udot16_body(w, u, step, 2, 4);
        case 4:
            return ernn_x86_udot16_body(w, u, step, 4, 4);
        case 8:
            return ernn_x86_udot16_body(w, u, step, 8, 4);
        default:
            return ernn_x86_udot16_body(w, u, step, chunks, 4);
        }
    }
    return ernn_x86_udot16_body(w, u, step, chunks, blocks);
}

/* x (n int8 values) as the unsigned bytes x ^ 0x80, zero weights' padding to whole chunks of 16 at u. */
ERNN_X86_512_INLINE static inline void ernn_x86_unsigned16(const int8_t *x, int32_t n, uint8_t *u)
{
    const __m128i flip = _mm_set1_epi8((char)0x80);
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u);
        _mm_storeu_si128((__m128i *)(void *)(u + i), _mm_xor_si128(_mm_maskz_loadu_epi8(m, x + i), flip));
    }
}

/* bias - 128 * (the row's weight sum) for every row of a packed layer with `rows` rows in gate blocks of
 * stride rows (see above), to adjusted[0..rows). */
ERNN_X86_512 static inline void ernn_x86_adjusted_bias(const ernn_fc_params *fc, int32_t rows, int32_t stride,
                                                       int32_t chunks, int32_t *adjusted)
{
    static const uint8_t ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int32_t g = 0; g * stride < rows; ++g) {
        for (int32_t o = g * stride; o < (g + 1) * stride; o += 16) {
            const int32_t n = (g + 1) * stride - o < 16 ? (g + 1) * stride - o : 16;
            const __mmask16 m = (__mmask16)((1u << n) - 1u);
            const __m512i sums = ernn_x86_udot16(fc->weight + (int64_t)o * 16 * chunks, ones, 0, chunks, n / 4);
            const __m512i b = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, fc->bias + o), _mm512_slli_epi32(sums, 7));
            _mm512_mask_storeu_epi32(adjusted + o, m, b);
        }
    }
}

/* Rows in lanes: a 16-row group of a packed layer (rows o..o+r-1, r a multiple of 4) rewritten as 4 * chunks
 * zmm, zmm q holding in lane L row o + L's four weights of columns 4q..4q+3 (lanes L >= r: zero). A dot product
 * is then VPDPBUSD of each zmm with four input bytes in every lane, the rows' sums landing in their own lanes:
 * no reduction or permutation per step. Per chunk, the four 4-row blocks (64 bytes each, row r's sixteen
 * weights at 16r) are transposed: each block's dwords to quad-major order (lane q: rows 0..3 of quad q), then
 * the 128-bit lanes of the four blocks 4 x 4 (two levels of VSHUFI32X4). */
ERNN_X86_512 static inline void ernn_x86_rows_in_lanes(const int8_t *w, int32_t chunks, int32_t o, int32_t r,
                                                        int8_t *z)
{
    const __m512i quad_major = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (int32_t c = 0; c < chunks; ++c) {
        __m512i p[4];
        for (int32_t b = 0; b < 4; ++b) {
            p[b] = 4 * b < r ? _mm512_permutexvar_epi32(
                                   quad_major, _mm512_loadu_si512((const void *)(w + ((int64_t)(o / 4 + b) * chunks + c) * 64)))
                             : _mm512_setzero_si512();
        }
        const __m512i lo01 = _mm512_shuffle_i32x4(p[0], p[1], 0x44), hi01 = _mm512_shuffle_i32x4(p[0], p[1], 0xEE);
        const __m512i lo23 = _mm512_shuffle_i32x4(p[2], p[3], 0x44), hi23 = _mm512_shuffle_i32x4(p[2], p[3], 0xEE);
        int8_t *d = z + (int64_t)c * 4 * 64;
        _mm512_storeu_si512((void *)d, _mm512_shuffle_i32x4(lo01, lo23, 0x88));
        _mm512_storeu_si512((void *)(d + 64), _mm512_shuffle_i32x4(lo01, lo23, 0xDD));
        _mm512_storeu_si512((void *)(d + 128), _mm512_shuffle_i32x4(hi01, hi23, 0x88));
        _mm512_storeu_si512((void *)(d + 192), _mm512_shuffle_i32x4(hi01, hi23, 0xDD));
    }
}

/* acc + the sixteen rows' sums of w u over 4 * chunks quads (z from ernn_x86_rows_in_lanes, u unsigned), four
 * independent accumulator chains. */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_lanes_dot_body(const int8_t *z, const uint8_t *u, int32_t chunks,
                                                                  __m512i acc)
{
    __m512i a1 = _mm512_setzero_si512(), a2 = a1, a3 = a1;
    for (int32_t q = 0; q < 4 * chunks; q += 4) {
        int32_t v[4];
        memcpy(v, u + 4 * q, sizeof v);
        acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(v[0]), _mm512_loadu_si512((const void *)(z + 64 * q)));
        a1 = _mm512_dpbusd_epi32(a1, _mm512_set1_epi32(v[1]), _mm512_loadu_si512((const void *)(z + 64 * q + 64)));
        a2 = _mm512_dpbusd_epi32(a2, _mm512_set1_epi32(v[2]), _mm512_loadu_si512((const void *)(z + 64 * q + 128)));
        a3 = _mm512_dpbusd_epi32(a3, _mm512_set1_epi32(v[3]), _mm512_loadu_si512((const void *)(z + 64 * q + 192)));
    }
    return _mm512_add_epi32(_mm512_add_epi32(acc, a1), _mm512_add_epi32(a2, a3));
}

ERNN_X86_512_INLINE static inline __m512i ernn_x86_lanes_dot(const int8_t *z, const uint8_t *u, int32_t chunks,
                                                             __m512i acc)
{
    switch (chunks) {
    case 1:
        return ernn_x86_lanes_dot_body(z, u, 1, acc);
    case 2:
        return ernn_x86_lanes_dot_body(z, u, 2, acc);
    case 4:
        return ernn_x86_lanes_dot_body(z, u, 4, acc);
    default:
        return ernn_x86_lanes_dot_body(z, u, chunks, acc);
    }
}

/* AVX-512 VBMI, for the lane kernel's lookups (ernn_x86_lut_entries64), on this CPU and within ERNN_X86_LEVEL. */
static inline int ernn_x86_has_avx512vbmi(void)
{
#if ERNN_X86_LEVEL >= 4
    return __builtin_cpu_supports("avx512vbmi");
#else
    return 0;
#endif
}

/* The lane kernel (ernn_x86_lstm_lane_steps): up to eight 16-unit columns (128 units), its weights with rows in
 * lanes at most ERNN_X86_LANE_BYTES: 128 units with up to 128 inputs, so a stack of 128-unit layers (with 96 KB,
 * its upper layers took the generic loop: a two-layer LSTM of 128 units with a head 1.49 -> 1.31 us per step). */
#define ERNN_X86_LANE_MAX_COLUMNS 8
#define ERNN_X86_LANE_BYTES 131072

/* The per-call constants of the lane kernels (ernn_x86_lstm_lane_steps, ernn_x86_gru_lane_steps). */
typedef struct {
    const int8_t *zh, *zx;            /* both layers' weights, rows in lanes, group (j, g) at (G j + g) * 256 * chunks */
    const int32_t *bh, *bx;           /* the adjusted biases in the same lanes (16 per group, absent rows 0) */
    const ernn_x86_rescale16 *rh, *rx; /* per gate */
    const ernn_x86_lstm16 *k;         /* the LSTM's element-wise constants (NULL for the GRU) */
    const ernn_x86_gru16 *gru;        /* the GRU's (NULL for the LSTM) */
    const ernn_x86_pow2_16 *gate_pow2; /* the GRU's gate_mul, a power of two (ernn_x86_gru_lane_kind) */
    int32_t cx;                       /* chunks of the (unsigned, padded) input per step */
    int32_t n;
    const ernn_x86_lut_planes *planes; /* the activation table for ernn_x86_lut_entries64 */
} ernn_x86_lane_call;

/* The input's sums of four steps (inputs ux + s * per_step; steps s >= count repeat step 0) for four gate groups
 * (group g at z + g * gx, rows in lanes; `groups` 2, a constant: the first two only), onto the adjusted biases:
 * sums[s][g]. Each weight zmm serves
 * four steps and each input broadcast four gates, sixteen independent accumulator chains. Not inlined, and the
 * accumulators named variables, not an array: inlined into the lane kernel (whose rescale constants held
 * registers) or with an array, gcc 12 copied accumulators between registers and spilled them on every quad (two
 * register moves per VPDPBUSD). */
#define ERNN_X86_XSUM_STEP(s)                                                                                      \
    do {                                                                                                           \
        int32_t v_;                                                                                                \
        memcpy(&v_, u##s + 4 * q, sizeof v_);                                                                      \
        const __m512i b_ = _mm512_set1_epi32(v_);                                                                  \
        a##s##0 = _mm512_dpbusd_epi32(a##s##0, b_, w0);                                                            \
        a##s##1 = _mm512_dpbusd_epi32(a##s##1, b_, w1);                                                            \
        if (groups > 2) {                                                                                          \
            a##s##2 = _mm512_dpbusd_epi32(a##s##2, b_, w2);                                                        \
            a##s##3 = _mm512_dpbusd_epi32(a##s##3, b_, w3);                                                        \
        }                                                                                                          \
    } while (0)
ERNN_X86_512_INLINE static inline void ernn_x86_lane_xsums_of(const int8_t *z, int64_t gx, const int32_t *bias,
                                                              const uint8_t *ux, size_t per_step, int32_t count,
                                                              int32_t quads, const int32_t groups, __m512i sums[4][4])
{
    const __m512i b0 = _mm512_load_si512((const void *)bias), b1 = _mm512_load_si512((const void *)(bias + 16));
    const __m512i b2 = _mm512_load_si512((const void *)(bias + 32)), b3 = _mm512_load_si512((const void *)(bias + 48));
    __m512i a00 = b0, a01 = b1, a02 = b2, a03 = b3, a10 = b0, a11 = b1, a12 = b2, a13 = b3;
    __m512i a20 = b0, a21 = b1, a22 = b2, a23 = b3, a30 = b0, a31 = b1, a32 = b2, a33 = b3;
    const uint8_t *u0 = ux, *u1 = ux + (count > 1 ? per_step : 0), *u2 = ux + (count > 2 ? 2 * per_step : 0);
    const uint8_t *u3 = ux + (count > 3 ? 3 * per_step : 0);
    for (int32_t q = 0; q < quads; ++q) {
        const __m512i w0 = _mm512_load_si512((const void *)(z + 64 * q));
        const __m512i w1 = _mm512_load_si512((const void *)(z + gx + 64 * q));
        const __m512i w2 = groups > 2 ? _mm512_load_si512((const void *)(z + 2 * gx + 64 * q)) : b0;
        const __m512i w3 = groups > 2 ? _mm512_load_si512((const void *)(z + 3 * gx + 64 * q)) : b0;
        ERNN_X86_XSUM_STEP(0);
        ERNN_X86_XSUM_STEP(1);
        ERNN_X86_XSUM_STEP(2);
        ERNN_X86_XSUM_STEP(3);
    }
    sums[0][0] = a00, sums[0][1] = a01, sums[0][2] = a02, sums[0][3] = a03;
    sums[1][0] = a10, sums[1][1] = a11, sums[1][2] = a12, sums[1][3] = a13;
    sums[2][0] = a20, sums[2][1] = a21, sums[2][2] = a22, sums[2][3] = a23;
    sums[3][0] = a30, sums[3][1] = a31, sums[3][2] = a32, sums[3][3] = a33;
}
#undef ERNN_X86_XSUM_STEP
ERNN_X86_512 __attribute__((noinline)) static void ernn_x86_lane_xsums(const int8_t *z, int64_t gx, const int32_t *bias,
                                                                      const uint8_t *ux, size_t per_step,
                                                                      int32_t count, int32_t quads,
                                                                      __m512i sums[4][4])
{
    ernn_x86_lane_xsums_of(z, gx, bias, ux, per_step, count, quads, 4, sums);
}
/* The first two groups' sums only (sums[s][0..1]; groups 2 above): a layer's last groups when only two remain. */
ERNN_X86_512 __attribute__((noinline)) static void ernn_x86_lane_xsums2(const int8_t *z, int64_t gx,
                                                                       const int32_t *bias, const uint8_t *ux,
                                                                       size_t per_step, int32_t count, int32_t quads,
                                                                       __m512i sums[4][4])
{
    ernn_x86_lane_xsums_of(z, gx, bias, ux, per_step, count, quads, 2, sums);
}

/* The x parts sat16(fast(x_fc(x_t))) of `steps` steps (inputs xu + t * 16 cx, unsigned, padded) for the lane
 * kernel's layers taken by block, to xpart + t * 64 J + (4 j + g) * 16 (int16, the lanes' order): a column's
 * four gates and four steps at a time (ernn_x86_lane_xsums; 64 inputs / 128 units, us per step: 0.59; a gate's
 * four steps at a time, 0.62; one step at a time, 0.67). The same VPDPBUSD terms on the same adjusted bias as
 * inside the step. */
ERNN_X86_512V_INLINE static inline void ernn_x86_lstm_lane_xparts(const ernn_x86_lane_call *a, const uint8_t *xu,
                                                                int32_t steps, int16_t *xpart, const int32_t J)
{
    const int64_t gx = (int64_t)256 * a->cx;
    const size_t per_step = 16 * (size_t)a->cx;
    for (int32_t j = 0; j < J; ++j) {
        for (int32_t t = 0; t < steps; t += 4) {
            const int32_t count = steps - t < 4 ? steps - t : 4;
            __m512i sums[4][4];
            ernn_x86_lane_xsums(a->zx + 4 * j * gx, gx, a->bx + 4 * j * 16, xu + (size_t)t * per_step, per_step,
                                count, 4 * a->cx, sums);
            for (int32_t s = 0; s < 4 && s < count; ++s) { /* i and f, then g and o: ernn_x86_lstm_gates_packed's */
                for (int32_t g = 0; g < 4; g += 2) {
                    _mm512_store_si512((void *)(xpart + (int64_t)(t + s) * 64 * J + (4 * j + g) * 16),
                                       _mm512_packs_epi32(ernn_x86_fast16(sums[s][g], &a->rx[g]),
                                                          ernn_x86_fast16(sums[s][g + 1], &a->rx[g + 1])));
                }
            }
        }
    }
}

/* acc[g] (g < gates: 4, the LSTM's, or 3, the GRU's; a constant) + the dot products of `quads` quads of the
 * unsigned input u with a column's gate groups, rows in lanes (group g at z + g * group_bytes): one broadcast of
 * each quad for all the gates. */
ERNN_X86_512_INLINE static inline void ernn_x86_lane_quads(__m512i acc[4], const uint8_t *u, const int8_t *z,
                                                           int64_t group_bytes, int32_t quads, const int32_t gates)
{
    for (int32_t q = 0; q < quads; ++q) {
        int32_t v;
        memcpy(&v, u + 4 * q, sizeof v);
        const __m512i b = _mm512_set1_epi32(v);
        for (int32_t g = 0; g < gates; ++g) {
            acc[g] = _mm512_dpbusd_epi32(acc[g], b, _mm512_load_si512((const void *)(z + g * group_bytes + 64 * q)));
        }
    }
}

/* acc[k][g] (k < count <= 4, g < gates <= 4) + the dot products of `quads` quads of u with column k's gate group
 * g (at z + k * column_bytes + g * group_bytes): one broadcast of each quad for every column and gate. */
ERNN_X86_512_INLINE static inline void ernn_x86_lane_quads_columns(__m512i acc[4][4], const uint8_t *u, const int8_t *z,
                                                                   int64_t column_bytes, int64_t group_bytes,
                                                                   int32_t quads, const int32_t count,
                                                                   const int32_t gates)
{
#pragma GCC unroll 32 /* not unrolled, gcc moved every accumulator twice per quad */
    for (int32_t q = 0; q < quads; ++q) {
        int32_t v;
        memcpy(&v, u + 4 * q, sizeof v);
        const __m512i b = _mm512_set1_epi32(v);
        for (int32_t k = 0; k < count; ++k) {
            for (int32_t g = 0; g < gates; ++g) {
                acc[k][g] = _mm512_dpbusd_epi32(
                    acc[k][g], b, _mm512_load_si512((const void *)(z + k * column_bytes + g * group_bytes + 64 * q)));
            }
        }
    }
}

/* A lane kernel's state into its registers: the int16 state s (the LSTM's c, the GRU's h_q15) of J columns
 * into int32 lanes sv, each column's mask of present units to mj, and h as the first step's unsigned input hu
 * (its padding meets zero weights). */
ERNN_X86_512_INLINE static inline void ernn_x86_lane_state_in(const ernn_x86_lane_call *a, const int32_t J,
                                                              const int8_t *h, const int16_t *s, uint8_t *hu,
                                                              __m512i *sv, __mmask16 *mj)
{
    for (int32_t j = 0; j < J; ++j) {
        const int32_t r = a->n - 16 * j;
        mj[j] = (__mmask16)(r >= 16 ? 0xFFFFu : (1u << r) - 1u);
        sv[j] = ernn_x86_load16(s + 16 * j, mj[j]);
    }
    ernn_x86_unsigned16(h, a->n, hu);
}

/* And back: sv (int16 values: the narrowing is exact) to s, the last step's h (hu ^ 0x80) to h. */
ERNN_X86_512_INLINE static inline void ernn_x86_lane_state_out(const int32_t J, const uint8_t *hu, const __m512i *sv,
                                                               const __mmask16 *mj, int8_t *h, int16_t *s)
{
    for (int32_t j = 0; j < J; ++j) {
        _mm256_mask_storeu_epi16(s + 16 * j, mj[j], _mm512_cvtepi32_epi16(sv[j]));
        const __m128i last = _mm_load_si128((const __m128i *)(const void *)(hu + 16 * j));
        _mm_mask_storeu_epi8(h + 16 * j, mj[j], _mm_xor_si128(last, _mm_set1_epi8((char)0x80)));
    }
}

/* v[k] = ernn_tanh_lut(v[k]) for k < count <= 4 (a constant at each call site; any int32 v, as
 * ernn_x86_tanh_lut16): the four vectors' table entries in one 64-lane lookup (ernn_x86_lut_entries64; the
 * vectors >= count index 0, not used). */
ERNN_X86_512V_INLINE static inline void ernn_x86_tanh_lookups(const ernn_x86_lut_planes *planes, __m512i v[4],
                                                             const int32_t count)
{
    ernn_x86_lut_args args[4];
    __m512i index[4], entry[4];
    for (int32_t k = 0; k < 4; ++k) {
        if (k < count) {
            args[k] = ernn_x86_tanh_args(v[k]);
            index[k] = args[k].index;
        } else {
            index[k] = _mm512_setzero_si512();
        }
    }
    ernn_x86_lut_entries64(planes, index, entry);
    for (int32_t k = 0; k < count; ++k) {
        v[k] = ernn_x86_tanh_finish(entry[k], &args[k]);
    }
}

/* The recurrent sums ah[k][g] (onto the adjusted biases) of columns first .. first + count - 1 (count <= 4) of a
 * lane kernel's step, `gates` groups a column (J, count and gates constants at each call site), u the step's h
 * ^ 0x80: the count columns together, each quad of u broadcast once for all of them (with a loop per column,
 * unrolled, gcc shared the broadcasts between the columns by spilling them to the stack; interleaved A/B, LSTM,
 * us per step: 128 units, 16 inputs 0.970 -> 0.898; 64 units, 64 inputs 0.425 -> 0.401). With one or two
 * columns each gate's quads run as two chains (halves, summed modulo 2^32: the same sums), so that eight or more
 * chains are in flight (the chain the step waits on half as long: LSTM 64 units 0.388 -> 0.371 when it was the
 * only change; four chains per gate lost 5% at 128 units). */
ERNN_X86_512_INLINE static inline void ernn_x86_lane_recurrent_sums(const ernn_x86_lane_call *a, const uint8_t *u,
                                                                    const int32_t J, const int32_t first,
                                                                    const int32_t count, const int32_t gates,
                                                                    __m512i ah[4][4])
{
    const int64_t gh = (int64_t)256 * J;
    const int32_t halves = count <= 2 ? 2 : 1;
    for (int32_t k = 0; k < count; ++k) {
        for (int32_t g = 0; g < gates; ++g) {
            ah[k][g] = _mm512_load_si512((const void *)(a->bh + (gates * (first + k) + g) * 16));
        }
    }
    ernn_x86_lane_quads_columns(ah, u, a->zh + gates * first * gh, gates * gh, gh, 4 * J / halves, count, gates);
    if (halves == 2) {
        __m512i ah2[4][4];
        for (int32_t k = 0; k < count; ++k) {
            for (int32_t g = 0; g < gates; ++g) {
                ah2[k][g] = _mm512_setzero_si512();
            }
        }
        ernn_x86_lane_quads_columns(ah2, u + 8 * J, a->zh + gates * first * gh + 128 * J, gates * gh, gh, 2 * J,
                                    count, gates);
        for (int32_t k = 0; k < count; ++k) {
            for (int32_t g = 0; g < gates; ++g) {
                ah[k][g] = _mm512_add_epi32(ah[k][g], ah2[k][g]);
            }
        }
    }
}

/* Columns first .. first + count - 1 (count <= 4, a constant) of one step of ernn_x86_lstm_lane_steps, stage by
 * stage (sums, activations, element-wise steps), every value in a register: the columns' independent chains
 * sit next to each other in the instruction stream. xp: the step's x parts (NULL: computed here). */
ERNN_X86_512V_INLINE static inline void ernn_x86_lstm_lane_columns(const ernn_x86_lane_call *a, const uint8_t *u,
                                                                 const uint8_t *ux, const int16_t *xp,
                                                                 uint8_t *u_next, int8_t *copy, __m512i *cs,
                                                                 const __mmask16 *mj, const int32_t J,
                                                                 const int32_t first, const int32_t count)
{
    const int64_t gx = (int64_t)256 * a->cx;
    __m512i gate[4][4], pair[4][2], ah[4][4];
    ernn_x86_lane_recurrent_sums(a, u, J, first, count, 4, ah);
    for (int32_t k = 0; k < count; ++k) {
        const int32_t j = first + k;
        __m512i ax[4];
        if (xp == NULL) {
            for (int32_t g = 0; g < 4; ++g) {
                ax[g] = _mm512_load_si512((const void *)(a->bx + (4 * j + g) * 16));
            }
            ernn_x86_lane_quads(ax, ux, a->zx + 4 * j * gx, gx, 4 * a->cx, 4); /* the input's: off the recurrent chain */
        }
        for (int32_t g = 0; g < 4; g += 2) {
            /* sat16(sat16(fast(x part)) + sat16(fast(h part))) of two gates: each sat16 of int32 lanes by
             * VPACKSSDW (two gates' in one operation), the sum of int16 values by the saturating int16 add (as
             * ernn_cell_fcs_avx512vnni), the pairs' order ernn_x86_lstm_gates_packed's */
            const __m512i vx = xp != NULL ? _mm512_load_si512((const void *)(xp + (4 * j + g) * 16))
                                          : _mm512_packs_epi32(ernn_x86_fast16(ax[g], &a->rx[g]),
                                                               ernn_x86_fast16(ax[g + 1], &a->rx[g + 1]));
            const __m512i vh = _mm512_packs_epi32(ernn_x86_fast16(ah[k][g], &a->rh[g]),
                                                  ernn_x86_fast16(ah[k][g + 1], &a->rh[g + 1]));
            pair[k][g / 2] = _mm512_adds_epi16(vh, vx);
        }
    }
    for (int32_t k = 0; k < count; ++k) {
        ernn_x86_lstm_gates_packed(a->planes, pair[k][0], pair[k][1], 1, gate[k]);
    }
    __m512i tanh_c[4];
    for (int32_t k = 0; k < count; ++k) {
        const int32_t j = first + k;
        cs[j] = _mm512_cvtepi16_epi32(ernn_x86_lstm_cell16(a->k, gate[k][0], gate[k][1], gate[k][2], cs[j]));
        tanh_c[k] = ernn_x86_lstm_tanh_input(a->k, cs[j]);
    }
    ernn_x86_tanh_lookups(a->planes, tanh_c, count);
    for (int32_t k = 0; k < count; ++k) {
        const int32_t j = first + k;
        const __m128i out = _mm512_cvtsepi32_epi8(ernn_x86_lstm_h16(a->k, gate[k][3], tanh_c[k]));
        _mm_mask_storeu_epi8(copy + 16 * j, mj[j], out);
        _mm_store_si128((__m128i *)(void *)(u_next + 16 * j), _mm_xor_si128(out, _mm_set1_epi8((char)0x80)));
    }
}

/* One step of ernn_x86_lstm_lane_steps: the columns in groups of four, the groups in reverse order when
 * `reverse`. */
ERNN_X86_512V_INLINE static inline void ernn_x86_lstm_lane_step(const ernn_x86_lane_call *a, const uint8_t *u,
                                                              const uint8_t *ux, const int16_t *xp, uint8_t *u_next,
                                                              int8_t *copy, __m512i *cs, const __mmask16 *mj,
                                                              const int32_t J, const int reverse)
{
    const int32_t groups = (J + 3) / 4;
    for (int32_t i = 0; i < groups; ++i) {
        const int32_t first = 4 * (reverse ? groups - 1 - i : i);
        const int32_t count = J - first < 4 ? J - first : 4;
        ernn_x86_lstm_lane_columns(a, u, ux, xp, u_next, copy, cs, mj, J, first, count);
    }
}

/*
 * `steps` LSTM steps of a layer of J * 16 - 15 .. J * 16 units (J <= 8) with rows in lanes (see
 * ERNN_X86_LANE_RUN): step t's inputs are xu + t * 16 cx (unsigned, padded), the state comes in and goes out
 * as h (int8) and c (int16), step t's h goes to hs + t * hs_stride. J is a constant at each call site: every
 * loop over columns, gates and the recurrent input's quads unrolls, the cell state stays in registers, and no
 * index or mask is computed per step (the generic loop spent more than half of its instructions on such scalar
 * work: 854 per step at 16 inputs / 16 units, counted by single-stepping).
 * Without by_block (one column, ernn_x86_lstm_lane_kind) each step computes its own x
 * parts beside the recurrent chain. With it (J and by_block constants), the x parts of all the block's steps come
 * first (ernn_x86_lstm_lane_xparts, into xpart): the input weights are then read once per block, not per step
 * (64 units, us per step against the generic loop: 80 inputs 0.32 -> 0.20, 128 inputs 0.39 -> 0.24; 32 units,
 * 256 inputs 0.27 -> 0.17). Beyond four columns (64 KB of recurrent weights at 128 units, more than L1) every
 * other step also takes the columns in reverse order, so that a step starts on the weights the previous one used
 * last, still in L1 (128 units, 16 inputs: 0.73 -> 0.52 us per step with both, 64 inputs: 0.84 -> 0.59).
 * Exactness: each lane's dot product is the generic loop's sum of the same VPDPBUSD terms onto the same
 * adjusted bias, in another order (one accumulator per gate, not four summed at the end): sums modulo 2^32,
 * whose true value is an int32 (ernn_lstm_run_avx512), so the same integers; the requantization and the
 * element-wise step are the generic loop's functions (ernn_x86_lstm_lanes's pieces, with c in a register),
 * and the activations take the same table entries by ernn_x86_lut_entries64: a column's four gates in one
 * lookup, four columns' tanh(c) in another (AVX-512 VBMI). The order of the columns within a step changes
 * nothing: each reads only the previous step's h (u) and its own c. Lanes of absent rows (units >= n) have
 * zero bias and weights, are never stored to h, hs or c, and their h bytes meet zero weight columns in the next
 * step's dot products.
 */
ERNN_X86_512V_INLINE static inline void ernn_x86_lstm_lane_steps(const ernn_x86_lane_call *a, const uint8_t *xu,
                                                               int32_t steps, int8_t *h, int16_t *c, int8_t *hs,
                                                               size_t hs_stride, const int32_t J, const int by_block)
{
    uint8_t hu[2][16 * ERNN_X86_LANE_MAX_COLUMNS] __attribute__((aligned(64))); /* h ^ 0x80: this step's, next */
    __m512i cs[ERNN_X86_LANE_MAX_COLUMNS];
    __mmask16 mj[ERNN_X86_LANE_MAX_COLUMNS];
    ernn_x86_lane_state_in(a, J, h, c, hu[0], cs, mj);
    /* the block's x parts (steps * 128 J bytes <= ERNN_X86_RUN_BYTES: see ERNN_X86_LANE_RUN), an array of their
     * own: in one buffer with the padded inputs after them, the same steps took 5-7% longer at 128 units */
    int16_t xpart[by_block ? ERNN_X86_RUN_BYTES / sizeof(int16_t) : 1] __attribute__((aligned(64)));
    if (by_block) {
        ernn_x86_lstm_lane_xparts(a, xu, steps, xpart, J);
    }
    for (int32_t t = 0; t < steps; ++t) {
        const uint8_t *u = hu[t & 1], *ux = xu + (size_t)t * 16 * (size_t)a->cx;
        const int16_t *xp = by_block ? xpart + (int64_t)t * 64 * J : NULL;
        if (J > 4 && (t & 1)) {
            ernn_x86_lstm_lane_step(a, u, ux, xp, hu[(t & 1) ^ 1], hs + (size_t)t * hs_stride, cs, mj, J, 1);
        } else {
            ernn_x86_lstm_lane_step(a, u, ux, xp, hu[(t & 1) ^ 1], hs + (size_t)t * hs_stride, cs, mj, J, 0);
        }
    }
    ernn_x86_lane_state_out(J, hu[steps & 1], cs, mj, h, c);
}

/* 1 if the lane kernels compute a one-column layer's x parts in each step (cx 16-input chunks: up to 80 inputs),
 * else by block. A column's step with few inputs is short enough that the x parts' work fills the recurrent chain's idle
 * slots; with more inputs, and from two columns on, the x parts by block (each weight load serving four steps,
 * each input broadcast four gates, ernn_x86_lane_xsums) take fewer operations (interleaved A/B of the C step
 * alone on an Intel Xeon with AVX-512, us per step, in step / by block: 16 units, 7 inputs 0.095 / 0.107, 16
 * inputs 0.092 / 0.102, 48 inputs 0.101 / 0.113, 64 inputs 0.114 / 0.118, 96 inputs 0.108 / 0.106, 128
 * inputs 0.162 / 0.142, 200 inputs 0.50 / 0.37; 32 units, 16 inputs 0.232 / 0.216, 64 inputs 0.264 / 0.236;
 * 64 units, 64 inputs 0.589 / 0.524; the GRU's, by block / in step: 16 units, 16 inputs 0.094 / 0.084, 64
 * inputs 0.098 / 0.086). */
static inline int ernn_x86_lane_in_step(int32_t cx)
{
    return cx < 6;
}

/* How the LSTM lane kernel takes a layer of ch 16-unit columns and cx 16-input chunks on this CPU (AVX-512
 * VBMI): 1, each step computes its own x parts (one column: ernn_x86_lane_in_step); 2, the x parts of a block
 * first (up to four columns within ERNN_X86_LANE_SMALL_BYTES, five to eight within ERNN_X86_LANE_BYTES); 0, it
 * does not. */
static inline int ernn_x86_lstm_lane_kind(int32_t ch, int32_t cx)
{
    const int64_t bytes = (int64_t)4 * ch * 256 * (ch + cx);
    if (!ernn_x86_has_avx512vbmi() || ch > ERNN_X86_LANE_MAX_COLUMNS) {
        return 0;
    }
    if (ch == 1 && ernn_x86_lane_in_step(cx)) {
        return 1;
    }
    return bytes <= (ch <= 4 ? ERNN_X86_LANE_SMALL_BYTES : ERNN_X86_LANE_BYTES) ? 2 : 0;
}

/* The lane kernels' per-call constants for a cell of `gates` gate blocks (G: 4 LSTM, 3 GRU) they take
 * (ernn_x86_lstm_lane_kind, ernn_x86_gru_lane_kind): both layers' weights to rows in lanes at `lanes`, group (j, g)
 * of column j at G j + g (the x layer's groups followed by zero groups to a multiple of four: the GRU's x parts
 * take four groups at a time, ernn_x86_gru_lane_xparts), the adjusted biases in the lanes' order to lbh and lbx
 * (16 per group, the zero groups' 0), the rescales and the activation table's planes, all of it to *call (the
 * element-wise constants are the caller's). */
ERNN_X86_512 static void ernn_x86_lane_setup(const ernn_fc_params *xf, const ernn_fc_params *hf, int32_t gates, int32_t n,
                                             int32_t stride, int8_t *lanes, int32_t *lbh, int32_t *lbx,
                                             ernn_x86_rescale16 rh[4], ernn_x86_rescale16 rx[4],
                                             ernn_x86_lut_planes *planes, ernn_x86_lane_call *call)
{
    const int32_t rows = gates * stride, cx = (xf->in_features + 15) / 16, ch = (n + 15) / 16;
    const int32_t x_groups = (gates * ch + 3) / 4 * 4;
    int32_t bx[4 * 16 * ERNN_X86_LANE_MAX_COLUMNS], bh[4 * 16 * ERNN_X86_LANE_MAX_COLUMNS];
    ernn_x86_adjusted_bias(xf, rows, stride, cx, bx);
    ernn_x86_adjusted_bias(hf, rows, stride, ch, bh);
    const int64_t gx = (int64_t)256 * cx, gh = (int64_t)256 * ch; /* bytes of one 16-row group in lanes */
    int8_t *zh = lanes, *zx = lanes + gates * ch * gh;            /* group (j / 16, g) at ((j / 16) G + g) * gh, gx */
    for (int32_t j = 0; j < stride; j += 16) {
        const int32_t r = stride - j < 16 ? stride - j : 16;
        for (int32_t g = 0; g < gates; ++g) {
            ernn_x86_rows_in_lanes(hf->weight, ch, g * stride + j, r, zh + ((j / 16) * gates + g) * gh);
            ernn_x86_rows_in_lanes(xf->weight, cx, g * stride + j, r, zx + ((j / 16) * gates + g) * gx);
        }
    }
    memset(zx + gates * ch * gx, 0, (size_t)((x_groups - gates * ch) * gx));
    memset(lbx, 0, (size_t)x_groups * 16 * sizeof lbx[0]);
    for (int32_t j = 0; j < ch; ++j) {
        for (int32_t g = 0; g < gates; ++g) {
            for (int32_t l = 0; l < 16; ++l) {
                const int32_t o = g * stride + 16 * j + l;
                lbh[(gates * j + g) * 16 + l] = 16 * j + l < stride ? bh[o] : 0;
                lbx[(gates * j + g) * 16 + l] = 16 * j + l < stride ? bx[o] : 0;
            }
        }
    }
    for (int32_t g = 0; g < gates; ++g) {
        rx[g] = ernn_x86_rescale16_of(xf->multiplier[g], xf->shift[g]);
        rh[g] = ernn_x86_rescale16_of(hf->multiplier[g], hf->shift[g]);
    }
    ernn_x86_lut_planes_of(planes);
    const ernn_x86_lane_call made = {zh, zx, lbh, lbx, rh, rx, NULL, NULL, NULL, cx, n, planes};
    *call = made;
}

/* A lane kernel's steps per block: as many as ERNN_X86_RUN_BYTES holds of their padded inputs (16 cx bytes a step)
 * and of their x parts (xpart_bytes a step), at most ERNN_X86_RUN_MAX_STEPS. */
static inline int32_t ernn_x86_lane_block(int32_t xpart_bytes, int32_t cx)
{
    const int32_t per_step = xpart_bytes > 16 * cx ? xpart_bytes : 16 * cx;
    return ERNN_X86_RUN_BYTES / per_step < ERNN_X86_RUN_MAX_STEPS ? ERNN_X86_RUN_BYTES / per_step
                                                                  : ERNN_X86_RUN_MAX_STEPS;
}

/* A block's nb inputs (xs + t * x_stride, n values each) as the unsigned padded bytes at xu + t * 16 cx: all of
 * them before any output is written (the outputs may overwrite them in place). */
ERNN_X86_512 static inline void ernn_x86_lane_inputs(const int8_t *xs, size_t x_stride, int32_t nb, int32_t n,
                                                     uint8_t *xu)
{
    for (int32_t t = 0; t < nb; ++t) {
        ernn_x86_unsigned16(xs + (size_t)t * x_stride, n, xu + (size_t)t * 16 * (size_t)((n + 15) / 16));
    }
}

/*
 * ernn_lstm_run_avx512 through the lane kernel, compiled for each number of columns J (1..8) and way of computing
 * the x parts XB (ernn_x86_lstm_lane_kind: 0, in each step, one column; 1, by block), and called through
 * ernn_x86_lstm_lane_runs. Each has its own frame, sized for its J and XB (the weights with rows in lanes:
 * ERNN_X86_RUN_LANES in each step, ERNN_X86_LANE_SMALL_BYTES by block up to four columns, ERNN_X86_LANE_BYTES
 * beyond), on the stack only while it runs. A block's steps: their padded unsigned inputs (at most
 * ERNN_X86_RUN_BYTES) and, by block, their x parts (int16, 64 per column, in ernn_x86_lstm_lane_steps's frame)
 * each fit ERNN_X86_RUN_BYTES.
 */
typedef int (*ernn_x86_lane_run)(const ernn_lstm_s8_params *, int32_t, int32_t, const ernn_x86_lstm16 *,
                                 const int8_t *, size_t, int32_t, int8_t *, int16_t *, int8_t *, size_t);
#define ERNN_X86_LANE_RUN(NAME, J, XB)                                                                           \
    ERNN_X86_512V static int NAME(const ernn_lstm_s8_params *p, int32_t n, int32_t stride,                       \
                                  const ernn_x86_lstm16 *k, const int8_t *xs, size_t x_stride, int32_t steps,    \
                                  int8_t *h, int16_t *c, int8_t *hs, size_t hs_stride)                           \
    {                                                                                                            \
        const int32_t cx = (p->x_fc.in_features + 15) / 16, block = ernn_x86_lane_block(128 * (J), cx);          \
        int8_t lanes[(J) > 4 ? ERNN_X86_LANE_BYTES : (XB) ? ERNN_X86_LANE_SMALL_BYTES : ERNN_X86_RUN_LANES]     \
            __attribute__((aligned(64)));                                                                        \
        int32_t lbh[64 * (J)] __attribute__((aligned(64))), lbx[64 * (J)] __attribute__((aligned(64)));         \
        uint8_t xu[ERNN_X86_RUN_BYTES]; /* block x 16 cx bytes */                                                \
        ernn_x86_rescale16 rh[4], rx[4];                                                                         \
        ernn_x86_lut_planes planes;                                                                              \
        ernn_x86_lane_call call;                                                                                 \
        if (4 * stride > 64 * (J) || (n + 15) / 16 != (J) || ernn_x86_lstm_lane_kind(J, cx) != 1 + (XB)) {       \
            return 0;                                                                                            \
        }                                                                                                        \
        ernn_x86_lane_setup(&p->x_fc, &p->h_fc, 4, n, stride, lanes, lbh, lbx, rh, rx, &planes, &call);           \
        call.k = k;                                                                                              \
        for (int32_t t0 = 0; t0 < steps; t0 += block) {                                                          \
            const int32_t nb = steps - t0 < block ? steps - t0 : block;                                          \
            ernn_x86_lane_inputs(xs + (size_t)t0 * x_stride, x_stride, nb, p->x_fc.in_features, xu);             \
            ernn_x86_lstm_lane_steps(&call, xu, nb, h, c, hs + (size_t)t0 * hs_stride, hs_stride, J, XB);        \
        }                                                                                                        \
        return 1;                                                                                                \
    }
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run1, 1, 0)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run1x, 1, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run2x, 2, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run3x, 3, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run4x, 4, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run5x, 5, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run6x, 6, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run7x, 7, 1)
ERNN_X86_LANE_RUN(ernn_x86_lstm_lane_run8x, 8, 1)
#undef ERNN_X86_LANE_RUN
/* [x parts by block][columns - 1] (one column in each step; any number by block) */
static const ernn_x86_lane_run ernn_x86_lstm_lane_runs[2][ERNN_X86_LANE_MAX_COLUMNS] = {
    {ernn_x86_lstm_lane_run1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {ernn_x86_lstm_lane_run1x, ernn_x86_lstm_lane_run2x, ernn_x86_lstm_lane_run3x, ernn_x86_lstm_lane_run4x,
     ernn_x86_lstm_lane_run5x, ernn_x86_lstm_lane_run6x, ernn_x86_lstm_lane_run7x, ernn_x86_lstm_lane_run8x}};

/* ernn_lstm_run_avx512 by the generic loop: every layer within the path's limits that the lane kernel does not
 * take (more than 128 units, more inputs, or no AVX-512 VBMI). */
ERNN_X86_512 __attribute__((noinline)) static int ernn_x86_lstm_block_run(const ernn_lstm_s8_params *p, int32_t n,
                                                                         int32_t stride, const ernn_x86_lstm16 *k,
                                                                         const int8_t *xs, size_t x_stride,
                                                                         int32_t steps, int8_t *h, int16_t *c,
                                                                         int8_t *hs, size_t hs_stride)
{
    const ernn_fc_params *xf = &p->x_fc, *hf = &p->h_fc;
    const int32_t rows = 4 * stride;
    const int32_t cx = (xf->in_features + 15) / 16, ch = (n + 15) / 16;
    const int32_t per_step = rows * (int32_t)sizeof(int16_t) + 16 * cx;
    const int32_t block = ERNN_X86_RUN_BYTES / per_step < ERNN_X86_RUN_MAX_STEPS ? ERNN_X86_RUN_BYTES / per_step
                                                                                 : ERNN_X86_RUN_MAX_STEPS;
    if (rows > ERNN_X86_RUN_MAX_ROWS || block < 1) {
        return 0;
    }
    int32_t bx[ERNN_X86_RUN_MAX_ROWS], bh[ERNN_X86_RUN_MAX_ROWS];
    uint8_t hu[2][ERNN_X86_RUN_MAX_ROWS / 4]; /* h ^ 0x80: this step's input, the next step's */
    int16_t work[ERNN_X86_RUN_BYTES / sizeof(int16_t)];
    int16_t *xpart = work;                                          /* block x rows int16 */
    const size_t xrow = (size_t)rows, urow = 16 * (size_t)cx;        /* a step's x parts, padded input */
    uint8_t *xu = (uint8_t *)(void *)(work + (size_t)block * xrow); /* block x 16 cx bytes */
    ernn_x86_adjusted_bias(xf, rows, stride, cx, bx);
    ernn_x86_adjusted_bias(hf, rows, stride, ch, bh);
    /* Layers whose weights fit in L1 with room to spare (rows in lanes, ERNN_X86_RUN_LANES bytes): each step
     * computes its own x parts, which do not wait for the previous step, so they fill the time the recurrent
     * chain leaves idle; larger layers take the x parts by block and keep the packed layout. */
    const int32_t groups = 4 * ((stride + 15) / 16);           /* 16-row groups, per gate column j / 16 */
    const int64_t gx = (int64_t)256 * cx, gh = (int64_t)256 * ch; /* bytes of one group in lanes */
    const int inline_x = groups * (gx + gh) <= ERNN_X86_RUN_LANES;
    int8_t lanes[ERNN_X86_RUN_LANES] __attribute__((aligned(64)));
    int32_t gbuf[ERNN_X86_RUN_MAX_ROWS] __attribute__((aligned(64))); /* per 16-unit column: 4 gates x 16 */
    int8_t *zh = lanes, *zx = lanes + groups * gh; /* group (j / 16, g) at ((j / 16) * 4 + g) * gh, gx */
    for (int32_t j = 0; j < stride && inline_x; j += 16) {
        const int32_t r = stride - j < 16 ? stride - j : 16;
        for (int32_t g = 0; g < 4; ++g) {
            ernn_x86_rows_in_lanes(hf->weight, ch, g * stride + j, r, zh + ((j / 16) * 4 + g) * gh);
            ernn_x86_rows_in_lanes(xf->weight, cx, g * stride + j, r, zx + ((j / 16) * 4 + g) * gx);
        }
    }
    const __m512i max16 = _mm512_set1_epi32(INT16_MAX), min16 = _mm512_set1_epi32(INT16_MIN);
    ernn_x86_unsigned16(h, n, hu[0]); /* the padding (u = 128) meets zero weights */
    ernn_x86_unsigned16(h, n, hu[1]);
    ernn_x86_rescale16 rx[4], rh[4];
    for (int32_t g = 0; g < 4; ++g) {
        rx[g] = ernn_x86_rescale16_of(xf->multiplier[g], xf->shift[g]);
        rh[g] = ernn_x86_rescale16_of(hf->multiplier[g], hf->shift[g]);
    }
    for (int32_t t0 = 0; t0 < steps; t0 += block) {
        const int32_t nb = steps - t0 < block ? steps - t0 : block;
        for (int32_t t = 0; t < nb; ++t) {
            ernn_x86_unsigned16(xs + (size_t)(t0 + t) * x_stride, xf->in_features, xu + (size_t)t * urow);
        }
        for (int32_t g = 0; g < 4 && !inline_x; ++g) { /* the x parts: sat16(fast(x_fc(x_t))) */
            for (int32_t o = g * stride; o < (g + 1) * stride; o += 16) {
                const int32_t r = (g + 1) * stride - o < 16 ? (g + 1) * stride - o : 16;
                const __mmask16 m = (__mmask16)((1u << r) - 1u);
                const int8_t *w = xf->weight + (int64_t)o * 16 * cx;
                const __m512i b = _mm512_maskz_loadu_epi32(m, bx + o);
                for (int32_t t = 0; t < nb; ++t) {
                    const __m512i acc = _mm512_add_epi32(ernn_x86_udot16(w, xu + (size_t)t * urow, 16, cx, r / 4), b);
                    _mm256_mask_storeu_epi16(xpart + (size_t)t * xrow + (size_t)o, m,
                                             _mm512_cvtsepi32_epi16(ernn_x86_fast16(acc, &rx[g])));
                }
            }
        }
        for (int32_t t = 0; t < nb; ++t) {
            /* Sixteen units at a time: their four gates' h parts, each added to its x part (the int16 saturating
             * sum as sat16 in int32 lanes: both terms are already sat16), activated, then the element-wise
             * step; the new h goes to the other input buffer, read from the next step on. */
            const int16_t *xp = xpart + (size_t)t * xrow;
            const uint8_t *xut = xu + (size_t)t * urow;
            const uint8_t *u = hu[(t0 + t) & 1];
            uint8_t *u_next = hu[((t0 + t) & 1) ^ 1];
            int8_t *copy = hs + (size_t)(t0 + t) * hs_stride;
            /* gate g's sum sat16(h part + x part) of units j..j + 15 (rows of a whole 4-row block) */
#define ERNN_X86_GATE_SUM(j, g, out)                                                                             \
    do {                                                                                                       \
        const int32_t r_ = stride - (j) < 16 ? stride - (j) : 16;                                             \
        const __mmask16 mr_ = (__mmask16)((1u << r_) - 1u);                                                   \
        const int32_t o_ = (g) * stride + (j);                                                                \
        const int64_t group_ = ((j) / 16) * 4 + (g);                                                          \
        __m512i acc_, vx_;                                                                                    \
        if (inline_x) {                                                                                       \
            acc_ = ernn_x86_lanes_dot(zh + group_ * gh, u, ch, _mm512_maskz_loadu_epi32(mr_, bh + o_));       \
            const __m512i ax_ = ernn_x86_lanes_dot(zx + group_ * gx, xut, cx, _mm512_maskz_loadu_epi32(mr_, bx + o_)); \
            vx_ = _mm512_max_epi32(_mm512_min_epi32(ernn_x86_fast16(ax_, &rx[g]), max16), min16);            \
        } else {                                                                                              \
            acc_ = _mm512_add_epi32(ernn_x86_udot16(hf->weight + (int64_t)o_ * 16 * ch, u, 16, ch, r_ / 4),  \
                                    _mm512_maskz_loadu_epi32(mr_, bh + o_));                                  \
            vx_ = ernn_x86_load16(xp + o_, mr_);                                                              \
        }                                                                                                     \
        const __m512i vh_ = _mm512_max_epi32(_mm512_min_epi32(ernn_x86_fast16(acc_, &rh[g]), max16), min16); \
        (out) = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(vh_, vx_), max16), min16);               \
    } while (0)
            if (n <= 16) { /* one column: its chain in registers */
                __m512i gate[4];
                for (int32_t g = 0; g < 4; ++g) {
                    ERNN_X86_GATE_SUM(0, g, gate[g]);
                    gate[g] = ernn_x86_activate16(g == 2 ? ERNN_ACT_TANH : ERNN_ACT_SIGMOID, gate[g]);
                }
                const __mmask16 m = (__mmask16)((1u << n) - 1u);
                const __m128i out = _mm512_cvtsepi32_epi8(ernn_x86_lstm_lanes(k, gate[0], gate[1], gate[2], gate[3], c, m));
                _mm_mask_storeu_epi8(h, m, out);
                _mm_mask_storeu_epi8(copy, m, out);
                _mm_storeu_si128((__m128i *)(void *)u_next, _mm_xor_si128(out, _mm_set1_epi8((char)0x80)));
                continue;
            }
            /* Several columns: stage by stage over all of them (sums, activations, element-wise steps), so
             * that the columns' independent chains sit next to each other in the instruction stream. */
            /* Gate-major, the packed weights in memory order. Layers beyond L1: every other step in reverse
             * order, so that a step starts with the weights the previous one used last, still in L1. */
            if (inline_x || ((t0 + t) & 1) == 0) {
                for (int32_t g = 0; g < 4; ++g) {
                    for (int32_t j = 0; j < n; j += 16) {
                        __m512i sum;
                        ERNN_X86_GATE_SUM(j, g, sum);
                        _mm512_store_si512((void *)(gbuf + ((j / 16) * 4 + g) * 16), sum);
                    }
                }
            } else {
                for (int32_t g = 3; g >= 0; --g) {
                    for (int32_t j = (n - 1) / 16 * 16; j >= 0; j -= 16) {
                        __m512i sum;
                        ERNN_X86_GATE_SUM(j, g, sum);
                        _mm512_store_si512((void *)(gbuf + ((j / 16) * 4 + g) * 16), sum);
                    }
                }
            }
            for (int32_t j = 0; j < n; j += 16) {
                for (int32_t g = 0; g < 4; ++g) {
                    int32_t *v = gbuf + ((j / 16) * 4 + g) * 16;
                    _mm512_store_si512((void *)v, ernn_x86_activate16(g == 2 ? ERNN_ACT_TANH : ERNN_ACT_SIGMOID,
                                                                      _mm512_load_si512((const void *)v)));
                }
            }
            for (int32_t j = 0; j < n; j += 16) {
                const int32_t *v = gbuf + (j / 16) * 4 * 16;
                const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFFu : (1u << (n - j)) - 1u);
                const __m128i out = _mm512_cvtsepi32_epi8(ernn_x86_lstm_lanes(
                    k, _mm512_load_si512((const void *)v), _mm512_load_si512((const void *)(v + 16)),
                    _mm512_load_si512((const void *)(v + 32)), _mm512_load_si512((const void *)(v + 48)), c + j, m));
                _mm_mask_storeu_epi8(h + j, m, out);
                _mm_mask_storeu_epi8(copy + j, m, out);
                _mm_storeu_si128((__m128i *)(void *)(u_next + j), _mm_xor_si128(out, _mm_set1_epi8((char)0x80)));
            }
#undef ERNN_X86_GATE_SUM
        }
    }
    return 1;
}

/*
 * `steps` LSTM steps (the short form: see ernn_lstm_run_s8) on the inputs xs + t * x_stride, h (int8) and c
 * (int16) updated in place, step t's h also to hs + t * hs_stride. hs may be the inputs themselves when
 * x_stride == hs_stride: a block reads all its inputs before it writes any of its outputs, and writes no
 * row of a later block. Returns 0 (nothing done) when the layer is outside the path's limits, else 1.
 * The lane kernel's layers and the others run in functions of their own: the stack holds one path's buffers.
 */
ERNN_X86_512 static inline int ernn_lstm_run_avx512(const ernn_lstm_s8_params *p, int32_t n, int32_t stride,
                                                    const ernn_x86_lstm16 *k, const int8_t *xs, size_t x_stride,
                                                    int32_t steps, int8_t *h, int16_t *c, int8_t *hs,
                                                    size_t hs_stride)
{
    const int kind = ernn_x86_lstm_lane_kind((n + 15) / 16, (p->x_fc.in_features + 15) / 16);
    if (kind != 0) {
        return ernn_x86_lstm_lane_runs[kind - 1][(n + 15) / 16 - 1](p, n, stride, k, xs, x_stride, steps, h, c, hs,
                                                                     hs_stride);
    }
    return ernn_x86_lstm_block_run(p, n, stride, k, xs, x_stride, steps, h, c, hs, hs_stride);
}

/* For firmware_export/tests/test_gate_ports.c: the AVX2 and sixteen-lane activations on arrays. */
ERNN_X86_AVX2 static inline void ernn_x86_test_tanh_lut8(const int32_t in[8], int32_t out[8])
{
    _mm256_storeu_si256((__m256i *)(void *)out, ernn_x86_tanh_lut(_mm256_loadu_si256((const __m256i *)(const void *)in)));
}

ERNN_X86_512 static inline void ernn_x86_test_activate16(const int32_t in[16], int32_t sigmoid[16], int32_t tanh[16])
{
    const __m512i x = _mm512_loadu_si512((const void *)in);
    _mm512_storeu_si512((void *)sigmoid, ernn_x86_activate16(ERNN_ACT_SIGMOID, x));
    _mm512_storeu_si512((void *)tanh, ernn_x86_activate16(ERNN_ACT_TANH, x));
}

ERNN_X86_512 static inline void ernn_x86_test_tanh_lut16(const int32_t in[16], int32_t out[16])
{
    _mm512_storeu_si512((void *)out, ernn_x86_tanh_lut16(_mm512_loadu_si512((const void *)in)));
}

/* The lane kernels' 64-lane activations: ernn_x86_lstm_gates_packed (vectors i, f, g, o of in, int16 values; with
 * tanh_g 0 four sigmoids, the GRU's r and z of two columns) to gates, and ernn_x86_tanh_lookups of the four
 * vectors (any int32 v) to tanh. */
ERNN_X86_512V static inline void ernn_x86_test_lookups64(const int32_t in[4][16], int tanh_g, int32_t gates[4][16],
                                                         int32_t tanh[4][16])
{
    ernn_x86_lut_planes planes;
    ernn_x86_lut_planes_of(&planes);
    __m512i g[4], v[4];
    for (int32_t k = 0; k < 4; ++k) {
        g[k] = v[k] = _mm512_loadu_si512((const void *)in[k]);
    }
    if (tanh_g) {
        ernn_x86_lstm_gates_packed(&planes, _mm512_packs_epi32(g[0], g[1]), _mm512_packs_epi32(g[2], g[3]), 1, g);
    } else {
        ernn_x86_lstm_gates_packed(&planes, _mm512_packs_epi32(g[0], g[1]), _mm512_packs_epi32(g[2], g[3]), 0, g);
    }
    ernn_x86_tanh_lookups(&planes, v, 4);
    for (int32_t k = 0; k < 4; ++k) {
        _mm512_storeu_si512((void *)gates[k], g[k]);
        _mm512_storeu_si512((void *)tanh[k], v[k]);
    }
}

/*
 * A cell over a block of steps, the pieces any gated cell needs (the GRU's block path below uses them; the
 * LSTM's ernn_lstm_run_avx512 above has the same steps written out). As there: the x part of a gate row,
 * sat16(fast(x_fc(x_t))), depends on x_t alone, so it is computed apart from the recurrent chain (per step
 * from weights held with rows in lanes, or for a block of steps from the packed weights), and each step
 * computes sat16(fast(h_fc(h_t-1))); VPDPBUSD with u = x ^ 0x80 as the unsigned operand and the rows'
 * adjusted biases bias - 128 sum w (see ernn_lstm_run_avx512: the same integers as the step kernels).
 */

typedef struct {
    const ernn_fc_params *xf, *hf;
    int32_t gates, stride, rows; /* gate blocks of stride rows each */
    int32_t cx, ch;              /* chunks of 16 inputs of x_fc, h_fc */
    int32_t block;               /* steps per block of x parts (the packed layout) */
    int32_t inline_x;            /* 1: both layers with rows in lanes, each step's x parts computed with it */
    int64_t gx, gh;              /* bytes of one 16-row group in lanes, of x_fc and h_fc */
    int32_t bx[ERNN_X86_RUN_MAX_ROWS], bh[ERNN_X86_RUN_MAX_ROWS]; /* the adjusted biases */
    ernn_x86_rescale16 rx[4], rh[4];
    int8_t lanes[ERNN_X86_RUN_LANES] __attribute__((aligned(64))); /* group (j / 16, g): (j / 16) gates + g */
    uint8_t hu[2][ERNN_X86_RUN_MAX_HIDDEN];                        /* h ^ 0x80: this step's input, the next's */
    int16_t work[ERNN_X86_RUN_BYTES / sizeof(int16_t)]; /* block x rows x parts, then block x 16 cx inputs */
} ernn_x86_run;

/* Prepares r for a cell of `gates` gate blocks (h_fc's units n, h its int8 state); 0 if the layer is outside
 * the limits (the caller's _ok function checks them first). */
ERNN_X86_512 static inline int ernn_x86_run_prepare(ernn_x86_run *r, const ernn_fc_params *xf,
                                                    const ernn_fc_params *hf, int32_t gates, int32_t n,
                                                    const int8_t *h)
{
    r->xf = xf;
    r->hf = hf;
    r->gates = gates;
    r->stride = xf->out_features / gates;
    r->rows = xf->out_features;
    r->cx = (xf->in_features + 15) / 16;
    r->ch = (n + 15) / 16;
    const int32_t per_step = r->rows * (int32_t)sizeof(int16_t) + 16 * r->cx;
    r->block = ERNN_X86_RUN_BYTES / per_step < ERNN_X86_RUN_MAX_STEPS ? ERNN_X86_RUN_BYTES / per_step
                                                                      : ERNN_X86_RUN_MAX_STEPS;
    if (r->rows > ERNN_X86_RUN_MAX_ROWS || n > ERNN_X86_RUN_MAX_HIDDEN || r->block < 1 || gates > 4) {
        return 0;
    }
    ernn_x86_adjusted_bias(xf, r->rows, r->stride, r->cx, r->bx);
    ernn_x86_adjusted_bias(hf, r->rows, r->stride, r->ch, r->bh);
    for (int32_t g = 0; g < gates; ++g) {
        r->rx[g] = ernn_x86_rescale16_of(xf->multiplier[g], xf->shift[g]);
        r->rh[g] = ernn_x86_rescale16_of(hf->multiplier[g], hf->shift[g]);
    }
    const int32_t groups = gates * ((r->stride + 15) / 16);
    r->gx = (int64_t)256 * r->cx;
    r->gh = (int64_t)256 * r->ch;
    r->inline_x = groups * (r->gx + r->gh) <= ERNN_X86_RUN_LANES;
    for (int32_t j = 0; j < r->stride && r->inline_x; j += 16) {
        const int32_t rows = r->stride - j < 16 ? r->stride - j : 16;
        for (int32_t g = 0; g < gates; ++g) {
            const int64_t group = (j / 16) * gates + g;
            ernn_x86_rows_in_lanes(hf->weight, r->ch, g * r->stride + j, rows, r->lanes + group * r->gh);
            ernn_x86_rows_in_lanes(xf->weight, r->cx, g * r->stride + j, rows,
                                   r->lanes + groups * r->gh + group * r->gx);
        }
    }
    ernn_x86_unsigned16(h, n, r->hu[0]); /* the padding (u = 128) meets zero weights */
    ernn_x86_unsigned16(h, n, r->hu[1]);
    return 1;
}

/* The block's x parts, steps [t0, t0 + nb): the unsigned inputs (all of them read before any output is
 * written: the outputs may overwrite them), and with the packed layout sat16(fast(x_fc(x_t))) of every
 * row, one 16-row group at a time over the block's steps (its weights stay in L1). */
ERNN_X86_512 static inline void ernn_x86_run_xparts(ernn_x86_run *r, const int8_t *xs, size_t x_stride, int32_t nb)
{
    uint8_t *xu = (uint8_t *)(void *)(r->work + (size_t)r->block * (size_t)r->rows);
    for (int32_t t = 0; t < nb; ++t) {
        ernn_x86_unsigned16(xs + (size_t)t * x_stride, r->xf->in_features, xu + (size_t)t * 16 * (size_t)r->cx);
    }
    for (int32_t g = 0; g < r->gates && !r->inline_x; ++g) {
        for (int32_t o = g * r->stride; o < (g + 1) * r->stride; o += 16) {
            const int32_t rows = (g + 1) * r->stride - o < 16 ? (g + 1) * r->stride - o : 16;
            const __mmask16 m = (__mmask16)((1u << rows) - 1u);
            const int8_t *w = r->xf->weight + (int64_t)o * 16 * r->cx;
            const __m512i b = _mm512_maskz_loadu_epi32(m, r->bx + o);
            for (int32_t t = 0; t < nb; ++t) {
                const __m512i acc =
                    _mm512_add_epi32(ernn_x86_udot16(w, xu + (size_t)t * 16 * (size_t)r->cx, 16, r->cx, rows / 4), b);
                _mm256_mask_storeu_epi16(r->work + (size_t)t * (size_t)r->rows + (size_t)o, m,
                                         _mm512_cvtsepi32_epi16(ernn_x86_fast16(acc, &r->rx[g])));
            }
        }
    }
}

/* sat16 of an int32 lane (the values stay sign-extended in the lanes). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_sat16x16(__m512i v)
{
    return _mm512_max_epi32(_mm512_min_epi32(v, _mm512_set1_epi32(INT16_MAX)), _mm512_set1_epi32(INT16_MIN));
}

/* Gate g's h part sat16(fast(h_fc(h))) of units j..j + 15 in int32 lanes, u = h ^ 0x80 padded (lanes of
 * absent units: values the caller does not store). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_run_h16(const ernn_x86_run *r, const uint8_t *u, int32_t j,
                                                            int32_t g)
{
    const int32_t rows = r->stride - j < 16 ? r->stride - j : 16, o = g * r->stride + j;
    const __m512i b = _mm512_maskz_loadu_epi32((__mmask16)((1u << rows) - 1u), r->bh + o);
    const __m512i acc =
        r->inline_x ? ernn_x86_lanes_dot(r->lanes + ((j / 16) * r->gates + g) * r->gh, u, r->ch, b)
                    : _mm512_add_epi32(ernn_x86_udot16(r->hf->weight + (int64_t)o * 16 * r->ch, u, 16, r->ch, rows / 4),
                                       b);
    return ernn_x86_sat16x16(ernn_x86_fast16(acc, &r->rh[g]));
}

/* Gate g's x part sat16(fast(x_fc(x_t))) of units j..j + 15 for the block's step t (see ernn_x86_run_h16). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_run_x16(const ernn_x86_run *r, int32_t t, int32_t j, int32_t g)
{
    const int32_t rows = r->stride - j < 16 ? r->stride - j : 16, o = g * r->stride + j;
    const __mmask16 m = (__mmask16)((1u << rows) - 1u);
    if (!r->inline_x) {
        return ernn_x86_load16(r->work + (size_t)t * (size_t)r->rows + (size_t)o, m);
    }
    const int32_t groups = r->gates * ((r->stride + 15) / 16);
    const uint8_t *xu = (const uint8_t *)(const void *)(r->work + (size_t)r->block * (size_t)r->rows);
    const __m512i acc = ernn_x86_lanes_dot(r->lanes + groups * r->gh + ((j / 16) * r->gates + g) * r->gx,
                                           xu + (size_t)t * 16 * (size_t)r->cx, r->cx,
                                           _mm512_maskz_loadu_epi32(m, r->bx + o));
    return ernn_x86_sat16x16(ernn_x86_fast16(acc, &r->rx[g]));
}

/* The new h of units j..j + 15 (int32 lanes, m) to the state h, the step's output and the next step's u. */
ERNN_X86_512_INLINE static inline void ernn_x86_run_out(__m512i v, __mmask16 m, int8_t *h, int8_t *copy,
                                                        uint8_t *u_next)
{
    const __m128i out = _mm512_cvtsepi32_epi8(v);
    _mm_mask_storeu_epi8(h, m, out);
    _mm_mask_storeu_epi8(copy, m, out);
    _mm_storeu_si128((__m128i *)(void *)u_next, _mm_xor_si128(out, _mm_set1_epi8((char)0x80)));
}

/*
 * The GRU over a block of steps (ernn_gru_run_s8, AVX-512 VNNI). Step by step the GRU computes (ernn_gru_s8.c,
 * through ernn_cell_fcs_avx512vnni and ernn_gru_fast_avx512, or their portable forms, the same integers):
 *   r = sigmoid(sat16(X_r + H_r)), z = sigmoid(sat16(X_z + H_z)), with X_g = sat16(fast(x_fc(x_t))[g]) and
 *   H_g = sat16(fast(h_fc(h_t-1))[g]); x_n = X_n and h_n = H_n, kept apart;
 *   then the element-wise step of ernn_x86_gru_lanes on r, z, x_n, h_n and the int16 state h_q15.
 * X_r, X_z and X_n are functions of x_t alone; here they are the same integers computed by
 * ernn_x86_run_x16 (the same dot product modulo 2^32, exact for bounded layers, the same fast16 and sat16),
 * and each step computes H_r, H_z, H_n from h_t-1 the same way (ernn_x86_run_h16); the sums sat16(X + H)
 * are sat16 of two int16 values in int32 lanes (the step kernel's saturating int16 add), then the same
 * activations and the same element-wise lanes. So every step yields the integers of ernn_gru_step_s8: h
 * (int8) and h_q15 (int16) carried from step to step, exactly, as step t's h is the next step's input
 * through u (h ^ 0x80). Units of one step go in chunks of up to four 16-unit columns held in registers
 * (their independent chains side by side in the instruction stream). With AVX-512 VBMI, cells of up to 128 units
 * run the GRU lane kernel instead (ernn_x86_gru_lane_steps), the same integers written out per column.
 */
/* Columns j0 .. j0 + 16 * cols of step t (cols 1..4, a constant after inlining). */
ERNN_X86_512_INLINE static inline void ernn_x86_gru_columns(const ernn_x86_run *r, const ernn_x86_gru16 *k,
                                                            int32_t n, int32_t t, const uint8_t *u, uint8_t *u_next,
                                                            int32_t j0, int32_t cols, int8_t *h, int16_t *h_q15,
                                                            int8_t *copy)
{
    __m512i gr[4], gz[4], xn[4], hn[4];
    for (int32_t c = 0; c < cols; ++c) {
        const int32_t j = j0 + 16 * c;
        gr[c] = ernn_x86_sat16x16(_mm512_add_epi32(ernn_x86_run_h16(r, u, j, 0), ernn_x86_run_x16(r, t, j, 0)));
        gz[c] = ernn_x86_sat16x16(_mm512_add_epi32(ernn_x86_run_h16(r, u, j, 1), ernn_x86_run_x16(r, t, j, 1)));
        hn[c] = ernn_x86_run_h16(r, u, j, 2);
        xn[c] = ernn_x86_run_x16(r, t, j, 2);
    }
    for (int32_t c = 0; c < cols; ++c) {
        gr[c] = ernn_x86_activate16(ERNN_ACT_SIGMOID, gr[c]);
        gz[c] = ernn_x86_activate16(ERNN_ACT_SIGMOID, gz[c]);
    }
    for (int32_t c = 0; c < cols; ++c) {
        const int32_t j = j0 + 16 * c;
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFFu : (1u << (n - j)) - 1u);
        ernn_x86_run_out(ernn_x86_gru_lanes(k, gr[c], gz[c], xn[c], hn[c], h_q15 + j, m), m, h + j, copy + j,
                         u_next + j);
    }
}

/*
 * The GRU lane kernel (AVX-512 VBMI): ernn_gru_run_avx512's steps for a cell of J <= 8 16-unit columns, as the LSTM's
 * (ernn_x86_lstm_lane_steps): both layers' weights with rows in lanes (ernn_x86_lane_setup, three groups r, z, n
 * per column), the x parts of a block's steps first (ernn_x86_gru_lane_xparts), then step by step the recurrent sums
 * of up to four columns together (one broadcast of each quad of h for all their gates), every column's r and z
 * by the 64-lane lookup (two columns a lookup) and the candidates' tanh by another (four columns), the state h_q15
 * in registers. The integers are those of ernn_x86_gru_columns, written out:
 *  - X_g = sat16(fast(x_fc(x_t))[g]) and H_g = sat16(fast(h_fc(h_t-1))[g]): the same VPDPBUSD terms on the same
 *    adjusted biases in another order (sums modulo 2^32 whose true value is an int32), the same fast16 and sat16;
 *  - the x parts kept as fast(x_fc(x_t))[g] in int32 lanes, their sat16 taken where they are used, by VPACKSSDW;
 *  - sat16(X_r + H_r) and sat16(X_z + H_z) as one saturating int16 add of the VPACKSSDW pairs (each pack the
 *    sat16s of its two gates), the pairs' order ernn_x86_lstm_gates_packed's (tanh_g 0: sigmoids);
 *  - the candidate's tanh of 3 sat16(x_n + sat16(fast(r h_n))) of two columns at a time, their x_n and their
 *    fast(r h_n) each packed by VPACKSSDW (the sat16s) and added by the saturating int16 add, looked up by
 *    ernn_x86_tanh3_packed (ernn_x86_lstm_gates_packed's tanh, the entries of ernn_x86_activate16's lookup);
 *  - ernn_x86_gru_lanes' keep and update in two operations each (ernn_x86_pow2_product16), without their sat16:
 *    with gate_mul 2^-15 or smaller (right >= 14: ernn_x86_gru_lane_kind) |z h_q15| and |(1 - z) n| are at most
 *    32767 * 32768 < 2^30, whose rescale (x + 1 + 2^r - 2 [x < 0]) >> (r + 1) is in [-32767, 32767]; then the
 *    blend sat16(keep + update) (a clamp: VPMOVSDW's value) and the new h, sat8(fast(h_q15) + zero point).
 * Lanes of absent units (>= n) have zero weights and biases, are never stored to h, hs or h_q15, and their h
 * bytes meet zero weight columns in the next step.
 */

/* 1 if the GRU lane kernel takes a cell of ch 16-unit columns and cx 16-input chunks on this CPU (AVX-512 VBMI)
 * whose gate_mul is the IR's 2^-15 or a smaller power of two (ernn_x86_pow2_ok: multiplier 2^30, right 14..29; the
 * products z h_q15 and (1 - z) n rescaled in two operations, ernn_x86_pow2_product16, |z h_q15| < 2^30, and
 * within int16 without a clamp): its weights in lanes within the LSTM's limits (ERNN_X86_LANE_SMALL_BYTES up to
 * four columns, ERNN_X86_LANE_BYTES to eight). */
static inline int ernn_x86_gru_lane_kind(int32_t ch, int32_t cx, const ernn_gru_s8_params *p)
{
    const int64_t bytes = (int64_t)256 * (3 * ch * ch + (3 * ch + 3) / 4 * 4 * cx);
    return ernn_x86_has_avx512vbmi() && ch <= ERNN_X86_LANE_MAX_COLUMNS &&
           bytes <= (ch <= 4 ? ERNN_X86_LANE_SMALL_BYTES : ERNN_X86_LANE_BYTES) &&
           ernn_x86_pow2_ok(p->gate_mul.multiplier, -p->gate_mul.shift) && -p->gate_mul.shift >= 14;
}

/* The x parts fast(x_fc(x_t))[g] (X_g before its sat16) of `steps` steps (inputs xu + t * 16 cx, unsigned, padded)
 * as int32 lanes to xpart + t * 48 J + (3 j + g) * 16: the layer's groups four at a time in ernn_x86_lane_setup's
 * flat order, each four by ernn_x86_lane_xsums over four steps, the last two by ernn_x86_lane_xsums2 where only
 * two remain (the zero groups after the last column's are not stored). */
ERNN_X86_512V_INLINE static inline void ernn_x86_gru_lane_xparts(const ernn_x86_lane_call *a, const uint8_t *xu,
                                                               int32_t steps, int32_t *xpart, const int32_t J)
{
    const int64_t gx = (int64_t)256 * a->cx;
    const size_t per_step = 16 * (size_t)a->cx;
    for (int32_t i = 0; i < 3 * J; i += 4) {
        for (int32_t t = 0; t < steps; t += 4) {
            const int32_t count = steps - t < 4 ? steps - t : 4;
            __m512i sums[4][4];
            (3 * J - i <= 2 ? ernn_x86_lane_xsums2 : ernn_x86_lane_xsums)(a->zx + i * gx, gx, a->bx + i * 16,
                                                                         xu + (size_t)t * per_step, per_step, count,
                                                                         4 * a->cx, sums);
            for (int32_t s = 0; s < count; ++s) {
                for (int32_t g = 0; g < 4 && i + g < 3 * J; ++g) {
                    _mm512_store_si512((void *)(xpart + (int64_t)(t + s) * 48 * J + (i + g) * 16),
                                       ernn_x86_fast16(sums[s][g], &a->rx[(i + g) % 3]));
                }
            }
        }
    }
}

/* tanh of 3 v for two vectors of int16 values packed by VPACKSSDW (each 128-bit lane the first vector's four
 * values, then the second's), as ernn_x86_tanh_lookups gives them for 3 v, out[0..1] in int32 lanes, unit order:
 * the tanh gate of ernn_x86_lstm_gates_packed on 32 lanes. */
ERNN_X86_512V_INLINE static inline void ernn_x86_tanh3_packed(const ernn_x86_lut_planes *p, __m512i v, __m512i out[2])
{
    const __m512i a = _mm512_abs_epi16(v);
    const __m512i index = _mm512_min_epu16(_mm512_mulhi_epu16(a, _mm512_set1_epi16(3 << 8)), _mm512_set1_epi16(255));
    const __m512i fraction = _mm512_and_si512(_mm512_mullo_epi16(a, _mm512_set1_epi16(3)), _mm512_set1_epi16(255));
    __m512i entry[4];
    ernn_x86_lut_bytes64(p, _mm512_packus_epi16(index, _mm512_setzero_si512()), entry);
    const __m512i bits = _mm512_set1_epi16(256), zero = _mm512_setzero_si512();
    const __m512i operand[2] = {_mm512_unpacklo_epi16(fraction, bits), _mm512_unpackhi_epi16(fraction, bits)};
    const __mmask16 negative[2] = {_mm512_cmplt_epi32_mask(_mm512_unpacklo_epi16(v, v), zero),
                                   _mm512_cmplt_epi32_mask(_mm512_unpackhi_epi16(v, v), zero)};
    for (int32_t k = 0; k < 2; ++k) {
        const __m512i pos = _mm512_srai_epi32(_mm512_dpwssd_epi32(_mm512_set1_epi32(1 << 7), entry[k], operand[k]), 8);
        out[k] = _mm512_mask_sub_epi32(pos, negative[k], zero, pos);
    }
}

/* Columns first .. first + count - 1 (count <= 4, a constant) of one GRU step, stage by stage, every value in a
 * register (as ernn_x86_lstm_lane_columns; one or two columns: each gate's quads in two chains). xp: the step's
 * x parts (NULL: computed here from its input ux); hq: the columns' h_q15 in int32 lanes. */
ERNN_X86_512V_INLINE static inline void ernn_x86_gru_lane_columns(const ernn_x86_lane_call *a, const uint8_t *u,
                                                                const uint8_t *ux, const int32_t *xp, uint8_t *u_next,
                                                                int8_t *copy, __m512i *hq, const __mmask16 *mj,
                                                                const int32_t J, const int32_t first,
                                                                const int32_t count)
{
    const ernn_x86_gru16 *k = a->gru;
    const ernn_x86_pow2_16 *gate = a->gate_pow2;
    __m512i ah[4][4];
    ernn_x86_lane_recurrent_sums(a, u, J, first, count, 3, ah);
    __m512i pair[4], hn[4], xn[4], r[4], z[4], candidate[4];
    for (int32_t c = 0; c < count; ++c) {
        const int32_t j = first + c;
        __m512i x[4]; /* ernn_x86_lane_quads' array, three gates used */
        if (xp == NULL) { /* as ernn_x86_gru_lane_xparts, off the recurrent chain */
            const int64_t gx = (int64_t)256 * a->cx;
            for (int32_t g = 0; g < 3; ++g) {
                x[g] = _mm512_load_si512((const void *)(a->bx + (3 * j + g) * 16));
            }
            ernn_x86_lane_quads(x, ux, a->zx + 3 * j * gx, gx, 4 * a->cx, 3);
            for (int32_t g = 0; g < 3; ++g) {
                x[g] = ernn_x86_fast16(x[g], &a->rx[g]);
            }
        } else {
            for (int32_t g = 0; g < 3; ++g) {
                x[g] = _mm512_load_si512((const void *)(xp + (3 * j + g) * 16));
            }
        }
        pair[c] = _mm512_adds_epi16(_mm512_packs_epi32(ernn_x86_fast16(ah[c][0], &a->rh[0]),
                                                       ernn_x86_fast16(ah[c][1], &a->rh[1])),
                                    _mm512_packs_epi32(x[0], x[1]));
        hn[c] = ernn_x86_sat16x16(ernn_x86_fast16(ah[c][2], &a->rh[2]));
        xn[c] = x[2];
    }
    for (int32_t c = 0; c < count; c += 2) { /* r and z of columns c and c + 1 in one lookup */
        __m512i g[4];
        ernn_x86_lstm_gates_packed(a->planes, pair[c], c + 1 < count ? pair[c + 1] : _mm512_setzero_si512(), 0, g);
        r[c] = g[0];
        z[c] = g[1];
        r[c + 1] = g[2];
        z[c + 1] = g[3];
    }
    for (int32_t c = 0; c < count; c += 2) { /* tanh(n): the table's v = 3 sat16(x_n + sat16(fast(r h_n))) */
        const __m512i rh0 = ernn_x86_fast16(ernn_x86_gate_mul16(r[c], hn[c]), &k->rm);
        const __m512i rh1 = c + 1 < count ? ernn_x86_fast16(ernn_x86_gate_mul16(r[c + 1], hn[c + 1]), &k->rm)
                                          : _mm512_setzero_si512();
        const __m512i xn1 = c + 1 < count ? xn[c + 1] : _mm512_setzero_si512();
        ernn_x86_tanh3_packed(a->planes,
                              _mm512_adds_epi16(_mm512_packs_epi32(xn[c], xn1), _mm512_packs_epi32(rh0, rh1)),
                              candidate + c);
    }
    for (int32_t c = 0; c < count; ++c) {
        const int32_t j = first + c;
        const __m512i keep = ernn_x86_pow2_product16(_mm512_or_si512(z[c], _mm512_set1_epi32(2 << 16)), hq[j], gate);
        const __m512i one_minus_z = _mm512_sub_epi32(_mm512_set1_epi32(INT16_MAX + (2 << 16)), z[c]);
        const __m512i update = ernn_x86_pow2_product16(one_minus_z, candidate[c], gate);
        hq[j] = ernn_x86_sat16x16(_mm512_add_epi32(keep, update));
        const __m128i out = _mm512_cvtsepi32_epi8(_mm512_add_epi32(ernn_x86_fast16(hq[j], &k->hm), k->zero_point));
        _mm_mask_storeu_epi8(copy + 16 * j, mj[j], out);
        _mm_store_si128((__m128i *)(void *)(u_next + 16 * j), _mm_xor_si128(out, _mm_set1_epi8((char)0x80)));
    }
}

/* `steps` GRU steps of a layer of J * 16 - 15 .. J * 16 units (J a constant at each call site): step t's inputs at
 * xu + t * 16 cx (unsigned, padded), the state in and out as h (int8) and h_q15 (int16), step t's h also to
 * hs + t * hs_stride; the block's x parts first (one column with few inputs: in each step, ernn_x86_lane_in_step),
 * then the steps, their columns in groups of four (beyond four columns every other step in reverse order, as
 * ernn_x86_lstm_lane_steps: the weights used last still in L1). */
ERNN_X86_512V_INLINE static inline void ernn_x86_gru_lane_steps(const ernn_x86_lane_call *a, const uint8_t *xu,
                                                              int32_t steps, int8_t *h, int16_t *h_q15, int8_t *hs,
                                                              size_t hs_stride, const int32_t J)
{
    uint8_t hu[2][16 * ERNN_X86_LANE_MAX_COLUMNS] __attribute__((aligned(64))); /* h ^ 0x80: this step's, next */
    __m512i hq[ERNN_X86_LANE_MAX_COLUMNS];
    __mmask16 mj[ERNN_X86_LANE_MAX_COLUMNS];
    ernn_x86_lane_state_in(a, J, h, h_q15, hu[0], hq, mj);
    if (J == 1 && ernn_x86_lane_in_step(a->cx)) {
        for (int32_t t = 0; t < steps; ++t) {
            ernn_x86_gru_lane_columns(a, hu[t & 1], xu + (size_t)t * 16 * (size_t)a->cx, NULL, hu[(t & 1) ^ 1],
                                      hs + (size_t)t * hs_stride, hq, mj, J, 0, 1);
        }
        ernn_x86_lane_state_out(J, hu[steps & 1], hq, mj, h, h_q15);
        return;
    }
    int32_t xpart[ERNN_X86_RUN_BYTES / sizeof(int32_t)] __attribute__((aligned(64))); /* steps * 192 J bytes */
    ernn_x86_gru_lane_xparts(a, xu, steps, xpart, J);
    const int32_t groups = (J + 3) / 4;
    for (int32_t t = 0; t < steps; ++t) {
        const uint8_t *u = hu[t & 1];
        for (int32_t i = 0; i < groups; ++i) {
            const int32_t first = 4 * (J > 4 && (t & 1) ? groups - 1 - i : i);
            const int32_t count = J - first < 4 ? J - first : 4;
            ernn_x86_gru_lane_columns(a, u, NULL, xpart + (int64_t)t * 48 * J, hu[(t & 1) ^ 1],
                                      hs + (size_t)t * hs_stride, hq, mj, J, first, count);
        }
    }
    ernn_x86_lane_state_out(J, hu[steps & 1], hq, mj, h, h_q15);
}

/* ernn_gru_run_avx512 through the GRU lane kernel, compiled for each number of columns J (1..8) and called through
 * ernn_x86_gru_lane_runs; its frame as the LSTM's by block (ERNN_X86_LANE_RUN), a block's x parts 192 J bytes a
 * step. */
typedef int (*ernn_x86_gru_lane_run)(const ernn_gru_s8_params *, int32_t, int32_t, const ernn_x86_gru16 *,
                                     const int8_t *, size_t, int32_t, int8_t *, int16_t *, int8_t *, size_t);
#define ERNN_X86_GRU_LANE_RUN(NAME, J)                                                                           \
    ERNN_X86_512V static int NAME(const ernn_gru_s8_params *p, int32_t n, int32_t stride,                       \
                                  const ernn_x86_gru16 *k, const int8_t *xs, size_t x_stride, int32_t steps,     \
                                  int8_t *h, int16_t *h_q15, int8_t *hs, size_t hs_stride)                       \
    {                                                                                                            \
        const int32_t cx = (p->x_fc.in_features + 15) / 16, block = ernn_x86_lane_block(192 * (J), cx);          \
        int8_t lanes[(J) > 4 ? ERNN_X86_LANE_BYTES : ERNN_X86_LANE_SMALL_BYTES] __attribute__((aligned(64)));    \
        int32_t lbh[64 * (J)] __attribute__((aligned(64))), lbx[64 * (J)] __attribute__((aligned(64)));         \
        uint8_t xu[ERNN_X86_RUN_BYTES]; /* block x 16 cx bytes */                                                \
        ernn_x86_rescale16 rh[4], rx[4];                                                                         \
        ernn_x86_lut_planes planes;                                                                              \
        ernn_x86_lane_call call;                                                                                 \
        if (3 * stride > 48 * (J) || (n + 15) / 16 != (J) || !ernn_x86_gru_lane_kind(J, cx, p)) {                \
            return 0;                                                                                            \
        }                                                                                                        \
        const ernn_x86_pow2_16 gate_pow2 = ernn_x86_pow2_16_of(-p->gate_mul.shift);                              \
        ernn_x86_lane_setup(&p->x_fc, &p->h_fc, 3, n, stride, lanes, lbh, lbx, rh, rx, &planes, &call);           \
        call.gru = k;                                                                                            \
        call.gate_pow2 = &gate_pow2;                                                                             \
        for (int32_t t0 = 0; t0 < steps; t0 += block) {                                                          \
            const int32_t nb = steps - t0 < block ? steps - t0 : block;                                          \
            ernn_x86_lane_inputs(xs + (size_t)t0 * x_stride, x_stride, nb, p->x_fc.in_features, xu);             \
            ernn_x86_gru_lane_steps(&call, xu, nb, h, h_q15, hs + (size_t)t0 * hs_stride, hs_stride, J);         \
        }                                                                                                        \
        return 1;                                                                                                \
    }
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run1, 1)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run2, 2)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run3, 3)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run4, 4)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run5, 5)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run6, 6)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run7, 7)
ERNN_X86_GRU_LANE_RUN(ernn_x86_gru_lane_run8, 8)
#undef ERNN_X86_GRU_LANE_RUN
static const ernn_x86_gru_lane_run ernn_x86_gru_lane_runs[ERNN_X86_LANE_MAX_COLUMNS] = {
    ernn_x86_gru_lane_run1, ernn_x86_gru_lane_run2, ernn_x86_gru_lane_run3, ernn_x86_gru_lane_run4,
    ernn_x86_gru_lane_run5, ernn_x86_gru_lane_run6, ernn_x86_gru_lane_run7, ernn_x86_gru_lane_run8};

/*
 * `steps` GRU steps (the short form: see ernn_gru_run_s8) on the inputs xs + t * x_stride, h (int8) and h_q15
 * (int16) updated in place, step t's h also to hs + t * hs_stride. hs may be the inputs themselves when
 * x_stride == hs_stride: a block reads all its inputs before it writes any of its outputs, and writes no row
 * of a later block. Returns 0 (nothing done) when the layer is outside the path's limits, else 1.
 */
ERNN_X86_512 __attribute__((noinline)) static int ernn_x86_gru_block_run(const ernn_gru_s8_params *p, int32_t n,
                                                                       const ernn_x86_gru16 *k, const int8_t *xs,
                                                                       size_t x_stride, int32_t steps, int8_t *h,
                                                                       int16_t *h_q15, int8_t *hs, size_t hs_stride)
{
    ernn_x86_run r;
    if (!ernn_x86_run_prepare(&r, &p->x_fc, &p->h_fc, 3, n, h)) {
        return 0;
    }
    for (int32_t t0 = 0; t0 < steps; t0 += r.block) {
        const int32_t nb = steps - t0 < r.block ? steps - t0 : r.block;
        ernn_x86_run_xparts(&r, xs + (size_t)t0 * x_stride, x_stride, nb);
        for (int32_t t = 0; t < nb; ++t) {
            const uint8_t *u = r.hu[(t0 + t) & 1];
            uint8_t *u_next = r.hu[((t0 + t) & 1) ^ 1];
            int8_t *copy = hs + (size_t)(t0 + t) * hs_stride;
            int32_t j = 0;
            for (; n - j > 48; j += 64) {
                ernn_x86_gru_columns(&r, k, n, t, u, u_next, j, 4, h, h_q15, copy);
            }
            if (n - j > 32) {
                ernn_x86_gru_columns(&r, k, n, t, u, u_next, j, 3, h, h_q15, copy);
            } else if (n - j > 16) {
                ernn_x86_gru_columns(&r, k, n, t, u, u_next, j, 2, h, h_q15, copy);
            } else if (n - j > 0) {
                ernn_x86_gru_columns(&r, k, n, t, u, u_next, j, 1, h, h_q15, copy);
            }
        }
    }
    return 1;
}

/* The GRU over a block of steps: the lane kernel where it takes the cell (ernn_x86_gru_lane_kind), else the
 * generic loop, each in a frame of its own (not inlined here: one call's stack is one of them, not both). */
ERNN_X86_512 static inline int ernn_gru_run_avx512(const ernn_gru_s8_params *p, int32_t n, int32_t stride,
                                                   const ernn_x86_gru16 *k, const int8_t *xs, size_t x_stride,
                                                   int32_t steps, int8_t *h, int16_t *h_q15, int8_t *hs,
                                                   size_t hs_stride)
{
    if (ernn_x86_gru_lane_kind((n + 15) / 16, (p->x_fc.in_features + 15) / 16, p)) {
        return ernn_x86_gru_lane_runs[(n + 15) / 16 - 1](p, n, stride, k, xs, x_stride, steps, h, h_q15, hs,
                                                         hs_stride);
    }
    return ernn_x86_gru_block_run(p, n, k, xs, x_stride, steps, h, h_q15, hs, hs_stride);
}

/* ernn_x86_fast16 with its constants per lane: sixteen rows of a layer with a rescale per row (a per-channel
 * head). The odd lanes' multiplier and rounding sit in the even positions for their VPMULDQ. */
typedef struct {
    __m512i multiplier, multiplier_odd, offset_even, offset_odd, left, right, sign_shift;
} ernn_x86_rows16;

/* The rescales of rows o..o + 15 of p (fc_packed's layer_rescale for a bounded layer; rows >= out_features:
 * zero constants, their lanes never stored). */
ERNN_X86_512 static inline ernn_x86_rows16 ernn_x86_rows16_of(const ernn_fc_params *p, int32_t o)
{
    int32_t multiplier[16], left[16], right[16], sign_shift[16];
    int64_t offset[16];
    for (int32_t k = 0; k < 16; ++k) {
        const int32_t row = o + k, g = p->group_rows > 0 ? row / p->group_rows : row;
        const ernn_fast_rescale f = row < p->out_features ? ernn_fast_of(p->multiplier[g], p->shift[g])
                                                          : ernn_fast_of(0, 0);
        multiplier[k] = f.multiplier;
        left[k] = f.left;
        right[k] = f.right;
        sign_shift[k] = f.mask != 0 ? 31 : 32;
        offset[k] = ((int64_t)f.round << 32) + ((int64_t)1 << 31);
    }
    ernn_x86_rows16 r;
    r.multiplier = _mm512_loadu_si512((const void *)multiplier);
    r.multiplier_odd = _mm512_shuffle_epi32(r.multiplier, _MM_PERM_CDAB);
    const __m512i even = _mm512_set_epi64(offset[14], offset[12], offset[10], offset[8], offset[6], offset[4],
                                          offset[2], offset[0]);
    const __m512i odd = _mm512_set_epi64(offset[15], offset[13], offset[11], offset[9], offset[7], offset[5],
                                         offset[3], offset[1]);
    r.offset_even = even;
    r.offset_odd = odd;
    r.left = _mm512_loadu_si512((const void *)left);
    r.right = _mm512_loadu_si512((const void *)right);
    r.sign_shift = _mm512_loadu_si512((const void *)sign_shift);
    return r;
}

/* ernn_x86_fast16's operations lane by lane with each lane's constants (the same integers per lane). */
ERNN_X86_512_INLINE static inline __m512i ernn_x86_fast16_rows(__m512i x, const ernn_x86_rows16 *r)
{
    const __m512i a = _mm512_sllv_epi32(x, r->left);
    const __m512i t = ernn_x86_smmulr16(a, r->multiplier, r->multiplier_odd, r->offset_even, r->offset_odd);
    return _mm512_srav_epi32(_mm512_sub_epi32(t, _mm512_srlv_epi32(a, r->sign_shift)), r->right);
}

/*
 * A packed int8 layer on many inputs (the model's head over a block of steps, ernn_fc_s8_s8_rows):
 * ys[t * y_stride + o] = clamp(fast_out(bias[o] + w[o] . xs[t]) + output_zero_point, -128, 127), fc_packed's
 * bounded int8 rows. The dot products as the LSTM block path's (the inputs + 128 against the weights, 128 sum w
 * folded into the bias once per call: modulo 2^32, and the true sum is an int32 by the layer's bound), the
 * requantization by ernn_x86_fast16_rows, which is ernn_fast_out's where |acc| 2^left < 2^31 (the bound again).
 * Takes packed (K = 16), bounded (1 or 3) layers of at most 256 rows and 256 inputs; returns 0 (nothing done)
 * otherwise.
 */
ERNN_X86_512 static inline int ernn_fc_rows_avx512(const ernn_fc_params *p, const int8_t *xs, size_t x_stride,
                                                   int32_t steps, int8_t *ys, size_t y_stride)
{
    const int32_t rows = ernn_round_up(p->out_features, 4), chunks = (p->in_features + 15) / 16;
    if (p->packing != 16 || (p->bounded != 1 && p->bounded != 3) || rows > 256 || chunks > 16) {
        return 0;
    }
    int32_t bias[256];
    uint8_t u[16 * 16];
    ernn_x86_rows16 rescale[16];
    ernn_x86_adjusted_bias(p, rows, rows, chunks, bias);
    for (int32_t o = 0; o < rows; o += 16) {
        rescale[o / 16] = ernn_x86_rows16_of(p, o);
    }
    const __m512i zero_point = _mm512_set1_epi32(p->output_zero_point);
    for (int32_t t = 0; t < steps; ++t) {
        ernn_x86_unsigned16(xs + (size_t)t * x_stride, p->in_features, u); /* the padding meets zero weights */
        for (int32_t o = 0; o < p->out_features; o += 16) {
            const int32_t n = rows - o < 16 ? rows - o : 16, stored = p->out_features - o < 16 ? p->out_features - o : 16;
            const __m512i acc = _mm512_add_epi32(ernn_x86_udot16(p->weight + (int64_t)o * 16 * chunks, u, 16, chunks, n / 4),
                                                 _mm512_maskz_loadu_epi32((__mmask16)((1u << n) - 1u), bias + o));
            const __m512i v = _mm512_add_epi32(ernn_x86_fast16_rows(acc, &rescale[o / 16]), zero_point);
            _mm_mask_storeu_epi8(ys + (size_t)t * y_stride + o, (__mmask16)((1u << stored) - 1u), _mm512_cvtsepi32_epi8(v));
        }
    }
    return 1;
}
#define ERNN_PORT_FC_ROWS 1

/* 1 if this CPU runs the AVX-512 VNNI kernels above. */
static inline int ernn_x86_has_avx512vnni(void)
{
    return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

/*
 * ernn_cell_fcs through the fused kernel above where it applies (returns 1), else 0 (the layer-by-layer
 * path runs): the CPU has AVX-512 VNNI, both layers are packed, bounded (short form, zero point 0, no
 * doubled bias) with one rescale per gate block, every block wholly added or wholly stored, and the
 * buffer holds both padded inputs as bytes.
 */
#define ERNN_PORT_CELL_FCS 1
static inline int ernn_x86_fused_layers(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, int32_t stride,
                                        int32_t added_rows)
{
    return x_fc->packing == 16 && h_fc->packing == 16 && (x_fc->bounded == 1 || x_fc->bounded == 3) &&
           (h_fc->bounded == 1 || h_fc->bounded == 3) && x_fc->group_rows == stride && h_fc->group_rows == stride &&
           stride % 4 == 0 && x_fc->out_features == h_fc->out_features && x_fc->out_features % stride == 0 &&
           added_rows % stride == 0 && x_fc->output_zero_point == 0 && h_fc->output_zero_point == 0;
}

static inline int ernn_cell_fcs_x86(const ernn_fc_params *x_fc, const ernn_fc_params *h_fc, const int8_t *x,
                                    const int8_t *h, int16_t *y, int16_t *tail, int16_t *buffer, int32_t stride,
                                    int32_t added_rows, uint32_t activations)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_fused_layers(x_fc, h_fc, stride, added_rows) && ernn_x86_has_avx512vnni()) {
        ernn_cell_fcs_avx512vnni(x_fc, h_fc, x, h, y, tail, (int8_t *)(void *)buffer, stride, added_rows,
                                 activations);
        return 1;
    }
#else
    (void)x_fc, (void)h_fc, (void)x, (void)h, (void)y, (void)tail, (void)buffer, (void)stride, (void)added_rows,
        (void)activations;
#endif
    return 0;
}

static inline void ernn_group16_port(const int8_t **wp, ernn_dsp_group *g)
{
    const int32_t chunks = (int32_t)(g->end - g->buffer) / 8;
#if ERNN_X86_LEVEL >= 3
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        ernn_group16_avx512vnni(wp, g, chunks);
        return;
    }
#endif
#if ERNN_X86_LEVEL >= 2
    if (__builtin_cpu_supports("avxvnni")) {
        ernn_group16_avxvnni(wp, g, chunks);
        return;
    }
#endif
#if ERNN_X86_LEVEL >= 1
    if (__builtin_cpu_supports("avx2")) {
        ernn_group16_avx2(wp, g, chunks);
        return;
    }
#endif
    ernn_group16_x86_c(wp, g, chunks);
}

#if ERNN_X86_LEVEL >= 1
/* The GRU's element-wise constants in eight lanes (ernn_gru_s8.c's short form: every shift < 0, so left = 1). */
typedef struct {
    ernn_x86_rescale rm, gm, hm;
    __m256i zero_point;
    ernn_x86_pow2 gate_pow2; /* gm as a power of two, where gate_is_pow2 */
    int gate_is_pow2;        /* gm is the IR's 2^-15 or another power of two (ernn_x86_pow2_ok) */
} ernn_x86_gru8;

ERNN_X86_AVX2 static inline ernn_x86_gru8 ernn_x86_gru8_of(int32_t reset_m, int32_t reset_right, int32_t gate_m,
                                                           int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                                           int32_t zero_point)
{
    ernn_x86_gru8 k;
    k.rm = ernn_x86_rescale_of(reset_m, 1, reset_right);
    k.gm = ernn_x86_rescale_of(gate_m, 1, gate_right);
    k.hm = ernn_x86_rescale_of(hidden_m, 1, hidden_right);
    k.zero_point = _mm256_set1_epi32(zero_point);
    k.gate_is_pow2 = ernn_x86_pow2_ok(gate_m, gate_right);
    k.gate_pow2 = ernn_x86_pow2_of(k.gate_is_pow2 ? gate_right : 1);
    return k;
}

/* The GRU's gate products z h_q15 and (1 - z) n (|x| < 2^30) through gate_mul. */
ERNN_X86_AVX2 static inline __m256i ernn_x86_gru_gate_mul8(const ernn_x86_gru8 *k, __m256i x)
{
    return k->gate_is_pow2 ? ernn_x86_pow2_apply(x, &k->gate_pow2) : ernn_x86_fast_out(x, &k->gm);
}

/* The element-wise step of eight units from their activated gates r, z and the parts x_n, h_n (int16): the int16
 * state *h_q15 updated, the new h returned as int16 values (ernn_ssat16 of the int32 result; the caller's
 * VPACKSSWB is ernn_ssat8), with the same integer operations as the C loops of ernn_gru_s8.c. */
ERNN_X86_AVX2 static inline __m128i ernn_x86_gru_units8(const ernn_x86_gru8 *k, __m128i gr, __m128i z, __m128i xn,
                                                        __m128i hn, __m128i *h_q15)
{
    const __m128i reset_hidden = ernn_x86_sat16(ernn_x86_fast_out(ernn_x86_mul16(gr, hn), &k->rm));
    const __m128i cand = ernn_x86_tanh_q312(_mm_adds_epi16(xn, reset_hidden));
    const __m128i keep = ernn_x86_sat16(ernn_x86_gru_gate_mul8(k, ernn_x86_mul16(z, *h_q15)));
    const __m256i one_minus_z = _mm256_sub_epi32(_mm256_set1_epi32(INT16_MAX), _mm256_cvtepi16_epi32(z));
    const __m128i update =
        ernn_x86_sat16(ernn_x86_gru_gate_mul8(k, _mm256_madd_epi16(one_minus_z, _mm256_cvtepi16_epi32(cand))));
    *h_q15 = _mm_adds_epi16(keep, update);
    return ernn_x86_sat16(_mm256_add_epi32(ernn_x86_fast_out(_mm256_cvtepi16_epi32(*h_q15), &k->hm), k->zero_point));
}

/*
 * The GRU's element-wise step (ernn_gru_s8.c, its short form) for j in [0, n rounded down to 8), eight units at a
 * time (ernn_x86_gru_units8); returns how many units it did (0 without AVX2: the C does them all).
 */
#define ERNN_PORT_GRU_FAST 1
ERNN_X86_AVX2 static inline int32_t ernn_gru_fast_avx2(const int16_t *gr, const int16_t *gz, const int16_t *xn,
                                                        const int16_t *hn, int16_t *h_q15, int8_t *h, int32_t n,
                                                        int32_t reset_m, int32_t reset_right, int32_t gate_m,
                                                        int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                                        int32_t zero_point)
{
    const ernn_x86_gru8 k = ernn_x86_gru8_of(reset_m, reset_right, gate_m, gate_right, hidden_m, hidden_right,
                                             zero_point);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m128i state = ERNN_X86_LOAD16(h_q15 + j);
        const __m128i out = ernn_x86_gru_units8(&k, ERNN_X86_LOAD16(gr + j), ERNN_X86_LOAD16(gz + j),
                                                ERNN_X86_LOAD16(xn + j), ERNN_X86_LOAD16(hn + j), &state);
        _mm_storeu_si128((__m128i *)(void *)(h_q15 + j), state);
        _mm_storel_epi64((__m128i *)(void *)(h + j), _mm_packs_epi16(out, out)); /* ernn_ssat8 */
    }
    return j;
}

static inline int32_t ernn_gru_fast_port(const int16_t *gr, const int16_t *gz, const int16_t *xn, const int16_t *hn,
                                         int16_t *h_q15, int8_t *h, int32_t n, int32_t reset_m, int32_t reset_right,
                                         int32_t gate_m, int32_t gate_right, int32_t hidden_m, int32_t hidden_right,
                                         int32_t zero_point)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni()) {
        return ernn_gru_fast_avx512(gr, gz, xn, hn, h_q15, h, n, reset_m, reset_right, gate_m, gate_right, hidden_m,
                                    hidden_right, zero_point);
    }
#endif
    if (!__builtin_cpu_supports("avx2")) {
        return 0;
    }
    return ernn_gru_fast_avx2(gr, gz, xn, hn, h_q15, h, n, reset_m, reset_right, gate_m, gate_right, hidden_m,
                              hidden_right, zero_point);
}

/* The LSTM's element-wise constants in eight lanes (ernn_lstm_s8.c's short form). */
typedef struct {
    ernn_x86_rescale fm, im, om;
    __m256i tanh_multiplier, tanh_round, zero_point;
    __m256i tanh_shift; /* a count per lane (VPSRAVD: one uop) */
    ernn_x86_pow2 forget_pow2, input_pow2; /* fm and im as powers of two, where products_are_pow2 */
    int products_are_pow2;                 /* both are the IR's powers of two (ernn_x86_pow2_ok) */
} ernn_x86_lstm8;

ERNN_X86_AVX2 static inline ernn_x86_lstm8 ernn_x86_lstm8_of(int32_t forget_m, int32_t forget_right, int32_t input_m,
                                                             int32_t input_right, int32_t tanh_multiplier,
                                                             int32_t tanh_shift, int32_t output_m,
                                                             int32_t output_right, int32_t zero_point)
{
    ernn_x86_lstm8 k;
    k.fm = ernn_x86_rescale_of(forget_m, 1, forget_right);
    k.im = ernn_x86_rescale_of(input_m, 1, input_right);
    k.om = ernn_x86_rescale_of(output_m, 1, output_right);
    k.tanh_multiplier = _mm256_set1_epi32(tanh_multiplier);
    k.tanh_round = _mm256_set1_epi32(tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0);
    k.tanh_shift = _mm256_set1_epi32(tanh_shift);
    k.zero_point = _mm256_set1_epi32(zero_point);
    k.products_are_pow2 = ernn_x86_pow2_ok(forget_m, forget_right) && ernn_x86_pow2_ok(input_m, input_right);
    k.forget_pow2 = ernn_x86_pow2_of(k.products_are_pow2 ? forget_right : 1);
    k.input_pow2 = ernn_x86_pow2_of(k.products_are_pow2 ? input_right : 1);
    return k;
}

/* The element-wise step of eight units from their activated gates (int16): the cell state *c updated, the new h
 * returned as int16 values (ernn_ssat16 of the int32 result; the caller's VPACKSSWB is ernn_ssat8). The cell
 * state's tanh input (c * tanh_multiplier + round) >> tanh_shift is taken in int32, as the C. */
ERNN_X86_AVX2 static inline __m128i ernn_x86_lstm_units8(const ernn_x86_lstm8 *k, __m128i gi, __m128i gf, __m128i gg,
                                                         __m128i go, __m128i *c)
{
    const __m256i fc = ernn_x86_mul16(gf, *c), ig = ernn_x86_mul16(gi, gg); /* |.| < 2^30 */
    const __m128i forget = ernn_x86_sat16(k->products_are_pow2 ? ernn_x86_pow2_apply(fc, &k->forget_pow2)
                                                               : ernn_x86_fast_out(fc, &k->fm));
    const __m128i input = ernn_x86_sat16(k->products_are_pow2 ? ernn_x86_pow2_apply(ig, &k->input_pow2)
                                                              : ernn_x86_fast_out(ig, &k->im));
    *c = _mm_adds_epi16(forget, input);
    const __m256i v = _mm256_srav_epi32(
        _mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvtepi16_epi32(*c), k->tanh_multiplier), k->tanh_round),
        k->tanh_shift);
    const __m256i tanh_c = ernn_x86_tanh_lut(v);
    const __m256i o = _mm256_cvtepi16_epi32(go);
    return ernn_x86_sat16(_mm256_add_epi32(ernn_x86_fast_out(_mm256_madd_epi16(o, tanh_c), &k->om), k->zero_point));
}

/*
 * The LSTM's element-wise step (ernn_lstm_s8.c, its short form) for j in [0, n rounded down to 8): the
 * cell state c, then h, eight units at a time, with the same integer operations as the C loops there;
 * returns how many units it did.
 */
#define ERNN_PORT_LSTM_FAST 1
ERNN_X86_AVX2 static inline int32_t ernn_lstm_fast_avx2(const int16_t *gi, const int16_t *gf, const int16_t *gg,
                                                         const int16_t *go, int16_t *c, int8_t *h, int32_t n,
                                                         int32_t forget_m, int32_t forget_right, int32_t input_m,
                                                         int32_t input_right, int32_t tanh_multiplier,
                                                         int32_t tanh_shift, int32_t output_m, int32_t output_right,
                                                         int32_t zero_point)
{
    const ernn_x86_lstm8 k = ernn_x86_lstm8_of(forget_m, forget_right, input_m, input_right, tanh_multiplier,
                                               tanh_shift, output_m, output_right, zero_point);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m128i cj = ERNN_X86_LOAD16(c + j);
        const __m128i out = ernn_x86_lstm_units8(&k, ERNN_X86_LOAD16(gi + j), ERNN_X86_LOAD16(gf + j),
                                                 ERNN_X86_LOAD16(gg + j), ERNN_X86_LOAD16(go + j), &cj);
        _mm_storeu_si128((__m128i *)(void *)(c + j), cj);
        _mm_storel_epi64((__m128i *)(void *)(h + j), _mm_packs_epi16(out, out)); /* ernn_ssat8 */
    }
    return j;
}

static inline int32_t ernn_lstm_fast_port(const int16_t *gi, const int16_t *gf, const int16_t *gg, const int16_t *go,
                                          int16_t *c, int8_t *h, int32_t n, int32_t forget_m, int32_t forget_right,
                                          int32_t input_m, int32_t input_right, int32_t tanh_multiplier,
                                          int32_t tanh_shift, int32_t output_m, int32_t output_right,
                                          int32_t zero_point)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni() && ernn_x86_lstm16_ok(forget_m, forget_right, input_m, input_right)) {
        return ernn_lstm_fast_avx512(gi, gf, gg, go, c, h, n, forget_m, forget_right, input_m, input_right,
                                     tanh_multiplier, tanh_shift, output_m, output_right, zero_point);
    }
#endif
    if (!__builtin_cpu_supports("avx2")) {
        return 0;
    }
    return ernn_lstm_fast_avx2(gi, gf, gg, go, c, h, n, forget_m, forget_right, input_m, input_right, tanh_multiplier,
                               tanh_shift, output_m, output_right, zero_point);
}
#endif

#if ERNN_X86_LEVEL >= 1
/*
 * The LSTM and the GRU over a block of steps in eight lanes, for ernn_lstm_run_s8 and ernn_gru_run_s8 where the CPU
 * has no AVX-512 VNNI: the lane kernel of ernn_x86_lstm_lane_steps in ymm registers, with AVX-VNNI (Intel's cores
 * from Alder Lake on that lack AVX-512) or with AVX2 alone (AMD's before Zen 4, Intel's Haswell to Comet Lake). Once
 * per call both layers' weights are rewritten with rows in lanes: per column of eight units, gate and slot of
 * inputs one ymm, lane L holding unit L's weights of the slot. Each step's dot products are then one broadcast of
 * the slot's inputs per slot and one multiply-add per gate, every row's sum landing in its own lane (the generic
 * path widens the input to int16, sums four rows per register and reduces them horizontally, and goes through
 * memory between the layers and the element-wise step):
 *  - AVX-VNNI: a slot is a quad of inputs as the bytes u = x ^ 0x80, VPDPBUSD with the weights' bytes, the biases
 *    adjusted to bias - 128 sum w (modulo 2^32, as ernn_lstm_run_avx512: the lanes hold bias + sum w x modulo
 *    2^32, whose true value is an int32 for the bounded layers ernn_x86_fused_layers admits);
 *  - AVX2: a slot is a pair of inputs as int16, VPMADDWD with the weights as int16 pairs and VPADDD (each pair's
 *    sum |w0 x0 + w1 x1| <= 2^15, exact; the sum the int32 of ernn_fc_s8.c for those layers).
 * In the same lanes follow the rescales, the gates' saturating sums and activations (ernn_x86_sigmoid_q312,
 * ernn_x86_tanh_q312) and the element-wise step (ernn_x86_lstm_units8, ernn_x86_gru_units8), the x parts of a
 * block of steps taken first: the eight-lane functions the step kernels run (ernn_x86_epilogue,
 * ernn_lstm_fast_avx2, ernn_gru_fast_avx2) on the same integers. Lanes of units >= n have zero weights and
 * biases, are never stored to h, hs or the int16 state, and their h values meet zero weights in the next step.
 */
#define ERNN_X86_AVX2_INLINE __attribute__((target("avx2"), always_inline))
/* The weights in lanes, on the stack while the call runs: ERNN_X86_LANE8_BYTES with AVX-VNNI, twice that with AVX2
 * (two bytes a weight), so that both take the same layers: LSTM 128 units with up to 128 inputs, 64 with up to
 * 448; GRU 128 units with up to 208 inputs (with AVX2: LSTM 128 units, 16 inputs 1.5x faster than with 128 KB). */
#define ERNN_X86_LANE8_BYTES 131072
#define ERNN_X86_LANE8_MAX_COLUMNS 32 /* 256 units */
#define ERNN_X86_LANE8_MAX_CHUNKS 256 /* inputs, in sixteens (the bytes above allow 255 at most) */

/* 1 if the eight-lane kernel takes a cell of `gates` gate blocks (4 LSTM, 3 GRU), n units and nx inputs, its slots
 * of per_slot inputs (4 AVX-VNNI, 2 AVX2): the weights in lanes within ERNN_X86_LANE8_BYTES * 4 / per_slot. */
static inline int ernn_x86_lanes8_takes(int32_t per_slot, int32_t gates, int32_t n, int32_t nx)
{
    const int64_t columns = (n + 7) / 8, slots = (16 / per_slot) * (int64_t)((n + 15) / 16 + (nx + 15) / 16);
    return n >= 1 && columns <= ERNN_X86_LANE8_MAX_COLUMNS && (nx + 15) / 16 <= ERNN_X86_LANE8_MAX_CHUNKS &&
           gates * columns * 32 * slots <= (int64_t)ERNN_X86_LANE8_BYTES * 4 / per_slot;
}

/* The per-call constants of the eight-lane kernel: both layers' weights in lanes (column j's gate g at
 * (G j + g) * gh and (G j + g) * gx bytes, G gates; 32 bytes a slot), the biases in the same order (8 per gate),
 * the slots of each step's inputs and the gates' rescales. */
typedef struct {
    const int8_t *zh, *zx;
    const int32_t *bh, *bx;
    int64_t gh, gx;
    int32_t qh, qx;
    ernn_x86_rescale rh[4], rx[4];
} ernn_x86_lanes8;

/* The layout of both layers for slots of per_slot inputs, their weights at `lanes`, and the gates' rescales; the
 * caller rewrites the weights (ernn_x86_rows_in_lanes8, ernn_x86_rows_in_pairs8) and biases. */
ERNN_X86_AVX2 static inline void ernn_x86_lanes8_layout(const ernn_fc_params *xf, const ernn_fc_params *hf,
                                                        int32_t per_slot, int32_t gates, int32_t n, int8_t *lanes,
                                                        int32_t *bh, int32_t *bx, ernn_x86_lanes8 *l)
{
    l->qh = (16 / per_slot) * ((n + 15) / 16);
    l->qx = (16 / per_slot) * ((xf->in_features + 15) / 16);
    l->gh = 32 * (int64_t)l->qh;
    l->gx = 32 * (int64_t)l->qx;
    l->zh = lanes;
    l->zx = lanes + gates * ((n + 7) / 8) * l->gh;
    l->bh = bh;
    l->bx = bx;
    for (int32_t g = 0; g < gates; ++g) {
        const ernn_fast_rescale fx = ernn_fast_of(xf->multiplier[g], xf->shift[g]);
        const ernn_fast_rescale fh = ernn_fast_of(hf->multiplier[g], hf->shift[g]);
        l->rx[g] = ernn_x86_rescale_of(fx.multiplier, fx.left, fx.right);
        l->rh[g] = ernn_x86_rescale_of(fh.multiplier, fh.left, fh.right);
    }
}

/* Rows o..o + r - 1 (r = 4 or 8, o a multiple of 4) of a packed layer (K = 16: per 4-row block and chunk of
 * sixteen inputs 64 bytes, row i's at 16 i) as int16 pairs with rows in lanes: per chunk c and pair p (inputs
 * 16 c + 2 p, + 1) the ymm at z + 32 (8 c + p), lane L holding row o + L's two weights (lanes L >= r: zero). Per
 * block and chunk the rows widened, then a 4 x 8 transpose of dwords. */
ERNN_X86_AVX2 static inline void ernn_x86_rows_in_pairs8(const int8_t *w, int32_t chunks, int32_t o, int32_t r,
                                                         int8_t *z)
{
    for (int32_t c = 0; c < chunks; ++c) {
        __m256i t[2][4]; /* block b: pairs k (low halves) and k + 4 (high halves) of its four rows in t[b][k] */
        for (int32_t b = 0; b < 2; ++b) {
            if (4 * b >= r) {
                t[b][0] = t[b][1] = t[b][2] = t[b][3] = _mm256_setzero_si256();
                continue;
            }
            const int8_t *block = w + ((int64_t)(o / 4 + b) * chunks + c) * 64;
            __m256i row[4];
            for (int32_t i = 0; i < 4; ++i) {
                row[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 16 * i)));
            }
            const __m256i lo01 = _mm256_unpacklo_epi32(row[0], row[1]), lo23 = _mm256_unpacklo_epi32(row[2], row[3]);
            const __m256i hi01 = _mm256_unpackhi_epi32(row[0], row[1]), hi23 = _mm256_unpackhi_epi32(row[2], row[3]);
            t[b][0] = _mm256_unpacklo_epi64(lo01, lo23);
            t[b][1] = _mm256_unpackhi_epi64(lo01, lo23);
            t[b][2] = _mm256_unpacklo_epi64(hi01, hi23);
            t[b][3] = _mm256_unpackhi_epi64(hi01, hi23);
        }
        for (int32_t k = 0; k < 4; ++k) {
            int8_t *d = z + 32 * (8 * c + k);
            _mm256_store_si256((__m256i *)(void *)d, _mm256_permute2x128_si256(t[0][k], t[1][k], 0x20));
            _mm256_store_si256((__m256i *)(void *)(d + 128), _mm256_permute2x128_si256(t[0][k], t[1][k], 0x31));
        }
    }
}

/* The AVX2 kernel's layout (ernn_x86_lanes8_layout): the weights as int16 pairs, the biases as they are. */
ERNN_X86_AVX2 static inline void ernn_x86_lanes8_setup_avx2(const ernn_fc_params *xf, const ernn_fc_params *hf,
                                                            int32_t gates, int32_t n, int32_t stride, int8_t *lanes,
                                                            int32_t *bh, int32_t *bx, ernn_x86_lanes8 *l)
{
    ernn_x86_lanes8_layout(xf, hf, 2, gates, n, lanes, bh, bx, l);
    int8_t *zh = lanes, *zx = lanes + (l->zx - l->zh);
    for (int32_t j = 0; j < (n + 7) / 8; ++j) {
        const int32_t r = stride - 8 * j < 8 ? stride - 8 * j : 8;
        for (int32_t g = 0; g < gates; ++g) {
            const int32_t o = g * stride + 8 * j, group = gates * j + g;
            ernn_x86_rows_in_pairs8(hf->weight, l->qh / 8, o, r, zh + group * l->gh);
            ernn_x86_rows_in_pairs8(xf->weight, l->qx / 8, o, r, zx + group * l->gx);
            for (int32_t i = 0; i < 8; ++i) {
                bh[8 * group + i] = i < r ? hf->bias[o + i] : 0;
                bx[8 * group + i] = i < r ? xf->bias[o + i] : 0;
            }
        }
    }
}

/* acc + the dot products of a slot (a pair of int16 inputs, b) with eight rows' weights w (int16 pairs):
 * VPMADDWD, then VPADDD (the chain is the add's). */
ERNN_X86_AVX2_INLINE static inline __m256i ernn_x86_mac8_avx2(__m256i acc, __m256i b, __m256i w)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(b, w));
}

/* x (n int8 values) as int16 to in[0..2 n); the bytes after are the caller's. */
ERNN_X86_AVX2 static inline void ernn_x86_lanes8_input_avx2(const int8_t *x, int32_t n, uint8_t *in)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256((__m256i *)(void *)(in + 2 * i),
                            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(x + i))));
    }
    for (; i < n; ++i) {
        const int16_t v = x[i];
        memcpy(in + 2 * i, &v, sizeof v);
    }
}

/* Column j's new h (eight int8 in the low half of out8) as the next step's inputs. */
ERNN_X86_AVX2_INLINE static inline void ernn_x86_lanes8_next_avx2(__m128i out8, uint8_t *next, int32_t j)
{
    _mm_storeu_si128((__m128i *)(void *)(next + 16 * j), _mm_cvtepi8_epi16(out8));
}

#if ERNN_X86_LEVEL >= 2
#define ERNN_X86_VNNI256 __attribute__((target("avx2,avxvnni")))
#define ERNN_X86_VNNI256_INLINE __attribute__((target("avx2,avxvnni"), always_inline))

/* Rows o..o + r - 1 (r = 4 or 8, o a multiple of 4) of a packed layer with rows in lanes as bytes: per chunk c and
 * quad q (inputs 16 c + 4 q..+3) the ymm at z + 32 (4 c + q), lane L holding row o + L's four weights (lanes
 * L >= r: zero). Per block and chunk a 4 x 4 transpose of dwords. */
ERNN_X86_VNNI256 static inline void ernn_x86_rows_in_lanes8(const int8_t *w, int32_t chunks, int32_t o, int32_t r,
                                                            int8_t *z)
{
    for (int32_t c = 0; c < chunks; ++c) {
        __m128i t[2][4];
        for (int32_t b = 0; b < 2; ++b) {
            if (4 * b >= r) {
                t[b][0] = t[b][1] = t[b][2] = t[b][3] = _mm_setzero_si128();
                continue;
            }
            const __m128i *block = (const __m128i *)(const void *)(w + ((int64_t)(o / 4 + b) * chunks + c) * 64);
            const __m128i r0 = _mm_loadu_si128(block), r1 = _mm_loadu_si128(block + 1);
            const __m128i r2 = _mm_loadu_si128(block + 2), r3 = _mm_loadu_si128(block + 3);
            const __m128i lo01 = _mm_unpacklo_epi32(r0, r1), lo23 = _mm_unpacklo_epi32(r2, r3);
            const __m128i hi01 = _mm_unpackhi_epi32(r0, r1), hi23 = _mm_unpackhi_epi32(r2, r3);
            t[b][0] = _mm_unpacklo_epi64(lo01, lo23);
            t[b][1] = _mm_unpackhi_epi64(lo01, lo23);
            t[b][2] = _mm_unpacklo_epi64(hi01, hi23);
            t[b][3] = _mm_unpackhi_epi64(hi01, hi23);
        }
        for (int32_t q = 0; q < 4; ++q) {
            _mm256_store_si256((__m256i *)(void *)(z + 32 * (4 * c + q)), _mm256_set_m128i(t[1][q], t[0][q]));
        }
    }
}

/* The adjusted biases bias - 128 sum w of the r rows in lanes at z (`quads` ymm; lanes >= r: 0), the weight sums
 * by VPDPBUSD of bytes 1 with the weights. Modulo 2^32, as the dot products they meet. */
ERNN_X86_VNNI256 static inline void ernn_x86_adjusted_bias8(const int8_t *z, int32_t quads, const int32_t *bias,
                                                            int32_t r, int32_t *adjusted)
{
    __m256i sums = _mm256_setzero_si256();
    for (int32_t q = 0; q < quads; ++q) {
        const __m256i w = _mm256_load_si256((const __m256i *)(const void *)(z + 32 * q));
        sums = _mm256_dpbusd_avx_epi32(sums, _mm256_set1_epi8(1), w);
    }
    int32_t b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(b, bias, (size_t)r * sizeof b[0]);
    const __m256i biases = _mm256_loadu_si256((const __m256i *)(const void *)b);
    _mm256_store_si256((__m256i *)(void *)adjusted, _mm256_sub_epi32(biases, _mm256_slli_epi32(sums, 7)));
}

/* The AVX-VNNI kernel's layout (ernn_x86_lanes8_layout): the weights as bytes, the biases adjusted. */
ERNN_X86_VNNI256 static inline void ernn_x86_lanes8_setup_vnni(const ernn_fc_params *xf, const ernn_fc_params *hf,
                                                               int32_t gates, int32_t n, int32_t stride,
                                                               int8_t *lanes, int32_t *bh, int32_t *bx,
                                                               ernn_x86_lanes8 *l)
{
    ernn_x86_lanes8_layout(xf, hf, 4, gates, n, lanes, bh, bx, l);
    int8_t *zh = lanes, *zx = lanes + (l->zx - l->zh);
    for (int32_t j = 0; j < (n + 7) / 8; ++j) {
        const int32_t r = stride - 8 * j < 8 ? stride - 8 * j : 8;
        for (int32_t g = 0; g < gates; ++g) {
            const int32_t o = g * stride + 8 * j, group = gates * j + g;
            ernn_x86_rows_in_lanes8(hf->weight, l->qh / 4, o, r, zh + group * l->gh);
            ernn_x86_rows_in_lanes8(xf->weight, l->qx / 4, o, r, zx + group * l->gx);
            ernn_x86_adjusted_bias8(zh + group * l->gh, l->qh, hf->bias + o, r, bh + 8 * group);
            ernn_x86_adjusted_bias8(zx + group * l->gx, l->qx, xf->bias + o, r, bx + 8 * group);
        }
    }
}

/* acc + the dot products of a slot (a quad of unsigned inputs, b) with eight rows' weights w (bytes): VPDPBUSD. */
ERNN_X86_VNNI256_INLINE static inline __m256i ernn_x86_mac8_vnni(__m256i acc, __m256i b, __m256i w)
{
    return _mm256_dpbusd_avx_epi32(acc, b, w);
}

/* x (n int8 values) as the unsigned bytes x ^ 0x80 to u[0..n); the bytes after n are the caller's. */
ERNN_X86_VNNI256 static inline void ernn_x86_lanes8_input_vnni(const int8_t *x, int32_t n, uint8_t *u)
{
    const __m128i flip = _mm_set1_epi8((char)0x80);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm_storeu_si128((__m128i *)(void *)(u + i),
                         _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(x + i)), flip));
    }
    for (; i < n; ++i) {
        u[i] = (uint8_t)((uint8_t)x[i] ^ 0x80u);
    }
}

/* Column j's new h (eight int8 in the low half of out8) as the next step's unsigned inputs. */
ERNN_X86_VNNI256_INLINE static inline void ernn_x86_lanes8_next_vnni(__m128i out8, uint8_t *next, int32_t j)
{
    _mm_storel_epi64((__m128i *)(void *)(next + 8 * j), _mm_xor_si128(out8, _mm_set1_epi8((char)0x80)));
}
#endif

/* The eight-lane kernel's block of steps: the x parts of up to ERNN_X86_LANE8_BLOCK steps are taken first, their
 * inputs and x parts (int16) within ERNN_X86_LANE8_BLOCK_BYTES each. */
#define ERNN_X86_LANE8_BLOCK 32
#define ERNN_X86_LANE8_BLOCK_BYTES 16384

/*
 * ERNN_X86_LANES8_RUNS(ISA, ATTR, INLINE, LANE_BYTES) defines the eight-lane kernel for one ISA (avx2, vnni: its
 * setup, multiply-accumulate and input forms ernn_x86_lanes8_setup_ISA, ernn_x86_mac8_ISA, ernn_x86_lanes8_input_ISA,
 * ernn_x86_lanes8_next_ISA; its weights in lanes at most LANE_BYTES):
 *  - ernn_x86_lane_dot8_ISA: a column's recurrent sums, one broadcast of each slot for all its gates, the odd slots
 *    in a second chain per gate (added at the end, modulo 2^32: the same sums; VPDPBUSD's latency is its
 *    accumulator's, so each chain is half as long);
 *  - ernn_x86_lane_xdot8_ISA: one gate's x sums of four steps, each weight load serving the four (two chains a
 *    step, as above);
 *  - ernn_x86_lanes8_step_ISA: one step, stage by stage over all the columns (the recurrent sums and gate
 *    pre-activations, then each activation, then the element-wise steps), so that the columns' independent
 *    chains sit next to each other rather than one column's whole chain after another's (interleaved A/B, C step
 *    alone, us per step, AVX-VNNI, with the x parts by block: LSTM 64/64 0.836 -> 0.652, GRU 64/64 0.693 ->
 *    0.578, LSTM 16 inputs / 128 units 1.946 -> 1.532; two columns at a time in registers did as well);
 *  - ernn_x86_lanes8_steps_ISA: `steps` steps of a cell of `gates` gate blocks (4: the LSTM, element-wise
 *    constants *lstm; 3: the GRU, *gru; a constant at each call site) that the kernel takes, as
 *    ernn_lstm_run_avx512 and ernn_gru_run_avx512: the inputs xs + t * x_stride, h (int8) and the int16 state s
 *    (the LSTM's c, the GRU's h_q15) updated in place, step t's h also to hs + t * hs_stride. By blocks of steps:
 *    the block's inputs, then its x parts sat16(fast(x_fc)) (they do not depend on the state; taken off the
 *    recurrent chain, the input weights read once per four steps: LSTM 64/64 0.884 -> 0.836 us per step, GRU
 *    64/64 0.814 -> 0.693, AVX-VNNI), then its steps. A block reads all its inputs
 *    before it writes any of its outputs and writes no row of a later block, so hs may be xs when the strides
 *    are equal;
 *  - ernn_x86_lstm_lanes8_run_ISA, ernn_x86_gru_lanes8_run_ISA: those steps of an LSTM cell (the short form:
 *    every product shift < 0; the cell state's tanh input's multiplier and shift) and of a GRU cell (reset,
 *    gate and hidden rescales with shift < 0).
 * The inputs' buffers hold 4 bytes a slot either way (a quad of bytes, a pair of int16); their padding meets zero
 * weights.
 */
#define ERNN_X86_LANES8_RUNS(ISA, ATTR, INLINE, LANE_BYTES)                                                          \
    INLINE static inline void ernn_x86_lane_dot8_##ISA(__m256i acc[4], const uint8_t *u, const int8_t *z,            \
                                                      int64_t gate_bytes, int32_t slots, const int32_t gates)        \
    {                                                                                                                \
        __m256i odd[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),                    \
                          _mm256_setzero_si256()};                                                                   \
        _Pragma("GCC unroll 4") /* not unrolled, gcc copied the accumulators between registers every slot */         \
        for (int32_t q = 0; q < slots; q += 2) { /* slots: a multiple of 4 */                                        \
            int32_t v0, v1;                                                                                          \
            memcpy(&v0, u + 4 * q, sizeof v0);                                                                       \
            memcpy(&v1, u + 4 * q + 4, sizeof v1);                                                                   \
            const __m256i b0 = _mm256_set1_epi32(v0), b1 = _mm256_set1_epi32(v1);                                    \
            for (int32_t g = 0; g < gates; ++g) {                                                                    \
                const int8_t *w = z + g * gate_bytes + 32 * q;                                                       \
                acc[g] = ernn_x86_mac8_##ISA(acc[g], b0, _mm256_load_si256((const __m256i *)(const void *)w));       \
                odd[g] = ernn_x86_mac8_##ISA(odd[g], b1, _mm256_load_si256((const __m256i *)(const void *)(w + 32))); \
            }                                                                                                        \
        }                                                                                                            \
        for (int32_t g = 0; g < gates; ++g) {                                                                        \
            acc[g] = _mm256_add_epi32(acc[g], odd[g]);                                                               \
        }                                                                                                            \
    }                                                                                                                \
    INLINE static inline void ernn_x86_lane_xdot8_##ISA(__m256i acc[4], const uint8_t *const u[4], const int8_t *z,  \
                                                       int32_t slots)                                                \
    {                                                                                                                \
        __m256i odd[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),                    \
                          _mm256_setzero_si256()};                                                                   \
        _Pragma("GCC unroll 4") /* as ernn_x86_lane_dot8_##ISA's */                                                  \
        for (int32_t q = 0; q < slots; q += 2) {                                                                     \
            const __m256i w0 = _mm256_load_si256((const __m256i *)(const void *)(z + 32 * q));                       \
            const __m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(z + 32 * q + 32));                  \
            for (int32_t k = 0; k < 4; ++k) {                                                                        \
                int32_t v0, v1;                                                                                      \
                memcpy(&v0, u[k] + 4 * q, sizeof v0);                                                                \
                memcpy(&v1, u[k] + 4 * q + 4, sizeof v1);                                                            \
                acc[k] = ernn_x86_mac8_##ISA(acc[k], _mm256_set1_epi32(v0), w0);                                     \
                odd[k] = ernn_x86_mac8_##ISA(odd[k], _mm256_set1_epi32(v1), w1);                                     \
            }                                                                                                        \
        }                                                                                                            \
        for (int32_t k = 0; k < 4; ++k) {                                                                            \
            acc[k] = _mm256_add_epi32(acc[k], odd[k]);                                                               \
        }                                                                                                            \
    }                                                                                                                \
    INLINE static inline void ernn_x86_lanes8_step_##ISA(                                                            \
        const ernn_x86_lanes8 *l, const int32_t gates, const int32_t columns, const ernn_x86_lstm8 *lstm,            \
        const ernn_x86_gru8 *gru, const uint8_t *u, const int16_t *xp, int16_t *state, int8_t *hv, uint8_t *u_next)  \
    {                                                                                                                \
        __m128i pre[4 * ERNN_X86_LANE8_MAX_COLUMNS]; /* gate g of column j at gates j + g */                         \
        __m128i act[4 * ERNN_X86_LANE8_MAX_COLUMNS];                                                                 \
        for (int32_t j = 0; j < columns; ++j) {                                                                      \
            __m256i ah[4];                                                                                           \
            for (int32_t g = 0; g < gates; ++g) {                                                                    \
                ah[g] = _mm256_load_si256((const __m256i *)(const void *)(l->bh + 8 * (gates * j + g)));             \
            }                                                                                                        \
            ernn_x86_lane_dot8_##ISA(ah, u, l->zh + gates * j * l->gh, l->gh, l->qh, gates);                         \
            for (int32_t g = 0; g < gates; ++g) {                                                                    \
                const int32_t i = gates * j + g;                                                                     \
                const __m128i hp = ernn_x86_sat16(ernn_x86_fast_out(ah[g], &l->rh[g]));                              \
                const __m128i x = _mm_load_si128((const __m128i *)(const void *)(xp + 8 * i));                       \
                pre[i] = gates == 3 && g == 2 ? hp : _mm_adds_epi16(x, hp); /* the GRU's n: its parts apart */       \
            }                                                                                                        \
        }                                                                                                            \
        for (int32_t j = 0; j < columns; ++j) {                                                                      \
            act[gates * j] = ernn_x86_sigmoid_q312(pre[gates * j]);                                                  \
        }                                                                                                            \
        for (int32_t j = 0; j < columns; ++j) {                                                                      \
            act[gates * j + 1] = ernn_x86_sigmoid_q312(pre[gates * j + 1]);                                          \
        }                                                                                                            \
        if (gates == 4) {                                                                                            \
            for (int32_t j = 0; j < columns; ++j) {                                                                  \
                act[4 * j + 2] = ernn_x86_tanh_q312(pre[4 * j + 2]);                                                 \
            }                                                                                                        \
            for (int32_t j = 0; j < columns; ++j) {                                                                  \
                act[4 * j + 3] = ernn_x86_sigmoid_q312(pre[4 * j + 3]);                                              \
            }                                                                                                        \
        }                                                                                                            \
        for (int32_t j = 0; j < columns; ++j) {                                                                      \
            const int32_t i = gates * j;                                                                             \
            __m128i sj = _mm_load_si128((const __m128i *)(const void *)(state + 8 * j));                             \
            const __m128i out =                                                                                      \
                gates == 4 ? ernn_x86_lstm_units8(lstm, act[i], act[i + 1], act[i + 2], act[i + 3], &sj)             \
                           : ernn_x86_gru_units8(gru, act[i], act[i + 1],                                            \
                                                 _mm_load_si128((const __m128i *)(const void *)(xp + 8 * (i + 2))),  \
                                                 pre[i + 2], &sj);                                                   \
            _mm_store_si128((__m128i *)(void *)(state + 8 * j), sj);                                                 \
            const __m128i out8 = _mm_packs_epi16(out, out); /* ernn_ssat8 */                                         \
            _mm_storel_epi64((__m128i *)(void *)(hv + 8 * j), out8);                                                 \
            ernn_x86_lanes8_next_##ISA(out8, u_next, j);                                                             \
        }                                                                                                            \
    }                                                                                                                \
    INLINE static inline void ernn_x86_lanes8_steps_##ISA(                                                           \
        const ernn_fc_params *xf, const ernn_fc_params *hf, int32_t gates, int32_t n, int32_t stride,                \
        const ernn_x86_lstm8 *lstm, const ernn_x86_gru8 *gru, const int8_t *xs, size_t x_stride, int32_t steps,      \
        int8_t *h, int16_t *s, int8_t *hs, size_t hs_stride)                                                         \
    {                                                                                                                \
        const int32_t columns = (n + 7) / 8;                                                                         \
        int8_t lanes[LANE_BYTES] __attribute__((aligned(32)));                                                       \
        int32_t bh[4 * 8 * ERNN_X86_LANE8_MAX_COLUMNS] __attribute__((aligned(32)));                                 \
        int32_t bx[4 * 8 * ERNN_X86_LANE8_MAX_COLUMNS] __attribute__((aligned(32)));                                 \
        int16_t state[8 * ERNN_X86_LANE8_MAX_COLUMNS] __attribute__((aligned(16))); /* s of the columns */           \
        int8_t hv[8 * ERNN_X86_LANE8_MAX_COLUMNS];                                  /* the step's new h */           \
        uint8_t hu[2][16 * ERNN_X86_LANE8_MAX_COLUMNS + 16]; /* h as inputs: this step's, the next one's */          \
        uint8_t in[ERNN_X86_LANE8_BLOCK_BYTES];              /* the block's inputs, 4 qx bytes a step */             \
        int16_t xpart[ERNN_X86_LANE8_BLOCK_BYTES / sizeof(int16_t)] __attribute__((aligned(16)));                    \
        ernn_x86_lanes8 l;                                                                                           \
        ernn_x86_lanes8_setup_##ISA(xf, hf, gates, n, stride, lanes, bh, bx, &l);                                    \
        const size_t per_step = 4 * (size_t)l.qx;                    /* input bytes a step (<= 8 KB) */              \
        const int32_t parts = 8 * gates * columns;                   /* x parts a step (<= 1,024) */                 \
        int32_t block = (int32_t)(sizeof in / per_step);                                                             \
        if (block > (int32_t)(sizeof xpart / sizeof xpart[0]) / parts) {                                             \
            block = (int32_t)(sizeof xpart / sizeof xpart[0]) / parts;                                               \
        }                                                                                                            \
        if (block > ERNN_X86_LANE8_BLOCK) {                                                                          \
            block = ERNN_X86_LANE8_BLOCK;                                                                            \
        }                                                                                                            \
        memset(state, 0, sizeof state);                                                                              \
        memcpy(state, s, (size_t)n * sizeof s[0]);                                                                   \
        memset(hu, 0x80, sizeof hu);                                                                                 \
        memset(in, 0x80, sizeof in);                                                                                 \
        ernn_x86_lanes8_input_##ISA(h, n, hu[0]);                                                                    \
        memcpy(hv, h, (size_t)n);                                                                                    \
        for (int32_t t0 = 0; t0 < steps; t0 += block) {                                                              \
            const int32_t nb = steps - t0 < block ? steps - t0 : block;                                              \
            for (int32_t t = 0; t < nb; ++t) {                                                                       \
                ernn_x86_lanes8_input_##ISA(xs + (size_t)(t0 + t) * x_stride, xf->in_features,                       \
                                            in + (size_t)t * per_step);                                              \
            }                                                                                                        \
            for (int32_t group = 0; group < gates * columns; ++group) { /* the block's x parts, step-major */        \
                const int32_t g = group % gates;                                                                     \
                for (int32_t t = 0; t < nb; t += 4) {                                                                \
                    const uint8_t *u4[4]; /* steps past the block's repeat its step t */                             \
                    __m256i ax[4];                                                                                   \
                    for (int32_t k = 0; k < 4; ++k) {                                                                \
                        u4[k] = in + (size_t)(t + k < nb ? t + k : t) * per_step;                                    \
                        ax[k] = _mm256_load_si256((const __m256i *)(const void *)(l.bx + 8 * group));                \
                    }                                                                                                \
                    ernn_x86_lane_xdot8_##ISA(ax, u4, l.zx + group * l.gx, l.qx);                                    \
                    for (int32_t k = 0; k < 4 && t + k < nb; ++k) {                                                  \
                        _mm_store_si128((__m128i *)(void *)(xpart + (t + k) * parts + 8 * group),                    \
                                        ernn_x86_sat16(ernn_x86_fast_out(ax[k], &l.rx[g])));                         \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
            for (int32_t t = 0; t < nb; ++t) {                                                                       \
                const uint8_t *u = hu[(t0 + t) & 1];                                                                 \
                uint8_t *u_next = hu[((t0 + t) & 1) ^ 1];                                                            \
                ernn_x86_lanes8_step_##ISA(&l, gates, columns, lstm, gru, u, xpart + t * parts, state, hv, u_next);  \
                memcpy(hs + (size_t)(t0 + t) * hs_stride, hv, (size_t)n);                                            \
            }                                                                                                        \
        }                                                                                                            \
        memcpy(h, hv, (size_t)n);                                                                                    \
        memcpy(s, state, (size_t)n * sizeof s[0]);                                                                   \
    }                                                                                                                \
    ATTR static void ernn_x86_lstm_lanes8_run_##ISA(const ernn_lstm_s8_params *p, int32_t n, int32_t stride,         \
                                                    int32_t tanh_multiplier, int32_t tanh_shift, const int8_t *xs,   \
                                                    size_t x_stride, int32_t steps, int8_t *h, int16_t *c,           \
                                                    int8_t *hs, size_t hs_stride)                                    \
    {                                                                                                                \
        const ernn_x86_lstm8 k = ernn_x86_lstm8_of(                                                                  \
            p->forget_mul.multiplier, -p->forget_mul.shift, p->input_mul.multiplier, -p->input_mul.shift,            \
            tanh_multiplier, tanh_shift, p->output_mul.multiplier, -p->output_mul.shift, p->hidden_zero_point);      \
        ernn_x86_lanes8_steps_##ISA(&p->x_fc, &p->h_fc, 4, n, stride, &k, NULL, xs, x_stride, steps, h, c, hs,       \
                                    hs_stride);                                                                      \
    }                                                                                                                \
    ATTR static void ernn_x86_gru_lanes8_run_##ISA(const ernn_gru_s8_params *p, int32_t n, int32_t stride,           \
                                                   const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,      \
                                                   int16_t *h_q15, int8_t *hs, size_t hs_stride)                     \
    {                                                                                                                \
        const ernn_x86_gru8 k = ernn_x86_gru8_of(p->reset_mul.multiplier, -p->reset_mul.shift,                       \
                                                 p->gate_mul.multiplier, -p->gate_mul.shift,                         \
                                                 p->to_hidden.multiplier, -p->to_hidden.shift, p->hidden_zero_point); \
        ernn_x86_lanes8_steps_##ISA(&p->x_fc, &p->h_fc, 3, n, stride, NULL, &k, xs, x_stride, steps, h, h_q15, hs,   \
                                    hs_stride);                                                                      \
    }
ERNN_X86_LANES8_RUNS(avx2, ERNN_X86_AVX2, ERNN_X86_AVX2_INLINE, 2 * ERNN_X86_LANE8_BYTES)
#if ERNN_X86_LEVEL >= 2
ERNN_X86_LANES8_RUNS(vnni, ERNN_X86_VNNI256, ERNN_X86_VNNI256_INLINE, ERNN_X86_LANE8_BYTES)
#endif

/* The eight-lane kernel this CPU runs: 2 AVX-VNNI, 1 AVX2, 0 none (within ERNN_X86_LEVEL). */
static inline int ernn_x86_lanes8_isa(void)
{
#if ERNN_X86_LEVEL >= 2
    if (__builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx2")) {
        return 2;
    }
#endif
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* The block paths of this CPU (ernn_lstm_run_s8, ernn_gru_run_s8): 1 if it has one for a cell of `gates` gate
 * blocks, n units and nx inputs (besides the callers' checks of the layers' form and size): AVX-512 VNNI takes
 * any, AVX-VNNI and AVX2 those their eight-lane kernel takes. */
#define ERNN_PORT_LSTM_RUN 1
#define ERNN_PORT_GRU_RUN 1
static inline int ernn_x86_run_port_ok(int32_t gates, int32_t n, int32_t nx)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni()) {
        return 1;
    }
#endif
    const int isa = ernn_x86_lanes8_isa();
    return isa != 0 && ernn_x86_lanes8_takes(isa == 2 ? 4 : 2, gates, n, nx);
}

/* 1 if a cell of n units with gate blocks of `stride` rows fits the eight-lane kernel's columns. */
static inline int ernn_x86_lanes8_stride_ok(int32_t n, int32_t stride)
{
    return stride >= n && stride <= 8 * ((n + 7) / 8);
}

/* 1 if this CPU's block path takes an LSTM cell of n units (short form): with AVX-512, one whose product
 * rescales are the IR's powers of two (ernn_x86_lstm16_ok; any other runs step by step, where the port's
 * element-wise step falls back to AVX2); else the eight-lane kernel's limits. */
static inline int ernn_lstm_run_port_ok(const ernn_lstm_s8_params *p, int32_t n)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni()) {
        return ernn_x86_lstm16_ok(p->forget_mul.multiplier, -p->forget_mul.shift, p->input_mul.multiplier,
                                  -p->input_mul.shift);
    }
#endif
    return ernn_x86_run_port_ok(4, n, p->x_fc.in_features);
}

/* ernn_lstm_run_s8 on this CPU's block path (ernn_lstm_run_port_ok), the element-wise constants from the cell's
 * (the short form; the tanh input's multiplier and shift). Returns 0 (nothing done) without one. */
static inline int ernn_lstm_run_port(const ernn_lstm_s8_params *p, int32_t n, int32_t stride, int32_t tanh_multiplier,
                                     int32_t tanh_shift, const int8_t *xs, size_t x_stride, int32_t steps, int8_t *h,
                                     int16_t *c, int8_t *hs, size_t hs_stride)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni()) {
        if (!ernn_lstm_run_port_ok(p, n)) {
            return 0;
        }
        const ernn_x86_lstm16 k = ernn_x86_lstm16_of(p->forget_mul.multiplier, -p->forget_mul.shift,
                                                     p->input_mul.multiplier, -p->input_mul.shift, tanh_multiplier,
                                                     tanh_shift, p->output_mul.multiplier, -p->output_mul.shift,
                                                     p->hidden_zero_point);
        return ernn_lstm_run_avx512(p, n, stride, &k, xs, x_stride, steps, h, c, hs, hs_stride);
    }
#endif
    if (!ernn_x86_run_port_ok(4, n, p->x_fc.in_features) || !ernn_x86_lanes8_stride_ok(n, stride)) {
        return 0;
    }
#if ERNN_X86_LEVEL >= 2
    if (ernn_x86_lanes8_isa() == 2) {
        ernn_x86_lstm_lanes8_run_vnni(p, n, stride, tanh_multiplier, tanh_shift, xs, x_stride, steps, h, c, hs,
                                      hs_stride);
        return 1;
    }
#endif
    ernn_x86_lstm_lanes8_run_avx2(p, n, stride, tanh_multiplier, tanh_shift, xs, x_stride, steps, h, c, hs,
                                  hs_stride);
    return 1;
}

/* ernn_gru_run_s8 on this CPU's block path (ernn_x86_run_port_ok). Returns 0 (nothing done) without one. */
static inline int ernn_gru_run_port(const ernn_gru_s8_params *p, int32_t n, int32_t stride, const int8_t *xs,
                                    size_t x_stride, int32_t steps, int8_t *h, int16_t *h_q15, int8_t *hs,
                                    size_t hs_stride)
{
#if ERNN_X86_LEVEL >= 3
    if (ernn_x86_has_avx512vnni()) {
        const ernn_x86_gru16 k = ernn_x86_gru16_of(p->reset_mul.multiplier, -p->reset_mul.shift,
                                                   p->gate_mul.multiplier, -p->gate_mul.shift,
                                                   p->to_hidden.multiplier, -p->to_hidden.shift, p->hidden_zero_point);
        return ernn_gru_run_avx512(p, n, stride, &k, xs, x_stride, steps, h, h_q15, hs, hs_stride);
    }
#endif
    if (!ernn_x86_run_port_ok(3, n, p->x_fc.in_features) || !ernn_x86_lanes8_stride_ok(n, stride)) {
        return 0;
    }
#if ERNN_X86_LEVEL >= 2
    if (ernn_x86_lanes8_isa() == 2) {
        ernn_x86_gru_lanes8_run_vnni(p, n, stride, xs, x_stride, steps, h, h_q15, hs, hs_stride);
        return 1;
    }
#endif
    ernn_x86_gru_lanes8_run_avx2(p, n, stride, xs, x_stride, steps, h, h_q15, hs, hs_stride);
    return 1;
}
#endif

#endif /* ERNN_DOT_S8_X86_H */
