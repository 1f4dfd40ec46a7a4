"""quantize's float-vs-int8 report: deltas, thresholds, warnings and small-split notes."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.data import SequenceData
from edgernn.pipeline import QuantizeReport, quantize_report
from edgernn.types import Task


def _classification(n: int, per_step_lengths: list[int] | None = None) -> SequenceData:
    if per_step_lengths is None:
        seqs = tuple(np.zeros((5, 2), np.float32) for _ in range(n))
        return SequenceData(seqs, np.arange(n) % 2, Task.CLASSIFICATION, False, "toy")
    seqs = tuple(np.zeros((t, 2), np.float32) for t in per_step_lengths)
    return SequenceData(seqs, tuple(np.zeros(t, np.int64) for t in per_step_lengths), Task.CLASSIFICATION, True, "t")


def _regression(n: int, steps: int = 10) -> SequenceData:
    seqs = tuple(np.zeros((steps, 2), np.float32) for _ in range(n))
    return SequenceData(seqs, tuple(np.zeros(steps, np.float32) for _ in range(n)), Task.REGRESSION, True, "r")


def test_small_loss_on_a_large_split_is_quiet() -> None:
    r = quantize_report("accuracy", 0.9700, 0.9667, _classification(300))
    assert r.delta == pytest.approx(-0.33) and r.loss == pytest.approx(0.33) and r.unit == "points"
    assert r.threshold == 0.5 and r.warning is None and r.small_split is None
    assert r.text() == "accuracy on the test split (N=300 sequences): float 97.00%, int8 96.67% (-0.33 points)"


def test_accuracy_loss_over_half_a_point_warns_with_what_to_try() -> None:
    r = quantize_report("accuracy", 0.90, 0.88, _classification(1000))
    assert r.loss == pytest.approx(2.0)
    assert r.warning is not None
    for hint in ("2.00 points", "more than 0.5", "--observer percentile", "--calibration-size", "edgernn train --qat"):
        assert hint in r.warning
    assert "warning: int8 loses 2.00 points" in r.text()


def test_int8_better_than_float_is_no_loss() -> None:
    r = quantize_report("accuracy", 0.80, 0.85, _classification(1000))
    assert r.delta == pytest.approx(5.0) and r.loss == pytest.approx(-5.0) and r.warning is None


def test_tiny_split_says_what_one_sequence_weighs() -> None:
    r = quantize_report("accuracy", 0.5909, 0.0909, _classification(11))
    assert r.small_split is not None and "N=11 sequences: one sequence is 9.1 points" in r.small_split
    assert r.warning is not None  # a 50-point loss is still reported, beside the caveat
    assert r.text().count("warning:") == 2


def test_split_where_one_sequence_outweighs_the_threshold_is_small() -> None:
    # 150 sequences: each is 0.67 points, more than the 0.5-point threshold.
    assert quantize_report("accuracy", 0.9, 0.9, _classification(150)).small_split is not None
    assert quantize_report("accuracy", 0.9, 0.9, _classification(250)).small_split is None


def test_per_step_split_weighs_a_sequence_by_its_steps() -> None:
    r = quantize_report("accuracy", 0.9, 0.9, _classification(0, [100] * 199 + [300]))
    assert r.steps == 20200 and r.one_sequence == pytest.approx(100 * 300 / 20200)
    assert r.small_split is not None and "up to 1.5 points" in r.small_split
    assert "N=200 sequences, 20200 steps" in r.text()


def test_regression_uses_a_relative_threshold() -> None:
    quiet = quantize_report("MAE", 0.100, 0.101, _regression(200))
    assert quiet.unit == "percent" and quiet.delta == pytest.approx(1.0) and quiet.warning is None
    loud = quantize_report("MAE", 0.100, 0.103, _regression(200))
    assert loud.loss == pytest.approx(3.0) and loud.threshold == 2.0
    assert loud.warning is not None and "3.00% higher" in loud.warning and "--qat" in loud.warning
    assert "(+3.00% relative)" in loud.text()
    better = quantize_report("MAE", 0.100, 0.090, _regression(200))
    assert better.loss == pytest.approx(-10.0) and better.warning is None


def test_small_regression_split_names_its_steps() -> None:
    r = quantize_report("MAE", 0.1, 0.1, _regression(4, steps=1008))
    assert r.small_split is not None and "N=4 sequences (4032 steps)" in r.small_split


def test_json_fields() -> None:
    r: QuantizeReport = quantize_report("accuracy", 0.5909, 0.0909, _classification(11))
    d = r.to_json()
    assert d["split_sequences"] == 11 and d["split_steps"] is None
    assert d["delta"] == pytest.approx(-50.0) and d["loss"] == pytest.approx(50.0)
    assert d["threshold"] == 0.5 and d["delta_unit"] == "points"
    assert d["one_sequence_points"] == pytest.approx(100 / 11)
    assert d["warning"] == r.warning and d["small_split"] == r.small_split
