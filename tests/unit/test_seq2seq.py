"""Encoder-decoder models: the IR and its file, the integer reference's decoding, the generated C."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.emulation import run_program
from edgernn.errors import InputDataError, ModelFileError
from edgernn.seq2seq import Seq2SeqRunner, export_c, from_bytes, is_seq2seq_file, to_bytes
from edgernn.seq2seq.data import PairData, error_rates, load_pairs, token_error_counts
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.seq2seq.quantize import FloatBridge, Seq2SeqFloat, quantize_seq2seq
from edgernn.testing import random_float_params, random_model
from edgernn.toolchain import build_selftest
from edgernn.types import CellType, ModelConfig, OutputMode

SRC_VOCAB, TGT_VOCAB = 9, 7


def random_seq2seq(
    cell: str = "gru",
    decoder_cell: str | None = None,
    bidirectional: bool = True,
    encoder_layers: int = 1,
    decoder_layers: int = 1,
    seed: int = 0,
    max_output_len: int = 12,
) -> Seq2SeqRNN:
    """Random float weights (PyTorch's initialization) quantized with random calibration pairs."""
    rng = np.random.default_rng(seed)
    enc = ModelConfig(
        cell=cell,
        hidden_size=12,
        num_layers=encoder_layers,
        bidirectional=bidirectional,
        vocab_size=SRC_VOCAB,
        embedding_dim=5,
    )
    dec = ModelConfig(
        cell=decoder_cell or cell,
        hidden_size=16,
        num_layers=decoder_layers,
        vocab_size=TGT_VOCAB,
        embedding_dim=6,
        output_size=TGT_VOCAB,
        output_mode=OutputMode.SEQUENCE,
    )
    width = enc.hidden_size * enc.num_directions
    lstm = dec.cell is CellType.LSTM

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-1, 1, size=shape).astype(np.float32) / np.sqrt(width)

    bridge = tuple(
        FloatBridge(
            uniform(dec.hidden_size, width) * 3,
            uniform(dec.hidden_size),
            uniform(dec.hidden_size, width) * 3 if lstm else None,
            uniform(dec.hidden_size) if lstm else None,
        )
        for _ in range(decoder_layers)
    )
    params = Seq2SeqFloat(
        encoder=random_float_params(enc, seed),
        decoder=random_float_params(dec, seed + 1),
        bridge=bridge,
        source_vocab=tuple("abcdefghi"),
        target_vocab=("<s>", "</s>", "A", "B", "C", "D", "E"),
        bos=0,
        eos=1,
        max_output_len=max_output_len,
    )
    sources = [rng.integers(0, SRC_VOCAB, size=rng.integers(1, 9)) for _ in range(12)]
    targets = [rng.integers(2, TGT_VOCAB, size=rng.integers(1, 8)) for _ in range(12)]
    return quantize_seq2seq(params, sources, targets)


def random_sources(count: int, seed: int, longest: int = 15) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, SRC_VOCAB, size=rng.integers(1, longest + 1)) for _ in range(count)]


MODELS = {
    "gru-bi": dict(cell="gru", bidirectional=True),
    "lstm-2x2": dict(cell="lstm", bidirectional=True, encoder_layers=2, decoder_layers=2, seed=1),
    "elman-uni-to-gru": dict(cell="rnn", decoder_cell="gru", bidirectional=False, seed=2),
    "gru-to-lstm": dict(cell="gru", decoder_cell="lstm", bidirectional=False, decoder_layers=2, seed=3),
}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request: pytest.FixtureRequest) -> Seq2SeqRNN:
    return random_seq2seq(**MODELS[request.param])


def test_file_round_trip_and_integrity(model: Seq2SeqRNN) -> None:
    data = to_bytes(model)
    again = from_bytes(data)
    assert again.sha256 == model.sha256 and to_bytes(again) == data
    # an edited value is refused by the recorded hash
    zf = zipfile.ZipFile(io.BytesIO(data))
    header = json.loads(zf.read("edgernn.json"))
    header["model"]["eos"] = 2
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in zf.infolist():
            out.writestr(info, json.dumps(header) if info.filename == "edgernn.json" else zf.read(info))
    with pytest.raises(ModelFileError, match="recorded hash"):
        from_bytes(buf.getvalue())


def test_single_model_loader_names_the_seq2seq_format(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "m.ernn"
    path.write_bytes(to_bytes(random_seq2seq()))
    with pytest.raises(ModelFileError, match="encoder-decoder"):
        ir.load(path)
    single = ir.save(random_model(ModelConfig(cell="gru", hidden_size=4, input_size=2)), tmp_path / "single.ernn")
    assert is_seq2seq_file(path) and not is_seq2seq_file(single) and not is_seq2seq_file(tmp_path / "missing")


def test_invalid_models_are_refused() -> None:
    m = random_seq2seq()
    with pytest.raises(ir.IRValidationError, match="bos and eos"):
        dataclasses.replace(m, eos=m.bos)
    with pytest.raises(ir.IRValidationError, match="bridge has"):
        dataclasses.replace(m, bridge=m.bridge * 2)
    with pytest.raises(ir.IRValidationError, match="to_hidden"):
        b = m.bridge[0]
        wrong = ir.Rescale(b.to_hidden.multiplier + 1, b.to_hidden.shift)
        dataclasses.replace(m, bridge=(dataclasses.replace(b, to_hidden=wrong),))


def test_batched_decoding_equals_one_at_a_time(model: Seq2SeqRNN) -> None:
    sources = random_sources(10, seed=5)
    runner = Seq2SeqRunner(model)
    batched = runner.greedy(sources)
    assert batched == [runner.greedy([s])[0] for s in sources]
    assert all(len(out) <= model.max_output_len for out in batched)
    assert all(model.eos not in out for out in batched)


def test_greedy_follows_the_first_maximum_of_the_logits(model: Seq2SeqRNN) -> None:
    runner = Seq2SeqRunner(model)
    src = random_sources(1, seed=9)[0]
    out = runner.greedy([src])[0]
    state, token = runner.encode([src]), model.bos
    for expected in [*out, model.eos][: model.max_output_len]:
        logits, state = runner.decode_step(state, np.array([token]))
        row = logits[0]
        assert row[expected] == row.max() and not np.any(row[:expected] == row.max())
        token = expected


def test_beam_search(model: Seq2SeqRNN) -> None:
    runner = Seq2SeqRunner(model)
    for src in random_sources(6, seed=11):
        greedy = runner.greedy([src])[0]
        assert runner.beam(src, 1) == greedy
        wide = runner.beam(src, 4)

        def score(tokens: list[int], src: np.ndarray = src) -> float:
            logp = runner.log_probs(runner.teacher_forced([src], [[model.bos, *tokens]])[0])
            ended = len(tokens) < model.max_output_len
            path = [*tokens, model.eos] if ended else tokens
            return float(sum(logp[t, tok] for t, tok in enumerate(path)))

        if len(wide) < model.max_output_len and len(greedy) < model.max_output_len:
            assert score(wide) >= score(greedy) - 1e-9


def test_integer_tracks_float(model: Seq2SeqRNN) -> None:
    """The int8 logits, teacher-forced, stay near the float model's clipped to the calibrated output
    range (quantization error only; a random model's 12 calibration pairs do not cover every logit)."""
    sources = random_sources(8, seed=3, longest=6)
    tgt_in = [np.concatenate([[model.bos], s[:4] % 5 + 2]) for s in sources]
    q = Seq2SeqRunner(model, integer=True).teacher_forced(sources, tgt_in)
    f = Seq2SeqRunner(model, integer=False).teacher_forced(sources, tgt_in)
    out_q = model.decoder.output_q
    lo, hi = out_q.scale * (-128 - out_q.zero_point), out_q.scale * (127 - out_q.zero_point)
    for a, b in zip(q, f):
        assert np.abs(out_q.dequantize(a) - np.clip(b, lo, hi)).max() < 0.05


def test_bad_source_is_a_one_line_error(model: Seq2SeqRNN) -> None:
    with pytest.raises(InputDataError, match="outside"):
        Seq2SeqRunner(model).greedy([[0, SRC_VOCAB]])
    with pytest.raises(InputDataError, match="non-empty"):
        Seq2SeqRunner(model).greedy([[]])


def test_generated_c_equals_the_reference_on_the_host(model: Seq2SeqRNN, tmp_path) -> None:  # noqa: ANN001
    """Every output token of greedy decoding; long streams too: sources of 300 tokens, and outputs of
    up to 300 tokens (random decoders often never choose eos)."""
    sources = [*random_sources(58, seed=21, longest=30), *random_sources(2, seed=22, longest=1)]
    sources[-1] = np.random.default_rng(1).integers(0, SRC_VOCAB, size=300)
    # the first end token with which some output runs to the limit (300 tokens for GRU decoders; the
    # LSTM decoders' two layers take longer in the Python reference, so they stop at 60)
    limit = 300 if model.decoder.config.cell is CellType.GRU else 60
    candidates = [dataclasses.replace(model, max_output_len=limit, eos=eos) for eos in range(1, TGT_VOCAB)]
    model = next(m for m in candidates if max(len(o) for o in Seq2SeqRunner(m).greedy(sources)) == limit)
    folder = tmp_path / "export"
    export_c.export(model, folder, prefix="s2s", sources=sources, max_input_len=300)
    build = build_selftest(folder, "host", tmp_path / "build")
    run = run_program(build, ["selftest/vectors.bin", "print"], cwd=folder)
    assert run.returncode == 0, run.output
    assert "selftest: 60 vectors compared, 0 mismatches" in run.stdout
    expected = Seq2SeqRunner(model).greedy(sources)
    assert max(len(out) for out in expected) == limit
    printed = [
        [int(t) for t in line.split(":")[1].split()] for line in run.stdout.splitlines() if line.startswith("out")
    ]
    assert printed == expected
    # the comparison can fail: a file expecting one more token than the reference emits is reported
    src, wrong = sources[0], [*expected[0][: model.max_output_len - 1], 2]
    data = export_c.VECTOR_MAGIC + model.sha256.encode() + struct.pack("<I", 1)
    for seq in (src, wrong):
        data += struct.pack("<I", len(seq)) + np.asarray(seq, dtype="<i4").tobytes()
    (folder / "selftest" / "bad.bin").write_bytes(data)
    bad = run_program(build, ["selftest/bad.bin"], cwd=folder)
    assert bad.returncode == 1 and "selftest: 1 vectors compared, 1 mismatches" in bad.stdout
    # the export's own Makefile builds the same program (its build/selftest beside the selftest/ folder)
    made = subprocess.run(["make", "-j2", "-C", str(folder), "check"], capture_output=True, text=True)
    assert made.returncode == 0 and "selftest: 60 vectors compared, 0 mismatches" in made.stdout, made.stderr


def test_generated_c_equals_the_reference_on_the_cortex_m4(tmp_path) -> None:  # noqa: ANN001
    """QEMU's Cortex-M4 (mps2-an386): a missing toolchain fails with its install hint, never skips."""
    model = random_seq2seq(**MODELS["lstm-2x2"])
    sources = random_sources(25, seed=31, longest=20)
    folder = tmp_path / "export"
    export_c.export(model, folder, prefix="s2s", target="cortex-m4", sources=sources)
    build = build_selftest(folder, "cortex-m4", tmp_path / "build")
    run = run_program(build, ["selftest/vectors.bin"], cwd=folder)
    assert run.returncode == 0, run.output
    assert "selftest: 25 vectors compared, 0 mismatches" in run.stdout
    # and the export's Makefile: the target's compiler and board files, run under QEMU
    made = subprocess.run(["make", "-j2", "-C", str(folder), "run"], capture_output=True, text=True)
    assert made.returncode == 0 and "selftest: 25 vectors compared, 0 mismatches" in made.stdout, made.stderr


def test_pair_npz_round_trip_and_errors(tmp_path) -> None:  # noqa: ANN001
    data = PairData(
        (np.array([1, 2]), np.array([0])),
        (np.array([3, 2]), np.array([4, 4, 5])),
        ("a", "b", "c"),
        ("<s>", "</s>", "X", "Y", "Z", "W"),
    )
    path = tmp_path / "pairs.npz"
    data.save_npz(path)
    again = load_pairs(path)
    assert [s.tolist() for s in again.sources] == [[1, 2], [0]]
    assert [t.tolist() for t in again.targets] == [[3, 2], [4, 4, 5]]
    assert again.target_vocab == data.target_vocab and again.source_vocab == data.source_vocab
    with np.load(path) as z:
        arrays = dict(z)
    arrays["src"][0, 0] = 7
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(InputDataError, match="outside"):
        load_pairs(bad)
    del arrays["tgt_vocab"]
    np.savez(bad, **arrays)
    with pytest.raises(InputDataError, match="no 'tgt_vocab'"):
        load_pairs(bad)


def test_error_rates() -> None:
    assert token_error_counts([1, 2, 3], [1, 3]) == 1
    assert token_error_counts([], [4, 5]) == 2
    wer, per = error_rates([[1, 2], [3]], [[1, 2], [4, 4]])
    assert wer == 0.5 and per == pytest.approx(2 / 4)


def test_requantizing_the_kept_float_weights(model: Seq2SeqRNN) -> None:
    from edgernn.seq2seq.quantize import float_params

    rng = np.random.default_rng(0)
    sources = [rng.integers(0, SRC_VOCAB, size=rng.integers(1, 9)) for _ in range(12)]
    targets = [rng.integers(2, TGT_VOCAB, size=rng.integers(1, 8)) for _ in range(12)]
    again = quantize_seq2seq(float_params(model), sources, targets)
    assert again.sha256 == quantize_seq2seq(float_params(again), sources, targets).sha256  # deterministic
    assert Seq2SeqRunner(again, integer=False).greedy(sources) == Seq2SeqRunner(model, integer=False).greedy(sources)


def test_generated_c_carries_the_vocabularies(tmp_path) -> None:  # noqa: ANN001
    model = random_seq2seq()
    source = ('a"b', "back\\slash", "??=", "é", "ŋ", "x y", "", "tab\there", "9")
    model = dataclasses.replace(model, source_vocab=source, target_vocab=("<s>", "</s>", "ʃ", "AA", "'", "%d", "?"))
    export_c.export(model, tmp_path / "export", prefix="s2s")
    build = build_selftest(tmp_path / "export", "host", tmp_path / "build")
    run = subprocess.run([str(build.executable), "names"], capture_output=True, check=True)
    expected = [f"source {i}: {n}" for i, n in enumerate(model.source_vocab)]
    expected += [f"target {i}: {n}" for i, n in enumerate(model.target_vocab)]
    assert run.stdout.decode("utf-8").split("\n")[:-1] == expected


def test_export_refuses_sources_longer_than_the_encoder_buffer(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(InputDataError, match="--max-input-len"):
        export_c.export(random_seq2seq(), tmp_path / "x", sources=[np.zeros(65, dtype=int)])
    assert not (tmp_path / "x").exists()


def test_export_carries_the_licence_and_spdx_identifiers(tmp_path) -> None:  # noqa: ANN001
    export_c.export(random_seq2seq(), tmp_path / "export", prefix="s2s")
    root = tmp_path / "export"
    assert (root / "LICENSE").read_bytes() == (Path(__file__).parents[2] / "LICENSE").read_bytes()
    unlabelled = [
        p.name
        for p in root.rglob("*")
        if p.suffix in (".c", ".h") or p.name == "Makefile"
        if "SPDX-License-Identifier: Apache-2.0" not in p.read_text(encoding="utf-8")
    ]
    assert not unlabelled
