"""Paired token sequences for sequence-to-sequence training, and their ``.npz`` format.

The ``.npz`` file (``numpy.savez``; read without pickle) holds:

* ``src``: int ``(N, S)`` source token ids, each row padded after its length (any pad value);
* ``src_lengths``: int ``(N,)``, each in ``[1, S]``;
* ``tgt``: int ``(N, T)`` target token ids, padded likewise, *without* start or end markers;
* ``tgt_lengths``: int ``(N,)``, each in ``[1, T]``;
* ``src_vocab``: str ``(V_src,)``: the name of each source id (ids index it);
* ``tgt_vocab``: str ``(V_tgt,)``: the name of each target id.

The model's target vocabulary is ``("<s>", "</s>") + tgt_vocab``: the decoder starts from
``<s>`` (id 0) and stops at ``</s>`` (id 1), so a file's target id ``t`` is the model's ``t + 2``
(:data:`TARGET_OFFSET`). Source ids are the model's as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn import archive
from edgernn.errors import InputDataError

BOS, EOS = 0, 1
TARGET_OFFSET = 2
SPECIAL_TARGETS = ("<s>", "</s>")
_MAX_VOCAB = 65536
_KEYS = ("src", "src_lengths", "tgt", "tgt_lengths", "src_vocab", "tgt_vocab")


@dataclass(frozen=True, eq=False)
class PairData:
    """Source and target sequences in the *model's* ids (targets shifted past ``<s>``, ``</s>``)."""

    sources: tuple[np.ndarray, ...]
    targets: tuple[np.ndarray, ...]
    source_vocab: tuple[str, ...]
    target_vocab: tuple[str, ...]  # including the two markers

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets) or not self.sources:
            raise InputDataError("pair data needs as many targets as sources, at least one pair")

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, idx: Sequence[int] | np.ndarray) -> PairData:
        return PairData(
            tuple(self.sources[i] for i in idx),
            tuple(self.targets[i] for i in idx),
            self.source_vocab,
            self.target_vocab,
        )

    def save_npz(self, path: str | Path) -> None:
        """Write the ``.npz`` format above (targets shifted back to the file's ids)."""
        from edgernn.fileio import atomic_output

        src_len = np.array([len(s) for s in self.sources])
        tgt_len = np.array([len(t) for t in self.targets])
        src = np.zeros((len(self), src_len.max()), dtype=np.int32)
        tgt = np.zeros((len(self), tgt_len.max()), dtype=np.int32)
        for i, (s, t) in enumerate(zip(self.sources, self.targets)):
            src[i, : len(s)] = s
            tgt[i, : len(t)] = np.asarray(t) - TARGET_OFFSET
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                src=src,
                src_lengths=src_len,
                tgt=tgt,
                tgt_lengths=tgt_len,
                src_vocab=np.array(self.source_vocab),
                tgt_vocab=np.array(self.target_vocab[TARGET_OFFSET:]),
            )


def _rows(name: str, arr: np.ndarray, lengths: np.ndarray, vocab: int, path: Path) -> tuple[np.ndarray, ...]:
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise InputDataError(f"{path}: '{name}' must be a 2-D integer array, got {arr.dtype} {arr.shape}")
    if lengths.shape != (arr.shape[0],) or lengths.dtype.kind not in "iu":
        raise InputDataError(f"{path}: '{name}_lengths' must be ({arr.shape[0]},) integers")
    if lengths.size and (lengths.min() < 1 or lengths.max() > arr.shape[1]):
        raise InputDataError(f"{path}: '{name}_lengths' must lie in [1, {arr.shape[1]}]")
    rows = tuple(np.asarray(arr[i, : int(n)], dtype=np.int64) for i, n in enumerate(lengths))
    for i, r in enumerate(rows):
        if r.min() < 0 or r.max() >= vocab:
            raise InputDataError(
                f"{path}: sequence {i} of '{name}' holds a token id outside [0, {vocab})", f"extend '{name}_vocab'"
            )
    return rows


def load_pairs(path: str | Path) -> PairData:
    """Read the ``.npz`` format of this module; one-line errors name what is wrong."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputDataError(f"cannot read {p} ({exc.strerror or exc})", "check the path") from None
    zf = archive.open_zip(data, InputDataError(f"{p} is not an .npz file", "write it with numpy.savez"))
    arrays: dict[str, np.ndarray] = {}
    with zf:
        entries = archive.check_entries(zf, len(data), str(p), InputDataError, 1 << 26)
        for key in _KEYS:
            if f"{key}.npy" not in entries:
                raise InputDataError(f"{p} has no '{key}' array", f"a seq2seq .npz holds {', '.join(_KEYS)}")
            raw = archive.read_entry(zf, entries[f"{key}.npy"], f"{p}: {key}", InputDataError)
            kinds = "U" if key.endswith("vocab") else "iu"
            arrays[key] = archive.read_npy(raw, f"{p}: '{key}'", InputDataError, kinds=kinds)
    vocabs = []
    for key in ("src_vocab", "tgt_vocab"):
        v = arrays[key]
        if v.ndim != 1 or not 1 <= v.size <= _MAX_VOCAB:
            raise InputDataError(f"{p}: '{key}' must be a 1-D string array of 1 to {_MAX_VOCAB} names")
        vocabs.append(tuple(str(s) for s in v))
    sources = _rows("src", arrays["src"], arrays["src_lengths"], len(vocabs[0]), p)
    targets = _rows("tgt", arrays["tgt"], arrays["tgt_lengths"], len(vocabs[1]), p)
    if len(sources) != len(targets) or not sources:
        raise InputDataError(f"{p}: 'src' and 'tgt' must hold the same number (at least one) of sequences")
    return PairData(sources, tuple(t + TARGET_OFFSET for t in targets), vocabs[0], (*SPECIAL_TARGETS, *vocabs[1]))


def split(data: PairData, fractions: Sequence[float], seed: int) -> list[PairData]:
    """Seeded random split by pair (e.g. ``(0.9, 0.1)``)."""
    order = np.random.default_rng(seed).permutation(len(data))
    bounds = np.round(np.cumsum([0.0, *fractions]) / sum(fractions) * len(data)).astype(int)
    return [data.subset(np.sort(order[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]


def token_error_counts(hyp: Sequence[int], ref: Sequence[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions) between two token sequences."""
    prev = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, 1):
        cur = [i] + [0] * len(ref)
        for j, r in enumerate(ref, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r))
        prev = cur
    return prev[-1]


def error_rates(hyps: Sequence[Sequence[int]], refs: Sequence[Sequence[int]]) -> tuple[float, float]:
    """``(word error rate, token error rate)``: the share of sequences not exactly right, and the
    summed edit distance over the summed reference length (a G2P's phoneme error rate)."""
    wrong = sum(list(h) != list(r) for h, r in zip(hyps, refs))
    edits = sum(token_error_counts(h, r) for h, r in zip(hyps, refs))
    return wrong / len(refs), edits / sum(len(r) for r in refs)
