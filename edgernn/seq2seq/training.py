"""Training an encoder-decoder in PyTorch with teacher forcing (the only torch part of seq2seq).

:class:`Seq2SeqModule` is the float twin of :class:`~edgernn.seq2seq.model.Seq2SeqRNN`: two
:class:`~edgernn.models.rnn.RNNModel` (the encoder without a head, the decoder with one) and the
bridge (``tanh(Linear)`` per decoder layer, plus a ``Linear`` for an LSTM's cell state).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgernn.errors import InputDataError, UnsupportedModelError
from edgernn.models.rnn import RNNModel
from edgernn.quant.from_torch import float_params_from_torch
from edgernn.seq2seq.data import BOS, EOS, PairData
from edgernn.seq2seq.quantize import FloatBridge, Seq2SeqFloat
from edgernn.types import CellType, ModelConfig, OutputMode

_IGNORE = -100


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Architecture: encoder and decoder cells, widths, depths; embeddings; output length limit."""

    cell: CellType = CellType.GRU
    encoder_hidden: int = 64
    decoder_hidden: int = 128
    encoder_layers: int = 1
    decoder_layers: int = 1
    bidirectional: bool = True
    source_embedding: int = 16
    target_embedding: int = 16
    decoder_cell: CellType | None = None  # default: the encoder's
    max_output_len: int = 32

    def encoder_config(self, vocab: int) -> ModelConfig:
        return ModelConfig(
            cell=self.cell,
            hidden_size=self.encoder_hidden,
            num_layers=self.encoder_layers,
            bidirectional=self.bidirectional,
            vocab_size=vocab,
            embedding_dim=self.source_embedding,
        )

    def decoder_config(self, vocab: int) -> ModelConfig:
        return ModelConfig(
            cell=self.decoder_cell or self.cell,
            hidden_size=self.decoder_hidden,
            num_layers=self.decoder_layers,
            vocab_size=vocab,
            embedding_dim=self.target_embedding,
            output_size=vocab,
            output_mode=OutputMode.SEQUENCE,
        )


class Seq2SeqModule(nn.Module):
    def __init__(self, config: Seq2SeqConfig, source_vocab: int, target_vocab: int) -> None:
        super().__init__()
        self.config = config
        self.encoder = RNNModel(config.encoder_config(source_vocab))
        self.decoder = RNNModel(config.decoder_config(target_vocab))
        width = config.encoder_hidden * (2 if config.bidirectional else 1)
        self.bridge_h = nn.ModuleList(nn.Linear(width, config.decoder_hidden) for _ in range(config.decoder_layers))
        lstm = self.decoder.config.cell is CellType.LSTM
        self.bridge_c = nn.ModuleList(
            nn.Linear(width, config.decoder_hidden) for _ in range(config.decoder_layers if lstm else 0)
        )

    def initial_state(self, src: torch.Tensor, src_lengths: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The decoder's initial state (PyTorch layout) from padded sources ``(B, S)``."""
        summary, _ = self.encoder(src, None, src_lengths)  # LAST output, no head: h_n's top layer
        h = torch.stack([torch.tanh(b(summary)) for b in self.bridge_h])
        if self.bridge_c:
            return h, torch.stack([b(summary) for b in self.bridge_c])
        return h

    def forward(
        self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor, tgt_lengths: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits ``(B, T, V)`` for decoder inputs ``tgt_in`` (``bos`` first)."""
        logits, _ = self.decoder(tgt_in, self.initial_state(src, src_lengths), tgt_lengths)
        return logits


def float_weights(module: Seq2SeqModule, data: PairData) -> Seq2SeqFloat:
    """The numpy float weights of a trained module (what :func:`quantize_seq2seq` takes)."""

    def np32(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().float().numpy().astype(np.float32)

    bridge = []
    for k, b in enumerate(module.bridge_h):
        c = module.bridge_c[k] if module.bridge_c else None
        bridge.append(
            FloatBridge(
                np32(b.weight),
                np32(b.bias),
                None if c is None else np32(c.weight),
                None if c is None else np32(c.bias),
            )
        )
    return Seq2SeqFloat(
        encoder=float_params_from_torch(module.encoder),
        decoder=float_params_from_torch(module.decoder),
        bridge=tuple(bridge),
        source_vocab=data.source_vocab,
        target_vocab=data.target_vocab,
        bos=BOS,
        eos=EOS,
        max_output_len=module.config.max_output_len,
    )


def _batch(data: PairData, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
    src_len = torch.tensor([len(data.sources[i]) for i in idx])
    tgt_len = torch.tensor([len(data.targets[i]) + 1 for i in idx])  # bos + tokens / tokens + eos
    src = torch.zeros((len(idx), int(src_len.max())), dtype=torch.long)
    tgt_in = torch.full((len(idx), int(tgt_len.max())), EOS, dtype=torch.long)
    tgt_out = torch.full_like(tgt_in, _IGNORE)
    for b, i in enumerate(idx):
        s, t = data.sources[i], data.targets[i]
        src[b, : len(s)] = torch.from_numpy(s)
        tgt_in[b, : len(t) + 1] = torch.from_numpy(np.concatenate([[BOS], t]))
        tgt_out[b, : len(t) + 1] = torch.from_numpy(np.concatenate([t, [EOS]]))
    return src, src_len, tgt_in, tgt_len, tgt_out


@dataclass(frozen=True)
class Seq2SeqTraining:
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    grad_clip: float = 1.0
    seed: int = 0
    max_minutes: float | None = None
    patience: int = 4
    lr_decay: float = 1.0  # the learning rate is multiplied by this after every epoch


def train_seq2seq(
    train: PairData,
    valid: PairData,
    config: Seq2SeqConfig,
    tc: Seq2SeqTraining = Seq2SeqTraining(),
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Seq2SeqModule, list[dict[str, float]]]:
    """Teacher-forced cross-entropy with Adam; keeps the weights of the best validation loss."""
    longest = max(len(t) for t in (*train.targets, *valid.targets))
    if longest + 1 > config.max_output_len:
        raise InputDataError(
            f"a target has {longest} tokens, more than max_output_len - 1 = {config.max_output_len - 1}",
            "raise --max-output-len",
        )
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small RNNs gain nothing from intra-op threads (see models.training)
    module = Seq2SeqModule(config, len(train.source_vocab), len(train.target_vocab))
    opt = torch.optim.Adam(module.parameters(), lr=tc.learning_rate)
    schedule = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=tc.lr_decay)
    best, best_state, history, stale = math.inf, None, [], 0
    start = time.monotonic()
    try:
        for epoch in range(tc.epochs):
            module.train()
            total, count = 0.0, 0
            for chunk in np.array_split(rng.permutation(len(train)), max(1, len(train) // tc.batch_size)):
                src, src_len, tgt_in, tgt_len, tgt_out = _batch(train, chunk)
                logits = module(src, src_len, tgt_in, tgt_len)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=_IGNORE)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(module.parameters(), tc.grad_clip)
                opt.step()
                total, count = total + loss.item() * len(chunk), count + len(chunk)
            schedule.step()
            val = validation_loss(module, valid, tc.batch_size * 4)
            history.append({"epoch": epoch + 1, "train_loss": total / count, "valid_loss": val})
            log(f"epoch {epoch + 1}: train loss {total / count:.4f}, validation loss {val:.4f}")
            if val < best:
                best, stale = val, 0
                best_state = {k: v.clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
            over_time = tc.max_minutes is not None and time.monotonic() - start > 60 * tc.max_minutes
            if stale >= tc.patience or over_time:
                break
    finally:
        torch.set_num_threads(previous_threads)
    assert best_state is not None
    module.load_state_dict(best_state)
    module.eval()
    return module, history


@torch.no_grad()
def validation_loss(module: Seq2SeqModule, data: PairData, batch_size: int) -> float:
    module.eval()
    total, tokens = 0.0, 0
    for chunk in np.array_split(np.arange(len(data)), max(1, math.ceil(len(data) / batch_size))):
        src, src_len, tgt_in, tgt_len, tgt_out = _batch(data, chunk)
        logits = module(src, src_len, tgt_in, tgt_len)
        flat = tgt_out.reshape(-1)
        total += float(
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat, ignore_index=_IGNORE, reduction="sum")
        )
        tokens += int((flat != _IGNORE).sum())
    return total / tokens


def from_torch(
    encoder: nn.Module,
    decoder: nn.Module,
    bridge: Sequence[nn.Linear],
    bridge_cell: Sequence[nn.Linear] = (),
    *,
    source_vocab: Sequence[str],
    target_vocab: Sequence[str],
    bos: int,
    eos: int,
    max_output_len: int,
) -> Seq2SeqFloat:
    """Import a PyTorch encoder-decoder built from the supported layers (then :func:`quantize_seq2seq`).

    ``encoder``: what the single-model importer (:func:`edgernn.models.from_torch`) reads, with an
    ``nn.Embedding`` and no ``nn.Linear``: its top layer's final state (``h_n``, directions
    concatenated) is the summary ``e``. ``decoder``: ``nn.Embedding`` -> unidirectional recurrent
    layers -> ``nn.Linear`` over the target vocabulary. ``bridge``: one ``nn.Linear`` per decoder
    layer, applied as ``h0 = tanh(bridge[k](e))``; an LSTM decoder also needs ``bridge_cell``
    (``c0 = bridge_cell[k](e)``). Only the layers are read, not any ``forward()``: the wiring is
    edgernn's encoder-decoder.
    """
    from edgernn.models.importer import import_layers

    enc = import_layers(encoder)
    dec = import_layers(decoder, output_mode=OutputMode.SEQUENCE)
    e, d = enc.config, dec.config
    if e.vocab_size is None or enc.head is not None:
        raise UnsupportedModelError(
            "the encoder must be nn.Embedding -> recurrent layers, without an nn.Linear",
            "pass the encoder's embedding and recurrent layers only",
        )
    if d.vocab_size is None or dec.head is None or d.bidirectional:
        raise UnsupportedModelError(
            "the decoder must be nn.Embedding -> unidirectional recurrent layers -> nn.Linear",
            "pass the decoder's embedding, recurrent layers and output layer",
        )
    if not bridge:
        raise UnsupportedModelError(
            "edgernn's decoder starts from a learned bridge h0 = tanh(Linear(h_n)) per decoder layer; a decoder "
            "that starts from the encoder's state as it is cannot be imported",
            "add one nn.Linear per decoder layer (and, for an LSTM decoder, one for its cell state) and train it",
        )
    lstm = d.cell is CellType.LSTM
    width = e.hidden_size * e.num_directions
    for name, layers, wanted in (("bridge", bridge, True), ("bridge_cell", bridge_cell, lstm)):
        count = d.num_layers if wanted else 0
        if len(layers) != count:
            raise UnsupportedModelError(
                f"{name} has {len(layers)} nn.Linear, the decoder needs {count}",
                "one per decoder layer (bridge_cell: LSTM decoders only)",
            )
        for k, layer in enumerate(layers):
            if not isinstance(layer, nn.Linear) or (layer.in_features, layer.out_features) != (width, d.hidden_size):
                raise UnsupportedModelError(
                    f"{name}[{k}] must be nn.Linear({width}, {d.hidden_size}) (encoder summary to decoder state)"
                )
    if d.vocab_size != len(target_vocab) or d.output_size != len(target_vocab) or e.vocab_size != len(source_vocab):
        raise UnsupportedModelError("the embeddings and the decoder's output layer must match the vocabularies")

    def np32(t: torch.Tensor | None, rows: int) -> np.ndarray:
        return np.zeros(rows, np.float32) if t is None else t.detach().cpu().float().numpy().astype(np.float32)

    links = [
        FloatBridge(
            np32(b.weight, 0),
            np32(b.bias, d.hidden_size),
            None if not lstm else np32(bridge_cell[k].weight, 0),
            None if not lstm else np32(bridge_cell[k].bias, d.hidden_size),
        )
        for k, b in enumerate(bridge)
    ]
    return Seq2SeqFloat(
        encoder=float_params_from_torch(enc),
        decoder=float_params_from_torch(dec),
        bridge=tuple(links),
        source_vocab=tuple(source_vocab),
        target_vocab=tuple(target_vocab),
        bos=bos,
        eos=eos,
        max_output_len=max_output_len,
    )
