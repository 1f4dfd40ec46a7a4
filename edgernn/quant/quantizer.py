"""Post-training quantization: float weights + calibration data -> :class:`QuantizedRNN`.

Calibration happens here, once. Every scale, zero point, multiplier and shift a kernel needs is
computed in this module; no exporter or backend derives its own.

Choices (the arithmetic they feed is specified in :mod:`edgernn.reference`):

* activations entering or leaving a layer (the input, each layer's hidden state, the head's
  output) are asymmetric int8 with a range from the chosen observer (min/max or percentile),
  widened to include zero; both directions of a layer share one hidden quantization; a regression
  head's output is symmetric int16 instead (``QuantizeOptions.head_output_bits``), and so is a
  regression model's float input (``QuantizeOptions.input_bits``: the first layer's input FCs are
  16x8);
* cell weights are symmetric int8 with one scale per gate matrix (what TFLite Micro's fused
  LSTM supports); the head's weights have one scale per output channel; biases are int32 at
  ``input_scale * weight_scale``;
* gate pre-activations are int16 Q3.12, gate outputs Q0.15 (fixed by the LUT kernels); the LSTM
  cell state is int16 at the smallest power-of-two scale that holds its calibrated maximum; the
  GRU's ``W_hn h + b_hn`` is int16 at a scale no finer than Q3.12 that holds its maximum. These
  int16 intermediates always use the absolute maximum: int16 has the headroom to spare.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgernn import __version__, engine
from edgernn.errors import QuantizationError
from edgernn.fixedpoint import (
    GATE_INPUT_SCALE_POWER,
    GATE_OUTPUT_SCALE_POWER,
    INT8_MAX,
    INT8_MIN,
    INT16_MAX,
    INT32_MAX,
    INT32_MIN,
    round_half_away_from_zero,
)
from edgernn.floatmodel import Array, FloatKernels, FloatParams
from edgernn.ir import (
    Dense,
    Direction,
    ElmanCellQ,
    Embedding,
    FloatCellWeights,
    FullyConnected,
    GRUCellQ,
    HeadTanh,
    LSTMCellQ,
    Provenance,
    QParams,
    QuantizedRNN,
    RecurrentLayer,
    fc_multipliers,
)
from edgernn.quant.observers import MinMaxObserver, Observer, make_observer
from edgernn.types import Activation, CellType, ModelConfig, OutputMode, Readout, Task

GATE_SCALE = 2.0**GATE_INPUT_SCALE_POWER
Q15_SCALE = 2.0**GATE_OUTPUT_SCALE_POWER
MIN_CELL_SCALE_POWER = -15  # cell range [-1, 1)
MAX_CELL_SCALE_POWER = 0  # cell range [-32768, 32768): far beyond any trained LSTM


@dataclass(frozen=True)
class QuantizeOptions:
    """How to calibrate. ``observer`` is ``"minmax"`` or ``"percentile"``.

    ``cell_clip``: an LSTM's cell clip as TFLite's LSTMOptions.cell_clip (float, cell-state units;
    0 = none, as Keras-converted models without one): the int16 cell state is clamped to it after
    each update, and the cell scale is chosen for ``min(calibrated range, clip)``.
    """

    observer: str = "minmax"
    percentile: float = 99.99
    max_calibration_sequences: int | None = 1000
    per_channel_head: bool = True
    cell_clip: float = 0.0
    #: Bits of the dense head's output: 8, 16, or None (the default) for 16 on a regression head and
    #: 8 otherwise. A forecast's int8 output step is (range incl. 0) / 255: on elecdemand (0..9.2 GW)
    #: 0.036 GW, adding 1.1-1.5% to a 0.05 GW MAE by rounding alone; int16 makes it 0.0003 GW.
    #: Class scores and logits keep int8 (argmax and sampling read them; int8 loses nothing there).
    head_output_bits: int | None = None
    #: Bits of the model's input (the first layer's input FCs become 16x8): 8, 16, or None (the default)
    #: for 16 on a regression model with float features and 8 otherwise. A forecaster's output follows
    #: its latest input, so the int8 input step (elecdemand: 0.027 GW) passes into the forecast error
    #: (+3.4-4.1% MAE alone); int16 makes it 256 times finer. Token models read their int8 embedding.
    input_bits: int | None = None

    def __post_init__(self) -> None:
        if self.head_output_bits not in (None, 8, 16):
            raise QuantizationError(f"head output bits {self.head_output_bits} is not 8 or 16", "use 8 or 16")
        if self.input_bits not in (None, 8, 16):
            raise QuantizationError(f"input bits {self.input_bits} is not 8 or 16", "use 8 or 16")

    def describe(self) -> str:
        return f"percentile {self.percentile}" if self.observer == "percentile" else self.observer

    def head_bits(self, task: Task) -> int:
        """The head's output bits for a model of ``task`` (see ``head_output_bits``)."""
        if self.head_output_bits is not None:
            return self.head_output_bits
        return 16 if task is Task.REGRESSION else 8

    def input_bits_for(self, config: ModelConfig) -> int:
        """The model input's bits for ``config`` (see ``input_bits``); 16 on a token model is refused."""
        if config.uses_tokens:
            if self.input_bits == 16:
                raise QuantizationError(
                    "a token model's input is its int8 embedding table; it has no 16-bit input", "use input bits 8"
                )
            return 8
        if self.input_bits is not None:
            return self.input_bits
        return 16 if config.task is Task.REGRESSION else 8


class _RangeProbe:
    """Collects the ranges calibration needs from the float model (see :class:`Probe`)."""

    def __init__(self, num_layers: int, options: QuantizeOptions) -> None:
        self.hidden_ranges: list[Observer] = [
            make_observer(options.observer, options.percentile) for _ in range(num_layers)
        ]
        self.cell_ranges = [MinMaxObserver() for _ in range(num_layers)]
        self.reset_hidden_ranges = [MinMaxObserver() for _ in range(num_layers)]
        self.head_range = make_observer(options.observer, options.percentile)

    def hidden(self, layer: int, h: Array) -> None:
        self.hidden_ranges[layer].update(h)

    def cell_state(self, layer: int, c: Array) -> None:
        self.cell_ranges[layer].update(c)

    def gru_reset_hidden(self, layer: int, hn: Array) -> None:
        self.reset_hidden_ranges[layer].update(hn)

    def head_output(self, y: Array) -> None:
        self.head_range.update(y)


def qparams_from_range(low: float, high: float) -> QParams:
    """Asymmetric int8 quantization covering ``[low, high]`` widened to include 0 (TFLite's rule)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise QuantizationError("calibration saw non-finite activations", "check the model and calibration data")
    if high - low < 1e-8:  # a tensor that is always zero: any scale represents it exactly
        return QParams(scale=1.0 / 128, zero_point=0)
    scale = f32((high - low) / (INT8_MAX - INT8_MIN))
    zero_point = round_half_away_from_zero(INT8_MIN - low / scale)
    return QParams(scale=scale, zero_point=int(np.clip(zero_point, INT8_MIN, INT8_MAX)))


def int16_qparams_from_range(low: float, high: float) -> QParams:
    """Symmetric int16 quantization covering ``[low, high]`` (zero point 0, TFLite's int16 rule)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise QuantizationError("calibration saw non-finite activations", "check the model and calibration data")
    abs_max = max(abs(low), abs(high))
    return QParams(scale=f32(abs_max / INT16_MAX) if abs_max > 1e-8 else 1.0 / 32768, zero_point=0)


def input_qparams(low: float, high: float, bits: int) -> QParams:
    """The model input's quantization for its calibrated range: int8 asymmetric or int16 symmetric."""
    return int16_qparams_from_range(low, high) if bits == 16 else qparams_from_range(low, high)


def output_qparams(low: float, high: float, bits: int) -> QParams:
    """The head output's quantization for its calibrated range: int8 asymmetric or int16 symmetric."""
    return int16_qparams_from_range(low, high) if bits == 16 else qparams_from_range(low, high)


def head_tanh_qparams(hidden_q: QParams) -> QParams:
    """The int8 quantization of tanh before the head: the range tanh maps the top layer's int8 range
    onto (tanh is monotone, so it is the exact range of the values), as every other activation. A fixed
    1/128 would be up to ~5x coarser than the hidden values for the small ranges LSTM tops often have."""
    low, high = hidden_q.scale * (INT8_MIN - hidden_q.zero_point), hidden_q.scale * (INT8_MAX - hidden_q.zero_point)
    return qparams_from_range(math.tanh(low), math.tanh(high))


def f32(x: float) -> float:
    """Round to float32: the precision of every scale in the IR and in a .tflite file."""
    return float(np.float32(x))


def _round_away(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_weight(w: npt.NDArray[np.floating], per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 in [-127, 127]: one scale for the matrix, or one per output row."""
    w64 = np.asarray(w, dtype=np.float64)
    amax = np.abs(w64).max(axis=1) if per_channel else np.full(w64.shape[0], np.abs(w64).max())
    scale = np.where(amax > 0, amax / INT8_MAX, 1.0)
    q = np.clip(_round_away(w64 / scale[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale.astype(np.float32)


def make_fc(
    weight: npt.NDArray[np.floating],
    bias: npt.NDArray[np.floating],
    input_q: QParams,
    output_scale: float,
    output_zero_point: int,
    output_bits: int,
    per_channel: bool,
    name: str,
    input_bits: int = 8,
) -> FullyConnected:
    """Quantize one float ``y = W x + b`` into TFLite's integer FULLY_CONNECTED (``input_bits`` 16:
    a symmetric int16 input, 16x8)."""
    q_weight, w_scale = quantize_weight(weight, per_channel)
    output_scale = f32(output_scale)
    acc_scale = input_q.scale * w_scale.astype(np.float64)  # both float32 values: exact in double
    q_bias = _round_away(np.asarray(bias, dtype=np.float64) / acc_scale)
    if q_bias.min(initial=0) < INT32_MIN or q_bias.max(initial=0) > INT32_MAX:
        raise QuantizationError(
            f"the bias of {name} does not fit int32 at scale {acc_scale.min():.3g}",
            "the weights or input range are degenerate; retrain with weight decay or recalibrate",
        )
    # Per row: double(s_in) * double(s_w[o]) / double(s_out). TFLite's source takes a per-tensor
    # FC's product in float32 first (GetQuantizedConvolutionMultipler), but the TFLite Micro that
    # edgernn is tested against (PyPI tflite-micro 0.dev20261023) matches the double product:
    # 0 of 288,000 outputs differ per cell over 6 random models x 1,500 steps, against 6 (LSTM)
    # and 337 (Elman) with the float32 product. The oracle decides.
    multipliers, shifts = fc_multipliers(input_q.scale, w_scale, output_scale)
    return FullyConnected(
        weight=q_weight,
        weight_scale=w_scale,
        bias=q_bias.astype(np.int32),
        multiplier=multipliers,
        shift=shifts,
        input_zero_point=input_q.zero_point,
        output_scale=output_scale,
        output_zero_point=output_zero_point,
        output_bits=output_bits,
        input_bits=input_bits,
    )


def _gate_fc(
    w: np.ndarray, b: np.ndarray, q: QParams, name: str, scale: float = GATE_SCALE, input_bits: int = 8
) -> FullyConnected:
    return make_fc(w, b, q, scale, 0, 16, per_channel=False, name=name, input_bits=input_bits)


def cell_scale_power(abs_max: float) -> int:
    """Smallest power-of-two scale whose int16 range holds ``abs_max``."""
    if abs_max <= 0:
        return MIN_CELL_SCALE_POWER
    power = math.ceil(math.log2(abs_max)) - 15
    return int(np.clip(power, MIN_CELL_SCALE_POWER, MAX_CELL_SCALE_POWER))


def gru_reset_hidden_scale(abs_max: float) -> float:
    """int16 scale of ``W_hn h + b_hn``: Q3.12, or coarser if the values exceed 8."""
    return f32(max(GATE_SCALE, abs_max / 32767.0))


def relu_preactivation_scale(hidden_q: QParams) -> float:
    """int16 scale of a ReLU Elman cell's pre-activation: Q3.12, or coarser if the int8 hidden
    range reaches past 8."""
    return gru_reset_hidden_scale(float(hidden_q.dequantize(INT8_MAX)))


def _quantize_cell(
    cell: CellType,
    w: FloatCellWeights,
    input_q: QParams,
    hidden_q: QParams,
    probe: _RangeProbe,
    layer: int,
    nonlinearity: Activation = Activation.TANH,
    cell_clip: float = 0.0,
    input_bits: int = 8,
) -> ElmanCellQ | GRUCellQ | LSTMCellQ:
    hsz = w.weight_hh.shape[1]
    xb = input_bits  # the input FCs' (x_*) input width; the recurrent ones read int8 h

    def rows(a: np.ndarray, gate: int) -> np.ndarray:
        return a[gate * hsz : (gate + 1) * hsz]

    zeros = np.zeros(hsz, dtype=np.float32)
    where = f"layer {layer}"
    if cell is CellType.RNN and nonlinearity is Activation.RELU:
        # The int16 pre-activation must hold the largest hidden value (values above it saturate,
        # as int8 would anyway; negative ones become 0 whatever they are): Q3.12 or coarser.
        pre_scale = relu_preactivation_scale(hidden_q)
        return ElmanCellQ(
            x_fc=_gate_fc(w.weight_ih, w.bias_ih + w.bias_hh, input_q, f"{where} input", pre_scale, xb),
            h_fc=_gate_fc(w.weight_hh, zeros, hidden_q, f"{where} recurrent", scale=pre_scale),
            nonlinearity=Activation.RELU,
            **ElmanCellQ.derived_rescales(hidden_q.scale, pre_scale),
        )
    if cell is CellType.RNN:
        return ElmanCellQ(
            x_fc=_gate_fc(w.weight_ih, w.bias_ih + w.bias_hh, input_q, f"{where} input", input_bits=xb),
            h_fc=_gate_fc(w.weight_hh, zeros, hidden_q, f"{where} recurrent"),
            **ElmanCellQ.derived_rescales(hidden_q.scale),
        )
    if cell is CellType.GRU:
        hn_scale = gru_reset_hidden_scale(probe.reset_hidden_ranges[layer].abs_max())
        gates = {}
        for k, g in enumerate("rz"):
            gates[f"x_{g}"] = _gate_fc(
                rows(w.weight_ih, k), rows(w.bias_ih, k) + rows(w.bias_hh, k), input_q, f"{where} x_{g}", input_bits=xb
            )
            gates[f"h_{g}"] = _gate_fc(rows(w.weight_hh, k), zeros, hidden_q, f"{where} h_{g}")
        return GRUCellQ(
            **gates,
            x_n=_gate_fc(rows(w.weight_ih, 2), rows(w.bias_ih, 2), input_q, f"{where} x_n", input_bits=xb),
            h_n=_gate_fc(rows(w.weight_hh, 2), rows(w.bias_hh, 2), hidden_q, f"{where} h_n", scale=hn_scale),
            **GRUCellQ.derived_rescales(hidden_q.scale, hn_scale),
        )
    cell_range = probe.cell_ranges[layer].abs_max()
    power = cell_scale_power(min(cell_range, cell_clip) if cell_clip > 0 else cell_range)
    gates = {}
    for k, g in enumerate("ifgo"):  # PyTorch's gate order
        gates[f"x_{g}"] = _gate_fc(
            rows(w.weight_ih, k), rows(w.bias_ih, k) + rows(w.bias_hh, k), input_q, f"{where} x_{g}", input_bits=xb
        )
        gates[f"h_{g}"] = _gate_fc(rows(w.weight_hh, k), zeros, hidden_q, f"{where} h_{g}")
    return LSTMCellQ(
        **gates,
        cell_scale_power=power,
        **LSTMCellQ.derived_rescales(hidden_q.scale, power),
        cell_clip=LSTMCellQ.quantize_cell_clip(cell_clip, power),
    )


def float_params_sha256(params: FloatParams) -> str:
    h = hashlib.sha256()
    arrays: list[np.ndarray | None] = [params.embedding, params.head_weight, params.head_bias]
    for layer in params.cells:
        for w in layer:
            arrays += [w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh]
    for a in arrays:
        h.update(b"-" if a is None else np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


def calibrate(
    params: FloatParams,
    sequences: Sequence[Array],
    options: QuantizeOptions,
    initial_states: Sequence[engine.ModelState] | None = None,
) -> tuple[_RangeProbe, Observer]:
    """Run the float model over ``sequences`` (normalized features or token ids) and observe ranges.

    Each sequence runs alone (no padding), so no padded step enters a range. ``initial_states``
    (one float state per sequence; a seq2seq decoder's bridged state) start the sequences instead
    of zeros, and their values enter the hidden and cell ranges too.
    """
    cfg = params.config
    probe = _RangeProbe(cfg.num_layers, options)
    input_observer = make_observer(options.observer, options.percentile)
    kernels = FloatKernels(params, probe)
    for i, seq in enumerate(sequences):
        if not cfg.uses_tokens:
            input_observer.update(seq)
        state = None if initial_states is None else initial_states[i]
        for k, cell_state in enumerate(state or ()):
            probe.hidden(k // cfg.num_directions, cell_state[0])
            if len(cell_state) == 2:
                probe.cell_state(k // cfg.num_directions, cell_state[1])
        hidden, final = engine.run_layers(kernels, seq, state)
        kernels.head(engine.step_features(kernels, hidden))  # a stream emits the head's output at every step
        if cfg.output_mode is OutputMode.LAST and cfg.bidirectional and cfg.readout is Readout.FINAL_STATE:
            kernels.head(engine.final_hidden(kernels, final))
    if cfg.uses_tokens:
        assert params.embedding is not None
        input_observer.update(params.embedding)
    return probe, input_observer


def quantize_params(
    params: FloatParams,
    calibration: Sequence[Array],
    *,
    options: QuantizeOptions = QuantizeOptions(),
    input_mean: np.ndarray | None = None,
    input_std: np.ndarray | None = None,
    class_names: tuple[str, ...] | None = None,
    vocab: tuple[str, ...] | None = None,
    calibration_sha256: str,
    dataset: str | None = None,
    initial_states: Sequence[engine.ModelState] | None = None,
) -> QuantizedRNN:
    """Quantize float parameters with calibration sequences already normalized (numpy only);
    ``initial_states``: see :func:`calibrate`."""
    if len(calibration) == 0:
        raise QuantizationError("the calibration set is empty", "pass at least one sequence")
    for i, seq in enumerate(calibration):
        if np.asarray(seq).dtype.kind == "f" and not np.all(np.isfinite(seq)):
            raise QuantizationError(
                f"calibration sequence {i} contains NaN or Inf", "clean the calibration data before quantizing"
            )
    cfg = params.config
    if options.cell_clip > 0 and cfg.cell is not CellType.LSTM:
        raise QuantizationError(f"cell_clip is an LSTM option; this model is {cfg.cell.value}", "drop the cell clip")
    input_bits = options.input_bits_for(cfg)
    probe, input_observer = calibrate(params, calibration, options, initial_states)
    input_q = input_qparams(*input_observer.range(), input_bits)
    layers = []
    layer_input_q = input_q
    for k in range(cfg.num_layers):
        hidden_q = qparams_from_range(*probe.hidden_ranges[k].range())
        clip = options.cell_clip
        bits = input_bits if k == 0 else 8
        directions = tuple(
            Direction(
                float_weights=w,
                quant=_quantize_cell(cfg.cell, w, layer_input_q, hidden_q, probe, k, cfg.nonlinearity, clip, bits),
            )
            for w in params.cells[k]
        )
        layers.append(
            RecurrentLayer(
                cell=cfg.cell,
                input_size=cfg.layer_input_size(k),
                hidden_size=cfg.hidden_size,
                input_q=layer_input_q,
                hidden_q=hidden_q,
                directions=directions,
            )
        )
        layer_input_q = hidden_q
    head_tanh = None
    if cfg.head_activation is Activation.TANH:
        head_tanh = HeadTanh.of(layer_input_q, head_tanh_qparams(layer_input_q))
        layer_input_q = head_tanh.output_q  # what the head reads
    head = None
    if params.head_weight is not None:
        assert params.head_bias is not None
        bits = options.head_bits(cfg.task)
        output_q = output_qparams(*probe.head_range.range(), bits)
        fc = make_fc(
            params.head_weight,
            params.head_bias,
            layer_input_q,
            output_q.scale,
            output_q.zero_point,
            bits,
            per_channel=options.per_channel_head,
            name="head",
        )
        head = Dense(weight=params.head_weight, bias=params.head_bias, fc=fc, output_q=output_q)
    embedding = None
    if params.embedding is not None:
        embedding = Embedding(weight=params.embedding, table=input_q.quantize(params.embedding))
    return QuantizedRNN(
        config=cfg,
        layers=tuple(layers),
        embedding=embedding,
        head=head,
        input_mean=input_mean,
        input_std=input_std,
        class_names=class_names,
        vocab=vocab,
        head_tanh=head_tanh,
        provenance=Provenance(
            edgernn_version=__version__,
            source_sha256=float_params_sha256(params),
            calibration_sha256=calibration_sha256,
            calibration=options.describe(),
            calibration_sequences=len(calibration),
            dataset=dataset,
        ),
    )
