"""Build, run and measure exported C on real target ISAs: bare-metal Cortex-M cores under
``qemu-system-arm`` (semihosting) and the Raspberry Pi's aarch64 / armv7 under ``qemu-user``.

Everything here drives external tools (cross compilers, binutils, QEMU) and parses their
output; the module itself needs neither numpy nor torch (the few functions that take a model
import the exporter lazily).

* :data:`TARGETS` -- the table: compiler, flags, emulator command and board files per target.
* :func:`build_selftest` / :func:`run_selftest` -- an export folder's self-test on a target.
* :func:`elf_size`, :func:`parse_stack_usage`, :func:`linked_sizes`, :func:`runtime_code_size`
  -- footprint from the real build (``size``, ``-fstack-usage``, the linker map).
* :func:`count_instructions` -- exact executed-instruction counts from a QEMU TCG plugin
  (``firmware_export/tools/insncount.c``, built here with the host's gcc);
  :func:`measure_step` / :func:`count_step_instructions` -- per-step cost of a model.

A missing tool raises :class:`ToolchainMissingError`, which names the Debian package to install
(``make toolchains`` installs all of them).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edgernn.errors import EdgeRNNError, MissingDependencyError
from edgernn.types import EXPORT_TARGETS

if TYPE_CHECKING:  # pragma: no cover
    from edgernn.ir import QuantizedRNN

#: Warnings every build uses (DESIGN.md, "C rules"); -Werror is added unless a build opts out.
WARNING_FLAGS = ("-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion")

#: Exit status of a program that faulted on a board (boards/common/edgernn_board.h).
BOARD_FAULT_STATUS = 70

DEFAULT_TIMEOUT = 600.0

_INSTALL_HINT = "install it with `apt-get install --no-install-recommends {packages}` (or run `make toolchains`)"


class ToolchainMissingError(MissingDependencyError):
    """A cross compiler, binutils or emulator needed for a target is not installed."""


class TargetBuildError(EdgeRNNError):
    """Compiling or linking for a target failed."""


class TargetRunError(EdgeRNNError):
    """A program did not run to a parseable result on its target."""


# ---------------------------------------------------------------------------------------------
# The target table
# ---------------------------------------------------------------------------------------------

Kind = Literal["bare-metal", "linux", "host"]


@dataclass(frozen=True)
class Target:
    """How to build for and run on one target."""

    name: str  #: as in :data:`edgernn.types.EXPORT_TARGETS`
    description: str
    kind: Kind
    cc: str  #: C compiler
    cflags: tuple[str, ...]  #: core and ABI flags (compile and link)
    tool_prefix: str  #: of binutils (size, nm, objdump)
    packages: tuple[str, ...]  #: Debian packages of the compiler and C library
    emulator: tuple[str, ...] = ()  #: command prefix that runs a program (empty: native)
    emulator_package: str | None = None
    board: str | None = None  #: directory under firmware_export/boards (bare-metal)
    ldflags: tuple[str, ...] = ()

    @property
    def bare_metal(self) -> bool:
        return self.kind == "bare-metal"

    def tool(self, name: str) -> str:
        """A binutils program of this target (``size``, ``nm``, ``objdump``)."""
        return f"{self.tool_prefix}{name}"


_ARM_NONE_EABI = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi")
_BARE_METAL_LDFLAGS = ("--specs=nano.specs", "--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections")


def _cortex_m(name: str, core: str, board: str, flags: tuple[str, ...]) -> Target:
    """A bare-metal core on a QEMU machine; ``board`` is both the machine and its boards/ directory."""
    return Target(
        name=name,
        description=f"{core} on QEMU {board}",
        kind="bare-metal",
        cc="arm-none-eabi-gcc",
        cflags=("-mthumb", *flags),
        tool_prefix="arm-none-eabi-",
        packages=_ARM_NONE_EABI,
        emulator=(
            "qemu-system-arm",
            "-M",
            board,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "null",
        ),
        emulator_package="qemu-system-arm",
        board=board,
        ldflags=_BARE_METAL_LDFLAGS,
    )


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="host",
            description="this machine",
            kind="host",
            cc=os.environ.get("CC", "cc"),
            cflags=(),
            tool_prefix="",
            packages=("gcc", "binutils"),
        ),
        _cortex_m("cortex-m0", "Cortex-M0", "microbit", ("-mcpu=cortex-m0",)),
        _cortex_m("cortex-m3", "Cortex-M3", "mps2-an385", ("-mcpu=cortex-m3",)),
        _cortex_m(
            "cortex-m4", "Cortex-M4F", "mps2-an386", ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
        ),
        _cortex_m("cortex-m7", "Cortex-M7", "mps2-an500", ("-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16")),
        _cortex_m(
            "cortex-m33",
            "Cortex-M33 (FPU, DSP)",
            "mps2-an505",
            ("-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
        ),
        _cortex_m("cortex-m55", "Cortex-M55 (MVE)", "mps3-an547", ("-mcpu=cortex-m55", "-mfloat-abi=hard")),
        Target(
            name="aarch64",
            description="64-bit Raspberry Pi OS (Cortex-A72) under qemu-aarch64",
            kind="linux",
            cc="aarch64-linux-gnu-gcc",
            cflags=("-mcpu=cortex-a72",),
            tool_prefix="aarch64-linux-gnu-",
            packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"),
            emulator=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "cortex-a72"),
            emulator_package="qemu-user",
            ldflags=("-static", "-no-pie"),
        ),
        Target(
            # Every Raspberry Pi from the Pi 2 on runs 32-bit Raspberry Pi OS (armhf) code built
            # for ARMv7-A with NEON/VFPv4; QEMU emulates the Pi 2's Cortex-A7.
            name="armv7",
            description="32-bit Raspberry Pi OS (ARMv7-A, NEON) under qemu-arm",
            kind="linux",
            cc="arm-linux-gnueabihf-gcc",
            cflags=("-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard"),
            tool_prefix="arm-linux-gnueabihf-",
            packages=("gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross"),
            emulator=("qemu-arm", "-L", "/usr/arm-linux-gnueabihf", "-cpu", "cortex-a7"),
            emulator_package="qemu-user",
            ldflags=("-static", "-no-pie"),
        ),
    )
}
assert tuple(sorted(TARGETS)) == tuple(sorted(EXPORT_TARGETS)), "TARGETS must cover edgernn.types.EXPORT_TARGETS"

#: The targets that run under emulation (everything but the host).
EMULATED_TARGETS: tuple[str, ...] = tuple(name for name in EXPORT_TARGETS if name != "host")


def get_target(target: str | Target) -> Target:
    """The :class:`Target` called ``target`` (or ``target`` itself)."""
    if isinstance(target, Target):
        return target
    try:
        return TARGETS[target]
    except KeyError:
        raise EdgeRNNError(f"unknown target {target!r}", f"choose one of {', '.join(TARGETS)}") from None


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------


def _missing(program: str, packages: Sequence[str]) -> ToolchainMissingError:
    return ToolchainMissingError(f"{program} is not installed", _INSTALL_HINT.format(packages=" ".join(packages)))


_NEWLIB_FOUND: set[str] = set()


def require_tools(target: str | Target, *, run: bool = True) -> Target:
    """Check that the compiler, binutils, C library and (with ``run``) emulator of ``target``
    are installed; raise :class:`ToolchainMissingError` naming the package otherwise."""
    t = get_target(target)
    programs = [t.cc, t.tool("size"), t.tool("nm"), t.tool("objdump")]
    for program in programs:
        if shutil.which(program) is None:
            raise _missing(program, t.packages)
    if t.bare_metal and t.name not in _NEWLIB_FOUND:
        specs = subprocess.run(
            [t.cc, *t.cflags, "-print-file-name=rdimon.specs"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not os.path.isabs(specs) or not os.path.exists(specs):
            raise _missing("newlib (rdimon.specs)", ("libnewlib-arm-none-eabi",))
        _NEWLIB_FOUND.add(t.name)
    if t.kind == "linux":
        sysroot = Path(t.emulator[t.emulator.index("-L") + 1])
        if not (sysroot / "lib").is_dir():
            raise _missing(f"the C library in {sysroot}", t.packages[1:])
    if run and t.emulator and shutil.which(t.emulator[0]) is None:
        raise _missing(t.emulator[0], (t.emulator_package or t.emulator[0],))
    return t


def firmware_root() -> Path:
    """The firmware_export directory (C runtime, boards, tools) of this edgernn."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "firmware_export", package.parent / "firmware_export"):
        if (candidate / "boards").is_dir():
            return candidate
    raise EdgeRNNError("edgernn's firmware_export directory is missing", "reinstall edgernn")


def cache_dir() -> Path:
    """Where built tools and compiled objects are kept ($EDGERNN_CACHE_DIR, else ~/.cache/edgernn)."""
    root = os.environ.get("EDGERNN_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgernn"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run_tool(cmd: Sequence[str], *, cwd: Path | None = None, what: str) -> str:
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ToolchainMissingError(f"{cmd[0]} is not installed", "run `make toolchains`") from None
    if proc.returncode != 0:
        raise TargetBuildError(f"{what} failed:\n$ {' '.join(map(str, cmd))}\n{proc.stdout}{proc.stderr}".rstrip())
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardFiles:
    """The startup sources, linker script and include directories of one QEMU board."""

    sources: tuple[Path, ...]
    linker_script: Path
    include_dirs: tuple[Path, ...]
    library_dirs: tuple[Path, ...]


def board_files(target: str | Target, boards_dir: Path | None = None) -> BoardFiles:
    """The board support files of a bare-metal target (from ``boards_dir``, else the package's)."""
    t = get_target(target)
    if not t.bare_metal or t.board is None:
        raise EdgeRNNError(f"target {t.name} is not a bare-metal board")
    root = boards_dir if boards_dir is not None else firmware_root() / "boards"
    common = root / "common"
    board = root / t.board
    files = BoardFiles(
        sources=(common / "cortexm_startup.c", board / "startup.c"),
        linker_script=board / f"{t.board}.ld",
        include_dirs=(common,),
        library_dirs=(common,),
    )
    for path in (*files.sources, files.linker_script):
        if not path.is_file():
            raise EdgeRNNError(f"board file {path} is missing", "reinstall edgernn")
    return files


@dataclass(frozen=True)
class Build:
    """A linked program for one target, with what footprint measures need."""

    target: Target
    executable: Path
    objects: tuple[Path, ...]  #: one per source, in source order
    sources: tuple[Path, ...]
    map_file: Path | None

    @property
    def stack_usage_files(self) -> tuple[Path, ...]:
        return tuple(p for p in (o.with_suffix(".su") for o in self.objects) if p.exists())


def compile_flags(
    target: str | Target, opt: str = "-O2", *, werror: bool = True, extra: Sequence[str] = ()
) -> list[str]:
    """The C compiler flags of a build: C99, the target's core flags, warnings, sections."""
    t = get_target(target)
    flags = ["-std=c99", opt, *t.cflags, *WARNING_FLAGS, "-ffunction-sections", "-fdata-sections"]
    if werror:
        flags.append("-Werror")
    flags.extend(extra)
    return flags


def _headers_digest(directories: Iterable[Path]) -> bytes:
    h = hashlib.sha256()
    for directory in sorted({d.resolve() for d in directories}):
        for header in sorted(directory.rglob("*.h")):
            h.update(str(header.relative_to(directory)).encode())
            h.update(header.read_bytes())
    return h.digest()


def _compile(cc: str, flags: Sequence[str], source: Path, obj: Path, headers: bytes, use_cache: bool) -> None:
    """Compile one source to ``obj`` (and its ``.su``), reusing a cached object when the compiler,
    flags, source and every header it can see are unchanged."""
    key = hashlib.sha256(
        "\0".join([cc, *flags]).encode() + b"\0" + source.read_bytes() + headers + source.name.encode()
    ).hexdigest()[:32]
    cached = cache_dir() / "objects" / key
    if use_cache and (cached / "out.o").exists():
        shutil.copyfile(cached / "out.o", obj)
        if (cached / "out.su").exists():
            shutil.copyfile(cached / "out.su", obj.with_suffix(".su"))
        return
    _run_tool([cc, *flags, "-fstack-usage", "-c", str(source), "-o", str(obj)], what=f"compiling {source.name}")
    if use_cache:
        tmp = Path(tempfile.mkdtemp(dir=cache_dir()))
        shutil.copyfile(obj, tmp / "out.o")
        if obj.with_suffix(".su").exists():
            shutil.copyfile(obj.with_suffix(".su"), tmp / "out.su")
        (cached.parent).mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(cached)
        except OSError:  # another process cached it first
            shutil.rmtree(tmp, ignore_errors=True)


def compile_objects(
    target: str | Target,
    sources: Sequence[Path],
    out_dir: Path,
    *,
    include_dirs: Sequence[Path] = (),
    defines: Sequence[str] = (),
    opt: str = "-O2",
    werror: bool = True,
    extra_cflags: Sequence[str] = (),
    use_cache: bool = True,
) -> tuple[Path, ...]:
    """Compile each source to ``out_dir/<stem>.o`` (with ``-fstack-usage``), in parallel."""
    t = require_tools(target, run=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    flags = compile_flags(t, opt, werror=werror, extra=extra_cflags)
    flags += [f"-I{d}" for d in include_dirs] + [f"-D{d}" for d in defines]
    stems = [s.stem for s in sources]
    objects = []
    for source, stem in zip(sources, stems):
        name = stem if stems.count(stem) == 1 else f"{source.parent.name}_{stem}"
        objects.append(out_dir / f"{name}.o")
    headers = _headers_digest([*include_dirs, *(s.parent for s in sources)])
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [pool.submit(_compile, t.cc, flags, s, o, headers, use_cache) for s, o in zip(sources, objects)]
        for job in jobs:
            job.result()
    return tuple(objects)


def build_program(
    target: str | Target,
    sources: Sequence[Path],
    output: Path,
    *,
    include_dirs: Sequence[Path] = (),
    defines: Sequence[str] = (),
    opt: str = "-O2",
    werror: bool = True,
    extra_cflags: Sequence[str] = (),
    boards_dir: Path | None = None,
    use_cache: bool = True,
) -> Build:
    """Compile and link ``sources`` into ``output`` for ``target``.

    Bare-metal targets add the board's startup files and linker script and link newlib's
    semihosting C library; Linux targets link statically (so qemu-user needs no sysroot and
    symbol addresses are fixed).
    """
    t = require_tools(target, run=False)
    output = Path(output)
    obj_dir = output.parent / f"{output.name}.obj"
    sources = [Path(s) for s in sources]
    include_dirs = [Path(d) for d in include_dirs]
    link: list[str] = []
    if t.bare_metal:
        board = board_files(t, boards_dir)
        sources = [*board.sources, *sources]
        include_dirs = [*include_dirs, *board.include_dirs]
        link += [f"-L{d}" for d in board.library_dirs] + [f"-T{board.linker_script}"]
    objects = compile_objects(
        t,
        sources,
        obj_dir,
        include_dirs=include_dirs,
        defines=defines,
        opt=opt,
        werror=werror,
        extra_cflags=extra_cflags,
        use_cache=use_cache,
    )
    map_file = output.parent / f"{output.name}.map"
    cmd = [
        t.cc,
        *t.cflags,
        opt,
        *map(str, objects),
        *t.ldflags,
        *link,
        f"-Wl,-Map={map_file}",
        "-lm",
        "-o",
        str(output),
    ]
    _run_tool(cmd, what=f"linking {output.name} for {t.name}")
    return Build(t, output, objects, tuple(sources), map_file)


def export_sources(export_dir: Path) -> tuple[list[Path], list[Path]]:
    """The runtime + model sources and the include directories of an export folder."""
    export_dir = Path(export_dir)
    sources = sorted((export_dir / "src").glob("*.c"))
    if not sources:
        raise EdgeRNNError(f"{export_dir} has no src/*.c", "export the model with `edgernn export --format c`")
    return sources, [export_dir / "include"]


def export_boards_dir(export_dir: Path, target: str | Target) -> Path | None:
    """``DIR/boards`` if the export ships the board files of ``target`` (exports for a bare-metal
    target carry its board), else None: edgernn's own boards are used."""
    t = get_target(target)
    boards = Path(export_dir) / "boards"
    if t.board is not None and (boards / "common").is_dir() and (boards / t.board).is_dir():
        return boards
    return None


def build_selftest(
    export_dir: Path,
    target: str | Target,
    build_dir: Path | None = None,
    *,
    opt: str = "-O2",
    werror: bool = True,
    defines: Sequence[str] = (),
    use_cache: bool = True,
) -> Build:
    """Build an export folder's ``selftest/selftest.c`` with its runtime and model for ``target``.

    Board files come from the export folder's ``boards/`` if it has one, else from edgernn's.
    """
    export_dir = Path(export_dir)
    t = get_target(target)
    sources, include_dirs = export_sources(export_dir)
    selftest = export_dir / "selftest" / "selftest.c"
    if not selftest.is_file():
        raise EdgeRNNError(f"{selftest} is missing", "export the model again with the C exporter")
    build_dir = Path(build_dir) if build_dir is not None else export_dir / "build" / t.name
    build_dir.mkdir(parents=True, exist_ok=True)
    boards = export_boards_dir(export_dir, t)
    suffix = ".elf" if t.bare_metal else ""
    return build_program(
        t,
        [*sources, selftest],
        build_dir / f"selftest{suffix}",
        include_dirs=include_dirs,
        defines=defines,
        opt=opt,
        werror=werror,
        boards_dir=boards,
        use_cache=use_cache,
    )


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
# Footprint
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeInfo:
    """Section sizes as ``size`` (Berkeley format) reports them."""

    text: int
    data: int
    bss: int

    @property
    def flash(self) -> int:
        """Bytes of non-volatile memory: code and constants plus the initial values of .data."""
        return self.text + self.data

    @property
    def ram(self) -> int:
        """Bytes of static RAM (the stack and heap are not included)."""
        return self.data + self.bss

    def __add__(self, other: SizeInfo) -> SizeInfo:
        return SizeInfo(self.text + other.text, self.data + other.data, self.bss + other.bss)


def parse_size_output(text: str) -> dict[str, SizeInfo]:
    """Parse Berkeley-format ``size`` output: file name -> sizes."""
    sizes: dict[str, SizeInfo] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].split()[:3] != ["text", "data", "bss"]:
        raise TargetBuildError(f"unexpected output of size:\n{text}")
    for line in lines[1:]:
        fields = line.split(None, 5)
        if len(fields) < 6:
            raise TargetBuildError(f"unexpected line in the output of size: {line!r}")
        text_, data, bss = (int(v) for v in fields[:3])
        name = fields[5].strip()
        if " (ex " in name:  # archive members: "obj.o (ex libfoo.a)"
            name = name.split(" (ex ")[0]
        sizes[name] = SizeInfo(text_, data, bss)
    return sizes


def elf_size(path: Path | Sequence[Path], target: str | Target) -> SizeInfo:
    """Total sizes of an ELF file or of several object files."""
    t = require_tools(target, run=False)
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    out = _run_tool([t.tool("size"), *map(str, paths)], what="size")
    parsed = parse_size_output(out)
    total = SizeInfo(0, 0, 0)
    for info in parsed.values():
        total = total + info
    return total


@dataclass(frozen=True)
class StackUsage:
    """One function's frame from ``-fstack-usage``."""

    function: str
    bytes: int
    qualifier: str  #: static, dynamic or "dynamic,bounded"


def parse_stack_usage(text: str) -> dict[str, StackUsage]:
    """Parse a ``.su`` file (``file:line:col:function<TAB>bytes<TAB>qualifier``)."""
    usage: dict[str, StackUsage] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            location, size, qualifier = line.rsplit("\t", 2)
        except ValueError:
            raise TargetBuildError(f"unexpected line in a stack usage file: {line!r}") from None
        function = location.rsplit(":", 1)[-1]
        usage[function] = StackUsage(function, int(size), qualifier.strip())
    return usage


def stack_usage(build: Build) -> dict[str, StackUsage]:
    """Frames of every function compiled into ``build`` (from the ``.su`` files)."""
    usage: dict[str, StackUsage] = {}
    for su in build.stack_usage_files:
        usage.update(parse_stack_usage(su.read_text()))
    return usage


_MAP_SECTION_RE = re.compile(
    r"^ (?P<section>\.[\w.$]+|COMMON)(?:\s*\n)?\s+0x(?P<addr>[0-9a-f]+)\s+0x(?P<size>[0-9a-f]+)\s+(?P<file>\S.*)$",
    re.M,
)


def parse_map_contributions(text: str) -> dict[str, SizeInfo]:
    """Per input file, what the linker placed in the output (after --gc-sections), from a GNU ld
    map file: .text/.rodata (and other read-only sections) as text, .data as data, .bss/COMMON
    as bss."""
    start = text.find("Linker script and memory map")
    if start < 0:
        raise TargetBuildError("not a GNU ld map file (no 'Linker script and memory map')")
    body = text[start:]
    sizes: dict[str, SizeInfo] = {}
    for m in _MAP_SECTION_RE.finditer(body):
        size = int(m.group("size"), 16)
        if size == 0 or int(m.group("addr"), 16) == 0 and m.group("section").startswith((".debug", ".comment")):
            continue
        section = m.group("section")
        if section.startswith((".debug", ".comment", ".ARM.attributes", ".note", ".stab")):
            continue
        if section.startswith((".bss", ".sbss", ".tbss")) or section == "COMMON":
            info = SizeInfo(0, 0, size)
        elif section.startswith(".data.rel.ro"):  # constant after relocation (Linux targets)
            info = SizeInfo(size, 0, 0)
        elif section.startswith((".data", ".sdata", ".tdata")):
            info = SizeInfo(0, size, 0)
        else:
            info = SizeInfo(size, 0, 0)
        name = m.group("file").strip()
        sizes[name] = sizes.get(name, SizeInfo(0, 0, 0)) + info
    return sizes


def linked_sizes(build: Build, sources: Iterable[Path]) -> SizeInfo:
    """What the objects of ``sources`` (a subset of the build's) occupy in the linked program."""
    if build.map_file is None:
        raise TargetBuildError("the build has no linker map")
    contributions = parse_map_contributions(build.map_file.read_text())
    wanted = {str(build.objects[build.sources.index(Path(s))]) for s in sources}
    total = SizeInfo(0, 0, 0)
    for name, info in contributions.items():
        if name in wanted:
            total = total + info
    return total


def runtime_code_size(
    target: str | Target = "cortex-m4",
    *,
    opt: str = "-Os",
    sources: Sequence[Path] | None = None,
    include_dirs: Sequence[Path] | None = None,
) -> SizeInfo:
    """Size of the C runtime alone: its sources compiled for ``target`` without a model, summed
    over the objects (nothing is garbage-collected). ``sources`` defaults to every file of
    ``firmware_export/src`` (both the int8 and the float32 path); pass an export's runtime files
    for one path."""
    t = require_tools(target, run=False)
    root = firmware_root()
    if sources is None:
        sources = sorted((root / "src").glob("*.c"))
    if not sources:
        raise EdgeRNNError(f"no runtime sources in {root / 'src'}")
    if include_dirs is None:
        include_dirs = [Path(sources[0]).parent.parent / "include"]
    with tempfile.TemporaryDirectory(prefix="edgernn-runtime-") as tmp:
        objects = compile_objects(t, [Path(s) for s in sources], Path(tmp), include_dirs=include_dirs, opt=opt)
        return elf_size(objects, t)


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
        raise _missing("gcc", ("gcc",))
    tmp = library.with_suffix(f".{os.getpid()}.tmp")
    _run_tool(
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
    out = _run_tool([build.target.tool("nm"), "-S", str(build.executable)], what="nm")
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
    out = _run_tool(
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


# ---------------------------------------------------------------------------------------------
# A model's cost per step
# ---------------------------------------------------------------------------------------------

_HARNESS_TEMPLATE = """\
/* Generated by edgernn.targets (not part of an export): runs {prefix}_step {steps} times on
 * pseudo-random inputs, for instruction counting and stack measurement. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "{prefix}_model.h"
#ifdef EDGERNN_BOARD
#include "edgernn_board.h"
#endif

#define STEPS {steps}

static {prefix}_state_t state;
static int8_t y[{P}_OUTPUT_SIZE];
static uint32_t random_state = 12345u;
static volatile uint32_t checksum;
#ifdef EDGERNN_BOARD
static size_t step_stack_bytes;
#endif

static uint32_t next_random(void)
{{
    random_state = random_state * 1664525u + 1013904223u;
    return random_state;
}}

/* The plugin counts from the first instruction of {prefix}_step to each return into this function. */
__attribute__((noinline)) int edgernn_harness_steps(void);
__attribute__((noinline)) int edgernn_harness_steps(void)
{{
    int failures = 0;
#if {P}_TOKEN_INPUT
    int32_t token;
#else
    int8_t x[{P}_INPUT_SIZE];
#endif
#ifdef EDGERNN_BOARD
    const size_t base = board_stack_depth();
    board_stack_repaint();
#endif
    for (int t = 0; t < STEPS; ++t) {{
#if {P}_TOKEN_INPUT
        token = (int32_t)(next_random() % (uint32_t){P}_VOCAB_SIZE);
        failures += {prefix}_step(&state, token, y) != ERNN_OK;
#else
        for (int i = 0; i < {P}_INPUT_SIZE; ++i) {{
            x[i] = (int8_t)((int32_t)(next_random() >> 24) - 128);
        }}
        failures += {prefix}_step(&state, x, y) != ERNN_OK;
#endif
        checksum += (uint8_t)y[0];
    }}
#ifdef EDGERNN_BOARD
    step_stack_bytes = board_stack_high_water() - base;
#endif
    return failures;
}}

int main(void)
{{
    if ({prefix}_init(&state) != ERNN_OK) {{
        printf("harness: {prefix}_init failed\\n");
        return 2;
    }}
    const int failures = edgernn_harness_steps();
    printf("harness: %d steps, %d failures, checksum %lu\\n", STEPS, failures, (unsigned long)checksum);
#ifdef EDGERNN_BOARD
    printf("harness: step stack %lu bytes\\n", (unsigned long)step_stack_bytes);
#endif
    return failures != 0;
}}
"""

_HARNESS_RE = re.compile(r"^harness: (\d+) steps, (\d+) failures, checksum (\d+)$", re.M)
_HARNESS_STACK_RE = re.compile(r"^harness: step stack (\d+) bytes$", re.M)


@dataclass(frozen=True)
class ExportInfo:
    """What a measurement needs to know about an export folder (from its manifest)."""

    prefix: str
    token_input: bool
    bidirectional: bool
    int8: bool


def export_info(export_dir: Path) -> ExportInfo:
    """Read an export folder's manifest (``edgernn_export.json``)."""
    manifest = Path(export_dir) / "edgernn_export.json"
    try:
        data = json.loads(manifest.read_text())
        return ExportInfo(
            data["prefix"], bool(data["token_input"]), bool(data["bidirectional"]), data["path"] == "int8"
        )
    except (OSError, ValueError, KeyError) as exc:
        raise EdgeRNNError(
            f"{export_dir} is not an edgernn C export ({exc})", "export the model with `edgernn export --format c`"
        ) from None


@dataclass(frozen=True)
class StepMeasurement:
    """The cost of one time step of a model on one target, from one real build."""

    target: str
    steps: int
    instructions_per_step: float  #: from the first instruction of <prefix>_step to its return, callees included
    self_instructions_per_step: float  #: inside <prefix>_step's own address range only
    total_instructions: int  #: the whole harness run, start-up and C library included
    step_stack_bytes: int | None  #: stack used by one step, measured by stack painting (bare-metal)
    model_size: SizeInfo  #: runtime + model objects as linked into the harness (after --gc-sections)
    runtime_size: SizeInfo  #: the runtime's objects alone, as linked (the model file excluded)
    program_size: SizeInfo  #: the whole harness program (start-up, C library, harness)
    weight_bytes: int | None  #: <PREFIX>_WEIGHT_BYTES: constant model data
    state_bytes: int | None  #: <PREFIX>_STATE_BYTES: recurrent state
    scratch_bytes: int | None  #: <PREFIX>_SCRATCH_BYTES
    stack_usage: dict[str, StackUsage]  #: -fstack-usage frames of the runtime and model functions

    @property
    def instance_ram(self) -> int | None:
        """RAM of one model instance: state and scratch, plus any static data of the runtime."""
        if self.state_bytes is None or self.scratch_bytes is None:
            return None
        return self.state_bytes + self.scratch_bytes + self.model_size.ram

    def to_json(self) -> dict[str, object]:
        def size(info: SizeInfo) -> dict[str, int]:
            return {"text": info.text, "data": info.data, "bss": info.bss, "flash": info.flash, "ram": info.ram}

        d = dataclasses.asdict(self)
        for name in ("model_size", "runtime_size", "program_size"):
            d[name] = size(getattr(self, name))
        d["instance_ram"] = self.instance_ram
        d["stack_usage"] = {name: u.bytes for name, u in sorted(self.stack_usage.items())}
        return d


def _int_macro(header_text: str, name: str) -> int | None:
    m = re.search(rf"^\s*#\s*define\s+{re.escape(name)}\s+\(?\s*(\d+)[uUlL]*\s*\)?", header_text, re.M)
    return int(m.group(1)) if m else None


def build_step_harness(
    export_dir: Path,
    target: str | Target,
    build_dir: Path,
    *,
    steps: int = 64,
    opt: str = "-O2",
    use_cache: bool = True,
) -> Build:
    """Build a program that runs the export's ``<prefix>_step`` ``steps`` times on pseudo-random
    input (see :func:`measure_export_step`)."""
    t = get_target(target)
    info = export_info(export_dir)
    if info.bidirectional:
        raise EdgeRNNError("a bidirectional model has no per-step cost", "measure a unidirectional model")
    if not info.int8:
        raise EdgeRNNError("the step harness runs int8 exports", "export without --float")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    harness = build_dir / "step_harness.c"
    harness.write_text(_HARNESS_TEMPLATE.format(prefix=info.prefix, P=info.prefix.upper(), steps=steps))
    sources, include_dirs = export_sources(export_dir)
    boards = export_boards_dir(export_dir, t)
    return build_program(
        t,
        [*sources, harness],
        build_dir / ("step_harness.elf" if t.bare_metal else "step_harness"),
        include_dirs=include_dirs,
        defines=["EDGERNN_BOARD"] if t.bare_metal else [],
        opt=opt,
        boards_dir=boards,
        use_cache=use_cache,
    )


def measure_export_step(
    export_dir: Path,
    target: str | Target,
    *,
    steps: int = 64,
    build_dir: Path | None = None,
    opt: str = "-O2",
    timeout: float = DEFAULT_TIMEOUT,
) -> StepMeasurement:
    """Instructions, stack and footprint of one step of an exported int8 model on ``target``.

    The harness calls ``<prefix>_step`` ``steps`` times; the counting plugin opens its window at
    the step function's first instruction and closes it where execution returns to the harness,
    so the count includes every runtime function the step calls. It runs twice and must give
    identical counts.
    """
    t = get_target(target)
    if not t.emulator:
        raise TargetRunError("instruction counting needs an emulated target", "choose a target other than host")
    export_dir = Path(export_dir)
    info = export_info(export_dir)
    with tempfile.TemporaryDirectory(prefix="edgernn-step-") as tmp:
        work = Path(build_dir) if build_dir is not None else Path(tmp)
        build = build_step_harness(export_dir, t, work, steps=steps, opt=opt)
        syms = symbols(build)
        step_name = f"{info.prefix}_step"
        if step_name not in syms:
            raise TargetRunError(f"{step_name} is not in the harness")
        step = syms[step_name]
        step_range = (step.address, step.address + step.size)
        resume = return_addresses(build, "edgernn_harness_steps", step_name)
        counts = []
        for _ in range(2):
            count, run = count_instructions(
                build, ranges=[step_range], start=[step.address], stop=resume, timeout=timeout
            )
            harness = _HARNESS_RE.search(run.stdout)
            if harness is None or int(harness.group(2)) != 0 or int(harness.group(1)) != steps:
                raise TargetRunError(f"the step harness failed on {t.name}:\n{run.output.strip()}")
            if count.windows_opened != steps or count.window is None:
                raise TargetRunError(
                    f"the counting window opened {count.windows_opened} times for {steps} steps on {t.name}"
                )
            counts.append(count)
        if counts[0] != counts[1]:
            raise TargetRunError(f"instruction counts differ between two identical runs on {t.name}: {counts}")
        count = counts[0]
        assert count.window is not None
        stack = _HARNESS_STACK_RE.search(run.stdout)
        header = (export_dir / "include" / f"{info.prefix}_model.h").read_text()
        export_srcs, _ = export_sources(export_dir)
        runtime_srcs = [src for src in export_srcs if src.name != f"{info.prefix}_model.c"]
        frames: dict[str, StackUsage] = {}
        for obj, src in zip(build.objects, build.sources):
            if src in export_srcs and obj.with_suffix(".su").exists():
                frames.update(parse_stack_usage(obj.with_suffix(".su").read_text()))
        P = info.prefix.upper()
        return StepMeasurement(
            target=t.name,
            steps=steps,
            instructions_per_step=count.window / steps,
            self_instructions_per_step=count.ranges[step_range] / steps,
            total_instructions=count.total,
            step_stack_bytes=int(stack.group(1)) if stack else None,
            model_size=linked_sizes(build, export_srcs),
            runtime_size=linked_sizes(build, runtime_srcs),
            program_size=elf_size(build.executable, t),
            weight_bytes=_int_macro(header, f"{P}_WEIGHT_BYTES"),
            state_bytes=_int_macro(header, f"{P}_STATE_BYTES"),
            scratch_bytes=_int_macro(header, f"{P}_SCRATCH_BYTES"),
            stack_usage=frames,
        )


_MEASURED: dict[tuple[str, str, int, str], StepMeasurement] = {}


def measure_step(
    model: QuantizedRNN,
    target: str | Target,
    *,
    steps: int = 64,
    work_dir: Path | None = None,
    opt: str = "-O2",
) -> StepMeasurement:
    """Export ``model`` (int8) and measure one step on ``target`` (see :func:`measure_export_step`).

    Results are remembered per model hash, target, steps and optimization level for the life of
    the process (the measurement is deterministic), so :func:`count_step_instructions` and
    :func:`footprint` of the same model build and run it once.
    """
    from edgernn.export import ExportOptions, export_model

    t = get_target(target)
    key = (model.sha256, t.name, steps, opt)
    if key in _MEASURED and work_dir is None:
        return _MEASURED[key]
    with tempfile.TemporaryDirectory(prefix="edgernn-measure-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        export_dir = root / "export"
        export_model(model, "c", export_dir, ExportOptions(prefix="model", target=t.name))
        result = measure_export_step(export_dir, t, steps=steps, build_dir=root / f"harness-{t.name}", opt=opt)
    _MEASURED[key] = result
    return result


def count_step_instructions(model: QuantizedRNN, target: str | Target, *, steps: int = 64) -> float:
    """Executed instructions per time step of ``model`` on ``target`` (exact, callees included,
    averaged over ``steps`` steps of pseudo-random input)."""
    return measure_step(model, target, steps=steps).instructions_per_step


@dataclass(frozen=True)
class Footprint:
    """Memory of a model on a target, from the real build of the step harness."""

    target: str
    flash_bytes: int  #: runtime code + model weights and constants, as linked
    ram_bytes: int | None  #: one model instance: recurrent state + scratch (+ static data, normally 0)
    stack_bytes: int | None  #: stack high-water of one step (stack painting; bare-metal targets)
    runtime_code_bytes: int  #: the runtime's share of flash_bytes
    weight_bytes: int | None  #: constant model data (the exported <PREFIX>_WEIGHT_BYTES)


def footprint(model: QuantizedRNN, target: str | Target, *, steps: int = 64) -> Footprint:
    """Flash, RAM, stack and runtime code size of ``model`` on ``target`` (see :class:`Footprint`)."""
    m = measure_step(model, target, steps=steps)
    return Footprint(
        target=m.target,
        flash_bytes=m.model_size.flash,
        ram_bytes=m.instance_ram,
        stack_bytes=m.step_stack_bytes,
        runtime_code_bytes=m.runtime_size.flash,
        weight_bytes=m.weight_bytes,
    )
