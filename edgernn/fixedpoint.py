"""Exact fixed-point primitives: the lowest layer of edgernn's integer arithmetic.

Every function reproduces, bit for bit, the integer arithmetic of TensorFlow Lite's reference
kernels as TFLite Micro builds them by default (gemmlowp's double-rounding requantization, the
int16 LUT-based LOGISTIC and TANH). The integer reference (:mod:`edgernn.reference`), the generated
C and the TFLite exports are all built from these, so they compute the same numbers.

All functions take numpy integer arrays (or Python ints) of any shape and compute in int64, then
check that every value a C implementation would hold in an int32 fits in one: a result that would
overflow in C raises :class:`IntegerOverflowError` instead of silently differing.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edgernn.errors import ModelFileError, MultiplierRangeError

IntArray = npt.NDArray[np.integer]
ArrayLike = npt.ArrayLike

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

#: Scale of gate pre-activations: int16 Q3.12 (range [-8, 8)), the input format of the LUTs.
GATE_INPUT_SCALE_POWER = -12
#: Scale of sigmoid/tanh outputs: int16 Q0.15.
GATE_OUTPUT_SCALE_POWER = -15

# sigmoid(i / 24) in unsigned 0.16 format for i = 0..255: the table of TFLite's int16 LOGISTIC and
# TANH kernels (tanh(x) = 2*sigmoid(2x) - 1 shares it). The values are not all round(65536*sigmoid)
# (44 entries differ by one), so they are carried as data: bit-exactness with TFLite needs them.
SIGMOID_TABLE_UINT16: npt.NDArray[np.int64] = np.array(
    [
        32768,
        33451,
        34133,
        34813,
        35493,
        36169,
        36843,
        37513,
        38180,
        38841,
        39498,
        40149,
        40794,
        41432,
        42064,
        42688,
        43304,
        43912,
        44511,
        45102,
        45683,
        46255,
        46817,
        47369,
        47911,
        48443,
        48964,
        49475,
        49975,
        50464,
        50942,
        51409,
        51865,
        52311,
        52745,
        53169,
        53581,
        53983,
        54374,
        54755,
        55125,
        55485,
        55834,
        56174,
        56503,
        56823,
        57133,
        57433,
        57724,
        58007,
        58280,
        58544,
        58800,
        59048,
        59288,
        59519,
        59743,
        59959,
        60168,
        60370,
        60565,
        60753,
        60935,
        61110,
        61279,
        61441,
        61599,
        61750,
        61896,
        62036,
        62172,
        62302,
        62428,
        62549,
        62666,
        62778,
        62886,
        62990,
        63090,
        63186,
        63279,
        63368,
        63454,
        63536,
        63615,
        63691,
        63765,
        63835,
        63903,
        63968,
        64030,
        64090,
        64148,
        64204,
        64257,
        64308,
        64357,
        64405,
        64450,
        64494,
        64536,
        64576,
        64614,
        64652,
        64687,
        64721,
        64754,
        64786,
        64816,
        64845,
        64873,
        64900,
        64926,
        64950,
        64974,
        64997,
        65019,
        65039,
        65060,
        65079,
        65097,
        65115,
        65132,
        65149,
        65164,
        65179,
        65194,
        65208,
        65221,
        65234,
        65246,
        65258,
        65269,
        65280,
        65291,
        65301,
        65310,
        65319,
        65328,
        65337,
        65345,
        65352,
        65360,
        65367,
        65374,
        65381,
        65387,
        65393,
        65399,
        65404,
        65410,
        65415,
        65420,
        65425,
        65429,
        65433,
        65438,
        65442,
        65445,
        65449,
        65453,
        65456,
        65459,
        65462,
        65465,
        65468,
        65471,
        65474,
        65476,
        65479,
        65481,
        65483,
        65485,
        65488,
        65489,
        65491,
        65493,
        65495,
        65497,
        65498,
        65500,
        65501,
        65503,
        65504,
        65505,
        65507,
        65508,
        65509,
        65510,
        65511,
        65512,
        65513,
        65514,
        65515,
        65516,
        65517,
        65517,
        65518,
        65519,
        65520,
        65520,
        65521,
        65522,
        65522,
        65523,
        65523,
        65524,
        65524,
        65525,
        65525,
        65526,
        65526,
        65526,
        65527,
        65527,
        65528,
        65528,
        65528,
        65529,
        65529,
        65529,
        65529,
        65530,
        65530,
        65530,
        65530,
        65531,
        65531,
        65531,
        65531,
        65531,
        65532,
        65532,
        65532,
        65532,
        65532,
        65532,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65535,
    ],
    dtype=np.int64,
)
SIGMOID_TABLE_UINT16.setflags(write=False)


class IntegerOverflowError(ModelFileError, ArithmeticError):
    """A value that C would hold in an int32 does not fit: the model's constants are invalid.

    A :class:`ModelFileError` so the CLI reports it in one line; model validation
    (``edgernn.ir``) rejects the constants that can overflow, so this is the last line of defence.
    """

    def __init__(self, what: str) -> None:
        super().__init__(f"the model's integer arithmetic fails: {what}", "re-create the model with `edgernn quantize`")


def _i64(x: ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(x, dtype=np.int64)


def check_int32(x: npt.NDArray[np.int64], what: str) -> npt.NDArray[np.int64]:
    """Raise if any element of ``x`` is outside int32 (C would overflow there)."""
    if x.size and (x.min() < INT32_MIN or x.max() > INT32_MAX):
        raise IntegerOverflowError(f"{what} overflows int32 (range {x.min()}..{x.max()})")
    return x


def saturate(x: ArrayLike, lo: int, hi: int) -> npt.NDArray[np.int64]:
    """Clamp to ``[lo, hi]``."""
    return np.clip(_i64(x), lo, hi)


def round_half_away_from_zero(x: float) -> int:
    """TfLiteRound / std::round for one double."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


_MULTIPLIER_FIX = "the model's weights or scales are far out of range; retrain with weight decay or recalibrate"


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Split a positive real multiplier into a Q31 ``multiplier`` and a power-of-two ``shift``.

    ``real ~= multiplier * 2**(shift - 31)`` with ``multiplier`` in ``[2**30, 2**31)``; TFLite's
    ``QuantizeMultiplier`` (frexp, round half away from zero, flush below 2**-31 to zero).
    """
    if not math.isfinite(real_multiplier) or real_multiplier < 0:
        raise MultiplierRangeError(
            f"a requantization multiplier must be finite and >= 0, got {real_multiplier!r}", _MULTIPLIER_FIX
        )
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = round_half_away_from_zero(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise MultiplierRangeError(
            f"requantization multiplier {real_multiplier!r} is too large for a Q31 multiplier and shift",
            _MULTIPLIER_FIX,
        )
    return q_fixed, shift


def multiplier_from_scales(a: float, b: float, out: float) -> tuple[int, int]:
    """The Q31 multiplier and shift of ``a * b / out``: float32 scales, product and quotient in double.

    How TFLite's kernels derive a requantization from tensor scales (FULLY_CONNECTED per output
    row, MUL, QUANTIZE with ``b = 1``). Every multiplier in the IR is this function of its scales,
    so a format that stores only scales (TFLite) computes the very same integers.
    """
    return quantize_multiplier(float(np.float32(a)) * float(np.float32(b)) / float(np.float32(out)))


def saturating_rounding_doubling_high_mul(a: ArrayLike, b: ArrayLike) -> npt.NDArray[np.int64]:
    """gemmlowp's SaturatingRoundingDoublingHighMul: round(a * b / 2**31), ties toward +infinity.

    (gemmlowp nudges by +-2**30 and truncates toward zero, which rounds -1.5 to -1 and 1.5 to 2.)

    The only overflow, ``a == b == INT32_MIN``, saturates to ``INT32_MAX``.
    """
    a64, b64 = _i64(a), _i64(b)
    check_int32(a64, "SRDHM operand a")
    check_int32(b64, "SRDHM operand b")
    ab = a64 * b64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    # C++ integer division truncates toward zero; numpy's // floors, so divide the magnitude.
    high = np.sign(total) * (np.abs(total) >> 31)
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x: ArrayLike, exponent: ArrayLike) -> npt.NDArray[np.int64]:
    """gemmlowp's RoundingDivideByPOT: ``x / 2**exponent`` rounded half away from zero."""
    x64, e = _i64(x), _i64(exponent)
    if e.size and (e.min() < 0 or e.max() > 31):
        raise ValueError("rounding_divide_by_pot exponent must be in [0, 31]")
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return (x64 >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: ArrayLike, multiplier: ArrayLike, shift: ArrayLike) -> npt.NDArray[np.int64]:
    """TFLite's double-rounding ``MultiplyByQuantizedMultiplier(int32 x, M, shift)``.

    ``x * M * 2**(shift - 31)``: a left shift for ``shift > 0`` (in int32, so it must not
    overflow), the doubling high multiply, then a rounding right shift for ``shift < 0``.
    """
    x64, m, s = _i64(x), _i64(multiplier), _i64(shift)
    check_int32(x64, "requantization input")
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = check_int32(x64 * (np.int64(1) << left), "requantization input after left shift")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m), right)


def requantize(
    x: ArrayLike,
    multiplier: ArrayLike,
    shift: ArrayLike,
    output_zero_point: int,
    lo: int,
    hi: int,
) -> npt.NDArray[np.int64]:
    """Rescale an integer value: ``clamp(MBQM(x, M, shift) + output_zero_point, lo, hi)``."""
    scaled = multiply_by_quantized_multiplier(x, multiplier, shift) + output_zero_point
    return saturate(check_int32(scaled, "requantized value"), lo, hi)


def add_saturating_int16(a: ArrayLike, b: ArrayLike) -> npt.NDArray[np.int64]:
    """Elementwise int16 add with saturation (TFLite's int16 ADD at equal scales)."""
    return saturate(_i64(a) + _i64(b), INT16_MIN, INT16_MAX)


def sub_saturating_int16(a: ArrayLike, b: ArrayLike) -> npt.NDArray[np.int64]:
    """Elementwise int16 subtract with saturation (TFLite's int16 SUB at equal scales)."""
    return saturate(_i64(a) - _i64(b), INT16_MIN, INT16_MAX)


def multiply_int16(
    a: ArrayLike,
    b: ArrayLike,
    multiplier: int,
    shift: int,
    output_zero_point: int,
    lo: int,
    hi: int,
) -> npt.NDArray[np.int64]:
    """TFLite's quantized elementwise MUL of two symmetric int16 tensors (zero points 0)."""
    product = check_int32(_i64(a) * _i64(b), "int16 product")
    return requantize(product, multiplier, shift, output_zero_point, lo, hi)


def _lut_input(x: ArrayLike, input_multiplier: int, input_left_shift: int) -> npt.NDArray[np.int64]:
    """The input rescale shared by the int16 LOGISTIC and TANH kernels."""
    if input_left_shift < 0:
        raise ValueError("input_left_shift must be >= 0")
    if input_multiplier == 0:  # power-of-two input scale: fold the shift into the multiplier 3
        input_multiplier = 3 << input_left_shift
        input_left_shift = 0
    rounding = (1 << (input_left_shift - 1)) if input_left_shift > 0 else 0
    return (_i64(x) * input_multiplier + rounding) >> input_left_shift


def _interpolate_table(a: npt.NDArray[np.int64], fraction_bits: int, saturated: int) -> npt.NDArray[np.int64]:
    """Linear interpolation in :data:`SIGMOID_TABLE_UINT16` at ``a / 2**fraction_bits`` (``a >= 0``),
    with ``fraction_bits`` fractional bits kept; ``saturated`` past the table's end."""
    index = a >> fraction_bits
    beyond = index >= 255
    index = np.minimum(index, 254)
    ua = SIGMOID_TABLE_UINT16[index]
    ub = SIGMOID_TABLE_UINT16[index + 1]
    interpolated = (ua << fraction_bits) + (a & ((1 << fraction_bits) - 1)) * (ub - ua)
    return np.where(beyond, saturated, interpolated)


def sigmoid_int16(x: ArrayLike, input_multiplier: int = 0, input_left_shift: int = 0) -> npt.NDArray[np.int64]:
    """TFLite's int16 LOGISTIC: Q3.12 input (with the default arguments) to Q0.15 output.

    Linear interpolation in :data:`SIGMOID_TABLE_UINT16` over ``|x|``, mirrored for ``x < 0``.
    Outputs lie in ``[1, 32767]``, so ``32768 - sigmoid(x)`` always fits int16.
    """
    v = _lut_input(x, input_multiplier, input_left_shift)
    result = _interpolate_table(np.abs(v), 9, 0x7FFF << 10)
    result = np.where(v >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return result >> 10


def tanh_int16(x: ArrayLike, input_multiplier: int = 0, input_left_shift: int = 0) -> npt.NDArray[np.int64]:
    """TFLite's int16 TANH: Q3.12 input (with the default arguments) to Q0.15 output."""
    v = _lut_input(x, input_multiplier, input_left_shift)
    result = _interpolate_table(np.abs(v), 8, 0xFFFF << 8)
    result = np.where(v >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return result >> 8


def tanh_params_for_scale_power(scale_power: int) -> tuple[int, int]:
    """``(input_multiplier, input_left_shift)`` of TANH for an int16 input of scale ``2**scale_power``.

    TFLite Micro's LSTM derives them this way from the cell state's power-of-two scale.
    """
    left_shift = (15 + scale_power) - 3
    if left_shift < 0:
        return 3, -left_shift
    return 0, left_shift


def fully_connected(
    x: ArrayLike,
    input_zero_point: int,
    weight: ArrayLike,
    bias: ArrayLike,
    multiplier: ArrayLike,
    shift: ArrayLike,
    output_zero_point: int,
    lo: int,
    hi: int,
) -> npt.NDArray[np.int64]:
    """TFLite's quantized FULLY_CONNECTED: ``requant(sum((x - zp_in) * W) + bias) + zp_out``.

    ``x`` is ``(..., in)``, ``weight`` ``(out, in)``, ``bias`` / ``multiplier`` / ``shift``
    ``(out,)`` (per output channel; equal entries for a per-tensor scale).
    """
    acc = (_i64(x) - input_zero_point) @ _i64(weight).T + _i64(bias)
    check_int32(acc, "fully-connected accumulator")
    return requantize(acc, multiplier, shift, output_zero_point, lo, hi)
