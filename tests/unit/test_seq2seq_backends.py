"""The encoder and decoder on ONNX Runtime and TFLite Micro (the exported .onnx and .tflite files)
decode exactly as the integer reference. (LiteRT runs the same .tflite with kernels that are not
exact: docs/compatibility.md.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from ai_edge_litert.interpreter import Interpreter
from onnx import TensorProto
from tflite_micro.python.tflite_micro import runtime as tflm_runtime

from edgernn.errors import UnsupportedModelError
from edgernn.export import onnx as onnx_export
from edgernn.export import tflite as tflite_export
from edgernn.seq2seq import Seq2SeqRunner
from edgernn.seq2seq.backends import BackendSeq2Seq
from edgernn.seq2seq.bridge_onnx import build_bridge
from edgernn.seq2seq.bridge_tflite import build_bridge_tflite
from edgernn.seq2seq.export_graphs import export_graphs
from tests.unit.test_seq2seq import MODELS, random_seq2seq, random_sources

CASES = [("onnx", name) for name in MODELS] + [
    ("tflm", name) for name, kwargs in MODELS.items() if kwargs.get("bidirectional", True) is not True
]


@pytest.mark.parametrize(("backend", "name"), CASES)
def test_backend_greedy_equals_the_reference(backend: str, name: str) -> None:
    model = random_seq2seq(**{**MODELS[name], "max_output_len": 40})
    sources = random_sources(8, seed=41, longest=25)
    assert BackendSeq2Seq(model, backend).greedy(sources) == Seq2SeqRunner(model).greedy(sources)


def test_tflite_refuses_a_bidirectional_encoder() -> None:
    """A .tflite is a streaming step model: a bidirectional encoder goes to ONNX or C instead."""
    with pytest.raises(UnsupportedModelError, match="bidirectional"):
        BackendSeq2Seq(random_seq2seq(**MODELS["gru-bi"]), "tflm")


def test_the_onnx_backend_runs_the_bridge_graph() -> None:
    """encoder.onnx -> bridge.onnx -> decoder.onnx: no integer reference between the graphs."""
    model = random_seq2seq(**MODELS["gru-bi"])
    backend = BackendSeq2Seq(model, "onnx")
    assert backend.bridge is not None

    def refuse(summary: object) -> None:
        raise AssertionError("the reference bridge ran")

    backend.reference.bridge = refuse  # type: ignore[method-assign]
    sources = random_sources(4, seed=5, longest=12)
    assert backend.greedy(sources) == Seq2SeqRunner(model).greedy(sources)


@pytest.mark.parametrize("name", list(MODELS))
def test_bridge_graph_equals_the_reference_bridge(name: str) -> None:
    """The bridge graph passes the full ONNX check, takes the encoder sequence graph's ``y_last``,
    returns the decoder step graph's state inputs (names, dtypes, shapes) and equals
    :meth:`Seq2SeqRunner.bridge` exactly over random and extreme int8 summaries."""
    model = random_seq2seq(**MODELS[name])
    proto = build_bridge(model)
    onnx.checker.check_model(proto, full_check=True)
    encoder_out = {t.name: t for t in onnx_export.build(model.encoder, "int8", "sequence").outputs}["y_last"]
    decoder_in = [t for t in onnx_export.build(model.decoder, "int8", "step").inputs if t.role != "x"]
    (graph_in,) = proto.graph.input
    assert graph_in.name == encoder_out.name
    assert graph_in.type.tensor_type.elem_type == TensorProto.INT8 and encoder_out.dtype == "int8"
    assert [d.dim_value for d in graph_in.type.tensor_type.shape.dim] == list(encoder_out.shape)
    assert [o.name for o in proto.graph.output] == [t.name for t in decoder_in]
    dtypes = {TensorProto.INT8: "int8", TensorProto.INT16: "int16"}
    assert [dtypes[o.type.tensor_type.elem_type] for o in proto.graph.output] == [t.dtype for t in decoder_in]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    width = graph_in.type.tensor_type.shape.dim[1].dim_value
    rng = np.random.default_rng(7)
    summaries = [np.full(width, v) for v in (-128, 127, 0)] + list(rng.integers(-128, 128, (300, width)))
    reference = Seq2SeqRunner(model)
    for summary in summaries:
        expected = [a[0] for cell in reference.bridge(summary[None].astype(np.int64)) for a in cell]
        got = session.run(None, {"y_last": summary[None].astype(np.int8)})
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert np.array_equal(g[0].astype(np.int64), e)


@pytest.mark.parametrize("name", [n for n, kwargs in MODELS.items() if kwargs.get("bidirectional") is False])
def test_tflite_bridge_model_equals_the_reference_bridge(name: str) -> None:
    """The TFLite bridge model in TFLite Micro: the decoder step model's state inputs (names, dtypes,
    shapes) from the encoder's int8 summary, equal to :meth:`Seq2SeqRunner.bridge` exactly."""
    model = random_seq2seq(**MODELS[name])
    data = build_bridge_tflite(model)
    decoder_in = [t for t in tflite_export.build(model.decoder).inputs if t.role != "x"]
    interpreter = tflm_runtime.Interpreter.from_bytes(data, arena_size=1 << 16)
    details = Interpreter(model_content=data).get_output_details()  # LiteRT reads the tensor names
    assert [(d["name"], np.dtype(d["dtype"]).name, tuple(d["shape"])) for d in details] == [
        (t.name, t.dtype, tuple(t.shape)) for t in decoder_in
    ]
    width = model.encoder.config.hidden_size
    rng = np.random.default_rng(11)
    reference = Seq2SeqRunner(model)
    for summary in [np.full(width, v) for v in (-128, 127, 0)] + list(rng.integers(-128, 128, (300, width))):
        interpreter.set_input(summary[None].astype(np.int8), 0)
        interpreter.invoke()
        expected = [a[0] for cell in reference.bridge(summary[None].astype(np.int64)) for a in cell]
        for k, e in enumerate(expected):
            assert np.array_equal(np.asarray(interpreter.get_output(k)).reshape(-1).astype(np.int64), e)


def test_the_tflm_backend_runs_the_bridge_model() -> None:
    model = random_seq2seq(**MODELS["gru-to-lstm"])
    backend = BackendSeq2Seq(model, "tflm")
    assert backend.bridge is not None

    def refuse(summary: object) -> None:
        raise AssertionError("the reference bridge ran")

    backend.reference.bridge = refuse  # type: ignore[method-assign]
    sources = random_sources(4, seed=6, longest=12)
    assert backend.greedy(sources) == Seq2SeqRunner(model).greedy(sources)


def test_export_graphs_writes_the_tflite_bridge(tmp_path: Path) -> None:
    model = random_seq2seq(**MODELS["gru-to-lstm"])
    written = export_graphs(model, tmp_path / "g", "tflite", "g2p")
    assert sorted(p.name for p in written) == ["g2p_bridge.tflite", "g2p_decoder.tflite", "g2p_encoder.tflite"]
    assert (tmp_path / "g" / "g2p_bridge.tflite").read_bytes() == build_bridge_tflite(model)
