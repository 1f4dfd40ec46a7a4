"""Issue 14 items 5 and 7 for data files: corrupt ``.npz`` archives are one-line errors with
memory bounded by the file, and training data whose ids or labels would make torch allocate
terabytes is refused before any model is built."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgernn.cli import cli
from edgernn.data import MAX_CLASSES, MAX_VOCAB_SIZE, load_npz
from edgernn.errors import InputDataError


def _npz(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "data.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr)
    return buf.getvalue()


def _refused(path: Path, match: str) -> None:
    with pytest.raises(InputDataError, match=match) as info:
        load_npz(path)
    assert "\n" not in str(info.value)


def test_npy_member_declaring_2_40_elements(tmp_path: Path) -> None:
    """Was MemoryError: numpy allocates the declared shape before reading the member."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**20, 2**20)})
    path = _npz(tmp_path, {"X.npy": header.getvalue() + b"\0" * 64, "y.npy": _npy(np.zeros(3, np.int64))})
    _refused(path, r"declares shape \(1048576, 1048576\)")


def test_empty_array_with_2_31_rows(tmp_path: Path) -> None:
    """A 470-byte file whose X has shape (2**31, 0) made one object per row until memory ran out
    (found by the fuzz campaign)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|i1", "fortran_order": False, "shape": (2**31, 0)})
    path = _npz(tmp_path, {"X.npy": header.getvalue(), "y.npy": _npy(np.zeros(3, np.int64))})
    _refused(path, r"declares the empty shape \(2147483648, 0\)")


def test_encrypted_and_unknown_compression_members(tmp_path: Path) -> None:
    """Were RuntimeError and NotImplementedError."""
    path = _npz(tmp_path, {"X.npy": _npy(np.zeros((2, 3, 4), np.float32)), "y.npy": _npy(np.zeros(2, np.int64))})
    raw = bytearray(path.read_bytes())
    pos = raw.index(b"PK\x01\x02")  # first central directory record
    struct.pack_into("<H", raw, pos + 8, 1)  # the encryption flag
    path.write_bytes(bytes(raw))
    _refused(path, "is encrypted")
    struct.pack_into("<H", raw, pos + 8, 0)
    struct.pack_into("<H", raw, pos + 10, 99)
    path.write_bytes(bytes(raw))
    _refused(path, "compression method 99")


def test_declared_size_beyond_the_file(tmp_path: Path) -> None:
    path = _npz(tmp_path, {"X.npy": _npy(np.zeros((2, 3, 4), np.float32)), "y.npy": _npy(np.zeros(2, np.int64))})
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, raw.index(b"PK\x01\x02") + 24, 1 << 31)
    path.write_bytes(bytes(raw))
    _refused(path, "declares 2147")


def test_token_id_2_40_is_refused(tmp_path: Path) -> None:
    x = np.array([[1, 2, 2**40], [0, 1, 2]], dtype=np.int64)
    path = _npz(tmp_path, {"X.npy": _npy(x), "y.npy": _npy(np.array([0, 1]))})
    _refused(path, f"token id 1099511627776 is beyond edgernn's vocabulary limit of {MAX_VOCAB_SIZE}")


def test_label_2e9_is_refused(tmp_path: Path) -> None:
    # With class_names the labels are class ids; without, a sparse label set is mapped to 0..K-1
    # (tests/unit/test_train_patterns.py).
    x = np.zeros((2, 3, 4), np.float32)
    names = _npy(np.array(["a", "b"]))
    path = _npz(tmp_path, {"X.npy": _npy(x), "y.npy": _npy(np.array([0, 2_000_000_000])), "class_names.npy": names})
    _refused(path, f"class label 2000000000 is beyond edgernn's limit of {MAX_CLASSES} classes")


@pytest.mark.parametrize(
    "x, y, fragment",
    [
        (np.array([[1, 2, 2**40], [0, 1, 2]], dtype=np.int64), np.array([0, 1]), "vocabulary limit"),
        (np.zeros((2, 3, 4), np.float32), np.array([0, 2_000_000_000]), "limit of 65536 classes"),
    ],
    ids=["token-2**40", "label-2e9"],
)
def test_train_refuses_before_torch_allocates(tmp_path: Path, x: np.ndarray, y: np.ndarray, fragment: str) -> None:
    """``train --data`` asked torch for terabytes and printed its traceback."""
    # class_names: the labels are class ids (a sparse set without names is mapped to 0..K-1)
    path = _npz(tmp_path, {"X.npy": _npy(x), "y.npy": _npy(y), "class_names.npy": _npy(np.array(["a", "b"]))})
    result = CliRunner().invoke(cli, ["train", "--data", str(path), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.output
    assert not (tmp_path / "m.safetensors").exists()
