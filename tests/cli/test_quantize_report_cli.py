"""``edgernn quantize`` prints float vs int8 with the split size and warns when int8 is worse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgernn.metrics import Metric
from tests.cli.test_cli import invoke


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """90 sequences (a 9-sequence test split) of an easy 3-class problem, and a checkpoint."""
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 12, size=90)
    y = np.arange(90) % 3
    x = np.concatenate([rng.normal(size=(n, 4)) + (c - 1) * 1.5 for n, c in zip(lengths, y)]).astype(np.float32)
    folder = tmp_path_factory.mktemp("toy")
    data, ckpt = folder / "toy.npz", folder / "toy.safetensors"
    np.savez(data, X=x, lengths=lengths, y=y)
    r = invoke("train", "--data", data, "--epochs", 5, "--lr", 0.02, "--hidden", 8, "--no-progress", "-o", ckpt)
    assert r.exit_code == 0, r.output
    return data, ckpt


def test_text_names_the_split_size_and_calls_a_tiny_split_tiny(toy: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = toy
    r = invoke("quantize", ckpt, "--data", data, "-o", tmp_path / "m.ernn")
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("accuracy on the test split (N=9 sequences): float ") and "points)" in first
    assert "warning: small test split (N=9 sequences: one sequence is 11.1 points)" in r.output
    assert r.output.rstrip().endswith(f"wrote {tmp_path / 'm.ernn'}")


def test_json_reports_delta_threshold_and_split(toy: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = toy
    r = invoke("quantize", ckpt, "--data", data, "-o", tmp_path / "m.ernn", "--json")
    d = json.loads(r.output)
    assert d["split_sequences"] == 9 and d["split_steps"] is None and d["threshold"] == 0.5
    assert d["delta"] == pytest.approx(100 * (d["int8_metric"] - d["float_metric"]))
    assert d["delta_unit"] == "points" and d["one_sequence_points"] == pytest.approx(100 / 9)
    assert "N=9 sequences" in d["small_split"]


def test_int8_loss_over_the_threshold_warns(
    toy: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Make the int8 evaluation 2 of 9 sequences worse than float: the warning is printed and in --json."""
    import edgernn.quant.from_torch as from_torch

    real = from_torch.evaluate

    def worse_int8(model, data, backend="reference"):  # noqa: ANN001, ANN202
        m = real(model, data, backend="float")
        return Metric(m.name, m.value - (2 / 9 if backend == "reference" else 0.0), m.higher_is_better)

    monkeypatch.setattr(from_torch, "evaluate", worse_int8)
    data, ckpt = toy
    r = invoke("quantize", ckpt, "--data", data, "-o", tmp_path / "m.ernn")
    assert r.exit_code == 0, r.output
    assert "(-22.22 points)" in r.output
    assert "warning: int8 loses 22.22 points of accuracy against float (more than 0.5)" in r.output
    assert "--observer percentile" in r.output and "edgernn train --qat" in r.output
    d = json.loads(invoke("quantize", ckpt, "--data", data, "-o", tmp_path / "m2.ernn", "--json").output)
    assert d["loss"] == pytest.approx(22.22, abs=0.01) and "edgernn train --qat" in d["warning"]
