"""The RNN-tutorial sentiment classifier (issue 12) and a way to train it briefly: shared by
tests/accuracy/test_import_fidelity.py and benchmarks/import_fidelity.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn


class TutorialClassifier(nn.Module):
    """What RNN tutorials teach: the head reads ``output[:, -1, :]`` of a 2-layer bidirectional RNN.

    For a bidirectional RNN that is not ``h_n``: the backward half of ``output[:, -1]`` has seen
    only the last token. ``from_torch`` must import exactly this, not the head on ``h_n``.
    """

    def __init__(self, vocab: int = 30, embed: int = 8, hidden: int = 12, classes: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.rnn = nn.RNN(embed, hidden, num_layers=2, batch_first=True, dropout=0.3, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, hidden = self.rnn(self.embedding(x))
        return self.fc(output[:, -1, :])


#: Synthetic sentiment: ids 1-9 are positive words, 10-18 negative, 19-29 neutral (0 is padding).
SENTIMENT_VOCAB = 30


def sentiment_task(count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Token sequences of 6-20 words labelled 1 when positive words outnumber negative ones, else 0
    (ties left out)."""
    rng = np.random.default_rng(seed)
    sequences: list[np.ndarray] = []
    labels: list[int] = []
    while len(sequences) < count:
        tokens = rng.integers(1, SENTIMENT_VOCAB, size=int(rng.integers(6, 21)))
        positive, negative = int(np.sum(tokens <= 9)), int(np.sum((tokens >= 10) & (tokens <= 18)))
        if positive != negative:
            sequences.append(tokens.astype(np.int64))
            labels.append(int(positive > negative))
    return sequences, np.array(labels, dtype=np.int64)


def train_classifier(
    module: nn.Module, sequences: Sequence[np.ndarray], labels: np.ndarray, epochs: int, seed: int = 0
) -> nn.Module:
    """Adam on batches of equal-length sequences (no padding, so ``output[:, -1]`` is each
    sequence's last token, as edgernn runs one unpadded sequence). Returns the module in eval mode."""
    with one_torch_thread():
        return _train(module, sequences, labels, epochs, seed)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny matrices: more threads only contend (40x slower training on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(module: nn.Module, sequences: Sequence[np.ndarray], labels: np.ndarray, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    by_length: dict[int, list[int]] = {}
    for i, s in enumerate(sequences):
        by_length.setdefault(len(s), []).append(i)
    batches = [ids[k : k + 32] for ids in by_length.values() for k in range(0, len(ids), 32)]
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    module.train()
    for _ in range(epochs):
        for b in rng.permutation(len(batches)):
            ids = batches[b]
            x = torch.from_numpy(np.stack([sequences[i] for i in ids]))
            loss = nn.functional.cross_entropy(module(x), torch.from_numpy(labels[ids]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return module.eval()


def pytorch_logits(module: nn.Module, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The module's own forward, one unpadded sequence at a time."""
    with torch.no_grad(), one_torch_thread():
        return [module(torch.from_numpy(s)[None])[0].numpy() for s in sequences]
