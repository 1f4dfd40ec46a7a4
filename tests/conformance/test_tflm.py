"""TFLite Micro runs the exported TFLite step model bit for bit like the integer reference.

TFLite Micro (PyPI ``tflite-micro``) is an independent implementation of the same arithmetic:
every int8 GRU, LSTM and Elman model exported by :mod:`edgernn.export.tflite` must produce the
reference's outputs and states exactly, over long streams, including multi-layer models and
saturating weights (``weight_gain=6``). docs/compatibility.md records the one known deviation
(TFLite computes the fused LSTM's gate multipliers from a float32 product of the scales); the
bound measured for it is asserted here as it is documented: zero differences on these streams.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tflite_micro")
pytest.importorskip("flatbuffers")

from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # noqa: E402

from edgernn.errors import UnsupportedModelError  # noqa: E402
from edgernn.export import tflite as tflite_export  # noqa: E402
from edgernn.fixedpoint import sigmoid_int16, tanh_int16, tanh_params_for_scale_power  # noqa: E402
from edgernn.quant import QuantizeOptions  # noqa: E402
from edgernn.runtime import Stream  # noqa: E402
from edgernn.runtime.backends import create_backend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig, OutputMode  # noqa: E402

STEPS = 2000


def _all_int16() -> np.ndarray:
    return np.arange(-32768, 32768, dtype=np.int64)


def _one_op_model(op: int, input_scale: float) -> bytes:
    """A TFLite model of one int16 LOGISTIC or TANH over all 65536 inputs (Q0.15 output)."""
    g = tflite_export._Graph()
    t = tflite_export._T
    x = g.tensor("x", (1, 65536), t.INT16, tflite_export._per_tensor(input_scale))
    y = g.tensor("y", (1, 65536), t.INT16, tflite_export._per_tensor(2.0**-15))
    g.op(op, [x], [y])
    return g.pack([x], [y], {}, "one-op oracle")


def _run_one_op(data: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = tflm_runtime.Interpreter.from_bytes(data, arena_size=1 << 20)
    interpreter.set_input(x.astype(np.int16).reshape(1, -1), 0)
    interpreter.invoke()
    return np.asarray(interpreter.get_output(0)).reshape(-1).astype(np.int64)


@pytest.mark.parametrize(
    ("op", "reference"),
    [(tflite_export._OP.LOGISTIC, sigmoid_int16), (tflite_export._OP.TANH, tanh_int16)],
    ids=["logistic", "tanh"],
)
def test_int16_lut_activation_equals_fixedpoint_on_every_input(op: int, reference: object) -> None:
    x = _all_int16()
    got = _run_one_op(_one_op_model(op, 2.0**-12), x)
    want = reference(x)  # type: ignore[operator]
    assert np.array_equal(got, want), f"{int((got != want).sum())} of 65536 inputs differ"


@pytest.mark.parametrize("power", [-15, -13, -11, -8, -3, 0])
def test_int16_tanh_of_cell_state_scales_equals_fixedpoint(power: int) -> None:
    """The LSTM's tanh(c) at the cell state's power-of-two scale is TFLite's int16 TANH too."""
    x = _all_int16()
    got = _run_one_op(_one_op_model(tflite_export._OP.TANH, 2.0**power), x)
    assert np.array_equal(got, tanh_int16(x, *tanh_params_for_scale_power(power)))


CASES = (
    [
        pytest.param(ModelConfig(cell=cell, input_size=8, hidden_size=32), 1.0, 11, id=f"{cell.value}-1layer")
        for cell in CellType
    ]
    + [
        pytest.param(
            ModelConfig(cell=cell, input_size=5, hidden_size=24, num_layers=2, output_size=4),
            6.0,
            12,
            id=f"{cell.value}-2layers-head-gain6",
        )
        for cell in CellType
    ]
    + [
        pytest.param(
            ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=16, num_layers=3, output_size=2),
            3.0,
            13,
            id="gru-3layers",
        ),
        pytest.param(
            ModelConfig(cell=CellType.LSTM, vocab_size=30, embedding_dim=6, hidden_size=20, output_size=30),
            1.0,
            14,
            id="lstm-tokens",
        ),
        pytest.param(
            ModelConfig(cell=CellType.RNN, input_size=4, hidden_size=1, output_size=1), 6.0, 15, id="rnn-hidden1"
        ),
    ]
    + [
        pytest.param(
            ModelConfig(
                cell=CellType.RNN, input_size=5, hidden_size=24, num_layers=2, output_size=4, nonlinearity="relu"
            ),
            gain,
            16,
            id=f"rnn-relu-2layers-gain{gain:g}",  # gain 3: the hidden range passes Q3.12's 8
        )
        for gain in (1.0, 3.0)
    ]
    + [
        pytest.param(
            ModelConfig(cell=cell, input_size=5, hidden_size=16, num_layers=2, output_size=3, head_activation="relu"),
            1.0,
            17,
            id=f"{cell.value}-relu-before-head",
        )
        for cell in CellType
    ]
    + [
        pytest.param(
            ModelConfig(
                cell=cell,
                input_size=5,
                hidden_size=16,
                num_layers=2,
                output_size=3,
                nonlinearity=nonlinearity,
                head_activation="tanh",
            ),
            gain,
            18,
            id=f"{cell.value}-{nonlinearity}-tanh-before-head-gain{gain:g}",  # ReLU 3x: the Q3.12 input saturates
        )
        for cell, nonlinearity, gain in [
            (CellType.GRU, "tanh", 1.0),
            (CellType.LSTM, "tanh", 1.0),
            (CellType.RNN, "tanh", 6.0),
            (CellType.RNN, "relu", 3.0),
        ]
    ]
    + [
        pytest.param(
            ModelConfig(
                cell=CellType.GRU, input_size=5, hidden_size=16, output_mode="sequence", head_activation="tanh"
            ),
            1.0,
            19,
            id="gru-tanh-no-head",
        )
    ]
    + [
        # A regression head's int16 output (edgernn.ir.Dense): widened int8 input, 16x8 FULLY_CONNECTED. Regression
        # GRU and Elman models also read a 16-bit input (docs/input_bits.md) straight into their 16x8 FCs; the
        # LSTM is quantized with an int8 input (TFLite's fused LSTM takes no other).
        pytest.param(
            ModelConfig(cell=cell, input_size=5, hidden_size=16, num_layers=layers, output_size=2, task="regression"),
            gain,
            20,
            id=f"{cell.value}-{layers}layers-int16-head-gain{gain:g}",
        )
        for cell in CellType
        for layers, gain in [(1, 1.0), (2, 6.0)]
    ]
)


@pytest.mark.parametrize(("config", "gain", "seed"), CASES)
def test_tflm_stream_equals_reference_bit_for_bit(config: ModelConfig, gain: float, seed: int) -> None:
    int8_input = config.cell is CellType.LSTM and config.task.value == "regression"
    options = QuantizeOptions(input_bits=8) if int8_input else QuantizeOptions()
    model = random_model(config, seed=seed, weight_gain=gain, options=options)
    assert model.input_bits == (16 if config.task.value == "regression" and not int8_input else 8)
    xs = random_inputs(config, STEPS, seed=seed, scale=2.5)
    ref = Stream(model, backend="reference")
    micro = Stream(model, backend="tflm")
    if config.output_size is not None:
        assert model.output_bits == (16 if config.task.value == "regression" else 8)
    want = ref.run(xs)
    got = micro.run(xs)
    differ = int((got != want).sum())
    assert differ == 0, (
        f"{differ} of {want.size} outputs differ (max {np.abs(got - want).max() / model.output_q.scale:.0f} LSB)"
    )
    for a, b in zip(micro.get_state().cells, ref.get_state().cells):
        for x_state, y_state in zip(a, b):
            assert np.array_equal(x_state, y_state), "final state differs"


def test_tflm_refuses_an_int16_input_lstm_in_one_line() -> None:
    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=8, output_size=1, task="regression")
    with pytest.raises(UnsupportedModelError, match="fused LSTM takes int8 input only") as info:
        Stream(random_model(config, seed=1), backend="tflm")
    assert "\n" not in str(info.value) and "--input-bits 8" in str(info.value)


def test_tflm_int16_input_with_resets_equals_reference() -> None:
    """A 16-bit input (GRU, 2 layers, int8 head output) over 2000 free-running steps, reset halfway."""
    config = ModelConfig(
        cell=CellType.GRU, input_size=4, hidden_size=12, num_layers=2, output_size=2, task="regression"
    )
    model = random_model(config, seed=7, weight_gain=3.0, options=QuantizeOptions(head_output_bits=8))
    assert model.input_bits == 16 and model.output_bits == 8
    xs = random_inputs(config, 2000, seed=7, scale=3.0)
    ref, micro = Stream(model, backend="reference"), Stream(model, backend="tflm")
    for part in (xs[:1200], xs[1200:]):
        assert np.array_equal(micro.run(part), ref.run(part))
        ref.reset()
        micro.reset()


def test_tflm_state_checkpoint_restore_and_reset() -> None:
    config = ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=12, num_layers=2, output_size=3)
    model = random_model(config, seed=5, weight_gain=3.0)
    xs = random_inputs(config, 300, seed=5, scale=2.0)
    s = Stream(model, backend="tflm")
    s.run(xs[:150])
    saved = s.get_state()
    after = s.run(xs[150:])
    s.reset()
    fresh = s.run(xs[150:])
    s.set_state(saved)
    again = s.run(xs[150:])
    ref = Stream(model, backend="reference")
    assert np.array_equal(after, again)
    assert np.array_equal(fresh, ref.run(xs[150:]))
    assert not np.array_equal(after, fresh)


def test_two_streams_of_one_model_do_not_share_state() -> None:
    """The LSTM keeps its state in the interpreter; a backend writes it back when another stream ran."""
    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=8)
    model = random_model(config, seed=2)
    xs = random_inputs(config, 60, seed=2)
    backend = create_backend("tflm", model)
    s1, s2 = backend.zero_state(), backend.zero_state()
    ref = create_backend("reference", model)
    r = ref.zero_state()
    for t, x in enumerate(model.input_q.quantize(xs).astype(np.int64)):
        y1, s1 = backend.step(s1, x)
        if t % 3 == 0:
            _, s2 = backend.step(s2, -x)  # interleave an unrelated stream on the same interpreter
        yr, r = ref.step(r, x)
        assert np.array_equal(y1, yr)


def test_tflite_reproduces_every_multiplier_of_the_ir() -> None:
    """Every requantization multiplier TFLite derives from the exported tensor scales equals the
    IR's: the TFLite model is the same model by construction, not by the rarity of a deviation."""
    for cell, nonlinearity in [(cell, "tanh") for cell in CellType] + [(CellType.RNN, "relu")]:
        for hidden in (1, 16):
            config = ModelConfig(
                cell=cell, input_size=6, hidden_size=hidden, num_layers=2, output_size=3, nonlinearity=nonlinearity
            )
            # relu at 3x gain: the pre-activation scale is coarser than Q3.12 (hidden 1 at 3x diverges to 1e6)
            for gain in (1.0, 3.0) if nonlinearity == "relu" and hidden > 1 else (1.0,):
                assert tflite_export.build(random_model(config, seed=1, weight_gain=gain)).inexact == ()


def test_tflm_sequence_outputs_match_reference() -> None:
    config = ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=10, output_size=3, output_mode=OutputMode.LAST)
    model = random_model(config, seed=8)
    sequences = [random_inputs(config, n, seed=n) for n in (5, 17, 40)]
    from edgernn.runtime import predict

    for got, want in zip(predict(model, sequences, backend="tflm"), predict(model, sequences)):
        assert np.array_equal(got, want)
