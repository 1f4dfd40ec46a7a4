"""The CLI's outputs and inputs (issue 14 items 1, 8, 11, 12): nothing of the user's is replaced
or moved, no missing folder is created, text tables in the usual dialects are read, and every
refusal is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

from .test_cli import assert_user_error, invoke

ROOT = Path(__file__).resolve().parents[2]
ROWS = [[0.5, 1.0, -0.5, 2.0], [0.25, -1.0, 0.0, 1.5], [1.0, 0.5, 0.5, -2.0]]
# Makes `import torch` fail in a child process, as on a torch-free install (a Raspberry Pi).
NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoTorch())
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("m") / "m.ernn"
    ir.save(random_model(ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=3, output_size=3), seed=1), path)
    return path


def python(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=full_env)


def users_folder(path: Path) -> Path:
    path.mkdir()
    (path / "thesis.tex").write_text("years of work")
    return path


def assert_untouched(folder: Path) -> None:
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")], "no hidden copies"


# ---- item 1: existing folders ---------------------------------------------------------------------


def test_export_all_refuses_a_folder_that_is_not_an_export(model: Path, tmp_path: Path) -> None:
    out = users_folder(tmp_path / "out")
    assert_user_error(invoke("export", model, "--format", "all", "-o", out), "not an edgernn export bundle")
    assert_untouched(out)
    # An earlier bundle is replaced as a whole.
    fresh = tmp_path / "bundle"
    assert invoke("export", model, "--format", "all", "-o", fresh).exit_code == 0
    (fresh / "stale.txt").write_text("")
    assert invoke("export", model, "--format", "all", "-o", fresh).exit_code == 0
    assert (fresh / "manifest.json").is_file() and not (fresh / "stale.txt").exists()


def test_demo_refuses_a_folder_that_is_not_a_demo_before_any_work(tmp_path: Path) -> None:
    out = users_folder(tmp_path / "out")
    assert_user_error(invoke("demo", "-o", out, "--no-progress"), "not an edgernn demo output")
    assert_untouched(out)


@pytest.mark.parametrize("command", ["export", "demo"])
def test_output_dotdot_from_inside_moves_nothing(command: str, model: Path, tmp_path: Path) -> None:
    sub = users_folder(tmp_path / "sub")
    args = ["export", str(model), "--format", "all"] if command == "export" else ["demo", "--no-progress"]
    proc = python("-m", "edgernn", *args, "-o", "../sub", cwd=sub)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("Error:") == 1 and "contains the current folder" in proc.stderr
    assert_untouched(sub)
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]


# ---- item 11: missing folders, run and export outputs ----------------------------------------------


def test_outputs_in_a_missing_folder_are_refused_not_created(model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"
    data = tmp_path / "d.npz"
    np.savez(data, X=np.zeros((4, 4), np.float32), lengths=np.array([2, 2]), y=np.array([0, 1]))
    assert_user_error(invoke("train", "--data", data, "-o", missing / "x.safetensors"), "does not exist")
    assert_user_error(invoke("run", model, data, "-o", missing / "y.npz"), "does not exist")
    assert_user_error(invoke("export", model, "--format", "c", "-o", missing / "c"), "does not exist")
    assert_user_error(invoke("export", model, "--format", "onnx", "-o", f"{tmp_path / 'nodir'}/"), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_run_refuses_a_model_as_input(model: Path) -> None:
    assert_user_error(invoke("run", model, model), "is an edgernn model, not input data")


def _table(rows: list[list[float]], sep: str, header: bool = True) -> str:
    head = [sep.join(f"f{j}" for j in range(4))] if header else []
    return "\n".join(head + [sep.join(str(v) for v in r) for r in rows]) + "\n"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("semicolon.csv", _table(ROWS, ";")),
        ("tab.tsv", _table(ROWS, "\t")),
        ("spaces.txt", _table(ROWS, "   ", header=False)),
        ("bom.csv", "\ufeff" + _table(ROWS, ",", header=False)),  # Excel's UTF-8 CSV: the first row is data
        ("bom-header.csv", "\ufeff" + _table(ROWS, ",")),
    ],
)
def test_run_reads_text_tables_in_the_usual_dialects(name: str, text: str, model: Path, tmp_path: Path) -> None:
    comma = tmp_path / "comma.csv"
    comma.write_text(_table(ROWS, ","))
    other = tmp_path / name
    other.write_text(text, encoding="utf-8")
    want = invoke("run", model, comma, "-o", tmp_path / "want.json")
    got = invoke("run", model, other, "-o", tmp_path / "got.json")
    assert want.exit_code == 0 and got.exit_code == 0, got.output
    assert "(3 steps)" in got.output
    assert json.loads((tmp_path / "got.json").read_text()) == json.loads((tmp_path / "want.json").read_text())


def test_run_output_format_follows_the_suffix(model: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "x.csv"
    inputs.write_text(_table(ROWS, ","))
    r = invoke("run", model, inputs, "-o", tmp_path / "out.json")
    assert "streamed 1 sequence (3 steps)" in r.output
    outputs = json.loads((tmp_path / "out.json").read_text())["outputs"]
    assert np.array(outputs).shape == (1, 3, 3)
    assert_user_error(invoke("run", model, inputs, "-o", tmp_path / "out.zip"), "out.zip", ".json")
    assert not (tmp_path / "out.zip").exists()


def test_export_to_a_folder_writes_inside_it(model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    r = invoke("export", model, "--format", "onnx", "-o", f"{folder}/", "--prefix", "kws")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in folder.iterdir()) == ["kws.onnx", "kws.sequence.onnx"]
    r = invoke("export", model, "--format", "tflite", "-o", folder)
    assert (folder / "model.tflite").is_file()
    assert f"wrote 1 file to {folder}" in r.output  # not "1 files"


def test_bench_checks_the_data_width_before_timing(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgernn.bench

    def timing(*args: object, **kwargs: object) -> None:
        raise AssertionError("bench started timing with data the model cannot take")

    monkeypatch.setattr(edgernn.bench, "run_bench", timing)
    wide = tmp_path / "wide.npz"
    np.savez(wide, X=np.zeros((50, 7), np.float32), lengths=np.full(10, 5), y=np.arange(10) % 3)
    assert_user_error(invoke("bench", model, "--data", wide, "-o", tmp_path / "report"), "(T, 4)")
    assert not (tmp_path / "report").exists()


def test_cli_polish(model: Path, tmp_path: Path) -> None:
    """python -m edgernn, each command listed once, no LiteRT INFO line in the output."""
    proc = python("-m", "edgernn", "--help")
    assert proc.returncode == 0
    head, commands = proc.stdout.split("Commands:")
    assert [line.split()[0] for line in commands.strip().splitlines()] == [
        "train",
        "quantize",
        "evaluate",
        "run",
        "generate",
        "inspect",
        "export",
        "package",
        "bench",
        "demo",
        "seq2seq",
    ]
    assert not any(line.split()[:1] == ["train"] for line in head.splitlines()), "listed once"
    inputs = tmp_path / "x.csv"
    inputs.write_text(_table(ROWS, ","))
    proc = python("-m", "edgernn", "run", str(model), str(inputs), "--backend", "tflite")
    assert proc.returncode == 0, proc.stderr
    assert "XNNPACK" not in proc.stdout + proc.stderr and "INFO" not in proc.stderr


# ---- item 8: the C backend's cache --------------------------------------------------------------


def test_an_unwritable_c_cache_is_one_error(model: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    inputs = tmp_path / "x.csv"
    inputs.write_text(_table(ROWS, ","))
    proc = python(
        "-m", "edgernn", "run", str(model), str(inputs), "--backend", "c", env={"EDGERNN_CACHE": str(blocker)}
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "C backend's cache" in proc.stderr and "EDGERNN_CACHE" in proc.stderr


# ---- item 12: a torch-free install ----------------------------------------------------------------

# Three ways into the training side of the Python API; each prints the error it raises.
API_ATTEMPTS = """
import edgernn
def attempt(fn):
    try:
        fn()
    except Exception as exc:
        print(type(exc).__name__, isinstance(exc, edgernn.EdgeRNNError) and isinstance(exc, ImportError), exc)
attempt(lambda: edgernn.train)
attempt(lambda: __import__("edgernn.models"))
attempt(lambda: __import__("edgernn.quant", fromlist=["quantize"]).quantize)
"""


def test_a_torch_free_install_names_the_train_extra(model: Path, tmp_path: Path) -> None:
    code = NO_TORCH + API_ATTEMPTS
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        assert line.startswith("MissingTorchError True") and "pip install 'edgernn[train]'" in line
    # The CLI too, and `run` works without torch.
    cli_code = NO_TORCH + "from edgernn.cli import main; main()"
    proc = python("-c", cli_code, "train", "--dataset", "fsdd", "-o", str(tmp_path / "m.safetensors"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "edgernn[train]" in proc.stderr
    inputs = tmp_path / "x.csv"
    inputs.write_text(_table(ROWS, ","))
    proc = python("-c", cli_code, "run", str(model), str(inputs))
    assert proc.returncode == 0 and "-> class" in proc.stdout, proc.stderr


def test_demo_skips_backends_whose_extra_is_missing() -> None:
    code = (
        NO_TORCH.replace('name == "torch"', 'name.split(".")[0] in ("onnx", "onnxruntime", "ai_edge_litert")').replace(
            'name.startswith("torch.")', "False"
        )
        + """
from edgernn.pipeline import demo_availability
from edgernn.types import ModelConfig
usable, bundle, notes = demo_availability(ModelConfig(cell="gru", input_size=13, hidden_size=32, output_size=10))
print(usable, bundle)
print(*notes, sep="\\n")
"""
    )
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    first, *notes = proc.stdout.splitlines()
    assert first.startswith("['reference', 'c'") and first.endswith("False")
    assert "onnx" not in first and "'tflite'" not in first
    assert any("skipping the onnx backend" in n and "edgernn[onnx]" in n for n in notes)
    assert any("skipping the tflite backend" in n and "edgernn[tflite]" in n for n in notes)
    assert any("skipping the ONNX and TFLite exports" in n for n in notes)


@pytest.mark.slow
def test_demo_writes_its_folder_and_replaces_an_earlier_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    for run in range(2):  # the second run replaces the first run's folder as a whole
        if run:
            (out / "stale.txt").write_text("left in the first run's folder")
        r = invoke("demo", "-o", out, "--epochs", 1, "--hidden", 8, "--no-progress")
        assert r.exit_code == 0, r.output
    assert "int8 (reference)" in r.output and "wrote" in r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["edgernn_demo.json", "export", "model.ernn", "model.safetensors", "report.txt"]
    assert (out / "export" / "c" / "include" / "model_model.h").is_file()  # what the Pi example builds with
    assert [p.name for p in tmp_path.iterdir()] == ["demo"], "no temporary folders left"
