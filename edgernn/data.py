"""Sequence datasets: the built-in ones, the user's ``.npz`` files, splits and normalization.

numpy only (no torch): the quantizer, the runtimes and the CLI read data through this module.

The ``.npz`` format read by :func:`load_npz`
---------------------------------------------

Write it with ``np.savez(path, X=..., y=..., lengths=..., class_names=...)``. It is loaded with
``allow_pickle=False``, so object arrays are refused; store numbers and ``str`` arrays only.

``X`` (required): the input sequences, in one of four layouts

* float features, variable length: ``X`` of shape ``(sum(lengths), F)`` holding the sequences one
  after another, and ``lengths`` ``(N,)`` integers giving each sequence's number of steps;
* float features, fixed length: ``X`` of shape ``(N, T, F)`` and no ``lengths``;
* token ids, variable length: integer ``X`` of shape ``(sum(lengths),)`` plus ``lengths``;
* token ids, fixed length: integer ``X`` of shape ``(N, T)`` and no ``lengths``.

An integer ``X`` is always read as token ids (``>= 0``); cast numeric sensor data to float32.

``y`` (required): the targets. Integer or string ``y`` means classification, float ``y`` regression.
Class labels are mapped to ids ``0..K-1``: strings in sorted order (or in ``class_names`` order
when given), integers other than exactly ``0..K-1`` (``1..K``, ``{-1, 1}``, any sparse set) in
sorted order; the original labels become the class names, stored with the model, and every other
file (validation, test, ``evaluate``) is mapped to the model's classes by those names.

* per sequence: ``(N,)`` integer class labels, or ``(N,)`` / ``(N, K)`` float values;
* per step: ``(sum(lengths),)`` integer labels or ``(sum(lengths),)`` / ``(sum(lengths), K)`` float
  values, concatenated like ``X`` (for a fixed-length ``X`` that is ``N * T`` rows).

``class_names`` (optional): a ``str`` array naming the classes of a classification ``y``.

``vocab`` (optional, token ids only): a ``str`` array giving the text of each token id (at least
one entry per id used); the model records it, so ``edgernn generate --prompt TEXT`` and every
export can map text to ids and back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgernn import archive
from edgernn.errors import InputDataError, ModelFileError
from edgernn.types import Task

__all__ = [
    "SequenceData",
    "Normalization",
    "load_dataset",
    "load_npz",
    "load_npz_inputs",
    "align_classes",
    "split",
    "pad_batch",
    "TRAIN",
    "VALIDATION",
    "TEST",
]

Targets = np.ndarray | tuple[np.ndarray, ...]

# Values of ``SequenceData.parts``: a dataset's own held-out split.
TRAIN, VALIDATION, TEST = 0, 1, 2
#: Largest token id + 1 and class count edgernn trains: an embedding or head of this size is far
#: beyond any microcontroller already, and larger ids (2**40 in a corrupt file) would make torch
#: allocate terabytes before failing.
MAX_VOCAB_SIZE = 1 << 20
MAX_CLASSES = 1 << 16
_MIN_EXPANDED_NPZ_BYTES = 64 << 20  # what a small .npz may unpack to regardless of its size


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no truth value, compare by identity
class SequenceData:
    """A set of input sequences with their targets, validated on construction.

    ``sequences`` holds ``(T_i, F)`` float32 features or ``(T_i,)`` int64 token ids.
    ``targets`` holds, per sequence, ``(N,)`` int64 labels or ``(N, K)``/``(N,)`` float32 values;
    or, when ``per_step``, a tuple with one ``(T_i,)`` int64 or ``(T_i, K)``/``(T_i,)`` float32
    array per sequence. Arrays of other numeric dtypes are converted to those.

    ``parts`` (optional) is a dataset's own split, one of ``TRAIN``/``VALIDATION``/``TEST`` per
    sequence (a UCR set's test file, WATCH's test subjects): :func:`split` keeps it. ``groups``
    (optional) names the source of each sequence (a subject, a play) so that tests can check
    that no source is on both sides of a split. ``vocab`` (optional, token sequences only) is the
    text of each token id.
    """

    sequences: tuple[np.ndarray, ...]
    targets: Targets
    task: Task
    per_step: bool
    name: str
    class_names: tuple[str, ...] | None = None
    parts: np.ndarray | None = None
    groups: np.ndarray | None = None
    vocab: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", Task(self.task))
        sequences = _check_sequences(self.sequences)
        object.__setattr__(self, "sequences", sequences)
        object.__setattr__(self, "targets", self._check_targets(sequences))
        for field in ("parts", "groups"):
            value = getattr(self, field)
            if value is None:
                continue
            value = np.asarray(value)
            if value.shape != (len(sequences),) or value.dtype.kind not in "iu":
                raise InputDataError(f"{field} must be one integer per sequence, got {value.dtype} {value.shape}")
            if field == "parts" and not np.isin(value, (TRAIN, VALIDATION, TEST)).all():
                raise InputDataError("parts must be TRAIN (0), VALIDATION (1) or TEST (2)")
            object.__setattr__(self, field, value.astype(np.int64))
        if self.class_names is not None:
            names = tuple(str(n) for n in self.class_names)
            if self.task is not Task.CLASSIFICATION:
                raise InputDataError("class_names were given for a regression dataset", "drop class_names")
            top = int(max(int(np.max(t)) for t in self._target_arrays()))
            if len(names) <= top:
                raise InputDataError(f"{len(names)} class_names but labels go up to {top}", "give one name per class")
            object.__setattr__(self, "class_names", names)
        if self.vocab is not None:
            vocab = tuple(str(v) for v in self.vocab)
            if not self.uses_tokens:
                raise InputDataError("a vocab was given for float features", "drop vocab, or pass integer token ids")
            if len(vocab) <= int(self.max_token or 0):
                raise InputDataError(f"{len(vocab)} vocab entries but token ids go up to {self.max_token}")
            if len(set(vocab)) != len(vocab):
                raise InputDataError("the vocab has repeated entries", "give each token id its own text")
            object.__setattr__(self, "vocab", vocab)

    def _check_targets(self, sequences: tuple[np.ndarray, ...]) -> Targets:
        if self.per_step:
            if isinstance(self.targets, np.ndarray) or len(self.targets) != len(sequences):
                raise InputDataError(f"per-step targets must be a tuple of {len(sequences)} arrays, one per sequence")
            targets = tuple(self._check_target_array(t, f"targets of sequence {i}") for i, t in enumerate(self.targets))
            for i, (seq, t) in enumerate(zip(sequences, targets, strict=True)):
                if t.shape[0] != seq.shape[0]:
                    raise InputDataError(f"sequence {i} has {seq.shape[0]} steps but {t.shape[0]} per-step targets")
            if len({t.shape[1:] for t in targets}) != 1:
                raise InputDataError("per-step targets have different widths in different sequences")
            return targets
        if not isinstance(self.targets, np.ndarray):
            raise InputDataError("per-sequence targets must be one array with a row per sequence")
        targets_array = self._check_target_array(self.targets, "targets")
        if targets_array.shape[0] != len(sequences):
            raise InputDataError(f"{len(sequences)} sequences but {targets_array.shape[0]} targets")
        return targets_array

    def _check_target_array(self, t: Any, what: str) -> np.ndarray:
        t = np.asarray(t)
        if self.task is Task.CLASSIFICATION:
            if t.dtype.kind not in "iu" or t.ndim != 1:
                raise InputDataError(
                    f"{what}: classification labels must be a 1-D integer array, got {t.dtype} {t.shape}"
                )
            t = t.astype(np.int64, copy=False)
            if t.size and int(t.min()) < 0:
                raise InputDataError(f"{what}: class label {int(t.min())} is negative", "use labels 0..C-1")
            if t.size and int(t.max()) >= MAX_CLASSES:
                raise InputDataError(
                    f"{what}: class label {int(t.max())} is beyond edgernn's limit of {MAX_CLASSES} classes",
                    "number the classes 0..C-1",
                )
            return t
        if t.dtype.kind not in "iuf" or t.ndim not in (1, 2):
            raise InputDataError(
                f"{what}: regression targets must be a 1-D or 2-D float array, got {t.dtype} {t.shape}"
            )
        t = t.astype(np.float32, copy=False)
        if not np.isfinite(t).all():
            raise InputDataError(f"{what} contain NaN or Inf", "remove or impute those values")
        return t

    def _target_arrays(self) -> tuple[np.ndarray, ...]:
        return self.targets if isinstance(self.targets, tuple) else (self.targets,)

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        kind = "tokens" if self.uses_tokens else f"{self.num_features} features"
        where = "per step" if self.per_step else "per sequence"
        return f"SequenceData({self.name!r}: {len(self)} sequences of {kind}, {self.task.value} {where})"

    @property
    def uses_tokens(self) -> bool:
        return self.sequences[0].ndim == 1

    @property
    def num_features(self) -> int | None:
        """Features per step, or None for token sequences."""
        return None if self.uses_tokens else int(self.sequences[0].shape[1])

    @property
    def num_classes(self) -> int | None:
        """Number of classes (len(class_names), else largest label + 1); None for regression."""
        if self.task is not Task.CLASSIFICATION:
            return None
        if self.class_names is not None:
            return len(self.class_names)
        return int(max(int(np.max(t)) for t in self._target_arrays())) + 1

    @property
    def target_width(self) -> int:
        """Width of the model output the targets need: classes, or K regression values."""
        if self.task is Task.CLASSIFICATION:
            assert self.num_classes is not None
            return self.num_classes
        first = self._target_arrays()[0]
        return 1 if first.ndim == 1 else int(first.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        return np.array([s.shape[0] for s in self.sequences], dtype=np.int64)

    @property
    def max_token(self) -> int | None:
        """Largest token id (the embedding needs vocab_size > this), or None for features."""
        return int(max(int(s.max()) for s in self.sequences)) if self.uses_tokens else None

    def subset(self, indices: Sequence[int] | np.ndarray) -> SequenceData:
        """The sequences at ``indices`` (in that order), with their targets."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise InputDataError(f"subset index out of range for {len(self)} sequences")
        if isinstance(self.targets, tuple):
            targets: Targets = tuple(self.targets[i] for i in idx)
        else:
            targets = self.targets[idx]
        return SequenceData(
            tuple(self.sequences[i] for i in idx),
            targets,
            self.task,
            self.per_step,
            self.name,
            self.class_names,
            None if self.parts is None else self.parts[idx],
            None if self.groups is None else self.groups[idx],
            self.vocab,
        )

    def fingerprint(self) -> str:
        """SHA-256 of the exact bytes (with dtypes and shapes) of the sequences and targets.

        Recorded as calibration-set provenance: equal data gives an equal hash on every machine.
        """
        h = hashlib.sha256(b"edgernn-sequence-data-v1")
        for a in (*self.sequences, *self._target_arrays()):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())  # makes the byte stream unambiguous
            h.update(a.tobytes())
        return h.hexdigest()


def _check_sequences(raw: Sequence[Any]) -> tuple[np.ndarray, ...]:
    """Coerce to float32 (T, F) / int64 (T,) arrays and check what the models rely on."""
    seqs = [np.asarray(s) for s in raw]
    if not seqs:
        raise InputDataError("the dataset has no sequences", "provide at least one sequence")
    first = seqs[0]
    tokens = first.ndim == 1
    for i, s in enumerate(seqs):
        if tokens:
            if s.ndim != 1 or s.dtype.kind not in "iu":
                raise InputDataError(
                    f"sequence {i} has dtype {s.dtype} shape {s.shape} but token sequences are 1-D integers"
                )
        elif s.ndim != 2 or s.dtype.kind not in "iuf":
            raise InputDataError(
                f"sequence {i} has dtype {s.dtype} shape {s.shape}; feature sequences are (T, F) floats"
            )
        if s.shape[0] < 1:
            raise InputDataError(f"sequence {i} is empty", "every sequence needs at least one step")
        if not tokens and s.shape[1] != first.shape[1]:
            raise InputDataError(f"sequence {i} has {s.shape[1]} features but sequence 0 has {first.shape[1]}")
    if tokens:
        out = tuple(s.astype(np.int64, copy=False) for s in seqs)
        bad = [i for i, s in enumerate(out) if s.min() < 0]
        if bad:
            raise InputDataError(f"sequence {bad[0]} has a negative token id", "token ids must be >= 0")
        top = max(int(s.max()) for s in out)
        if top >= MAX_VOCAB_SIZE:
            raise InputDataError(
                f"token id {top} is beyond edgernn's vocabulary limit of {MAX_VOCAB_SIZE} ids",
                "renumber the tokens densely from 0",
            )
        return out
    out = tuple(s.astype(np.float32, copy=False) for s in seqs)
    if not np.isfinite(np.concatenate(out)).all():  # one vectorized pass; locate only on failure
        i = next(i for i, s in enumerate(out) if not np.isfinite(s).all())
        raise InputDataError(f"sequence {i} contains NaN or Inf", "remove or impute those values before use")
    return out


# --------------------------------------------------------------------------- built-in datasets


def load_dataset(name: str) -> SequenceData:
    """A built-in dataset by name (see :data:`edgernn.datasets.DATASETS`); nothing is downloaded."""
    from edgernn.datasets import load_dataset as load_builtin  # the loaders import this module

    return load_builtin(name)


# --------------------------------------------------------------------------- user .npz files


def load_npz(path: str | Path) -> SequenceData:
    """Read the user's ``.npz`` data file (format in the module docstring); never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"data file {path} does not exist")
    arrays = _read_npz(path)
    for key in ("X", "y"):
        if key not in arrays:
            raise InputDataError(
                f"{path} has no {key!r} array (found: {sorted(arrays)})", "see the npz format in the docs"
            )
    x, y = arrays["X"], arrays["y"]
    sequences = _npz_sequences(path, x, arrays.get("lengths"))
    lengths = np.array([s.shape[0] for s in sequences])
    names = arrays.get("class_names")
    class_names = None
    if names is not None:
        if names.dtype.kind not in "US" or names.ndim != 1:
            raise InputDataError(f"{path}: 'class_names' must be a 1-D str array, got {names.dtype} {names.shape}")
        class_names = _strings(names)
    if y.ndim == 1 and (y.dtype.kind in "US" or (y.dtype.kind in "iu" and class_names is None)):
        y, class_names = _map_labels(path, y, class_names)
    task, per_step, targets = _npz_targets(path, y, lengths)
    vocab_array = arrays.get("vocab")
    vocab = None
    if vocab_array is not None:
        if vocab_array.dtype.kind not in "US" or vocab_array.ndim != 1:
            raise InputDataError(
                f"{path}: 'vocab' must be a 1-D str array, got {vocab_array.dtype} {vocab_array.shape}"
            )
        vocab = _strings(vocab_array)
    try:
        return SequenceData(sequences, targets, task, per_step, path.stem, class_names, vocab=vocab)
    except InputDataError as exc:  # prefix the file so the one-liner says which input is bad
        raise InputDataError(f"{path}: {exc.what}", exc.fix) from None


def _strings(values: np.ndarray) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values.tolist())


def _map_labels(path: Path, y: np.ndarray, class_names: tuple[str, ...] | None) -> tuple[np.ndarray, tuple | None]:
    """Class labels as ids ``0..K-1`` and the names they stand for.

    String labels become the index of their name: in ``class_names`` when given, else in their
    sorted set. Integer labels without ``class_names`` are kept when they are exactly ``0..K-1``;
    any other set (``1..K``, ``{-1, 1}``, ``{3, 7, 9}``) is numbered in sorted order and named by
    the original values, so the model reports the user's labels and another file with the same
    labels maps to the same ids (:func:`align_classes`).
    """
    if y.dtype.kind in "iu":
        values = np.unique(y)
        if values.size and values[0] == 0 and values[-1] == values.size - 1:
            return y, None
        return np.searchsorted(values, y).astype(np.int64), tuple(str(int(v)) for v in values)
    labels = np.array(_strings(y))
    if class_names is None:
        class_names = tuple(str(v) for v in np.unique(labels))
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(labels.tolist()) - set(index))
    if unknown:
        raise InputDataError(
            f"{path}: label {unknown[0]!r} is not one of its class_names", "list every label in class_names"
        )
    return np.array([index[v] for v in labels.tolist()], dtype=np.int64), class_names


def align_classes(data: SequenceData, class_names: Sequence[str] | None, num_classes: int, what: str) -> SequenceData:
    """``data`` relabelled to a model's classes: each label's name (its number when the data has
    no names) becomes that name's id in ``class_names`` (``"0".."K-1"`` when the model has none).

    Run on every file a model is validated, tested or evaluated on, so that the same label means
    the same class whatever labels the file happens to contain. Regression data is returned as is.
    """
    if data.task is not Task.CLASSIFICATION:
        return data
    model_names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(num_classes))
    numbered = all(n.lstrip("-").isdigit() for n in model_names)  # the model was trained on integer labels
    if data.class_names is None and not numbered:
        # Labels 0..K-1 without names are class ids.
        top = (data.num_classes or 0) - 1
        if top >= len(model_names):
            raise InputDataError(f"the {what} has class id {top} but the model has {len(model_names)} classes")
        return data if class_names is None else _relabelled(data, None, model_names)
    data_names = data.class_names or tuple(str(i) for i in range(data.num_classes or 0))
    index = {name: i for i, name in enumerate(model_names)}
    missing = [n for n in data_names if n not in index]
    if missing:
        raise InputDataError(
            f"the {what} has class {missing[0]!r}, which the model does not know (its classes: "
            f"{', '.join(model_names[:10])}{', ...' if len(model_names) > 10 else ''})",
            "use data labelled like the training data",
        )
    return _relabelled(data, np.array([index[n] for n in data_names], dtype=np.int64), model_names)


def _relabelled(data: SequenceData, lookup: np.ndarray | None, names: tuple[str, ...]) -> SequenceData:
    def apply(t: np.ndarray) -> np.ndarray:
        return t if lookup is None else lookup[t]

    targets: Targets = tuple(apply(t) for t in data.targets) if isinstance(data.targets, tuple) else apply(data.targets)
    return SequenceData(
        data.sequences, targets, data.task, data.per_step, data.name, names, data.parts, data.groups, data.vocab
    )


def load_npz_inputs(path: str | Path) -> tuple[np.ndarray, ...]:
    """Only the input sequences of a ``.npz`` in the format above (``y`` may be absent): what
    ``edgernn run`` streams."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"input file {path} does not exist")
    arrays = _read_npz(path)
    if "X" not in arrays:
        raise InputDataError(f"{path} has no 'X' array (found: {sorted(arrays)})", "see the npz format in the docs")
    return _npz_sequences(path, arrays["X"], arrays.get("lengths"))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, read with :mod:`edgernn.archive` (never unpickles; memory
    bounded by the file's size, whatever its headers declare)."""
    # Check the signature first: a text or pickle file should not be called a corrupt zip.
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
            size = path.stat().st_size
            if magic == b"\x93NUMPY":
                raise InputDataError(f"{path} is a single .npy array, not an .npz archive", "write it with numpy.savez")
            if not magic.startswith(b"PK"):
                raise InputDataError(f"{path} is not an .npz file (no zip signature)", "write it with numpy.savez")
            zf = archive.open_zip(
                fh, InputDataError(f"{path} is truncated or not a valid .npz archive", "write it with numpy.savez")
            )
            arrays: dict[str, np.ndarray] = {}
            with zf:
                entries = archive.check_entries(zf, size, str(path), InputDataError, _MIN_EXPANDED_NPZ_BYTES)
                for name, info in entries.items():
                    if not name.endswith(".npy"):
                        raise InputDataError(f"{path}: {name!r} is not a .npy array", "write the file with numpy.savez")
                    key = name[: -len(".npy")]
                    data = archive.read_entry(zf, info, f"{path}: {key!r}", InputDataError)
                    arrays[key] = archive.read_npy(data, f"{path}: {key!r}", InputDataError, kinds="iufUS")
    except OSError as exc:
        raise InputDataError(f"cannot read {path} ({exc.strerror or exc})") from None
    return arrays


def _npz_sequences(path: Path, x: np.ndarray, lengths: np.ndarray | None) -> tuple[np.ndarray, ...]:
    if x.dtype.kind not in "iuf":
        raise InputDataError(f"{path}: 'X' has dtype {x.dtype}", "use float32 features or integer token ids")
    tokens = x.dtype.kind in "iu"
    if lengths is None:
        want = 2 if tokens else 3
        if x.ndim != want:
            layout = "(N, T)" if tokens else "(N, T, F)"
            raise InputDataError(
                f"{path}: 'X' has shape {x.shape} and there is no 'lengths'",
                f"give a dense {layout} X, or concatenated sequences plus a 'lengths' array",
            )
        return tuple(x)
    if lengths.dtype.kind not in "iu" or lengths.ndim != 1:
        raise InputDataError(f"{path}: 'lengths' must be a 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if lengths.size == 0 or int(lengths.min()) < 1:
        raise InputDataError(f"{path}: 'lengths' must be non-empty with every length >= 1")
    want = 1 if tokens else 2
    if x.ndim != want:
        layout = "(sum(lengths),) token ids" if tokens else "(sum(lengths), F) features"
        hint = "; integer X is read as token ids, cast features to float32" if tokens else ""
        raise InputDataError(f"{path}: 'X' has shape {x.shape} but with 'lengths' it must be {layout}{hint}")
    if int(lengths.sum()) != x.shape[0]:
        raise InputDataError(f"{path}: 'lengths' sum to {int(lengths.sum())} but 'X' has {x.shape[0]} rows")
    return tuple(np.split(x, np.cumsum(lengths)[:-1]))


def _npz_targets(path: Path, y: np.ndarray, lengths: np.ndarray) -> tuple[Task, bool, Targets]:
    if y.dtype.kind in "iu":
        task = Task.CLASSIFICATION
    elif y.dtype.kind == "f":
        task = Task.REGRESSION
    else:
        raise InputDataError(
            f"{path}: 'y' has dtype {y.dtype}", "use class labels (integers or strings) or float regression targets"
        )
    if y.ndim not in (1, 2) or (task is Task.CLASSIFICATION and y.ndim != 1):
        want = "(rows,)" if task is Task.CLASSIFICATION else "(rows,) or (rows, K)"
        raise InputDataError(f"{path}: 'y' has shape {y.shape}; {task.value} targets must be {want}")
    n, steps = len(lengths), int(lengths.sum())
    if y.shape[0] == n:
        return task, False, y
    if y.shape[0] == steps:
        return task, True, tuple(np.split(y, np.cumsum(lengths)[:-1]))
    raise InputDataError(
        f"{path}: 'y' has {y.shape[0]} rows but there are {n} sequences and {steps} steps",
        "give one target per sequence or one per step",
    )


# --------------------------------------------------------------------------- splits


def split(
    data: SequenceData, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[SequenceData, SequenceData, SequenceData]:
    """Seeded train/validation/test split; stratified by label for per-sequence classification.

    A dataset with its own split (``data.parts``, e.g. a UCR set's test file) keeps it: its test
    part is the test split whatever ``fractions`` say, and so is its validation part when it has
    one; otherwise the validation split is drawn from its training part in the ratio of
    ``fractions[1]`` to ``fractions[0]``.
    """
    if data.parts is None:
        parts = split_indices(data, fractions, seed)
        return data.subset(parts[0]), data.subset(parts[1]), data.subset(parts[2])
    train, val, test = (np.flatnonzero(data.parts == p) for p in (TRAIN, VALIDATION, TEST))
    if test.size == 0 or train.size == 0:
        raise InputDataError(
            f"{data.name}: its own split has {train.size} training and {test.size} test sequences",
            "keep sequences of both parts when taking a subset",
        )
    if val.size == 0:
        f_train, f_val = float(fractions[0]), float(fractions[1])
        pool = data.subset(train)
        inner = split_indices(pool, (f_train / (f_train + f_val), f_val / (f_train + f_val)), seed)
        train, val = train[inner[0]], train[inner[1]]
    return data.subset(train), data.subset(val), data.subset(test)


def split_indices(data: SequenceData, fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Index arrays (each sorted) of a deterministic split into ``len(fractions)`` non-empty parts."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 2 or (f <= 0).any() or abs(f.sum() - 1.0) > 1e-6:
        raise InputDataError(f"split fractions {tuple(fractions)} must be positive and sum to 1")
    n = len(data)
    rng = np.random.default_rng(seed)
    if data.task is Task.CLASSIFICATION and not data.per_step:
        # Give member j of a class with n_c members the key (j + 0.5) / n_c (members in random
        # order). Sorted by key, the classes interleave evenly, so every contiguous chunk of the
        # order - and hence every part - holds each class in proportion.
        labels = np.asarray(data.targets)
        order = rng.permutation(n)
        keys = np.empty(n)
        for c in np.unique(labels):
            members = order[labels[order] == c]
            keys[members] = (np.arange(members.size) + 0.5) / members.size
        order = order[np.argsort(keys[order], kind="stable")]
    else:
        order = rng.permutation(n)
    # Later parts get round(fraction * n); the first (train) part takes the rest.
    sizes = [int(round(x * n)) for x in f[1:]]
    sizes.insert(0, n - sum(sizes))
    if min(sizes) < 1:
        raise InputDataError(
            f"cannot split {n} sequences into parts {tuple(float(x) for x in f)}: a part would be empty",
            "use more data or larger fractions",
        )
    bounds = np.cumsum(sizes)[:-1]
    return [np.sort(part) for part in np.split(order, bounds)]


# --------------------------------------------------------------------------- normalization


@dataclass(frozen=True, eq=False)
class Normalization:
    """Per-feature standardization ``(x - mean) / std`` in float32, fitted on training data.

    Part of the model: the quantizer calibrates on normalized inputs and the runtimes apply it.
    """

    mean: np.ndarray
    std: np.ndarray

    # Features whose spread is below ~1e-5 of their magnitude vary by float32 rounding noise only
    # (eps is 1.2e-7 and MFCC/IMU pipelines accumulate several roundings); dividing by that tiny
    # std would blow the noise up to unit scale and feed it to the model and to int8 calibration.
    # The absolute floor 1e-6 covers all-zero features. Constant features map to 0 either way.
    RELATIVE_STD_FLOOR = 1e-5
    ABSOLUTE_STD_FLOOR = 1e-6

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float32).reshape(-1)
        std = np.array(self.std, dtype=np.float32).reshape(-1)
        if mean.shape != std.shape or mean.size == 0:
            raise InputDataError(f"normalization mean {mean.shape} and std {std.shape} must be equal, non-empty")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise InputDataError("normalization needs finite means and finite positive stds")
        mean.setflags(write=False)
        std.setflags(write=False)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalization):
            return NotImplemented
        return np.array_equal(self.mean, other.mean) and np.array_equal(self.std, other.std)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking contents: not hashable

    @property
    def num_features(self) -> int:
        return int(self.mean.size)

    @classmethod
    def identity(cls, num_features: int) -> Normalization:
        return cls(np.zeros(num_features, np.float32), np.ones(num_features, np.float32))

    @classmethod
    def fit(cls, data: SequenceData) -> Normalization:
        """Mean and std over every step of every sequence (float64 accumulation)."""
        if data.uses_tokens:
            raise InputDataError("token sequences are not normalized", "only float features need a Normalization")
        x = np.concatenate(data.sequences).astype(np.float64)
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        floor = np.maximum(cls.ABSOLUTE_STD_FLOOR, cls.RELATIVE_STD_FLOOR * np.abs(x).max(axis=0))
        return cls(mean.astype(np.float32), np.maximum(std, floor).astype(np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``(..., F)`` features, computing in float32 like the deployed code does."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 0 or x.shape[-1] != self.num_features:
            raise InputDataError(f"input has shape {x.shape} but the model expects {self.num_features} features")
        return (x - self.mean) / self.std

    def to_json(self) -> dict[str, list[float]]:
        # float32 -> Python float is exact and JSON keeps doubles exactly: the round trip is lossless.
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, d: Any) -> Normalization:
        try:
            if not isinstance(d, dict) or set(d) != {"mean", "std"}:
                raise ValueError("expected an object with 'mean' and 'std'")
            mean = np.array(d["mean"], dtype=np.float64)
            std = np.array(d["std"], dtype=np.float64)
            if mean.ndim != 1 or std.ndim != 1:
                raise ValueError("'mean' and 'std' must be lists of numbers")
            return cls(mean.astype(np.float32), std.astype(np.float32))
        except (ValueError, TypeError, InputDataError) as exc:
            raise ModelFileError(f"the stored normalization is invalid ({exc})") from None


# --------------------------------------------------------------------------- batching


def pad_batch(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad to ``(B, Tmax, F)`` float32 or ``(B, Tmax)`` int64, plus the ``(B,)`` lengths."""
    if len(sequences) == 0:
        raise InputDataError("cannot pad an empty batch")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    first = np.asarray(sequences[0])
    tokens = first.ndim == 1
    shape = (len(sequences), int(lengths.max()), *first.shape[1:])
    out = np.zeros(shape, dtype=np.int64 if tokens else np.float32)
    for i, s in enumerate(sequences):
        out[i, : s.shape[0]] = s
    return out, lengths
