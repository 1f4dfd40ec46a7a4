"""ONNX and TFLite exports of an encoder-decoder: the single-model exporters on each half.

``<prefix>_encoder.onnx`` (+ ``.sequence.onnx``) / ``<prefix>_encoder.tflite`` and the decoder's
likewise; each is exactly the single-model export of that half (same metadata, same exactness).
With ONNX the bridge between them is a third graph, ``<prefix>_bridge.onnx``
(:mod:`edgernn.seq2seq.bridge_onnx`, integer-exact): it takes the encoder sequence graph's
``y_last`` and returns the decoder step graph's initial state inputs (``h{k}``, ``h{k}_q15`` or
``c{k}``), so ONNX Runtime alone runs encoder -> bridge -> decoder. With TFLite it is
``<prefix>_bridge.tflite`` (:mod:`edgernn.seq2seq.bridge_tflite`, int8, exact in TFLite Micro):
the encoder step model's last ``h{L-1}_out`` in, the decoder step model's state inputs out.
TFLite files are streaming step models, so a bidirectional encoder is refused there (export it as
ONNX or C).
"""

from __future__ import annotations

from pathlib import Path

from edgernn.export import ExportOptions, export_model
from edgernn.export.c import validate_prefix
from edgernn.fileio import OutputFileError, write_bytes_atomic
from edgernn.seq2seq.model import Seq2SeqRNN


def export_graphs(model: Seq2SeqRNN, folder: str | Path, fmt: str, prefix: str = "model") -> list[Path]:
    """Write both graphs into ``folder`` (created if missing; its parent must exist)."""
    validate_prefix(prefix)
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputFileError(f"{out} is a file, not a folder", "pass a folder for the graphs")
    out.mkdir(exist_ok=True)
    written: list[Path] = []
    for part, sub in (("encoder", model.encoder), ("decoder", model.decoder)):
        ext = "tflite" if fmt == "tflite" else "onnx"
        result = export_model(sub, fmt, out / f"{prefix}_{part}.{ext}", ExportOptions(prefix=f"{prefix}_{part}"))
        written += list(result.files)
    if fmt == "onnx":
        from edgernn.seq2seq.bridge_onnx import build_bridge

        data = build_bridge(model).SerializeToString()
    else:
        from edgernn.seq2seq.bridge_tflite import build_bridge_tflite

        data = build_bridge_tflite(model)
    bridge = out / f"{prefix}_bridge.{ext}"
    write_bytes_atomic(bridge, data)
    written.append(bridge)
    return written
