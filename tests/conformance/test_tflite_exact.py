"""``--format tflite-exact``: LiteRT's default kernels run the int8 GRU/LSTM/Elman step model bit for
bit like the integer reference, free-running (each backend carrying its own state, reset between
streams)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from edgernn import fixedpoint, ir, reference  # noqa: E402
from edgernn.cli import cli  # noqa: E402
from edgernn.errors import UnsupportedModelError  # noqa: E402
from edgernn.export import tflite as tflite_export  # noqa: E402
from edgernn.export.tflite_exact import ExactGraph  # noqa: E402
from edgernn.ir import LSTMCellQ  # noqa: E402
from edgernn.quant.quantizer import QuantizeOptions  # noqa: E402
from edgernn.runtime.backends import create_backend  # noqa: E402
from edgernn.runtime.tflite_backend import TFLiteBackend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import Activation, CellType, ModelConfig  # noqa: E402

STEPS = 600
RESET_EVERY = 200  # three streams, each backend reset to its zero state between them
CELLS = (CellType.GRU, CellType.LSTM, CellType.RNN)
CLIP = 0.75  # LSTM cell clip in cell-state units; the gain-3 random model's cells reach ~2-4
CASES = (
    [
        pytest.param(ModelConfig(cell=cell, input_size=8, hidden_size=32), 1.0, 11, 0.0, id=f"{cell.value}-1layer")
        for cell in CELLS
    ]
    + [
        pytest.param(
            ModelConfig(cell=cell, input_size=5, hidden_size=24, num_layers=2, output_size=4),
            6.0,
            12,
            0.0,
            id=f"{cell.value}-2layers-head-gain6",
        )
        for cell in CELLS
    ]
    + [
        pytest.param(
            ModelConfig(cell=cell, input_size=5, hidden_size=24, num_layers=2, output_size=4, head_activation="tanh"),
            6.0,
            13,
            0.0,
            id=f"{cell.value}-2layers-tanh-head-gain6",
        )
        for cell in CELLS
    ]
    + [
        pytest.param(
            ModelConfig(cell=CellType.LSTM, input_size=5, hidden_size=16, num_layers=2, output_size=4),
            3.0,
            3,
            CLIP,
            id="lstm-2layers-head-cell-clip",
        )
    ]
)


@pytest.mark.parametrize(("config", "gain", "seed", "cell_clip"), CASES)
def test_litert_runs_the_exact_variant_like_the_reference(
    config: ModelConfig, gain: float, seed: int, cell_clip: float
) -> None:
    model = random_model(config, seed=seed, weight_gain=gain, options=QuantizeOptions(cell_clip=cell_clip))
    xq = model.input_q.quantize(random_inputs(config, STEPS, seed=seed, scale=2.5)).astype(np.int64)
    ref, litert = create_backend("reference", model), TFLiteBackend(model, precision="int8-exact")
    at_clip = 0
    for t, x in enumerate(xq):
        if t % RESET_EVERY == 0:
            rs, ls = ref.zero_state(), litert.zero_state()
        yr, rs = ref.step(rs, x)
        yl, ls = litert.step(ls, x)
        assert np.array_equal(yr, yl), f"step {t}: y differs"
        for k, (a, b) in enumerate(zip(rs, ls)):
            assert all(np.array_equal(u, v) for u, v in zip(a, b)), f"step {t}: layer {k} state differs"
        if cell_clip:
            clips = [layer.directions[0].quant.cell_clip for layer in model.layers]
            at_clip += sum(int((np.abs(s[1]) == c).sum()) for s, c in zip(ls, clips))
    if cell_clip:  # the clip binds, so a form that ignored it would differ
        assert all(isinstance(layer.directions[0].quant, LSTMCellQ) for layer in model.layers)
        assert at_clip > 0.05 * STEPS * config.hidden_size * config.num_layers
    for a, b in zip(rs, ls):
        for x_state, y_state in zip(a, b):
            assert np.array_equal(x_state, y_state), "final state differs"
    # The plain int8 file is not exact in LiteRT on the same stream: the variant makes the difference.
    plain, ref = TFLiteBackend(model), create_backend("reference", model)
    ps, rs = plain.zero_state(), ref.zero_state()
    differ = 0
    for x in xq:
        yp, ps = plain.step(ps, x)
        yr, rs = ref.step(rs, x)
        differ += int((yp != yr).sum())
    assert differ > 0


def _with_cell_scale(model: ir.QuantizedRNN, power: int) -> ir.QuantizedRNN:
    """``model`` with every LSTM cell state at ``2**power`` (its rescales derived for that scale)."""
    layers = tuple(
        dataclasses.replace(
            layer,
            directions=tuple(
                dataclasses.replace(
                    d,
                    quant=dataclasses.replace(
                        d.quant, cell_scale_power=power, **LSTMCellQ.derived_rescales(layer.hidden_q.scale, power)
                    ),
                )
                for d in layer.directions
            ),
        )
        for layer in model.layers
    )
    return dataclasses.replace(model, layers=layers)


@pytest.mark.parametrize("power", [-15, -14, -13, -12, -11, -10])
def test_lstm_cell_tanh_at_every_cell_scale(power: int) -> None:
    """The cell state's tanh reads the int16 state at 2^power (TANH's input multiplier and shift
    differ per power; at 2^-12 it shares the gates' table): exact over a saturating stream."""
    config = ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=12, output_size=3)
    model = _with_cell_scale(random_model(config, seed=7, weight_gain=4.0), power)
    xq = model.input_q.quantize(random_inputs(config, 300, seed=7, scale=2.5)).astype(np.int64)
    ref, litert = create_backend("reference", model), TFLiteBackend(model, precision="int8-exact")
    yr, rs = ref.run(ref.zero_state(), xq)
    yl, ls = litert.run(litert.zero_state(), xq)
    assert np.array_equal(yr, yl)
    assert all(np.array_equal(u, v) for a, b in zip(rs, ls) for u, v in zip(a, b))
    c = rs[0][1]
    assert np.abs(c).max() > 1000  # the cell state spans many table rows


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(cell=CellType.LSTM, vocab_size=20, embedding_dim=6, hidden_size=16, output_size=20),
        ModelConfig(cell=CellType.LSTM, input_size=4, hidden_size=16, output_size=3, head_activation="relu"),
    ],
    ids=["tokens", "relu-head"],
)
def test_token_and_relu_head_lstm_run_exactly(config: ModelConfig) -> None:
    model = random_model(config, seed=4, weight_gain=3.0)
    xs = random_inputs(config, 300, seed=4)
    xq = xs.astype(np.int64) if config.uses_tokens else model.input_q.quantize(xs).astype(np.int64)
    ref, litert = create_backend("reference", model), TFLiteBackend(model, precision="int8-exact")
    yr, _ = ref.run(ref.zero_state(), xq)
    yl, _ = litert.run(litert.zero_state(), xq)
    assert np.array_equal(yr, yl)


def _fc_graph(fc: ir.FullyConnected, out_type: int) -> bytes:
    g = ExactGraph()
    x = g.tensor("x", (1, fc.in_features), tflite_export._T.INT8, tflite_export._per_tensor(1.0, fc.input_zero_point))
    y = g.exact_fc(x, fc, "y", out_type, tflite_export._per_tensor(1.0))
    return g.pack([x], [y], {}, "one exact FC")


@pytest.mark.parametrize("output_bits", [8, 16])
def test_exact_fc_requantization_equals_fixedpoint_on_extremes(output_bits: int) -> None:
    """Multipliers and shifts of every kind (left shifts, no shift, large right shifts, per row),
    inputs at the int8 extremes and rounding ties: LiteRT's result equals edgernn.fixedpoint's."""
    rng = np.random.default_rng(0)
    rows, cols = 12, 40
    weight = rng.integers(-128, 128, size=(rows, cols)).astype(np.int8)
    weight[0] = 127
    weight[1] = -128
    multiplier = rng.integers(1 << 30, (1 << 31) - 1, size=rows).astype(np.int32)
    multiplier[2] = 1 << 30  # exact halves: rounding ties
    shift = np.array([3, 0, -1, -2, -7, -12, -17, -20, -25, -30, 1, -9], dtype=np.int32)
    bias = rng.integers(-20000, 20000, size=rows).astype(np.int32)
    lo, hi = (-128, 127) if output_bits == 8 else (-32768, 32767)
    zero_point = 5 if output_bits == 8 else 0
    fc = ir.FullyConnected(
        weight=weight,
        weight_scale=np.full(rows, 0.01, np.float32),
        bias=bias,
        multiplier=multiplier,
        shift=shift,
        input_zero_point=-3,
        output_zero_point=zero_point,
        output_scale=1.0,
        output_bits=output_bits,
    )
    out_type = tflite_export._T.INT8 if output_bits == 8 else tflite_export._T.INT16
    interpreter = Interpreter(model_content=_fc_graph(fc, out_type))
    interpreter.allocate_tensors()
    inputs = [np.full(cols, 127), np.full(cols, -128), rng.integers(-128, 128, size=(200, cols))]
    xs = np.vstack([np.atleast_2d(a) for a in inputs]).astype(np.int8)
    for x in xs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x.reshape(1, -1))
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1).astype(np.int64)
        want = fixedpoint.fully_connected(x, -3, weight, bias, multiplier, shift, zero_point, lo, hi)
        assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.value)
def test_exact_file_has_none_of_litert_inexact_ops(cell: CellType) -> None:
    model = random_model(ModelConfig(cell=cell, input_size=4, hidden_size=8, output_size=3), seed=2)
    data = tflite_export.build(model, "int8-exact").data
    m = tflite_export.schema.ModelT.InitFromPackedBuf(data, 0)
    ops = {m.operatorCodes[o.opcodeIndex].builtinCode for o in m.subgraphs[0].operators}
    op = tflite_export.schema.BuiltinOperator
    assert not ops & {op.FULLY_CONNECTED, op.LOGISTIC, op.TANH, op.UNIDIRECTIONAL_SEQUENCE_LSTM}
    assert {op.BATCH_MATMUL, op.GATHER, op.BITCAST} <= ops
    meta = tflite_export.read_metadata(data)
    assert meta["precision"] == "int8-exact"
    assert not any(v.isVariable for v in m.subgraphs[0].tensors) and meta["lstm_state_tensors"] == []


def test_lstm_state_is_explicit_int8_h_and_int16_c() -> None:
    """The exact LSTM takes and returns its state as tensors (no variable tensors): h{k} int8 at the
    hidden scale, c{k} int16 at the cell scale 2^p, as the reference's (h, c)."""
    config = ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=6, num_layers=2)
    model = random_model(config, seed=5)
    result = tflite_export.build(model, "int8-exact")
    state_in = [(t.role, t.layer, t.dtype, t.shape, t.scale) for t in result.inputs if t.role != "x"]
    state_out = [(t.role, t.layer, t.dtype, t.scale) for t in result.outputs if t.role != "y"]
    want_in, want_out = [], []
    for k, layer in enumerate(model.layers):
        cell = layer.directions[0].quant
        assert isinstance(cell, LSTMCellQ)
        c_scale = 2.0**cell.cell_scale_power
        want_in += [("h", k, "int8", (1, 6), layer.hidden_q.scale), ("c", k, "int16", (1, 6), c_scale)]
        want_out += [("h_out", k, "int8", layer.hidden_q.scale), ("c_out", k, "int16", c_scale)]
    assert state_in == want_in and state_out == want_out
    assert result.state_variables == ()
    assert "c{k} (int16" in result.metadata["state"]
    assert [t.shape for t in result.inputs if t.role == "x"] == [(1, 3)]  # not the fused op's (1, 1, F)


def test_a_right_shift_above_30_is_refused_with_a_one_line_reason() -> None:
    """The int32 RoundingDivideByPOT form needs ``2^e`` in int32: a shift of 31 cannot be expressed."""
    fc = ir.FullyConnected(
        weight=np.ones((2, 3), np.int8),
        weight_scale=np.full(2, 0.01, np.float32),
        bias=np.zeros(2, np.int32),
        multiplier=np.full(2, 1 << 30, np.int32),
        shift=np.array([-2, -31], np.int32),
        input_zero_point=0,
        output_zero_point=0,
        output_scale=1.0,
        output_bits=8,
    )
    with pytest.raises(UnsupportedModelError, match="right shift of 31 has no exact LiteRT form") as err:
        _fc_graph(fc, tflite_export._T.INT8)
    assert "\n" not in str(err.value)


def test_head_tanh_equals_the_reference_on_every_int8_input() -> None:
    """tanh before the head (QUANTIZE int8 -> Q3.12, the TANH table, QUANTIZE Q0.15 -> int8): all 256
    int8 inputs in one invoke, for random hidden and output quantizations, equal the reference's."""
    rng = np.random.default_rng(3)
    values = np.arange(-128, 128, dtype=np.int64)
    for _ in range(40):
        hidden_q = ir.QParams(float(2.0 ** rng.uniform(-9, -2)), int(rng.integers(-128, 128)))
        output_q = ir.QParams(float(2.0 ** rng.uniform(-8, -5)), int(rng.integers(-20, 21)))
        tanh = ir.HeadTanh.of(hidden_q, output_q)
        g, check = ExactGraph(), tflite_export._Checker()
        x = g.tensor(
            "x", (1, 256), tflite_export._T.INT8, tflite_export._per_tensor(hidden_q.scale, hidden_q.zero_point)
        )
        holder = SimpleNamespace(head_tanh=tanh, layers=[SimpleNamespace(hidden_q=hidden_q)], head_input_q=output_q)
        y = tflite_export._head_tanh(g, check, holder, x)  # type: ignore[arg-type]
        assert check.inexact == []
        interpreter = Interpreter(model_content=g.pack([x], [y], {}, "head tanh"))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], values.astype(np.int8).reshape(1, -1))
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1).astype(np.int64)
        want = reference.cells.head_activation(Activation.TANH, values, hidden_q, tanh)
        assert np.array_equal(got, want), (hidden_q, output_q)


@pytest.mark.parametrize("cell", [CellType.GRU, CellType.LSTM], ids=lambda c: c.value)
def test_cli_writes_the_exact_variant_and_the_backend_reads_it(tmp_path: Path, cell: CellType) -> None:
    model = random_model(ModelConfig(cell=cell, input_size=4, hidden_size=8, output_size=3), seed=2)
    ir.save(model, tmp_path / "m.ernn")
    out = tmp_path / "m.tflite"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "m.ernn"), "--format", "tflite-exact", "-o", str(out)])
    assert result.exit_code == 0, result.output
    backend = TFLiteBackend.from_file(model, out)
    assert backend.precision == "int8-exact"
    xq = model.input_q.quantize(random_inputs(model.config, 50, seed=2)).astype(np.int64)
    ref = create_backend("reference", model)
    rs, bs = ref.zero_state(), backend.zero_state()
    for x in xq:
        yr, rs = ref.step(rs, x)
        yb, bs = backend.step(bs, x)
        assert np.array_equal(yr, yb)
    refused = CliRunner().invoke(
        cli, ["export", str(tmp_path / "m.ernn"), "--format", "tflite-exact", "--float", "-o", str(tmp_path / "f")]
    )
    assert refused.exit_code != 0 and "int8 only" in refused.output and "Traceback" not in refused.output


def test_fcs_on_two_inputs_are_one_requantization_equal_to_fixedpoint() -> None:
    """ExactGraph.exact_fcs: FCs on two int8 inputs with different zero points (x rows, then h
    rows, as the GRU's six gate FCs) through one int32 CONCATENATION and one requantization chain
    give each FC's own edgernn.fixedpoint result, at the int8 extremes too."""
    rng = np.random.default_rng(1)

    def fc(rows: int, cols: int, zero_point: int, shifts: list[int]) -> ir.FullyConnected:
        return ir.FullyConnected(
            weight=rng.integers(-128, 128, size=(rows, cols)).astype(np.int8),
            weight_scale=np.full(rows, 0.01, np.float32),
            bias=rng.integers(-20000, 20000, size=rows).astype(np.int32),
            multiplier=rng.integers(1 << 30, (1 << 31) - 1, size=rows).astype(np.int32),
            shift=np.array(shifts, dtype=np.int32),
            input_zero_point=zero_point,
            output_zero_point=0,
            output_scale=1.0,
            output_bits=16,
        )

    x_fcs = [fc(3, 7, -3, [-5, -9, 0]), fc(2, 7, -3, [1, -12])]
    h_fcs = [fc(4, 5, 11, [-2, -7, -20, -1])]
    g = ExactGraph()
    int8 = tflite_export._T.INT8
    x = g.tensor("x", (1, 7), int8, tflite_export._per_tensor(1.0, -3))
    h = g.tensor("h", (1, 5), int8, tflite_export._per_tensor(1.0, 11))
    y = g.exact_fcs([(x, x_fcs), (h, h_fcs)], "y", tflite_export._T.INT16, tflite_export._per_tensor(1.0))
    interpreter = Interpreter(model_content=g.pack([x, h], [y], {}, "two exact FC groups"))
    interpreter.allocate_tensors()
    m = tflite_export.schema.ModelT.InitFromPackedBuf(g.pack([x, h], [y], {}, ""), 0)
    codes = [m.operatorCodes[o.opcodeIndex].builtinCode for o in m.subgraphs[0].operators]
    assert codes.count(tflite_export._OP.BITCAST) == 1 and codes.count(tflite_export._OP.CONCATENATION) == 1
    xs = np.vstack([np.full(7, 127), np.full(7, -128), rng.integers(-128, 128, size=(100, 7))]).astype(np.int8)
    hs = np.vstack([np.full(5, -128), np.full(5, 127), rng.integers(-128, 128, size=(100, 5))]).astype(np.int8)
    details = interpreter.get_input_details()
    for xv, hv in zip(xs, hs):
        interpreter.set_tensor(details[0]["index"], xv.reshape(1, -1))
        interpreter.set_tensor(details[1]["index"], hv.reshape(1, -1))
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1).astype(np.int64)
        want = np.concatenate(
            [reference.cells.gate_fc(f, xv) for f in x_fcs] + [reference.cells.gate_fc(f, hv) for f in h_fcs]
        )
        assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize(("cell", "chains"), [(CellType.GRU, 1), (CellType.LSTM, 2), (CellType.RNN, 1)])
def test_every_gate_fc_of_a_layer_shares_one_requantization(cell: CellType, chains: int) -> None:
    """All gate FCs of a layer (on x and on h) are one requantization chain (one BITCAST), plus the
    LSTM's o * tanh(c); the head is one more: a per-FC form (the GRU's six chains) fails this."""
    config = ModelConfig(cell=cell, input_size=4, hidden_size=8, num_layers=2, output_size=3)
    data = tflite_export.build(random_model(config, seed=2), "int8-exact").data
    m = tflite_export.schema.ModelT.InitFromPackedBuf(data, 0)
    codes = [m.operatorCodes[o.opcodeIndex].builtinCode for o in m.subgraphs[0].operators]
    assert codes.count(tflite_export._OP.BITCAST) == chains * config.num_layers + 1


@pytest.mark.parametrize("cell", CELLS, ids=[c.value for c in CELLS])
def test_stream_backend_tflite_exact_equals_the_reference_free_running(cell: CellType) -> None:
    """``Stream(model, backend="tflite-exact")``: float in, float out, each side carrying its own state."""
    from edgernn.runtime import Stream

    config = ModelConfig(cell=cell, input_size=5, hidden_size=24, num_layers=2, output_size=4)
    model = random_model(config, seed=21, weight_gain=6.0)
    frames = random_inputs(config, STEPS, seed=21, scale=2.5)
    exact, ref = Stream(model, backend="tflite-exact"), Stream(model, backend="reference")
    for t, frame in enumerate(frames):
        if t % RESET_EVERY == 0:
            exact.reset()
            ref.reset()
        assert np.array_equal(exact.step(frame), ref.step(frame)), f"step {t}: y differs"
    assert np.array_equal(exact.run(frames), ref.run(frames))


def test_tflite_exact_backend_refuses_what_it_cannot_express_in_one_line() -> None:
    from edgernn.errors import EdgeRNNError
    from edgernn.runtime import available_backends

    assert "tflite-exact" in available_backends()
    config = ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8, output_size=2)
    int16_head = random_model(config, seed=4, options=QuantizeOptions(head_output_bits=16))
    assert int16_head.output_bits == 16
    with pytest.raises(EdgeRNNError) as refused:
        create_backend("tflite-exact", int16_head)
    assert "\n" not in str(refused.value)
