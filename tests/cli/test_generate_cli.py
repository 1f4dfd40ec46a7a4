"""A vocabulary travels with the model: a token ``.npz`` with ``vocab`` -> ``train`` -> ``quantize`` -> the
``.ernn``, ``inspect``, every export (C ``<prefix>_vocab``, ONNX metadata_props, TFLite metadata,
manifest.json) and ``generate --prompt TEXT``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner, Result

from edgernn import ir
from edgernn.cli import cli
from edgernn.errors import InputDataError
from edgernn.export import onnx as onnx_export
from edgernn.export import tflite as tflite_export
from edgernn.generation import generate

# Awkward entries on purpose: C escapes (quote, backslash, '?', newline), UTF-8, and words.
VOCAB = ("a", "b", '"', "\\", "??=", "\n", "é", "zz")


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def token_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, len(VOCAB), size=(40, 12))
    y = np.roll(x, -1, axis=1).reshape(-1)  # per step: the next token
    work = tmp_path_factory.mktemp("tokens")
    np.savez(work / "tokens.npz", X=x, y=y, vocab=np.array(VOCAB), class_names=np.array(VOCAB))
    r = invoke(
        "train",
        "--data",
        work / "tokens.npz",
        "--epochs",
        2,
        "--hidden",
        8,
        "--no-progress",
        "-o",
        work / "c.safetensors",
    )
    assert r.exit_code == 0, r.output
    r = invoke("quantize", work / "c.safetensors", "--data", work / "tokens.npz", "-o", work / "m.ernn")
    assert r.exit_code == 0, r.output
    return work / "m.ernn"


def test_the_vocab_reaches_the_model_and_inspect(token_model: Path) -> None:
    assert ir.load(token_model).vocab == VOCAB
    assert json.loads(invoke("inspect", token_model, "--json").output)["vocab"] == list(VOCAB)


def test_every_export_carries_the_vocab(token_model: Path, tmp_path: Path) -> None:
    r = invoke("export", token_model, "--format", "all", "-o", tmp_path / "all")
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "all" / "manifest.json").read_text())
    assert manifest["vocab"] == list(VOCAB)
    for path in (tmp_path / "all" / "onnx").glob("*.onnx"):
        meta = onnx_export.read_metadata(onnx.load(path))
        assert json.loads(meta["vocab"]) == list(VOCAB), path
    for path in (tmp_path / "all" / "tflite").glob("*.tflite"):
        assert tflite_export.read_metadata(path.read_bytes())["vocab"] == list(VOCAB), path
    c = tmp_path / "all" / "c"
    assert json.loads((c / "edgernn_export.json").read_text())["vocab"] == list(VOCAB)
    # The C array holds the same bytes: print each entry from a program built with the export.
    (tmp_path / "vocab.c").write_text(
        '#include <stdio.h>\n#include "model_model.h"\n'
        'int main(void) { for (int i = 0; i < MODEL_VOCAB_SIZE; ++i) printf("%s|", model_vocab[i]); return 0; }\n'
    )
    exe = tmp_path / "vocab"
    sources = [str(p) for p in sorted((c / "src").glob("*.c"))]
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(c / "include")]
    subprocess.run(["gcc", *flags, *sources, str(tmp_path / "vocab.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout.decode("utf-8")
    assert out == "".join(v + "|" for v in VOCAB)


def test_generate_maps_text_with_the_vocab(token_model: Path) -> None:
    model = ir.load(token_model)
    r = invoke("generate", token_model, "--prompt", "zz a", "--steps", 30, "--seed", 5)  # words: split on spaces
    assert r.exit_code == 0, r.output
    assert r.output == generate(model, "zz a", 30, seed=5).text + "\n"
    with pytest.raises(InputDataError, match="'q'"):
        generate(model, "q", 3)


def test_a_vocab_for_features_or_too_short_is_refused(tmp_path: Path) -> None:
    from edgernn.data import load_npz

    np.savez(tmp_path / "f.npz", X=np.zeros((3, 4, 2), np.float32), y=np.zeros(3, np.int64), vocab=np.array(["a"]))
    with pytest.raises(InputDataError, match="vocab was given for float features"):
        load_npz(tmp_path / "f.npz")
    np.savez(tmp_path / "t.npz", X=np.array([[0, 5]]), y=np.array([0]), vocab=np.array(["a", "b"]))
    with pytest.raises(InputDataError, match="2 vocab entries but token ids go up to 5"):
        load_npz(tmp_path / "t.npz")


def test_generate_rolls_out_a_forecaster_from_a_prompt_file(tmp_path: Path) -> None:
    from edgernn.testing import random_inputs, random_model
    from edgernn.types import ModelConfig, Task

    cfg = ModelConfig(cell="lstm", input_size=2, hidden_size=8, output_size=2, task=Task.REGRESSION)
    model = random_model(cfg, seed=2)
    path = ir.save(model, tmp_path / "f.ernn")
    frames = random_inputs(cfg, 6, seed=1)
    np.savetxt(tmp_path / "prompt.csv", frames, delimiter=",")
    r = invoke("generate", path, "--prompt-file", tmp_path / "prompt.csv", "--steps", 40)
    assert r.exit_code == 0, r.output
    rows = np.array([[float(v) for v in line.split(",")] for line in r.output.splitlines()], dtype=np.float32)
    want = generate(model, np.loadtxt(tmp_path / "prompt.csv", delimiter=",", dtype=np.float32), 40).values
    assert np.array_equal(rows, want)
    r = invoke("generate", path, "--prompt", "ab")
    assert r.exit_code == 1 and "a feature model takes --prompt-file" in r.output
