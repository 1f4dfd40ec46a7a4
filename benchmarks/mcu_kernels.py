"""Instructions per int8 RNN step on every emulated core, beside CMSIS-NN (issue 8).

    .venv/bin/python benchmarks/mcu_kernels.py                       # every model, every core
    .venv/bin/python benchmarks/mcu_kernels.py --targets cortex-m4 --models lstm-64x64
    .venv/bin/python benchmarks/mcu_kernels.py --output benchmarks/results   # also writes mcu_kernels.{json,md}

Each model (random weights, seeded; the count does not depend on their values) is exported for each
core (its weights packed for that core) and run in the step harness of :mod:`edgernn.targets`
(arm-none-eabi-gcc -O2, the project's QEMU boards); the counting plugin
(firmware_export/tools/insncount.c) counts every instruction from the step function's entry to its
return, callees included, exactly and repeatably.

On the Cortex-M4 the same run also yields a cycle ESTIMATE: every executed instruction is classified by
mnemonic and weighted with the Cortex-M4 Technical Reference Manual's timings (see
:mod:`benchmarks.m4_cycles`). QEMU does not model the pipeline, memory wait states or flash
accelerators; the estimate is for holding the figures beside published milliseconds, never a
measurement.

CMSIS-NN's figures are quoted, not built here: docs/benchmarks-anchors.md, CMSIS-NN at commit 99f736a,
built with edgernn's QEMU boards and -O2, fed the same model's weights (outputs bit-equal), counted
with the same plugin.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from footprint import provenance  # noqa: E402  (benchmarks/ is not a package)

from edgernn import targets  # noqa: E402
from edgernn.export import ExportOptions, export_model  # noqa: E402
from edgernn.fileio import write_text_atomic  # noqa: E402
from edgernn.testing import random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig, OutputMode  # noqa: E402

RESULTS = Path(__file__).with_name("results")
CORES = ("cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")

CMSIS_NN_PROVENANCE = (
    "CMSIS-NN 99f736a, built with edgernn's QEMU boards, -O2, counted with edgernn's insncount plugin "
    "(docs/benchmarks-anchors.md, 2026-11-30); not built by this script"
)
#: CMSIS-NN ``arm_lstm_unidirectional_s8``, int8, 64 inputs / 64 hidden, one step with state.
CMSIS_NN = {
    "lstm-64x64": {
        "cortex-m3": 135_012,
        "cortex-m4": 99_573,
        "cortex-m7": 99_096,
        "cortex-m33": 99_900,
        "cortex-m55": 32_999,
    },
}

#: Issue 8's targets (instructions per step).
TARGETS = {
    ("lstm-64x64", "cortex-m4"): 50_000,
    ("lstm-64x64", "cortex-m7"): 50_000,
    ("lstm-64x64", "cortex-m33"): 50_000,
    ("gru-64x64", "cortex-m4"): 40_000,
    ("gru-64x64", "cortex-m7"): 40_000,
    ("gru-64x64", "cortex-m33"): 40_000,
    ("lstm-64x64", "cortex-m55"): 25_000,
    ("gru-64x64", "cortex-m55"): 20_000,
    ("lstm-weather-7x32", "cortex-m4"): 12_000,
}

MODELS = {
    "lstm-64x64": ModelConfig(cell=CellType.LSTM, input_size=64, hidden_size=64, output_mode=OutputMode.SEQUENCE),
    "gru-64x64": ModelConfig(cell=CellType.GRU, input_size=64, hidden_size=64, output_mode=OutputMode.SEQUENCE),
    "elman-64x64": ModelConfig(cell=CellType.RNN, input_size=64, hidden_size=64, output_mode=OutputMode.SEQUENCE),
    # The Keras weather example's shape (Plumerai's published figure): LSTM 32, 7 features, Dense 1.
    "lstm-weather-7x32": ModelConfig(
        cell=CellType.LSTM, input_size=7, hidden_size=32, output_size=1, output_mode=OutputMode.LAST
    ),
    # Odd sizes: nothing in the kernels may fall to a slow path for them.
    "gru-13x37-2layers-head5": ModelConfig(
        cell=CellType.GRU, input_size=13, hidden_size=37, num_layers=2, output_size=5, output_mode=OutputMode.LAST
    ),
}


def macs_per_step(config: ModelConfig) -> int:
    """Multiply-accumulates of one step, the head included."""
    head = (config.output_size or 0) * config.hidden_size * config.num_directions
    return config.macs_per_step + head


def measure(names: list[str], cores: list[str], steps: int, estimate: bool) -> dict[str, object]:
    results: dict[str, object] = {"provenance": provenance(), "steps": steps, "models": {}}
    with tempfile.TemporaryDirectory(prefix="edgernn-mcu-kernels-") as tmp:
        for name in names:
            config = MODELS[name]
            model = random_model(config, seed=0)
            entry: dict[str, object] = {"config": config.to_json(), "macs_per_step": macs_per_step(config), "cores": {}}
            for core in cores:
                print(f"{name} on {core}", file=sys.stderr, flush=True)
                export_dir = Path(tmp) / name / core / "export"
                export_model(model, "c", export_dir, ExportOptions(prefix="model", target=core))
                build_dir = Path(tmp) / name / core / "build"
                m = targets.measure_export_step(export_dir, core, steps=steps, build_dir=build_dir)
                row: dict[str, object] = {
                    "instructions_per_step": m.instructions_per_step,
                    "runtime_flash": m.runtime_size.flash,
                    "weight_bytes": m.weight_bytes,
                    "ram_bytes": m.instance_ram,
                    "stack_bytes": m.step_stack_bytes,
                }
                if estimate and core == "cortex-m4":
                    from m4_cycles import estimate_step_cycles

                    row["m4_cycles_estimate"] = estimate_step_cycles(export_dir, build_dir, steps)
                entry["cores"][core] = row  # type: ignore[index]
            results["models"][name] = entry  # type: ignore[index]
    return results


def render(results: dict) -> str:
    p = results["provenance"]
    lines = [
        "# int8 RNN step on Cortex-M: instructions per step (issue 8)",
        "",
        f"Generated by `{p['command'].strip().replace('footprint.py', 'mcu_kernels.py')}` on {p['date']} "
        f"(edgernn {p['edgernn_version']}, commit {p['git_commit'][:12]}"
        f"{' + local changes' if p['git_dirty'] else ''}). Compiler: {p['arm_none_eabi_gcc']}, -O2. "
        f"Emulator: {p['qemu']}. Exact counts of the QEMU TCG plugin, step entry to return, callees included.",
        "",
        f"CMSIS-NN: `arm_lstm_unidirectional_s8`, {CMSIS_NN_PROVENANCE}.",
        "",
        "| model | MACs | core | instructions / step | per MAC | target | CMSIS-NN | edgernn / CMSIS-NN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["models"].items():
        macs = entry["macs_per_step"]
        for core, row in entry["cores"].items():
            n = row["instructions_per_step"]
            cmsis = CMSIS_NN.get(name, {}).get(core)
            target = TARGETS.get((name, core))
            lines.append(
                f"| {name} | {macs:,} | {core} | {n:,.0f} | {n / macs:.2f} | "
                f"{f'<= {target:,}' if target else ''} | {f'{cmsis:,}' if cmsis else ''} | "
                f"{f'{n / cmsis:.2f}' if cmsis else ''} |"
            )
    estimates = [
        (name, entry["macs_per_step"], entry["cores"]["cortex-m4"]["m4_cycles_estimate"])
        for name, entry in results["models"].items()
        if "m4_cycles_estimate" in entry["cores"].get("cortex-m4", {})
    ]
    if estimates:
        lines += [
            "",
            "## Cortex-M4 cycles per step: an ESTIMATE, not a measurement",
            "",
            "Every executed instruction of the step weighted with the Cortex-M4 TRM (r0p1) timings "
            "(benchmarks/m4_cycles.py: zero-wait-state memory, taken branches 1 + 2 cycles, loads pipelined "
            "after a load/store). Published anchors for the weather shape: Plumerai ~9.2k cycles per step, "
            "TFLite Micro + CMSIS-NN ~27.5k (120 steps at 120 MHz, STM32L4R9).",
            "",
            "| model | estimated cycles / step | per MAC | ms for 120 steps at 120 MHz |",
            "|---|---|---|---|",
        ]
        for name, macs, cycles in estimates:
            lines.append(f"| {name} | {cycles:,.0f} | {cycles / macs:.2f} | {cycles * 120 / 120e6 * 1e3:.2f} |")
    lines += [
        "",
        "## Footprint (as linked in the step harness, -O2)",
        "",
        "| model | core | runtime flash B | weights B | RAM B (state + scratch) | stack B / step |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in results["models"].items():
        for core, row in entry["cores"].items():
            lines.append(
                f"| {name} | {core} | {row['runtime_flash']:,} | {row['weight_bytes']:,} | {row['ram_bytes']:,} | "
                f"{row['stack_bytes'] if row['stack_bytes'] is not None else ''} |"
            )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(CORES), help="comma-separated cores")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--steps", type=int, default=16, help="steps per counted run (default 16)")
    parser.add_argument("--no-estimate", action="store_true", help="skip the Cortex-M4 cycle estimate")
    parser.add_argument("--output", type=Path, default=None, help="folder for mcu_kernels.{json,md}")
    args = parser.parse_args()
    cores = [t for t in args.targets.split(",") if t]
    for t in cores:
        targets.require_tools(t)
    results = measure([n for n in args.models.split(",") if n], cores, args.steps, not args.no_estimate)
    text = render(results)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.output / "mcu_kernels.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
        write_text_atomic(args.output / "mcu_kernels.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
