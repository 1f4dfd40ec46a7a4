"""Encode, bridge, decode: the integer reference of a seq2seq model (and its float twin).

The integer path is the specification the generated C matches bit for bit; the float path runs
the float weights the IR keeps (numpy, no torch). Both drive the single-model sequence loop
(:mod:`edgernn.engine`) with the usual kernels, so a seq2seq model adds only the bridge and the
decoding loop.

Decoding: the decoder starts from the bridged state, is fed ``bos``, and at every step its
logits choose the next token, which is fed back. Greedy decoding takes the first maximum of the
int8 logits (``argmax``: ties go to the lowest token id, as the C does). Beam search scores
hypotheses by summed log-probabilities of the *dequantized* int8 logits (float64 log-softmax of
``scale * (q - zero_point)``); it runs in Python only. Decoding stops at ``eos`` (not part of the
result) or after ``max_len`` tokens.

Batches: ``src`` is a list of token sequences of any lengths; they run together, padded, with
per-sequence lengths, which the engine masks, so each result equals that sequence run alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgernn import engine
from edgernn.engine import ModelState
from edgernn.errors import InputDataError
from edgernn.fixedpoint import INT8_MAX, INT8_MIN, requantize, tanh_int16
from edgernn.floatmodel import FloatKernels
from edgernn.reference import ReferenceKernels, gate_fc
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.types import CellType

Tokens = Sequence[int] | npt.NDArray[np.integer]


def check_source(model: Seq2SeqRNN, src: Tokens, what: str = "source sequence") -> np.ndarray:
    """A source sequence as int64 token ids, checked against the source vocabulary."""
    arr = np.asarray(src)
    if arr.ndim != 1 or arr.size == 0:
        raise InputDataError(f"a {what} must be a non-empty 1-D list of token ids, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise InputDataError(f"a {what} has dtype {arr.dtype}", "pass integer token ids")
    vocab = len(model.source_vocab)
    if arr.min() < 0 or arr.max() >= vocab:
        raise InputDataError(f"a {what} holds a token id outside [0, {vocab})", "map it with the model's source_vocab")
    return arr.astype(np.int64)


@dataclass
class Seq2SeqRunner:
    """One seq2seq model on the integer reference (``integer=True``) or on its float weights."""

    model: Seq2SeqRNN
    integer: bool = True

    def __post_init__(self) -> None:
        kernels = ReferenceKernels if self.integer else FloatKernels
        self.encoder = kernels(self.model.encoder)
        self.decoder = kernels(self.model.decoder)

    # ---- encoding -----------------------------------------------------------------------------

    def encode(self, src: Sequence[Tokens]) -> ModelState:
        """Run the encoder over a batch of source sequences; returns the decoder's initial state."""
        seqs = [check_source(self.model, s) for s in src]
        if not seqs:
            raise InputDataError("no source sequences to encode")
        lengths = np.array([len(s) for s in seqs])
        padded = np.zeros((lengths.max(), len(seqs)), dtype=np.int64)  # time-major; pad with token 0
        for b, s in enumerate(seqs):
            padded[: len(s), b] = s
        _, final = engine.run_layers(self.encoder, padded, None, lengths)
        return self.bridge(engine.final_hidden(self.encoder, final))

    def bridge(self, summary: np.ndarray) -> ModelState:
        """The decoder's initial state from the encoder's summary ``(B, H_enc * D)``."""
        dec = self.model.decoder
        state = []
        for b, layer in zip(self.model.bridge, dec.layers):
            if self.integer:
                h_q15 = tanh_int16(gate_fc(b.h_fc, summary))
                h = requantize(
                    h_q15, b.to_hidden.multiplier, b.to_hidden.shift, layer.hidden_q.zero_point, INT8_MIN, INT8_MAX
                )
                if dec.config.cell is CellType.GRU:
                    state.append((h, h_q15))
                elif dec.config.cell is CellType.LSTM:
                    assert b.c_fc is not None
                    state.append((h, gate_fc(b.c_fc, summary)))
                else:
                    state.append((h,))
            else:
                x = summary.astype(np.float64)
                h = np.tanh(x @ b.weight.T + b.bias).astype(np.float32)
                if b.c_weight is not None:
                    state.append((h, (x @ b.c_weight.T + b.c_bias).astype(np.float32)))
                else:
                    state.append((h,))
        return tuple(state)

    # ---- decoding -----------------------------------------------------------------------------

    def decode_step(self, state: ModelState, tokens: np.ndarray) -> tuple[np.ndarray, ModelState]:
        """One decoder step for a batch of input tokens: ``(logits (B, V), state')``."""
        return engine.step(self.decoder, state, np.asarray(tokens, dtype=np.int64))

    def log_probs(self, logits: np.ndarray) -> np.ndarray:
        """Log-softmax over the vocabulary, in float64 (of the dequantized int8 logits when integer)."""
        z = self.model.decoder.output_q.dequantize(logits).astype(np.float64) if self.integer else logits
        z = np.asarray(z, dtype=np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    def teacher_forced(self, src: Sequence[Tokens], tgt_in: Sequence[Tokens]) -> list[np.ndarray]:
        """The decoder's logits fed the given target tokens (``bos`` first) after encoding ``src``."""
        state = self.encode(src)
        out: list[np.ndarray] = []
        steps = max(len(t) for t in tgt_in)
        padded = np.full((len(tgt_in), steps), self.model.eos, dtype=np.int64)
        for b, t in enumerate(tgt_in):
            padded[b, : len(t)] = t
        for t in range(steps):
            y, state = self.decode_step(state, padded[:, t])
            out.append(y)
        stacked = np.stack(out, axis=1)
        return [stacked[b, : len(t)] for b, t in enumerate(tgt_in)]

    def greedy(self, src: Sequence[Tokens], max_len: int | None = None) -> list[list[int]]:
        """Greedy decoding of a batch: per source, the emitted tokens (without ``eos``)."""
        m = self.model
        limit = m.max_output_len if max_len is None else max_len
        state = self.encode(src)
        batch = len(src)
        token = np.full(batch, m.bos, dtype=np.int64)
        done = np.zeros(batch, dtype=bool)
        result: list[list[int]] = [[] for _ in range(batch)]
        for _ in range(limit):
            logits, state = self.decode_step(state, token)
            token = np.argmax(logits, axis=-1)  # the first maximum: the lowest id wins a tie
            for b in np.flatnonzero(~done):
                if token[b] == m.eos:
                    done[b] = True
                else:
                    result[b].append(int(token[b]))
            if done.all():
                break
        return result

    def sample(self, src: Tokens, temperature: float, top_k: int = 0, seed: int = 0) -> list[int]:
        """Decoding by :mod:`edgernn.generation`'s integer sampling of each step's int8 logits (the same
        tokens as ``edgernn generate`` draws for single models with that seed; temperature 0 or top-k 1:
        greedy). The emitted tokens, without ``eos``."""
        from edgernn.generation import Rng, sample_s8, temperature_q

        if not self.integer:
            raise InputDataError("sampling is defined on the int8 logits", "use the integer decoder")
        m = self.model
        temp_q, rng = temperature_q(m.decoder.output_q.scale, temperature), Rng(seed)
        state = self.encode([src])
        token, result = m.bos, []
        for _ in range(m.max_output_len):
            logits, state = self.decode_step(state, np.array([token], dtype=np.int64))
            token = sample_s8(np.asarray(logits[0], dtype=np.int8), temp_q, top_k, rng)
            if token == m.eos:
                break
            result.append(token)
        return result

    def beam(self, src: Tokens, beam_size: int = 4, max_len: int | None = None) -> list[int]:
        """Beam search for one source: the finished hypothesis of the highest total log-probability
        (ties: the earlier one). Without ``eos`` within ``max_len`` the best open one is returned."""
        m = self.model
        if beam_size < 1:
            raise InputDataError(f"beam size {beam_size} must be at least 1")
        limit = m.max_output_len if max_len is None else max_len
        state = self.encode([src])  # batch of one; hypotheses become the batch below
        scores = np.zeros(1)
        hyps: list[list[int]] = [[]]
        finished: list[tuple[float, list[int]]] = []
        for _ in range(limit):
            tokens = np.array([h[-1] if h else m.bos for h in hyps], dtype=np.int64)
            logits, state = self.decode_step(state, tokens)
            total = scores[:, None] + self.log_probs(logits)  # (hyps, V)
            order = np.argsort(-total, axis=None, kind="stable")[: 2 * beam_size]
            keep: list[int] = []
            for flat in order:
                i, tok = divmod(int(flat), total.shape[1])
                if tok == m.eos:
                    finished.append((float(total[i, tok]), hyps[i]))
                else:
                    keep.append(int(flat))
                if len(keep) == beam_size:
                    break
            best_done = max((f[0] for f in finished), default=-np.inf)
            if not keep or best_done >= total.flat[keep[0]]:
                break  # scores only fall: no open hypothesis can beat the best finished one
            rows = [k // total.shape[1] for k in keep]
            hyps = [hyps[r] + [k % total.shape[1]] for r, k in zip(rows, keep)]
            scores = np.array([total.flat[k] for k in keep])
            state = tuple(tuple(s[rows] for s in cell) for cell in state)
        if finished:
            return max(finished, key=lambda f: f[0])[1]  # max keeps the first of equal scores
        return hyps[0]
