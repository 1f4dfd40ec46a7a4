"""Atomic file and folder output: a reader never sees a half-written model, checkpoint or export,
and nothing the user made is ever replaced or deleted.

Temporary files and folders are hidden siblings of the output, named
``.<name>.edgernn-<host>-<pid>-<random>.tmp`` (and ``.old`` for a previous export folder being
replaced). A write killed half-way leaves one behind; the next write to the same output removes
it (:func:`clean_leftovers`) only when every sign says edgernn made it and nobody is using it: the
exact name pattern, this host, the current user as owner, and a process id that is no longer
running. A ``.old`` folder whose output is missing is the previous export, so it is moved back.

New files and folders get the usual ``0o666`` / ``0o777`` modes minus the user's umask (Python's
``mkstemp``/``mkdtemp`` would force ``0600``/``0700``: unreadable by another user of a shared
build or container).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from edgernn.errors import EdgeRNNError


class OutputFileError(EdgeRNNError):
    """An output file or folder cannot be written (permissions, missing disk space, bad path)."""


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.edgernn-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{8}\.(?P<kind>tmp|old)")


def _os_error(target: Path, exc: OSError, fix: str = "check free space and permissions") -> OutputFileError:
    return OutputFileError(f"cannot write {target} ({exc.strerror or exc})", fix)


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.edgernn-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}.{kind}")


def _create(target: Path, kind: str, make: Callable[[Path], None]) -> Path:
    """A new hidden sibling of ``target`` made by ``make`` (which must fail if the path exists)."""
    while True:
        path = _sibling(target, kind)
        try:
            make(path)
            return path
        except FileExistsError:
            continue  # 32 random bits collided: draw again


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask applies


def _process_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clean_leftovers(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary siblings of ``target`` that killed edgernn writes left; return them.

    A leftover qualifies only if its name is exactly edgernn's pattern for ``target``, it was made
    on this host by a process that is no longer running, and it is owned by the current user (not
    a symlink). A ``.old`` folder is moved back to ``target`` if ``target`` is missing (the write
    died between its two renames), otherwise removed.
    """
    target = Path(target)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        m = _LEFTOVER.fullmatch(entry.name)
        if not m or m["name"] != target.name or m["host"] != _HOST or _process_running(int(m["pid"])):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if entry.is_symlink() or st.st_uid != os.getuid():
                continue
            path = Path(entry.path)
            if m["kind"] == "old" and entry.is_dir(follow_symlinks=False) and not os.path.lexists(target):
                os.rename(path, target)
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            continue  # best effort: a leftover we cannot remove does not stop the write
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file is in the same directory so the final ``os.replace`` is atomic; on any
    error it is removed and an existing file at ``path`` is left untouched. Operating-system
    errors become one-line :class:`OutputFileError`.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        tmp = _create(target, "tmp", _new_file)
    except OSError as exc:
        raise _os_error(target, exc, "check the path and permissions") from None
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _os_error(target, exc) from None
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _absolute(path: Path) -> Path:
    """``path`` with its parent resolved, so renaming the current folder cannot redirect it."""
    return path.parent.resolve() / path.name


def check_output_folder(output: str | os.PathLike[str], what: str, is_previous: Callable[[Path], bool]) -> Path:
    """Refuse an output folder edgernn may not replace; return its absolute path.

    ``output`` may be missing, empty, or a previous output of the same kind (``is_previous``);
    anything else (a file, a folder with the user's files, a folder holding the current working
    directory) is refused with a one-line error and left untouched.
    """
    output = _absolute(Path(output))
    if os.path.lexists(output):
        if not output.is_dir():
            raise OutputFileError(f"{output} exists and is not a folder", "choose a new output folder")
        cwd = Path.cwd().resolve()
        real = output.resolve()
        if cwd == real or real in cwd.parents:
            raise OutputFileError(
                f"the output folder {output} contains the current folder", "run from elsewhere or choose another folder"
            )
        try:
            empty = not any(output.iterdir())
        except OSError as exc:
            raise _os_error(output, exc, "check the permissions") from None
        if not empty and not is_previous(output):
            raise OutputFileError(
                f"{output} is not empty and is not an edgernn {what}", "choose an empty or new output folder"
            )
    return output


@contextlib.contextmanager
def atomic_folder(output: str | os.PathLike[str], what: str, is_previous: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield a temporary folder beside ``output``; on success it replaces ``output`` by renames.

    ``output`` is first checked by :func:`check_output_folder` (so only an empty folder or a
    previous edgernn ``what`` is ever replaced). On any error the temporary folder is removed and
    ``output`` is left as it was.
    """
    output = check_output_folder(output, what, is_previous)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(output)
        staging = _create(output, "tmp", lambda p: p.mkdir(0o777))  # the umask applies
    except OSError as exc:
        raise _os_error(output, exc, "check the path and permissions") from None
    old: Path | None = None
    try:
        yield staging
        if os.path.lexists(output):
            check_output_folder(output, what, is_previous)  # it may have changed meanwhile
            old = _sibling(output, "old")
            os.rename(output, old)
        try:
            os.rename(staging, output)
        except OSError:
            if old is not None:
                os.rename(old, output)  # put the previous output back
                old = None
            raise
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _os_error(output, exc) from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
