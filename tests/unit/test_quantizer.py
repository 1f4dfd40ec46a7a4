"""The quantizer's choices and its refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgernn.errors import QuantizationError
from edgernn.quant import PercentileObserver, QuantizeOptions, qparams_from_range, quantize_params
from edgernn.quant.quantizer import cell_scale_power, quantize_weight
from edgernn.testing import random_float_params, random_inputs, random_model
from edgernn.types import CellType, ModelConfig

CONFIG = ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=6, output_size=3)


@given(st.floats(-100, 0), st.floats(0, 100))
def test_qparams_cover_the_range_and_zero_exactly(low: float, high: float) -> None:
    q = qparams_from_range(low, high)
    assert q.quantize(0.0) == q.zero_point  # real zero is exactly representable
    if high - low > 1e-6:
        assert q.quantize(low) >= -128 and q.quantize(high) <= 127
        assert abs(float(q.dequantize(q.quantize(high))) - high) <= q.scale / 2 + 1e-6


def test_weight_quantization_is_symmetric_per_gate_or_per_channel() -> None:
    w = np.array([[1.0, -0.5], [0.1, 0.025]], np.float32)
    q, s = quantize_weight(w, per_channel=False)
    assert s.tolist() == pytest.approx([1 / 127] * 2) and q[0].tolist() == [127, -64]
    q, s = quantize_weight(w, per_channel=True)
    assert s.tolist() == pytest.approx([1 / 127, 0.1 / 127]) and q[1].tolist() == [127, 32]


@pytest.mark.parametrize(("amax", "power"), [(0.3, -15), (1.0, -15), (1.5, -14), (3.9, -13), (4.0, -13), (100.0, -8)])
def test_cell_scale_power_holds_the_maximum(amax: float, power: int) -> None:
    assert cell_scale_power(amax) == power
    assert 32767 * 2.0**power >= amax - 2.0**power


def test_percentile_observer_ignores_outliers() -> None:
    obs = PercentileObserver(99.0)
    values = np.concatenate([np.linspace(-1, 1, 10000), [1000.0]])
    obs.update(values)
    low, high = obs.range()
    assert -1.0 <= low < -0.9 and 0.9 < high <= 1.0


def test_percentile_model_differs_from_minmax_only_in_ranges() -> None:
    minmax = random_model(CONFIG, seed=3)
    pct = random_model(CONFIG, seed=3, options=QuantizeOptions(observer="percentile", percentile=99.0))
    assert pct.provenance.calibration == "percentile 99.0"
    assert pct.layers[0].hidden_q.scale <= minmax.layers[0].hidden_q.scale


def test_nan_calibration_is_refused() -> None:
    params = random_float_params(CONFIG)
    bad = random_inputs(CONFIG, 10)
    bad[3, 1] = math.nan
    with pytest.raises(QuantizationError, match="sequence 1 contains NaN"):
        quantize_params(params, [random_inputs(CONFIG, 10), bad], calibration_sha256="x")


def test_empty_calibration_is_refused() -> None:
    with pytest.raises(QuantizationError, match="empty"):
        quantize_params(random_float_params(CONFIG), [], calibration_sha256="x")


def test_unknown_observer_is_refused() -> None:
    with pytest.raises(QuantizationError, match="unknown observer"):
        random_model(CONFIG, options=QuantizeOptions(observer="kl"))


def test_every_constant_is_derived_from_the_calibrated_scales() -> None:
    model = random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=5, output_size=2))
    layer = model.layers[0]
    gru = layer.directions[0].quant
    s_h = layer.hidden_q.scale
    assert gru.to_hidden.real == pytest.approx(2.0**-15 / s_h, rel=2**-30)
    assert gru.gate_mul.real == pytest.approx(2.0**-15, rel=2**-30)
    assert gru.reset_mul.real == pytest.approx(2.0**-15 * gru.h_n.output_scale / 2.0**-12, rel=2**-30)
    w = layer.directions[0].float_weights
    # x_r's bias is b_ir + b_hr at scale input_scale * weight_scale.
    want = (w.bias_ih[:5] + w.bias_hh[:5]) / (layer.input_q.scale * gru.x_r.weight_scale)
    assert np.abs(gru.x_r.bias - want).max() <= 0.5 + 1e-3


def test_fc_multipliers_are_the_double_product_of_float32_scales() -> None:
    """double(s_in) * double(s_w[o]) / double(s_out), per-tensor and per-channel alike: what the
    TFLite Micro oracle computes (see the comment in quantizer.make_fc for the measurement)."""
    from edgernn.fixedpoint import quantize_multiplier
    from edgernn.ir import QParams
    from edgernn.quant.quantizer import make_fc

    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5)).astype(np.float32)
    q = QParams(0.0371, 3)
    for per_channel, out_scale in ((False, 2.0**-12 * 1.3), (True, 0.05)):
        fc = make_fc(w, np.zeros(6, np.float32), q, out_scale, 0, 16, per_channel=per_channel, name="t")
        for o in range(6):
            real = float(np.float32(q.scale)) * float(fc.weight_scale[o]) / float(np.float32(out_scale))
            assert (fc.multiplier[o], fc.shift[o]) == quantize_multiplier(real)
