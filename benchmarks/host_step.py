"""Host per-step figures from Python (issue 9), every implementation timed in interleaved rounds.

    .venv/bin/python benchmarks/host_step.py           # writes benchmarks/results/host_step.{json,md}
    .venv/bin/python benchmarks/host_step.py --quick   # smoke run: fewer rounds, steps and models
    .venv/bin/python benchmarks/host_step.py --x86-level 2  # table 2 with both sides capped at AVX-VNNI

Table 1, GRU 64 inputs / 64 hidden, per step: edgernn's ``Stream.step`` (backend ``c``: the
compiled fast path, and the ctypes path it falls back to), the C step alone (the generated
``model_run`` over a 1,000-step int8 block, called through ctypes once), ``Stream.run`` over
1,000-step blocks, LiteRT on the float TFLite step model (set + invoke + get, and invoke alone),
onnxruntime on the torch-exported step model, PyTorch eager ``GRUCell`` and ``nn.GRU`` over
1,000-step blocks. Table 2: ``Stream.run`` per step against ``nn.GRU``/``nn.LSTM`` over the same
1,000-step block for every model of ``benchmarks/model_set.py``, with the C step alone beside it.
Tables 3 and 4, GRU 32/32, GRU 64/64 and LSTM 64/64 in one schedule: the C int8 step alone against
RTNeural's recorded float figures, and the C float32 step alone (the ``--float`` export) and
``Stream.run`` on backends ``c`` and ``c-float`` beside it (int8 against a vectorized float).

Timing (:func:`edgernn.bench.time_interleaved`): within one process, round r times block r of each
implementation in turn, the order rotating each round; figures are medians over all timed calls,
ratios are of those medians. Single steps are timed by the wall clock (the median leaves out the
calls the scheduler preempted); the 1,000-step calls last milliseconds and on a shared machine
are nearly all preempted, so they are timed by the thread's CPU clock (``time.thread_time_ns``;
every implementation is pinned to one thread, the caller's). The models are random (seeded):
time does not depend on weight values.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.bench import Timed, machine_info, time_interleaved
from edgernn.bench.peers import LiteRTStep, OnnxRuntimeStep, TorchEagerStep, TorchSequence
from edgernn.export.c import StateLayout
from edgernn.fileio import write_text_atomic
from edgernn.ir import QuantizedRNN
from edgernn.runtime import Stream
from edgernn.runtime.c_backend import PREFIX, build_shared_library, fastpath_unavailable
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig, OutputMode

sys.path.insert(0, str(Path(__file__).parent))
from model_set import model_set  # noqa: E402

RESULTS = Path(__file__).with_name("results")
BLOCK = 1000  # steps per call of the whole-block implementations
CPU_CLOCK = time.thread_time_ns  # for the whole-block calls (see above)


class CStepAlone:
    """The generated C ``model_run`` on int8 inputs, ``BLOCK`` steps per ctypes call: the C step
    without any Python around it (the call's own cost is spread over the block). ``float_path``: the
    ``--float`` export's ``model_run_f32`` on the normalized float32 inputs instead."""

    def __init__(self, model: QuantizedRNN, xs: np.ndarray, float_path: bool = False) -> None:
        self.lib = ctypes.CDLL(str(build_shared_library(model, float_path)))
        self.state = np.zeros(StateLayout.of(model, float_path=float_path).total_bytes, np.uint8)
        vp = ctypes.c_void_p
        init = getattr(self.lib, f"{PREFIX}_init")
        init.argtypes, init.restype = [vp], ctypes.c_int
        if init(self.state.ctypes.data) != 0:
            raise RuntimeError("model_init failed")
        self.run = getattr(self.lib, f"{PREFIX}_run" + ("_f32" if float_path else ""))
        self.run.argtypes, self.run.restype = [vp, vp, ctypes.c_int32, vp], ctypes.c_int
        if float_path:
            self.xq = np.ascontiguousarray(xs, np.float32)
            self.ys = np.empty((len(xs), model.config.output_width), np.float32)
        else:
            self.xq = np.ascontiguousarray(model.input_q.quantize(xs))
            self.ys = np.empty((len(xs), model.config.output_width), np.int8)
        self.args = (self.state.ctypes.data, self.xq.ctypes.data, len(xs), self.ys.ctypes.data)

    def block(self, _: object) -> None:
        if self.run(*self.args) != 0:
            raise RuntimeError("model_run failed")


def x86_kernel() -> str:
    """Which x86-64 kernel firmware_export/ports/x86 picks on this CPU (its run-time order)."""
    flags = set()
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    for flag, name in (("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI"), ("avx2", "AVX2")):
        if flag in flags:
            return name
    return "plain C"


def _slow_stream(model: QuantizedRNN) -> Stream:
    os.environ["EDGERNN_FASTPATH"] = "0"
    try:
        return Stream(model, backend="c")
    finally:
        del os.environ["EDGERNN_FASTPATH"]


def _summary(samples: dict[str, np.ndarray], per_call: dict[str, int]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "median_us": float(np.median(s)) / per_call[name],
            "p25_us": float(np.percentile(s, 25)) / per_call[name],
            "p75_us": float(np.percentile(s, 75)) / per_call[name],
            "calls": int(s.size),
        }
        for name, s in samples.items()
    }


def step_table(rounds: int, block_steps: int) -> dict[str, Any]:
    config = ModelConfig(cell=CellType.GRU, input_size=64, hidden_size=64, output_mode=OutputMode.SEQUENCE)
    model = random_model(config, seed=0)
    warmup = 200
    xs = random_inputs(config, warmup + rounds * block_steps, seed=1)
    frames = list(xs)
    block = random_inputs(config, BLOCK, seed=2)
    blocks = [block] * (rounds + 1)
    litert, litert_invoke = LiteRTStep(model), LiteRTStep(model)
    c_alone = CStepAlone(model, block)
    nn_gru = TorchSequence(model)
    rows: list[tuple[str, str, Callable[[Any], object], list, int]] = [
        ("edgernn-step", "edgernn `Stream.step`, backend `c` (fast path)", Stream(model, "c").step, frames, 1),
        ("edgernn-step-ctypes", "edgernn `Stream.step`, backend `c`, ctypes path", _slow_stream(model).step, frames, 1),
        ("edgernn-c-alone", "edgernn C step alone (`model_run`, 1,000-step block)", c_alone.block, blocks, BLOCK),
        ("edgernn-run", "edgernn `Stream.run`, 1,000-step block, per step", Stream(model, "c").run, blocks, BLOCK),
        ("litert", "LiteRT, float TFLite step model, set + invoke + get", litert.step, frames, 1),
        ("litert-invoke", "LiteRT `invoke` alone", lambda _: litert_invoke.interpreter.invoke(), frames, 1),
        ("onnxruntime", "onnxruntime, torch-exported float step model", OnnxRuntimeStep(model).step, frames, 1),
        ("torch-eager", "PyTorch eager `GRUCell`", TorchEagerStep(model).step, frames, 1),
        ("torch-nn", "PyTorch `nn.GRU` over 1,000 steps, per step", nn_gru.run, blocks, BLOCK),
    ]
    step_rows = [(n, call, inputs) for n, _, call, inputs, per in rows if per == 1]
    block_rows = [(n, call, inputs) for n, _, call, inputs, per in rows if per != 1]
    # One interleaved schedule per kind of call (a step, or a 1,000-step block), same rounds.
    samples = {**time_interleaved(step_rows, rounds, warmup), **time_interleaved(block_rows, rounds, 1, CPU_CLOCK)}
    figures = _summary(samples, {n: per for n, _, _, _, per in rows})
    return {
        "model": "GRU 64 inputs / 64 hidden, random weights (seed 0)",
        "rows": [{"name": n, "label": label, **figures[n]} for n, label, *_ in rows],
    }


def run_table(rounds: int, quick: bool) -> list[dict[str, Any]]:
    out = []
    for entry in model_set(quick):
        print(f"   {entry.name}", file=sys.stderr, flush=True)
        model = random_model(entry.config, seed=0)
        block = random_inputs(entry.config, BLOCK, seed=2)
        blocks = [block] * (rounds + 1)
        c_alone = CStepAlone(model, block)
        timed: list[Timed] = [
            ("edgernn-run", Stream(model, "c").run, blocks),
            ("torch-nn", TorchSequence(model).run, blocks),
            ("edgernn-c-alone", c_alone.block, blocks),
        ]
        figures = _summary(time_interleaved(timed, rounds, 1, CPU_CLOCK), {n: BLOCK for n, _, _ in timed})
        cell = "nn.GRU" if entry.config.cell is CellType.GRU else "nn.LSTM"
        out.append({"model": entry.name, "torch": cell, **{n: f["median_us"] for n, f in figures.items()}})
    return out


#: RTNeural's float step, recorded (issue 9: RTNeural 1fb1f07 with its vendored Eigen and xsimd, best
#: backend, -O3 -march=native, same machine kind); quoted, not built by this script.
RTNEURAL_US = {"GRU 32/32": 0.14, "GRU 64/64": 0.8, "LSTM 64/64": 1.05}
RTNEURAL_PROVENANCE = (
    "RTNeural 1fb1f07 (vendored Eigen and xsimd, best backend, float, -O3 -march=native, same machine kind), "
    "recorded in issue 9; not built by this script"
)


#: The float rows of the anchor table (issue 9: "int8 faster than float" against a good float): key suffix, label.
FLOAT_ROWS = {
    "float": "C float32 step alone (`model_run_f32`)",
    "run": "`Stream.run`, backend `c`",
    "run-float": "`Stream.run`, backend `c-float`",
}


def anchor_table(rounds: int) -> list[dict[str, Any]]:
    """The C int8 and float32 steps alone (1,000-step blocks) of the models RTNeural was recorded on, and
    ``Stream.run`` of both backends over the same blocks, all interleaved in one schedule."""
    shapes = {"GRU 32/32": (CellType.GRU, 32), "GRU 64/64": (CellType.GRU, 64), "LSTM 64/64": (CellType.LSTM, 64)}
    timed: list[Timed] = []
    for name, (cell, size) in shapes.items():
        config = ModelConfig(cell=cell, input_size=size, hidden_size=size, output_mode=OutputMode.SEQUENCE)
        model = random_model(config, seed=0)
        block = random_inputs(config, BLOCK, seed=2)
        blocks = [block] * (rounds + 1)
        timed.append((name, CStepAlone(model, block).block, blocks))
        timed.append((f"{name} float", CStepAlone(model, block, float_path=True).block, blocks))
        timed.append((f"{name} run", Stream(model, "c").run, blocks))
        timed.append((f"{name} run-float", Stream(model, "c-float").run, blocks))
    figures = _summary(time_interleaved(timed, rounds, 1, CPU_CLOCK), {n: BLOCK for n, _, _ in timed})
    return [
        {
            "model": n,
            **figures[n],
            "rtneural_us": RTNEURAL_US[n],
            **{f"{key}_us": figures[f"{n} {key}"]["median_us"] for key in FLOAT_ROWS},
            **{f"{key}_p25_us": figures[f"{n} {key}"]["p25_us"] for key in FLOAT_ROWS},
            **{f"{key}_p75_us": figures[f"{n} {key}"]["p75_us"] for key in FLOAT_ROWS},
        }
        for n in shapes
    ]


def float_kernel() -> str:
    """Which float32 kernels the ``c-float`` library picked on this CPU (``ernn_f32_kernel_name``)."""
    config = ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8)
    lib = ctypes.CDLL(str(build_shared_library(random_model(config, seed=0), float_path=True)))
    lib.ernn_f32_kernel_name.restype = ctypes.c_char_p
    return lib.ernn_f32_kernel_name().decode()


def run_table_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## `Stream.run` per step vs PyTorch `nn.GRU`/`nn.LSTM`, 1,000-step blocks "
        f"(median us per step over {result['run_rounds']} interleaved rounds, thread CPU clock)",
        "",
        "| model | edgernn `Stream.run` | torch | torch / edgernn | C step alone | C step share of `Stream.run` |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["run"]:
        lines.append(
            f"| {r['model']} | {r['edgernn-run']:.2f} | {r['torch-nn']:.2f} (`{r['torch']}`) "
            f"| {r['torch-nn'] / r['edgernn-run']:.2f}x | {r['edgernn-c-alone']:.2f} "
            f"| {r['edgernn-c-alone'] / r['edgernn-run']:.0%} |"
        )
    return lines


def render_capped(result: dict[str, Any]) -> str:
    """The report of a --x86-level run: the model set's table, both sides capped."""
    machine = result["machine"]
    caps = ", ".join(f"`{k}={v}`" for k, v in result["caps"].items())
    lines = [
        f"# Host per-step figures, x86 kernels capped at {result['cap_name']} (interleaved rounds, one process)",
        "",
        f"`{result['command']}`; {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(machine["versions"].items()))
        + f"; load average at the start {result['load_average']}. Fast path: {result['fastpath']}.",
        "",
        f"What a CPU without AVX-512 would run, timed on this one: {caps}, set before torch loads "
        "(edgernn's C kernels and the fast path's quantizer; ATen's kernels, oneDNN's `nn.LSTM`/`nn.GRU` "
        f"primitives and MKL). PyTorch reported CPU capability {result['torch_capability']}. The same core "
        "runs both sides, so the ratios are the ones to read; absolute times are this core's.",
    ]
    return "\n".join(lines + run_table_lines(result)) + "\n"


def render(result: dict[str, Any]) -> str:
    machine = result["machine"]
    step = result["step"]
    rows = {r["name"]: r for r in step["rows"]}
    edgernn = rows["edgernn-step"]["median_us"]
    lines = [
        "# Host per-step figures (interleaved rounds, one process)",
        "",
        f"`{result['command']}`; {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(machine["versions"].items()))
        + f"; load average at the start {result['load_average']}. Fast path: {result['fastpath']}.",
        "",
        f"Medians of every timed call over {result['rounds']} interleaved rounds (p25-p75 in brackets; "
        "single steps by the wall clock, 1,000-step blocks by the thread's CPU clock); "
        "ratio: the row's median over `Stream.step`'s.",
        "",
        f"## {step['model']}, per step",
        "",
        "| implementation | median us (p25-p75) | ratio to `Stream.step` |",
        "|---|---|---|",
    ]
    for r in step["rows"]:
        lines.append(
            f"| {r['label']} | {r['median_us']:.2f} ({r['p25_us']:.2f}-{r['p75_us']:.2f}) "
            f"| {r['median_us'] / edgernn:.2f} |"
        )
    lines += run_table_lines(result)
    if result.get("anchors"):
        lines += [
            "",
            "## C int8 step alone vs RTNeural (recorded anchors), per step "
            f"(median us over {result['run_rounds']} interleaved rounds of 1,000-step blocks, thread CPU clock)",
            "",
            f"RTNeural: {RTNEURAL_PROVENANCE}. edgernn: the generated C built by the `c` backend (-O3, no -march; "
            f"SIMD kernel chosen at run time: {result.get('port', 'x86')}).",
            "",
            "| model | edgernn C int8 step (p25-p75) | RTNeural float (recorded) | RTNeural / edgernn |",
            "|---|---|---|---|",
        ]
        for r in result["anchors"]:
            lines.append(
                f"| {r['model']} | {r['median_us']:.2f} ({r['p25_us']:.2f}-{r['p75_us']:.2f}) "
                f"| {r['rtneural_us']:.2f} | {r['rtneural_us'] / r['median_us']:.2f}x |"
            )
    if result.get("anchors") and "float_us" in result["anchors"][0]:
        lines += [
            "",
            "## C int8 vs C float32, same models, same interleaved schedule as the table above",
            "",
            f"The `--float` export built by the `c-float` backend (-O3, no -march; float kernels chosen at run "
            f"time: {result.get('float_port', '?')}). float / int8: float32 time over int8 time (above 1: int8 is "
            "faster); RTNeural / float: RTNeural's recorded float time over edgernn's float time (above 1: "
            "edgernn's float is faster). `Stream.run`: 1,000-step blocks from Python, per step.",
            "",
            f"| model | C int8 | {FLOAT_ROWS['float']} (p25-p75) | float / int8 | RTNeural float (recorded) "
            f"| RTNeural / edgernn float | {FLOAT_ROWS['run']} | {FLOAT_ROWS['run-float']} |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in result["anchors"]:
            lines.append(
                f"| {r['model']} | {r['median_us']:.2f} | {r['float_us']:.2f} ({r['float_p25_us']:.2f}-"
                f"{r['float_p75_us']:.2f}) | {r['float_us'] / r['median_us']:.2f}x | {r['rtneural_us']:.2f} "
                f"| {r['rtneural_us'] / r['float_us']:.2f}x | {r['run_us']:.2f} | {r['run-float_us']:.2f} |"
            )
    return "\n".join(lines) + "\n"


#: --x86-level: the kernels a CPU without AVX-512 runs, on this one: edgernn's capped by EDGERNN_X86_LEVEL, PyTorch's
#: by ATen's, oneDNN's (nn.LSTM / nn.GRU) and MKL's switches, which must be set before torch loads. The CPU flag
#: each level needs, its name, the environment.
X86_CAPS: dict[int, tuple[str, str, dict[str, str]]] = {
    1: ("avx2", "AVX2", {"ONEDNN_MAX_CPU_ISA": "AVX2"}),
    2: ("avx_vnni", "AVX-VNNI, 256-bit", {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI"}),
}


def capped_run(level: int, rounds: int, quick: bool, output: Path, load: str) -> int:
    flag, name, env = X86_CAPS[level]
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").is_file() else set()
    if flag not in flags:
        print(f"error: this CPU lacks {flag}: level {level} would time narrower kernels", file=sys.stderr)
        return 1
    caps = {"EDGERNN_X86_LEVEL": str(level), "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", **env}
    if "torch" in sys.modules:
        raise RuntimeError("torch was loaded before its kernels were capped")
    os.environ.update(caps)
    print(f"== Stream.run vs torch, model set, x86 kernels capped at {name}", file=sys.stderr, flush=True)
    run = run_table(rounds, quick)
    import torch

    result = {
        "command": f"python benchmarks/host_step.py --x86-level {level}" + (" --quick" if quick else ""),
        "cap_name": name,
        "caps": caps,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": machine_info(),
        "load_average": load,
        "fastpath": fastpath_unavailable() or "compiled extension in use",
        "run_rounds": rounds,
        "run": run,
    }
    output.mkdir(parents=True, exist_ok=True)
    stem = f"host_step_x86_level{level}"
    write_text_atomic(output / f"{stem}.json", json.dumps(result, indent=1, sort_keys=True) + "\n")
    text = render_capped(result)
    write_text_atomic(output / f"{stem}.md", text)
    print(text)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few rounds, steps and models")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--x86-level",
        type=int,
        choices=sorted(X86_CAPS),
        help="only the Stream.run table, edgernn's and PyTorch's x86 kernels capped at AVX2 (1) or AVX-VNNI (2); "
        "writes host_step_x86_level<N>.{json,md}",
    )
    args = parser.parse_args()
    rounds = 4 if args.quick else 30
    # 1,000-step blocks: 30 rounds take about a minute; with 10, nn.LSTM's median moved by up to 14% between runs
    run_rounds = 2 if args.quick else 30
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    if args.x86_level is not None:
        return capped_run(args.x86_level, run_rounds, args.quick, args.output, load)
    print("== GRU 64/64 per step", file=sys.stderr, flush=True)
    step = step_table(rounds, 25 if args.quick else 200)
    print("== Stream.run vs torch, model set", file=sys.stderr, flush=True)
    run = run_table(run_rounds, args.quick)
    print("== C step alone vs RTNeural's recorded figures", file=sys.stderr, flush=True)
    anchors = anchor_table(run_rounds)
    result = {
        "anchors": anchors,
        "port": x86_kernel(),
        "float_port": float_kernel(),
        "command": "python benchmarks/host_step.py" + (" --quick" if args.quick else ""),
        "machine": machine_info(),
        "load_average": load,
        "fastpath": fastpath_unavailable() or "compiled extension in use",
        "rounds": rounds,
        "run_rounds": run_rounds,
        "step": step,
        "run": run,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "host_step.json", json.dumps(result, indent=1, sort_keys=True) + "\n")
    text = render(result)
    write_text_atomic(args.output / "host_step.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
