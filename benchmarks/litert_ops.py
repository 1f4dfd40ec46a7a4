"""Which LiteRT kernels differ from the integer reference, op by op, and with which rounding.

LiteRT runs the exported int8 step model free-running (its own state) with every intermediate
tensor preserved; after each invoke, every operator's output is recomputed from LiteRT's own
input tensors with :mod:`edgernn.fixedpoint` (TFLite Micro's arithmetic) and compared. So a
difference is charged to the op that makes it, not to the ops downstream of it. For
FULLY_CONNECTED and MUL the output is also recomputed with single rounding (one rounding shift
of the 64-bit product, as TFLite builds with ``TFLITE_SINGLE_ROUNDING``) to tell the two apart;
FULLY_CONNECTED also with the int64-accumulator form of TFLite's 16x8 kernels (the multiplier
rounded to 16 bits, one rounding shift); LOGISTIC/TANH with the correctly rounded float function. The fused LSTM op is
compared as a whole (its sub-steps are not tensors).

    .venv/bin/python benchmarks/litert_ops.py [--steps 1000]    # writes benchmarks/results/litert_ops.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

from edgernn import fixedpoint as fp  # noqa: E402
from edgernn.export import tflite as tflite_export  # noqa: E402
from edgernn.ir import QuantizedRNN  # noqa: E402
from edgernn.reference.cells import lstm_step  # noqa: E402
from edgernn.runtime.tflite_backend import TFLiteBackend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RESOLVERS = {
    "default (BUILTIN)": OpResolverType.BUILTIN,
    "BUILTIN_WITHOUT_DEFAULT_DELEGATES": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    "BUILTIN_REF": OpResolverType.BUILTIN_REF,
}
_RANGE = {np.dtype(np.int8): (fp.INT8_MIN, fp.INT8_MAX), np.dtype(np.int16): (fp.INT16_MIN, fp.INT16_MAX)}


def single_rounding_mbqm(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier built with TFLITE_SINGLE_ROUNDING: round half up once."""
    total = 31 - np.asarray(shift, np.int64)
    return (np.asarray(x, np.int64) * np.asarray(multiplier, np.int64) + (np.int64(1) << (total - 1))) >> total


def reduced_multiplier_mbqm(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's ``MultiplyByQuantizedMultiplier(int64_t x, ...)`` (the 16x8 kernels' int64
    accumulator form): the Q31 multiplier rounded to 16 bits, then one rounding shift."""
    m = np.asarray(multiplier, np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - np.asarray(shift, np.int64)
    return (np.asarray(x, np.int64) * reduced + (np.int64(1) << (total - 1))) >> total


class _Tensors:
    def __init__(self, interpreter: Interpreter) -> None:
        self.it = interpreter
        self.details = {d["index"]: d for d in interpreter.get_tensor_details()}

    def value(self, i: int) -> np.ndarray:
        return self.it.get_tensor(i).astype(np.int64)

    def q(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        p = self.details[i]["quantization_parameters"]
        return p["scales"].astype(np.float64), p["zero_points"].astype(np.int64)

    def dtype(self, i: int) -> np.dtype:
        return np.dtype(self.details[i]["dtype"])


def _rescales(a: np.ndarray, b: float | np.ndarray, out: float) -> tuple[np.ndarray, np.ndarray]:
    pairs = [fp.multiplier_from_scales(float(x), float(y), out) for x, y in np.broadcast(a, b)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def expected(op: str, ins: list[int], out: int, t: _Tensors) -> dict[str, np.ndarray] | None:
    """The output the reference arithmetic gives from LiteRT's inputs: ``{"double": ...}`` and,
    where a single-rounding variant exists, ``"single"``; LUT ops add ``"float"``."""
    lo, hi = _RANGE[t.dtype(out)]
    (s_out,), (zp_out,) = t.q(out)
    if op == "FULLY_CONNECTED":
        x, w = t.value(ins[0]), t.value(ins[1])
        (s_x,), (zp_x,) = t.q(ins[0])
        s_w, _ = t.q(ins[1])
        acc = (x - zp_x) @ w.T + (t.value(ins[2]) if ins[2] >= 0 else 0)
        m, s = _rescales(np.float64(s_x), s_w, s_out)
        return {
            "double": fp.requantize(acc, m, s, zp_out, lo, hi),
            "single": np.clip(single_rounding_mbqm(acc, m, s) + zp_out, lo, hi),
            "reduced": np.clip(reduced_multiplier_mbqm(acc, m, s) + zp_out, lo, hi),
        }
    if op == "MUL":
        (s_a,), (zp_a,) = t.q(ins[0])
        (s_b,), (zp_b,) = t.q(ins[1])
        prod = (t.value(ins[0]) - zp_a) * (t.value(ins[1]) - zp_b)
        m, s = fp.multiplier_from_scales(s_a, s_b, s_out)
        return {
            "double": fp.requantize(prod, m, s, zp_out, lo, hi),
            "single": np.clip(single_rounding_mbqm(prod, np.int64(m), np.int64(s)) + zp_out, lo, hi),
        }
    if op in ("ADD", "SUB"):
        assert all(t.q(i)[0][0] == s_out for i in ins), "the exporter's int16 ADD/SUB have equal scales"
        a, b = t.value(ins[0]), t.value(ins[1])
        return {"double": np.clip(a + b if op == "ADD" else a - b, lo, hi)}
    if op == "QUANTIZE":
        (s_in,), (zp_in,) = t.q(ins[0])
        m, s = fp.multiplier_from_scales(s_in, 1.0, s_out)
        x = t.value(ins[0]) - zp_in
        return {
            "double": fp.requantize(x, m, s, zp_out, lo, hi),
            "single": np.clip(single_rounding_mbqm(x, np.int64(m), np.int64(s)) + zp_out, lo, hi),
        }
    if op in ("LOGISTIC", "TANH"):
        (s_in,), _ = t.q(ins[0])
        assert s_in == 2.0**fp.GATE_INPUT_SCALE_POWER, "gate activations read Q3.12"
        x = t.value(ins[0])
        fn = fp.sigmoid_int16 if op == "LOGISTIC" else fp.tanh_int16
        real = 1 / (1 + np.exp(-x / 4096.0)) if op == "LOGISTIC" else np.tanh(x / 4096.0)
        return {"double": fn(x), "float": np.clip(np.round(real * 32768), lo, hi).astype(np.int64)}
    return None  # GATHER, the fused LSTM (compared as a whole)


def per_op(model: QuantizedRNN, resolver: OpResolverType, steps: int, seed: int) -> dict[str, dict[str, Any]]:
    backend = TFLiteBackend(model)
    data = tflite_export.build(model, "int8").data
    backend.interpreter = Interpreter(
        model_content=data,
        num_threads=1,
        experimental_op_resolver_type=resolver,
        experimental_preserve_all_tensors=True,
    )
    backend.interpreter.allocate_tensors()
    t = _Tensors(backend.interpreter)
    ops = backend.interpreter._get_ops_details()
    stats: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    raw = random_inputs(model.config, steps, seed=seed, scale=2.5)
    xs = model.input_q.quantize(raw, model.input_bits).astype(np.int64)
    state = backend.zero_state()
    for x in xs:
        previous = state
        _, state = backend.step(state, x)
        for op in ops:
            name, ins, (out,) = op["op_name"], list(op["inputs"]), list(op["outputs"])
            got = t.value(out)
            if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
                k = [i for i, layer in enumerate(model.layers)][
                    sum(1 for o in ops[: op["index"]] if o["op_name"] == name)
                ]
                cell = model.layers[k].directions[0].quant
                h, c = previous[k]
                want = {"double": lstm_step(cell, t.value(ins[0]).reshape(-1), h, c, model.layers[k].hidden_q)[0]}
                got = got.reshape(-1)
            else:
                want = expected(name, ins, out, t)  # type: ignore[assignment]
            if want is None:
                continue
            key = name + (f" ({t.dtype(ins[0]).name} in)" if name == "QUANTIZE" else "")
            s = stats[key]
            d = np.abs(got - want["double"])
            s["elements"] += d.size
            s["differ"] += int((d > 0).sum())
            s["max_lsb"] = max(s["max_lsb"], int(d.max()))
            for variant in ("single", "reduced", "float"):
                if variant in want:
                    s[f"differ_from_{variant}"] += int((got != want[variant]).sum())
    return {k: dict(v) for k, v in stats.items()}


def models() -> list[tuple[str, QuantizedRNN]]:
    out = []
    for cell in CellType:
        out.append(
            (f"{cell.value} 1 layer H=32", random_model(ModelConfig(cell=cell, input_size=8, hidden_size=32), seed=100))
        )
        cfg = ModelConfig(cell=cell, input_size=6, hidden_size=24, num_layers=2, output_size=4)
        out.append((f"{cell.value} 2 layers H=24 + head, gain 6", random_model(cfg, seed=100, weight_gain=6.0)))
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Per-op comparison of LiteRT ({results['litert']}) with the integer reference, each op recomputed "
        f"from LiteRT's own inputs; {results['steps']} free-running steps per model "
        "(`benchmarks/litert_ops.py`).",
        "",
        "| resolver | model | op | outputs | differ | max LSB | differ from single rounding "
        "| differ from 16-bit multiplier, single rounding | differ from float |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['resolver']} | {r['model']} | {r['op']} | {r['elements']} | {r['differ']} | {r['max_lsb']} | "
            + " | ".join(str(r.get(f"differ_from_{v}", "")) for v in ("single", "reduced", "float"))
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    from importlib import metadata

    rows = []
    for label, model in models():
        for resolver_label, resolver in RESOLVERS.items():
            for op, s in per_op(model, resolver, args.steps, seed=1).items():
                rows.append({"resolver": resolver_label, "model": label, "op": op, **s})
                print(rows[-1], flush=True)
    results = {"litert": f"ai-edge-litert {metadata.version('ai-edge-litert')}", "steps": args.steps, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "litert_ops.json").write_text(json.dumps(results, indent=1) + "\n")
    table = markdown(results)
    (RESULTS / "litert_ops.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
