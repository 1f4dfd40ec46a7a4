"""Post-training quantization of an encoder-decoder (numpy only).

The encoder is calibrated on source sequences exactly as a single model. The decoder is
calibrated on teacher-forced target sequences (``bos`` then the target tokens), each starting
from the float bridged state of its source, whose values enter the decoder's ranges. The bridge's
FCs then take the encoder's top hidden quantization as input and produce the decoder's state in
the decoder's own quantization (Q3.12 for the tanh, the LSTM cell scale for ``c0``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgernn.errors import QuantizationError
from edgernn.floatmodel import FloatParams
from edgernn.ir import GATE_SCALE, Q15_SCALE, Rescale
from edgernn.quant.quantizer import QuantizeOptions, make_fc, quantize_params
from edgernn.seq2seq.model import BridgeLayer, Seq2SeqRNN
from edgernn.seq2seq.runner import Seq2SeqRunner
from edgernn.types import CellType


@dataclass(frozen=True, eq=False)
class FloatBridge:
    """One decoder layer's float bridge: ``h0 = tanh(W e + b)``, LSTM ``c0 = Wc e + bc``."""

    weight: np.ndarray
    bias: np.ndarray
    c_weight: np.ndarray | None = None
    c_bias: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Seq2SeqFloat:
    """The float weights of an encoder-decoder and its vocabularies (what the quantizer starts from)."""

    encoder: FloatParams
    decoder: FloatParams
    bridge: tuple[FloatBridge, ...]
    source_vocab: tuple[str, ...]
    target_vocab: tuple[str, ...]
    bos: int
    eos: int
    max_output_len: int


def _sha256(seqs: Sequence[np.ndarray]) -> str:
    h = hashlib.sha256()
    for s in seqs:
        h.update(np.asarray(s, dtype=np.int64).tobytes() + b"|")
    return h.hexdigest()


def _float_model(params: Seq2SeqFloat, encoder, decoder) -> Seq2SeqRNN:  # noqa: ANN001 - QuantizedRNN
    """A Seq2SeqRNN whose bridge is a placeholder quantization: only its float path may run."""
    return Seq2SeqRNN(
        encoder=encoder,
        decoder=decoder,
        bridge=tuple(_quantize_bridge(b, encoder, decoder, k) for k, b in enumerate(params.bridge)),
        source_vocab=params.source_vocab,
        target_vocab=params.target_vocab,
        bos=params.bos,
        eos=params.eos,
        max_output_len=params.max_output_len,
    )


def _f32(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, dtype=np.float32)


def _quantize_bridge(b: FloatBridge, encoder, decoder, k: int) -> BridgeLayer:  # noqa: ANN001
    b = FloatBridge(_f32(b.weight), _f32(b.bias), _f32(b.c_weight), _f32(b.c_bias))  # type: ignore[arg-type]
    summary_q = encoder.layers[-1].hidden_q
    layer = decoder.layers[k]
    h_fc = make_fc(b.weight, b.bias, summary_q, GATE_SCALE, 0, 16, per_channel=False, name=f"bridge {k}")
    c_fc = None
    if decoder.config.cell is CellType.LSTM:
        power = layer.directions[0].quant.cell_scale_power
        c_fc = make_fc(b.c_weight, b.c_bias, summary_q, 2.0**power, 0, 16, per_channel=False, name=f"bridge {k} c")
    return BridgeLayer(
        weight=b.weight,
        bias=b.bias,
        h_fc=h_fc,
        to_hidden=Rescale.of(Q15_SCALE, 1.0, layer.hidden_q.scale, "bridge to_hidden"),
        c_weight=b.c_weight,
        c_bias=b.c_bias,
        c_fc=c_fc,
    )


def _subset(count: int, limit: int) -> np.ndarray:
    return np.sort(np.random.default_rng(0).choice(count, limit, replace=False))


def float_params(model: Seq2SeqRNN) -> Seq2SeqFloat:
    """The float weights a model keeps (to quantize it again, e.g. with other calibration data)."""
    return Seq2SeqFloat(
        encoder=FloatParams.of(model.encoder),
        decoder=FloatParams.of(model.decoder),
        bridge=tuple(FloatBridge(b.weight, b.bias, b.c_weight, b.c_bias) for b in model.bridge),
        source_vocab=model.source_vocab,
        target_vocab=model.target_vocab,
        bos=model.bos,
        eos=model.eos,
        max_output_len=model.max_output_len,
    )


def quantize_seq2seq(
    params: Seq2SeqFloat,
    sources: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    *,
    options: QuantizeOptions = QuantizeOptions(),
    dataset: str | None = None,
) -> Seq2SeqRNN:
    """Calibrate and quantize. ``targets`` are the target token sequences without ``bos``/``eos``."""
    if len(sources) == 0 or len(sources) != len(targets):
        raise QuantizationError("calibration needs as many target sequences as source sequences, at least one")
    limit = options.max_calibration_sequences
    # a seeded subset when there are more pairs than the limit (as single models calibrate)
    chosen = range(len(sources)) if limit is None or len(sources) <= limit else _subset(len(sources), limit)
    sources = [np.asarray(sources[i], dtype=np.int64) for i in chosen]
    tgt_in = [np.concatenate([[params.bos], np.asarray(targets[i], dtype=np.int64)]) for i in chosen]
    encoder = quantize_params(
        params.encoder, sources, options=options, calibration_sha256=_sha256(sources), dataset=dataset
    )
    # The float bridged states: the encoder's float path, whatever quantization the decoder gets.
    # A first decoder quantization (zero-state calibration) only makes the IR constructible.
    provisional = quantize_params(params.decoder, tgt_in, options=options, calibration_sha256="", dataset=dataset)
    float_runner = Seq2SeqRunner(_float_model(params, encoder, provisional), integer=False)
    states = [tuple(tuple(a[0] for a in cell) for cell in float_runner.encode([s])) for s in sources]
    decoder = quantize_params(
        params.decoder,
        tgt_in,
        options=options,
        calibration_sha256=_sha256(tgt_in),
        dataset=dataset,
        initial_states=states,
    )
    return _float_model(params, encoder, decoder)
