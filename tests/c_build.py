"""Host C builds for the tests: each source compiled by a process of its own, as many at once as there are
cores, and an object reused where its key (:func:`edgernn.toolchain.object_key`: the compiler, its flags but the
preprocessor's, the source as the compiler sees it) equals that of an earlier compile in this test session.

An export's runtime sources differ between exports only in a comment (the model's sha256), so the tests that
build many exports with the same flags compile them once (under the sanitizers, gcc 12 takes 23-38 s for each
cell's file with the x86 kernels) and then only each model's own files. The objects live in a folder of this
process, removed at its exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgernn.toolchain import object_key

_OBJECTS = Path(tempfile.mkdtemp(prefix="edgernn-test-objects-"))
atexit.register(shutil.rmtree, _OBJECTS, True)


class CompileError(Exception):
    """A preprocessing or compile that failed: its stderr."""


def _preprocessed(cc: str, flags: Sequence[str], source: Path) -> bytes:
    """The source as the compiler compiles it, without comments and line markers."""
    proc = subprocess.run([cc, *flags, "-E", "-P", str(source)], capture_output=True)
    if proc.returncode != 0:
        raise CompileError(proc.stderr.decode(errors="replace"))
    return proc.stdout


def _object(cc: str, flags: Sequence[str], source: Path) -> Path:
    """The object of one source: from an earlier compile of the same preprocessed source, or compiled now."""
    cached = _OBJECTS / f"{object_key(cc, flags, _preprocessed(cc, flags, source), source.name)}.o"
    if not cached.exists():
        fd, partial = tempfile.mkstemp(suffix=".o", dir=_OBJECTS)
        os.close(fd)
        proc = subprocess.run([cc, *flags, "-c", str(source), "-o", partial], capture_output=True, text=True)
        if proc.returncode != 0:
            os.unlink(partial)
            raise CompileError(proc.stderr)
        os.replace(partial, cached)  # whole objects only: a thread compiling the same source writes the same bytes
    return cached


def compiles(cc: str, flags: Sequence[str], source: str | Path) -> str:
    """Compile one source with ``flags`` (an object of this session's, or compiled now). Returns "" on success,
    else the compiler's stderr."""
    try:
        _object(cc, list(flags), Path(source))
    except CompileError as exc:
        return str(exc)
    return ""


def build(cc: str, flags: Sequence[str], sources: Sequence[str | Path], out: Path, libs: Sequence[str] = ()) -> str:
    """Compile ``sources`` with ``flags`` and link them (with ``flags`` and ``libs``) into ``out``. Returns ""
    on success, else the failing step's stderr (every source is compiled before a failure is reported)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [pool.submit(_object, cc, list(flags), Path(s)) for s in sources]
        try:
            objects = [job.result() for job in jobs]
        except CompileError as exc:
            return str(exc)
    # -x none: the objects by their suffix, whatever language the flags named for the sources
    link = [cc, *flags, "-x", "none", *map(str, objects), *libs, "-o", str(out)]
    proc = subprocess.run(link, capture_output=True, text=True)
    return "" if proc.returncode == 0 else proc.stderr
