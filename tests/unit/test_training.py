"""edgernn.metrics and edgernn.models.training: metrics, reproducibility, masking, learning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from edgernn.data import Normalization, SequenceData, load_dataset, split
from edgernn.errors import EdgeRNNError, InputDataError
from edgernn.ir import QuantizedRNN
from edgernn.metrics import Metric, task_metric
from edgernn.models import RNNModel, TrainConfig, TrainResult, evaluate, predict, train
from edgernn.models.training import _loss
from edgernn.types import CellType, ModelConfig, OutputMode, Task


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Tiny RNN batches gain nothing from intra-op threads, and OpenMP's spinning workers run
    # ~100x slower while another process holds a core: one thread keeps test times stable.
    # (Bit-reproducibility holds for a fixed thread count; these tests compare within one.)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------- metrics


def test_accuracy_and_mae() -> None:
    outputs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    m = task_metric(Task.CLASSIFICATION, outputs, np.array([1, 0, 0]))
    assert m == Metric("accuracy", 2 / 3, True) and str(m) == "accuracy 66.67%"
    per_step = task_metric(Task.CLASSIFICATION, (outputs[:1], outputs[1:]), (np.array([1]), np.array([0, 1])))
    assert per_step.value == 1.0
    mae = task_metric(Task.REGRESSION, np.array([[1.0], [2.0]]), np.array([1.5, 2.0]))
    assert mae == Metric("MAE", 0.25, False) and str(mae) == "MAE 0.25"
    assert str(Metric("MAE", 0.0123, False)) == "MAE 0.0123"


def test_metric_comparison_and_errors() -> None:
    assert Metric("accuracy", 0.9, True).better_than(Metric("accuracy", 0.8, True))
    assert not Metric("accuracy", 0.8, True).better_than(Metric("accuracy", 0.8, True))
    assert Metric("MAE", 0.1, False).better_than(Metric("MAE", 0.2, False))
    assert Metric("MAE", 0.1, False).better_than(None)
    with pytest.raises(InputDataError, match="2 outputs for 3 targets"):
        task_metric(Task.CLASSIFICATION, np.zeros((2, 2)), np.zeros(3, np.int64))
    with pytest.raises(InputDataError, match="accuracy needs"):
        task_metric(Task.CLASSIFICATION, np.zeros(2), np.zeros(2, np.int64))


# --------------------------------------------------------------------------- synthetic data


def _sign_data(n: int = 64, seed: int = 0) -> SequenceData:
    """Label = whether the features of the first step sum above zero (must be remembered)."""
    rng = np.random.default_rng(seed)
    seqs = tuple(rng.normal(size=(int(t), 2)).astype(np.float32) for t in rng.integers(2, 9, size=n))
    labels = np.array([int(s[0].sum() > 0) for s in seqs])
    return SequenceData(seqs, labels, Task.CLASSIFICATION, False, "sign")


def _gru(**kw: object) -> ModelConfig:
    return ModelConfig(CellType.GRU, 8, **{"input_size": 2, "output_size": 2, **kw})  # type: ignore[arg-type]


def test_training_is_reproducible() -> None:
    data = _sign_data()
    cfg = TrainConfig(epochs=2, batch_size=8, seed=7)
    a = train(data, _gru(), cfg, progress=False)
    b = train(data, _gru(), cfg, progress=False)
    c = train(data, _gru(), TrainConfig(epochs=2, batch_size=8, seed=8), progress=False)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert a.history == [{**h, "seconds": a.history[i]["seconds"]} for i, h in enumerate(b.history)]


def test_training_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    train(_sign_data(16), _gru(), TrainConfig(epochs=1), progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_result_holds_best_weights_and_stops_early() -> None:
    data = _sign_data(200)
    val = _sign_data(60, seed=1)
    result = train(data, _gru(), TrainConfig(epochs=40, patience=2, learning_rate=0.02), val, progress=False)
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 2
    best = result.history[result.best_epoch - 1]["val_accuracy"]
    assert result.val_metric.value == best == max(h["val_accuracy"] for h in result.history)
    assert evaluate(result.model, val, result.normalization) == result.val_metric
    assert result.val_metric.value > 0.85  # the task is learnable
    assert result.normalization is not None and not result.model.training


def test_time_limit() -> None:
    result = train(_sign_data(16), _gru(), TrainConfig(epochs=50, max_minutes=1e-9), progress=False)
    assert result.stop_reason == "time_limit" and len(result.history) == 1


def test_per_step_classification_learns() -> None:
    rng = np.random.default_rng(0)
    seqs = tuple(rng.normal(size=(int(t), 1)).astype(np.float32) for t in rng.integers(3, 12, size=96))
    labels = tuple((s[:, 0] > 0).astype(np.int64) for s in seqs)  # label of each step: its sign
    data = SequenceData(seqs, labels, Task.CLASSIFICATION, True, "steps")
    cfg = ModelConfig(CellType.LSTM, 8, input_size=1, output_size=2, output_mode=OutputMode.SEQUENCE)
    result = train(data, cfg, TrainConfig(epochs=15, learning_rate=0.02, patience=None), progress=False)
    assert result.val_metric.value > 0.9
    outputs = predict(result.model, data, result.normalization)
    assert isinstance(outputs, tuple) and [o.shape[0] for o in outputs] == data.lengths.tolist()


def test_token_regression_learns() -> None:
    rng = np.random.default_rng(1)
    seqs = tuple(rng.integers(0, 5, size=int(t)) for t in rng.integers(2, 7, size=128))
    targets = np.array([s.mean() / 4 for s in seqs], np.float32)  # mean token, scaled to [0, 1]
    data = SequenceData(seqs, targets, Task.REGRESSION, False, "tokens")
    cfg = ModelConfig(CellType.RNN, 8, vocab_size=5, embedding_dim=4, output_size=1, task=Task.REGRESSION)
    result = train(data, cfg, TrainConfig(epochs=20, learning_rate=0.01, patience=None), progress=False)
    baseline = np.abs(targets - targets.mean()).mean()  # predicting the mean
    assert result.normalization is None
    assert result.val_metric.name == "MAE" and result.val_metric.value < 0.5 * baseline


def test_per_step_regression_loss_ignores_padding() -> None:
    cfg = ModelConfig(
        CellType.GRU, 4, input_size=1, output_size=2, output_mode=OutputMode.SEQUENCE, task=Task.REGRESSION
    )
    out = torch.zeros(2, 3, 2)
    y = torch.ones(2, 3, 2)
    lengths = torch.tensor([3, 1])
    base = _loss(out, y, lengths, cfg)
    out_padded_changed = out.clone()
    out_padded_changed[1, 1:] = 100.0
    assert base.item() == 1.0 and _loss(out_padded_changed, y, lengths, cfg).item() == 1.0


def test_incompatible_data_and_settings() -> None:
    data = _sign_data(16)
    with pytest.raises(InputDataError, match="has 2 features but input_size is 3"):
        train(data, ModelConfig(CellType.GRU, 4, input_size=3, output_size=2), progress=False)
    with pytest.raises(InputDataError, match="per-sequence targets but output_mode is sequence"):
        train(data, _gru(output_mode=OutputMode.SEQUENCE), progress=False)
    with pytest.raises(InputDataError, match="is classification but the model is regression"):
        train(data, _gru(task=Task.REGRESSION), progress=False)
    with pytest.raises(InputDataError, match="has 2 classes but the model outputs 1"):
        train(data, _gru(output_size=1), progress=False)
    with pytest.raises(EdgeRNNError, match="invalid training setting epochs=0"):
        TrainConfig(epochs=0)


def test_evaluate_matches_manual_accuracy() -> None:
    data = _sign_data(40)
    torch.manual_seed(0)
    model = RNNModel(_gru())
    norm = Normalization.identity(2)
    metric = evaluate(model, data, norm)
    with torch.no_grad():
        manual = [int(model(torch.from_numpy(s)[None])[0].argmax()) for s in data.sequences]
    assert metric.value == np.mean(np.array(manual) == data.targets)


def test_small_gru_learns_fsdd_quickly() -> None:
    train_set, val_set, _ = split(load_dataset("fsdd"), seed=0)
    cfg = ModelConfig(CellType.GRU, 32, input_size=13, output_size=10)
    result = train(train_set.subset(range(0, 2400, 3)), cfg, TrainConfig(epochs=5), val_set, progress=False)
    assert result.val_metric.value > 0.5, result.history  # chance is 10%
    assert result.class_names == tuple("0123456789")


# --------------------------------------------------------------------------- regression target scaling


def _large_target_data(n: int = 192, seed: int = 0) -> SequenceData:
    """Targets in the tens of thousands: 30000 + 8000 * (mean of feature 0), plus a little noise."""
    rng = np.random.default_rng(seed)
    seqs = tuple(rng.normal(size=(int(t), 2)).astype(np.float32) for t in rng.integers(4, 12, size=n))
    y = np.array([30000 + 8000 * s[:, 0].mean() + rng.normal(0, 50) for s in seqs], np.float32)
    return SequenceData(seqs, y, Task.REGRESSION, False, "large")


@pytest.fixture(scope="module")
def large_regression() -> tuple[TrainResult, SequenceData, SequenceData, QuantizedRNN]:
    from edgernn.quant.from_torch import quantize

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    train_set, val_set, test_set = split(_large_target_data(), seed=0)
    cfg = ModelConfig(CellType.GRU, 16, input_size=2, output_size=1, task=Task.REGRESSION)
    result = train(train_set, cfg, TrainConfig(epochs=25, learning_rate=0.01), val_set, progress=False)
    torch.set_num_threads(previous)
    return result, train_set, test_set, quantize(result.model, train_set, normalization=result.normalization)


def test_large_regression_targets_train_and_int8_outputs_data_units(
    large_regression: tuple[TrainResult, SequenceData, SequenceData, QuantizedRNN],
) -> None:
    from edgernn.runtime import predict as int8_predict

    result, train_set, test_set, q = large_regression
    scaling = result.target_scaling
    assert scaling is not None and scaling.mean[0] == pytest.approx(train_set.targets.mean(), rel=1e-4)
    naive = float(np.abs(test_set.targets - train_set.targets.mean()).mean())  # predict the training mean
    float_mae = evaluate(result.model, test_set, result.normalization).value
    assert float_mae < 0.35 * naive, (float_mae, naive)
    # The int8 model outputs data units directly: the scaling is folded into the head.
    int8 = np.stack(int8_predict(q, test_set.sequences))[:, 0]
    assert abs(int8.mean() - test_set.targets.mean()) < 0.2 * naive
    int8_mae = float(np.abs(int8 - test_set.targets).mean())
    assert int8_mae < 0.35 * naive and int8_mae < 1.1 * float_mae, (int8_mae, float_mae)


def test_generated_c_helper_outputs_data_units(
    large_regression: tuple[TrainResult, SequenceData, SequenceData, QuantizedRNN], tmp_path: Path
) -> None:
    import shutil
    import subprocess

    from edgernn.export import ExportOptions, export_model
    from edgernn.runtime import Stream

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("no C compiler: the C export tests need cc")
    _, _, test_set, q = large_regression
    assert q.output_bits == 16  # a regression head: int16 outputs, int16_t in the C API
    int_outputs = [
        int(Stream(q).run_int8(q.input_q.quantize((s - q.input_mean) / q.input_std, q.input_bits))[-1][0])
        for s in test_set.sequences[:8]
    ]
    export_model(q, "c", tmp_path / "c", ExportOptions(prefix="load"))
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stdio.h>\n#include "load_model.h"\n'
        f"static const int16_t ys[] = {{{', '.join(map(str, int_outputs))}}};\n"
        'int main(void) { for (unsigned i = 0; i < sizeof ys / sizeof ys[0]; ++i) printf("%.9g\\n", '
        "(double)load_output_value(ys[i])); return 0; }\n"
    )
    exe = tmp_path / "main"
    flags = ["-std=c99", "-Wall", "-Wextra", "-Wconversion", "-Werror"]
    subprocess.run([compiler, *flags, "-I", str(tmp_path / "c" / "include"), str(main), "-o", str(exe)], check=True)
    values = np.array([float(v) for v in subprocess.run([str(exe)], capture_output=True, text=True).stdout.split()])
    np.testing.assert_allclose(values, q.output_q.dequantize(np.array(int_outputs)), rtol=1e-6)
    naive = float(np.abs(test_set.targets - test_set.targets.mean()).mean())
    assert float(np.abs(values - test_set.targets[:8]).mean()) < 0.5 * naive  # data units, not standardized


def test_target_scaling_fold_is_the_affine_map() -> None:
    from edgernn.models import TargetScaling

    data = SequenceData(
        tuple(np.ones((3, 2), np.float32) * k for k in range(4)),
        np.array([[10.0, -5e4], [12.0, -4e4], [14.0, -6e4], [11.0, -5e4]], np.float32),
        Task.REGRESSION,
        False,
        "two columns",
    )
    scaling = TargetScaling.fit(data)
    np.testing.assert_allclose(scaling.mean, [11.75, -5e4])
    np.testing.assert_allclose(scaling.std, data.targets.std(axis=0), rtol=1e-6)
    standardized = scaling.standardize(data).targets
    np.testing.assert_allclose(standardized.mean(axis=0), 0, atol=1e-6)
    torch.manual_seed(0)
    model = RNNModel(ModelConfig(CellType.LSTM, 4, input_size=2, output_size=2, task=Task.REGRESSION))
    x = torch.from_numpy(np.stack(data.sequences))
    with torch.no_grad():
        before = scaling.unstandardize_outputs(model(x)[0])
        scaling.fold(model)
        after = model(x)[0]
    np.testing.assert_allclose(after.numpy(), before.numpy(), rtol=1e-5)
    constant = SequenceData(data.sequences, np.full(4, 7e4, np.float32), Task.REGRESSION, False, "constant")
    assert TargetScaling.fit(constant).std.tolist() == [1.0]  # only centred: no division by ~0


def test_checkpoint_keeps_the_target_scaling(tmp_path: Path) -> None:
    from edgernn.models import Checkpoint, TargetScaling, load_checkpoint, save_checkpoint

    model = RNNModel(ModelConfig(CellType.GRU, 4, input_size=2, output_size=2, task=Task.REGRESSION))
    scaling = TargetScaling(np.array([3e4, -1.5], np.float32), np.array([5e3, 0.25], np.float32))
    save_checkpoint(tmp_path / "m.safetensors", Checkpoint(model, target_scaling=scaling))
    loaded = load_checkpoint(tmp_path / "m.safetensors").target_scaling
    assert loaded is not None and loaded.to_json() == scaling.to_json()
    save_checkpoint(tmp_path / "plain.safetensors", Checkpoint(model))
    assert load_checkpoint(tmp_path / "plain.safetensors").target_scaling is None
