"""Generation: the integer sampler (Python == the C runtime's ernn_sample_s8), the vocabulary carried
by the model, and edgernn.generate's streaming and feedback (edgernn.generation)."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgernn import ir
from edgernn.errors import InputDataError, ModelFileError
from edgernn.export.c import runtime_root
from edgernn.generation import (
    EXP2_Q15,
    TEMPERATURE_Q_MAX,
    Rng,
    decode,
    encode,
    generate,
    sample_s8,
    temperature_q,
)
from edgernn.testing import random_inputs, random_model
from edgernn.types import ModelConfig, OutputMode, Task

VOCAB = tuple("abcdefghij klmnopqr\n")


def char_model(seed: int = 3, cell: str = "gru") -> ir.QuantizedRNN:
    cfg = ModelConfig(
        cell=cell, vocab_size=20, embedding_dim=8, hidden_size=16, output_size=20, output_mode=OutputMode.SEQUENCE
    )
    return dataclasses.replace(random_model(cfg, seed=seed), vocab=VOCAB)


# ------------------------------------------------------------------------- the sampler vs C

_SAMPLER_DRIVER = r"""
#include <stdio.h>
#include "edgernn/ernn_sample.h"
/* stdin: lines "seed temperature_q top_k n draws l0 l1 ... l(n-1)"; stdout: the draws' tokens, then the state;
 * lines "T scale temperature": ernn_temperature_q */
int main(void)
{
    char kind;
    while (scanf(" %c", &kind) == 1) {
        if (kind == 'T') {
            double scale, t;
            if (scanf("%lf %lf", &scale, &t) != 2) return 2;
            printf("%lu\n", (unsigned long)ernn_temperature_q(scale, t));
            continue;
        }
        unsigned long seed, tq;
        long top_k, n, draws;
        static int8_t logits[70000];
        if (scanf("%lu %lu %ld %ld %ld", &seed, &tq, &top_k, &n, &draws) != 5) return 2;
        for (long i = 0; i < n; ++i) {
            int v;
            if (scanf("%d", &v) != 1) return 2;
            logits[i] = (int8_t)v;
        }
        ernn_rng rng;
        ernn_rng_seed(&rng, (uint32_t)seed);
        for (long d = 0; d < draws; ++d) {
            printf("%ld ", (long)ernn_sample_s8(logits, (int32_t)n, (uint32_t)tq, (int32_t)top_k, &rng));
        }
        printf("%lu\n", (unsigned long)rng.state);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def sampler(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ernn_sample_s8 and ernn_temperature_q built with the host's gcc (strict warnings)."""
    work = tmp_path_factory.mktemp("sampler")
    (work / "driver.c").write_text(_SAMPLER_DRIVER)
    root = runtime_root()
    exe = work / "sampler"
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Wconversion", "-Wdouble-promotion", "-Werror",
         "-I", str(root / "include"), str(root / "src" / "ernn_sample_s8.c"), str(work / "driver.c"), "-o", str(exe)],
        check=True,
    )  # fmt: skip
    return exe


def _python_draws(logits: np.ndarray, tq: int, top_k: int, seed: int, draws: int) -> tuple[list[int], int]:
    rng = Rng(seed)
    return [sample_s8(logits, tq, top_k, rng) for _ in range(draws)], rng.state


def test_sampler_equals_the_c_runtime(sampler: Path) -> None:
    rng = np.random.default_rng(0)
    cases = []
    for i in range(300):
        n = int(rng.choice([1, 2, 3, 7, 65, 300, 2000]))
        kind = i % 4
        if kind == 0:
            logits = rng.integers(-128, 128, n)
        elif kind == 1:  # few distinct values: ties at the top-k threshold
            logits = rng.integers(-3, 3, n) * 40
        elif kind == 2:  # one peak, the rest far below (weights underflow to 0)
            logits = np.full(n, -128)
            logits[rng.integers(n)] = 127
        else:
            logits = rng.normal(0, 30, n).clip(-128, 127).round()
        tq = int(rng.choice([0, 1, 77, 5000, 65536, 300000, TEMPERATURE_Q_MAX]))
        top_k = int(rng.choice([0, 1, 2, 5, 40, n, n + 3]))
        seed = int(rng.integers(0, 2**32))
        cases.append((logits.astype(np.int8), tq, top_k, seed, 25))
    cases.append((np.array([5, 5, 5, 5], dtype=np.int8), 70000, 2, 0, 200))  # equal logits, top-2: the first two
    text = "".join(
        f"S {seed} {tq} {top_k} {len(lg)} {draws} {' '.join(map(str, lg.tolist()))}\n"
        for lg, tq, top_k, seed, draws in cases
    )
    out = subprocess.run([str(sampler)], input=text, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(cases)
    for line, (lg, tq, top_k, seed, draws) in zip(out, cases):
        *tokens, state = map(int, line.split())
        want, want_state = _python_draws(lg, tq, top_k, seed, draws)
        assert tokens == want, (lg.tolist()[:10], tq, top_k, seed)
        assert state == want_state
    assert set(_python_draws(*cases[-1][:4], 200)[0]) == {0, 1}


def test_temperature_q_equals_the_c_helper(sampler: Path) -> None:
    pairs = [(s, t) for s in (0.0123, 0.0625, 0.2, 1.5, 3e-5) for t in (0.0, 1e-9, 0.05, 0.5, 0.8, 1.0, 2.0, 1e6)]
    scales = [float(np.float32(s)) for s, _ in pairs]
    text = "".join(f"T {s!r} {t!r}\n" for s, (_, t) in zip(scales, pairs))
    out = subprocess.run([str(sampler)], input=text, capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [temperature_q(s, t) for s, (_, t) in zip(scales, pairs)]


def test_exp2_table_is_the_c_table() -> None:
    source = (runtime_root() / "src" / "ernn_sample_s8.c").read_text()
    body = re.search(r"ERNN_EXP2_Q15\[256\] = \{(.*?)\};", source, re.S)
    assert body is not None
    assert [int(v) for v in re.findall(r"\d+", body.group(1))] == EXP2_Q15.tolist()


def test_greedy_and_top_k() -> None:
    logits = np.array([3, 9, -4, 9, 2], dtype=np.int8)
    rng = Rng(5)
    before = rng.state
    assert sample_s8(logits, 0, 0, rng) == 1  # temperature 0: the first maximum
    assert sample_s8(logits, 70000, 1, rng) == 1  # top-k 1
    assert rng.state == before  # greedy takes no draw
    picks = {sample_s8(logits, TEMPERATURE_Q_MAX // 1000, 3, rng) for _ in range(300)}
    assert picks == {0, 1, 3}  # the three best; nearly uniform weights reach each of them


def test_sampling_follows_the_softmax_of_the_real_logits() -> None:
    scale, temperature = 0.05, 0.7
    logits = np.array([40, 30, 20, 0, -20], dtype=np.int8)
    p = np.exp(scale * logits / temperature)
    p /= p.sum()
    rng = Rng(123)
    tq = temperature_q(scale, temperature)
    counts = np.bincount([sample_s8(logits, tq, 0, rng) for _ in range(20000)], minlength=5) / 20000
    np.testing.assert_allclose(counts, p, atol=0.01)


def test_bad_sampling_arguments() -> None:
    with pytest.raises(InputDataError, match="seed"):
        Rng(-1)
    with pytest.raises(InputDataError, match="temperature"):
        temperature_q(0.1, -1.0)
    with pytest.raises(InputDataError, match="int8"):
        sample_s8(np.zeros(3, dtype=np.int16), 1, 0, Rng(0))


# ---------------------------------------------------------------------------- the vocabulary


def test_vocab_round_trips_through_ernn(tmp_path: Path) -> None:
    m = char_model()
    loaded = ir.load(ir.save(m, tmp_path / "m.ernn"))
    assert loaded.vocab == VOCAB and loaded.sha256 == m.sha256
    assert m.sha256 != dataclasses.replace(m, vocab=None).sha256  # the vocabulary is part of the model


def test_a_model_without_vocab_has_no_vocab_field_in_its_file(tmp_path: Path) -> None:
    """Older files (no field) load, and models without a vocabulary hash as before the field existed."""
    m = dataclasses.replace(char_model(), vocab=None)
    with zipfile.ZipFile(ir.save(m, tmp_path / "m.ernn")) as zf:
        header = json.loads(zf.read(ir.HEADER_NAME))
    assert "vocab" not in header["model"]
    assert ir.load(tmp_path / "m.ernn").vocab is None


@pytest.mark.parametrize(
    ("vocab", "match"),
    [(VOCAB[:-1], "19 entries but the model 20"), (("a",) * 20, "repeated"), ("abcdefghij klmnopqr\n", "not one")],
)
def test_bad_vocab_is_refused(vocab: object, match: str) -> None:
    with pytest.raises(ModelFileError, match=match):
        dataclasses.replace(char_model(), vocab=vocab)


def test_feature_models_have_no_vocab() -> None:
    m = random_model(ModelConfig(cell="gru", input_size=3, hidden_size=8, output_size=3))
    with pytest.raises(ModelFileError, match="only token models"):
        dataclasses.replace(m, vocab=("a", "b", "c"))


def test_encode_and_decode() -> None:
    m = char_model()
    tokens = encode(m, "ab\nr")
    assert tokens.tolist() == [0, 1, 19, 18] and decode(m, tokens) == "ab\nr"
    with pytest.raises(InputDataError, match="'z'"):
        encode(m, "abz")
    words = dataclasses.replace(m, vocab=tuple(f"w{i}" for i in range(20)))
    assert encode(words, "w3  w10").tolist() == [3, 10] and decode(words, [3, 10]) == "w3 w10"
    with pytest.raises(InputDataError, match="no vocabulary"):
        encode(dataclasses.replace(m, vocab=None), "ab")


# ------------------------------------------------------------------------------ generation


def test_generation_streams_the_prompt_once_and_feeds_samples_back() -> None:
    """generate() equals a hand-written loop over Stream.step_int8 (the prompt streamed once)."""
    from edgernn.runtime import Stream

    m = char_model()
    g = generate(m, "abc", 300, temperature=0.9, top_k=6, seed=11)
    s, rng, tq = Stream(m), Rng(11), temperature_q(m.output_q.scale, 0.9)
    for t in encode(m, "abc"):
        logits = s.step_int8(t)
    want = []
    for _ in range(300):
        want.append(sample_s8(logits, tq, 6, rng))
        logits = s.step_int8(want[-1])
    assert g.tokens is not None and g.tokens.tolist() == want and g.text == decode(m, want)


def test_generation_is_the_same_on_the_python_c_backend() -> None:
    m = char_model(cell="lstm")
    for seed in (0, 1, 2):
        ref = generate(m, [1, 2, 3], 200, temperature=1.2, seed=seed)
        c = generate(m, [1, 2, 3], 200, temperature=1.2, seed=seed, backend="c")
        assert np.array_equal(ref.tokens, c.tokens)


def test_models_that_cannot_generate_are_refused() -> None:
    classifier = random_model(ModelConfig(cell="gru", vocab_size=20, embedding_dim=4, hidden_size=8, output_size=3))
    with pytest.raises(InputDataError, match="3 values but has 20 tokens"):
        generate(classifier, [1], 5)
    bi = random_model(
        ModelConfig(cell="gru", vocab_size=5, embedding_dim=4, hidden_size=8, output_size=5, bidirectional=True)
    )
    with pytest.raises(InputDataError, match="bidirectional"):
        generate(bi, [1], 5)
    features = random_model(ModelConfig(cell="gru", input_size=4, hidden_size=8, output_size=2))
    with pytest.raises(InputDataError, match="takes 4 features"):
        generate(features, np.zeros((3, 4), np.float32), 5)
    with pytest.raises(InputDataError, match="at least one token"):
        generate(char_model(), [], 5)


def test_feature_models_roll_out_their_own_outputs() -> None:
    from edgernn.runtime import Stream

    cfg = ModelConfig(cell="gru", input_size=3, hidden_size=12, output_size=3, task=Task.REGRESSION)
    m = random_model(cfg, seed=4)
    prompt = random_inputs(cfg, 10, seed=5)
    out = generate(m, prompt, 200).values
    s = Stream(m)
    y = s.run(prompt)[-1]
    want = []
    for _ in range(200):
        want.append(y)
        y = s.step(y)
    assert out is not None and np.array_equal(out, np.stack(want))
    assert np.array_equal(out, generate(m, prompt, 200, backend="c").values)


def test_generation_needs_no_torch() -> None:
    """The runtime side: edgernn.generate runs on a torch-free install (a Raspberry Pi)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import edgernn\n"
        "from tests.unit.test_generation import char_model\n"
        "print(edgernn.generate(char_model(), 'ab', 5, seed=1).text == "
        "__import__('edgernn.generation').generation.generate(char_model(), 'ab', 5, seed=1).text)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "True"
