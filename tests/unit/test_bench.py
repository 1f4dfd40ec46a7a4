"""The benchmark report: every section present, schema-valid, numbers consistent with the model.

Benchmarks measure; these tests never assert speed.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edgernn import ir
from edgernn.bench import BenchOptions, run_bench
from edgernn.bench.report import SCHEMA_PATH, write_report
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
        backends=("reference", "float", "no-such-backend"), data=data, scaling_hidden_sizes=(4, 8), steps=60, warmup=5
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
    for heading in ("Host latency per step", "Latency vs hidden size", "Host memory", "Accuracy", "Not measured"):
        assert heading in md
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # latency, scaling, memory, accuracy plots


def test_numbers_are_consistent_with_the_model(bench_run) -> None:  # noqa: ANN001
    model, _, report = bench_run
    assert report["model"]["macs_per_step"] == 3 * 8 * (5 + 8) + 3 * 8 == model.config.macs_per_step
    # the C export's packed constant data (for this model fewer bytes than the IR's per-row multipliers)
    assert 0 < report["model"]["weight_bytes"] <= model.weight_bytes
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
        assert m["peak_rss_kib"] >= m["baseline_rss_kib"] > 0
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
