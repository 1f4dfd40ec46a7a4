"""Where a forecaster's int8 error comes from: the float model with one rounding point at a time.

Takes the float checkpoints ``benchmarks/accuracy.py --save-checkpoints DIR`` wrote for a regression
dataset (elecdemand by default), quantizes each as the benchmark does (same training split), and
scores the test split with the float model and with single quantization stages switched on:

* the head's output rounded to its int8 grid (``--head-bits 8``'s scale and zero point);
* the input rounded to its int8 grid;
* the hidden state rounded to its int8 grid after every step (fed back so; float cells otherwise);
* the cells' int8 weights (float arithmetic otherwise); the head reading int8 hidden values; the
  head's int8 weights and int32 bias (exact accumulator);
* the integer reference cells (every rounding point of the cells) with a float head;
* the whole int8 model with an int8 head output, and with the int16 head output (the default for
  regression heads, ``QuantizeOptions.head_output_bits``); every stage above reads the int8 input;
* the whole model with the int16 head output and an int16 input (the default for regression models,
  ``QuantizeOptions.input_bits``).

    python benchmarks/accuracy.py --datasets elecdemand --save-checkpoints /tmp/ckpt --output-dir /tmp/acc
    python benchmarks/int8_error.py --checkpoints /tmp/ckpt

Writes ``int8_error.json`` and ``int8_error.md`` to ``--output-dir`` (benchmarks/results by default).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from accuracy import CELLS, PLANS, _commit, _subset  # noqa: E402

from edgernn.data import split  # noqa: E402
from edgernn.datasets import chunk, load_dataset  # noqa: E402
from edgernn.floatmodel import FloatParams, float_cell_step  # noqa: E402
from edgernn.ir import FloatCellWeights, QParams, QuantizedRNN  # noqa: E402
from edgernn.pipeline import SPLIT_FRACTIONS  # noqa: E402
from edgernn.quant.quantizer import quantize_weight  # noqa: E402
from edgernn.reference.cells import dense  # noqa: E402
from edgernn.reference.model import ReferenceKernels  # noqa: E402
from edgernn.types import CellType  # noqa: E402


@dataclass(frozen=True)
class Stage:
    """Which rounding points are on. cells: "float", "float-h8" (h rounded to int8 each step) or "int"."""

    cells: str = "float"
    cell_weights_int8: bool = False  # float cells with the quantizer's int8 weights (one scale per gate matrix)
    input_int8: bool = False
    head_reads_int8: bool = False
    head: str = "float"  # "float" | "int8-weights" (integer accumulator, exact rescale) | "int8" | "int16"
    output_int8_grid: bool = False
    input16: bool = False  # cells "int": the model quantized with a 16-bit input (QuantizeOptions.input_bits 16)


STAGES = {
    "float": Stage(),
    "output rounded to the int8 output grid": Stage(output_int8_grid=True),
    "input int8": Stage(input_int8=True),
    "hidden state int8 (fed back)": Stage(cells="float-h8"),
    "cell weights int8": Stage(cell_weights_int8=True),
    "head reads int8 h": Stage(head_reads_int8=True),
    "head int8 weights, exact accumulator": Stage(head="int8-weights"),
    "input int8 + hidden int8": Stage(cells="float-h8", input_int8=True),
    "integer cells, float head": Stage(cells="int"),
    "int8 model, int8 head output": Stage(cells="int", head="int8"),
    "int8 model, int16 head output": Stage(cells="int", head="int16"),
    "int8 model, int16 head output, **int16 input**": Stage(cells="int", head="int16", input16=True),
}


def _round(q: QParams, x: np.ndarray) -> np.ndarray:
    return q.dequantize(q.quantize(x))


def int8_cell_weights(w: FloatCellWeights, gates: int) -> FloatCellWeights:
    """The cell's weights as the quantizer rounds them: symmetric int8, one scale per gate matrix."""

    def rounded(m: np.ndarray) -> np.ndarray:
        blocks = []
        for block in np.split(m, gates):
            q, scale = quantize_weight(block, per_channel=False)
            blocks.append(q.astype(np.float32) * scale[:, None])
        return np.concatenate(blocks)

    return FloatCellWeights(rounded(w.weight_ih), rounded(w.weight_hh), w.bias_ih, w.bias_hh)


def run(
    model8: QuantizedRNN, model16: QuantizedRNN, model_in16: QuantizedRNN, seq: np.ndarray, stage: Stage
) -> np.ndarray:
    """Outputs ``(T, out)`` of one test stream (a one-layer unidirectional model) under ``stage``.
    ``model8``/``model16``: the same weights quantized with an int8 input and an int8 / int16 head
    output; ``model_in16``: with an int16 input and an int16 head output."""
    if stage.input16:
        model8 = model16 = model_in16
    fp = FloatParams.of(model8)
    cfg = model8.config
    lay = model8.layers[0]
    kernels = ReferenceKernels(model8)
    x = ((seq - model8.input_mean) / model8.input_std).astype(np.float32)
    state_f: tuple[np.ndarray, ...] = (np.zeros(cfg.hidden_size, np.float32),) * (2 if cfg.cell is CellType.LSTM else 1)
    state_i = kernels.zero_state(0, ())
    weights = fp.cells[0][0]
    if stage.cell_weights_int8:
        weights = int8_cell_weights(weights, cfg.cell.gates)
    ys = []
    for xt in x:
        if stage.cells == "int":
            state_i = kernels.cell(0, 0, lay.input_q.quantize(xt, model8.input_bits).astype(np.int64), state_i)
            h8 = state_i[0]
            h = lay.hidden_q.dequantize(h8)
        else:
            xin = _round(lay.input_q, xt) if stage.input_int8 else xt
            state_f, _ = float_cell_step(cfg.cell, weights, xin, state_f)
            state_f = tuple(s.astype(np.float32) for s in state_f)
            if stage.cells == "float-h8":
                state_f = (_round(lay.hidden_q, state_f[0]), *state_f[1:])
            h = state_f[0]
            h8 = lay.hidden_q.quantize(h).astype(np.int64)
            if stage.head_reads_int8:
                h = lay.hidden_q.dequantize(h8)
        if stage.head in ("int8", "int16"):
            model = model8 if stage.head == "int8" else model16
            assert model.head is not None
            y = model.head.output_q.dequantize(dense(model.head, h8))
        elif stage.head == "int8-weights":
            assert model8.head is not None
            fc = model8.head.fc
            acc = (h8 - fc.input_zero_point) @ fc.weight.astype(np.int64).T + fc.bias
            y = acc * (lay.hidden_q.scale * fc.weight_scale.astype(np.float64))
        else:
            y = h @ fp.head_weight.T + fp.head_bias
        if stage.output_int8_grid:
            assert model8.head is not None
            y = _round(model8.head.output_q, y)
        ys.append(y)
    return np.asarray(ys)


def main(argv: list[str] | None = None) -> int:
    from edgernn.models import load_checkpoint
    from edgernn.quant import QuantizeOptions
    from edgernn.quant.from_torch import quantize

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, required=True, help="accuracy.py --save-checkpoints folder")
    parser.add_argument("--dataset", default="elecdemand")
    parser.add_argument("--cells", default="gru,lstm,rnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)

    plan = PLANS[args.dataset]
    full = load_dataset(args.dataset)
    train_data, _, test_data = split(full, SPLIT_FRACTIONS, seed=args.seed)
    if plan.train_chunk is not None:
        train_data = chunk(train_data, plan.train_chunk)
    train_data = _subset(train_data, plan.max_train, args.seed)
    test_data = _subset(test_data, plan.max_test, args.seed)
    rows = []
    for cell in args.cells.split(","):
        hidden = plan.hidden[0]
        ckpt = load_checkpoint(args.checkpoints / f"{args.dataset}-{cell}{hidden}.safetensors")
        model8 = quantize(ckpt, train_data, options=QuantizeOptions(head_output_bits=8, input_bits=8))
        model16 = quantize(ckpt, train_data, options=QuantizeOptions(head_output_bits=16, input_bits=8))
        model_in16 = quantize(ckpt, train_data, options=QuantizeOptions(head_output_bits=16, input_bits=16))
        maes = {}
        for name, stage in STAGES.items():
            errors = [
                np.abs(
                    run(model8, model16, model_in16, s, stage).reshape(len(s), -1) - np.asarray(t).reshape(len(s), -1)
                )
                for s, t in zip(test_data.sequences, test_data.targets)
            ]
            maes[name] = float(np.concatenate(errors).mean())
            print(f"{args.dataset} {CELLS[cell]:5s} {name:40s} MAE {maes[name]:.5f}", flush=True)
        assert model8.head is not None and model16.head is not None
        rows.append(
            {
                "cell": cell,
                "hidden": hidden,
                "mae": maes,
                "input_scale": model8.input_q.scale,
                "hidden_scale": model8.layers[0].hidden_q.scale,
                "int8_output_scale": model8.head.output_q.scale,
                "int8_output_zero_point": model8.head.output_q.zero_point,
                "int16_output_scale": model16.head.output_q.scale,
                "int16_input_scale": model_in16.input_q.scale,
            }
        )
    command = "python benchmarks/int8_error.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"dataset": args.dataset, "commit": _commit(), "command": command, "rows": rows}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "int8_error.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    (args.output_dir / "int8_error.md").write_text(render(result))
    return 0


def render(result: dict) -> str:
    rows = result["rows"]
    lines = [
        f"# Where the int8 error of a forecaster comes from ({result['dataset']})",
        "",
        "Generated by `benchmarks/int8_error.py`; do not edit. Test-split MAE of the float model with one",
        "quantization stage at a time (percent: relative to the float MAE), then the whole int8 model with",
        "an int8 and with an int16 head output, and with an int16 head output and an int16 input (the",
        "regression defaults).",
        "",
        f"Run: `{result['command']}` at `{result['commit']}`.",
        "",
        "| stage | " + " | ".join(f"{CELLS[r['cell']]}-{r['hidden']}" for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]
    for name in STAGES:
        cells = []
        for r in rows:
            mae, base = r["mae"][name], r["mae"]["float"]
            cells.append(f"{mae:.4f} ({100 * (mae / base - 1):+.2f}%)" if name != "float" else f"{mae:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Scales (data units):", ""]
    for r in rows:
        lo = r["int8_output_scale"] * (-128 - r["int8_output_zero_point"])
        hi = r["int8_output_scale"] * (127 - r["int8_output_zero_point"])
        lines.append(
            f"- {CELLS[r['cell']]}: input step {r['input_scale']:.4g} (normalized units), hidden step "
            f"{r['hidden_scale']:.4g}; int8 output step {r['int8_output_scale']:.4g} over [{lo:.3g}, {hi:.3g}], "
            f"int16 output step {r['int16_output_scale']:.3g}"
            + (f"; int16 input step {r['int16_input_scale']:.3g}" if "int16_input_scale" in r else "")
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
