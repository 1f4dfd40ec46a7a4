"""Which training start and readout leave chance on a dataset: a small, seeded matrix.

Trains one model per (cell, init scheme, readout) on a seeded subset of a dataset's training split
(early stopping off, a fixed number of epochs) and scores the float model on a subset of its test
split. This is how the FordA recipe of benchmarks/accuracy.py and the default
``TrainConfig.init`` were chosen (docs/training.md); it prints one line per run and writes
``training_init.json`` (rows merged by dataset, cell, init, readout and settings).

    python benchmarks/training_init.py --dataset forda --cells gru,lstm,rnn --readouts mean,final_state
    python benchmarks/training_init.py --dataset ecg5000 --train 500 --test 1000 --batch-size 32 --epochs 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from accuracy import _commit, _subset  # noqa: E402

from edgernn.data import split  # noqa: E402
from edgernn.datasets import load_dataset  # noqa: E402
from edgernn.pipeline import SPLIT_FRACTIONS, config_for_data  # noqa: E402
from edgernn.types import INIT_SCHEMES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="forda")
    parser.add_argument("--cells", default="gru,lstm,rnn")
    parser.add_argument("--inits", default=",".join(INIT_SCHEMES))
    parser.add_argument("--readouts", default="mean")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--train", type=int, default=600, help="training sequences (seeded subset)")
    parser.add_argument("--validation", type=int, default=150)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)

    from edgernn.models import TrainConfig, evaluate, train

    full = load_dataset(args.dataset)
    train_data, val_data, test_data = split(full, SPLIT_FRACTIONS, seed=args.seed)
    train_data = _subset(train_data, args.train, args.seed)
    val_data = _subset(val_data, args.validation, args.seed)
    test_data = _subset(test_data, args.test, args.seed)
    settings = {k: getattr(args, k) for k in ("hidden", "train", "validation", "test", "epochs", "batch_size", "lr")}
    path = args.output_dir / "training_init.json"
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    for cell in args.cells.split(","):
        for readout in args.readouts.split(","):
            for init in args.inits.split(","):
                config = config_for_data(full, cell=cell, hidden_size=args.hidden, readout=readout)
                tc = TrainConfig(
                    epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, patience=None, init=init
                )
                t0 = time.perf_counter()
                result = train(train_data, config, tc, validation=val_data, progress=False)
                row = {
                    "dataset": args.dataset,
                    "cell": cell,
                    "init": init,
                    "readout": readout,
                    **settings,
                    "final_train_loss": result.history[-1]["train_loss"],
                    "best_val_accuracy": result.val_metric.value,
                    "test_accuracy": evaluate(result.model, test_data, result.normalization).value,
                    "at_chance": bool(result.warnings),
                    "seconds": round(time.perf_counter() - t0, 1),
                    "commit": _commit(),
                }
                print(
                    f"{args.dataset} {cell:4s} {readout:11s} {init:16s} train loss {row['final_train_loss']:.3f}"
                    f"  val {100 * row['best_val_accuracy']:.1f}%  test {100 * row['test_accuracy']:.1f}%"
                    f"{'  (at chance)' if row['at_chance'] else ''}  {row['seconds']:.0f} s",
                    flush=True,
                )
                key = ("dataset", "cell", "init", "readout", *settings)
                rows = [r for r in rows if any(r.get(k) != row[k] for k in key)] + [row]
                args.output_dir.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"rows": rows}, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
