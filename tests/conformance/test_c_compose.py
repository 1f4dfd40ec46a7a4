# SPDX-License-Identifier: Apache-2.0
"""Composable C exports, compiled and run: the float quantize helper bit-equal to the Stream's quantization,
two models in one Cortex-M4 firmware under QEMU, --runtime none against an installed runtime and its
version check, --single-header as C99 and C++17, the generated sources under gcc/g++ and
arm-none-eabi-gcc/g++, and the Makefile built and run for its --target.

Missing compilers or QEMU fail with the install hint (edgernn.toolchain); nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgernn.emulation import run_program
from edgernn.export import ExportOptions
from edgernn.export.c import _c_float, export, runtime_root, write_test_vectors
from edgernn.ir import QuantizedRNN
from edgernn.runtime import Stream
from edgernn.testing import random_inputs, random_model
from edgernn.toolchain import (
    WARNING_FLAGS,
    Build,
    board_files,
    compile_objects,
    missing_tool,
    require_tools,
    run_tool,
)
from edgernn.types import CellType, ModelConfig
from tests import c_build

HOST_CXX_FLAGS = ["-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror"]
HOST_C_FLAGS = ["-std=c99", *WARNING_FLAGS, "-Werror"]
M4 = "cortex-m4"
STREAM_STEPS = 400
SELFTEST_LINE = re.compile(r"^selftest: (\d+) vectors compared, (\d+) mismatches$", re.M)


def _host(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise missing_tool(program, ("g++",) if program.endswith("++") else ("gcc",))
    return path


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _normalized(model: QuantizedRNN, seed: int) -> QuantizedRNN:
    rng = np.random.default_rng(seed)
    f = model.config.input_size
    mean = rng.normal(0, 3, f).astype(np.float32)
    std = rng.uniform(0.3, 4.0, f).astype(np.float32)
    mean[0], std[0] = 0.0, 2.0  # feature 0 normalizes exactly: exact ties reach the quantizer
    return dataclasses.replace(model, input_mean=mean, input_std=std)


@pytest.fixture(scope="module")
def gru() -> QuantizedRNN:
    # seed 2: an input scale with 3 trailing zero bits, so x = h * scale is exact for h = +-0.5 ... +-3.5: real ties
    m = random_model(ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8, output_size=3), seed=2)
    return dataclasses.replace(m, class_names=("noise", "yes", "no"))


@pytest.fixture(scope="module")
def elman_x16() -> QuantizedRNN:
    """A regression model: a 16-bit input (docs/input_bits.md), quantized by the integer helper."""
    cfg = ModelConfig(cell=CellType.RNN, input_size=3, hidden_size=8, output_size=1, task="regression")
    return random_model(cfg, seed=30)  # an input scale with 6 trailing zero bits: real ties, as the GRU's


@pytest.fixture(scope="module")
def lstm_x16() -> QuantizedRNN:
    cfg = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=6, output_size=2, task="regression")
    return _normalized(random_model(cfg, seed=5), 5)


@pytest.fixture(scope="module")
def lstm() -> QuantizedRNN:
    m = random_model(ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=6, num_layers=2, output_size=2), seed=5)
    return _normalized(m, 5)


# --------------------------------------------------------------------------------------------
# The quantize helper == the Stream's quantization, bit for bit (host, C and C++).

QUANTIZE_MAIN = r"""
#include <stdio.h>
#include "{p}_model.h"

int main(int argc, char **argv)
{{
    float x[{P}_INPUT_SIZE];
    {qtype} q[{P}_INPUT_SIZE];
    FILE *in = argc > 2 ? fopen(argv[1], "rb") : NULL;
    FILE *out = argc > 2 ? fopen(argv[2], "wb") : NULL;
    if (in == NULL || out == NULL) {{
        return 2;
    }}
    while (fread(x, sizeof x[0], {P}_INPUT_SIZE, in) == (size_t){P}_INPUT_SIZE) {{
        const signed char status = (signed char){p}_quantize_input(x, q);
        fwrite(q, 1, sizeof q, out);
        fwrite(&status, 1, 1, out);
    }}
    fclose(in);
    return fclose(out) != 0;
}}
"""


def _near_ties(model: QuantizedRNN) -> np.ndarray:
    """Normalized values at and around every half-integer multiple of the input scale in [-140, 140] (a 16-bit
    input: and at 600 random ones in the int16 range and its ends)."""
    s = np.float32(model.input_q.scale)
    values = []
    ks = list(range(-141, 141))
    if model.input_bits == 16:
        ks += [*np.random.default_rng(3).integers(-33000, 33000, 600).tolist(), -32770, -32769, 32767, 32768]
    for k in ks:
        x0 = np.float32((k + 0.5) * float(s))
        below, above = x0, x0
        values.append(x0)
        for _ in range(3):
            below, above = np.nextafter(below, np.float32(-np.inf)), np.nextafter(above, np.float32(np.inf))
            values += [below, above]
    return np.array(values, dtype=np.float32)


def _raw_inputs(model: QuantizedRNN) -> np.ndarray:
    """Raw features: near-ties (mapped back through the normalization, with neighbours), saturation,
    zeros, subnormals, random values; flattened to whole frames."""
    f = model.config.input_size
    n = _near_ties(model)
    if model.input_mean is not None:
        mean, std = np.resize(model.input_mean, n.size), np.resize(model.input_std, n.size)
        base = (n * std + mean).astype(np.float32)
        n = np.concatenate([base, np.nextafter(base, np.float32(np.inf)), np.nextafter(base, np.float32(-np.inf))])
    rng = np.random.default_rng(7)
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 1e6, -1e6, 1e3, -1e3], dtype=np.float32)
    values = np.concatenate([n, special, rng.normal(0, 5, 4000).astype(np.float32)])
    # with f features per frame, each value must meet its own feature's normalization: repeat per feature
    frames = np.repeat(values, f).reshape(-1, f) if model.input_mean is not None else None
    if frames is None:
        values = values[: values.size - values.size % f]
        frames = values.reshape(-1, f)
    return frames


def _stream_quantize(model: QuantizedRNN, frames: np.ndarray) -> np.ndarray:
    adapter = Stream(model, backend="reference").adapter
    return np.stack([adapter.features(frame, time_axis=False) for frame in frames])


def _check_the_hard_cases_are_there(model: QuantizedRNN, frames: np.ndarray, expected: np.ndarray) -> None:
    """Exact ties (rounded both ways by half-to-even), float32 quotients that land on a half-integer the
    exact quotient is not on, and saturation on both sides."""
    s = float(np.float32(model.input_q.scale))
    norm = frames.astype(np.float64)
    if model.input_mean is not None:
        norm = ((frames - model.input_mean) / model.input_std).astype(np.float32).astype(np.float64)
    exact = norm / s
    frac = exact - np.floor(exact)
    ties = np.abs(exact[frac == 0.5])
    assert {0.5, 1.5, 2.5}.issubset(set(ties.tolist())) or (model.input_mean is not None and ties.size > 0)
    f32 = (norm.astype(np.float32) / np.float32(s)).astype(np.float64)
    false_ties = (f32 - np.floor(f32) == 0.5) & (frac != 0.5)
    assert false_ties.sum() > 0
    info = np.iinfo(expected.dtype)  # int8, or int16 for a 16-bit input
    assert (expected == info.max).any() and (expected == info.min).any()


def _build_quantize_driver(folder: Path, prefix: str, cxx: bool, qtype: str = "int8_t") -> Path:
    main = folder / "quantize_main.c"
    main.write_text(QUANTIZE_MAIN.format(p=prefix, P=prefix.upper(), qtype=qtype))
    exe = folder / ("quantize_cxx" if cxx else "quantize_c")
    compiler, flags = (_host("g++"), HOST_CXX_FLAGS) if cxx else (_host("gcc"), HOST_C_FLAGS)
    sources = [*sorted((folder / "src").glob("*.c")), main]
    errors = c_build.build(compiler, [*flags, "-O2", f"-I{folder / 'include'}"], sources, exe)
    assert not errors, errors
    return exe


@pytest.mark.parametrize("which", ["gru", "lstm-normalized", "elman-x16", "lstm-x16-normalized"])
def test_quantize_input_equals_the_stream_bit_for_bit(
    which: str, gru, lstm, elman_x16, lstm_x16, tmp_path: Path
) -> None:
    model = {"gru": gru, "lstm-normalized": lstm, "elman-x16": elman_x16, "lstm-x16-normalized": lstm_x16}[which]
    qtype, dtype = ("int16_t", np.dtype("<i2")) if model.input_bits == 16 else ("int8_t", np.dtype("i1"))
    folder = tmp_path / "e"
    export(model, folder, ExportOptions(prefix="kws"))
    frames = _raw_inputs(model)
    bad = np.array([[np.nan], [np.inf], [-np.inf]], dtype=np.float32) * np.ones((1, model.config.input_size), "f4")
    (tmp_path / "in.bin").write_bytes(np.concatenate([frames, bad]).astype("<f4").tobytes())
    with np.errstate(over="ignore", invalid="ignore"):  # +-3e38 normalize to +-inf (and saturate)
        expected = _stream_quantize(model, frames)
        _check_the_hard_cases_are_there(model, frames, expected)

    for cxx in (False, True):
        exe = _build_quantize_driver(folder, "kws", cxx, qtype)
        proc = _run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")])
        assert proc.returncode == 0, proc.stderr
        record = np.dtype([("q", dtype, (model.config.input_size,)), ("status", "i1")])
        got = np.frombuffer((tmp_path / "out.bin").read_bytes(), record)
        assert got.shape[0] == frames.shape[0] + 3
        assert np.array_equal(got["q"][: frames.shape[0]], expected), f"C++: {cxx}"
        assert np.array_equal(got["status"][: frames.shape[0]], np.zeros(frames.shape[0], np.int8))  # ERNN_OK
        assert np.array_equal(got["status"][frames.shape[0] :], [-1, -1, -1])  # NaN, inf: ERNN_ARG_ERROR


def test_quantize_helper_refuses_fast_math(gru, tmp_path: Path) -> None:
    export(gru, tmp_path / "e", ExportOptions(prefix="kws"))
    cmd = [_host("gcc"), *HOST_C_FLAGS, "-ffast-math", f"-I{tmp_path / 'e' / 'include'}", "-c"]
    proc = _run([*cmd, str(tmp_path / "e" / "src" / "kws_model.c"), "-o", str(tmp_path / "x.o")])
    assert proc.returncode != 0 and "compile kws_model.c without -ffast-math" in proc.stderr, proc.stderr


def test_generated_code_uses_no_double(gru, lstm) -> None:
    from edgernn.export.c import render

    for model in (gru, lstm):
        files = render(model, ExportOptions(prefix="kws"))
        for name in ("src/kws_model.c", "include/kws_model.h"):
            code = re.sub(r"/\*.*?\*/", "", files[name].decode(), flags=re.S)
            assert not re.search(r"\bdouble\b", code), name
            assert not re.search(r"\b(rint|lrint|roundf?|floorf?|fabsf?|nearbyintf?)\s*\(", code), name


# --------------------------------------------------------------------------------------------
# Two models in one Cortex-M4 firmware under QEMU.

FIRMWARE_MAIN = r"""
#include <stdio.h>
#include <string.h>

#include "kws_model.h"
#include "vad_model.h"
#include "stream_data.h"

static kws_state_t kws;
static vad_state_t vad;

int main(void)
{
    unsigned long kws_bad_q = 0, kws_bad_y = 0, vad_bad_q = 0, vad_bad_y = 0;
    if (kws_init(&kws) != ERNN_OK || vad_init(&vad) != ERNN_OK) {
        printf("init failed\n");
        return 2;
    }
    for (int32_t t = 0; t < STEPS; ++t) {  /* both models stepped in one loop, each with its own state */
        int8_t kq[KWS_INPUT_SIZE], ky[KWS_OUTPUT_SIZE], vq[VAD_INPUT_SIZE], vy[VAD_OUTPUT_SIZE];
        float kf[KWS_OUTPUT_SIZE], vf[VAD_OUTPUT_SIZE];
        if (kws_quantize_input(kws_x[t], kq) != ERNN_OK || kws_step(&kws, kq, ky) != ERNN_OK ||
            kws_dequantize_output(ky, kf) != ERNN_OK || vad_quantize_input(vad_x[t], vq) != ERNN_OK ||
            vad_step(&vad, vq, vy) != ERNN_OK || vad_dequantize_output(vy, vf) != ERNN_OK) {
            printf("error at step %ld\n", (long)t);
            return 2;
        }
        kws_bad_q += memcmp(kq, kws_xq[t], sizeof kq) != 0;
        kws_bad_y += memcmp(kf, kws_y[t], sizeof kf) != 0;
        vad_bad_q += memcmp(vq, vad_xq[t], sizeof vq) != 0;
        vad_bad_y += memcmp(vf, vad_y[t], sizeof vf) != 0;
    }
    printf("kws: %ld steps, %lu input mismatches, %lu output mismatches, class 0 %s\n", (long)STEPS, kws_bad_q,
           kws_bad_y, kws_class_names[0]);
    printf("vad: %ld steps, %lu input mismatches, %lu output mismatches, %s\n", (long)STEPS, vad_bad_q, vad_bad_y,
           ernn_status_str(ERNN_OK));
    return (kws_bad_q | kws_bad_y | vad_bad_q | vad_bad_y) != 0;
}
"""


def _c_rows(ctype: str, name: str, rows: np.ndarray) -> str:
    if ctype == "float":
        body = ",\n".join("    {" + ", ".join(_c_float(v) for v in row) + "}" for row in rows.tolist())
    else:
        body = ",\n".join("    {" + ", ".join(str(v) for v in row) + "}" for row in rows.tolist())
    return f"static const {ctype} {name}[STEPS][{rows.shape[1]}] = {{\n{body}\n}};\n"


def _stream_data(models: dict[str, QuantizedRNN], steps: int) -> str:
    """Raw float inputs, and what the Stream makes of them: int8 inputs and float outputs (as float
    literals that round-trip: the comparison is bit for bit)."""
    parts = [f"#define STEPS {steps}\n"]
    for k, (prefix, model) in enumerate(models.items()):
        raw = random_inputs(model.config, steps, seed=11 + k).astype(np.float32) * np.float32(3)
        if model.input_mean is not None:
            raw = (raw * model.input_std + model.input_mean).astype(np.float32)
        stream = Stream(model, backend="reference")
        xq = _stream_quantize(model, raw)
        ys = np.stack([stream.step(x) for x in raw]).astype(np.float32)
        assert len(set(map(tuple, xq.tolist()))) > steps // 2  # a varied stream
        parts += [_c_rows("float", f"{prefix}_x", raw), _c_rows("int8_t", f"{prefix}_xq", xq)]
        parts.append(_c_rows("float", f"{prefix}_y", ys))
    return "\n".join(parts)


@pytest.mark.parametrize("runtime", ["none", "copy"])
def test_two_models_in_one_cortex_m4_firmware(runtime: str, gru, lstm, tmp_path: Path) -> None:
    t = require_tools(M4)
    models = {"kws": gru, "vad": lstm}
    for prefix, model in models.items():
        export(model, tmp_path / prefix, ExportOptions(prefix=prefix, target=M4, runtime=runtime))
    (tmp_path / "main.c").write_text(FIRMWARE_MAIN)
    (tmp_path / "stream_data.h").write_text(_stream_data(models, STREAM_STEPS))
    if runtime == "none":  # one runtime, installed apart (here: edgernn's own)
        src = runtime_root() / "src"
        runtime_sources = sorted([*src.glob("*_s8.c"), *src.glob("*_s16.c")])
        includes = [runtime_root() / "include"]
    else:  # the documented rule: every export carries the same runtime; compile one export's copy only
        runtime_sources = sorted(p for p in (tmp_path / "kws" / "src").glob("ernn_*.c"))
        includes = []
    model_sources = [tmp_path / "kws" / "src" / "kws_model.c", tmp_path / "vad" / "src" / "vad_model.c"]
    board = board_files(t, None if runtime == "none" else tmp_path / "kws" / "boards")
    sources = [*board.sources, *runtime_sources, *model_sources, tmp_path / "main.c"]
    objects = compile_objects(
        t,
        sources,
        tmp_path / "obj",
        include_dirs=[tmp_path / "kws" / "include", tmp_path / "vad" / "include", *includes, *board.include_dirs],
        use_cache=False,
    )
    exe = tmp_path / "two_models.elf"
    link = [t.cc, *t.cflags, *map(str, objects), *t.ldflags, f"-L{board.library_dirs[0]}", f"-T{board.linker_script}"]
    run_tool([*link, "-o", str(exe)], what="linking two models without -lm")
    # the model code needs nothing but the runtime and memcpy/memset: no double helpers, no libm
    for obj in objects[-3:-1]:
        undefined = set(run_tool([t.tool("nm"), "-u", str(obj)], what="nm").split()) - {"U"}
        assert undefined and all(n.startswith("ernn_") or n in ("memcpy", "memset") for n in undefined), undefined
    result = run_program(Build(t, exe, objects, tuple(sources), None), [], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.output
    assert f"kws: {STREAM_STEPS} steps, 0 input mismatches, 0 output mismatches, class 0 noise" in result.stdout
    assert f"vad: {STREAM_STEPS} steps, 0 input mismatches, 0 output mismatches, ERNN_OK" in result.stdout


# --------------------------------------------------------------------------------------------
# --runtime none and the version check; CMake builds of several exports.


def test_runtime_none_builds_against_the_runtime_and_checks_its_version(gru, tmp_path: Path) -> None:
    folder = tmp_path / "kws"
    export(gru, folder, ExportOptions(prefix="kws", runtime="none"))
    proc = _run(["make", "-j2", "-C", str(folder), "check", f"CC={_host('gcc')}"])
    assert proc.returncode != 0 and "EDGERNN_RUNTIME" in proc.stdout + proc.stderr
    proc = _run(["make", "-j2", "-C", str(folder), "check", f"CC={_host('gcc')}", f"EDGERNN_RUNTIME={runtime_root()}"])
    assert proc.returncode == 0 and "0 mismatches" in proc.stdout, proc.stdout + proc.stderr

    header = (runtime_root() / "include" / "edgernn" / "ernn_common.h").read_text()
    for macro, value, message in (
        ("MAJOR", "99", "has another major version"),
        ("MINOR", "0", "the runtime on the include path is older"),
    ):
        other = tmp_path / f"runtime-{macro}"
        shutil.copytree(runtime_root() / "include", other)
        text = re.sub(rf"(#define ERNN_RUNTIME_VERSION_{macro}) \d+", rf"\1 {value}", header)
        assert text != header
        (other / "edgernn" / "ernn_common.h").write_text(text)
        cmd = [_host("gcc"), *HOST_C_FLAGS, f"-I{folder / 'include'}", f"-I{other}", "-c"]
        proc = _run([*cmd, str(folder / "src" / "kws_model.c"), "-o", str(tmp_path / "x.o")])
        assert proc.returncode != 0 and "#error" in proc.stderr and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("runtime", ["copy", "none"])
def test_two_exports_in_one_cmake_build(runtime: str, gru, lstm, tmp_path: Path) -> None:
    if shutil.which("cmake") is None or shutil.which("ctest") is None:
        raise missing_tool("cmake", ("cmake",))
    for prefix, model in (("kws", gru), ("vad", lstm)):
        export(model, tmp_path / prefix, ExportOptions(prefix=prefix, runtime=runtime))
    (tmp_path / "main.c").write_text(
        '#include "kws_model.h"\n#include "vad_model.h"\n'
        "static kws_state_t a;\nstatic vad_state_t b;\n"
        "int main(void) { return kws_init(&a) != ERNN_OK || vad_init(&b) != ERNN_OK; }\n"
    )
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(two C)\nenable_testing()\n"
        "add_subdirectory(kws)\nadd_subdirectory(vad)\n"
        "add_executable(two main.c)\ntarget_link_libraries(two PRIVATE kws_model vad_model)\n"
        "add_test(NAME two COMMAND two)\n"
    )
    build = tmp_path / "build"
    configure = ["cmake", "-S", str(tmp_path), "-B", str(build), f"-DCMAKE_C_COMPILER={_host('gcc')}"]
    if runtime == "none":
        configure.append(f"-DEDGERNN_RUNTIME_DIR={runtime_root()}")
    for cmd in (
        configure,
        ["cmake", "--build", str(build), "-j2"],
        ["ctest", "--test-dir", str(build), "--output-on-failure"],
    ):
        proc = _run(cmd)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "100% tests passed, 0 tests failed out of 3" in proc.stdout  # two selftests and the program


# --------------------------------------------------------------------------------------------
# --single-header, C99 and C++17, exact over long streams.


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(cell=CellType.LSTM, input_size=5, hidden_size=12, num_layers=2, output_size=3),
        ModelConfig(cell=CellType.GRU, vocab_size=20, embedding_dim=6, hidden_size=10),
        ModelConfig(cell=CellType.RNN, input_size=4, hidden_size=7, output_size=2),
        ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=8, output_size=2, head_activation="tanh"),
    ],
    ids=["lstm-2layer-head", "gru-tokens", "elman-head", "lstm-tanh-head"],
)
def test_single_header_compiles_as_c_and_cxx_and_is_exact(config: ModelConfig, tmp_path: Path) -> None:
    model = random_model(config, seed=3)
    folder = tmp_path / "e"
    export(model, folder, ExportOptions(prefix="net", single_header=True))
    rng = np.random.default_rng(1)
    if config.uses_tokens:
        sequences = [rng.integers(0, config.vocab_size, 300) for _ in range(2)]
    else:
        sequences = [rng.integers(-128, 128, (300, config.input_size)).astype(np.int8) for _ in range(2)]
    vectors = write_test_vectors(model, tmp_path / "long.bin", sequences)
    selftest = str(folder / "selftest" / "selftest.c")

    def build(compiler: str, flags: list[str]) -> tuple[Path, subprocess.CompletedProcess[str]]:
        exe = tmp_path / f"selftest-{Path(compiler).name}"
        return exe, _run([compiler, *flags, "-O2", f"-I{folder}", selftest, "-o", str(exe)])

    with ThreadPoolExecutor(max_workers=2) as pool:  # both compilers at once: each builds the whole runtime
        builds = list(pool.map(build, (_host("gcc"), _host("g++")), (HOST_C_FLAGS, HOST_CXX_FLAGS)))
    for exe, proc in builds:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        proc = _run([str(exe), str(vectors)])
        assert proc.returncode == 0 and SELFTEST_LINE.search(proc.stdout).groups() == ("600", "0"), proc.stdout


# --------------------------------------------------------------------------------------------
# The generated sources under gcc/g++ and arm-none-eabi-gcc/g++ with -Wall -Wextra -Werror.

M4_FLAGS = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


def test_generated_sources_compile_as_c99_and_cxx17(gru, lstm, tmp_path: Path) -> None:
    require_tools(M4, run=False)
    arm_cxx = "arm-none-eabi-g++"
    if shutil.which(arm_cxx) is None:
        raise missing_tool(arm_cxx, ("g++-arm-none-eabi",))
    bidirectional = random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=5, bidirectional=True))
    exports = {
        "lstm-normalized": (lstm, ExportOptions(prefix="vad")),
        "gru-class-names": (gru, ExportOptions(prefix="kws")),
        "gru-bidirectional": (bidirectional, ExportOptions()),
        "lstm-float": (lstm, ExportOptions(prefix="vadf", float_weights=True)),
        "single-header": (gru, ExportOptions(prefix="one", single_header=True)),
    }
    # each compiler builds the export for its own core: the int8 weights are packed per core (16 columns
    # on x86-64, 4 on the M4), and model.c refuses another core's packing
    compilers = {
        "gcc": ("host", [_host("gcc"), *HOST_C_FLAGS]),
        "g++": ("host", [_host("g++"), *HOST_CXX_FLAGS]),
        "arm-none-eabi-gcc": (M4, ["arm-none-eabi-gcc", *HOST_C_FLAGS, *M4_FLAGS]),
        "arm-none-eabi-g++": (M4, [arm_cxx, *HOST_CXX_FLAGS, *M4_FLAGS]),
    }
    jobs = []
    for name, (model, options) in exports.items():
        for target in ("host", M4):
            folder = tmp_path / name / target
            export(model, folder, dataclasses.replace(options, target=target))
        for cname, (target, cmd) in compilers.items():
            folder = tmp_path / name / target
            sources = [*sorted((folder / "src").glob("*.c")), folder / "selftest" / "selftest.c"]
            includes = [f"-I{folder / 'include'}", f"-I{folder}"]
            generated = [s for s in sources if s.name in ("selftest.c", f"{options.prefix}_model.c")]
            # the runtime's sources are C99 everywhere else: here they are compiled as C++ (the single header's)
            for source in sources if cname.endswith("++") else generated:
                jobs.append((f"{name} {cname} {source.name}", [*cmd, "-O2", *includes], source))
            if cname == "arm-none-eabi-gcc":  # a debug build: the DSP asm needs r7, -O0's frame pointer
                for source in sources:
                    jobs.append((f"{name} {cname} -O0 {source.name}", [*cmd, "-O0", *includes], source))
    # (the runtime's sources are the same code in each export: c_build compiles each form once)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda job: (job[0], c_build.compiles(job[1][0], job[1][1:], job[2])), jobs))
    failures = [f"{what}:\n{errors}" for what, errors in results if errors]
    assert len(results) > 60 and not failures, "\n".join(failures[:5])


# --------------------------------------------------------------------------------------------
# The generated Makefile builds and runs the target's program.


@pytest.mark.parametrize("target", ["cortex-m4", "aarch64"])
def test_makefile_builds_and_runs_for_its_target(target: str, gru, tmp_path: Path) -> None:
    require_tools(target)
    folder = tmp_path / "e"
    export(gru, folder, ExportOptions(prefix="kws", target=target))
    proc = _run(["make", "-j2", "-C", str(folder), "run"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert SELFTEST_LINE.search(proc.stdout).group(2) == "0"
    built = folder / ("build/selftest.elf" if target == "cortex-m4" else "build/selftest")
    elf = built.read_bytes()
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == (40 if target == "cortex-m4" else 183)
