"""Issue 14 item 5: every corrupt ``.ernn`` container is a one-line ModelFileError, and memory
is bounded by the file's real size (no entry is unpacked beyond what the file can hold)."""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import ModelFileError
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

CONFIG = ModelConfig(cell=CellType.GRU, input_size=5, hidden_size=8, output_size=3)
WEIGHT = "arrays/layers/0/directions/0/quant/x_r/weight.npy"


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return ir.to_bytes(random_model(CONFIG))


def _load_error(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.ernn"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=match) as info:
        ir.load(path)
    assert "\n" not in str(info.value)


def _rebuild(
    model_bytes: bytes, edit: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None
) -> bytes:
    """The archive with each entry edited (``None`` drops it) and ``extra`` entries appended."""
    src = zipfile.ZipFile(io.BytesIO(model_bytes))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = edit(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def _patch_entry(data: bytes, name: str, local: dict[int, int], central: dict[int, int]) -> bytes:
    """Overwrite little-endian fields (offset -> value; 2-byte below 14, 4-byte from 14) of one
    entry's local header and central directory record."""
    buf = bytearray(data)
    zf = zipfile.ZipFile(io.BytesIO(data))
    info = zf.getinfo(name)

    def put(at: int, offsets: dict[int, int]) -> None:
        for off, value in offsets.items():
            fmt = "<H" if off < 14 else "<I"
            struct.pack_into(fmt, buf, at + off, value)

    put(info.header_offset, local)
    pos = zf.start_dir
    while buf[pos : pos + 4] == b"PK\x01\x02":
        n, e, c = struct.unpack_from("<HHH", buf, pos + 28)
        if buf[pos + 46 : pos + 46 + n].decode() == name:
            put(pos, central)
        pos += 46 + n + e + c
    return bytes(buf)


def test_corrupt_deflate_stream(tmp_path: Path, model_bytes: bytes) -> None:
    """Was zlib.error."""
    zf = zipfile.ZipFile(io.BytesIO(model_bytes))
    info = zf.getinfo(WEIGHT)
    n, e = struct.unpack_from("<HH", model_bytes, info.header_offset + 26)
    start = info.header_offset + 30 + n + e
    data = model_bytes[:start] + b"\xff" * 4 + model_bytes[start + 4 :]  # invalid deflate block type
    _load_error(tmp_path, data, "is corrupt")


def test_unknown_compression(tmp_path: Path, model_bytes: bytes) -> None:
    """Was NotImplementedError."""
    _load_error(tmp_path, _patch_entry(model_bytes, WEIGHT, {8: 99}, {10: 99}), "compression method 99")


def test_encrypted_entry(tmp_path: Path, model_bytes: bytes) -> None:
    """Was RuntimeError (password required)."""
    _load_error(tmp_path, _patch_entry(model_bytes, WEIGHT, {6: 1}, {8: 1}), "is encrypted")


def test_deeply_nested_header(tmp_path: Path, model_bytes: bytes) -> None:
    """Was RecursionError."""
    nested = '{"format": "edgernn-model", "schema_version": 1, "model": ' + "[" * 100_000 + "]" * 100_000 + "}"
    data = _rebuild(model_bytes, lambda name, d: nested.encode() if name == ir.HEADER_NAME else d)
    _load_error(tmp_path, data, "nested too deeply")


def test_npy_declaring_2_40_elements(tmp_path: Path, model_bytes: bytes) -> None:
    """Was MemoryError (numpy allocates the declared shape before reading)."""

    def edit(name: str, d: bytes) -> bytes:
        if name != WEIGHT:
            return d
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "|i1", "fortran_order": False, "shape": (2**40,)})
        return buf.getvalue() + b"\x00" * 64

    _load_error(tmp_path, _rebuild(model_bytes, edit), r"declares shape \(1099511627776,\)")


def test_npy_header_that_does_not_tokenize(tmp_path: Path, model_bytes: bytes) -> None:
    """Was tokenize.TokenError (numpy's fallback parser of old headers)."""

    def edit(name: str, d: bytes) -> bytes:
        if name != WEIGHT:
            return d
        header = b"{'descr': '|i1', 'fortran_order': False, 'shape': (\n"
        header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 8

    _load_error(tmp_path, _rebuild(model_bytes, edit), "is corrupt")


def test_unreferenced_entry_is_refused(tmp_path: Path, model_bytes: bytes) -> None:
    """An entry no header field names is never unpacked (a 1 GiB one took 5 s and 2.1 GB)."""
    data = _rebuild(model_bytes, lambda _n, d: d, extra={"arrays/junk.npy": b"\x00" * 100_000})
    _load_error(tmp_path, data, "does not reference")


def test_declared_size_beyond_the_file_is_refused_before_reading(tmp_path: Path, model_bytes: bytes) -> None:
    """A 1 GiB declared size in a small file: refused from the directory, nothing decompressed."""
    data = _patch_entry(model_bytes, WEIGHT, {22: 1 << 30}, {24: 1 << 30})
    start = time.perf_counter()
    _load_error(tmp_path, data, "declares 10737")
    assert time.perf_counter() - start < 5  # generous: the check reads only the zip directory


def test_missing_referenced_array(tmp_path: Path, model_bytes: bytes) -> None:
    _load_error(tmp_path, _rebuild(model_bytes, lambda name, d: None if name == WEIGHT else d), "is missing")


def test_array_reference_of_the_wrong_type(tmp_path: Path, model_bytes: bytes) -> None:
    def edit(name: str, d: bytes) -> bytes | None:
        if name == WEIGHT:
            return None
        if name != ir.HEADER_NAME:
            return d
        header = json.loads(d)
        header["model"]["layers"][0]["directions"][0]["quant"]["x_r"]["weight"] = {"$array": [1]}
        return json.dumps(header).encode()

    _load_error(tmp_path, _rebuild(model_bytes, edit), "must reference an array")


def test_single_byte_flips_give_one_line_errors(tmp_path: Path, model_bytes: bytes) -> None:
    rng = np.random.default_rng(14)
    for _ in range(150):
        data = bytearray(model_bytes)
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        try:
            ir.from_bytes(bytes(data))
        except ModelFileError as exc:
            assert "\n" not in str(exc)


def test_unsupported_zip_version(tmp_path: Path, model_bytes: bytes) -> None:
    """Was NotImplementedError ("zip file version 12.8") from zipfile's directory parser (fuzz case)."""
    _load_error(tmp_path, _patch_entry(model_bytes, WEIGHT, {}, {6: 128}), "not a zip archive, or truncated")
