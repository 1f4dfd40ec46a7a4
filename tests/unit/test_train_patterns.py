"""Training for every pattern: dropout, truncated BPTT, early stopping ties, splits, label mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgernn.data import SequenceData, align_classes, load_npz
from edgernn.errors import EdgeRNNError, InputDataError
from edgernn.metrics import Metric
from edgernn.models import RNNModel, TrainConfig, train
from edgernn.models.training import _collate, _collate_targets, _loss, improves, tbptt_losses
from edgernn.pipeline import DataSource, TrainingData
from edgernn.types import CellType, ModelConfig, OutputMode, Task


def _tagging(n: int = 6, seed: int = 0, lengths: tuple[int, ...] | None = None) -> SequenceData:
    """Per-step labels that depend on the history (the sign of a running sum): a state matters."""
    rng = np.random.default_rng(seed)
    lengths = lengths or tuple(int(v) for v in rng.integers(20, 40, size=n))
    xs = [rng.normal(size=(t, 2)).astype(np.float32) for t in lengths]
    ys = [(np.cumsum(x[:, 0]) > 0).astype(np.int64) for x in xs]
    return SequenceData(tuple(xs), tuple(ys), Task.CLASSIFICATION, True, "tagging")


def _config(cell: str = "gru", mode: OutputMode = OutputMode.SEQUENCE, layers: int = 1) -> ModelConfig:
    return ModelConfig(
        cell=CellType(cell), input_size=2, hidden_size=5, num_layers=layers, output_size=2, output_mode=mode
    )


# ------------------------------------------------------------------------------------- dropout


def test_dropout_trains_and_is_identity_at_inference() -> None:
    model = RNNModel(_config(layers=2), dropout=0.5)
    assert model.rnn.dropout == 0.5 and model.dropout.p == 0.5
    assert set(model.state_dict()) == set(RNNModel(_config(layers=2)).state_dict())  # nothing new to export
    x = torch.randn(3, 7, 2)
    model.train()
    torch.manual_seed(0)
    a = model(x)[0]
    b = model(x)[0]
    assert not torch.equal(a, b)  # active in training
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    plain = RNNModel(_config(layers=2)).eval()
    plain.load_state_dict(model.state_dict())
    assert torch.equal(plain(x)[0], model(x)[0])  # eval: exactly the model without dropout


def test_one_layer_dropout_only_before_the_head() -> None:
    model = RNNModel(_config(), dropout=0.3)
    assert model.rnn.dropout == 0.0 and model.dropout.p == 0.3  # torch would warn on one layer


def test_dropout_setting_is_checked() -> None:
    with pytest.raises(EdgeRNNError, match="dropout"):
        TrainConfig(dropout=1.0)
    with pytest.raises(EdgeRNNError, match="tbptt"):
        TrainConfig(tbptt=0)


# --------------------------------------------------------------------------- truncated BPTT


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_tbptt_carries_the_state_across_chunks(cell: str) -> None:
    """Without optimizer steps in between, the chunk losses weighted by their steps add up to the
    whole-sequence loss exactly when chunk k starts from chunk k-1's final state; one sequence
    ends inside the first chunk and drops out of the later ones."""
    torch.manual_seed(0)
    model = RNNModel(_config(cell)).eval()
    data = _tagging(lengths=(23, 9, 17))
    inputs = list(data.sequences)
    idx = np.arange(3)
    x, lengths = _collate(inputs, idx)
    y = _collate_targets(data, idx)
    with torch.no_grad():
        whole = _loss(model(x, lengths=lengths)[0], y, lengths, model.config).item()
        chunks = list(tbptt_losses(model, x, lengths, y, 10))
    assert [n for _, n in chunks] == [10 + 9 + 10, 10 + 7, 3]
    total = sum(loss.item() * n for loss, n in chunks) / int(lengths.sum())
    assert total == pytest.approx(whole, rel=1e-6, abs=1e-7)
    # The check is sensitive: chunk 2 from a zero state scores differently.
    with torch.no_grad():
        fresh = _loss(
            model(x[:, 10:20], lengths=torch.tensor([10, 0, 7]).clamp(min=1))[0], y[:, 10:20], lengths, model.config
        )
    assert abs(fresh.item() - chunks[1][0].item()) > 1e-4


def test_tbptt_gradient_stops_at_the_chunk_boundary() -> None:
    """Chunk 2's gradient equals that of the loss computed from chunk 1's detached final state."""
    torch.manual_seed(1)
    model = RNNModel(_config())
    data = _tagging(lengths=(16, 16))
    idx = np.arange(2)
    x, lengths = _collate(list(data.sequences), idx)
    y = _collate_targets(data, idx)
    gen = tbptt_losses(model, x, lengths, y, 8)
    next(gen)
    second, _ = next(gen)
    got = torch.autograd.grad(second, list(model.parameters()))

    _, state = model(x[:, :8])
    out, _ = model(x[:, 8:], state.detach())
    expected = torch.autograd.grad(_loss(out, y[:, 8:], lengths - 8, model.config), list(model.parameters()))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-7)
    # Without the detach the gradient reaches chunk 1's steps and differs.
    _, state = model(x[:, :8])
    out, _ = model(x[:, 8:], state)
    full = torch.autograd.grad(_loss(out, y[:, 8:], lengths - 8, model.config), list(model.parameters()))
    assert any(not torch.allclose(g, f) for g, f in zip(got, full))


def test_train_with_tbptt_learns_a_stateful_task() -> None:
    data, val = _tagging(n=24, seed=2), _tagging(n=6, seed=3)
    tc = TrainConfig(epochs=12, learning_rate=0.02, batch_size=8, tbptt=8, patience=None, dropout=0.1)
    result = train(data, _config(), tc, validation=val, progress=False)
    assert result.val_metric.value > 0.8  # a running sum over 20-40 steps, seen through 8-step chunks


def test_tbptt_needs_per_step_targets() -> None:
    rng = np.random.default_rng(0)
    data = SequenceData(
        tuple(rng.normal(size=(6, 2)).astype(np.float32) for _ in range(10)),
        np.arange(10) % 2,
        Task.CLASSIFICATION,
        False,
        "last",
    )
    with pytest.raises(InputDataError, match="per-step targets"):
        train(data, _config(mode=OutputMode.LAST), TrainConfig(epochs=1, tbptt=3), validation=data, progress=False)


# ------------------------------------------------------------------------------ early stopping


def test_metric_ties_are_broken_by_the_validation_loss() -> None:
    best = Metric("accuracy", 1.0, True)
    assert improves(Metric("accuracy", 1.0, True), 0.2, best, 0.3)
    assert not improves(Metric("accuracy", 1.0, True), 0.3, best, 0.3)
    assert not improves(Metric("accuracy", 0.5, True), 0.01, best, 0.3)
    assert improves(Metric("accuracy", 0.1, True), 9.0, None, np.inf)


def test_tiny_validation_split_does_not_keep_the_first_tying_epoch() -> None:
    """Two validation sequences: accuracy reaches 100% early and then ties every epoch while the
    model keeps improving. The first tying epoch used to be kept (and stop training early)."""
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    xs = tuple((rng.normal(size=(8, 2)) + (2 * c - 1) * 1.0).astype(np.float32) for c in labels)
    data = SequenceData(xs, labels, Task.CLASSIFICATION, False, "toy")
    val = data.subset([0, 1])
    result = train(
        data.subset(np.arange(2, 40)),
        _config(mode=OutputMode.LAST),
        TrainConfig(epochs=15, learning_rate=0.01, patience=3),
        validation=val,
        progress=False,
    )
    accuracy = [row["val_accuracy"] for row in result.history]
    first_best = 1 + accuracy.index(max(accuracy))
    assert result.best_epoch > first_best
    losses = [row["val_loss"] for row in result.history]
    tied = [i for i, a in enumerate(accuracy) if a == max(accuracy)]
    assert result.best_epoch == 1 + min(tied, key=lambda i: losses[i])


# -------------------------------------------------------------------------------------- splits


def _classes(n: int = 50, seed: int = 0) -> SequenceData:
    rng = np.random.default_rng(seed)
    return SequenceData(
        tuple(rng.normal(size=(4, 2)).astype(np.float32) for _ in range(n)),
        np.arange(n) % 2,
        Task.CLASSIFICATION,
        False,
        "c",
    )


def test_training_data_splits() -> None:
    data = _classes(100)
    source = DataSource.of(data)
    train_, val, test = TrainingData(data, source).splits()
    assert (len(train_), len(val), len(test)) == (80, 10, 10)
    train_, val, test = TrainingData(data, source, validation_fraction=0.3).splits()
    assert (len(train_), len(val), len(test)) == (60, 30, 10)
    other = _classes(7, seed=1)
    train_, val, test = TrainingData(data, source, validation_fraction=0.2, test=other).splits()
    assert (len(train_), len(val), test) == (80, 20, other)
    train_, val, test = TrainingData(data, source, validation=other).splits()
    assert (len(train_), val, len(test)) == (90, other, 10)
    train_, val, test = TrainingData(data, source, validation=other, test=other).splits()
    assert train_ is data
    with pytest.raises(InputDataError, match="validation fraction 0.95"):
        TrainingData(data, source, validation_fraction=0.95).splits()


# ------------------------------------------------------------------------------ label mapping


def _save(path: Path, y: np.ndarray, **extra: np.ndarray) -> Path:
    x = np.arange(len(y) * 3, dtype=np.float32).reshape(len(y), 3, 1)
    np.savez(path, X=x, y=y, **extra)
    return path


def test_string_labels_are_mapped_and_named(tmp_path: Path) -> None:
    d = load_npz(_save(tmp_path / "s.npz", np.array(["dog", "cat", "emu", "cat"])))
    assert d.class_names == ("cat", "dog", "emu")
    assert d.targets.tolist() == [1, 0, 2, 0]
    given = load_npz(_save(tmp_path / "g.npz", np.array(["b", "a"]), class_names=np.array(["b", "a", "c"])))
    assert given.class_names == ("b", "a", "c") and given.targets.tolist() == [0, 1]
    with pytest.raises(InputDataError, match="label 'z' is not one of its class_names"):
        load_npz(_save(tmp_path / "z.npz", np.array(["a", "z"]), class_names=np.array(["a"])))


@pytest.mark.parametrize(
    ("labels", "ids", "names"),
    [
        ([1, 2, 3, 1], [0, 1, 2, 0], ("1", "2", "3")),
        ([-1, 1, 1], [0, 1, 1], ("-1", "1")),
        ([9, 3, 7], [2, 0, 1], ("3", "7", "9")),
        ([0, 2_000_000_000], [0, 1], ("0", "2000000000")),  # two classes, not a 2e9-wide head
        ([0, 2, 1], [0, 2, 1], None),  # already 0..K-1: kept as class ids
    ],
)
def test_sparse_integer_labels_are_mapped(tmp_path: Path, labels: list[int], ids: list[int], names: tuple) -> None:
    d = load_npz(_save(tmp_path / "i.npz", np.array(labels)))
    assert d.targets.tolist() == ids and d.class_names == names


def test_other_files_are_aligned_to_the_model_classes(tmp_path: Path) -> None:
    train_ = load_npz(_save(tmp_path / "t.npz", np.array([1, 2, 3, 4])))  # names "1".."4"
    test = load_npz(_save(tmp_path / "v.npz", np.array([4, 2])))  # on its own: ids 1, 0
    assert test.targets.tolist() == [1, 0]
    aligned = align_classes(test, train_.class_names, 4, "test data")
    assert aligned.targets.tolist() == [3, 1] and aligned.class_names == train_.class_names
    strings = load_npz(_save(tmp_path / "s.npz", np.array(["emu", "cat"])))
    named = align_classes(strings, ("cat", "dog", "emu"), 3, "test data")
    assert named.targets.tolist() == [2, 0]
    with pytest.raises(InputDataError, match="class 'emu', which the model does not know"):
        align_classes(strings, ("cat", "dog"), 2, "test data")
    # Ids 0..K-1 without names are class ids for a model with textual names; labels 0.. for a
    # model trained on labels 1..K are not its classes.
    plain = load_npz(_save(tmp_path / "p.npz", np.array([0, 1, 2])))
    assert align_classes(plain, ("cat", "dog", "emu"), 3, "x").targets.tolist() == [0, 1, 2]
    with pytest.raises(InputDataError, match="class '0'"):
        align_classes(plain, train_.class_names, 4, "x")
