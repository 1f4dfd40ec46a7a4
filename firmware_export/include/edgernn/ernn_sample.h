/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_sample.h
 * @brief Sampling a token from int8 logits with a seeded PRNG, in integer arithmetic.
 *
 * The same definition as edgernn.generation (Python), so the C runtime and every Python backend
 * generate the same tokens for the same seed:
 *
 * - PRNG: xorshift32 (13, 17, 5); ernn_rng_seed() sets the state to MurmurHash3's 32-bit finalizer
 *   of seed + 0x9E3779B9 (0x9E3779B9 if that is 0).
 * - temperature_q: the inverse temperature in Q16 base-2 units per int8 logit step,
 *   floor(output_scale * 65536 / (T * ln 2) + 0.5) clamped to [1, 2^23]; 0 (T = 0) is greedy.
 * - Greedy (temperature_q 0 or top_k 1): the lowest index of the largest logit, no PRNG draw.
 * - Top-k: the first k tokens by logit (descending), then index (ascending); top_k 0 keeps all.
 * - Weight of a candidate: x = (max - logit) * temperature_q, w = ERNN_EXP2_Q15[(x >> 8) & 255] >> (x >> 16)
 *   (0 when x >> 16 > 15), with ERNN_EXP2_Q15[f] = round(32768 * 2^(-f/256)).
 * - Draw: t = (rng * total) >> 32; the token is the first candidate (in index order) whose running
 *   sum of weights exceeds t.
 */
#ifndef ERNN_SAMPLE_H
#define ERNN_SAMPLE_H

#include "edgernn/ernn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest temperature_q (255 * 2^23 < 2^31). */
#define ERNN_TEMPERATURE_Q_MAX (1u << 23)

/** xorshift32 state (never 0). */
typedef struct {
    uint32_t state;
} ernn_rng;

/** Seed *rng from any 32-bit seed. */
static inline void ernn_rng_seed(ernn_rng *rng, uint32_t seed)
{
    uint32_t h = seed + 0x9E3779B9u;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    rng->state = h != 0u ? h : 0x9E3779B9u;
}

/** The next 32-bit draw. */
static inline uint32_t ernn_rng_next(ernn_rng *rng)
{
    uint32_t x = rng->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng->state = x;
    return x;
}

/**
 * temperature_q of a real temperature (0: greedy). Double arithmetic, for host code or set-up; the
 * sampler itself is integer-only. Pass output_scale as <PREFIX>_OUTPUT_SCALE cast to double.
 */
static inline uint32_t ernn_temperature_q(double output_scale, double temperature)
{
    if (!(temperature > 0.0)) {
        return 0u;
    }
    const double q = output_scale * 65536.0 / (temperature * 0.6931471805599453) + 0.5;
    if (q >= (double)ERNN_TEMPERATURE_Q_MAX) {
        return ERNN_TEMPERATURE_Q_MAX;
    }
    return q < 1.0 ? 1u : (uint32_t)q;
}

/**
 * Sample one token from n int8 logits (n in [1, 65535]).
 * @return the token id in [0, n), or ERNN_ARG_ERROR (negative) for bad arguments.
 * Uses 512 bytes of stack for top-k (a histogram of the 256 logit values); no allocation.
 */
int32_t ernn_sample_s8(const int8_t *logits, int32_t n, uint32_t temperature_q, int32_t top_k, ernn_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* ERNN_SAMPLE_H */
