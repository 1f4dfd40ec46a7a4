"""Regenerate the conformance table of docs/compatibility.md: format x cell x runtime.

For every cell type and a set of random models (one layer; two layers with a head and saturating
weights, ``weight_gain=6``), over ``--steps`` steps of random input:

* TFLite int8 in TFLite Micro: free-running stream vs the integer reference (bit-exactness);
* TFLite int8 in LiteRT and ONNX int8 (QDQ step graph) in ONNX Runtime: the reference's state fed
  in at every step, per-step differences of y and of every layer's new h (the 1-LSB bound);
* float32 exports (TFLite in LiteRT and TFLite Micro, ONNX step and sequence graphs) vs the numpy
  float model: max |difference|.

Also measures the installed size of the ``onnx`` and ``tflite`` extras (from the installed
distributions' RECORD files) and the import time of each backend module (fresh interpreter).

    .venv/bin/python benchmarks/conformance_table.py            # writes benchmarks/results/
    .venv/bin/python benchmarks/conformance_table.py --update-docs

Results: ``benchmarks/results/conformance.json`` and ``conformance.md``; ``--update-docs``
replaces the generated block of docs/compatibility.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgernn import __version__, engine  # noqa: E402
from edgernn.floatmodel import FloatKernels  # noqa: E402
from edgernn.ir import QuantizedRNN  # noqa: E402
from edgernn.runtime.backends import create_backend  # noqa: E402
from edgernn.runtime.onnx_backend import OnnxBackend  # noqa: E402
from edgernn.runtime.tflite_backend import TFLiteBackend  # noqa: E402
from edgernn.runtime.tflm_backend import TFLMBackend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "compatibility.md"
BEGIN, END = "<!-- conformance-table:begin -->", "<!-- conformance-table:end -->"


def model_set(cell: CellType, seeds: int) -> list[tuple[str, QuantizedRNN]]:
    models = []
    for seed in range(seeds):
        for label, cfg, gain in (
            ("1 layer H=32", ModelConfig(cell=cell, input_size=8, hidden_size=32), 1.0),
            (
                "2 layers H=24 + head, gain 6",
                ModelConfig(cell=cell, input_size=6, hidden_size=24, num_layers=2, output_size=4),
                6.0,
            ),
        ):
            models.append((f"{label}, seed {seed}", random_model(cfg, seed=100 + seed, weight_gain=gain)))
    return models


def int8_inputs(model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    return model.input_q.quantize(random_inputs(model.config, steps, seed=seed, scale=2.5)).astype(np.int64)


def free_running(backend_name: str, model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    """|backend - reference| of y over a free-running stream (each keeps its own state)."""
    ref, b = create_backend("reference", model), create_backend(backend_name, model)
    xs = int8_inputs(model, steps, seed)
    want, _ = ref.run(ref.zero_state(), xs)
    got, _ = b.run(b.zero_state(), xs)
    return np.abs(got - want).reshape(-1)


def fed_state(backend_name: str, model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    """|backend - reference| of y and each new h, the reference's state fed in every step."""
    ref, b = create_backend("reference", model), create_backend(backend_name, model)
    state = ref.zero_state()
    diffs = []
    for x in int8_inputs(model, steps, seed):
        y_ref, nxt = ref.step(state, x)
        y, got = b.step(state, x)
        diffs.append(y - y_ref)
        diffs.extend(g[0] - w[0] for g, w in zip(got, nxt))
        state = nxt
    return np.abs(np.concatenate(diffs))


def float_differences(models: list[tuple[str, QuantizedRNN]], steps: int, seed: int) -> dict[str, float]:
    """Max |export - numpy float| over y and every new h: step models with the float model's state
    fed in each step (on the saturating multi-layer model, where free-running float trajectories
    are chaotic), and the ONNX sequence graph free-running on the one-layer model."""
    model = models[-1][1]
    xs = random_inputs(model.config, steps, seed=seed)
    ref = create_backend("float", model)
    out = {}
    for label, backend in (
        ("tflite float32 / LiteRT (fed state)", TFLiteBackend(model, precision="float32")),
        ("tflite float32 / TFLite Micro (fed state)", TFLMBackend(model, precision="float32")),
        ("onnx float32 step / ORT (fed state)", OnnxBackend(model, precision="float32")),
    ):
        state, worst = ref.zero_state(), 0.0
        for x in xs:
            y_ref, nxt = ref.step(state, x)
            y, got = backend.step(state, x)
            worst = max(
                worst, float(np.abs(y - y_ref).max()), *(float(np.abs(g[0] - w[0]).max()) for g, w in zip(got, nxt))
            )
            state = nxt
        out[label] = worst
    single = models[0][1]
    xs = random_inputs(single.config, steps, seed=seed)
    want, _ = engine.run(FloatKernels(single), xs)
    out["onnx float32 sequence / ORT (1 layer, free-running)"] = float(
        np.abs(OnnxBackend(single, precision="float32").run_whole(xs) - want).max()
    )
    return out


def summarize(diffs: list[np.ndarray]) -> dict[str, Any]:
    d = np.concatenate(diffs)
    hist = {str(k): int((d == k).sum()) for k in range(int(d.max()) + 1)}
    return {
        "elements": int(d.size),
        "exact": float((d == 0).mean()),
        "within_1_lsb": float((d <= 1).mean()),
        "max_lsb": int(d.max()),
        "histogram": hist,
    }


def measure(steps: int, seeds: int) -> dict[str, Any]:
    rows = []
    floats: dict[str, float] = {}
    for cell in CellType:
        models = model_set(cell, seeds)
        for runtime, fn in (("tflm", free_running), ("tflite", fed_state), ("onnx", fed_state)):
            t0 = time.perf_counter()
            diffs = [fn(runtime, m, steps, i) for i, (_, m) in enumerate(models)]
            row = {"cell": cell.value, "runtime": runtime, "models": len(models), "steps": steps, **summarize(diffs)}
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            summary = f"exact {row['exact']:.5f} within1 {row['within_1_lsb']:.6f} max {row['max_lsb']}"
            print(f"{cell.value:5s} {runtime:7s} {summary}", flush=True)
        for label, value in float_differences(models, 500, 1).items():
            floats[f"{cell.value}: {label}"] = value
    return {"int8": rows, "float32_max_abs_diff": floats}


def _closure(requirements: list[str], exclude: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in requirements]
    while todo:
        req = todo.pop()
        name = re.split(r"[ ;<>=!~\[]", req, maxsplit=1)[0].strip().lower().replace("_", "-")
        if not name or name in seen or name in exclude:
            continue
        if ";" in req and "extra ==" in req:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [r for r in (dist.requires or []) if "extra ==" not in r]
    return seen


def _installed_bytes(name: str) -> int:
    dist = metadata.distribution(name)
    return sum((f.size or 0) for f in (dist.files or []))


def package_sizes() -> dict[str, Any]:
    """Installed size of each extra: the packages it adds on top of edgernn's own dependencies."""
    base = _closure(["numpy", "click", "safetensors", "tqdm", "jinja2"], set())
    out = {}
    for extra, reqs in (
        ("onnx", ["onnx", "onnxruntime"]),
        ("tflite", ["ai-edge-litert", "flatbuffers", "tflite-micro"]),
    ):
        names = sorted(_closure(reqs, base))
        sizes = {n: _installed_bytes(n) for n in names}
        out[extra] = {"packages": {n: {"version": metadata.version(n), "bytes": b} for n, b in sizes.items()}}
        out[extra]["total_bytes"] = sum(sizes.values())
    return out


def import_times(repeats: int = 3) -> dict[str, float]:
    """Median wall time of ``import <module>`` in a fresh interpreter (seconds)."""
    out = {}
    for module in (
        "edgernn.runtime.onnx_backend",
        "edgernn.runtime.tflite_backend",
        "edgernn.runtime.tflm_backend",
        "edgernn.export.onnx",
        "edgernn.export.tflite",
    ):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        runs = [
            float(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, text=True)) for _ in range(repeats)
        ]
        out[module] = round(sorted(runs)[len(runs) // 2], 3)
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Measured with `benchmarks/conformance_table.py` (edgernn {results['edgernn_version']}, "
        f"{results['steps']} steps per model, {results['models_per_cell']} random models per cell, "
        f"{results['versions']}).",
        "",
        "| format | cell | runtime | protocol | exact | within 1 LSB | max LSB diff |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"tflm": "TFLite Micro", "tflite": "LiteRT", "onnx": "ONNX Runtime"}
    for r in results["int8"]:
        fmt = "ONNX int8 (QDQ step graph)" if r["runtime"] == "onnx" else "TFLite int8 step model"
        protocol = "free-running stream" if r["runtime"] == "tflm" else "reference state fed each step"
        exact = "**bit-exact**" if r["max_lsb"] == 0 else f"{100 * r['exact']:.2f}%"
        lines.append(
            f"| {fmt} | {r['cell']} | {names[r['runtime']]} | {protocol} | {exact} | "
            f"{100 * r['within_1_lsb']:.3f}% | {r['max_lsb']} |"
        )
    lines += ["", "Distribution of |difference| in LSB (elements):", ""]
    for r in results["int8"]:
        if r["max_lsb"]:
            hist = ", ".join(f"{k}: {v}" for k, v in r["histogram"].items())
            lines.append(f"- {names[r['runtime']]} {r['cell']}: {hist}")
    lines += ["", "| float32 export | max abs diff vs numpy float |", "|---|---|"]
    lines += [f"| {k} | {v:.2e} |" for k, v in results["float32_max_abs_diff"].items()]
    lines += ["", "| extra | packages added | installed size |", "|---|---|---|"]
    for extra, info in results["package_sizes"].items():
        pk = ", ".join(f"{n} {p['version']} ({p['bytes'] / 1e6:.1f} MB)" for n, p in info["packages"].items())
        lines.append(f"| `[{extra}]` | {pk} | {info['total_bytes'] / 1e6:.1f} MB |")
    lines += ["", "| module | import time (fresh interpreter, median of 3) |", "|---|---|"]
    lines += [f"| `{m}` | {t * 1000:.0f} ms |" for m, t in results["import_seconds"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2, help="random models per configuration")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the table in docs/compatibility.md")
    args = parser.parse_args()
    versions = ", ".join(
        f"{n} {metadata.version(n)}" for n in ("onnxruntime", "ai-edge-litert", "tflite-micro", "numpy")
    )
    results: dict[str, Any] = {
        "edgernn_version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "versions": versions,
        "steps": args.steps,
        "models_per_cell": 2 * args.seeds,
    }
    results.update(measure(args.steps, args.seeds))
    results["package_sizes"] = package_sizes()
    results["import_seconds"] = import_times()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "conformance.json").write_text(json.dumps(results, indent=1) + "\n")
    table = markdown(results)
    (RESULTS / "conformance.md").write_text(table)
    print(table)
    if args.update_docs:
        text = DOC.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        DOC.write_text(text[:start] + "\n" + table + text[end:])


if __name__ == "__main__":
    main()
