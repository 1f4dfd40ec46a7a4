"""Range observers for post-training calibration."""

from __future__ import annotations

import abc

import numpy as np
import numpy.typing as npt

from edgernn.errors import QuantizationError


class Observer(abc.ABC):
    """Watches the values of one tensor during calibration and proposes a range."""

    @abc.abstractmethod
    def update(self, values: npt.ArrayLike) -> None: ...

    @abc.abstractmethod
    def range(self) -> tuple[float, float]:
        """``(low, high)`` of the observed values."""

    def abs_max(self) -> float:
        lo, hi = self.range()
        return max(abs(lo), abs(hi))


class MinMaxObserver(Observer):
    """The exact minimum and maximum seen."""

    def __init__(self) -> None:
        self.low = np.inf
        self.high = -np.inf

    def update(self, values: npt.ArrayLike) -> None:
        v = np.asarray(values)
        if v.size:
            self.low = min(self.low, float(v.min()))
            self.high = max(self.high, float(v.max()))

    def range(self) -> tuple[float, float]:
        if self.low > self.high:
            raise QuantizationError("calibration observed no values", "pass a non-empty calibration set")
        return self.low, self.high


class PercentileObserver(Observer):
    """The ``percentile``-th and ``(100 - percentile)``-th percentiles: ignores rare outliers.

    Keeps at most ``max_samples`` values (a uniform subsample beyond that, seeded).
    """

    def __init__(self, percentile: float = 99.99, max_samples: int = 1 << 21, seed: int = 0) -> None:
        if not 50.0 < percentile <= 100.0:
            raise QuantizationError(f"percentile {percentile} is out of range", "use a value in (50, 100]")
        self.percentile = percentile
        self.max_samples = max_samples
        self._chunks: list[np.ndarray] = []
        self._count = 0
        self._rng = np.random.default_rng(seed)

    def update(self, values: npt.ArrayLike) -> None:
        v = np.asarray(values, dtype=np.float32).ravel()
        self._chunks.append(v.copy())
        self._count += v.size
        if self._count > 2 * self.max_samples:
            merged = np.concatenate(self._chunks)
            self._chunks = [self._rng.choice(merged, self.max_samples, replace=False)]
            self._count = self.max_samples

    def range(self) -> tuple[float, float]:
        if not self._count:
            raise QuantizationError("calibration observed no values", "pass a non-empty calibration set")
        merged = np.concatenate(self._chunks)
        lo, hi = np.percentile(merged, [100.0 - self.percentile, self.percentile])
        return float(lo), float(hi)


def make_observer(kind: str, percentile: float = 99.99) -> Observer:
    if kind == "minmax":
        return MinMaxObserver()
    if kind == "percentile":
        return PercentileObserver(percentile)
    raise QuantizationError(f"unknown observer {kind!r}", "use 'minmax' or 'percentile'")
