"""Issue 14 item 6: corrupt or hostile checkpoints are one-line errors, allocation is bounded by
the tensors in the file, and a content hash catches bit flips that used to load silently."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

from edgernn.data import SequenceData
from edgernn.errors import EdgeRNNError, ModelFileError
from edgernn.models import Checkpoint, RNNModel, load_checkpoint, save_checkpoint
from edgernn.models import checkpoint as checkpoint_module
from edgernn.types import CellType, ModelConfig

CONFIG = ModelConfig(CellType.GRU, 8, input_size=4, output_size=3)


def _saved(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, Checkpoint(RNNModel(CONFIG), class_names=("a", "b", "c")))
    return path


def _edit(path: Path, rehash: bool = True, **changes: str) -> None:
    """Re-save with metadata edits; ``rehash`` makes it an edit the hash cannot see."""
    with safetensors.safe_open(str(path), "pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    metadata.update(changes)
    if rehash:
        metadata["content_sha256"] = checkpoint_module._content_hash(tensors, metadata)
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


def _config_edit(path: Path, **fields: object) -> None:
    with safetensors.safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["config"])
    _edit(path, config=json.dumps({**config, **fields}))


def _refused(path: Path, match: str) -> None:
    with pytest.raises(ModelFileError, match=match) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_fractional_num_layers(tmp_path: Path) -> None:
    """Was a TypeError traceback from torch."""
    path = _saved(tmp_path)
    _config_edit(path, num_layers=1.5)
    _refused(path, "num_layers must be a positive integer, got 1.5")


def test_deeply_nested_metadata(tmp_path: Path) -> None:
    """Was RecursionError."""
    path = _saved(tmp_path)
    _edit(path, config="[" * 100_000 + "]" * 100_000)
    _refused(path, "'config' is not valid JSON")


@pytest.mark.parametrize("field, value", [("hidden_size", 2**31), ("hidden_size", 2**62), ("input_size", 10**7)])
def test_declared_sizes_are_checked_before_allocating(tmp_path: Path, field: str, value: int) -> None:
    """hidden_size 2**31 was a traceback; input_size 10**7 in a 20 KB file took 4 GB."""
    path = _saved(tmp_path)
    _config_edit(path, **{field: value})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _refused(path, "but the config needs|impossible sizes")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200_000  # a real allocation would be 4 GB and more


def test_non_boolean_bidirectional(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _config_edit(path, bidirectional="yes")
    _refused(path, "bidirectional is 'yes'")


def test_bit_flips_never_load_silently(tmp_path: Path) -> None:
    """87% of random bit flips loaded silently before the content hash."""
    path = _saved(tmp_path)
    raw = path.read_bytes()
    rng = np.random.default_rng(6)
    loaded = 0
    for _ in range(200):
        data = bytearray(raw)
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(data))
        try:
            load_checkpoint(path)
            loaded += 1
        except ModelFileError as exc:
            assert "\n" not in str(exc)
    assert loaded == 0


def test_edited_metadata_is_detected(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _edit(path, rehash=False, dataset='"other"')
    _refused(path, "does not match its recorded hash")
    _edit(path, rehash=False, content_sha256="0" * 64)
    _refused(path, "does not match its recorded hash")


def test_version_2_needs_the_hash_and_version_1_loads_without(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    with safetensors.safe_open(str(path), "pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    del metadata["content_sha256"]
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    _refused(path, "content hash is missing")
    safetensors.torch.save_file(tensors, str(path), metadata={**metadata, "format_version": "1"})
    assert load_checkpoint(path).model.config == CONFIG


def test_huge_finite_weights_give_a_one_line_quantize_error(tmp_path: Path) -> None:
    """Was ``ValueError: multiplier ... too large`` from the quantizer."""
    from edgernn.quant.from_torch import quantize

    torch.manual_seed(0)
    model = RNNModel(CONFIG)
    with torch.no_grad():
        model.rnn.weight_ih_l0[0, 0] = 1e30
    path = tmp_path / "huge.safetensors"
    save_checkpoint(path, Checkpoint(model))
    rng = np.random.default_rng(0)
    data = SequenceData(
        tuple(rng.normal(size=(6, 4)).astype(np.float32) for _ in range(3)),
        np.array([0, 1, 2]),
        "classification",
        False,
        "d",
    )
    with pytest.raises(EdgeRNNError, match="too large for a Q31 multiplier.*retrain") as info:
        with np.errstate(over="ignore", invalid="ignore"):
            quantize(load_checkpoint(path), data)
    assert "\n" not in str(info.value)
