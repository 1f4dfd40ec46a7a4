"""Generation (one-to-many): sample tokens from a model's int8 logits and feed them back.

Sampling is defined in integer arithmetic on the int8 logits, with a small seeded PRNG, so that
the C runtime (``ernn_sample_s8`` in ``firmware_export``, ``<prefix>_generate`` in a C export) and
every Python backend produce the same tokens for the same seed. The definition (``sample_s8``):

* **PRNG**: xorshift32 (Marsaglia's 13, 17, 5). The state is seeded with MurmurHash3's 32-bit
  finalizer of ``seed + 0x9E3779B9`` (mod 2**32), and 0x9E3779B9 if that is 0 (xorshift's state
  must not be 0). Each draw advances the state and returns it.
* **Temperature** is an integer ``temperature_q = floor(output_scale * 65536 / (T * ln 2) + 0.5)``
  (float64), clamped to [1, 2**23]: the inverse temperature in Q16 base-2 units per int8 logit
  step. ``T == 0`` gives 0, which means greedy.
* **Greedy** (``temperature_q == 0`` or ``top_k == 1``): the lowest index of the largest logit; no
  draw is taken.
* **Top-k**: the candidates are the first ``k`` tokens ordered by logit (descending), then index
  (ascending); ``top_k <= 0`` or ``>= n`` keeps all ``n``.
* **Weights**: for a candidate ``i``, ``x = (max(logits) - logits[i]) * temperature_q`` (< 2**31),
  ``e = x >> 16``, ``f = (x >> 8) & 255`` and ``w = EXP2_Q15[f] >> e`` (0 when ``e > 15``), where
  ``EXP2_Q15[f] = round(32768 * 2**(-f / 256))``: ``w ~ 32768 * 2**(-x / 65536)``, i.e. softmax
  weights of the real logits divided by ``T``. The largest logit weighs 32768, so the total is > 0.
* **Draw**: ``r`` = one PRNG draw, ``t = (r * total) >> 32``; the token is the first candidate in
  index order whose running sum of weights exceeds ``t``.

A generation streams the prompt through the model's state (one step per token, no re-streaming),
samples from the last logits, and feeds each sampled token back (the last one is not fed). Feature
models whose output width equals their input width are rolled out instead: each step's
dequantized output is the next step's input.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgernn.errors import EdgeRNNError, InputDataError
from edgernn.ir import QuantizedRNN

__all__ = [
    "EXP2_Q15",
    "CGenerator",
    "TEMPERATURE_Q_MAX",
    "Generation",
    "Rng",
    "decode",
    "encode",
    "generate",
    "sample_s8",
    "temperature_q",
]

MASK32 = 0xFFFFFFFF
GOLDEN32 = 0x9E3779B9
TEMPERATURE_Q_MAX = 1 << 23  # 255 * 2**23 < 2**31: the weight exponent fits int32
#: ``round(32768 * 2**(-f/256))``, f = 0..255: the fractional part of the base-2 softmax weight.
EXP2_Q15 = np.array([round(32768 * 2.0 ** (-f / 256)) for f in range(256)], dtype=np.int64)
EXP2_Q15.setflags(write=False)
_LN2 = 0.6931471805599453  # the same literal as ernn_sample.h


def _fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finalizer (a bijection: only 0 maps to 0)."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    return h ^ (h >> 16)


class Rng:
    """xorshift32, seeded as ``ernn_rng_seed`` seeds it (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MASK32:
            raise InputDataError(f"seed {seed!r} is not an integer in [0, 2**32)", "pass a seed like 0, 1, 42")
        self.state = _fmix32((int(seed) + GOLDEN32) & MASK32) or GOLDEN32

    def next(self) -> int:
        x = self.state
        x ^= (x << 13) & MASK32
        x ^= x >> 17
        x ^= (x << 5) & MASK32
        self.state = x
        return x


def temperature_q(output_scale: float, temperature: float) -> int:
    """The integer temperature of ``sample_s8`` for a real ``temperature`` (0: greedy)."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise InputDataError(f"temperature {temperature!r} must be a finite number >= 0", "use e.g. 0.8; 0 is greedy")
    if temperature == 0:
        return 0
    q = math.floor(float(output_scale) * 65536.0 / (float(temperature) * _LN2) + 0.5)
    return min(max(q, 1), TEMPERATURE_Q_MAX)


def sample_s8(logits: npt.ArrayLike, temp_q: int, top_k: int, rng: Rng) -> int:
    """One token from int8 ``logits`` (the definition in the module docstring)."""
    q = np.asarray(logits)
    if q.dtype != np.int8 or q.ndim != 1 or q.size == 0:
        raise InputDataError(f"sampling needs a non-empty 1-D int8 logit vector, got {q.dtype} {q.shape}")
    if not 0 <= temp_q <= TEMPERATURE_Q_MAX:
        raise InputDataError(f"temperature_q {temp_q} is outside [0, {TEMPERATURE_Q_MAX}]")
    if top_k < 0:
        raise InputDataError(f"top_k {top_k} must be >= 0 (0: no limit)")
    q = q.astype(np.int64)
    n = q.size
    if temp_q == 0 or top_k == 1:
        return int(np.argmax(q))  # the first (lowest) index of the maximum
    x = (q.max() - q) * temp_q
    e = x >> 16
    w = np.where(e <= 15, EXP2_Q15[(x >> 8) & 255] >> np.minimum(e, 15), 0)
    if 0 < top_k < n:
        order = np.lexsort((np.arange(n), -q))  # by logit descending, then index ascending
        kept = np.zeros(n, dtype=bool)
        kept[order[:top_k]] = True
        w[~kept] = 0
    total = int(w.sum())
    t = (rng.next() * total) >> 32
    return int(np.searchsorted(np.cumsum(w), t, side="right"))


# ---------------------------------------------------------------------------------- vocabulary


def _char_vocab(vocab: Sequence[str]) -> bool:
    return all(len(v) == 1 for v in vocab)


def encode(model: QuantizedRNN, text: str) -> np.ndarray:
    """Token ids of ``text`` in the model's vocabulary: one per character when every entry is one
    character, else one per whitespace-separated word."""
    vocab = model.vocab
    if vocab is None:
        raise InputDataError(
            "the model has no vocabulary, so a text prompt cannot be mapped to token ids",
            "pass token ids (--prompt-tokens 1,2,3), or train on data with a vocab",
        )
    index = {v: i for i, v in enumerate(vocab)}
    pieces = list(text) if _char_vocab(vocab) else text.split()
    unknown = [p for p in pieces if p not in index]
    if unknown:
        raise InputDataError(f"the prompt has {unknown[0]!r}, which is not in the model's vocabulary")
    return np.array([index[p] for p in pieces], dtype=np.int64)


def decode(model: QuantizedRNN, tokens: Sequence[int] | np.ndarray) -> str | None:
    """The text of ``tokens`` (characters joined, words joined by spaces); None without a vocabulary."""
    vocab = model.vocab
    if vocab is None:
        return None
    return ("" if _char_vocab(vocab) else " ").join(vocab[int(t)] for t in tokens)


# ---------------------------------------------------------------------------------- generation


@dataclass(frozen=True, eq=False)
class Generation:
    """What :func:`generate` produced: sampled ``tokens`` (with their ``text`` when the model has a
    vocabulary), or for a feature model the rolled-out ``values`` ``(steps, F)``."""

    tokens: np.ndarray | None
    text: str | None
    values: np.ndarray | None


def check_generative(model: QuantizedRNN) -> None:
    """Refuse models that cannot generate, naming why."""
    cfg = model.config
    if cfg.bidirectional:
        raise InputDataError("a bidirectional model cannot generate", "generation streams one step at a time")
    width = cfg.output_width
    if cfg.uses_tokens and width != cfg.vocab_size:
        raise InputDataError(
            f"the model outputs {width} values but has {cfg.vocab_size} tokens, so its output cannot be fed back",
            "train a next-token model (one logit per token)",
        )
    if not cfg.uses_tokens and width != cfg.input_size:
        raise InputDataError(
            f"the model outputs {width} values but takes {cfg.input_size} features per step, so its output"
            " cannot be fed back",
            "generation rolls out forecasting models whose output is their next input",
        )


def prompt_tokens(model: QuantizedRNN, prompt: str | Sequence[int] | np.ndarray) -> np.ndarray:
    """A prompt as token ids: text through the vocabulary, or ids checked against the vocabulary size."""
    tokens = encode(model, prompt) if isinstance(prompt, str) else np.asarray(prompt)
    if tokens.ndim != 1 or tokens.size == 0 or tokens.dtype.kind not in "iu":
        raise InputDataError("the prompt must be at least one token id", "pass e.g. --prompt-tokens 1,2,3")
    if tokens.min() < 0 or tokens.max() >= model.config.vocab_size:
        raise InputDataError(f"a prompt token is outside [0, {model.config.vocab_size})")
    return tokens.astype(np.int64)


def generate(
    model: QuantizedRNN | str | os.PathLike[str],
    prompt: str | Sequence[int] | npt.ArrayLike,
    steps: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    backend: str = "reference",
) -> Generation:
    """Generate ``steps`` tokens (or feature frames) after ``prompt`` on ``backend``.

    Token models: ``prompt`` is text (mapped with the model's vocabulary) or token ids; tokens are
    sampled by :func:`sample_s8` from the int8 logits (the ``float`` backend's logits are quantized
    with the model's output quantization first). Feature models: ``prompt`` is ``(T, F)`` raw
    features; each generated frame is the previous step's output.
    """
    from edgernn.runtime import Stream

    stream = Stream(model, backend=backend)
    m = stream.model
    check_generative(m)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise InputDataError(f"steps {steps!r} must be an integer >= 0")
    if m.config.uses_tokens:
        tokens = prompt_tokens(m, prompt)  # type: ignore[arg-type]
        out = _generate_tokens(stream, tokens, int(steps), temperature_q(m.output_q.scale, temperature), top_k, seed)
        return Generation(out, decode(m, out), None)
    return Generation(None, None, _roll_out(stream, np.asarray(prompt), int(steps)))


def _generate_tokens(stream, tokens: np.ndarray, steps: int, temp_q: int, top_k: int, seed: int) -> np.ndarray:  # noqa: ANN001
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise InputDataError(f"top_k {top_k!r} must be an integer >= 0 (0: no limit)")
    rng = Rng(seed)
    output_q = stream.model.output_q
    if stream.backend.integer:
        logits = stream.run_int8(tokens)[-1]

        def step(token: int) -> np.ndarray:
            return stream.step_int8(np.int64(token))
    else:  # the float model: its logits quantized as the int8 head would output them
        logits = output_q.quantize(stream.run(tokens)[-1])

        def step(token: int) -> np.ndarray:
            return output_q.quantize(stream.step(np.int64(token)))

    out = np.empty(steps, dtype=np.int64)
    for s in range(steps):
        out[s] = sample_s8(logits, temp_q, int(top_k), rng)
        if s + 1 < steps:
            logits = step(int(out[s]))
    return out


def _roll_out(stream, prompt: np.ndarray, steps: int) -> np.ndarray:  # noqa: ANN001
    if prompt.ndim != 2 or prompt.shape[0] == 0:
        raise InputDataError(
            f"a feature model's prompt must be (T, {stream.model.config.input_size}) frames, got shape {prompt.shape}"
        )
    y = stream.run(prompt)[-1]
    out = np.empty((steps, y.shape[0]), dtype=np.float32)
    for s in range(steps):
        out[s] = y
        if s + 1 < steps:
            y = stream.step(y)
    return out


# ----------------------------------------------------------------------------- on a C target

_DRIVER = """\
/* SPDX-License-Identifier: Apache-2.0 */
/* Generated by edgernn.generation (not part of an export): {prefix}_generate from the command line.
 * usage: generate STEPS TEMPERATURE_Q TOP_K SEED TOKEN,TOKEN,... ; prints "generate: N tokens" and the ids. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "{prefix}_model.h"
#ifdef EDGERNN_BOARD
#include "edgernn_board.h"
#endif

#define MAX_PROMPT {max_prompt}
#define MAX_STEPS {max_steps}

static {prefix}_state_t state;
static int32_t prompt[MAX_PROMPT];
static int32_t tokens[MAX_STEPS];

int main(int argc, char **argv)
{{
    if (argc != 6) {{
        printf("generate error: usage: generate STEPS TEMPERATURE_Q TOP_K SEED TOKENS\\n");
        return 2;
    }}
    const long steps = strtol(argv[1], NULL, 10);
    const uint32_t temperature_q = (uint32_t)strtoul(argv[2], NULL, 10);
    const int32_t top_k = (int32_t)strtol(argv[3], NULL, 10);
    const uint32_t seed = (uint32_t)strtoul(argv[4], NULL, 10);
    int32_t n = 0;
    char *p = argv[5];
    while (*p != '\\0' && n < MAX_PROMPT) {{
        prompt[n++] = (int32_t)strtol(p, &p, 10);
        if (*p == ',') {{
            ++p;
        }}
    }}
    if (steps < 0 || steps > MAX_STEPS || *p != '\\0') {{
        printf("generate error: at most %d steps and %d prompt tokens\\n", MAX_STEPS, MAX_PROMPT);
        return 2;
    }}
    ernn_rng rng;
    ernn_rng_seed(&rng, seed);
    if ({prefix}_init(&state) != ERNN_OK ||
        {prefix}_generate(&state, prompt, n, (int32_t)steps, temperature_q, top_k, &rng, tokens) != ERNN_OK) {{
        printf("generate error: {prefix}_generate failed\\n");
        return 1;
    }}
    printf("generate: %ld tokens\\n", steps);
    for (long i = 0; i < steps; ++i) {{
        printf("%ld%c", (long)tokens[i], (i % 32 == 31 || i + 1 == steps) ? '\\n' : ' ');
    }}
    return 0;
}}
"""


class CGenerator:
    """The C export's ``<prefix>_generate`` built for ``target`` (``host``: gcc; ``cortex-m4`` etc.:
    run under QEMU) with a command-line driver; ``work_dir`` receives the export and the build.
    :meth:`generate` computes the same generation as :func:`generate`."""

    def __init__(
        self, model: QuantizedRNN, target: str, work_dir: Path, *, max_prompt: int = 1024, max_steps: int = 4096
    ) -> None:
        from edgernn.boards import get_target
        from edgernn.export import ExportOptions, export_model
        from edgernn.toolchain import build_program, export_boards_dir, export_sources

        check_generative(model)
        if not model.config.uses_tokens:
            raise InputDataError("the C runtime generates tokens only", "roll out feature models with a Python backend")
        self.model, self.target = model, target
        self.max_prompt, self.max_steps = max_prompt, max_steps
        work_dir = Path(work_dir)
        export_dir = work_dir / "export"
        export_model(model, "c", export_dir, ExportOptions(prefix="model", target=target))
        driver = work_dir / "generate.c"
        driver.write_text(_DRIVER.format(prefix="model", max_prompt=max_prompt, max_steps=max_steps))
        sources, include_dirs = export_sources(export_dir)
        t = get_target(target)
        self.build = build_program(
            t,
            [*sources, driver],
            work_dir / "build" / ("generate.elf" if t.bare_metal else "generate"),
            include_dirs=include_dirs,
            defines=["EDGERNN_BOARD"] if t.bare_metal else [],
            boards_dir=export_boards_dir(export_dir, t),
        )

    def generate(
        self,
        prompt: str | Sequence[int] | np.ndarray,
        steps: int,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        seed: int = 0,
    ) -> Generation:
        from edgernn.emulation import run_program

        tokens = prompt_tokens(self.model, prompt)
        if len(tokens) > self.max_prompt or not 0 <= steps <= self.max_steps or top_k < 0:
            raise InputDataError(
                f"the C driver takes at most {self.max_prompt} prompt tokens, 0..{self.max_steps} steps and top_k >= 0"
            )
        temp_q = temperature_q(self.model.output_q.scale, temperature)
        Rng(seed)  # checks the seed
        prompt_arg = ",".join(str(int(v)) for v in tokens)
        result = run_program(self.build, [str(steps), str(temp_q), str(top_k), str(seed), prompt_arg])
        lines = result.stdout.splitlines()
        header = f"generate: {steps} tokens"
        if result.returncode != 0 or header not in lines:
            raise EdgeRNNError(f"the C generation on {self.target} failed: {result.output.strip()[-300:]}")
        values = [int(v) for line in lines[lines.index(header) + 1 :] for v in line.split()]
        if len(values) != steps:
            raise EdgeRNNError(f"the C generation on {self.target} printed {len(values)} of {steps} tokens")
        out = np.array(values, dtype=np.int64)
        return Generation(out, decode(self.model, out), None)


def generate_on_target(
    model: QuantizedRNN,
    prompt: str | Sequence[int] | np.ndarray,
    steps: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    target: str = "host",
    work_dir: Path,
) -> Generation:
    """:func:`generate` computed by the C export's ``<prefix>_generate`` on ``target`` (one build)."""
    tokens = prompt_tokens(model, prompt)
    generator = CGenerator(model, target, work_dir, max_prompt=len(tokens), max_steps=max(int(steps), 1))
    return generator.generate(tokens, steps, temperature=temperature, top_k=top_k, seed=seed)


# ---------------------------------------------------------------------------------- command line


def command_prompt(model: QuantizedRNN, text: str | None, tokens: str | None, frames: Path | None) -> str | np.ndarray:
    """The one prompt of ``edgernn generate``: ``--prompt`` text, ``--prompt-tokens 1,2,3`` or
    ``--prompt-file`` frames (feature models)."""
    given = [
        name
        for name, value in (("--prompt", text), ("--prompt-tokens", tokens), ("--prompt-file", frames))
        if value is not None
    ]
    if len(given) != 1:
        raise InputDataError(
            "pass exactly one of --prompt, --prompt-tokens and --prompt-file"
            + (f" (got {', '.join(given)})" if given else ""),
            "--prompt TEXT for models with a vocabulary, --prompt-tokens 1,2,3, --prompt-file frames.csv for features",
        )
    if model.config.uses_tokens == (frames is not None):
        raise InputDataError(
            "a token model takes --prompt or --prompt-tokens"
            if model.config.uses_tokens
            else "a feature model takes --prompt-file (frames, a row per step)"
        )
    if text is not None:
        return text
    if tokens is not None:
        try:
            return np.array([int(v) for v in tokens.split(",")], dtype=np.int64)
        except ValueError:
            raise InputDataError(f"--prompt-tokens {tokens!r} is not a comma-separated list of integers") from None
    from edgernn.pipeline import read_inputs

    assert frames is not None
    sequences = read_inputs(Path(frames))
    if len(sequences) != 1:
        raise InputDataError(f"{frames} holds {len(sequences)} sequences", "pass one prompt sequence")
    return sequences[0]


def format_generation(result: Generation, as_json: bool) -> str:
    """What ``edgernn generate`` prints: the text, else the token ids, else a CSV row per frame."""
    import json

    if as_json:
        obj = {
            "tokens": None if result.tokens is None else result.tokens.tolist(),
            "text": result.text,
            "values": None if result.values is None else result.values.tolist(),
        }
        return json.dumps(obj)
    if result.text is not None:
        return result.text
    if result.tokens is not None:
        return " ".join(str(int(t)) for t in result.tokens)
    assert result.values is not None
    return "\n".join(",".join(f"{v:.9g}" for v in row) for row in result.values)
