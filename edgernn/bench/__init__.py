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


def time_per_call(call: Callable[[Any], object], inputs: Sequence[Any], warmup: int) -> np.ndarray:
    """Microseconds of each call after ``warmup`` untimed calls (one timer read pair per call)."""
    for x in inputs[:warmup]:
        call(x)
    timed = inputs[warmup:]
    samples = np.empty(len(timed))
    clock = time.perf_counter_ns
    for i, x in enumerate(timed):
        start = clock()
        call(x)
        samples[i] = clock() - start
    return samples / 1000.0


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
            return Stream(self.model, backend=backend)
        except EdgeRNNError as exc:
            self.report.unavailable[f"backend {backend}"] = str(exc)
            return None

    def latency(self) -> None:
        o, cfg = self.options, self.model.config
        if cfg.bidirectional:
            self.report.unavailable["per-step latency"] = "a bidirectional model cannot stream one step at a time"
        xs = _inputs(self.model, o.warmup + o.steps)
        seq = _inputs(self.model, o.sequence_length, seed=1)
        for backend in o.backends:
            self.progress(f"latency: {backend}")
            stream = self._stream(backend)
            if stream is None:
                continue
            if not cfg.bidirectional:
                samples = time_per_call(stream.step, list(xs), o.warmup)
                self._add(f"edgernn-{backend}", "edgernn", "step", samples)
            samples = time_per_call(stream.run, [seq] * (o.sequence_repeats + 1), 1) / o.sequence_length
            self._add(f"edgernn-{backend}", "edgernn", "sequence", samples)
        self._peers(xs, seq)

    def _peers(self, xs: np.ndarray, seq: np.ndarray) -> None:
        cfg = self.model.config
        if cfg.bidirectional or cfg.uses_tokens:
            self.report.unavailable["peers"] = "peers are timed for unidirectional models with float feature input"
            return
        try:
            from edgernn.bench.peers import STEP_PEERS, TorchSequence
        except ImportError as exc:
            self.report.unavailable["peers"] = f"PyTorch is not installed ({exc})"
            return
        o = self.options
        norm = list(_normalized(self.model, xs))
        for name, factory in STEP_PEERS:
            self.progress(f"latency: {name}")
            try:
                peer = factory(self.model)
            except ImportError as exc:
                self.report.unavailable[name] = f"not installed ({exc})"
                continue
            self._add(name, "peer", "step", time_per_call(peer.step, norm, o.warmup))
        self.progress("latency: pytorch sequence")
        torch_seq = TorchSequence(self.model)
        norm_seq = _normalized(self.model, seq)
        samples = time_per_call(torch_seq.run, [norm_seq] * (o.sequence_repeats + 1), 1) / o.sequence_length
        self._add(TorchSequence.name, "peer", "sequence", samples)

    def _add(self, name: str, kind: str, mode: str, samples_us: np.ndarray) -> None:
        self.report.latency.append(_result(name, kind, mode, samples_us))
        if mode == "step":
            self.samples[name] = samples_us.tolist()

    def scaling(self) -> None:
        """Per-step latency of random models of the same architecture at other hidden sizes."""
        from edgernn.testing import random_model

        cfg = self.model.config
        if cfg.bidirectional:
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
            samples = time_per_call(stream.step, xs, self.options.warmup)
            self.report.scaling.append(
                ScalingPoint(f"edgernn-{fastest}", hidden, config.macs_per_step, float(np.median(samples)))
            )
            if cfg.uses_tokens:
                continue
            try:
                from edgernn.bench.peers import TorchEagerStep
            except ImportError:
                continue
            peer = TorchEagerStep(model)
            samples = time_per_call(peer.step, list(_normalized(model, np.array(xs))), self.options.warmup)
            self.report.scaling.append(
                ScalingPoint(TorchEagerStep.name, hidden, config.macs_per_step, float(np.median(samples)))
            )

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
        if not self.options.memory or self.model.config.bidirectional:
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


def mcu_cost(targets: Any, model: QuantizedRNN, target: str) -> McuResult:
    """Instruction count per step and footprint on one core (via :mod:`edgernn.targets`)."""
    count = targets.count_step_instructions(model, target)
    fp = targets.footprint(model, target)
    return McuResult(
        target=target,
        instructions_per_step=int(count),
        flash_bytes=getattr(fp, "flash_bytes", None),
        ram_bytes=getattr(fp, "ram_bytes", None),
        stack_bytes=getattr(fp, "stack_bytes", None),
        runtime_code_bytes=getattr(fp, "runtime_code_bytes", None),
    )


_RSS_SCRIPT = """
import resource, sys
import numpy as np
import edgernn
from edgernn.runtime import Stream
model = edgernn.load(sys.argv[1])
x = np.zeros(model.config.input_size or 1, np.float32) if not model.config.uses_tokens else np.int64(0)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stream = Stream(model, backend=sys.argv[2])
for _ in range(int(sys.argv[3])):
    stream.step(x)
print(baseline, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss(model_path: Path, backend: str, steps: int) -> MemoryResult | str:
    """Peak RSS (KiB) of a fresh process streaming ``steps`` steps; a reason string on failure."""
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(model_path), backend, str(steps)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return f"the streaming process failed: {last}"
    baseline, peak = (int(v) for v in proc.stdout.split())
    return MemoryResult(backend=backend, peak_rss_kib=peak, baseline_rss_kib=baseline)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


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


__all__ = ["Bench", "BenchOptions", "run_bench", "machine_info", "model_info", "time_per_call"]
