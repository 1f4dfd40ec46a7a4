"""A 16-bit model input (docs/input_bits.md): the quantizer's choice, the IR's invariants and file format,
the reference and the Stream, and the exporters that refuse it."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from io import BytesIO

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import InputDataError, QuantizationError, UnsupportedModelError
from edgernn.export import tflite as tflite_export
from edgernn.ir import IRValidationError
from edgernn.quant import QuantizeOptions
from edgernn.runtime import Stream, predict
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig, OutputMode, Task

REGRESSION = {"task": "regression", "output_size": 2, "output_mode": "sequence"}


def _model(cell: CellType = CellType.GRU, layers: int = 1, **options: object) -> ir.QuantizedRNN:
    cfg = ModelConfig(cell=cell, input_size=3, hidden_size=8, num_layers=layers, **REGRESSION)
    return random_model(cfg, seed=3, options=QuantizeOptions(**options))


def _header(model: ir.QuantizedRNN) -> str:
    with zipfile.ZipFile(BytesIO(ir.to_bytes(model))) as zf:
        return zf.read(ir.HEADER_NAME).decode()


def test_regression_models_default_to_a_16_bit_input_and_others_to_8() -> None:
    m = _model(layers=2)
    assert m.input_bits == 16 and m.layers[0].input_bits == 16 and m.layers[1].input_bits == 8
    assert m.input_q.zero_point == 0
    calibrated = max(np.abs(random_inputs(m.config, 20, seed=3)).max(), 1e-3)  # the order of the input's range
    assert m.input_q.scale < calibrated / 1000  # 32767 steps over the range, not 255
    assert _model(input_bits=8).input_bits == 8
    classifier = random_model(ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=8, output_size=2), seed=3)
    assert classifier.input_bits == 8
    assert random_model(classifier.config, seed=3, options=QuantizeOptions(input_bits=16)).input_bits == 16
    tokens = ModelConfig(
        cell=CellType.GRU, vocab_size=10, embedding_dim=4, hidden_size=8, output_size=1, task="regression"
    )
    assert random_model(tokens, seed=3).input_bits == 8  # a token model reads its int8 embedding
    with pytest.raises(QuantizationError, match="embedding table"):
        random_model(tokens, seed=3, options=QuantizeOptions(input_bits=16))
    with pytest.raises(QuantizationError, match="input bits 12"):
        QuantizeOptions(input_bits=12)


def test_the_field_is_stored_only_when_16_so_other_files_keep_their_bytes() -> None:
    m16, m8 = _model(), _model(input_bits=8)
    assert '"input_bits": 16' in _header(m16)
    assert "input_bits" not in _header(m8)
    for m in (m16, m8):
        back = ir.from_bytes(ir.to_bytes(m))
        assert back.sha256 == m.sha256 and back.input_bits == m.input_bits


def test_the_ir_holds_the_16_bit_input_to_layer_0_s_input_fcs() -> None:
    m = _model(CellType.LSTM, layers=2)
    cell0, cell1 = m.layers[0].directions[0].quant, m.layers[1].directions[0].quant

    def with_cell(layer: int, cell: object) -> ir.QuantizedRNN:
        layers = list(m.layers)
        d = dataclasses.replace(layers[layer].directions[0], quant=cell)
        layers[layer] = dataclasses.replace(layers[layer], directions=(d,))
        return dataclasses.replace(m, layers=tuple(layers))

    mixed = dataclasses.replace(cell0, x_g=dataclasses.replace(cell0.x_g, input_bits=8))
    with pytest.raises(IRValidationError, match="x_g reads int8, its input is int16"):
        with_cell(0, mixed)
    recurrent16 = dataclasses.replace(cell0, h_i=dataclasses.replace(cell0.h_i, input_bits=16, input_zero_point=0))
    with pytest.raises(IRValidationError, match="h_i reads int16"):
        with_cell(0, recurrent16)
    with pytest.raises(IRValidationError):  # layer 1 reads the int8 hidden values of layer 0
        x16 = {g: dataclasses.replace(getattr(cell1, g), input_bits=16, input_zero_point=0) for g in cell1.X_FCS}
        with_cell(1, dataclasses.replace(cell1, **x16))
    with pytest.raises(IRValidationError, match="symmetric"):
        dataclasses.replace(cell1.x_i, input_bits=16, input_zero_point=3)
    assert m.head is not None
    head16 = dataclasses.replace(m.head.fc, input_bits=16, input_zero_point=0)
    with pytest.raises(IRValidationError, match="head"):  # its input zero point differs, or it reads int16
        dataclasses.replace(m, head=dataclasses.replace(m.head, fc=head16))


def test_the_int32_accumulator_bound_counts_the_int16_input() -> None:
    """A 16x8 FC is accepted only if 32768 * sum|w| + |bias| fits int32, what every backend sums in."""
    m = _model()
    fc, scale = m.layers[0].directions[0].quant.x_r, m.input_q.scale
    rows = 2**31 // (32768 * 127) + 1  # inputs of weight 127: the int16 bound passes int32, the int8 one does not
    wide = dataclasses.replace(fc, weight=np.full((fc.out_features, rows), 127, np.int8))
    ir._check_fc_arithmetic(dataclasses.replace(wide, input_bits=8), scale, "x")  # type: ignore[attr-defined]
    with pytest.raises(IRValidationError, match="an int16 input's accumulator can overflow int32"):
        ir._check_fc_arithmetic(wide, scale, "x")  # type: ignore[attr-defined]


@pytest.mark.parametrize("cell", list(CellType))
def test_a_16_bit_input_follows_the_float_model_closer(cell: CellType) -> None:
    """The point of it: the input's rounding no longer shows in the output (same weights, same calibration)."""
    m16, m8 = _model(cell), _model(cell, input_bits=8)
    xs = random_inputs(m16.config, 300, seed=5)
    want = predict(m16, [xs], backend="float")[0]
    err16 = np.abs(predict(m16, [xs])[0] - want).mean()
    err8 = np.abs(predict(m8, [xs])[0] - want).mean()
    assert err16 < err8


def test_stream_quantizes_to_int16_and_takes_int16_integer_input() -> None:
    m = _model()
    s = Stream(m)
    xq = m.input_q.quantize(np.array([1e9, -1e9, 0.0, 0.25], np.float32), 16)
    assert xq.dtype == np.int16 and xq.tolist()[:3] == [32767, -32768, 0]
    frame = np.array([0.5, -1.5, 3.0], np.float32)
    assert np.array_equal(s.adapter.features(frame, time_axis=False), m.input_q.quantize(frame, 16))
    y = s.step_int8(m.input_q.quantize(frame, 16))
    s.reset()
    assert np.array_equal(m.output_q.dequantize(y), s.step(frame))
    with pytest.raises(InputDataError, match="expected int16.*quantize\\(x, 16\\)"):
        s.step_int8(np.zeros(3, np.int8))
    with pytest.raises(InputDataError, match="expected int8"):
        Stream(_model(input_bits=8)).step_int8(np.zeros(3, np.int16))


def test_tflite_refuses_an_int16_input_lstm_and_the_exact_variant_any() -> None:
    """TFLite's fused LSTM takes int8 input only; the LiteRT-exact variant has no 16x8 FC."""
    with pytest.raises(UnsupportedModelError, match="fused LSTM takes int8 input only.*--input-bits 8"):
        tflite_export.build(_model(CellType.LSTM))
    for cell in CellType:
        with pytest.raises(UnsupportedModelError, match="LiteRT-exact.*--input-bits 8"):
            tflite_export.build(_model(cell, head_output_bits=8), "int8-exact")
    assert tflite_export.build(_model(CellType.LSTM, input_bits=8)).data  # the fix works
    assert tflite_export.build(_model(CellType.LSTM), "float32").data  # the float model has no int16 input
    gru = tflite_export.build(_model(CellType.GRU))
    (x,) = [t for t in gru.inputs if t.role == "x"]
    assert x.dtype == "int16" and x.zero_point == 0
    assert gru.metadata["input_quantization"]["dtype"] == "int16"


def test_token_config_regression_sequence_output_shape() -> None:
    """A sequence-output regression model streams int16 features into int16 outputs, one row per step."""
    m = _model(CellType.RNN)
    assert m.config.output_mode is OutputMode.SEQUENCE and m.config.task is Task.REGRESSION
    xs = m.input_q.quantize(random_inputs(m.config, 7, seed=1), 16)
    assert Stream(m).run_int8(xs).shape == (7, 2)


def test_summary_and_manifest_name_the_input_dtype(tmp_path) -> None:  # noqa: ANN001
    from edgernn.export import export_model
    from edgernn.summary import describe_model

    m = _model(CellType.GRU)
    layers = describe_model(m)["layers"]
    assert layers[0]["quantization"]["input"]["dtype"] == "int16"
    export_model(m, "all", tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["input_quantization"]["dtype"] == "int16"
    lstm = _model(CellType.LSTM)
    result = export_model(lstm, "all", tmp_path / "l")
    manifest = json.loads((tmp_path / "l" / "manifest.json").read_text())
    assert "tflite int8" in manifest.get("unavailable", {}) and any("--input-bits 8" in r for r in result.report)
