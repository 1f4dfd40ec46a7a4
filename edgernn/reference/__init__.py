"""The integer reference: edgernn's executable specification.

Plain, exact numpy integer code. Every other implementation (generated C on every target, the C
backend, TFLite Micro running the TFLite export) must produce the same integers, bit for bit.
Each stage is a function of its own so tests can check stages one at a time.
"""

from edgernn.reference.cells import (
    CellState,
    cell_step,
    dense,
    embed,
    gate_fc,
    gate_preactivation,
    gru_step,
    lstm_step,
    rnn_step,
)
from edgernn.reference.model import ReferenceKernels

__all__ = [
    "CellState",
    "ReferenceKernels",
    "cell_step",
    "dense",
    "embed",
    "gate_fc",
    "gate_preactivation",
    "gru_step",
    "lstm_step",
    "rnn_step",
]
