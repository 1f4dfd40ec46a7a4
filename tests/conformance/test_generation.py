"""A trained character model generates the same text on every backend and on the C runtime.

A tiny char GRU is trained (seconds) on a few verses, quantized with its vocabulary, and asked for
hundreds of characters with several seeds, temperatures and top-k: the integer reference, the C,
ONNX and TFLite Micro backends (each carrying its own state), the C export's ``model_generate``
built with the host's gcc and on the Cortex-M4 under QEMU must produce identical token sequences.
LiteRT (backend ``tflite``) is not bit-exact (docs/compatibility.md): where its text departs, its
int8 logits must differ from the reference's at that step, so the sampler is never the cause.
A missing toolchain fails the test with its install hint; nothing skips.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.data import SequenceData
from edgernn.datasets import bits_per_symbol
from edgernn.generation import CGenerator, encode, generate
from edgernn.runtime import Stream, predict
from edgernn.types import Task

REPO = Path(__file__).resolve().parents[2]
TEXT = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
"""
WINDOW = 32
BACKENDS = ("reference", "c", "onnx", "tflm")  # exact; LiteRT ("tflite") is checked apart
SETTINGS = [(0.0, 0, 0), (1.0, 0, 1), (0.7, 5, 2), (1.5, 0, 3), (1.0, 2, 4), (0.3, 10, 5)]  # temperature, top-k, seed
STEPS = 300


def char_data() -> SequenceData:
    vocab = tuple(sorted(set(TEXT)))
    ids = np.array([vocab.index(c) for c in TEXT], dtype=np.int64)
    starts = range(0, len(ids) - WINDOW - 1, 8)
    return SequenceData(
        tuple(ids[s : s + WINDOW] for s in starts),
        tuple(ids[s + 1 : s + WINDOW + 1] for s in starts),
        Task.CLASSIFICATION,
        True,
        "sonnet",
        class_names=vocab,
        vocab=vocab,
    )


@pytest.fixture(scope="module")
def char_model(tmp_path_factory: pytest.TempPathFactory) -> ir.QuantizedRNN:
    """Trained through the CLI's own path: train_checkpoint records the vocabulary, quantize carries it."""
    from edgernn.models import load_checkpoint
    from edgernn.pipeline import config_for_data, train_checkpoint
    from edgernn.quant.from_torch import quantize

    data = char_data()
    work = tmp_path_factory.mktemp("char")
    config = config_for_data(data, cell="gru", hidden_size=32, embedding_dim=8)
    train_checkpoint(
        data, config, work / "char.safetensors", epochs=40, learning_rate=0.02, patience=40, progress=False
    )
    ckpt = load_checkpoint(work / "char.safetensors")
    assert ckpt.vocab == data.vocab
    model = ir.load(ir.save(quantize(ckpt, data), work / "char.ernn"))
    assert model.vocab == data.vocab
    return model


def test_the_model_learned_the_text(char_model: ir.QuantizedRNN) -> None:
    """Not a random model: int8 predicts the verse's next characters at under half the bits of a uniform guess."""
    data = char_data()
    bits = bits_per_symbol(predict(char_model, data.sequences), data.targets)
    assert bits < 0.5 * np.log2(len(data.vocab))


def test_every_backend_and_the_c_runtime_generate_the_same_text(char_model: ir.QuantizedRNN, tmp_path: Path) -> None:
    c_host = CGenerator(char_model, "host", tmp_path)
    for temperature, top_k, seed in SETTINGS:
        settings = dict(temperature=temperature, top_k=top_k, seed=seed)
        ref = generate(char_model, "And ", STEPS, **settings)
        assert ref.tokens is not None and len(ref.tokens) == STEPS
        for backend in BACKENDS[1:]:
            got = generate(char_model, "And ", STEPS, backend=backend, **settings)
            assert np.array_equal(got.tokens, ref.tokens), (backend, settings)
        host = c_host.generate("And ", STEPS, **settings)
        assert np.array_equal(host.tokens, ref.tokens), ("host C", settings)
        litert = generate(char_model, "And ", STEPS, backend="tflite", **settings).tokens
        assert litert is not None
        _check_departure(char_model, encode(char_model, "And "), ref.tokens, litert)
    samples = {generate(char_model, "And ", 60, temperature=1.0, seed=s).text for s in range(4)}
    assert len(samples) == 4  # the seed matters


def _check_departure(model: ir.QuantizedRNN, prompt: np.ndarray, ref: np.ndarray, other: np.ndarray) -> None:
    """Where ``other`` first departs from ``ref``, its backend's int8 logits differ from the reference's."""
    differs = np.flatnonzero(ref != other)
    if differs.size == 0:
        return
    fed = np.concatenate([prompt, ref[: differs[0]]])
    logits = [Stream(model, backend=b).run_int8(fed)[-1] for b in ("reference", "tflite")]
    assert not np.array_equal(*logits), f"same logits but a different token at step {differs[0]}"


def test_the_cortex_m4_generates_the_same_text(char_model: ir.QuantizedRNN, tmp_path: Path) -> None:
    m4 = CGenerator(char_model, "cortex-m4", tmp_path, max_steps=STEPS)
    for temperature, top_k, seed in SETTINGS[1:3]:
        settings = dict(temperature=temperature, top_k=top_k, seed=seed)
        ref = generate(char_model, "Thou ", STEPS, **settings)
        assert m4.generate("Thou ", STEPS, **settings).text == ref.text


def test_cli_generate_on_backends_and_targets(char_model: ir.QuantizedRNN, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edgernn.cli import cli

    path = ir.save(char_model, tmp_path / "char.ernn")

    def run(*args: str):  # noqa: ANN202 - click Result
        return CliRunner().invoke(cli, ["generate", str(path), *args], catch_exceptions=False)

    want = generate(char_model, "By ", 80, temperature=0.8, top_k=4, seed=9).text
    for extra in (["--backend", "onnx"], ["--target", "host"]):
        r = run("--prompt", "By ", "--steps", "80", "--temperature", "0.8", "--top-k", "4", "--seed", "9", *extra)
        assert r.exit_code == 0 and r.output == want + "\n"
    tokens = run("--prompt-tokens", "1,2,3", "--steps", "5", "--json")
    assert tokens.exit_code == 0 and len(json.loads(tokens.output)["tokens"]) == 5
    for args, message in (
        (["--prompt", "By \u00e9"], "not in the model's vocabulary"),
        ([], "exactly one of --prompt"),
        (["--prompt-tokens", "1,x"], "comma-separated"),
        (["--prompt-tokens", "999"], "outside [0,"),
    ):
        r = run(*args)
        assert r.exit_code == 1 and message in r.output, (args, r.output)


def test_cli_generate_a_subprocess_exits_cleanly(char_model: ir.QuantizedRNN, tmp_path: Path) -> None:
    """The real command line: text out, a bad prompt is one line on stderr with status 1 and no traceback."""
    path = ir.save(char_model, tmp_path / "char.ernn")
    cmd = [sys.executable, "-m", "edgernn", "generate", str(path), "--steps", "20", "--seed", "3"]
    ok = subprocess.run([*cmd, "--prompt", "And "], capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0 and ok.stdout == generate(char_model, "And ", 20, seed=3).text + "\n"
    bad = subprocess.run([*cmd, "--prompt", "And \u00e9"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
