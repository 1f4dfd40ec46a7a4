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
 * Never VPMADDUBSW / VPDPBUSDS: their int16 pair sums or int32 sums saturate. The widest kernel the CPU
 * has is picked at each call with __builtin_cpu_supports (a load and a test: libgcc fills its table
 * before main); functions carry their ISA as a target attribute, so the library needs no -m flags and
 * runs on any x86-64, falling back to the plain C below. -DERNN_X86_LEVEL=n caps the choice
 * (0: plain C, 1: AVX2, 2: AVX-VNNI, 3: AVX-512 VNNI; default 3), for testing each kernel on one machine.
 * All sums are exact int32 sums (the caller's bound keeps them inside int32): each kernel equals the
 * portable C bit for bit.
 */
#ifndef ERNN_DOT_S8_X86_H
#define ERNN_DOT_S8_X86_H

#include <immintrin.h>
#include <string.h>

#include "edgernn/ernn_common.h"

#define ERNN_PORT_NAME "x86"

#if !defined(ERNN_X86_LEVEL)
#define ERNN_X86_LEVEL 3
#endif

/* x as int16, zero padded to a multiple of 16 values. */
static inline void ernn_widen_port(const int8_t *x, int32_t n, int16_t *buffer)
{
    const int32_t padded = (n + 15) & ~15;
    for (int32_t i = 0; i < padded; ++i) {
        buffer[i] = i < n ? (int16_t)x[i] : 0;
    }
}

/* Plain C over the same layout: the fallback on CPUs without AVX2. */
static void ernn_mac4_x86_c(const int8_t **wp, const int32_t *bias, const int16_t *x, int32_t chunks, int32_t acc[4])
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
__attribute__((target("avx2"))) static void ernn_mac4_avx2(const int8_t **wp, const int32_t *bias, const int16_t *x,
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
__attribute__((target("avx2,avxvnni"))) static void ernn_mac4_avxvnni(const int8_t **wp, const int32_t *bias,
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
__attribute__((target("avx2,avx512f,avx512bw,avx512vnni"))) static void ernn_mac4_avx512vnni(
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

#endif /* ERNN_DOT_S8_X86_H */
