"""The ``"onnx"`` backend: the exported ONNX graphs run by ONNX Runtime (CPU).

Streaming uses the step graph with the state fed in and read back every step; whole sequences
(and bidirectional models) use the sequence graph. The int8 graphs are integer-only, so this
backend equals the integer reference bit for bit; ``precision="int8-qdq"`` runs the QDQ variant,
which ONNX Runtime evaluates in float between the quantization points (not exact:
docs/compatibility.md has the measured differences).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edgernn.engine import Array, ModelState, streams
from edgernn.errors import InputDataError, ModelFileError
from edgernn.export import TensorInfo, state_roles, tensor_infos_from_json
from edgernn.export import onnx as onnx_export
from edgernn.ir import QuantizedRNN
from edgernn.runtime.backends import Backend
from edgernn.types import OutputMode

_CACHE_SIZE = 16
_EXPORTS: dict[tuple[str, str, str], bytes] = {}
_NUMPY = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64, "float32": np.float32}


def exported_graph(model: QuantizedRNN, precision: str, graph: str) -> bytes:
    """One ONNX graph of ``model``, exported once per (model hash, precision, graph)."""
    key = (model.sha256, precision, graph)
    data = _EXPORTS.get(key)
    if data is None:
        data = onnx_export.build(model, precision, graph).data
        if len(_EXPORTS) >= _CACHE_SIZE:
            _EXPORTS.pop(next(iter(_EXPORTS)))
        _EXPORTS[key] = data
    return data


class _Session:
    """An ONNX Runtime session of one edgernn graph, with the graph's tensor descriptions."""

    def __init__(self, model: QuantizedRNN, data: bytes, source: str, graph: str, precision: str | None) -> None:
        _, meta = onnx_export.load(data, source)
        if meta.get("model_sha256") != model.sha256:
            raise ModelFileError(
                f"{source} was exported from a different model (hash {str(meta.get('model_sha256'))[:12]}, "
                f"this model {model.sha256[:12]})",
                "export this model again",
            )
        if meta.get("graph") != graph:
            raise ModelFileError(f"{source} holds the {meta.get('graph')} graph, expected the {graph} graph")
        if precision is not None and meta.get("precision") != precision:
            raise ModelFileError(f"{source} is {meta.get('precision')}, expected {precision}")
        self.precision: str = meta["precision"]
        # As for TFLite: native code only ever sees edgernn's own export of this model.
        if data != exported_graph(model, self.precision, graph):
            raise ModelFileError(
                f"{source} is not this edgernn's export of the model's {graph} graph (corrupt, edited, or exported "
                "by another edgernn version)",
                "export the model again with `edgernn export --format onnx`",
            )
        self.inputs = tensor_infos_from_json(meta["inputs"], source)
        self.outputs = tensor_infos_from_json(meta["outputs"], source)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for invalid graphs
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"ONNX Runtime cannot load {source}: {message}") from None
        self.output_names = [t.name for t in self.outputs]

    def run(self, feed: dict[str, Any]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, feed)))

    def find(self, infos: Sequence[TensorInfo], role: str, layer: int | None = None) -> TensorInfo:
        for t in infos:
            if t.role == role and t.layer == layer:
                return t
        raise ModelFileError(
            f"the exported graph has no {role} tensor" + ("" if layer is None else f" for layer {layer}")
        )


class OnnxBackend(Backend):
    """The exported ONNX graphs (int8 integer-exact by default; int8-qdq or float32) in ONNX Runtime."""

    name = "onnx"
    integer = True

    def __init__(
        self,
        model: QuantizedRNN,
        precision: str = "int8",
        step_data: bytes | None = None,
        sequence_data: bytes | None = None,
        source: str = "",
    ) -> None:
        super().__init__(model)
        self.precision = precision
        self.integer = precision != "float32"
        label = source or f"the exported {precision} ONNX graph"
        self.step_session: _Session | None = None
        if streams(model.config):
            data = exported_graph(model, precision, "step") if step_data is None else step_data
            self.step_session = _Session(model, data, label, "step", precision)
        seq = exported_graph(model, precision, "sequence") if sequence_data is None else sequence_data
        self.sequence_session = _Session(
            model, seq, label if step_data is None else f"{label} (sequence)", "sequence", precision
        )
        self._roles = state_roles(model.config.cell, self.integer)

    @classmethod
    def from_file(
        cls, model: QuantizedRNN, path: str | os.PathLike[str], sequence_path: str | os.PathLike[str] | None = None
    ) -> OnnxBackend:
        """Run ``.onnx`` files written by ``edgernn export``: the step graph at ``path`` and the
        sequence graph beside it (``<stem>.sequence.onnx``), or at ``path`` for bidirectional models."""
        p = Path(path)
        if not streams(model.config):
            seq_data = _read_file(p)
            return cls(model, _precision_of(seq_data, str(p)), sequence_data=seq_data, source=str(p))
        step_data = _read_file(p)
        seq_path = Path(sequence_path) if sequence_path is not None else onnx_export.sequence_path(p)
        precision = _precision_of(step_data, str(p))
        return cls(model, precision, step_data=step_data, sequence_data=_read_file(seq_path), source=str(p))

    @property
    def _dtype(self) -> type:
        return np.int64 if self.integer else np.float32

    def zero_state(self) -> ModelState:
        cells = []
        for layer in self.model.layers:
            for _ in layer.directions:
                zp = layer.hidden_q.zero_point if self.integer else 0
                h = np.full(layer.hidden_size, zp, dtype=self._dtype)
                second = [np.zeros(layer.hidden_size, dtype=self._dtype)] * (len(self._roles) - 1)
                cells.append((h, *second))
        return tuple(cells)

    def step(self, state: ModelState, x: Array) -> tuple[Array, ModelState]:
        s = self.step_session
        if s is None:
            raise InputDataError(
                "a bidirectional or mean-over-time model cannot stream one step at a time", "run whole sequences"
            )
        x_info = s.find(s.inputs, "x")
        feed = {x_info.name: _as(x, x_info)}
        for k, cell in enumerate(state):
            for role, value in zip(self._roles, cell):
                info = s.find(s.inputs, role, k)
                feed[info.name] = _as(value, info)
        out = s.run(feed)
        y = out[s.find(s.outputs, "y").name].reshape(-1).astype(self._dtype)
        new_state = tuple(
            tuple(out[s.find(s.outputs, f"{role}_out", k).name].reshape(-1).astype(self._dtype) for role in self._roles)
            for k in range(len(state))
        )
        return y, new_state

    def _sequence(self, xs: Array) -> dict[str, np.ndarray]:
        s = self.sequence_session
        x_info = s.find(s.inputs, "x")
        arr = np.asarray(xs)
        shaped = arr.reshape(arr.shape[0], 1, *arr.shape[1:])
        return s.run({x_info.name: shaped.astype(_NUMPY[x_info.dtype])})

    def run_whole(self, xs: Array) -> Array:
        out = self._sequence(xs)
        return out[self.sequence_session.find(self.sequence_session.outputs, "y").name][:, 0].astype(self._dtype)

    def sequence_outputs(self, sequences: Sequence[Array]) -> list[Array]:
        s = self.sequence_session
        results = []
        for seq in sequences:
            out = self._sequence(seq)
            if self.model.config.output_mode is OutputMode.LAST:
                results.append(out[s.find(s.outputs, "y_last").name][0].astype(self._dtype))
            else:
                results.append(out[s.find(s.outputs, "y").name][:, 0].astype(self._dtype))
        return results


def _as(value: Array, info: TensorInfo) -> np.ndarray:
    shape = tuple(int(d) for d in info.shape)
    return np.asarray(value).astype(_NUMPY[info.dtype]).reshape(shape)


def _precision_of(data: bytes, source: str) -> str:
    _, meta = onnx_export.load(data, source)
    return str(meta["precision"])


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {path} ({exc.strerror})") from None


BACKEND = OnnxBackend
