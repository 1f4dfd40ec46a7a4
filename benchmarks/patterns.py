"""Every recurrent pattern end to end: train, quantize, evaluate float vs int8 on each backend.

One model per pattern, trained with the same pipeline functions as ``edgernn train`` (small
budgets: a few minutes each on one CPU core), quantized like ``edgernn quantize`` (calibration on
the training split, the recorded split) and scored like ``edgernn evaluate`` on the dataset's
held-out test split: the PyTorch checkpoint, the numpy float model and every int8 backend, whose
raw int8 outputs are compared with the integer reference's exactly (``np.array_equal`` on every
step of every sequence, each sequence streamed from a zero state).

    python benchmarks/patterns.py                       # the committed run
    python benchmarks/patterns.py --patterns watch --output-dir /tmp/p

Writes ``patterns.json`` and ``patterns.md`` to ``--output-dir`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgernn.datasets import DATASETS, load_dataset, naive_forecast  # noqa: E402
from edgernn.evaluation import EVALUATE_BACKENDS  # noqa: E402
from edgernn.metrics import task_metric  # noqa: E402
from edgernn.pipeline import (  # noqa: E402
    config_for_data,
    evaluation_report,
    quantize_checkpoint,
    train_checkpoint,
    training_data,
)
from edgernn.types import Task  # noqa: E402


@dataclass(frozen=True)
class Pattern:
    """One pattern's dataset and training budget (the equivalent ``edgernn train`` options)."""

    name: str  # the pattern
    dataset: str
    cell: str = "gru"
    hidden: int = 32
    epochs: int = 20
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 3e-3
    tbptt: int | None = None
    dropout: float = 0.0
    max_minutes: float = 3.0

    def command(self) -> str:
        opts = [
            f"--dataset {self.dataset}",
            f"--cell {self.cell}",
            f"--hidden {self.hidden}",
            f"--epochs {self.epochs}",
            f"--patience {self.patience}",
            f"--batch-size {self.batch_size}",
            f"--lr {self.learning_rate:g}",
            f"--max-minutes {self.max_minutes:g}",
        ]
        if self.tbptt is not None:
            opts.append(f"--tbptt {self.tbptt}")
        if self.dropout:
            opts.append(f"--dropout {self.dropout:g}")
        return "edgernn train " + " ".join(opts) + " -o model.safetensors"


PATTERNS: dict[str, Pattern] = {
    p.dataset: p
    for p in (
        Pattern("many-to-one: keyword spotting", "fsdd", epochs=20, max_minutes=3.0),
        # Whole recordings (947-2618 steps at 50 Hz) with the exercise as every step's label, trained
        # with truncated BPTT over 128-step chunks: the state runs on across the recording.
        Pattern(
            "many-to-many: activity tagging",
            "watch",
            epochs=12,
            patience=4,
            batch_size=8,
            tbptt=128,
            dropout=0.1,
            max_minutes=4.0,
        ),
        # 1008-step (three-week) windows, the next half-hour's demand at every step.
        Pattern(
            "many-to-many: forecasting",
            "elecdemand",
            epochs=15,
            patience=5,
            learning_rate=1e-2,
            tbptt=168,
            max_minutes=3.0,
        ),
    )
}


def run(pattern: Pattern, work: Path, seed: int) -> dict[str, Any]:
    from edgernn.models import load_checkpoint
    from edgernn.quant import QuantizeOptions

    data = load_dataset(pattern.dataset)
    plan = training_data(data, seed)
    config = config_for_data(data, cell=pattern.cell, hidden_size=pattern.hidden)
    ckpt_path, model_path = work / f"{pattern.dataset}.safetensors", work / f"{pattern.dataset}.ernn"
    t0 = time.perf_counter()
    result = train_checkpoint(
        plan,
        config,
        ckpt_path,
        epochs=pattern.epochs,
        batch_size=pattern.batch_size,
        learning_rate=pattern.learning_rate,
        patience=pattern.patience,
        progress=False,
        dropout=pattern.dropout,
        tbptt=pattern.tbptt,
        max_minutes=pattern.max_minutes,
    )
    train_s = time.perf_counter() - t0
    model = quantize_checkpoint(load_checkpoint(ckpt_path), plan, model_path, options=QuantizeOptions())
    train, val, test = plan.splits()
    t0 = time.perf_counter()
    report = evaluation_report(model, test, f"{pattern.dataset} test split", EVALUATE_BACKENDS, ckpt_path)
    eval_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "pattern": pattern.name,
        "dataset": pattern.dataset,
        "source": DATASETS[pattern.dataset].source,
        "split": DATASETS[pattern.dataset].split,
        "options": asdict(pattern),
        "command": pattern.command(),
        "cell": pattern.cell.upper(),
        "hidden": pattern.hidden,
        "output_mode": config.output_mode.value,
        "split_sizes": {"train": len(train), "validation": len(val), "test": len(test)},
        "test_steps": int(test.lengths.sum()),
        "train_seconds": round(train_s, 1),
        "evaluate_seconds": round(eval_s, 1),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stop_reason": result.stop_reason,
        "weight_bytes": model.weight_bytes,
        **report.to_json(),
    }
    if pattern.dataset == "elecdemand":  # the scale of an MAE: naive forecasts on the same steps
        row["naive_mae"] = {
            f"lag {lag}": task_metric(Task.REGRESSION, naive_forecast(test, lag), list(test.targets)).value
            for lag in (1, 48)
        }
    return row


def _value(metric: str | None, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}%" if metric == "accuracy" else f"{value:.4f}"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Every pattern end to end: float vs int8 per backend",
        "",
        f"Run: `{meta['commit']}` on {meta['date']} (`{meta['command']}`), torch {meta['torch']}, "
        f"{meta['threads']} training thread.",
        "",
        "| pattern | dataset | cell | metric (test split) | PyTorch float | numpy float | int8 reference "
        "| int8 vs float | backends bit-equal to the reference | not exact | unavailable |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        by = {b["backend"]: b for b in r["backends"]}
        metric = by["reference"]["metric"]
        ref, flt = by["reference"]["value"], by["float"]["value"]
        delta = (
            f"{100 * (ref - flt):+.2f} pts"
            if metric == "accuracy"
            else f"{100 * (ref - flt) / abs(flt):+.2f}% relative"
        )
        equal = [b["backend"] for b in r["backends"] if b["equal_to_reference"]]
        inexact = [
            f"{b['backend']} (max {b['max_lsb']} LSB)" for b in r["backends"] if b["equal_to_reference"] is False
        ]
        missing = [b["backend"] for b in r["backends"] if b["unavailable"]]
        scored = f"per step, {r['test_steps']} steps" if r["output_mode"] == "sequence" else "per sequence"
        lines.append(
            f"| {r['pattern']} | {r['dataset']} | {r['cell']} {r['hidden']} | {metric} ({scored}, "
            f"{r['split_sizes']['test']} seqs) | {_value(metric, r['checkpoint_metric']['value'])} | "
            f"{_value(metric, flt)} | {_value(metric, ref)} | {delta} | {', '.join(equal)} | "
            f"{', '.join(inexact) or '-'} | {', '.join(missing) or '-'} |"
        )
    lines += ["", "Per pattern:", ""]
    for r in rows:
        extra = ""
        if "naive_mae" in r:
            extra = "; naive forecasts on the same steps: " + ", ".join(
                f"{k} MAE {v:.4f}" for k, v in r["naive_mae"].items()
            )
        lines.append(
            f"- **{r['dataset']}** ({r['source']}; split {r['split']}): {r['split_sizes']['train']} train / "
            f"{r['split_sizes']['validation']} validation / {r['split_sizes']['test']} test sequences; trained "
            f"{r['train_seconds']} s ({r['epochs_run']} epochs, best {r['best_epoch']}, {r['stop_reason']}), "
            f"evaluated on every backend in {r['evaluate_seconds']} s; int8 weights {r['weight_bytes']} bytes{extra}. "
            f"Same training from the CLI: `{r['command']}`"
        )
    lines += [
        "",
        "LiteRT (`tflite`) runs its own optimized int8 kernels and is documented as not exact: within 1 LSB "
        "per step when fed the reference's state, with larger differences free-running (docs/compatibility.md); "
        "TFLite Micro (`tflm`) runs the same `.tflite` file bit-exactly.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="comma-separated datasets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.patterns.split(","):
            print(f"{name} ...", flush=True)
            rows.append(run(PATTERNS[name], Path(tmp), args.seed))
            print(json.dumps({k: rows[-1][k] for k in ("dataset", "train_seconds", "backends")}, default=str))
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=REPO, check=False
    ).stdout.strip()
    meta = {
        "commit": commit,
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/patterns.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "torch": torch.__version__,
        "threads": 1,
        "numpy": np.__version__,
    }
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "patterns.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (args.output_dir / "patterns.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
