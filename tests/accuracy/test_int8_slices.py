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

GRU32 = Path(__file__).parent / "fixtures" / "electricdevices-gru32.safetensors"


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


def test_electricdevices_gru32_int8_within_half_a_point() -> None:
    """The GRU goal: a trained GRU-32 keeps its float accuracy in int8 over ElectricDevices' 96 steps.

    The GRU's state decides it: with an 8-bit state, a step's change below half an int8 step rounds
    away when the update gate is near 1, as it is in a trained model. The checkpoint is the
    benchmark's float GRU-32 (training it takes minutes), saved with
    ``python benchmarks/accuracy.py --datasets electricdevices --cells gru --hidden 32
    --save-checkpoints tests/accuracy/fixtures``. FordA's 500 steps would be the harder case, but
    no GRU trained in the budget beat chance on FordA (see docs/accuracy.md), so that comparison
    says nothing. Calibration on the training split; scored on 500 sequences of the test file.
    """
    ckpt = load_checkpoint(GRU32)
    train_data, _val, test_data = split(load_dataset("electricdevices"), seed=0)
    model = quantize(ckpt, _slice(train_data, 1000))
    float_acc, int8_acc = _float_and_int8(model, _slice(test_data, 500))
    assert float_acc >= 0.5, f"the fixture does not beat the 7-class chance level by much ({float_acc:.3f})"
    # The goal, 0.5 points (2.5 sequences of 500). Measured with the 16-bit state: float 57.6%,
    # int8 57.6%; with the 8-bit state int8 was 56.2%, and this assertion failed.
    assert abs(int8_acc - float_acc) <= 0.005, f"float {float_acc:.4f} vs int8 {int8_acc:.4f}"
