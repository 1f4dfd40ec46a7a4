"""The ``edgernn seq2seq`` workflow as functions: train + quantize, text in and out."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn.errors import InputDataError
from edgernn.seq2seq.data import PairData, error_rates, split
from edgernn.seq2seq.model import Seq2SeqRNN, load, save
from edgernn.seq2seq.runner import Seq2SeqRunner


@dataclass(frozen=True)
class TrainReport:
    train_pairs: int
    validation_pairs: int
    epochs: int
    float_rates: tuple[float, float]
    int8_rates: tuple[float, float]

    def lines(self) -> list[str]:
        f, q = self.float_rates, self.int8_rates
        return [
            f"trained {self.epochs} epochs on {self.train_pairs} pairs; validation ({self.validation_pairs} pairs),"
            " greedy decoding:",
            f"  float: sequence error rate {100 * f[0]:.2f}%, token error rate {100 * f[1]:.2f}%",
            f"  int8:  sequence error rate {100 * q[0]:.2f}%, token error rate {100 * q[1]:.2f}%",
        ]


def evaluate(model: Seq2SeqRNN, data: PairData, integer: bool, batch: int = 512) -> tuple[float, float]:
    """``(sequence error rate, token error rate)`` of greedy decoding on ``data``."""
    runner = Seq2SeqRunner(model, integer)
    hyps: list[list[int]] = []
    for start in range(0, len(data), batch):
        hyps += runner.greedy(list(data.sources[start : start + batch]))
    return error_rates(hyps, [list(t) for t in data.targets])


def train_and_quantize(
    data: PairData,
    output: Path,
    config,  # noqa: ANN001 - Seq2SeqConfig (torch-side module, imported lazily)
    training,  # noqa: ANN001 - Seq2SeqTraining
    validation_fraction: float = 0.1,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Seq2SeqRNN, TrainReport]:
    """Train on a seeded split, calibrate on the training pairs, write the model, report validation rates."""
    from edgernn.seq2seq.quantize import quantize_seq2seq
    from edgernn.seq2seq.training import float_weights, train_seq2seq

    if len(data) < 2:
        raise InputDataError("seq2seq training needs at least 2 pairs (one for validation)")
    train, valid = split(data, (1 - validation_fraction, validation_fraction), training.seed)
    module, history = train_seq2seq(train, valid, config, training, log)
    model = quantize_seq2seq(float_weights(module, data), train.sources, train.targets)
    save(model, output)
    report = TrainReport(
        len(train), len(valid), len(history), evaluate(model, valid, False), evaluate(model, valid, True)
    )
    return model, report


def tokenize(model: Seq2SeqRNN, text: str) -> np.ndarray:
    """Source text to token ids: one character per token if every source name is one character
    (G2P's letters), else names separated by spaces."""
    index = {name: i for i, name in enumerate(model.source_vocab)}
    chars = all(len(name) == 1 for name in model.source_vocab)
    parts: Sequence[str] = list(text) if chars else text.split()
    unknown = [p for p in parts if p not in index]
    if unknown:
        raise InputDataError(
            f"{unknown[0]!r} is not in the model's source vocabulary", "use the names it was trained on"
        )
    if not parts:
        raise InputDataError("an input sequence is empty")
    return np.array([index[p] for p in parts], dtype=np.int64)


def detokenize(model: Seq2SeqRNN, tokens: Sequence[int]) -> str:
    return " ".join(model.target_vocab[t] for t in tokens)


def generate_from_input(path: Path, text: str, temperature: float, top_k: int, seed: int, as_json: bool) -> str:
    """``edgernn generate`` on an encoder-decoder: the input sequence ``text`` encoded, the output
    sequence decoded by integer sampling (temperature 0: greedy, the C decoder's tokens)."""
    model = load(path)
    tokens = Seq2SeqRunner(model).sample(tokenize(model, text), temperature, top_k, seed)
    if as_json:
        return json.dumps({"input": text, "tokens": tokens, "text": detokenize(model, tokens)})
    return detokenize(model, tokens)
