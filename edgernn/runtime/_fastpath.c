/* SPDX-License-Identifier: Apache-2.0 */
/*
 * edgernn's Python fast path for Stream.step / Stream.run on the "c" backend (a CPython extension).
 *
 * One call per step does what edgernn.runtime.stream.InputAdapter and the ctypes backend do in
 * Python: check the input, normalize it with the model's float32 mean/std, quantize it exactly as
 * edgernn.ir.QParams.quantize (double division, round half to even, saturate to int8, or to int16
 * for a 16-bit model input), call the model's generated C step on the backend's state buffer in
 * place, and dequantize the output (int8 by table, an int16 head's as QParams.dequantize) into a
 * new float32 array: the only allocation of a step.
 *
 * It takes only the common case. Anything else (another dtype or shape, an array subclass, a NaN
 * or Inf before or after normalization, a token out of range, a non-zero status from the C model)
 * returns None with the state unchanged, and the caller takes the full Python path, which gives
 * the same result or raises the same error (and warning) as it always has.
 *
 * Built on first use by edgernn.runtime.c_backend.fastpath_module() with the host C compiler;
 * where it cannot be built (no Python headers), Stream keeps the ctypes path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "edgernn/edgernn.h"

/* numpy computes (x - mean) / std in float32; so must this, without excess precision. */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the fast path needs float arithmetic without excess precision (FLT_EVAL_METHOD == 0)"
#endif

/* <prefix>_run of the generated API (int8 path) on an opaque state struct; a step is a run of one
 * step, as the ctypes backend calls it. xs are int8, or int16 for a 16-bit model input; ys int8, or
 * int16 for an int16 head (the generated signature follows the model). */
typedef ernn_status (*run_fn)(void *state, const void *xs, int32_t steps, void *ys);
typedef ernn_status (*run_tokens_fn)(void *state, const int32_t *tokens, int32_t steps, void *ys);

/* Steps quantized per call of the model's run: bounds the buffers, not the sequence length. Each call
 * repeats the block path's setup (weights to rows in lanes, adjusted biases): 1,024 rather than 256 steps
 * took 1-2% less time per step across the model set's LSTMs (interleaved A/B of 1,000-step runs). */
#define CHUNK 1024

typedef struct {
    PyObject_HEAD
    PyObject *state_owner; /* the numpy buffer holding <prefix>_state_t (kept alive) */
    void *state;
    size_t state_bytes;
    unsigned char *backup; /* the state before a call, restored when the model returns an error */
    void *run; /* run_fn, or run_tokens_fn for token models */
    int tokens;
    npy_intp in_width; /* features per step (1 for token models) */
    long long vocab;
    float *mean; /* NULL: no normalization */
    float *std;
    double scale;
    int float32_quotient; /* scale and 1 / scale are normal float32 values (QParams keeps scales so): the
                           * premise of quantized16's quotient by inverse_scale */
    float inverse_scale;  /* fl32(1 / scale) */
    double zero_point;
    int in_int16; /* a 16-bit model input: xq holds int16 */
    double q_min, q_max; /* the input's saturation bounds: int8's or int16's */
    float table[256]; /* int8 output -> float32, indexed by q + 128 */
    int table_by_product; /* each entry is fl32(out_scale32 * (q - out_zero_point)): checked at init */
    float out_scale32;
    int out_int16; /* an int16 head: yq holds int16, dequantized as out_scale * (q - out_zero_point) */
    int vectors; /* the widest row quantizer to use where the CPU has it: 2 AVX-512, 1 AVX2, 0 none (tests) */
    double out_scale;
    double out_zero_point;
    npy_intp out_width;
    void *xq; /* CHUNK * in_width values (int8 or int16) */
    int32_t *tok; /* CHUNK */
    void *yq; /* CHUNK * out_width values (int8 or int16) */
} Stepper;

static void Stepper_dealloc(Stepper *self)
{
    Py_XDECREF(self->state_owner);
    PyMem_Free(self->backup);
    PyMem_Free(self->mean);
    PyMem_Free(self->std);
    PyMem_Free(self->xq);
    PyMem_Free(self->tok);
    PyMem_Free(self->yq);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A writable, C-contiguous, aligned numpy array of exactly `count` values of `type` (or of any
 * size when count < 0), else NULL with a TypeError. */
static PyArrayObject *exact_array(PyObject *obj, int type, npy_intp count, int writable, const char *what)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a numpy array", what);
        return NULL;
    }
    PyArrayObject *arr = (PyArrayObject *)obj;
    const int flags = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | (writable ? NPY_ARRAY_WRITEABLE : 0);
    if (PyArray_TYPE(arr) != type || !PyArray_ISNOTSWAPPED(arr) || !PyArray_CHKFLAGS(arr, flags) ||
        (count >= 0 && PyArray_SIZE(arr) != count)) {
        PyErr_Format(PyExc_TypeError, "%s has the wrong dtype, size or layout", what);
        return NULL;
    }
    return arr;
}

static float *copy_floats(PyObject *obj, npy_intp count, const char *what)
{
    PyArrayObject *arr = exact_array(obj, NPY_FLOAT32, count, 0, what);
    if (arr == NULL) {
        return NULL;
    }
    float *out = PyMem_Malloc((size_t)count * sizeof(float));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, PyArray_DATA(arr), (size_t)count * sizeof(float));
    return out;
}

static int Stepper_init(Stepper *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"run", "state", "tokens", "in_width", "vocab", "mean", "std",
                            "scale", "zero_point", "table", "out_width", "input_bits", "output_bits",
                            "out_scale", "out_zero_point", "vectors", NULL};
    unsigned long long run_addr;
    PyObject *state, *mean, *std, *table;
    int tokens, input_bits = 8, output_bits = 8, vectors = 2;
    Py_ssize_t in_width, out_width;
    long long vocab;
    double scale, zero_point, out_scale = 0.0, out_zero_point = 0.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KOpnLOOddOn|iiddi", names, &run_addr, &state, &tokens, &in_width,
                                     &vocab, &mean, &std, &scale, &zero_point, &table, &out_width, &input_bits,
                                     &output_bits, &out_scale, &out_zero_point, &vectors)) {
        return -1;
    }
    if (self->state_owner != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Stepper is initialized once");
        return -1;
    }
    if (run_addr == 0 || in_width < 1 || out_width < 1 || (mean == Py_None) != (std == Py_None) ||
        (input_bits != 8 && input_bits != 16) || (output_bits != 8 && output_bits != 16) ||
        (input_bits == 16 && tokens)) {
        PyErr_SetString(PyExc_ValueError, "invalid fast-path parameters");
        return -1;
    }
    PyArrayObject *buf = exact_array(state, NPY_INT8, -1, 1, "state");
    PyArrayObject *tab = exact_array(table, NPY_FLOAT32, 256, 0, "table");
    if (buf == NULL || tab == NULL) {
        return -1;
    }
    self->run = (void *)(uintptr_t)run_addr;
    self->tokens = tokens;
    self->in_width = tokens ? 1 : (npy_intp)in_width;
    self->vocab = vocab;
    self->scale = scale;
    self->inverse_scale = 1.0f / (float)scale;
    self->float32_quotient = (double)(float)scale == scale && isnormal((float)scale) && isnormal(self->inverse_scale);
    self->zero_point = zero_point;
    self->in_int16 = input_bits == 16;
    self->q_min = self->in_int16 ? -32768.0 : -128.0;
    self->q_max = self->in_int16 ? 32767.0 : 127.0;
    self->out_int16 = output_bits == 16;
    self->out_scale = out_scale;
    self->out_zero_point = out_zero_point;
    self->vectors = vectors;
    self->out_width = (npy_intp)out_width;
    memcpy(self->table, PyArray_DATA(tab), sizeof self->table);
    /* QParams.dequantize's float32(scale * (q - zero_point)) in double is one float32 product where the scale is a
     * normal float32 (QParams keeps scales so): the double product is exact (24 by 9 bits), so its float32
     * rounding is the float32 product's; each product is then 0 or at least the scale, normal, whatever the
     * FTZ/DAZ modes. Taken only where all 256 entries are those products, bit for bit. */
    self->out_scale32 = (float)out_scale;
    self->table_by_product = !self->out_int16 && (double)self->out_scale32 == out_scale && isnormal(self->out_scale32);
    for (int q = -128; q < 128 && self->table_by_product; ++q) {
        const float v = (float)((double)q - out_zero_point) * self->out_scale32;
        self->table_by_product = memcmp(&v, &self->table[q + 128], sizeof v) == 0;
    }
    if (mean != Py_None) {
        self->mean = copy_floats(mean, self->in_width, "mean");
        self->std = self->mean ? copy_floats(std, self->in_width, "std") : NULL;
        if (self->std == NULL) {
            return -1;
        }
    }
    self->state_bytes = (size_t)PyArray_NBYTES(buf);
    self->state = PyArray_DATA(buf);
    self->backup = PyMem_Malloc(self->state_bytes);
    self->xq = PyMem_Malloc((size_t)(CHUNK * self->in_width) * (self->in_int16 ? sizeof(int16_t) : 1));
    self->tok = PyMem_Malloc(CHUNK * sizeof(int32_t));
    self->yq = PyMem_Malloc((size_t)(CHUNK * self->out_width) * (self->out_int16 ? sizeof(int16_t) : 1));
    if (self->backup == NULL || self->xq == NULL || self->tok == NULL || self->yq == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(state);
    self->state_owner = state;
    return 0;
}

/* -- inputs ----------------------------------------------------------------------------------- */

/* A float32 frame of in_width values: exact ndarray, native byte order, aligned (any stride). */
static int is_frame(const Stepper *self, PyObject *x, int ndim)
{
    if (!PyArray_CheckExact(x)) {
        return 0;
    }
    PyArrayObject *a = (PyArrayObject *)x;
    return PyArray_TYPE(a) == NPY_FLOAT32 && PyArray_ISNOTSWAPPED(a) && PyArray_ISALIGNED(a) &&
           PyArray_NDIM(a) == ndim && PyArray_DIM(a, ndim - 1) == self->in_width && PyArray_DIM(a, 0) > 0;
}

/* The normalized value of feature i, as numpy computes (x - mean) / std in float32. */
static inline float normalized(const Stepper *self, float x, npy_intp i)
{
    if (self->mean == NULL) {
        return x;
    }
    const float centred = x - self->mean[i];
    return centred / self->std[i];
}

/* rint(v) in the default rounding mode (round half to even), without the libm call gcc emits for
 * rint on x86-64 without SSE4.1: for |v| < 2^52, adding and subtracting 2^52 (with v's sign) rounds
 * at the units (ulp(2^52) = 1) as rint does; larger values are integers already. A -0.0 where rint
 * gives +0.0 (or the reverse) makes the same int8. */
static inline double round_even(double v)
{
    const double big = 4503599627370496.0; /* 2^52 */
    const double b = copysign(big, v); /* no branch on the sign: it is data, and mispredicted half the time */
    const double r = (v + b) - b;
    return fabs(v) < big ? r : v;
}

/* QParams.quantize: clamp(rint(x / scale) + zero_point, -128, 127) in double (-32768, 32767 for a
 * 16-bit input). */
static inline int32_t quantize(const Stepper *self, float x)
{
    double q = round_even((double)x / self->scale) + self->zero_point;
    q = q > self->q_max ? self->q_max : q;
    q = q < self->q_min ? self->q_min : q;
    return (int32_t)q;
}

/* Value i of a quantized row: int8, or int16 for a 16-bit input. */
static inline void put_quantized(const Stepper *self, void *out, npy_intp i, int32_t q)
{
    if (self->in_int16) {
        ((int16_t *)out)[i] = (int16_t)q;
    } else {
        ((int8_t *)out)[i] = (int8_t)q;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EDGERNN_ROW_AVX2 1
/* The row quantizers' near-tie test for an int8 input (see quantized16 for the float32 quotient f and the
 * double one d, |f - d| < |f| 2^-22): a lane is redone in double where |f - rint(f)| >= NEAR_TIE_INT8 (the
 * difference exact). For |f| < 2^9, |f - d| < 2^-13, so where rint(f) != rint(d) (a half-integer between them)
 * |f - rint(f)| > 0.5 - 2^-13: flagged. For |f| >= 2^9 both quotients exceed 2^9 - 1 with the same sign, and
 * rint(.) + zero_point (zero_point in [-128, 127]) saturates to the same bound either way. A lane flagged
 * needlessly is only redone. Four operations fewer a vector than the bound relative to |f| that a 16-bit
 * input keeps (AVX-512, a 64,000-value row: 6.0-7.5 -> 4.3-4.7 ns per sixteen values; Stream.run of an LSTM of
 * 64 inputs and 32 units: quantization 9.1% -> 7.2% of its perf samples). */
#define NEAR_TIE_INT8 (0.5f - 0x1p-12f)
/* quantize_row's values [i, n rounded down to 8) of a contiguous row, eight at a time: the quotient as
 * quantized16 takes it (x times the float32 1 / scale, near ties redone in double), then round to nearest
 * even, add, clamp: the same int8s (int16s). Returns the values done, or -1 when one is not finite. */
__attribute__((target("avx2"))) static npy_intp quantize_row_avx2(const Stepper *self, const float *row, void *out,
                                                                   npy_intp i)
{
    const __m256 inf = _mm256_set1_ps(INFINITY), sign = _mm256_set1_ps(-0.0f);
    const __m256 inverse = _mm256_set1_ps(self->inverse_scale), zp = _mm256_set1_ps((float)self->zero_point);
    const __m256 lo = _mm256_set1_ps((float)self->q_min), hi = _mm256_set1_ps((float)self->q_max);
    const __m256d scale_d = _mm256_set1_pd(self->scale), zp_d = _mm256_set1_pd(self->zero_point);
    const __m256d lo_d = _mm256_set1_pd(self->q_min), hi_d = _mm256_set1_pd(self->q_max);
    const int float32_quotient = self->float32_quotient, in_int16 = self->in_int16;
    const npy_intp width = self->in_width;
    const float *mean = self->mean, *std = self->std;
    for (; i + 8 <= width; i += 8) {
        __m256 v = _mm256_loadu_ps(row + i);
        if (mean != NULL) {
            v = _mm256_div_ps(_mm256_sub_ps(v, _mm256_loadu_ps(mean + i)), _mm256_loadu_ps(std + i));
        }
        if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), inf, _CMP_LT_OQ)) != 0xFF) {
            return -1; /* NaN or +-Inf */
        }
        const __m256 f = _mm256_mul_ps(v, inverse);
        const __m256 r = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 off = _mm256_andnot_ps(sign, _mm256_sub_ps(f, r)); /* |f - rint(f)|, exact */
        __m256 near_tie;
        if (!in_int16) {
            near_tie = _mm256_cmp_ps(off, _mm256_set1_ps(NEAR_TIE_INT8), _CMP_GE_OQ);
        } else {
            const __m256 a = _mm256_andnot_ps(sign, f);
            near_tie = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(_mm256_set1_ps(0.5f), off),
                                                   _mm256_mul_ps(a, _mm256_set1_ps(0x1p-21f)), _CMP_LE_OQ),
                                     _mm256_cmp_ps(a, _mm256_set1_ps(0x1p20f), _CMP_LT_OQ));
        }
        __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), lo), hi));
        if (!float32_quotient || _mm256_movemask_ps(near_tie) != 0) { /* the eight in double, as quantize */
            __m128i half_q[2];
            for (int half = 0; half < 2; ++half) {
                const __m256d d = _mm256_cvtps_pd(half ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v));
                const __m256d rd = _mm256_round_pd(_mm256_div_pd(d, scale_d), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                half_q[half] = _mm256_cvtpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_add_pd(rd, zp_d), lo_d), hi_d));
            }
            q = _mm256_set_m128i(half_q[1], half_q[0]);
        }
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)); /* exact */
        if (in_int16) {
            _mm_storeu_si128((__m128i *)(void *)((int16_t *)out + i), w);
        } else {
            _mm_storel_epi64((__m128i *)(void *)((int8_t *)out + i), _mm_packs_epi16(w, w));
        }
    }
    return i;
}

#define EDGERNN_X86_512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512dq")))
/* rint(x / scale) + zero_point clamped, as quantize's double operations, of sixteen float32 values v, in
 * int32 lanes. The quotient is taken in float32 as one multiply by inverse_scale (scale is a float32:
 * QParams), sixteen lanes an instruction, and in double, as quantize, only where the two could round to
 * different integers (scale and its inverse normal float32 values, float32_quotient; other scales take every
 * lane in double):
 *   f = fl32(x fl32(1 / scale)) = q (1 + e1)(1 + e2) with q = x / scale, |e1|, |e2| <= 2^-24, and
 *   d = fl64(x / scale) = q (1 + e3), |e3| <= 2^-53: |f - d| <= |q| (2^-23 + 2^-47) < |f| 2^-22;
 *   rint is monotone, so if rint(f) != rint(d) a half-integer lies between them, within |f| 2^-22 of f,
 *   and near_tie flags the lane (0.5 - |f - rint(f)| <= |f| 2^-21, twice the bound; both differences
 *   exact, Sterbenz; the bound's scaling by a power of two exact, or 0 where |f| < 2^-105 and rint(f) =
 *   rint(d) = 0; a product below the normal range is no half-integer's neighbour either: |f|, |q| < 2^-125).
 *   A multiply rather than VDIVPS, which issues once every 16 cycles on Intel cores.
 * Lanes with |f| >= 2^20 are never flagged: both quotients then exceed 2^19 with the same sign, and
 * rint(.) + zero_point (|zero_point| <= 128) saturates to the same bound either way (inf included).
 * Below 2^20 every integer is a float32, so the float sum and clamp are exact.
 * An int8 input takes the constant bound NEAR_TIE_INT8 instead. */
/* A Stepper's quantizer constants in registers, made once per call (ernn_quantizer16_of): read through the
 * Stepper, gcc reloaded and converted them for every sixteen values, the stores to the row's quantized values
 * possibly aliasing it (1.9x the time per value). */
typedef struct {
    const Stepper *self;
    __m512 inverse, zero_point, lo, hi;
    int float32_quotient, in_int16;
    const float *mean, *std;
} quantizer16;

EDGERNN_X86_512 static inline __attribute__((always_inline)) quantizer16 quantizer16_of(const Stepper *self)
{
    const quantizer16 k = {self,
                           _mm512_set1_ps(self->inverse_scale),
                           _mm512_set1_ps((float)self->zero_point),
                           _mm512_set1_ps((float)self->q_min),
                           _mm512_set1_ps((float)self->q_max),
                           self->float32_quotient,
                           self->in_int16,
                           self->mean,
                           self->std};
    return k;
}

EDGERNN_X86_512 static inline __attribute__((always_inline)) __m512i quantized16(const quantizer16 *k, __m512 v)
{
    const __m512 f = _mm512_mul_ps(v, k->inverse);
    const __m512 r = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 off = _mm512_abs_ps(_mm512_sub_ps(f, r)); /* |f - rint(f)|, exact */
    __mmask16 near_tie = (__mmask16)0xFFFF;                  /* no float32_quotient: every lane in double */
    if (k->float32_quotient && !k->in_int16) {
        near_tie = _mm512_cmp_ps_mask(off, _mm512_set1_ps(NEAR_TIE_INT8), _CMP_GE_OQ);
    } else if (k->float32_quotient) {
        const __m512 a = _mm512_abs_ps(f), gap = _mm512_sub_ps(_mm512_set1_ps(0.5f), off);
        near_tie = _mm512_cmp_ps_mask(gap, _mm512_mul_ps(a, _mm512_set1_ps(0x1p-21f)), _CMP_LE_OQ) &
                   _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p20f), _CMP_LT_OQ);
    }
    __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, k->zero_point), k->lo), k->hi));
    if (near_tie != 0) { /* quantize's operations in double for these lanes */
        const Stepper *self = k->self;
        const __m512d scale = _mm512_set1_pd(self->scale), zp = _mm512_set1_pd(self->zero_point);
        const __m512d dlo = _mm512_set1_pd(self->q_min), dhi = _mm512_set1_pd(self->q_max);
        __m256i half_q[2];
        for (int half = 0; half < 2; ++half) {
            const __m512d d = _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v));
            const __m512d rd = _mm512_roundscale_pd(_mm512_div_pd(d, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            half_q[half] = _mm512_cvtpd_epi32(_mm512_min_pd(_mm512_max_pd(_mm512_add_pd(rd, zp), dlo), dhi));
        }
        q = _mm512_mask_mov_epi32(q, near_tie, _mm512_inserti64x4(_mm512_castsi256_si512(half_q[0]), half_q[1], 1));
    }
    return q;
}

/* Sixteen values of a row from i (mask m: fewer at its end) quantized as quantize_row_avx2 does eight (the
 * same integers, quantized16). Returns 0 when one is not finite. */
EDGERNN_X86_512 static inline __attribute__((always_inline)) int quantize16_avx512(const quantizer16 *k, const float *row,
                                                                                   void *out, npy_intp i, __mmask16 m)
{
    __m512 v = _mm512_maskz_loadu_ps(m, row + i);
    if (k->mean != NULL) { /* lanes past the row: (0 - 0) / 1 */
        v = _mm512_div_ps(_mm512_sub_ps(v, _mm512_maskz_loadu_ps(m, k->mean + i)),
                          _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, k->std + i));
    }
    if (_mm512_fpclass_ps_mask(v, 0x99) != 0) { /* the classes QNaN, SNaN, +Inf, -Inf */
        return 0;
    }
    const __m512i all = quantized16(k, v); /* in [q_min, q_max]: the narrowing is exact */
    if (k->in_int16) {
        _mm256_mask_storeu_epi16((int16_t *)out + i, m, _mm512_cvtepi32_epi16(all));
    } else {
        _mm_mask_storeu_epi8((int8_t *)out + i, m, _mm512_cvtepi32_epi8(all));
    }
    return 1;
}

/* A whole contiguous row sixteen values at a time (wide rows: the divisions dominate, and AVX-512 does
 * twice the lanes per instruction), its last values (fewer than sixteen: every narrow row) in masked
 * lanes rather than one by one. Returns in_width, or -1 when a value is not finite. */
EDGERNN_X86_512 static npy_intp quantize_row_avx512(const Stepper *self, const float *row, void *out)
{
    const quantizer16 k = quantizer16_of(self);
    const npy_intp width = self->in_width;
    npy_intp i = 0;
    for (; i + 16 <= width; i += 16) {
        if (!quantize16_avx512(&k, row, out, i, (__mmask16)0xFFFF)) {
            return -1;
        }
    }
    if (i < width && !quantize16_avx512(&k, row, out, i, (__mmask16)((1u << (width - i)) - 1u))) {
        return -1;
    }
    return width;
}

/* count values of consecutive rows of a C-contiguous array without normalization (the feature a value
 * belongs to does not matter then) as quantize_row_avx512 does one row: sixteen at a time across the rows'
 * ends, no per-row work. Returns 0 when one is not finite. */
EDGERNN_X86_512 static int quantize_rows_avx512(const Stepper *self, const float *values, npy_intp count, void *out)
{
    const quantizer16 k = quantizer16_of(self);
    npy_intp i = 0;
    for (; i + 16 <= count; i += 16) {
        if (!quantize16_avx512(&k, values, out, i, (__mmask16)0xFFFF)) {
            return 0;
        }
    }
    return i == count || quantize16_avx512(&k, values, out, i, (__mmask16)((1u << (count - i)) - 1u));
}

/* The table's 256 values picked by sixteen int8 outputs at a time (VPERMT2PS over pairs of its zmm, blends
 * by the index's high bits): the same floats as dequantize's loop. Returns the values done. */
EDGERNN_X86_512 static npy_intp dequantize_avx512(const float *table, const int8_t *yq, npy_intp n, float *out)
{
    __m512 t[16];
    for (int k = 0; k < 16; ++k) {
        t[k] = _mm512_loadu_ps(table + 16 * k);
    }
    npy_intp i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i index = _mm512_add_epi32(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(yq + i))), _mm512_set1_epi32(128));
        __m512 p[8];
        for (int k = 0; k < 8; ++k) {
            p[k] = _mm512_permutex2var_ps(t[2 * k], index, t[2 * k + 1]);
        }
        const __mmask16 b5 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(32));
        const __mmask16 b6 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(64));
        const __mmask16 b7 = _mm512_test_epi32_mask(index, _mm512_set1_epi32(128));
        const __m512 q0 = _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, p[0], p[1]), _mm512_mask_blend_ps(b5, p[2], p[3]));
        const __m512 q1 = _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, p[4], p[5]), _mm512_mask_blend_ps(b5, p[6], p[7]));
        _mm512_storeu_ps(out + i, _mm512_mask_blend_ps(b7, q0, q1));
    }
    return i;
}

/* dequantize_avx512's values as the products of table_by_product, sixteen a multiply: the int8 outputs
 * widened, converted (exact) and offset by the zero point (exact: small integers), times the scale. */
EDGERNN_X86_512 static npy_intp dequantize_by_product_avx512(const Stepper *self, const int8_t *yq, npy_intp n,
                                                             float *out)
{
    const __m512 scale = _mm512_set1_ps(self->out_scale32), zero_point = _mm512_set1_ps((float)self->out_zero_point);
    npy_intp i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(yq + i))));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_sub_ps(q, zero_point), scale));
    }
    return i;
}
#endif

/* Row t of a (T, F) or (F,) array quantized into out; 0 when a value does not normalize to a finite
 * float: the only case taken here (numpy raises on NaN/Inf input, and warns when normalization
 * overflows), tested in the same pass as the quantization (one normalization per value). */
static int quantize_row(const Stepper *self, PyArrayObject *a, npy_intp t, void *out)
{
    const int last = PyArray_NDIM(a) - 1;
    const char *row = PyArray_BYTES(a) + (last ? t * PyArray_STRIDE(a, 0) : 0);
    const npy_intp stride = PyArray_STRIDE(a, last);
    int finite = 1;
    npy_intp i = 0;
#if defined(EDGERNN_ROW_AVX2)
    if (stride == (npy_intp)sizeof(float) && self->vectors >= 2 && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        i = quantize_row_avx512(self, (const float *)(const void *)row, out);
        if (i < 0) {
            return 0;
        }
    }
    if (stride == (npy_intp)sizeof(float) && self->vectors >= 1 && i + 8 <= self->in_width &&
        __builtin_cpu_supports("avx2")) {
        i = quantize_row_avx2(self, (const float *)(const void *)row, out, i);
        if (i < 0) {
            return 0;
        }
    }
#endif
    for (; i < self->in_width; ++i) {
        const float v = normalized(self, *(const float *)(row + i * stride), i);
        finite &= isfinite(v) != 0;
        put_quantized(self, out, i, finite ? quantize(self, v) : 0);
    }
    return finite;
}

/* Rows start .. start + n - 1 of a (T, F) array quantized into out (n rows of in_width values); 0 when a value
 * does not normalize to a finite float. C-contiguous rows without normalization go through
 * quantize_rows_avx512 together where the CPU has AVX-512 (and the Stepper's cap allows it). */
static int quantize_rows(const Stepper *self, PyArrayObject *a, npy_intp start, npy_intp n, void *out)
{
#if defined(EDGERNN_ROW_AVX2)
    if (self->mean == NULL && self->vectors >= 2 && PyArray_IS_C_CONTIGUOUS(a) &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) {
        return quantize_rows_avx512(self, (const float *)PyArray_DATA(a) + start * self->in_width,
                                    n * self->in_width, out);
    }
#endif
    const size_t row_bytes = (size_t)self->in_width * (self->in_int16 ? sizeof(int16_t) : 1);
    int finite = 1;
    for (npy_intp t = 0; t < n && finite; ++t) {
        finite = quantize_row(self, a, start + t, (char *)out + (size_t)t * row_bytes);
    }
    return finite;
}

/* A token id in [0, vocab) from a Python int or a numpy integer scalar; -1 for anything else. */
static long long token_of(const Stepper *self, PyObject *x)
{
    /* numpy's timedelta64 is an integer scalar type, but not a token id (asarray gives dtype 'm'). */
    if (!PyLong_CheckExact(x) && (!PyArray_IsScalar(x, Integer) || PyArray_IsScalar(x, Timedelta))) {
        return -1;
    }
    PyObject *index = PyNumber_Index(x);
    if (index == NULL) {
        PyErr_Clear();
        return -1;
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
    Py_DECREF(index);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return overflow || v < 0 || v >= self->vocab ? -1 : v;
}

/* An int16 head's outputs as QParams.dequantize computes them: float32(scale * (q - zero_point)) in
 * double (exact: q - zero_point is an integer, one rounding in the product, one to float32). */
static void dequantize_int16(const Stepper *self, const int16_t *yq, npy_intp n, float *out)
{
    for (npy_intp i = 0; i < n; ++i) {
        out[i] = (float)(self->out_scale * ((double)yq[i] - self->out_zero_point));
    }
}

static void dequantize(const Stepper *self, const void *ys, npy_intp steps, float *out)
{
    const npy_intp n = steps * self->out_width;
    if (self->out_int16) {
        dequantize_int16(self, ys, n, out);
        return;
    }
    const int8_t *yq = ys;
    npy_intp i = 0;
#if defined(EDGERNN_ROW_AVX2)
    if (n >= 64 && __builtin_cpu_supports("avx512f")) { /* the table's 16 zmm loaded once per call */
        i = self->table_by_product ? dequantize_by_product_avx512(self, yq, n, out)
                                   : dequantize_avx512(self->table, yq, n, out);
    }
#endif
    for (; i < n; ++i) {
        out[i] = self->table[yq[i] + 128];
    }
}

/* -- step and run ------------------------------------------------------------------------------ */

static PyObject *Stepper_step(Stepper *self, PyObject *x)
{
    ernn_status status;
    if (self->tokens) {
        const long long token = token_of(self, x);
        if (token < 0) {
            Py_RETURN_NONE;
        }
        self->tok[0] = (int32_t)token;
        memcpy(self->backup, self->state, self->state_bytes);
        status = ((run_tokens_fn)self->run)(self->state, self->tok, 1, self->yq);
    } else {
        if (!is_frame(self, x, 1) || !quantize_row(self, (PyArrayObject *)x, 0, self->xq)) {
            Py_RETURN_NONE;
        }
        memcpy(self->backup, self->state, self->state_bytes);
        status = ((run_fn)self->run)(self->state, self->xq, 1, self->yq);
    }
    if (status != ERNN_OK) {
        memcpy(self->state, self->backup, self->state_bytes);
        Py_RETURN_NONE;
    }
    npy_intp dims[1] = {self->out_width};
    PyObject *y = PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (y != NULL) {
        dequantize(self, self->yq, 1, (float *)PyArray_DATA((PyArrayObject *)y));
    }
    return y;
}

/* Token ids of a 1-D int32/int64 array, all in [0, vocab); else 0. */
static int tokens_ok(const Stepper *self, PyArrayObject *a)
{
    const int type = PyArray_TYPE(a);
    if ((type != NPY_INT64 && type != NPY_INT32) || !PyArray_ISNOTSWAPPED(a) || !PyArray_ISALIGNED(a) ||
        PyArray_NDIM(a) != 1 || PyArray_DIM(a, 0) == 0) {
        return 0;
    }
    for (npy_intp t = 0; t < PyArray_DIM(a, 0); ++t) {
        const char *p = PyArray_BYTES(a) + t * PyArray_STRIDE(a, 0);
        const long long v = type == NPY_INT64 ? *(const int64_t *)p : *(const int32_t *)p;
        if (v < 0 || v >= self->vocab) {
            return 0;
        }
    }
    return 1;
}

static PyObject *Stepper_run(Stepper *self, PyObject *xs)
{
    if (!PyArray_CheckExact(xs)) {
        Py_RETURN_NONE;
    }
    PyArrayObject *a = (PyArrayObject *)xs;
    if (self->tokens ? !tokens_ok(self, a) : !is_frame(self, xs, 2)) {
        Py_RETURN_NONE;
    }
    const npy_intp steps = PyArray_DIM(a, 0);
    npy_intp dims[2] = {steps, self->out_width};
    PyObject *ys = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (ys == NULL) {
        return NULL;
    }
    float *out = (float *)PyArray_DATA((PyArrayObject *)ys);
    memcpy(self->backup, self->state, self->state_bytes);
    ernn_status status = ERNN_OK;
    int finite = 1; /* a row that does not normalize to finite floats: the state is put back, as on an error */
    for (npy_intp start = 0; start < steps && status == ERNN_OK && finite; start += CHUNK) {
        const npy_intp n = steps - start < CHUNK ? steps - start : CHUNK;
        if (self->tokens) {
            for (npy_intp t = 0; t < n; ++t) {
                const char *p = PyArray_BYTES(a) + (start + t) * PyArray_STRIDE(a, 0);
                self->tok[t] = PyArray_TYPE(a) == NPY_INT64 ? (int32_t) * (const int64_t *)p : *(const int32_t *)p;
            }
            status = ((run_tokens_fn)self->run)(self->state, self->tok, (int32_t)n, self->yq);
        } else {
            finite = quantize_rows(self, a, start, n, self->xq);
            if (!finite) {
                break;
            }
            status = ((run_fn)self->run)(self->state, self->xq, (int32_t)n, self->yq);
        }
        dequantize(self, self->yq, n, out + start * self->out_width);
    }
    if (status != ERNN_OK || !finite) {
        memcpy(self->state, self->backup, self->state_bytes);
        Py_DECREF(ys);
        Py_RETURN_NONE;
    }
    return ys;
}

/* One frame's quantized values as a step feeds them to the model (int8, or int16 for a 16-bit input), or
 * None where the step would take the Python path: the quantizer alone, for its tests. */
static PyObject *Stepper_quantize(Stepper *self, PyObject *x)
{
    if (self->tokens || !is_frame(self, x, 1)) {
        Py_RETURN_NONE;
    }
    npy_intp dims[1] = {self->in_width};
    PyObject *q = PyArray_SimpleNew(1, dims, self->in_int16 ? NPY_INT16 : NPY_INT8);
    if (q == NULL) {
        return NULL;
    }
    if (!quantize_row(self, (PyArrayObject *)x, 0, PyArray_DATA((PyArrayObject *)q))) {
        Py_DECREF(q);
        Py_RETURN_NONE;
    }
    return q;
}

/* int8 outputs (a 1-D C-contiguous int8 array, a whole number of steps) -> float32 as a run dequantizes them, or
 * None (an int16 head, another array). */
static PyObject *Stepper_dequantize(Stepper *self, PyObject *x)
{
    if (self->out_int16 || !PyArray_Check(x) || PyArray_TYPE((PyArrayObject *)x) != NPY_INT8 ||
        PyArray_NDIM((PyArrayObject *)x) != 1 || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)x) ||
        PyArray_DIM((PyArrayObject *)x, 0) % self->out_width != 0) {
        Py_RETURN_NONE;
    }
    npy_intp dims[1] = {PyArray_DIM((PyArrayObject *)x, 0)};
    PyObject *y = PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (y == NULL) {
        return NULL;
    }
    dequantize(self, PyArray_DATA((PyArrayObject *)x), dims[0] / self->out_width, PyArray_DATA((PyArrayObject *)y));
    return y;
}

static PyObject *Stepper_by_product(Stepper *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->table_by_product);
}

static PyGetSetDef Stepper_getset[] = {
    {"dequantizes_by_product", (getter)Stepper_by_product, NULL,
     "Whether the int8 outputs' table is the scale's float32 products (then taken by multiplies).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Stepper_methods[] = {
    {"step", (PyCFunction)Stepper_step, METH_O,
     "One step: a float32 frame (or a token id) -> float32 outputs, or None for the full Python path."},
    {"run", (PyCFunction)Stepper_run, METH_O,
     "Many steps (T, F) float32 (or (T,) token ids) -> (T, out) float32, or None for the Python path."},
    {"quantize", (PyCFunction)Stepper_quantize, METH_O,
     "A float32 frame -> its quantized values as a step feeds them (int8 or int16), or None."},
    {"dequantize", (PyCFunction)Stepper_dequantize, METH_O,
     "int8 outputs (1-D, whole steps) -> float32 as a run dequantizes them, or None."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StepperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "edgernn_fastpath.Stepper",
    .tp_basicsize = sizeof(Stepper),
    .tp_dealloc = (destructor)Stepper_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The compiled Stream.step/run of one C-backend model instance.",
    .tp_methods = Stepper_methods,
    .tp_getset = Stepper_getset,
    .tp_init = (initproc)Stepper_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "edgernn_fastpath", "edgernn's compiled Stream.step/run for the c backend.", -1, NULL,
};

PyMODINIT_FUNC PyInit_edgernn_fastpath(void)
{
    import_array();
    if (PyType_Ready(&StepperType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&StepperType);
    if (PyModule_AddObject(m, "Stepper", (PyObject *)&StepperType) < 0) {
        Py_DECREF(&StepperType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
