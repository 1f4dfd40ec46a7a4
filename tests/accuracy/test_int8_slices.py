"""int8 (integer reference) against float on slices of real data, by task metric.

Fast slices for CI; the full runs are benchmarks/accuracy.py (results in benchmarks/results/accuracy.md).
Tolerances are in the task metric, never on integer outputs: the goal is 0.5 points, the tests allow
1 point so that a slice of a few hundred sequences (one sequence = 0.2-0.3 points) is not flaky.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgernn.data import SequenceData, split
from edgernn.datasets import load_dataset
from edgernn.evaluation import evaluate
from edgernn.models import Checkpoint, TrainConfig, load_checkpoint, train
from edgernn.pipeline import config_for_data
from edgernn.quant.from_torch import quantize

FORDA_GRU = Path(__file__).parent / "fixtures" / "forda_gru64.safetensors"


def _slice(data: SequenceData, n: int) -> SequenceData:
    return data.subset(np.sort(np.random.default_rng(0).choice(len(data), min(n, len(data)), replace=False)))


def _float_and_int8(model, test: SequenceData) -> tuple[float, float]:  # noqa: ANN001
    return evaluate(model, test, backend="float").value, evaluate(model, test, backend="reference").value


@pytest.fixture(scope="module")
def ecg5000() -> tuple[SequenceData, SequenceData, SequenceData]:
    train_data, val_data, test_data = split(load_dataset("ecg5000"), seed=0)
    return _slice(train_data, 300), val_data, _slice(test_data, 300)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_ecg5000_int8_within_one_point(ecg5000, cell: str) -> None:  # noqa: ANN001
    """140-step heartbeats, the UCR archive's own test file (a 300-sequence slice)."""
    train_data, val_data, test_data = ecg5000
    config = config_for_data(train_data, cell=cell, hidden_size=16)
    tc = TrainConfig(epochs=3, learning_rate=1e-2, patience=None)
    result = train(train_data, config, tc, validation=val_data, progress=False)
    model = quantize(Checkpoint(result.model, result.normalization, result.class_names, "ecg5000"), train_data)
    float_acc, int8_acc = _float_and_int8(model, test_data)
    assert float_acc >= 0.85, f"the float {cell} did not learn ECG5000 ({float_acc:.3f})"
    assert abs(int8_acc - float_acc) <= 0.01, f"{cell}: float {float_acc:.4f} vs int8 {int8_acc:.4f}"


def test_forda_gru64_int8_within_one_point_on_500_steps() -> None:
    """The long-sequence goal: a trained GRU-64 on FordA's 500-step sequences keeps its accuracy in int8.

    The float checkpoint is trained once (tests/accuracy/fixtures/make_forda_gru.py): training it
    takes too long for CI. Calibration on the training split, scored on a 300-sequence slice of
    the UCR test file.
    """
    ckpt = load_checkpoint(FORDA_GRU)
    train_data, _val, test_data = split(load_dataset("forda"), seed=0)
    model = quantize(ckpt, _slice(train_data, 400))
    float_acc, int8_acc = _float_and_int8(model, _slice(test_data, 300))
    assert float_acc >= 0.65, f"the FordA fixture no longer beats chance ({float_acc:.3f})"
    assert abs(int8_acc - float_acc) <= 0.01, f"float {float_acc:.4f} vs int8 {int8_acc:.4f}"
