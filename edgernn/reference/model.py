"""The integer reference as :class:`edgernn.engine.Kernels` for the shared sequence loop."""

from __future__ import annotations

import numpy as np

from edgernn.engine import Array, CellState
from edgernn.ir import QuantizedRNN
from edgernn.reference.cells import cell_step, dense, embed, head_activation, running_mean


class ReferenceKernels:
    """Integer kernels of one model; every array holds int8/int16 values (as int64)."""

    def __init__(self, model: QuantizedRNN) -> None:
        self.model = model
        self.config = model.config

    def embed(self, tokens: Array) -> Array:
        assert self.model.embedding is not None
        return embed(self.model.embedding, tokens)

    def zero_state(self, layer: int, batch_shape: tuple[int, ...]) -> CellState:
        spec = self.model.layers[layer]
        shape = (*batch_shape, spec.hidden_size)
        # Real zero is the zero point in int8; the int16 states are symmetric.
        h = np.full(shape, spec.hidden_q.zero_point, dtype=np.int64)
        if spec.cell.int16_state:
            return (h, np.zeros(shape, dtype=np.int64))
        return (h,)

    def cell(self, layer: int, direction: int, x: Array, state: CellState) -> CellState:
        spec = self.model.layers[layer]
        return cell_step(spec.directions[direction].quant, x, state, spec.hidden_q)

    def head(self, h: Array) -> Array:
        h = head_activation(self.config.head_activation, h, self.model.layers[-1].hidden_q, self.model.head_tanh)
        return dense(self.model.head, h) if self.model.head is not None else h

    def running_mean(self, hidden: Array) -> Array:
        return running_mean(hidden, self.model.layers[-1].hidden_q.zero_point)
