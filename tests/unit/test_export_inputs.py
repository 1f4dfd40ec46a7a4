"""Issue 14 items 2 and 6: exported ``.tflite`` / ``.onnx`` files that are corrupt or whose
edgernn metadata was edited are one-line errors, and no such byte reaches TFLite Micro, LiteRT
or ONNX Runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import ModelFileError
from edgernn.export import onnx as onnx_export
from edgernn.export import tflite as tflite_export
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

pytest.importorskip("tflite_micro")
pytest.importorskip("onnxruntime")

CONFIG = ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8, output_size=3)


@pytest.fixture(scope="module")
def model() -> ir.QuantizedRNN:
    return random_model(CONFIG, seed=2)


def _edit_tflite_metadata(data: bytes, change) -> bytes:  # noqa: ANN001 - change(meta) -> None
    """The metadata JSON edited in place, padded with spaces so the flatbuffer stays valid."""
    start = data.index(b'{"cell"')
    end = data.index(b"}", data.index(b'"state"')) + 1  # the metadata ends after its last key
    while True:
        try:
            meta = json.loads(data[start:end])
            break
        except ValueError:
            end = data.index(b"}", end) + 1
    change(meta)
    edited = json.dumps(meta, separators=(",", ":")).encode()
    assert len(edited) <= end - start
    return data[:start] + edited.ljust(end - start) + data[end:]


def _drop_x_role(meta: dict) -> None:
    meta["inputs"] = [t for t in meta["inputs"] if t["role"] != "x"]


def _shape_not_a_list(meta: dict) -> None:
    meta["inputs"][0]["shape"] = 5


def _no_precision(meta: dict) -> None:
    del meta["precision"]


@pytest.mark.parametrize("change", [_drop_x_role, _shape_not_a_list, _no_precision])
@pytest.mark.parametrize("backend", ["tflite", "tflm"])
def test_edited_tflite_metadata(model: ir.QuantizedRNN, tmp_path: Path, change, backend: str) -> None:  # noqa: ANN001
    """Were StopIteration, TypeError and KeyError tracebacks."""
    from edgernn.runtime.tflite_backend import TFLiteBackend
    from edgernn.runtime.tflm_backend import TFLMBackend

    path = tmp_path / "m.tflite"
    path.write_bytes(_edit_tflite_metadata(tflite_export.build(model).data, change))
    cls = TFLiteBackend if backend == "tflite" else TFLMBackend
    with pytest.raises(ModelFileError) as info:
        cls.from_file(model, path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key, value", [("inputs", '[{"name": 1}]'), ("outputs", "7"), ("precision", "int4")])
def test_edited_onnx_metadata(model: ir.QuantizedRNN, tmp_path: Path, key: str, value: str) -> None:
    """Were KeyError / TypeError tracebacks from the ONNX backend."""
    import onnx

    from edgernn.runtime.onnx_backend import OnnxBackend

    proto = onnx.load_model_from_string(onnx_export.build(model, "int8", "step").data)
    for prop in proto.metadata_props:
        if prop.key == key:
            prop.value = value
    step, seq = tmp_path / "m.onnx", tmp_path / "m.sequence.onnx"
    step.write_bytes(proto.SerializeToString())
    seq.write_bytes(onnx_export.build(model, "int8", "sequence").data)
    with pytest.raises(ModelFileError) as info:
        OnnxBackend.from_file(model, step)
    assert "\n" not in str(info.value)


_FLIP_SCRIPT = """
import sys
from pathlib import Path
from edgernn import ir
from edgernn.errors import EdgeRNNError
from edgernn.runtime.tflm_backend import TFLMBackend
model, path, raw = ir.load(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[2]).read_bytes()
loaded = 0
for i in range(int(sys.argv[3]), len(raw), 7):
    data = bytearray(raw)
    data[i] ^= 1 << (i % 8)
    path.write_bytes(bytes(data))
    try:
        TFLMBackend.from_file(model, path)
        loaded += 1
    except EdgeRNNError as exc:
        assert "\\n" not in str(exc)
print(loaded)
"""


def test_bit_flips_never_reach_tflite_micro(model: ir.QuantizedRNN, tmp_path: Path) -> None:
    """A single flipped bit crashed TFLite Micro (SIGSEGV/SIGABRT). Every 7th byte of the file
    is flipped in a child process, so a crash fails the test instead of killing pytest."""
    ernn = ir.save(model, tmp_path / "m.ernn")
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite_export.build(model).data)
    out = subprocess.run(
        [sys.executable, "-c", _FLIP_SCRIPT, str(ernn), str(path), "3"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-500:]}"
    assert out.stdout.split()[-1] == "0"  # no flipped file is run


def test_the_export_itself_still_runs(model: ir.QuantizedRNN, tmp_path: Path) -> None:
    from edgernn.runtime.tflm_backend import TFLMBackend

    path = tmp_path / "m.tflite"
    path.write_bytes(tflite_export.build(model).data)
    backend = TFLMBackend.from_file(model, path)
    xs = model.input_q.quantize(np.zeros((2, 4), np.float32))
    ys, _ = backend.run(backend.zero_state(), xs)
    assert np.asarray(ys).shape == (2, 3)
