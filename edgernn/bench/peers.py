"""What a user would otherwise run: PyTorch eager, onnxruntime on a torch-exported step model,
LiteRT on a float TFLite step model.

Each peer computes the same float model (weights from the IR's float parameters), one step per
call with explicit state, called directly the way a streaming application would call it. Threads
are pinned to one everywhere, as for edgernn's backends.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgernn.floatmodel import FloatParams
from edgernn.ir import QuantizedRNN
from edgernn.types import CellType

Array = np.ndarray


def _torch_step_module(params: FloatParams) -> Any:
    """A torch module ``(x, *state) -> (y, *state')`` stacking cells, with the IR's float weights."""
    import torch
    from torch import nn

    cfg = params.config
    cell_class = {CellType.RNN: nn.RNNCell, CellType.GRU: nn.GRUCell, CellType.LSTM: nn.LSTMCell}[cfg.cell]
    lstm = cfg.cell is CellType.LSTM

    class Step(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cells = nn.ModuleList()
            for k in range(cfg.num_layers):
                cell = cell_class(cfg.layer_input_size(k), cfg.hidden_size)
                w = params.cells[k][0]
                with torch.no_grad():
                    cell.weight_ih.copy_(torch.tensor(w.weight_ih))
                    cell.weight_hh.copy_(torch.tensor(w.weight_hh))
                    cell.bias_ih.copy_(torch.tensor(w.bias_ih))
                    cell.bias_hh.copy_(torch.tensor(w.bias_hh))
                self.cells.append(cell)
            self.head = None
            if params.head_weight is not None:
                self.head = nn.Linear(params.head_weight.shape[1], params.head_weight.shape[0])
                with torch.no_grad():
                    self.head.weight.copy_(torch.tensor(params.head_weight))
                    self.head.bias.copy_(torch.tensor(params.head_bias))

        def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None) -> Any:
            hs, cs = [], []
            inp = x
            for k, cell in enumerate(self.cells):
                if lstm:
                    hk, ck = cell(inp, (h[k], c[k]))  # type: ignore[index]
                    cs.append(ck)
                else:
                    hk = cell(inp, h[k])
                hs.append(hk)
                inp = hk
            y = self.head(inp) if self.head is not None else inp
            if lstm:
                return y, torch.stack(hs), torch.stack(cs)
            return y, torch.stack(hs)

    return Step().eval()


def _zero_state(params: FloatParams) -> list[Array]:
    cfg = params.config
    h = np.zeros((cfg.num_layers, 1, cfg.hidden_size), np.float32)
    return [h, h.copy()] if cfg.cell is CellType.LSTM else [h]


class TorchEagerStep:
    """PyTorch eager: the stacked ``nn.GRUCell``/``LSTMCell``/``RNNCell`` step, ``no_grad``."""

    name = "pytorch-eager"

    def __init__(self, model: QuantizedRNN) -> None:
        import torch

        params = FloatParams.of(model)
        torch.set_num_threads(1)
        self._torch = torch
        self.module = _torch_step_module(params)
        self.state = [torch.from_numpy(s) for s in _zero_state(params)]

    def step(self, x: Array) -> Array:
        with self._torch.no_grad():
            y, *self.state = self.module(self._torch.from_numpy(x[None]), *self.state)
        return y.numpy()[0]


class TorchSequence:
    """PyTorch ``nn.GRU``/``nn.LSTM``/``nn.RNN`` over a whole sequence in one call (plus the head)."""

    name = "pytorch-nn-sequence"

    def __init__(self, model: QuantizedRNN) -> None:
        import torch
        from torch import nn

        params = FloatParams.of(model)
        torch.set_num_threads(1)
        cfg = params.config
        rnn_class = {CellType.RNN: nn.RNN, CellType.GRU: nn.GRU, CellType.LSTM: nn.LSTM}[cfg.cell]
        self.rnn = rnn_class(cfg.rnn_input_size, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True)
        with torch.no_grad():
            for k in range(cfg.num_layers):
                w = params.cells[k][0]
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(self.rnn, f"{name}_l{k}").copy_(torch.tensor(getattr(w, name)))
        self.head = (
            None if params.head_weight is None else (torch.tensor(params.head_weight), torch.tensor(params.head_bias))
        )
        self._torch = torch

    def run(self, xs: Array) -> Array:
        with self._torch.no_grad():
            out, _ = self.rnn(self._torch.from_numpy(xs[None]))
            if self.head is not None:
                out = out @ self.head[0].T + self.head[1]
        return out.numpy()[0]


class OnnxRuntimeStep:
    """onnxruntime ``session.run`` on the plain torch-exported step model (TorchScript exporter)."""

    name = "onnxruntime-torch-export"

    def __init__(self, model: QuantizedRNN) -> None:
        import onnxruntime as ort
        import torch

        params = FloatParams.of(model)
        module = _torch_step_module(params)
        state = [torch.from_numpy(s) for s in _zero_state(params)]
        x = torch.zeros(1, params.config.rnn_input_size)
        names = ["h", "c"][: len(state)]
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = Path(tmp) / "step.onnx"
            # The TorchScript exporter (dynamo=False): fast, no external data, batch of 1 frozen.
            torch.onnx.export(
                module,
                (x, *state),
                str(path),
                dynamo=False,
                opset_version=17,
                input_names=["x", *names],
                output_names=["y", *(f"{n}_out" for n in names)],
            )
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = names
        self.state = _zero_state(params)

    def step(self, x: Array) -> Array:
        feeds = {"x": x[None], **dict(zip(self.names, self.state))}
        y, *self.state = self.session.run(None, feeds)
        return y[0]


class LiteRTStep:
    """LiteRT ``invoke`` on the float32 TFLite step model (edgernn's float export: there is no
    TensorFlow converter here, and the graph is the plain float cell a converter would emit)."""

    name = "litert-float"

    def __init__(self, model: QuantizedRNN) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from edgernn.export import tflite

        exported = tflite.build(model, "float32")
        self.interpreter = Interpreter(model_content=exported.data, num_threads=1)
        self.interpreter.allocate_tensors()
        self.x = next(t for t in exported.inputs if t.role == "x")
        self.y = next(t for t in exported.outputs if t.role == "y")
        # GRU/Elman carry their state through inputs and outputs; the fused LSTM keeps it inside.
        explicit = model.config.cell is not CellType.LSTM
        ins = {t.layer: t for t in exported.inputs if t.role == "h"} if explicit else {}
        outs = {t.layer: t for t in exported.outputs if t.role == "h_out"} if explicit else {}
        self.state_pairs = [(ins[k].index, outs[k].index) for k in sorted(ins)]
        for k in sorted(ins):  # a fresh stream starts from the zero state
            self.interpreter.set_tensor(ins[k].index, np.zeros(ins[k].shape, np.float32))
        self.x_shape = tuple(self.x.shape)

    def step(self, x: Array) -> Array:
        it = self.interpreter
        it.set_tensor(self.x.index, x.reshape(self.x_shape))
        it.invoke()
        for state_in, state_out in self.state_pairs:
            it.set_tensor(state_in, it.get_tensor(state_out))
        return it.get_tensor(self.y.index).reshape(-1)


StepPeerFactory = Callable[[QuantizedRNN], Any]
STEP_PEERS: tuple[tuple[str, StepPeerFactory], ...] = (
    (TorchEagerStep.name, TorchEagerStep),
    (OnnxRuntimeStep.name, OnnxRuntimeStep),
    (LiteRTStep.name, LiteRTStep),
)
