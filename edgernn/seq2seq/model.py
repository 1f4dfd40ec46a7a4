"""The encoder-decoder IR: two :class:`~edgernn.ir.QuantizedRNN` models and an int8 bridge.

A sequence-to-sequence model reuses the single-model machinery whole:

* the **encoder** is a token-input :class:`QuantizedRNN` without a head (1-4 layers, uni- or
  bidirectional): it reads the source sequence; its top layer's final hidden state, directions
  concatenated (PyTorch's ``h_n``), is the summary ``e`` (int8 at the top layer's hidden
  quantization);
* the **bridge** maps ``e`` to the decoder's initial state, one :class:`BridgeLayer` per decoder
  layer: ``h0 = tanh(W e + b)`` for every cell, plus ``c0 = W_c e + b_c`` for the LSTM's cell
  state. In integers it is the cells' own arithmetic: a FULLY_CONNECTED to an int16 Q3.12
  pre-activation, the int16 TANH LUT to Q0.15 (which *is* the GRU's 16-bit state) and the cell's
  Q0.15-to-int8 rescale; the LSTM's ``c0`` is a FULLY_CONNECTED straight to the int16 cell state
  at the decoder layer's power-of-two cell scale. The bridge is always present (learned), so
  encoder and decoder may differ in cell, width, depth and directions;
* the **decoder** is a unidirectional token-input :class:`QuantizedRNN` with a dense head over
  the target vocabulary (``OutputMode.SEQUENCE``): fed ``bos`` first and then each token it
  emitted, it outputs int8 logits per step until ``eos`` or ``max_output_len`` tokens.

A ``.ernn`` file of a seq2seq model is a zip like a single model's (``edgernn.json`` with format
``edgernn-seq2seq`` plus one ``.npy`` per array), read with ``allow_pickle=False``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn.errors import ModelFileError
from edgernn.fileio import write_bytes_atomic
from edgernn.ir import (
    GATE_SCALE,
    Q15_SCALE,
    FullyConnected,
    QuantizedRNN,
    Rescale,
    _check_derived,
    _check_fc_arithmetic,
    _fail,
    _frozen_array,
    _set,
    _to_tree,
    container_bytes,
    read_container,
    read_model_file,
)
from edgernn.types import CellType, OutputMode

FORMAT_NAME = "edgernn-seq2seq"
SCHEMA_VERSION = 1
HEADER_NAME = "edgernn.json"
#: The decoder emits at most this many tokens per input when the model states no smaller limit.
MAX_OUTPUT_LEN_LIMIT = 1024


@dataclass(frozen=True, eq=False)
class BridgeLayer:
    """The initial state of one decoder layer from the encoder's summary ``e``.

    Float: ``h0 = tanh(weight @ e + bias)``; LSTM also ``c0 = c_weight @ e + c_bias``. Integer:
    ``h0_q15 = TANH(h_fc(e))`` (Q3.12 in, Q0.15 out), ``h0 = requantize(h0_q15, to_hidden)``;
    ``c0 = c_fc(e)`` (int16 at the decoder layer's cell scale).
    """

    weight: np.ndarray  # float32 (H_dec, E)
    bias: np.ndarray  # float32 (H_dec,)
    h_fc: FullyConnected
    to_hidden: Rescale
    c_weight: np.ndarray | None = None  # LSTM decoders only
    c_bias: np.ndarray | None = None
    c_fc: FullyConnected | None = None

    def __post_init__(self) -> None:
        w = _frozen_array(self.weight, np.float32, (None, None), "bridge weight")
        _set(self, "weight", w)
        _set(self, "bias", _frozen_array(self.bias, np.float32, (w.shape[0],), "bridge bias"))
        if self.h_fc.weight.shape != w.shape:
            _fail("the bridge's quantized FC must match its float weight")
        has_c = [self.c_weight is not None, self.c_bias is not None, self.c_fc is not None]
        if any(has_c) and not all(has_c):
            _fail("the bridge's cell-state weights, bias and FC come together")
        if self.c_weight is not None:
            _set(self, "c_weight", _frozen_array(self.c_weight, np.float32, w.shape, "bridge c_weight"))
            _set(self, "c_bias", _frozen_array(self.c_bias, np.float32, (w.shape[0],), "bridge c_bias"))
            assert self.c_fc is not None
            if self.c_fc.weight.shape != w.shape:
                _fail("the bridge's cell-state FC must match its float weight")


@dataclass(frozen=True, eq=False)
class Seq2SeqRNN:
    """An encoder, a bridge and a decoder, with the vocabularies that give tokens their meaning."""

    encoder: QuantizedRNN
    decoder: QuantizedRNN
    bridge: tuple[BridgeLayer, ...]
    source_vocab: tuple[str, ...]
    target_vocab: tuple[str, ...]
    bos: int
    eos: int
    max_output_len: int

    def __post_init__(self) -> None:
        enc, dec = self.encoder.config, self.decoder.config
        _set(self, "bridge", tuple(self.bridge))
        _set(self, "source_vocab", tuple(str(s) for s in self.source_vocab))
        _set(self, "target_vocab", tuple(str(s) for s in self.target_vocab))
        if not enc.uses_tokens or self.encoder.head is not None:
            _fail("the encoder takes tokens and has no head")
        if enc.vocab_size != len(self.source_vocab):
            _fail(f"the encoder's vocabulary has {enc.vocab_size} tokens, source_vocab {len(self.source_vocab)}")
        if not dec.uses_tokens or dec.bidirectional or self.decoder.head is None:
            _fail("the decoder is unidirectional, takes tokens and has a dense head")
        if dec.output_mode is not OutputMode.SEQUENCE:
            _fail("the decoder outputs at every step (output_mode sequence)")
        if dec.vocab_size != len(self.target_vocab) or dec.output_size != len(self.target_vocab):
            _fail("the decoder's input vocabulary and head must both be target_vocab")
        for name in ("bos", "eos"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.target_vocab):
                _fail(f"{name}={value!r} is not a target token id")
        if self.bos == self.eos:
            _fail("bos and eos must be different tokens")
        if isinstance(self.max_output_len, bool) or not isinstance(self.max_output_len, int):
            _fail("max_output_len must be an integer")
        if not 1 <= self.max_output_len <= MAX_OUTPUT_LEN_LIMIT:
            _fail(f"max_output_len={self.max_output_len} is outside [1, {MAX_OUTPUT_LEN_LIMIT}]")
        if len(self.bridge) != dec.num_layers:
            _fail(f"the bridge has {len(self.bridge)} layers, the decoder {dec.num_layers}")
        summary_q = self.encoder.layers[-1].hidden_q
        width = enc.hidden_size * enc.num_directions
        for k, (b, layer) in enumerate(zip(self.bridge, self.decoder.layers)):
            where = f"bridge layer {k}"
            if b.weight.shape != (dec.hidden_size, width):
                _fail(f"{where} weight has shape {b.weight.shape}, expected {(dec.hidden_size, width)}")
            for fc, name in ((b.h_fc, "h_fc"), (b.c_fc, "c_fc")):
                if fc is None:
                    continue
                if fc.output_bits != 16 or fc.output_zero_point != 0:
                    _fail(f"{where} {name} must produce symmetric int16")
                if fc.input_zero_point != summary_q.zero_point:
                    _fail(f"{where} {name} input zero point differs from the encoder's top hidden zero point")
                _check_fc_arithmetic(fc, summary_q.scale, f"{where} {name}")
            if b.h_fc.output_scale != GATE_SCALE:
                _fail(f"{where} h_fc must output Q3.12")
            _check_derived(b.to_hidden, Rescale.of(Q15_SCALE, 1.0, layer.hidden_q.scale), f"{where} to_hidden")
            if (b.c_fc is not None) != (dec.cell is CellType.LSTM):
                _fail(f"{where} has a cell-state FC exactly when the decoder is an LSTM")
            if b.c_fc is not None:
                power = layer.directions[0].quant.cell_scale_power  # type: ignore[union-attr]
                if b.c_fc.output_scale != 2.0**power:
                    _fail(f"{where} c_fc must output the decoder's cell scale 2**{power}")

    @property
    def weight_bytes(self) -> int:
        """Constant bytes an integer kernel reads: both models and the bridge's FCs."""
        total = self.encoder.weight_bytes + self.decoder.weight_bytes
        for fc in iter_bridge_fcs(self):
            total += fc.weight.nbytes + fc.bias.nbytes + fc.multiplier.nbytes + fc.shift.nbytes
        return total

    @functools.cached_property
    def sha256(self) -> str:
        """Hash of the content: the two models' hashes, the bridge's arrays and the vocabularies."""
        arrays: dict[str, np.ndarray] = {}
        tree = _to_tree(self, "", arrays)
        tree["encoder"] = self.encoder.sha256  # provenance is excluded there
        tree["decoder"] = self.decoder.sha256
        h = hashlib.sha256(json.dumps(tree, sort_keys=True).encode())
        for name in sorted(arrays):
            if name.startswith(("encoder/", "decoder/")):
                continue
            arr = arrays[name]
            h.update(name.encode() + str(arr.dtype).encode() + repr(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def iter_bridge_fcs(model: Seq2SeqRNN) -> list[FullyConnected]:
    return [fc for b in model.bridge for fc in (b.h_fc, b.c_fc) if fc is not None]


def to_bytes(model: Seq2SeqRNN) -> bytes:
    """Serialize to a zip (deterministic: same model, same bytes)."""
    return container_bytes(model, FORMAT_NAME, SCHEMA_VERSION, model.sha256)


def save(model: Seq2SeqRNN, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    write_bytes_atomic(target, to_bytes(model))
    return target


def from_bytes(data: bytes, source: str = "model") -> Seq2SeqRNN:
    """Parse and validate seq2seq ``.ernn`` bytes; :class:`ModelFileError` names any problem."""
    return read_container(
        data, source, Seq2SeqRNN, _check_header, "pass a seq2seq .ernn file written by `edgernn seq2seq train`"
    )


def _check_header(header: object, source: str) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{source} is not a seq2seq model",
            "pass a file written by `edgernn seq2seq train` (single models: run)",
        )
    version = header.get("schema_version")
    if not isinstance(version, int) or version < 1 or "model" not in header:
        raise ModelFileError(f"{source}: unsupported or incomplete model header")
    if version > SCHEMA_VERSION:
        raise ModelFileError(
            f"{source} uses seq2seq schema {version}, this edgernn reads up to {SCHEMA_VERSION}", "upgrade edgernn"
        )


def is_seq2seq_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a seq2seq ``.ernn`` (by its header's format tag; False on any problem)."""
    try:
        with zipfile.ZipFile(path) as zf:
            header = json.loads(zf.read(HEADER_NAME)[: 1 << 24])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT_NAME


def load(path: str | os.PathLike[str]) -> Seq2SeqRNN:
    return from_bytes(read_model_file(path), source=str(Path(path)))
