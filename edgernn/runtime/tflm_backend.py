"""The ``"tflm"`` backend: the exported TFLite step model run by TFLite Micro's Python interpreter.

TFLite Micro (PyPI ``tflite-micro``) runs the same reference kernels as on a microcontroller, so
this backend is an independent oracle: its outputs equal the integer reference bit for bit (see
tests/conformance/test_tflm.py and docs/compatibility.md for the one documented exception).
"""

from __future__ import annotations

import os

import numpy as np
from tflite_micro.python.tflite_micro import runtime as tflm_runtime

from edgernn.errors import ModelFileError
from edgernn.export import TensorInfo
from edgernn.ir import QuantizedRNN
from edgernn.runtime.tflite_backend import StepModelBackend, _read_file, exported_model

#: Arena for TFLite Micro's tensors: the interpreter's default (10x the model size) is too small
#: for models whose weights are tiny next to their int16 intermediates.
_MIN_ARENA_BYTES = 256 * 1024


class TFLMBackend(StepModelBackend):
    """The exported step model in TFLite Micro (reference kernels, as on a microcontroller)."""

    name = "tflm"
    integer = True

    def __init__(
        self, model: QuantizedRNN, data: bytes | None = None, precision: str = "int8", source: str = ""
    ) -> None:
        data = exported_model(model, precision) if data is None else data
        super().__init__(model, data, source or f"the exported {precision} TFLite model")
        try:
            self.interpreter = tflm_runtime.Interpreter.from_bytes(
                data, arena_size=max(_MIN_ARENA_BYTES, 16 * len(data))
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"TFLite Micro cannot load {source or 'the model'} ({exc})") from None

    @classmethod
    def from_file(cls, model: QuantizedRNN, path: str | os.PathLike[str]) -> TFLMBackend:
        """Run a ``.tflite`` written by ``edgernn export`` for ``model``."""
        return cls(model, _read_file(path), source=str(path))

    def _write(self, info: TensorInfo, value: np.ndarray) -> None:
        self.interpreter.set_input(value, info.position)

    def _read(self, info: TensorInfo) -> np.ndarray:
        return np.asarray(self.interpreter.get_output(info.position))

    def _invoke(self) -> None:
        self.interpreter.invoke()


BACKEND = TFLMBackend
