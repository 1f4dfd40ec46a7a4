"""The bridge of an encoder-decoder as its own int8 TFLite model (``<prefix>_bridge.tflite``).

Input ``y_last`` (int8 ``(1, H_enc)`` at the encoder's top hidden scale): the encoder step model's
top ``h{L-1}_out`` after the last token. Outputs: the decoder step model's state inputs, with their
names, dtypes and shapes (``h{k}`` and, for a GRU, ``h{k}_q15``; for an LSTM the fused op's
``l{k}/h_state`` and ``l{k}/c_state``). Per decoder layer the TFLite exporter's own int8 blocks:
the input widened to int16 (QUANTIZE, exact), the 16x8 FULLY_CONNECTED to Q3.12, the int16 TANH,
the QUANTIZE to int8 ``h0``; an LSTM's ``c0`` from a second FULLY_CONNECTED at the cell scale.
Every multiplier TFLite derives is checked against the IR's (as for the step models).
"""

from __future__ import annotations

import json

from edgernn import __version__
from edgernn.errors import UnsupportedModelError
from edgernn.export import tflite as tflite_export
from edgernn.export.tflite import _T, _Checker, _Graph, _Int8Layer, _per_tensor, _to_hidden
from edgernn.seq2seq.model import Seq2SeqRNN

INPUT = "y_last"


def build_bridge_tflite(model: Seq2SeqRNN) -> bytes:
    """The bridge model of ``model`` (a unidirectional encoder: TFLite models stream)."""
    if model.encoder.config.bidirectional:
        raise UnsupportedModelError(
            "a bidirectional model cannot stream as a TFLite step model", "export it as ONNX or C"
        )
    decoder_states = [t for t in tflite_export.build(model.decoder).inputs if t.role != "x"]
    enc_q = model.encoder.layers[-1].hidden_q
    g, check = _Graph(), _Checker()
    x8 = g.tensor(INPUT, (1, model.encoder.config.hidden_size), _T.INT8, _per_tensor(enc_q.scale, enc_q.zero_point))
    x16: int | None = None
    outputs: list[int] = []
    for k, (bridge, layer) in enumerate(zip(model.bridge, model.decoder.layers)):
        names = {t.role: t for t in decoder_states if t.layer == k}
        e = _Int8Layer(g, check, layer, k, x8)
        if x16 is None:
            x16 = e.widen(x8, enc_q, f"{INPUT}/int16", (1, model.encoder.config.hidden_size))
        pre = e.fc16(x16, enc_q, bridge.h_fc, f"bridge{k}/h_fc")
        q15 = g.tanh(pre, e.q15(names["h_q15"].name if "h_q15" in names else f"bridge{k}/tanh"))
        outputs.append(_to_hidden(e, q15, bridge.to_hidden, name=names["h"].name))
        if "h_q15" in names:
            outputs.append(q15)
        if "c" in names:
            assert bridge.c_fc is not None
            outputs.append(e.fc16(x16, enc_q, bridge.c_fc, names["c"].name))
    for index, info in zip(outputs, decoder_states):
        t = g.tensors[index]
        assert t.name == info.name and tuple(t.shape) == tuple(info.shape), (t.name, t.shape, info)
    if check.inexact:
        raise UnsupportedModelError(f"the TFLite bridge is not exact: {check.inexact[0]}")
    meta = {"producer": "edgernn", "edgernn_version": __version__, "model_sha256": model.sha256, "graph": "bridge"}
    description = f"edgernn {__version__} seq2seq bridge (int8), model {model.sha256[:16]}"
    return g.pack([x8], outputs, {"edgernn": json.dumps(meta).encode()}, description)
