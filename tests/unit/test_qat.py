"""Quantization-aware training: fake-quant ops, the training view against the integer reference, --qat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edgernn.cli import cli
from edgernn.data import Normalization, SequenceData
from edgernn.errors import EdgeRNNError
from edgernn.metrics import int8_loss_exceeds
from edgernn.models import RNNModel, TrainConfig, train
from edgernn.models import training as training_module
from edgernn.models.qat import (
    ActivationQuant,
    QATConfig,
    _weight,
    calibrate_activations,
    calibration_inputs,
    fake_quant,
    fake_quant_forward,
)
from edgernn.models.training import _collate
from edgernn.quant import QuantizeOptions
from edgernn.quant.from_torch import quantize
from edgernn.quant.quantizer import quantize_weight
from edgernn.runtime import predict as int8_predict
from edgernn.types import CellType, ModelConfig, OutputMode, Readout, Task


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _sign_data(n: int = 160, seed: int = 0, max_len: int = 12) -> SequenceData:
    """Label = whether the first step's features sum above zero (must be remembered)."""
    rng = np.random.default_rng(seed)
    seqs = tuple(rng.normal(size=(int(t), 3)).astype(np.float32) for t in rng.integers(3, max_len, size=n))
    labels = np.array([int(s[0].sum() > 0) for s in seqs])
    return SequenceData(seqs, labels, Task.CLASSIFICATION, False, "sign")


# --------------------------------------------------------------------------- fake-quant ops


def test_fake_quant_rounds_to_the_grid_with_straight_through_gradients() -> None:
    x = torch.tensor([-3.0, -0.26, -0.1, 0.0, 0.12, 0.37, 0.49, 2.0], requires_grad=True)
    y = fake_quant(x, 0.25, -2, 1)  # grid 0.25, range [-0.5, 0.25]
    assert y.tolist() == [-0.5, -0.25, 0.0, 0.0, 0.0, 0.25, 0.25, 0.25]
    y.sum().backward()
    # Identity inside the range (rounding is transparent), zero where the clamp is active.
    assert x.grad is not None and x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("per_row", [False, True])
def test_fake_weights_equal_the_quantizers(per_row: bool) -> None:
    w = torch.from_numpy(np.random.default_rng(3).normal(size=(6, 5)).astype(np.float32))
    fake, scale = _weight(w, per_row)
    q, q_scale = quantize_weight(w.numpy(), per_row)
    np.testing.assert_allclose(scale.numpy(), q_scale, rtol=1e-6)
    np.testing.assert_allclose(fake.detach().numpy(), q * q_scale[:, None], rtol=1e-6, atol=1e-7)


def test_ptq_loss_threshold() -> None:
    assert int8_loss_exceeds("accuracy", 0.90, 0.894) and not int8_loss_exceeds("accuracy", 0.90, 0.896)
    assert int8_loss_exceeds("MAE", 1.0, 1.03) and not int8_loss_exceeds("MAE", 1.0, 1.01)
    # exactly the threshold is within it, whatever binary rounding does to the difference of two ratios
    assert not int8_loss_exceeds("accuracy", 457 / 600, 454 / 600)
    assert int8_loss_exceeds("accuracy", 457 / 600, 453 / 600)
    with pytest.raises(EdgeRNNError, match="invalid QAT mode"):
        QATConfig(mode="sometimes")


# --------------------------------------------------------------------------- the training view vs int8

_CASES = [
    pytest.param(ModelConfig(CellType.LSTM, 12, input_size=3, output_size=2), id="lstm"),
    pytest.param(ModelConfig(CellType.GRU, 12, input_size=3, output_size=2), id="gru"),
    pytest.param(ModelConfig(CellType.RNN, 12, input_size=3, output_size=2), id="elman"),
    pytest.param(
        ModelConfig(CellType.GRU, 8, input_size=3, output_size=2, num_layers=2, bidirectional=True), id="gru-2x-bi"
    ),
    pytest.param(
        ModelConfig(CellType.LSTM, 8, input_size=3, output_size=2, output_mode=OutputMode.SEQUENCE), id="lstm-seq"
    ),
    pytest.param(ModelConfig(CellType.GRU, 12, input_size=3, output_size=2, readout=Readout.MEAN), id="gru-mean"),
    pytest.param(
        ModelConfig(CellType.LSTM, 8, input_size=3, output_size=2, bidirectional=True, readout=Readout.MEAN),
        id="lstm-bi-mean",
    ),
]


def _model(config: ModelConfig, seed: int = 0) -> RNNModel:
    torch.manual_seed(seed)
    model = RNNModel(config).eval()
    with torch.no_grad():  # larger than PyTorch's init, so gates use their range
        for p in model.parameters():
            p.mul_(2.5)
    return model


def _per_step(data: SequenceData) -> SequenceData:
    labels = tuple((s[:, 0] > 0).astype(np.int64) for s in data.sequences)
    return SequenceData(data.sequences, labels, Task.CLASSIFICATION, True, data.name)


@pytest.mark.parametrize("config", _CASES)
def test_calibration_equals_the_quantizers(config: ModelConfig) -> None:
    """The ranges QAT trains with are those post-training quantization will choose."""
    data = _sign_data(40)
    if config.output_mode is OutputMode.SEQUENCE:
        data = _per_step(data)
    model = _model(config)
    norm = Normalization.fit(data)
    options = QuantizeOptions(max_calibration_sequences=25)  # a subset of the 40: the same one
    inputs = calibration_inputs([norm.apply(s) for s in data.sequences], options)
    ours = calibrate_activations(model, inputs, options, batch_size=16)
    theirs = ActivationQuant.of(quantize(model, data, normalization=norm, options=options))
    for a, b in zip((ours.input_q, *ours.hidden_q, ours.output_q), (theirs.input_q, *theirs.hidden_q, theirs.output_q)):
        assert a is not None and b is not None
        assert a.zero_point == b.zero_point and a.scale == pytest.approx(b.scale, rel=1e-5)
    assert ours.cell_scale_power == theirs.cell_scale_power
    assert ours.reset_hidden_scale == pytest.approx(theirs.reset_hidden_scale, rel=1e-5)


@pytest.mark.parametrize("cell", list(CellType))
def test_regression_head_trains_against_its_int16_output(cell: CellType) -> None:
    """A regression head's output is int16 (QuantizeOptions.head_output_bits): QAT calibrates the
    quantizer's int16 output quantization and its forward rounds to that grid, within one int16 step
    of the integer reference wherever the int8 hidden values agree (most rows)."""
    base = _sign_data(40)
    data = SequenceData(
        base.sequences, np.array([s[0].sum() for s in base.sequences], np.float32), Task.REGRESSION, False, "sum"
    )
    config = ModelConfig(cell, 12, input_size=3, output_size=1, task=Task.REGRESSION)
    model = _model(config)
    norm = Normalization.fit(data)
    options = QuantizeOptions(max_calibration_sequences=25)
    ours = calibrate_activations(model, calibration_inputs([norm.apply(s) for s in data.sequences], options), options)
    q = quantize(model, data, normalization=norm, options=options)
    assert q.output_bits == 16 and ours.output_bits == 16 and ActivationQuant.of(q).output_bits == 16
    assert ours.output_q is not None and ours.output_q.zero_point == 0
    assert ours.output_q.scale == pytest.approx(q.output_q.scale, rel=1e-5)
    # ... and reads a 16-bit input (QuantizeOptions.input_bits): the same symmetric int16 grid in training
    assert q.input_bits == 16 and ours.input_bits == 16 and ActivationQuant.of(q).input_bits == 16
    assert ours.input_q.zero_point == 0 and ours.input_q.scale == pytest.approx(q.input_q.scale, rel=1e-5)
    x, lengths = _collate([norm.apply(s) for s in data.sequences], np.arange(len(data)))
    with torch.no_grad():
        fake = fake_quant_forward(model, x, lengths, ActivationQuant.of(q)).numpy()[:, 0]
    steps = fake / q.output_q.scale
    assert np.abs(steps - np.round(steps)).max() < 1e-2  # on the int16 grid (float32 products)
    ref = np.stack(int8_predict(q, data.sequences))[:, 0]
    # measured 0.78-0.98 over the cells; the rest follow a 1-step difference of an int8 hidden value
    assert np.mean(np.abs(fake - ref) <= 1.01 * q.output_q.scale) >= 0.7


def _agreement(model: RNNModel, data: SequenceData, norm: Normalization) -> tuple[float, float]:
    """(argmax agreement, fraction of outputs within 1 int8 step) of the fake-quantized forward and
    the integer reference of the quantized model, on ``data``."""
    q = quantize(model, data, normalization=norm)
    x, lengths = _collate([norm.apply(s) for s in data.sequences], np.arange(len(data)))
    with torch.no_grad():
        fake = fake_quant_forward(model, x, lengths, ActivationQuant.of(q)).numpy()
    ref = int8_predict(q, data.sequences)
    if model.config.output_mode is OutputMode.SEQUENCE:
        fake = np.concatenate([fake[i, :n] for i, n in enumerate(data.lengths)])
    ref_arr = np.concatenate(ref) if model.config.output_mode is OutputMode.SEQUENCE else np.stack(ref)
    close = np.abs(fake - ref_arr) <= 1.01 * q.output_q.scale
    return float(np.mean(fake.argmax(-1) == ref_arr.argmax(-1))), float(close.mean())


@pytest.mark.parametrize("config", _CASES)
def test_fake_quant_forward_matches_the_integer_reference(config: ModelConfig) -> None:
    data = _sign_data(48)
    if config.output_mode is OutputMode.SEQUENCE:
        data = _per_step(data)
    agree, close = _agreement(_model(config), data, Normalization.fit(data))
    # The remaining differences: the LUT sigmoid/tanh (a few Q0.15 steps from the exact ones) and
    # Q31 multipliers, which flip an int8 rounding now and then.
    assert agree >= 0.95 and close >= 0.95, (agree, close)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_qat_trained_model_agrees_with_its_int8_model(cell: str) -> None:
    data = _sign_data(160)
    config = ModelConfig(CellType(cell), 12, input_size=3, output_size=2)
    qat = QATConfig(epochs=2) if cell != "rnn" else True  # True: the default QATConfig (5 epochs)
    result = train(data, config, TrainConfig(epochs=4, learning_rate=0.02), progress=False, qat=qat)
    assert result.qat == "on" and result.qat_history is not None
    assert len(result.qat_history) == (3 if cell != "rnn" else 6)
    assert result.ptq_val_metric is not None and result.float_val_metric is not None
    assert result.qat_best_epoch is not None and 0 <= result.qat_best_epoch < len(result.qat_history)
    agree, close = _agreement(result.model, data.subset(range(60)), result.normalization)
    assert agree >= 0.95 and close >= 0.95, (agree, close)


def test_qat_auto_runs_only_when_int8_loses(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _sign_data(96)
    config = ModelConfig(CellType.GRU, 8, input_size=3, output_size=2)
    tc = TrainConfig(epochs=2, learning_rate=0.02)
    monkeypatch.setattr(training_module, "int8_loss_exceeds", lambda *args: False)
    skipped = train(data, config, tc, progress=False, qat=QATConfig(mode="auto", epochs=1))
    assert skipped.qat.startswith("auto: skipped") and skipped.qat_history is None
    assert skipped.ptq_val_metric is not None and skipped.ptq_val_metric.name == "accuracy"
    monkeypatch.setattr(training_module, "int8_loss_exceeds", lambda *args: True)
    ran = train(data, config, tc, progress=False, qat=QATConfig(mode="auto", epochs=1))
    assert ran.qat.startswith("auto: ran") and ran.qat_history is not None and len(ran.qat_history) == 2
    # The float phase is the same training: only QAT differs.
    assert skipped.float_val_metric == ran.float_val_metric


def test_qat_keeps_float_weights_when_fine_tuning_does_not_help() -> None:
    data = _sign_data(160)
    config = ModelConfig(CellType.LSTM, 8, input_size=3, output_size=2)
    tc = TrainConfig(epochs=8, learning_rate=0.02)
    float_only = train(data, config, tc, progress=False)
    # A learning rate this large wrecks the weights, so the float weights (epoch 0) are kept.
    result = train(data, config, tc, progress=False, qat=QATConfig(epochs=1, learning_rate=50.0))
    assert result.qat_history is not None
    start, wrecked = result.qat_history[0], result.qat_history[1]
    # Not better by the early-stopping rule (training.improves): lower accuracy, or equal with a higher loss.
    assert wrecked["val_accuracy"] < start["val_accuracy"] or (
        wrecked["val_accuracy"] == start["val_accuracy"] and wrecked["val_loss"] > start["val_loss"]
    )
    assert result.qat_best_epoch == 0 and result.val_metric.value == result.qat_history[0]["val_accuracy"]
    sa, sb = float_only.model.state_dict(), result.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# --------------------------------------------------------------------------- the command line


def test_train_qat_end_to_end(tmp_path: Path) -> None:
    data = _sign_data(90)
    lengths = data.lengths
    path = tmp_path / "sign.npz"
    np.savez(path, X=np.concatenate(data.sequences), lengths=lengths, y=data.targets)
    ckpt, model = tmp_path / "m.safetensors", tmp_path / "m.ernn"
    runner = CliRunner()
    args = ["train", "--data", path, "--hidden", 8, "--epochs", 3, "--lr", 0.02, "--no-progress"]
    r = runner.invoke(cli, [str(a) for a in [*args, "--qat", "--qat-epochs", 1, "-o", ckpt]], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "QAT 1 epochs: int8 training view on validation" in r.output and f"wrote {ckpt}" in r.output
    r = runner.invoke(cli, ["quantize", str(ckpt), "--data", str(path), "-o", str(model), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["metric"] == "accuracy" and model.is_file()
    r = runner.invoke(cli, [str(a) for a in [*args, "--qat", "auto", "-o", tmp_path / "auto.safetensors"]])
    assert r.exit_code == 0, r.output
    assert "post-training int8 on the validation split: accuracy" in r.output
    r = runner.invoke(cli, [str(a) for a in [*args, "--qat", "sometimes", "-o", tmp_path / "x.safetensors"]])
    assert r.exit_code != 0 and "sometimes" in r.output and not (tmp_path / "x.safetensors").exists()


def test_qat_on_large_regression_targets_keeps_data_units() -> None:
    """QAT fine-tunes the folded head (data units) with the loss still in standardized units."""
    from edgernn.data import split
    from tests.unit.test_training import _large_target_data

    train_set, val_set, test_set = split(_large_target_data(), seed=0)
    config = ModelConfig(CellType.LSTM, 16, input_size=2, output_size=1, task=Task.REGRESSION)
    result = train(train_set, config, TrainConfig(epochs=20, learning_rate=0.01), val_set, False, QATConfig(epochs=2))
    assert result.qat_history is not None and result.target_scaling is not None
    assert result.float_val_metric is not None and result.val_metric.value < 1.5 * result.float_val_metric.value
    q = quantize(result.model, train_set, normalization=result.normalization)
    int8 = np.stack(int8_predict(q, test_set.sequences))[:, 0]
    naive = float(np.abs(test_set.targets - train_set.targets.mean()).mean())
    assert float(np.abs(int8 - test_set.targets).mean()) < 0.35 * naive


def test_qat_selection_breaks_accuracy_ties_by_validation_loss() -> None:
    from edgernn.metrics import Metric
    from edgernn.models.qat import fine_tune

    data = _sign_data(20)
    model = _model(ModelConfig(CellType.GRU, 4, input_size=3, output_size=2))
    scores = iter([(0.9, 0.50), (0.9, 0.40), (0.9, 0.45), (0.85, 0.10)])  # epochs 0..3

    def train_epoch(m: RNNModel, forward: object, optimizer: torch.optim.Optimizer, order: np.ndarray) -> float:
        with torch.no_grad():
            m.head.weight.add_(1.0)  # type: ignore[union-attr]  # mark the epoch in the weights
        return 0.1

    def evaluate_forward(m: RNNModel, forward: object) -> tuple[Metric, float]:
        value, loss = next(scores)
        return Metric("accuracy", value, True), loss

    tc = TrainConfig()
    result = fine_tune(
        model, data, Normalization.fit(data), QATConfig(epochs=3), 1e-3, tc, train_epoch, evaluate_forward, False
    )
    assert result.best_epoch == 1 and result.val_metric.value == 0.9
    assert torch.equal(result.model.head.weight, model.head.weight + 1.0)  # type: ignore[union-attr,operator]
    assert [h["val_loss"] for h in result.history] == [0.5, 0.4, 0.45, 0.1]


def test_qat_refuses_a_cell_clip() -> None:
    """The fake-quantized forward does not clip the cell state, so a clipped QAT would train one model
    and export another."""
    with pytest.raises(EdgeRNNError, match="cell clip"):
        QATConfig(quantize=QuantizeOptions(cell_clip=1.0))
    assert QATConfig(quantize=QuantizeOptions()).quantize.cell_clip == 0.0


@pytest.mark.parametrize(
    "semantics",
    [
        {"readout": "last_output", "bidirectional": True},
        {"readout": "mean", "head_activation": "relu"},
        {"head_activation": "relu"},
        {"head_activation": "tanh"},
        {"cell": CellType.RNN, "nonlinearity": "relu"},
    ],
)
def test_qat_refuses_semantics_it_does_not_model(semantics: dict[str, object]) -> None:
    """fake_quant_forward computes the head on h_n or the mean over time of a tanh model: anything
    else is refused, not fine-tuned on the wrong function (post-training quantization handles it)."""
    config = ModelConfig(**{"cell": CellType.GRU, "hidden_size": 6, "input_size": 3, "output_size": 2, **semantics})
    with pytest.raises(EdgeRNNError, match="quantization-aware training does not model"):
        train(_sign_data(32), config, TrainConfig(epochs=1), progress=False, qat=QATConfig(epochs=1))
