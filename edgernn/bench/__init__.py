"""``edgernn bench``: latency, memory and accuracy of a model, side by side with its peers.

Benchmarks produce reports; nothing here asserts speed. Every measurement that cannot be made in
a run (a missing runtime, a bidirectional model that cannot stream) is recorded in the report's
``unavailable`` section with the reason.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgernn import __version__, ir
from edgernn.bench.report import (
    AccuracyResult,
    LatencyResult,
    McuResult,
    MemoryResult,
    Report,
    ScalingPoint,
    with_ratios,
)
from edgernn.data import SequenceData
from edgernn.engine import streams
from edgernn.errors import EdgeRNNError
from edgernn.ir import QuantizedRNN
from edgernn.runtime import Stream
from edgernn.summary import describe_model

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
DEFAULT_BACKENDS = ("reference", "float", "c", "onnx", "tflite", "tflm")


@dataclass(frozen=True)
class BenchOptions:
    backends: tuple[str, ...] = DEFAULT_BACKENDS
    targets: tuple[str, ...] = ()  # MCU/Pi cores to count instructions on
    steps: int = 2000  # timed steps per implementation (after warm-up)
    warmup: int = 200
    sequence_length: int = 100  # steps per call in sequence mode
    sequence_repeats: int = 20
    scaling_hidden_sizes: tuple[int, ...] = (16, 32, 64, 128)
    memory: bool = True
    data: SequenceData | None = None  # held-out data for the accuracy section
    quick: bool = False  # a smoke run: few steps, fewer sizes

    @classmethod
    def quick_options(cls, **kwargs: Any) -> BenchOptions:
        defaults = dict(
            steps=200, warmup=20, sequence_length=20, sequence_repeats=3, scaling_hidden_sizes=(16, 64), quick=True
        )
        return cls(**{**defaults, **kwargs})


def _percentiles(samples_us: np.ndarray) -> dict[str, float]:
    values = np.percentile(samples_us, PERCENTILES)
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, values)}


def _result(name: str, kind: str, mode: str, samples_us: np.ndarray) -> LatencyResult:
    pct = _percentiles(samples_us)
    return LatencyResult(
        name=name,
        kind=kind,
        mode=mode,
        steps=int(samples_us.size),
        median_us=pct["p50"],
        p99_us=pct["p99"],
        mean_us=float(samples_us.mean()),
        percentiles_us=pct,
    )


def time_per_call(
    call: Callable[[Any], object], inputs: Sequence[Any], warmup: int, clock: Callable[[], int] = time.perf_counter_ns
) -> np.ndarray:
    """Microseconds of each call after ``warmup`` untimed calls (one ``clock`` read pair per call,
    nanoseconds: wall time by default; ``time.thread_time_ns`` for calls long enough to be preempted)."""
    for x in inputs[:warmup]:
        call(x)
    timed = inputs[warmup:]
    samples = np.empty(len(timed))
    for i, x in enumerate(timed):
        start = clock()
        call(x)
        samples[i] = clock() - start
    return samples / 1000.0


Timed = tuple[str, Callable[[Any], object], Sequence[Any]]  # (name, call, its inputs)
Group = list[tuple[str, str, Timed]]  # (kind, mode, timed) of a report's latency rows


def time_interleaved(
    timed: Sequence[Timed], rounds: int, warmup: int, clock: Callable[[], int] = time.perf_counter_ns
) -> dict[str, np.ndarray]:
    """Microseconds of each call of several implementations, measured in alternating blocks.

    Each implementation's inputs (after ``warmup`` untimed calls each) are split into ``rounds``
    blocks; round r times block r of every implementation in turn, the order rotating each round.
    On a shared machine a change of load then falls on all of them alike, which timing one
    implementation after another does not ensure (it made earlier host figures wrong by 1.3-2x).
    """
    for _, call, inputs in timed:
        for x in inputs[:warmup]:
            call(x)
    blocks = [np.array_split(np.arange(warmup, len(inputs)), rounds) for _, _, inputs in timed]
    samples: list[list[np.ndarray]] = [[] for _ in timed]
    for r in range(rounds):
        for k in (np.arange(len(timed)) + r) % len(timed):
            _, call, inputs = timed[k]
            samples[k].append(time_per_call(call, [inputs[i] for i in blocks[k][r]], 0, clock))
    return {name: np.concatenate(s) for (name, _, _), s in zip(timed, samples)}


def _inputs(model: QuantizedRNN, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cfg = model.config
    if cfg.uses_tokens:
        return rng.integers(0, cfg.vocab_size, size=steps)  # type: ignore[arg-type]
    x = rng.normal(size=(steps, cfg.input_size)).astype(np.float32)
    if model.input_mean is not None:  # raw features with the statistics the model was trained on
        x = x * model.input_std + model.input_mean
    return x.astype(np.float32)


def _normalized(model: QuantizedRNN, xs: np.ndarray) -> np.ndarray:
    if model.input_mean is None:
        return xs
    return ((xs - model.input_mean) / model.input_std).astype(np.float32)


class Bench:
    """One benchmark run over one model."""

    def __init__(self, model: QuantizedRNN, options: BenchOptions, progress: Callable[[str], None] | None = None):
        self.model = model
        self.options = options
        self.progress = progress or (lambda _msg: None)
        self.report = Report(
            edgernn_version=__version__,
            machine=machine_info(),
            model=model_info(model),
            options={k: v for k, v in vars(options).items() if k != "data"},
        )
        self.samples: dict[str, list[float]] = {}

    def run(self) -> Report:
        self.latency()
        self.scaling()
        self.mcu()
        self.memory()
        self.accuracy()
        self.report.latency = with_ratios(self.report.latency)
        return self.report

    # -- host latency ---------------------------------------------------------------------------

    def _stream(self, backend: str) -> Stream | None:
        try:
            stream = Stream(self.model, backend=backend)
        except EdgeRNNError as exc:
            self.report.unavailable[f"backend {backend}"] = str(exc)
            return None
        if backend == "c":  # a timing of the ctypes path must say so: it is many times slower per step
            self.report.machine["c_backend_path"] = _c_path(stream)
        return stream

    def latency(self) -> None:
        """Every backend and peer, timed in interleaved rounds (:func:`time_interleaved`)."""
        o, cfg = self.options, self.model.config
        if not streams(cfg):
            self.report.unavailable["per-step latency"] = (
                "a bidirectional or mean-over-time model cannot stream one step at a time"
            )
        xs = _inputs(self.model, o.warmup + o.steps)
        seq = _inputs(self.model, o.sequence_length, seed=1)
        steps: Group = []
        sequences: Group = []
        runs = [seq] * (o.sequence_repeats + 1)  # the first untimed
        for backend in o.backends:
            self.progress(f"latency: {backend}")
            stream = self._stream(backend)
            if stream is None:
                continue
            if streams(cfg):
                steps.append(("edgernn", "step", (f"edgernn-{backend}", stream.step, list(xs))))
            sequences.append(("edgernn", "sequence", (f"edgernn-{backend}", stream.run, runs)))
        self._peers(xs, seq, steps, sequences)
        rounds = max(1, min(o.sequence_repeats, 20))
        self.progress("latency: timing, interleaved")
        for group, warmup, per_call in ((steps, o.warmup, 1), (sequences, 1, o.sequence_length)):
            for name, samples in time_interleaved([t for _, _, t in group], rounds, warmup).items():
                kind, mode = next((k, m) for k, m, t in group if t[0] == name)
                self._add(name, kind, mode, samples / per_call)

    def _peers(self, xs: np.ndarray, seq: np.ndarray, steps: Group, sequences: Group) -> None:
        cfg = self.model.config
        if not streams(cfg) or cfg.uses_tokens or not cfg.is_default_readout:
            self.report.unavailable["peers"] = (
                "peers are timed for streaming models with float feature input and the head on h_n"
            )
            return
        from edgernn.bench.peers import STEP_PEERS, TorchSequence

        o = self.options
        norm = list(_normalized(self.model, xs))
        for name, factory in STEP_PEERS:
            self.progress(f"latency: {name}")
            peer = self._peer(name, factory)
            if peer is not None:
                steps.append(("peer", "step", (name, peer.step, norm)))
        self.progress("latency: pytorch sequence")
        torch_seq = self._peer(TorchSequence.name, TorchSequence)
        if torch_seq is not None:
            norm_seq = _normalized(self.model, seq)
            runs = [norm_seq] * (o.sequence_repeats + 1)
            sequences.append(("peer", "sequence", (TorchSequence.name, torch_seq.run, runs)))

    def _peer(self, name: str, factory: Callable[[QuantizedRNN], Any], model: QuantizedRNN | None = None) -> Any:
        """The peer built by ``factory``, or None with the missing package recorded as the reason."""
        try:
            return factory(model if model is not None else self.model)
        except ImportError as exc:
            self.report.unavailable[name] = missing_package_reason(exc)
            return None

    def _add(self, name: str, kind: str, mode: str, samples_us: np.ndarray) -> None:
        self.report.latency.append(_result(name, kind, mode, samples_us))
        if mode == "step":
            self.samples[name] = samples_us.tolist()

    def scaling(self) -> None:
        """Per-step latency of random models of the same architecture at other hidden sizes."""
        from edgernn.testing import random_model

        cfg = self.model.config
        if not streams(cfg):
            return
        usable = [b for b in ("c", "reference") if b in self.options.backends]
        fastest = next((b for b in usable if f"backend {b}" not in self.report.unavailable), None)
        if fastest is None:
            return
        for hidden in self.options.scaling_hidden_sizes:
            self.progress(f"scaling: hidden {hidden}")
            config = type(cfg)(**{**cfg.to_json(), "hidden_size": hidden})
            model = random_model(config, seed=hidden)
            try:
                stream = Stream(model, backend=fastest)
            except EdgeRNNError as exc:
                self.report.unavailable[f"scaling on {fastest}"] = str(exc)
                return
            xs = list(_inputs(model, self.options.warmup + self.options.steps // 2))
            timed: list[Timed] = [(f"edgernn-{fastest}", stream.step, xs)]
            if not cfg.uses_tokens:
                from edgernn.bench.peers import TorchEagerStep

                peer = self._peer(f"scaling of {TorchEagerStep.name}", TorchEagerStep, model)
                if peer is not None:
                    timed.append((TorchEagerStep.name, peer.step, list(_normalized(model, np.array(xs)))))
            rounds = max(1, min(self.options.sequence_repeats, 20))
            for name, samples in time_interleaved(timed, rounds, self.options.warmup).items():
                self.report.scaling.append(ScalingPoint(name, hidden, config.macs_per_step, float(np.median(samples))))

    # -- microcontrollers ---------------------------------------------------------------------------

    def mcu(self) -> None:
        if not self.options.targets:
            return
        try:
            from edgernn import targets
        except ImportError as exc:
            self.report.unavailable["mcu"] = f"edgernn.targets is not available ({exc})"
            return
        for target in self.options.targets:
            self.progress(f"mcu: {target}")
            try:
                self.report.mcu.append(mcu_cost(targets, self.model, target))
            except EdgeRNNError as exc:
                self.report.unavailable[f"mcu {target}"] = str(exc)

    # -- memory and accuracy ------------------------------------------------------------------------

    def memory(self) -> None:
        if not self.options.memory or not streams(self.model.config):
            return
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = ir.save(self.model, Path(tmp) / "model.ernn")
            for backend in self.options.backends:
                if f"backend {backend}" in self.report.unavailable:
                    continue
                self.progress(f"memory: {backend}")
                result = peak_rss(path, backend, steps=min(self.options.steps, 1000))
                if isinstance(result, str):
                    self.report.unavailable[f"memory {backend}"] = result
                else:
                    self.report.memory.append(result)

    def accuracy(self) -> None:
        data = self.options.data
        if data is None:
            self.report.unavailable["accuracy"] = "no held-out data given (--dataset or --data)"
            return
        from edgernn.evaluation import evaluate

        for backend in self.options.backends:
            if f"backend {backend}" in self.report.unavailable:
                continue
            self.progress(f"accuracy: {backend}")
            metric = evaluate(self.model, data, backend=backend)
            self.report.accuracy.append(AccuracyResult(backend, metric.name, metric.value, len(data), data.name))


#: The extra that installs each optional package a peer needs (pyproject.toml).
_EXTRAS = {"torch": "train", "onnxruntime": "onnx", "onnx": "onnx", "ai_edge_litert": "tflite"}


def missing_package_reason(exc: ImportError) -> str:
    """Why a peer was not measured: the package that failed to import and the extra that installs it."""
    package = (exc.name or "").split(".")[0]
    if not package:
        return f"a package it needs is not installed ({exc})"
    extra = _EXTRAS.get(package)
    return f"{package} is not installed: " + (f"pip install 'edgernn[{extra}]'" if extra else f"install {package}")


def mcu_cost(targets: Any, model: QuantizedRNN, target: str) -> McuResult:
    """Instruction count per step and footprint on one core (via :mod:`edgernn.targets`), and the
    time per step at the core's typical clock assuming one instruction per cycle."""
    board = targets.get_target(target)
    count = targets.count_step_instructions(model, target)
    fp = targets.footprint(model, target)
    clock = board.typical_clock_mhz
    return McuResult(
        target=target,
        processor=board.processor_class,
        instructions_per_step=int(count),
        clock_mhz=clock,
        clock_chip=board.typical_chip,
        us_per_step_at_clock=None if clock is None else count / clock,  # instructions / (instructions per us)
        flash_bytes=getattr(fp, "flash_bytes", None),
        ram_bytes=getattr(fp, "ram_bytes", None),
        stack_bytes=getattr(fp, "stack_bytes", None),
        runtime_code_bytes=getattr(fp, "runtime_code_bytes", None),
    )


# Peak memory is VmHWM, the high-water mark of this process's own address space. Not ru_maxrss:
# Linux carries the parent's peak into a child across fork and exec, so every child of a large
# bench process would report the bench's own peak. The three readings split the peak into the bare
# interpreter, numpy + edgernn + the model, and what the backend and its stream add.
_RSS_SCRIPT = """
import sys

def high_water_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise OSError("/proc/self/status has no VmHWM")

interpreter = high_water_kib()
import numpy as np
import edgernn
from edgernn.runtime import Stream
model = edgernn.load(sys.argv[1])
x = np.zeros(model.config.input_size or 1, np.float32) if not model.config.uses_tokens else np.int64(0)
baseline = high_water_kib()
stream = Stream(model, backend=sys.argv[2])
for _ in range(int(sys.argv[3])):
    stream.step(x)
print(interpreter, baseline, high_water_kib())
"""


def peak_rss(model_path: Path, backend: str, steps: int) -> MemoryResult | str:
    """Peak resident memory (KiB) of a fresh process streaming ``steps`` steps on ``backend`` only;
    a reason string when it cannot be measured."""
    if not Path("/proc/self/status").is_file():
        return "peak memory is read from /proc/self/status (VmHWM), which this system does not have"
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(model_path), backend, str(steps)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return f"the streaming process failed: {last}"
    interpreter, baseline, peak = (int(v) for v in proc.stdout.split()[-3:])
    return MemoryResult(backend=backend, peak_rss_kib=peak, baseline_rss_kib=baseline, interpreter_rss_kib=interpreter)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _c_path(stream: Stream) -> str:
    """How the ``c`` backend's stream reaches the C step, and why when it is not the compiled fast path."""
    if stream.compiled_steps:
        return "compiled fast path"
    from edgernn.runtime.c_backend import fastpath_unavailable

    why = fastpath_unavailable() or "the model does not stream one step at a time"
    return f"ctypes path ({why})"


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {
        p: v
        for p in ("numpy", "torch", "onnxruntime", "ai-edge-litert", "tflite-micro")
        if (v := _version(p)) is not None
    }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "threads": "1 (torch.set_num_threads(1); onnxruntime intra/inter-op 1; edgernn backends single-threaded)",
        "max_rss_kib_of_bench": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def model_info(model: QuantizedRNN) -> dict[str, Any]:
    from edgernn.export.c import budget

    d = describe_model(model)
    cfg = model.config
    kind = f"{cfg.cell.value.upper()} {cfg.hidden_size}" + (f"x{cfg.num_layers}" if cfg.num_layers > 1 else "")
    inputs = f"{cfg.vocab_size} tokens" if cfg.uses_tokens else f"{cfg.input_size} inputs"
    return {
        "description": f"{kind}{' bidirectional' if cfg.bidirectional else ''}, {inputs}",
        "sha256": model.sha256,
        "config": d["config"],
        "params": d["params"],
        "macs_per_step": d["macs_per_step"],
        # the C export's constant data (int8 weights packed for the core, padding included; host packing)
        "weight_bytes": budget(model).weight_bytes,
        "state_bytes": d["state_bytes"],
    }


def run_bench(model: QuantizedRNN, options: BenchOptions, progress: Callable[[str], None] | None = None) -> Bench:
    bench = Bench(model, options, progress)
    bench.run()
    return bench


__all__ = ["Bench", "BenchOptions", "run_bench", "machine_info", "model_info", "time_interleaved", "time_per_call"]
