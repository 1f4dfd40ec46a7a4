"""The bridge of an encoder-decoder as its own integer-exact ONNX graph (``<prefix>_bridge.onnx``).

Input ``y_last`` (int8 ``(1, H_enc * D)``): the encoder's summary exactly as its sequence graph
outputs it under that name (for a unidirectional encoder also the top layer's ``h{L-1}_out`` after
the last step of its step graph). Outputs: the decoder step graph's state inputs, same names,
dtypes and shapes: ``h{k}`` int8, plus ``h{k}_q15`` int16 for a GRU decoder or ``c{k}`` int16 for
an LSTM decoder. Per decoder layer the graph is :meth:`Seq2SeqRunner.bridge`'s arithmetic in the
ONNX exporter's integer-exact blocks: the int8 FC (MatMulInteger, bias, the exact requantization)
to Q3.12, the int16 TANH as a Gather over the reference's own table, the requantization to int8;
for an LSTM decoder ``c0`` from the second FC.
"""

from __future__ import annotations

import json

import onnx
from onnx import TensorProto, helper

from edgernn import __version__
from edgernn.export import onnx as onnx_export
from edgernn.export.onnx import _Builder, _ExactCell, _rename, _value_info
from edgernn.fixedpoint import tanh_int16
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.types import CellType

INPUT = "y_last"


def state_names(model: Seq2SeqRNN, k: int) -> list[str]:
    """The decoder step graph's state input names of layer ``k`` (h first)."""
    cell = model.decoder.config.cell
    extra = {CellType.GRU: [f"h{k}_q15"], CellType.LSTM: [f"c{k}"]}.get(cell, [])
    return [f"h{k}", *extra]


def build_bridge(model: Seq2SeqRNN) -> onnx.ModelProto:
    """The bridge graph of ``model`` (edgernn metadata: producer, model hash, inputs, outputs)."""
    enc = model.encoder.config
    width = enc.hidden_size * enc.num_directions
    b = _Builder()
    b._names.add(INPUT)
    outputs: list[onnx.ValueInfoProto] = []
    described: list[dict[str, object]] = []
    for k, (bridge, layer) in enumerate(zip(model.bridge, model.decoder.layers)):
        e = _ExactCell(b, layer, f"bridge{k}", INPUT)
        (pre,) = e.fc(INPUT, [bridge.h_fc], f"bridge{k}/h_fc")  # Q3.12
        h_q15 = e.lut(tanh_int16, pre, f"bridge{k}/tanh")
        tensors = [(e.to_hidden(h_q15, bridge.to_hidden), TensorProto.INT8)]
        if model.decoder.config.cell is CellType.GRU:
            tensors.append((e.narrow(h_q15, f"bridge{k}/h_q15_out", TensorProto.INT16), TensorProto.INT16))
        elif model.decoder.config.cell is CellType.LSTM:
            assert bridge.c_fc is not None
            (c,) = e.fc(INPUT, [bridge.c_fc], f"bridge{k}/c_fc")
            tensors.append((e.narrow(c, f"bridge{k}/c_out", TensorProto.INT16), TensorProto.INT16))
        for name, (source, elem) in zip(state_names(model, k), tensors):
            _rename(b, source, name)
            outputs.append(_value_info(name, elem, [1, layer.hidden_size]))
            dtype = "int8" if elem == TensorProto.INT8 else "int16"
            described.append({"name": name, "layer": k, "dtype": dtype, "shape": [1, layer.hidden_size]})
    graph = helper.make_graph(
        b.nodes, "edgernn_bridge", [_value_info(INPUT, TensorProto.INT8, [1, width])], outputs, b.initializers
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", onnx_export.OPSET)],
        producer_name="edgernn",
        producer_version=__version__,
        doc_string=f"edgernn seq2seq bridge graph (int8, integer-exact) of model {model.sha256}",
        ir_version=onnx_export.IR_VERSION,
    )
    props = {
        "producer": "edgernn",
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "graph": "bridge",
        "precision": "int8",
        "inputs": json.dumps([{"name": INPUT, "dtype": "int8", "shape": [1, width]}]),
        "outputs": json.dumps(described),
    }
    helper.set_model_props(proto, props)
    return proto
