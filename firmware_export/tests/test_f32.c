/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file test_f32.c
 * @brief The float32 path: exp/sigmoid/tanh against libm, cells against hand-written formulas,
 *        and the model driver (step == run == run_sequence).
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
        const ernn_cell_f32_params p = {{wx, bx, IN, H}, {wh, bh, H, H}, 0};
        memcpy(h, h0, sizeof h);
        CHECK_EQ(ernn_cell_f32_get_buffer_size(&p, 1), 2 * H * 4);
        CHECK_EQ(ernn_rnn_step_f32(&p, x, h, scratch), ERNN_OK);
        preacts(1, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            CHECK(fabs((double)h[j] - tanh(pre[0][j] + pre[1][j])) < 1e-6);
        }
    }
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, H}, {wh, bh, H, H}, 1}; /* ReLU Elman */
        memcpy(h, h0, sizeof h);
        CHECK_EQ(ernn_rnn_step_f32(&p, x, h, scratch), ERNN_OK);
        preacts(1, x, h0, pre);
        for (int32_t j = 0; j < H; ++j) {
            const double s = pre[0][j] + pre[1][j];
            CHECK(fabs((double)h[j] - (s > 0.0 ? s : 0.0)) < 1e-6);
        }
    }
    {
        const ernn_cell_f32_params p = {{wx, bx, IN, 3 * H}, {wh, bh, H, 3 * H}, 0};
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
        const ernn_cell_f32_params p = {{wx, bx, IN, 4 * H}, {wh, bh, H, 4 * H}, 0};
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

static void test_model(void)
{
    /* 2-layer GRU (layer 1 reads layer 0's H outputs: IN < H, so reuse the first H columns pattern) */
    static float wx1[3 * H * H];
    for (int32_t i = 0; i < 3 * H * H; ++i) {
        wx1[i] = wh[i] * 0.5f;
    }
    const ernn_cell_f32 cells[2] = {
        {ERNN_CELL_GRU, {{wx, bx, IN, 3 * H}, {wh, bh, H, 3 * H}, 0}},
        {ERNN_CELL_GRU, {{wx1, bx, H, 3 * H}, {wh, bh, H, 3 * H}, 0}},
    };
    const ernn_fc_f32_params head = {wh, bh, H, 2};
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
    test_cells();
    test_model();
    return ernn_test_report("test_f32");
}
