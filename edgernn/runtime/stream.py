"""``Stream``: one streaming interface over every backend.

Input checking, normalization, quantization and dequantization live here, once; backends see
only their internal domain (int8 values, or normalized float32).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgernn import ir
from edgernn.engine import Array, ModelState, streams
from edgernn.errors import InputDataError
from edgernn.ir import QuantizedRNN
from edgernn.runtime.backends import Backend, checked_state_values, create_backend


@dataclass(frozen=True, eq=False)
class StreamState:
    """A checkpoint of a stream's recurrent state (copies; safe to keep and restore later).

    ``cells[layer * directions + direction]`` is ``(h,)`` or ``(h, c)`` in the backend's domain.
    """

    backend: str
    cells: ModelState


def _as_model(model: QuantizedRNN | str | os.PathLike[str]) -> QuantizedRNN:
    return model if isinstance(model, QuantizedRNN) else ir.load(model)


class InputAdapter:
    """Checks user inputs and maps them into a backend's domain, and outputs back to float.

    It runs on every step, so the common case (a float32 frame of the right width) takes a
    short path; anything unusual falls through to the full checks and their messages.
    """

    def __init__(self, model: QuantizedRNN, integer: bool) -> None:
        self.model = model
        self.integer = integer
        self.config = model.config
        self._frame_shape = (self.config.input_size,)
        # int8 -> float by table: the same values QParams.dequantize computes, without the arithmetic;
        # an int16 head output (a regression head) by QParams.dequantize itself.
        self._dequantize_table = model.output_q.dequantize(np.arange(-128, 128)) if model.output_bits == 8 else None
        self.output_dtype = np.int16 if model.output_bits == 16 else np.int8
        self.input_bits = model.input_bits
        self.input_dtype = np.dtype(np.int16 if model.input_bits == 16 else np.int8)

    def features(self, x: npt.ArrayLike, time_axis: bool) -> Array:
        """Validate float features ``(F,)`` (or ``(T, F)``), normalize, and quantize if integer."""
        arr = np.asarray(x)
        if time_axis or arr.dtype != np.float32 or arr.shape != self._frame_shape:
            want = (None, self.config.input_size) if time_axis else self._frame_shape
            self._check_shape(arr, want, "features")
            if arr.dtype.kind not in "fiu":
                raise InputDataError(f"input has dtype {arr.dtype}", "pass float feature values")
            arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise InputDataError("input contains NaN or Inf", "clean or impute the input before streaming it")
        if self.model.input_mean is not None:
            arr = (arr - self.model.input_mean) / self.model.input_std
        return self.model.input_q.quantize(arr, self.input_bits) if self.integer else arr

    def tokens(self, x: npt.ArrayLike, time_axis: bool) -> Array:
        arr = np.asarray(x)
        self._check_shape(arr, (None,) if time_axis else (), "token ids")
        if arr.dtype.kind not in "iu":
            raise InputDataError(f"token ids have dtype {arr.dtype}", "pass integer token ids")
        vocab = self.config.vocab_size
        if arr.size and (arr.min() < 0 or arr.max() >= vocab):  # type: ignore[operator]
            raise InputDataError(f"a token id is outside [0, {vocab})", "map tokens with the model's vocabulary")
        return arr.astype(np.int64)

    def quantized(self, xq: npt.ArrayLike, time_axis: bool) -> Array:
        """Validate already-quantized int8 input (int16 for a 16-bit input, ``model.input_bits``)
        or token ids."""
        if self.config.uses_tokens:
            return self.tokens(xq, time_axis)
        arr = np.asarray(xq)
        want = (None, self.config.input_size) if time_axis else self._frame_shape
        self._check_shape(arr, want, f"{self.input_dtype} features")
        if arr.dtype != self.input_dtype:
            raise InputDataError(
                f"quantized input has dtype {arr.dtype}, expected {self.input_dtype}",
                f"quantize with model.input_q.quantize(x, {self.input_bits})",
            )
        return arr

    def user_input(self, x: npt.ArrayLike, time_axis: bool) -> Array:
        return self.tokens(x, time_axis) if self.config.uses_tokens else self.features(x, time_axis)

    def output(self, y: Array) -> npt.NDArray[np.float32]:
        if not self.integer:
            return np.asarray(y, dtype=np.float32)
        if self._dequantize_table is None:
            return self.model.output_q.dequantize(y)
        return self._dequantize_table[np.asarray(y, dtype=np.intp) + 128]

    @staticmethod
    def _check_shape(arr: Array, want: tuple[int | None, ...], what: str) -> None:
        ok = arr.ndim == len(want) and all(w is None or w == a for w, a in zip(want, arr.shape))
        if not ok:
            shown = "(" + ", ".join("T" if w is None else str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
            raise InputDataError(f"{what} have shape {arr.shape}, the model expects {shown}")
        if len(want) and want[0] is None and arr.shape[0] == 0:
            raise InputDataError(f"{what} have no time steps", "pass at least one step")


class Stream:
    """Run a model one time step at a time, with persistent state.

    >>> s = Stream(model, backend="reference")
    >>> y = s.step(x_t)            # float in, float out; int8 underneath
    >>> s.reset(); ys = s.run(xs)  # many steps, identical to stepping

    Backends: ``"reference"`` (the integer reference), ``"float"`` (numpy float); more are
    registered by the export packages. Bidirectional models cannot ``step``: ``run`` processes
    a whole sequence from a zero state.
    """

    def __init__(self, model: QuantizedRNN | str | os.PathLike[str], backend: str = "reference") -> None:
        self.model = _as_model(model)
        self.backend: Backend = create_backend(backend, self.model)
        self.adapter = InputAdapter(self.model, self.backend.integer)
        self._state: ModelState = self.backend.zero_state()
        # The compiled step of the "c" backend (edgernn.runtime.c_backend): it advances the backend's
        # working buffer in place. While _live, that buffer is the stream's state and _state is stale.
        fast_path = getattr(self.backend, "fast_path", None)
        self._fast = fast_path() if fast_path is not None else None
        self._live = False

    @property
    def compiled_steps(self) -> bool:
        """True when ``step`` and ``run`` go through the ``c`` backend's compiled fast path (one compiled
        call per call); False on the ctypes path and on every other backend. Same results either way."""
        return self._fast is not None

    @property
    def config(self):  # noqa: ANN201 - ModelConfig, re-exported for convenience
        return self.model.config

    def reset(self) -> None:
        """Back to the zero state."""
        self._state = self.backend.zero_state()
        self._live = False

    def _current(self) -> ModelState:
        """The stream's state, taken back from the fast path's buffer when it has moved on."""
        if self._live:
            self._state = self.backend.held_state()  # type: ignore[attr-defined]
            self._live = False
        return self._state

    def _hold(self) -> None:
        """Hand the state to the fast path's buffer (once, until something else needs it)."""
        if not self._live:
            self.backend.hold(self._state)  # type: ignore[attr-defined]
            self._live = True

    def get_state(self) -> StreamState:
        return StreamState(
            self.backend.name, tuple(tuple(np.array(a, copy=True) for a in cell) for cell in self._current())
        )

    def set_state(self, state: StreamState) -> None:
        if not isinstance(state, StreamState) or state.backend != self.backend.name:
            raise InputDataError("that state was not taken from a stream of this backend")
        current = self._current()
        if len(state.cells) != len(current) or any(
            len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)) for a, b in zip(state.cells, current)
        ):
            raise InputDataError("that state does not fit this model's layers and sizes")
        limits = self.backend.state_limits
        self._state = tuple(
            tuple(
                checked_state_values(a, limits[k] if limits else b.dtype, b.dtype)
                for k, (a, b) in enumerate(zip(cell, now))
            )
            for cell, now in zip(state.cells, current)
        )

    def _require_streamable(self) -> None:
        if self.model.config.bidirectional:
            raise InputDataError(
                "a bidirectional model cannot stream one step at a time "
                "(its backward direction needs the whole sequence)",
                "call run() on whole sequences instead",
            )
        if not streams(self.model.config):
            raise InputDataError(
                "a model that averages over time cannot stream one step at a time (docs/import.md)",
                "call run() on whole sequences instead",
            )

    def step(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """One step: float features ``(F,)`` (or a token id) in, the float output ``(out,)`` back."""
        if self._fast is not None:  # the common case in one compiled call; None: not taken
            self._hold()
            y = self._fast.step(x)
            if y is not None:
                return y
        self._require_streamable()
        y, self._state = self.backend.step(self._current(), self.adapter.user_input(x, time_axis=False))
        return self.adapter.output(y)

    def run(self, xs: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Many steps ``(T, F)`` -> ``(T, out)``; exactly the outputs of stepping one by one."""
        if self._fast is not None:
            self._hold()
            ys = self._fast.run(xs)
            if ys is not None:
                return ys
        inputs = self.adapter.user_input(xs, time_axis=True)
        return self.adapter.output(self._run(inputs))

    def step_int8(self, xq: npt.ArrayLike) -> npt.NDArray[np.int8] | npt.NDArray[np.int16]:
        """One step on quantized int8 input (``model.input_q``; int16 for a 16-bit input,
        ``model.input_bits``); the integer output at ``model.output_q``: int8, or int16 for an int16
        head (``model.output_bits``)."""
        self._require_integer()
        self._require_streamable()
        y, self._state = self.backend.step(self._current(), self.adapter.quantized(xq, time_axis=False))
        return np.asarray(y).astype(self.adapter.output_dtype)

    def run_int8(self, xqs: npt.ArrayLike) -> npt.NDArray[np.int8] | npt.NDArray[np.int16]:
        self._require_integer()
        return np.asarray(self._run(self.adapter.quantized(xqs, time_axis=True))).astype(self.adapter.output_dtype)

    def _run(self, inputs: Array) -> Array:
        if not streams(self.model.config):
            return self.backend.run_whole(inputs)
        ys, self._state = self.backend.run(self._current(), inputs)
        return ys

    def _require_integer(self) -> None:
        if not self.backend.integer:
            raise InputDataError(f"the {self.backend.name!r} backend is not integer", "use step()/run() with floats")


def predict(
    model: QuantizedRNN | str | os.PathLike[str], sequences: Sequence[npt.ArrayLike], backend: str = "reference"
) -> list[npt.NDArray[np.float32]]:
    """Whole-sequence outputs (float) for many sequences, as the model's OutputMode defines them.

    ``LAST``: one ``(out,)`` vector per sequence; ``SEQUENCE``: ``(T_i, out)`` per sequence.
    """
    m = _as_model(model)
    b = create_backend(backend, m)
    adapter = InputAdapter(m, b.integer)
    inputs = [adapter.user_input(s, time_axis=True) for s in sequences]
    if not inputs:
        raise InputDataError("no sequences to predict")
    return [adapter.output(y) for y in b.sequence_outputs(inputs)]
