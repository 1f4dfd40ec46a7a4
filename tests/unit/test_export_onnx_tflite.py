"""ONNX and TFLite exports: structure, metadata, validity, bad files, the bundle and the CLI."""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

from click.testing import CliRunner  # noqa: E402

from edgernn import __version__, fixedpoint, ir  # noqa: E402
from edgernn.cli import cli  # noqa: E402
from edgernn.errors import EdgeRNNError, ModelFileError, UnsupportedModelError  # noqa: E402
from edgernn.export import ExportOptions, export_model  # noqa: E402
from edgernn.export import onnx as onnx_export  # noqa: E402
from edgernn.export import tflite as tflite_export  # noqa: E402
from edgernn.export.tflite import schema  # noqa: E402
from edgernn.runtime import Stream  # noqa: E402
from edgernn.runtime.onnx_backend import OnnxBackend  # noqa: E402
from edgernn.runtime.tflite_backend import TFLiteBackend  # noqa: E402
from edgernn.testing import random_inputs, random_model  # noqa: E402
from edgernn.types import CellType, ModelConfig  # noqa: E402

CONFIGS = [ModelConfig(cell=cell, input_size=4, hidden_size=6, num_layers=2, output_size=3) for cell in CellType] + [
    ModelConfig(cell=CellType.GRU, vocab_size=9, embedding_dim=3, hidden_size=5, output_size=9),
    ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=5),
]
BIDIRECTIONAL = [
    ModelConfig(cell=cell, input_size=4, hidden_size=6, num_layers=2, bidirectional=True, output_size=2)
    for cell in CellType
]


def _id(c: ModelConfig) -> str:
    return f"{c.cell.value}-{c.num_layers}l-{'tok' if c.uses_tokens else 'feat'}-{'bi' if c.bidirectional else 'uni'}"


@pytest.fixture(scope="module")
def gru() -> ir.QuantizedRNN:
    return random_model(ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8, output_size=3), seed=0)


# ---- ONNX ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS + BIDIRECTIONAL, ids=_id)
@pytest.mark.parametrize("precision", onnx_export.PRECISIONS)
def test_onnx_graphs_pass_the_full_checker(config: ModelConfig, precision: str) -> None:
    model = random_model(config, seed=1)
    graphs = ["sequence"] if config.bidirectional else ["step", "sequence"]
    for graph in graphs:
        g = onnx_export.build(model, precision, graph)
        onnx.checker.check_model(g.model, full_check=True)
        assert g.model.opset_import[0].version >= 18
        ort.InferenceSession(g.data, providers=["CPUExecutionProvider"])


def test_onnx_metadata_and_names(gru: ir.QuantizedRNN) -> None:
    g = onnx_export.build(gru, "int8", "step")
    props = {p.key: p.value for p in g.model.metadata_props}
    assert props["producer"] == "edgernn" and props["edgernn_version"] == __version__
    assert props["model_sha256"] == gru.sha256
    assert float(props["input_scale"]) == gru.input_q.scale
    assert int(props["input_zero_point"]) == gru.input_q.zero_point
    assert float(props["output_scale"]) == gru.output_q.scale
    assert int(props["output_zero_point"]) == gru.output_q.zero_point
    assert "layout" in props and json.loads(props["config"]) == gru.config.to_json()
    # The int8 GRU's state is the int8 h and its int16 Q0.15 hidden state.
    assert [i.name for i in g.model.graph.input] == ["x", "h0", "h0_q15"]
    assert [o.name for o in g.model.graph.output] == ["y", "h0_out", "h0_q15_out"]
    names = {n.name for n in g.model.graph.node}
    assert {"l0/rz", "l0/n", "l0/h_out"} <= names  # r and z: one sigmoid lookup over 2H values
    roles = [(t.name, t.role, t.dtype) for t in g.inputs]
    assert roles == [("x", "x", "int8"), ("h0", "h", "int8"), ("h0_q15", "h_q15", "int16")]
    assert (g.inputs[2].scale, g.inputs[2].zero_point) == (2.0**-15, 0)
    assert g.inputs[0].scale == gru.input_q.scale


def test_onnx_int8_is_integer_only_with_the_ir_integers(gru: ir.QuantizedRNN) -> None:
    """The exact graph: no float tensor, no Q/DQ; the IR's weights, biases and multipliers as constants."""
    for graph in ("step", "sequence"):
        model = onnx_export.build(gru, "int8", graph).model
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
        elem_types = {v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        elem_types |= {i.data_type for i in model.graph.initializer}
        assert not elem_types & {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
        ops = collections.Counter(n.op_type for n in model.graph.node)
        assert ops["QuantizeLinear"] == ops["DequantizeLinear"] == 0
    g = onnx_export.build(gru, "int8", "step")
    ops = collections.Counter(n.op_type for n in g.model.graph.node)
    assert ops["MatMulInteger"] == 3  # input FCs, recurrent FCs (gates concatenated), head
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in g.model.graph.initializer}
    cell = gru.layers[0].directions[0].quant
    assert np.array_equal(
        inits["l0/x_fc/weight"], np.concatenate([cell.x_r.weight, cell.x_z.weight, cell.x_n.weight]).T
    )
    assert np.array_equal(inits["head/bias"], gru.head.fc.bias)  # type: ignore[union-attr]
    # one 65,536-entry int16 table per function (sigmoid and tanh), shared by every use
    tables = [a for a in inits.values() if a.shape == (65536,)]
    assert len(tables) == 2 and all(a.dtype == np.int16 for a in tables)


def test_onnx_int8_qdq_uses_ir_scales_and_fuses_the_head(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    g = onnx_export.build(gru, "int8-qdq", "step")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in g.model.graph.initializer}
    assert np.array_equal(inits["l0/x_r/weight"], gru.layers[0].directions[0].quant.x_r.weight.T)
    assert np.array_equal(inits["head/bias"], gru.head.fc.bias)  # type: ignore[union-attr]
    ops = collections.Counter(n.op_type for n in g.model.graph.node)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(g.data, options, providers=["CPUExecutionProvider"])
    fused = collections.Counter(n.op_type for n in onnx.load(tmp_path / "optimized.onnx").graph.node)
    assert fused["QGemm"] == 1  # the int8 head becomes one quantized Gemm


@pytest.mark.parametrize("cell", list(CellType), ids=lambda c: c.value)
def test_onnx_float_uses_native_ops_with_converted_gate_order(cell: CellType) -> None:
    model = random_model(ModelConfig(cell=cell, input_size=3, hidden_size=4, bidirectional=True), seed=2)
    g = onnx_export.build(model, "float32", "sequence")
    native = [n for n in g.model.graph.node if n.op_type in ("RNN", "GRU", "LSTM")]
    assert len(native) == 1 and native[0].op_type == cell.name
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in native[0].attribute}
    assert attrs["direction"] == b"bidirectional"
    if cell is CellType.GRU:
        assert attrs["linear_before_reset"] == 1
    w = onnx.numpy_helper.to_array(next(i for i in g.model.graph.initializer if i.name == "l0/W"))
    fw = model.layers[0].directions[0].float_weights.weight_ih
    h = 4
    if cell is CellType.GRU:  # ONNX z, r, h <- PyTorch r, z, n
        assert np.array_equal(w[0, :h], fw[h : 2 * h]) and np.array_equal(w[0, h : 2 * h], fw[:h])
    if cell is CellType.LSTM:  # ONNX i, o, f, c <- PyTorch i, f, g, o
        assert np.array_equal(w[0, h : 2 * h], fw[3 * h :]) and np.array_equal(w[0, 3 * h :], fw[2 * h : 3 * h])


def test_onnx_step_graph_of_a_bidirectional_model_is_refused() -> None:
    model = random_model(BIDIRECTIONAL[0], seed=1)
    with pytest.raises(EdgeRNNError, match="bidirectional"):
        onnx_export.build(model, "int8", "step")


# ---- TFLite ----------------------------------------------------------------------------------------


def _ops(data: bytes) -> list[int]:
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    return [m.operatorCodes[o.opcodeIndex].builtinCode for o in m.subgraphs[0].operators]


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
@pytest.mark.parametrize("precision", tflite_export.PRECISIONS)
def test_tflite_structure_and_metadata(config: ModelConfig, precision: str) -> None:
    model = random_model(config, seed=1)
    t = tflite_export.build(model, precision)
    assert t.data[4:8] == b"TFL3"
    meta = tflite_export.read_metadata(t.data)
    assert meta["model_sha256"] == model.sha256 and meta["precision"] == precision
    m = schema.ModelT.InitFromPackedBuf(t.data, 0)
    sub = m.subgraphs[0]
    assert list(sub.inputs) == sorted({i.index for i in t.inputs}, key=[i.index for i in t.inputs].index)
    for info in (*t.inputs, *t.outputs):
        assert sub.tensors[info.index].name.decode() == info.name
        assert list(sub.inputs if info in t.inputs else sub.outputs)[info.position] == info.index
    ops = _ops(t.data)
    op = schema.BuiltinOperator
    if config.cell is CellType.LSTM:
        assert ops.count(op.UNIDIRECTIONAL_SEQUENCE_LSTM) == config.num_layers
        for h, c in t.state_variables:
            assert sub.tensors[h].isVariable and sub.tensors[c].isVariable
    else:
        assert op.UNIDIRECTIONAL_SEQUENCE_LSTM not in ops and op.FULLY_CONNECTED in ops
        assert not any(tensor.isVariable for tensor in sub.tensors)
    if precision == "int8":
        x = next(i for i in t.inputs if i.role == "x")
        if not config.uses_tokens:
            assert (x.scale, x.zero_point) == (model.input_q.scale, model.input_q.zero_point)
    assert [s.signatureKey for s in m.signatureDefs] == [b"serving_default"]


def test_tflite_gru_graph_is_the_reference_rounding_points(gru: ir.QuantizedRNN) -> None:
    op = schema.BuiltinOperator
    counts = collections.Counter(_ops(tflite_export.build(gru).data))
    assert counts[op.FULLY_CONNECTED] == 7  # six gate FCs and the head
    assert counts[op.LOGISTIC] == 2 and counts[op.TANH] == 1 and counts[op.SUB] == 1
    # x and h widened, the Q0.15 state to int8 (the blend reads the int16 state input: no QUANTIZE)
    assert counts[op.MUL] == 3 and counts[op.QUANTIZE] == 3


def test_tflite_refuses_bidirectional() -> None:
    with pytest.raises(UnsupportedModelError, match="bidirectional"):
        tflite_export.build(random_model(BIDIRECTIONAL[1], seed=0))


# ---- bad files -------------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("backend", [OnnxBackend, TFLiteBackend], ids=["onnx", "tflite"])
def test_invalid_files_are_one_line_errors(backend: type, gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01not a model at all" * 10)
    with pytest.raises(ModelFileError) as exc:
        backend.from_file(gru, garbage)
    assert "not" in _one_line(exc)
    with pytest.raises(ModelFileError, match="does not exist"):
        backend.from_file(gru, tmp_path / "missing.onnx")


def test_truncated_and_foreign_tflite_files(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    data = tflite_export.build(gru).data
    path = tmp_path / "t.tflite"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError) as exc:
        TFLiteBackend.from_file(gru, path)
    _one_line(exc)
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    m.metadata = []
    builder = tflite_export.flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    with pytest.raises(ModelFileError, match="not exported by edgernn"):
        TFLiteBackend.from_file(gru, path)


def _with_tflite_metadata(data: bytes, **changes: object) -> bytes:
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    entry = next(e for e in m.metadata if e.name == b"edgernn")
    meta = json.loads(bytes(m.buffers[entry.buffer].data))
    meta.update(changes)
    m.buffers[entry.buffer].data = list(json.dumps(meta).encode())
    builder = tflite_export.flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_files_from_a_newer_edgernn_or_another_model_are_refused(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(_with_tflite_metadata(tflite_export.build(gru).data, format_version=99, edgernn_version="9.0"))
    with pytest.raises(ModelFileError, match="upgrade edgernn") as exc:
        TFLiteBackend.from_file(gru, path)
    _one_line(exc)
    other = random_model(gru.config, seed=99)
    path.write_bytes(tflite_export.build(other).data)
    with pytest.raises(ModelFileError, match="different model"):
        TFLiteBackend.from_file(gru, path)
    g = onnx_export.build(gru, "int8", "step")
    onnx.helper.set_model_props(g.model, {"producer": "edgernn", "format_version": "99", "edgernn_version": "9.0"})
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(g.model.SerializeToString())
    with pytest.raises(ModelFileError, match="upgrade edgernn") as exc2:
        OnnxBackend.from_file(gru, onnx_path)
    _one_line(exc2)
    foreign = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["a"], ["b"])],
            "g",
            [onnx.helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [1])],
            [onnx.helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1])],
        )
    )
    onnx_path.write_bytes(foreign.SerializeToString())
    with pytest.raises(ModelFileError, match="not exported by edgernn"):
        OnnxBackend.from_file(gru, onnx_path)


# ---- files round trip, bundle, CLI -------------------------------------------------------------------


def test_exported_files_run_like_the_in_memory_backends(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    export_model(gru, "onnx", tmp_path / "g.onnx")
    export_model(gru, "tflite", tmp_path / "g.tflite")
    assert (tmp_path / "g.sequence.onnx").exists()
    xs = gru.input_q.quantize(random_inputs(gru.config, 50, seed=1)).astype(np.int64)
    for from_file, in_memory in (
        (OnnxBackend.from_file(gru, tmp_path / "g.onnx"), OnnxBackend(gru)),
        (TFLiteBackend.from_file(gru, tmp_path / "g.tflite"), TFLiteBackend(gru)),
    ):
        a, _ = from_file.run(from_file.zero_state(), xs)
        b, _ = in_memory.run(in_memory.zero_state(), xs)
        assert np.array_equal(a, b)


def test_float_flag_selects_float32_exports(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    export_model(gru, "tflite", tmp_path / "f.tflite", ExportOptions(float_weights=True))
    assert tflite_export.read_metadata((tmp_path / "f.tflite").read_bytes())["precision"] == "float32"
    export_model(gru, "onnx", tmp_path / "f.onnx", ExportOptions(float_weights=True))
    _, meta = onnx_export.load((tmp_path / "f.onnx").read_bytes())
    assert meta["precision"] == "float32"


def test_onnx_qdq_format_writes_the_qdq_variant(gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    model_path = tmp_path / "m.ernn"
    ir.save(gru, model_path)
    result = CliRunner().invoke(
        cli, ["export", str(model_path), "--format", "onnx-qdq", "-o", str(tmp_path / "q.onnx")]
    )
    assert result.exit_code == 0, result.output
    for name in ("q.onnx", "q.sequence.onnx"):
        _, meta = onnx_export.load((tmp_path / name).read_bytes())
        assert meta["precision"] == "int8-qdq"
    backend = OnnxBackend.from_file(gru, tmp_path / "q.onnx")
    assert backend.precision == "int8-qdq" and backend.integer
    result = CliRunner().invoke(
        cli, ["export", str(model_path), "--format", "onnx-qdq", "--float", "-o", str(tmp_path / "f.onnx")]
    )
    assert result.exit_code != 0 and "int8 only" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "f.onnx").exists()


def test_bundle_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    model = random_model(ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=5, output_size=2), seed=4)
    out = tmp_path / "bundle"
    export_model(model, "all", out)
    (out / "stale.txt").write_text("left in an earlier bundle")
    result = export_model(model, "all", out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert not (out / "stale.txt").exists(), "the bundle replaces an earlier bundle as a whole"
    assert manifest["model_sha256"] == model.sha256
    q = model.input_q
    assert manifest["input_quantization"] == {"scale": q.scale, "zero_point": q.zero_point, "dtype": "int8"}
    paths = {f["path"] for f in manifest["files"]}
    for expected in ("onnx/model.int8.onnx", "onnx/model.float32.sequence.onnx", "tflite/model.int8.tflite"):
        assert expected in paths
    for f in manifest["files"]:
        assert hashlib.sha256((out / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    tfl = next(f for f in manifest["files"] if f["path"] == "tflite/model.int8.tflite")
    assert {i["role"] for i in tfl["inputs"]} == {"x", "h", "c"} and tfl["lstm_state_tensors"]
    has_c = any(f["format"] == "c" for f in manifest["files"])
    assert has_c or "c" in manifest["unavailable"]
    assert len(result.files) == len(manifest["files"]) + 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bundle.")], "no staging folder left behind"


def test_bundle_of_a_bidirectional_model_says_tflite_is_unavailable(tmp_path: Path) -> None:
    model = random_model(BIDIRECTIONAL[0], seed=1)
    export_model(model, "all", tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert "tflite" in manifest["unavailable"]
    assert {f["graph"] for f in manifest["files"] if f["format"] == "onnx"} == {"sequence"}


@pytest.mark.parametrize(("fmt", "target"), [("onnx", "m.onnx"), ("tflite", "m.tflite"), ("all", "bundle")])
def test_cli_export(fmt: str, target: str, gru: ir.QuantizedRNN, tmp_path: Path) -> None:
    model_path = tmp_path / "m.ernn"
    ir.save(gru, model_path)
    (tmp_path / "out").mkdir()  # the CLI never creates missing parent folders
    out = tmp_path / "out" / target
    result = CliRunner().invoke(cli, ["export", str(model_path), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert "wrote" in result.output
    if fmt == "tflite":
        s = Stream(gru, backend="tflite")
        assert TFLiteBackend.from_file(gru, out).data == s.backend.data  # type: ignore[attr-defined]


def test_cli_export_of_a_bidirectional_model_to_tflite_fails_cleanly(tmp_path: Path) -> None:
    model_path = tmp_path / "bi.ernn"
    ir.save(random_model(BIDIRECTIONAL[2], seed=0), model_path)
    result = CliRunner().invoke(
        cli, ["export", str(model_path), "--format", "tflite", "-o", str(tmp_path / "x.tflite")]
    )
    assert result.exit_code != 0
    assert "bidirectional" in result.output
    assert not (tmp_path / "x.tflite").exists()


# ---- the integer-exact ONNX arithmetic -------------------------------------------------------------


def _run_int64_graph(build: Callable[[onnx_export._Builder, str], str], x: np.ndarray) -> np.ndarray:
    """Run ``build``'s nodes on the int64 input ``x`` in ONNX Runtime's default CPU provider."""
    b = onnx_export._Builder()
    b._names.add("x")
    out = build(b, "x")
    graph = onnx.helper.make_graph(
        [*b.nodes, onnx.helper.make_node("Identity", [out], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.INT64, list(x.shape))],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.INT64, list(x.shape))],
        b.initializers,
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", onnx_export.OPSET)], ir_version=onnx_export.IR_VERSION
    )
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x.astype(np.int64)})[0]


def _requant_inputs(multiplier: int, shift: int, rng: np.random.Generator) -> np.ndarray:
    """int32 edge values, values whose product with the multiplier is a rounding tie (or one off)
    at the high multiply and at the final shift, and random values; all valid after a left shift."""
    limit = (2**31 - 1) >> max(shift, 0)
    edges = [0, 1, -1, 2, -2, limit, -limit - (1 if shift <= 0 else 0), limit - 1, -limit + 1]
    if multiplier:
        # x * M near k * 2**31 + 2**30 (the SRDHM tie) and its quotient near a RoundingDivideByPOT tie
        for k in range(-40, 40):
            for target in (k * 2**31 + 2**30, k * 2**31 - 2**30, (k * 2 + 1) * 2 ** (30 + max(-shift, 1))):
                base = target // multiplier
                edges += [base + d for d in (-1, 0, 1)]
    values = np.array(edges + list(rng.integers(-limit, limit, 3000)), dtype=np.int64)
    return values[(values >= -limit - 1) & (values <= limit)]


@pytest.mark.parametrize(
    ("multiplier", "shift"),
    [(2**30, -1), (1518500250, -9), (1073741824, 0), (2147483647, -31), (1717986918, 3), (0, 0), (1395864371, -20)],
)
def test_onnx_requantize_nodes_equal_the_fixedpoint_requantize(multiplier: int, shift: int) -> None:
    x = _requant_inputs(multiplier, shift, np.random.default_rng(multiplier % 1000 + shift))
    for zero_point, lo, hi in ((0, -(2**15), 2**15 - 1), (-5, -128, 127), (0, -(2**31), 2**31 - 1)):
        got = _run_int64_graph(
            lambda b, name, zp=zero_point, lo=lo, hi=hi: onnx_export.requantize_nodes(
                b, name, multiplier, shift, zp, lo, hi, "rq"
            ),
            x,
        )
        want = fixedpoint.requantize(x, multiplier, shift, zero_point, lo, hi)
        assert np.array_equal(got, want), x[got != want][:5]


def test_onnx_requantize_nodes_per_row_with_mixed_shifts() -> None:
    """Per-row multipliers where some rows shift left (no rounding right shift) and others right."""
    multipliers = np.array([1073741824, 1518500250, 2147483647, 1395864371])
    shifts = np.array([0, -7, 2, -31])
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.integers(-(2**28), 2**28, (2000, 4)), [[2**28 - 1] * 4, [-(2**28)] * 4]]).astype(np.int64)
    got = _run_int64_graph(
        lambda b, name: onnx_export.requantize_nodes(b, name, multipliers, shifts, 3, -(2**15), 2**15 - 1, "rq"), x
    )
    assert np.array_equal(got, fixedpoint.requantize(x, multipliers, shifts, 3, -(2**15), 2**15 - 1))


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (fixedpoint.sigmoid_int16, ()),
        (fixedpoint.tanh_int16, ()),
        (fixedpoint.tanh_int16, (0, 3)),
        (fixedpoint.tanh_int16, (3, 2)),
    ],
)
def test_onnx_lut_gather_equals_the_int16_functions_at_every_input(fn: Callable[..., np.ndarray], args: tuple) -> None:
    x = np.arange(-(2**15), 2**15, dtype=np.int64)
    got = _run_int64_graph(lambda b, name: onnx_export._ExactCell(b, None, "t", name).lut(fn, name, "lut", *args), x)  # type: ignore[arg-type]
    assert np.array_equal(got, fn(x, *args))
