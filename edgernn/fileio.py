"""Atomic file output: a reader never sees a half-written model, checkpoint or export."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgernn.errors import EdgeRNNError


class OutputFileError(EdgeRNNError):
    """An output file or folder cannot be written (permissions, missing disk space, bad path)."""


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
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputFileError(f"cannot write {target} ({exc.strerror})", "check the path and permissions") from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputFileError(
                f"cannot write {target} ({exc.strerror})", "check free space and permissions"
            ) from None
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
