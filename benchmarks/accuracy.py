"""Float vs int8 task metrics on public real data: every dataset x cell (GRU, LSTM, Elman).

For each dataset of :mod:`edgernn.datasets` and each cell, a float model is trained on the set's
own training split (early stopping on its validation split), quantized post-training (calibration
on the training split, default min/max observer) and scored on the set's held-out test split,
in float (numpy float backend) and int8 (the integer reference backend). With ``--qat`` the same
float model is fine-tuned with quantization-aware training (``edgernn.models.fine_tune_qat``) and
its int8 metric fills the "int8 QAT" column.

    python benchmarks/accuracy.py                      # the committed full run (~40 min, 1 core)
    python benchmarks/accuracy.py --quick              # a smoke run of every dataset (a few minutes)
    python benchmarks/accuracy.py --datasets forda --cells gru,lstm --hidden 64

Writes ``accuracy.json`` and ``accuracy.md`` (``accuracy-quick.*`` with ``--quick``) to
``--output-dir``. Rows already in the JSON for other datasets/cells/sizes are kept, each with the
commit and date it ran on, so a filtered run updates only its own rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgernn.data import SequenceData, split  # noqa: E402
from edgernn.datasets import DATASETS, bits_per_symbol, chunk, load_dataset, naive_forecast  # noqa: E402
from edgernn.metrics import task_metric  # noqa: E402
from edgernn.pipeline import SPLIT_FRACTIONS, config_for_data, quantize_report  # noqa: E402
from edgernn.types import Task  # noqa: E402

CELLS = {"gru": "GRU", "lstm": "LSTM", "rnn": "Elman"}


@dataclass(frozen=True)
class Plan:
    """How one dataset is trained: sizes chosen so the full run stays near 40 min on one core."""

    hidden: tuple[int, ...] = (32,)
    epochs: int = 20
    patience: int = 5
    batch_size: int = 32
    learning_rate: float = 3e-3
    max_train: int | None = None  # training sequences (a seeded subset); None = all
    max_test: int | None = None  # test sequences (a seeded subset); None = all
    train_chunk: int | None = None  # train on pieces of at most this many steps (the test split streams whole)
    max_minutes: float = 4.0  # wall-clock cap per training run
    embedding_dim: int = 16
    readout: str = "final_state"  # what a per-sequence model's head reads (edgernn.types.Readout)
    init: str = "lecun-orthogonal"  # the recurrent weights' start (edgernn.models.init)
    cell_learning_rate: tuple[tuple[str, float], ...] = ()  # (cell, lr) pairs overriding learning_rate

    def learning_rate_for(self, cell: str) -> float:
        return dict(self.cell_learning_rate).get(cell, self.learning_rate)

    def quick(self) -> Plan:
        """A smoke run: one hidden size, few epochs, small subsets."""
        return dataclasses.replace(
            self,
            hidden=self.hidden[:1],
            epochs=min(self.epochs, 3),
            max_train=min(self.max_train or 400, 400),
            max_test=min(self.max_test or 300, 300),
            max_minutes=0.5,
        )


PLANS: dict[str, Plan] = {
    "fsdd": Plan(hidden=(32,), epochs=20),
    "watch": Plan(hidden=(32,), epochs=12, patience=4, train_chunk=250, max_minutes=2.5),
    # 500-step engine noise: the class is in the spectrum, so the head reads the mean of the output
    # over time, and small batches give the optimizer enough updates to leave the initial plateau.
    # The Elman cell at lr 3e-3: while its gradients were still small and noisy, Adam's steps grew
    # Elman-64's recurrent spectral norm from 1 to 3-4 in three epochs, saturating the state (56-85%
    # of |h| > 0.95) and leaving it at chance; at 1e-3 it learns (docs/training.md).
    "forda": Plan(
        hidden=(32, 64),
        epochs=15,
        patience=5,
        max_train=1200,
        max_test=600,
        batch_size=16,
        learning_rate=3e-3,
        max_minutes=5.0,
        readout="mean",
        cell_learning_rate=(("rnn", 1e-3),),
    ),
    "electricdevices": Plan(hidden=(32, 64), epochs=10, patience=4, max_train=3000, max_test=3000, max_minutes=2.0),
    "ecg5000": Plan(hidden=(32,), epochs=25, patience=6, max_minutes=2.0),
    # Trained to convergence (early stopping): at 15 epochs every cell was still improving (best epoch 13-15),
    # so QAT's 5 extra epochs showed up as gains over an undertrained float baseline.
    "elecdemand": Plan(
        hidden=(32,), epochs=60, patience=6, train_chunk=336, max_train=400, learning_rate=1e-2, max_minutes=5.0
    ),
    "shakespeare": Plan(
        hidden=(64,), epochs=8, patience=3, max_train=4000, max_test=600, batch_size=64, max_minutes=2.5
    ),
}


# ----------------------------------------------------------------------------------- the runs


def _subset(data: SequenceData, limit: int | None, seed: int) -> SequenceData:
    if limit is None or len(data) <= limit:
        return data
    return data.subset(np.sort(np.random.default_rng(seed).choice(len(data), limit, replace=False)))


def _scores(model, test: SequenceData, backend: str) -> tuple[float, float | None]:  # noqa: ANN001
    """The task metric and, for a next-character model, bits per character."""
    from edgernn.runtime import predict

    outputs = predict(model, test.sequences, backend=backend)
    if test.per_step:
        metric = task_metric(test.task, outputs, list(test.targets))
    else:
        metric = task_metric(test.task, np.stack(outputs), test.targets)
    bits = bits_per_symbol(outputs, test.targets) if test.name == "shakespeare" else None
    return metric.value, bits


def run_one(
    data: SequenceData,
    parts: tuple[SequenceData, SequenceData, SequenceData],
    cell: str,
    hidden: int,
    plan: Plan,
    seed: int,
    qat: bool,
    save_dir: Path | None = None,
) -> dict[str, Any]:
    from edgernn.models import Checkpoint, TrainConfig, fine_tune_qat, save_checkpoint, train
    from edgernn.models.qat import QATConfig
    from edgernn.quant.from_torch import quantize

    train_data, val_data, test_data = parts
    config = config_for_data(
        data, cell=cell, hidden_size=hidden, embedding_dim=plan.embedding_dim, readout=plan.readout
    )
    tc = TrainConfig(
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        learning_rate=plan.learning_rate_for(cell),
        patience=plan.patience,
        seed=seed,
        max_minutes=plan.max_minutes,
        init=plan.init,
    )
    t0 = time.perf_counter()
    result = train(train_data, config, tc, validation=val_data, progress=False)
    train_s = time.perf_counter() - t0
    ckpt = Checkpoint(result.model, result.normalization, result.class_names, data.name)
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(save_dir / f"{data.name}-{cell}{hidden}.safetensors", ckpt)
    model = quantize(ckpt, train_data)
    float_value, float_bits = _scores(model, test_data, "float")
    int8_value, int8_bits = _scores(model, test_data, "reference")
    metric = "accuracy" if data.task is Task.CLASSIFICATION else "MAE"
    report = quantize_report(metric, float_value, int8_value, test_data)
    row: dict[str, Any] = {
        "dataset": data.name,
        "cell": cell,
        "hidden": hidden,
        "params": config.params,
        "metric": metric,
        "float": float_value,
        "int8_ptq": int8_value,
        "delta": report.delta,
        "delta_unit": report.unit,
        "int8_qat": None,
        "warning": report.warning,
        "small_split": report.small_split,
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "train_seconds": round(train_s, 1),
        "train_warnings": list(result.warnings),
    }
    if float_bits is not None:
        row["bits_per_char_float"] = float_bits
        row["bits_per_char_int8"] = int8_bits
    if qat:
        # The same float model, fine-tuned with the integer reference's rounding points modelled.
        qat_result = fine_tune_qat(result, train_data, val_data, tc, QATConfig(), progress=False)
        qat_model = quantize(
            Checkpoint(qat_result.model, qat_result.normalization, qat_result.class_names, data.name), train_data
        )
        row["int8_qat"], qat_bits = _scores(qat_model, test_data, "reference")
        if qat_bits is not None:
            row["bits_per_char_qat"] = qat_bits
    return row


def dataset_summary(name: str, parts: tuple[SequenceData, ...], full: SequenceData) -> dict[str, Any]:
    info = DATASETS[name]
    train_data, val_data, test_data = parts
    summary: dict[str, Any] = {
        "source": info.source,
        "split": info.split,
        "metric": info.metric,
        "sequences": {"train": len(train_data), "validation": len(val_data), "test": len(test_data)},
        "test_steps": int(test_data.lengths.sum()),
        "total_sequences": len(full),
    }
    if name == "elecdemand":
        summary["baselines_mae"] = {
            "last value": task_metric(Task.REGRESSION, naive_forecast(test_data, 1), list(test_data.targets)).value,
            "seasonal naive (same half-hour yesterday)": task_metric(
                Task.REGRESSION, naive_forecast(test_data, 48), list(test_data.targets)
            ).value,
        }
    return summary


# --------------------------------------------------------------------------------- the report


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out.stdout.strip()[:12] + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if metric == "accuracy" else f"{value:.4f}"


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Accuracy: float vs int8 on public real data",
        "",
        "Generated by `benchmarks/accuracy.py`; do not edit. int8 = the integer reference backend, post-training",
        "quantization (PTQ, min/max calibration on the training split). Every figure is on the dataset's held-out",
        "test split. delta = int8 PTQ - float: percentage points for accuracy, percent of the float MAE for MAE.",
        "",
        "Runs: " + "; ".join(f"`{c}` on {d} (`{cmd}`)" for c, d, cmd in sorted(_runs(results["rows"]))),
        "",
        "| dataset | cell | hidden | metric | float | int8 PTQ | delta | int8 QAT | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        unit = " pts" if r["delta_unit"] == "points" else "%"
        note = "over threshold" if r["warning"] else ""
        if r.get("small_split"):
            note = (note + "; " if note else "") + "small split"
        if r.get("train_warnings"):  # the float model learned nothing: its int8 delta means nothing
            note = (note + "; " if note else "") + "float at chance"
        lines.append(
            f"| {r['dataset']} | {CELLS[r['cell']]} | {r['hidden']} | {r['metric']} | {_fmt(r['metric'], r['float'])} "
            f"| {_fmt(r['metric'], r['int8_ptq'])} | {r['delta']:+.2f}{unit} | {_fmt(r['metric'], r['int8_qat'])} "
            f"| {note} |"
        )
    bits = [r for r in results["rows"] if "bits_per_char_float" in r]
    if bits:
        lines += ["", "Shakespeare bits per character (lower is better):", "", "| cell | hidden | float | int8 PTQ |"]
        lines.append("|---|---|---|---|")
        lines += [
            f"| {CELLS[r['cell']]} | {r['hidden']} | {r['bits_per_char_float']:.3f} | {r['bits_per_char_int8']:.3f} |"
            for r in bits
        ]
    lines += ["", "## Datasets", ""]
    for name, d in sorted(results["datasets"].items()):
        s = d["sequences"]
        lines.append(
            f"- **{name}** ({d['source']}): {d['metric']}; split {d['split']}; "
            f"{s['train']} train / {s['validation']} validation / {s['test']} test sequences "
            f"({d['test_steps']} test steps) used"
        )
        for baseline, mae in d.get("baselines_mae", {}).items():
            lines.append(f"  - baseline MAE, {baseline}: {mae:.4f}")
    lines += ["", "## Training settings", ""]
    for name in PLANS:
        settings = sorted(
            {json.dumps(r["plan"], sort_keys=True) for r in results["rows"] if r["dataset"] == name and "plan" in r}
        )
        lines += [f"- {name}: {s}" for s in settings]
    return "\n".join(lines) + "\n"


def _runs(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["commit"], r["date"], r["command"]) for r in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(PLANS), help="comma-separated subset of: " + ", ".join(PLANS))
    parser.add_argument("--cells", default="gru,lstm,rnn", help="comma-separated subset of gru, lstm, rnn")
    parser.add_argument("--hidden", default="", help="comma-separated hidden sizes instead of each plan's own")
    parser.add_argument("--quick", action="store_true", help="few epochs on small subsets (a smoke run)")
    parser.add_argument("--qat", action="store_true", help="add the int8 QAT column (the float model, QAT fine-tuned)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--save-checkpoints", type=Path, help="also save each float model here (NAME-CELLHIDDEN.safetensors)"
    )
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)

    names = [n.strip().lower() for n in args.datasets.split(",") if n.strip()]
    cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    unknown = [n for n in names if n not in PLANS] + [c for c in cells if c not in CELLS]
    if unknown:
        parser.error(f"unknown dataset or cell {unknown}; datasets: {', '.join(PLANS)}; cells: gru, lstm, rnn")
    qat = bool(args.qat)

    stem = "accuracy-quick" if args.quick else "accuracy"
    json_path = args.output_dir / f"{stem}.json"
    previous = json.loads(json_path.read_text()) if json_path.is_file() else {"rows": [], "datasets": {}}
    stamp = {
        "commit": _commit(),
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    new_rows: list[dict[str, Any]] = []
    datasets = dict(previous["datasets"])
    for name in names:
        plan = PLANS[name].quick() if args.quick else PLANS[name]
        if args.hidden:
            plan = dataclasses.replace(plan, hidden=tuple(int(h) for h in args.hidden.split(",")))
        full = load_dataset(name)
        train_data, val_data, test_data = split(full, SPLIT_FRACTIONS, seed=args.seed)
        if plan.train_chunk is not None:
            train_data, val_data = chunk(train_data, plan.train_chunk), chunk(val_data, plan.train_chunk)
        parts = (
            _subset(train_data, plan.max_train, args.seed),
            val_data if plan.max_train is None else _subset(val_data, max(plan.max_train // 8, 50), args.seed),
            _subset(test_data, plan.max_test, args.seed),
        )
        datasets[name] = dataset_summary(name, parts, full)
        for cell in cells:
            for hidden in plan.hidden:
                t0 = time.perf_counter()
                row = {**run_one(full, parts, cell, hidden, plan, args.seed, qat, args.save_checkpoints), **stamp}
                row["plan"] = {k: v for k, v in dataclasses.asdict(plan).items() if k != "hidden"}
                new_rows.append(row)
                print(
                    f"{name:16s} {CELLS[cell]:5s} {hidden:3d}  {row['metric']}"
                    f" float {_fmt(row['metric'], row['float'])}"
                    f"  int8 {_fmt(row['metric'], row['int8_ptq'])}  delta {row['delta']:+.2f} {row['delta_unit']}"
                    f"  qat {_fmt(row['metric'], row['int8_qat'])}  ({time.perf_counter() - t0:.0f} s,"
                    f" {row['epochs_run']} epochs)",
                    flush=True,
                )
                _write(args.output_dir, stem, previous, new_rows, datasets)
    return 0


def _write(
    output_dir: Path,
    stem: str,
    previous: dict[str, Any],
    new_rows: list[dict[str, Any]],
    datasets: dict[str, Any],
) -> None:
    """Keep earlier rows of other (dataset, cell, hidden) and write after every run (long runs)."""
    done = {(r["dataset"], r["cell"], r["hidden"]) for r in new_rows}
    order = list(PLANS)
    rows = [r for r in previous["rows"] if (r["dataset"], r["cell"], r["hidden"]) not in done] + new_rows
    rows.sort(key=lambda r: (order.index(r["dataset"]), list(CELLS).index(r["cell"]), r["hidden"]))
    results = {"rows": rows, "datasets": datasets}
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{stem}.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (output_dir / f"{stem}.md").write_text(render_markdown(results))


if __name__ == "__main__":
    sys.exit(main())
