"""Float checkpoints as one ``.safetensors`` file: tensors plus JSON metadata, never pickle.

Layout: the model's state dict (``embedding.weight``, ``rnn.weight_ih_l0``, ..., ``head.bias``),
optionally ``normalization.mean`` / ``normalization.std``, and string metadata ``format``,
``format_version``, ``edgernn_version``, and JSON-encoded ``config``, ``class_names``,
``dataset``, ``metrics``, optionally ``training`` (how the model was trained: dropout, tbptt,
the split seed and validation fraction, and each data source's name or path with the
fingerprint of its content, so that ``quantize`` finds the same data and split), optionally
``target_scaling`` (regression: the target mean/std the model
was trained with, already folded into the head; recorded for inspection only), optionally ``vocab``
(token models: the text of each token id, a JSON list of strings), plus
``content_sha256``: the hash of every tensor and every other metadata field, verified on load so
that a flipped bit never loads silently.

Format version 2 added ``content_sha256``; version 1 files (without it) still load, as their
only defence against corruption is the safetensors structure and the checks below. Declared
sizes are checked against the tensors actually in the file before any model is allocated.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from edgernn.data import Normalization
from edgernn.errors import EdgeRNNError, ModelFileError
from edgernn.fileio import write_bytes_atomic
from edgernn.models.rnn import RNNModel
from edgernn.models.training import TargetScaling
from edgernn.types import ModelConfig

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "FORMAT", "FORMAT_VERSION"]

FORMAT = "edgernn-checkpoint"
FORMAT_VERSION = 2
_NORM_MEAN, _NORM_STD = "normalization.mean", "normalization.std"
_HASH_KEY = "content_sha256"
_FIRST_HASHED_VERSION = 2


@dataclass
class Checkpoint:
    model: RNNModel
    normalization: Normalization | None = None
    class_names: tuple[str, ...] | None = None
    dataset: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    target_scaling: TargetScaling | None = None
    training: dict[str, Any] | None = None
    vocab: tuple[str, ...] | None = None


def edgernn_version() -> str:
    """The running edgernn's version (package attribute, else installed metadata)."""
    version = getattr(importlib.import_module("edgernn"), "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("edgernn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write ``ckpt`` atomically: a reader sees the old file or the complete new one, never a mix."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in ckpt.model.state_dict().items()}
    if ckpt.normalization is not None:
        tensors[_NORM_MEAN] = torch.from_numpy(ckpt.normalization.mean.copy())
        tensors[_NORM_STD] = torch.from_numpy(ckpt.normalization.std.copy())
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "edgernn_version": edgernn_version(),
        "config": json.dumps(ckpt.model.config.to_json()),
        "class_names": json.dumps(list(ckpt.class_names) if ckpt.class_names is not None else None),
        "dataset": json.dumps(ckpt.dataset),
        "metrics": json.dumps({k: float(v) for k, v in ckpt.metrics.items()}),
    }
    if ckpt.training is not None:
        metadata["training"] = json.dumps(ckpt.training, sort_keys=True)
    if ckpt.target_scaling is not None:
        metadata["target_scaling"] = json.dumps(ckpt.target_scaling.to_json())
    if ckpt.vocab is not None:
        metadata["vocab"] = json.dumps(list(ckpt.vocab))
    metadata[_HASH_KEY] = _content_hash(tensors, metadata)
    payload = safetensors.torch.save(tensors, metadata=metadata)
    write_bytes_atomic(path, payload)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and fully validate a checkpoint; any problem is a one-line :class:`ModelFileError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"checkpoint {path} does not exist") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read checkpoint {path} ({exc.strerror})") from None
    try:
        tensors = safetensors.torch.load(data)  # validates the header and every tensor's extent
    except Exception as exc:  # SafetensorError and friends: anything unparsable is a corrupt file
        raise ModelFileError(
            f"{path} is not a valid safetensors file; it is truncated or corrupt ({exc})",
            "re-save it with edgernn",
        ) from None
    try:
        meta = _metadata(data)
        _check_hash(meta, tensors)
        return _checkpoint(meta, tensors)
    except EdgeRNNError as exc:
        raise ModelFileError(f"checkpoint {path}: {exc.what}", exc.fix) from None


def _content_hash(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 of every tensor (name, dtype, shape, bytes) and every metadata field but the hash."""
    h = hashlib.sha256(b"edgernn-checkpoint-content-v1")
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    for key in sorted(k for k in metadata if k != _HASH_KEY):
        h.update(f"{key}\0{metadata[key]}\0".encode())
    return h.hexdigest()


def _check_hash(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> None:
    recorded = meta.get(_HASH_KEY)
    if recorded is None:
        if int(meta["format_version"]) >= _FIRST_HASHED_VERSION:
            raise ModelFileError("the content hash is missing (corrupt or edited file)", "re-save it with edgernn")
        return  # a version-1 file, written before the hash existed
    if recorded != _content_hash(tensors, meta):
        raise ModelFileError(
            "the content does not match its recorded hash (corrupt or edited file)", "re-save it with edgernn"
        )


def _metadata(data: bytes) -> dict[str, str]:
    # safetensors.torch.load drops the metadata; after it validated the file, the header is an
    # 8-byte little-endian length followed by that many bytes of JSON.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ModelFileError(
            f"not an edgernn checkpoint (format tag {meta.get('format')!r})", "pass a file saved by edgernn"
        )
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"bad format_version {meta.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"written by a newer edgernn (format_version {version}; this one reads up to {FORMAT_VERSION})",
            "upgrade edgernn",
        )
    if version < 1:
        raise ModelFileError(f"bad format_version {version}")
    return meta


def _json_field(meta: dict[str, str], key: str) -> Any:
    if key not in meta:
        raise ModelFileError(f"metadata field {key!r} is missing")
    try:
        return json.loads(meta[key])
    except (json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"metadata field {key!r} is not valid JSON (or is nested too deeply)") from None


def _checkpoint(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> Checkpoint:
    config = ModelConfig.from_json(_json_field(meta, "config"))
    # Allocation is bounded by the file: the tensor shapes the config declares are checked against
    # the tensors present on a storage-less "meta" model first (hidden_size 2**31 or input_size
    # 10**7 in a 20 KB file took gigabytes).
    try:
        with torch.device("meta"):
            skeleton = RNNModel(config)
    except (RuntimeError, ValueError, OverflowError, TypeError) as exc:  # sizes beyond torch's index range
        raise ModelFileError(f"the model configuration declares impossible sizes ({str(exc)[:80]})") from None

    normalization = None
    if _NORM_MEAN in tensors or _NORM_STD in tensors:
        if _NORM_MEAN not in tensors or _NORM_STD not in tensors:
            raise ModelFileError("the normalization needs both mean and std tensors")
        mean, std = tensors.pop(_NORM_MEAN), tensors.pop(_NORM_STD)
        if mean.dtype != torch.float32 or std.dtype != torch.float32:
            raise ModelFileError("the normalization tensors are not float32")
        normalization = Normalization(mean.numpy(), std.numpy())
        if config.uses_tokens or normalization.num_features != config.input_size:
            raise ModelFileError(f"a {normalization.num_features}-feature normalization does not fit the model input")

    expected = skeleton.state_dict()
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"the tensors do not match the config (missing {missing}, unexpected {extra})")
    for name, want in expected.items():
        got = tensors[name]
        if got.shape != want.shape or got.dtype != want.dtype:
            raise ModelFileError(
                f"tensor {name!r} is {got.dtype} {tuple(got.shape)} "
                f"but the config needs {want.dtype} {tuple(want.shape)}"
            )
        if not torch.isfinite(got).all():
            raise ModelFileError(f"tensor {name!r} contains NaN or Inf")
    model = RNNModel(config)
    model.load_state_dict(tensors, strict=True)

    class_names = _json_field(meta, "class_names")
    if class_names is not None and not (isinstance(class_names, list) and all(isinstance(n, str) for n in class_names)):
        raise ModelFileError("metadata field 'class_names' is not a list of strings")
    dataset = _json_field(meta, "dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise ModelFileError("metadata field 'dataset' is not a string")
    metrics = _json_field(meta, "metrics")
    if not isinstance(metrics, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()
    ):
        raise ModelFileError("metadata field 'metrics' is not an object of numbers")
    return Checkpoint(
        model.eval(),
        normalization,
        tuple(class_names) if class_names is not None else None,
        dataset,
        {str(k): float(v) for k, v in metrics.items()},
        _target_scaling(meta, config),
        _training(meta),
        _vocab(meta, config),
    )


def _training(meta: dict[str, str]) -> dict[str, Any] | None:
    if "training" not in meta:
        return None  # written before the training record existed
    value = _json_field(meta, "training")
    if not isinstance(value, dict):
        raise ModelFileError("metadata field 'training' is not an object")
    return value


def _vocab(meta: dict[str, str], config: ModelConfig) -> tuple[str, ...] | None:
    if "vocab" not in meta:
        return None
    from edgernn.ir import check_vocab

    def fail(what: str) -> None:
        raise ModelFileError(f"metadata field 'vocab': {what}")

    value = _json_field(meta, "vocab")
    if not isinstance(value, list):
        fail("not a list of strings")
    return check_vocab(value, config.vocab_size, fail)


def _target_scaling(meta: dict[str, str], config: ModelConfig) -> TargetScaling | None:
    if "target_scaling" not in meta:
        return None
    value = _json_field(meta, "target_scaling")
    try:
        mean = np.asarray(value["mean"], dtype=np.float32)
        std = np.asarray(value["std"], dtype=np.float32)
    except (TypeError, KeyError, ValueError):
        raise ModelFileError("metadata field 'target_scaling' is not {mean: [...], std: [...]}") from None
    if (
        mean.shape != (config.output_width,)
        or std.shape != mean.shape
        or not (np.isfinite(mean).all() and (std > 0).all())
    ):
        raise ModelFileError(f"metadata field 'target_scaling' does not fit {config.output_width} outputs")
    return TargetScaling(mean, std)
