"""Task metrics of a quantized model on held-out data, for any backend (no torch)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgernn import ir
from edgernn.data import SequenceData
from edgernn.errors import InputDataError, MissingDependencyError
from edgernn.ir import QuantizedRNN
from edgernn.metrics import Metric, task_metric
from edgernn.runtime import predict
from edgernn.types import OutputMode


def evaluate(model: QuantizedRNN | str | os.PathLike[str], data: SequenceData, backend: str = "reference") -> Metric:
    """The task metric (accuracy or MAE) of ``model`` run by ``backend`` on ``data``."""
    m = model if isinstance(model, QuantizedRNN) else ir.load(model)
    _check_kind(m, data)
    return _metric(m, data, predict(m, data.sequences, backend=backend))


#: The backends ``edgernn evaluate`` compares: the float model of the ``.ernn`` and every int8 one.
#: LiteRT ("tflite") runs its own optimized kernels and is documented as within 1 LSB, not exact;
#: TFLite Micro ("tflm") runs the same file bit-exactly.
EVALUATE_BACKENDS = ("float", "reference", "c", "onnx", "tflite", "tflm")


@dataclass(frozen=True)
class BackendResult:
    """One backend's task metric on a dataset, and whether its int8 outputs are the reference's."""

    backend: str
    metric: Metric | None  # None: the backend is unavailable
    integer: bool = True
    # int8 backends: every output of every step of every sequence bit-equal to the reference's.
    equal_to_reference: bool | None = None
    max_lsb: int | None = None  # int8 backends: the largest difference from the reference, in LSB
    unavailable: str | None = None  # why, naming what to install

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "metric": None if self.metric is None else self.metric.name,
            "value": None if self.metric is None else self.metric.value,
            "integer": self.integer,
            "equal_to_reference": self.equal_to_reference,
            "max_lsb": self.max_lsb,
            "unavailable": self.unavailable,
        }


def compare_backends(
    model: QuantizedRNN, data: SequenceData, backends: Sequence[str] = EVALUATE_BACKENDS
) -> list[BackendResult]:
    """The task metric of ``model`` on ``data`` per backend, and for each integer backend whether its
    raw int8 outputs equal the integer reference's exactly (``np.array_equal`` per sequence).

    A backend that cannot be created here (a missing package or compiler) is reported with the
    reason instead of failing the others. Outputs are whole-sequence, each from a zero state, as
    the model's OutputMode defines them (per step for SEQUENCE models).
    """
    from edgernn.runtime.backends import create_backend
    from edgernn.runtime.stream import InputAdapter

    _check_kind(model, data)
    results: dict[str, BackendResult] = {}
    reference: list[np.ndarray] = []
    for name in dict.fromkeys(["reference", *backends]):  # the reference first: the others compare to it
        try:
            backend = create_backend(name, model)
        except MissingDependencyError as exc:
            results[name] = BackendResult(name, None, unavailable=str(exc))
            continue
        adapter = InputAdapter(model, backend.integer)
        raw = backend.sequence_outputs([adapter.user_input(s, time_axis=True) for s in data.sequences])
        if name == "reference":
            reference = raw
        equal, lsb = None, None
        if backend.integer:
            lsb = max(int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max()) for a, b in zip(raw, reference))
            equal = len(raw) == len(reference) and all(np.array_equal(a, b) for a, b in zip(raw, reference))
        outputs = [adapter.output(y) for y in raw]
        results[name] = BackendResult(name, _metric(model, data, outputs), backend.integer, equal, lsb)
    return [results[name] for name in backends]


def _check_kind(m: QuantizedRNN, data: SequenceData) -> None:
    per_step = m.config.output_mode is OutputMode.SEQUENCE
    if per_step != data.per_step or m.config.task != data.task:
        raise InputDataError(
            f"the data is {data.task.value} with {'per-step' if data.per_step else 'per-sequence'} targets, "
            f"the model is {m.config.task.value} with {'per-step' if per_step else 'per-sequence'} outputs",
            "evaluate with data of the kind the model was trained on",
        )


def _metric(m: QuantizedRNN, data: SequenceData, outputs: list[np.ndarray]) -> Metric:
    if m.config.output_mode is OutputMode.SEQUENCE:
        return task_metric(data.task, outputs, list(data.targets))  # type: ignore[arg-type]
    return task_metric(data.task, np.stack(outputs), data.targets)  # type: ignore[arg-type]
