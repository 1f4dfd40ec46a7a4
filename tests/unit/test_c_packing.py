"""The C runtime's packed FC layers (edgernn.export.c_packing) and the identities the kernels rely on.

The short requantization of the C kernels (ernn_fc_s8.c, ports/arm_dsp) replaces TFLite's
MultiplyByQuantizedMultiplier by SMMULR of the doubled accumulator and a one-line rounding shift
(or SMMLAR with the rounding folded in). These tests emulate those instruction sequences in int64
and compare them with edgernn.fixedpoint on the edges of the proven bound and on random operands.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from edgernn import fixedpoint
from edgernn.export import c_packing
from edgernn.export.c import _gate_fcs
from edgernn.testing import random_model
from edgernn.types import ModelConfig

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def smmulr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SMMULR: (a * b + 2^31) >> 32 (int64: exact for int32 operands)."""
    return (a.astype(np.int64) * b.astype(np.int64) + (1 << 31)) >> 32


def short_form(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """ernn_fast_out: SMMULR(acc << left, M), then (t + (t >> 31) + round) >> right when right > 0."""
    left = np.maximum(shift, 0) + 1
    right = np.maximum(-shift, 0)
    a = acc.astype(np.int64) << left
    assert np.all((a >= INT32_MIN) & (a <= INT32_MAX)), "outside the proven bound"
    t = smmulr(a, multiplier)
    rnd = np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)
    return np.where(right > 0, (t + (t >> 63) + rnd) >> right, t)


def smmlar_form(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The DSP asm (right > 0): SMMLAR(acc << left, M, round + (acc >> 31)) >> right."""
    left = np.maximum(shift, 0) + 1
    right = -shift
    a = acc.astype(np.int64) << left
    r = (np.left_shift(1, right - 1) + (acc.astype(np.int64) >> 63)).astype(np.int64)
    return ((r << 32) + a * multiplier.astype(np.int64) + (1 << 31)) >> 32 >> right


def operands(rng: np.random.Generator, n: int, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accumulators anywhere in the proven range for each shift (and on its edges), Q31 multipliers."""
    shift = rng.choice(shifts, size=n)
    limit = (2**31 - 1) >> (np.maximum(shift, 0) + 1)  # |acc| * 2^left < 2^31
    acc = rng.integers(-limit, limit + 1, dtype=np.int64)
    edge = rng.random(n) < 0.2
    acc[edge] = rng.choice([-1, 1], size=edge.sum()) * (limit[edge] - rng.integers(0, 3, size=edge.sum()))
    acc[: len(shifts)] = 0
    multiplier = rng.integers(1 << 30, 1 << 31, size=n, dtype=np.int64)
    multiplier[rng.random(n) < 0.1] = 1 << 30  # power-of-two scales: ties happen
    multiplier[rng.random(n) < 0.05] = (1 << 31) - 1
    return acc, multiplier, shift


def test_short_requantization_equals_tflite_on_its_bound() -> None:
    rng = np.random.default_rng(8)
    acc, m, s = operands(rng, 400_000, np.arange(-31, 15))
    want = fixedpoint.multiply_by_quantized_multiplier(acc, m, s)
    assert np.array_equal(short_form(acc, m, s), want)
    negative = s < 0
    assert np.array_equal(smmlar_form(acc[negative], m[negative], s[negative]), want[negative])


def test_short_requantization_on_small_accumulators_and_ties() -> None:
    acc = np.arange(-70_000, 70_001, dtype=np.int64)
    for shift in (-1, -2, -7, -14, -15, -20, 0, 3):
        for m in (1 << 30, (1 << 30) + 1, 1518500250, (1 << 31) - 1):
            mm = np.full_like(acc, m)
            ss = np.full_like(acc, shift)
            want = fixedpoint.multiply_by_quantized_multiplier(acc, mm, ss)
            assert np.array_equal(short_form(acc, mm, ss), want), (shift, m)
            if shift < 0:
                assert np.array_equal(smmlar_form(acc, mm, ss), want), (shift, m)


def test_accumulator_bound_is_the_exact_extreme() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 7))
        w = rng.integers(-128, 128, size=(1, n)).astype(np.int8)
        b = rng.integers(-1000, 1000, size=1).astype(np.int32)
        brute = max(
            abs(int(b[0]) + int(np.dot(w[0].astype(np.int64), x))) for x in itertools.product((-128, 127), repeat=n)
        )
        assert c_packing.accumulator_bound(w, b)[0] == brute


def test_bound_check_edges() -> None:
    assert c_packing.short_requantization_exact(np.array([2**30 - 1]), np.array([0]))
    assert not c_packing.short_requantization_exact(np.array([2**30]), np.array([0]))
    assert c_packing.short_requantization_exact(np.array([2**27 - 1]), np.array([3]))
    assert not c_packing.short_requantization_exact(np.array([2**27]), np.array([3]))
    assert c_packing.short_requantization_exact(np.array([2**30 - 1]), np.array([-31]))


@pytest.mark.parametrize("k", [4, 16])
def test_layout_round_trips(k: int) -> None:
    model = random_model(ModelConfig(cell="gru", input_size=7, hidden_size=5), seed=1)
    x_fcs, _ = _gate_fcs(model.layers[0].directions[0].quant)
    p = c_packing.pack_fc(x_fcs, k, gate_blocks=True)
    stride = 8  # 5 rows per gate, padded to a multiple of 4
    assert (p.group_rows, p.out_features, p.bias.size) == (stride, 3 * stride, 3 * stride)
    dense = c_packing.unpack_weight(p)
    assert dense.shape == (3 * stride, c_packing.round_up(7, k))
    for g, fc in enumerate(x_fcs):
        assert np.array_equal(dense[g * stride : g * stride + 5, :7], fc.weight)
        assert not dense[g * stride + 5 : (g + 1) * stride].any() and not dense[:, 7:].any()
        assert p.multiplier[g] == fc.multiplier[0] and p.shift[g] == fc.shift[0]
    # element [o][i] at ((o // 4) * (C // K) + i // K) * 4K + (o % 4) * K + i % K (ernn_s8.h)
    cols = c_packing.round_up(7, k)
    for o, i, gate, row in ((4, 3, 0, 4), (10, 6, 1, 2), (16, 0, 2, 0)):
        index = ((o // 4) * (cols // k) + i // k) * 4 * k + (o % 4) * k + i % k
        assert p.weight[index] == x_fcs[gate].weight[row, i]


def test_per_row_multipliers_and_an_unproven_bound_fall_back() -> None:
    model = random_model(ModelConfig(cell="lstm", input_size=4, hidden_size=4, output_size=3), seed=2)
    head = c_packing.pack_fc([model.head.fc], 4, gate_blocks=False)
    assert head.out_features == 3 and head.bias.size == 4
    assert head.group_rows == 0 and head.multiplier.size == 4  # per-channel head: per row
    x_fcs, _ = _gate_fcs(model.layers[0].directions[0].quant)
    assert c_packing.pack_fc(x_fcs, 4, gate_blocks=True).bounded
    big = dataclasses.replace(x_fcs[0], bias=np.full(4, 2**30, np.int32))
    assert not c_packing.pack_fc([big, *x_fcs[1:]], 4, gate_blocks=True).bounded


def test_no_int8_min_flag_is_checked_over_every_weight() -> None:
    """bounded == 3 (the NEON pair kernel) only where no weight is -128 and the bound is proven."""
    model = random_model(ModelConfig(cell="gru", input_size=6, hidden_size=5), seed=3)
    x_fcs, _ = _gate_fcs(model.layers[0].directions[0].quant)
    assert all(fc.weight.min() > -128 for fc in x_fcs)  # the quantizer's symmetric range
    p = c_packing.pack_fc(x_fcs, 16, gate_blocks=True)
    assert p.bounded and p.no_int8_min and c_packing.bounded_field(p) == 3
    weight = x_fcs[2].weight.copy()
    weight[4, 5] = -128  # one weight, in the last gate's last row and column
    with_min = c_packing.pack_fc([*x_fcs[:2], dataclasses.replace(x_fcs[2], weight=weight)], 16, gate_blocks=True)
    assert with_min.bounded and not with_min.no_int8_min and c_packing.bounded_field(with_min) == 1
    assert c_packing.bounded_field(dataclasses.replace(p, bounded=False)) == 0
    assert c_packing.bounded_field(c_packing.pack_fc(x_fcs, 4, gate_blocks=True)) == 1  # no pair kernel at 4


def test_doubled_form_only_where_the_dsp_port_uses_it() -> None:
    """The doubled form (``bounded`` 2): bias stored doubled, for packing 4 on the DSP targets, where proven."""
    model = random_model(ModelConfig(cell="lstm", input_size=4, hidden_size=4), seed=3)
    x_fcs, _ = _gate_fcs(model.layers[0].directions[0].quant)
    plain = c_packing.pack_fc(x_fcs, 4, gate_blocks=True)
    doubled = c_packing.pack_fc(x_fcs, 4, gate_blocks=True, doubled_input=True)
    assert plain.bounded and not plain.doubled and c_packing.bounded_field(plain) == 1
    assert doubled.doubled and c_packing.bounded_field(doubled) == 2
    assert np.array_equal(doubled.bias, 2 * plain.bias) and np.array_equal(doubled.folded_bias, plain.bias)
    assert not c_packing.pack_fc(x_fcs, 16, gate_blocks=True, doubled_input=True).doubled  # int8 widened input
    big = dataclasses.replace(x_fcs[0], bias=np.full(4, 2**30, np.int32))
    unproven = c_packing.pack_fc([big, *x_fcs[1:]], 4, gate_blocks=True, doubled_input=True)
    assert not unproven.bounded and not unproven.doubled and c_packing.bounded_field(unproven) == 0
    assert [c_packing.doubles_input(t) for t in ("cortex-m4", "cortex-m7", "cortex-m33", "armv7")] == [True] * 4
    assert not any(c_packing.doubles_input(t) for t in ("cortex-m0", "cortex-m3", "cortex-m55", "host", "aarch64"))
