"""How a new model's weights start before training (``TrainConfig.init``).

PyTorch draws every recurrent weight from ``U(-1/sqrt(H), 1/sqrt(H))`` whatever the input width, so
with few input features (a univariate sensor, F=1) the input drive of each gate has a standard
deviation of about ``0.58 / sqrt(H)`` (0.10 for H=32): the cells start almost linear, and a
zero-mean oscillating input (engine noise, vibration) gives the head nothing but first-order terms
that average away. On FordA (500 steps, one feature) no cell left chance within a training budget
with that start (benchmarks/results/accuracy.md). ``"lecun-orthogonal"`` scales the input weights to
the input width instead and starts the recurrence norm-preserving:

* input weights ``U(-sqrt(3/F_in), sqrt(3/F_in))`` (LeCun uniform: unit-variance pre-activations
  for standardized inputs or an N(0, 1) embedding, whatever ``F_in``);
* each gate's recurrent block an orthogonal matrix (its repeated application neither explodes nor
  vanishes at the start);
* biases zero, except the LSTM forget gate's, 1 (the cell remembers by default; Gers et al. 2000,
  Jozefowicz et al. 2015).

``"torch"`` keeps PyTorch's own draw (what edgernn did before). The head and the embedding keep
PyTorch's initialization in both schemes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edgernn.errors import EdgeRNNError
from edgernn.types import INIT_SCHEMES, CellType

__all__ = ["INIT_SCHEMES", "initialize"]


@torch.no_grad()
def initialize(rnn: nn.RNNBase, cell: CellType, scheme: str) -> None:
    """Re-draw ``rnn``'s weights in place with ``scheme`` (one of :data:`INIT_SCHEMES`), from torch's RNG."""
    if scheme not in INIT_SCHEMES:
        raise EdgeRNNError(f"unknown init scheme {scheme!r}", f"use one of {', '.join(INIT_SCHEMES)}")
    if scheme == "torch":
        return
    hidden = rnn.hidden_size
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            bound = math.sqrt(3.0 / param.shape[1])
            nn.init.uniform_(param, -bound, bound)
        elif name.startswith("weight_hh"):
            for gate in range(0, param.shape[0], hidden):  # one square block per gate
                nn.init.orthogonal_(param[gate : gate + hidden])
        else:
            param.zero_()
            if cell is CellType.LSTM and name.startswith("bias_ih"):
                param[hidden : 2 * hidden] = 1.0  # PyTorch's gate order: input, forget, cell, output
