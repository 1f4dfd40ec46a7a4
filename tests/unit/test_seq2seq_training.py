"""The PyTorch encoder-decoder and the IR's float twin compute the same thing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgernn.errors import UnsupportedModelError
from edgernn.seq2seq import Seq2SeqRunner
from edgernn.seq2seq.data import SPECIAL_TARGETS, PairData
from edgernn.seq2seq.quantize import quantize_seq2seq
from edgernn.seq2seq.training import (
    Seq2SeqConfig,
    Seq2SeqModule,
    Seq2SeqTraining,
    _batch,
    float_weights,
    from_torch,
    train_seq2seq,
)
from edgernn.types import CellType

DATA = PairData(
    tuple(np.random.default_rng(0).integers(0, 5, size=n) for n in (3, 1, 6, 4, 2, 5)),
    tuple(np.random.default_rng(1).integers(2, 6, size=n) for n in (2, 4, 1, 5, 3, 3)),
    tuple("abcde"),
    (*SPECIAL_TARGETS, *"WXYZ"),
)


@pytest.mark.parametrize(
    "config",
    [
        Seq2SeqConfig(cell=CellType.GRU, encoder_hidden=6, decoder_hidden=7, bidirectional=True, max_output_len=8),
        Seq2SeqConfig(
            cell=CellType.LSTM,
            encoder_hidden=5,
            decoder_hidden=6,
            encoder_layers=2,
            decoder_layers=2,
            bidirectional=True,
            max_output_len=8,
        ),
        Seq2SeqConfig(
            cell=CellType.RNN,
            decoder_cell=CellType.LSTM,
            encoder_hidden=5,
            decoder_hidden=6,
            bidirectional=False,
            max_output_len=8,
        ),
    ],
    ids=["gru-bi", "lstm-2x2", "rnn-to-lstm"],
)
def test_float_twin_matches_torch(config: Seq2SeqConfig) -> None:
    """Teacher-forced logits of the padded torch batch equal the numpy float path's, per pair."""
    torch.manual_seed(0)
    module = Seq2SeqModule(config, len(DATA.source_vocab), len(DATA.target_vocab)).eval()
    src, src_len, tgt_in, tgt_len, _ = _batch(DATA, np.arange(len(DATA)))
    with torch.no_grad():
        logits = module(src, src_len, tgt_in, tgt_len).numpy()
    model = quantize_seq2seq(float_weights(module, DATA), DATA.sources, DATA.targets)
    tgt = [np.concatenate([[0], t]) for t in DATA.targets]
    twin = Seq2SeqRunner(model, integer=False).teacher_forced(list(DATA.sources), tgt)
    for b, t in enumerate(twin):
        np.testing.assert_allclose(t, logits[b, : len(t)], atol=2e-5)


def test_training_lowers_the_loss() -> None:
    config = Seq2SeqConfig(encoder_hidden=6, decoder_hidden=8, max_output_len=8)
    _, history = train_seq2seq(DATA, DATA, config, Seq2SeqTraining(epochs=6, batch_size=2, patience=6))
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def _parts(module: Seq2SeqModule) -> dict:
    enc, dec = module.encoder, module.decoder
    return dict(
        encoder=torch.nn.Sequential(enc.embedding, enc.rnn),
        decoder=torch.nn.Sequential(dec.embedding, dec.rnn, dec.head),
        bridge=list(module.bridge_h),
        bridge_cell=list(module.bridge_c),
        source_vocab=DATA.source_vocab,
        target_vocab=DATA.target_vocab,
        bos=0,
        eos=1,
        max_output_len=8,
    )


@pytest.mark.parametrize("cell", [CellType.GRU, CellType.LSTM])
def test_from_torch_imports_the_layers(cell: CellType) -> None:
    torch.manual_seed(1)
    config = Seq2SeqConfig(cell=cell, encoder_hidden=5, decoder_hidden=6, decoder_layers=2, max_output_len=8)
    module = Seq2SeqModule(config, len(DATA.source_vocab), len(DATA.target_vocab))
    imported = quantize_seq2seq(from_torch(**_parts(module)), DATA.sources, DATA.targets)
    direct = quantize_seq2seq(float_weights(module, DATA), DATA.sources, DATA.targets)
    assert imported.sha256 == direct.sha256


def test_from_torch_refuses_clearly() -> None:
    module = Seq2SeqModule(Seq2SeqConfig(cell=CellType.LSTM, encoder_hidden=5, decoder_hidden=6), 5, 6)
    parts = _parts(module)
    with pytest.raises(UnsupportedModelError, match="learned bridge"):
        from_torch(**{**parts, "bridge": []})
    with pytest.raises(UnsupportedModelError, match="bridge_cell has 0"):
        from_torch(**{**parts, "bridge_cell": []})
    with pytest.raises(UnsupportedModelError, match="without an nn.Linear"):
        from_torch(**{**parts, "encoder": torch.nn.Sequential(*module.encoder.children(), torch.nn.Linear(10, 3))})
    with pytest.raises(UnsupportedModelError, match=r"bridge\[0\] must be nn.Linear\(10, 6\)"):
        from_torch(**{**parts, "bridge": [torch.nn.Linear(4, 6)]})
    rnn = torch.nn.LSTM(16, 6, bidirectional=True, batch_first=True)
    with pytest.raises(UnsupportedModelError, match="unidirectional"):
        from_torch(**{**parts, "decoder": torch.nn.Sequential(module.decoder.embedding, rnn, torch.nn.Linear(12, 6))})
