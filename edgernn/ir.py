"""The IR: one quantized recurrent model as typed, frozen, validated dataclasses.

Everything right of the quantizer (the integer reference, the runtime backends, every exporter)
reads this and nothing else. It carries the float weights (for the float backend and float
exports) and every integer a kernel needs, computed once by the quantizer: int8 weights, int32
biases, Q31 multipliers and shifts, zero points, the cell state's power-of-two scale.

Arithmetic of the cells (the specification is :mod:`edgernn.reference`):

* gate pre-activations are int16 Q3.12, the sum of an input FC and a recurrent FC, each
  TFLite's FULLY_CONNECTED with int8 operands and int16 output, added with saturation;
* sigmoid and tanh are TFLite's int16 LUT kernels, Q3.12 in, Q0.15 out;
* the LSTM is TFLite Micro's 8x8_16 UNIDIRECTIONAL_SEQUENCE_LSTM step (int16 cell state at a
  power-of-two scale); the GRU and Elman cells are built from the same primitives.

A ``.ernn`` file is a zip archive: ``edgernn.json`` (format, schema version, provenance, model
hash and the structure, with arrays referenced by name) plus one ``.npy`` entry per array, read
with ``allow_pickle=False``. Loading never executes code from the file.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import io
import json
import math
import os
import types
import typing
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Union

import numpy as np
import numpy.typing as npt

from edgernn import __version__, archive
from edgernn.errors import ModelFileError, MultiplierRangeError, UnsupportedModelError
from edgernn.fileio import write_bytes_atomic
from edgernn.fixedpoint import (
    GATE_INPUT_SCALE_POWER,
    GATE_OUTPUT_SCALE_POWER,
    INT8_MAX,
    INT8_MIN,
    INT16_MAX,
    INT16_MIN,
    INT32_MAX,
    INT32_MIN,
    multiplier_from_scales,
    tanh_params_for_scale_power,
)
from edgernn.types import OMIT_DEFAULT, Activation, CellType, ModelConfig

FORMAT_NAME = "edgernn-model"
#: 2: the GRU's recurrent state is int16 Q0.15 (schema 1 kept it in int8 and carried a
#: ``hidden_to_q15`` rescale); Elman and LSTM models are the same in both.
SCHEMA_VERSION = 2
HEADER_NAME = "edgernn.json"
_MAX_ARCHIVE_BYTES = 1 << 30  # refuse zip bombs: no real RNN for an MCU comes near this
_MIN_EXPANDED_BYTES = 16 << 20  # what a small .ernn may unpack to regardless of its size

GATE_SCALE = 2.0**GATE_INPUT_SCALE_POWER
Q15_SCALE = 2.0**GATE_OUTPUT_SCALE_POWER  # the scale of sigmoid/tanh outputs (Q0.15)
Q15_ONE = 1 << 15  # the largest magnitude of a Q0.15 or int16 value


class IRValidationError(ModelFileError):
    """An IR object violates its invariants (shape, dtype, range)."""


def _fail(what: str) -> typing.NoReturn:
    raise IRValidationError(f"invalid model: {what}", "re-create it with `edgernn quantize`")


def _frozen_array(value: Any, dtype: type, shape: tuple[int | None, ...], name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != np.dtype(dtype):
        _fail(f"{name} has dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        _fail(f"{name} has shape {arr.shape}, expected {tuple('?' if s is None else s for s in shape)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        _fail(f"{name} contains NaN or Inf")
    arr = np.ascontiguousarray(arr).copy()
    arr.setflags(write=False)
    return arr


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _check_scale(value: float, name: str) -> float:
    """A positive finite scale, rounded to float32: TFLite stores scales as float32 and derives
    its multipliers from those, so edgernn does the same to compute the very same integers."""
    with np.errstate(over="ignore"):  # beyond float32: inf, refused below
        value = float(np.float32(value))
    if not (math.isfinite(value) and value > 0):
        _fail(f"{name} must be a positive finite float32 scale, got {value!r}")
    return value


def _check_int(value: Any, lo: int, hi: int, name: str) -> int:
    if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)):
        _fail(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        _fail(f"{name}={value} is outside [{lo}, {hi}]")
    return value


@dataclass(frozen=True)
class QParams:
    """Affine int8 quantization of an activation: ``real = scale * (q - zero_point)``."""

    scale: float
    zero_point: int

    def __post_init__(self) -> None:
        _set(self, "scale", _check_scale(self.scale, "activation scale"))
        _set(self, "zero_point", _check_int(self.zero_point, INT8_MIN, INT8_MAX, "zero point"))

    def quantize(self, x: npt.ArrayLike, bits: int = 8) -> npt.NDArray[np.int8] | npt.NDArray[np.int16]:
        """``clamp(rint(x / scale) + zero_point)`` in double: round half to even (numpy's rint, as
        TFLite's QUANTIZE op), saturated to int8 (or, ``bits=16``, to int16: a 16-bit model input).
        In place on one temporary: it is on every step."""
        lo, hi, dtype = (INT16_MIN, INT16_MAX, np.int16) if bits == 16 else (INT8_MIN, INT8_MAX, np.int8)
        q = np.array(x, dtype=np.float64)
        q /= self.scale
        np.rint(q, out=q)
        q += self.zero_point
        np.minimum(q, hi, out=q)
        np.maximum(q, lo, out=q)
        return q.astype(dtype)

    def dequantize(self, q: npt.ArrayLike) -> npt.NDArray[np.float32]:
        return (self.scale * (np.asarray(q, dtype=np.float64) - self.zero_point)).astype(np.float32)


@dataclass(frozen=True)
class Rescale:
    """One Q31 multiplier and shift: ``x * multiplier * 2**(shift - 31)`` (TFLite convention)."""

    multiplier: int
    shift: int

    def __post_init__(self) -> None:
        _set(self, "multiplier", _check_int(self.multiplier, 0, INT32_MAX, "multiplier"))
        _set(self, "shift", _check_int(self.shift, -31, 30, "shift"))

    @property
    def real(self) -> float:
        return self.multiplier * 2.0 ** (self.shift - 31)

    @classmethod
    def of(cls, a: float, b: float, out: float, what: str = "requantization") -> Rescale:
        """The rescale of ``a * b / out``, derived from float32 scales (the IR's only rule)."""
        try:
            return cls(*multiplier_from_scales(a, b, out))
        except MultiplierRangeError as exc:
            raise MultiplierRangeError(f"{what}: {exc.what}", exc.fix) from None


def fc_multipliers(
    input_scale: float, weight_scale: npt.ArrayLike, output_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``(multiplier, shift)`` of a FULLY_CONNECTED: ``s_in * s_w[o] / s_out`` (TFLite's rule)."""
    pairs = [Rescale.of(input_scale, float(s), output_scale, "a fully connected layer") for s in np.ravel(weight_scale)]
    return (
        np.array([p.multiplier for p in pairs], dtype=np.int32),
        np.array([p.shift for p in pairs], dtype=np.int32),
    )


def _check_derived(actual: Rescale, want: Rescale, what: str) -> None:
    if actual != want:
        _fail(
            f"{what} requantization ({actual.multiplier}, {actual.shift}) disagrees with its scales, which give"
            f" ({want.multiplier}, {want.shift})"
        )


def _check_fc_multipliers(fc: FullyConnected, input_scale: float, what: str) -> None:
    """One source of truth: a FC's stored integers must be the ones its scales give."""
    multiplier, shift = fc_multipliers(input_scale, fc.weight_scale, fc.output_scale)
    bad = np.flatnonzero((multiplier != fc.multiplier) | (shift != fc.shift))
    if bad.size:
        o = int(bad[0])
        _check_derived(
            Rescale(int(fc.multiplier[o]), int(fc.shift[o])),
            Rescale(int(multiplier[o]), int(shift[o])),
            f"{what} row {o}",
        )


@dataclass(frozen=True, eq=False)
class FullyConnected:
    """TFLite's quantized FULLY_CONNECTED with int8 input and weights and int32 bias.

    ``out = clamp(MBQM(sum((x - input_zero_point) * weight) + bias, M[o], shift[o])
    + output_zero_point)``; the output is int16 (``output_bits=16``, gate pre-activations) or
    int8 (the dense head). Multipliers and shifts are per output row; a per-tensor scale
    repeats one value. ``weight_scale`` and ``output_scale`` are kept for exporters that
    describe tensors by scale (ONNX, TFLite); every integer a kernel needs is already here.
    """

    weight: np.ndarray  # int8 (out, in)
    weight_scale: np.ndarray  # float32 (out,), symmetric
    bias: np.ndarray  # int32 (out,) at scale input_scale * weight_scale
    multiplier: np.ndarray  # int32 (out,)
    shift: np.ndarray  # int32 (out,)
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    output_bits: int
    #: 16: the input is symmetric int16 (zero point 0), a 16x8 FC: only the first layer's input FCs of a
    #: model quantized with a 16-bit input (docs/input_bits.md). Omitted when 8, so files keep their hash.
    input_bits: int = dataclasses.field(default=8, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        w = _frozen_array(self.weight, np.int8, (None, None), "weight")
        out = w.shape[0]
        _set(self, "weight", w)
        _set(self, "weight_scale", _frozen_array(self.weight_scale, np.float32, (out,), "weight_scale"))
        if np.any(self.weight_scale <= 0):
            _fail("weight scales must be positive")
        _set(self, "bias", _frozen_array(self.bias, np.int32, (out,), "bias"))
        _set(self, "multiplier", _frozen_array(self.multiplier, np.int32, (out,), "multiplier"))
        _set(self, "shift", _frozen_array(self.shift, np.int32, (out,), "shift"))
        if np.any(self.multiplier < 0) or np.any(self.shift < -31) or np.any(self.shift > 30):
            _fail("requantization multipliers must be >= 0 with shifts in [-31, 30]")
        _set(self, "input_zero_point", _check_int(self.input_zero_point, INT8_MIN, INT8_MAX, "input zero point"))
        _set(self, "input_bits", _check_int(self.input_bits, 8, 16, "input bits"))
        if self.input_bits not in (8, 16):
            _fail("input_bits must be 8 or 16")
        if self.input_bits == 16 and self.input_zero_point != 0:
            _fail("an int16 FC input is symmetric (zero point 0)")
        _set(self, "output_scale", _check_scale(self.output_scale, "output scale"))
        _set(self, "output_bits", _check_int(self.output_bits, 8, 16, "output bits"))
        if self.output_bits not in (8, 16):
            _fail("output_bits must be 8 or 16")
        lo, hi = self.output_range
        _set(self, "output_zero_point", _check_int(self.output_zero_point, lo, hi, "output zero point"))
        # The zero-point-folded bias must fit the int32 accumulator of a C kernel.
        folded = self.bias.astype(np.int64) - self.input_zero_point * self.weight.astype(np.int64).sum(axis=1)
        if folded.size and (folded.min() < INT32_MIN or folded.max() > INT32_MAX):
            _fail("bias with the folded input zero point overflows int32")

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def output_range(self) -> tuple[int, int]:
        return (INT16_MIN, INT16_MAX) if self.output_bits == 16 else (INT8_MIN, INT8_MAX)

    @property
    def input_bound(self) -> int:
        """The largest ``|x - input_zero_point|``: 255 for int8, 32768 for a symmetric int16 input."""
        return Q15_ONE if self.input_bits == 16 else 255

    def bias_scale(self, input_scale: float) -> np.ndarray:
        """Per row, the float32 scale of the int32 bias: ``input_scale * weight_scale`` (how ONNX
        and TFLite describe the bias tensor; the integers are the stored ``bias``)."""
        return (np.float32(input_scale) * self.weight_scale).astype(np.float32)

    @functools.cached_property
    def folded_bias(self) -> np.ndarray:
        """``bias - input_zero_point * rowsum(weight)``: lets a kernel accumulate ``x * w`` directly."""
        folded = self.bias.astype(np.int64) - self.input_zero_point * self.weight.astype(np.int64).sum(axis=1)
        arr = folded.astype(np.int32)
        arr.setflags(write=False)
        return arr


@dataclass(frozen=True, eq=False)
class FloatCellWeights:
    """A cell's float parameters in PyTorch's layout and gate order (``weight_ih_l{k}`` ...)."""

    weight_ih: np.ndarray  # float32 (G*H, I)
    weight_hh: np.ndarray  # float32 (G*H, H)
    bias_ih: np.ndarray  # float32 (G*H,)
    bias_hh: np.ndarray  # float32 (G*H,)

    def __post_init__(self) -> None:
        w_ih = _frozen_array(self.weight_ih, np.float32, (None, None), "weight_ih")
        rows = w_ih.shape[0]
        w_hh = _frozen_array(self.weight_hh, np.float32, (rows, None), "weight_hh")
        _set(self, "weight_ih", w_ih)
        _set(self, "weight_hh", w_hh)
        _set(self, "bias_ih", _frozen_array(self.bias_ih, np.float32, (rows,), "bias_ih"))
        _set(self, "bias_hh", _frozen_array(self.bias_hh, np.float32, (rows,), "bias_hh"))


def _gate_fc(fc: FullyConnected, name: str, out: int, inp: int, input_q: QParams, input_bits: int = 8) -> None:
    if fc.input_bits != input_bits:
        _fail(f"{name} reads int{fc.input_bits}, its input is int{input_bits}")
    if fc.weight.shape != (out, inp):
        _fail(f"{name} weight has shape {fc.weight.shape}, expected {(out, inp)}")
    if fc.output_bits != 16 or fc.output_zero_point != 0:
        _fail(f"{name} must produce symmetric int16 gate pre-activations")
    if fc.input_zero_point != input_q.zero_point:
        _fail(f"{name} input zero point {fc.input_zero_point} differs from its input's {input_q.zero_point}")
    _check_fc_arithmetic(fc, input_q.scale, name)


# --------------------------------------------------------------------------------------------
# One source of truth and arithmetic bounds: what every backend computes identically. The
# reference and C read the stored integers, the ONNX and TFLite exports derive theirs from the
# scales, so the stored ones must be exactly those (issue 14 item 4). The reference raises where C
# would overflow int32 and C saturates, so a model is accepted only if, for every int8 input, no
# int32 intermediate can overflow (issue 14 item 3). Every check of that kind is here.


def _left_shift_fits(bound: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Whether ``bound * 2**max(shift, 0)`` (a requantization's left shift) fits int32."""
    return bound.astype(np.float64) * np.exp2(np.maximum(shift.astype(np.float64), 0)) <= INT32_MAX


def _check_fc_arithmetic(fc: FullyConnected, input_scale: float, name: str) -> None:
    """A FULLY_CONNECTED's integers are the ones its scales give, and its accumulator and left
    shift fit int32 for every input (``|x - zero_point| <= 255`` for int8; C accumulates ``x * w``
    on the folded bias; ``|x| <= 32768`` for a symmetric int16 input, whose 16x8 products every
    backend also sums in int32, TFLite Micro's 16x8 FC with an int32 bias included)."""
    _check_fc_multipliers(fc, input_scale, name)
    row_abs = np.abs(fc.weight.astype(np.int64)).sum(axis=1)
    bound = np.maximum(
        fc.input_bound * row_abs + np.abs(fc.bias.astype(np.int64)),
        128 * row_abs + np.abs(fc.folded_bias.astype(np.int64)),
    )
    if np.any(bound > INT32_MAX):
        what = "an int16 input's" if fc.input_bits == 16 else "the"
        _fail(f"{name}: {what} accumulator can overflow int32 (weights, bias or input width too large)")
    if not np.all(_left_shift_fits(bound, fc.shift)):
        _fail(f"{name}: its scales give a requantization that overflows int32 for some inputs")


def _check_rescales(cell: Any, derived: dict[str, Rescale]) -> None:
    """A cell's rescales are the ones its scales give, and their left shifts fit int32 for the
    largest input each one sees (``cell.RESCALE_INPUT_BOUNDS``)."""
    for name, want in derived.items():
        actual = getattr(cell, name)
        _check_derived(actual, want, name)
        if not _left_shift_fits(np.array([cell.RESCALE_INPUT_BOUNDS[name]]), np.array([actual.shift])).all():
            _fail(f"{name}: its scales give a requantization that overflows int32 for some inputs")


def _q312(fc: FullyConnected, name: str) -> None:
    if fc.output_scale != GATE_SCALE:
        _fail(f"{name} must output Q3.12 (scale 2**-12), got scale {fc.output_scale!r}")


@dataclass(frozen=True, eq=False)
class ElmanCellQ:
    """Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``, or ``relu(...)``.

    ``x_fc`` carries both biases; ``h_fc`` has a zero bias. ``to_hidden`` rescales the Q0.15
    tanh output to the int8 hidden state. With ``nonlinearity`` ``relu`` the two FCs write the
    int16 pre-activation at a scale of their own (the same for both, chosen by the quantizer to
    hold the hidden range) and ``to_hidden`` requantizes it to int8 clamped below at the hidden
    zero point: ``h' = max(requantize(sat16(x_fc(x) + h_fc(h))), zero_point)``, the ReLU.
    """

    CELL: ClassVar[CellType] = CellType.RNN
    X_FCS: ClassVar[tuple[str, ...]] = ("x_fc",)  # the FCs that read the layer's input
    RESCALE_INPUT_BOUNDS: ClassVar[dict[str, int]] = {"to_hidden": Q15_ONE}  # the Q0.15 tanh or int16 sum
    x_fc: FullyConnected
    h_fc: FullyConnected
    to_hidden: Rescale
    nonlinearity: Activation = dataclasses.field(default=Activation.TANH, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        _set(self, "nonlinearity", Activation(self.nonlinearity))
        if self.nonlinearity not in (Activation.TANH, Activation.RELU):
            _fail(f"an Elman cell's nonlinearity is tanh or relu, not {self.nonlinearity.value}")

    @property
    def relu(self) -> bool:
        return self.nonlinearity is Activation.RELU

    @staticmethod
    def derived_rescales(hidden_scale: float, pre_scale: float = Q15_SCALE) -> dict[str, Rescale]:
        """The cell's rescales as functions of its scales (what the quantizer builds and a load checks);
        ``pre_scale``: what ``to_hidden`` reads, the Q0.15 tanh or (ReLU) the FCs' output scale."""
        return {"to_hidden": Rescale.of(pre_scale, 1.0, hidden_scale, "to_hidden")}

    def check(self, layer: RecurrentLayer) -> None:
        h, i = layer.hidden_size, layer.input_size
        _gate_fc(self.x_fc, "x_fc", h, i, layer.input_q, layer.input_bits)
        _gate_fc(self.h_fc, "h_fc", h, h, layer.hidden_q)
        if self.relu:
            if self.x_fc.output_scale != self.h_fc.output_scale:
                _fail("a ReLU Elman cell's x_fc and h_fc must write the same int16 scale")
            _check_rescales(self, self.derived_rescales(layer.hidden_q.scale, self.x_fc.output_scale))
            return
        _q312(self.x_fc, "x_fc")
        _q312(self.h_fc, "h_fc")
        _check_rescales(self, self.derived_rescales(layer.hidden_q.scale))


@dataclass(frozen=True, eq=False)
class GRUCellQ:
    """GRU with PyTorch semantics (reset gate applied after the hidden matmul).

    ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)``,
    ``h' = z * h + (1 - z) * n``. ``x_r``/``x_z`` carry ``b_i* + b_h*``; ``x_n`` carries
    ``b_in`` and ``h_n`` carries ``b_hn`` (it is scaled by ``r``), at its own int16 scale
    ``h_n.output_scale``. ``reset_mul`` rescales ``r * h_n`` to Q3.12, ``gate_mul`` a Q0.15 x
    Q0.15 product to Q0.15, and ``to_hidden`` the Q0.15 state to the int8 hidden tensor. The
    recurrent state is the int16 Q0.15 hidden state (the GRU's memory, kept at 16 bits as the
    LSTM keeps its cell state) plus its int8 requantization, which the recurrent FCs read.
    """

    CELL: ClassVar[CellType] = CellType.GRU
    X_FCS: ClassVar[tuple[str, ...]] = ("x_r", "x_z", "x_n")
    #: r * h_n and the gate products multiply two int16 values; to_hidden reads the Q0.15 state.
    RESCALE_INPUT_BOUNDS: ClassVar[dict[str, int]] = {
        "reset_mul": Q15_ONE * Q15_ONE,
        "gate_mul": Q15_ONE * Q15_ONE,
        "to_hidden": Q15_ONE,
    }
    x_r: FullyConnected
    x_z: FullyConnected
    x_n: FullyConnected
    h_r: FullyConnected
    h_z: FullyConnected
    h_n: FullyConnected
    reset_mul: Rescale
    gate_mul: Rescale
    to_hidden: Rescale

    @staticmethod
    def derived_rescales(hidden_scale: float, reset_hidden_scale: float) -> dict[str, Rescale]:
        """The cell's rescales as functions of its scales (``reset_hidden_scale``: ``h_n``'s output)."""
        return {
            "reset_mul": Rescale.of(Q15_SCALE, reset_hidden_scale, GATE_SCALE, "reset_mul"),
            "gate_mul": Rescale.of(Q15_SCALE, Q15_SCALE, Q15_SCALE, "gate_mul"),
            "to_hidden": Rescale.of(Q15_SCALE, 1.0, hidden_scale, "to_hidden"),
        }

    def check(self, layer: RecurrentLayer) -> None:
        h, i = layer.hidden_size, layer.input_size
        for name in ("x_r", "x_z", "x_n"):
            _gate_fc(getattr(self, name), name, h, i, layer.input_q, layer.input_bits)
        for name in ("h_r", "h_z", "h_n"):
            _gate_fc(getattr(self, name), name, h, h, layer.hidden_q)
        for name in ("x_r", "x_z", "x_n", "h_r", "h_z"):
            _q312(getattr(self, name), name)
        _check_rescales(self, self.derived_rescales(layer.hidden_q.scale, self.h_n.output_scale))


@dataclass(frozen=True, eq=False)
class LSTMCellQ:
    """LSTM as TFLite Micro's int8x8_16 UNIDIRECTIONAL_SEQUENCE_LSTM step.

    Gates ``i, f, g, o`` (PyTorch order); ``x_*`` carry ``b_i* + b_h*``, ``h_*`` have zero bias.
    The cell state is int16 at scale ``2**cell_scale_power``. ``forget_mul``: ``f * c`` to the
    cell scale; ``input_mul``: ``i * g`` to the cell scale; ``output_mul``: ``o * tanh(c)`` to
    the int8 hidden state (with its zero point).

    ``cell_clip``: TFLite's LSTM cell clip in cell-state units (``quantized_cell_clip``): after the
    update ``c' = f*c + i*g`` the int16 cell state is clamped to ``[-cell_clip, cell_clip]``.
    ``None`` (the default, and every file written without it): no clip.
    """

    CELL: ClassVar[CellType] = CellType.LSTM
    X_FCS: ClassVar[tuple[str, ...]] = ("x_i", "x_f", "x_g", "x_o")
    #: f * c, i * g and o * tanh(c) each multiply two int16 values.
    RESCALE_INPUT_BOUNDS: ClassVar[dict[str, int]] = {
        "forget_mul": Q15_ONE * Q15_ONE,
        "input_mul": Q15_ONE * Q15_ONE,
        "output_mul": Q15_ONE * Q15_ONE,
    }
    x_i: FullyConnected
    x_f: FullyConnected
    x_g: FullyConnected
    x_o: FullyConnected
    h_i: FullyConnected
    h_f: FullyConnected
    h_g: FullyConnected
    h_o: FullyConnected
    cell_scale_power: int
    forget_mul: Rescale
    input_mul: Rescale
    output_mul: Rescale
    # Omitted from the serialized tree when None, so unclipped models keep their bytes and hash.
    cell_clip: int | None = dataclasses.field(default=None, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        _set(self, "cell_scale_power", _check_int(self.cell_scale_power, -15, 0, "cell_scale_power"))
        if self.cell_clip is not None:
            _set(self, "cell_clip", _check_int(self.cell_clip, 1, INT16_MAX, "cell_clip"))

    @staticmethod
    def quantize_cell_clip(cell_clip: float, cell_scale_power: int) -> int | None:
        """TFLite's ``quantized_cell_clip`` of a float clip (LSTMOptions.cell_clip, float32): the
        clip over the cell scale truncated toward zero (a C cast) and saturated to int16; a clip
        <= 0 is TFLite's "no clip" (None)."""
        clip = float(np.float32(cell_clip))
        if not math.isfinite(clip):
            _fail(f"cell_clip must be finite, got {cell_clip!r}")
        if clip <= 0:
            return None
        q = int(min(max(clip / 2.0**cell_scale_power, INT16_MIN), INT16_MAX))
        if q < 1:
            raise UnsupportedModelError(
                f"cell_clip {clip} is below one step of the LSTM cell state (2^{cell_scale_power})",
                "use a larger clip, or none",
            )
        return q

    @property
    def cell_clip_float(self) -> float:
        """The clip as TFLite's LSTMOptions.cell_clip (exact in float32: an int16 times a power of two);
        0.0 when there is none. TFLite recovers ``cell_clip`` from it exactly."""
        return 0.0 if self.cell_clip is None else self.cell_clip * 2.0**self.cell_scale_power

    @property
    def cell_tanh_params(self) -> tuple[int, int]:
        """(input_multiplier, input_left_shift) of the int16 TANH applied to the cell state."""
        return tanh_params_for_scale_power(self.cell_scale_power)

    @staticmethod
    def derived_rescales(hidden_scale: float, cell_scale_power: int) -> dict[str, Rescale]:
        """The cell's rescales as functions of its scales (the cell state's is ``2**cell_scale_power``)."""
        cell_scale = 2.0**cell_scale_power
        return {
            "forget_mul": Rescale.of(Q15_SCALE, cell_scale, cell_scale, "forget_mul"),
            "input_mul": Rescale.of(Q15_SCALE, Q15_SCALE, cell_scale, "input_mul"),
            "output_mul": Rescale.of(Q15_SCALE, Q15_SCALE, hidden_scale, "output_mul"),
        }

    def check(self, layer: RecurrentLayer) -> None:
        h, i = layer.hidden_size, layer.input_size
        for gate in "ifgo":
            _gate_fc(getattr(self, f"x_{gate}"), f"x_{gate}", h, i, layer.input_q, layer.input_bits)
            _gate_fc(getattr(self, f"h_{gate}"), f"h_{gate}", h, h, layer.hidden_q)
            _q312(getattr(self, f"x_{gate}"), f"x_{gate}")
            _q312(getattr(self, f"h_{gate}"), f"h_{gate}")
        _check_rescales(self, self.derived_rescales(layer.hidden_q.scale, self.cell_scale_power))


CellQuant = ElmanCellQ | GRUCellQ | LSTMCellQ
CELL_CLASSES: dict[CellType, type] = {cls.CELL: cls for cls in (ElmanCellQ, GRUCellQ, LSTMCellQ)}


@dataclass(frozen=True, eq=False)
class Direction:
    """One direction of a recurrent layer: float weights and their quantized form."""

    float_weights: FloatCellWeights
    quant: CellQuant


@dataclass(frozen=True, eq=False)
class RecurrentLayer:
    """One stacked layer, uni- (one direction) or bidirectional (forward, backward).

    Both directions share the input and hidden quantization, so their int8 outputs concatenate
    without rescaling into the next layer's input.
    """

    cell: CellType
    input_size: int
    hidden_size: int
    input_q: QParams
    hidden_q: QParams
    directions: tuple[Direction, ...]

    def __post_init__(self) -> None:
        _set(self, "cell", CellType(self.cell))
        _set(self, "directions", tuple(self.directions))
        if len(self.directions) not in (1, 2):
            _fail("a recurrent layer has one or two directions")
        g = self.cell.gates
        for d in self.directions:
            fw = d.float_weights
            if fw.weight_ih.shape != (g * self.hidden_size, self.input_size):
                _fail(f"float weight_ih has shape {fw.weight_ih.shape}")
            if fw.weight_hh.shape != (g * self.hidden_size, self.hidden_size):
                _fail(f"float weight_hh has shape {fw.weight_hh.shape}")
            if not isinstance(d.quant, CELL_CLASSES[self.cell]):
                _fail(f"a {self.cell.value} layer holds a {type(d.quant).__name__}")
            d.quant.check(self)

    @property
    def bidirectional(self) -> bool:
        return len(self.directions) == 2

    @property
    def input_bits(self) -> int:
        """Bits of the layer's input: 8, or 16 (symmetric) when its input FCs are 16x8 (the first
        layer of a model quantized with a 16-bit input); each cell's check holds every input FC to it."""
        quant = self.directions[0].quant
        return getattr(quant, quant.X_FCS[0]).input_bits


@dataclass(frozen=True, eq=False)
class Embedding:
    """Token embedding; ``table`` is ``weight`` quantized with the first layer's input QParams."""

    weight: np.ndarray  # float32 (vocab, dim)
    table: np.ndarray  # int8 (vocab, dim)

    def __post_init__(self) -> None:
        w = _frozen_array(self.weight, np.float32, (None, None), "embedding weight")
        _set(self, "weight", w)
        _set(self, "table", _frozen_array(self.table, np.int8, w.shape, "embedding table"))


@dataclass(frozen=True, eq=False)
class Dense:
    """The dense head: float weights and the quantized FULLY_CONNECTED computing them.

    Its output is int8 at ``output_q`` (``fc.output_bits`` 8, the default: class scores, logits),
    or int16 (``fc.output_bits`` 16, symmetric: ``output_q.zero_point`` 0) for regression heads,
    where one int8 step of the output range would be a visible share of the forecast error. The
    input stays int8 (the top layer's hidden values); TFLite's graph widens it to int16 for a 16x8
    FULLY_CONNECTED, exactly ``x - zero_point``, as the GRU and Elman cells' FCs.
    """

    weight: np.ndarray  # float32 (out, in)
    bias: np.ndarray  # float32 (out,)
    fc: FullyConnected
    output_q: QParams

    def __post_init__(self) -> None:
        w = _frozen_array(self.weight, np.float32, (None, None), "head weight")
        _set(self, "weight", w)
        _set(self, "bias", _frozen_array(self.bias, np.float32, (w.shape[0],), "head bias"))
        if self.fc.weight.shape != w.shape:
            _fail("the head's quantized FC must match its float weight")
        if self.fc.output_bits == 16 and self.output_q.zero_point != 0:
            _fail("an int16 head output is symmetric (zero point 0)")
        if self.fc.output_zero_point != self.output_q.zero_point or self.fc.output_scale != self.output_q.scale:
            _fail("the head's FC output quantization differs from output_q")


@dataclass(frozen=True)
class HeadTanh:
    """tanh between the recurrent stack and the head, in integers (``ModelConfig.head_activation`` tanh).

    The top layer's int8 hidden value (scale ``s_h``, zero point ``z_h``) is requantized to the
    int16 Q3.12 input of the int16 TANH table (``to_q312``: ``s_h / 2**-12``, saturated to int16,
    a QUANTIZE int8 -> int16), the table gives Q0.15, and ``to_int8`` (``2**-15 / output_q.scale``)
    requantizes that to int8 at ``output_q`` (a QUANTIZE int16 -> int8), the head's input.
    ``output_q`` is the quantizer's choice (it covers tanh of the top layer's int8 range).
    """

    #: The largest input magnitude of each rescale: an int8 value minus its zero point, a Q0.15 value.
    RESCALE_INPUT_BOUNDS: ClassVar[dict[str, int]] = {"to_q312": 255, "to_int8": Q15_ONE}
    to_q312: Rescale
    to_int8: Rescale
    output_q: QParams

    @staticmethod
    def derived_rescales(hidden_scale: float, output_scale: float) -> dict[str, Rescale]:
        """The rescales as functions of the scales (what the quantizer builds and a load checks)."""
        return {
            "to_q312": Rescale.of(hidden_scale, 1.0, GATE_SCALE, "head tanh to_q312"),
            "to_int8": Rescale.of(Q15_SCALE, 1.0, output_scale, "head tanh to_int8"),
        }

    @classmethod
    def of(cls, hidden_q: QParams, output_q: QParams) -> HeadTanh:
        return cls(**cls.derived_rescales(hidden_q.scale, output_q.scale), output_q=output_q)


@dataclass(frozen=True)
class Provenance:
    """Where a model came from; not part of its hash."""

    edgernn_version: str
    source_sha256: str  # of the float weights the model was quantized from
    calibration_sha256: str  # of the calibration sequences
    calibration: str  # observer settings, e.g. "minmax" or "percentile 99.99"
    calibration_sequences: int
    dataset: str | None = None
    float_metric: float | None = None
    int8_metric: float | None = None
    metric_name: str | None = None


@dataclass(frozen=True, eq=False)
class QuantizedRNN:
    """A whole model: optional embedding, 1-4 recurrent layers, optional dense head.

    Float feature input is normalized with ``input_mean``/``input_std`` (when present) and then
    quantized with ``layers[0].input_q``; token input indexes ``embedding.table``.
    """

    config: ModelConfig
    layers: tuple[RecurrentLayer, ...]
    embedding: Embedding | None
    head: Dense | None
    input_mean: np.ndarray | None
    input_std: np.ndarray | None
    class_names: tuple[str, ...] | None
    provenance: Provenance
    #: Token models: the text of each token id (``len == vocab_size``), for prompts and generated text.
    vocab: tuple[str, ...] | None = dataclasses.field(default=None, metadata=OMIT_DEFAULT)  # absent: not stored
    #: The integer tanh before the head, exactly when ``config.head_activation`` is tanh (absent: not stored).
    head_tanh: HeadTanh | None = dataclasses.field(default=None, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        cfg = self.config
        _set(self, "layers", tuple(self.layers))
        if len(self.layers) != cfg.num_layers:
            _fail(f"config says {cfg.num_layers} layers, model has {len(self.layers)}")
        for k, layer in enumerate(self.layers):
            if layer.cell != cfg.cell or layer.hidden_size != cfg.hidden_size:
                _fail(f"layer {k} is {layer.cell.value} {layer.hidden_size}, config says otherwise")
            if layer.input_size != cfg.layer_input_size(k) or layer.bidirectional != cfg.bidirectional:
                _fail(f"layer {k} input size or directions disagree with the config")
            if k > 0 and layer.input_q != self.layers[k - 1].hidden_q:
                _fail(f"layer {k} input quantization differs from layer {k - 1}'s hidden quantization")
            if k > 0 and layer.input_bits != 8:
                _fail(f"layer {k} reads the int8 hidden values of layer {k - 1}, not int{layer.input_bits}")
        if cfg.uses_tokens and self.input_bits != 8:
            _fail("a token model's input is its int8 embedding table, not int16")
        if cfg.head_activation not in (Activation.NONE, Activation.RELU, Activation.TANH):
            _fail(f"an int8 model has no {cfg.head_activation.value} before the head (ReLU, tanh or none)")
        if (self.head_tanh is not None) != (cfg.head_activation is Activation.TANH):
            _fail("head_tanh is present exactly when the config has tanh before the head")
        if self.head_tanh is not None:
            ht = self.head_tanh
            _check_rescales(ht, HeadTanh.derived_rescales(self.layers[-1].hidden_q.scale, ht.output_q.scale))
        for k, layer in enumerate(self.layers):
            for d in layer.directions:
                if isinstance(d.quant, ElmanCellQ) and d.quant.nonlinearity is not cfg.nonlinearity:
                    _fail(f"layer {k} is a {d.quant.nonlinearity.value} Elman cell, the config says otherwise")
        if cfg.uses_tokens != (self.embedding is not None):
            _fail("an embedding is present exactly when the config takes tokens")
        if self.embedding is not None and self.embedding.weight.shape != (cfg.vocab_size, cfg.embedding_dim):
            _fail("embedding shape disagrees with the config")
        if (cfg.output_size is not None) != (self.head is not None):
            _fail("a head is present exactly when the config has output_size")
        if self.head is not None:
            expected = (cfg.output_size, cfg.hidden_size * cfg.num_directions)
            if self.head.weight.shape != expected:
                _fail(f"head weight has shape {self.head.weight.shape}, expected {expected}")
            head_in = self.head_input_q
            if self.head.fc.input_zero_point != head_in.zero_point:
                _fail("head input zero point differs from its input's (the last layer's hidden or the tanh's)")
            if self.head.fc.input_bits != 8:
                _fail("the head reads int8 values")
            _check_fc_arithmetic(self.head.fc, head_in.scale, "head")
        if (self.input_mean is None) != (self.input_std is None):
            _fail("input_mean and input_std come together")
        if self.input_mean is not None:
            if cfg.uses_tokens:
                _fail("token models have no input normalization")
            f = cfg.input_size
            _set(self, "input_mean", _frozen_array(self.input_mean, np.float32, (f,), "input_mean"))
            _set(self, "input_std", _frozen_array(self.input_std, np.float32, (f,), "input_std"))
            if np.any(self.input_std <= 0):
                _fail("input_std must be positive")
        if self.class_names is not None:
            _set(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.vocab is not None:
            _set(self, "vocab", check_vocab(self.vocab, cfg.vocab_size, _fail))

    @property
    def input_q(self) -> QParams:
        return self.layers[0].input_q

    @property
    def input_bits(self) -> int:
        """Bits of the model's integer input: 16 (symmetric, zero point 0) for a 16-bit first-layer
        input (docs/input_bits.md), else 8."""
        return self.layers[0].input_bits

    @property
    def head_input_q(self) -> QParams:
        """The quantization of the values the head reads (the model's output without a head):
        the top layer's hidden one (ReLU keeps it), or the tanh's ``output_q``."""
        return self.head_tanh.output_q if self.head_tanh is not None else self.layers[-1].hidden_q

    @property
    def output_q(self) -> QParams:
        return self.head.output_q if self.head is not None else self.head_input_q

    @property
    def output_bits(self) -> int:
        """Bits of the model's integer output: 16 for an int16 head (:class:`Dense`), else 8."""
        return self.head.fc.output_bits if self.head is not None else 8

    @property
    def weight_bytes(self) -> int:
        """Bytes of constant data an integer kernel reads: int8 weights, int32 biases and requant."""
        total = 0 if self.embedding is None else self.embedding.table.nbytes
        for fc in iter_fully_connected(self):
            total += fc.weight.nbytes + fc.bias.nbytes + fc.multiplier.nbytes + fc.shift.nbytes
        return total

    @property
    def state_bytes(self) -> int:
        """Bytes of recurrent state: the int8 hidden state, plus an int16 state for GRU (its Q0.15
        hidden state) and LSTM (its cell state)."""
        per_direction = self.config.hidden_size * (3 if self.config.cell.int16_state else 1)
        return per_direction * self.config.num_directions * self.config.num_layers

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the model's content (structure and every array), excluding provenance."""
        arrays: dict[str, np.ndarray] = {}
        tree = _to_tree(dataclasses.replace(self, provenance=_NO_PROVENANCE), "", arrays)
        h = hashlib.sha256(json.dumps(tree, sort_keys=True).encode())
        for name in sorted(arrays):
            arr = arrays[name]
            h.update(name.encode())
            h.update(str(arr.dtype).encode())
            h.update(repr(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


_NO_PROVENANCE = Provenance("", "", "", "", 0)


def check_vocab(
    vocab: typing.Iterable[str], vocab_size: int | None, fail: typing.Callable[[str], typing.Any]
) -> tuple[str, ...]:
    """A vocabulary as a tuple of distinct strings, one per token id; ``fail(what)`` raises."""
    if isinstance(vocab, str):
        fail("the vocabulary must be a sequence of strings, not one string")
    items = tuple(vocab)
    if not all(isinstance(v, str) for v in items):
        fail("every vocabulary entry must be a string")
    if vocab_size is None:
        fail("only token models have a vocabulary")
    if len(items) != vocab_size:
        fail(f"the vocabulary has {len(items)} entries but the model {vocab_size} token ids")
    if len(set(items)) != len(items):
        fail("the vocabulary has repeated entries")
    return items


def iter_fully_connected(model: QuantizedRNN) -> typing.Iterator[FullyConnected]:
    """Every quantized FC of the model, in a stable order."""
    for layer in model.layers:
        for d in layer.directions:
            for f in dataclasses.fields(d.quant):
                value = getattr(d.quant, f.name)
                if isinstance(value, FullyConnected):
                    yield value
    if model.head is not None:
        yield model.head.fc


# --------------------------------------------------------------------------------------------
# Serialization: dataclasses <-> (JSON tree, named arrays). Types come from the annotations of
# the classes above, never from names stored in the file; the only discriminator read from a
# file is the layer's CellType, which selects the cell class.


def _to_tree(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _to_tree(getattr(obj, f.name), f"{path}/{f.name}", arrays)
            for f in dataclasses.fields(obj)
            if not (f.metadata.get("omit_default") and getattr(obj, f.name) == f.default)  # types.OMIT_DEFAULT
        }
    if isinstance(obj, np.ndarray):
        key = path.lstrip("/")
        arrays[key] = obj
        return {"$array": key}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple):
        return [_to_tree(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot serialize {type(obj).__name__} at {path}")


def _from_tree(tp: Any, node: Any, arrays: dict[str, np.ndarray], path: str, context: dict[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if node is None and type(None) in options:
            return None
        non_none = [t for t in options if t is not type(None)]
        if len(non_none) == 1:
            return _from_tree(non_none[0], node, arrays, path, context)
        # The cell union: the enclosing layer's cell type selects the class.
        cell = context.get("cell")
        if cell is None:
            _fail(f"cannot tell the type of {path}")
        return _from_tree(CELL_CLASSES[cell], node, arrays, path, context)
    if origin is tuple:
        (item_tp, _ellipsis) = typing.get_args(tp)
        if not isinstance(node, list):
            _fail(f"{path} must be a list")
        return tuple(_from_tree(item_tp, v, arrays, f"{path}/{i}", context) for i, v in enumerate(node))
    if tp is np.ndarray:
        ref = node.get("$array") if isinstance(node, dict) and len(node) == 1 else None
        if not isinstance(ref, str) or ref not in arrays:
            _fail(f"{path} must reference an array in the archive")
        return arrays[ref]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(node, dict):
            _fail(f"{path} must be an object")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        if set(node) - names:
            _fail(f"{path} has unknown fields {sorted(set(node) - names)}")
        if "cell" in node and tp is RecurrentLayer:
            context = {**context, "cell": CellType(node["cell"])}
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in node:
                kwargs[f.name] = _from_tree(hints[f.name], node[f.name], arrays, f"{path}/{f.name}", context)
        try:
            return tp(**kwargs)
        except TypeError as exc:
            _fail(f"{path}: {exc}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(node)
        except ValueError:
            _fail(f"{path} has unknown value {node!r}")
    if tp is float:
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            _fail(f"{path} must be a number")
        return float(node)
    if tp is int:
        if isinstance(node, bool) or not isinstance(node, int):
            _fail(f"{path} must be an integer")
        return node
    if tp is str:
        if not isinstance(node, str):
            _fail(f"{path} must be a string")
        return node
    if tp is bool:
        if not isinstance(node, bool):
            _fail(f"{path} must be true or false")
        return node
    raise TypeError(f"unsupported annotation {tp!r} at {path}")


def to_bytes(model: QuantizedRNN) -> bytes:
    """Serialize to the ``.ernn`` zip format (deterministic: same model, same bytes)."""
    return container_bytes(model, FORMAT_NAME, SCHEMA_VERSION, model.sha256)


def container_bytes(model: object, format_name: str, schema_version: int, model_sha256: str) -> bytes:
    """The ``.ernn`` zip of any frozen model dataclass (this module's, or an encoder-decoder's): the
    header (format, schema, hash, the model's fields as a tree) and one ``.npy`` entry per array."""
    arrays: dict[str, np.ndarray] = {}
    tree = _to_tree(model, "", arrays)
    header = {
        "format": format_name,
        "schema_version": schema_version,
        "edgernn_version": __version__,
        "model_sha256": model_sha256,
        "model": tree,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _write_entry(zf, HEADER_NAME, json.dumps(header, indent=1, sort_keys=True).encode())
        for name in sorted(arrays):
            npy = io.BytesIO()
            np.lib.format.write_array(npy, arrays[name], allow_pickle=False)
            _write_entry(zf, f"arrays/{name}.npy", npy.getvalue())
    return buf.getvalue()


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed time: reproducible files
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def save(model: QuantizedRNN, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` atomically (a reader never sees a partial file)."""
    target = Path(path)
    write_bytes_atomic(target, to_bytes(model))
    return target


def from_bytes(data: bytes, source: str = "model") -> QuantizedRNN:
    """Parse and validate ``.ernn`` bytes. Raises :class:`ModelFileError` naming the problem."""
    return read_container(data, source, QuantizedRNN, _check_header, "pass a .ernn file written by `edgernn quantize`")


_Model = typing.TypeVar("_Model")


def read_container(
    data: bytes,
    source: str,
    cls: type[_Model],
    check_header: typing.Callable[[Any, str], None],
    fix: str,
) -> _Model:
    """The validated model of class ``cls`` in ``.ernn`` container bytes (single models and
    encoder-decoders); ``check_header`` refuses a header of the wrong kind or schema, ``fix`` says
    which file to pass instead of a non-zip.

    Memory is bounded by the file: entries are checked against their compressed sizes and the
    header before anything is decompressed, and every array's declared shape against its bytes.
    """
    zf = archive.open_zip(
        data, ModelFileError(f"{source} is not an edgernn model (not a zip archive, or truncated)", fix)
    )
    with zf:
        entries = archive.check_entries(zf, len(data), source, ModelFileError, _MIN_EXPANDED_BYTES, _MAX_ARCHIVE_BYTES)
        if HEADER_NAME not in entries:
            raise ModelFileError(f"{source} has no {HEADER_NAME}; it is not an edgernn model")
        try:
            raw = archive.read_entry(zf, entries[HEADER_NAME], f"{source}: {HEADER_NAME}", ModelFileError)
            header = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ModelFileError(f"{source}: the model header is corrupt ({what})") from None
        check_header(header, source)
        referenced = _array_references(header["model"])
        unexpected = sorted(set(entries) - {HEADER_NAME} - {f"arrays/{name}.npy" for name in referenced})
        if unexpected:
            raise ModelFileError(f"{source} holds entries its header does not reference ({unexpected[0]!r}, ...)")
        arrays: dict[str, np.ndarray] = {}
        for name in sorted(referenced):
            entry = f"arrays/{name}.npy"
            if entry not in entries:
                raise ModelFileError(f"{source}: array {entry} is missing")
            data_bytes = archive.read_entry(zf, entries[entry], f"{source}: array {entry}", ModelFileError)
            arrays[name] = archive.read_npy(data_bytes, f"{source}: array {entry}", ModelFileError)
    try:
        model = _from_tree(cls, header["model"], arrays, "model", {})
    except (UnsupportedModelError, ValueError, RecursionError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{source}: invalid model ({exc})") from None
    if model.sha256 != header.get("model_sha256"):  # type: ignore[attr-defined]
        raise ModelFileError(f"{source}: content does not match its recorded hash (corrupt or edited file)")
    return model


def _array_references(tree: Any) -> set[str]:
    """Names of the arrays the header's model tree references (iterative: any depth is safe)."""
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$array")
            if isinstance(ref, str):
                names.add(ref)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def _check_header(header: Any, source: str) -> None:
    if isinstance(header, dict) and header.get("format") == "edgernn-seq2seq":
        raise ModelFileError(
            f"{source} is an encoder-decoder (seq2seq) model, not a single model",
            "use `edgernn seq2seq` (or edgernn.seq2seq.load) for it",
        )
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{source} is not an edgernn model (wrong format tag)")
    version = header.get("schema_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{source}: the model header has no schema version")
    if version > SCHEMA_VERSION:
        raise ModelFileError(
            f"{source} uses model schema {version}, this edgernn {__version__} reads up to {SCHEMA_VERSION}",
            "upgrade edgernn",
        )
    if version < 1 or "model" not in header:
        raise ModelFileError(f"{source}: unsupported or incomplete model header")
    if version < 2 and _declared_cell(header) == CellType.GRU.value:
        raise ModelFileError(
            f"{source} is a GRU quantized by an older edgernn with an 8-bit hidden state, which forgets slow"
            " dynamics on long streams; this edgernn keeps the GRU state at 16 bits",
            "re-create the model with `edgernn quantize` from its checkpoint",
        )


def _declared_cell(header: dict[str, Any]) -> Any:
    model = header.get("model")
    config = model.get("config") if isinstance(model, dict) else None
    return config.get("cell") if isinstance(config, dict) else None


def load(path: str | os.PathLike[str]) -> QuantizedRNN:
    """Read a ``.ernn`` file. Raises :class:`ModelFileError` for missing, corrupt or foreign files."""
    return from_bytes(read_model_file(path), source=str(Path(path)))


def read_model_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file; :class:`ModelFileError` for a missing or unreadable one."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {p} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(f"{p} is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {p} ({exc.strerror})") from None
    return data


__all__ = [
    "QParams",
    "HeadTanh",
    "Rescale",
    "FullyConnected",
    "FloatCellWeights",
    "ElmanCellQ",
    "GRUCellQ",
    "LSTMCellQ",
    "Direction",
    "RecurrentLayer",
    "Embedding",
    "Dense",
    "Provenance",
    "QuantizedRNN",
    "iter_fully_connected",
    "save",
    "load",
    "to_bytes",
    "from_bytes",
    "GATE_SCALE",
    "Q15_SCALE",
    "fc_multipliers",
]
