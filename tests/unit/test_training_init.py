"""Training defaults for long univariate series: the recurrent weights' start (edgernn.models.init),
the warning when training ends at chance, and the readout choice of ``edgernn train``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edgernn.cli import cli
from edgernn.data import SequenceData
from edgernn.errors import EdgeRNNError
from edgernn.metrics import Metric
from edgernn.models import RNNModel, TrainConfig, load_checkpoint, train
from edgernn.models.init import initialize
from edgernn.models.training import chance_warning
from edgernn.pipeline import describe_training
from edgernn.types import CellType, ModelConfig, OutputMode, Readout, Task


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _model(cell: CellType, input_size: int = 1, hidden: int = 16, **kw: object) -> RNNModel:
    return RNNModel(ModelConfig(cell, hidden, input_size=input_size, output_size=2, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", list(CellType))
def test_lecun_orthogonal_start(cell: CellType) -> None:
    torch.manual_seed(0)
    model = _model(cell, input_size=3, num_layers=2, bidirectional=True)
    initialize(model.rnn, cell, "lecun-orthogonal")
    h = model.config.hidden_size
    params = dict(model.rnn.named_parameters())
    for name, p in params.items():
        if name.startswith("weight_ih"):
            fan_in = p.shape[1]  # 3 in layer 0; 2 * h (both directions) above
            bound = np.sqrt(3.0 / fan_in)
            assert float(p.detach().abs().max()) <= bound and float(p.detach().abs().max()) > 0.8 * bound
            assert abs(float(p.detach().std()) - np.sqrt(1.0 / fan_in)) < 0.15 * np.sqrt(1.0 / fan_in)
        elif name.startswith("weight_hh"):
            for gate in range(0, p.shape[0], h):
                block = p[gate : gate + h].double()
                assert torch.allclose(block @ block.T, torch.eye(h, dtype=torch.float64), atol=1e-5)
        else:
            forget = cell is CellType.LSTM and name.startswith("bias_ih")
            expected = torch.zeros_like(p)
            if forget:
                expected[h : 2 * h] = 1.0
            assert torch.equal(p, expected), name


def test_torch_scheme_keeps_pytorch_weights_and_unknown_is_refused() -> None:
    model = _model(CellType.GRU)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    initialize(model.rnn, CellType.GRU, "torch")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(EdgeRNNError, match="unknown init scheme"):
        initialize(model.rnn, CellType.GRU, "xavier")
    with pytest.raises(EdgeRNNError, match="init="):
        TrainConfig(init="xavier")


def _noise(n: int = 48, steps: int = 20, seed: int = 0, classes: int = 2) -> SequenceData:
    """Labels unrelated to the inputs: nothing to learn, so accuracy stays at chance."""
    rng = np.random.default_rng(seed)
    seqs = tuple(rng.normal(size=(steps, 1)).astype(np.float32) for _ in range(n))
    return SequenceData(seqs, np.arange(n) % classes, Task.CLASSIFICATION, False, "noise")


def test_train_starts_from_the_chosen_scheme() -> None:
    # A vanishing learning rate leaves the start visible: PyTorch draws the LSTM's forget bias from
    # U(-1/sqrt(H), 1/sqrt(H)); the default scheme sets it to exactly 1 (before the change, training
    # never re-drew the weights).
    data, config = _noise(), ModelConfig(CellType.LSTM, 8, input_size=1, output_size=2)
    tiny = dict(epochs=1, batch_size=16, learning_rate=1e-9, patience=None)
    default = train(data, config, TrainConfig(**tiny), progress=False).model  # type: ignore[arg-type]
    forget = default.rnn.bias_ih_l0[8:16].detach()
    assert torch.allclose(forget, torch.ones(8), atol=1e-6)
    pytorch = train(data, config, TrainConfig(**tiny, init="torch"), progress=False).model  # type: ignore[arg-type]
    assert float(pytorch.rnn.bias_ih_l0[8:16].detach().abs().max()) < 1 / np.sqrt(8)


def test_chance_warning() -> None:
    data = SequenceData(
        tuple(np.zeros((3, 1), np.float32) for _ in range(400)),
        np.array([0] * 300 + [1] * 100),
        Task.CLASSIFICATION,
        False,
        "d",
    )
    last = ModelConfig(CellType.GRU, 4, input_size=1, output_size=2)
    at_chance = chance_warning(Metric("accuracy", 0.76, True), data, last, 2.0)  # majority class: 75%
    assert at_chance is not None and "76.00% vs 75.00%" in at_chance and "--readout mean" in at_chance
    # Two standard errors of 75% on 400 labels are 4.3 points: 79% is still luck, 80% is not.
    assert chance_warning(Metric("accuracy", 0.79, True), data, last, 2.0) is not None
    assert chance_warning(Metric("accuracy", 0.80, True), data, last, 2.0) is None
    assert chance_warning(Metric("accuracy", 0.80, True), data, last, 6.0) is not None  # the margin, when wider
    mean = ModelConfig(CellType.GRU, 4, input_size=1, output_size=2, readout=Readout.MEAN)
    assert "--readout" not in (chance_warning(Metric("accuracy", 0.5, True), data, mean, 2.0) or "")
    per_step = SequenceData(
        (np.zeros((3, 1), np.float32), np.zeros((2, 1), np.float32)),
        (np.array([1, 1, 1]), np.array([0, 1])),
        Task.CLASSIFICATION,
        True,
        "p",
    )
    seq = ModelConfig(CellType.GRU, 4, input_size=1, output_size=2, output_mode=OutputMode.SEQUENCE)
    warning = chance_warning(Metric("accuracy", 0.8, True), per_step, seq, 2.0)  # 4 of 5 steps are class 1
    assert warning is not None and "--readout" not in warning
    elman = ModelConfig(CellType.RNN, 64, input_size=1, output_size=2, readout=Readout.MEAN)
    elman_tip = chance_warning(Metric("accuracy", 0.5, True), data, elman, 2.0) or ""
    assert "a lower --lr (an Elman state saturates" in elman_tip and "another --lr" not in elman_tip
    assert "another --lr" in (chance_warning(Metric("accuracy", 0.5, True), data, mean, 2.0) or "")
    regression = SequenceData(data.sequences, np.zeros(400, np.float32), Task.REGRESSION, False, "r")
    assert chance_warning(Metric("MAE", 1.0, False), regression, last, 2.0) is None


def test_training_at_chance_says_so() -> None:
    result = train(
        _noise(),
        ModelConfig(CellType.GRU, 4, input_size=1, output_size=2),
        TrainConfig(epochs=1, batch_size=16, learning_rate=1e-9, patience=None),
        validation=_noise(seed=1),
        progress=False,
    )
    assert len(result.warnings) == 1 and "training ended at chance" in result.warnings[0]
    assert f"warning: {result.warnings[0]}" in describe_training(result)


def test_cli_train_readout_and_init(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = np.concatenate([rng.normal(size=(10, 1)) * (1 + c) for c in y]).astype(np.float32)
    np.savez(tmp_path / "d.npz", X=x, lengths=np.full(40, 10), y=y)
    out = tmp_path / "m.safetensors"
    args = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--hidden", "4", "--no-progress"]
    r = CliRunner().invoke(cli, [*args, "--readout", "mean", "--init", "torch", "-o", str(out)])
    assert r.exit_code == 0, r.output
    ckpt = load_checkpoint(out)
    assert ckpt.model.config.readout is Readout.MEAN and ckpt.training is not None
    assert ckpt.training["init"] == "torch"
