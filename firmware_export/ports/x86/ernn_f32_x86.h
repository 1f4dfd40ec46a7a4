/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_f32_x86.h
 * @brief Port: the float32 path's FCs and element-wise cell math for x86-64 (AVX2+FMA, AVX-512F), chosen at
 *        run time.
 *
 * Included by src/ernn_cells_f32.c on x86-64 with gcc or clang. As the int8 port: every function carries
 * its ISA as a target attribute and __builtin_cpu_supports picks the widest the CPU has, so the library
 * needs no -m flags and runs on any x86-64, falling back to the plain C. -DERNN_X86_F32_LEVEL=n caps the
 * choice (0: plain C, 1: AVX2+FMA, 2: AVX-512F for the FCs; default 2), for testing each kernel on one
 * machine.
 *
 * FCs (the paneled layout, ERNN_FC_F32_PANELS): a tile of up to 8 panels (AVX-512: one zmm each) or 3
 * (AVX2: two ymm each) of outputs stays in registers while the panels stream by sequentially; each input
 * is broadcast and multiplied into the tile by FMA. Two sets of accumulators (even and odd inputs) keep the
 * FMA latency hidden on short tiles. Element-wise math (AVX2,
 * eight lanes): ernn_math_f32.c's exp (the same range reduction and degree-7 polynomial, by FMA),
 * sigmoid = 1 / (1 + exp(-x)), and tanh = e / (e + 2) with e = expm1(2|x|) (a Taylor series below 0.25,
 * so no cancellation near 0).
 */
#ifndef ERNN_F32_X86_H
#define ERNN_F32_X86_H

/* As ernn_dot_s8_x86.h: gcc 12's AVX-512 intrinsics raise false -Wuninitialized warnings in C++. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define ERNN_F32_PORT_NAME "x86"

#if !defined(ERNN_X86_F32_LEVEL)
#define ERNN_X86_F32_LEVEL 2
#endif

#if ERNN_X86_F32_LEVEL >= 1
#define ERNN_X86_F32_AVX2 __attribute__((target("avx2,fma")))
#define ERNN_X86_F32_TILE_AVX2 3 /* panels: 2 sets x 6 ymm accumulators + 2 inputs + a load: the 16 registers */

static inline int ernn_x86_f32_has_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* y[0 .. 16t) = bias + the t panels at w (ernn_fc_f32_params' ERNN_FC_F32_PANELS) times x; two ymm per panel. */
ERNN_X86_F32_AVX2 __attribute__((always_inline)) static inline void ernn_fc_tile_avx2(
    const float *w, int32_t in, const float *bias, const float *x, float *y, const int32_t t)
{
    const size_t panel = (size_t)ERNN_F32_PANEL * (size_t)in;
    __m256 a[2 * ERNN_X86_F32_TILE_AVX2], b[2 * ERNN_X86_F32_TILE_AVX2];
#pragma GCC unroll 8
    for (int32_t k = 0; k < 2 * t; ++k) {
        a[k] = _mm256_loadu_ps(bias + 8 * k);
        b[k] = _mm256_setzero_ps();
    }
    int32_t i = 0;
    for (; i + 2 <= in; i += 2, w += 2 * ERNN_F32_PANEL) {
        const __m256 x0 = _mm256_broadcast_ss(x + i), x1 = _mm256_broadcast_ss(x + i + 1);
#pragma GCC unroll 8
        for (int32_t k = 0; k < 2 * t; ++k) {
            const float *v = w + (size_t)(k / 2) * panel + 8 * (k % 2);
            a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(v), x0, a[k]);
            b[k] = _mm256_fmadd_ps(_mm256_loadu_ps(v + ERNN_F32_PANEL), x1, b[k]);
        }
    }
    if (i < in) {
        const __m256 x0 = _mm256_broadcast_ss(x + i);
#pragma GCC unroll 8
        for (int32_t k = 0; k < 2 * t; ++k) {
            a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (size_t)(k / 2) * panel + 8 * (k % 2)), x0, a[k]);
        }
    }
#pragma GCC unroll 8
    for (int32_t k = 0; k < 2 * t; ++k) {
        _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(a[k], b[k]));
    }
}

ERNN_X86_F32_AVX2 static inline void ernn_fc_tiles_avx2(const float *w, int32_t in, const float *bias, const float *x,
                                                        float *y, int32_t t)
{
    switch (t) {
    case 1: ernn_fc_tile_avx2(w, in, bias, x, y, 1); break;
    case 2: ernn_fc_tile_avx2(w, in, bias, x, y, 2); break;
    default: ernn_fc_tile_avx2(w, in, bias, x, y, 3); break;
    }
}
#endif

#if ERNN_X86_F32_LEVEL >= 2
#define ERNN_X86_F32_AVX512 __attribute__((target("avx512f,fma")))
#define ERNN_X86_F32_TILE_AVX512 8 /* panels, one zmm each */

ERNN_X86_F32_AVX512 __attribute__((always_inline)) static inline void ernn_fc_tile_avx512(
    const float *w, int32_t in, const float *bias, const float *x, float *y, const int32_t t)
{
    const size_t panel = (size_t)ERNN_F32_PANEL * (size_t)in;
    __m512 a[ERNN_X86_F32_TILE_AVX512], b[ERNN_X86_F32_TILE_AVX512];
#pragma GCC unroll 8
    for (int32_t k = 0; k < t; ++k) {
        a[k] = _mm512_loadu_ps(bias + 16 * k);
        b[k] = _mm512_setzero_ps();
    }
    int32_t i = 0;
    for (; i + 2 <= in; i += 2, w += 2 * ERNN_F32_PANEL) {
        const __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[i + 1]);
#pragma GCC unroll 8
        for (int32_t k = 0; k < t; ++k) {
            a[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (size_t)k * panel), x0, a[k]);
            b[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (size_t)k * panel + ERNN_F32_PANEL), x1, b[k]);
        }
    }
    if (i < in) {
        const __m512 x0 = _mm512_set1_ps(x[i]);
#pragma GCC unroll 8
        for (int32_t k = 0; k < t; ++k) {
            a[k] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (size_t)k * panel), x0, a[k]);
        }
    }
#pragma GCC unroll 8
    for (int32_t k = 0; k < t; ++k) {
        _mm512_storeu_ps(y + 16 * k, _mm512_add_ps(a[k], b[k]));
    }
}

ERNN_X86_F32_AVX512 static inline void ernn_fc_tiles_avx512(const float *w, int32_t in, const float *bias,
                                                            const float *x, float *y, int32_t t)
{
    switch (t) {
    case 1: ernn_fc_tile_avx512(w, in, bias, x, y, 1); break;
    case 2: ernn_fc_tile_avx512(w, in, bias, x, y, 2); break;
    case 3: ernn_fc_tile_avx512(w, in, bias, x, y, 3); break;
    case 4: ernn_fc_tile_avx512(w, in, bias, x, y, 4); break;
    case 5: ernn_fc_tile_avx512(w, in, bias, x, y, 5); break;
    case 6: ernn_fc_tile_avx512(w, in, bias, x, y, 6); break;
    case 7: ernn_fc_tile_avx512(w, in, bias, x, y, 7); break;
    default: ernn_fc_tile_avx512(w, in, bias, x, y, 8); break;
    }
}
#endif

/*
 * The paneled FC's first `panels` whole panels with the widest kernel the CPU has; returns the panels done
 * (0: the plain C does them). The panels are split into tiles of near-equal size (12 as 6 + 6, not 8 + 4).
 */
static inline int32_t ernn_fc_f32_panels_port(const float *w, const float *bias, const float *x, int32_t in,
                                              int32_t panels, float *y)
{
    (void)w, (void)bias, (void)x, (void)in, (void)y; /* unused at ERNN_X86_F32_LEVEL=0 */
    int32_t tmax = 0, wide = 0;
#if ERNN_X86_F32_LEVEL >= 2
    if (__builtin_cpu_supports("avx512f") && ernn_x86_f32_has_avx2()) {
        tmax = ERNN_X86_F32_TILE_AVX512;
        wide = 1;
    } else
#endif
#if ERNN_X86_F32_LEVEL >= 1
        if (ernn_x86_f32_has_avx2()) {
        tmax = ERNN_X86_F32_TILE_AVX2;
    }
#endif
    if (tmax == 0) {
        return 0;
    }
    (void)wide;
    for (int32_t tiles = (panels + tmax - 1) / tmax, left = panels; tiles > 0; --tiles) {
        const int32_t t = (left + tiles - 1) / tiles;
#if ERNN_X86_F32_LEVEL >= 2
        if (wide) {
            ernn_fc_tiles_avx512(w, in, bias, x, y, t);
        } else
#endif
        {
#if ERNN_X86_F32_LEVEL >= 1
            ernn_fc_tiles_avx2(w, in, bias, x, y, t);
#endif
        }
        w += (size_t)t * ERNN_F32_PANEL * (size_t)in;
        bias += t * ERNN_F32_PANEL;
        y += t * ERNN_F32_PANEL;
        left -= t;
    }
    return panels;
}

static inline const char *ernn_f32_kernel_port(void)
{
#if ERNN_X86_F32_LEVEL >= 2
    if (__builtin_cpu_supports("avx512f") && ernn_x86_f32_has_avx2()) {
        return "x86 AVX-512F (FC), AVX2+FMA (element-wise)";
    }
#endif
#if ERNN_X86_F32_LEVEL >= 1
    if (ernn_x86_f32_has_avx2()) {
        return "x86 AVX2+FMA";
    }
#endif
    return "plain C";
}

/* ---- element-wise: exp, sigmoid, tanh and the cells' steps, eight lanes ------------------------- */

#if ERNN_X86_F32_LEVEL >= 1
/* ernn_exp_f32 in eight lanes (k rounded half to even instead of away from zero: |r| <= ln2/2 either way). */
ERNN_X86_F32_AVX2 static inline __m256 ernn_x86_exp(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.42860676533018e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

ERNN_X86_F32_AVX2 static inline __m256 ernn_x86_sigmoid(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, ernn_x86_exp(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

ERNN_X86_F32_AVX2 static inline __m256 ernn_x86_tanh(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    /* |x| clamped to 9 (tanh(9) rounds to 1 in float32); y = 2|x|, e = expm1(y). */
    const __m256 a = _mm256_min_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(9.0f));
    const __m256 y = _mm256_add_ps(a, a);
    __m256 s = _mm256_set1_ps(1.0f / 40320.0f); /* y (1 + y/2 + ... + y^7/8!) for y < 0.5 */
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f / 5040.0f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f / 720.0f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f / 120.0f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f / 24.0f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f / 6.0f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(0.5f));
    s = _mm256_fmadd_ps(s, y, _mm256_set1_ps(1.0f));
    s = _mm256_mul_ps(s, y);
    const __m256 big = _mm256_sub_ps(ernn_x86_exp(y), _mm256_set1_ps(1.0f));
    const __m256 e = _mm256_blendv_ps(big, s, _mm256_cmp_ps(y, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
    const __m256 t = _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
    return _mm256_or_ps(t, _mm256_and_ps(x, sign));
}

/* y = sigmoid(a + b) (tanh: kind 1) over [0, n rounded down to 8), b optional; returns the count done. */
ERNN_X86_F32_AVX2 static inline int32_t ernn_act_f32_avx2(int32_t kind, const float *a, const float *b, float *y,
                                                          int32_t n)
{
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(a + j);
        if (b != NULL) {
            v = _mm256_add_ps(v, _mm256_loadu_ps(b + j));
        }
        _mm256_storeu_ps(y + j, kind ? ernn_x86_tanh(v) : ernn_x86_sigmoid(v));
    }
    return j;
}

/* ernn_gru_step_f32's element-wise loop: h = n + z (h - n), n = tanh(x_n + r h_n). */
ERNN_X86_F32_AVX2 static inline int32_t ernn_gru_f32_avx2(const float *gx, const float *gh, float *h, int32_t n)
{
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 r = ernn_x86_sigmoid(_mm256_add_ps(_mm256_loadu_ps(gx + j), _mm256_loadu_ps(gh + j)));
        const __m256 z = ernn_x86_sigmoid(_mm256_add_ps(_mm256_loadu_ps(gx + n + j), _mm256_loadu_ps(gh + n + j)));
        const __m256 cand = ernn_x86_tanh(_mm256_fmadd_ps(r, _mm256_loadu_ps(gh + 2 * n + j), _mm256_loadu_ps(gx + 2 * n + j)));
        const __m256 hv = _mm256_loadu_ps(h + j);
        _mm256_storeu_ps(h + j, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, cand), cand));
    }
    return j;
}

/* ernn_lstm_step_f32's element-wise loop. */
ERNN_X86_F32_AVX2 static inline int32_t ernn_lstm_f32_avx2(const float *gx, const float *gh, float *h, float *c,
                                                           int32_t n)
{
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 i = ernn_x86_sigmoid(_mm256_add_ps(_mm256_loadu_ps(gx + j), _mm256_loadu_ps(gh + j)));
        const __m256 f = ernn_x86_sigmoid(_mm256_add_ps(_mm256_loadu_ps(gx + n + j), _mm256_loadu_ps(gh + n + j)));
        const __m256 g = ernn_x86_tanh(_mm256_add_ps(_mm256_loadu_ps(gx + 2 * n + j), _mm256_loadu_ps(gh + 2 * n + j)));
        const __m256 o = ernn_x86_sigmoid(_mm256_add_ps(_mm256_loadu_ps(gx + 3 * n + j), _mm256_loadu_ps(gh + 3 * n + j)));
        const __m256 cv = _mm256_fmadd_ps(f, _mm256_loadu_ps(c + j), _mm256_mul_ps(i, g));
        _mm256_storeu_ps(c + j, cv);
        _mm256_storeu_ps(h + j, _mm256_mul_ps(o, ernn_x86_tanh(cv)));
    }
    return j;
}
#endif

#define ERNN_F32_PORT_ELEMENTWISE 1
static inline int32_t ernn_act_f32_port(int32_t kind, const float *a, const float *b, float *y, int32_t n)
{
#if ERNN_X86_F32_LEVEL >= 1
    if (ernn_x86_f32_has_avx2()) {
        return ernn_act_f32_avx2(kind, a, b, y, n);
    }
#endif
    (void)kind, (void)a, (void)b, (void)y, (void)n;
    return 0;
}

static inline int32_t ernn_gru_f32_port(const float *gx, const float *gh, float *h, int32_t n)
{
#if ERNN_X86_F32_LEVEL >= 1
    if (ernn_x86_f32_has_avx2()) {
        return ernn_gru_f32_avx2(gx, gh, h, n);
    }
#endif
    (void)gx, (void)gh, (void)h, (void)n;
    return 0;
}

static inline int32_t ernn_lstm_f32_port(const float *gx, const float *gh, float *h, float *c, int32_t n)
{
#if ERNN_X86_F32_LEVEL >= 1
    if (ernn_x86_f32_has_avx2()) {
        return ernn_lstm_f32_avx2(gx, gh, h, c, n);
    }
#endif
    (void)gx, (void)gh, (void)h, (void)c, (void)n;
    return 0;
}

#endif /* ERNN_F32_X86_H */
