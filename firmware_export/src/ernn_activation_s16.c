/**
 * @file ernn_activation_s16.c
 * @brief TFLite's int16 LOGISTIC and TANH: LUT interpolation, Q0.15 output.
 */
#include "edgernn/ernn_fixedpoint.h"

const uint16_t ernn_sigmoid_table_u16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
};

/* The input rescale shared by LOGISTIC and TANH: (x * multiplier + rounding) >> left_shift. */
static int32_t lut_input(int16_t x, int32_t multiplier, int32_t left_shift)
{
    if (multiplier == 0) { /* power-of-two input scale: fold the shift into the multiplier 3 */
        multiplier = 3 * ((int32_t)1 << left_shift);
        left_shift = 0;
    }
    const int32_t rounding = left_shift > 0 ? ((int32_t)1 << (left_shift - 1)) : 0;
    return ((int32_t)x * multiplier + rounding) >> left_shift;
}

/* Interpolate the table at |v| with `bits` fractional bits per entry (9: sigmoid, 8: tanh). */
static int32_t lut_interpolate(int32_t magnitude, int32_t bits, int32_t saturated_value)
{
    const int32_t index = magnitude >> bits;
    if (index >= 255) {
        return saturated_value;
    }
    const int32_t ua = ernn_sigmoid_table_u16[index];
    const int32_t ub = ernn_sigmoid_table_u16[index + 1];
    return ua * ((int32_t)1 << bits) + (magnitude & (((int32_t)1 << bits) - 1)) * (ub - ua);
}

int16_t ernn_sigmoid_s16(int16_t x, int32_t input_multiplier, int32_t input_left_shift)
{
    const int32_t v = lut_input(x, input_multiplier, input_left_shift);
    const int32_t r = lut_interpolate(v < 0 ? -v : v, 9, 0x7FFF << 10);
    const int32_t rounded = v >= 0 ? r + (1 << 9) : (1 << 25) - r + (1 << 9) - 1;
    return (int16_t)(rounded >> 10);
}

int16_t ernn_tanh_s16(int16_t x, int32_t input_multiplier, int32_t input_left_shift)
{
    const int32_t v = lut_input(x, input_multiplier, input_left_shift);
    const int32_t r = lut_interpolate(v < 0 ? -v : v, 8, 0xFFFF << 8);
    const int32_t rounded = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(rounded >> 8);
}
