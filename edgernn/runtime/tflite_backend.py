"""The ``"tflite"`` backend: the exported TFLite step model run by LiteRT (``ai-edge-litert``).

The model is exported in memory from the IR (:mod:`edgernn.export.tflite`; cached by model hash)
or read from a ``.tflite`` file written by ``edgernn export`` (:meth:`TFLiteBackend.from_file`).
:class:`StepModelBackend` holds what every TFLite interpreter shares (the state mapping of the
step model); :mod:`edgernn.runtime.tflm_backend` runs the same file in TFLite Micro.

LiteRT's optimized int16 kernels are not TFLite Micro's: its LOGISTIC/TANH with a power-of-two
input scale do not use the int16 lookup table, and its 16x8 FULLY_CONNECTED requantizes
differently (1 LSB on some outputs); its reference resolver has the LUT but misreads the int32
bias of the 16x8 FULLY_CONNECTED. This backend is therefore held to a 1-LSB bound with fed state,
not to exactness (docs/compatibility.md: per-op findings from benchmarks/litert_ops.py and the
free-running differences).
"""

from __future__ import annotations

import abc
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from edgernn.engine import Array, ModelState, streams
from edgernn.errors import ModelFileError, UnsupportedModelError
from edgernn.export import TensorInfo, state_roles, tensor_infos_from_json
from edgernn.export import tflite as tflite_export
from edgernn.ir import QuantizedRNN
from edgernn.runtime.backends import Backend
from edgernn.types import OutputMode

_CACHE_SIZE = 8
_EXPORTS: dict[tuple[str, str], bytes] = {}


def exported_model(model: QuantizedRNN, precision: str = "int8") -> bytes:
    """The TFLite step model of ``model``, exported once per (model hash, precision)."""
    key = (model.sha256, precision)
    data = _EXPORTS.get(key)
    if data is None:
        data = tflite_export.build(model, precision).data
        if len(_EXPORTS) >= _CACHE_SIZE:
            _EXPORTS.pop(next(iter(_EXPORTS)))
        _EXPORTS[key] = data
    return data


@contextlib.contextmanager
def _without_delegate_banner() -> Iterator[None]:
    """Drop LiteRT's ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` line.

    The C++ runtime writes it straight to file descriptor 2 (no environment variable silences it),
    so the descriptor is captured while the interpreter is built and every other line is passed on.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith("INFO: Created TensorFlow Lite XNNPACK delegate"):
                    sys.stderr.write(line)


class StepModelBackend(Backend):
    """A backend driving a TFLite step model one invoke per time step.

    GRU and Elman models take their state as inputs and return it as outputs. The fused LSTM
    keeps it in variable tensors between invokes; those are graph inputs too, so the state is
    written only when the stream's state is not the one the interpreter already holds (after
    ``reset``, ``set_state`` or stepping another stream).
    """

    def __init__(self, model: QuantizedRNN, data: bytes, source: str = "exported model") -> None:
        super().__init__(model)
        if not streams(model.config):
            raise UnsupportedModelError(
                f"the {self.name!r} backend runs streaming step models; a bidirectional or mean-over-time"
                " model has none",
                "use the reference, c or onnx backend for it",
            )
        meta = tflite_export.read_metadata(data, source)
        if meta.get("model_sha256") != model.sha256:
            raise ModelFileError(
                f"{source} was exported from a different model (hash {str(meta.get('model_sha256'))[:12]}, "
                f"this model {model.sha256[:12]})",
                "export this model again",
            )
        self.precision: str = meta["precision"]
        # Verification before native code (issue 14 item 2): TFLite Micro and LiteRT trust the
        # flatbuffer (one flipped bit crashed TFLite Micro), and a file is only ever run for the
        # model it was exported from, so it must be byte for byte edgernn's export of that model.
        if data != exported_model(model, self.precision):
            raise ModelFileError(
                f"{source} is not this edgernn's export of the model (corrupt, edited, or exported by another "
                f"edgernn version)",
                "export the model again with `edgernn export --format tflite`",
            )
        self.metadata = meta
        self.integer = self.precision != "float32"
        self.inputs = tensor_infos_from_json(meta["inputs"], source)
        self.outputs = tensor_infos_from_json(meta["outputs"], source)
        self.variable_state = bool(meta["lstm_state_tensors"])
        self._x = next(t for t in self.inputs if t.role == "x")
        self._y = next(t for t in self.outputs if t.role == "y")
        cfg = model.config
        self._state_in = [self._find(self.inputs, role, k) for k in range(cfg.num_layers) for role in self._roles]
        self._state_out = [
            self._find(self.outputs, role + "_out", k) for k in range(cfg.num_layers) for role in self._roles
        ]
        self._held: ModelState | None = None  # the state the interpreter's variables hold
        self.data = data

    @property
    def _roles(self) -> tuple[str, ...]:
        return state_roles(self.model.config.cell, self.integer)

    @staticmethod
    def _find(infos: Sequence[TensorInfo], role: str, layer: int) -> TensorInfo:
        for t in infos:
            if t.role == role and t.layer == layer:
                return t
        raise ModelFileError(f"the exported model has no {role} tensor for layer {layer}")

    # -- what an interpreter supplies ----------------------------------------------------------

    @abc.abstractmethod
    def _write(self, info: TensorInfo, value: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _read(self, info: TensorInfo) -> np.ndarray: ...

    @abc.abstractmethod
    def _invoke(self) -> None: ...

    # -- the Backend contract --------------------------------------------------------------------

    def zero_state(self) -> ModelState:
        cells = []
        for layer in self.model.layers:
            h = np.full(layer.hidden_size, layer.hidden_q.zero_point if self.integer else 0, dtype=self._dtype)
            cells.append((h, np.zeros(layer.hidden_size, dtype=self._dtype)) if len(self._roles) == 2 else (h,))
        return tuple(cells)

    @property
    def _dtype(self) -> type:
        return np.int64 if self.integer else np.float32

    def _write_array(self, info: TensorInfo, value: Array) -> None:
        self._write(info, np.asarray(value).astype(info.dtype).reshape(info.shape))

    def step(self, state: ModelState, x: Array) -> tuple[Array, ModelState]:
        self._write_array(self._x, x)
        if not self.variable_state or state is not self._held:
            flat = [a for cell in state for a in cell]
            for info, value in zip(self._state_in, flat):
                self._write_array(info, value)
        self._invoke()
        y = self._read(self._y).reshape(-1).astype(self._dtype)
        values = [self._read(info).reshape(-1).astype(self._dtype) for info in self._state_out]
        n = len(self._roles)
        new_state = tuple(tuple(values[i : i + n]) for i in range(0, len(values), n))
        self._held = new_state
        return y, new_state

    def run_whole(self, xs: Array) -> Array:
        ys, _ = self.run(self.zero_state(), xs)
        return ys

    def sequence_outputs(self, sequences: Sequence[Array]) -> list[Array]:
        outputs = [self.run_whole(np.asarray(s)) for s in sequences]
        if self.model.config.output_mode is OutputMode.LAST:
            return [ys[-1] for ys in outputs]
        return outputs


class TFLiteBackend(StepModelBackend):
    """The exported step model in LiteRT (its default, optimized CPU kernels)."""

    name = "tflite"
    integer = True

    def __init__(
        self, model: QuantizedRNN, data: bytes | None = None, precision: str = "int8", source: str = ""
    ) -> None:
        data = exported_model(model, precision) if data is None else data
        super().__init__(model, data, source or f"the exported {precision} TFLite model")
        try:
            with _without_delegate_banner():
                self.interpreter = Interpreter(model_content=data, num_threads=1)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"LiteRT cannot load {source or 'the model'}: {str(exc).splitlines()[0]}") from None

    @classmethod
    def from_file(cls, model: QuantizedRNN, path: str | os.PathLike[str]) -> TFLiteBackend:
        """Run a ``.tflite`` written by ``edgernn export`` for ``model``."""
        return cls(model, _read_file(path), source=str(path))

    def _write(self, info: TensorInfo, value: np.ndarray) -> None:
        self.interpreter.set_tensor(info.index, value)

    def _read(self, info: TensorInfo) -> np.ndarray:
        return self.interpreter.get_tensor(info.index)

    def _invoke(self) -> None:
        self.interpreter.invoke()


def _read_file(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {p} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{p} is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {p} ({exc.strerror})") from None


class TFLiteExactBackend(TFLiteBackend):
    """The LiteRT-exact step model (``--format tflite-exact``) in LiteRT: equal to the reference."""

    name = "tflite-exact"

    def __init__(
        self, model: QuantizedRNN, data: bytes | None = None, precision: str = "int8-exact", source: str = ""
    ) -> None:
        super().__init__(model, data, precision, source)


BACKEND = TFLiteBackend
EXACT_BACKEND = TFLiteExactBackend
