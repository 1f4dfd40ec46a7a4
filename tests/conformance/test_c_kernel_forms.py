"""Every form of the packed FC kernels on the cores that have a port, and the fallbacks, end to end.

* The C unit tests (firmware_export/tests: packed layers == row-major layers for every requantization
  form, the activations on all 65,536 inputs, the cells' short and general forms against the general
  formulas) built for Cortex-M0 (portable C), M4 (the DSP asm) and M55 (MVE) and run under QEMU.
* Exports whose layers take the fallbacks, bit-exact with the integer reference on those cores:
  the accumulator bound not proven (general saturating requantization), and per-row multipliers on
  the gates (the per-row path with the gate sums and activations).
* An export packed for one core refuses to compile for a core with another packing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from edgernn import targets as T
from edgernn.export import ExportOptions, c_packing, export_model
from edgernn.export.c import runtime_files, runtime_root, write_test_vectors
from edgernn.testing import random_inputs, random_model
from edgernn.types import ModelConfig, OutputMode

CORES = ("cortex-m0", "cortex-m4", "cortex-m55")
UNIT_TESTS = ("test_kernels_s8.c", "test_fixedpoint.c", "test_model_s8.c", "test_gate_ports.c")
NEON_CORES = ("aarch64", "cortex-a76")  # the NEON port: SMULL/SADALP (qemu -cpu cortex-a72), SDOT (-cpu max)


@pytest.mark.parametrize("target", [*CORES, *NEON_CORES])
@pytest.mark.parametrize("test", UNIT_TESTS)
def test_c_unit_tests_on_the_core(target: str, test: str, tmp_path: Path) -> None:
    T.require_tools(target)
    root = runtime_root()
    sources = [src for dest, src in runtime_files(False) if dest.endswith(".c")]
    build = T.build_program(
        target,
        [root / "tests" / test, *sources],
        tmp_path / f"{Path(test).stem}.elf",
        include_dirs=[root / "include", root / "src", root / "tests"],
        werror=False,
    )
    result = T.run_program(build, timeout=600)
    assert result.returncode == 0, result.output
    assert " checks, 0 failures" in result.output, result.output


MODELS = {
    "lstm": ModelConfig(cell="lstm", input_size=6, hidden_size=9, output_size=3, output_mode=OutputMode.SEQUENCE),
    "gru": ModelConfig(cell="gru", input_size=13, hidden_size=7, num_layers=2, output_mode=OutputMode.SEQUENCE),
    "elman": ModelConfig(cell="rnn", input_size=5, hidden_size=6, output_size=2, output_mode=OutputMode.SEQUENCE),
}


def _unproven(p: c_packing.PackedFC) -> c_packing.PackedFC:
    return dataclasses.replace(p, bounded=False, doubled=False, bias=p.folded_bias)


def _per_row(p: c_packing.PackedFC) -> c_packing.PackedFC:
    """The same constants, one per (padded) row: the kernels' per-row path."""
    if p.group_rows == 0:
        return p
    rows = p.bias.size
    return dataclasses.replace(
        p,
        multiplier=np.repeat(p.multiplier, p.group_rows)[:rows],
        shift=np.repeat(p.shift, p.group_rows)[:rows],
        group_rows=0,
    )


@pytest.mark.parametrize("target", CORES)
@pytest.mark.parametrize("form", ["unproven-bound", "per-row-multipliers"])
@pytest.mark.parametrize("name", list(MODELS))
def test_fallback_forms_equal_the_reference(
    name: str, form: str, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    T.require_tools(target)
    config = MODELS[name]
    model = random_model(config, seed=31, weight_gain=4.0)
    change = _unproven if form == "unproven-bound" else _per_row
    original = c_packing.pack_fc
    monkeypatch.setattr("edgernn.export.c.pack_fc", lambda *a, **k: change(original(*a, **k)))
    export_dir = tmp_path / "export"
    export_model(model, "c", export_dir, ExportOptions(prefix="m", target=target))
    text = (export_dir / "src" / "m_model.c").read_text()
    if form == "unproven-bound":
        assert "bound not proven" in text
    else:
        assert "per group of" not in text and "per row" in text
    seqs = [model.input_q.quantize(random_inputs(config, n, seed=k, scale=3.0)) for k, n in enumerate((60, 9))]
    vectors = write_test_vectors(model, tmp_path / "v.bin", seqs)
    result = T.run_selftest(T.build_selftest(export_dir, target, tmp_path / "build"), vectors)
    assert result.exit_status == 0 and result.mismatches == 0, result.output
    assert result.vectors == sum(len(s) for s in seqs)


def test_weights_packed_for_another_core_do_not_compile(tmp_path: Path) -> None:
    T.require_tools("cortex-m55")
    model = random_model(MODELS["elman"], seed=1)
    export_model(model, "c", tmp_path / "e", ExportOptions(prefix="m", target="cortex-m4"))
    with pytest.raises(T.TargetBuildError, match="re-export with --target"):
        T.build_selftest(tmp_path / "e", "cortex-m55", tmp_path / "build")
