"""Encode and decode on any single-model runtime backend (ONNX Runtime, LiteRT, TFLite Micro, C ...).

The encoder and the decoder are two ordinary :class:`~edgernn.ir.QuantizedRNN`, so every backend
and exporter of a single model carries them unchanged: the encoder's graph runs the whole source,
the decoder's *step* graph runs one token with its state fed in and read back. The seam between
them is the bridge (a fully connected layer, the int16 TANH and a rescale per decoder layer). On
the ``"onnx"`` backend it is a third graph (:mod:`edgernn.seq2seq.bridge_onnx`, integer-exact) run
by ONNX Runtime on the encoder sequence graph's ``y_last``, so the whole pipeline is
encoder.onnx -> bridge.onnx -> decoder.onnx; likewise ``"tflm"`` runs the TFLite bridge model
(:mod:`edgernn.seq2seq.bridge_tflite`) in TFLite Micro on the encoder step model's last output. On
the other backends (LiteRT, C ...) the integer reference computes it on the host from the encoder's
summary, read off its per-step outputs (forward half at the last
step, backward half at step 0), which is its final state. With exact backends the result equals
the reference's greedy decoding token for token (tests/unit/test_seq2seq_backends.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgernn.engine import ModelState
from edgernn.export import state_roles
from edgernn.runtime.backends import Backend, create_backend
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.seq2seq.runner import Seq2SeqRunner, Tokens, check_source


class OnnxBridge:
    """The bridge graph in ONNX Runtime, fed by the encoder's sequence graph."""

    def __init__(self, model: Seq2SeqRNN) -> None:
        import onnxruntime as ort  # the onnx backend's own dependency

        from edgernn.seq2seq.bridge_onnx import build_bridge, state_names

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            build_bridge(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.names = [state_names(model, k) for k in range(len(model.bridge))]

    def encode(self, encoder: Backend, tokens: np.ndarray) -> ModelState:
        """The decoder's initial state: the encoder graph's ``y_last`` through the bridge graph."""
        s = encoder.sequence_session  # type: ignore[attr-defined]  # an OnnxBackend
        y_last = s.run({s.find(s.inputs, "x").name: np.asarray(tokens, np.int64).reshape(-1, 1)})["y_last"]
        flat = [n for names in self.names for n in names]
        out = dict(zip(flat, self.session.run(flat, {"y_last": y_last})))
        return tuple(tuple(out[n][0].astype(np.int64) for n in names) for names in self.names)


class TflmBridge:
    """The bridge model in TFLite Micro, fed by the encoder step model's last top hidden state."""

    def __init__(self, model: Seq2SeqRNN) -> None:
        from tflite_micro.python.tflite_micro import runtime as tflm_runtime  # the tflm backend's own dependency

        from edgernn.seq2seq.bridge_tflite import build_bridge_tflite

        data = build_bridge_tflite(model)
        self.interpreter = tflm_runtime.Interpreter.from_bytes(data, arena_size=max(1 << 16, 16 * len(data)))
        self.widths = [len(state_roles(model.decoder.config.cell, True))] * len(model.bridge)

    def encode(self, encoder: Backend, tokens: np.ndarray) -> ModelState:
        y_last = np.asarray(encoder.run_whole(tokens))[-1]
        self.interpreter.set_input(y_last[None].astype(np.int8), 0)
        self.interpreter.invoke()
        outputs = iter(range(sum(self.widths)))
        read = self.interpreter.get_output
        return tuple(
            tuple(np.asarray(read(next(outputs))).reshape(-1).astype(np.int64) for _ in range(w)) for w in self.widths
        )


class BackendSeq2Seq:
    """Greedy decoding with the encoder and decoder on the runtime backend ``name``."""

    def __init__(self, model: Seq2SeqRNN, name: str) -> None:
        self.model = model
        self.encoder: Backend = create_backend(name, model.encoder)
        self.decoder: Backend = create_backend(name, model.decoder)
        self.reference = Seq2SeqRunner(model, integer=True)
        self.bridge: OnnxBridge | TflmBridge | None = None
        if name == "onnx":
            self.bridge = OnnxBridge(model)
        elif name == "tflm":
            self.bridge = TflmBridge(model)

    def encode(self, src: Tokens) -> ModelState:
        """The decoder's initial state (unbatched) for one source."""
        tokens = check_source(self.model, src)
        if self.bridge is not None:
            return self.bridge.encode(self.encoder, tokens)
        ys = np.asarray(self.encoder.run_whole(tokens))  # (T, H * D): the top layer's hidden outputs
        h = self.model.encoder.config.hidden_size
        summary = np.concatenate([ys[-1, :h], ys[0, h:]]) if self.model.encoder.config.bidirectional else ys[-1]
        state = self.reference.bridge(summary[None].astype(np.int64))
        return tuple(tuple(a[0] for a in cell) for cell in state)

    def greedy(self, sources: Sequence[Tokens]) -> list[list[int]]:
        m = self.model
        results = []
        for src in sources:
            state, token, out = self.encode(src), m.bos, []
            for _ in range(m.max_output_len):
                logits, state = self.decoder.step(state, np.array(token))
                token = int(np.argmax(logits))
                if token == m.eos:
                    break
                out.append(token)
            results.append(out)
        return results
