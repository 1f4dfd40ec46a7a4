"""Float and int8 against PyTorch itself.

* The numpy float backend is the PyTorch model: equal within 1e-5.
* The integer reference approximates it. Documented tolerance, per output element and step,
  for hidden-state outputs in [-1, 1] of models at PyTorch's default initialization, over 60
  steps of N(0, 1) input: 0.05 (about 6 int8 LSBs of 2/255; measured worst case 0.039, GRU 2x16
  bidirectional; quantization error of the input,
  weights and state accumulates through the recurrence). This is an accuracy check, not
  conformance: exactness is tested integer against integer, elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgernn.models import RNNModel
from edgernn.quant.from_torch import quantize
from edgernn.runtime import Stream
from edgernn.testing import random_inputs
from edgernn.types import CellType, ModelConfig, OutputMode

INT8_TOLERANCE = 0.05

CONFIGS = [
    ModelConfig(
        cell=cell, input_size=5, hidden_size=16, num_layers=layers, bidirectional=bi, output_mode=OutputMode.SEQUENCE
    )
    for cell in CellType
    for layers, bi in [(1, False), (2, False), (2, True)]
]


def _model(config: ModelConfig, seed: int) -> RNNModel:
    torch.manual_seed(seed)
    return RNNModel(config).eval()


def _torch_outputs(model: RNNModel, xs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y, _ = model(torch.from_numpy(xs[None]))
    return y[0].numpy()


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: f"{c.cell.value}-{c.num_layers}-{'bi' if c.bidirectional else 'uni'}"
)
def test_float_backend_equals_pytorch_and_int8_tracks_it(config: ModelConfig) -> None:
    torch_model = _model(config, seed=1)
    calibration = [random_inputs(config, 60, seed=s) for s in range(8)]
    q = quantize(torch_model, calibration)
    xs = random_inputs(config, 60, seed=100)
    want = _torch_outputs(torch_model, xs)
    got_float = Stream(q, backend="float").run(xs)
    np.testing.assert_allclose(got_float, want, rtol=0, atol=1e-5)
    got_int8 = Stream(q, backend="reference").run(xs)
    err = np.abs(got_int8 - want).max()
    assert err <= INT8_TOLERANCE, f"int8 max abs error {err:.4f}"


def test_token_model_with_head_float_equals_pytorch() -> None:
    config = ModelConfig(
        cell=CellType.GRU,
        vocab_size=30,
        embedding_dim=8,
        hidden_size=12,
        output_size=30,
        output_mode=OutputMode.SEQUENCE,
    )
    torch_model = _model(config, seed=3)
    tokens = np.random.default_rng(0).integers(0, 30, size=40)
    q = quantize(torch_model, [tokens])
    with torch.no_grad():
        want = torch_model(torch.from_numpy(tokens[None]))[0][0].numpy()
    np.testing.assert_allclose(Stream(q, backend="float").run(tokens), want, rtol=0, atol=1e-5)


def test_last_mode_bidirectional_uses_final_states_like_pytorch() -> None:
    from edgernn.runtime import predict

    config = ModelConfig(
        cell=CellType.LSTM, input_size=4, hidden_size=8, num_layers=2, bidirectional=True, output_size=3
    )
    torch_model = _model(config, seed=4)
    seqs = [random_inputs(config, n, seed=n) for n in (5, 9, 2)]
    q = quantize(torch_model, seqs)
    got = predict(q, seqs, backend="float")
    for seq, y in zip(seqs, got):
        np.testing.assert_allclose(y, _torch_outputs(torch_model, seq), rtol=0, atol=1e-5)
