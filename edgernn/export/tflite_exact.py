"""The LiteRT-exact TFLite step model (``--format tflite-exact``, precision ``"int8-exact"``).

LiteRT's optimized kernels differ from the integer reference in three ops (docs/compatibility.md):
its int16 LOGISTIC/TANH are not the reference's LUTs, its 16x8 FULLY_CONNECTED rounds
differently, and its int8 FULLY_CONNECTED (the head) rounds once. This variant keeps the graph of
``--format tflite`` and replaces exactly those ops by builtin ops that LiteRT computes exactly
(each checked in LiteRT by tests/conformance/test_tflite_exact.py):

* LOGISTIC/TANH: ``GATHER`` over the reference's own table of all 65,536 int16 inputs, indexed by
  ``CAST(x, int32) + 32768`` (128 KiB per function, shared by every layer);
* every FULLY_CONNECTED: ``BATCH_MATMUL`` int8 x int8 -> int32 (the raw products: the input zero
  point is folded into the int32 bias), then the reference's double-rounding requantization in
  integer ops. gemmlowp's SaturatingRoundingDoublingHighMul is ``floor((x*M + 2^30) / 2^31)``,
  which is the high 32-bit word of the int64 ``x*2M + 2^31``: ``MUL``/``ADD`` in int64 and a
  ``BITCAST`` to int32 pairs read it without any 64-bit shift or division (LiteRT has neither
  for int64). RoundingDivideByPOT is done in int32 without overflow:
  ``(q >> e) + ((r + 2^(e-1) - [q < 0]) >> e)`` with ``r = q - (q >> e) * 2^e``.
  All gate FCs of a cell share that chain (:meth:`ExactGraph.exact_fcs`): one product per input
  (x, h), the int32 products concatenated, requantized per row, then split into the gates.

The LSTM, a fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` in ``--format tflite`` (whose gates are not
tensors), is rebuilt here from those same ops at the reference's rounding points
(:meth:`ExactLayer.lstm`), with its state explicit like the GRU's: inputs ``h{k}`` (int8) and
``c{k}`` (int16 at the cell scale), outputs ``l{k}/h_out`` and ``l{k}/c_out``.

TFLite Micro lacks some of these ops; the plain ``--format tflite`` is its file (and exact there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn.errors import EdgeRNNError, UnsupportedModelError
from edgernn.export import ExportOptions, ExportResult
from edgernn.export.tflite import (
    _OP,
    _OPT,
    _T,
    GATE_SCALE,
    Q15_SCALE,
    _elman_activation,
    _Graph,
    _gru_blend,
    _Int8Layer,
    _per_tensor,
    _Quant,
    build,
    schema,
    tflite_multiplier,
)
from edgernn.fileio import write_bytes_atomic
from edgernn.fixedpoint import INT8_MAX, INT8_MIN, INT16_MAX, INT16_MIN, sigmoid_int16, tanh_int16
from edgernn.ir import Dense, ElmanCellQ, FullyConnected, GRUCellQ, LSTMCellQ, QuantizedRNN

_LUT_OFFSET = 1 << 15  # int16 value -> table row
_TANH_OFFSET = _LUT_OFFSET + (1 << 16)  # ... in the tanh half of the sigmoid + tanh table
_GATES_TABLE = "lut_sigmoid_tanh_int16"


def lut_table(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` (an int16 -> int16 function of edgernn.fixedpoint) at every int16 value, in order."""
    return fn(np.arange(INT16_MIN, INT16_MAX + 1, dtype=np.int64)).astype(np.int16)


class ExactGraph(_Graph):
    """A :class:`_Graph` whose int16 LOGISTIC/TANH are table lookups and which has the exact FC."""

    def __init__(self) -> None:
        super().__init__()
        self._consts: dict[tuple[str, bytes, tuple[int, ...]], int] = {}

    def const(self, name: str, ttype: int, value: np.ndarray, quant: _Quant | None = None) -> int:
        """A constant tensor, shared by content (tables, offsets, shifts)."""
        arr = np.array(value, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
        key = (f"{ttype}/{quant}", arr.tobytes(), arr.shape)
        if key not in self._consts:
            self._consts[key] = self.tensor(f"{name}#{len(self._consts)}", arr.shape, ttype, quant, arr)
        return self._consts[key]

    def _binary(self, op: int, a: int, b: int, name: str, ttype: int, shape: Sequence[int]) -> int:
        out = self.tensor(name, shape, ttype)
        if op == _OP.ADD:
            return self.add(a, b, out)
        if op == _OP.SUB:
            return self.sub(a, b, out)
        if op == _OP.MUL:
            return self.mul(a, b, out)
        if op == _OP.RIGHT_SHIFT:
            self.op(op, [a, b], [out], _OPT.RightShiftOptions, schema.RightShiftOptionsT())
        else:  # MAXIMUM, MINIMUM
            self.op(op, [a, b], [out])
        return out

    def cast(self, a: int, name: str, ttype: int, quant: _Quant | None = None) -> int:
        out = self.tensor(name, self.tensors[a].shape, ttype, quant)
        self.op(_OP.CAST, [a], [out])
        return out

    def lut(self, table_name: str, table: np.ndarray, offset: np.ndarray, a: int, out: int) -> int:
        """``out = table[a + offset]`` for an int16 tensor ``a``: ``CAST`` to int32, ``ADD``, ``GATHER``
        (``offset`` broadcasts: one value, or one per element to pick a table among concatenated ones)."""
        name = self.tensors[out].name
        shape = self.tensors[a].shape
        index = self._binary(
            _OP.ADD,
            self.cast(a, f"{name}/int32", _T.INT32),
            self.const("lut_offset", _T.INT32, np.asarray(offset, np.int32)),
            f"{name}/index",
            _T.INT32,
            shape,
        )
        return self.gather(self.const(table_name, _T.INT16, table), index, out)

    def logistic(self, a: int, out: int) -> int:
        return self.lut("lut_sigmoid_int16", lut_table(sigmoid_int16), np.array([_LUT_OFFSET]), a, out)

    def tanh(self, a: int, out: int) -> int:
        return self.lut("lut_tanh_int16", lut_table(tanh_int16), np.array([_LUT_OFFSET]), a, out)

    def split(self, a: int, parts: int, name: str, quant: _Quant) -> list[int]:
        """``SPLIT`` of a ``(1, n)`` tensor into ``parts`` equal ``(1, n / parts)`` tensors."""
        t = self.tensors[a]
        width = t.shape[1] // parts
        outs = [self.tensor(f"{name}/{k}", (1, width), t.type, quant) for k in range(parts)]
        opts = schema.SplitOptionsT()
        opts.numSplits = parts
        self.op(_OP.SPLIT, [self.const("axis", _T.INT32, np.array(1, np.int32)), a], outs, _OPT.SplitOptions, opts)
        return outs

    def split_v(self, a: int, parts: Sequence[tuple[str, int, _Quant]]) -> list[int]:
        """``SPLIT_V`` of a ``(1, n)`` tensor into ``(1, width)`` tensors, each ``(name, width, quant)``
        (a copy: LiteRT's SPLIT_V moves the values whatever the tensors' quantization says)."""
        t = self.tensors[a]
        outs = [self.tensor(name, (1, width), t.type, quant) for name, width, quant in parts]
        widths = self.const("split_widths", _T.INT32, np.array([w for _, w, _ in parts], np.int32))
        opts = schema.SplitVOptionsT()
        opts.numSplits = len(parts)
        axis = self.const("axis", _T.INT32, np.array(1, np.int32))
        self.op(_OP.SPLIT_V, [a, widths, axis], outs, _OPT.SplitVOptions, opts)
        return outs

    def exact_fc(
        self, x8: int, fc: FullyConnected | Sequence[FullyConnected], name: str, ttype: int, quant: _Quant
    ) -> int:
        """``clamp(MBQM(x @ W.T + folded_bias) + zp_out)`` cast to int8/int16, as the reference.

        A sequence of FCs sharing the input ``x8`` is one product with their rows concatenated,
        requantized per row (one op chain instead of one per FC)."""
        return self.exact_fcs([(x8, [fc] if isinstance(fc, FullyConnected) else fc)], name, ttype, quant)

    def exact_fcs(
        self, groups: Sequence[tuple[int, Sequence[FullyConnected]]], name: str, ttype: int, quant: _Quant
    ) -> int:
        """:meth:`exact_fc` of FCs on several int8 inputs, each group ``(x8, fcs)`` one product: the
        int32 products of all groups are concatenated, so one requantization chain serves every row
        (the output rows in group order; their scales may differ, ``quant`` only labels the tensor)."""
        fcs = [f for _, group in groups for f in group]
        first = fcs[0]
        if any(f.output_range != first.output_range or f.output_zero_point != first.output_zero_point for f in fcs):
            raise AssertionError(f"{name}: concatenated FCs differ in output quantization")
        parts = []
        for k, (x8, group) in enumerate(groups):
            weight = np.concatenate([f.weight for f in group])
            rows, cols = weight.shape
            what = name if len(groups) == 1 else f"{name}/{k}"
            weight_t = self.tensor(f"{what}/weight_t", (cols, rows), _T.INT8, _per_tensor(1.0), weight.T)
            products = self.tensor(f"{what}/products", (1, rows), _T.INT32, _per_tensor(1.0))
            opts = schema.BatchMatMulOptionsT()
            self.op(_OP.BATCH_MATMUL, [x8, weight_t], [products], _OPT.BatchMatMulOptions, opts)
            parts.append(products)
        rows = sum(f.out_features for f in fcs)
        if len(parts) > 1:  # int32 CONCATENATION is a copy (LiteRT rescales only int8/uint8 inputs)
            products = self.tensor(f"{name}/products", (1, rows), _T.INT32, _per_tensor(1.0))
            opts = schema.ConcatenationOptionsT()
            opts.axis = 1
            self.op(_OP.CONCATENATION, parts, [products], _OPT.ConcatenationOptions, opts)
        bias = np.concatenate([f.folded_bias for f in fcs])
        acc = self._binary(_OP.ADD, products, self.const("bias", _T.INT32, bias), f"{name}/acc", _T.INT32, (1, rows))
        multiplier = np.concatenate([f.multiplier for f in fcs])
        shift = np.concatenate([f.shift for f in fcs])
        zero_point = int(first.output_zero_point)
        return self.requantize(acc, multiplier, shift, zero_point, first.output_range, name, ttype, quant)

    def requantize(
        self,
        acc: int,
        multiplier: np.ndarray,
        shift: np.ndarray,
        zero_point: int,
        output_range: tuple[int, int],
        name: str,
        ttype: int,
        quant: _Quant,
    ) -> int:
        """``clamp(MBQM(acc, M, shift) + zero_point)`` of an int32 ``(1, n)`` tensor, cast to
        ``ttype``: the reference's double-rounding requantization (:func:`edgernn.fixedpoint.requantize`)
        with one multiplier and shift per element of the row."""
        shape = tuple(self.tensors[acc].shape)
        shifts = np.asarray(shift, dtype=np.int64)
        left, right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
        if right.max() > 30:
            raise UnsupportedModelError(f"{name}: a right shift of {right.max()} has no exact LiteRT form here")

        def c32(what: str, v: np.ndarray) -> int:
            return self.const(what, _T.INT32, np.asarray(v, dtype=np.int32))

        def op(code: int, a: int, b: int, what: str, ttype: int = _T.INT32) -> int:
            return self._binary(code, a, b, f"{name}/{what}", ttype, shape)

        # x * 2^left * 2M + 2^31 in int64; its high word is SRDHM(x * 2^left, M)
        scaled = op(
            _OP.MUL,
            self.cast(acc, f"{name}/acc64", _T.INT64),
            self.const("mul", _T.INT64, np.asarray(multiplier, dtype=np.int64) * 2 * (np.int64(1) << left)),
            "product64",
            _T.INT64,
        )
        nudged = op(_OP.ADD, scaled, self.const("two_31", _T.INT64, np.array([1 << 31], np.int64)), "nudged", _T.INT64)
        words = self.tensor(f"{name}/words", (*shape, 2), _T.INT32)
        self.op(_OP.BITCAST, [nudged], [words])
        high = self.tensor(f"{name}/srdhm", shape, _T.INT32)
        opts = schema.GatherOptionsT()
        opts.axis = len(shape)
        self.op(_OP.GATHER, [words, c32("high_word", np.array(1))], [high], _OPT.GatherOptions, opts)
        # RoundingDivideByPOT(q, e), rounding half away from zero, without overflow
        e = c32("shift", right)
        quotient = op(_OP.RIGHT_SHIFT, high, e, "quotient")
        remainder = op(_OP.SUB, high, op(_OP.MUL, quotient, c32("pot", np.int64(1) << right), "floor"), "remainder")
        negative = op(_OP.RIGHT_SHIFT, high, c32("sign_shift", np.array([31])), "minus_negative")  # -1 or 0
        if np.any(right == 0):  # no rounding for these rows
            negative = op(_OP.MUL, negative, c32("has_shift", (right > 0).astype(np.int64)), "minus_negative_rows")
        half = c32("half", np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0))
        rounding = op(
            _OP.RIGHT_SHIFT, op(_OP.ADD, op(_OP.ADD, remainder, half, "r_half"), negative, "r_nudged"), e, "r"
        )
        out = op(_OP.ADD, quotient, rounding, "requantized")
        if zero_point:
            out = op(_OP.ADD, out, c32("zero_point", np.array([zero_point])), "with_zero_point")
        lo, hi = output_range
        out = op(_OP.MAXIMUM, out, c32("lo", np.array([lo])), "at_least")
        out = op(_OP.MINIMUM, out, c32("hi", np.array([hi])), "at_most")
        return self.cast(out, name, ttype, quant)


@dataclass
class ExactLayer(_Int8Layer):
    """Layer emitter of the exact variant: the FCs read the int8 tensors themselves."""

    g: ExactGraph
    c_in: int | None = None  # the LSTM's int16 cell state input
    c_out: int | None = None  # ... and its new value, set by :meth:`lstm`

    def step(self, cell: object, h8: int) -> int:
        """Emit one cell step; returns the int8 new hidden state tensor."""
        if isinstance(cell, LSTMCellQ):
            return self.lstm(cell, h8)
        if isinstance(cell, GRUCellQ):
            return self.gru(cell, h8)
        if isinstance(cell, ElmanCellQ):
            return self.elman(cell, h8)
        raise UnsupportedModelError(f"no TFLite form for {type(cell).__name__}")

    def elman(self, cell: ElmanCellQ, h8: int) -> int:
        """:func:`edgernn.reference.cells.rnn_step`: the input and recurrent FCs as one requantization
        (:meth:`ExactGraph.exact_fcs`), SPLIT, their saturating int16 ADD, then the plain form's activation."""
        g, p = self.g, self.prefix
        q_pre = _per_tensor(cell.x_fc.output_scale)  # the recurrent FC's too (one pre-activation scale)
        fcs = g.exact_fcs([(self.x8, [cell.x_fc]), (h8, [cell.h_fc])], f"{p}/fc", _T.INT16, q_pre)
        x_pre, h_pre = g.split(fcs, 2, f"{p}/fc", q_pre)
        pre = g.add(x_pre, h_pre, g.tensor(f"{p}/pre", (1, self.layer.hidden_size), _T.INT16, q_pre))
        return _elman_activation(cell, self, pre)

    def gru(self, cell: GRUCellQ, h8: int) -> int:
        """:func:`edgernn.reference.cells.gru_step` with its six gate FCs as one requantization.

        The rows are x_r, x_z, x_n, h_r, h_z, h_n, each requantized to int16 on its own as the
        reference's ``gate_fc``; SPLIT_V gives back [x_r x_z], x_n, [h_r h_z] and h_n. r and z are
        one saturating ADD and one sigmoid lookup, then SPLIT. The reset gate multiplies the
        requantized ``h_n`` (its own int16 scale) in an int16 MUL to Q3.12, rounded there, before
        the saturating add of ``x_n`` and the tanh, as the reference's ``_mul(r, gate_fc(h_n))``."""
        g, p, hidden = self.g, self.prefix, self.layer.hidden_size
        q312, q15 = _per_tensor(GATE_SCALE), _per_tensor(Q15_SCALE)
        q_hn = _per_tensor(cell.h_n.output_scale)
        fcs = g.exact_fcs(
            [(self.x8, [cell.x_r, cell.x_z, cell.x_n]), (h8, [cell.h_r, cell.h_z, cell.h_n])],
            f"{p}/gates_fc",
            _T.INT16,
            q312,
        )
        # The ADDs read equal scales on both sides (a plain saturating int16 add, as the reference);
        # only h_n's scale is used, by the MUL, which derives reset_mul from it (checked below).
        x_rz, x_n, h_rz, h_n = g.split_v(
            fcs,
            [
                (f"{p}/x_rz", 2 * hidden, q312),
                (f"{p}/x_n", hidden, q312),
                (f"{p}/h_rz", 2 * hidden, q312),
                (f"{p}/h_n", hidden, q_hn),
            ],
        )
        rz_pre = g.add(x_rz, h_rz, g.tensor(f"{p}/rz_pre", (1, 2 * hidden), _T.INT16, q312))
        rz = g.logistic(rz_pre, g.tensor(f"{p}/rz", (1, 2 * hidden), _T.INT16, q15))
        r, z = g.split(rz, 2, f"{p}/rz", q15)
        self.check.rescale(
            f"{p}/r_h_n (MUL)", cell.reset_mul, tflite_multiplier(Q15_SCALE, cell.h_n.output_scale, GATE_SCALE)
        )
        reset_hidden = g.mul(r, h_n, self.q312(f"{p}/r_h_n"))
        n = g.tanh(g.add(x_n, reset_hidden, self.q312(f"{p}/n_pre")), self.q15(f"{p}/n"))
        return _gru_blend(cell, self, z, n)

    def lstm(self, cell: LSTMCellQ, h8: int) -> int:
        """The 8x8_16 LSTM step of :func:`edgernn.reference.cells.lstm_step`, one op per rounding
        point, with the cell state an explicit int16 input (:attr:`c_in`) and output (:attr:`c_out`)."""
        g, p, lay = self.g, self.prefix, self.layer
        assert self.c_in is not None
        hidden = lay.hidden_size

        # The eight gate FCs are one requantization (rows x_i, x_f, x_g, x_o, then the h rows:
        # :meth:`ExactGraph.exact_fcs`); SPLIT gives the x and h halves, whose saturating sum goes
        # through one GATHER over the sigmoid and tanh tables side by side (g's rows offset into
        # the tanh half), then one SPLIT.
        gates = "ifgo"
        q312 = _per_tensor(GATE_SCALE)
        fcs = g.exact_fcs(
            [(self.x8, [getattr(cell, f"x_{k}") for k in gates]), (h8, [getattr(cell, f"h_{k}") for k in gates])],
            f"{p}/gates_fc",
            _T.INT16,
            q312,
        )
        x_pre, h_pre = g.split(fcs, 2, f"{p}/gates_fc", q312)
        pre = g.add(x_pre, h_pre, g.tensor(f"{p}/gates_pre", (1, 4 * hidden), _T.INT16, q312))
        offset = np.repeat([_LUT_OFFSET, _LUT_OFFSET, _TANH_OFFSET, _LUT_OFFSET], hidden)
        table = np.concatenate([lut_table(sigmoid_int16), lut_table(tanh_int16)])
        q15 = _per_tensor(Q15_SCALE)
        activated = g.lut(_GATES_TABLE, table, offset, pre, g.tensor(f"{p}/gates", (1, 4 * hidden), _T.INT16, q15))
        i, f, gg, o = g.split(activated, 4, f"{p}/gate", q15)
        # f*c and i*g are int16 MULs to the cell scale (LiteRT's int16 MUL double-rounds as the
        # reference does); TFLite derives their multipliers from the scales, checked against the IR's.
        cell_scale = 2.0**cell.cell_scale_power
        cell_q = _per_tensor(cell_scale)

        def c16(name: str) -> int:
            return g.tensor(f"{p}/{name}", (1, hidden), _T.INT16, cell_q)

        self.check.rescale(f"{p} forget MUL", cell.forget_mul, tflite_multiplier(Q15_SCALE, cell_scale, cell_scale))
        self.check.rescale(f"{p} input MUL", cell.input_mul, tflite_multiplier(Q15_SCALE, Q15_SCALE, cell_scale))
        c = g.add(
            g.mul(f, self.c_in, c16("f_c")),
            g.mul(i, gg, c16("i_g")),
            c16("c_out" if cell.cell_clip is None else "c_sum"),
        )
        if cell.cell_clip is not None:  # TFLite's UpdateLstmCell clamps after the add, before the tanh
            for code, bound, name in (
                (_OP.MAXIMUM, -cell.cell_clip, "c_at_least"),
                (_OP.MINIMUM, cell.cell_clip, "c_out"),
            ):
                out = c16(name)
                g.op(code, [c, g.const(f"{name}/clip", _T.INT16, np.array([bound], np.int16), cell_q)], [out])
                c = out
        self.c_out = c
        if cell.cell_tanh_params == (0, 0):  # cell state at Q3.12: the gates' tanh half of their table
            tanh_c = g.lut(_GATES_TABLE, table, np.array([_TANH_OFFSET]), c, self.q15(f"{p}/tanh_c"))
        else:
            multiplier, left_shift = cell.cell_tanh_params
            cell_table = lut_table(
                functools.partial(tanh_int16, input_multiplier=multiplier, input_left_shift=left_shift)
            )
            name = f"lut_tanh_cell_2^{cell.cell_scale_power}"
            tanh_c = g.lut(name, cell_table, np.array([_LUT_OFFSET]), c, self.q15(f"{p}/tanh_c"))
        # o * tanh(c) to int8 at the hidden scale: the exact int32 product (|o * t| < 2^30), then the
        # reference's requantization (LiteRT has no int16 x int16 -> int8 MUL to trust with it).
        product = g._binary(
            _OP.MUL,
            g.cast(o, f"{p}/o_int32", _T.INT32),
            g.cast(tanh_c, f"{p}/tanh_c_int32", _T.INT32),
            f"{p}/o_tanh_c",
            _T.INT32,
            (1, hidden),
        )
        hq = lay.hidden_q
        return g.requantize(
            product,
            np.full(hidden, cell.output_mul.multiplier),
            np.full(hidden, cell.output_mul.shift),
            hq.zero_point,
            (INT8_MIN, INT8_MAX),
            f"{p}/h_out",
            _T.INT8,
            _per_tensor(hq.scale, hq.zero_point),
        )


def exact_head(g: _Graph, head: Dense, h8: int) -> int:
    assert isinstance(g, ExactGraph)
    return g.exact_fc(h8, head.fc, "y", _T.INT8, _per_tensor(head.output_q.scale, head.output_q.zero_point))


def export(model: QuantizedRNN, output: Path, options: ExportOptions) -> ExportResult:
    """``--format tflite-exact``: the int8 step model LiteRT runs exactly (GRU, LSTM and Elman)."""
    if options.float_weights:
        raise EdgeRNNError("the LiteRT-exact variant is int8 only", "export float32 with --format tflite --float")
    result = build(model, "int8-exact")
    write_bytes_atomic(output, result.data)
    report = (
        f"tflite int8-exact step model (LiteRT-exact; use --format tflite for TFLite Micro): "
        f"{len(result.data)} bytes, inputs {', '.join(f'{t.name}[{t.index}]' for t in result.inputs)}, "
        f"outputs {', '.join(f'{t.name}[{t.index}]' for t in result.outputs)}",
    )
    return ExportResult(files=(Path(output),), report=report)
