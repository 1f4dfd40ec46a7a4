"""The float PyTorch model every edgernn pipeline starts from."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from edgernn.errors import InputDataError
from edgernn.types import Activation, CellType, ModelConfig, OutputMode, Readout

__all__ = ["RNNModel", "State"]

# PyTorch's state layout: h of shape (num_layers * directions, B, H), or (h, c) for LSTM.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RNNModel(nn.Module):
    """Optional embedding -> stacked GRU/LSTM/Elman layers -> optional dense head.

    This is the contract the integer runtime follows:

    * Input ``x`` is ``(B, T, F)`` float features or ``(B, T)`` integer token ids (looked up in
      ``embedding``). The state is PyTorch's: ``h`` ``(L * D, B, H)`` (``(h, c)`` for LSTM), rows
      ordered layer-major then direction (forward, backward); zeros when not given.
    * ``OutputMode.SEQUENCE``: the head is applied to the top layer's output at every step,
      ``(B, T, out)``; for a bidirectional stack that output is ``[forward_t, backward_t]``.
    * ``OutputMode.LAST``: the head is applied once to the concatenation of each direction's final
      hidden state in the top layer, ``(B, out)``: the forward direction after its last valid step,
      the backward direction after running back to t=0. That is PyTorch's ``h_n``, so for a
      unidirectional model it equals the output at the last step. ``config.readout`` chooses
      instead ``output[:, -1]`` (``LAST_OUTPUT``: the backward half has seen only the last step) or
      ``output.mean(1)`` (``MEAN``), and ``config.head_activation`` an activation before the head.
    * With ``output_size`` None there is no head and the output is the (concatenated) hidden state.
    * ``dropout`` (training only, not part of the config): between stacked layers and before the
      head; in eval mode it is the identity, so it never changes what is exported.
    * ``lengths`` marks a zero-padded batch: steps past a sequence's length are not run (packing),
      so states and LAST outputs are those at each sequence's true end; SEQUENCE outputs at
      padded steps carry no information (the head applied to zeros) and are masked in training.
    """

    def __init__(self, config: ModelConfig, dropout: float = 0.0) -> None:
        super().__init__()
        self.config = config
        self.embedding: nn.Embedding | None = (
            nn.Embedding(config.vocab_size, config.embedding_dim)  # type: ignore[arg-type]
            if config.uses_tokens
            else None
        )
        self.rnn: nn.RNN | nn.GRU | nn.LSTM = _make_rnn(config, dropout)
        self.dropout = nn.Dropout(dropout)  # no parameters: the state dict is unchanged
        self.head: nn.Linear | None = (
            nn.Linear(config.hidden_size * config.num_directions, config.output_size)
            if config.output_size is not None
            else None
        )

    def forward(
        self, x: torch.Tensor, state: State | None = None, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        inp = self._embed(x)
        if lengths is None:
            out, state = self.rnn(inp, state)
        else:
            lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()  # packing wants CPU lengths
            packed = pack_padded_sequence(inp, lengths, batch_first=True, enforce_sorted=False)
            packed_out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=inp.shape[1])
        cfg = self.config
        if cfg.output_mode is OutputMode.SEQUENCE:
            features = out
        elif cfg.readout is Readout.FINAL_STATE:
            h = state[0] if isinstance(state, tuple) else state
            top = h[-cfg.num_directions :]  # the top layer's rows, forward then backward
            features = torch.cat(list(top), dim=-1)
        else:
            features = _readout(out, cfg.readout, lengths)
        if cfg.head_activation is Activation.RELU:
            features = torch.relu(features)
        elif cfg.head_activation is Activation.TANH:
            features = torch.tanh(features)
        y = self.head(self.dropout(features)) if self.head is not None else features
        return y, state

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            if x.ndim != 2 or x.is_floating_point():
                raise InputDataError(f"token input must be (B, T) integers, got {tuple(x.shape)} {x.dtype}")
            return self.embedding(x)
        if x.ndim != 3 or x.shape[-1] != self.config.input_size:
            raise InputDataError(f"feature input must be (B, T, {self.config.input_size}), got {tuple(x.shape)}")
        return x


def _readout(out: torch.Tensor, readout: Readout, lengths: torch.Tensor | None) -> torch.Tensor:
    """``output[:, -1]`` (``LAST_OUTPUT``) or ``output.mean(1)`` (``MEAN``), over each sequence's valid steps."""
    steps = out.shape[1]
    if lengths is None:
        return out[:, -1] if readout is Readout.LAST_OUTPUT else out.mean(1)
    lengths = torch.as_tensor(lengths, dtype=torch.int64, device=out.device)
    if readout is Readout.LAST_OUTPUT:
        return out[torch.arange(out.shape[0], device=out.device), lengths - 1]
    valid = (torch.arange(steps, device=out.device)[None, :] < lengths[:, None]).to(out.dtype)
    return (out * valid[..., None]).sum(1) / lengths[:, None].to(out.dtype)


def _make_rnn(config: ModelConfig, dropout: float = 0.0) -> nn.RNN | nn.GRU | nn.LSTM:
    """The recurrent stack in edgernn's fixed layout: batch_first, with biases, tanh (or ReLU) for RNN."""
    size = (config.rnn_input_size, config.hidden_size, config.num_layers)
    # torch applies RNN dropout only between layers (and warns when there is one layer).
    between = dropout if config.num_layers > 1 else 0.0
    if config.cell is CellType.RNN:
        return nn.RNN(
            *size,
            nonlinearity=config.nonlinearity.value,
            bias=True,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=between,
        )
    cls = nn.GRU if config.cell is CellType.GRU else nn.LSTM
    return cls(*size, bias=True, batch_first=True, bidirectional=config.bidirectional, dropout=between)
