"""Integer steps of the Elman, GRU and LSTM cells and the dense head.

Shapes: ``x`` is ``(..., input_size)`` int8 values, ``h`` ``(..., hidden)`` int8 values, ``c``
(the LSTM's cell state) and ``h_q15`` (the GRU's hidden state at Q0.15) ``(..., hidden)`` int16
values; leading dimensions are a batch. Values are returned as int64
arrays holding int8/int16 values (the caller casts when storing).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from edgernn.errors import UnsupportedModelError
from edgernn.fixedpoint import (
    INT8_MAX,
    INT8_MIN,
    INT16_MAX,
    INT16_MIN,
    add_saturating_int16,
    fully_connected,
    multiply_int16,
    requantize,
    sigmoid_int16,
    sub_saturating_int16,
    tanh_int16,
)
from edgernn.ir import (
    Dense,
    ElmanCellQ,
    Embedding,
    FullyConnected,
    GRUCellQ,
    HeadTanh,
    LSTMCellQ,
    QParams,
    Rescale,
)
from edgernn.types import Activation

Ints = npt.NDArray[np.int64]
#: Recurrent state of one direction: ``(h,)`` for Elman, ``(h, h_q15)`` for GRU, ``(h, c)`` for LSTM.
CellState = tuple[Ints, ...]


def gate_fc(fc: FullyConnected, x: npt.ArrayLike) -> Ints:
    """One quantized FULLY_CONNECTED (int8 in; int16 gate pre-activation or int8 out)."""
    lo, hi = fc.output_range
    return fully_connected(
        x, fc.input_zero_point, fc.weight, fc.bias, fc.multiplier, fc.shift, fc.output_zero_point, lo, hi
    )


def gate_preactivation(x_fc: FullyConnected, h_fc: FullyConnected, x: npt.ArrayLike, h: npt.ArrayLike) -> Ints:
    """Q3.12 gate pre-activation: input FC plus recurrent FC, added with int16 saturation."""
    return add_saturating_int16(gate_fc(x_fc, x), gate_fc(h_fc, h))


def _mul(a: npt.ArrayLike, b: npt.ArrayLike, rescale: Rescale, zero_point: int = 0, bits: int = 16) -> Ints:
    lo, hi = (INT16_MIN, INT16_MAX) if bits == 16 else (INT8_MIN, INT8_MAX)
    return multiply_int16(a, b, rescale.multiplier, rescale.shift, zero_point, lo, hi)


def rnn_step(cell: ElmanCellQ, x: npt.ArrayLike, h: npt.ArrayLike, hidden_q: QParams) -> Ints:
    """Elman: ``h' = tanh(W_ih x + W_hh h + b)``; the Q0.15 tanh is requantized to int8.

    ReLU Elman: ``h' = relu(W_ih x + W_hh h + b)``: the int16 pre-activation requantized to int8
    and clamped below at the hidden zero point (real 0)."""
    pre = gate_preactivation(cell.x_fc, cell.h_fc, x, h)
    if cell.relu:
        lo = max(hidden_q.zero_point, INT8_MIN)
        return requantize(pre, cell.to_hidden.multiplier, cell.to_hidden.shift, hidden_q.zero_point, lo, INT8_MAX)
    t = tanh_int16(pre)
    return requantize(t, cell.to_hidden.multiplier, cell.to_hidden.shift, hidden_q.zero_point, INT8_MIN, INT8_MAX)


def gru_step(
    cell: GRUCellQ, x: npt.ArrayLike, h: npt.ArrayLike, h_q15: npt.ArrayLike, hidden_q: QParams
) -> tuple[Ints, Ints]:
    """GRU (PyTorch semantics): ``h' = z * h + (1 - z) * n``; returns ``(h', h_q15')``.

    The state is the int16 Q0.15 ``h_q15`` (the blend is Q0.15 already); ``h`` is its int8
    requantization, the tensor the recurrent FCs, the next layer and the head consume. The blend
    reads the int16 state, so a change smaller than half an int8 step (an update gate near 1)
    accumulates instead of rounding away. ``1 - z`` is ``32767 - z`` in Q0.15 (TFLite's int16 SUB
    from the largest int16 constant), 2**-15 below the exact value; every product is rounded to
    Q0.15 before the saturating sum.
    """
    r = sigmoid_int16(gate_preactivation(cell.x_r, cell.h_r, x, h))
    z = sigmoid_int16(gate_preactivation(cell.x_z, cell.h_z, x, h))
    reset_hidden = _mul(r, gate_fc(cell.h_n, h), cell.reset_mul)
    n = tanh_int16(add_saturating_int16(gate_fc(cell.x_n, x), reset_hidden))
    keep = _mul(z, h_q15, cell.gate_mul)
    update = _mul(sub_saturating_int16(INT16_MAX, z), n, cell.gate_mul)
    h_q15_new = add_saturating_int16(keep, update)
    h_new = requantize(
        h_q15_new, cell.to_hidden.multiplier, cell.to_hidden.shift, hidden_q.zero_point, INT8_MIN, INT8_MAX
    )
    return h_new, h_q15_new


def lstm_step(
    cell: LSTMCellQ, x: npt.ArrayLike, h: npt.ArrayLike, c: npt.ArrayLike, hidden_q: QParams
) -> tuple[Ints, Ints]:
    """LSTM as TFLite Micro's 8x8_16 step; returns ``(h', c')``.

    ``c' = f*c + i*g`` (each product rounded to the cell scale, then a saturating add) and
    ``h' = o * tanh(c')`` requantized to int8 with the hidden zero point. With a ``cell_clip``
    ``c'`` is clamped to ``[-clip, clip]`` after the add, before the tanh (TFLite's UpdateLstmCell).
    """
    i = sigmoid_int16(gate_preactivation(cell.x_i, cell.h_i, x, h))
    f = sigmoid_int16(gate_preactivation(cell.x_f, cell.h_f, x, h))
    g = tanh_int16(gate_preactivation(cell.x_g, cell.h_g, x, h))
    c_new = add_saturating_int16(_mul(f, c, cell.forget_mul), _mul(i, g, cell.input_mul))
    if cell.cell_clip is not None:
        c_new = np.clip(c_new, -cell.cell_clip, cell.cell_clip)
    o = sigmoid_int16(gate_preactivation(cell.x_o, cell.h_o, x, h))
    tanh_c = tanh_int16(c_new, *cell.cell_tanh_params)
    h_new = _mul(o, tanh_c, cell.output_mul, zero_point=hidden_q.zero_point, bits=8)
    return h_new, c_new


@functools.singledispatch
def cell_step(cell: object, x: npt.ArrayLike, state: CellState, hidden_q: QParams) -> CellState:
    """One step of any quantized cell: ``state -> state'`` (dispatch on the IR cell type)."""
    raise TypeError(f"no integer step for {type(cell).__name__}")


@cell_step.register
def _(cell: ElmanCellQ, x: npt.ArrayLike, state: CellState, hidden_q: QParams) -> CellState:
    return (rnn_step(cell, x, state[0], hidden_q),)


@cell_step.register
def _(cell: GRUCellQ, x: npt.ArrayLike, state: CellState, hidden_q: QParams) -> CellState:
    return gru_step(cell, x, state[0], state[1], hidden_q)


@cell_step.register
def _(cell: LSTMCellQ, x: npt.ArrayLike, state: CellState, hidden_q: QParams) -> CellState:
    return lstm_step(cell, x, state[0], state[1], hidden_q)


def dense(head: Dense, h: npt.ArrayLike) -> Ints:
    """The int8 dense head."""
    return gate_fc(head.fc, h)


def head_activation(activation: Activation, h: npt.ArrayLike, hidden_q: QParams, tanh: HeadTanh | None = None) -> Ints:
    """The activation between the recurrent stack and the head, on int8 hidden values at
    ``hidden_q``: ReLU clamps below at the zero point (real 0) and keeps the scale; tanh
    (:class:`edgernn.ir.HeadTanh`) goes through the int16 TANH table and gives int8 at its ``output_q``."""
    h = np.asarray(h, dtype=np.int64)
    if activation is Activation.NONE:
        return h
    if activation is Activation.RELU:
        return np.maximum(h, hidden_q.zero_point)
    if activation is Activation.TANH and tanh is not None:
        q312 = requantize(h - hidden_q.zero_point, tanh.to_q312.multiplier, tanh.to_q312.shift, 0, INT16_MIN, INT16_MAX)
        t = tanh_int16(q312)
        return requantize(t, tanh.to_int8.multiplier, tanh.to_int8.shift, tanh.output_q.zero_point, INT8_MIN, INT8_MAX)
    raise UnsupportedModelError(
        f"the int8 model has no {activation.value} between the recurrent stack and the head",
        "use ReLU, tanh (or nothing) there, or run the float model",
    )


def running_mean(hidden: npt.ArrayLike, zero_point: int) -> Ints:
    """The mean of int8 hidden outputs over steps ``0..t`` at every step ``t`` (axis 0), at the
    hidden scale: ``zero_point + round_half_away(sum(h - zero_point) / (t + 1))``, the sum exact
    in int32 (``|h - zero_point| <= 255``, so up to 2**23 steps)."""
    h = np.asarray(hidden, dtype=np.int64) - zero_point
    total = np.cumsum(h, axis=0)
    count = np.arange(1, h.shape[0] + 1, dtype=np.int64).reshape((-1,) + (1,) * (h.ndim - 1))
    magnitude = (2 * np.abs(total) + count) // (2 * count)  # round half away from zero
    return zero_point + np.sign(total) * magnitude


def embed(embedding: Embedding, tokens: npt.ArrayLike) -> Ints:
    """Token ids to int8 vectors (a table lookup: TFLite's GATHER)."""
    return embedding.table[np.asarray(tokens, dtype=np.int64)].astype(np.int64)
