"""The generated C, compiled for the host, equals the integer reference bit for bit.

Covers the three cells, 1-4 layers, sizes 1..256, token and feature input, heads on and off, both
output modes, bidirectional models, saturating weights (``weight_gain=6``), int8 extremes and
10,000-step streams; the selftest under ASan + UBSan; firmware_export's own C unit tests; the
fixed-point primitives exhaustively; and the float32 path against the numpy float model.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgernn import fixedpoint
from edgernn.engine import streams
from edgernn.errors import InputDataError
from edgernn.export import ExportOptions
from edgernn.export.c import export, read_test_vectors, runtime_root, write_test_vectors
from edgernn.ir import QuantizedRNN
from edgernn.quant import QuantizeOptions
from edgernn.runtime import Stream, create_backend
from edgernn.runtime.backends import FloatBackend
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig, OutputMode, Readout
from tests import c_build

CC = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler")

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion", "-Werror"]
SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
SELFTEST_LINE = re.compile(r"^selftest: (\d+) vectors compared, (\d+) mismatches$", re.M)


@dataclass(frozen=True)
class Case:
    name: str
    config: ModelConfig
    gain: float = 1.0
    steps: int = 300

    @property
    def seed(self) -> int:
        return sum(map(ord, self.name))


def _cfg(cell: CellType, hidden: int, inp: int | None = None, **kw: object) -> ModelConfig:
    return ModelConfig(cell=cell, hidden_size=hidden, input_size=inp, **kw)  # type: ignore[arg-type]


def _cases() -> list[Case]:
    cases = []
    for cell in CellType:
        c = cell.value
        cases += [
            Case(f"{c}-tiny", _cfg(cell, 1, 1)),
            Case(f"{c}-2layer-head-sat", _cfg(cell, 7, 3, num_layers=2, output_size=4), gain=6.0),
            Case(f"{c}-3layer-seq", _cfg(cell, 32, 13, num_layers=3, output_size=10, output_mode="sequence")),
            Case(f"{c}-wide-input-sat", _cfg(cell, 16, 256, output_size=3), gain=6.0, steps=100),
            Case(f"{c}-4layer", _cfg(cell, 9, 5, num_layers=4), gain=6.0 if cell is CellType.GRU else 1.0),
            Case(f"{c}-hidden256", _cfg(cell, 256, 8, output_size=5), steps=40),
            Case(
                f"{c}-tokens",
                ModelConfig(cell=cell, hidden_size=24, vocab_size=50, embedding_dim=8, num_layers=2, output_size=50),
                gain=6.0 if cell is CellType.LSTM else 1.0,
            ),
            Case(
                f"{c}-bidir",
                _cfg(cell, 10, 4, num_layers=2, bidirectional=True, output_size=3),
                gain=6.0 if cell is CellType.RNN else 1.0,
                steps=60,
            ),
        ]
    cases += [
        Case("gru-128x2", _cfg(CellType.GRU, 128, 40, num_layers=2, output_size=12), gain=6.0, steps=60),
        Case("lstm-bidir-seq-nohead", _cfg(CellType.LSTM, 6, 2, bidirectional=True, output_mode="sequence"), steps=50),
        Case(
            "gru-bidir-tokens",
            ModelConfig(cell=CellType.GRU, hidden_size=8, vocab_size=20, embedding_dim=4, bidirectional=True),
            steps=40,
        ),
        # ReLU Elman (nn.RNN(nonlinearity="relu")): 3x gain puts the hidden range past Q3.12's 8
        Case("rnn-relu-2layer-head", _cfg(CellType.RNN, 7, 3, num_layers=2, output_size=4, nonlinearity="relu")),
        Case(
            "rnn-relu-seq-wide",
            _cfg(CellType.RNN, 32, 13, num_layers=2, output_size=10, output_mode="sequence", nonlinearity="relu"),
            gain=3.0,
        ),
        Case(
            "rnn-relu-bidir",
            _cfg(CellType.RNN, 10, 4, num_layers=2, bidirectional=True, output_size=3, nonlinearity="relu"),
            steps=60,
        ),
        # readouts and the activation before the head (what from_torch finds in forward)
        Case("gru-relu-head", _cfg(CellType.GRU, 12, 4, num_layers=2, output_size=3, head_activation="relu")),
        Case("lstm-relu-nohead-seq", _cfg(CellType.LSTM, 8, 3, output_mode="sequence", head_activation="relu")),
        Case("gru-mean-relu-head", _cfg(CellType.GRU, 10, 4, output_size=3, readout="mean", head_activation="relu")),
        Case("lstm-mean-nohead", _cfg(CellType.LSTM, 6, 3, num_layers=2, readout="mean"), gain=6.0),
        Case("gru-tanh-head", _cfg(CellType.GRU, 12, 4, num_layers=2, output_size=3, head_activation="tanh")),
        Case("lstm-tanh-nohead-seq", _cfg(CellType.LSTM, 8, 3, output_mode="sequence", head_activation="tanh")),
        # ReLU Elman 3x: top hidden values past 8 saturate the tanh's int16 Q3.12 input
        Case(
            "rnn-relu-tanh-head",
            _cfg(CellType.RNN, 10, 4, output_size=3, nonlinearity="relu", head_activation="tanh"),
            gain=3.0,
        ),
        Case("gru-mean-tanh-head", _cfg(CellType.GRU, 10, 4, output_size=3, readout="mean", head_activation="tanh")),
        Case(
            "rnn-bidir-last-output",
            _cfg(CellType.RNN, 10, 4, num_layers=2, bidirectional=True, output_size=3, readout="last_output"),
            steps=60,
        ),
        Case(
            "gru-bidir-mean-tokens",
            ModelConfig(
                cell=CellType.GRU, hidden_size=8, vocab_size=20, embedding_dim=4, bidirectional=True, readout="mean"
            ),
            steps=60,
        ),
    ]
    # Regression heads: int16 outputs (edgernn.ir.Dense), the ernn_model_s8_*_s16 functions.
    reg = {"task": "regression"}
    cases += [
        Case(f"{cell.value}-int16-head-sat", _cfg(cell, 7, 3, num_layers=2, output_size=2, **reg), gain=6.0)
        for cell in CellType
    ]
    cases += [
        Case("gru-int16-head-tanh", _cfg(CellType.GRU, 12, 4, output_size=3, head_activation="tanh", **reg)),
        Case("lstm-int16-head-relu", _cfg(CellType.LSTM, 8, 3, output_size=1, head_activation="relu", **reg)),
        Case("rnn-int16-head-bidir", _cfg(CellType.RNN, 10, 4, bidirectional=True, output_size=2, **reg), steps=60),
        Case("gru-int16-head-mean-seq", _cfg(CellType.GRU, 10, 4, output_size=2, readout="mean", **reg), steps=60),
        Case(
            "lstm-int16-head-tokens-seq",
            ModelConfig(
                cell=CellType.LSTM,
                hidden_size=9,
                vocab_size=20,
                embedding_dim=4,
                output_size=2,
                output_mode="sequence",
                task="regression",
            ),
        ),
    ]
    return cases


CASES = _cases()
LONG = [
    Case("long-gru-sat", _cfg(CellType.GRU, 16, 4, output_size=3), gain=6.0, steps=10_000),
    Case("long-lstm", _cfg(CellType.LSTM, 12, 3), steps=10_000),
    Case("long-rnn-relu", _cfg(CellType.RNN, 12, 3, output_size=3, nonlinearity="relu"), steps=10_000),
    Case(
        "long-gru-mean-relu",
        _cfg(CellType.GRU, 16, 4, output_size=3, readout="mean", head_activation="relu"),
        steps=10_000,
    ),
    Case("long-lstm-tanh-head", _cfg(CellType.LSTM, 12, 3, output_size=3, head_activation="tanh"), steps=10_000),
    Case("long-rnn-int16-head", _cfg(CellType.RNN, 16, 5, output_size=1, task="regression"), steps=10_000),
    Case(
        "long-rnn-tokens",
        ModelConfig(cell=CellType.RNN, hidden_size=8, vocab_size=30, embedding_dim=5, output_size=30),
        steps=10_000,
    ),
]
FLOAT_CASES = [c for c in CASES if c.gain == 1.0 and c.config.hidden_size <= 128]
MODELS: dict[str, QuantizedRNN] = {}


def case_named(name: str) -> Case:
    return next(c for c in CASES + LONG if c.name == name)


def model_of(case: Case) -> QuantizedRNN:
    if case.name not in MODELS:
        MODELS[case.name] = random_model(case.config, seed=case.seed, weight_gain=case.gain)
    return MODELS[case.name]


def int8_inputs(config: ModelConfig, steps: int, seed: int) -> np.ndarray:
    """Uniform int8 values (or token ids) with runs of the extremes -128 and 127; int16 values and extremes
    for a model with a 16-bit input (a regression model's default, docs/input_bits.md)."""
    rng = np.random.default_rng(seed)
    if config.uses_tokens:
        tokens = rng.integers(0, config.vocab_size, size=steps)
        tokens[::11] = config.vocab_size - 1
        tokens[5::11] = 0
        return tokens
    info = np.iinfo(np.int16 if QuantizeOptions().input_bits_for(config) == 16 else np.int8)
    xs = rng.integers(info.min, info.max + 1, size=(steps, config.input_size)).astype(info.dtype)
    xs[3::9] = info.min
    xs[4::9] = info.max
    xs[6::9, ::2] = info.max
    return xs


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fresh build cache, and every model compiled up front on all cores."""
    from edgernn.runtime.c_backend import build_shared_library

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGERNN_CACHE", str(tmp_path_factory.mktemp("cache")))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            jobs = [(c, False) for c in CASES + LONG] + [(c, True) for c in FLOAT_CASES]
            list(pool.map(lambda job: build_shared_library(model_of(job[0]), float_path=job[1]), jobs))
        yield


def _assert_states_equal(a: Stream, b: Stream) -> None:
    for cell_a, cell_b in zip(a.get_state().cells, b.get_state().cells):
        for x, y in zip(cell_a, cell_b):
            assert np.array_equal(np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_c_equals_reference(case: Case) -> None:
    model = model_of(case)
    xs = int8_inputs(case.config, case.steps, case.seed)
    c, ref = Stream(model, "c"), Stream(model, "reference")
    expected = ref.run_int8(xs)
    assert np.array_equal(c.run_int8(xs), expected)
    if not streams(case.config):
        with pytest.raises(InputDataError):
            c.backend.step(c.backend.zero_state(), xs[0])
        return
    _assert_states_equal(c, ref)
    c.reset()
    stepped = np.stack([c.step_int8(x) for x in xs[:25]])
    assert np.array_equal(stepped, expected[:25])


@pytest.mark.parametrize("case", [c for c in CASES if c.steps >= 60][::2], ids=lambda c: c.name)
def test_sequence_outputs_equal_reference(case: Case) -> None:
    model = model_of(case)
    sequences = [int8_inputs(case.config, n, case.seed + n).astype(np.int64) for n in (1, 2, 17, 40)]
    for mode in OutputMode:
        cfg = model.config
        if cfg.output_mode is not mode:  # the same weights under the other output mode (a readout is many-to-one)
            readout = cfg.readout if mode is OutputMode.LAST else Readout.FINAL_STATE
            model = dataclasses.replace(model, config=dataclasses.replace(cfg, output_mode=mode, readout=readout))
        got = create_backend("c", model).sequence_outputs(sequences)
        want = create_backend("reference", model).sequence_outputs(sequences)
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), mode


@pytest.mark.parametrize("case", LONG, ids=lambda c: c.name)
def test_long_streams_equal_reference(case: Case) -> None:
    model = model_of(case)
    xs = int8_inputs(case.config, case.steps, case.seed)
    c, ref = Stream(model, "c"), Stream(model, "reference")
    assert np.array_equal(c.run_int8(xs), ref.run_int8(xs))
    _assert_states_equal(c, ref)


def test_states_are_values_checkpoint_and_restore() -> None:
    model = model_of(case_named("gru-2layer-head-sat"))
    xs = int8_inputs(model.config, 60, 1).astype(np.int64)
    b = create_backend("c", model)
    s0 = b.zero_state()
    y1, s1 = b.step(s0, xs[0])
    y1_again, _ = b.step(s0, xs[0])  # an old state stays valid
    assert np.array_equal(y1, y1_again)
    y2, _ = b.step(s1, xs[1])
    ref = create_backend("reference", model)
    r_ys, _ = ref.run(ref.zero_state(), xs[:2])
    assert np.array_equal(np.stack([y1, y2]), r_ys)
    with pytest.raises(ValueError):
        s1[0][0][0] = 1  # states are read-only views

    c, r = Stream(model, "c"), Stream(model, "reference")
    c.run_int8(xs[:30].astype(np.int8))
    saved = c.get_state()
    after = c.run_int8(xs[30:].astype(np.int8))
    c.set_state(saved)
    assert np.array_equal(c.run_int8(xs[30:].astype(np.int8)), after)
    r.run_int8(xs[:30].astype(np.int8))
    assert np.array_equal(r.run_int8(xs[30:].astype(np.int8)), after)


def test_int16_head_api_is_typed_by_the_output() -> None:
    """An int16-head model runs through the *_s16 functions only: the int8-output ones refuse it
    (ERNN_UNSUPPORTED) rather than write int8 values, and the *_s16 ones refuse an int8-output model; a
    16-bit-input model (this regression one) through the *_x16 ones only."""
    import ctypes

    vp, i32 = ctypes.c_void_p, ctypes.c_int32
    unsupported = -2
    for name, int16 in [("gru-int16-head-sat", True), ("gru-2layer-head-sat", False)]:
        model = model_of(case_named(name))
        assert model.output_bits == (16 if int16 else 8)
        backend = create_backend("c", model)
        lib, descriptor = backend.lib, backend._descriptor
        state = backend._zero.copy()
        mem = (ctypes.c_void_p * 3)()  # ernn_model_s8_mem: hidden, cell, scratch
        lay = backend.layout
        base = state.__array_interface__["data"][0]
        mem[0], mem[1], mem[2] = base + lay.hidden_offset, base, base + lay.scratch_offset
        # a regression model also takes a 16-bit input: the *_x16 functions, and the int8-input ones refuse it
        x16 = model.input_bits == 16
        x = np.zeros(model.config.input_size, dtype=np.int16 if x16 else np.int8)
        y = np.zeros(8, dtype=np.int16)
        api = "ernn_model_s8_step_x16" if x16 else "ernn_model_s8_step"
        calls = [(api, int16), (f"{api}_s16", not int16)] + ([("ernn_model_s8_step_s16", True)] if x16 else [])
        for fn_name, refuses in calls:
            fn = getattr(lib, fn_name)
            fn.argtypes, fn.restype = [vp, vp, vp, vp], ctypes.c_int
            status = fn(descriptor, ctypes.addressof(mem), x.ctypes.data, y.ctypes.data)
            assert (status == unsupported) == refuses, (name, fn_name, status)
        size = lib.ernn_model_s8_output_size
        size.argtypes, size.restype = [vp], i32
        assert size(descriptor) == model.config.output_width


def test_token_out_of_range_is_refused_by_c() -> None:
    model = model_of(case_named("gru-tokens"))
    b = create_backend("c", model)
    with pytest.raises(InputDataError, match="ARG_ERROR"):
        b.run(b.zero_state(), np.array([1, model.config.vocab_size]))


# --------------------------------------------------------------------------------------------
# The exported folder: strict warnings, sanitizers, selftest.


SANITIZED = ["gru-tiny", "lstm-2layer-head-sat", "rnn-tokens", "gru-bidir", "lstm-bidir-seq-nohead", "gru-128x2"]
SANITIZED += ["rnn-relu-2layer-head", "gru-mean-relu-head", "rnn-bidir-last-output"]
SANITIZED += ["gru-int16-head-sat", "rnn-int16-head-bidir", "lstm-int16-head-relu"]


def _build_selftest(folder: Path, out: Path, flags: list[str]) -> None:
    sources = [*sorted((folder / "src").glob("*.c")), folder / "selftest" / "selftest.c"]
    errors = c_build.build(CC, [*STRICT, *flags, "-I", str(folder / "include")], sources, out)
    assert not errors, errors


def _run_selftest(exe: Path, vectors: Path) -> tuple[int, int, int, str]:
    proc = subprocess.run([str(exe), str(vectors)], capture_output=True, text=True, timeout=120)
    found = SELFTEST_LINE.findall(proc.stdout)
    assert found, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().splitlines()[-1].startswith("selftest: ")
    return proc.returncode, int(found[-1][0]), int(found[-1][1]), proc.stdout + proc.stderr


@pytest.mark.parametrize("float_path", [False, True], ids=["int8", "float32"])
@pytest.mark.parametrize("name", SANITIZED)
def test_selftest_under_sanitizers(name: str, float_path: bool, tmp_path: Path) -> None:
    case = case_named(name)
    model = model_of(case)
    folder = tmp_path / "export"
    export(model, folder, ExportOptions(float_weights=float_path))
    limit = 64 if not streams(case.config) else 400
    seqs = [int8_inputs(case.config, n, case.seed + n) for n in (1, min(limit, 64), limit)]
    vectors = write_test_vectors(model, tmp_path / "v.bin", seqs, float_path=float_path)
    exe = tmp_path / "selftest"
    _build_selftest(folder, exe, SANITIZE)
    status, compared, mismatches, out = _run_selftest(exe, vectors)
    assert (status, compared, mismatches) == (0, sum(len(s) for s in seqs), 0), out
    status, *_ = _run_selftest(exe, folder / "selftest" / "vectors.bin")
    assert status == 0


def test_selftest_reports_mismatches_and_foreign_vectors(tmp_path: Path) -> None:
    model = model_of(case_named("rnn-2layer-head-sat"))
    other = model_of(case_named("rnn-tiny"))
    folder = tmp_path / "export"
    export(model, folder)
    exe = tmp_path / "selftest"
    _build_selftest(folder, exe, ["-O2"])
    good = folder / "selftest" / "vectors.bin"
    vectors = read_test_vectors(good)
    assert vectors.model_sha256 == model.sha256
    data = bytearray(good.read_bytes())
    data[-1] = (data[-1] + 1) % 256  # the last expected value of the last step
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    status, compared, mismatches, out = _run_selftest(exe, bad)
    assert (status, mismatches) == (1, 1) and compared == sum(len(o) for o in vectors.outputs)
    assert "selftest mismatch: sequence 2 step 0" in out
    foreign = write_test_vectors(other, tmp_path / "other.bin", [int8_inputs(other.config, 3, 0)])
    status, compared, _, out = _run_selftest(exe, foreign)
    assert (status, compared) == (2, 0) and "vectors are for model" in out
    status, _, _, out = _run_selftest(exe, tmp_path / "missing.bin")
    assert status == 2 and "cannot open" in out


def test_export_builds_with_its_makefile_and_cmake(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    # (the Makefile builds for the export's --target: a host export here; tests/conformance/test_c_compose.py
    # builds and runs Cortex-M4 and aarch64 exports with theirs)
    export(model_of(case_named("lstm-2layer-head-sat")), folder, ExportOptions(prefix="kws", target="host"))
    proc = subprocess.run(["make", "-j2", "-C", str(folder), "check", f"CC={CC}"], capture_output=True, text=True)
    assert proc.returncode == 0 and "0 mismatches" in proc.stdout, proc.stdout + proc.stderr
    # one object per source (so make -j compiles them at once), and a rebuild compiles only what changed
    sources = sorted(p.stem for p in [*folder.glob("src/*.c"), folder / "selftest" / "selftest.c"])
    assert sorted(p.stem for p in (folder / "build" / "obj").glob("*.o")) == sources
    assert subprocess.run(["make", "-q", "-C", str(folder), f"CC={CC}"]).returncode == 0  # up to date
    os.utime(folder / "src" / "kws_model.c")
    dry = subprocess.run(["make", "-n", "-C", str(folder), f"CC={CC}"], capture_output=True, text=True).stdout
    compiled = [line.split(" -c ", 1)[1].split()[0] for line in dry.splitlines() if " -c " in line]
    assert compiled == ["src/kws_model.c"] and "-o build/selftest" in dry, dry
    if shutil.which("cmake") and shutil.which("ctest"):
        build = tmp_path / "cmake-build"
        for cmd in (
            ["cmake", "-S", str(folder), "-B", str(build), f"-DCMAKE_C_COMPILER={CC}"],
            ["cmake", "--build", str(build), "-j2"],
            ["ctest", "--test-dir", str(build), "--output-on-failure"],
        ):
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="no arm-none-eabi-gcc / qemu-system-arm",
)
def test_bare_metal_export_runs_with_its_own_board_files(tmp_path: Path) -> None:
    from edgernn.targets import build_selftest, run_selftest

    folder = tmp_path / "export"
    export(model_of(case_named("gru-2layer-head-sat")), folder, ExportOptions(target="cortex-m0"))
    build = build_selftest(folder, "cortex-m0", tmp_path / "build", use_cache=False)
    result = run_selftest(build, folder / "selftest" / "vectors.bin")
    assert (result.exit_status, result.mismatches) == (0, 0) and result.vectors > 0, result.output


# --------------------------------------------------------------------------------------------
# The runtime on its own: its C unit tests, and the primitives exhaustively against Python.


def test_firmware_unit_tests_with_sanitizers(tmp_path: Path) -> None:
    tests = runtime_root() / "tests"
    proc = subprocess.run(
        ["make", "-j2", "-C", str(tests), f"BUILD={tmp_path}", f"CC={CC}"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(re.findall(r": \d+ checks, 0 failures", proc.stdout)) == 5, proc.stdout


@pytest.mark.skipif(shutil.which("cmake") is None, reason="no cmake")
def test_firmware_cmake_library_and_ctest(tmp_path: Path) -> None:
    build = tmp_path / "build"
    for cmd in (
        ["cmake", "-S", str(runtime_root()), "-B", str(build), f"-DCMAKE_C_COMPILER={CC}", "-DCMAKE_C_FLAGS=-Werror"],
        ["cmake", "--build", str(build), "-j2"],
        ["ctest", "--test-dir", str(build), "--output-on-failure"],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr


_PRIMITIVES_SHIM = r"""
#include "edgernn/ernn_fixedpoint.h"
void act_all(int16_t *sig, int16_t *tanh_out, int32_t mult, int32_t shift) {
    for (int32_t x = INT16_MIN; x <= INT16_MAX; ++x) {
        sig[x - INT16_MIN] = ernn_sigmoid_s16((int16_t)x, mult, shift);
        tanh_out[x - INT16_MIN] = ernn_tanh_s16((int16_t)x, mult, shift);
    }
}
void mbqm_many(const int32_t *x, const int32_t *m, const int32_t *s, int32_t *out, int32_t n) {
    for (int32_t i = 0; i < n; ++i) out[i] = ernn_mbqm(x[i], m[i], s[i]);
}
void srdhm_many(const int32_t *a, const int32_t *b, int32_t *out, int32_t n) {
    for (int32_t i = 0; i < n; ++i) out[i] = ernn_srdhm(a[i], b[i]);
}
"""


def test_primitives_exhaustively_equal_python(tmp_path: Path) -> None:
    shim = tmp_path / "shim.c"
    shim.write_text(_PRIMITIVES_SHIM)
    lib_path = tmp_path / "shim.so"
    include = runtime_root() / "include"
    sources = [str(shim), str(runtime_root() / "src" / "ernn_activation_s16.c")]
    proc = subprocess.run(
        [CC, "-std=c99", "-O2", "-fPIC", "-shared", "-I", str(include), *sources, "-o", str(lib_path)]
    )
    assert proc.returncode == 0
    lib = ctypes.CDLL(str(lib_path))
    # the interpolation pairs over j = -256..255: j >= 0: (T[j] - 32768) << 16 | (T[j + 1] - T[j]), the last one
    # (T[255] - 32768, 0); j = -(i + 1): (32768 - T[i + 1]) << 16 | (T[i + 1] - T[i]) with T[256] = T[255]
    pairs = list((ctypes.c_uint32 * 512).in_dll(lib, "ernn_lut_signed"))
    t = fixedpoint.SIGMOID_TABLE_UINT16.tolist() + [fixedpoint.SIGMOID_TABLE_UINT16.tolist()[-1]]
    assert pairs[256:] == [((t[i] - 32768) << 16) | (t[i + 1] - t[i]) for i in range(256)]
    assert pairs[:256] == [(((32768 - t[i + 1]) & 0xFFFF) << 16) | (t[i + 1] - t[i]) for i in reversed(range(256))]

    def ptr(a: np.ndarray) -> int:
        return a.__array_interface__["data"][0]

    xs = np.arange(-32768, 32768)
    sig, tanh = np.empty(65536, np.int16), np.empty(65536, np.int16)
    # Q3.12 gates, and the LSTM cell-state TANH for every power-of-two cell scale.
    params = [(0, 0)] + [fixedpoint.tanh_params_for_scale_power(p) for p in range(-15, 1)]
    for mult, shift in params:
        lib.act_all(ctypes.c_void_p(ptr(sig)), ctypes.c_void_p(ptr(tanh)), mult, shift)
        assert np.array_equal(tanh, fixedpoint.tanh_int16(xs, mult, shift)), (mult, shift)
        assert np.array_equal(sig, fixedpoint.sigmoid_int16(xs, mult, shift)), (mult, shift)

    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.integers(-(2**31), 2**31, size=n).astype(np.int32)
    x[: n // 2] = rng.integers(-(2**20), 2**20, size=n // 2)  # values a kernel really sees
    m = rng.integers(2**30, 2**31, size=n).astype(np.int32)
    s = rng.integers(-31, 1, size=n).astype(np.int32)
    s[:1000] = rng.integers(1, 8, size=1000)  # left shifts (of small values: no overflow)
    x[:1000] = rng.integers(-(2**20), 2**20, size=1000)
    out = np.empty(n, np.int32)
    vp = ctypes.c_void_p
    lib.mbqm_many(vp(ptr(x)), vp(ptr(m)), vp(ptr(s)), vp(ptr(out)), n)
    assert np.array_equal(out, fixedpoint.multiply_by_quantized_multiplier(x, m, s))
    a = np.concatenate([x[:1000], [-(2**31), -(2**31), 2**31 - 1, -3, -1]]).astype(np.int32)
    b = np.concatenate([m[:1000], [-(2**31), 2**31 - 1, 2**31 - 1, 2**30, 2**30]]).astype(np.int32)
    out = np.empty(len(a), np.int32)
    lib.srdhm_many(vp(ptr(a)), vp(ptr(b)), vp(ptr(out)), len(a))
    assert np.array_equal(out, fixedpoint.saturating_rounding_doubling_high_mul(a, b))


# --------------------------------------------------------------------------------------------
# The float32 path and the backend's build cache.


@pytest.mark.parametrize("case", FLOAT_CASES, ids=lambda c: c.name)
def test_float_path_matches_numpy_float_model(case: Case) -> None:
    from edgernn.runtime.c_backend import CFloatBackend

    model = model_of(case)
    cfg = model.config
    rng = np.random.default_rng(case.seed)
    steps = min(case.steps, 100)
    if cfg.uses_tokens:
        xs = rng.integers(0, cfg.vocab_size, size=steps)
    else:
        xs = (rng.normal(size=(steps, cfg.input_size)) * 1.5).astype(np.float32)
    c, f = CFloatBackend(model), FloatBackend(model)
    if not streams(cfg):
        got, want = c.run_whole(xs), f.run_whole(xs)
    else:
        got, _ = c.run(c.zero_state(), xs)
        want, _ = f.run(f.zero_state(), xs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for g, w in zip(c.sequence_outputs([xs[:7], xs[:1]]), f.sequence_outputs([xs[:7], xs[:1]])):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_build_cache_is_reused_and_safe_under_concurrency(tmp_path: Path) -> None:
    model = model_of(case_named("rnn-tiny"))
    env = {**os.environ, "EDGERNN_CACHE": str(tmp_path)}
    code = (
        "import sys, edgernn.ir as ir; from edgernn.runtime.c_backend import build_shared_library as b; "
        "print(b(ir.load(sys.argv[1])))"
    )
    from edgernn.ir import save

    path = save(model, tmp_path / "m.ernn")
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and len(set(outs)) == 1
    lib = Path(outs[0])
    assert lib.is_file() and lib.parent == tmp_path / "c-backend"
    entries = [p.name for p in lib.parent.iterdir()]
    assert [n for n in entries if n.endswith(".so")] == [lib.name]
    assert not [n for n in entries if n.startswith(".")]  # no temporary leftovers
    mtime = lib.stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGERNN_CACHE", str(tmp_path))
        from edgernn.runtime.c_backend import build_shared_library

        assert build_shared_library(model) == lib and lib.stat().st_mtime_ns == mtime


# --------------------------------------------------------------------------------------------
# Every x86-64 kernel of firmware_export/ports/x86 (the shared library above runs the widest one the CPU
# has): the selftest built with the choice capped at each level, free-running streams.

# level: the /proc/cpuinfo flag it needs (4: the LSTM lane kernel, AVX-512 VNNI and VBMI)
X86_LEVELS = {0: None, 1: "avx2", 2: "avx_vnni", 3: "avx512_vnni", 4: "avx512vbmi"}
X86_MODELS = ["gru-3layer-seq", "lstm-2layer-head-sat", "rnn-wide-input-sat", "gru-128x2", "long-gru-sat", "long-lstm"]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split()) if "flags" in text else set()


def _x86_level_flag(level: int | str) -> str:
    """The build flag of an x86 level; skips a level whose kernel this CPU would not run."""
    if level != "portable" and X86_LEVELS[level] and X86_LEVELS[level] not in _cpu_flags():
        pytest.skip(f"this CPU lacks {X86_LEVELS[level]}: level {level} would run a narrower kernel")
    return "-DERNN_PORTABLE" if level == "portable" else f"-DERNN_X86_LEVEL={level}"


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 kernels")
@pytest.mark.parametrize("level", ["portable", *X86_LEVELS], ids=lambda v: f"level-{v}")
def test_x86_gate_ports_equal_scalar_c(level: int | str, tmp_path: Path) -> None:
    """firmware_export/tests/test_gate_ports.c at each level: the gate epilogues (all 65,536 sums through
    sigmoid and tanh) and the GRU / LSTM element-wise steps against the scalar C, under the sanitizers."""
    root = runtime_root()
    exe = tmp_path / "test_gate_ports"
    sources = [root / "tests" / "test_gate_ports.c", *sorted((root / "src").glob("*.c"))]
    flags = [*STRICT, "-pedantic", *SANITIZE, _x86_level_flag(level)]
    flags += ["-I", str(root / "include"), "-I", str(root / "src")]
    errors = c_build.build(CC, flags, sources, exe, libs=["-lm"])
    assert not errors, errors
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and re.search(r"test_gate_ports: [1-9]\d* checks, 0 failures", run.stdout), run.stdout
    steps = "no GRU element-wise step" not in run.stdout and "no LSTM element-wise step" not in run.stdout
    assert steps == (level not in ("portable", 0)), run.stdout  # the AVX2 steps ran exactly where they exist
    blocks = "no GRU block path" not in run.stdout and "refuses every cell" not in run.stdout
    assert blocks == (level in (1, 2, 3, 4)), run.stdout  # the GRU and LSTM block paths ran where they exist
    lookups = "lane kernel's lookups are not run" not in run.stdout
    assert lookups == (level == 4), run.stdout  # the LSTM lane kernel's 64-lane lookups ran exactly at level 4
    for cell in ("LSTM", "GRU"):  # the eight-lane kernels ran exactly at levels 1 (AVX2) and 2 (AVX-VNNI)
        assert (f"{cell} block path (AVX2, eight lanes)" in run.stdout) == (level == 1), run.stdout
        assert (f"{cell} block path (AVX-VNNI, eight lanes)" in run.stdout) == (level == 2), run.stdout


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 kernels")
@pytest.mark.parametrize("level", ["portable", *X86_LEVELS], ids=lambda v: f"level-{v}")
def test_x86_kernels_equal_reference(level: int | str, tmp_path: Path) -> None:
    """Each kernel (0 plain C, 1 AVX2, 2 AVX-VNNI, 3 AVX-512 VNNI, 4 and VBMI; "portable": ERNN_PORTABLE, no port)."""
    flag = _x86_level_flag(level)
    for name in X86_MODELS:
        case = case_named(name)
        model = model_of(case)
        folder = tmp_path / name
        export(model, folder, ExportOptions())
        seqs = [int8_inputs(case.config, n, case.seed + n) for n in (1, case.steps)]
        vectors = write_test_vectors(model, tmp_path / f"{name}.bin", seqs)
        exe = tmp_path / f"{name}-selftest"
        _build_selftest(folder, exe, ["-O2", flag, f"-DSELFTEST_MAX_STEPS={case.steps}"])
        status, compared, mismatches, out = _run_selftest(exe, vectors)
        assert (status, compared, mismatches) == (0, 1 + case.steps, 0), (name, out)
