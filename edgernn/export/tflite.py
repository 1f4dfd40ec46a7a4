"""TFLite export: a ``.tflite`` flatbuffer written directly from the IR (no converter).

The file is one **time step** of a unidirectional model (T=1), int8 or float32:

* **LSTM** layers are TFLite's fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (8x8_16 for int8: int8
  activations and weights, int16 gates and cell state). The recurrent state lives in the op's
  *variable tensors*, where TFLite Micro's reference kernel keeps it across invokes; the model's
  only input is ``x`` and its only output ``y``.
* **GRU** and **Elman** layers are graphs of builtin ops (``QUANTIZE``, ``FULLY_CONNECTED`` 16x8
  with an int32 bias, ``ADD``, ``LOGISTIC``, ``TANH``, ``MUL``, ``SUB``) placed exactly at the
  integer reference's rounding points, so the graph *is* the reference's arithmetic. Their state
  is explicit: inputs ``x, h0, h1, ...`` and outputs ``y, h0_out, h1_out, ...``; the int8 GRU's
  state is a pair per layer, ``h{k}`` (int8) and ``h{k}_q15`` (its int16 Q0.15 hidden state).
* An optional token embedding is a ``GATHER`` in front, the dense head a ``FULLY_CONNECTED``
  behind.

Every scale and zero point written into the file comes from the IR. TFLite recomputes the
requantization multipliers from those scales when it prepares the model; this module mirrors that
computation to *verify* that TFLite will compute exactly the IR's integers, chooses the weight
quantization form (per-tensor or per-channel) under which it does, and reports any multiplier
TFLite cannot reproduce (see :attr:`TFLiteModel.inexact`). Input normalization and the float
quantize/dequantize at the model's edges stay outside the graph (the runtime does them once);
their parameters are in the file's ``edgernn`` metadata together with the tensor indices of every
input and output.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from edgernn import __version__
from edgernn.engine import streams
from edgernn.errors import EdgeRNNError, ModelFileError, UnsupportedModelError
from edgernn.export import ExportOptions, ExportResult, TensorInfo, edge_quantization, tensor_infos_from_json
from edgernn.fileio import write_bytes_atomic
from edgernn.fixedpoint import (
    GATE_INPUT_SCALE_POWER,
    GATE_OUTPUT_SCALE_POWER,
    INT16_MAX,
    multiplier_from_scales,
    quantize_multiplier,
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
from edgernn.types import Activation, CellType

try:  # the same generated module ships with ai-edge-litert and with tflite-micro
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover - exercised only where ai-edge-litert is missing
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

#: Version of the edgernn layout inside a .tflite (tensor roles, metadata keys). A reader refuses
#: files with a newer version.
FORMAT_VERSION = 1
METADATA_NAME = "edgernn"
TFLITE_SCHEMA_VERSION = 3
PRECISIONS = ("int8", "float32")
#: with "int8-exact": the int8 model rearranged so that LiteRT computes the reference's integers (tflite_exact)
ALL_PRECISIONS = (*PRECISIONS, "int8-exact")

GATE_SCALE = 2.0**GATE_INPUT_SCALE_POWER  # Q3.12
Q15_SCALE = 2.0**GATE_OUTPUT_SCALE_POWER  # Q0.15

_T = schema.TensorType
_OP = schema.BuiltinOperator
_OPT = schema.BuiltinOptions
_DTYPES: dict[int, np.dtype] = {
    _T.FLOAT32: np.dtype("<f4"),
    _T.INT32: np.dtype("<i4"),
    _T.INT16: np.dtype("<i2"),
    _T.INT8: np.dtype("i1"),
    _T.INT64: np.dtype("<i8"),
}
_TYPE_NAMES = {_T.FLOAT32: "float32", _T.INT32: "int32", _T.INT16: "int16", _T.INT8: "int8", _T.INT64: "int64"}


# --------------------------------------------------------------------------------------------
# What TFLite's Prepare computes from tensor scales (mirrored to verify, never to quantize)


def tflite_multiplier(scale_a: float, scale_b: float, output_scale: float) -> tuple[int, int]:
    """The Q31 multiplier and shift TFLite's Prepare derives: ``double(a) * double(b) / double(out)``
    from the float32 tensor scales (FULLY_CONNECTED with ``a, b`` = input and weight scale, MUL,
    the LSTM's gate FCs and inter-gate products, and QUANTIZE with ``b = 1``).

    TFLite's source reads as if a per-tensor FC took the product in float32
    (``GetQuantizedConvolutionMultipler``), but the TFLite Micro edgernn is tested against computes
    it in double: with the float32 product 6 (LSTM) and 337 (Elman) of 288,000 streamed outputs
    differ, with the double product none (6 random models x 1,500 steps per cell). The mirror
    follows the measurement.
    """
    return multiplier_from_scales(scale_a, scale_b, output_scale)  # the IR's own rule, as measured


# --------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True)
class TFLiteModel:
    """An exported flatbuffer plus the description of its inputs and outputs."""

    data: bytes
    precision: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    #: Variable tensors holding LSTM state, per layer: ``(h index, c index)``.
    state_variables: tuple[tuple[int, int], ...]
    #: Requantization multipliers that TFLite's Prepare will compute differently from the IR.
    inexact: tuple[str, ...]
    metadata: dict[str, Any] = field(repr=False)


# --------------------------------------------------------------------------------------------
# The flatbuffer builder


class _AlignedBufferT(schema.BufferT):
    """A buffer whose data starts on a 16-byte boundary (TFLite Micro reads weights in place)."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 - flatbuffers API name
        data_offset = None
        if self.data is not None:
            payload = bytes(self.data)
            builder.StartVector(1, len(payload), 16)
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data_offset = builder.EndVector()
        schema.BufferStart(builder)
        if data_offset is not None:
            schema.BufferAddData(builder, data_offset)
        return schema.BufferEnd(builder)


@dataclass(frozen=True)
class _Quant:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0


def _per_tensor(scale: float, zero_point: int = 0) -> _Quant:
    return _Quant((float(np.float32(scale)),), (int(zero_point),))


class _Graph:
    """Tensors, constant buffers and operators of one subgraph, then the packed model."""

    def __init__(self) -> None:
        self.tensors: list[schema.TensorT] = []
        self.buffers: list[schema.BufferT] = [_AlignedBufferT()]  # buffer 0: the empty sentinel
        self.opcodes: dict[int, int] = {}
        self.operator_codes: list[schema.OperatorCodeT] = []
        self.operators: list[schema.OperatorT] = []
        #: ``(h, c)`` variable tensors of each fused LSTM, in layer order.
        self.lstm_state: list[tuple[int, int]] = []
        self._names: set[str] = set()

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        ttype: int,
        quant: _Quant | None = None,
        data: np.ndarray | None = None,
        variable: bool = False,
    ) -> int:
        if name in self._names:
            raise AssertionError(f"duplicate tensor name {name}")
        self._names.add(name)
        t = schema.TensorT()
        t.name = name
        t.shape = [int(s) for s in shape]
        t.type = ttype
        t.isVariable = variable
        if data is not None:
            arr = np.array(data, dtype=_DTYPES[ttype], order="C")  # keeps a 0-d (scalar) constant 0-d
            if arr.shape != tuple(t.shape):
                raise AssertionError(f"{name}: data shape {arr.shape} != {tuple(t.shape)}")
            buf = _AlignedBufferT()
            buf.data = arr.tobytes()
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        if quant is not None:
            q = schema.QuantizationParametersT()
            q.scale = list(quant.scale)
            q.zeroPoint = list(quant.zero_point)
            q.quantizedDimension = quant.axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(
        self,
        code: int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options_type: int = _OPT.NONE,
        options: Any = None,
        intermediates: Sequence[int] = (),
    ) -> None:
        if code not in self.opcodes:
            oc = schema.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            self.opcodes[code] = len(self.operator_codes)
            self.operator_codes.append(oc)
        o = schema.OperatorT()
        o.opcodeIndex = self.opcodes[code]
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        o.builtinOptionsType = options_type
        o.builtinOptions = options
        if intermediates:
            o.intermediates = list(intermediates)
        self.operators.append(o)

    def pack(
        self, inputs: Sequence[int], outputs: Sequence[int], metadata: dict[str, bytes], description: str
    ) -> bytes:
        sub = schema.SubGraphT()
        sub.tensors = self.tensors
        sub.inputs = list(inputs)
        sub.outputs = list(outputs)
        sub.operators = self.operators
        sub.name = "step"
        model = schema.ModelT()
        model.version = TFLITE_SCHEMA_VERSION
        model.operatorCodes = self.operator_codes
        model.subgraphs = [sub]
        model.description = description
        model.buffers = list(self.buffers)
        model.metadata = []
        for name, payload in metadata.items():
            buf = _AlignedBufferT()
            buf.data = payload
            model.buffers.append(buf)
            entry = schema.MetadataT()
            entry.name = name
            entry.buffer = len(model.buffers) - 1
            model.metadata.append(entry)
        signature = schema.SignatureDefT()
        signature.signatureKey = "serving_default"
        signature.subgraphIndex = 0
        signature.inputs = [self._tensor_map(i) for i in inputs]
        signature.outputs = [self._tensor_map(i) for i in outputs]
        model.signatureDefs = [signature]
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    def _tensor_map(self, index: int) -> schema.TensorMapT:
        m = schema.TensorMapT()
        m.name = self.tensors[index].name
        m.tensorIndex = index
        return m

    # -- ops used by both precisions ----------------------------------------------------------

    def add(self, a: int, b: int, out: int) -> int:
        opts = schema.AddOptionsT()
        opts.potScaleInt16 = False  # the general int16 path of TFLite Micro; equal scales make it exact
        self.op(_OP.ADD, [a, b], [out], _OPT.AddOptions, opts)
        return out

    def sub(self, a: int, b: int, out: int) -> int:
        opts = schema.SubOptionsT()
        opts.potScaleInt16 = False
        self.op(_OP.SUB, [a, b], [out], _OPT.SubOptions, opts)
        return out

    def mul(self, a: int, b: int, out: int) -> int:
        self.op(_OP.MUL, [a, b], [out], _OPT.MulOptions, schema.MulOptionsT())
        return out

    def logistic(self, a: int, out: int) -> int:
        self.op(_OP.LOGISTIC, [a], [out])
        return out

    def tanh(self, a: int, out: int) -> int:
        self.op(_OP.TANH, [a], [out])
        return out

    def relu(self, a: int, out: int) -> int:
        self.op(_OP.RELU, [a], [out])
        return out

    def quantize(self, a: int, out: int) -> int:
        self.op(_OP.QUANTIZE, [a], [out], _OPT.QuantizeOptions, schema.QuantizeOptionsT())
        return out

    def fully_connected(self, x: int, weight: int, bias: int, out: int) -> int:
        opts = schema.FullyConnectedOptionsT()
        opts.fusedActivationFunction = schema.ActivationFunctionType.NONE
        self.op(_OP.FULLY_CONNECTED, [x, weight, bias], [out], _OPT.FullyConnectedOptions, opts)
        return out

    def gather(self, table: int, indices: int, out: int) -> int:
        opts = schema.GatherOptionsT()
        opts.axis = 0
        self.op(_OP.GATHER, [table, indices], [out], _OPT.GatherOptions, opts)
        return out


# --------------------------------------------------------------------------------------------
# Verification of the integers TFLite will compute


class _Checker:
    """Collects the multipliers a TFLite runtime would compute differently from the IR."""

    def __init__(self) -> None:
        self.inexact: list[str] = []

    def expect(self, what: str, ir: tuple[int, int], tflite: tuple[int, int]) -> None:
        if tuple(ir) != tuple(tflite):
            self.inexact.append(f"{what}: IR multiplier {ir[0]}*2^{ir[1]}, TFLite computes {tflite[0]}*2^{tflite[1]}")

    def rescale(self, what: str, ir: Rescale, tflite: tuple[int, int]) -> None:
        self.expect(what, (ir.multiplier, ir.shift), tflite)


def _fc_weight_quant(fc: FullyConnected, input_scale: float, check: _Checker, what: str) -> tuple[_Quant, _Quant]:
    """Weight and bias quantization of a FULLY_CONNECTED: per-tensor when all rows share one
    weight scale, else per-channel; either way each row's multiplier is checked against the IR's."""
    scales = [float(s) for s in fc.weight_scale]
    w_scales = tuple(scales) if len(set(scales)) > 1 else (scales[0],)
    for o, (s, m, sh) in enumerate(zip(scales, fc.multiplier.tolist(), fc.shift.tolist())):
        check.expect(f"{what} row {o}", (m, sh), tflite_multiplier(input_scale, s, fc.output_scale))
    # The bias is at input_scale * weight_scale (TFLite checks this loosely; float32 storage).
    bias_scales = [float(s) for s in fc.bias_scale(input_scale)]
    b_scales = tuple(bias_scales) if len(w_scales) > 1 else (bias_scales[0],)
    n = len(w_scales)
    return _Quant(w_scales, (0,) * n, 0), _Quant(b_scales, (0,) * n, 0)


# --------------------------------------------------------------------------------------------
# int8 graph


@dataclass
class _Int8Layer:
    """Tensors of one int8 layer while it is being emitted."""

    g: _Graph
    check: _Checker
    layer: RecurrentLayer
    index: int
    x8: int  # int8 input tensor, (1, I) (or (1, 1, I) for LSTM)
    h_q15_in: int | None = None  # the GRU's int16 Q0.15 state input
    h_q15_out: int | None = None  # ... and its new value, set by the GRU emitter

    @property
    def prefix(self) -> str:
        return f"l{self.index}"

    def widen(self, t8: int, q: QParams, name: str, shape: Sequence[int]) -> int:
        """int8 (q) -> int16 at the same scale with zero point 0: exactly ``x - zero_point``. A tensor
        that is int16 already (a 16-bit model input, zero point 0) is the 16x8 FCs' input itself."""
        if self.g.tensors[t8].type == _T.INT16:
            return t8
        out = self.g.tensor(name, shape, _T.INT16, _per_tensor(q.scale))
        self.check.expect(f"{name} (QUANTIZE)", quantize_multiplier(1.0), tflite_multiplier(q.scale, 1.0, q.scale))
        return self.g.quantize(t8, out)

    def fc16(self, x16: int, q: QParams, fc: FullyConnected, name: str) -> int:
        """16x8 FULLY_CONNECTED with an int32 bias: the reference's int8 FC with int16 output."""
        g = self.g
        w_q, b_q = _fc_weight_quant(fc, q.scale, self.check, name)
        w = g.tensor(f"{name}/weight", fc.weight.shape, _T.INT8, w_q, fc.weight)
        b = g.tensor(f"{name}/bias", fc.bias.shape, _T.INT32, b_q, fc.bias)
        out = g.tensor(name, (1, fc.out_features), _T.INT16, _per_tensor(fc.output_scale))
        return g.fully_connected(x16, w, b, out)

    def q15(self, name: str) -> int:
        return self.g.tensor(name, (1, self.layer.hidden_size), _T.INT16, _per_tensor(Q15_SCALE))

    def q312(self, name: str) -> int:
        return self.g.tensor(name, (1, self.layer.hidden_size), _T.INT16, _per_tensor(GATE_SCALE))


@functools.singledispatch
def _emit_int8_cell(cell: object, e: _Int8Layer, h8: int | None) -> int:
    """Emit one int8 cell step; returns the int8 new hidden state tensor."""
    raise UnsupportedModelError(f"no TFLite form for {type(cell).__name__}")


@_emit_int8_cell.register
def _(cell: ElmanCellQ, e: _Int8Layer, h8: int | None) -> int:
    assert h8 is not None
    g, p, lay = e.g, e.prefix, e.layer
    x16 = e.widen(e.x8, lay.input_q, f"{p}/x_int16", (1, lay.input_size))
    h16 = e.widen(h8, lay.hidden_q, f"{p}/h_int16", (1, lay.hidden_size))
    pre = g.add(
        e.fc16(x16, lay.input_q, cell.x_fc, f"{p}/x_fc"),
        e.fc16(h16, lay.hidden_q, cell.h_fc, f"{p}/h_fc"),
        g.tensor(f"{p}/pre", (1, lay.hidden_size), _T.INT16, _per_tensor(cell.x_fc.output_scale)),
    )
    return _elman_activation(cell, e, pre)


def _elman_activation(cell: ElmanCellQ, e: _Int8Layer, pre: int) -> int:
    """The Elman cell's int8 new hidden state from its int16 pre-activation ``pre``."""
    g, p, lay = e.g, e.prefix, e.layer
    if cell.relu:
        # QUANTIZE the int16 sum to int8, then int8 RELU at the same scale: max(h, zero_point), exact
        q = lay.hidden_q
        h_pre = _to_hidden(e, pre, cell.to_hidden, cell.x_fc.output_scale, f"{p}/h_pre")
        return g.relu(h_pre, g.tensor(f"{p}/h_out", (1, lay.hidden_size), _T.INT8, _per_tensor(q.scale, q.zero_point)))
    t = g.tanh(pre, e.q15(f"{p}/tanh"))
    return _to_hidden(e, t, cell.to_hidden)


def _to_hidden(e: _Int8Layer, q15: int, rescale: Rescale, in_scale: float = Q15_SCALE, name: str = "") -> int:
    q = e.layer.hidden_q
    name = name or f"{e.prefix}/h_out"
    out = e.g.tensor(name, (1, e.layer.hidden_size), _T.INT8, _per_tensor(q.scale, q.zero_point))
    e.check.rescale(f"{name} (QUANTIZE)", rescale, tflite_multiplier(in_scale, 1.0, q.scale))
    return e.g.quantize(q15, out)


@_emit_int8_cell.register
def _(cell: GRUCellQ, e: _Int8Layer, h8: int | None) -> int:
    assert h8 is not None
    g, p, lay = e.g, e.prefix, e.layer
    hq = lay.hidden_q
    x16 = e.widen(e.x8, lay.input_q, f"{p}/x_int16", (1, lay.input_size))
    h16 = e.widen(h8, hq, f"{p}/h_int16", (1, lay.hidden_size))
    r = g.logistic(
        g.add(
            e.fc16(x16, lay.input_q, cell.x_r, f"{p}/x_r"), e.fc16(h16, hq, cell.h_r, f"{p}/h_r"), e.q312(f"{p}/r_pre")
        ),
        e.q15(f"{p}/r"),
    )
    z = g.logistic(
        g.add(
            e.fc16(x16, lay.input_q, cell.x_z, f"{p}/x_z"), e.fc16(h16, hq, cell.h_z, f"{p}/h_z"), e.q312(f"{p}/z_pre")
        ),
        e.q15(f"{p}/z"),
    )
    hn = e.fc16(h16, hq, cell.h_n, f"{p}/h_n")
    e.check.rescale(f"{p}/r_h_n (MUL)", cell.reset_mul, tflite_multiplier(Q15_SCALE, cell.h_n.output_scale, GATE_SCALE))
    reset_hidden = g.mul(r, hn, e.q312(f"{p}/r_h_n"))
    n = g.tanh(
        g.add(e.fc16(x16, lay.input_q, cell.x_n, f"{p}/x_n"), reset_hidden, e.q312(f"{p}/n_pre")), e.q15(f"{p}/n")
    )
    return _gru_blend(cell, e, z, n)


def _gru_blend(cell: GRUCellQ, e: _Int8Layer, z: int, n: int) -> int:
    """``h' = z * h + (1 - z) * n`` from the Q0.15 gates ``z`` and ``n``; sets ``e.h_q15_out`` and
    returns the int8 new hidden state."""
    g, p, lay = e.g, e.prefix, e.layer
    # The blend reads the int16 Q0.15 state (an explicit input), not the int8 tensor.
    assert e.h_q15_in is not None
    e.check.rescale(f"{p} gate MUL", cell.gate_mul, tflite_multiplier(Q15_SCALE, Q15_SCALE, Q15_SCALE))
    keep = g.mul(z, e.h_q15_in, e.q15(f"{p}/z_h"))
    one = g.tensor(
        f"{p}/one_q15",
        (1, lay.hidden_size),
        _T.INT16,
        _per_tensor(Q15_SCALE),
        np.full((1, lay.hidden_size), INT16_MAX, dtype=np.int16),
    )
    one_minus_z = g.sub(one, z, e.q15(f"{p}/one_minus_z"))
    update = g.mul(one_minus_z, n, e.q15(f"{p}/one_minus_z_n"))
    e.h_q15_out = g.add(keep, update, e.q15(f"{p}/h_q15_out"))
    return _to_hidden(e, e.h_q15_out, cell.to_hidden)


def _lstm_options(cell_clip: float = 0.0) -> schema.UnidirectionalSequenceLSTMOptionsT:
    """``cell_clip``: LSTMOptions.cell_clip (0: none); TFLite's quantized clip is its float32 value
    over the cell scale truncated, which gives back the IR's integer (LSTMCellQ.cell_clip_float)."""
    opts = schema.UnidirectionalSequenceLSTMOptionsT()
    opts.fusedActivationFunction = schema.ActivationFunctionType.TANH
    opts.cellClip = cell_clip
    opts.projClip = 0.0
    opts.timeMajor = False
    return opts


def _lstm_inputs(
    x: int, weights_x: Sequence[int], weights_h: Sequence[int], biases: Sequence[int], h_var: int, c_var: int
) -> list[int]:
    """The 24 inputs of UNIDIRECTIONAL_SEQUENCE_LSTM (gate order i, f, c, o; -1 = absent)."""
    absent = -1
    return [
        x,
        *weights_x,
        *weights_h,
        absent,  # cell-to-gate peepholes
        absent,
        absent,
        *biases,
        absent,  # projection weights and bias
        absent,
        h_var,
        c_var,
        absent,  # layer norm coefficients
        absent,
        absent,
        absent,
    ]


@_emit_int8_cell.register
def _(cell: LSTMCellQ, e: _Int8Layer, h8: int | None) -> int:
    g, p, lay = e.g, e.prefix, e.layer
    hq, iq = lay.hidden_q, lay.input_q
    shape = (1, lay.hidden_size)
    w_x, w_h, biases = [], [], []
    for gate in "ifgo":  # PyTorch's i, f, g, o is TFLite's input, forget, cell, output
        fx: FullyConnected = getattr(cell, f"x_{gate}")
        fh: FullyConnected = getattr(cell, f"h_{gate}")
        if np.any(fh.bias != 0):
            raise UnsupportedModelError("the fused TFLite LSTM has no recurrent bias; h_* biases must be zero")
        for fc, q, bag, kind in ((fx, iq, w_x, "x"), (fh, hq, w_h, "h")):
            if len({float(s) for s in fc.weight_scale}) != 1:
                raise UnsupportedModelError("the fused TFLite LSTM needs one weight scale per gate matrix")
            s_w = float(fc.weight_scale[0])
            e.check.expect(
                f"{p}/{kind}_{gate} (LSTM gate FC)",
                (int(fc.multiplier[0]), int(fc.shift[0])),
                tflite_multiplier(q.scale, s_w, GATE_SCALE),
            )
            bag.append(g.tensor(f"{p}/{kind}_{gate}/weight", fc.weight.shape, _T.INT8, _per_tensor(s_w), fc.weight))
        bias_scale = float(fx.bias_scale(iq.scale)[0])
        biases.append(g.tensor(f"{p}/{gate}/bias", fx.bias.shape, _T.INT32, _per_tensor(bias_scale), fx.bias))
    cell_scale = 2.0**cell.cell_scale_power
    e.check.rescale(f"{p} forget MUL", cell.forget_mul, tflite_multiplier(Q15_SCALE, cell_scale, cell_scale))
    e.check.rescale(f"{p} input MUL", cell.input_mul, tflite_multiplier(Q15_SCALE, Q15_SCALE, cell_scale))
    e.check.rescale(f"{p} output MUL", cell.output_mul, tflite_multiplier(Q15_SCALE, Q15_SCALE, hq.scale))
    h_var = g.tensor(f"{p}/h_state", shape, _T.INT8, _per_tensor(hq.scale, hq.zero_point), variable=True)
    c_var = g.tensor(f"{p}/c_state", shape, _T.INT16, _per_tensor(cell_scale), variable=True)
    # LiteRT's integer LSTM reads the gate pre-activation scales (Q3.12) and the hidden state's
    # quantization from these intermediates; TFLite Micro derives the same values itself.
    inter = [g.tensor(f"{p}/{gate}_pre", (0,), _T.INT16, _per_tensor(GATE_SCALE)) for gate in "ifgo"]
    inter.append(g.tensor(f"{p}/hidden", (0,), _T.INT8, _per_tensor(hq.scale, hq.zero_point)))
    out = g.tensor(f"{p}/h_out", (1, 1, lay.hidden_size), _T.INT8, _per_tensor(hq.scale, hq.zero_point))
    g.op(
        _OP.UNIDIRECTIONAL_SEQUENCE_LSTM,
        _lstm_inputs(e.x8, w_x, w_h, biases, h_var, c_var),
        [out],
        _OPT.UnidirectionalSequenceLSTMOptions,
        _lstm_options(cell.cell_clip_float),
        intermediates=inter,
    )
    g.lstm_state.append((h_var, c_var))
    return out


def _like(g: _Graph, t: int, name: str) -> int:
    """A float tensor of ``t``'s shape."""
    return g.tensor(name, g.tensors[t].shape, _T.FLOAT32)


def _head_tanh(g: _Graph, check: _Checker, model: QuantizedRNN, h8: int) -> int:
    """tanh before the head (:class:`edgernn.ir.HeadTanh`) as the cells' ops: QUANTIZE int8 -> int16 Q3.12,
    int16 TANH (Q0.15), QUANTIZE int16 -> int8 at its output_q; each QUANTIZE's multiplier is the IR's rescale."""
    tanh, hq = model.head_tanh, model.layers[-1].hidden_q
    assert tanh is not None
    shape = g.tensors[h8].shape
    q312 = g.tensor("top/tanh_q312", shape, _T.INT16, _per_tensor(GATE_SCALE))
    check.rescale("top/tanh_q312 (QUANTIZE)", tanh.to_q312, tflite_multiplier(hq.scale, 1.0, GATE_SCALE))
    t = g.tanh(g.quantize(h8, q312), g.tensor("top/tanh_q15", shape, _T.INT16, _per_tensor(Q15_SCALE)))
    out_q = model.head_input_q
    out = g.tensor("top/tanh", shape, _T.INT8, _per_tensor(out_q.scale, out_q.zero_point))
    check.rescale("top/tanh (QUANTIZE)", tanh.to_int8, tflite_multiplier(Q15_SCALE, 1.0, out_q.scale))
    return g.quantize(t, out)


def _int8_head(g: _Graph, check: _Checker, head: Dense, h8: int, hidden_q: QParams) -> int:
    """The head's FULLY_CONNECTED: int8 in and out, or (an int16 head, :class:`edgernn.ir.Dense`) its
    int8 input widened to int16 at the same scale (a QUANTIZE, exactly ``h - zero_point``) and a 16x8
    FULLY_CONNECTED with an int32 bias and an int16 output, as the GRU and Elman cells' FCs."""
    fc = head.fc
    w_q, b_q = _fc_weight_quant(fc, hidden_q.scale, check, "head")
    w = g.tensor("head/weight", fc.weight.shape, _T.INT8, w_q, fc.weight)
    b = g.tensor("head/bias", fc.bias.shape, _T.INT32, b_q, fc.bias)
    if fc.output_bits == 16:
        h16 = g.tensor("head/x_int16", (1, fc.in_features), _T.INT16, _per_tensor(hidden_q.scale))
        check.expect(
            "head/x_int16 (QUANTIZE)", quantize_multiplier(1.0), tflite_multiplier(hidden_q.scale, 1.0, hidden_q.scale)
        )
        out = g.tensor("y", (1, fc.out_features), _T.INT16, _per_tensor(head.output_q.scale))
        return g.fully_connected(g.quantize(h8, h16), w, b, out)
    out = g.tensor("y", (1, fc.out_features), _T.INT8, _per_tensor(head.output_q.scale, head.output_q.zero_point))
    return g.fully_connected(h8, w, b, out)


# --------------------------------------------------------------------------------------------
# float graph


def _float_fc(g: _Graph, x: int, weight: np.ndarray, bias: np.ndarray, name: str) -> int:
    w = g.tensor(f"{name}/weight", weight.shape, _T.FLOAT32, data=weight)
    b = g.tensor(f"{name}/bias", bias.shape, _T.FLOAT32, data=bias)
    out = g.tensor(name, (1, weight.shape[0]), _T.FLOAT32)
    return g.fully_connected(x, w, b, out)


def _gate_rows(a: np.ndarray, gate: int, hidden: int) -> np.ndarray:
    return np.ascontiguousarray(a[gate * hidden : (gate + 1) * hidden])


@functools.singledispatch
def _emit_float_cell(cell: object, g: _Graph, w: FloatCellWeights, p: str, x: int, h: int | None, hidden: int) -> int:
    raise UnsupportedModelError(f"no TFLite form for {type(cell).__name__}")


@_emit_float_cell.register
def _(cell: ElmanCellQ, g: _Graph, w: FloatCellWeights, p: str, x: int, h: int | None, hidden: int) -> int:
    assert h is not None
    pre = g.add(
        _float_fc(g, x, w.weight_ih, w.bias_ih + w.bias_hh, f"{p}/x_fc"),
        _float_fc(g, h, w.weight_hh, np.zeros(hidden, np.float32), f"{p}/h_fc"),
        g.tensor(f"{p}/pre", (1, hidden), _T.FLOAT32),
    )
    if cell.relu:
        return g.relu(pre, g.tensor(f"{p}/h_out", (1, hidden), _T.FLOAT32))
    return g.tanh(pre, g.tensor(f"{p}/h_out", (1, hidden), _T.FLOAT32))


@_emit_float_cell.register
def _(cell: GRUCellQ, g: _Graph, w: FloatCellWeights, p: str, x: int, h: int | None, hidden: int) -> int:
    assert h is not None

    def t(name: str) -> int:
        return g.tensor(f"{p}/{name}", (1, hidden), _T.FLOAT32)

    def rows(a: np.ndarray, k: int) -> np.ndarray:
        return _gate_rows(a, k, hidden)

    zeros = np.zeros(hidden, np.float32)
    gates = []
    for k, name in enumerate("rz"):
        xg = _float_fc(g, x, rows(w.weight_ih, k), rows(w.bias_ih, k) + rows(w.bias_hh, k), f"{p}/x_{name}")
        hg = _float_fc(g, h, rows(w.weight_hh, k), zeros, f"{p}/h_{name}")
        gates.append(g.logistic(g.add(xg, hg, t(f"{name}_pre")), t(name)))
    r, z = gates
    hn = _float_fc(g, h, rows(w.weight_hh, 2), rows(w.bias_hh, 2), f"{p}/h_n")
    xn = _float_fc(g, x, rows(w.weight_ih, 2), rows(w.bias_ih, 2), f"{p}/x_n")
    n = g.tanh(g.add(xn, g.mul(r, hn, t("r_h_n")), t("n_pre")), t("n"))
    one = g.tensor(f"{p}/one", (1, hidden), _T.FLOAT32, data=np.ones((1, hidden), np.float32))
    update = g.mul(g.sub(one, z, t("one_minus_z")), n, t("one_minus_z_n"))
    return g.add(g.mul(z, h, t("z_h")), update, t("h_out"))


@_emit_float_cell.register
def _(cell: LSTMCellQ, g: _Graph, w: FloatCellWeights, p: str, x: int, h: int | None, hidden: int) -> int:
    shape = (1, hidden)
    w_x, w_h, biases = [], [], []
    for k, gate in enumerate("ifgo"):
        w_x.append(
            g.tensor(
                f"{p}/x_{gate}/weight",
                (hidden, w.weight_ih.shape[1]),
                _T.FLOAT32,
                data=_gate_rows(w.weight_ih, k, hidden),
            )
        )
        w_h.append(
            g.tensor(f"{p}/h_{gate}/weight", (hidden, hidden), _T.FLOAT32, data=_gate_rows(w.weight_hh, k, hidden))
        )
        bias = _gate_rows(w.bias_ih, k, hidden) + _gate_rows(w.bias_hh, k, hidden)
        biases.append(g.tensor(f"{p}/{gate}/bias", (hidden,), _T.FLOAT32, data=bias))
    h_var = g.tensor(f"{p}/h_state", shape, _T.FLOAT32, variable=True)
    c_var = g.tensor(f"{p}/c_state", shape, _T.FLOAT32, variable=True)
    out = g.tensor(f"{p}/h_out", (1, 1, hidden), _T.FLOAT32)
    g.op(
        _OP.UNIDIRECTIONAL_SEQUENCE_LSTM,
        _lstm_inputs(x, w_x, w_h, biases, h_var, c_var),
        [out],
        _OPT.UnidirectionalSequenceLSTMOptions,
        _lstm_options(),
    )
    g.lstm_state.append((h_var, c_var))
    return out


# --------------------------------------------------------------------------------------------
# The whole model


def _require_streamable(model: QuantizedRNN) -> None:
    if model.config.bidirectional:
        raise UnsupportedModelError(
            "TFLite export writes a streaming step model, and a bidirectional model cannot stream",
            "export bidirectional models as ONNX (--format onnx) or C",
        )
    if not streams(model.config):
        raise UnsupportedModelError(
            "TFLite export writes a streaming step model, and a model averaging over time cannot stream",
            "export it as ONNX (--format onnx) or C",
        )


def _require_int8_input_free(model: QuantizedRNN, exact: bool) -> None:
    """Refuse the int16-input models TFLite cannot run as the reference does (docs/input_bits.md): the
    fused LSTM takes int8 input only (its 16x8 variant also makes the hidden state int16), and the
    LiteRT-exact variant has no 16x8 FC."""
    if exact:
        raise UnsupportedModelError(
            "the LiteRT-exact TFLite variant has no int16 model input",
            "quantize with `--input-bits 8` for it, or export the default variant",
        )
    if model.config.cell is CellType.LSTM:
        raise UnsupportedModelError(
            "TFLite's fused LSTM takes int8 input only; this model's input is int16",
            "quantize with `--input-bits 8` for a TFLite LSTM, or export it as C or ONNX",
        )


def build(model: QuantizedRNN, precision: str = "int8") -> TFLiteModel:
    """The TFLite step model of ``model`` (``precision`` ``"int8"`` or ``"float32"``)."""
    if precision not in ALL_PRECISIONS:
        raise EdgeRNNError(f"unknown TFLite precision {precision!r}", f"choose one of {', '.join(ALL_PRECISIONS)}")
    _require_streamable(model)
    cfg = model.config
    integer = precision != "float32"
    exact = None
    if precision == "int8-exact":
        from edgernn.export import tflite_exact as exact
    # the fused LSTM op (int8, float32); the exact variant rebuilds the LSTM from separate ops
    lstm = cfg.cell is CellType.LSTM and exact is None
    g = _Graph() if exact is None else exact.ExactGraph()
    check = _Checker()
    act_type = _T.INT8 if integer else _T.FLOAT32
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    first_q = model.layers[0].input_q
    if integer and model.input_bits == 16:
        _require_int8_input_free(model, exact is not None)

    def info(index: int, role: str, layer: int | None, q: QParams | tuple[float, int] | None) -> TensorInfo:
        t = g.tensors[index]
        scale, zero_point = (q.scale, q.zero_point) if isinstance(q, QParams) else (q or (None, None))
        return TensorInfo(
            name=t.name,
            index=index,
            position=-1,  # set once the subgraph's input and output lists are known
            role=role,
            layer=layer,
            dtype=_TYPE_NAMES[t.type],
            shape=tuple(t.shape),
            scale=scale if integer else None,
            zero_point=zero_point if integer else None,
        )

    x_shape = (1, 1, cfg.rnn_input_size) if lstm else (1, cfg.rnn_input_size)
    if cfg.uses_tokens:
        assert model.embedding is not None
        tokens = g.tensor("tokens", (1, 1) if lstm else (1,), _T.INT32)
        inputs.append(info(tokens, "x", None, None))
        table = model.embedding.table if integer else model.embedding.weight
        x = g.tensor(
            "embedding/table",
            table.shape,
            act_type,
            _per_tensor(first_q.scale, first_q.zero_point) if integer else None,
            table,
        )
        emb_shape = (1, cfg.embedding_dim) if not lstm else (1, 1, cfg.embedding_dim)
        quant = _per_tensor(first_q.scale, first_q.zero_point) if integer else None
        layer_in = g.gather(x, tokens, g.tensor("embedding/out", emb_shape, act_type, quant))
    else:
        quant = _per_tensor(first_q.scale, first_q.zero_point) if integer else None
        x_type = _T.INT16 if integer and model.input_bits == 16 else act_type  # the 16x8 FCs read it directly
        layer_in = g.tensor("x", x_shape, x_type, quant)
        inputs.append(info(layer_in, "x", None, first_q))

    state_inputs: list[TensorInfo] = []
    state_outputs: list[TensorInfo] = []
    for k, layer in enumerate(model.layers):
        cell = layer.directions[0].quant
        hq = layer.hidden_q
        h_in: int | None = None
        if not lstm:
            h_in = g.tensor(
                f"h{k}", (1, layer.hidden_size), act_type, _per_tensor(hq.scale, hq.zero_point) if integer else None
            )
            state_inputs.append(info(h_in, "h", k, hq))
        if integer:
            emitter = (_Int8Layer if exact is None else exact.ExactLayer)(g, check, layer, k, layer_in)
            if isinstance(cell, GRUCellQ):
                emitter.h_q15_in = g.tensor(f"h{k}_q15", (1, layer.hidden_size), _T.INT16, _per_tensor(Q15_SCALE))
            if exact is not None and isinstance(cell, LSTMCellQ):
                assert h_in is not None
                emitter.c_in = g.tensor(
                    f"c{k}", (1, layer.hidden_size), _T.INT16, _per_tensor(2.0**cell.cell_scale_power)
                )
            if exact is not None:
                h_out = emitter.step(cell, h_in)
            else:
                h_out = _emit_int8_cell(cell, emitter, h_in)
        else:
            h_out = _emit_float_cell(
                cell, g, layer.directions[0].float_weights, f"l{k}", layer_in, h_in, layer.hidden_size
            )
        state_outputs.append(info(h_out, "h_out", k, hq))
        if integer and isinstance(cell, GRUCellQ):
            assert emitter.h_q15_in is not None and emitter.h_q15_out is not None
            state_inputs.append(info(emitter.h_q15_in, "h_q15", k, (Q15_SCALE, 0)))
            state_outputs.append(info(emitter.h_q15_out, "h_q15_out", k, (Q15_SCALE, 0)))
        if isinstance(cell, LSTMCellQ) and exact is not None:  # explicit cell state, as the GRU's h_q15
            cell_q = (2.0**cell.cell_scale_power, 0)
            state_inputs.append(info(emitter.c_in, "c", k, cell_q))
            state_outputs.append(info(emitter.c_out, "c_out", k, cell_q))
        elif isinstance(cell, LSTMCellQ):
            # The fused op keeps (h, c) in its variable tensors. They are listed as graph inputs
            # and outputs too, so a host can checkpoint and restore them; a device that never
            # writes them streams on the state the op keeps.
            h_var, c_var = g.lstm_state[-1]
            cell_q = (2.0**cell.cell_scale_power, 0)
            state_inputs += [info(h_var, "h", k, hq), info(c_var, "c", k, cell_q)]
            state_outputs.append(info(c_var, "c_out", k, cell_q))
        layer_in = h_out
    inputs.extend(state_inputs)

    last_q = model.layers[-1].hidden_q
    if cfg.head_activation is Activation.RELU:
        # RELU between the top layer and the head; int8 at the hidden scale is max(h, zero point), exact
        top = g.tensors[layer_in]
        quant = _per_tensor(last_q.scale, last_q.zero_point) if integer else None
        layer_in = g.relu(layer_in, g.tensor("top/relu", top.shape, top.type, quant))
    elif cfg.head_activation is Activation.TANH:
        if integer:
            layer_in = _head_tanh(g, check, model, layer_in)
        else:
            layer_in = g.tanh(layer_in, _like(g, layer_in, "top/tanh"))
    elif cfg.head_activation is not Activation.NONE:
        raise UnsupportedModelError(f"TFLite export has no {cfg.head_activation.value} before the head")
    if model.head is not None:
        if exact is not None:
            if model.output_bits != 8:
                raise UnsupportedModelError(
                    "the LiteRT-exact TFLite variant has no int16 head output",
                    "quantize with head_output_bits 8 (`--head-bits 8`) for it, or export the default variant",
                )
            y = exact.exact_head(g, model.head, layer_in)
        elif integer:
            y = _int8_head(g, check, model.head, layer_in, model.head_input_q)
        else:
            y = _float_fc(g, layer_in, model.head.weight, model.head.bias, "y")
        outputs.append(info(y, "y", None, model.head.output_q))
    else:
        outputs.append(info(layer_in, "y", None, model.head_input_q))
    # Without a head, y of a GRU/Elman model is the last layer's new state: one tensor, listed
    # once in the subgraph's outputs and described twice (as y and as that layer's state).
    outputs.extend(state_outputs)
    input_order = _unique(t.index for t in inputs)
    output_order = _unique(t.index for t in outputs)
    inputs = [dataclasses.replace(t, position=input_order.index(t.index)) for t in inputs]
    outputs = [dataclasses.replace(t, position=output_order.index(t.index)) for t in outputs]

    metadata = _metadata(model, precision, inputs, outputs, g.lstm_state, check.inexact)
    payload = json.dumps(metadata, sort_keys=True).encode()
    description = f"edgernn {__version__} {cfg.cell.value} step model ({precision}), model {model.sha256[:16]}"
    data = g.pack(input_order, output_order, {METADATA_NAME: payload}, description)
    return TFLiteModel(
        data=data,
        precision=precision,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        state_variables=tuple(g.lstm_state),
        inexact=tuple(check.inexact),
        metadata=metadata,
    )


def _state_doc(model: QuantizedRNN, precision: str) -> str:
    if model.config.cell is CellType.LSTM and precision == "int8-exact":
        return "explicit inputs h{k} (int8) and c{k} (int16, the cell state) and their *_out outputs"
    if model.config.cell is CellType.GRU and precision != "float32":
        return "explicit inputs h{k} (int8) and h{k}_q15 (int16 Q0.15, the GRU's state) and their *_out outputs"
    return "explicit inputs h{k} and outputs h{k}_out"


def _unique(indices: Any) -> list[int]:
    return list(dict.fromkeys(indices))


def _metadata(
    model: QuantizedRNN,
    precision: str,
    inputs: Sequence[TensorInfo],
    outputs: Sequence[TensorInfo],
    lstm_state: Sequence[tuple[int, int]],
    inexact: Sequence[str],
) -> dict[str, Any]:
    cfg = model.config
    return {
        "producer": "edgernn",
        "format_version": FORMAT_VERSION,
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "precision": precision,
        "graph": "step",
        "cell": cfg.cell.value,
        "num_layers": cfg.num_layers,
        "hidden_size": cfg.hidden_size,
        "config": cfg.to_json(),
        "layout": "batch 1; x (1, F), token ids int32 (1,); y (1, out) or (1, H)"
        if precision == "int8-exact" and cfg.cell is CellType.LSTM  # not the fused LSTM op's layout
        else "batch 1; x (1, F) or (1, 1, F) for LSTM, token ids int32 (1,); y (1, out) or (1, 1, H)",
        "state": _state_doc(model, precision) if not lstm_state else "variable tensors of each LSTM op",
        **edge_quantization(model),
        "input_normalization": None
        if model.input_mean is None
        else {"mean": model.input_mean.tolist(), "std": model.input_std.tolist()},  # type: ignore[union-attr]
        "inputs": [t.to_json() for t in inputs],
        "outputs": [t.to_json() for t in outputs],
        "lstm_state_tensors": [{"layer": k, "h": h, "c": c} for k, (h, c) in enumerate(lstm_state)],
        "inexact_multipliers": list(inexact),
        # token models with a vocabulary only: exports of other models stay as they were
        **({} if model.vocab is None else {"vocab": list(model.vocab)}),
    }


# --------------------------------------------------------------------------------------------
# Reading an exported file back


def read_metadata(data: bytes, source: str = "model") -> dict[str, Any]:
    """The ``edgernn`` metadata of a .tflite file, validated.

    Raises :class:`ModelFileError` (one line) for a file that is not a TFLite flatbuffer, was not
    written by edgernn, or was written by an edgernn with a newer layout.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFileError(f"{source} is not a TFLite model (no TFL3 identifier)", "pass a .tflite file")
    try:
        fb = schema.Model.GetRootAs(data, 0)
        entries = [fb.Metadata(i) for i in range(fb.MetadataLength())]
        found = None
        for entry in entries:
            if entry.Name() is not None and entry.Name().decode() == METADATA_NAME:
                buf = fb.Buffers(entry.Buffer())
                found = buf.DataAsNumpy().tobytes()
    except Exception as exc:  # a truncated or corrupt flatbuffer fails anywhere in the accessors
        raise ModelFileError(f"{source} is not a valid TFLite model ({type(exc).__name__}: {exc})") from None
    if found is None:
        raise ModelFileError(
            f"{source} was not exported by edgernn (no edgernn metadata)", "export it with `edgernn export`"
        )
    try:
        meta = json.loads(found)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{source}: the edgernn metadata is corrupt") from None
    return check_metadata(meta, source)


def check_metadata(meta: Any, source: str) -> dict[str, Any]:
    """Validate the producer and format version of exported-model metadata."""
    if not isinstance(meta, dict) or meta.get("producer") != "edgernn":
        raise ModelFileError(f"{source} was not exported by edgernn", "export it with `edgernn export`")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{source}: the edgernn metadata has no valid format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} was exported by edgernn {meta.get('edgernn_version', '?')} with layout version {version}; "
            f"this edgernn {__version__} reads up to {FORMAT_VERSION}",
            "upgrade edgernn or re-export the model",
        )
    if not isinstance(meta.get("model_sha256"), str) or meta.get("precision") not in ALL_PRECISIONS:
        raise ModelFileError(f"{source}: the edgernn metadata has no valid model hash or precision", "export it again")
    if not isinstance(meta.get("lstm_state_tensors"), list):
        raise ModelFileError(f"{source}: the edgernn metadata has no valid lstm_state_tensors", "export it again")
    tensor_infos_from_json(meta.get("inputs"), source)
    tensor_infos_from_json(meta.get("outputs"), source)
    return meta


# --------------------------------------------------------------------------------------------
# The exporter entry point


def precision_of(options: ExportOptions) -> str:
    """``--float`` selects the float32 model; int8 is the default."""
    return "float32" if options.float_weights else "int8"


def export(model: QuantizedRNN, output: Path, options: ExportOptions) -> ExportResult:
    """Write the TFLite step model to ``output`` (a file), int8 unless ``options.float_weights``."""
    result = build(model, precision_of(options))
    write_bytes_atomic(output, result.data)
    report = [
        f"tflite {result.precision} step model: {len(result.data)} bytes, "
        f"inputs {', '.join(f'{t.name}[{t.index}]' for t in result.inputs)}, "
        f"outputs {', '.join(f'{t.name}[{t.index}]' for t in result.outputs)}"
    ]
    if result.inexact:
        report.append(
            f"warning: TFLite computes {len(result.inexact)} requantization multipliers differently from the "
            "IR, so TFLite Micro may differ from the reference by 1 LSB (see docs/compatibility.md)"
        )
    return ExportResult(files=(Path(output),), report=tuple(report))
