"""Per-step latency of the ONNX Runtime and LiteRT backends: the exact int8 ONNX graph against the
QDQ graph it replaces as ``--format onnx`` (now ``--format onnx-qdq``), and LiteRT's kernels.

Every runner streams the same int8 inputs through ``Backend.step`` (the state fed back as a
streaming user does, Python overhead included) in interleaved rounds within one process, so
machine load affects all of them alike; the figure is the median over rounds of the mean time per
step. Sessions are single-threaded.

    .venv/bin/python benchmarks/runtime_speed.py [--rounds 15 --steps 200]

Results: ``benchmarks/results/runtime_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgernn.runtime.backends import Backend  # noqa: E402
from edgernn.runtime.onnx_backend import OnnxBackend  # noqa: E402
from edgernn.runtime.tflite_backend import TFLiteBackend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def runners(model: Any) -> dict[str, Backend]:
    found: dict[str, Backend] = {
        "onnx int8 (exact)": OnnxBackend(model),
        "onnx int8-qdq": OnnxBackend(model, precision="int8-qdq"),
        "LiteRT int8": TFLiteBackend(model),
        "LiteRT int8-exact (--format tflite-exact)": TFLiteBackend(model, precision="int8-exact"),
    }
    return found


def time_steps(backend: Backend, xs: np.ndarray) -> float:
    state = backend.zero_state()
    t0 = time.perf_counter()
    for x in xs:
        _, state = backend.step(state, x)
    return (time.perf_counter() - t0) / len(xs)


def measure(rounds: int, steps: int) -> list[dict[str, Any]]:
    rows = []
    for cell in (CellType.GRU, CellType.LSTM, CellType.RNN):
        config = ModelConfig(cell=cell, input_size=13, hidden_size=64, output_size=10)
        model = random_model(config, seed=0)
        xs = model.input_q.quantize(random_inputs(config, steps, seed=0), model.input_bits).astype(np.int64)
        backends = runners(model)
        for b in backends.values():
            time_steps(b, xs[:20])  # warm up
        samples: dict[str, list[float]] = {k: [] for k in backends}
        for _ in range(rounds):
            for name, b in backends.items():
                samples[name].append(time_steps(b, xs))
        for name, s in samples.items():
            rows.append(
                {
                    "model": f"{cell.value.upper()}-64, 13 inputs, head 10",
                    "runner": name,
                    "median_us_per_step": round(1e6 * statistics.median(s), 1),
                }
            )
            print(rows[-1], flush=True)
    return rows


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Per-step latency through `Backend.step` (`{results['command']}`; {results['machine']}, "
        f"{results['versions']}; median of {results['rounds']} interleaved rounds of {results['steps']} steps).",
        "",
        "| model | runner | µs per step |",
        "|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['runner']} | {r['median_us_per_step']} |" for r in results["rows"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    results = {
        "command": "benchmarks/runtime_speed.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "versions": ", ".join(f"{n} {metadata.version(n)}" for n in ("onnxruntime", "ai-edge-litert")),
        "rounds": args.rounds,
        "steps": args.steps,
        "rows": measure(args.rounds, args.steps),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runtime_speed.json").write_text(json.dumps(results, indent=1) + "\n")
    table = markdown(results)
    (RESULTS / "runtime_speed.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
