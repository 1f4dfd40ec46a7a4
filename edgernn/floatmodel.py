"""The float model in numpy: the same network as the PyTorch one, without torch.

Used by the ``"float"`` runtime backend and by the quantizer's calibration, which watches the
intermediate tensors through a :class:`Probe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgernn.engine import Array, CellState
from edgernn.ir import FloatCellWeights, QuantizedRNN
from edgernn.types import Activation, CellType, ModelConfig


class Probe(Protocol):
    """Receives the float tensors that calibration needs ranges of."""

    def hidden(self, layer: int, h: Array) -> None: ...

    def cell_state(self, layer: int, c: Array) -> None: ...

    def gru_reset_hidden(self, layer: int, hn: Array) -> None: ...

    def head_output(self, y: Array) -> None: ...


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def activate(activation: Activation, x: Array) -> Array:
    """An elementwise :class:`Activation` in float."""
    if activation is Activation.RELU:
        return np.maximum(x, 0)
    return np.tanh(x) if activation is Activation.TANH else x


def float_cell_step(
    cell: CellType, w: FloatCellWeights, x: Array, state: CellState, nonlinearity: Activation = Activation.TANH
) -> tuple[CellState, Array | None]:
    """One float step with PyTorch's formulas; also returns GRU's ``W_hn h + b_hn`` (else None).
    ``nonlinearity``: the Elman cell's (tanh or relu)."""
    h = state[0]
    gi = x @ w.weight_ih.T + w.bias_ih
    gh = h @ w.weight_hh.T + w.bias_hh
    if cell is CellType.RNN:
        return (activate(nonlinearity, gi + gh),), None
    if cell is CellType.GRU:
        i_r, i_z, i_n = np.split(gi, 3, axis=-1)
        h_r, h_z, h_n = np.split(gh, 3, axis=-1)
        r = _sigmoid(i_r + h_r)
        z = _sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return ((1.0 - z) * n + z * h,), h_n
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = _sigmoid(f) * state[1] + _sigmoid(i) * np.tanh(g)
    return (_sigmoid(o) * np.tanh(c), c), None


@dataclass(frozen=True, eq=False)
class FloatParams:
    """The float weights of a model: what the quantizer starts from, and what the IR keeps."""

    config: ModelConfig
    cells: tuple[tuple[FloatCellWeights, ...], ...]  # [layer][direction]
    embedding: Array | None  # (vocab, dim)
    head_weight: Array | None  # (out, in)
    head_bias: Array | None  # (out,)

    @classmethod
    def of(cls, model: QuantizedRNN) -> FloatParams:
        return cls(
            config=model.config,
            cells=tuple(tuple(d.float_weights for d in layer.directions) for layer in model.layers),
            embedding=None if model.embedding is None else model.embedding.weight,
            head_weight=None if model.head is None else model.head.weight,
            head_bias=None if model.head is None else model.head.bias,
        )


class FloatKernels:
    """float32 kernels of a model's float weights, optionally reporting to a :class:`Probe`."""

    def __init__(self, params: FloatParams | QuantizedRNN, probe: Probe | None = None) -> None:
        self.params = params if isinstance(params, FloatParams) else FloatParams.of(params)
        self.config: ModelConfig = self.params.config
        self.probe = probe

    def embed(self, tokens: Array) -> Array:
        assert self.params.embedding is not None
        return self.params.embedding[np.asarray(tokens, dtype=np.int64)]

    def zero_state(self, layer: int, batch_shape: tuple[int, ...]) -> CellState:
        shape = (*batch_shape, self.config.hidden_size)
        zeros = np.zeros(shape, dtype=np.float32)
        return (zeros, zeros.copy()) if self.config.cell is CellType.LSTM else (zeros,)

    def cell(self, layer: int, direction: int, x: Array, state: CellState) -> CellState:
        weights = self.params.cells[layer][direction]
        new_state, reset_hidden = float_cell_step(self.config.cell, weights, x, state, self.config.nonlinearity)
        new_state = tuple(s.astype(np.float32) for s in new_state)
        if self.probe is not None:
            self.probe.hidden(layer, new_state[0])
            if len(new_state) == 2:
                self.probe.cell_state(layer, new_state[1])
            if reset_hidden is not None:
                self.probe.gru_reset_hidden(layer, reset_hidden)
        return new_state

    def running_mean(self, hidden: Array) -> Array:
        count = np.arange(1, hidden.shape[0] + 1, dtype=np.float32).reshape((-1,) + (1,) * (hidden.ndim - 1))
        return (np.cumsum(hidden, axis=0, dtype=np.float32) / count).astype(np.float32)

    def head(self, h: Array) -> Array:
        h = activate(self.config.head_activation, h).astype(np.float32)
        if self.params.head_weight is None:
            return h
        y = (h @ self.params.head_weight.T + self.params.head_bias).astype(np.float32)
        if self.probe is not None:
            self.probe.head_output(y)
        return y
