"""Reproduce the published benchmark tables for edgernn's fixed model set.

    .venv/bin/python benchmarks/model_set.py                 # full run, writes benchmarks/results/
    .venv/bin/python benchmarks/model_set.py --quick         # smoke run (fewer steps, fewer models)

Models: GRU and LSTM at hidden 16/32/64/128 with 16 and 64 inputs, and an LSTM 32 with 7 inputs
shaped like the Keras weather example (Plumerai's and TFLite Micro's published figures). The weights
are random (seeded, PyTorch's initialization): latency and instruction counts do not depend on
their values, and accuracy is measured on trained models elsewhere (``edgernn demo``,
``tests/accuracy``). Each model gets a full ``edgernn bench`` report under
``benchmarks/results/<name>/`` (report.json and report.md; report.html with plots for the three
headline models); the summary tables go to ``benchmarks/results/model_set.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from edgernn.bench import BenchOptions, run_bench
from edgernn.bench.report import write_report
from edgernn.fileio import write_text_atomic
from edgernn.summary import format_table
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig, OutputMode

RESULTS = Path(__file__).with_name("results")
CMSIS_NN_LSTM_64_M4 = 99_573  # docs/benchmarks-anchors.md: arm_lstm_unidirectional_s8, 64 in / 64 hidden, one step
MCU_TARGETS = ("cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "aarch64", "armv7")


@dataclass(frozen=True)
class Entry:
    name: str
    config: ModelConfig
    mcu: bool  # count instructions and footprint on every core (the headline models)


def model_set(quick: bool) -> list[Entry]:
    entries = []
    hidden_sizes = (16, 64) if quick else (16, 32, 64, 128)
    for cell in (CellType.GRU, CellType.LSTM):
        for inputs in (16, 64):
            for hidden in hidden_sizes:
                config = ModelConfig(cell=cell, input_size=inputs, hidden_size=hidden, output_mode=OutputMode.SEQUENCE)
                entries.append(Entry(f"{cell.value}-{inputs}in-{hidden}h", config, inputs == 64 and hidden == 64))
    weather = ModelConfig(cell=CellType.LSTM, input_size=7, hidden_size=32, output_size=1, output_mode=OutputMode.LAST)
    entries.append(Entry("lstm-weather-7in-32h", weather, True))
    return entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--backends", default="reference,float,c,onnx,tflite,tflm")
    args = parser.parse_args()

    summary = []
    for entry in model_set(args.quick):
        print(f"== {entry.name}", file=sys.stderr, flush=True)
        model = random_model(entry.config, seed=0)
        fields = dict(
            backends=tuple(args.backends.split(",")), targets=MCU_TARGETS if entry.mcu else (), memory=entry.mcu
        )
        options = BenchOptions.quick_options(**fields) if args.quick else BenchOptions(**fields)
        bench = run_bench(model, options, progress=lambda m: print(f"   {m}", file=sys.stderr, flush=True))
        # HTML (with its embedded plots) only for the headline models, to keep the repository small.
        write_report(bench.report, bench.samples, args.output / entry.name, html=entry.mcu)
        summary.append({"name": entry.name, "report": bench.report.to_json()})
    write_text_atomic(args.output / "model_set.json", json.dumps(summary, indent=1, sort_keys=True))
    write_text_atomic(args.output / "model_set.md", render_summary(summary))
    print(render_summary(summary))
    return 0


def _latency(report: dict, name: str, mode: str = "step") -> dict | None:
    return next((r for r in report["latency"] if r["name"] == name and r["mode"] == mode), None)


def render_summary(summary: list[dict]) -> str:
    host_rows, mcu_rows = [], []
    for item in summary:
        report = item["report"]
        row: list = [item["name"], report["model"]["macs_per_step"]]
        for name in ("edgernn-c", "edgernn-reference", "pytorch-eager", "onnxruntime-torch-export", "edgernn-tflite"):
            r = _latency(report, name)
            row.append(None if r is None else f"{r['median_us']:.2f} ({r['ratio_to_fastest_peer']:.2f}x)")
        seq_c, seq_torch = (
            _latency(report, "edgernn-c", "sequence"),
            _latency(report, "pytorch-nn-sequence", "sequence"),
        )
        row.append(None if not (seq_c and seq_torch) else f"{seq_torch['median_us'] / seq_c['median_us']:.2f}x")
        host_rows.append(row)
        for m in report["mcu"]:
            mcu_rows.append(
                [
                    item["name"],
                    m["target"],
                    m["instructions_per_step"],
                    round(m["instructions_per_step"] / report["model"]["macs_per_step"], 2),
                    m["flash_bytes"],
                    m["ram_bytes"],
                    m["stack_bytes"],
                    m["runtime_code_bytes"],
                ]
            )
    machine = summary[0]["report"]["machine"] if summary else {}
    versions = machine.get("versions", {})
    lines = [
        "# edgernn model set",
        "",
        f"Machine: {machine.get('cpu', '?')}; " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
        "",
        "## Host, per step (median us, and ratio to the fastest peer in the same run)",
        "",
        "```",
        format_table(
            [
                "model",
                "MACs/step",
                "edgernn c",
                "edgernn reference",
                "pytorch eager",
                "onnxruntime",
                "edgernn tflite",
                "sequence: torch nn / edgernn c",
            ],
            host_rows,
        ),
        "```",
        "",
    ]
    if mcu_rows:
        lines += [
            f"## Microcontrollers and Pi (QEMU instruction counts; CMSIS-NN LSTM 64/64 on M4: {CMSIS_NN_LSTM_64_M4:,})",
            "",
            "```",
            format_table(
                ["model", "target", "instructions/step", "per MAC", "flash B", "RAM B", "stack B", "runtime code B"],
                mcu_rows,
            ),
            "```",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
