"""The int8 GRU and LSTM block paths (issue 9): ``model_run`` over many steps equals the integer reference exactly.

On x86-64 with AVX2 or wider, ``ernn_model_s8_run`` of a unidirectional GRU or LSTM on features runs each layer
over blocks of steps (``ernn_gru_run_s8`` / ``ernn_lstm_run_s8``: the input projections of a block apart from
the recurrent chain; the GRU's int8 and int16 hidden states, the LSTM's hidden and cell states carried from step
to step) for calls of 12 steps or more. These streams go through it (backend ``c``: ``Stream.run_int8`` is one
``model_run`` call per block of steps), with calls of 1 to 600 steps (the short ones take the per-step path:
the two must hand the state on exactly), resets in between, one to three layers (above layer 0 the block path
works in place), heads and head activations, hidden sizes from 1 to the path's limit (256) and one past it
(257: the per-step path), heads of 1 to 37 rows (one ernn_fc_s8_s8_rows call per block), small and large
weights (the gates' sums saturated); every output and both parts of
the final state must equal the integer reference's, and ``model_run`` must equal stepping one step per call.
On other machines the same streams test the per-step path. With AVX-512 VNNI the streams go through its kernels;
``EDGERNN_X86_LEVEL`` 1 and 2 send them through the eight-lane kernels of CPUs without it (AVX2, AVX-VNNI).
firmware_export/tests/test_gate_ports.c (``test_gru_run``, ``test_lstm_run``, ``test_fc_rows``) tests the block
kernels themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgernn.ir import QuantizedRNN
from edgernn.runtime import Stream
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

CASES = {
    "gru-16in-16h-seq": (ModelConfig(cell=CellType.GRU, input_size=16, hidden_size=16, output_mode="sequence"), 1.0),
    "gru-32in-32h-seq": (ModelConfig(cell=CellType.GRU, input_size=32, hidden_size=32, output_mode="sequence"), 1.0),
    "gru-7in-50h-head": (ModelConfig(cell=CellType.GRU, input_size=7, hidden_size=50, output_size=1), 1.0),
    "gru-64in-64h-seq-sat": (
        ModelConfig(cell=CellType.GRU, input_size=64, hidden_size=64, output_mode="sequence"),
        6.0,
    ),
    "gru-16in-128h-seq": (ModelConfig(cell=CellType.GRU, input_size=16, hidden_size=128, output_mode="sequence"), 1.0),
    "gru-2layer-20h-relu-head-sat": (
        ModelConfig(
            cell=CellType.GRU, input_size=5, hidden_size=20, num_layers=2, output_size=3, head_activation="relu"
        ),
        6.0,
    ),
    "gru-3layer-48h-seq": (
        ModelConfig(cell=CellType.GRU, input_size=33, hidden_size=48, num_layers=3, output_mode="sequence"),
        1.0,
    ),
    "gru-1h-tanh-head": (
        ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=1, output_size=2, head_activation="tanh"),
        1.0,
    ),
    "gru-160in-256h-sat": (ModelConfig(cell=CellType.GRU, input_size=160, hidden_size=256, output_size=4), 6.0),
    "gru-257h": (ModelConfig(cell=CellType.GRU, input_size=9, hidden_size=257, output_size=4), 1.0),
    "lstm-16in-16h-seq": (ModelConfig(cell=CellType.LSTM, input_size=16, hidden_size=16, output_mode="sequence"), 1.0),
    "lstm-7in-32h-head": (ModelConfig(cell=CellType.LSTM, input_size=7, hidden_size=32, output_size=1), 1.0),
    "lstm-64in-128h-seq": (
        ModelConfig(cell=CellType.LSTM, input_size=64, hidden_size=128, output_mode="sequence"),
        1.0,
    ),
    "lstm-2layer-20h-relu-head-sat": (
        ModelConfig(
            cell=CellType.LSTM, input_size=5, hidden_size=20, num_layers=2, output_size=3, head_activation="relu"
        ),
        6.0,
    ),
    "lstm-3layer-48h-seq": (
        ModelConfig(cell=CellType.LSTM, input_size=33, hidden_size=48, num_layers=3, output_mode="sequence"),
        1.0,
    ),
    "lstm-1h-tanh-head": (
        ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=1, output_size=2, head_activation="tanh"),
        1.0,
    ),
    "lstm-256h-sat": (ModelConfig(cell=CellType.LSTM, input_size=9, hidden_size=256, output_size=4), 6.0),
    # heads of 20 and 37 rows with a rescale per row (16-row groups, tails), one and two layers: the block head
    "lstm-24h-head20": (ModelConfig(cell=CellType.LSTM, input_size=6, hidden_size=24, output_size=20), 1.0),
    "gru-2layer-40h-head37-sat": (
        ModelConfig(cell=CellType.GRU, input_size=11, hidden_size=40, num_layers=2, output_size=37),
        6.0,
    ),
    "lstm-257h": (ModelConfig(cell=CellType.LSTM, input_size=9, hidden_size=257, output_size=4), 1.0),
    # the lane kernel at eight columns and 128 inputs (its limit): the upper layer of a 128-unit stack, in place
    "lstm-2layer-128h-seq": (
        ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=128, num_layers=2, output_mode="sequence"),
        1.0,
    ),
    # the lane kernel at four columns with x parts by block (96 inputs: 40 KB of weights in lanes) and a head
    "lstm-96in-64h-head": (ModelConfig(cell=CellType.LSTM, input_size=96, hidden_size=64, output_size=3), 1.0),
    # the lane kernel at five columns with x parts by block, the upper layer in place, and a head
    "lstm-2layer-80h-head-sat": (
        ModelConfig(cell=CellType.LSTM, input_size=12, hidden_size=80, num_layers=2, output_size=3),
        6.0,
    ),
}
CHUNKS = (1, 31, 32, 33, 200, 3, 600)  # steps per call; a reset after the fourth call


def _model(name: str) -> QuantizedRNN:
    config, gain = CASES[name]
    return random_model(config, seed=sum(map(ord, name)), weight_gain=gain)


def _inputs(model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    """Uniform int8 features with runs of the extremes."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(-128, 128, size=(steps, model.config.input_size)).astype(np.int8)
    xs[3::9] = -128
    xs[4::9] = 127
    xs[6::9, ::2] = 127
    return xs


@pytest.mark.parametrize("name", list(CASES))
def test_blocks_of_steps_equal_the_reference(name: str) -> None:
    _check_blocks_of_steps(name)


#: The cases on the eight-lane kernels (AVX2, AVX-VNNI): tails, stacks (in place), heads, saturated sums, near
#: their lanes' limits (LSTM 128 units with 64 inputs: 96 KB as bytes, beyond it as int16) and beyond them (256
#: units: the per-step path).
EIGHT_LANE_CASES = ["lstm-16in-16h-seq", "lstm-7in-32h-head", "lstm-64in-128h-seq", "lstm-2layer-20h-relu-head-sat"]
EIGHT_LANE_CASES += ["lstm-3layer-48h-seq", "lstm-1h-tanh-head", "lstm-256h-sat", "lstm-96in-64h-head"]
EIGHT_LANE_CASES += ["gru-16in-16h-seq", "gru-7in-50h-head", "gru-64in-64h-seq-sat", "gru-16in-128h-seq"]
EIGHT_LANE_CASES += ["gru-2layer-20h-relu-head-sat", "gru-3layer-48h-seq", "gru-1h-tanh-head", "gru-160in-256h-sat"]


@pytest.mark.parametrize("level", ["1", "2"], ids=["avx2", "avx-vnni"])
@pytest.mark.parametrize("name", EIGHT_LANE_CASES)
def test_eight_lane_blocks_of_steps_equal_the_reference(name: str, level: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same streams with EDGERNN_X86_LEVEL=1 or 2 (the C built at -DERNN_X86_LEVEL: AVX2 or AVX-VNNI at most):
    where the CPU has that ISA the block path is its eight-lane kernel (firmware_export/tests/test_gate_ports.c
    checks that it runs), on others the per-step path; both must equal the reference."""
    monkeypatch.setenv("EDGERNN_X86_LEVEL", level)
    _check_blocks_of_steps(name)


def _check_blocks_of_steps(name: str) -> None:
    model = _model(name)
    xs = _inputs(model, sum(CHUNKS), seed=len(name))
    c, ref = Stream(model, "c"), Stream(model, "reference")
    start, outputs, expected = 0, [], []
    for k, n in enumerate(CHUNKS):
        if k == 4:
            c.reset()
            ref.reset()
        outputs.append(c.run_int8(xs[start : start + n]))
        expected.append(ref.run_int8(xs[start : start + n]))
        start += n
    got, want = np.concatenate(outputs), np.concatenate(expected)
    assert got.shape == want.shape and np.array_equal(got, want)
    assert len(np.unique(want)) > 2, "outputs must vary for the comparison to mean anything"
    for cell_c, cell_ref in zip(c.get_state().cells, ref.get_state().cells):
        assert len(cell_c) == 2  # the GRU's int8 h and int16 h_q15; the LSTM's h and c
        for a, b in zip(cell_c, cell_ref):
            assert np.array_equal(np.asarray(a, np.int64), np.asarray(b, np.int64))
    # one model_run call of many steps == one call per step, on the same backend
    c.reset()
    stepped = np.stack([c.step_int8(x) for x in xs[:70]])
    c.reset()
    assert np.array_equal(c.run_int8(xs[:70]), stepped)
