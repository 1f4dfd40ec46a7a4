"""Running builds on their targets: bare-metal Cortex-M cores under ``qemu-system-arm``
(semihosting) and the Raspberry Pi's aarch64 / armv7 under ``qemu-user``; export self-tests; exact
executed-instruction counts from a QEMU TCG plugin (``firmware_export/tools/insncount.c``, built
here with the host's gcc).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgernn.errors import EdgeRNNError
from edgernn.toolchain import WARNING_FLAGS, Build, cache_dir, firmware_root, missing_tool, require_tools, run_tool

#: Exit status of a program that faulted on a board (boards/common/edgernn_board.h).
BOARD_FAULT_STATUS = 70

DEFAULT_TIMEOUT = 600.0


class TargetRunError(EdgeRNNError):
    """A program did not run to a parseable result on its target."""


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _qemu_option_value(value: str) -> str:
    return value.replace(",", ",,")


def run_command(
    build: Build,
    args: Sequence[str] = (),
    *,
    plugin: str | None = None,
) -> list[str]:
    """The command line that runs ``build`` with ``args`` on its target (optionally with a TCG
    plugin spec ``path,arg=value,...``)."""
    t = build.target
    exe = str(build.executable.resolve())
    if t.bare_metal:
        argv = [build.executable.name, *args]
        for a in argv:
            if any(c.isspace() for c in a) or not a:
                raise TargetRunError(f"semihosting arguments cannot be empty or contain spaces: {a!r}")
        config = "enable=on,target=native" + "".join(f",arg={_qemu_option_value(a)}" for a in argv)
        cmd = [*t.emulator, "-semihosting-config", config, "-kernel", exe]
        if plugin:
            cmd += ["-plugin", plugin, "-d", "plugin"]
        return cmd
    if t.kind == "linux":
        cmd = list(t.emulator)
        if plugin:
            cmd += ["-plugin", plugin, "-d", "plugin"]
        return [*cmd, exe, *args]
    if plugin:
        raise TargetRunError("instruction counting needs an emulated target")
    return [exe, *args]


def run_program(
    build: Build,
    args: Sequence[str] = (),
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    plugin: str | None = None,
    stdin: str | None = None,
) -> RunResult:
    """Run ``build`` on its target (under QEMU unless it is the host) and capture its output.

    Bare-metal programs get ``args`` through semihosting (argv[0] is the program's file name)
    and read and write host files relative to ``cwd``; ``stdin`` is fed to the program's
    standard input.
    """
    if build.target.emulator:
        require_tools(build.target)
    cmd = run_command(build, args, plugin=plugin)
    try:
        proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TargetRunError(
            f"{build.executable.name} did not finish within {timeout:.0f} s on {build.target.name} ({' '.join(cmd)})"
        ) from exc
    return RunResult(proc.returncode, proc.stdout, proc.stderr)


_SELFTEST_RE = re.compile(r"^selftest: (\d+) vectors compared, (\d+) mismatch(?:es)?\s*$", re.M)
_STACK_RE = re.compile(r"^board: stack high-water (\d+) of (\d+) bytes\s*$", re.M)
_FAULT_RE = re.compile(r"^board: fault.*$", re.M)


@dataclass(frozen=True)
class SelftestResult:
    """What an export's self-test reported on one target."""

    target: str
    vectors: int
    mismatches: int
    exit_status: int
    stack_high_water: int | None  #: bytes, from stack painting (bare-metal only)
    stack_size: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and self.mismatches == 0

    def row(self) -> str:
        return f"{self.target}, {self.vectors}, {self.mismatches}"


def parse_selftest_output(text: str) -> tuple[int, int]:
    """``(vectors compared, mismatches)`` from a self-test's output."""
    found = _SELFTEST_RE.findall(text)
    if len(found) != 1:
        raise TargetRunError(f"the self-test printed no result line (or several):\n{text.strip()}")
    vectors, mismatches = found[0]
    return int(vectors), int(mismatches)


def parse_stack_report(text: str) -> tuple[int, int] | None:
    """``(high-water, stack size)`` in bytes from a board's exit report, if present."""
    m = _STACK_RE.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def run_selftest(
    build: Build, vectors: Path, *, timeout: float = DEFAULT_TIMEOUT, use_argv: bool = True
) -> SelftestResult:
    """Run a self-test build on its target against the test vectors file ``vectors``.

    The program runs in an empty directory. With ``use_argv`` (the default) the vectors are
    there under a name other than the default ``vectors.bin`` and passed as argv[1], so a result
    proves that argv reached the program; without it they are there as ``vectors.bin`` and no
    argument is passed (the self-test's fallback, for hosts whose semihosting lacks a command
    line).
    """
    vectors = Path(vectors).resolve()
    if not vectors.is_file():
        raise TargetRunError(f"test vectors {vectors} do not exist")
    name = "argv-vectors.bin" if use_argv else "vectors.bin"
    with tempfile.TemporaryDirectory(prefix="edgernn-run-") as tmp:
        try:
            os.symlink(vectors, Path(tmp) / name)
        except OSError:
            shutil.copyfile(vectors, Path(tmp) / name)
        result = run_program(build, [name] if use_argv else [], cwd=Path(tmp), timeout=timeout)
    text = result.output
    fault = _FAULT_RE.search(text)
    if fault:
        raise TargetRunError(f"the self-test faulted on {build.target.name}: {fault.group(0)}\n{text.strip()}")
    try:
        n, m = parse_selftest_output(text)
    except TargetRunError:
        raise TargetRunError(
            f"the self-test on {build.target.name} exited with status {result.returncode} without a result"
            f"{' (did argv[1] = ' + name + ' arrive?)' if use_argv else ''}:\n{text.strip()}"
        ) from None
    stack = parse_stack_report(text)
    return SelftestResult(
        target=build.target.name,
        vectors=n,
        mismatches=m,
        exit_status=result.returncode,
        stack_high_water=stack[0] if stack else None,
        stack_size=stack[1] if stack else None,
        output=text,
    )


# ---------------------------------------------------------------------------------------------
# Instruction counting
# ---------------------------------------------------------------------------------------------


def plugin_path() -> Path:
    """The instruction-counting TCG plugin, built with the host's gcc on first use (cached)."""
    source = firmware_root() / "tools" / "insncount.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    library = cache_dir() / f"libinsncount-{digest}.so"
    if library.exists():
        return library
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise missing_tool("gcc", ("gcc",))
    tmp = library.with_suffix(f".{os.getpid()}.tmp")
    run_tool(
        [cc, "-std=c99", "-O2", *WARNING_FLAGS, "-Werror", "-shared", "-fPIC", "-o", str(tmp), str(source)],
        what="building the instruction-counting plugin",
    )
    tmp.replace(library)
    return library


@dataclass(frozen=True)
class InstructionCount:
    """The plugin's counts for one run."""

    total: int
    ranges: dict[tuple[int, int], int]
    window: int | None
    windows_opened: int | None


_PLUGIN_TOTAL_RE = re.compile(r"^insncount: total (\d+)$", re.M)
_PLUGIN_RANGE_RE = re.compile(r"^insncount: range 0x([0-9a-f]+)-0x([0-9a-f]+) (\d+)$", re.M)
_PLUGIN_WINDOW_RE = re.compile(r"^insncount: window (\d+) opened (\d+)$", re.M)


def parse_plugin_output(text: str) -> InstructionCount:
    """Parse the ``insncount:`` lines of a run with the counting plugin."""
    total = _PLUGIN_TOTAL_RE.search(text)
    if total is None:
        raise TargetRunError(f"the counting plugin reported nothing:\n{text.strip()}")
    ranges = {(int(lo, 16), int(hi, 16)): int(n) for lo, hi, n in _PLUGIN_RANGE_RE.findall(text)}
    window = _PLUGIN_WINDOW_RE.search(text)
    return InstructionCount(
        total=int(total.group(1)),
        ranges=ranges,
        window=int(window.group(1)) if window else None,
        windows_opened=int(window.group(2)) if window else None,
    )


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int  #: without the Thumb bit
    size: int


def parse_nm_output(text: str) -> dict[str, Symbol]:
    """Parse ``nm -S`` output (symbols with a size only)."""
    symbols: dict[str, Symbol] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            address, size, _kind, name = fields
            symbols[name] = Symbol(name, int(address, 16) & ~1, int(size, 16))
    return symbols


def symbols(build: Build) -> dict[str, Symbol]:
    """Sized symbols of a linked program."""
    out = run_tool([build.target.tool("nm"), "-S", str(build.executable)], what="nm")
    return parse_nm_output(out)


_OBJDUMP_INSN_RE = re.compile(r"^\s*([0-9a-f]+):\s")


def return_addresses(build: Build, caller: str, callee: str) -> list[int]:
    """Addresses of the instructions right after each call of ``callee`` inside ``caller``
    (where execution resumes when the callee returns)."""
    t = build.target
    sym = symbols(build)
    if caller not in sym:
        raise TargetRunError(f"{caller} is not in {build.executable.name}")
    s = sym[caller]
    out = run_tool(
        [
            t.tool("objdump"),
            "-d",
            f"--start-address={s.address:#x}",
            f"--stop-address={s.address + s.size:#x}",
            str(build.executable),
        ],
        what="objdump",
    )
    lines = [line for line in out.splitlines() if _OBJDUMP_INSN_RE.match(line)]
    result = []
    for i, line in enumerate(lines):
        if re.search(rf"\sbl[x]?\s+[0-9a-f]+ <{re.escape(callee)}>", line):
            if i + 1 >= len(lines):
                raise TargetRunError(f"the call of {callee} is the last instruction of {caller}")
            m = _OBJDUMP_INSN_RE.match(lines[i + 1])
            assert m is not None
            result.append(int(m.group(1), 16))
    if not result:
        raise TargetRunError(f"{caller} does not call {callee} directly")
    return result


def count_instructions(
    build: Build,
    args: Sequence[str] = (),
    *,
    ranges: Sequence[tuple[int, int]] = (),
    start: Sequence[int] = (),
    stop: Sequence[int] = (),
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[InstructionCount, RunResult]:
    """Run ``build`` under QEMU with the counting plugin: total instructions, instructions in
    each address range ``[lo, hi)``, and inside the window opened at ``start`` addresses and
    closed at ``stop`` addresses."""
    if not build.target.emulator:
        raise TargetRunError("instruction counting needs an emulated target", "choose a target other than host")
    spec = [str(plugin_path())]
    spec += [f"range={lo:#x}-{hi:#x}" for lo, hi in ranges]
    spec += [f"start={a:#x}" for a in start] + [f"stop={a:#x}" for a in stop]
    result = run_program(build, args, cwd=cwd, timeout=timeout, plugin=",".join(spec))
    if result.returncode != 0:
        raise TargetRunError(
            f"{build.executable.name} exited with status {result.returncode} on {build.target.name}:\n"
            f"{result.output.strip()}"
        )
    return parse_plugin_output(result.output), result
