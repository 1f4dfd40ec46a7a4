"""``--format all``: every export format in one folder, with a ``manifest.json``.

Layout (``<p>`` is ``options.prefix``)::

    manifest.json                  files with sha256 and size, scales, I/O layout, tensor indices
    onnx/<p>.int8.onnx             step graph (integer-exact)} unidirectional models only
    onnx/<p>.int8-qdq.onnx         step graph (QDQ)          }
    onnx/<p>.float32.onnx          step graph (native ops)   }
    onnx/<p>.int8.sequence.onnx    whole-sequence graph (Scan of integer-exact steps)
    onnx/<p>.int8-qdq.sequence.onnx whole-sequence graph (Scan of QDQ steps)
    onnx/<p>.float32.sequence.onnx whole-sequence graph (native ops)
    tflite/<p>.int8.tflite         step model                } unidirectional models only
    tflite/<p>.float32.tflite      step model                }
    c/...                          generated C (when edgernn.export.c is available)

The folder is assembled in a temporary sibling and moved into place with one rename, so a reader
never sees a half-written bundle; an existing folder at the same path is replaced only if it is
empty or an earlier bundle (:func:`edgernn.fileio.atomic_folder`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import onnx

from edgernn import __version__
from edgernn.engine import streams
from edgernn.errors import UnsupportedModelError
from edgernn.export import ExportOptions, ExportResult, edge_quantization
from edgernn.export import onnx as onnx_export
from edgernn.export import tflite as tflite_export
from edgernn.fileio import atomic_folder
from edgernn.ir import QuantizedRNN

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _onnx_files(model: QuantizedRNN, root: Path, prefix: str) -> list[dict[str, Any]]:
    entries = []
    graphs = ("sequence",) if not streams(model.config) else ("step", "sequence")
    for precision in onnx_export.PRECISIONS:
        for graph in graphs:
            g = onnx_export.build(model, precision, graph)
            onnx.checker.check_model(g.model, full_check=True)
            suffix = "" if graph == "step" else ".sequence"
            rel = Path("onnx") / f"{prefix}.{precision}{suffix}.onnx"
            _write(root / rel, g.data)
            entries.append(
                {
                    "path": rel.as_posix(),
                    "format": "onnx",
                    "precision": precision,
                    "graph": graph,
                    "opset": onnx_export.OPSET,
                    "inputs": [t.to_json() for t in g.inputs],
                    "outputs": [t.to_json() for t in g.outputs],
                }
            )
    return entries


def _tflite_files(
    model: QuantizedRNN, root: Path, prefix: str, unavailable: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    entries, notes = [], []
    for precision in tflite_export.PRECISIONS:
        try:
            t = tflite_export.build(model, precision)
        except UnsupportedModelError as exc:  # e.g. an int16-input LSTM: TFLite's fused LSTM takes int8 only
            unavailable[f"tflite {precision}"] = str(exc)
            continue
        rel = Path("tflite") / f"{prefix}.{precision}.tflite"
        _write(root / rel, t.data)
        entries.append(
            {
                "path": rel.as_posix(),
                "format": "tflite",
                "precision": precision,
                "graph": "step",
                "inputs": [i.to_json() for i in t.inputs],
                "outputs": [o.to_json() for o in t.outputs],
                "lstm_state_tensors": t.metadata["lstm_state_tensors"],
                "inexact_multipliers": list(t.inexact),
            }
        )
        if t.inexact:
            notes.append(
                f"tflite {precision}: TFLite computes {len(t.inexact)} multipliers differently from the IR "
                "(see docs/compatibility.md)"
            )
    return entries, notes


def _c_files(model: QuantizedRNN, root: Path, options: ExportOptions) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        c_export = importlib.import_module("edgernn.export.c")
    except ImportError as exc:
        raise _Unavailable(f"the C exporter is not available ({exc})") from None
    result = c_export.export(model, root / "c", options)
    entries = []
    for f in result.files:
        p = Path(f)
        if p.is_file():
            entries.append({"path": p.relative_to(root).as_posix(), "format": "c"})
    return entries, list(result.report)


class _Unavailable(Exception):
    """A format that cannot be exported here (its exporter or dependencies are missing)."""


def is_previous_bundle(folder: Path) -> bool:
    """True if ``folder`` holds the manifest of an earlier ``--format all`` export."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("producer") == "edgernn" and "manifest_version" in manifest


def export(model: QuantizedRNN, output: Path, options: ExportOptions) -> ExportResult:
    """Write every format to the folder ``output`` with a ``manifest.json``.

    ``output`` must be missing, empty or an earlier bundle; anything else is refused untouched.
    """
    with atomic_folder(output, "export bundle (--format all)", is_previous_bundle) as staging:
        report, files, _unavailable = _assemble(model, staging, options)
    written = tuple(Path(output) / f["path"] for f in files) + (Path(output) / MANIFEST_NAME,)
    return ExportResult(files=written, report=tuple(report))


def _assemble(
    model: QuantizedRNN, root: Path, options: ExportOptions
) -> tuple[list[str], list[dict[str, Any]], dict[str, str]]:
    prefix = options.prefix
    files: list[dict[str, Any]] = []
    report: list[str] = []
    unavailable: dict[str, str] = {}
    files += _onnx_files(model, root, prefix)
    if not streams(model.config):
        unavailable["tflite"] = (
            "TFLite exports are streaming step models; a bidirectional or mean-over-time model cannot stream"
        )
    else:
        tfl, notes = _tflite_files(model, root, prefix, unavailable)
        files += tfl
        report += notes
    try:
        c_entries, c_report = _c_files(model, root, options)
        files += c_entries
        report += c_report
    except _Unavailable as exc:
        unavailable["c"] = str(exc)
    for f in files:
        path = root / f["path"]
        f["bytes"] = path.stat().st_size
        f["sha256"] = _sha256(path)
    manifest = _manifest(model, files, unavailable)
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    formats = sorted({f["format"] for f in files})
    report.insert(0, f"bundle: {len(files)} files ({', '.join(formats)}) and {MANIFEST_NAME}")
    report += [f"{fmt} unavailable: {why}" for fmt, why in unavailable.items()]
    return report, files, unavailable


def _manifest(model: QuantizedRNN, files: list[dict[str, Any]], unavailable: dict[str, str]) -> dict[str, Any]:
    cfg = model.config
    return {
        "producer": "edgernn",
        "manifest_version": MANIFEST_VERSION,
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "config": cfg.to_json(),
        **edge_quantization(model),
        "layers": [
            {
                "input_scale": layer.input_q.scale,
                "input_zero_point": layer.input_q.zero_point,
                "hidden_scale": layer.hidden_q.scale,
                "hidden_zero_point": layer.hidden_q.zero_point,
            }
            for layer in model.layers
        ],
        "input_normalization": None
        if model.input_mean is None
        else {"mean": model.input_mean.tolist(), "std": model.input_std.tolist()},  # type: ignore[union-attr]
        "layout": {
            "step": "batch 1, one time step; state as listed per file (LSTM TFLite: variable tensors, also exposed)",
            "sequence": "time-major (T, 1, F); outputs y (T, 1, out) and y_last (1, out)",
        },
        "files": sorted(files, key=lambda f: f["path"]),
        "unavailable": unavailable,
        **({} if model.vocab is None else {"vocab": list(model.vocab)}),  # token models with a vocabulary
    }


__all__ = ["MANIFEST_NAME", "export", "is_previous_bundle"]
