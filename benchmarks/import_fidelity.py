"""PyTorch vs edgernn for the RNN-tutorial classifier (issue 12): what from_torch imports, exactly.

    PYTHONPATH=. .venv/bin/python benchmarks/import_fidelity.py   # writes benchmarks/results/import_fidelity.md

The classifier of tests/import_fixtures.py (``nn.Embedding(padding_idx=0)`` -> 2-layer bidirectional
``nn.RNN(batch_first=True, dropout=0.3)`` -> ``nn.Linear`` on ``output[:, -1, :]``) is trained briefly on
two tasks: the synthetic sentiment task of the tests, and a real one from a built-in dataset
(Shakespeare, ``edgernn.datasets``): whether the line ends after a 32-character window (balanced).
For each it reports, on held-out sequences (each run unpadded, one at a time):

* the imported float model against the module's own ``forward``: largest logit difference and
  class agreement; the same for what from_torch computed before it traced ``forward`` (the head on
  ``h_n``, which for a bidirectional RNN is not ``output[:, -1]``);
* accuracy of PyTorch, of the int8 model (integer reference) and their class agreement, and
  whether the compiled C export equals the integer reference bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from edgernn import from_torch, predict, quantize
from edgernn.datasets import load_shakespeare
from edgernn.models import RNNModel
from edgernn.types import Readout
from tests.import_fixtures import (
    SENTIMENT_VOCAB,
    TutorialClassifier,
    one_torch_thread,
    pytorch_logits,
    sentiment_task,
    train_classifier,
)

RESULTS = Path(__file__).parent / "results"
WINDOW = 32


def shakespeare_line_ends(count: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, int]:
    """32-character windows of Shakespeare's plays, labelled 1 when the next character ends the line
    (half of them); token ids shifted by one so that 0 stays the padding id the tutorial reserves."""
    data = load_shakespeare()
    assert data.class_names is not None
    newline = data.class_names.index("\n")
    rng = np.random.default_rng(seed)
    sequences: list[np.ndarray] = []
    labels: list[int] = []
    for i in rng.permutation(len(data.sequences)):
        seq, nxt = data.sequences[i], data.targets[i]
        ends = np.flatnonzero(nxt[WINDOW - 1 :] == newline) + WINDOW - 1
        others = np.flatnonzero(nxt[WINDOW - 1 :] != newline) + WINDOW - 1
        if len(ends) == 0 or len(sequences) >= count:
            continue
        for label, end in ((1, rng.choice(ends)), (0, rng.choice(others))):
            sequences.append(seq[end - WINDOW + 1 : end + 1] + 1)
            labels.append(label)
    return sequences[:count], np.array(labels[:count], dtype=np.int64), len(data.class_names) + 1


def _agreement(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float(np.mean([int(np.argmax(x)) == int(np.argmax(y)) for x, y in zip(a, b)]))


def _accuracy(logits: Sequence[np.ndarray], labels: np.ndarray) -> float:
    return float(np.mean([int(np.argmax(y)) == int(t) for y, t in zip(logits, labels)]))


def _imported_logits(model: RNNModel, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad(), one_torch_thread():
        return [model(torch.from_numpy(s)[None])[0][0].numpy() for s in sequences]


def _on_h_n(model: RNNModel) -> RNNModel:
    """The same weights with the head on h_n: what from_torch computed before it read forward()."""
    old = RNNModel(dataclasses.replace(model.config, readout=Readout.FINAL_STATE))
    old.load_state_dict(model.state_dict())
    return old.eval()


def measure(
    name: str,
    make: Callable[[], TutorialClassifier],
    train: tuple[list[np.ndarray], np.ndarray],
    test: tuple[list[np.ndarray], np.ndarray],
    epochs: int,
) -> dict[str, object]:
    start = time.time()
    torch.manual_seed(0)  # the initial weights
    module = make()
    train_classifier(module, *train, epochs=epochs)
    sequences, labels = test
    want = pytorch_logits(module, sequences)
    imported = from_torch(module)
    got = _imported_logits(imported, sequences)
    before = _imported_logits(_on_h_n(imported), sequences)
    quantized = quantize(module, train[0][:500])
    int8 = predict(quantized, sequences, backend="reference")
    c_equal = all(np.array_equal(a, b) for a, b in zip(predict(quantized, sequences[:100], backend="c"), int8))
    return {
        "task": name,
        "train_sequences": len(train[0]),
        "test_sequences": len(sequences),
        "epochs": epochs,
        "readout": imported.config.readout.value,
        "import_max_abs_logit_diff": max(float(np.abs(g - w).max()) for g, w in zip(got, want)),
        "import_class_agreement": _agreement(got, want),
        "h_n_max_abs_logit_diff": max(float(np.abs(g - w).max()) for g, w in zip(before, want)),
        "h_n_class_agreement": _agreement(before, want),
        "pytorch_accuracy": _accuracy(want, labels),
        "int8_accuracy": _accuracy(int8, labels),
        "int8_class_agreement": _agreement(int8, want),
        "c_equals_reference_first_100": c_equal,
        "seconds": round(time.time() - start, 1),
    }


def _markdown(rows: list[dict[str, object]]) -> str:
    head = (
        "| task | readout found | import: max abs logit diff / class agreement | before (head on h_n): "
        "max abs logit diff / class agreement | PyTorch accuracy | int8 accuracy | int8 vs PyTorch class agreement "
        "| C == reference |\n|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['task']} ({r['train_sequences']} train / {r['test_sequences']} test) | {r['readout']} "
        f"| {r['import_max_abs_logit_diff']:.1e} / {100 * r['import_class_agreement']:.1f}% "  # type: ignore[operator]
        f"| {r['h_n_max_abs_logit_diff']:.2f} / {100 * r['h_n_class_agreement']:.1f}% "  # type: ignore[operator]
        f"| {100 * r['pytorch_accuracy']:.1f}% | {100 * r['int8_accuracy']:.1f}% "  # type: ignore[operator]
        f"| {100 * r['int8_class_agreement']:.1f}% | {'yes' if r['c_equals_reference_first_100'] else 'NO'} |"  # type: ignore[operator]
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=RESULTS / "import_fidelity.md")
    args = parser.parse_args()
    rows = []
    train, test = sentiment_task(1000, seed=0), sentiment_task(1000, seed=1)
    rows.append(measure("synthetic sentiment", lambda: TutorialClassifier(SENTIMENT_VOCAB, 8, 12, 2), train, test, 10))
    sequences, labels, vocab = shakespeare_line_ends(5000)
    train, test = (sequences[:4000], labels[:4000]), (sequences[4000:], labels[4000:])
    rows.append(
        measure("Shakespeare: does the line end here", lambda: TutorialClassifier(vocab, 16, 32, 2), train, test, 10)
    )
    text = "# from_torch fidelity: the RNN-tutorial classifier\n\n" + _markdown(rows)
    text += "\nProduced by `PYTHONPATH=. python benchmarks/import_fidelity.py`.\n"
    args.output.write_text(text)
    args.output.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
