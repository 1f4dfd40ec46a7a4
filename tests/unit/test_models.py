"""edgernn.models: RNNModel's output contract, from_torch import and refusals, checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from edgernn import fileio
from edgernn.data import Normalization
from edgernn.errors import ModelFileError, UnsupportedModelError
from edgernn.fileio import OutputFileError
from edgernn.models import Checkpoint, RNNModel, from_torch, load_checkpoint, save_checkpoint
from edgernn.models import checkpoint as checkpoint_module
from edgernn.types import CellType, ModelConfig, OutputMode, Task

ATOL = 1e-6
TORCH_CLASSES = {CellType.GRU: nn.GRU, CellType.LSTM: nn.LSTM, CellType.RNN: nn.RNN}


def _h(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return state[0] if isinstance(state, tuple) else state


def _assert_state_equal(a: object, b: object) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, atol=ATOL, rtol=0)
    else:
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


# --------------------------------------------------------------------------- RNNModel


@pytest.mark.parametrize("cell", list(CellType))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_equals_single_sequences(cell: CellType, bidirectional: bool) -> None:
    torch.manual_seed(0)
    for mode in OutputMode:
        model = RNNModel(ModelConfig(cell, 6, 2, bidirectional, input_size=3, output_size=4, output_mode=mode)).eval()
        lengths = torch.tensor([5, 2, 7])
        x = torch.randn(3, 7, 3)
        y, state = model(x, lengths=lengths)
        for i, n in enumerate(lengths.tolist()):
            yi, si = model(x[i : i + 1, :n])
            if mode is OutputMode.SEQUENCE:
                torch.testing.assert_close(y[i, :n], yi[0], atol=ATOL, rtol=0)
            else:
                torch.testing.assert_close(y[i], yi[0], atol=ATOL, rtol=0)
            torch.testing.assert_close(_h(state)[:, i], _h(si)[:, 0], atol=ATOL, rtol=0)


def test_last_output_is_final_state_of_each_direction() -> None:
    torch.manual_seed(1)
    seq = RNNModel(ModelConfig(CellType.GRU, 5, 1, True, input_size=2, output_mode=OutputMode.SEQUENCE)).eval()
    last = RNNModel(ModelConfig(CellType.GRU, 5, 1, True, input_size=2, output_mode=OutputMode.LAST)).eval()
    last.load_state_dict(seq.state_dict())
    x = torch.randn(4, 6, 2)
    out, _ = seq(x)
    y, _ = last(x)
    assert y.shape == (4, 10)
    torch.testing.assert_close(y, torch.cat([out[:, -1, :5], out[:, 0, 5:]], dim=-1))


def test_explicit_state_continues_a_stream() -> None:
    torch.manual_seed(2)
    model = RNNModel(ModelConfig(CellType.LSTM, 8, 2, input_size=3, output_size=2, output_mode=OutputMode.SEQUENCE))
    x = torch.randn(2, 9, 3)
    whole, _ = model(x)
    first, state = model(x[:, :4])
    rest, _ = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, atol=ATOL, rtol=0)


def test_token_model_and_shapes() -> None:
    model = RNNModel(ModelConfig(CellType.RNN, 4, vocab_size=11, embedding_dim=3, output_size=11))
    y, h = model(torch.randint(0, 11, (2, 5)))
    assert y.shape == (2, 11) and h.shape == (1, 2, 4)
    assert model.embedding is not None and model.embedding.weight.shape == (11, 3)
    assert model.rnn.nonlinearity == "tanh" and model.rnn.batch_first


# --------------------------------------------------------------------------- from_torch


@pytest.mark.parametrize("cell", list(CellType))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_from_torch_bare_module(cell: CellType, num_layers: int, bidirectional: bool, batch_first: bool) -> None:
    torch.manual_seed(num_layers)
    user = TORCH_CLASSES[cell](4, 7, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    x = torch.randn(3, 6, 4)  # (B, T, F)
    user_out, user_state = user(x if batch_first else x.transpose(0, 1))
    if not batch_first:
        user_out = user_out.transpose(0, 1)

    seq = from_torch(user, output_mode=OutputMode.SEQUENCE)
    assert seq.config.num_layers == num_layers and seq.config.bidirectional == bidirectional
    assert seq.head is None and not seq.training
    y, state = seq(x)
    torch.testing.assert_close(y, user_out, atol=ATOL, rtol=0)
    _assert_state_equal(state, user_state)

    last, _ = from_torch(user)(x)
    h_top = _h(user_state)[-(2 if bidirectional else 1) :]
    torch.testing.assert_close(last, torch.cat(list(h_top), dim=-1), atol=ATOL, rtol=0)


class KeywordNet(nn.Module):
    """A user's model in the canonical wiring: embedding -> GRU -> linear on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6, padding_idx=0)
        self.drop = nn.Dropout(0.3)
        self.gru = nn.GRU(6, 9, num_layers=2, batch_first=True)
        self.fc = nn.Linear(9, 5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.drop(self.embed(tokens)))
        return self.fc(out[:, -1])


def test_from_torch_user_module_embedding_gru_linear() -> None:
    torch.manual_seed(3)
    user = KeywordNet().eval()
    tokens = torch.randint(0, 20, (4, 8))
    model = from_torch(user)
    assert model.config == ModelConfig(CellType.GRU, 9, 2, vocab_size=20, embedding_dim=6, output_size=5)
    y, _ = model(tokens)
    torch.testing.assert_close(y, user(tokens), atol=ATOL, rtol=0)


class StackedLSTM(nn.Module):
    """Two separate bidirectional LSTM modules that chain, with dropout between, per-step head."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm1 = nn.LSTM(3, 5, bidirectional=True, bias=False)
        self.drop = nn.Dropout(0.5)
        self.lstm2 = nn.LSTM(10, 5, num_layers=2, bidirectional=True)
        self.head = nn.Sequential(nn.Linear(10, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, F)
        out, _ = self.lstm1(x)
        out, _ = self.lstm2(self.drop(out))
        return self.head(out)


def test_from_torch_merges_modules_and_zeroes_missing_biases() -> None:
    torch.manual_seed(4)
    user = StackedLSTM().eval()
    model = from_torch(user, output_mode=OutputMode.SEQUENCE, task=Task.REGRESSION)
    assert model.config.num_layers == 3 and model.config.task is Task.REGRESSION
    assert torch.all(model.rnn.bias_ih_l0 == 0) and torch.all(model.rnn.bias_hh_l0_reverse == 0)
    torch.testing.assert_close(model.rnn.weight_hh_l2_reverse, user.lstm2.weight_hh_l1_reverse, atol=0, rtol=0)
    x = torch.randn(2, 7, 3)
    y, _ = model(x)
    torch.testing.assert_close(y, user(x.transpose(0, 1)).transpose(0, 1), atol=ATOL, rtol=0)


class WithConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(3, 3, 2)
        self.gru = nn.GRU(3, 4)


class OwnParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.gru = nn.GRU(3, 4)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.LSTM(3, 8, proj_size=4), "proj_size=4"),
        (nn.Sequential(nn.RNN(3, 4, nonlinearity="relu"), nn.RNN(4, 4)), "nonlinearity='tanh' but '0' 'relu'"),
        (WithConv(), r"layer 'conv' \(Conv1d\) is not supported"),
        (nn.GRU(3, 4, num_layers=5), "5 recurrent layers"),
        (nn.Sequential(nn.GRU(3, 4, num_layers=3), nn.GRU(4, 4, num_layers=2)), "5 recurrent layers"),
        (nn.Sequential(nn.GRU(3, 4), nn.LSTM(4, 4)), r"layer '1' \(LSTM\) mixes cell kinds"),
        (nn.Sequential(nn.GRU(3, 4), nn.GRU(5, 4)), r"layer '1' \(GRU\) has input_size=5"),
        (nn.Sequential(nn.GRU(3, 4), nn.GRU(4, 6)), "hidden_size=6"),
        (nn.Sequential(nn.Embedding(5, 3, max_norm=1.0), nn.GRU(3, 4)), "max_norm=1.0"),
        (nn.Sequential(nn.GRU(3, 4), nn.Linear(5, 2)), r"layer '1' \(Linear\) has in_features=5"),
        (nn.Sequential(nn.Linear(3, 3), nn.GRU(3, 4)), r"layer '0' \(Linear\) is out of place"),
        (nn.Sequential(nn.ReLU()), "has no GRU, LSTM or RNN layer"),
        (nn.Sequential(nn.Dropout()), "has no GRU, LSTM or RNN layer"),
        (OwnParameter(), r"module '<root>' \(OwnParameter\) has its own parameters \['scale'\]"),
    ],
)
def test_from_torch_refuses(module: nn.Module, message: str) -> None:
    with pytest.raises(UnsupportedModelError, match=message):
        from_torch(module)


# --------------------------------------------------------------------------- checkpoints


def _checkpoint() -> Checkpoint:
    torch.manual_seed(5)
    model = RNNModel(ModelConfig(CellType.LSTM, 6, 2, True, input_size=3, output_size=4))
    norm = Normalization(np.array([0.1, -2.0, 3.5], np.float32), np.array([1.5, 0.25, 7.0], np.float32))
    return Checkpoint(model, norm, ("a", "b", "c", "d"), "fsdd", {"val_accuracy": 0.875})


def test_checkpoint_round_trip_is_exact(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, ckpt)
    back = load_checkpoint(path)
    assert back.model.config == ckpt.model.config
    saved, loaded = ckpt.model.state_dict(), back.model.state_dict()
    assert saved.keys() == loaded.keys()
    for name in saved:
        assert torch.equal(saved[name], loaded[name]), name
    assert back.normalization == ckpt.normalization
    assert (back.class_names, back.dataset, back.metrics) == (
        ckpt.class_names,
        "fsdd",
        {"val_accuracy": 0.875},
    )
    assert not back.model.training
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_checkpoint_token_model_without_extras(tmp_path: Path) -> None:
    model = RNNModel(ModelConfig(CellType.GRU, 4, vocab_size=9, embedding_dim=2, output_mode=OutputMode.SEQUENCE))
    path = tmp_path / "tok.safetensors"
    save_checkpoint(path, Checkpoint(model))
    back = load_checkpoint(path)
    assert back.normalization is None and back.class_names is None and back.dataset is None and back.metrics == {}
    assert torch.equal(back.model.embedding.weight, model.embedding.weight)


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, _checkpoint())
    before = path.read_bytes()

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "replace", fail)
    other = Checkpoint(RNNModel(ModelConfig(CellType.GRU, 2, input_size=1)))
    with pytest.raises(OutputFileError, match="cannot write .*m.safetensors.*No space left"):
        save_checkpoint(path, other)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.safetensors"]
    # A parent that is a file, not a folder: refused with the path named.
    with pytest.raises(OutputFileError, match="cannot write"):
        save_checkpoint(tmp_path / "m.safetensors" / "dir.safetensors", other)


def _saved(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, _checkpoint())
    return path, path.read_bytes()


def test_checkpoint_truncated(tmp_path: Path) -> None:
    path, raw = _saved(tmp_path)
    for cut in (0, 5, 100, len(raw) // 2, len(raw) - 1):
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match=f"{path.name} is not a valid safetensors file"):
            load_checkpoint(path)


def test_checkpoint_random_bytes_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_checkpoint(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def _rewrite(path: Path, tensors: dict[str, torch.Tensor] | None = None, **meta: str) -> None:
    """Re-save the checkpoint at ``path`` with edited tensors/metadata."""
    with safetensors.safe_open(str(path), "pt") as f:
        metadata = dict(f.metadata())
        stored = {k: f.get_tensor(k) for k in f.keys()}
    metadata.update(meta)
    tensors = tensors if tensors is not None else stored
    metadata["content_sha256"] = checkpoint_module._content_hash(tensors, metadata)  # an edit, not corruption
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


def test_checkpoint_wrong_format_tag(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    _rewrite(path, format="some-other-tool")
    with pytest.raises(ModelFileError, match="not an edgernn checkpoint .*some-other-tool"):
        load_checkpoint(path)
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(path))  # plain safetensors, no metadata
    with pytest.raises(ModelFileError, match="not an edgernn checkpoint"):
        load_checkpoint(path)


def test_checkpoint_newer_version(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    _rewrite(path, format_version="3")
    with pytest.raises(ModelFileError, match="newer edgernn .*format_version 3.*upgrade edgernn"):
        load_checkpoint(path)


def test_checkpoint_bad_metadata(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    _rewrite(path, config="{not json")
    with pytest.raises(ModelFileError, match="'config' is not valid JSON"):
        load_checkpoint(path)
    path, _ = _saved(tmp_path)
    _rewrite(path, config='{"cell": "gru", "hidden_size": -1, "input_size": 3}')
    with pytest.raises(ModelFileError, match="hidden_size must be a positive integer"):
        load_checkpoint(path)


def test_checkpoint_tensors_must_match_config(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    with safetensors.safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    _rewrite(path, {**tensors, "rnn.weight_hh_l0": torch.zeros(24, 5)})
    with pytest.raises(ModelFileError, match=r"'rnn.weight_hh_l0' is torch.float32 \(24, 5\) but the config needs"):
        load_checkpoint(path)
    _rewrite(path, {k: v for k, v in tensors.items() if k != "head.bias"})
    with pytest.raises(ModelFileError, match=r"missing \['head.bias'\]"):
        load_checkpoint(path)
    _rewrite(path, {**tensors, "normalization.std": torch.zeros(3)})
    with pytest.raises(ModelFileError, match=f"checkpoint {path}: normalization needs finite"):
        load_checkpoint(path)
