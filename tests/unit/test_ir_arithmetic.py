"""Issue 14 item 3: a model whose constants overflow int32 or whose scales give no Q31
multiplier is refused when it is built or loaded, so no backend meets it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import EdgeRNNError
from edgernn.fixedpoint import IntegerOverflowError, check_int32
from edgernn.ir import FullyConnected, QuantizedRNN, Rescale
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

GRU = ModelConfig(cell=CellType.GRU, input_size=5, hidden_size=8, output_size=3)
LSTM = ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=6, output_size=2)
ELMAN = ModelConfig(cell=CellType.RNN, input_size=4, hidden_size=6, output_size=2)


def _with_head_fc(model: QuantizedRNN, **changes: object) -> QuantizedRNN:
    assert model.head is not None
    fc = dataclasses.replace(model.head.fc, **changes)
    return dataclasses.replace(model, head=dataclasses.replace(model.head, fc=fc))


def _with_cell(model: QuantizedRNN, **changes: object) -> QuantizedRNN:
    layer = model.layers[0]
    d = layer.directions[0]
    quant = dataclasses.replace(d.quant, **changes)
    layer = dataclasses.replace(layer, directions=(dataclasses.replace(d, quant=quant),))
    return dataclasses.replace(model, layers=(layer,))


@pytest.mark.parametrize("config", [GRU, LSTM, ELMAN], ids=lambda c: c.cell.value)
def test_quantized_models_pass_the_bounds(config: ModelConfig) -> None:
    for seed in range(3):
        model = random_model(config, seed=seed, weight_gain=3.0)
        assert ir.from_bytes(ir.to_bytes(model)).sha256 == model.sha256


def test_in_range_shift_that_overflows_is_refused() -> None:
    """shift=30 is within [-31, 30] but shifts any accumulator above 2 out of int32: the reference
    raised IntegerOverflowError at run time while C saturated."""
    model = random_model(GRU)
    assert model.head is not None
    shift = np.full_like(model.head.fc.shift, 30)
    # Refused before it can overflow: the stored shift is not the one the scales give.
    with pytest.raises(ir.IRValidationError, match="head row 0 requantization .* disagrees with its scales"):
        _with_head_fc(model, shift=shift)


def test_head_weight_scale_without_a_multiplier_is_refused() -> None:
    """A weight_scale of 1e30 passed validation and broke the TFLite export (ValueError)."""
    model = random_model(GRU)
    assert model.head is not None
    scale = np.full_like(model.head.fc.weight_scale, 1e30)
    with pytest.raises(EdgeRNNError, match="too large for a Q31 multiplier"):
        _with_head_fc(model, weight_scale=scale)


def test_gate_weight_scale_with_an_overflowing_derived_shift_is_refused() -> None:
    model = random_model(GRU)
    fc: FullyConnected = model.layers[0].directions[0].quant.x_z  # type: ignore[union-attr]
    scale = fc.weight_scale * np.float32(2.0**20)
    multiplier, shift = ir.fc_multipliers(model.layers[0].input_q.scale, scale, fc.output_scale)
    # Stored integers consistent with the scales, but the left shift they need overflows int32.
    with pytest.raises(ir.IRValidationError, match="x_z: its scales give a requantization that overflows"):
        _with_cell(model, x_z=dataclasses.replace(fc, weight_scale=scale, multiplier=multiplier, shift=shift))


def test_accumulator_that_can_overflow_is_refused() -> None:
    model = random_model(GRU)
    assert model.head is not None
    # The folded bias fits int32 (checked before), but 255 * 127 * 8 on top of it does not.
    weight = np.full_like(model.head.fc.weight, 127)
    bias = np.full_like(model.head.fc.bias, 2**31 - 200_000)
    with pytest.raises(ir.IRValidationError, match="accumulator can overflow"):
        _with_head_fc(model, weight=weight, bias=bias)


def test_cell_rescales_are_bounded() -> None:
    lstm = random_model(LSTM)
    with pytest.raises(ir.IRValidationError, match="output_mul requantization .* disagrees with its scales"):
        _with_cell(lstm, output_mul=Rescale(1 << 30, 1))
    elman = random_model(ELMAN)
    with pytest.raises(ir.IRValidationError, match="to_hidden requantization .* disagrees with its scales"):
        _with_cell(elman, to_hidden=Rescale(1 << 30, 20))
    # Consistent with its scales but overflowing: a GRU whose W_hn h is at scale 64 multiplies
    # r * h_n (up to 2**30) by 2**-15 * 64 / 2**-12 = 8 in reset_mul.
    gru = random_model(GRU)
    cell = gru.layers[0].directions[0].quant
    hn: FullyConnected = cell.h_n  # type: ignore[union-attr]
    multiplier, shift = ir.fc_multipliers(gru.layers[0].hidden_q.scale, hn.weight_scale, 64.0)
    wide_hn = dataclasses.replace(hn, output_scale=64.0, multiplier=multiplier, shift=shift)
    reset_mul = Rescale.of(ir.Q15_SCALE, 64.0, ir.GATE_SCALE)
    with pytest.raises(ir.IRValidationError, match="reset_mul: its scales give a requantization that overflows"):
        _with_cell(gru, h_n=wide_hn, reset_mul=reset_mul)


def test_a_remaining_overflow_is_a_one_line_edgernn_error() -> None:
    with pytest.raises(EdgeRNNError, match="re-create the model") as info:
        check_int32(np.array([2**40], dtype=np.int64), "x")
    assert isinstance(info.value, IntegerOverflowError) and "\n" not in str(info.value)
