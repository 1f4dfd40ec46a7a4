"""Quantization-aware fine-tuning: the float model run through the integer reference's rounding points.

:func:`fake_quant_forward` runs an :class:`RNNModel` in float32 with every rounding and
saturation of :mod:`edgernn.reference.cells` modelled on the float values (straight-through
estimators: rounding passes gradients unchanged, a clamp passes none outside its range):

* weights: symmetric int8 as :func:`edgernn.quant.quantizer.quantize_weight` makes them (one
  scale per gate matrix in the cells, one per output row in the head), biases on the int32 grid
  ``input_scale * weight_scale``;
* activations entering a layer (the input, every hidden state the next layer, the recurrent FC
  and the head read) and the head's output: asymmetric int8 at the quantizer's scales (a
  regression head's output and a 16-bit model input: symmetric int16, as the quantizer makes them);
* gate pre-activations: int16 Q3.12 (the two FC outputs are each rounded, then added with
  saturation to [-8, 8)); sigmoid/tanh outputs and every gate product: int16 Q0.15;
* GRU: ``r * (W_hn h + b_hn)`` from the int16 ``h_n`` at its own scale, rounded to Q3.12; the
  state kept at int16 Q0.15, ``h_q15' = round(z*h_q15) + round((1 - 2**-15 - z) * n)``
  (saturated), and its int8 requantization is what the recurrent FC, the next layer and the head
  read; LSTM: the cell state int16 at its power-of-two scale, ``h = int8(o * tanh(c))``.

The activation scales come from the quantizer's own observers and rules (:class:`ActivationQuant`),
recalibrated on the float model after every QAT epoch over the same calibration subset
post-training quantization uses, so the model trains against the scales it will be quantized with.
After fine-tuning, the normal quantizer (PTQ on the fine-tuned weights) makes the int8 model.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from edgernn.data import Normalization, SequenceData
from edgernn.errors import EdgeRNNError, UnsupportedModelError
from edgernn.fixedpoint import GATE_INPUT_SCALE_POWER, GATE_OUTPUT_SCALE_POWER, INT8_MAX, INT8_MIN, INT16_MAX, INT16_MIN
from edgernn.ir import GRUCellQ, LSTMCellQ, QParams, QuantizedRNN
from edgernn.metrics import Metric
from edgernn.models.rnn import RNNModel
from edgernn.quant.observers import MinMaxObserver, Observer, make_observer
from edgernn.quant.quantizer import (
    QuantizeOptions,
    cell_scale_power,
    gru_reset_hidden_scale,
    input_qparams,
    output_qparams,
    qparams_from_range,
)
from edgernn.types import Activation, CellType, OutputMode, Readout

if TYPE_CHECKING:
    from edgernn.models.training import TrainConfig

__all__ = [
    "ActivationQuant",
    "QATConfig",
    "calibrate_activations",
    "fake_quant",
    "fake_quant_forward",
]

Q12 = 2.0**GATE_INPUT_SCALE_POWER
Q15 = 2.0**GATE_OUTPUT_SCALE_POWER


@dataclass(frozen=True)
class QATConfig:
    """Fine-tuning after float training. ``mode`` ``"on"`` always fine-tunes; ``"auto"`` only when
    post-training quantization loses more than :func:`edgernn.metrics.int8_loss_exceeds` allows
    on the validation split (the thresholds ``quantize`` warns at). ``learning_rate`` None is a
    tenth of the float training's."""

    mode: str = "on"
    epochs: int = 5
    learning_rate: float | None = None
    quantize: QuantizeOptions = QuantizeOptions()

    def __post_init__(self) -> None:
        if self.quantize.cell_clip > 0:  # the fake-quantized forward does not model the clip
            raise EdgeRNNError("QAT does not support an LSTM cell clip", "quantize with a cell clip after training")
        if self.mode not in ("on", "auto"):
            raise EdgeRNNError(f"invalid QAT mode {self.mode!r}", "use 'on' or 'auto'")
        if self.epochs < 1 or (self.learning_rate is not None and not self.learning_rate > 0):
            raise EdgeRNNError(
                f"invalid QAT setting epochs={self.epochs}, learning_rate={self.learning_rate}",
                "use at least 1 epoch and a positive learning rate",
            )


# ------------------------------------------------------------------------------ fake quantization


def fake_quant(x: torch.Tensor, scale: float | torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``scale * round(clamp(x / scale, lo, hi))`` with a straight-through gradient.

    The gradient is 1 where ``lo <= x / scale <= hi`` (rounding passes it unchanged) and 0 outside
    (the clamp). ``lo``/``hi`` are integer grid bounds, so clamping before rounding is the same as
    after. Rounding is half to even (torch.round); the integer kernels round ties away from zero
    or up, which differs only on exact ties.
    """
    q = torch.clamp(x / scale, lo, hi)
    return (q + (torch.round(q) - q).detach()) * scale


def _q12(x: torch.Tensor) -> torch.Tensor:
    """An int16 Q3.12 value: a gate FC's output or a saturating sum of two of them."""
    return fake_quant(x, Q12, INT16_MIN, INT16_MAX)


def _q15(x: torch.Tensor) -> torch.Tensor:
    """An int16 Q0.15 value: a sigmoid/tanh output or a gate product."""
    return fake_quant(x, Q15, INT16_MIN, INT16_MAX)


def _act(x: torch.Tensor, q: QParams) -> torch.Tensor:
    """An asymmetric int8 activation: ``scale * (clamp(round(x / scale) + zp) - zp)``."""
    return fake_quant(x, q.scale, INT8_MIN - q.zero_point, INT8_MAX - q.zero_point)


def _weight(w: torch.Tensor, per_row: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 weights in [-127, 127] and their scales (per row or per matrix), as
    :func:`edgernn.quant.quantizer.quantize_weight`; the scale is a constant to the gradient."""
    amax = w.detach().abs().amax(dim=1, keepdim=True) if per_row else w.detach().abs().amax().expand(w.shape[0], 1)
    scale = torch.where(amax > 0, amax / INT8_MAX, torch.ones_like(amax))
    return fake_quant(w, scale, -INT8_MAX, INT8_MAX), scale[:, 0]


def _fc(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, in_scale: float | None, per_row: bool
) -> torch.Tensor:
    """The real value of a quantized FULLY_CONNECTED's accumulator ``W_q x + b_q`` (before its
    output requantization). ``in_scale`` None: float (no quantization)."""
    if in_scale is None:
        return x @ w.T + (0 if b is None else b)
    wq, w_scale = _weight(w, per_row)
    y = x @ wq.T
    if b is not None:
        y = y + fake_quant(b, in_scale * w_scale, -(2.0**31), 2.0**31 - 1)
    return y


# ------------------------------------------------------------------------------ activation ranges


@dataclass(frozen=True)
class ActivationQuant:
    """Every activation quantization of the integer model, as the quantizer derives it."""

    input_q: QParams  # normalized features, or the embedding table
    hidden_q: tuple[QParams, ...]  # per layer (both directions share it)
    cell_scale_power: tuple[int, ...]  # LSTM: the int16 cell state's power-of-two scale, per layer
    reset_hidden_scale: tuple[float, ...]  # GRU: the int16 scale of W_hn h + b_hn, per layer
    output_q: QParams | None  # the head's output
    output_bits: int = 8  # 16: a regression head's symmetric int16 output (QuantizeOptions.head_output_bits)
    input_bits: int = 8  # 16: a symmetric int16 model input (QuantizeOptions.input_bits)

    @classmethod
    def of(cls, model: QuantizedRNN) -> ActivationQuant:
        """The quantization of an already quantized model (to compare it with its training view)."""
        powers, hn_scales = [], []
        for layer in model.layers:
            quant = layer.directions[0].quant  # both directions share these scales
            powers.append(quant.cell_scale_power if isinstance(quant, LSTMCellQ) else 0)
            hn_scales.append(quant.h_n.output_scale if isinstance(quant, GRUCellQ) else Q12)
        return cls(
            input_q=model.input_q,
            hidden_q=tuple(layer.hidden_q for layer in model.layers),
            cell_scale_power=tuple(powers),
            reset_hidden_scale=tuple(hn_scales),
            output_q=None if model.head is None else model.head.output_q,
            output_bits=model.output_bits,
            input_bits=model.input_bits,
        )


class _Observers:
    """The quantizer's observers (:class:`edgernn.quant.quantizer._RangeProbe`'s kinds), fed from
    a batched torch float run: only the valid (unpadded) steps are observed."""

    def __init__(self, num_layers: int, options: QuantizeOptions) -> None:
        def make() -> Observer:
            return make_observer(options.observer, options.percentile)

        self.input = make()
        self.hidden = [make() for _ in range(num_layers)]
        self.cell = [MinMaxObserver() for _ in range(num_layers)]
        self.reset_hidden = [MinMaxObserver() for _ in range(num_layers)]
        self.head = make()

    def result(self, cell: CellType, has_head: bool, head_bits: int = 8, input_bits: int = 8) -> ActivationQuant:
        """The quantizer's rules applied to the observed ranges."""
        return ActivationQuant(
            input_q=input_qparams(*self.input.range(), input_bits),
            hidden_q=tuple(qparams_from_range(*h.range()) for h in self.hidden),
            cell_scale_power=tuple(cell_scale_power(c.abs_max()) if cell is CellType.LSTM else 0 for c in self.cell),
            reset_hidden_scale=tuple(
                gru_reset_hidden_scale(r.abs_max()) if cell is CellType.GRU else Q12 for r in self.reset_hidden
            ),
            output_q=output_qparams(*self.head.range(), head_bits) if has_head else None,
            output_bits=head_bits,
            input_bits=input_bits,
        )


def _observe(observer: Observer, values: torch.Tensor, valid: torch.Tensor) -> None:
    """Feed the rows of ``values`` where ``valid`` is true (padded steps are not data)."""
    observer.update(values[valid].detach().numpy())


# ------------------------------------------------------------------------------ the forward pass


def fake_quant_forward(
    model: RNNModel,
    x: torch.Tensor,
    lengths: torch.Tensor | None,
    quant: ActivationQuant | None,
    per_channel_head: bool = True,
    observers: _Observers | None = None,
) -> torch.Tensor:
    """The model's output (as :meth:`RNNModel.forward`'s first value) with the integer reference's
    rounding points; ``quant`` None runs plain float, which ``observers`` (calibration) watch."""
    if observers is not None and quant is not None:
        raise ValueError("calibration observes the float model: pass quant=None with observers")
    cfg = model.config
    batch, steps = x.shape[0], x.shape[1]
    lengths = torch.full((batch,), steps) if lengths is None else torch.as_tensor(lengths)
    valid = torch.arange(steps)[None, :] < lengths[:, None]  # (B, T)
    if model.embedding is not None:
        table = model.embedding.weight
        if observers is not None:
            observers.input.update(table.detach().numpy())
        inp = (table if quant is None else _act(table, quant.input_q))[x]
    else:
        model._embed(x)  # the shape check and its error
        if observers is not None:
            _observe(observers.input, x, valid)
        inp = x if quant is None else _model_input(x, quant)
    in_scale = None if quant is None else quant.input_q.scale
    finals: list[torch.Tensor] = []
    for layer in range(cfg.num_layers):
        outputs = []
        finals = []
        for direction in range(cfg.num_directions):
            out, final = _run_direction(model, layer, direction, inp, valid, in_scale, quant, observers)
            outputs.append(out)
            finals.append(final)
        inp = torch.cat(outputs, dim=-1)
        in_scale = None if quant is None else quant.hidden_q[layer].scale
    mean = cfg.output_mode is OutputMode.LAST and cfg.readout is Readout.MEAN
    if cfg.output_mode is OutputMode.SEQUENCE:
        features = inp
    elif mean:
        features = _mean_over_time(inp, valid, in_scale)
    else:
        features = torch.cat(finals, dim=-1)
    if model.head is None:
        return features
    y = _head(model, features, in_scale, quant, per_channel_head)
    if observers is not None:
        # As the quantizer: the head's output at every step a stream would emit (on the running mean).
        per_step = _running_mean(inp) if mean else inp
        _observe(observers.head, _head(model, per_step, None, None, per_channel_head), valid)
        if cfg.output_mode is OutputMode.LAST and cfg.bidirectional:
            observers.head.update(y.detach().numpy())
    return y


def _model_input(x: torch.Tensor, quant: ActivationQuant) -> torch.Tensor:
    """The quantized float features: int8 asymmetric, or symmetric int16 (``input_bits`` 16)."""
    if quant.input_bits == 16:
        return fake_quant(x, quant.input_q.scale, INT16_MIN, INT16_MAX)
    return _act(x, quant.input_q)


def _mean_over_time(out: torch.Tensor, valid: torch.Tensor, scale: float | None) -> torch.Tensor:
    """The mean of ``out`` (B, T, H) over each row's valid steps. Fake-quantized (``scale``: the
    top layer's int8 scale, whose grid ``out`` is on) as the integer readout computes it: the exact
    sum of the int8 steps divided by the count, rounded half away from zero, at the same scale."""
    count = valid.sum(dim=1, keepdim=True).to(out.dtype)
    total = (out * valid[..., None].to(out.dtype)).sum(dim=1)
    if scale is None:
        return total / count
    steps = total / scale
    steps = steps + (torch.round(steps) - steps).detach()  # an integer sum: remove float noise
    mean = steps / count
    rounded = torch.sign(mean) * torch.floor(mean.abs() + 0.5)
    return (mean + (rounded - mean).detach()) * scale


def _running_mean(out: torch.Tensor) -> torch.Tensor:
    """The mean of steps ``0..t`` at every step ``t`` (what the head reads when a mean model streams)."""
    count = torch.arange(1, out.shape[1] + 1, dtype=out.dtype).reshape(1, -1, 1)
    return torch.cumsum(out, dim=1) / count


def _head(
    model: RNNModel, h: torch.Tensor, in_scale: float | None, quant: ActivationQuant | None, per_row: bool
) -> torch.Tensor:
    assert model.head is not None
    y = _fc(h, model.head.weight, model.head.bias, in_scale, per_row)
    if quant is None or quant.output_q is None:
        return y
    if quant.output_bits == 16:  # symmetric int16 (zero point 0)
        return fake_quant(y, quant.output_q.scale, INT16_MIN, INT16_MAX)
    return _act(y, quant.output_q)


def _run_direction(
    model: RNNModel,
    layer: int,
    direction: int,
    inp: torch.Tensor,
    valid: torch.Tensor,
    in_scale: float | None,
    quant: ActivationQuant | None,
    observers: _Observers | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One direction of one layer over time: ``(outputs (B, T, H), final h (B, H))``."""
    cfg = model.config
    cell = cfg.cell
    hsz = cfg.hidden_size
    gates = cell.gates
    suffix = f"l{layer}" + ("_reverse" if direction else "")
    w_ih, w_hh = getattr(model.rnn, f"weight_ih_{suffix}"), getattr(model.rnn, f"weight_hh_{suffix}")
    b_ih, b_hh = getattr(model.rnn, f"bias_ih_{suffix}"), getattr(model.rnn, f"bias_hh_{suffix}")
    fake = quant is not None
    hidden_q = quant.hidden_q[layer] if quant is not None else None
    h_scale = hidden_q.scale if hidden_q is not None else None

    # The input FCs do not depend on the state: all steps at once. Each gate's matrix has its own
    # scale; the GRU's x_n carries b_in only (b_hn is scaled by r), every other x FC both biases.
    x_bias = b_ih + b_hh
    if cell is CellType.GRU:
        x_bias = torch.cat([x_bias[: 2 * hsz], b_ih[2 * hsz :]])
    x_pre = torch.cat(
        [
            _fc(inp, w_ih[k * hsz : (k + 1) * hsz], x_bias[k * hsz : (k + 1) * hsz], in_scale, False)
            for k in range(gates)
        ],
        dim=-1,
    )
    h_bias = torch.cat([torch.zeros(2 * hsz), b_hh[2 * hsz :]]) if cell is CellType.GRU else None
    if fake:
        x_pre = _q12(x_pre)
        w_hh_q = torch.cat([_weight(w_hh[k * hsz : (k + 1) * hsz], False)[0] for k in range(gates)])
        h_bias_q = None
        if h_bias is not None:
            # Only b_hn is nonzero; it is quantized at the h_n FC's accumulator scale.
            _, hn_w_scale = _weight(w_hh[2 * hsz :], False)
            b_hn = fake_quant(h_bias[2 * hsz :], h_scale * hn_w_scale, -(2.0**31), 2.0**31 - 1)
            h_bias_q = torch.cat([h_bias[: 2 * hsz], b_hn])
    else:
        w_hh_q, h_bias_q = w_hh, h_bias

    batch, steps = inp.shape[0], inp.shape[1]
    h = torch.zeros(batch, hsz)  # real zero is exact in int8 (the zero point)
    memory = torch.zeros(batch, hsz)  # LSTM c, GRU h_q15; unused by Elman
    outputs: list[torch.Tensor] = [torch.empty(0)] * steps
    order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
    for t in order:
        h_pre = h @ w_hh_q.T + (0 if h_bias_q is None else h_bias_q)
        new_h, new_memory, reset_hidden = _cell_step(cell, x_pre[:, t], h_pre, memory, quant, layer, hidden_q)
        mask = valid[:, t : t + 1]
        h = torch.where(mask, new_h, h)
        memory = torch.where(mask, new_memory, memory)
        outputs[t] = h
        if observers is not None:
            m = valid[:, t]
            _observe(observers.hidden[layer], new_h, m)
            if cell is CellType.LSTM:
                _observe(observers.cell[layer], new_memory, m)
            if reset_hidden is not None:
                _observe(observers.reset_hidden[layer], reset_hidden, m)
    return torch.stack(outputs, dim=1), h


def _cell_step(
    cell: CellType,
    x_pre: torch.Tensor,
    h_pre: torch.Tensor,
    memory: torch.Tensor,
    quant: ActivationQuant | None,
    layer: int,
    hidden_q: QParams | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One step from the input and recurrent FC outputs: ``(h', memory', W_hn h + b_hn or None)``."""
    fake = quant is not None
    hsz = memory.shape[-1]
    if cell is CellType.GRU:
        hn = h_pre[:, 2 * hsz :]
        if fake:
            h_rz = _q12(h_pre[:, : 2 * hsz])
            pre_rz = torch.clamp(x_pre[:, : 2 * hsz] + h_rz, INT16_MIN * Q12, INT16_MAX * Q12)
            rz = _q15(torch.sigmoid(pre_rz))
            hn_q = fake_quant(hn, quant.reset_hidden_scale[layer], INT16_MIN, INT16_MAX)
            r, z = rz[:, :hsz], rz[:, hsz:]
            pre_n = torch.clamp(x_pre[:, 2 * hsz :] + _q12(r * hn_q), INT16_MIN * Q12, INT16_MAX * Q12)
            n = _q15(torch.tanh(pre_n))
            # 1 - z is 32767 - z in Q0.15: TFLite's int16 SUB from the largest int16 constant.
            h_q15 = torch.clamp(_q15(z * memory) + _q15((1.0 - Q15 - z) * n), INT16_MIN * Q15, INT16_MAX * Q15)
            assert hidden_q is not None
            return _act(h_q15, hidden_q), h_q15, hn
        rz = torch.sigmoid(x_pre[:, : 2 * hsz] + h_pre[:, : 2 * hsz])
        r, z = rz[:, :hsz], rz[:, hsz:]
        n = torch.tanh(x_pre[:, 2 * hsz :] + r * hn)
        h_new = (1.0 - z) * n + z * memory
        return h_new, h_new, hn
    if fake:
        pre = torch.clamp(x_pre + _q12(h_pre), INT16_MIN * Q12, INT16_MAX * Q12)
    else:
        pre = x_pre + h_pre
    if cell is CellType.RNN:
        t = torch.tanh(pre)
        if not fake:
            return t, memory, None
        assert hidden_q is not None
        return _act(_q15(t), hidden_q), memory, None
    i, f = torch.sigmoid(pre[:, :hsz]), torch.sigmoid(pre[:, hsz : 2 * hsz])
    g, o = torch.tanh(pre[:, 2 * hsz : 3 * hsz]), torch.sigmoid(pre[:, 3 * hsz :])
    if not fake:
        c = f * memory + i * g
        return o * torch.tanh(c), c, None
    assert quant is not None and hidden_q is not None
    i, f, g, o = _q15(i), _q15(f), _q15(g), _q15(o)
    c_scale = 2.0 ** quant.cell_scale_power[layer]
    c = torch.clamp(
        fake_quant(f * memory, c_scale, INT16_MIN, INT16_MAX) + fake_quant(i * g, c_scale, INT16_MIN, INT16_MAX),
        INT16_MIN * c_scale,
        INT16_MAX * c_scale,
    )
    return _act(o * _q15(torch.tanh(c)), hidden_q), c, None


# ------------------------------------------------------------------------------ calibration


def calibration_inputs(inputs: Sequence[np.ndarray], options: QuantizeOptions) -> list[np.ndarray]:
    """The subset of (normalized) training inputs the quantizer calibrates on."""
    from edgernn.quant.from_torch import calibration_indices  # lazy: from_torch imports edgernn.models

    return [inputs[i] for i in calibration_indices(len(inputs), options.max_calibration_sequences)]


@torch.no_grad()
def calibrate_activations(
    model: RNNModel, inputs: Sequence[np.ndarray], options: QuantizeOptions = QuantizeOptions(), batch_size: int = 128
) -> ActivationQuant:
    """The activation quantization post-training quantization would give ``model`` with these
    calibration inputs (normalized features or token ids): the same observers and rules."""
    from edgernn.models.training import _collate

    observers = _Observers(model.config.num_layers, options)
    for start in range(0, len(inputs), batch_size):
        x, lengths = _collate(inputs, np.arange(start, min(start + batch_size, len(inputs))))
        fake_quant_forward(model, x, lengths, None, options.per_channel_head, observers)
    cfg = model.config
    return observers.result(cfg.cell, model.head is not None, options.head_bits(cfg.task), options.input_bits_for(cfg))


# ------------------------------------------------------------------------------ fine-tuning


@dataclass
class QATResult:
    model: RNNModel  # best weights by the validation metric of the fake-quantized model
    history: list[dict[str, float]]  # per QAT epoch; epoch 0 is the float weights before fine-tuning
    best_epoch: int  # 0: fine-tuning never beat the float weights' int8 view, which are kept
    val_metric: Metric  # fake-quantized validation metric of the kept weights
    start_metric: Metric  # fake-quantized validation metric of the float weights (epoch 0)
    quant: ActivationQuant  # the kept weights' activation quantization


#: ``train_epoch(model, forward, optimizer, order) -> mean loss`` and
#: ``evaluate_forward(model, forward) -> (validation metric, validation loss)``, from
#: :mod:`edgernn.models.training`.
TrainEpoch = Callable[[RNNModel, Callable[..., torch.Tensor], torch.optim.Optimizer, np.ndarray], float]
EvaluateForward = Callable[[RNNModel, Callable[..., torch.Tensor]], tuple[Metric, float]]


def fine_tune(
    model: RNNModel,
    data: SequenceData,
    normalization: Normalization | None,
    qat: QATConfig,
    learning_rate: float,
    tc: TrainConfig,
    train_epoch: TrainEpoch,
    evaluate_forward: EvaluateForward,
    progress: bool,
) -> QATResult:
    """Fine-tune a copy of ``model`` with fake quantization for ``qat.epochs`` epochs and keep the
    weights whose fake-quantized validation metric is best, ties broken by the validation loss (a
    small validation split often ties on accuracy); the float weights if none beat them."""
    from edgernn.models.training import _inputs, improves

    cfg = model.config
    mean = cfg.readout is Readout.MEAN and cfg.head_activation is Activation.NONE
    if not (cfg.is_default_readout or mean) or cfg.nonlinearity is not Activation.TANH:
        # fake_quant_forward models h_n, the mean over time and the tanh Elman cell only
        raise UnsupportedModelError(
            "quantization-aware training does not model output[:, -1] of a bidirectional model, an activation"
            " before the head or the ReLU Elman cell yet",
            "quantize it after training (post-training quantization supports them)",
        )
    model = copy.deepcopy(model)
    options = qat.quantize
    calibration = calibration_inputs(_inputs(data, normalization), options)

    def forward_with(quant: ActivationQuant) -> Callable[..., torch.Tensor]:
        def forward(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
            return fake_quant_forward(model, x, lengths, quant, options.per_channel_head)

        return forward

    quant = calibrate_activations(model, calibration, options)
    start_metric, best_loss = evaluate_forward(model, forward_with(quant))
    best = start_metric
    key = f"val_{best.name.lower()}"
    history = [{"epoch": 0, key: best.value, "val_loss": best_loss}]
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_quant, best_epoch = quant, 0
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=tc.weight_decay)
    rng = np.random.default_rng(tc.seed)
    start = time.monotonic()
    bar = tqdm(range(1, qat.epochs + 1), desc="qat", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        loss = train_epoch(model, forward_with(quant), optimizer, rng.permutation(len(data)))
        if not math.isfinite(loss):
            raise EdgeRNNError(f"QAT diverged (loss {loss}) in epoch {epoch}", "lower the QAT learning rate")
        # The ranges follow the weights, as post-training quantization will compute them.
        quant = calibrate_activations(model, calibration, options)
        metric, val_loss = evaluate_forward(model, forward_with(quant))
        elapsed = time.monotonic() - start
        history.append(
            {"epoch": epoch, "train_loss": loss, key: metric.value, "val_loss": val_loss, "seconds": elapsed}
        )
        if improves(metric, val_loss, best, best_loss):
            best, best_loss, best_epoch, best_quant = metric, val_loss, epoch, quant
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(loss=f"{loss:.4f}", val=str(metric), best=best_epoch)
        if tc.max_minutes is not None and elapsed >= 60 * tc.max_minutes:
            break
    bar.close()
    model.load_state_dict(best_state)
    return QATResult(model.eval(), history, best_epoch, best, start_metric, best_quant)
