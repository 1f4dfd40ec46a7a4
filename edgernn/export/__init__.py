"""Exporters: the IR to generated C, ONNX and TFLite (each consumes the IR; none re-quantizes).

Each format's module defines ``export(model, output, options) -> ExportResult`` and is imported
only when asked for, so a format's optional dependencies are needed only to export to it.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgernn.errors import EdgeRNNError, MissingDependencyError, ModelFileError
from edgernn.ir import QuantizedRNN
from edgernn.types import EXPORT_TARGETS as TARGETS
from edgernn.types import CellType

#: format name -> (module[:function, default export], what it needs)
FORMATS: dict[str, tuple[str, str]] = {
    "c": ("edgernn.export.c", "jinja2 (pip install edgernn)"),
    "onnx": ("edgernn.export.onnx", "pip install 'edgernn[onnx]'"),
    "onnx-qdq": ("edgernn.export.onnx:export_qdq", "pip install 'edgernn[onnx]'"),
    "tflite": ("edgernn.export.tflite", "pip install 'edgernn[tflite]'"),
    "tflite-exact": ("edgernn.export.tflite_exact:export", "pip install 'edgernn[tflite]'"),
    "all": ("edgernn.export.bundle", "pip install 'edgernn[onnx,tflite]'"),
}


@dataclass(frozen=True)
class ExportOptions:
    """Options shared by the exporters (each reads the ones that apply to it)."""

    prefix: str = "model"  # C identifier prefix of the generated API
    float_weights: bool = False  # C: the float32 path instead of int8
    target: str = "host"  # C: the core the build files and footprint report are for
    max_flash: int | None = None  # C: refuse exports whose constant data exceeds this many bytes
    max_ram: int | None = None  # C: refuse exports whose state + scratch exceed this many bytes
    runtime: str = "copy"  # C: "copy" the runtime into the export, or "none" (model only, runtime installed apart)
    single_header: bool = False  # C: one <prefix>.h with runtime and model (stb style)


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of an exported graph: its role, type, shape and quantization."""

    name: str
    role: str  # "x", "tokens", "y", "y_last", "h", "c", "h_out", "c_out"
    layer: int | None
    dtype: str
    shape: tuple[int | str, ...]
    scale: float | None
    zero_point: int | None
    index: int | None = None  # TFLite: tensor index in subgraph 0 (LiteRT's get_tensor)
    position: int | None = None  # TFLite: position in the subgraph's input/output list (TFLite Micro)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return {k: v for k, v in d.items() if not (k in ("index", "position") and v is None)}


def state_roles(cell: CellType, integer: bool) -> tuple[str, ...]:
    """Roles of one layer's state tensors in a step model (ONNX, TFLite), in the order of a
    stream's state tuples: ``h``, then the LSTM's cell state ``c`` or the int8 GRU's int16 Q0.15
    hidden state ``h_q15`` (the float GRU keeps ``h`` alone). Outputs add ``_out``."""
    if cell is CellType.LSTM:
        return ("h", "c")
    if cell is CellType.GRU and integer:
        return ("h", "h_q15")
    return ("h",)


def edge_quantization(model: QuantizedRNN) -> dict[str, dict[str, Any]]:
    """The model's input and output quantization as exported files describe it (manifests, metadata)."""
    return {
        "input_quantization": {
            "scale": model.input_q.scale,
            "zero_point": model.input_q.zero_point,
            "dtype": f"int{model.input_bits}",  # int16: a 16-bit model input (docs/input_bits.md)
        },
        "output_quantization": {
            "scale": model.output_q.scale,
            "zero_point": model.output_q.zero_point,
            "dtype": f"int{model.output_bits}",  # int16: a regression head (edgernn.ir.Dense)
        },
    }


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def tensor_infos_from_json(items: Any, source: str) -> tuple[TensorInfo, ...]:
    """The tensors an exported file's edgernn metadata lists, type-checked field by field:
    metadata is file content, so a malformed entry is a one-line ModelFileError."""

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{source}: the edgernn metadata lists malformed tensors ({what})", "export it again")

    if not isinstance(items, list) or not items:
        raise bad("not a non-empty list")
    infos = []
    for d in items:
        if not isinstance(d, dict) or set(d) - set(TensorInfo.__dataclass_fields__):
            raise bad("an entry is not an object of TensorInfo fields")
        ok = (
            isinstance(d.get("name"), str)
            and isinstance(d.get("role"), str)
            and isinstance(d.get("dtype"), str)
            and isinstance(d.get("shape"), list)
            and all(_is_int(n) or isinstance(n, str) for n in d["shape"])
            and (d.get("layer") is None or _is_int(d["layer"]))
            and (d.get("scale") is None or (isinstance(d["scale"], (int, float)) and not isinstance(d["scale"], bool)))
            and all(d.get(k) is None or _is_int(d[k]) for k in ("zero_point", "index", "position"))
            and {"layer", "scale", "zero_point"} <= set(d)
        )
        if not ok:
            raise bad(f"entry {str(d.get('name'))[:40]!r} has missing or mistyped fields")
        infos.append(TensorInfo(**{**d, "shape": tuple(d["shape"])}))
    return tuple(infos)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote, and the lines it reports to the user."""

    files: tuple[Path, ...]
    report: tuple[str, ...] = field(default=())


def export_model(model: QuantizedRNN, fmt: str, output: Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Export ``model`` as ``fmt`` (``c``, ``onnx``, ``onnx-qdq``, ``tflite`` or ``all``) to ``output``.

    ``c`` and ``all`` write the folder ``output``; the others write the file ``output``, or
    ``<prefix>.onnx`` / ``<prefix>.tflite`` inside it if it is an existing folder.
    """
    if fmt not in FORMATS:
        raise EdgeRNNError(f"unknown export format {fmt!r}", f"choose one of {', '.join(FORMATS)}")
    if options.target not in TARGETS:
        raise EdgeRNNError(f"unknown target {options.target!r}", f"choose one of {', '.join(TARGETS)}")
    module, needs = FORMATS[fmt]
    module, _, function = module.partition(":")
    try:
        exporter = importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"exporting {fmt} needs a package that is missing ({exc})", needs) from None
    output = Path(output)
    if fmt != "c" and fmt != "all" and output.is_dir():
        output = output / f"{options.prefix}.{'tflite' if fmt.startswith('tflite') else 'onnx'}"
    return getattr(exporter, function or "export")(model, output, options)
