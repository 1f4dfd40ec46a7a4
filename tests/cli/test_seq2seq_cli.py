"""``edgernn seq2seq``: train, convert and export end to end on a tiny task, and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner, Result

from edgernn import ir
from edgernn.cli import cli
from edgernn.seq2seq import Seq2SeqRunner, load
from edgernn.seq2seq.data import SPECIAL_TARGETS, PairData
from edgernn.testing import random_model
from edgernn.types import ModelConfig


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained on reversing letters (upper case out)."""
    folder = tmp_path_factory.mktemp("s2s")
    rng = np.random.default_rng(0)
    sources = tuple(rng.integers(0, 4, size=rng.integers(1, 5)) for _ in range(80))
    data = PairData(sources, tuple(s[::-1] + 2 for s in sources), tuple("abcd"), (*SPECIAL_TARGETS, *"ABCD"))
    data.save_npz(folder / "pairs.npz")
    model = folder / "m.ernn"
    result = invoke(
        "seq2seq",
        "train",
        "--data",
        folder / "pairs.npz",
        "--encoder-hidden",
        8,
        "--decoder-hidden",
        12,
        "--epochs",
        2,
        "--max-output-len",
        8,
        "-o",
        model,
    )
    assert result.exit_code == 0, result.output
    assert "int8:  sequence error rate" in result.output and f"wrote {model}" in result.output
    return model


def test_convert_prints_the_reference_decoding(trained: Path) -> None:
    result = invoke("seq2seq", "convert", trained, "abc", "d")
    assert result.exit_code == 0, result.output
    model = load(trained)
    runner = Seq2SeqRunner(model)
    expected = runner.greedy([np.array([0, 1, 2]), np.array([3])])
    lines = result.output.strip().splitlines()
    assert lines == [
        f"{text}\t{' '.join(model.target_vocab[t] for t in out)}" for text, out in zip(("abc", "d"), expected)
    ]
    beam = invoke("seq2seq", "convert", trained, "abc", "--beam", 3, "--backend", "float")
    assert beam.exit_code == 0 and beam.output.startswith("abc\t")


def test_export_writes_the_c_folder(trained: Path, tmp_path: Path) -> None:
    result = invoke("seq2seq", "export", trained, "-o", tmp_path / "c", "--prefix", "g2p")
    assert result.exit_code == 0, result.output
    for rel in ("include/g2p_seq2seq.h", "src/g2p_seq2seq.c", "src/g2p_enc_model.c", "src/g2p_dec_model.c"):
        assert (tmp_path / "c" / rel).is_file()
    assert "flash:" in result.output


def test_export_graphs(trained: Path, tmp_path: Path) -> None:
    result = invoke("seq2seq", "export", trained, "--format", "onnx", "-o", tmp_path / "g", "--prefix", "g2p")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "g").iterdir())
    assert names == ["g2p_bridge.onnx", "g2p_decoder.onnx", "g2p_decoder.sequence.onnx", "g2p_encoder.onnx"]
    # a user with only onnxruntime: encoder -> bridge -> greedy decoder steps, from the files
    model = load(trained)
    session = {p: ort.InferenceSession(tmp_path / "g" / f"g2p_{p}.onnx") for p in ("encoder", "bridge", "decoder")}
    state_names = [i.name for i in session["decoder"].get_inputs() if i.name != "tokens"]
    sources = [np.array([0, 1, 2]), np.array([3]), np.array([2, 2, 0, 1])]
    got = []
    for src in sources:
        (y_last,) = session["encoder"].run(["y_last"], {"tokens": src.reshape(-1, 1)})
        state = dict(zip(state_names, session["bridge"].run(state_names, {"y_last": y_last})))
        token, out = model.bos, []
        for _ in range(model.max_output_len):
            y, *new = session["decoder"].run(["y", *(f"{n}_out" for n in state_names)], {"tokens": [token], **state})
            state, token = dict(zip(state_names, new)), int(np.argmax(y))
            if token == model.eos:
                break
            out.append(token)
        got.append(out)
    assert got == Seq2SeqRunner(model).greedy(sources)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("convert", "{model}", "abz"), "'z' is not in the model's source vocabulary"),
        (("convert", "{pairs}", "abc"), "it is not an edgernn model"),
        (("convert", "{single}", "abc"), "is not a seq2seq model"),
        (("train", "--data", "{model}", "-o", "{tmp}/x.ernn"), "has no 'src' array"),
        (("export", "{model}", "-o", "{tmp}/c", "--prefix", "int"), "C keyword"),
        (("export", "{model}", "-o", "{tmp}/t", "--format", "tflite"), "a bidirectional model cannot stream"),
    ],
)
def test_bad_input_is_one_line(trained: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    single = ir.save(random_model(ModelConfig(cell="gru", hidden_size=4, input_size=2)), tmp_path / "single.ernn")
    values = {"model": trained, "pairs": trained.parent / "pairs.npz", "tmp": tmp_path, "single": single}
    result = CliRunner().invoke(cli, ["seq2seq", *(a.format(**values) for a in args)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_generate_takes_the_input_sequence_of_an_encoder_decoder(trained: Path) -> None:
    """`edgernn generate` on a seq2seq model: temperature 0 is the greedy decoding (the C decoder's);
    sampling is the single models' integer sampling, reproducible per seed."""
    model = load(trained)
    runner = Seq2SeqRunner(model)
    greedy = invoke("generate", trained, "--prompt", "abc", "--temperature", 0)
    assert greedy.exit_code == 0, greedy.output
    assert greedy.output.strip() == " ".join(model.target_vocab[t] for t in runner.greedy([np.array([0, 1, 2])])[0])
    assert runner.sample(np.array([0, 1, 2]), 0.0) == runner.greedy([np.array([0, 1, 2])])[0]
    drawn = [invoke("generate", trained, "--prompt", "dcba", "--temperature", 2, "--seed", s).output for s in range(6)]
    assert drawn[0] == invoke("generate", trained, "--prompt", "dcba", "--temperature", 2, "--seed", 0).output
    assert len(set(drawn)) > 1  # a hot temperature on a 2-epoch model: the seeds draw different outputs
    refused = invoke("generate", trained, "--prompt-tokens", "1,2")
    assert refused.exit_code != 0 and "--prompt" in refused.output and "Traceback" not in refused.output
