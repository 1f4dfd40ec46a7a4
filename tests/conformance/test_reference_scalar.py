"""The vectorized integer reference equals an independent scalar implementation, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from edgernn import reference
from edgernn.ir import ElmanCellQ, GRUCellQ, LSTMCellQ
from edgernn.testing import random_model
from edgernn.types import Activation, CellType, ModelConfig
from tests import scalar_ref

CASES = [
    (cell, inp, hidden, gain, Activation.TANH)
    for cell in CellType
    for (inp, hidden) in [(1, 1), (3, 7), (13, 32)]
    for gain in (1.0, 6.0)  # 6x PyTorch's init: pre-activations leave Q3.12's range and saturate
] + [
    (CellType.RNN, inp, hidden, gain, Activation.RELU)
    for (inp, hidden) in [(1, 1), (3, 7), (13, 32)]
    for gain in (1.0, 3.0)  # 3x: the hidden range passes 8, the pre-activation scale is coarser than Q3.12
]


@pytest.mark.parametrize(("cell", "inp", "hidden", "gain", "nonlinearity"), CASES)
def test_cell_step_equals_scalar_implementation(
    cell: CellType, inp: int, hidden: int, gain: float, nonlinearity: Activation
) -> None:
    cfg = ModelConfig(cell=cell, input_size=inp, hidden_size=hidden, nonlinearity=nonlinearity)
    model = random_model(cfg, seed=inp * 100 + hidden, weight_gain=gain)
    layer = model.layers[0]
    q = layer.hidden_q
    quant = layer.directions[0].quant
    rng = np.random.default_rng(hidden)
    h = [q.zero_point] * hidden
    c = [0] * hidden
    for t in range(300):
        # Every int8 value is fair game for x, including the extremes.
        x = rng.integers(-128, 128, size=inp).tolist() if t % 5 else [127 if t % 2 else -128] * inp
        if isinstance(quant, LSTMCellQ):
            h_vec, c_vec = reference.lstm_step(quant, x, h, c, q)
            h, c = scalar_ref.lstm_step(quant, x, h, c, q)
            assert c_vec.tolist() == c
        elif isinstance(quant, GRUCellQ):
            h_vec, c_vec = reference.gru_step(quant, x, h, c, q)  # c: the Q0.15 hidden state
            h, c = scalar_ref.gru_step(quant, x, h, c, q)
            assert c_vec.tolist() == c
        else:
            assert isinstance(quant, ElmanCellQ)
            h_vec = reference.rnn_step(quant, x, h, q)
            h = scalar_ref.rnn_step(quant, x, h, q)
        assert h_vec.tolist() == h, f"step {t}"
        assert all(-128 <= v <= 127 for v in h)


def test_head_equals_scalar_fc() -> None:
    cfg = ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=9, output_size=5)
    model = random_model(cfg, seed=3)
    assert model.head is not None
    h = np.random.default_rng(0).integers(-128, 128, size=9).tolist()
    assert reference.dense(model.head, h).tolist() == scalar_ref.fc(model.head.fc, h)


@pytest.mark.parametrize(
    ("cell", "nonlinearity", "gain"),
    [(CellType.GRU, "tanh", 1.0), (CellType.RNN, "relu", 3.0)],  # ReLU 3x: hidden values past Q3.12's 8 saturate
)
def test_head_tanh_equals_scalar_implementation(cell: CellType, nonlinearity: str, gain: float) -> None:
    cfg = ModelConfig(
        cell=cell, input_size=4, hidden_size=9, output_size=5, nonlinearity=nonlinearity, head_activation="tanh"
    )
    model = random_model(cfg, seed=5, weight_gain=gain)
    assert model.head_tanh is not None and model.head is not None
    q = model.layers[-1].hidden_q
    every_int8 = list(range(-128, 128))
    got = reference.cells.head_activation(Activation.TANH, every_int8, q, model.head_tanh).tolist()
    assert got == scalar_ref.head_tanh(model.head_tanh, every_int8, q)
    assert got[q.zero_point + 128] == model.head_tanh.output_q.zero_point  # tanh(0) = 0
    assert all(a <= b for a, b in zip(got, got[1:]))  # monotone
    assert model.head.fc.input_zero_point == model.head_tanh.output_q.zero_point
    assert min(got) == -128 and max(got) == 127  # output_q covers tanh of the whole int8 range
