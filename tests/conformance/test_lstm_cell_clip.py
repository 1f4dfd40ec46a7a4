"""The LSTM cell clip (TFLite's ``cell_clip``): carried in the IR, applied by the reference, the
scalar reference, the generated C, TFLite Micro and the ONNX graphs, bit for bit, free-running.

The models are quantized with a clip well inside the calibrated cell range, so that the cell state
sits at the clip on a good share of the steps: a backend that ignored the clip would differ.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgernn import ir, reference, summary
from edgernn.errors import QuantizationError, UnsupportedModelError
from edgernn.ir import LSTMCellQ, QuantizedRNN
from edgernn.quant.quantizer import QuantizeOptions
from edgernn.runtime import Stream
from edgernn.runtime.backends import create_backend
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig
from tests import scalar_ref

STEPS = 600
CONFIG = ModelConfig(cell=CellType.LSTM, input_size=5, hidden_size=16, num_layers=2, output_size=4)
CLIP = 0.75  # float cell-state units; the random models' cells reach ~2-4


def _clipped_model(seed: int = 3, clip: float = CLIP) -> QuantizedRNN:
    return random_model(CONFIG, seed=seed, weight_gain=3.0, options=QuantizeOptions(cell_clip=clip))


def _cells(quant: QuantizedRNN) -> list[LSTMCellQ]:
    return [d.quant for layer in quant.layers for d in layer.directions]  # type: ignore[misc]


def _reference_run(model: QuantizedRNN, xq: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """int8 outputs and every step's cell states (per layer) of the integer reference."""
    backend = create_backend("reference", model)
    state = backend.zero_state()
    ys, cells = [], []
    for x in xq:
        y, state = backend.step(state, x)
        ys.append(y)
        cells.append([s[1].copy() for s in state])
    return np.array(ys), [np.array([c[k] for c in cells]) for k in range(len(cells[0]))]


@pytest.fixture(scope="module")
def clipped() -> tuple[QuantizedRNN, np.ndarray, np.ndarray]:
    model = _clipped_model()
    xq = model.input_q.quantize(random_inputs(CONFIG, STEPS, seed=3, scale=2.5)).astype(np.int64)
    want, cells = _reference_run(model, xq)
    for cell, c in zip(_cells(model), cells):
        assert cell.cell_clip is not None
        assert np.abs(c).max() == cell.cell_clip
        at_clip = float(np.mean(np.abs(c) == cell.cell_clip))
        assert at_clip > 0.05, f"the clip binds on only {at_clip:.1%} of cell values"
    # The clip changes the outputs: a backend that ignored it would not match.
    unclipped = _without_clip(model)
    assert not np.array_equal(_reference_run(unclipped, xq)[0], want)
    return model, xq, want


def _without_clip(model: QuantizedRNN) -> QuantizedRNN:
    layers = tuple(
        dataclasses.replace(
            layer,
            directions=tuple(
                dataclasses.replace(d, quant=dataclasses.replace(d.quant, cell_clip=None)) for d in layer.directions
            ),
        )
        for layer in model.layers
    )
    return dataclasses.replace(model, layers=layers)


def test_quantized_clip_is_tflite_truncation_of_the_float_clip() -> None:
    # TFLite: static_cast<int16_t>(min(max(cell_clip / cell_scale, -32768), 32767)), the float32 clip
    assert LSTMCellQ.quantize_cell_clip(1.0, -12) == 4096
    assert LSTMCellQ.quantize_cell_clip(0.75, -13) == 6144
    assert LSTMCellQ.quantize_cell_clip(1.0 + 2.0**-13, -12) == 4096  # truncated, not rounded
    assert LSTMCellQ.quantize_cell_clip(2.0**-12 * 2.9, -12) == 2
    assert LSTMCellQ.quantize_cell_clip(100.0, -10) == 32767  # saturated
    assert LSTMCellQ.quantize_cell_clip(0.0, -12) is None  # TFLite's "no clip"
    with pytest.raises(UnsupportedModelError, match="below one step"):
        LSTMCellQ.quantize_cell_clip(2.0**-14, -12)


def test_clip_is_in_the_ir_and_survives_save_and_load(tmp_path) -> None:  # noqa: ANN001
    model = _clipped_model()
    cells = _cells(model)
    plain = random_model(CONFIG, seed=3, weight_gain=3.0)
    # the cell scale is chosen for the clip (0.75 < 1: 2^-15), not for the wider calibrated range
    assert cells[0].cell_scale_power == -15 < _cells(plain)[0].cell_scale_power
    assert cells[0].cell_clip == int(CLIP * 2**15)
    loaded = ir.load(ir.save(model, tmp_path / "clip.ernn"))
    assert [c.cell_clip for c in _cells(loaded)] == [c.cell_clip for c in cells]
    assert loaded.sha256 == model.sha256
    # An unclipped model writes no cell_clip at all: its bytes and hash are those of earlier edgernn.
    assert b"cell_clip" not in ir.to_bytes(plain)
    assert _without_clip(model).sha256 != model.sha256
    info = summary.describe_model(model)
    assert info["layers"][0]["quantization"]["cell_clip"] == cells[0].cell_clip
    assert f"clip +-{cells[0].cell_clip}" in summary.layers_table(info)


@pytest.mark.parametrize("bad", [0, -5, 40000])
def test_invalid_clip_is_refused(bad: int) -> None:
    cell = _cells(_clipped_model())[0]
    with pytest.raises(ir.IRValidationError, match="cell_clip"):
        dataclasses.replace(cell, cell_clip=bad)


def test_clip_on_a_gru_is_refused() -> None:
    with pytest.raises(QuantizationError, match="LSTM option"):
        random_model(
            ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=4), options=QuantizeOptions(cell_clip=1.0)
        )


def test_reference_equals_scalar_implementation_with_clip(clipped) -> None:  # noqa: ANN001
    model, xq, _ = clipped
    layer = model.layers[0]
    cell, q = layer.directions[0].quant, layer.hidden_q
    h, c = [q.zero_point] * layer.hidden_size, [0] * layer.hidden_size
    for x in xq[:200].tolist():
        h_vec, c_vec = reference.lstm_step(cell, x, h, c, q)
        h, c = scalar_ref.lstm_step(cell, x, h, c, q)
        assert h_vec.tolist() == h and c_vec.tolist() == c


@pytest.mark.parametrize("backend", ["c", "tflm", "onnx"])
def test_backend_with_clip_equals_reference_free_running(clipped, backend: str) -> None:  # noqa: ANN001
    model, xq, want = clipped
    stream = Stream(model, backend=backend)
    got = stream.run_int8(xq.astype(np.int8)).astype(np.int64)
    differ = int((got != want).sum())
    assert differ == 0, f"{backend}: {differ} of {want.size} outputs differ"
    ref = Stream(model, backend="reference")
    ref.run_int8(xq.astype(np.int8))
    for a, b in zip(stream.get_state().cells, ref.get_state().cells):
        for x_state, y_state in zip(a, b):
            assert np.array_equal(x_state, y_state), "final state differs"


def _run_states(backend_name: str, model: QuantizedRNN, xq: np.ndarray, **kwargs: object) -> np.ndarray:
    """Every step's cell states of a backend (layers concatenated)."""
    if kwargs:
        from edgernn.runtime.onnx_backend import OnnxBackend

        backend = OnnxBackend(model, **kwargs)  # type: ignore[arg-type]
    else:
        backend = create_backend(backend_name, model)
    state = backend.zero_state()
    cells = []
    for x in xq:
        _, state = backend.step(state, x)
        cells.append(np.concatenate([np.asarray(s[1], dtype=np.int64).reshape(-1) for s in state]))
    return np.array(cells)


@pytest.mark.parametrize("which", ["onnx-qdq", "tflite"])
def test_inexact_runtimes_apply_the_clip(clipped, which: str) -> None:  # noqa: ANN001
    """ONNX Runtime on the QDQ graph and LiteRT are not bit-exact (docs/compatibility.md), but they
    clip: their own cell states reach the clip and never pass it."""
    model, xq, _ = clipped
    clip = _cells(model)[0].cell_clip
    assert all(c.cell_clip == clip for c in _cells(model))
    if which == "onnx-qdq":
        cells = _run_states("onnx", model, xq, precision="int8-qdq")
    else:
        cells = _run_states("tflite", model, xq)
    assert np.abs(cells).max() == clip
    assert float(np.mean(np.abs(cells) == clip)) > 0.05
