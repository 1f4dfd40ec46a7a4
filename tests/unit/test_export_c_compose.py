# SPDX-License-Identifier: Apache-2.0
"""Composable C exports (no compiler needed): --runtime none, --single-header, the runtime interface
version, the helpers' declarations, class names, the Makefile's target rules, the CLI options."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgernn.cli import cli
from edgernn.errors import EdgeRNNError
from edgernn.export import ExportOptions
from edgernn.export import c as cexport
from edgernn.ir import QuantizedRNN, save
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig


@pytest.fixture(scope="module")
def gru() -> QuantizedRNN:
    m = random_model(ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=5, output_size=3))
    return dataclasses.replace(m, class_names=("yes", 'say "no"?', "caf\u00e9"))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_runtime_none_writes_only_the_model(gru: QuantizedRNN, tmp_path: Path) -> None:
    out = tmp_path / "kws"
    cexport.export(gru, out, ExportOptions(prefix="kws", runtime="none", target="cortex-m4"))
    assert _files(out) == {
        "include/kws_model.h",
        "src/kws_model.c",
        "selftest/selftest.c",
        "selftest/vectors.bin",
        "CMakeLists.txt",
        "Makefile",
        "README.md",
        "LICENSE",
        "edgernn_export.json",
    }
    manifest = json.loads((out / "edgernn_export.json").read_text())
    assert manifest["runtime"] == "none" and manifest["runtime_version"] == list(cexport.runtime_version())
    makefile = (out / "Makefile").read_text()
    assert "EDGERNN_RUNTIME ?=" in makefile and "BOARDS := $(EDGERNN_RUNTIME)/boards" in makefile
    assert "find_package(edgernn CONFIG REQUIRED)" in (out / "CMakeLists.txt").read_text()


def test_single_header_is_one_header(gru: QuantizedRNN, tmp_path: Path) -> None:
    out = tmp_path / "kws"
    cexport.export(gru, out, ExportOptions(prefix="kws", single_header=True))
    assert _files(out) == {
        "kws.h",
        "selftest/selftest.c",
        "selftest/vectors.bin",
        "Makefile",
        "README.md",
        "LICENSE",
        "edgernn_export.json",
    }
    text = (out / "kws.h").read_text()
    # every runtime file of the path is pasted in; no include of a file that is not there remains
    for name in ("ernn_fc_s8.c", "ernn_gru_s8.c", "ernn_model_s8.c", "ernn_activation_s16.c"):
        assert f"/* ---- {name} ---- */" in text
    assert "ernn_cells_f32.c" not in text
    assert not re.findall(r'^\s*#\s*include\s+"', text, re.M)
    assert text.index("#ifndef KWS_H") < text.index("#if defined(KWS_IMPLEMENTATION)")
    # the int8 cells each define a static hidden_size(): renamed per file to share one translation unit
    assert "#define hidden_size(...) ernn_gru_s8_hidden_size(__VA_ARGS__)" in text
    assert '#define KWS_IMPLEMENTATION\n#include "kws.h"' in (out / "selftest" / "selftest.c").read_text()


def test_single_header_with_runtime_none_and_unknown_runtime_are_refused(gru: QuantizedRNN, tmp_path: Path) -> None:
    with pytest.raises(EdgeRNNError, match="single-header"):
        cexport.export(gru, tmp_path / "a", ExportOptions(single_header=True, runtime="none"))
    with pytest.raises(EdgeRNNError, match="unknown --runtime 'shared'"):
        cexport.export(gru, tmp_path / "b", ExportOptions(runtime="shared"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_model_c_checks_the_runtime_version(gru: QuantizedRNN) -> None:
    major, minor = cexport.runtime_version()
    header = (cexport.runtime_root() / "include" / "edgernn" / "ernn_common.h").read_text()
    assert f"#define ERNN_RUNTIME_VERSION_MAJOR {major}\n" in header
    model_c = cexport.render(gru, ExportOptions(prefix="kws"))["src/kws_model.c"].decode()
    assert f"#if !defined(ERNN_RUNTIME_VERSION_MAJOR) || ERNN_RUNTIME_VERSION_MAJOR != {major}\n#error" in model_c
    assert f"#elif ERNN_RUNTIME_VERSION_MINOR < {minor}\n#error" in model_c


def test_helpers_and_class_names_are_declared(gru: QuantizedRNN) -> None:
    files = cexport.render(gru, ExportOptions(prefix="kws"))
    header, source = files["include/kws_model.h"].decode(), files["src/kws_model.c"].decode()
    assert "ernn_status kws_quantize_input(const float *x, int8_t *x_q);" in header
    assert "ernn_status kws_dequantize_output(const int8_t *y_q, float *y);" in header
    assert "#define KWS_NUM_CLASSES 3" in header
    assert "extern const char *const kws_class_names[KWS_NUM_CLASSES];" in header
    assert '    "yes",\n    "say \\"no\\"\\?",\n    "caf\\303\\251",\n' in source
    # no nested designators (C++ rejects .params.gru = ...)
    assert ".params.gru" not in source and ".params = { .gru = {" in source


def test_helpers_follow_the_model(gru: QuantizedRNN) -> None:
    unnamed = dataclasses.replace(gru, class_names=None)
    header = cexport.render(unnamed, ExportOptions())["include/model_model.h"].decode()
    assert "class_names" not in header and "model_quantize_input" in header
    header = cexport.render(gru, ExportOptions(float_weights=True))["include/model_model.h"].decode()
    assert "quantize_input" not in header and "dequantize_output" not in header  # float in, float out
    tokens = random_model(ModelConfig(cell=CellType.GRU, vocab_size=9, embedding_dim=3, hidden_size=4), seed=2)
    header = cexport.render(tokens, ExportOptions())["include/model_model.h"].decode()
    assert "quantize_input" not in header and "model_dequantize_output" in header


def test_c_string_escapes() -> None:
    assert cexport.c_string("a") == '"a"'
    assert cexport.c_string('"\\?') == '"\\"\\\\\\?"'
    assert cexport.c_string("\n\u00e91") == '"\\012\\303\\2511"'  # octal: the digit after cannot join the escape


def _significant_bits(x: float) -> int:
    mantissa = int(math.frexp(abs(x))[0] * 2**53)
    return 0 if mantissa == 0 else mantissa.bit_length() - (mantissa & -mantissa).bit_length() + 1


@pytest.mark.parametrize("scale", [0.0123, 1.0, 3.0e-5, 7.77e3, float(np.float32(1) / 3)])
def test_scale_split_is_exact_with_12_bit_halves(scale: float) -> None:
    hi, lo = cexport._scale_split(scale)
    assert hi + lo == float(np.float32(scale))
    assert _significant_bits(hi) <= 12 and _significant_bits(lo) <= 12


def test_makefile_follows_the_target(gru: QuantizedRNN) -> None:
    for target, cc, run in (
        ("host", "CC = cc", "build/selftest selftest/vectors.bin"),
        ("cortex-m4", "CC = arm-none-eabi-gcc", "qemu-system-arm -M mps2-an386"),
        ("aarch64", "CC = aarch64-linux-gnu-gcc", "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu cortex-a72 build/"),
    ):
        makefile = cexport.render(gru, ExportOptions(target=target))["Makefile"].decode()
        assert cc in makefile and run in makefile, target
        assert "-lm" not in makefile


def test_cli_runtime_and_single_header(gru: QuantizedRNN, tmp_path: Path) -> None:
    path = tmp_path / "m.ernn"
    save(gru, path)
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(path), "--format", "c", "-o", str(tmp_path / "a"), "--runtime", "none"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "a" / "include" / "edgernn").exists()
    result = runner.invoke(cli, ["export", str(path), "--format", "c", "-o", str(tmp_path / "b"), "--single-header"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "model.h").is_file()
    result = runner.invoke(
        cli, ["export", str(path), "--format", "c", "-o", str(tmp_path / "c"), "--single-header", "--runtime", "none"]
    )
    assert result.exit_code != 0 and "cannot go with --runtime none" in result.output
    assert "Traceback" not in result.output
