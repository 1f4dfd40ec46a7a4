"""Generated C == the integer reference, bit for bit, on every target ISA.

Each model is exported once; its self-test is built for every target (bare-metal Cortex-M0, M3,
M4F, M7, M33, M55 under qemu-system-arm with semihosting; aarch64 and armv7 Linux under
qemu-user) and run against test vectors written from the integer reference. Every output vector
must match, and the self-test must have compared exactly as many vectors as were written.

A missing cross toolchain or QEMU fails these tests with the install hint (`make test` installs
them); nothing is skipped. The table "target, model, vectors compared, mismatches" is printed at
the end of the run (and written to $EDGERNN_CONFORMANCE_REPORT if that is set).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgernn import targets as T
from edgernn.export import ExportOptions, export_model
from edgernn.export.c import write_test_vectors
from edgernn.export.c_packing import pack_k
from edgernn.ir import QuantizedRNN
from edgernn.testing import random_inputs, random_model
from edgernn.types import ModelConfig, OutputMode

REPO = Path(__file__).resolve().parents[2]
ALL_TARGETS = list(T.EMULATED_TARGETS)  # cortex-m0 ... cortex-m55, aarch64, armv7
LONG_STREAM_STEPS = 10_000


@dataclass(frozen=True)
class Case:
    name: str
    config: ModelConfig
    seed: int
    weight_gain: float = 1.0
    lengths: tuple[int, ...] = (40, 13, 1)  # sequences, each from the zero state
    targets: tuple[str, ...] = tuple(ALL_TARGETS)
    float_path: bool = False  # the --float export (float32 outputs, compared with a stated tolerance)


CASES = [
    Case("gru-16", ModelConfig(cell="gru", input_size=8, hidden_size=16, output_size=4), seed=11),
    Case(
        "lstm-12-seq",
        ModelConfig(cell="lstm", input_size=6, hidden_size=12, output_size=3, output_mode=OutputMode.SEQUENCE),
        seed=12,
    ),
    Case("elman-16", ModelConfig(cell="rnn", input_size=5, hidden_size=16), seed=13),
    # 6x PyTorch's initialization: gate pre-activations leave Q3.12's range and saturate.
    Case(
        "lstm-16-gain6", ModelConfig(cell="lstm", input_size=8, hidden_size=16, output_size=4), seed=14, weight_gain=6
    ),
    Case("gru-16-gain6", ModelConfig(cell="gru", input_size=8, hidden_size=16), seed=15, weight_gain=6),
    Case(
        "gru-3x12",
        ModelConfig(cell="gru", input_size=6, hidden_size=12, num_layers=3, output_size=5),
        seed=16,
    ),
    Case(
        "lstm-tokens",
        ModelConfig(cell="lstm", vocab_size=20, embedding_dim=8, hidden_size=16, num_layers=2, output_size=20),
        seed=17,
    ),
    Case("gru-64x64", ModelConfig(cell="gru", input_size=64, hidden_size=64), seed=18, lengths=(24, 1)),
    Case("lstm-64x64", ModelConfig(cell="lstm", input_size=64, hidden_size=64), seed=19, lengths=(24, 1)),
    Case(
        "gru-16-stream",
        ModelConfig(cell="gru", input_size=8, hidden_size=16, output_size=4, output_mode=OutputMode.SEQUENCE),
        seed=20,
        lengths=(LONG_STREAM_STEPS,),
        targets=("cortex-m0", "cortex-m4", "cortex-m55", "aarch64", "cortex-a76", "armv7"),
    ),
    # The NEON port's LSTM element-wise step (4 units at a time; 22 = 5 x 4 + 2 left to the C) free-running.
    Case(
        "lstm-22-stream",
        ModelConfig(cell="lstm", input_size=8, hidden_size=22, output_size=4, output_mode=OutputMode.SEQUENCE),
        seed=22,
        lengths=(LONG_STREAM_STEPS,),
        targets=("aarch64", "cortex-a76"),
    ),
    # The NEON port's unrolled gate kernels past 4 chunks of 16 inputs (x: 7 chunks) and its loop (h: 9 chunks).
    Case(
        "gru-100x136",
        ModelConfig(cell="gru", input_size=100, hidden_size=136),
        seed=24,
        lengths=(24, 1),
        targets=("aarch64", "cortex-a76"),
    ),
    # What from_torch finds in forward: nn.RNN(nonlinearity="relu") with a ReLU before the head, and a
    # head on the mean over time (whole sequences: run_sequence, at most 64 steps in the selftest).
    Case(
        "elman-relu-16",
        ModelConfig(
            cell="rnn", input_size=5, hidden_size=16, output_size=3, nonlinearity="relu", head_activation="relu"
        ),
        seed=22,
    ),
    # tanh before the head (edgernn.ir.HeadTanh: the int16 TANH table between two requantizations)
    Case(
        "lstm-tanh-head-16",
        ModelConfig(cell="lstm", input_size=5, hidden_size=16, output_size=3, head_activation="tanh"),
        seed=24,
        targets=("cortex-m0", "cortex-m4", "aarch64"),
    ),
    Case(
        "gru-16-mean",
        ModelConfig(cell="gru", input_size=8, hidden_size=16, output_size=4, readout="mean"),
        seed=23,
        targets=("cortex-m0", "cortex-m4", "aarch64", "armv7"),
    ),
    # The weather-shaped LSTM (the cell-update pairs, the hidden-state asm loop, the odd-free 32 rows) free-running
    # over a long stream with saturating gates, on every Cortex-M core.
    Case(
        "lstm-weather-stream",
        ModelConfig(cell="lstm", input_size=7, hidden_size=32, output_size=1, output_mode=OutputMode.SEQUENCE),
        seed=22,
        weight_gain=3.0,
        lengths=(LONG_STREAM_STEPS,),
        targets=("cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"),
    ),
    # Regression models take a 16-bit input (docs/input_bits.md): layer 0's 16x8 input part in portable C
    # beside the ports' recurrent kernels, over long free-running streams with saturated inputs, both packings.
    Case(
        "elman-x16-stream",
        ModelConfig(
            cell="rnn", input_size=3, hidden_size=16, output_size=1, output_mode=OutputMode.SEQUENCE, task="regression"
        ),
        seed=25,
        lengths=(2000, 1),
        targets=("cortex-m0", "cortex-m4", "cortex-m55", "aarch64"),
    ),
    Case(
        "lstm-x16-stream",
        ModelConfig(
            cell="lstm", input_size=5, hidden_size=12, output_size=2, output_mode=OutputMode.SEQUENCE, task="regression"
        ),
        seed=26,
        weight_gain=3.0,
        lengths=(2000, 1),
        targets=("cortex-m0", "cortex-m4", "cortex-m55", "aarch64"),
    ),
    Case(
        "gru-x16-2x12",
        ModelConfig(cell="gru", input_size=6, hidden_size=12, num_layers=2, output_size=2, task="regression"),
        seed=27,
        targets=("cortex-m0", "cortex-m4", "cortex-m55", "aarch64"),
    ),
    # Not bit-exact by design (float32): a build-and-run check of the --float path on every FPU
    # and on the soft-float M0/M3, against the numpy float model within the file's tolerance.
    Case(
        "lstm-16-float", ModelConfig(cell="lstm", input_size=8, hidden_size=16, output_size=4), seed=21, float_path=True
    ),
]


def sequences(model: QuantizedRNN, lengths: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Quantized random inputs (N(0, 2): some saturate the input range), the first one opened
    with the int8 (int16) extremes (or the first and last token ids)."""
    cfg = model.config
    seqs = []
    for k, n in enumerate(lengths):
        raw = random_inputs(cfg, n, seed=seed * 100 + k, scale=2.0)
        seqs.append(raw.astype(np.int64) if cfg.uses_tokens else model.input_q.quantize(raw, model.input_bits))
    first = seqs[0]
    if cfg.uses_tokens:
        first[: min(2, len(first))] = [0, cfg.vocab_size - 1][: len(first)]
    elif len(first) >= 2:
        info = np.iinfo(first.dtype)  # int8, or int16 for a 16-bit input
        first[0], first[1] = info.min, info.max
    return seqs


@dataclass(frozen=True)
class Exported:
    case: Case
    model: QuantizedRNN
    export_dirs: dict[int, Path]  # per weight packing (edgernn.export.c_packing.pack_k of the target)
    vectors: Path
    written: int  # output vectors (steps) in the file

    def export_dir(self, target: str) -> Path:
        return self.export_dirs[pack_k(target)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Exported]:
    root = tmp_path_factory.mktemp("c-targets")
    result = {}
    for case in CASES:
        model = random_model(case.config, seed=case.seed, weight_gain=case.weight_gain)
        export_dirs = {}
        for target in case.targets:  # the int8 weights are packed for the core: one export per packing
            if pack_k(target) not in export_dirs:
                export_dir = root / f"{case.name}-k{pack_k(target)}"
                prefix = case.name.replace("-", "_")
                options = ExportOptions(prefix=prefix, float_weights=case.float_path, target=target)
                export_model(model, "c", export_dir, options)
                export_dirs[pack_k(target)] = export_dir
        seqs = sequences(model, case.lengths, case.seed)
        vectors = write_test_vectors(model, root / f"{case.name}.vectors.bin", seqs, float_path=case.float_path)
        result[case.name] = Exported(case, model, export_dirs, vectors, sum(len(s) for s in seqs))
    return result


ROWS: list[tuple[str, str, int, int, int, float]] = []  # target, model, written, compared, mismatches, seconds


def render_table(rows: list[tuple[str, str, int, int, int, float]], float_models: set[str]) -> str:
    """Per run, then per target: int8 models (bit-exact) and the float32 build check apart."""
    lines = ["target, model, vectors written, vectors compared, mismatches, seconds (build + run)"]
    lines += [f"{t}, {m}, {w}, {n}, {mm}, {sec:.1f}" for t, m, w, n, mm, sec in sorted(rows)]
    per_target: dict[str, list[int]] = {}
    for t, m, _w, n, mm, _sec in rows:
        acc = per_target.setdefault(t, [0, 0, 0, 0, 0])
        if m in float_models:
            acc[3] += n
            acc[4] += mm
        else:
            acc[0] += 1
            acc[1] += n
            acc[2] += mm
    lines += ["", "target, int8 models, int8 vectors compared, int8 mismatches, float32 vectors, outside tolerance"]
    lines += [f"{t}, {a[0]}, {a[1]}, {a[2]}, {a[3]}, {a[4]}" for t, a in sorted(per_target.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def report_table(request):
    yield
    if not ROWS:
        return
    text = render_table(ROWS, {case.name for case in CASES if case.float_path})
    path = os.environ.get("EDGERNN_CONFORMANCE_REPORT")
    if path:
        Path(path).write_text(text)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)


PARAMS = [pytest.param(target, case.name, id=f"{target}-{case.name}") for case in CASES for target in case.targets]


@pytest.mark.parametrize(("target", "case_name"), PARAMS)
def test_c_equals_reference_on_target(target: str, case_name: str, exported, tmp_path) -> None:
    T.require_tools(target)  # fails with the apt-get hint when a toolchain is missing
    item = exported[case_name]
    started = time.perf_counter()
    build = T.build_selftest(item.export_dir(target), target, tmp_path / "build")
    result = T.run_selftest(build, item.vectors)
    ROWS.append((target, case_name, item.written, result.vectors, result.mismatches, time.perf_counter() - started))
    assert result.exit_status == 0, result.output
    assert result.mismatches == 0, result.output
    assert result.vectors == item.written, result.output
    if T.TARGETS[target].bare_metal:
        assert result.stack_high_water is not None and 0 < result.stack_high_water < result.stack_size


def test_a_wrong_output_is_caught(exported, tmp_path) -> None:
    """The self-test is not vacuous: one flipped expected value is one mismatch and exit status 1."""
    T.require_tools("cortex-m0")
    item = exported["gru-16"]
    data = bytearray(item.vectors.read_bytes())
    in_width, out_width = item.case.config.input_size, item.case.config.output_width
    first_output = 100 + 4 + in_width  # header, step count, the first step's input
    data[first_output + out_width - 1] ^= 0x01
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(bytes(data))
    build = T.build_selftest(item.export_dir("cortex-m0"), "cortex-m0", tmp_path / "build")
    result = T.run_selftest(build, corrupt)
    assert (result.vectors, result.mismatches, result.exit_status) == (item.written, 1, 1), result.output


def test_argv_arrives_and_vectors_bin_is_the_fallback(exported, tmp_path) -> None:
    """run_selftest passes the vectors as argv[1] under a non-default name (so a result proves argv
    arrived through semihosting); without argv the self-test falls back to ./vectors.bin."""
    T.require_tools("cortex-m33")
    item = exported["elman-16"]
    build = T.build_selftest(item.export_dir("cortex-m33"), "cortex-m33", tmp_path / "build")
    with_argv = T.run_selftest(build, item.vectors)
    fallback = T.run_selftest(build, item.vectors, use_argv=False)
    assert with_argv.ok and fallback.ok
    assert with_argv.vectors == fallback.vectors == item.written


def test_vectors_for_another_model_are_refused(exported, tmp_path) -> None:
    T.require_tools("aarch64")
    build = T.build_selftest(exported["gru-16"].export_dir("aarch64"), "aarch64", tmp_path / "build")
    result = T.run_selftest(build, exported["gru-16-gain6"].vectors)
    assert not result.ok and result.exit_status == 2 and result.vectors == 0
    assert "selftest error: the vectors are for model" in result.output


# ---------------------------------------------------------------------------------------------
# The examples (examples/cortex-m4-qemu, examples/raspberry-pi-stdin) build and run.
# ---------------------------------------------------------------------------------------------


def test_example_cortex_m4_qemu(tmp_path) -> None:
    T.require_tools("cortex-m4")
    if shutil.which("cmake") is None:
        raise T.ToolchainMissingError("cmake is not installed", "apt-get install --no-install-recommends cmake")
    script = REPO / "examples" / "cortex-m4-qemu" / "export_build_run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--work-dir", str(tmp_path), "--hidden-size", "16", "--input-size", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selftest: 300 vectors compared, 0 mismatches" in proc.stdout
    # The firmware loop (stream_loop.c): a SysTick producer, WFI between frames, reset per stream.
    assert "stream: 300 frames in 2 streams, 0 mismatches, 0 dropped" in proc.stdout
    assert "stream: DWT CYCCNT does not count here (QEMU models no DWT)" in proc.stdout
    placed = re.search(r"weights \(const\) at 0x([0-9a-f]+), state \((\d+) bytes\) at 0x([0-9a-f]+)", proc.stdout)
    assert placed, proc.stdout
    assert int(placed[1], 16) < 0x400000 <= 0x20000000 <= int(placed[3], 16)  # mps2-an386: flash, RAM

    # The loop compares exactly: one flipped expected byte is one mismatch and exit status 1.
    data = bytearray((tmp_path / "vectors.bin").read_bytes())
    in_width, out_width = struct.unpack_from("<II", data, 80)
    data[100 + 4 + in_width + out_width - 1] ^= 0x01
    (tmp_path / "corrupt.bin").write_bytes(bytes(data))
    target = T.TARGETS["cortex-m4"]
    run = subprocess.run(
        [*target.emulator, "-semihosting-config", "enable=on,target=native,arg=stream,arg=corrupt.bin"]
        + ["-kernel", str(tmp_path / "build" / "stream.elf")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1 and "300 frames in 2 streams, 1 mismatches, 0 dropped" in run.stdout, run.stdout


def test_example_raspberry_pi_stdin(tmp_path) -> None:
    T.require_tools("aarch64")
    script = REPO / "examples" / "raspberry-pi-stdin" / "build_and_run.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--work-dir", str(tmp_path), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["frames"] > 0 and summary["int8_mismatches"] == 0
