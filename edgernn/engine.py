"""The sequence loop, written once: stacking, directions, output modes, padding masks.

A :class:`Kernels` object supplies the arithmetic of one cell step, the embedding and the head
(integer for the reference, float for the float model); the functions here drive them over
layers and time. Tensors are time-major: ``xs`` is ``(T, *batch, features)`` (or
``(T, *batch)`` token ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edgernn.errors import InputDataError
from edgernn.types import ModelConfig, OutputMode, Readout

Array = npt.NDArray
CellState = tuple[Array, ...]
#: One :data:`CellState` per (layer, direction), layer-major: index ``layer * D + direction``.
ModelState = tuple[CellState, ...]


class Kernels(Protocol):
    config: ModelConfig

    def embed(self, tokens: Array) -> Array: ...

    def zero_state(self, layer: int, batch_shape: tuple[int, ...]) -> CellState: ...

    def cell(self, layer: int, direction: int, x: Array, state: CellState) -> CellState: ...

    def head(self, h: Array) -> Array: ...

    def running_mean(self, hidden: Array) -> Array: ...


def streams(config: ModelConfig) -> bool:
    """Whether a model runs one step at a time: not bidirectional (the backward direction needs the
    whole sequence) and not averaging over time (its output is whole-sequence only, docs/import.md)."""
    return not config.bidirectional and config.readout is not Readout.MEAN


def zero_state(k: Kernels, batch_shape: tuple[int, ...] = ()) -> ModelState:
    cfg = k.config
    return tuple(k.zero_state(layer, batch_shape) for layer in range(cfg.num_layers) for _ in range(cfg.num_directions))


def _input(k: Kernels, x: Array) -> Array:
    return k.embed(x) if k.config.uses_tokens else x


def step(k: Kernels, state: ModelState, x: Array) -> tuple[Array, ModelState]:
    """One time step of a unidirectional model: ``(y_t, state')``."""
    if not streams(k.config):
        raise ValueError("engine.step needs a streaming model; run bidirectional and mean-over-time ones with run()")
    inp = _input(k, x)
    new_state = []
    for layer, cell_state in enumerate(state):
        cell_state = k.cell(layer, 0, inp, cell_state)
        new_state.append(cell_state)
        inp = cell_state[0]
    return k.head(inp), tuple(new_state)


def _keep_padding(mask: Array | None, new: CellState, old: CellState) -> CellState:
    """Past a sequence's end the state stays as it was (so final states are at each true end)."""
    if mask is None:
        return new
    return tuple(np.where(mask[..., None], n, o) for n, o in zip(new, old))


def run_layers(
    k: Kernels, xs: Array, state: ModelState | None = None, lengths: Array | None = None
) -> tuple[Array, ModelState]:
    """Run the recurrent stack over a whole sequence, layer by layer.

    Returns the top layer's hidden outputs per step ``(T, *batch, H*D)`` and the final state
    (forward directions after their last valid step, backward directions after step 0).
    """
    cfg = k.config
    steps = xs.shape[0]
    if steps == 0:
        raise InputDataError("the input sequence is empty", "pass at least one time step")
    batch_shape = tuple(xs.shape[1:-1]) if not cfg.uses_tokens else tuple(xs.shape[1:])
    if state is None:
        state = zero_state(k, batch_shape)
    masks: list[Array | None]
    if lengths is None:
        masks = [None] * steps
    else:
        lengths = np.asarray(lengths)
        masks = [t < lengths for t in range(steps)]
    inputs: Sequence[Array] = [_input(k, xs[t]) for t in range(steps)]
    final: list[CellState] = []
    for layer in range(cfg.num_layers):
        per_direction: list[list[Array]] = []
        for direction in range(cfg.num_directions):
            cell_state = state[layer * cfg.num_directions + direction]
            order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
            outputs: list[Array] = [np.empty(0)] * steps
            for t in order:
                cell_state = _keep_padding(masks[t], k.cell(layer, direction, inputs[t], cell_state), cell_state)
                outputs[t] = cell_state[0]
            final.append(cell_state)
            per_direction.append(outputs)
        if cfg.num_directions == 1:
            inputs = per_direction[0]
        else:
            inputs = [np.concatenate([fw, bw], axis=-1) for fw, bw in zip(*per_direction)]
    return np.stack(inputs), tuple(final)


def run(
    k: Kernels, xs: Array, state: ModelState | None = None, lengths: Array | None = None
) -> tuple[Array, ModelState]:
    """The head applied at every step: ``(T, *batch, out)`` and the final state. For a
    mean-over-time readout the head reads, at step ``t``, the mean of steps ``0..t``."""
    hidden, final = run_layers(k, xs, state, lengths)
    return k.head(step_features(k, hidden)), final


def step_features(k: Kernels, hidden: Array) -> Array:
    """What the head reads at each step: the top layer's output, or its running mean."""
    return k.running_mean(hidden) if k.config.readout is Readout.MEAN else hidden


def final_hidden(k: Kernels, final: ModelState) -> Array:
    """The top layer's final hidden state, directions concatenated (PyTorch's ``h_n``)."""
    d = k.config.num_directions
    return np.concatenate([s[0] for s in final[-d:]], axis=-1)


def sequence_output(k: Kernels, xs: Array, lengths: Array | None = None) -> Array:
    """The model's output for whole sequences, as its :class:`OutputMode` and :class:`Readout` define it.

    ``LAST``: the head once per sequence, ``(*batch, out)``, on the final hidden state
    (``FINAL_STATE``), the top layer's output at the last valid step (``LAST_OUTPUT``) or its mean
    over the valid steps (``MEAN``). ``SEQUENCE``: the head at every step, ``(T, *batch, out)``.
    """
    cfg = k.config
    hidden, final = run_layers(k, xs, None, lengths)
    if cfg.output_mode is OutputMode.SEQUENCE:
        return k.head(hidden)
    if cfg.readout is Readout.FINAL_STATE:
        return k.head(final_hidden(k, final))
    per_step = step_features(k, hidden)
    last = np.full(per_step.shape[1:-1], per_step.shape[0] - 1) if lengths is None else np.asarray(lengths) - 1
    index = np.broadcast_to(last[None, ..., None], (1, *per_step.shape[1:]))
    return k.head(np.take_along_axis(per_step, index.astype(np.int64), axis=0)[0])
