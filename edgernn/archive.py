"""Reading zip archives of ``.npy`` arrays (``.ernn`` models, ``.npz`` data) from untrusted files.

Nothing is allocated on the archive's word: every entry is refused before it is decompressed if
it is encrypted, uses a compression other than stored/deflate, repeats a name, or declares more
bytes than the file can honestly hold; every ``.npy`` header's shape and dtype must account for
exactly the bytes present. Memory is thereby bounded by the file's real size. Problems raise the
caller's :class:`~edgernn.errors.EdgeRNNError` subclass, in one line.
"""

from __future__ import annotations

import io
import math
import tokenize
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from edgernn.errors import EdgeRNNError

#: Deflate expands at most ~1032:1; real weights and data compress far less. Declared sizes above
#: this ratio to the file's size are refused (but up to ``floor`` bytes always pass, so a small
#: file may hold large all-zero arrays).
MAX_EXPANSION = 64

#: The largest extent (product of the non-zero dimensions) of an array without elements.
_MAX_EMPTY_EXTENT = 1 << 16

#: Array dtype kinds read by default: plain integers and floats (object arrays would need pickle).
NUMERIC_KINDS = "iuf"

# What zipfile raises on a corrupt directory (NotImplementedError: "zip file version 12.8").
_ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, UnicodeDecodeError, NotImplementedError,
)  # fmt: skip


def open_zip(file: bytes | BinaryIO, error: EdgeRNNError) -> zipfile.ZipFile:
    """``file`` as a zip archive, else raise ``error``."""
    try:
        return zipfile.ZipFile(io.BytesIO(file) if isinstance(file, bytes) else file)
    except _ZIP_ERRORS:
        raise error from None


def check_entries(
    zf: zipfile.ZipFile, file_bytes: int, source: str, error: type[EdgeRNNError], floor: int, cap: int | None = None
) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by name, checked before anything is decompressed."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename in entries:
            raise error(f"{source} holds the entry {info.filename!r} twice (corrupt or edited file)")
        if info.flag_bits & 0x1:
            raise error(f"{source}: entry {info.filename!r} is encrypted, which edgernn never writes or reads")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise error(
                f"{source}: entry {info.filename!r} uses compression method {info.compress_type}; "
                "only stored and deflate are read"
            )
        entries[info.filename] = info
    declared = sum(i.file_size for i in entries.values())
    limit = max(floor, MAX_EXPANSION * file_bytes)
    if cap is not None:
        limit = min(limit, cap)
    if declared > limit:
        raise error(
            f"{source} declares {declared} bytes of content in a {file_bytes}-byte file; refusing to unpack it",
            "the file is corrupt or a decompression bomb",
        )
    return entries


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, error: type[EdgeRNNError]) -> bytes:
    """One entry's bytes (``what`` names it in errors), never more than it declares (zipfile
    checks the size and CRC)."""
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (*_ZIP_ERRORS, zlib.error, RuntimeError) as exc:
        raise error(f"{what} is corrupt or truncated ({type(exc).__name__})") from None
    if len(data) != info.file_size:
        raise error(f"{what} is corrupt (its size differs from the declared size)")
    return data


def read_npy(data: bytes, what: str, error: type[EdgeRNNError], kinds: str = NUMERIC_KINDS) -> np.ndarray:
    """A ``.npy`` array parsed from ``data`` without trusting its header: dtypes of ``kinds``
    only (never objects), and the declared shape must account for exactly the bytes present before anything is
    allocated. The result is a read-only view of ``data``."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, RecursionError, EOFError, OSError) as exc:
        raise error(f"{what} is corrupt (not a valid .npy array: {type(exc).__name__})") from None
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
        if dtype.hasobject:
            raise error(f"{what} is an object array (Python objects need pickle, which is refused)", "store numbers")
        raise error(f"{what} has dtype {dtype}, which is not read here (corrupt or unexpected array)")
    count = math.prod(shape)  # Python ints: a declared 2**40 elements cannot overflow here
    if count == 0 and math.prod(d for d in shape if d) > _MAX_EMPTY_EXTENT:
        # No bytes, yet iterating it makes one object per row: (2**31, 0) in a 470-byte file
        # exhausted memory. Small empty arrays pass, so the caller can say what is missing.
        raise error(f"{what} declares the empty shape {shape}", "store non-empty arrays")
    payload = len(data) - f.tell()
    if count * dtype.itemsize != payload:
        raise error(f"{what} declares shape {shape} ({count * dtype.itemsize} bytes) but holds {payload} bytes")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=f.tell())
    return arr.reshape(shape, order="F" if fortran else "C")
