"""Encode and decode on any single-model runtime backend (ONNX Runtime, LiteRT, TFLite Micro, C ...).

The encoder and the decoder are two ordinary :class:`~edgernn.ir.QuantizedRNN`, so every backend
and exporter of a single model carries them unchanged: the encoder's graph runs the whole source,
the decoder's *step* graph runs one token with its state fed in and read back. The seam between
them is the bridge, which is computed here by the integer reference (a fully connected layer, the
int16 TANH and a rescale per decoder layer: a few hundred integer operations per input); the
encoder's summary is read off its per-step outputs (forward half at the last step, backward half at
step 0), which is its final state. With exact backends the result equals the reference's greedy
decoding token for token (tests/unit/test_seq2seq_backends.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgernn.engine import ModelState
from edgernn.runtime.backends import Backend, create_backend
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.seq2seq.runner import Seq2SeqRunner, Tokens, check_source


class BackendSeq2Seq:
    """Greedy decoding with the encoder and decoder on the runtime backend ``name``."""

    def __init__(self, model: Seq2SeqRNN, name: str) -> None:
        self.model = model
        self.encoder: Backend = create_backend(name, model.encoder)
        self.decoder: Backend = create_backend(name, model.decoder)
        self.reference = Seq2SeqRunner(model, integer=True)

    def encode(self, src: Tokens) -> ModelState:
        """The decoder's initial state (unbatched) for one source."""
        tokens = check_source(self.model, src)
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
