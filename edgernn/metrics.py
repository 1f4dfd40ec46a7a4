"""Task metrics (numpy only): one number per model and dataset, comparable across backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgernn.errors import InputDataError
from edgernn.types import Task

__all__ = ["Metric", "task_metric", "INT8_LOSS_POINTS", "INT8_LOSS_PERCENT", "int8_loss_exceeds"]

# How much int8 may lose against float before edgernn calls it worse (``quantize`` warns, ``train
# --qat auto`` fine-tunes): percentage points of accuracy, or percent of the float model's error.
INT8_LOSS_POINTS = 0.5
INT8_LOSS_PERCENT = 2.0


def int8_loss_exceeds(metric_name: str, float_value: float, int8_value: float) -> bool:
    """Whether int8 is worse than float by more than :data:`INT8_LOSS_POINTS` (accuracy, a
    fraction) or :data:`INT8_LOSS_PERCENT` (an error metric, relative to float's)."""
    # Accuracies are ratios of counts: 457/600 - 454/600 is 0.5000000000000004 points in binary
    # floating point, so a loss of exactly the threshold needs a tolerance to count as "within" it.
    if metric_name in _PERCENT_METRICS:
        return 100.0 * (float_value - int8_value) > INT8_LOSS_POINTS + _THRESHOLD_TOLERANCE
    return 100.0 * (int8_value - float_value) > INT8_LOSS_PERCENT * abs(float_value) + _THRESHOLD_TOLERANCE


_THRESHOLD_TOLERANCE = 1e-9  # far below one sequence in any test split, far above float rounding


ArrayOrArrays = np.ndarray | Sequence[np.ndarray]

_PERCENT_METRICS = frozenset({"accuracy"})  # fractions in [0, 1], printed as percentages


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    higher_is_better: bool

    def __str__(self) -> str:
        if self.name in _PERCENT_METRICS:
            return f"{self.name} {100.0 * self.value:.2f}%"
        return f"{self.name} {self.value:.4g}"

    def better_than(self, other: Metric | None) -> bool:
        """Strictly better than ``other`` (anything beats None); ties are not improvements."""
        if other is None:
            return True
        if other.name != self.name:
            raise ValueError(f"cannot compare {self.name} with {other.name}")
        return self.value > other.value if self.higher_is_better else self.value < other.value


def task_metric(task: Task, outputs: ArrayOrArrays, targets: ArrayOrArrays) -> Metric:
    """Accuracy (argmax over the last axis vs integer labels) or mean absolute error.

    ``outputs``/``targets`` are arrays with a row per sequence, or - for per-step data - one array
    per sequence (``(T_i, C)`` outputs, ``(T_i,)`` labels), which are scored over all steps.
    """
    out = _concat(outputs, "outputs")
    tgt = _concat(targets, "targets")
    if out.shape[0] != tgt.shape[0] or out.shape[0] == 0:
        raise InputDataError(f"{out.shape[0]} outputs for {tgt.shape[0]} targets; need equal, non-zero counts")
    if Task(task) is Task.CLASSIFICATION:
        if tgt.ndim != 1 or out.ndim != 2:
            raise InputDataError(f"accuracy needs (N, C) outputs and (N,) labels, got {out.shape} and {tgt.shape}")
        correct = np.argmax(out, axis=-1) == tgt
        return Metric("accuracy", float(correct.mean()), higher_is_better=True)
    if out.size != tgt.size:
        raise InputDataError(f"regression outputs {out.shape} and targets {tgt.shape} differ in size")
    # (N,) targets against (N, 1) outputs is the common single-value case: compare element-wise.
    err = np.abs(out.astype(np.float64).reshape(tgt.shape) - tgt.astype(np.float64))
    return Metric("MAE", float(err.mean()), higher_is_better=False)


def _concat(a: ArrayOrArrays, what: str) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    parts = [np.asarray(x) for x in a]
    if not parts:
        raise InputDataError(f"no {what} to score")
    return np.concatenate(parts)
