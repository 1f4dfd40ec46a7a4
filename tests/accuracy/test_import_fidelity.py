"""The RNN-tutorial classifier (issue 12) imported by from_torch computes what its forward computes:
equal to PyTorch in float, and its int8 model as accurate on its task. Figures on more data:
benchmarks/import_fidelity.py (docs/import.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgernn import from_torch, predict, quantize
from edgernn.types import Activation, Readout
from tests.import_fixtures import (
    SENTIMENT_VOCAB,
    TutorialClassifier,
    one_torch_thread,
    pytorch_logits,
    sentiment_task,
    train_classifier,
)


@pytest.fixture(scope="module")
def trained() -> tuple[TutorialClassifier, list[np.ndarray], np.ndarray, list[np.ndarray]]:
    sequences, labels = sentiment_task(1000, seed=0)
    torch.manual_seed(0)  # the initial weights: the same run whatever ran before
    module = train_classifier(TutorialClassifier(SENTIMENT_VOCAB, 8, 12, 2), sequences, labels, epochs=10)
    test_sequences, test_labels = sentiment_task(400, seed=1)
    return module, test_sequences, test_labels, sequences


def _accuracy(logits: list[np.ndarray], labels: np.ndarray) -> float:
    return float(np.mean([int(np.argmax(y)) == int(t) for y, t in zip(logits, labels)]))


def test_tutorial_classifier_imports_exactly(trained) -> None:  # noqa: ANN001
    module, test_sequences, test_labels, _ = trained
    want = pytorch_logits(module, test_sequences)
    model = from_torch(module)
    assert model.config.readout is Readout.LAST_OUTPUT and model.config.bidirectional
    with torch.no_grad(), one_torch_thread():
        got = [model(torch.from_numpy(s)[None])[0][0].numpy() for s in test_sequences]
    assert max(float(np.abs(g - w).max()) for g, w in zip(got, want)) <= 1e-5
    assert _accuracy(want, test_labels) >= 0.9  # it learned the task: the comparison below means something


def test_tutorial_classifier_int8_keeps_its_accuracy(trained) -> None:  # noqa: ANN001
    module, test_sequences, test_labels, train_sequences = trained
    quantized = quantize(module, train_sequences[:300])
    assert quantized.config.readout is Readout.LAST_OUTPUT
    float_logits = predict(quantized, test_sequences, backend="float")
    want = pytorch_logits(module, test_sequences)
    assert max(float(np.abs(g - w).max()) for g, w in zip(float_logits, want)) <= 1e-5
    pytorch_accuracy = _accuracy(want, test_labels)
    int8_accuracy = _accuracy(predict(quantized, test_sequences, backend="reference"), test_labels)
    assert abs(int8_accuracy - pytorch_accuracy) <= 0.01, (pytorch_accuracy, int8_accuracy)


class TanhHeadClassifier(torch.nn.Module):
    """tanh between the recurrent stack and the head: ``fc(tanh(h_n[-1]))`` of a 2-layer LSTM."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(SENTIMENT_VOCAB, 8)
        self.lstm = torch.nn.LSTM(8, 12, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(12, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.embedding(x))
        return self.fc(torch.tanh(h[-1]))


def test_tanh_before_the_head_int8_keeps_its_accuracy() -> None:
    """tanh before the head in int8 (edgernn.ir.HeadTanh): the float model equals PyTorch, the int8
    reference is as accurate on the task, and the C runtime equals the reference bit for bit."""
    sequences, labels = sentiment_task(800, seed=2)
    torch.manual_seed(2)
    module = train_classifier(TanhHeadClassifier(), sequences, labels, epochs=8)
    test_sequences, test_labels = sentiment_task(400, seed=3)
    quantized = quantize(module, sequences[:300])
    assert quantized.config.head_activation is Activation.TANH and quantized.head_tanh is not None
    want = pytorch_logits(module, test_sequences)
    float_logits = predict(quantized, test_sequences, backend="float")
    assert max(float(np.abs(g - w).max()) for g, w in zip(float_logits, want)) <= 1e-5
    pytorch_accuracy = _accuracy(want, test_labels)
    assert pytorch_accuracy >= 0.9  # it learned the task: the comparison below means something
    int8 = predict(quantized, test_sequences, backend="reference")
    int8_accuracy = _accuracy(int8, test_labels)
    assert abs(int8_accuracy - pytorch_accuracy) <= 0.01, (pytorch_accuracy, int8_accuracy)
    c = predict(quantized, test_sequences[:50], backend="c")
    assert all(np.array_equal(a, b) for a, b in zip(c, int8[:50]))
