"""The IR: validation, exact .ernn round trips, and every corrupt-file case."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import EdgeRNNError, ModelFileError
from edgernn.ir import FullyConnected, QParams, Rescale
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig, OutputMode

CONFIGS = [
    ModelConfig(cell=CellType.GRU, input_size=5, hidden_size=8, output_size=3),
    ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=6, num_layers=2, bidirectional=True, output_size=2),
    ModelConfig(
        cell=CellType.RNN, vocab_size=11, embedding_dim=4, hidden_size=5, num_layers=3, output_mode=OutputMode.SEQUENCE
    ),
]


def _arrays(obj: object, path: str = "") -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            found.update(_arrays(getattr(obj, f.name), f"{path}.{f.name}"))
    elif isinstance(obj, tuple):
        for i, v in enumerate(obj):
            found.update(_arrays(v, f"{path}[{i}]"))
    elif isinstance(obj, np.ndarray):
        found[path] = obj
    return found


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.cell.value)
def test_round_trip_is_exact(config: ModelConfig, tmp_path: Path) -> None:
    model = random_model(config, seed=5)
    path = ir.save(model, tmp_path / "m.ernn")
    loaded = ir.load(path)
    assert loaded.sha256 == model.sha256
    a, b = _arrays(model), _arrays(loaded)
    assert a.keys() == b.keys() and len(a) > 10
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    assert loaded.config == model.config and loaded.provenance == model.provenance
    # Deterministic bytes: the same model always serializes identically.
    assert ir.to_bytes(loaded) == path.read_bytes()


def test_arrays_are_read_only() -> None:
    model = random_model(CONFIGS[0])
    with pytest.raises(ValueError):
        model.layers[0].directions[0].quant.x_r.weight[0, 0] = 1  # type: ignore[union-attr]


def test_hash_ignores_provenance_but_not_weights() -> None:
    model = random_model(CONFIGS[0])
    renamed = dataclasses.replace(model, provenance=dataclasses.replace(model.provenance, dataset="other"))
    assert renamed.sha256 == model.sha256
    other = random_model(CONFIGS[0], seed=99)
    assert other.sha256 != model.sha256


@pytest.fixture()
def model_bytes() -> bytes:
    return ir.to_bytes(random_model(CONFIGS[0]))


def _expect_error(tmp_path: Path, data: bytes, match: str) -> None:
    p = tmp_path / "bad.ernn"
    p.write_bytes(data)
    with pytest.raises(ModelFileError, match=match):
        ir.load(p)


def test_truncated_file(tmp_path: Path, model_bytes: bytes) -> None:
    _expect_error(tmp_path, model_bytes[: len(model_bytes) // 2], "not a zip archive, or truncated")


def test_random_bytes(tmp_path: Path) -> None:
    _expect_error(tmp_path, np.random.default_rng(0).bytes(4000), "not an edgernn model")


def _rewrite(model_bytes: bytes, edit) -> bytes:  # noqa: ANN001 - edit(name, data) -> data
    src = zipfile.ZipFile(io.BytesIO(model_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def _edit_header(model_bytes: bytes, change) -> bytes:  # noqa: ANN001
    def edit(name: str, data: bytes) -> bytes:
        if name != ir.HEADER_NAME:
            return data
        header = json.loads(data)
        change(header)
        return json.dumps(header).encode()

    return _rewrite(model_bytes, edit)


def test_wrong_format_tag(tmp_path: Path, model_bytes: bytes) -> None:
    _expect_error(tmp_path, _edit_header(model_bytes, lambda h: h.update(format="something-else")), "wrong format tag")


def test_newer_schema(tmp_path: Path, model_bytes: bytes) -> None:
    _expect_error(tmp_path, _edit_header(model_bytes, lambda h: h.update(schema_version=99)), "upgrade edgernn")


def test_edited_weight_is_detected(tmp_path: Path, model_bytes: bytes) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("x_r/weight.npy"):
            arr = np.lib.format.read_array(io.BytesIO(data))
            arr = arr.copy()
            arr[0, 0] ^= 1
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr)
            return buf.getvalue()
        return data

    _expect_error(tmp_path, _rewrite(model_bytes, edit), "does not match its recorded hash")


def test_pickled_array_is_refused(tmp_path: Path, model_bytes: bytes) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("x_r/weight.npy"):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array([object()], dtype=object), allow_pickle=True)
            return buf.getvalue()
        return data

    _expect_error(tmp_path, _rewrite(model_bytes, edit), "object array .*pickle.* is refused")


def test_wrong_dtype_is_refused(tmp_path: Path, model_bytes: bytes) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("x_r/bias.npy"):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.lib.format.read_array(io.BytesIO(data)).astype(np.float32))
            return buf.getvalue()
        return data

    _expect_error(tmp_path, _rewrite(model_bytes, edit), "dtype float32, expected int32")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        ir.load(tmp_path / "nope.ernn")
    with pytest.raises(ModelFileError, match="is a directory"):
        ir.load(tmp_path)


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_model(CONFIGS[0])
    target = tmp_path / "m.ernn"
    target.write_bytes(b"previous")

    def boom(_model: object) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ir, "to_bytes", boom)
    with pytest.raises(RuntimeError):
        ir.save(model, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.ernn"]


def test_validation_on_construction() -> None:
    good = random_model(CONFIGS[0]).layers[0].directions[0].quant.x_r  # type: ignore[union-attr]
    with pytest.raises(ir.IRValidationError, match="dtype"):
        dataclasses.replace(good, weight=good.weight.astype(np.int16))
    with pytest.raises(ir.IRValidationError, match="shape"):
        dataclasses.replace(good, bias=good.bias[:-1])
    with pytest.raises(ir.IRValidationError, match="shift"):
        Rescale(1 << 30, 40)
    with pytest.raises(ir.IRValidationError, match="zero point"):
        QParams(0.1, 200)
    with pytest.raises(ir.IRValidationError, match="scale"):
        QParams(float("nan"), 0)
    with pytest.raises(ir.IRValidationError, match="overflows int32"):
        FullyConnected(
            weight=np.full((1, 4096), 127, np.int8),
            weight_scale=np.ones(1, np.float32),
            bias=np.array([2**31 - 1], np.int32),
            multiplier=np.array([1 << 30], np.int32),
            shift=np.array([0], np.int32),
            input_zero_point=-128,
            output_scale=1.0,
            output_zero_point=0,
            output_bits=8,
        )


def _halve(array_name: str):  # noqa: ANN202 - an edit for _rewrite
    def edit(name: str, data: bytes) -> bytes:
        if name.endswith(array_name):
            arr = np.lib.format.read_array(io.BytesIO(data)).copy()
            arr //= 2
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr)
            return buf.getvalue()
        return data

    return edit


@pytest.mark.parametrize("array", ["head/fc/multiplier.npy", "h_n/multiplier.npy"])
def test_multipliers_that_disagree_with_their_scales_are_refused(
    tmp_path: Path, model_bytes: bytes, array: str
) -> None:
    """One source of truth: the reference and C read the stored integers, ONNX and TFLite derive
    theirs from the scales. A file where the two disagree would make backends silently differ."""
    _expect_error(tmp_path, _rewrite(model_bytes, _halve(array)), "disagrees with its scales")


def test_cell_rescale_that_disagrees_with_its_scales_is_refused() -> None:
    model = random_model(CONFIGS[0], seed=1)
    gru = model.layers[0].directions[0].quant
    wrong = Rescale(gru.to_hidden.multiplier // 2, gru.to_hidden.shift)
    with pytest.raises(ModelFileError, match="to_hidden requantization .* disagrees with its scales"):
        dataclasses.replace(
            model.layers[0],
            directions=(
                dataclasses.replace(model.layers[0].directions[0], quant=dataclasses.replace(gru, to_hidden=wrong)),
            ),
        )


def test_scales_whose_multiplier_does_not_fit_q31_are_refused() -> None:
    model = random_model(CONFIGS[0], seed=1)
    head = model.head
    assert head is not None
    huge = np.full_like(head.fc.weight_scale, 1e30)
    with pytest.raises(EdgeRNNError, match="too large for a Q31 multiplier"):
        dataclasses.replace(model, head=dataclasses.replace(head, fc=dataclasses.replace(head.fc, weight_scale=huge)))


def test_schema_1_gru_is_refused_with_a_reason(tmp_path: Path, model_bytes: bytes) -> None:
    """Schema-1 GRUs ran an 8-bit hidden state; the arithmetic differs, so they are re-quantized."""
    _expect_error(tmp_path, _edit_header(model_bytes, lambda h: h.update(schema_version=1)), "8-bit hidden state")


def test_schema_1_lstm_still_loads(tmp_path: Path) -> None:
    model = random_model(CONFIGS[1], seed=2)
    data = _edit_header(ir.to_bytes(model), lambda h: h.update(schema_version=1))
    p = tmp_path / "old.ernn"
    p.write_bytes(data)
    assert ir.load(p).sha256 == model.sha256
