/**
 * @file ernn_internal.h
 * @brief Private helpers shared by the runtime's source files (not part of the API).
 */
#ifndef ERNN_INTERNAL_H
#define ERNN_INTERNAL_H

#include "edgernn/ernn_common.h"

/**
 * Hidden size of a cell whose input and recurrent layers have `gates` stacked blocks of
 * hidden rows, or 0 if their shapes disagree: x_out == h_out == gates * h_in.
 */
static inline int32_t ernn_cell_hidden_size(int32_t x_out, int32_t h_in, int32_t h_out, int32_t gates)
{
    return (h_in > 0 && x_out == gates * h_in && h_out == gates * h_in) ? h_in : 0;
}

/*
 * int8 dot products of the FC kernel: ernn_dot4_s8_portable(w, n, x, sum) sets
 * sum[r] = sum_i w[r * n + i] * x[i] for the four consecutive rows r = 0..3 of a row-major [.][n]
 * weight matrix; ernn_dot1_s8_portable is the same for one row. Exact in int32 (n <= 65536).
 * Optimized ports (firmware_export/ports/<name>/) must return exactly these sums.
 */

/** Portable C: four rows at once, four columns per iteration (one load of x for four rows). */
static inline void ernn_dot4_s8_portable(const int8_t *w, int32_t n, const int8_t *x, int32_t sum[4])
{
    const int8_t *w0 = w;
    const int8_t *w1 = w0 + n;
    const int8_t *w2 = w1 + n;
    const int8_t *w3 = w2 + n;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int32_t xa = x[i], xb = x[i + 1], xc = x[i + 2], xd = x[i + 3];
        s0 += w0[i] * xa + w0[i + 1] * xb + w0[i + 2] * xc + w0[i + 3] * xd;
        s1 += w1[i] * xa + w1[i + 1] * xb + w1[i + 2] * xc + w1[i + 3] * xd;
        s2 += w2[i] * xa + w2[i + 1] * xb + w2[i + 2] * xc + w2[i + 3] * xd;
        s3 += w3[i] * xa + w3[i + 1] * xb + w3[i + 2] * xc + w3[i + 3] * xd;
    }
    for (; i < n; ++i) {
        const int32_t xi = x[i];
        s0 += w0[i] * xi;
        s1 += w1[i] * xi;
        s2 += w2[i] * xi;
        s3 += w3[i] * xi;
    }
    sum[0] = s0;
    sum[1] = s1;
    sum[2] = s2;
    sum[3] = s3;
}

/** Portable C: one row. */
static inline int32_t ernn_dot1_s8_portable(const int8_t *w, int32_t n, const int8_t *x)
{
    int32_t s = 0;
    for (int32_t i = 0; i < n; ++i) {
        s += w[i] * x[i];
    }
    return s;
}

#endif /* ERNN_INTERNAL_H */
