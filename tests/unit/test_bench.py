"""The benchmark report: every section present, schema-valid, numbers consistent with the model.

Benchmarks measure; these tests never assert speed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edgernn import ir
from edgernn.bench import BenchOptions, run_bench, time_interleaved
from edgernn.bench.report import SCHEMA_PATH, AccuracyResult, Report, accuracy_figure, render_markdown, write_report
from edgernn.data import SequenceData
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig, Task

CONFIG = ModelConfig(cell=CellType.GRU, input_size=5, hidden_size=8, output_size=3)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    model = random_model(CONFIG, seed=1)
    data = SequenceData(
        sequences=tuple(random_inputs(CONFIG, 6 + i % 4, seed=i) for i in range(12)),
        targets=np.arange(12) % 3,
        task=Task.CLASSIFICATION,
        per_step=False,
        name="random",
    )
    options = BenchOptions.quick_options(
        backends=("reference", "float", "no-such-backend"),
        targets=("cortex-m4", "aarch64"),
        data=data,
        scaling_hidden_sizes=(4, 8),
        steps=60,
        warmup=5,
    )
    result = run_bench(model, options)
    out = tmp_path_factory.mktemp("bench")
    write_report(result.report, result.samples, out)
    return model, out, json.loads((out / "report.json").read_text())


def test_report_validates_against_its_schema(bench_run) -> None:  # noqa: ANN001
    _, _, report = bench_run
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


def test_every_section_is_present_and_filled(bench_run) -> None:  # noqa: ANN001
    _, out, report = bench_run
    modes = {(r["name"], r["mode"]) for r in report["latency"]}
    for backend in ("reference", "float"):
        assert (f"edgernn-{backend}", "step") in modes and (f"edgernn-{backend}", "sequence") in modes
    for peer in ("pytorch-eager", "onnxruntime-torch-export", "litert-float"):
        assert (peer, "step") in modes
    assert ("pytorch-nn-sequence", "sequence") in modes
    assert {p["hidden_size"] for p in report["scaling"]} == {4, 8}
    assert {m["backend"] for m in report["memory"]} == {"reference", "float"}
    assert {a["backend"] for a in report["accuracy"]} == {"reference", "float"}
    assert "no-such-backend" in report["unavailable"]["backend no-such-backend"]
    md = (out / "report.md").read_text()
    for heading in (
        "Host latency per step",
        "Latency vs hidden size",
        "Embedded cores",
        "Host memory",
        "Accuracy",
        "Not measured",
    ):
        assert heading in md
    html = (out / "report.html").read_text()
    # latency, scaling, time on the cores, flash/RAM on the cores, memory, accuracy
    assert html.count("data:image/png;base64,") == 6


def test_numbers_are_consistent_with_the_model(bench_run) -> None:  # noqa: ANN001
    model, _, report = bench_run
    assert report["model"]["macs_per_step"] == 3 * 8 * (5 + 8) + 3 * 8 == model.config.macs_per_step
    # the host C export's packed constant data: 16-column packing on x86-64/AArch64 pads this 5-input model,
    # the 4-column packing of a Cortex-M4 does not (and shares multipliers per gate: fewer bytes than the IR)
    from edgernn.export.c import budget

    assert report["model"]["weight_bytes"] == budget(model).weight_bytes > 0
    assert 0 < budget(model, target="cortex-m4").weight_bytes <= model.weight_bytes
    assert report["model"]["sha256"] == model.sha256
    for point in report["scaling"]:
        assert (
            point["macs_per_step"] == 3 * point["hidden_size"] * (5 + point["hidden_size"]) + 3 * point["hidden_size"]
        )
    for mode in ("step", "sequence"):
        peers = [r for r in report["latency"] if r["mode"] == mode and r["kind"] == "peer"]
        fastest = min(r["median_us"] for r in peers)
        for r in report["latency"]:
            if r["mode"] == mode:
                assert r["ratio_to_fastest_peer"] == pytest.approx(r["median_us"] / fastest)
        assert min(r["ratio_to_fastest_peer"] for r in peers) == pytest.approx(1.0)
    for r in report["latency"]:
        p = r["percentiles_us"]
        assert p["p1"] <= p["p25"] <= p["p50"] <= p["p75"] <= p["p99"] and p["p50"] == r["median_us"]
    for m in report["memory"]:
        assert m["peak_rss_kib"] >= m["baseline_rss_kib"] >= m["interpreter_rss_kib"] > 0
    # The reference and float accuracies are those of evaluate() on the same data.
    from edgernn.evaluation import evaluate

    got = {a["backend"]: a["value"] for a in report["accuracy"]}
    data = SequenceData(
        sequences=tuple(random_inputs(CONFIG, 6 + i % 4, seed=i) for i in range(12)),
        targets=np.arange(12) % 3,
        task=Task.CLASSIFICATION,
        per_step=False,
        name="random",
    )
    assert got["reference"] == evaluate(model, data, "reference").value


def test_bench_cli_quick(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edgernn.cli import cli

    model_path = ir.save(random_model(CONFIG, seed=2), tmp_path / "m.ernn")
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            str(model_path),
            "-o",
            str(tmp_path / "out"),
            "--quick",
            "--backends",
            "reference",
            "--no-memory",
            "--steps",
            "30",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["memory"] == [] and report["latency"]
    assert "accuracy" in report["unavailable"]


@pytest.mark.parametrize("cell", list(CellType))
def test_peers_compute_the_same_model(cell: CellType) -> None:
    """A fair comparison: every peer runs the model's own float weights (max diff 1e-5)."""
    from edgernn.bench.peers import STEP_PEERS, TorchSequence
    from edgernn.runtime import Stream

    config = ModelConfig(cell=cell, input_size=6, hidden_size=10, num_layers=2, output_size=4)
    model = random_model(config, seed=4)
    xs = random_inputs(config, 25, seed=2)
    want = Stream(model, backend="float").run(xs)
    for name, factory in STEP_PEERS:
        peer = factory(model)
        got = np.stack([peer.step(x) for x in xs])
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(TorchSequence(model).run(xs), want, atol=1e-5)


def test_report_bytes_match_the_c_export(bench_run) -> None:  # noqa: ANN001
    """The weight and state bytes a report quotes are the generated C's own figures."""
    from edgernn.export.c import budget

    model, _, report = bench_run
    b = budget(model)
    assert report["model"]["weight_bytes"] == b.weight_bytes
    assert report["model"]["state_bytes"] == b.state_bytes


_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # import torch now raises ImportError, as on a torch-free install
from edgernn.cli import main
sys.argv = ["edgernn", *sys.argv[1:]]
main()
"""


def test_bench_runs_without_torch(tmp_path: Path) -> None:
    """On a torch-free install (a Raspberry Pi) bench measures what it can and names the torch peers as not measured."""
    model_path = ir.save(random_model(CONFIG, seed=2), tmp_path / "m.ernn")
    args = ["bench", str(model_path), "-o", str(tmp_path / "out"), "--quick", "--backends", "reference"]
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, *args, "--no-memory", "--steps", "30"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    measured = {(r["name"], r["mode"]) for r in report["latency"]}
    assert {("edgernn-reference", "step"), ("edgernn-reference", "sequence")} <= measured
    for peer in ("pytorch-eager", "pytorch-nn-sequence", "onnxruntime-torch-export"):
        assert not any(name == peer for name, _ in measured)
        assert report["unavailable"][peer] == "torch is not installed: pip install 'edgernn[train]'"
    assert {p["name"] for p in report["scaling"]} == {"edgernn-reference"}
    assert "torch is not installed" in proc.stdout  # the terminal summary says so too


def test_memory_is_each_backends_own_not_inherited_from_the_bench(tmp_path: Path) -> None:
    """A child's ru_maxrss starts at its parent's peak on Linux; the measurement must not."""
    import resource

    from edgernn.bench import peak_rss

    path = ir.save(random_model(CONFIG, seed=3), tmp_path / "m.ernn")
    ballast = np.ones(400 << 20, np.uint8)  # 400 MiB, touched: this process's peak RSS is now above it
    del ballast
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert parent_peak > 400 << 10
    got = peak_rss(path, "reference", steps=20)
    assert not isinstance(got, str), got
    assert got.interpreter_rss_kib < got.baseline_rss_kib <= got.peak_rss_kib < 200 << 10 < parent_peak


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002
        self.tags.append(tag)
        self._in_heading = tag in ("h1", "h2")
        if self._in_heading:
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_heading = self._in_heading and tag not in ("h1", "h2")

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings[-1] += data


def test_html_report_is_the_markdown_rendered_as_html(bench_run) -> None:  # noqa: ANN001
    _, out, _ = bench_run
    md = (out / "report.md").read_text()
    parser = _Tags()
    parser.feed((out / "report.html").read_text())
    assert "pre" not in parser.tags
    assert parser.headings == [line.lstrip("# ") for line in md.splitlines() if re.match(r"#{1,2} ", line)]
    assert parser.tags.count("table") == len(re.findall(r"^\|---", md, re.M)) == 5
    cells = parser.tags.count("th") + parser.tags.count("td")
    assert cells == sum(line.count("|") - 1 for line in md.splitlines() if line.startswith("| "))
    assert parser.tags.count("li") == len(re.findall(r"^- ", md, re.M)) > 0


def test_embedded_cores_are_classed_and_timed_at_a_stated_clock(bench_run) -> None:  # noqa: ANN001
    _, out, report = bench_run
    cores = {m["target"]: m for m in report["mcu"]}
    m4, pi = cores["cortex-m4"], cores["aarch64"]
    assert (m4["processor"], m4["clock_mhz"], m4["clock_chip"]) == ("MCU", 168, "STM32F407")
    assert (pi["processor"], pi["clock_mhz"]) == ("application processor (Linux)", 1500)
    for m in (m4, pi):
        assert m["us_per_step_at_clock"] == pytest.approx(m["instructions_per_step"] / m["clock_mhz"], rel=1e-3)
        assert m["flash_bytes"] > m["runtime_code_bytes"] > 0 and m["ram_bytes"] > 0
    assert m4["stack_bytes"] > 0
    md = (out / "report.md").read_text()
    assert "CPI = 1" in md and "not the emulated board's" in md
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert " | MCU | " in rows["cortex-m4"] and "MCU" not in rows["aarch64"] and "Microcontroller" not in md
    assert "168 MHz (STM32F407)" in rows["cortex-m4"] and "1500 MHz (Raspberry Pi 4, BCM2711)" in rows["aarch64"]
    assert f" | {m4['flash_bytes']} | {m4['ram_bytes']} | {m4['stack_bytes']} | " in rows["cortex-m4"]


def test_accuracy_plot_shows_a_third_of_a_point() -> None:
    """98.67% vs 99.00% must be apart on the plot (on a 0-1 axis they are the same dot)."""
    model = {"description": "m", "sha256": "0" * 64, "params": 1, "macs_per_step": 1, "weight_bytes": 1}
    report = Report("0", machine={}, model={**model, "state_bytes": 1}, options={})
    report.accuracy = [
        AccuracyResult("float", "accuracy", 0.99, 300, "fsdd"),
        AccuracyResult("reference", "accuracy", 0.9867, 300, "fsdd"),
        AccuracyResult("c", "accuracy", 0.9867, 300, "fsdd"),
    ]
    ax = accuracy_figure(report).axes[0]
    lo, hi = ax.get_xlim()
    assert lo < 98.67 and 99.0 < hi and (99.0 - 98.67) / (hi - lo) > 0.25
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["99.00%", "98.67% (-0.33 points vs float)", "98.67% (-0.33 points vs float)"]
    assert "| reference | accuracy | 98.67% | -0.33 points | 300 | fsdd |" in render_markdown(report)


def test_implementations_are_timed_in_alternating_blocks() -> None:
    """Every implementation gets its inputs in order, a block per round, the rounds interleaved."""
    calls: list[tuple[str, int]] = []
    timed = [(name, lambda x, n=name: calls.append((n, x)), list(range(2 + 9))) for name in "abc"]
    samples = time_interleaved(timed, rounds=3, warmup=2)
    assert {k: len(v) for k, v in samples.items()} == {"a": 9, "b": 9, "c": 9}
    assert all(v.min() >= 0 for v in samples.values())
    timed_calls = calls[6:]  # after 2 warm-up calls each
    assert [n for n, _ in timed_calls[::3]] == list("abcbcacab")
    for name in "abc":
        assert [x for n, x in timed_calls if n == name] == list(range(2, 11))


def test_the_report_says_which_path_the_c_backend_was_timed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ctypes-path timing is many times slower per step than the compiled fast path: the report and the
    terminal summary name the path and why, so a slow figure is not mistaken for the runtime's speed."""
    from edgernn.bench import Bench
    from edgernn.bench.report import render_text

    model = random_model(CONFIG, seed=1)
    options = BenchOptions.quick_options(backends=("c",), steps=10, warmup=1)
    fast = Bench(model, options)
    assert fast._stream("c") is not None
    assert fast.report.machine["c_backend_path"] == "compiled fast path"
    assert "ctypes" not in render_text(fast.report)
    monkeypatch.setenv("EDGERNN_FASTPATH", "0")
    slow = Bench(model, options)
    stream = slow._stream("c")
    assert stream is not None and not stream.compiled_steps
    assert slow.report.machine["c_backend_path"] == "ctypes path (EDGERNN_FASTPATH=0)"
    assert "edgernn-c was timed on the ctypes path (EDGERNN_FASTPATH=0)" in render_text(slow.report)
    assert "edgernn `c` backend: ctypes path (EDGERNN_FASTPATH=0)." in render_markdown(slow.report)
