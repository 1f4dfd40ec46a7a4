"""Architecture description shared by the PyTorch models, checkpoints and the IR.

numpy-free and torch-free on purpose: every layer of edgernn can import it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from edgernn.errors import ModelFileError, UnsupportedModelError

#: Field metadata: leave the field out of files and hashes while it holds its default.
OMIT_DEFAULT = {"omit_default": True}


class CellType(str, enum.Enum):
    """Recurrent cell kinds, with PyTorch semantics."""

    RNN = "rnn"  # Elman RNN, tanh (or ReLU: ModelConfig.nonlinearity)
    GRU = "gru"  # reset gate applied after the hidden matmul (PyTorch / linear_before_reset=1)
    LSTM = "lstm"

    @property
    def gates(self) -> int:
        """Number of gate blocks stacked in PyTorch's weight_ih / weight_hh."""
        return {CellType.RNN: 1, CellType.GRU: 3, CellType.LSTM: 4}[self]

    @property
    def int16_state(self) -> bool:
        """Whether the integer cell carries a second, int16 state beside its int8 hidden state:
        the LSTM's cell state, the GRU's hidden state at Q0.15 (its memory, which an int8 state
        would round away when the update gate is near 1). The Elman cell has none: its state is
        recomputed from scratch every step, not accumulated."""
        return self is not CellType.RNN


class OutputMode(str, enum.Enum):
    """Where the head reads the recurrent stack."""

    LAST = "last"  # many-to-one: the final hidden state of each direction
    SEQUENCE = "sequence"  # many-to-many: every time step


class Readout(str, enum.Enum):
    """What a many-to-one (``OutputMode.LAST``) model's head reads of the top layer's output
    (``docs/import.md``). The three agree for a unidirectional model except ``MEAN``."""

    FINAL_STATE = "final_state"  # PyTorch's h_n: each direction's final hidden state
    LAST_OUTPUT = "last_output"  # output[:, -1]: the backward half has seen only the last step
    MEAN = "mean"  # output.mean(1): the mean of the top layer's output over the steps


class Activation(str, enum.Enum):
    """An elementwise function: the Elman cell's nonlinearity, or one between the RNN and the head."""

    NONE = "none"
    TANH = "tanh"
    RELU = "relu"


class Task(str, enum.Enum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


MAX_LAYERS = 4

# How training draws a new model's recurrent weights (edgernn.models.init); the first is the default.
INIT_SCHEMES = ("lecun-orthogonal", "torch")

#: Where generated C can be built for: the host, bare-metal Cortex-M cores, Raspberry Pi (64/32-bit).
EXPORT_TARGETS = (
    "host",
    "cortex-m0",
    "cortex-m3",
    "cortex-m4",
    "cortex-m7",
    "cortex-m33",
    "cortex-m55",
    "aarch64",
    "cortex-a76",
    "armv7",
)


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of one edgernn model.

    Input is either ``input_size`` float features per step, or token ids in
    ``[0, vocab_size)`` looked up in an embedding of width ``embedding_dim``.
    ``output_size`` of ``None`` means no dense head: the output is the hidden state.
    """

    cell: CellType
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    input_size: int | None = None
    vocab_size: int | None = None
    embedding_dim: int | None = None
    output_size: int | None = None
    output_mode: OutputMode = OutputMode.LAST
    task: Task = Task.CLASSIFICATION
    #: The fields below are written only when they differ from their defaults, so every model
    #: without them keeps its files and hashes (``OMIT_DEFAULT``).
    readout: Readout = field(default=Readout.FINAL_STATE, metadata=OMIT_DEFAULT)
    head_activation: Activation = field(default=Activation.NONE, metadata=OMIT_DEFAULT)
    nonlinearity: Activation = field(default=Activation.TANH, metadata=OMIT_DEFAULT)  # Elman only

    def __post_init__(self) -> None:
        object.__setattr__(self, "cell", CellType(self.cell))
        object.__setattr__(self, "output_mode", OutputMode(self.output_mode))
        object.__setattr__(self, "task", Task(self.task))
        object.__setattr__(self, "readout", Readout(self.readout))
        object.__setattr__(self, "head_activation", Activation(self.head_activation))
        object.__setattr__(self, "nonlinearity", Activation(self.nonlinearity))
        if self.nonlinearity is not Activation.TANH and (
            self.cell is not CellType.RNN or self.nonlinearity is not Activation.RELU
        ):
            raise UnsupportedModelError(
                f"nonlinearity={self.nonlinearity.value} with a {self.cell.value} cell",
                "only the Elman RNN takes nonlinearity 'relu'; GRU and LSTM use their own gates",
            )
        if self.output_mode is OutputMode.SEQUENCE and self.readout is not Readout.FINAL_STATE:
            raise UnsupportedModelError(
                f"readout={self.readout.value} with output_mode=sequence",
                "a readout applies to many-to-one (output_mode=last) models only",
            )
        _require_positive("num_layers", self.num_layers)
        if not 1 <= self.num_layers <= MAX_LAYERS:
            raise UnsupportedModelError(
                f"num_layers={self.num_layers} is not supported",
                f"use 1 to {MAX_LAYERS} stacked layers",
            )
        _require_positive("hidden_size", self.hidden_size)
        tokens = self.vocab_size is not None
        if tokens:
            _require_positive("vocab_size", self.vocab_size)
            _require_positive("embedding_dim", self.embedding_dim)
            if self.input_size is not None:
                raise UnsupportedModelError(
                    "a model takes either float features (input_size) or tokens (vocab_size), not both"
                )
        else:
            _require_positive("input_size", self.input_size)
            if self.embedding_dim is not None:
                raise UnsupportedModelError("embedding_dim is set but vocab_size is not")
        if self.output_size is not None:
            _require_positive("output_size", self.output_size)

    @property
    def uses_tokens(self) -> bool:
        return self.vocab_size is not None

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def rnn_input_size(self) -> int:
        """Width of the first recurrent layer's input."""
        size = self.embedding_dim if self.uses_tokens else self.input_size
        assert size is not None
        return size

    def layer_input_size(self, layer: int) -> int:
        return self.rnn_input_size if layer == 0 else self.hidden_size * self.num_directions

    @property
    def output_width(self) -> int:
        """Width of the model's output per step (the head's, or the concatenated hidden)."""
        return self.output_size if self.output_size is not None else self.hidden_size * self.num_directions

    @property
    def params(self) -> int:
        """Number of float parameters (PyTorch convention: both bias vectors counted)."""
        g, h = self.cell.gates, self.hidden_size
        total = 0
        for layer in range(self.num_layers):
            per_dir = g * h * (self.layer_input_size(layer) + h) + 2 * g * h
            total += per_dir * self.num_directions
        if self.uses_tokens:
            total += self.vocab_size * self.embedding_dim  # type: ignore[operator]
        if self.output_size is not None:
            total += self.output_size * (h * self.num_directions + 1)
        return total

    @property
    def macs_per_step(self) -> int:
        """Multiply-accumulates per time step: G*H*(I+H) per layer and direction, plus the head."""
        g, h = self.cell.gates, self.hidden_size
        macs = sum(g * h * (self.layer_input_size(layer) + h) * self.num_directions for layer in range(self.num_layers))
        if self.output_size is not None:
            macs += self.output_size * h * self.num_directions
        return macs

    @property
    def is_default_readout(self) -> bool:
        """Whether the model computes what every edgernn backend and export computed before readouts
        and head activations existed: ``h_n`` for many-to-one (or any readout of a unidirectional
        model that equals it) and no activation before the head."""
        same = self.readout is Readout.FINAL_STATE or (self.readout is Readout.LAST_OUTPUT and not self.bidirectional)
        return same and self.head_activation is Activation.NONE

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for f in fields(self):
            if f.metadata.get("omit_default") and d[f.name] == f.default:
                del d[f.name]
        return {k: v.value if isinstance(v, enum.Enum) else v for k, v in d.items()}

    @classmethod
    def from_json(cls, d: Any) -> ModelConfig:
        if not isinstance(d, dict):
            raise ModelFileError("the model configuration is not a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ModelFileError(
                f"the model configuration has unknown fields {sorted(unknown)}",
                "it was written by a newer edgernn; upgrade edgernn",
            )
        if not isinstance(d.get("bidirectional", False), bool):
            raise ModelFileError(f"the model configuration's bidirectional is {d['bidirectional']!r}, not true/false")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"the model configuration is invalid ({exc})") from None


def _require_positive(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UnsupportedModelError(f"{name} must be a positive integer, got {value!r}")
