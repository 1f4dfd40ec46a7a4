/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_gate_ports.c
 * @brief The gate epilogues and the cells' element-wise steps of this build's port (x86 AVX2, NEON, the
 * DSP and MVE ports' gate blocks, or the portable C) against the scalar integer formulas, exactly:
 *  - packed gate layers through ernn_fc_s8_s16_into (every epilogue mode: store, saturating sum, sum then
 *    sigmoid, sum then tanh) for gate blocks of 4..20 rows, random and extreme weights, inputs and sums,
 *    with bounded 1 and 3 (no -128 weight: the NEON pair kernel on the Cortex-A72);
 *  - the gates' sigmoid and tanh on all 65,536 int16 sums (zero weights: the sum is the value in y);
 *  - the GRU and LSTM element-wise steps of the port (ernn_gru_fast_port / ernn_lstm_fast_port, where the
 *    port has them) against the C loops of ernn_gru_s8.c / ernn_lstm_s8.c, on random and extreme values;
 *  - the LSTM and GRU block paths (ernn_lstm_run_s8 / ernn_gru_run_s8, where the port has them) against
 *    their step functions step by step.
 */
#include <string.h>

#include "edgernn/ernn_s8.h"
#include "ernn_internal.h"
#include "ernn_test.h"

#if !defined(ERNN_PORTABLE) && defined(__aarch64__) && defined(__ARM_NEON)
#include "../ports/neon/ernn_dot_s8_neon.h"
#elif !defined(ERNN_PORTABLE) && defined(__x86_64__) && defined(__GNUC__)
#include "../ports/x86/ernn_dot_s8_x86.h"
#endif

#if defined(__aarch64__) || defined(__x86_64__)
/* up to 10 chunks of 16 inputs: the NEON port's unrolled kernels for 1..8 chunks and its loop beyond */
#define MAX_IN 160
#define MAX_COLS 160 /* MAX_IN rounded up to 16 */
#else
/* small enough for the Cortex-M0 board's 16 KB of RAM */
#define MAX_IN 40
#define MAX_COLS 48 /* MAX_IN rounded up to 16 */
#endif
#define MAX_ROWS (3 * 20)

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* A random int16; extreme values one time in four. */
static int16_t rnd16(void)
{
    const uint32_t r = next();
    if ((r & 3u) == 0u) {
        static const int16_t edge[6] = {INT16_MIN, INT16_MAX, -1, 0, 1, INT16_MIN + 1};
        return edge[(r >> 2) % 6u];
    }
    return (int16_t)((int32_t)((r >> 8) & 0xFFFFu) - 32768);
}

static int8_t rnd8(int extreme)
{
    const uint32_t r = next();
    if (extreme) {
        return (r & 1u) ? INT8_MAX : INT8_MIN;
    }
    return (int8_t)((int32_t)(r >> 24) - 128);
}

/* As edgernn/export/c_packing.py: rows padded to 4, columns to ERNN_FC_PACK_K, 4-row blocks. */
static void pack(const int8_t *w, int32_t rows, int32_t n, int8_t *packed)
{
    const int32_t k = ERNN_FC_PACK_K, cols = ernn_round_up(n, k);
    for (int32_t o = 0; o < ernn_round_up(rows, 4); ++o) {
        for (int32_t i = 0; i < cols; ++i) {
            packed[((o / 4) * (cols / k) + i / k) * 4 * k + (o % 4) * k + i % k] =
                (o < rows && i < n) ? w[o * n + i] : 0;
        }
    }
}

/* Three gate blocks of `hidden` rows (none, sigmoid, tanh) summed into y, as ernn_fc_s8.c row by row. */
static void test_gate_blocks(void)
{
    static int8_t w[MAX_ROWS * MAX_IN], packed[MAX_ROWS * MAX_COLS], x[MAX_IN];
    static int32_t bias[MAX_ROWS];
    static int16_t buffer[2 * MAX_COLS + 4], y[MAX_ROWS], want[MAX_ROWS];
    const uint32_t acts = ERNN_ACT_NONE | ERNN_ACT_SIGMOID << 2 | ERNN_ACT_TANH << 4;
    for (int32_t trial = 0; trial < 300; ++trial) {
        const int32_t hidden = 4 * (1 + (int32_t)(next() % 5u)), rows = 3 * hidden;
        const int32_t n = 1 + (int32_t)(next() % MAX_IN);
        const int extreme = trial % 5 == 0;
        /* bounded 3 (every third layer): no weight is -128, the exporter's promise for the NEON pair kernel;
         * its extreme case is w = -127 against x = -128, the largest int16 pair sum (32,512) */
        const int32_t bounded = trial % 3 == 1 ? 3 : 1;
        for (int32_t i = 0; i < rows * n; ++i) {
            w[i] = rnd8(extreme);
            if (bounded == 3 && (w[i] == INT8_MIN || (extreme && trial % 2 == 0))) {
                w[i] = -INT8_MAX;
            }
        }
        for (int32_t i = 0; i < n; ++i) {
            x[i] = bounded == 3 && extreme && trial % 2 == 0 ? INT8_MIN : rnd8(extreme);
        }
        for (int32_t o = 0; o < rows; ++o) {
            bias[o] = (int32_t)(next() % 131072u) - 65536;
        }
        pack(w, rows, n, packed);
        int32_t multiplier[3], shift[3];
        for (int32_t g = 0; g < 3; ++g) {
            multiplier[g] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu)); /* [2^30, 2^31) */
            shift[g] = (int32_t)(next() % 23u) - 20;                          /* [-20, 2]: |acc| 2^(shift+1) < 2^31 */
        }
        const ernn_fc_params p = {packed, bias, multiplier, shift, n, rows, 0, ERNN_FC_PACK_K, hidden, bounded};
        for (int32_t o = 0; o < rows; ++o) {
            y[o] = rnd16();
        }
        const int accumulate = trial % 4 != 0; /* the cells' sums, or a plain store (GRU's h_n rows) */
        for (int32_t o = 0; o < rows; ++o) {
            const ernn_fast_rescale r = ernn_fast_of(multiplier[o / hidden], shift[o / hidden]);
            const int32_t v = ernn_ssat16(ernn_fast_any(bias[o] + ernn_dot1_s8_portable(w + o * n, n, x), r));
            const uint32_t act = (acts >> (2 * (o / hidden))) & 3u;
            want[o] = (int16_t)(accumulate ? ernn_activate_q312(act, ernn_ssat16(v + y[o])) : v);
        }
        ernn_status status;
        if (accumulate) {
            const ernn_fc_into into = {y, rows, y + rows, hidden, acts};
            status = ernn_fc_s8_s16_into(&p, x, into, buffer);
        } else {
            status = ernn_fc_s8_s16_buffered(&p, x, y, buffer);
        }
        CHECK_EQ(status, ERNN_OK);
        int32_t mismatches = 0;
        for (int32_t o = 0; o < rows; ++o) {
            mismatches += y[o] != want[o];
        }
        CHECK_EQ(mismatches, 0);
    }
}

/*
 * A cell's two gate layers through ernn_cell_fcs (on x86-64 with AVX-512 VNNI the fused kernel of
 * ports/x86, elsewhere layer by layer) against the scalar formulas: gate blocks of 4..36 rows (whole
 * sixteens and every tail; 4..8 on 32-bit cores), 1..CELL_IN inputs to each layer, 3 or 4 gates with the
 * GRU's layout (r, z added and activated, n stored apart), the LSTM's and others, random and extreme weights
 * and inputs.
 */
static void test_cell_fcs(void)
{
#if defined(__aarch64__) || defined(__x86_64__)
    enum { CELL_STRIDE = 36, CELL_IN = MAX_IN, CELL_COLS = MAX_COLS };
#else
    enum { CELL_STRIDE = 8, CELL_IN = 16, CELL_COLS = 16 }; /* the Cortex-M0 board's 16 KB of RAM */
#endif
    enum { CELL_ROWS = 4 * CELL_STRIDE };
    static int8_t wx[CELL_ROWS * CELL_IN], wh[CELL_ROWS * CELL_IN], px[CELL_ROWS * CELL_COLS], ph[CELL_ROWS * CELL_COLS];
    static int8_t x[CELL_IN], h[CELL_IN];
    static int32_t bx[CELL_ROWS], bh[CELL_ROWS];
    static int16_t scratch[2 * CELL_ROWS + 2 * CELL_COLS + 4], want[2 * CELL_ROWS];
    for (int32_t trial = 0; trial < 400; ++trial) {
        const int32_t stride = 4 * (1 + (int32_t)(next() % (CELL_STRIDE / 4)));
        const int32_t gates = 3 + (int32_t)(next() % 2u), rows = gates * stride;
        const int32_t added = trial % 3 == 0 ? (gates - 1) * stride : rows; /* the GRU's n block apart, or none */
        const int32_t nx = 1 + (int32_t)(next() % CELL_IN), nh = stride; /* h: the hidden state (stride units) */
        const int extreme = trial % 5 == 0;
        const int32_t bounded = trial % 2 == 0 ? 3 : 1;
        for (int32_t i = 0; i < rows * CELL_IN; ++i) {
            wx[i] = rnd8(extreme);
            wh[i] = rnd8(extreme);
            if (bounded == 3 && wx[i] == INT8_MIN) {
                wx[i] = -INT8_MAX;
            }
            if (bounded == 3 && wh[i] == INT8_MIN) {
                wh[i] = -INT8_MAX;
            }
        }
        for (int32_t i = 0; i < CELL_IN; ++i) {
            x[i] = rnd8(extreme);
            h[i] = rnd8(extreme);
        }
        for (int32_t o = 0; o < rows; ++o) {
            bx[o] = (int32_t)(next() % 131072u) - 65536;
            bh[o] = (int32_t)(next() % 131072u) - 65536;
        }
        pack(wx, rows, nx, px);
        pack(wh, rows, nh, ph);
        int32_t mx[4], sx[4], mh[4], sh[4];
        uint32_t acts = 0;
        for (int32_t g = 0; g < gates; ++g) {
            mx[g] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
            mh[g] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
            sx[g] = (int32_t)(next() % 23u) - 20; /* [-20, 2]: |acc| 2^(shift+1) < 2^31 for these sizes */
            sh[g] = (int32_t)(next() % 23u) - 20;
            acts |= (next() % 3u) << (2 * g);
        }
        const ernn_fc_params xf = {px, bx, mx, sx, nx, rows, 0, ERNN_FC_PACK_K, stride, bounded};
        const ernn_fc_params hf = {ph, bh, mh, sh, nh, rows, 0, ERNN_FC_PACK_K, stride, bounded};
        for (int32_t o = 0; o < rows; ++o) {
            const int32_t g = o / stride;
            const int32_t vx = ernn_ssat16(ernn_fast_any(bx[o] + ernn_dot1_s8_portable(wx + o * nx, nx, x),
                                                         ernn_fast_of(mx[g], sx[g])));
            const int32_t vh = ernn_ssat16(ernn_fast_any(bh[o] + ernn_dot1_s8_portable(wh + o * nh, nh, h),
                                                         ernn_fast_of(mh[g], sh[g])));
            if (o < added) {
                want[o] = (int16_t)ernn_activate_q312((acts >> (2 * g)) & 3u, ernn_ssat16(vx + vh));
            } else {
                want[o] = (int16_t)vx;
                want[rows + o - added] = (int16_t)vh;
            }
        }
        CHECK_EQ(ernn_cell_fcs(&xf, &hf, x, h, scratch, added, rows + (rows - added), acts), ERNN_OK);
        int32_t mismatches = 0;
        for (int32_t o = 0; o < rows + (rows - added); ++o) {
            mismatches += scratch[o] != want[o];
        }
        CHECK_EQ(mismatches, 0);
    }
}

#if defined(ERNN_PORT_CELL_FCS) && ERNN_X86_LEVEL >= 3
/* The lane kernels' 64-lane lookups (AVX-512 VBMI): the LSTM's four gate activations and the GRU's r and z of two
 * columns (all four sigmoids) on every int16 value (each vector a different quarter of 64 consecutive values, so
 * a lane that took another vector's entry shows), and the tanh of four vectors (the LSTM's rescaled cell state,
 * the GRU's candidates) on every int32 value in [-2^20, 2^20] and at the extremes. */
static void test_x86_lookups64(void)
{
    if (!ernn_x86_has_avx512vbmi()) {
        printf("test_gate_ports: no AVX-512 VBMI here or at this level (the lane kernel's lookups are not run)\n");
        return;
    }
    int32_t mismatches = 0;
    for (int32_t turn = 0; turn < 8; ++turn) { /* each gate in turn takes every int16 input; LSTM, then GRU */
        const int tanh_g = turn < 4;
        for (int32_t x = INT16_MIN; x <= INT16_MAX; x += 64) {
            int32_t in[4][16], gates[4][16], tanh[4][16];
            for (int32_t k = 0; k < 64; ++k) {
                in[(k / 16 + turn) % 4][k % 16] = x + k;
            }
            ernn_x86_test_lookups64((const int32_t(*)[16])in, tanh_g, gates, tanh);
            for (int32_t k = 0; k < 64; ++k) {
                const int32_t v = in[k / 16][k % 16];
                const int32_t want = k / 16 == 2 && tanh_g ? ernn_tanh_q312(v) : ernn_sigmoid_q312(v);
                mismatches += gates[k / 16][k % 16] != want;
                mismatches += tanh[k / 16][k % 16] != ernn_tanh_lut(v);
            }
        }
    }
    for (int32_t v = -(1 << 20) - 64; v <= (1 << 20) + 64; v += 64) {
        int32_t in[4][16], gates[4][16], tanh[4][16];
        for (int32_t k = 0; k < 64; ++k) {
            in[k / 16][k % 16] = k < 2 ? (k == 0 ? INT32_MIN : INT32_MAX) : v + k;
        }
        ernn_x86_test_lookups64((const int32_t(*)[16])in, 1, gates, tanh);
        for (int32_t k = 0; k < 64; ++k) {
            mismatches += tanh[k / 16][k % 16] != ernn_tanh_lut(in[k / 16][k % 16]);
        }
    }
    CHECK_EQ(mismatches, 0);
}
#endif

/* The AVX-512 kernels' sixteen-lane sigmoid and tanh (ports/x86, where this CPU runs them) on every int16
 * gate sum, and their tanh of the LSTM cell state's rescaled input on every int32 value in [-2^20, 2^20] and
 * at the extremes (and the AVX2 step's tanh on the latter), against ernn_lut_s16.h. */
static void test_x86_activations16(void)
{
#if defined(ERNN_PORT_CELL_FCS) && ERNN_X86_LEVEL >= 3
    if (!ernn_x86_has_avx512vnni()) {
        printf("test_gate_ports: this CPU lacks AVX-512 VNNI (the sixteen-lane activations and the lane kernel's "
               "lookups are not run)\n");
        return;
    }
    int32_t mismatches = 0;
    for (int32_t x = INT16_MIN; x <= INT16_MAX; x += 16) {
        int32_t in[16], sig[16], tanh_out[16];
        for (int32_t k = 0; k < 16; ++k) {
            in[k] = x + k;
        }
        ernn_x86_test_activate16(in, sig, tanh_out);
        for (int32_t k = 0; k < 16; ++k) {
            mismatches += (int16_t)sig[k] != (int16_t)ernn_sigmoid_q312(in[k]);
            mismatches += (int16_t)tanh_out[k] != (int16_t)ernn_tanh_q312(in[k]);
        }
    }
    for (int32_t v = -(1 << 20) - 64; v <= (1 << 20) + 64; v += 16) {
        int32_t in[16], out[16];
        for (int32_t k = 0; k < 16; ++k) {
            in[k] = k < 2 ? (k == 0 ? INT32_MIN : INT32_MAX) : v + k;
        }
        ernn_x86_test_tanh_lut16(in, out);
        for (int32_t k = 0; k < 16; ++k) {
            mismatches += out[k] != ernn_tanh_lut(in[k]);
        }
        ernn_x86_test_tanh_lut8(in, out); /* the AVX2 step's (this CPU has AVX2) */
        ernn_x86_test_tanh_lut8(in + 8, out + 8);
        for (int32_t k = 0; k < 16; ++k) {
            mismatches += out[k] != ernn_tanh_lut(in[k]);
        }
    }
    CHECK_EQ(mismatches, 0);
    test_x86_lookups64();
#else
    printf("test_gate_ports: no x86 level 4 in this build (the lane kernel's lookups are not run)\n");
#endif
}

/* sigmoid and tanh of every int16 sum: zero weights and biases, so the sum is y's value itself. */
static void test_gate_activations(void)
{
    enum { HIDDEN = 32 };
    static int8_t packed[2 * HIDDEN * 16];
    static int8_t x[16];
    static int32_t bias[2 * HIDDEN];
    static int16_t buffer[2 * 16 + 4], y[2 * HIDDEN];
    const int32_t multiplier[2] = {0x40000000, 0x40000000}, shift[2] = {-3, -3};
    const ernn_fc_params p = {packed, bias, multiplier, shift, 16, 2 * HIDDEN, 0, ERNN_FC_PACK_K, HIDDEN, 1};
    const uint32_t acts = ERNN_ACT_SIGMOID | ERNN_ACT_TANH << 2;
    int32_t mismatches = 0;
    for (int32_t base = INT16_MIN; base <= INT16_MAX; base += HIDDEN) {
        for (int32_t j = 0; j < HIDDEN; ++j) {
            y[j] = y[HIDDEN + j] = (int16_t)(base + j);
        }
        const ernn_fc_into into = {y, 2 * HIDDEN, y + 2 * HIDDEN, HIDDEN, acts};
        CHECK_EQ(ernn_fc_s8_s16_into(&p, x, into, buffer), ERNN_OK);
        for (int32_t j = 0; j < HIDDEN; ++j) {
            mismatches += y[j] != ernn_sigmoid_q312(base + j);
            mismatches += y[HIDDEN + j] != ernn_tanh_q312(base + j);
            /* the x86 element-wise steps' VPMADDWD of a gate (or 32767 minus it) by an int16: a sigmoid's
             * output is in [0, 32767] */
            mismatches += ernn_sigmoid_q312(base + j) < 0 || ernn_sigmoid_q312(base + j) > INT16_MAX;
        }
    }
    CHECK_EQ(mismatches, 0);
}

#if defined(ERNN_PORT_GRU_FAST) || defined(ERNN_PORT_LSTM_FAST)
/* A Q0.15 gate value: a sigmoid output ([0, 32767]: never -32768, as the short forms need) or an edge. */
static int16_t gate(void)
{
    const int16_t v = rnd16();
    return (int16_t)(v < 0 ? -(v + 1) : v);
}

/* A multiplier in [2^30, 2^31) and a shift in [-15, -1]: the cells' short form. */
static void rescale(int32_t *m, int32_t *right)
{
    *m = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
    *right = 1 + (int32_t)(next() % 15u);
}

/* A rescale of a product of a gate and an int16 value (the LSTM's f c and i g to its cell state, the GRU's gate
 * products z h and (1 - z) n): three times in four a power of two (multiplier 2^30, right 1..29: the AVX-512
 * kernels' ernn_x86_pow2_16, right 29 its limit; 14, the IR's GRU gate_mul, one time in eight, right >= 14 the GRU
 * lane kernel's), else any (the kernels that take every rescale). */
static void cell_rescale(int32_t *m, int32_t *right)
{
    if (next() % 4u != 0) {
        const uint32_t pick = next() % 8u;
        *m = (int32_t)1 << 30;
        *right = pick == 0 ? 29 : pick == 1 ? 14 : 1 + (int32_t)(next() % 29u);
    } else {
        rescale(m, right);
    }
}
#endif

#define N_UNITS 37

/* Whether the port's element-wise steps run on this CPU (the x86 ones need AVX2 at run time). */
#if defined(__x86_64__) && defined(ERNN_PORT_GRU_FAST)
#define STEPS_RUN __builtin_cpu_supports("avx2")
#else
#define STEPS_RUN 1
#endif

static void test_gru_port(void)
{
#if defined(ERNN_PORT_GRU_FAST)
    for (int32_t trial = 0; trial < 2000; ++trial) {
        int16_t gr[N_UNITS], gz[N_UNITS], xn[N_UNITS], hn[N_UNITS], hq[N_UNITS], hq_want[N_UNITS];
        int8_t h[N_UNITS], h_want[N_UNITS];
        for (int32_t j = 0; j < N_UNITS; ++j) {
            gr[j] = gate();
            gz[j] = gate();
            xn[j] = rnd16();
            hn[j] = rnd16();
            hq[j] = hq_want[j] = rnd16();
        }
        int32_t rm, rr, gm, gr_, hm, hr;
        rescale(&rm, &rr);
        cell_rescale(&gm, &gr_); /* the IR's 2^-15 (the eight-lane ernn_x86_pow2_apply), or any */
        rescale(&hm, &hr);
        const int32_t zp = (int32_t)(next() % 256u) - 128;
        const int32_t n = 1 + (int32_t)(next() % N_UNITS);
        const int32_t done = ernn_gru_fast_port(gr, gz, xn, hn, hq, h, n, rm, rr, gm, gr_, hm, hr, zp);
        const ernn_fast_rescale rs = ernn_fast_of(rm, -rr), gs = ernn_fast_of(gm, -gr_), hs = ernn_fast_of(hm, -hr);
        int32_t mismatches = 0;
        for (int32_t j = 0; j < done; ++j) { /* the C loops of ernn_gru_s8.c */
            const int32_t reset_hidden = ernn_ssat16(ernn_fast_out(gr[j] * hn[j], rs, 1));
            const int32_t cand = ernn_tanh_q312(ernn_ssat16(xn[j] + reset_hidden));
            const int32_t keep = ernn_ssat16(ernn_fast_out(gz[j] * hq_want[j], gs, 1));
            const int32_t update = ernn_ssat16(ernn_fast_out((INT16_MAX - gz[j]) * cand, gs, 1));
            hq_want[j] = (int16_t)ernn_ssat16(keep + update);
            h_want[j] = (int8_t)ernn_ssat8(ernn_fast_out(hq_want[j], hs, 1) + zp);
            mismatches += hq[j] != hq_want[j] || h[j] != h_want[j];
        }
        CHECK_EQ(mismatches, 0);
        CHECK(done <= n && n - done < 8);
        CHECK(n < 8 || done > 0 || !STEPS_RUN);
    }
#else
    printf("test_gate_ports: this build's port has no GRU element-wise step (its C loops are the reference)\n");
#endif
}

static void test_lstm_port(void)
{
#if defined(ERNN_PORT_LSTM_FAST)
    for (int32_t trial = 0; trial < 2000; ++trial) {
        int16_t gi[N_UNITS], gf[N_UNITS], gg[N_UNITS], go[N_UNITS], c[N_UNITS], c_want[N_UNITS];
        int8_t h[N_UNITS], h_want[N_UNITS];
        for (int32_t j = 0; j < N_UNITS; ++j) {
            gi[j] = gate();
            gf[j] = gate();
            gg[j] = rnd16(); /* tanh: any sign */
            go[j] = gate();
            c[j] = c_want[j] = rnd16();
        }
        int32_t fm, fr, im, ir, om, orr;
        cell_rescale(&fm, &fr);
        cell_rescale(&im, &ir);
        rescale(&om, &orr);
        /* the cell state's tanh input: 3 * 2^k (a power-of-two cell scale) or a multiplier and a shift */
        const int32_t tanh_shift = (int32_t)(next() % 16u);
        const int32_t tanh_multiplier = (next() & 1u) ? 3 * ((int32_t)1 << (next() % 4u))
                                                      : (int32_t)(next() % 32768u) << (next() % 2u);
        const int32_t zp = (int32_t)(next() % 256u) - 128;
        const int32_t n = 1 + (int32_t)(next() % N_UNITS);
        const int32_t done =
            ernn_lstm_fast_port(gi, gf, gg, go, c, h, n, fm, fr, im, ir, tanh_multiplier, tanh_shift, om, orr, zp);
        const ernn_fast_rescale fs = ernn_fast_of(fm, -fr), is = ernn_fast_of(im, -ir), os = ernn_fast_of(om, -orr);
        const int32_t tanh_round = tanh_shift > 0 ? (int32_t)1 << (tanh_shift - 1) : 0;
        int32_t mismatches = 0;
        for (int32_t j = 0; j < done; ++j) { /* the C loops of ernn_lstm_s8.c */
            c_want[j] = (int16_t)ernn_ssat16(ernn_ssat16(ernn_fast_out(gf[j] * c_want[j], fs, 1)) +
                                             ernn_ssat16(ernn_fast_out(gi[j] * gg[j], is, 1)));
            const int32_t tanh_c = ernn_tanh_lut((c_want[j] * tanh_multiplier + tanh_round) >> tanh_shift);
            h_want[j] = (int8_t)ernn_ssat8(ernn_fast_out(go[j] * tanh_c, os, 1) + zp);
            mismatches += c[j] != c_want[j] || h[j] != h_want[j];
        }
        CHECK_EQ(mismatches, 0);
        CHECK(done <= n && n - done < 8);
        CHECK(n < 8 || done > 0 || !STEPS_RUN);
    }
#else
    printf("test_gate_ports: this build's port has no LSTM element-wise step (its C loops are the reference)\n");
#endif
}

#if defined(ERNN_PORT_LSTM_RUN) || defined(ERNN_PORT_GRU_RUN)
#define RUN_HIDDEN 256
#define RUN_ROWS (4 * RUN_HIDDEN) /* the LSTM's four gates; the GRU uses three */
#define RUN_STEPS 300
#define RUN_MAX_IN 1008 /* the LSTM lane kernel's most inputs (one column, x parts by block) */

/* A cell's two gate layers for the block-path tests, at their largest. */
typedef struct {
    int8_t wx[RUN_ROWS * RUN_MAX_IN], wh[RUN_ROWS * RUN_HIDDEN], px[RUN_ROWS * RUN_MAX_IN];
    int8_t ph[RUN_ROWS * RUN_HIDDEN];
    int32_t bx[RUN_ROWS], bh[RUN_ROWS], mx[4], sx[4], mh[4], sh[4];
} run_layers;

/* Random x and h layers of `gates` gate blocks of n units (nx inputs): weights random or extreme (no -128 when
 * bounded == 3, the exporter's bound), packed; biases; a multiplier and shift per gate block. */
static void random_run_layers(run_layers *l, int32_t gates, int32_t n, int32_t nx, int extreme, int32_t bounded,
                              ernn_fc_params *x_fc, ernn_fc_params *h_fc)
{
    const int32_t stride = ernn_round_up(n, 4), rows = gates * stride;
    for (int32_t i = 0; i < rows * nx; ++i) {
        l->wx[i] = rnd8(extreme);
        l->wx[i] = bounded == 3 && l->wx[i] == INT8_MIN ? -INT8_MAX : l->wx[i];
    }
    for (int32_t i = 0; i < rows * n; ++i) {
        l->wh[i] = rnd8(extreme);
        l->wh[i] = bounded == 3 && l->wh[i] == INT8_MIN ? -INT8_MAX : l->wh[i];
    }
    for (int32_t o = 0; o < rows; ++o) {
        l->bx[o] = (int32_t)(next() % 131072u) - 65536;
        l->bh[o] = (int32_t)(next() % 131072u) - 65536;
    }
    pack(l->wx, rows, nx, l->px);
    pack(l->wh, rows, n, l->ph);
    for (int32_t g = 0; g < gates; ++g) {
        l->mx[g] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
        l->mh[g] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
        l->sx[g] = (int32_t)(next() % 18u) - 20; /* [-20, -3]: |acc| 2^(shift+1) < 2^31 for these sizes */
        l->sh[g] = (int32_t)(next() % 18u) - 20;
    }
    *x_fc = (ernn_fc_params){l->px, l->bx, l->mx, l->sx, nx, rows, 0, ERNN_FC_PACK_K, stride, bounded};
    *h_fc = (ernn_fc_params){l->ph, l->bh, l->mh, l->sh, n, rows, 0, ERNN_FC_PACK_K, stride, bounded};
}
static run_layers run_layer_buffers;
#endif

#if defined(ERNN_PORT_LSTM_RUN)
/*
 * The LSTM over many steps in one call (ernn_lstm_run_s8: the x parts of a block of steps first, then the
 * recurrent parts step by step) against ernn_lstm_step_s8 step by step, exactly: every step's h, and h and c
 * after the call. Hidden sizes 1..256 (whole sixteens, tails, padded gate blocks), 1..MAX_IN inputs, random
 * and extreme weights, inputs and states, hundreds of steps split over several calls (the state carried
 * from one call to the next) with resets in between, the outputs apart or in place over the inputs, and the
 * sizes the call refuses.
 */
static void test_lstm_run(void)
{
    run_layers *const l = &run_layer_buffers;
    static int8_t xs[RUN_STEPS * RUN_MAX_IN], hs[RUN_STEPS * RUN_HIDDEN], want[RUN_STEPS * RUN_HIDDEN];
    static int16_t scratch[RUN_ROWS + 2 * RUN_HIDDEN + 64];
    /* With AVX-512 VBMI: 1..64 units with weights in L1, the lane kernel (one to four columns, tails), with more
     * inputs (weights beyond 32 KB in lanes) its x parts by block; 65..128 units with at most 128 inputs (at 128
     * units), the lane kernel with x parts by block (five to eight columns; more inputs: the packed layout); 160
     * and up: the packed layout. Without VBMI: 72 with at most 16 inputs, the generic loop
     * with weights in lanes (five columns); the rest as many of the sizes as fit 32 KB in lanes, or packed. */
    static const int32_t sizes[] = {1, 3, 4, 5, 15, 16, 17, 20, 31, 32, 33, 48, 64, 65, 72, 90, 100, 112, 128, 160, 255, 256};
    const int32_t kinds = (int32_t)(sizeof sizes / sizeof sizes[0]);
    /* through the lane kernel with the x parts by block (cells of 5..8 columns, of 1..4), in each step (one
     * column); the generic loop */
    int32_t ran = 0, refused = 0;
#if ERNN_X86_LEVEL >= 3
    int32_t wide_lanes = 0, narrow_by_block = 0, in_step = 0, packed = 0;
#endif
    for (int32_t trial = 0; trial < 80; ++trial) {
        /* after the sizes: every fourth cell 1..4 columns in turn (tails), with inputs enough for x parts by block */
        const int by_block = trial >= kinds && trial % 4 == 1;
        const int32_t n = trial < kinds ? sizes[trial]
                          : by_block    ? 16 * (1 + (trial / 4) % 4) - (int32_t)(next() % 16u)
                                        : sizes[next() % (uint32_t)kinds];
        int32_t nx = trial % 7 == 3 && n <= MAX_IN   ? n /* in place */
                     : n == 72                      ? 1 + (int32_t)(next() % 16u)
                     : n > 64 && n <= 128 && trial % 2 ? 1 + (int32_t)(next() % 128u) /* the lane kernel */
                                                    : 1 + (int32_t)(next() % MAX_IN);
        if (by_block) { /* as many inputs as take up to four columns' x parts by block */
            const int32_t j = (n + 15) / 16;
            int32_t lo = 1, hi;
            while (4 * j * 256 * (j + lo) <= ERNN_X86_RUN_LANES) {
                ++lo;
            }
            for (hi = lo; 4 * j * 256 * (j + hi + 1) <= ERNN_X86_LANE_SMALL_BYTES; ++hi) {
            }
            nx = 16 * (lo - 1) + 1 + (int32_t)(next() % (16u * (uint32_t)(hi - lo + 1)));
        }
        const int extreme = trial % 5 == 0;
        const int32_t bounded = trial % 2 == 0 ? 3 : 1;
        ernn_lstm_s8_params p;
        memset(&p, 0, sizeof p);
        random_run_layers(l, 4, n, nx, extreme, bounded, &p.x_fc, &p.h_fc);
        int32_t m, right;
        cell_rescale(&m, &right);
        p.forget_mul = (ernn_rescale){m, -right};
        cell_rescale(&m, &right);
        p.input_mul = (ernn_rescale){m, -right};
        rescale(&m, &right);
        p.output_mul = (ernn_rescale){m, -right};
        /* the cell state's tanh input: a power-of-two scale (multiplier 0) or a multiplier and a shift */
        p.cell_tanh_multiplier = (next() & 1u) ? 0 : (int32_t)(next() % 32768u);
        p.cell_tanh_shift = p.cell_tanh_multiplier == 0 ? (int32_t)(next() % 4u) : (int32_t)(next() % 16u);
        p.hidden_zero_point = (int32_t)(next() % 256u) - 128;
        const int32_t steps = 40 + (int32_t)(next() % (RUN_STEPS - 39));
        for (int32_t i = 0; i < steps * nx; ++i) {
            xs[i] = rnd8(extreme || (i / nx) % 9 == 4);
        }
        int8_t h[RUN_HIDDEN], h_want[RUN_HIDDEN];
        int16_t c[RUN_HIDDEN], c_want[RUN_HIDDEN];
        for (int32_t j = 0; j < n; ++j) {
            h[j] = h_want[j] = rnd8(extreme);
            c[j] = c_want[j] = rnd16();
        }
        const int in_place = nx == n;
        int32_t mismatches = 0;
        for (int32_t t = 0; t < steps; ++t) {
            if (t == steps / 2) { /* a reset, as ernn_model_s8_reset: h at the zero point, c at 0 */
                memset(h_want, p.hidden_zero_point, (size_t)n);
                memset(c_want, 0, sizeof c_want);
            }
            CHECK_EQ(ernn_lstm_step_s8(&p, xs + t * nx, h_want, c_want, scratch), ERNN_OK);
            memcpy(want + t * n, h_want, (size_t)n);
        }
        if (!ernn_lstm_run_s8_ok(&p)) { /* not on this CPU (or beyond its kernel): the call refuses, does nothing */
            CHECK(n > RUN_HIDDEN || !ernn_lstm_run_port_ok(&p, n)); /* AVX-512: a rescale not the IR's 2^-k */
            CHECK_EQ(ernn_lstm_run_s8(&p, xs, (size_t)nx, steps, h, c, hs, (size_t)n), 0);
            ++refused;
            continue;
        }
        if (in_place) {
            memcpy(hs, xs, (size_t)(steps * nx));
        }
        /* the steps in calls of 1..70 steps, a reset at steps / 2 */
        for (int32_t t = 0; t < steps;) {
            if (t == steps / 2) {
                memset(h, p.hidden_zero_point, (size_t)n);
                memset(c, 0, sizeof c);
            }
            const int32_t end = steps / 2 > t ? steps / 2 : steps;
            const int32_t r = 1 + (int32_t)(next() % 70u);
            const int32_t count = r < end - t ? r : end - t;
            const int8_t *x = in_place ? hs + t * n : xs + t * nx;
            CHECK_EQ(ernn_lstm_run_s8(&p, x, (size_t)nx, count, h, c, hs + t * n, (size_t)n), 1);
            t += count;
        }
        for (int32_t i = 0; i < steps * n; ++i) {
            mismatches += hs[i] != want[i];
        }
        for (int32_t j = 0; j < n; ++j) {
            mismatches += h[j] != h_want[j] || c[j] != c_want[j];
        }
        CHECK_EQ(mismatches, 0);
        ++ran;
#if ERNN_X86_LEVEL >= 3
        const int32_t columns = (n + 15) / 16;
        const int kind = ernn_x86_lstm_lane_kind(columns, (nx + 15) / 16);
        wide_lanes += columns > 4 && kind == 2;
        narrow_by_block += columns <= 4 && kind == 2;
        in_step += kind == 1;
        packed += kind == 0;
#endif
    }
#if ERNN_X86_LEVEL >= 3
    const int wide = ernn_x86_has_avx512vnni();
#else
    const int wide = 0;
#endif
    if (ran == 0) {
        printf("test_gate_ports: this CPU has no AVX2: ernn_lstm_run_s8 refuses every cell (checked)\n");
    } else if (!wide) { /* the eight-lane kernel (AVX-VNNI or AVX2): cells on both sides of its limit */
        CHECK(refused > 0);
        printf("test_gate_ports: LSTM block path (%s, eight lanes): %d cells; %d beyond its lanes refused\n",
               ernn_x86_lanes8_isa() == 2 ? "AVX-VNNI" : "AVX2", (int)ran, (int)refused);
    }
#if ERNN_X86_LEVEL >= 3
    else if (ernn_x86_has_avx512vbmi()) { /* both sides of the lane kernel's limits were tested */
        CHECK(wide_lanes > 0);
        CHECK(narrow_by_block > 0);
        CHECK(in_step > 0);
        CHECK(packed > 0);
        CHECK(refused > 0);
        printf("test_gate_ports: LSTM block path: %d cells; the lane kernel with x parts by block: %d of 5..8 columns, "
               "%d of 1..4; in each step: %d of one column; %d by the generic loop; %d refused (product rescales "
               "not powers of two: step by step)\n",
               (int)ran, (int)wide_lanes, (int)narrow_by_block, (int)in_step, (int)packed, (int)refused);
    }
#endif
    /* what the call refuses: 257 units (more than its limit), a NULL input, no steps */
    ernn_lstm_s8_params big;
    memset(&big, 0, sizeof big);
    big.x_fc = (ernn_fc_params){l->px, l->bx, l->bx, l->bx, 1, 4 * 260, 0, ERNN_FC_PACK_K, 260, 1};
    big.h_fc = (ernn_fc_params){l->ph, l->bh, l->bh, l->bh, 257, 4 * 260, 0, ERNN_FC_PACK_K, 260, 1};
    big.forget_mul = big.input_mul = big.output_mul = (ernn_rescale){1 << 30, -1};
    CHECK_EQ(ernn_lstm_run_s8_ok(&big), 0);
    CHECK_EQ(ernn_lstm_run_s8(&big, xs, 1, 1, (int8_t *)hs, scratch, hs, 1), 0);
    CHECK_EQ(ernn_lstm_run_s8(NULL, xs, 1, 1, (int8_t *)hs, scratch, hs, 1), 0);
}
#endif

#if defined(ERNN_PORT_GRU_RUN)
/*
 * The GRU over many steps in one call (ernn_gru_run_s8: the x parts apart from the recurrent chain) against
 * ernn_gru_step_s8 step by step, exactly: every step's h, and h and h_q15 after the call. Hidden sizes 1..256
 * (one to four 16-unit columns per chunk, tails, padded gate blocks; rows in lanes and the packed layout),
 * 1..MAX_IN inputs, random and extreme weights, inputs and states (saturated sums), steps split over calls of
 * 1..70 steps with a reset in between, the outputs apart or in place over the inputs, and what it refuses.
 */
static void test_gru_run(void)
{
    run_layers *const l = &run_layer_buffers;
    static int8_t xs[RUN_STEPS * MAX_IN], hs[RUN_STEPS * RUN_HIDDEN], want[RUN_STEPS * RUN_HIDDEN];
    static int16_t scratch[4 * RUN_HIDDEN + 2 * RUN_HIDDEN + 64];
    static const int32_t sizes[] = {1, 3, 4, 5, 15, 16, 17, 20, 31, 32, 33, 48, 49, 64, 65, 100, 128, 160, 255, 256};
    enum { N_SIZES = sizeof sizes / sizeof sizes[0] };
    int32_t ran = 0, refused = 0;
#if ERNN_X86_LEVEL >= 3
    /* the lane kernel (1..4, 5..8 columns; one column with its x parts in each step), the other path */
    int32_t narrow_lanes = 0, wide_lanes = 0, in_step = 0, generic = 0;
#endif
    for (int32_t trial = 0; trial < 80; ++trial) {
        /* after the sizes every fourth cell 1..8 columns in turn (tails), with inputs the lane kernel takes */
        const int lane_sized = trial >= N_SIZES && trial % 4 == 1;
        const int32_t n = trial < N_SIZES ? sizes[trial]
                          : lane_sized    ? 16 * (1 + (trial / 4) % 8) - (int32_t)(next() % 16u)
                                          : sizes[next() % N_SIZES];
        const int32_t nx = trial % 7 == 3 && n <= MAX_IN ? n /* in place */
                           : lane_sized                  ? 1 + (int32_t)(next() % 64u)
                                                         : 1 + (int32_t)(next() % MAX_IN);
        const int extreme = trial % 5 == 0;
        const int32_t bounded = trial % 2 == 0 ? 3 : 1;
        ernn_gru_s8_params p;
        memset(&p, 0, sizeof p);
        random_run_layers(l, 3, n, nx, extreme, bounded, &p.x_fc, &p.h_fc);
        int32_t m, right;
        rescale(&m, &right);
        p.reset_mul = (ernn_rescale){m, -right};
        cell_rescale(&m, &right); /* the IR's 2^-15 (the GRU lane kernel's), or any */
        p.gate_mul = (ernn_rescale){m, -right};
        rescale(&m, &right);
        p.to_hidden = (ernn_rescale){m, -right};
        p.hidden_zero_point = (int32_t)(next() % 256u) - 128;
        const int32_t steps = 40 + (int32_t)(next() % (RUN_STEPS - 39));
        for (int32_t i = 0; i < steps * nx; ++i) {
            xs[i] = rnd8(extreme || (i / nx) % 9 == 4);
        }
        int8_t h[RUN_HIDDEN], h_want[RUN_HIDDEN];
        int16_t hq[RUN_HIDDEN], hq_want[RUN_HIDDEN];
        for (int32_t j = 0; j < n; ++j) {
            h[j] = h_want[j] = rnd8(extreme);
            hq[j] = hq_want[j] = rnd16();
        }
        const int in_place = nx == n;
        for (int32_t t = 0; t < steps; ++t) {
            if (t == steps / 2) { /* a reset, as ernn_model_s8_reset: h at the zero point, h_q15 at 0 */
                memset(h_want, p.hidden_zero_point, (size_t)n);
                memset(hq_want, 0, sizeof hq_want);
            }
            CHECK_EQ(ernn_gru_step_s8(&p, xs + t * nx, h_want, hq_want, scratch), ERNN_OK);
            memcpy(want + t * n, h_want, (size_t)n);
        }
        if (!ernn_gru_run_s8_ok(&p)) { /* not on this CPU (or beyond its kernel): the call refuses, does nothing */
            CHECK(!ernn_x86_run_port_ok(3, n, nx));
            CHECK_EQ(ernn_gru_run_s8(&p, xs, (size_t)nx, steps, h, hq, hs, (size_t)n), 0);
            ++refused;
            continue;
        }
        if (in_place) {
            memcpy(hs, xs, (size_t)(steps * nx));
        }
        for (int32_t t = 0; t < steps;) { /* calls of 1..70 steps, a reset at steps / 2 */
            if (t == steps / 2) {
                memset(h, p.hidden_zero_point, (size_t)n);
                memset(hq, 0, sizeof hq);
            }
            const int32_t end = steps / 2 > t ? steps / 2 : steps;
            const int32_t r = 1 + (int32_t)(next() % 70u);
            const int32_t count = r < end - t ? r : end - t;
            const int8_t *x = in_place ? hs + t * n : xs + t * nx;
            CHECK_EQ(ernn_gru_run_s8(&p, x, (size_t)nx, count, h, hq, hs + t * n, (size_t)n), 1);
            t += count;
        }
        int32_t mismatches = 0;
        for (int32_t i = 0; i < steps * n; ++i) {
            mismatches += hs[i] != want[i];
        }
        for (int32_t j = 0; j < n; ++j) {
            mismatches += h[j] != h_want[j] || hq[j] != hq_want[j];
        }
        CHECK_EQ(mismatches, 0);
        ++ran;
#if ERNN_X86_LEVEL >= 3
        const int lanes = ernn_x86_has_avx512vnni() && ernn_x86_gru_lane_kind((n + 15) / 16, (nx + 15) / 16, &p);
        narrow_lanes += lanes && n <= 64;
        wide_lanes += lanes && n > 64;
        in_step += lanes && n <= 16 && ernn_x86_lane_in_step((nx + 15) / 16);
        generic += !lanes;
#endif
    }
#if ERNN_X86_LEVEL >= 3
    const int wide = ernn_x86_has_avx512vnni();
#else
    const int wide = 0;
#endif
    if (ran == 0) {
        printf("test_gate_ports: this CPU has no AVX2: ernn_gru_run_s8 refuses every cell (checked)\n");
    } else if (!wide) { /* the eight-lane kernel (AVX-VNNI or AVX2): cells on both sides of its limit */
        CHECK(refused > 0);
        printf("test_gate_ports: GRU block path (%s, eight lanes): %d cells; %d beyond its lanes refused\n",
               ernn_x86_lanes8_isa() == 2 ? "AVX-VNNI" : "AVX2", (int)ran, (int)refused);
    }
#if ERNN_X86_LEVEL >= 3
    else if (ernn_x86_has_avx512vbmi()) { /* both sides of the lane kernel's limits were tested */
        CHECK(narrow_lanes > 0);
        CHECK(wide_lanes > 0);
        CHECK(in_step > 0);
        CHECK(generic > 0);
        printf("test_gate_ports: GRU block path: %d cells; the lane kernel: %d of 1..4 columns (%d of one column with "
               "its x parts in each step), %d of 5..8; %d by the generic loop (more units or inputs, or gate_mul not "
               "a power of two 2^-15 or smaller)\n",
               (int)ran, (int)narrow_lanes, (int)in_step, (int)wide_lanes, (int)generic);
    }
#endif
    /* what the call refuses: 257 units (more than its limit), a long form (a shift >= 0), a NULL input, no
     * steps; the per-step path takes them */
    ernn_gru_s8_params big;
    memset(&big, 0, sizeof big);
    big.x_fc = (ernn_fc_params){l->px, l->bx, l->bx, l->bx, 1, 3 * 260, 0, ERNN_FC_PACK_K, 260, 1};
    big.h_fc = (ernn_fc_params){l->ph, l->bh, l->bh, l->bh, 257, 3 * 260, 0, ERNN_FC_PACK_K, 260, 1};
    big.reset_mul = big.gate_mul = big.to_hidden = (ernn_rescale){1 << 30, -1};
    CHECK_EQ(ernn_gru_run_s8_ok(&big), 0);
    CHECK_EQ(ernn_gru_run_s8(&big, xs, 1, 1, (int8_t *)hs, scratch, hs, 1), 0);
    ernn_gru_s8_params small = big;
    small.x_fc = (ernn_fc_params){l->px, l->bx, l->bx, l->bx, 1, 3 * 16, 0, ERNN_FC_PACK_K, 16, 1};
    small.h_fc = (ernn_fc_params){l->ph, l->bh, l->bh, l->bh, 16, 3 * 16, 0, ERNN_FC_PACK_K, 16, 1};
    small.gate_mul = (ernn_rescale){1 << 30, 0};
    CHECK_EQ(ernn_gru_run_s8_ok(&small), 0);
    small.gate_mul = (ernn_rescale){1 << 30, -1};
    CHECK_EQ(ernn_gru_run_s8(&small, NULL, 1, 1, (int8_t *)hs, scratch, hs, 1), 0);
    CHECK_EQ(ernn_gru_run_s8(&small, xs, 1, 0, (int8_t *)hs, scratch, hs, 1), 0);
    CHECK_EQ(ernn_gru_run_s8(NULL, xs, 1, 1, (int8_t *)hs, scratch, hs, 1), 0);
}
#endif

#if defined(ERNN_PORT_FC_ROWS)
/*
 * A packed int8 layer on many inputs in one call (ernn_fc_s8_s8_rows, the model's head over a block) against
 * ernn_fc_s8_s8 input by input, exactly: 1..40 rows (16-row tails, padded 4-row blocks), 1..MAX_IN inputs,
 * random and extreme weights and inputs, one rescale or one per row, right shifts and none, output zero
 * points, and the layer form it refuses.
 */
static void test_fc_rows(void)
{
    run_layers *const l = &run_layer_buffers;
    static int8_t xs[RUN_STEPS * MAX_IN], ys[RUN_STEPS * 48], want[48];
    static int16_t buffer[MAX_COLS + 2];
    int32_t multiplier[48], shift[48], mismatches = 0, ran = 0;
    for (int32_t trial = 0; trial < 48; ++trial) {
        const int32_t rows = 1 + (int32_t)(next() % 40u), nx = 1 + (int32_t)(next() % MAX_IN);
        const int extreme = trial % 4 == 1;
        ernn_fc_params fc, unused;
        random_run_layers(l, 1, rows, nx, extreme, trial % 2 ? 3 : 1, &fc, &unused);
        fc.out_features = rows;
        if (trial % 2) { /* a rescale per row, as an exported head (group_rows 0), else one for every row */
            for (int32_t o = 0; o < rows; ++o) {
                multiplier[o] = (int32_t)(0x40000000u + (next() & 0x3FFFFFFFu));
                shift[o] = trial % 3 == 0 ? (int32_t)(next() % 4u) : (int32_t)(next() % 18u) - 20;
            }
            fc.multiplier = multiplier;
            fc.shift = shift;
            fc.group_rows = 0;
        }
        fc.output_zero_point = (int32_t)(next() % 256u) - 128;
        l->sx[0] = trial % 3 == 0 ? (int32_t)(next() % 4u) : l->sx[0]; /* shift >= 0: no right shift */
        const int32_t steps = 1 + (int32_t)(next() % RUN_STEPS);
        for (int32_t i = 0; i < steps * nx; ++i) {
            xs[i] = rnd8(extreme);
        }
        CHECK_EQ(ernn_fc_s8_s8_rows(&fc, xs, (size_t)nx, steps, ys, (size_t)rows), 1);
        for (int32_t t = 0; t < steps; ++t) {
            CHECK_EQ(ernn_fc_s8_s8_buffered(&fc, xs + t * nx, want, buffer), ERNN_OK);
            mismatches += memcmp(want, ys + t * rows, (size_t)rows) != 0;
        }
        ran += steps;
        if (trial == 0) { /* refused: the general form */
            ernn_fc_params general = fc;
            general.bounded = 0;
            CHECK_EQ(ernn_fc_s8_s8_rows(&general, xs, (size_t)nx, 1, ys, 48), 0);
        }
    }
    CHECK_EQ(mismatches, 0);
    CHECK(ran > 1000);
}
#endif

int main(void)
{
    test_gate_blocks();
    test_gate_activations();
    test_cell_fcs();
    test_x86_activations16();
    test_gru_port();
    test_lstm_port();
#if defined(ERNN_PORT_LSTM_RUN)
    test_lstm_run();
#else
    printf("test_gate_ports: this build's port has no LSTM block path (ernn_lstm_run_s8)\n");
#endif
#if defined(ERNN_PORT_FC_ROWS)
    if (ernn_x86_has_avx512vnni()) {
        test_fc_rows();
    } else {
        printf("test_gate_ports: this CPU lacks AVX-512 VNNI (the block head is not run)\n");
    }
#else
    printf("test_gate_ports: this build's port has no block head (ernn_fc_s8_s8_rows)\n");
#endif
#if defined(ERNN_PORT_GRU_RUN)
    test_gru_run();
#else
    printf("test_gate_ports: this build's port has no GRU block path (ernn_gru_run_s8)\n");
#endif
    return ernn_test_report("test_gate_ports");
}
