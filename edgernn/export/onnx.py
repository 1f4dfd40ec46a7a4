"""ONNX export: graphs built with ``onnx.helper`` directly from the IR (no torch.onnx, no calibration).

Two graphs per model and precision:

* the **step graph** (unidirectional models): one time step with explicit state,
  ``(x, h0[, c0], h1[, c1], ...) -> (y, h0_out[, c0_out], ...)``, batch 1;
* the **sequence graph**: a whole sequence from a zero state, ``x (T, 1, F) -> y (T, 1, out)``
  plus ``y_last (1, out)`` (the head on the final hidden state, PyTorch's ``h_n``; what a
  many-to-one model outputs), bidirectional models included.

**float32** graphs use ONNX's native ``RNN``/``GRU``/``LSTM`` ops (a one-step sequence in the step
graph). PyTorch's gate blocks are reordered to ONNX's (GRU ``r,z,n -> z,r,h``; LSTM
``i,f,g,o -> i,o,f,c``) and the GRU uses ``linear_before_reset=1`` (PyTorch's reset gate placement).

**int8** graphs (``--format onnx``) are integer-exact: the integer reference's arithmetic in integer
ONNX ops, so ONNX Runtime's default CPU provider equals the reference bit for bit. Int8 x int8
products accumulate in ``MatMulInteger`` (int32; a cell's gate FCs sharing an input are one
product), the double-rounding requantization (gemmlowp's SaturatingRoundingDoublingHighMul and
RoundingDivideByPOT) is int64 ``Mul``/``Add``/``Div``/``Clip`` (:func:`requantize_nodes`), and the
int16 LOGISTIC/TANH are a ``Gather`` over the reference function's value at each of the 65,536
int16 inputs (128 KiB per distinct table; two per GRU/LSTM model, three when an LSTM's cell
state is not Q3.12, one for Elman).

**int8-qdq** graphs (``--format onnx-qdq``) are the QDQ variant, for execution providers that fuse
Q/DQ into integer kernels: int8/int16 tensors with ``DequantizeLinear``/``QuantizeLinear`` at
exactly the integer reference's rounding points, with the IR's scales and zero points (int8
activations and weights, int32 biases, int16 Q3.12 gate pre-activations, Q0.15 gate outputs, the
LSTM's int16 cell state and the GRU's int16 ``W_hn h + b_hn``). ONNX Runtime's CPU provider
computes between those points in float, so it is not exact (docs/compatibility.md).

Both int8 sequence graphs run the step body of each layer and direction in a ``Scan``.

Input normalization and the float quantize/dequantize at the model's edges stay outside the
graphs (the runtime does them once); their parameters are in ``metadata_props`` with the I/O layout.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgernn import __version__
from edgernn.engine import streams
from edgernn.errors import EdgeRNNError, ModelFileError
from edgernn.export import ExportOptions, ExportResult, TensorInfo, state_roles, tensor_infos_from_json
from edgernn.fileio import write_bytes_atomic
from edgernn.fixedpoint import (
    GATE_INPUT_SCALE_POWER,
    GATE_OUTPUT_SCALE_POWER,
    INT8_MAX,
    INT8_MIN,
    INT16_MAX,
    INT16_MIN,
    sigmoid_int16,
    tanh_int16,
)
from edgernn.ir import (
    Dense,
    ElmanCellQ,
    FloatCellWeights,
    FullyConnected,
    GRUCellQ,
    LSTMCellQ,
    QParams,
    QuantizedRNN,
    RecurrentLayer,
    Rescale,
)
from edgernn.types import Activation, CellType, OutputMode, Readout

#: Version of the edgernn layout inside an exported .onnx (tensor roles, metadata keys).
FORMAT_VERSION = 1
OPSET = 21  # int16 QuantizeLinear/DequantizeLinear need opset 21
IR_VERSION = 10  # the IR version of opset 21
PRECISIONS = ("int8", "int8-qdq", "float32")
GRAPHS = ("step", "sequence")

GATE_SCALE = 2.0**GATE_INPUT_SCALE_POWER  # Q3.12
Q15_SCALE = 2.0**GATE_OUTPUT_SCALE_POWER  # Q0.15

_ELEM = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
}
_ELEM_NAMES = {
    TensorProto.FLOAT: "float32",
    TensorProto.INT8: "int8",
    TensorProto.INT16: "int16",
    TensorProto.INT32: "int32",
    TensorProto.INT64: "int64",
}

# PyTorch gate block -> position in ONNX's weight layout.
_ONNX_GATE_ORDER: dict[CellType, tuple[int, ...]] = {
    CellType.RNN: (0,),
    CellType.GRU: (1, 0, 2),  # ONNX z, r, h from PyTorch r, z, n
    CellType.LSTM: (0, 3, 1, 2),  # ONNX i, o, f, c from PyTorch i, f, g, o
}
_NATIVE_OP = {CellType.RNN: "RNN", CellType.GRU: "GRU", CellType.LSTM: "LSTM"}


# --------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True)
class OnnxGraph:
    """One exported graph: the serialized model and the description of its inputs and outputs."""

    model: onnx.ModelProto = field(repr=False)
    graph: str  # "step" or "sequence"
    precision: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @functools.cached_property
    def data(self) -> bytes:
        return self.model.SerializeToString()


# --------------------------------------------------------------------------------------------
# Graph builder


class _Builder:
    """Nodes and initializers of one graph (or of a Scan body, whose constants live outside)."""

    def __init__(self, constants: _Builder | None = None) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._constants = constants or self
        self._names: set[str] = set()
        self._const_cache: dict[tuple[str, bytes, tuple[int, ...]], str] = {}
        #: quantization of each quantized tensor: name -> (scale constant, zero point constant, axis)
        self.quant: dict[str, tuple[str, str, int | None]] = {}

    def unique(self, name: str) -> str:
        root = self._constants
        candidate, n = name, 1
        while candidate in root._names:
            n += 1
            candidate = f"{name}_{n}"
        root._names.add(candidate)
        return candidate

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer (deduplicated by content)."""
        root = self._constants
        arr = np.array(value, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
        key = (str(arr.dtype), arr.tobytes(), arr.shape)
        found = root._const_cache.get(key)
        if found is not None:
            return found
        unique = root.unique(name)
        root.initializers.append(numpy_helper.from_array(arr, unique))
        root._const_cache[key] = unique
        return unique

    def node(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        out = self.unique(output)
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def node_multi(self, op: str, inputs: Sequence[str], outputs: Sequence[str], name: str, **attrs: Any) -> list[str]:
        outs = [self.unique(o) if o else "" for o in outputs]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.unique(name), **attrs))
        return outs

    # -- QDQ -------------------------------------------------------------------------------------

    def qparams(self, scale: float | np.ndarray, zero_point: int | np.ndarray, dtype: type) -> tuple[str, str]:
        s = np.asarray(scale, dtype=np.float32)
        z = np.asarray(zero_point, dtype=dtype)
        tag = "x".join(str(d) for d in s.shape) or "scalar"
        return self.const(f"scale_{tag}", s), self.const(f"zero_point_{np.dtype(dtype).name}_{tag}", z)

    def quantize(
        self, x: str, output: str, scale: float | np.ndarray, zero_point: int | np.ndarray, dtype: type
    ) -> str:
        s, z = self.qparams(scale, zero_point, dtype)
        out = self.node("QuantizeLinear", [x, s, z], output)
        self.quant[out] = (s, z, None)
        return out

    def dequantize(self, q: str) -> str:
        s, z, axis = self.quant[q]
        attrs = {} if axis is None else {"axis": axis}
        return self.node("DequantizeLinear", [q, s, z], f"{q}/dq", **attrs)

    def quantized_const(
        self, name: str, value: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int, axis: int | None
    ) -> str:
        q = self.const(name, value)
        s, z = self.qparams(scale, zero_point, value.dtype.type)
        self.quant[q] = (s, z, axis)
        return q


def _value_info(name: str, elem: int, shape: Sequence[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, list(shape))


# --------------------------------------------------------------------------------------------
# int8 (QDQ) cell bodies: the integer reference's rounding points as Q/DQ pairs


@dataclass
class _Int8Cell:
    """Context of one int8 cell body (one layer, one direction)."""

    b: _Builder
    layer: RecurrentLayer
    prefix: str
    x8: str  # int8 input, quantized with layer.input_q (int16 for a 16-bit model input)

    def fc16(self, x_float: str, fc: FullyConnected, name: str, input_scale: float) -> str:
        """The reference's int8 FULLY_CONNECTED with int16 output, as DQ -> MatMul -> Add -> Q."""
        b = self.b
        scales = np.asarray(fc.weight_scale, dtype=np.float32)
        per_tensor = len(set(scales.tolist())) == 1
        w_scale: np.ndarray | float = float(scales[0]) if per_tensor else scales
        # A 16x8 FC (a 16-bit model input) multiplies W (out, in) by x transposed: with the DQ weight as MatMul's
        # second input and a non-int8 activation, ONNX Runtime rewrites DQ -> MatMul into MatMulNBits, which by
        # default quantizes the activation to 8 bits (its accuracy level 4) and gives the int16 input back its
        # int8 rounding; as the first input it stays a float MatMul of the dequantized values.
        wide = fc.input_bits == 16
        wt = b.quantized_const(
            f"{name}/weight",
            np.ascontiguousarray(fc.weight if wide else fc.weight.T),
            w_scale,
            0 if per_tensor else np.zeros_like(fc.bias, np.int8),
            None if per_tensor else (0 if wide else 1),
        )
        bias_scale = fc.bias_scale(input_scale)
        bias = b.quantized_const(
            f"{name}/bias",
            fc.bias,
            float(bias_scale[0]) if per_tensor else bias_scale,
            0 if per_tensor else np.zeros_like(fc.bias),
            None if per_tensor else 0,
        )
        if wide:
            x_t = b.node("Transpose", [x_float], f"{name}/x_t", perm=[1, 0])
            mm_t = b.node("MatMul", [b.dequantize(wt), x_t], f"{name}/matmul_t")
            mm = b.node("Transpose", [mm_t], f"{name}/matmul", perm=[1, 0])
        else:
            mm = b.node("MatMul", [x_float, b.dequantize(wt)], f"{name}/matmul")
        acc = b.node("Add", [mm, b.dequantize(bias)], f"{name}/acc")
        if fc.output_bits == 16:
            return b.quantize(acc, name, fc.output_scale, 0, np.int16)
        return b.quantize(acc, name, fc.output_scale, fc.output_zero_point, np.int8)

    def add16(self, a: str, c: str, name: str, scale: float) -> str:
        """Saturating int16 add at one scale (exact in float: both are multiples of the scale)."""
        s = self.b.node("Add", [self.b.dequantize(a), self.b.dequantize(c)], f"{name}/sum")
        return self.b.quantize(s, name, scale, 0, np.int16)

    def act(self, op: str, q: str, name: str) -> str:
        """int16 LOGISTIC/TANH: Q3.12 (or the cell scale) in, Q0.15 out."""
        y = self.b.node(op, [self.b.dequantize(q)], f"{name}/float")
        return self.b.quantize(y, name, Q15_SCALE, 0, np.int16)

    def mul(self, a: str, c: str, name: str, scale: float, zero_point: int = 0, dtype: type = np.int16) -> str:
        p = self.b.node("Mul", [self.b.dequantize(a), self.b.dequantize(c)], f"{name}/product")
        return self.b.quantize(p, name, scale, zero_point, dtype)

    def to_hidden(self, q15: str, dequantized: bool = False) -> str:
        hq = self.layer.hidden_q
        x = q15 if dequantized else self.b.dequantize(q15)
        return self.b.quantize(x, f"{self.prefix}/h_out", hq.scale, hq.zero_point, np.int8)

    def input_float(self) -> str:
        return self.b.dequantize(self.x8)


@dataclass(frozen=True)
class _SecondState:
    """A layer's state tensor beside h: the LSTM's cell state, the int8 GRU's Q0.15 hidden state."""

    role: str  # "c" or "h_q15"; tensors are named f"{role[0]}{k}{role[1:]}" (c0, h0_q15)
    quant: tuple[float, int] | None  # int16 scale and zero point (None in float graphs)

    def name(self, k: int) -> str:
        return f"{self.role[0]}{k}{self.role[1:]}"


def _second_state(layer: RecurrentLayer, integer: bool) -> _SecondState | None:
    roles = state_roles(layer.cell, integer)
    if len(roles) == 1:
        return None
    cell = layer.directions[0].quant
    if not integer:
        return _SecondState(roles[1], None)
    scale = 2.0**cell.cell_scale_power if isinstance(cell, LSTMCellQ) else Q15_SCALE
    return _SecondState(roles[1], (scale, 0))


def _register_state_quant(b: _Builder, name: str, q: QParams | tuple[float, int], dtype: type) -> None:
    scale, zp = (q.scale, q.zero_point) if isinstance(q, QParams) else q
    s, z = b.qparams(scale, zp, dtype)
    b.quant[name] = (s, z, None)


@functools.singledispatch
def _int8_cell(cell: object, e: _Int8Cell, state: Sequence[str]) -> list[str]:
    """Emit one int8 cell step; returns the new state names (h, then c or h_q15 where the cell has one)."""
    raise TypeError(f"no ONNX form for {type(cell).__name__}")


@_int8_cell.register
def _(cell: ElmanCellQ, e: _Int8Cell, state: Sequence[str]) -> list[str]:
    (h8,) = state
    p, lay = e.prefix, e.layer
    xf, hf = e.input_float(), e.b.dequantize(h8)
    pre = e.add16(
        e.fc16(xf, cell.x_fc, f"{p}/x_fc", lay.input_q.scale),
        e.fc16(hf, cell.h_fc, f"{p}/h_fc", lay.hidden_q.scale),
        f"{p}/pre",
        cell.x_fc.output_scale,
    )
    if cell.relu:  # QuantizeLinear to int8 rounds and saturates; Relu keeps real 0 at the zero point
        return [e.to_hidden(e.b.node("Relu", [e.b.dequantize(pre)], f"{p}/relu"), dequantized=True)]
    return [e.to_hidden(e.act("Tanh", pre, f"{p}/tanh"))]


@_int8_cell.register
def _(cell: GRUCellQ, e: _Int8Cell, state: Sequence[str]) -> list[str]:
    h8, h_q15 = state  # the int8 hidden tensor and the int16 Q0.15 state the blend reads
    b, p, lay = e.b, e.prefix, e.layer
    s_x, s_h = lay.input_q.scale, lay.hidden_q.scale
    xf, hf = e.input_float(), b.dequantize(h8)
    gates = {}
    for g in "rz":
        pre = e.add16(
            e.fc16(xf, getattr(cell, f"x_{g}"), f"{p}/x_{g}", s_x),
            e.fc16(hf, getattr(cell, f"h_{g}"), f"{p}/h_{g}", s_h),
            f"{p}/{g}_pre",
            GATE_SCALE,
        )
        gates[g] = e.act("Sigmoid", pre, f"{p}/{g}")
    hn = e.fc16(hf, cell.h_n, f"{p}/h_n", s_h)
    reset_hidden = e.mul(gates["r"], hn, f"{p}/r_h_n", GATE_SCALE)
    n = e.act("Tanh", e.add16(e.fc16(xf, cell.x_n, f"{p}/x_n", s_x), reset_hidden, f"{p}/n_pre", GATE_SCALE), f"{p}/n")
    keep = e.mul(gates["z"], h_q15, f"{p}/z_h", Q15_SCALE)
    one = b.quantized_const(f"{p}/one_q15", np.array(INT16_MAX, dtype=np.int16), Q15_SCALE, 0, None)
    one_minus_z = b.quantize(
        b.node("Sub", [b.dequantize(one), b.dequantize(gates["z"])], f"{p}/one_minus_z/float"),
        f"{p}/one_minus_z",
        Q15_SCALE,
        0,
        np.int16,
    )
    update = e.mul(one_minus_z, n, f"{p}/one_minus_z_n", Q15_SCALE)
    h_q15_new = e.add16(keep, update, f"{p}/h_q15_out", Q15_SCALE)
    return [e.to_hidden(h_q15_new), h_q15_new]


@_int8_cell.register
def _(cell: LSTMCellQ, e: _Int8Cell, state: Sequence[str]) -> list[str]:
    h8, c16 = state
    b, p, lay = e.b, e.prefix, e.layer
    s_x, s_h = lay.input_q.scale, lay.hidden_q.scale
    xf, hf = e.input_float(), b.dequantize(h8)
    act = {"i": "Sigmoid", "f": "Sigmoid", "g": "Tanh", "o": "Sigmoid"}
    gates = {}
    for g in "ifgo":
        pre = e.add16(
            e.fc16(xf, getattr(cell, f"x_{g}"), f"{p}/x_{g}", s_x),
            e.fc16(hf, getattr(cell, f"h_{g}"), f"{p}/h_{g}", s_h),
            f"{p}/{g}_pre",
            GATE_SCALE,
        )
        gates[g] = e.act(act[g], pre, f"{p}/{g}")
    cell_scale = 2.0**cell.cell_scale_power
    forget = e.mul(gates["f"], c16, f"{p}/f_c", cell_scale)
    update = e.mul(gates["i"], gates["g"], f"{p}/i_g", cell_scale)
    if cell.cell_clip is None:
        c_new = e.add16(forget, update, f"{p}/c_out", cell_scale)
    else:  # TFLite's cell clip, in float between Q/DQ: +-clip * scale are multiples of the scale
        c_sum = b.dequantize(e.add16(forget, update, f"{p}/c_sum", cell_scale))
        bound = np.float32(cell.cell_clip_float)
        lo, hi = b.const("cell_clip_lo", -bound), b.const("cell_clip_hi", bound)
        clipped = b.node("Clip", [c_sum, lo, hi], f"{p}/c_clip")
        c_new = b.quantize(clipped, f"{p}/c_out", cell_scale, 0, np.int16)
    tanh_c = e.act("Tanh", c_new, f"{p}/tanh_c")
    hq = lay.hidden_q
    h_new = e.mul(gates["o"], tanh_c, f"{p}/h_out", hq.scale, hq.zero_point, np.int8)
    return [h_new, c_new]


def _int8_head(b: _Builder, head: Dense, h8: str, hidden_scale: float, name: str = "head") -> str:
    fc = head.fc
    scales = np.asarray(fc.weight_scale, dtype=np.float32)
    wt = b.quantized_const("head/weight", np.ascontiguousarray(fc.weight.T), scales, np.zeros(len(scales), np.int8), 1)
    bias = b.quantized_const("head/bias", fc.bias, fc.bias_scale(hidden_scale), np.zeros(len(scales), np.int32), 0)
    mm = b.node("MatMul", [b.dequantize(h8), b.dequantize(wt)], f"{name}/matmul")
    acc = b.node("Add", [mm, b.dequantize(bias)], f"{name}/acc")
    dtype = np.int16 if fc.output_bits == 16 else np.int8  # an int16 head output (edgernn.ir.Dense)
    return b.quantize(acc, f"{name}/out", head.output_q.scale, head.output_q.zero_point, dtype)


# --------------------------------------------------------------------------------------------
# int8 exact cell bodies: the integer reference's arithmetic in integer ONNX ops
#
# Every tensor between the int8/int16 state and I/O tensors is int64, in which each product the
# reference forms fits (|x| < 2**31 times a Q31 multiplier < 2**31). ONNX's integer Div truncates
# toward zero and ONNX Runtime's BitShift takes unsigned types only, so every division by a
# power of two is made floor division by first adding a multiple of the divisor that makes the
# dividend non-negative (the offset leaves a known constant in the quotient, removed afterwards).

_TWO_31 = 1 << 31
#: 2**62 makes every SRDHM dividend ``x * M + 2**30`` non-negative (|x * M| < 2**62 - 2**31).
_SRDHM_OFFSET = (1 << 62) + (1 << 30)


def _pairs(multiplier: Any, shift: Any) -> tuple[np.ndarray, np.ndarray]:
    m, s = np.broadcast_arrays(np.asarray(multiplier, np.int64), np.asarray(shift, np.int64))
    return m.astype(np.int64), s.astype(np.int64)


def requantize_nodes(
    b: _Builder, x: str, multiplier: Any, shift: Any, zero_point: Any, lo: int, hi: int, name: str
) -> str:
    """:func:`edgernn.fixedpoint.requantize` of the int64 tensor ``x`` in integer ONNX ops.

    Double rounding as TFLite Micro computes it. SRDHM ``round(x * M / 2**31)`` with ties toward
    +infinity is ``floor((x * M + 2**30) / 2**31)`` for either sign; RoundingDivideByPOT of ``q``
    by ``2**e`` (ties away from zero) is ``floor((q + 2**(e-1) - [q < 0]) / 2**e)`` for ``e >= 1``.
    A positive shift (a left shift in int32) is folded into the multiplier.
    """
    m, s = _pairs(multiplier, shift)
    right = np.maximum(-s, 0)
    c = b.const
    p = b.node("Mul", [x, c(f"{name}/m", m << np.maximum(s, 0))], f"{name}/product")
    # q_off = SRDHM(x, M) + 2**31 (the offset 2**62 divided by 2**31)
    q_off = b.node(
        "Div",
        [
            b.node("Add", [p, c("srdhm_offset", np.int64(_SRDHM_OFFSET))], f"{name}/nudged"),
            c("two_31", np.int64(_TWO_31)),
        ],
        f"{name}/srdhm",
    )
    zp = np.asarray(zero_point, np.int64)
    if not right.any():
        r = b.node("Add", [q_off, c(f"{name}/zp", zp - _TWO_31)], f"{name}/scaled")
    else:
        rounds = right > 0
        half = np.where(rounds, np.int64(1) << np.maximum(right - 1, 0), 0)
        # minus = -[q < 0] in {-1, 0}: q_off clipped to [2**31 - 1, 2**31], less 2**31.
        minus = b.node(
            "Clip", [q_off, c("two_31_m1", np.int64(_TWO_31 - 1)), c("two_31", np.int64(_TWO_31))], f"{name}/sign"
        )
        if rounds.all():
            # dividend q_off + half + minus - 2**31 (>= 0) = q + half - [q < 0] + 2**31
            total = b.node(
                "Add",
                [b.node("Add", [q_off, minus], f"{name}/signed"), c(f"{name}/half", half - _TWO_31)],
                f"{name}/rounded",
            )
        else:  # some rows have no right shift: their -[q < 0] term is multiplied away
            minus = b.node(
                "Mul",
                [
                    b.node("Sub", [minus, c("two_31", np.int64(_TWO_31))], f"{name}/neg"),
                    c(f"{name}/rounds", rounds.astype(np.int64)),
                ],
                f"{name}/neg_rows",
            )
            total = b.node(
                "Add", [b.node("Add", [q_off, minus], f"{name}/signed"), c(f"{name}/half", half)], f"{name}/rounded"
            )
        quotient = b.node("Div", [total, c(f"{name}/pot", np.int64(1) << right)], f"{name}/rdbpot")
        # the dividend carried + 2**31: its quotient carries + 2**(31 - e)
        r = b.node("Add", [quotient, c(f"{name}/zp", zp - (np.int64(_TWO_31) >> right))], f"{name}/scaled")
    return b.node("Clip", [r, c(f"int64_{lo}", np.int64(lo)), c(f"int64_{hi}", np.int64(hi))], name)


def _lut_table(fn: Any, *args: int) -> np.ndarray:
    """``fn`` (an int16 LUT function of :mod:`edgernn.fixedpoint`) at every int16 input, in the
    order 0..32767, -32768..-1 (entry ``x mod 65536``): the lookup is exact by construction."""
    inputs = np.arange(INT16_MIN, INT16_MAX + 1, dtype=np.int64)
    return np.roll(np.asarray(fn(inputs, *args), dtype=np.int16), INT16_MIN)


@dataclass
class _ExactCell:
    """Context of one exact int8 cell body (one layer, one direction)."""

    b: _Builder
    layer: RecurrentLayer
    prefix: str
    x8: str  # int8 input (int16 for a 16-bit model input: layer.input_bits)

    def fc(self, x8: str, fcs: Sequence[FullyConnected], name: str, sizes: Sequence[int] | None = None) -> list[str]:
        """FULLY_CONNECTEDs sharing their int8 input as one MatMulInteger (rows concatenated),
        requantized per row; returns the int64 output split into ``sizes`` (default: one per FC)."""
        b, c = self.b, self.b.const
        lo, hi = fcs[0].output_range
        assert all(f.output_range == (lo, hi) and f.input_zero_point == fcs[0].input_zero_point for f in fcs)
        weight = np.concatenate([f.weight for f in fcs], axis=0)
        if fcs[0].input_bits == 16:
            # MatMulInteger takes 8-bit operands only: a 16-bit input (zero point 0) is an int64 MatMul,
            # exact, and equal to the int32 sum every other backend computes (the IR bounds it in int32).
            acc = b.node(
                "MatMul",
                [self.widen(x8), c(f"{name}/weight64", np.ascontiguousarray(weight.T).astype(np.int64))],
                f"{name}/acc64",
            )
        else:
            acc32 = b.node(
                "MatMulInteger",
                [
                    x8,
                    c(f"{name}/weight", np.ascontiguousarray(weight.T)),
                    c(f"int8_{fcs[0].input_zero_point}", np.int8(fcs[0].input_zero_point)),
                ],
                f"{name}/matmul",
            )
            acc = b.node("Cast", [acc32], f"{name}/acc64", to=TensorProto.INT64)
        biased = b.node(
            "Add", [acc, c(f"{name}/bias", np.concatenate([f.bias for f in fcs]).astype(np.int64))], f"{name}/acc"
        )
        out = requantize_nodes(
            b,
            biased,
            np.concatenate([f.multiplier for f in fcs]),
            np.concatenate([f.shift for f in fcs]),
            np.concatenate([np.full(f.out_features, f.output_zero_point) for f in fcs]),
            lo,
            hi,
            name,
        )
        return self.split(out, [f.out_features for f in fcs] if sizes is None else sizes, name)

    def split(self, x: str, sizes: Sequence[int], name: str) -> list[str]:
        if len(sizes) == 1:
            return [x]
        parts = [f"{name}/{k}" for k in range(len(sizes))]
        return self.b.node_multi(
            "Split",
            [x, self.b.const(f"split_{'_'.join(map(str, sizes))}", np.array(sizes, np.int64))],
            parts,
            f"{name}/split",
            axis=1,
        )

    def add16(self, a: str, c: str, name: str) -> str:
        """Saturating int16 add."""
        return self.clip16(self.b.node("Add", [a, c], f"{name}/sum"), name)

    def clip16(self, x: str, name: str) -> str:
        c = self.b.const
        return self.b.node(
            "Clip",
            [x, c(f"int64_{INT16_MIN}", np.int64(INT16_MIN)), c(f"int64_{INT16_MAX}", np.int64(INT16_MAX))],
            name,
        )

    def lut(self, fn: Any, x: str, name: str, *args: int) -> str:
        """An int16 LOGISTIC/TANH as a Gather over the function's 65,536 outputs (indexed by the
        int16 input itself: Gather reads a negative index from the table's end)."""
        b = self.b
        table = b.const(f"lut/{fn.__name__}" + "".join(f"_{a}" for a in args), _lut_table(fn, *args))
        return b.node("Cast", [b.node("Gather", [table, x], f"{name}/int16")], name, to=TensorProto.INT64)

    def mul(self, a: str, c: str, rescale: Rescale, name: str, zero_point: int = 0, bits: int = 16) -> str:
        """:func:`edgernn.fixedpoint.multiply_int16`."""
        lo, hi = (INT16_MIN, INT16_MAX) if bits == 16 else (INT8_MIN, INT8_MAX)
        product = self.b.node("Mul", [a, c], f"{name}/int_product")
        return requantize_nodes(self.b, product, rescale.multiplier, rescale.shift, zero_point, lo, hi, name)

    def widen(self, q: str) -> str:
        return self.b.node("Cast", [q], f"{q}/int64", to=TensorProto.INT64)

    def narrow(self, x: str, name: str, elem: int) -> str:
        return self.b.node("Cast", [x], name, to=elem)

    def to_hidden(self, q15: str, rescale: Rescale, lo: int = INT8_MIN) -> str:
        hq = self.layer.hidden_q
        h = requantize_nodes(
            self.b, q15, rescale.multiplier, rescale.shift, hq.zero_point, lo, INT8_MAX, f"{self.prefix}/h_int"
        )
        return self.narrow(h, f"{self.prefix}/h_out", TensorProto.INT8)


@functools.singledispatch
def _exact_cell(cell: object, e: _ExactCell, state: Sequence[str]) -> list[str]:
    """Emit one exact int8 cell step; same interface as :func:`_int8_cell`."""
    raise TypeError(f"no ONNX form for {type(cell).__name__}")


@_exact_cell.register
def _(cell: ElmanCellQ, e: _ExactCell, state: Sequence[str]) -> list[str]:
    (h8,) = state
    p = e.prefix
    (xo,) = e.fc(e.x8, [cell.x_fc], f"{p}/x_fc")
    (ho,) = e.fc(h8, [cell.h_fc], f"{p}/h_fc")
    pre = e.add16(xo, ho, f"{p}/pre")
    if cell.relu:  # requantized, clamped below at the zero point (real 0)
        return [e.to_hidden(pre, cell.to_hidden, lo=e.layer.hidden_q.zero_point)]
    t = e.lut(tanh_int16, pre, f"{p}/tanh")
    return [e.to_hidden(t, cell.to_hidden)]


@_exact_cell.register
def _(cell: GRUCellQ, e: _ExactCell, state: Sequence[str]) -> list[str]:
    h8, h_q15 = state
    b, p = e.b, e.prefix
    hidden = e.layer.hidden_size
    # r and z share one pre-activation add and one lookup over 2H values
    x_rz, x_n = e.fc(e.x8, [cell.x_r, cell.x_z, cell.x_n], f"{p}/x_fc", [2 * hidden, hidden])
    h_rz, h_n = e.fc(h8, [cell.h_r, cell.h_z, cell.h_n], f"{p}/h_fc", [2 * hidden, hidden])
    rz = e.lut(sigmoid_int16, e.add16(x_rz, h_rz, f"{p}/rz_pre"), f"{p}/rz")
    r, z = e.split(rz, [hidden, hidden], f"{p}/rz")
    reset_hidden = e.mul(r, h_n, cell.reset_mul, f"{p}/r_h_n")
    n = e.lut(tanh_int16, e.add16(x_n, reset_hidden, f"{p}/n_pre"), f"{p}/n")
    keep = e.mul(z, e.widen(h_q15), cell.gate_mul, f"{p}/z_h")
    # 32767 - z needs no saturation: the sigmoid is in [0, 32767]
    one_minus_z = b.node("Sub", [b.const("int64_32767", np.int64(INT16_MAX)), z], f"{p}/one_minus_z")
    update = e.mul(one_minus_z, n, cell.gate_mul, f"{p}/one_minus_z_n")
    h_q15_new = e.add16(keep, update, f"{p}/h_q15_int")
    return [e.to_hidden(h_q15_new, cell.to_hidden), e.narrow(h_q15_new, f"{p}/h_q15_out", TensorProto.INT16)]


@_exact_cell.register
def _(cell: LSTMCellQ, e: _ExactCell, state: Sequence[str]) -> list[str]:
    h8, c16 = state
    p = e.prefix
    hidden = e.layer.hidden_size
    # rows in the order i, f, o, g: one add, then a sigmoid lookup over 3H values and a tanh over H
    order = "ifog"
    (xs,) = e.fc(e.x8, [getattr(cell, f"x_{g}") for g in order], f"{p}/x_fc", [4 * hidden])
    (hs,) = e.fc(h8, [getattr(cell, f"h_{g}") for g in order], f"{p}/h_fc", [4 * hidden])
    sig_pre, g_pre = e.split(e.add16(xs, hs, f"{p}/pre"), [3 * hidden, hidden], f"{p}/pre")
    gates = dict(zip("ifo", e.split(e.lut(sigmoid_int16, sig_pre, f"{p}/ifo"), [hidden] * 3, f"{p}/ifo")))
    gates["g"] = e.lut(tanh_int16, g_pre, f"{p}/g")
    forget = e.mul(gates["f"], e.widen(c16), cell.forget_mul, f"{p}/f_c")
    update = e.mul(gates["i"], gates["g"], cell.input_mul, f"{p}/i_g")
    c_new = e.add16(forget, update, f"{p}/c_int")
    if cell.cell_clip is not None:  # TFLite's cell clip: after the saturating add, before tanh(c)
        clip = cell.cell_clip
        lo, hi = e.b.const(f"int64_{-clip}", np.int64(-clip)), e.b.const(f"int64_{clip}", np.int64(clip))
        c_new = e.b.node("Clip", [c_new, lo, hi], f"{p}/c_clip")
    tanh_c = e.lut(tanh_int16, c_new, f"{p}/tanh_c", *cell.cell_tanh_params)
    hq = e.layer.hidden_q
    h_new = e.mul(gates["o"], tanh_c, cell.output_mul, f"{p}/h_int", hq.zero_point, bits=8)
    return [e.narrow(h_new, f"{p}/h_out", TensorProto.INT8), e.narrow(c_new, f"{p}/c_out", TensorProto.INT16)]


def _exact_head(b: _Builder, head: Dense, h8: str, name: str = "head") -> str:
    e = _ExactCell(b, None, name, h8)  # type: ignore[arg-type]
    (y,) = e.fc(h8, [head.fc], name)
    return e.narrow(y, f"{name}/out", _output_elem(head.fc.output_bits, True))


def _output_elem(bits: int, integer: bool) -> int:
    """The ONNX element type of the model's output y: float32, int8, or int16 for an int16 head."""
    if not integer:
        return TensorProto.FLOAT
    return TensorProto.INT16 if bits == 16 else TensorProto.INT8


# --------------------------------------------------------------------------------------------
# float cells: ONNX's native recurrent ops


def _native_weights(cell: CellType, directions: Sequence[FloatCellWeights]) -> tuple[np.ndarray, ...]:
    """W, R, B in ONNX's layout and gate order, one slice per direction."""
    order = _ONNX_GATE_ORDER[cell]
    hidden = directions[0].weight_hh.shape[1]

    def reorder(a: np.ndarray) -> np.ndarray:
        blocks = [a[g * hidden : (g + 1) * hidden] for g in order]
        return np.concatenate(blocks, axis=0)

    w = np.stack([reorder(d.weight_ih) for d in directions]).astype(np.float32)
    r = np.stack([reorder(d.weight_hh) for d in directions]).astype(np.float32)
    bias = np.stack([np.concatenate([reorder(d.bias_ih), reorder(d.bias_hh)]) for d in directions]).astype(np.float32)
    return w, r, bias


def _native_layer(
    b: _Builder, layer: RecurrentLayer, k: int, x_seq: str, initial: Sequence[str] | None
) -> tuple[str, list[str]]:
    """One layer as ONNX's native op: ``x (T, 1, I) -> (Y (T, D, 1, H), [Y_h, Y_c] (D, 1, H))``."""
    cell = layer.cell
    w, r, bias = _native_weights(cell, [d.float_weights for d in layer.directions])
    attrs: dict[str, Any] = {
        "hidden_size": layer.hidden_size,
        "direction": "bidirectional" if layer.bidirectional else "forward",
    }
    if cell is CellType.GRU:
        attrs["linear_before_reset"] = 1
    cell_q = layer.directions[0].quant
    if isinstance(cell_q, ElmanCellQ) and cell_q.relu:
        attrs["activations"] = ["Relu"] * len(layer.directions)
    inputs = [x_seq, b.const(f"l{k}/W", w), b.const(f"l{k}/R", r), b.const(f"l{k}/B", bias), ""]
    inputs += list(initial) if initial is not None else []
    outs = [f"l{k}/Y", f"l{k}/Y_h"] + ([f"l{k}/Y_c"] if cell is CellType.LSTM else [])
    y, *states = b.node_multi(_NATIVE_OP[cell], inputs, outs, f"l{k}/{_NATIVE_OP[cell]}", **attrs)
    return y, states


def _float_head(b: _Builder, head: Dense, h: str, name: str = "head") -> str:
    mm = b.node("MatMul", [h, b.const("head/weight", np.ascontiguousarray(head.weight.T))], f"{name}/matmul")
    return b.node("Add", [mm, b.const("head/bias", head.bias)], f"{name}/out")


# --------------------------------------------------------------------------------------------
# Readouts and the activation before the head (ModelConfig.readout / head_activation), in each
# precision: the integer reference's arithmetic in "int8", Q/DQ pairs in "int8-qdq", float ops.


def _head_relu(b: _Builder, model: QuantizedRNN, x: str, precision: str, name: str) -> str:
    """ReLU of the top layer's values: int8 max(h, zero point) (a Clip, exact), or float Relu."""
    if model.config.head_activation is not Activation.RELU:
        return x
    hq = model.layers[-1].hidden_q
    if precision == "int8":
        return b.node("Clip", [x, b.const("top_zero_point", np.array(hq.zero_point, np.int8))], f"{name}/relu")
    if precision == "int8-qdq":
        y = b.node("Relu", [b.dequantize(x)], f"{name}/relu_float")
        return b.quantize(y, f"{name}/relu", hq.scale, hq.zero_point, np.int8)
    return b.node("Relu", [x], f"{name}/relu")


def _head_tanh(b: _Builder, model: QuantizedRNN, x: str, precision: str, name: str) -> str:
    """tanh of the top layer's values (:class:`edgernn.ir.HeadTanh`): in "int8" the reference's integers
    (requantize to Q3.12, the int16 TANH as a Gather like the cells', requantize to int8 at its output_q),
    in "int8-qdq" a float Tanh between Q/DQ at that quantization, else a float Tanh."""
    tanh = model.head_tanh
    if precision == "int8":
        assert tanh is not None
        hq = model.layers[-1].hidden_q
        c = b.const
        wide = b.node("Cast", [x], f"{name}/tanh/int64", to=TensorProto.INT64)
        centered = b.node("Sub", [wide, c("top_zero_point_int64", np.array(hq.zero_point, np.int64))], f"{name}/tc")
        q312 = requantize_nodes(
            b, centered, tanh.to_q312.multiplier, tanh.to_q312.shift, 0, INT16_MIN, INT16_MAX, f"{name}/tanh/q312"
        )
        table = c("lut/tanh_int16", _lut_table(tanh_int16))
        t = b.node(
            "Cast", [b.node("Gather", [table, q312], f"{name}/tanh/int16")], f"{name}/tanh/q15", to=TensorProto.INT64
        )
        out = requantize_nodes(
            b,
            t,
            tanh.to_int8.multiplier,
            tanh.to_int8.shift,
            tanh.output_q.zero_point,
            INT8_MIN,
            INT8_MAX,
            f"{name}/tanh/i",
        )
        return b.node("Cast", [out], f"{name}/tanh", to=TensorProto.INT8)
    if precision == "int8-qdq":  # the integer path's int16 steps as Q/DQ pairs around a float Tanh
        q312 = b.quantize(b.dequantize(x), f"{name}/tanh/q312", 2.0**-12, 0, np.int16)
        t = b.node("Tanh", [b.dequantize(q312)], f"{name}/tanh_float")
        q15 = b.quantize(t, f"{name}/tanh/q15", 2.0**-15, 0, np.int16)
        out_q = model.head_input_q
        return b.quantize(b.dequantize(q15), f"{name}/tanh", out_q.scale, out_q.zero_point, np.int8)
    return b.node("Tanh", [x], f"{name}/tanh")


def _head_activation(b: _Builder, model: QuantizedRNN, x: str, precision: str, name: str) -> str:
    """The activation between the recurrent stack and the head (ModelConfig.head_activation)."""
    if model.config.head_activation is Activation.TANH:
        return _head_tanh(b, model, x, precision, name)
    return _head_relu(b, model, x, precision, name)


def _running_mean(b: _Builder, model: QuantizedRNN, x: str, precision: str) -> str:
    """Row t of ``x`` (T, 1, W) becomes the mean of rows 0..t (:func:`edgernn.reference.running_mean`
    in "int8": ``zp + sign(s) * ((2|s| + n) / (2n))`` on the int64 sum ``s`` of ``h - zp``)."""
    steps = b.node("Shape", [x], "mean/steps", start=0, end=1)
    one = b.const("one_int64", np.array(1, np.int64))
    count = b.node("Range", [one, b.node("Add", [steps, one], "mean/steps_plus_1"), one], "mean/count_1d")
    count = b.node("Reshape", [count, _shape_const(b, "shape_T11", [-1, 1, 1])], "mean/count")
    axis = b.const("axis0_int64", np.array(0, np.int64))
    if precision == "int8":
        hq = model.layers[-1].hidden_q
        zp = b.const("top_zero_point_int64", np.array(hq.zero_point, np.int64))
        two = b.const("two_int64", np.array(2, np.int64))
        centered = b.node("Sub", [b.node("Cast", [x], "mean/int64", to=TensorProto.INT64), zp], "mean/centered")
        total = b.node("CumSum", [centered, axis], "mean/sum")
        twice_abs = b.node("Mul", [b.node("Abs", [total], "mean/abs"), two], "mean/2abs")
        numerator = b.node("Add", [twice_abs, count], "mean/num")
        magnitude = b.node("Div", [numerator, b.node("Mul", [count, two], "mean/2n")], "mean/magnitude")
        signed = b.node("Mul", [b.node("Sign", [total], "mean/sign"), magnitude], "mean/signed")
        return b.node("Cast", [b.node("Add", [signed, zp], "mean/int")], "mean/out", to=TensorProto.INT8)
    real = b.dequantize(x) if precision == "int8-qdq" else x
    mean = b.node(
        "Div",
        [b.node("CumSum", [real, axis], "mean/sum"), b.node("Cast", [count], "mean/count_float", to=TensorProto.FLOAT)],
        "mean/float",
    )
    if precision == "int8-qdq":
        hq = model.layers[-1].hidden_q
        return b.quantize(mean, "mean/out", hq.scale, hq.zero_point, np.int8)
    return mean


def _last_row(b: _Builder, x: str) -> str:
    """Row T-1 of ``x`` (T, 1, W): (1, W)."""
    return b.node("Gather", [x, b.const("index_last", np.array(-1, np.int64))], "readout/last")


# --------------------------------------------------------------------------------------------
# Whole graphs


def _shape_const(b: _Builder, name: str, values: Sequence[int]) -> str:
    return b.const(name, np.array(values, dtype=np.int64))


class _GraphSpec:
    """Inputs and outputs being declared for one graph, with their descriptions."""

    def __init__(self, integer: bool) -> None:
        self.integer = integer
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.input_info: list[TensorInfo] = []
        self.output_info: list[TensorInfo] = []

    def add(
        self,
        kind: str,
        name: str,
        elem: int,
        shape: Sequence[int | str],
        role: str,
        layer: int | None,
        q: QParams | tuple[float, int] | None,
    ) -> None:
        scale, zp = (q.scale, q.zero_point) if isinstance(q, QParams) else (q or (None, None))
        info = TensorInfo(
            name=name,
            role=role,
            layer=layer,
            dtype=_ELEM_NAMES[elem],
            shape=tuple(shape),
            scale=scale if self.integer else None,
            zero_point=zp if self.integer else None,
        )
        vi = _value_info(name, elem, shape)
        if kind == "input":
            self.inputs.append(vi)
            self.input_info.append(info)
        else:
            self.outputs.append(vi)
            self.output_info.append(info)


def _rename(b: _Builder, source: str, target: str) -> str:
    """Graph outputs get stable names: an Identity from the internal tensor."""
    b._constants._names.add(target)
    b.nodes.append(helper.make_node("Identity", [source], [target], name=f"{target}/identity"))
    return target


def _elem_of_bits(bits: int) -> int:
    return TensorProto.INT16 if bits == 16 else TensorProto.INT8


def _input_elem(model: QuantizedRNN, integer: bool) -> int:
    """The element type of the float-feature input ``x``: int8, int16 (a 16-bit input) or float."""
    return _elem_of_bits(model.input_bits) if integer else TensorProto.FLOAT


def _input_dtype(model: QuantizedRNN) -> type:
    return np.int16 if model.input_bits == 16 else np.int8


def _step_graph(model: QuantizedRNN, precision: str) -> tuple[onnx.GraphProto, _GraphSpec]:
    integer, qdq = precision != "float32", precision == "int8-qdq"
    cfg = model.config
    b = _Builder()
    spec = _GraphSpec(integer)
    act_elem = TensorProto.INT8 if integer else TensorProto.FLOAT
    first_q = model.input_q
    if cfg.uses_tokens:
        assert model.embedding is not None
        spec.add("input", "tokens", TensorProto.INT64, [1], "x", None, None)
        b._names.add("tokens")
        table = model.embedding.table if integer else model.embedding.weight
        x = b.node("Gather", [b.const("embedding/table", table), "tokens"], "embedding/out")
    else:
        spec.add("input", "x", _input_elem(model, integer), [1, cfg.input_size], "x", None, first_q)
        b._names.add("x")
        x = "x"
    if qdq:
        _register_state_quant(b, x, first_q, _input_dtype(model))
    state_out: list[tuple[str, str, str, int, Any, int]] = []
    second_elem = TensorProto.INT16 if integer else TensorProto.FLOAT
    for k, layer in enumerate(model.layers):
        hq = layer.hidden_q
        h_name = f"h{k}"
        spec.add("input", h_name, act_elem, [1, layer.hidden_size], "h", k, hq)
        b._names.add(h_name)
        second = _second_state(layer, integer)
        state = [h_name]
        if second is not None:
            spec.add("input", second.name(k), second_elem, [1, layer.hidden_size], second.role, k, second.quant)
            b._names.add(second.name(k))
            state.append(second.name(k))
        if qdq:
            _register_state_quant(b, h_name, hq, np.int8)
            if second is not None:
                assert second.quant is not None
                _register_state_quant(b, second.name(k), second.quant, np.int16)
            new_state = _int8_cell(layer.directions[0].quant, _Int8Cell(b, layer, f"l{k}", x), state)
        elif integer:
            new_state = _exact_cell(layer.directions[0].quant, _ExactCell(b, layer, f"l{k}", x), state)
        else:
            axes = _shape_const(b, "axes0", [0])
            x_seq = b.node("Unsqueeze", [x, axes], f"l{k}/x_seq")
            initial = [b.node("Unsqueeze", [s, axes], f"l{k}/{s}_initial") for s in state]
            _, finals = _native_layer(b, layer, k, x_seq, initial)
            new_state = [b.node("Squeeze", [f, axes], f"l{k}/{n}_new") for f, n in zip(finals, ("h", "c"))]
        state_out.append((new_state[0], f"h{k}_out", "h_out", k, hq, act_elem))
        if second is not None:
            state_out.append(
                (new_state[1], f"{second.name(k)}_out", f"{second.role}_out", k, second.quant, second_elem)
            )
        x = new_state[0]
    x = _head_activation(b, model, x, precision, "top")
    if model.head is not None:
        if qdq:
            y = _int8_head(b, model.head, x, model.head_input_q.scale)
        else:
            y = _exact_head(b, model.head, x) if integer else _float_head(b, model.head, x)
    else:
        y = x
    out_width = cfg.output_width
    spec.add("output", "y", _output_elem(model.output_bits, integer), [1, out_width], "y", None, model.output_q)
    _rename(b, y, "y")
    for source, name, role, k, q, elem in state_out:
        spec.add("output", name, elem, [1, model.layers[k].hidden_size], role, k, q)
        _rename(b, source, name)
    graph = helper.make_graph(b.nodes, "edgernn_step", spec.inputs, spec.outputs, b.initializers)
    return graph, spec


def _scan_layer_int8(b: _Builder, model: QuantizedRNN, k: int, direction: int, x_seq: str, qdq: bool) -> str:
    """One int8 layer direction over the sequence as a Scan of its step body: ``(T, 1, I) -> (T, 1, H)``."""
    layer = model.layers[k]
    cell = layer.directions[direction].quant
    second = _second_state(layer, integer=True)
    prefix = f"l{k}" + ("_reverse" if direction else "")
    body = _Builder(constants=b)
    body.quant = b.quant  # the outer graph's quantization constants are visible in the body
    hq = layer.hidden_q
    h_in, c_in, x_in = (b.unique(f"{prefix}/body/{n}") for n in ("h", "c", "x"))
    state = [h_in] if second is None else [h_in, c_in]
    if qdq:
        _register_state_quant(b, h_in, hq, np.int8)
        _register_state_quant(b, x_in, layer.input_q, np.int16 if layer.input_bits == 16 else np.int8)
        if second is not None:
            assert second.quant is not None
            _register_state_quant(b, c_in, second.quant, np.int16)
        new_state = _int8_cell(cell, _Int8Cell(body, layer, prefix, x_in), state)
    else:
        new_state = _exact_cell(cell, _ExactCell(body, layer, prefix, x_in), state)
    # Scan outputs: the new state (carried) and a copy of h (stacked over time).
    body_outputs = [body.node("Identity", [s], f"{prefix}/body/{n}_next") for s, n in zip(new_state, ("h", "c"))]
    body_outputs.append(body.node("Identity", [new_state[0]], f"{prefix}/body/y"))
    state_vi = [_value_info(h_in, TensorProto.INT8, [1, layer.hidden_size])]
    out_vi = [_value_info(body_outputs[0], TensorProto.INT8, [1, layer.hidden_size])]
    if second is not None:
        state_vi.append(_value_info(c_in, TensorProto.INT16, [1, layer.hidden_size]))
        out_vi.append(_value_info(body_outputs[1], TensorProto.INT16, [1, layer.hidden_size]))
    out_vi.append(_value_info(body_outputs[-1], TensorProto.INT8, [1, layer.hidden_size]))
    body_graph = helper.make_graph(
        body.nodes,
        f"{prefix}_step",
        [*state_vi, _value_info(x_in, _elem_of_bits(layer.input_bits), [1, layer.input_size])],
        out_vi,
    )
    zero_h = b.const(f"{prefix}/h_zero", np.full((1, layer.hidden_size), hq.zero_point, dtype=np.int8))
    initial = [zero_h]
    if second is not None:
        initial.append(b.const(f"{prefix}/c_zero", np.zeros((1, layer.hidden_size), dtype=np.int16)))
    outs = [f"{prefix}/h_final", f"{prefix}/c_final"][: len(initial)] + [f"{prefix}/h_seq"]
    results = b.node_multi(
        "Scan",
        [*initial, x_seq],
        outs,
        f"{prefix}/scan",
        body=body_graph,
        num_scan_inputs=1,
        scan_input_directions=[direction],
        scan_output_directions=[direction],
    )
    return results[-1]


def _sequence_graph(model: QuantizedRNN, precision: str) -> tuple[onnx.GraphProto, _GraphSpec]:
    integer, qdq = precision != "float32", precision == "int8-qdq"
    cfg = model.config
    b = _Builder()
    spec = _GraphSpec(integer)
    first_q = model.input_q
    if cfg.uses_tokens:
        assert model.embedding is not None
        spec.add("input", "tokens", TensorProto.INT64, ["T", 1], "x", None, None)
        b._names.add("tokens")
        table = model.embedding.table if integer else model.embedding.weight
        x = b.node("Gather", [b.const("embedding/table", table), "tokens"], "embedding/out")
    else:
        spec.add("input", "x", _input_elem(model, integer), ["T", 1, cfg.input_size], "x", None, first_q)
        b._names.add("x")
        x = "x"
    if qdq:
        _register_state_quant(b, x, first_q, _input_dtype(model))
    last_hidden: list[str] = []
    for k, layer in enumerate(model.layers):
        if integer:
            per_direction = [_scan_layer_int8(b, model, k, d, x, qdq) for d in range(len(layer.directions))]
            x = per_direction[0] if len(per_direction) == 1 else b.node("Concat", per_direction, f"l{k}/out", axis=2)
            if qdq:
                _register_state_quant(b, x, layer.hidden_q, np.int8)
            if k == len(model.layers) - 1:
                # final hidden state: the forward direction's last step, the backward direction's first
                last_hidden = [
                    b.node(
                        "Gather", [seq, b.const("index_last", np.array(-1 if d == 0 else 0, np.int64))], f"l{k}/h_n{d}"
                    )
                    for d, seq in enumerate(per_direction)
                ]
        else:
            y, finals = _native_layer(b, layer, k, x, None)
            # Y (T, D, 1, H) -> (T, 1, D*H)
            t = b.node("Transpose", [y], f"l{k}/Y_time_batch", perm=[0, 2, 1, 3])
            x = b.node(
                "Reshape",
                [t, _shape_const(b, f"shape_T1_{layer.hidden_size * len(layer.directions)}", [0, 0, -1])],
                f"l{k}/out",
            )
            if k == len(model.layers) - 1:
                last_hidden = [finals[0]]  # Y_h (D, 1, H)
    if integer:
        h_n = last_hidden[0] if len(last_hidden) == 1 else b.node("Concat", last_hidden, "h_n", axis=1)
        if qdq:
            _register_state_quant(b, h_n, model.layers[-1].hidden_q, np.int8)
    else:
        # Y_h (D, 1, H) -> (1, D*H)
        t = b.node("Transpose", last_hidden, "h_n/batch_first", perm=[1, 0, 2])
        h_n = b.node("Reshape", [t, _shape_const(b, "shape_1_flat", [1, -1])], "h_n")
    if cfg.output_mode is OutputMode.LAST and cfg.readout is Readout.MEAN:
        x = _running_mean(b, model, x, precision)  # y: the head on the mean so far; y_last: on the whole mean
    if cfg.output_mode is OutputMode.LAST and cfg.readout is not Readout.FINAL_STATE:
        h_n = _last_row(b, x)  # output[:, -1] (the backward half has seen one step), or the mean
        if qdq:
            _register_state_quant(b, h_n, model.layers[-1].hidden_q, np.int8)
    x = _head_activation(b, model, x, precision, "top")
    h_n = _head_activation(b, model, h_n, precision, "h_n")
    if model.head is not None:
        hq_scale = model.head_input_q.scale
        if qdq:
            y = _int8_head(b, model.head, x, hq_scale)
            y_last = _int8_head(b, model.head, h_n, hq_scale, "head_last")
        elif integer:
            y = _exact_head(b, model.head, x)
            y_last = _exact_head(b, model.head, h_n, "head_last")
        else:
            y = _float_head(b, model.head, x)
            y_last = _float_head(b, model.head, h_n, "head_last")
    else:
        y, y_last = x, h_n
    width = cfg.output_width
    y_elem = _output_elem(model.output_bits, integer)
    spec.add("output", "y", y_elem, ["T", 1, width], "y", None, model.output_q)
    _rename(b, y, "y")
    spec.add("output", "y_last", y_elem, [1, width], "y_last", None, model.output_q)
    _rename(b, y_last, "y_last")
    graph = helper.make_graph(b.nodes, "edgernn_sequence", spec.inputs, spec.outputs, b.initializers)
    return graph, spec


def build(model: QuantizedRNN, precision: str = "int8", graph: str = "step") -> OnnxGraph:
    """One ONNX graph of ``model``: ``graph`` ``"step"`` or ``"sequence"``, int8 (QDQ) or float32."""
    if precision not in PRECISIONS:
        raise EdgeRNNError(f"unknown ONNX precision {precision!r}", f"choose one of {', '.join(PRECISIONS)}")
    if graph not in GRAPHS:
        raise EdgeRNNError(f"unknown ONNX graph {graph!r}", f"choose one of {', '.join(GRAPHS)}")
    if graph == "step" and not streams(model.config):
        raise EdgeRNNError(
            "a bidirectional or mean-over-time model has no streaming step graph",
            "export its whole-sequence graph instead",
        )
    g, spec = (_step_graph if graph == "step" else _sequence_graph)(model, precision)
    proto = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="edgernn",
        producer_version=__version__,
        doc_string=f"edgernn {model.config.cell.value} {graph} graph ({precision}) of model {model.sha256}",
        ir_version=IR_VERSION,
    )
    inputs, outputs = tuple(spec.input_info), tuple(spec.output_info)
    metadata = _metadata(model, precision, graph, inputs, outputs)
    helper.set_model_props(proto, {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    return OnnxGraph(model=proto, graph=graph, precision=precision, inputs=inputs, outputs=outputs)


def _metadata(
    model: QuantizedRNN, precision: str, graph: str, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo]
) -> dict[str, Any]:
    cfg = model.config
    layout = (
        "batch 1: x (1, F) [tokens (1,) int64], state (1, H), y (1, out)"
        if graph == "step"
        else "time-major: x (T, 1, F) [tokens (T, 1) int64], y (T, 1, out), y_last (1, out)"
    )
    return {
        "producer": "edgernn",
        "format_version": str(FORMAT_VERSION),
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "precision": precision,
        "graph": graph,
        "cell": cfg.cell.value,
        "config": cfg.to_json(),
        "layout": layout,
        "input_scale": "" if precision != "int8" else repr(model.input_q.scale),
        "input_zero_point": "" if precision != "int8" else str(model.input_q.zero_point),
        "output_scale": "" if precision != "int8" else repr(model.output_q.scale),
        "output_zero_point": "" if precision != "int8" else str(model.output_q.zero_point),
        "output_dtype": "" if precision != "int8" else f"int{model.output_bits}",
        "input_dtype": "" if precision != "int8" else f"int{model.input_bits}",
        "input_normalization": None
        if model.input_mean is None
        else {"mean": model.input_mean.tolist(), "std": model.input_std.tolist()},  # type: ignore[union-attr]
        "inputs": [t.to_json() for t in inputs],
        "outputs": [t.to_json() for t in outputs],
        # token models with a vocabulary only: exports of other models stay as they were
        **({} if model.vocab is None else {"vocab": list(model.vocab)}),
    }


# --------------------------------------------------------------------------------------------
# Reading an exported file back


def read_metadata(proto: onnx.ModelProto, source: str = "model") -> dict[str, Any]:
    """The edgernn metadata of a loaded ONNX model, validated (producer and layout version)."""
    props = {p.key: p.value for p in proto.metadata_props}
    if props.get("producer") != "edgernn":
        raise ModelFileError(f"{source} was not exported by edgernn", "export it with `edgernn export`")
    try:
        version = int(props.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"{source}: the edgernn metadata has no valid format version") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} was exported by edgernn {props.get('edgernn_version', '?')} with layout version {version}; "
            f"this edgernn {__version__} reads up to {FORMAT_VERSION}",
            "upgrade edgernn or re-export the model",
        )
    meta: dict[str, Any] = dict(props)
    try:
        for key in ("inputs", "outputs", "config", "input_normalization"):
            meta[key] = json.loads(props[key])
    except (KeyError, ValueError, RecursionError):
        raise ModelFileError(f"{source}: the edgernn metadata is incomplete or corrupt") from None
    if meta.get("precision") not in PRECISIONS or meta.get("graph") not in GRAPHS:
        raise ModelFileError(f"{source}: the edgernn metadata has no valid precision or graph", "export it again")
    tensor_infos_from_json(meta["inputs"], source)
    tensor_infos_from_json(meta["outputs"], source)
    return meta


def load(data: bytes, source: str = "model") -> tuple[onnx.ModelProto, dict[str, Any]]:
    """Parse ONNX bytes written by edgernn; one-line :class:`ModelFileError` for anything else."""
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises DecodeError and others for garbage
        raise ModelFileError(f"{source} is not a valid ONNX model ({type(exc).__name__})") from None
    if not proto.graph.node:
        raise ModelFileError(f"{source} is not a valid ONNX model (it has no graph)")
    return proto, read_metadata(proto, source)


# --------------------------------------------------------------------------------------------
# The exporter entry point


def precision_of(options: ExportOptions) -> str:
    """``--float`` selects the float32 graphs; int8 (integer-exact) is the default."""
    return "float32" if options.float_weights else "int8"


def sequence_path(output: Path) -> Path:
    """Where the whole-sequence graph goes beside a step graph written to ``output``."""
    return output.with_name(f"{output.stem}.sequence.onnx")


def export(model: QuantizedRNN, output: Path, options: ExportOptions) -> ExportResult:
    """Write the ONNX graphs: the step graph to ``output`` and the sequence graph beside it as
    ``<stem>.sequence.onnx`` (a bidirectional model has only the sequence graph, at ``output``)."""
    return export_precision(model, Path(output), precision_of(options))


def export_qdq(model: QuantizedRNN, output: Path, options: ExportOptions) -> ExportResult:
    """``--format onnx-qdq``: :func:`export` of the int8 QDQ graphs."""
    if options.float_weights:
        raise EdgeRNNError("the QDQ graphs are int8 only", "export float32 graphs with --format onnx --float")
    return export_precision(model, Path(output), "int8-qdq")


def export_precision(model: QuantizedRNN, output: Path, precision: str) -> ExportResult:
    """:func:`export` of the graphs of one precision."""
    graphs: list[tuple[Path, OnnxGraph]] = []
    if not streams(model.config):
        graphs.append((output, build(model, precision, "sequence")))
    else:
        graphs.append((output, build(model, precision, "step")))
        graphs.append((sequence_path(output), build(model, precision, "sequence")))
    report = []
    for path, g in graphs:
        onnx.checker.check_model(g.model, full_check=True)
        write_bytes_atomic(path, g.data)
        report.append(
            f"onnx {g.precision} {g.graph} graph: {path.name} ({len(g.data)} bytes), "
            f"inputs {', '.join(t.name for t in g.inputs)}, outputs {', '.join(t.name for t in g.outputs)}"
        )
    return ExportResult(files=tuple(p for p, _ in graphs), report=tuple(report))
