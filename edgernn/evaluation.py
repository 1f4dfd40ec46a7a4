"""Task metrics of a quantized model on held-out data, for any backend (no torch)."""

from __future__ import annotations

import os

import numpy as np

from edgernn import ir
from edgernn.data import SequenceData
from edgernn.errors import InputDataError
from edgernn.ir import QuantizedRNN
from edgernn.metrics import Metric, task_metric
from edgernn.runtime import predict
from edgernn.types import OutputMode


def evaluate(model: QuantizedRNN | str | os.PathLike[str], data: SequenceData, backend: str = "reference") -> Metric:
    """The task metric (accuracy or MAE) of ``model`` run by ``backend`` on ``data``."""
    m = model if isinstance(model, QuantizedRNN) else ir.load(model)
    per_step = m.config.output_mode is OutputMode.SEQUENCE
    if per_step != data.per_step or m.config.task != data.task:
        raise InputDataError(
            f"the data is {data.task.value} with {'per-step' if data.per_step else 'per-sequence'} targets, "
            f"the model is {m.config.task.value} with {'per-step' if per_step else 'per-sequence'} outputs",
            "evaluate with data of the kind the model was trained on",
        )
    outputs = predict(m, data.sequences, backend=backend)
    if per_step:
        return task_metric(data.task, outputs, list(data.targets))  # type: ignore[arg-type]
    return task_metric(data.task, np.stack(outputs), data.targets)  # type: ignore[arg-type]
