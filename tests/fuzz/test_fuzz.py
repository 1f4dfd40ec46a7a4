"""The fast slice of the fuzz campaign (issue 14): a few hundred mutated files per kind, seeded,
each run in a child process. Every case must be accepted or refused with a one-line edgernn
error: no traceback, no native crash (signal death), no hang. ``benchmarks/fuzz.py`` runs the
long campaign."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.campaign import KINDS, KindReport, format_table, run_campaign

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("tflite_micro")

#: Cases per kind: the slow kinds (a model load, run and export per case) get fewer.
CASES = {"ernn": 150, "safetensors": 200, "npz": 300, "csv": 300, "onnx": 300, "tflite": 300}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KindReport]:
    found = run_campaign(KINDS, CASES, seed=14, workdir=tmp_path_factory.mktemp("fuzz"), timeout=60)
    print(format_table(found))
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_no_traceback_crash_or_hang(reports: dict[str, KindReport], kind: str) -> None:
    report = reports[kind]
    assert report.cases == CASES[kind]
    bad = {o: report.examples.get(o, []) for o in ("traceback", "crash", "hang") if report.outcomes[o]}
    assert not bad, f".{kind}: {dict(report.outcomes)}; examples: {bad}"
    # The campaign exercises the loaders: most mutations are refused, some still load.
    assert report.outcomes["clean"] > CASES[kind] // 2


def test_a_crash_is_seen_as_a_crash(tmp_path: Path) -> None:
    """The harness itself: a child killed by a signal is counted as a crash, not a pass."""
    from tests.fuzz.campaign import Worker

    worker = Worker(tmp_path / "worker.log")
    outcome, detail = worker.run({"kind": "crash-self", "path": "", "model": "", "sequence": ""}, timeout=120)
    worker.stop()
    assert (outcome, detail) == ("crash", "killed by SIGSEGV")
