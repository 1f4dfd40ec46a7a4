"""from_torch reads forward(): each recognized readout equals PyTorch; everything else is refused."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from edgernn import engine, ir
from edgernn.errors import InputDataError, ModelFileError, UnsupportedModelError
from edgernn.floatmodel import FloatKernels
from edgernn.models import from_torch
from edgernn.quant.from_torch import float_params_from_torch
from edgernn.runtime import Stream, predict
from edgernn.testing import random_inputs, random_model
from edgernn.types import Activation, CellType, ModelConfig, OutputMode, Readout
from tests.import_fixtures import TutorialClassifier  # the tutorial classifier of issue 12

ATOL = 1e-5


class MeanPoolReLU(nn.Module):
    """Mean over time, then a ReLU before the head."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 10, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(10, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.out(torch.relu(self.drop(out.mean(dim=1))))


class HnBidirectional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6, num_layers=2, bidirectional=True)  # (T, B, F)
        self.act = nn.Tanh()
        self.fc = nn.Linear(12, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(4, x.size(1), 6)
        _, (h_n, _) = self.lstm(x, (h0, h0))
        return self.fc(self.act(torch.cat((h_n[-2], h_n[-1]), dim=1)))


class IndexedRows(nn.Module):
    """h_n rows indexed with a tuple, token ids cast, dropout on the features, a Sequential head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 5)
        self.gru = nn.GRU(5, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.ReLU(), nn.Linear(12, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(self.embed(x.long()))
        return self.head(torch.cat([h[-2, :, :], h[-1, :, :]], dim=-1))


class ReluElmanTagger(nn.Module):
    """ReLU Elman, a ReLU and a head on every step."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(4, 9, num_layers=2, nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(9, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(nn.functional.relu(out))


class LastOfHn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, num_layers=2, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, h = self.gru(x)
        return self.fc(h[-1]), h


def _features(batch: int, steps: int) -> torch.Tensor:
    return torch.randn(batch, steps, 4)


@pytest.mark.parametrize(
    ("make", "inputs", "mode", "readout", "activation"),
    [
        (TutorialClassifier, lambda: torch.randint(0, 30, (5, 11)), OutputMode.LAST, Readout.LAST_OUTPUT, "none"),
        (MeanPoolReLU, lambda: _features(5, 9), OutputMode.LAST, Readout.MEAN, "relu"),
        (HnBidirectional, lambda: _features(5, 7), OutputMode.LAST, Readout.FINAL_STATE, "tanh"),
        (ReluElmanTagger, lambda: _features(5, 8), OutputMode.SEQUENCE, Readout.FINAL_STATE, "relu"),
        (LastOfHn, lambda: _features(5, 8), OutputMode.LAST, Readout.FINAL_STATE, "none"),
        (IndexedRows, lambda: torch.randint(0, 20, (5, 9)), OutputMode.LAST, Readout.FINAL_STATE, "relu"),
    ],
)
def test_import_equals_pytorch(make, inputs, mode: OutputMode, readout: Readout, activation: str) -> None:
    torch.manual_seed(0)
    user = make().eval()
    x = inputs()
    model = from_torch(user)
    cfg = model.config
    assert (cfg.output_mode, cfg.readout, cfg.head_activation) == (mode, readout, Activation(activation))
    want = user(x if make is not HnBidirectional else x.transpose(0, 1))
    want = want[0] if isinstance(want, tuple) else want
    got, _ = model(x)
    torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    # the numpy float model (the float backend, and what calibration runs) computes the same
    kernels = FloatKernels(float_params_from_torch(model))
    xs = x.numpy().swapaxes(0, 1)
    np.testing.assert_allclose(
        engine.sequence_output(kernels, xs),
        want.detach().numpy().swapaxes(0, 1) if mode is OutputMode.SEQUENCE else want.detach().numpy(),
        atol=ATOL,
        rtol=0,
    )


def test_bidirectional_last_output_is_not_h_n() -> None:
    """What the importer used to compute silently differs from the tutorial's forward."""
    torch.manual_seed(1)
    user = TutorialClassifier().eval()
    x = torch.randint(1, 30, (64, 12))
    model = from_torch(user)
    wrong = from_torch(user)
    object.__setattr__(wrong.config, "readout", Readout.FINAL_STATE)
    assert not torch.allclose(model(x)[0], wrong(x)[0], atol=1e-3)


def test_padded_lengths_read_each_sequence_end() -> None:
    torch.manual_seed(2)
    user = TutorialClassifier().eval()
    model = from_torch(user)
    x = torch.randint(1, 30, (2, 9))
    short = x[1:, :5]
    got, _ = model(x, lengths=torch.tensor([9, 5]))
    torch.testing.assert_close(got[1:], user(short), atol=ATOL, rtol=0)
    mean = from_torch(MeanPoolReLU().eval())
    xf = _features(2, 9)
    got, _ = mean(xf, lengths=torch.tensor([9, 4]))
    torch.testing.assert_close(got[1:], mean(xf[1:, :4])[0], atol=ATOL, rtol=0)


def test_output_mode_is_a_check() -> None:
    with pytest.raises(UnsupportedModelError, match="output_mode=sequence was given, but TutorialClassifier.forward"):
        from_torch(TutorialClassifier(), output_mode=OutputMode.SEQUENCE)
    assert from_torch(ReluElmanTagger(), output_mode="sequence").config.nonlinearity is Activation.RELU


class Conv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 1)
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.conv(x))
        return self.fc(out[:, -1])


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        weights = torch.softmax(out.sum(-1), dim=1)
        return self.fc((out * weights.unsqueeze(-1)).sum(1))


class ThirdStep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.fc(out[:, 3])


class BackwardOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(12, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(x)
        return self.fc(torch.cat((h[-1], h[-2]), dim=1))


class Softmaxed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return torch.log_softmax(self.fc(out[:, -1]), dim=-1)


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return out if out.sum() > 0 else -out


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            Conv(),
            r"Conv1d 'conv' at line \d+ of forward\(\) in test_import_trace.py \(`out, _ = self.gru\(self.conv",
        ),
        (Attention(), r"\.sum\(\) at line \d+ of forward\(\) .*`weights = torch.softmax"),
        (ThirdStep(), r"indexing at line \d+ .*`return self.fc\(out\[:, 3\]\)`.* reads output\[:, 3\]"),
        (BackwardOnly(), r"torch.cat at line \d+ .*only recognized as torch.cat\(\(h_n\[-2\], h_n\[-1\]\)"),
        (Softmaxed(), r"torch.log_softmax at line \d+ .*Softmaxed.forward"),
        (Branchy(), "cannot trace Branchy.forward with torch.fx"),
    ],
)
def test_refusals_name_the_operation_and_line(module: nn.Module, message: str) -> None:
    with pytest.raises(UnsupportedModelError, match=message):
        from_torch(module)


# ---- the new semantics in the model file and the runtime


def test_new_fields_round_trip_and_defaults_stay_out_of_files() -> None:
    cfg = ModelConfig(
        cell=CellType.RNN,
        input_size=3,
        hidden_size=6,
        output_size=2,
        readout="mean",
        head_activation="relu",
        nonlinearity="relu",
    )
    model = random_model(cfg, seed=1)
    back = ir.from_bytes(ir.to_bytes(model))
    assert back.config == cfg and back.sha256 == model.sha256
    assert back.layers[0].directions[0].quant.nonlinearity is Activation.RELU
    plain = random_model(ModelConfig(cell=CellType.RNN, input_size=3, hidden_size=6, output_size=2), seed=1)
    header = json.loads(zipfile.ZipFile(io.BytesIO(ir.to_bytes(plain))).read(ir.HEADER_NAME))
    assert header["schema_version"] == 2
    assert not {"readout", "head_activation", "nonlinearity"} & set(header["model"]["config"])
    assert "nonlinearity" not in header["model"]["layers"][0]["directions"][0]["quant"]
    assert "head_tanh" not in header["model"]


def test_head_tanh_round_trips_and_its_rescales_are_checked() -> None:
    """The IR is the one source of truth: a file whose tanh rescales disagree with its scales is refused."""
    model = random_model(
        ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=6, output_size=2, head_activation="tanh")
    )
    assert model.head_tanh is not None and model.head is not None
    back = ir.from_bytes(ir.to_bytes(model))
    assert back.head_tanh == model.head_tanh and back.sha256 == model.sha256
    xs = random_inputs(model.config, 30, seed=4)
    np.testing.assert_array_equal(Stream(back).run(xs), Stream(model).run(xs))
    wrong = dataclasses.replace(model.head_tanh.to_q312, multiplier=model.head_tanh.to_q312.multiplier + 1)
    with pytest.raises(ModelFileError, match="to_q312 requantization .* disagrees with its scales"):
        dataclasses.replace(model, head_tanh=dataclasses.replace(model.head_tanh, to_q312=wrong))
    with pytest.raises(ModelFileError, match="head_tanh is present exactly when"):
        dataclasses.replace(model, head_tanh=None)
    # the head reads the tanh's quantization: its input zero point must be the tanh's
    other_q = ir.QParams(model.head_tanh.output_q.scale, model.head_tanh.output_q.zero_point + 1)
    with pytest.raises(ModelFileError, match="head input zero point differs"):
        dataclasses.replace(model, head_tanh=ir.HeadTanh.of(model.layers[-1].hidden_q, other_q))


def test_cell_and_config_must_agree_on_the_nonlinearity() -> None:
    model = random_model(ModelConfig(cell=CellType.RNN, input_size=3, hidden_size=6, nonlinearity="relu"), seed=2)
    with pytest.raises(ModelFileError, match="relu Elman cell, the config says otherwise"):
        dataclasses.replace(model, config=dataclasses.replace(model.config, nonlinearity=Activation.TANH))
    with pytest.raises(ModelFileError, match="head_tanh is present exactly when"):
        dataclasses.replace(model, config=dataclasses.replace(model.config, head_activation=Activation.TANH))
    with pytest.raises(UnsupportedModelError, match="only the Elman RNN takes nonlinearity 'relu'"):
        ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=6, nonlinearity="relu")


def test_a_mean_over_time_model_runs_whole_sequences_only() -> None:
    model = random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=6, readout="mean"), seed=3)
    xs = random_inputs(model.config, 20, seed=3)
    stream = Stream(model)
    with pytest.raises(InputDataError, match="averages over time cannot stream"):
        stream.step(xs[0])
    ys = stream.run(xs)  # the mean of the steps so far at each step; the last row is the sequence's output
    np.testing.assert_array_equal(ys[-1], predict(model, [xs])[0])
