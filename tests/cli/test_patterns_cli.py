"""``train``'s split and pattern options, ``quantize`` finding the checkpoint's data, ``evaluate``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgernn.models import load_checkpoint
from tests.cli.test_cli import assert_user_error, invoke

NAMES = np.array(["cat", "dog", "emu"])


def _classes(path: Path, n: int, seed: int, labels: np.ndarray | None = None) -> Path:
    """String labels; the class shifts the first feature."""
    rng = np.random.default_rng(seed)
    y = NAMES[np.arange(n) % 3] if labels is None else labels
    lengths = rng.integers(4, 9, size=n)
    shift = {"cat": -2.0, "dog": 0.0, "emu": 2.0, "yak": 4.0}
    x = np.concatenate([rng.normal(size=(t, 2)) + [shift[c], 0] for t, c in zip(lengths, y)]).astype(np.float32)
    np.savez(path, X=x, lengths=lengths, y=y)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("patterns")
    data = _classes(folder / "train.npz", 60, 0)
    test = _classes(folder / "test.npz", 12, 1, labels=np.array(["emu", "dog"] * 6))  # no "cat": ids must align
    ckpt = folder / "m.safetensors"
    r = invoke(
        "train", "--data", data, "--test-data", test, "--validation-fraction", 0.25, "--dropout", 0.1,
        "--hidden", 6, "--epochs", 8, "--lr", 0.03, "--no-progress", "-o", ckpt,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "test accuracy" in r.output
    return {"folder": folder, "data": data, "test": test, "ckpt": ckpt}


def test_checkpoint_records_the_data_and_options(trained: dict[str, Path]) -> None:
    ckpt = load_checkpoint(trained["ckpt"])
    record = ckpt.training
    assert record is not None
    assert record["data"]["path"] == str(trained["data"].resolve())
    assert record["test_data"]["path"] == str(trained["test"].resolve())
    assert record["seed"] == 0 and record["validation_fraction"] == 0.25
    assert record["dropout"] == 0.1 and record["tbptt"] is None
    assert ckpt.class_names == ("cat", "dog", "emu")
    assert "test_accuracy" in ckpt.metrics


def test_quantize_finds_the_data_and_measures_the_test_file(trained: dict[str, Path], tmp_path: Path) -> None:
    r = invoke("quantize", trained["ckpt"], "-o", tmp_path / "m.ernn", "--json")  # no --data
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["split_sequences"] == 12  # the --test-data file, not a split of the training data
    ckpt = load_checkpoint(trained["ckpt"])
    assert report["float_metric"] == pytest.approx(ckpt.metrics["test_accuracy"], abs=1e-9)
    same = invoke("quantize", trained["ckpt"], "--data", trained["data"], "--seed", 0, "-o", tmp_path / "n.ernn")
    assert same.exit_code == 0, same.output


def test_quantize_refuses_other_data_or_seed(trained: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.ernn"
    other = _classes(tmp_path / "other.npz", 30, 5)
    assert_user_error(
        invoke("quantize", trained["ckpt"], "--data", other, "-o", out), "not the data the checkpoint was trained on"
    )
    assert_user_error(invoke("quantize", trained["ckpt"], "--seed", 3, "-o", out), "--seed 3 differs", "seed 0")
    assert_user_error(invoke("quantize", trained["ckpt"], "--dataset", "fsdd", "-o", out), "not the data")
    assert not out.exists()


def test_quantize_refuses_moved_or_changed_data(trained: dict[str, Path], tmp_path: Path) -> None:
    data = shutil.copy(trained["data"], tmp_path / "copy.npz")
    ckpt = tmp_path / "c.safetensors"
    r = invoke("train", "--data", data, "--hidden", 4, "--epochs", 1, "--no-progress", "-o", ckpt)
    assert r.exit_code == 0, r.output
    _classes(Path(data), 60, 9)  # overwritten with other values
    assert_user_error(invoke("quantize", ckpt, "-o", tmp_path / "m.ernn"), "changed since the checkpoint")
    Path(data).unlink()
    assert_user_error(invoke("quantize", ckpt, "-o", tmp_path / "m.ernn"), "no longer exists", "--data")


def test_evaluate_per_backend(trained: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "m.ernn"
    assert invoke("quantize", trained["ckpt"], "-o", model).exit_code == 0
    r = invoke("evaluate", model, trained["test"], "--checkpoint", trained["ckpt"], "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    by = {b["backend"]: b for b in report["backends"]}
    assert report["sequences"] == 12 and report["steps"] is None
    assert set(by) == {"float", "reference", "c", "onnx", "tflite", "tflm"}
    for exact in ("reference", "c", "onnx", "tflm"):
        assert by[exact]["equal_to_reference"] is True and by[exact]["max_lsb"] == 0
    assert by["float"]["equal_to_reference"] is None
    quantized = json.loads(invoke("quantize", trained["ckpt"], "-o", tmp_path / "n.ernn", "--json").output)
    assert by["reference"]["value"] == pytest.approx(quantized["int8_metric"], abs=1e-12)
    assert report["checkpoint_metric"]["value"] == pytest.approx(quantized["float_metric"], abs=1e-12)
    # Without DATA, the checkpoint's recorded test data; --backend picks backends.
    text = invoke("evaluate", model, "--checkpoint", trained["ckpt"], "--backend", "reference").output
    assert "test.npz" in text and "reference" in text and "onnx" not in text


def test_evaluate_bad_input(trained: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "m.ernn"
    assert invoke("quantize", trained["ckpt"], "-o", model).exit_code == 0
    assert_user_error(invoke("evaluate", model, "no-such-thing"), "neither a data file nor a built-in dataset")
    assert_user_error(invoke("evaluate", model), "no data to evaluate on")
    unknown = _classes(tmp_path / "u.npz", 6, 2, labels=np.array(["cat", "yak"] * 3))
    assert_user_error(invoke("evaluate", model, unknown), "class 'yak'")


def test_tbptt_stream_training_and_per_step_evaluation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6 * 120, 2)).astype(np.float32)
    y = np.concatenate([(np.cumsum(s[:, 0]) > 0).astype(np.int64) + 1 for s in np.split(x, 6)])  # labels 1, 2
    data = tmp_path / "stream.npz"
    np.savez(data, X=x, lengths=np.full(6, 120), y=y)
    ckpt, model = tmp_path / "s.safetensors", tmp_path / "s.ernn"
    r = invoke("train", "--data", data, "--tbptt", 30, "--hidden", 4, "--epochs", 2, "--no-progress", "-o", ckpt)
    assert r.exit_code == 0, r.output
    assert load_checkpoint(ckpt).training["tbptt"] == 30
    assert load_checkpoint(ckpt).class_names == ("1", "2")
    assert invoke("quantize", ckpt, "-o", model).exit_code == 0
    r = invoke("evaluate", model, data, "--backend", "reference", "--backend", "c")
    assert r.exit_code == 0, r.output
    assert "6 sequences, per step over 720 steps" in r.output


def test_tbptt_refused_for_per_sequence_targets(trained: dict[str, Path], tmp_path: Path) -> None:
    r = invoke("train", "--data", trained["data"], "--tbptt", 4, "--epochs", 1, "-o", tmp_path / "x.safetensors")
    assert_user_error(r, "per-step targets")
