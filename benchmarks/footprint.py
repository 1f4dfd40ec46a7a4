"""Footprint and per-step instruction counts of the int8 GRU 64/64 and LSTM 64/64 on emulated cores.

    .venv/bin/python benchmarks/footprint.py                   # every core, writes benchmarks/results/
    .venv/bin/python benchmarks/footprint.py --targets cortex-m4

For each model (random weights, seeded; cost does not depend on their values) the C export is
built into a step harness for each target (``edgernn.targets.measure_export_step``):

* instructions per step: exact counts from QEMU's TCG plugin (firmware_export/tools/insncount.c),
  from the first instruction of ``model_step`` to its return (runtime callees included), averaged
  over the steps; two runs must agree exactly;
* flash: the runtime and the model as linked (arm-none-eabi-gcc -O2, --gc-sections; from the
  linker map), of which weights and of which runtime code;
* RAM: one model instance (recurrent state + scratch; the runtime has no static data);
* stack: the high-water mark of one step, by stack painting on the board;
* runtime alone: every int8 runtime source compiled without a model, summed over the objects.

CMSIS-NN's ``arm_lstm_unidirectional_s8`` (docs/benchmarks-anchors.md) is quoted beside the LSTM.
Each target gets its own export (the int8 weights are packed for the core).
Writes ``benchmarks/results/footprint.json`` and ``footprint.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from edgernn import __version__, targets
from edgernn.export import ExportOptions, export_model
from edgernn.fileio import write_text_atomic
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

RESULTS = Path(__file__).with_name("results")
REPO = Path(__file__).resolve().parents[1]
FOOTPRINT_TARGET = "cortex-m4"

#: docs/benchmarks-anchors.md (measured 2026-11-30): CMSIS-NN 99f736a arm_lstm_unidirectional_s8, 64 in /
#: 64 hidden, one step with state, built with edgernn's QEMU boards at -O2 and counted with edgernn's plugin
#: (the same method; not built here).
CMSIS_NN_LSTM_64 = {
    "cortex-m3": 135_012,
    "cortex-m4": 99_573,
    "cortex-m7": 99_096,
    "cortex-m33": 99_900,
    "cortex-m55": 32_999,
}

MODELS = {
    "gru-64x64": ModelConfig(cell=CellType.GRU, input_size=64, hidden_size=64),
    "lstm-64x64": ModelConfig(cell=CellType.LSTM, input_size=64, hidden_size=64),
}


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return "missing"
    return out.splitlines()[0].strip() if out else "unknown"


def provenance() -> dict[str, object]:
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    dirty = bool(
        subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    )
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "edgernn_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "host": f"{platform.system()} {platform.machine()}",
        "arm_none_eabi_gcc": _first_line(["arm-none-eabi-gcc", "--version"]),
        "aarch64_gcc": _first_line(["aarch64-linux-gnu-gcc", "--version"]),
        "armhf_gcc": _first_line(["arm-linux-gnueabihf-gcc", "--version"]),
        "qemu": _first_line(["qemu-system-arm", "--version"]),
        "command": "python benchmarks/footprint.py " + " ".join(sys.argv[1:]),
    }


def measure(names: list[str], target_names: list[str], steps: int) -> dict[str, object]:
    results: dict[str, object] = {"models": {}, "provenance": provenance(), "steps": steps}
    with tempfile.TemporaryDirectory(prefix="edgernn-footprint-") as tmp:
        for name in names:
            config = MODELS[name]
            model = random_model(config, seed=0)
            export_dir = Path(tmp) / name
            export_model(model, "c", export_dir, ExportOptions(prefix="model", target=FOOTPRINT_TARGET))
            sources, _ = targets.export_sources(export_dir)
            runtime_sources = [s for s in sources if s.name != "model_model.c"]
            entry: dict[str, object] = {
                "config": config.to_json(),
                "macs_per_step": config.macs_per_step,
                "model_sha256": model.sha256,
                "runtime_alone": {
                    opt: _size(targets.runtime_code_size(FOOTPRINT_TARGET, opt=opt, sources=runtime_sources))
                    for opt in ("-Os", "-O2")
                },
                "linked_os": _linked_os(export_dir, runtime_sources, Path(tmp) / name / "os"),
                "targets": {},
            }
            for target in target_names:
                print(f"{name} on {target}", file=sys.stderr, flush=True)
                # the int8 weights are packed for the core (edgernn.export.c_packing): one export per target
                target_export = Path(tmp) / name / f"export-{target}"
                export_model(model, "c", target_export, ExportOptions(prefix="model", target=target))
                m = targets.measure_export_step(target_export, target, steps=steps, build_dir=Path(tmp) / name / target)
                entry["targets"][target] = m.to_json()  # type: ignore[index]
            results["models"][name] = entry  # type: ignore[index]
    return results


def _linked_os(export_dir: Path, runtime_sources: list[Path], build_dir: Path) -> dict[str, dict[str, int]]:
    """Runtime and runtime + model as linked for this model at -Os on the footprint target."""
    build = targets.build_step_harness(export_dir, FOOTPRINT_TARGET, build_dir, opt="-Os")
    sources, _ = targets.export_sources(export_dir)
    return {
        "runtime": _size(targets.linked_sizes(build, runtime_sources)),
        "runtime_and_model": _size(targets.linked_sizes(build, sources)),
    }


def _size(info: targets.SizeInfo) -> dict[str, int]:
    return {"text": info.text, "data": info.data, "bss": info.bss, "flash": info.flash, "ram": info.ram}


def _md_table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return "" if v is None else f"{v:,}" if isinstance(v, int) else str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def render(results: dict) -> str:
    p = results["provenance"]
    lines = [
        "# Footprint and instructions per step: int8 GRU 64/64 and LSTM 64/64",
        "",
        f"Generated by `{p['command'].strip()}` on {p['date']} (edgernn {p['edgernn_version']}, "
        f"commit {p['git_commit'][:12]}{' + local changes' if p['git_dirty'] else ''}).",
        f"Compilers: {p['arm_none_eabi_gcc']}; {p['aarch64_gcc']}; {p['armhf_gcc']}. Emulator: {p['qemu']}.",
        "",
        f"## Footprint on {FOOTPRINT_TARGET} (QEMU mps2-an386), -O2, --gc-sections",
        "",
        "Flash = runtime + model as linked (code, weights, constants); RAM = one model instance "
        "(recurrent state + scratch); stack = high-water of one step, measured by stack painting; "
        "runtime as linked, -Os = the runtime's share of the same build at -Os; "
        "runtime alone = every int8 runtime source compiled without a model (sum of the objects, all cells).",
        "",
    ]
    rows = []
    for name, entry in results["models"].items():
        m = entry["targets"].get(FOOTPRINT_TARGET)
        if m is None:
            continue
        alone = entry["runtime_alone"]
        rows.append(
            [
                name,
                m["model_size"]["flash"],
                m["weight_bytes"],
                m["runtime_size"]["flash"],
                m["instance_ram"],
                f"{m['state_bytes']} + {m['scratch_bytes']}",
                m["step_stack_bytes"],
                entry["linked_os"]["runtime"]["flash"],
                alone["-Os"]["flash"],
                alone["-O2"]["flash"],
            ]
        )
    lines.append(
        _md_table(
            [
                "model",
                "flash B",
                "of which weights",
                "of which runtime",
                "RAM B",
                "state + scratch",
                "stack B / step",
                "runtime as linked, -Os",
                "runtime alone -Os",
                "runtime alone -O2",
            ],
            rows,
        )
    )
    lines += [
        "",
        "## Instructions per step (exact, QEMU TCG plugin; callees included)",
        "",
        "CMSIS-NN: `arm_lstm_unidirectional_s8` 64/64, CMSIS-NN 99f736a built with the project's boards at -O2 and "
        "counted with the project's plugin (docs/benchmarks-anchors.md; not built here). "
        "Per-core figures and the M4 cycle estimate: benchmarks/mcu_kernels.py.",
        "",
    ]
    names = list(results["models"])
    target_names = [t for t in targets.EMULATED_TARGETS if any(t in results["models"][n]["targets"] for n in names)]
    rows = []
    for target in target_names:
        row: list[object] = [target]
        for name in names:
            entry = results["models"][name]
            m = entry["targets"].get(target)
            if m is None:
                row += ["", ""]
                continue
            row += [f"{m['instructions_per_step']:,.0f}", f"{m['instructions_per_step'] / entry['macs_per_step']:.2f}"]
        cmsis = CMSIS_NN_LSTM_64.get(target)
        lstm = results["models"].get("lstm-64x64", {}).get("targets", {}).get(target)
        row.append(f"{cmsis:,}" if cmsis else "")
        row.append(f"{lstm['instructions_per_step'] / cmsis:.2f}" if cmsis and lstm else "")
        rows.append(row)
    header = ["target"]
    for name in names:
        header += [f"{name} instr/step", "per MAC"]
    header += ["CMSIS-NN LSTM 64/64", "edgernn LSTM / CMSIS-NN"]
    lines.append(_md_table(header, rows))
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(targets.EMULATED_TARGETS), help="comma-separated")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--steps", type=int, default=64, help="steps per counted run (default 64)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    target_names = [t for t in args.targets.split(",") if t]
    for t in target_names:
        targets.require_tools(t)
    results = measure([n for n in args.models.split(",") if n], target_names, args.steps)
    args.output.mkdir(parents=True, exist_ok=True)
    text = render(results)
    for name, content in (
        ("footprint.json", json.dumps(results, indent=1, sort_keys=True) + "\n"),
        ("footprint.md", text),
    ):
        write_text_atomic(args.output / name, content)
        (args.output / name).chmod(0o644)  # committed results: readable by everyone
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
