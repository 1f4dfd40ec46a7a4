"""Import a user's own PyTorch recurrent model into an :class:`RNNModel`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edgernn.errors import UnsupportedModelError
from edgernn.models.rnn import RNNModel
from edgernn.models.trace import Traced, trace_forward
from edgernn.types import MAX_LAYERS, Activation, CellType, ModelConfig, OutputMode, Readout, Task

__all__ = ["from_torch"]

_CELLS: dict[type[nn.RNNBase], CellType] = {
    nn.RNN: CellType.RNN,
    nn.GRU: CellType.GRU,
    nn.LSTM: CellType.LSTM,
}
_IGNORED = (nn.Dropout, nn.Identity, nn.ReLU, nn.Tanh)  # dropout: identity at inference; activations: traced
_LAYOUT = "edgernn imports [Embedding] -> GRU/LSTM/RNN layers of one kind -> [Linear] (Dropout, ReLU, Tanh traced)"


@dataclass
class _Parsed:
    embedding: tuple[str, nn.Embedding] | None
    rnns: list[tuple[str, nn.RNNBase]]
    linear: tuple[str, nn.Linear] | None


def from_torch(
    module: nn.Module, output_mode: OutputMode | str | None = None, task: Task = Task.CLASSIFICATION
) -> RNNModel:
    """Copy the weights of ``module`` exactly into a new :class:`RNNModel` (in eval mode) that
    computes what its ``forward()`` computes.

    ``module`` is a bare ``nn.GRU``/``nn.LSTM``/``nn.RNN`` (its output is the hidden state, on the
    last step by default or on every step with ``output_mode="sequence"``), or any module whose
    leaf submodules, in registration order, are: an optional ``nn.Embedding``; one or more
    recurrent modules of one kind that chain into a stack of at most 4 layers; an optional
    ``nn.Linear``; ``nn.Dropout``, ``nn.ReLU``, ``nn.Tanh`` anywhere. Its ``forward`` is traced with
    ``torch.fx`` (:mod:`edgernn.models.trace`): the readout (``h_n``, ``output[:, -1]``,
    ``output.mean(1)`` or every step), an activation before the head and dropout (identity at
    inference) are recognized; anything else is refused naming the operation and its line.
    ``output_mode``, when given, is checked against what the trace found. ``bias=False`` layers
    become zero biases.
    """
    parsed = _parse(module)
    _config(parsed, Traced(OutputMode.LAST, Readout.FINAL_STATE, Activation.NONE, ()), Task(task))  # layers first
    if isinstance(module, nn.RNNBase):
        traced = Traced(OutputMode(output_mode or OutputMode.LAST), Readout.FINAL_STATE, Activation.NONE, ())
    else:
        traced = trace_forward(module, [rnn for _, rnn in parsed.rnns])
        _check_calls(parsed, traced)
        if output_mode is not None and OutputMode(output_mode) is not traced.output_mode:
            raise UnsupportedModelError(
                f"output_mode={OutputMode(output_mode).value} was given, but {type(module).__name__}.forward "
                f"computes a {traced.output_mode.value} output",
                "leave output_mode out: the traced forward decides it",
            )
    config = _config(parsed, traced, Task(task))
    model = RNNModel(config)
    with torch.no_grad():
        if parsed.embedding is not None:
            assert model.embedding is not None
            model.embedding.weight.copy_(parsed.embedding[1].weight)
        _copy_rnn_weights(parsed.rnns, model)
        if parsed.linear is not None:
            assert model.head is not None
            linear = parsed.linear[1]
            model.head.weight.copy_(linear.weight)
            if linear.bias is not None:
                model.head.bias.copy_(linear.bias)
            else:
                model.head.bias.zero_()
    return model.eval()


def _check_calls(parsed: _Parsed, traced: Traced) -> None:
    """Every weight-carrying layer is used by forward, and each exactly once."""
    layers = [p for p in (parsed.embedding, parsed.linear) if p is not None] + parsed.rnns
    for path, layer in layers:
        count = traced.modules.count(path)
        if count != 1:
            raise UnsupportedModelError(
                f"layer '{path}' ({type(layer).__name__}) is called {count} times by forward",
                "call each Embedding/RNN/Linear layer exactly once",
            )


def _parse(module: nn.Module) -> _Parsed:
    if isinstance(module, nn.RNNBase):
        leaves: list[tuple[str, nn.Module]] = [("<root>", module)]
    else:
        leaves = []
        for path, sub in module.named_modules():
            own = [name for name, _ in sub.named_parameters(recurse=False)]
            if any(True for _ in sub.children()):
                # A container's own parameters would be used by its forward(), which we don't read.
                if own:
                    raise UnsupportedModelError(
                        f"module '{path or '<root>'}' ({type(sub).__name__}) has its own parameters {own}",
                        "keep all weights inside Embedding/GRU/LSTM/RNN/Linear layers",
                    )
                continue
            leaves.append((path or "<root>", sub))
    parsed = _Parsed(None, [], None)
    for path, leaf in leaves:
        if isinstance(leaf, _IGNORED):
            continue
        where = f"layer '{path}' ({type(leaf).__name__})"
        if isinstance(leaf, nn.Embedding):
            if parsed.embedding is not None or parsed.rnns or parsed.linear is not None:
                raise UnsupportedModelError(f"{where} is out of place", _LAYOUT)
            if leaf.max_norm is not None:
                raise UnsupportedModelError(
                    f"{where} uses max_norm={leaf.max_norm} (rows renormalized at lookup): not supported",
                    "renormalize the weight once and set max_norm=None",
                )
            parsed.embedding = (path, leaf)
        elif isinstance(leaf, (nn.RNN, nn.GRU, nn.LSTM)):
            if parsed.linear is not None:
                raise UnsupportedModelError(f"{where} comes after the Linear head", _LAYOUT)
            _check_rnn(path, leaf)
            parsed.rnns.append((path, leaf))
        elif isinstance(leaf, nn.Linear):
            if not parsed.rnns or parsed.linear is not None:
                raise UnsupportedModelError(f"{where} is out of place", _LAYOUT)
            parsed.linear = (path, leaf)
        elif isinstance(module, nn.RNNBase) or not _has_forward(module):
            raise UnsupportedModelError(f"{where} is not supported", _LAYOUT)
        # else: any other layer is refused by the trace where forward calls it, naming the line
    if not parsed.rnns:
        raise UnsupportedModelError(f"{type(module).__name__} has no GRU, LSTM or RNN layer", _LAYOUT)
    return parsed


def _has_forward(module: nn.Module) -> bool:
    return type(module).forward is not nn.Module.forward


def _cell(rnn: nn.RNNBase) -> CellType:
    return next(cell for cls, cell in _CELLS.items() if isinstance(rnn, cls))


def _check_rnn(path: str, rnn: nn.RNNBase) -> None:
    where = f"layer '{path}' ({type(rnn).__name__})"
    if getattr(rnn, "proj_size", 0):
        raise UnsupportedModelError(
            f"{where} uses proj_size={rnn.proj_size}", "use an LSTM without projection (proj_size=0)"
        )


def _nonlinearity(rnn: nn.RNNBase) -> Activation:
    return Activation(rnn.nonlinearity) if isinstance(rnn, nn.RNN) else Activation.TANH


def _config(parsed: _Parsed, traced: Traced, task: Task) -> ModelConfig:
    first_path, first = parsed.rnns[0]
    cell, hidden, bidirectional = _cell(first), first.hidden_size, first.bidirectional
    directions = 2 if bidirectional else 1
    expected_input = parsed.embedding[1].embedding_dim if parsed.embedding is not None else first.input_size
    layers = 0
    for path, rnn in parsed.rnns:
        where = f"layer '{path}' ({type(rnn).__name__})"
        if _cell(rnn) is not cell:
            raise UnsupportedModelError(
                f"{where} mixes cell kinds with '{first_path}' ({type(first).__name__})",
                "use one cell kind for the whole stack",
            )
        if _nonlinearity(rnn) is not _nonlinearity(first):
            raise UnsupportedModelError(
                f"{where} uses nonlinearity='{rnn.nonlinearity}' but '{first_path}' '{first.nonlinearity}'",
                "use one nonlinearity for the whole stack",
            )
        if rnn.hidden_size != hidden or rnn.bidirectional != bidirectional:
            raise UnsupportedModelError(
                f"{where} has hidden_size={rnn.hidden_size}, bidirectional={rnn.bidirectional} but "
                f"'{first_path}' has hidden_size={hidden}, bidirectional={bidirectional}",
                "every layer of the stack needs the same size and direction",
            )
        if rnn.input_size != expected_input:
            raise UnsupportedModelError(
                f"{where} has input_size={rnn.input_size} but its input is {expected_input} wide"
            )
        expected_input = hidden * directions
        layers += rnn.num_layers
    if layers > MAX_LAYERS:
        raise UnsupportedModelError(
            f"the model has {layers} recurrent layers in total", f"use 1 to {MAX_LAYERS} stacked layers"
        )
    output_size = None
    if parsed.linear is not None:
        path, linear = parsed.linear
        if linear.in_features != hidden * directions:
            raise UnsupportedModelError(
                f"layer '{path}' (Linear) has in_features={linear.in_features} but the recurrent "
                f"output is {hidden * directions} wide"
            )
        output_size = linear.out_features
    if parsed.embedding is not None:
        emb = parsed.embedding[1]
        inputs: dict[str, int] = {"vocab_size": emb.num_embeddings, "embedding_dim": emb.embedding_dim}
    else:
        inputs = {"input_size": first.input_size}
    return ModelConfig(
        cell,
        hidden,
        layers,
        bidirectional,
        output_size=output_size,
        output_mode=traced.output_mode,
        task=task,
        readout=traced.readout,
        head_activation=traced.head_activation,
        nonlinearity=_nonlinearity(first),
        **inputs,
    )


def _copy_rnn_weights(rnns: list[tuple[str, nn.RNNBase]], model: RNNModel) -> None:
    """Copy layer by layer; several single modules become consecutive layers of one stack."""
    target = dict(model.rnn.named_parameters())
    offset = 0
    for _, rnn in rnns:
        source = dict(rnn.named_parameters())
        for layer in range(rnn.num_layers):
            for suffix in ("", "_reverse") if rnn.bidirectional else ("",):
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    dst = target[f"{kind}_l{layer + offset}{suffix}"]
                    src = source.get(f"{kind}_l{layer}{suffix}")
                    if src is None:  # bias=False
                        dst.zero_()
                    else:
                        dst.copy_(src)
        offset += rnn.num_layers
