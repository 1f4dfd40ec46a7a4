"""ONNX and TFLite exports of an encoder-decoder: the single-model exporters on each half.

``<prefix>_encoder.onnx`` (+ ``.sequence.onnx``) / ``<prefix>_encoder.tflite`` and the decoder's
likewise; each is exactly the single-model export of that half (same metadata, same exactness).
The bridge between them is not a graph: :class:`edgernn.seq2seq.backends.BackendSeq2Seq` runs it
with the integer reference. TFLite files are streaming step models, so a bidirectional encoder is
refused there (export it as ONNX or C).
"""

from __future__ import annotations

from pathlib import Path

from edgernn.export import ExportOptions, export_model
from edgernn.export.c import validate_prefix
from edgernn.fileio import OutputFileError
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
    return written
