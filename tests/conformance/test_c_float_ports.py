"""The float32 path's SIMD ports (firmware_export/ports/*/ernn_f32_*.h), each kernel on its own.

firmware_export/tests/test_f32.c (the vectorized sigmoid and tanh against double over [-30, 30], the
paneled FC against the row-major one and double over shapes that take every tile size and tail, wide
cells against double) built at each x86-64 level (the shared library runs only the widest the CPU has)
and for AArch64 under qemu-aarch64 (NEON); the M55's MVE port runs in test_c_targets' float case. Each
run must name the kernel it was built to take, so a level that silently fell back to plain C fails.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgernn.boards import TARGETS
from edgernn.export.c import runtime_root
from edgernn.toolchain import require_tools
from tests import c_build

CC = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or "cc"
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion", "-Wshadow", "-Wstrict-prototypes"]
WARNINGS += ["-pedantic", "-Werror"]
#: level: (build flag, /proc/cpuinfo flags it needs, the kernel name test_f32 must print)
X86_F32_LEVELS = {
    "portable": ("-DERNN_PORTABLE", (), "plain C"),
    "0": ("-DERNN_X86_F32_LEVEL=0", (), "plain C"),
    "1": ("-DERNN_X86_F32_LEVEL=1", ("avx2", "fma"), "x86 AVX2+FMA"),
    "2": ("-DERNN_X86_F32_LEVEL=2", ("avx512f", "avx2", "fma"), "x86 AVX-512F (FC), AVX2+FMA (element-wise)"),
}
REPORT = re.compile(r"test_f32: ([1-9]\d*) checks, 0 failures")


def _sources() -> list[str]:
    root = runtime_root()
    return [str(root / "tests" / "test_f32.c"), *sorted(str(p) for p in (root / "src").glob("*.c"))]


def _includes() -> list[str]:
    root = runtime_root()
    return ["-I", str(root / "include"), "-I", str(root / "src")]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(found.group(1).split()) if found else set()


def _check(stdout: str, kernel: str) -> None:
    assert REPORT.search(stdout), stdout
    assert f"f32 kernels: {kernel}\n" in stdout, stdout


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 kernels")
@pytest.mark.parametrize("level", list(X86_F32_LEVELS), ids=lambda v: f"level-{v}")
def test_x86_float_kernels(level: str, tmp_path: Path) -> None:
    flag, needs, kernel = X86_F32_LEVELS[level]
    missing = [f for f in needs if f not in _cpu_flags()]
    if missing:
        pytest.skip(f"this CPU lacks {', '.join(missing)}: level {level} would run a narrower kernel")
    exe = tmp_path / "test_f32"
    errors = c_build.build(CC, [*WARNINGS, "-O2", flag, *_includes()], _sources(), exe, libs=["-lm"])
    assert not errors, errors
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout
    _check(run.stdout, kernel)


def test_neon_float_kernels_under_qemu(tmp_path: Path) -> None:
    target = require_tools("aarch64")
    exe = tmp_path / "test_f32"
    cmd = [target.cc, *target.cflags, *WARNINGS, "-O2", *_includes(), *_sources(), "-lm", *target.ldflags]
    proc = subprocess.run([*cmd, "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([*TARGETS["aarch64"].emulator, str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    _check(run.stdout, "neon")
