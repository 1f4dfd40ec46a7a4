/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_sample_s8.c
 * @brief Integer sampling from int8 logits (definition in ernn_sample.h and edgernn.generation).
 */
#include "edgernn/ernn_sample.h"

/* round(32768 * 2^(-f/256)), f = 0..255: the fraction of a base-2 softmax weight (edgernn.generation.EXP2_Q15). */
static const uint16_t ERNN_EXP2_Q15[256] = {
    32768, 32679, 32591, 32503, 32415, 32327, 32240, 32153, 32066, 31979, 31893, 31806, 31720, 31635, 31549, 31464,
    31379, 31294, 31209, 31125, 31041, 30957, 30873, 30790, 30706, 30623, 30541, 30458, 30376, 30293, 30212, 30130,
    30048, 29967, 29886, 29805, 29725, 29644, 29564, 29484, 29405, 29325, 29246, 29167, 29088, 29009, 28931, 28852,
    28774, 28697, 28619, 28542, 28464, 28388, 28311, 28234, 28158, 28082, 28006, 27930, 27855, 27779, 27704, 27629,
    27554, 27480, 27406, 27332, 27258, 27184, 27110, 27037, 26964, 26891, 26818, 26746, 26674, 26601, 26530, 26458,
    26386, 26315, 26244, 26173, 26102, 26031, 25961, 25891, 25821, 25751, 25681, 25612, 25543, 25474, 25405, 25336,
    25268, 25199, 25131, 25063, 24995, 24928, 24860, 24793, 24726, 24659, 24593, 24526, 24460, 24394, 24328, 24262,
    24196, 24131, 24066, 24001, 23936, 23871, 23806, 23742, 23678, 23614, 23550, 23486, 23423, 23359, 23296, 23233,
    23170, 23108, 23045, 22983, 22921, 22859, 22797, 22735, 22674, 22613, 22552, 22491, 22430, 22369, 22309, 22248,
    22188, 22128, 22068, 22009, 21949, 21890, 21831, 21772, 21713, 21654, 21595, 21537, 21479, 21421, 21363, 21305,
    21247, 21190, 21133, 21076, 21019, 20962, 20905, 20849, 20792, 20736, 20680, 20624, 20568, 20513, 20457, 20402,
    20347, 20292, 20237, 20182, 20127, 20073, 20019, 19965, 19911, 19857, 19803, 19750, 19696, 19643, 19590, 19537,
    19484, 19431, 19379, 19326, 19274, 19222, 19170, 19118, 19066, 19015, 18963, 18912, 18861, 18810, 18759, 18708,
    18658, 18607, 18557, 18507, 18457, 18407, 18357, 18308, 18258, 18209, 18160, 18110, 18061, 18013, 17964, 17915,
    17867, 17819, 17770, 17722, 17674, 17627, 17579, 17531, 17484, 17437, 17390, 17343, 17296, 17249, 17202, 17156,
    17109, 17063, 17017, 16971, 16925, 16879, 16834, 16788, 16743, 16697, 16652, 16607, 16562, 16518, 16473, 16428,
};

int32_t ernn_sample_s8(const int8_t *logits, int32_t n, uint32_t temperature_q, int32_t top_k, ernn_rng *rng)
{
    if (logits == NULL || rng == NULL || n < 1 || n > 65535 || top_k < 0 || temperature_q > ERNN_TEMPERATURE_Q_MAX) {
        return (int32_t)ERNN_ARG_ERROR;
    }
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    if (temperature_q == 0u || top_k == 1) {
        return best;
    }
    /* Top-k as a threshold: every logit above `threshold`, and the first `at_threshold` tokens equal to it. */
    int32_t threshold = -128;
    int32_t at_threshold = n;
    if (top_k != 0 && top_k < n) {
        uint16_t count[256] = {0};
        for (int32_t i = 0; i < n; ++i) {
            ++count[(int32_t)logits[i] + 128];
        }
        int32_t above = 0;
        for (threshold = 127; above + (int32_t)count[threshold + 128] < top_k; --threshold) {
            above += (int32_t)count[threshold + 128];
        }
        at_threshold = top_k - above;
    }
    const int32_t max = logits[best];
    uint32_t total = 0u;
    for (int pass = 0; pass < 2; ++pass) {
        uint32_t target = 0u;
        if (pass == 1) {
            target = (uint32_t)(((uint64_t)ernn_rng_next(rng) * total) >> 32);
        }
        uint32_t sum = 0u;
        int32_t equal_seen = 0;
        for (int32_t i = 0; i < n; ++i) {
            const int32_t q = logits[i];
            if (q < threshold || (q == threshold && equal_seen++ >= at_threshold)) {
                continue;
            }
            const uint32_t x = (uint32_t)(max - q) * temperature_q;
            const uint32_t e = x >> 16;
            const uint32_t w = e > 15u ? 0u : (uint32_t)ERNN_EXP2_Q15[(x >> 8) & 255u] >> e;
            sum += w;
            if (pass == 1 && target < sum) {
                return i;
            }
        }
        total = sum;
    }
    return best; /* unreachable: target < total */
}
