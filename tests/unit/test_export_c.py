"""The C exporter: folder layout, banners, memory budget, options, atomic output, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgernn import __version__
from edgernn.cli import cli
from edgernn.errors import EdgeRNNError
from edgernn.export import ExportOptions, export_model
from edgernn.export import c as cexport
from edgernn.ir import QuantizedRNN, save
from edgernn.runtime import Stream
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig


@pytest.fixture(scope="module")
def lstm() -> QuantizedRNN:
    return random_model(ModelConfig(cell=CellType.LSTM, input_size=5, hidden_size=6, num_layers=2, output_size=3))


@pytest.fixture(scope="module")
def tokens() -> QuantizedRNN:
    return random_model(ModelConfig(cell=CellType.GRU, vocab_size=12, embedding_dim=4, hidden_size=5), seed=1)


def _runtime_names(suffixes: tuple[str, ...]) -> set[str]:
    src = cexport.runtime_root() / "src"
    return {f"src/{p.name}" for p in src.glob("*.c") if p.stem.endswith(suffixes)}


def test_layout_of_an_int8_export(lstm: QuantizedRNN, tmp_path: Path) -> None:
    out = tmp_path / "kws"
    result = cexport.export(lstm, out, ExportOptions(prefix="kws"))
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    headers = {f"include/edgernn/{p.name}" for p in (cexport.runtime_root() / "include" / "edgernn").glob("*.h")}
    expected = {
        "include/kws_model.h",
        "src/kws_model.c",
        "src/ernn_internal.h",
        "src/ernn_lut_s16.h",
        "src/ernn_model_impl.h",
        "selftest/selftest.c",
        "selftest/vectors.bin",
        "CMakeLists.txt",
        "Makefile",
        "README.md",
        "edgernn_export.json",
        "LICENSE",
        *headers,
        *_runtime_names(("_s8", "_s16")),
    }
    assert files == expected
    assert {p.relative_to(out).as_posix() for p in result.files} == expected
    manifest = json.loads((out / "edgernn_export.json").read_text())
    assert manifest["prefix"] == "kws" and manifest["model_sha256"] == lstm.sha256
    assert set(manifest["files"]) == expected


def test_float_export_carries_only_the_float_path(lstm: QuantizedRNN, tmp_path: Path) -> None:
    cexport.export(lstm, tmp_path / "f", ExportOptions(float_weights=True))
    sources = {f"src/{p.name}" for p in (tmp_path / "f" / "src").glob("*.c")}
    assert sources == _runtime_names(("_f32",)) | {"src/model_model.c"}
    assert (tmp_path / "f" / "src" / "ernn_model_impl.h").is_file()  # the model driver both paths share
    header = (tmp_path / "f" / "include" / "model_model.h").read_text()
    assert "model_step_f32(model_state_t *state, const float *x, float *y)" in header
    assert "ernn_status model_step(" not in header


def test_bare_metal_exports_carry_their_board_files(tokens: QuantizedRNN, tmp_path: Path) -> None:
    from edgernn.boards import TARGETS

    cexport.export(tokens, tmp_path / "e", ExportOptions(target="cortex-m4"))
    boards = {p.relative_to(tmp_path / "e").as_posix() for p in (tmp_path / "e" / "boards").rglob("*")}
    assert {"boards/common/cortexm_startup.c", "boards/mps2-an386/mps2-an386.ld"} <= boards
    assert all(b.split("/")[1] in ("common", "mps2-an386") for b in boards)
    readme = (tmp_path / "e" / "README.md").read_text()
    assert " ".join(TARGETS["cortex-m4"].cflags) in readme and "qemu-system-arm" in readme
    cexport.export(tokens, tmp_path / "pi", ExportOptions(target="armv7"))
    assert not (tmp_path / "pi" / "boards").exists()
    assert " ".join(TARGETS["armv7"].cflags) in (tmp_path / "pi" / "CMakeLists.txt").read_text()


@pytest.mark.parametrize("target", ["host", "cortex-m0"])
def test_every_text_file_starts_with_a_banner(target: str, tokens: QuantizedRNN, tmp_path: Path) -> None:
    cexport.export(tokens, tmp_path / "e", ExportOptions(target=target))
    for path in (tmp_path / "e").rglob("*"):
        if not path.is_file() or path.suffix == ".bin" or path.name == "LICENSE":  # the licence verbatim
            continue
        head = "\n".join(path.read_text().splitlines()[:3])
        assert "edgernn.export.c" in head and f"edgernn {__version__}" in head, path
        assert tokens.sha256 in head, path


def test_budget_lines_and_macros_agree_with_the_ir(lstm: QuantizedRNN, tmp_path: Path) -> None:
    result = cexport.export(lstm, tmp_path / "e", ExportOptions(target="cortex-m4"))
    b = cexport.budget(lstm, target="cortex-m4")
    assert b.state_bytes == lstm.state_bytes
    # the weights as packed for the core: every gate padded to 8 rows, inputs to a multiple of 4 columns,
    # per-gate multiplier and shift (the per-channel head: per row, padded to 4 rows)
    gates, rows = 4, 4 * 8
    cell = lambda n_in: rows * (-(-n_in // 4) * 4) + rows * 4 + gates * 8  # noqa: E731
    head = 4 * 8 + 4 * 4 + 4 * 8
    assert b.weight_bytes == cell(5) + cell(6) * 3 + head
    assert b.weight_bytes == cexport.budget(lstm, target="cortex-m7").weight_bytes
    assert result.report[0] == "memory budget (int8 path, target cortex-m4):"
    assert f"flash: {b.weight_bytes} bytes of weights" in result.report[1]
    assert f"ram:   {b.ram_bytes} bytes ({b.state_bytes} state + {b.scratch_bytes} scratch)" in result.report[2]
    header = (tmp_path / "e" / "include" / "model_model.h").read_text()
    macros = dict(re.findall(r"#define MODEL_(\w+) (\S+)", header))
    assert int(macros["WEIGHT_BYTES"]) == b.weight_bytes
    assert int(macros["STATE_BYTES"]) == b.state_bytes
    assert int(macros["SCRATCH_BYTES"]) == b.scratch_bytes
    assert int(macros["INPUT_ZERO_POINT"]) == lstm.input_q.zero_point
    assert int(macros["OUTPUT_SIZE"]) == 3 and int(macros["INPUT_SIZE"]) == 5
    assert float(macros["OUTPUT_SCALE"].rstrip("f")) == pytest.approx(lstm.output_q.scale, rel=1e-7)
    readme = (tmp_path / "e" / "README.md").read_text()
    assert "-mcpu=cortex-m4" in readme and str(b.weight_bytes) in readme
    assert '"cortex-m4"' in (tmp_path / "e" / "CMakeLists.txt").read_text()
    fb = cexport.budget(lstm, float_path=True)
    assert fb.state_bytes == 4 * lstm.state_bytes * 2 // 3  # float h and c instead of int8 h + int16 c


@pytest.mark.parametrize("prefix", ["1abc", "a-b", "int", "static", "_Bool", "__x", "_Model", "ernn", "ernn_kws", ""])
def test_bad_prefix_is_refused(prefix: str, lstm: QuantizedRNN, tmp_path: Path) -> None:
    with pytest.raises(EdgeRNNError, match="prefix"):
        cexport.export(lstm, tmp_path / "e", ExportOptions(prefix=prefix))
    assert not (tmp_path / "e").exists()


def test_good_prefixes(lstm: QuantizedRNN) -> None:
    for prefix in ("kws", "model_v2", "_m", "Net"):
        assert cexport.validate_prefix(prefix) == prefix


def test_max_flash_and_max_ram_refuse_with_the_figures(lstm: QuantizedRNN, tmp_path: Path) -> None:
    b = cexport.budget(lstm)
    with pytest.raises(EdgeRNNError, match=f"{b.weight_bytes} bytes of flash.*--max-flash {b.weight_bytes - 1}"):
        cexport.export(lstm, tmp_path / "e", ExportOptions(max_flash=b.weight_bytes - 1))
    with pytest.raises(EdgeRNNError, match=rf"{b.ram_bytes} bytes of RAM \({b.state_bytes} state"):
        cexport.export(lstm, tmp_path / "e", ExportOptions(max_ram=b.ram_bytes - 1))
    assert not (tmp_path / "e").exists()
    cexport.export(lstm, tmp_path / "e", ExportOptions(max_flash=b.weight_bytes, max_ram=b.ram_bytes))


def test_output_folder_is_written_atomically(lstm: QuantizedRNN, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "e"
    # An unrelated non-empty folder is never touched.
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(EdgeRNNError, match="not empty"):
        cexport.export(lstm, out, ExportOptions())
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (out / "notes.txt").unlink()
    # An empty folder, then a previous export, are replaced.
    cexport.export(lstm, out, ExportOptions(prefix="first"))
    (out / "build").mkdir()
    (out / "build" / "selftest").write_text("stale")
    cexport.export(lstm, out, ExportOptions(prefix="second"))
    assert (out / "include" / "second_model.h").is_file()
    assert not (out / "include" / "first_model.h").exists() and not (out / "build").exists()
    # A failure while moving into place leaves the previous export intact and no temporary folders.
    real_rename = os.rename

    def failing_rename(src: os.PathLike, dst: os.PathLike) -> None:
        if Path(dst) == out and Path(src).name.endswith(".tmp"):  # moving the new export in fails
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(cexport.os, "rename", failing_rename)
    with pytest.raises(EdgeRNNError, match="cannot write"):
        cexport.export(lstm, out, ExportOptions(prefix="third"))
    assert (out / "include" / "second_model.h").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]
    # A file where the folder should be is refused.
    monkeypatch.undo()
    with pytest.raises(EdgeRNNError, match="not a folder"):
        cexport.export(lstm, out / "README.md", ExportOptions())


def test_vectors_roundtrip_and_equal_the_reference(tokens: QuantizedRNN, tmp_path: Path) -> None:
    seqs = [np.array([0, 11, 3, 3]), np.array([5])]
    path = cexport.write_test_vectors(tokens, tmp_path / "v.bin", seqs)
    v = cexport.read_test_vectors(path)
    assert (v.model_sha256, v.input_kind, v.output_kind) == (tokens.sha256, cexport.KIND_INT32, cexport.KIND_INT8)
    s = Stream(tokens)
    for seq, inputs, outputs in zip(seqs, v.inputs, v.outputs):
        s.reset()
        assert np.array_equal(inputs[:, 0], seq)
        assert np.array_equal(outputs, s.run_int8(seq))
    f = cexport.read_test_vectors(cexport.write_test_vectors(tokens, tmp_path / "f.bin", seqs, float_path=True))
    assert f.output_kind == cexport.KIND_FLOAT32 and f.atol > 0 and f.outputs[0].dtype == np.float32
    with pytest.raises(EdgeRNNError, match="outside"):
        cexport.write_test_vectors(tokens, tmp_path / "bad.bin", [np.array([12])])


def test_state_layout_matches_the_struct(lstm: QuantizedRNN) -> None:
    lay = cexport.StateLayout.of(lstm, float_path=False)
    # scratch: the summed gates (4 gates padded to 8 rows each), the widened input (6 values -> 16, + 2)
    assert (lay.scratch_offset, lay.hidden_offset) == (2 * 12, 2 * 12 + 2 * (4 * 8 + 16 + 2))
    assert lay.total_bytes == lay.hidden_offset + 12 and lay.state_bytes == lstm.state_bytes
    text = cexport.render(lstm)["src/model_model.c"].decode()
    assert f"sizeof(model_state_t) == {lay.total_bytes}" in text


def test_cli_export(lstm: QuantizedRNN, tmp_path: Path) -> None:
    model_path = save(lstm, tmp_path / "m.ernn")
    runner = CliRunner()
    out = tmp_path / "c"
    result = runner.invoke(cli, ["export", str(model_path), "--format", "c", "-o", str(out), "--prefix", "kws"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("memory budget (int8 path, target host)")
    assert lines[1].startswith("  flash: ") and lines[2].startswith("  ram: ")
    assert lines[-1] == f"wrote {len(list(p for p in out.rglob('*') if p.is_file()))} files to {out}"
    bad = runner.invoke(cli, ["export", str(model_path), "--format", "c", "-o", str(tmp_path / "x"), "--prefix", "do"])
    assert bad.exit_code == 1 and "prefix 'do' is a C keyword" in bad.output
    tight = runner.invoke(
        cli, ["export", str(model_path), "--format", "c", "-o", str(tmp_path / "y"), "--max-ram", "8"]
    )
    assert tight.exit_code == 1 and "--max-ram 8" in tight.output
    via_dispatch = export_model(lstm, "c", tmp_path / "z", ExportOptions(float_weights=True, target="cortex-m0"))
    assert any("no FPU" in line for line in via_dispatch.report)


def test_runtime_path_does_not_import_torch() -> None:
    code = "import sys, edgernn.runtime.c_backend, edgernn.export.c; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
