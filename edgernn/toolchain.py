"""Cross toolchains: finding them, compiling and linking for a target, and reading the sizes of
what they built (``size``, ``-fstack-usage``, the linker map).

A missing tool raises :class:`ToolchainMissingError`, which names the Debian package to install
(``make toolchains`` installs all of them). Needs neither numpy nor torch.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgernn.boards import Target, get_target
from edgernn.errors import EdgeRNNError, MissingDependencyError

#: Warnings every build uses (DESIGN.md, "C rules"); -Werror is added unless a build opts out.
WARNING_FLAGS = ("-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion")

_INSTALL_HINT = "install it with `apt-get install --no-install-recommends {packages}` (or run `make toolchains`)"


class ToolchainMissingError(MissingDependencyError):
    """A cross compiler, binutils or emulator needed for a target is not installed."""


class TargetBuildError(EdgeRNNError):
    """Compiling or linking for a target failed."""


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------


def missing_tool(program: str, packages: Sequence[str]) -> ToolchainMissingError:
    return ToolchainMissingError(f"{program} is not installed", _INSTALL_HINT.format(packages=" ".join(packages)))


_NEWLIB_FOUND: set[str] = set()


def require_tools(target: str | Target, *, run: bool = True) -> Target:
    """Check that the compiler, binutils, C library and (with ``run``) emulator of ``target``
    are installed; raise :class:`ToolchainMissingError` naming the package otherwise."""
    t = get_target(target)
    programs = [t.cc, t.tool("size"), t.tool("nm"), t.tool("objdump")]
    for program in programs:
        if shutil.which(program) is None:
            raise missing_tool(program, t.packages)
    if t.bare_metal and t.name not in _NEWLIB_FOUND:
        specs = subprocess.run(
            [t.cc, *t.cflags, "-print-file-name=rdimon.specs"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not os.path.isabs(specs) or not os.path.exists(specs):
            raise missing_tool("newlib (rdimon.specs)", ("libnewlib-arm-none-eabi",))
        _NEWLIB_FOUND.add(t.name)
    if t.kind == "linux":
        sysroot = Path(t.emulator[t.emulator.index("-L") + 1])
        if not (sysroot / "lib").is_dir():
            raise missing_tool(f"the C library in {sysroot}", t.packages[1:])
    if run and t.emulator and shutil.which(t.emulator[0]) is None:
        raise missing_tool(t.emulator[0], (t.emulator_package or t.emulator[0],))
    return t


def firmware_root() -> Path:
    """The firmware_export directory (C runtime, boards, tools) of this edgernn."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "firmware_export", package.parent / "firmware_export"):
        if (candidate / "boards").is_dir():
            return candidate
    raise EdgeRNNError("edgernn's firmware_export directory is missing", "reinstall edgernn")


def cache_root() -> Path:
    """edgernn's cache ($EDGERNN_CACHE, else $XDG_CACHE_HOME/edgernn, else ~/.cache/edgernn): built tools, target
    objects, and the ``c`` backend's libraries (``c-backend/``)."""
    root = os.environ.get("EDGERNN_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgernn"


def cache_dir() -> Path:
    """:func:`cache_root`, created if missing: where built tools and compiled objects are kept."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_tool(cmd: Sequence[str], *, cwd: Path | None = None, what: str) -> str:
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


_PREPROCESSOR_FLAGS = ("-I", "-D", "-U")


def _compiler_flags(flags: Sequence[str]) -> list[str]:
    """The flags but the preprocessor's (-I, -D, -U and their values): what they do is in the preprocessed source."""
    kept: list[str] = []
    skip = False
    for flag in flags:
        if not skip and not flag.startswith(_PREPROCESSOR_FLAGS):
            kept.append(flag)
        skip = flag in _PREPROCESSOR_FLAGS
    return kept


@functools.cache
def _compiler_version(cc: str) -> str:
    """``cc --version``: an upgraded compiler under the same name misses the object cache."""
    return run_tool([cc, "--version"], what=f"asking {cc} for its version")


def object_key(cc: str, flags: Sequence[str], preprocessed: bytes, name: str) -> str:
    """The cache key of one compiled object: the compiler and its version, its flags but the preprocessor's, the
    source as the compiler sees it (``-E -P``: comments and line markers gone) and its file name (its ``.su``
    lines name it). Exports of different models carry the same runtime files but for a comment (the model's
    sha256), each in its own folder: keyed so, they share the runtime's objects. (No build here uses -g, whose
    debug information would name the source's folder.)"""
    digest = hashlib.sha256("\0".join([cc, _compiler_version(cc), *_compiler_flags(flags), name, ""]).encode())
    digest.update(preprocessed)
    return digest.hexdigest()[:32]


def _compile(cc: str, flags: Sequence[str], source: Path, obj: Path, use_cache: bool) -> None:
    """Compile one source to ``obj`` (and its ``.su``), reusing a cached object of the same key (:func:`object_key`)."""
    cached = None
    if use_cache:
        preprocessed = run_tool([cc, *flags, "-E", "-P", str(source)], what=f"preprocessing {source.name}")
        cached = cache_dir() / "objects" / object_key(cc, flags, preprocessed.encode(), source.name)
        if (cached / "out.o").exists():
            shutil.copyfile(cached / "out.o", obj)
            if (cached / "out.su").exists():
                shutil.copyfile(cached / "out.su", obj.with_suffix(".su"))
            return
    run_tool([cc, *flags, "-fstack-usage", "-c", str(source), "-o", str(obj)], what=f"compiling {source.name}")
    if cached is None:
        return
    tmp = Path(tempfile.mkdtemp(dir=cache_dir()))
    shutil.copyfile(obj, tmp / "out.o")
    if obj.with_suffix(".su").exists():
        shutil.copyfile(obj.with_suffix(".su"), tmp / "out.su")
    cached.parent.mkdir(parents=True, exist_ok=True)
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
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [pool.submit(_compile, t.cc, flags, s, o, use_cache) for s, o in zip(sources, objects)]
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
    run_tool(cmd, what=f"linking {output.name} for {t.name}")
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
    out = run_tool([t.tool("size"), *map(str, paths)], what="size")
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
