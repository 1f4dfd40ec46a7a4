"""The CLI end to end with click's CliRunner: happy paths, JSON output, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from edgernn import ir
from edgernn.cli import cli
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result: Result, *fragments: str) -> None:
    """Non-zero exit, one 'Error:' line naming the cause, no traceback."""
    assert result.exit_code != 0
    text = result.output
    assert "Traceback" not in text
    error_lines = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, text
    for fragment in fragments:
        assert fragment in error_lines[0], text


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A learnable 3-class toy problem: the class sets the sign pattern of the mean input."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 12, size=90)
    y = np.arange(90) % 3
    x = np.concatenate([rng.normal(size=(n, 4)) + (c - 1) * 1.5 for n, c in zip(lengths, y)]).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "toy.npz"
    np.savez(path, X=x, lengths=lengths, y=y, class_names=np.array(["low", "mid", "high"]))
    return path


@pytest.fixture(scope="module")
def trained(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("model")
    ckpt, model = out / "toy.safetensors", out / "toy.ernn"
    r = invoke("train", "--data", small_data, "--epochs", 20, "--lr", 0.02, "--hidden", 8, "--no-progress", "-o", ckpt)
    assert r.exit_code == 0, r.output
    assert "validation accuracy" in r.output and ckpt.is_file()
    r = invoke("quantize", ckpt, "--data", small_data, "-o", model, "--json")
    assert r.exit_code == 0, r.output
    return ckpt, model


def test_help_is_fast_and_lists_commands() -> None:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "edgernn.cli", "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    for command in ("train", "quantize", "export", "run", "inspect", "demo"):
        assert command in out.stdout
    # Behaviour, not a benchmark: --help must not import torch or numpy.
    code = "import sys, edgernn.cli; print('torch' in sys.modules, 'numpy' in sys.modules)"
    mods = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert mods.stdout.split() == ["False", "False"]
    assert elapsed < 10  # generous: only catches an accidental heavy import chain


def test_quantize_json(trained: tuple[Path, Path], small_data: Path, tmp_path: Path) -> None:
    ckpt, _ = trained
    r = invoke("quantize", ckpt, "--data", small_data, "-o", tmp_path / "m.ernn", "--json")
    report = json.loads(r.output)
    assert report["metric"] == "accuracy"
    assert 0.0 <= report["int8_metric"] <= 1.0 and 0.0 <= report["float_metric"] <= 1.0
    assert report["float_metric"] > 0.6  # the toy problem is easy
    assert report["sha256"] == ir.load(tmp_path / "m.ernn").sha256


def test_inspect_model_and_checkpoint(trained: tuple[Path, Path]) -> None:
    ckpt, model = trained
    d = json.loads(invoke("inspect", model, "--json").output)
    assert d["params"] == 3 * 8 * (4 + 8) + 2 * 3 * 8 + 3 * (8 + 1)
    assert d["macs_per_step"] == 3 * 8 * (4 + 8) + 3 * 8
    assert d["weight_bytes"] == ir.load(model).weight_bytes
    assert [layer["name"] for layer in d["layers"]] == ["rnn0", "head"]
    assert d["layers"][0]["quantization"]["hidden"]["scale"] > 0
    c = json.loads(invoke("inspect", ckpt, "--json").output)
    assert c["params"] == d["params"] and c["macs_per_step"] == d["macs_per_step"]
    text = invoke("inspect", model).output
    assert "MACs/step" in text and "rnn0" in text and "sha256" in text


def test_run_npz_and_csv(trained: tuple[Path, Path], small_data: Path, tmp_path: Path) -> None:
    _, model = trained
    r = invoke("run", model, small_data)
    lines = r.output.strip().splitlines()
    assert len(lines) == 90 and all("-> class" in line for line in lines)
    out = tmp_path / "out.npz"
    invoke("run", model, small_data, "-o", out, "--backend", "float")
    with np.load(out) as saved:
        assert saved["outputs"].shape[1] == 3 and saved["lengths"].sum() == saved["outputs"].shape[0]
    csv_in = tmp_path / "seq.csv"
    csv_in.write_text("f0,f1,f2,f3\n" + "\n".join("0.5,1.0,-0.5,2.0" for _ in range(6)) + "\n")
    csv_out = tmp_path / "out.csv"
    invoke("run", model, csv_in, "-o", csv_out)
    rows = csv_out.read_text().strip().splitlines()
    assert rows[0] == "sequence,step,y0,y1,y2" and len(rows) == 7


def test_bad_model_files(tmp_path: Path, small_data: Path) -> None:
    garbage = tmp_path / "garbage.ernn"
    garbage.write_bytes(b"\x00" * 100)
    assert_user_error(invoke("inspect", garbage), "garbage.ernn")
    assert_user_error(invoke("run", garbage, small_data), "not an edgernn model")
    good = ir.to_bytes(random_model(ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=3, output_size=3)))
    truncated = tmp_path / "truncated.ernn"
    truncated.write_bytes(good[:-200])
    assert_user_error(invoke("run", truncated, small_data), "truncated")
    assert_user_error(invoke("inspect", tmp_path / "missing.ernn"), "does not exist")
    bad_ckpt = tmp_path / "bad.safetensors"
    bad_ckpt.write_bytes(b"{not a checkpoint")
    assert_user_error(invoke("quantize", bad_ckpt, "--data", small_data, "-o", tmp_path / "x.ernn"), "bad.safetensors")
    assert not (tmp_path / "x.ernn").exists()


def test_wrong_input_width_and_nan(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, model = trained
    wide = tmp_path / "wide.npz"
    np.savez(wide, X=np.zeros((5, 7), np.float32), lengths=np.array([5]))
    assert_user_error(invoke("run", model, wide), "shape (5, 7)", "(T, 4)")
    nan = tmp_path / "nan.csv"
    nan.write_text("1,2,3,4\n1,nan,3,4\n")
    assert_user_error(invoke("run", model, nan), "NaN")
    text = tmp_path / "words.csv"
    text.write_text("a,b\nc,d\n")
    assert_user_error(invoke("run", model, text), "row 1")


def test_bad_training_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty.npz"
    np.savez(empty, X=np.zeros((0, 3), np.float32), lengths=np.zeros(0, np.int64), y=np.zeros(0, np.int64))
    assert_user_error(invoke("train", "--data", empty, "-o", tmp_path / "m.safetensors"), "lengths")
    nan = tmp_path / "nan.npz"
    x = np.ones((6, 2), np.float32)
    x[2, 1] = np.nan
    np.savez(nan, X=x, lengths=np.array([3, 3]), y=np.array([0, 1]))
    assert_user_error(invoke("train", "--data", nan, "-o", tmp_path / "m.safetensors"), "NaN")
    obj = tmp_path / "obj.npz"
    np.savez(obj, X=np.array([np.zeros(2), np.zeros(3)], dtype=object), y=np.array([0, 1]))
    assert_user_error(invoke("train", "--data", obj, "-o", tmp_path / "m.safetensors"), "object array")
    assert not (tmp_path / "m.safetensors").exists()


def test_unknown_dataset_and_backend(trained: tuple[Path, Path], small_data: Path, tmp_path: Path) -> None:
    assert_user_error(invoke("train", "--dataset", "imagenet", "-o", tmp_path / "m.safetensors"), "imagenet")
    assert_user_error(invoke("run", trained[1], small_data, "--backend", "gpu"), "unknown backend 'gpu'")


def test_quantize_with_nan_calibration_data(trained: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    x = np.zeros((60, 4), np.float32)
    x[7, 2] = np.inf
    np.savez(bad, X=x, lengths=np.full(10, 6), y=np.arange(10) % 3)
    out = tmp_path / "q.ernn"
    assert_user_error(invoke("quantize", trained[0], "--data", bad, "-o", out), "NaN or Inf")
    assert not out.exists()


def test_quantize_input_bits(trained: tuple[Path, Path], small_data: Path, tmp_path: Path) -> None:
    """--input-bits chooses the model's input width (a classifier defaults to 8, docs/input_bits.md)."""
    ckpt, model = trained
    assert ir.load(model).input_bits == 8
    for bits in (16, 8):
        r = invoke("quantize", ckpt, "--data", small_data, "--input-bits", bits, "-o", tmp_path / f"m{bits}.ernn")
        assert r.exit_code == 0, r.output
        assert ir.load(tmp_path / f"m{bits}.ernn").input_bits == bits
    assert invoke("quantize", ckpt, "--data", small_data, "--input-bits", 12, "-o", tmp_path / "x.ernn").exit_code != 0


def test_tflite_export_of_an_int16_input_lstm_names_the_fix(tmp_path: Path) -> None:
    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=8, output_size=1, task="regression")
    model = tmp_path / "lstm.ernn"
    ir.save(random_model(config, seed=1), model)
    r = invoke("export", model, "--format", "tflite", "-o", tmp_path / "out")
    assert_user_error(r, "fused LSTM takes int8 input only", "--input-bits 8")
    assert not (tmp_path / "out").exists()
