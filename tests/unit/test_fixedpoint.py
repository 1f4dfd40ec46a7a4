"""Fixed-point primitives against exact Python-integer arithmetic (property tests)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgernn import fixedpoint as fp

int32s = st.integers(fp.INT32_MIN, fp.INT32_MAX)
int16s = st.integers(fp.INT16_MIN, fp.INT16_MAX)


def srdhm_exact(a: int, b: int) -> int:
    """round(a*b / 2**31) with ties toward +inf: what gemmlowp's nudge-and-truncate computes."""
    if a == b == fp.INT32_MIN:
        return fp.INT32_MAX
    return (a * b + (1 << 30)) >> 31  # Python's >> floors: exact for any size


def rdpot_exact(x: int, e: int) -> int:
    """x / 2**e rounded half away from zero."""
    q, r = divmod(abs(x), 1 << e)
    q += 2 * r >= (1 << e) if e else 0
    return q if x >= 0 else -q


@given(int32s, int32s)
def test_srdhm_matches_exact_rounding(a: int, b: int) -> None:
    assert int(fp.saturating_rounding_doubling_high_mul(a, b)) == srdhm_exact(a, b)


def test_srdhm_saturates_the_only_overflow() -> None:
    assert int(fp.saturating_rounding_doubling_high_mul(fp.INT32_MIN, fp.INT32_MIN)) == fp.INT32_MAX


@given(int32s, st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away_from_zero(x: int, e: int) -> None:
    assert int(fp.rounding_divide_by_pot(x, e)) == rdpot_exact(x, e)


@given(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False))
def test_quantize_multiplier_is_q31_normalized_and_accurate(real: float) -> None:
    m, shift = fp.quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    assert abs(m * 2.0 ** (shift - 31) - real) <= real * 2.0**-31


def test_quantize_multiplier_edge_cases() -> None:
    assert fp.quantize_multiplier(0.0) == (0, 0)
    assert fp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fp.quantize_multiplier(2.0**-15) == (1 << 30, -14)
    assert fp.quantize_multiplier(1e-12) == (0, 0)  # below 2**-31: flushed to zero, like TFLite
    # A mantissa that rounds up to 2**31 renormalizes.
    assert fp.quantize_multiplier(1.0 - 2.0**-40) == (1 << 30, 1)


@given(st.integers(-(1 << 24), 1 << 24), st.floats(min_value=1e-6, max_value=100.0))
def test_mbqm_is_the_composition_and_within_one_of_exact(x: int, real: float) -> None:
    m, shift = fp.quantize_multiplier(real)
    left, right = max(shift, 0), max(-shift, 0)
    if abs(x << left) > fp.INT32_MAX:
        return  # C would overflow: covered by test_mbqm_refuses_int32_overflow
    got = int(fp.multiply_by_quantized_multiplier(x, m, shift))
    assert got == rdpot_exact(srdhm_exact(x << left, m), right)
    assert abs(got - x * m * 2.0 ** (shift - 31)) <= 1.0


def test_mbqm_refuses_int32_overflow() -> None:
    m, shift = fp.quantize_multiplier(1000.0)
    try:
        fp.multiply_by_quantized_multiplier(1 << 24, m, shift)
    except fp.IntegerOverflowError:
        return
    raise AssertionError("an int32 overflow went unnoticed")


@given(st.lists(int16s, min_size=1, max_size=8), st.lists(int16s, min_size=1, max_size=8))
def test_saturating_int16_add_sub(a: list[int], b: list[int]) -> None:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    assert fp.add_saturating_int16(a, b).tolist() == [max(-32768, min(32767, x + y)) for x, y in zip(a, b)]
    assert fp.sub_saturating_int16(a, b).tolist() == [max(-32768, min(32767, x - y)) for x, y in zip(a, b)]


ALL_INT16 = np.arange(fp.INT16_MIN, fp.INT16_MAX + 1)


def test_sigmoid_int16_over_every_input() -> None:
    y = fp.sigmoid_int16(ALL_INT16)
    assert y.min() >= 1 and y.max() <= 32767
    assert np.all(np.diff(y) >= 0), "monotonic"
    exact = 32768.0 / (1.0 + np.exp(-ALL_INT16 / 4096.0))
    assert np.abs(y - exact).max() <= 12  # LUT with linear interpolation: ~3.7e-4 worst case
    # sigmoid(-x) = 1 - sigmoid(x), exactly, in Q0.15.
    assert np.array_equal(fp.sigmoid_int16(-ALL_INT16[1:]), 32768 - y[1:])


def test_tanh_int16_over_every_input() -> None:
    y = fp.tanh_int16(ALL_INT16)
    assert y.min() >= -32768 and y.max() <= 32767
    assert np.all(np.diff(y) >= 0), "monotonic"
    exact = 32768.0 * np.tanh(ALL_INT16 / 4096.0)
    assert np.abs(y - exact).max() <= 12
    assert int(fp.tanh_int16(0)) == 0


@given(st.integers(-15, 0), int16s)
def test_tanh_of_cell_state_tracks_float(power: int, c: int) -> None:
    mult, shift = fp.tanh_params_for_scale_power(power)
    got = int(fp.tanh_int16(c, mult, shift)) / 32768.0
    want = math.tanh(c * 2.0**power)
    assert abs(got - want) <= 2e-3


def test_sigmoid_table_is_sigmoid_of_i_over_24() -> None:
    i = np.arange(256)
    assert np.abs(fp.SIGMOID_TABLE_UINT16 - 65536.0 / (1.0 + np.exp(-i / 24.0))).max() < 1.2  # a typo would show


@settings(max_examples=50)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_fully_connected_matches_integer_loop(out: int, inp: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=inp)
    w = rng.integers(-127, 128, size=(out, inp))
    bias = rng.integers(-5000, 5000, size=out)
    zp = int(rng.integers(-128, 128))
    m, s = fp.quantize_multiplier(float(rng.uniform(1e-4, 0.5)))
    got = fp.fully_connected(x, zp, w, bias, [m] * out, [s] * out, 3, -128, 127)
    for o in range(out):
        acc = int(bias[o]) + sum(int(w[o, i]) * (int(x[i]) - zp) for i in range(inp))
        left, right = max(s, 0), max(-s, 0)
        want = max(-128, min(127, rdpot_exact(srdhm_exact(acc << left, m), right) + 3))
        assert int(got[o]) == want
