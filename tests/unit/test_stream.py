"""The streaming runtime: run == step exactly, state checkpoints, input checking."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgernn.errors import InputDataError
from edgernn.runtime import Stream, predict
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig, OutputMode

STREAMABLE = [
    ModelConfig(cell=cell, input_size=6, hidden_size=12, num_layers=layers, output_size=out)
    for cell in CellType
    for layers, out in [(1, 4), (3, None)]
] + [ModelConfig(cell=CellType.GRU, vocab_size=20, embedding_dim=5, hidden_size=8, output_size=20)]


@pytest.mark.parametrize("backend", ["reference", "float"])
@pytest.mark.parametrize("config", STREAMABLE, ids=lambda c: f"{c.cell.value}-{c.num_layers}-{c.uses_tokens}")
def test_run_equals_stepping_exactly(config: ModelConfig, backend: str) -> None:
    model = random_model(config, seed=2)
    xs = random_inputs(config, 300, seed=4, scale=3.0)
    s = Stream(model, backend=backend)
    ys_run = s.run(xs)
    s.reset()
    ys_step = np.stack([s.step(x) for x in xs])
    assert ys_run.shape == (300, config.output_width)
    assert np.array_equal(ys_run, ys_step)


@pytest.mark.parametrize("config", STREAMABLE[:3], ids=lambda c: c.cell.value)
def test_int8_api_equals_float_api(config: ModelConfig) -> None:
    model = random_model(config, seed=1)
    xs = random_inputs(config, 50, seed=1)
    s = Stream(model)
    ys = s.run(xs)
    s.reset()
    xq = model.input_q.quantize((xs - model.input_mean) / model.input_std if model.input_mean is not None else xs)
    yq = s.run_int8(xq)
    assert yq.dtype == np.int8
    assert np.array_equal(model.output_q.dequantize(yq), ys)


def test_state_checkpoint_and_restore() -> None:
    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=10, num_layers=2, output_size=2)
    model = random_model(config)
    xs = random_inputs(config, 40, seed=9)
    s = Stream(model)
    s.run(xs[:20])
    saved = s.get_state()
    after = s.run(xs[20:])
    s.reset()
    fresh = s.run(xs[20:])
    assert not np.array_equal(after, fresh), "state must matter for this test to mean anything"
    s.set_state(saved)
    assert np.array_equal(s.run(xs[20:]), after)
    # The saved state is a copy: running on did not change it.
    s.set_state(saved)
    assert np.array_equal(s.run(xs[20:]), after)


def test_state_of_another_model_is_refused() -> None:
    a = Stream(random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=4)))
    b = Stream(random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=5)))
    with pytest.raises(InputDataError, match="does not fit"):
        b.set_state(a.get_state())
    with pytest.raises(InputDataError, match="backend"):
        Stream(a.model, backend="float").set_state(a.get_state())


@pytest.mark.parametrize("backend", ["reference", "c"])
def test_out_of_range_state_values_are_refused_alike(backend: str) -> None:
    """The reference refuses what the C backend refuses (issue 14 item 8), and keeps its dtypes."""
    from edgernn.runtime import StreamState

    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=4, output_size=2)
    s = Stream(random_model(config), backend=backend)
    good = s.get_state()
    for k, limit in enumerate((np.int8, np.int16)):  # an LSTM cell's (h, c), as the C struct holds them
        info = np.iinfo(limit)
        for value in (info.max + 1, info.min - 1):
            cells = [list(c) for c in good.cells]
            cells[0][k] = np.full(good.cells[0][k].shape, value, dtype=np.int64)
            with pytest.raises(InputDataError, match="does not fit"):
                s.set_state(StreamState(backend, tuple(tuple(c) for c in cells)))
    cells = [list(c) for c in good.cells]
    cells[0][0] = np.full(good.cells[0][0].shape, 5, dtype=np.int64)  # in range, wider dtype
    s.set_state(StreamState(backend, tuple(tuple(c) for c in cells)))
    assert s.get_state().cells[0][0].dtype == good.cells[0][0].dtype
    s.step(np.zeros(3, np.float32))


def test_bidirectional_refuses_step_but_runs_whole_sequences() -> None:
    config = ModelConfig(
        cell=CellType.GRU,
        input_size=3,
        hidden_size=4,
        bidirectional=True,
        output_size=2,
        output_mode=OutputMode.SEQUENCE,
    )
    s = Stream(random_model(config))
    with pytest.raises(InputDataError, match="bidirectional"):
        s.step(np.zeros(3, np.float32))
    xs = random_inputs(config, 12)
    ys = s.run(xs)
    assert ys.shape == (12, 2)
    # Whole-sequence: an earlier output depends on a later input (only the backward direction
    # has seen it).
    xs2 = xs.copy()
    xs2[-1] += 5.0
    assert not np.array_equal(s.run(xs2)[-2], ys[-2])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros(5, np.float32), r"shape \(5,\)"),
        (np.zeros((2, 6), np.float32), "shape"),
        (np.array(["a"] * 6), "dtype"),
        (np.array([0, 0, np.nan, 0, 0, 0], np.float32), "NaN or Inf"),
        (np.array([0, 0, np.inf, 0, 0, 0], np.float32), "NaN or Inf"),
    ],
)
def test_bad_step_input(bad: np.ndarray, match: str) -> None:
    s = Stream(random_model(STREAMABLE[0]))
    with pytest.raises(InputDataError, match=match):
        s.step(bad)


def test_bad_token_and_int8_input() -> None:
    s = Stream(random_model(STREAMABLE[-1]))
    with pytest.raises(InputDataError, match="outside"):
        s.step(np.int64(20))
    with pytest.raises(InputDataError, match="integer token"):
        s.step(np.float32(1.5))
    f = Stream(random_model(STREAMABLE[0]))
    with pytest.raises(InputDataError, match="int8"):
        f.step_int8(np.zeros(6, np.int16))
    with pytest.raises(InputDataError, match="not integer"):
        Stream(f.model, backend="float").step_int8(np.zeros(6, np.int8))
    with pytest.raises(InputDataError, match="no time steps"):
        f.run(np.zeros((0, 6), np.float32))


def test_unknown_backend() -> None:
    with pytest.raises(Exception, match="unknown backend 'gpu'"):
        Stream(random_model(STREAMABLE[0]), backend="gpu")


@pytest.mark.parametrize("mode", list(OutputMode))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_batched_predict_equals_one_at_a_time(mode: OutputMode, bidirectional: bool) -> None:
    config = ModelConfig(
        cell=CellType.LSTM,
        input_size=3,
        hidden_size=6,
        num_layers=2,
        output_size=4,
        bidirectional=bidirectional,
        output_mode=mode,
    )
    model = random_model(config, seed=8)
    seqs = [random_inputs(config, n, seed=n) for n in (1, 7, 3, 15, 7)]
    batched = predict(model, seqs)
    for seq, got in zip(seqs, batched):
        ys = Stream(model).run(seq)
        if mode is OutputMode.SEQUENCE:
            assert np.array_equal(got, ys)
        elif not bidirectional:
            assert np.array_equal(got, ys[-1])  # LAST of a unidirectional model = the last step
        else:
            assert got.shape == (4,)


def test_runtime_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import edgernn, edgernn.ir, edgernn.reference, edgernn.runtime, edgernn.cli, edgernn.pipeline\n"
        "from edgernn.testing import random_model\n"
        "from edgernn.types import ModelConfig\n"
        "m = random_model(ModelConfig(cell='gru', input_size=2, hidden_size=3, output_size=2))\n"
        "print(edgernn.Stream(m).run([[0.5, 1.0]]).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 2)"


def test_run_refuses_a_single_frame_without_time_axis() -> None:
    s = Stream(random_model(STREAMABLE[0]))
    with pytest.raises(InputDataError, match=r"the model expects \(T, 6\)"):
        s.run(np.zeros(6, np.float32))
