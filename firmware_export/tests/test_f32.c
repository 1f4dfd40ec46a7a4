/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_f32.c
 * @brief The float32 path: exp/sigmoid/tanh (scalar and vectorized) against libm, the FC in both layouts,
 *        cells against hand-written formulas, and the model driver (step == run == run_sequence).
 *        Whatever SIMD port the build picks runs here (the pytest suite builds it at each x86 level and
 *        for AArch64 under QEMU).
 */
#include <math.h>
#include <string.h>

#include "edgernn/ernn_f32.h"
#include "ernn_test.h"

static double rel_error(double got, double want)
{
    const double scale = fabs(want) > 1e-30 ? fabs(want) : 1e-30;
    return fabs(got - want) / scale;
}

static void test_math(void)
{
    double worst_exp = 0.0, worst_sigmoid = 0.0, worst_tanh = 0.0;
    for (int32_t i = -200000; i <= 200000; ++i) {
        const float x = (float)i * 4.0e-4f; /* [-80, 80] */
        const double e = rel_error((double)ernn_exp_f32(x), exp((double)x));
        worst_exp = e > worst_exp ? e : worst_exp;
        const double s = rel_error((double)ernn_sigmoid_f32(x), 1.0 / (1.0 + exp(-(double)x)));
        worst_sigmoid = s > worst_sigmoid ? s : worst_sigmoid;
        const double t = rel_error((double)ernn_tanh_f32(x), tanh((double)x));
        worst_tanh = t > worst_tanh ? t : worst_tanh;
    }
    printf("worst relative error: exp %.3g, sigmoid %.3g, tanh %.3g\n", worst_exp, worst_sigmoid, worst_tanh);
    CHECK(worst_exp < 1e-6);
    CHECK(worst_sigmoid < 1e-6);
    CHECK(worst_tanh < 1e-6);
    CHECK(rel_error((double)ernn_tanh_f32(1e-6f), 1e-6) < 1e-6); /* no cancellation near zero */
    CHECK(ernn_tanh_f32(30.0f) == 1.0f && ernn_tanh_f32(-30.0f) == -1.0f);
    CHECK(ernn_exp_f32(-1000.0f) >= 0.0f && ernn_exp_f32(1000.0f) > 1e38f);
    CHECK(ernn_sigmoid_f32(0.0f) == 0.5f);
}

#define H 3
#define IN 2

static const float wx[4 * H * IN] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f, 0.9f, 0.1f, 0.2f, -0.3f,
                                     0.5f, 0.5f, -0.5f, 0.25f, 0.75f, -0.25f, 0.3f, 0.3f, -0.1f, 0.2f, 0.6f, -0.6f};
static const float wh[4 * H * H] = {0.05f, 0.1f, -0.1f, 0.2f, -0.2f, 0.3f, -0.3f, 0.4f, -0.4f, 0.5f, 0.1f, 0.2f,
                                    0.3f, -0.4f, 0.5f, 0.6f, -0.7f, 0.8f, 0.1f, 0.1f, 0.1f, -0.2f, -0.2f, 0.2f,
                                    0.3f, 0.3f, -0.3f, 0.2f, 0.1f, 0.0f, -0.1f, -0.2f, 0.4f, 0.2f, 0.2f, 0.2f};
static const float bx[4 * H] = {0.1f, 0.0f, -0.1f, 0.2f, 0.3f, -0.2f, 0.05f, 0.15f, -0.05f, 0.0f, 0.1f, 0.2f};
static const float bh[4 * H] = {-0.1f, 0.2f, 0.1f, 0.0f, -0.3f, 0.2f, 0.1f, 0.0f, 0.05f, 0.1f, -0.1f, 0.0f};

static double dsig(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Gate block g, unit j of W x + b for the input (pre[0]) and recurrent (pre[1]) layers. */
static void preacts(int32_t gates, const float *x, const float *h, double pre[2][4 * H])
{
    for (int32_t r = 0; r < gates * H; ++r) {
        double a = (double)bx[r], b = (double)bh[r];
        for (int32_t i = 0; i < IN; ++i) {
            a += (double)wx[r * IN + i] * (double)x[i];
        }
        for (int32_t i = 0; i < H; ++i) {
            b += (double)wh[r * H + i] * (double)h[i];
        }
        pre[0][r] = a;
        pre[1][r] = b;
    }
}

static void test_cells(void)
{
    const float x[IN] = {0.7f, -1.3f};
    const float h0[H] = {0.2f, -0.4f, 0.6f};
    const float c0[H] = {0.5f, -1.5f, 0.25f};
    float h[H], c[H], scratch[8 * H];
    double pre[2][4 * H];
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, H, 0}, {wh, bh, H, H, 0}, 0};
        memcpy(h, h0, sizeof h);
        CHECK_EQ(ernn_cell_f32_get_buffer_size(&p, 1), 2 * H * 4);
        CHECK_EQ(ernn_rnn_step_f32(&p, x, h, scratch), ERNN_OK);
        preacts(1, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            CHECK(fabs((double)h[j] - tanh(pre[0][j] + pre[1][j])) < 1e-6);
        }
    }
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, H, 0}, {wh, bh, H, H, 0}, 1}; /* ReLU Elman */
        memcpy(h, h0, sizeof h);
        CHECK_EQ(ernn_rnn_step_f32(&p, x, h, scratch), ERNN_OK);
        preacts(1, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            const double s = pre[0][j] + pre[1][j];
            CHECK(fabs((double)h[j] - (s > 0.0 ? s : 0.0)) < 1e-6);
        }
    }
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, 3 * H, 0}, {wh, bh, H, 3 * H, 0}, 0};
        memcpy(h, h0, sizeof h);
        CHECK_EQ(ernn_gru_step_f32(&p, x, h, scratch), ERNN_OK);
        preacts(3, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            const double r = dsig(pre[0][j] + pre[1][j]);
            const double z = dsig(pre[0][H + j] + pre[1][H + j]);
            const double n = tanh(pre[0][2 * H + j] + r * pre[1][2 * H + j]);
            CHECK(fabs((double)h[j] - ((1.0 - z) * n + z * (double)h0[j])) < 1e-6);
        }
    }
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, 4 * H, 0}, {wh, bh, H, 4 * H, 0}, 0};
        memcpy(h, h0, sizeof h);
        memcpy(c, c0, sizeof c);
        CHECK_EQ(ernn_lstm_step_f32(&p, x, h, c, scratch), ERNN_OK);
        preacts(4, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            const double i = dsig(pre[0][j] + pre[1][j]);
            const double f = dsig(pre[0][H + j] + pre[1][H + j]);
            const double g = tanh(pre[0][2 * H + j] + pre[1][2 * H + j]);
            const double o = dsig(pre[0][3 * H + j] + pre[1][3 * H + j]);
            const double cj = f * (double)c0[j] + i * g;
            CHECK(fabs((double)c[j] - cj) < 1e-6);
            CHECK(fabs((double)h[j] - o * tanh(cj)) < 1e-6);
        }
        CHECK_EQ(ernn_lstm_step_f32(&p, x, h, NULL, scratch), ERNN_ARG_ERROR);
    }
}

/* The vectorized activations (the port's kernels where there is one) against double, over [-30, 30]
 * in steps of 1e-4 plus the tails: the maximum absolute errors are printed and bounded (ernn_f32.h). */
static void test_vector_math(void)
{
    enum { N = 600001 };
    static float x[N], s[N], t[N];
    for (int32_t i = 0; i < N; ++i) {
        x[i] = (float)(i - N / 2) * 1.0e-4f;
    }
    ernn_sigmoid_vec_f32(x, s, N);
    ernn_tanh_vec_f32(x, t, N);
    double worst_s = 0.0, worst_t = 0.0, worst_t_rel = 0.0;
    for (int32_t i = 0; i < N; ++i) {
        const double es = fabs((double)s[i] - 1.0 / (1.0 + exp(-(double)x[i])));
        const double et = fabs((double)t[i] - tanh((double)x[i]));
        worst_s = es > worst_s ? es : worst_s;
        worst_t = et > worst_t ? et : worst_t;
        if (fabs((double)x[i]) > 0.0 && fabs((double)x[i]) < 0.5) {
            const double r = rel_error((double)t[i], tanh((double)x[i]));
            worst_t_rel = r > worst_t_rel ? r : worst_t_rel;
        }
    }
    printf("f32 kernels: %s\n", ernn_f32_kernel_name());
    printf("vectorized max abs error vs double on [-30, 30]: sigmoid %.3g, tanh %.3g (tanh relative on |x| < 0.5: "
           "%.3g)\n", worst_s, worst_t, worst_t_rel);
    CHECK(worst_s < 2.5e-7);
    CHECK(worst_t < 2.5e-7);
    CHECK(worst_t_rel < 1e-6); /* no cancellation near zero */
    /* saturation, signs, zero; in place; lengths off the vector width */
    float v[19] = {-1000.0f, -100.0f, -30.0f, -9.0f, -1e-6f, -0.0f, 0.0f, 1e-6f, 9.0f, 30.0f, 100.0f, 1000.0f,
                   88.5f, -88.5f, 1e-30f, 0.25f, 0.2499f, 0.2501f, 3.0f};
    float w[19];
    ernn_tanh_vec_f32(v, w, 19);
    CHECK(w[0] == -1.0f && w[1] == -1.0f && w[10] == 1.0f && w[11] == 1.0f && w[6] == 0.0f && w[5] == 0.0f);
    for (int32_t i = 0; i < 19; ++i) {
        CHECK(fabs((double)w[i] - tanh((double)v[i])) < 2.5e-7);
        CHECK(rel_error((double)w[i], tanh((double)v[i])) < 1e-6);
    }
    ernn_sigmoid_vec_f32(v, v, 19);
    CHECK(v[0] < 1e-37f && v[11] == 1.0f && v[6] == 0.5f);
    for (int32_t i = 0; i < 19; ++i) {
        CHECK(v[i] >= 0.0f && v[i] <= 1.0f);
    }
}

/* Deterministic weights in [-1, 1). */
static float pseudo(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* Where weight (o, i) of an FC with `in` inputs and `out` outputs is in the paneled layout (ernn_f32.h). */
static size_t panel_at(int32_t o, int32_t i, int32_t in, int32_t out)
{
    const int32_t first = o / ERNN_F32_PANEL * ERNN_F32_PANEL;
    const int32_t width = out - first < ERNN_F32_PANEL ? out - first : ERNN_F32_PANEL;
    return (size_t)first * (size_t)in + (size_t)i * (size_t)width + (size_t)(o - first);
}

/* The paneled layout (the export's) against the row-major one and double, over shapes that take every
 * tile size and tail of the ports (whole panels, splits into near-equal tiles, a narrower last panel). */
static void test_fc_layouts(void)
{
    enum { MAX_IN = 70, MAX_OUT = 300 };
    static float w[MAX_IN * MAX_OUT], wt[MAX_IN * MAX_OUT], b[MAX_OUT], x[MAX_IN], y[MAX_OUT + 1], yt[MAX_OUT + 1];
    const int32_t ins[] = {1, 2, 3, 17, 64, 70};
    const int32_t outs[] = {1, 3, 4, 7, 8, 15, 16, 24, 40, 48, 96, 100, 128, 129, 192, 200, 256, 300};
    uint32_t seed = 7;
    double worst = 0.0;
    for (size_t a = 0; a < sizeof ins / sizeof ins[0]; ++a) {
        for (size_t c = 0; c < sizeof outs / sizeof outs[0]; ++c) {
            const int32_t in = ins[a], out = outs[c];
            for (int32_t o = 0; o < out; ++o) {
                b[o] = pseudo(&seed);
                for (int32_t i = 0; i < in; ++i) {
                    w[o * in + i] = wt[panel_at(o, i, in, out)] = pseudo(&seed);
                }
            }
            for (int32_t i = 0; i < in; ++i) {
                x[i] = 3.0f * pseudo(&seed);
            }
            y[out] = yt[out] = 12345.0f; /* nothing written past the outputs */
            const ernn_fc_f32_params row = {w, b, in, out, ERNN_FC_F32_ROWS}, col = {wt, b, in, out, ERNN_FC_F32_PANELS};
            CHECK_EQ(ernn_fc_f32(&row, x, y), ERNN_OK);
            CHECK_EQ(ernn_fc_f32(&col, x, yt), ERNN_OK);
            CHECK(y[out] == 12345.0f && yt[out] == 12345.0f);
            for (int32_t o = 0; o < out; ++o) {
                double want = (double)b[o], scale = fabs((double)b[o]);
                for (int32_t i = 0; i < in; ++i) {
                    want += (double)w[o * in + i] * (double)x[i];
                    scale += fabs((double)w[o * in + i] * (double)x[i]);
                }
                const double e = fabs((double)yt[o] - want) / scale;
                worst = e > worst ? e : worst;
                CHECK(fabs((double)y[o] - want) <= 1e-6 * scale);
            }
        }
    }
    printf("paneled FC: worst error %.3g of the sum of |terms|\n", worst);
    const ernn_fc_f32_params bad = {w, b, 4, 4, 2}; /* no such layout */
    CHECK_EQ(ernn_fc_f32(&bad, x, y), ERNN_ARG_ERROR);
    CHECK(worst <= 1e-6);
}

/* Cells wide enough for the ports' element-wise loops (and a tail), paneled weights, against double. */
static void test_wide_cells(void)
{
    enum { WH = 21, WIN = 11 };
    static float wxt[WIN * 4 * WH], wht[WH * 4 * WH], bxw[4 * WH], bhw[4 * WH];
    uint32_t seed = 11;
    for (int32_t i = 0; i < WIN * 4 * WH; ++i) {
        wxt[i] = 0.8f * pseudo(&seed);
    }
    for (int32_t i = 0; i < WH * 4 * WH; ++i) {
        wht[i] = 0.8f * pseudo(&seed);
    }
    for (int32_t i = 0; i < 4 * WH; ++i) {
        bxw[i] = pseudo(&seed);
        bhw[i] = pseudo(&seed);
    }
    float x[WIN], h0[WH], c0[WH], h[WH], c[WH], scratch[8 * WH];
    for (int32_t i = 0; i < WIN; ++i) {
        x[i] = 2.0f * pseudo(&seed);
    }
    for (int32_t j = 0; j < WH; ++j) {
        h0[j] = pseudo(&seed);
        c0[j] = 3.0f * pseudo(&seed);
    }
    for (int32_t gates = 1; gates <= 4; gates += 1) {
        if (gates == 2) {
            continue;
        }
        const int32_t rows = gates * WH;
        double gx[4 * WH], gh[4 * WH];
        for (int32_t r = 0; r < rows; ++r) {
            gx[r] = (double)bxw[r];
            gh[r] = (double)bhw[r];
            for (int32_t i = 0; i < WIN; ++i) {
                gx[r] += (double)wxt[panel_at(r, i, WIN, rows)] * (double)x[i];
            }
            for (int32_t i = 0; i < WH; ++i) {
                gh[r] += (double)wht[panel_at(r, i, WH, rows)] * (double)h0[i];
            }
        }
        const ernn_cell_f32_params p = {{wxt, bxw, WIN, rows, ERNN_FC_F32_PANELS}, {wht, bhw, WH, rows, ERNN_FC_F32_PANELS}, 0};
        memcpy(h, h0, sizeof h);
        memcpy(c, c0, sizeof c);
        if (gates == 1) {
            CHECK_EQ(ernn_rnn_step_f32(&p, x, h, scratch), ERNN_OK);
        } else if (gates == 3) {
            CHECK_EQ(ernn_gru_step_f32(&p, x, h, scratch), ERNN_OK);
        } else {
            CHECK_EQ(ernn_lstm_step_f32(&p, x, h, c, scratch), ERNN_OK);
        }
        for (int32_t j = 0; j < WH; ++j) {
            double want = 0.0;
            if (gates == 1) {
                want = tanh(gx[j] + gh[j]);
            } else if (gates == 3) {
                const double r = dsig(gx[j] + gh[j]), z = dsig(gx[WH + j] + gh[WH + j]);
                const double n = tanh(gx[2 * WH + j] + r * gh[2 * WH + j]);
                want = (1.0 - z) * n + z * (double)h0[j];
            } else {
                const double cj = dsig(gx[WH + j] + gh[WH + j]) * (double)c0[j] +
                                  dsig(gx[j] + gh[j]) * tanh(gx[2 * WH + j] + gh[2 * WH + j]);
                CHECK(fabs((double)c[j] - cj) < 2e-6);
                want = dsig(gx[3 * WH + j] + gh[3 * WH + j]) * tanh(cj);
            }
            CHECK(fabs((double)h[j] - want) < 2e-6);
        }
    }
}

static void test_model(void)
{
    /* 2-layer GRU (layer 1 reads layer 0's H outputs: IN < H, so reuse the first H columns pattern) */
    static float wx1[3 * H * H];
    for (int32_t i = 0; i < 3 * H * H; ++i) {
        wx1[i] = wh[i] * 0.5f;
    }
    const ernn_cell_f32 cells[2] = {
        {ERNN_CELL_GRU, {{wx, bx, IN, 3 * H, 0}, {wh, bh, H, 3 * H, 0}, 0}},
        {ERNN_CELL_GRU, {{wx1, bx, H, 3 * H, 0}, {wh, bh, H, 3 * H, 0}, 0}},
    };
    const ernn_fc_f32_params head = {wh, bh, H, 2, 0};
    const ernn_model_f32 m = {cells, 2, 1, H, IN, NULL, 0, &head, 0, ERNN_READOUT_STATE, 0};
    float hidden[2 * H], scratch[6 * H], work[2 * 10 * H];
    const ernn_model_f32_mem mem = {hidden, NULL, scratch};
    float xs[10 * IN], ys_run[10 * 2], ys_step[10 * 2], ys_seq[10 * 2], y[2];
    for (int32_t i = 0; i < 10 * IN; ++i) {
        xs[i] = (float)((i * 37) % 11) * 0.3f - 1.5f;
    }
    CHECK_EQ(ernn_model_f32_check(&m), ERNN_OK);
    CHECK_EQ(ernn_model_f32_get_state_size(&m), 2 * H * 4);
    CHECK_EQ(ernn_model_f32_get_buffer_size(&m), 6 * H * 4);
    CHECK_EQ(ernn_model_f32_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_f32_run(&m, &mem, xs, NULL, 10, ys_run), ERNN_OK);
    CHECK_EQ(ernn_model_f32_reset(&m, &mem), ERNN_OK);
    for (int32_t t = 0; t < 10; ++t) {
        CHECK_EQ(ernn_model_f32_step(&m, &mem, xs + t * IN, ys_step + t * 2), ERNN_OK);
    }
    CHECK(memcmp(ys_run, ys_step, sizeof ys_run) == 0);
    CHECK_EQ(ernn_model_f32_final_output(&m, &mem, y), ERNN_OK);
    CHECK(memcmp(y, ys_step + 18, sizeof y) == 0);
    CHECK_EQ(ernn_model_f32_reset(&m, &mem), ERNN_OK);
    CHECK_EQ(ernn_model_f32_run_sequence(&m, &mem, xs, NULL, 10, ys_seq, work), ERNN_OK);
    CHECK(memcmp(ys_run, ys_seq, sizeof ys_run) == 0);
    CHECK_EQ(ernn_model_f32_step_token(&m, &mem, 0, y), ERNN_UNSUPPORTED);
    CHECK_EQ(ernn_model_f32_step(&m, NULL, xs, y), ERNN_ARG_ERROR);
}

int main(void)
{
    test_math();
    test_vector_math();
    test_fc_layouts();
    test_cells();
    test_wide_cells();
    test_model();
    return ernn_test_report("test_f32");
}
