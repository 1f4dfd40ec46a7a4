"""Runtime backends: one contract, several implementations of the same model.

A backend computes on the model's *internal* domain: int8 values for integer backends (the
integer reference, and later the C, TFLite and TFLite Micro backends), normalized float32 for
the float backend. :class:`edgernn.runtime.Stream` does input checking, normalization,
quantization and dequantization once for all of them.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Sequence

import numpy as np

from edgernn import engine
from edgernn.engine import Array, Kernels, ModelState
from edgernn.errors import EdgeRNNError, InputDataError, MissingDependencyError
from edgernn.floatmodel import FloatKernels
from edgernn.ir import QuantizedRNN
from edgernn.reference.model import ReferenceKernels
from edgernn.types import OutputMode


class Backend(abc.ABC):
    """Executes one model step by step, or over whole sequences."""

    name: str
    #: True: inputs and outputs are int8 values; False: normalized float32.
    integer: bool
    #: The range of each state array of a cell, ``(h, second)``, when its arrays are wider than the
    #: values they may hold (the reference computes in int64); ``None``: the arrays' own dtypes.
    state_limits: tuple[np.dtype, ...] | None = None

    def __init__(self, model: QuantizedRNN) -> None:
        self.model = model

    @abc.abstractmethod
    def zero_state(self) -> ModelState:
        """The state of a fresh stream (real zeros)."""

    @abc.abstractmethod
    def step(self, state: ModelState, x: Array) -> tuple[Array, ModelState]:
        """One time step of a unidirectional model."""

    def run(self, state: ModelState, xs: Array) -> tuple[Array, ModelState]:
        """Many steps; the same result as calling :meth:`step` for each (the default does)."""
        outputs = []
        for x in xs:
            y, state = self.step(state, x)
            outputs.append(y)
        return np.stack(outputs), state

    @abc.abstractmethod
    def run_whole(self, xs: Array) -> Array:
        """Per-step outputs of one whole sequence from a zero state (bidirectional models too)."""

    @abc.abstractmethod
    def sequence_outputs(self, sequences: Sequence[Array]) -> list[Array]:
        """Each sequence's output as the model's OutputMode defines it."""


class KernelBackend(Backend):
    """A backend made of :class:`edgernn.engine.Kernels` driven by the shared sequence loop."""

    batch_size = 256

    def __init__(self, model: QuantizedRNN, kernels: Kernels) -> None:
        super().__init__(model)
        self.kernels = kernels

    def zero_state(self) -> ModelState:
        return engine.zero_state(self.kernels)

    def step(self, state: ModelState, x: Array) -> tuple[Array, ModelState]:
        return engine.step(self.kernels, state, x)

    def run_whole(self, xs: Array) -> Array:
        ys, _ = engine.run(self.kernels, xs)
        return ys

    def sequence_outputs(self, sequences: Sequence[Array]) -> list[Array]:
        # Sort by length and pad in batches: the engine's masks keep padded steps out of the state.
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        results: list[Array] = [np.empty(0)] * len(sequences)
        for start in range(0, len(order), self.batch_size):
            batch = [order[i] for i in range(start, min(start + self.batch_size, len(order)))]
            lengths = np.array([len(sequences[i]) for i in batch])
            padded = _pad_time_major([sequences[i] for i in batch], int(lengths.max()))
            out = engine.sequence_output(self.kernels, padded, lengths)
            for j, i in enumerate(batch):
                if self.model.config.output_mode is OutputMode.LAST:
                    results[i] = out[j]
                else:
                    results[i] = out[: lengths[j], j]
        return results


def _pad_time_major(sequences: list[Array], steps: int) -> Array:
    first = sequences[0]
    out = np.zeros((steps, len(sequences), *first.shape[1:]), dtype=first.dtype)
    for j, seq in enumerate(sequences):
        out[: len(seq), j] = seq
    return out


class ReferenceBackend(KernelBackend):
    """The integer reference (exact numpy integer arithmetic): the specification itself."""

    name = "reference"
    integer = True
    state_limits = (np.dtype(np.int8), np.dtype(np.int16))  # as the C state struct stores them

    def __init__(self, model: QuantizedRNN) -> None:
        super().__init__(model, ReferenceKernels(model))


class FloatBackend(KernelBackend):
    """The float model in numpy (float32), no torch: what the int8 model approximates."""

    name = "float"
    integer = False

    def __init__(self, model: QuantizedRNN) -> None:
        super().__init__(model, FloatKernels(model))


def checked_state_values(values: Array, dtype: np.dtype, store: np.dtype | None = None) -> Array:
    """State values as ``store`` (default ``dtype``); integer values outside ``dtype`` are refused on
    every backend: the C structs cannot hold them, and the reference must not compute with them."""
    arr = np.asarray(values)
    if dtype.kind == "i" and arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
        raise InputDataError(f"a state value does not fit {dtype}")
    return arr.astype(store or dtype, copy=True)


BackendFactory = Callable[[QuantizedRNN], Backend]
_BACKENDS: dict[str, BackendFactory] = {
    ReferenceBackend.name: ReferenceBackend,
    FloatBackend.name: FloatBackend,
}
# Backends whose modules need optional packages or a compiler: imported on first use. Each is
# (module, what it needs, the module attribute that is the factory taking the model).
_LAZY_BACKENDS: dict[str, tuple[str, str, str]] = {
    "c": ("edgernn.runtime.c_backend", "a C compiler (gcc or cc) on PATH", "BACKEND"),
    "onnx": ("edgernn.runtime.onnx_backend", "pip install 'edgernn[onnx]'", "BACKEND"),
    "tflite": ("edgernn.runtime.tflite_backend", "pip install 'edgernn[tflite]'", "BACKEND"),
    "tflite-exact": ("edgernn.runtime.tflite_backend", "pip install 'edgernn[tflite]'", "EXACT_BACKEND"),
    "tflm": ("edgernn.runtime.tflm_backend", "pip install 'edgernn[tflite]'", "BACKEND"),
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make a backend available to ``Stream(model, backend=name)``."""
    _BACKENDS[name] = factory


def available_backends() -> list[str]:
    return sorted({*_BACKENDS, *_LAZY_BACKENDS})


def create_backend(name: str, model: QuantizedRNN) -> Backend:
    factory = _BACKENDS.get(name)
    if factory is None and name in _LAZY_BACKENDS:
        module, needs, attribute = _LAZY_BACKENDS[name]
        try:
            factory = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:
            raise MissingDependencyError(
                f"the {name!r} backend is not available ({exc})", f"it needs {needs}"
            ) from None
        _BACKENDS[name] = factory
    if factory is None:
        raise EdgeRNNError(f"unknown backend {name!r}", f"choose one of {', '.join(available_backends())}")
    return factory(model)
