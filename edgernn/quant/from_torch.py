"""``edgernn.quantize``: a trained PyTorch model (or checkpoint) to a :class:`QuantizedRNN`.

The only torch-touching part of quantization: it reads the float weights out of the module,
then hands numpy arrays to :func:`edgernn.quant.quantizer.quantize_params`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import numpy as np

from edgernn.data import Normalization, SequenceData
from edgernn.errors import InputDataError, QuantizationError
from edgernn.evaluation import evaluate
from edgernn.floatmodel import FloatParams
from edgernn.ir import FloatCellWeights, QuantizedRNN
from edgernn.models import Checkpoint, RNNModel, from_torch
from edgernn.quant.quantizer import QuantizeOptions, quantize_params


def _numpy(t) -> np.ndarray:  # noqa: ANN001 - a torch.Tensor
    return t.detach().to("cpu").float().numpy().astype(np.float32)


def float_params_from_torch(model: RNNModel) -> FloatParams:
    """The float weights of an :class:`RNNModel`, in PyTorch's layout and gate order."""
    cfg = model.config
    rnn = model.rnn
    cells = []
    for layer in range(cfg.num_layers):
        directions = []
        for direction in range(cfg.num_directions):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            directions.append(
                FloatCellWeights(
                    weight_ih=_numpy(getattr(rnn, f"weight_ih_{suffix}")),
                    weight_hh=_numpy(getattr(rnn, f"weight_hh_{suffix}")),
                    bias_ih=_numpy(getattr(rnn, f"bias_ih_{suffix}")),
                    bias_hh=_numpy(getattr(rnn, f"bias_hh_{suffix}")),
                )
            )
        cells.append(tuple(directions))
    return FloatParams(
        config=cfg,
        cells=tuple(cells),
        embedding=None if model.embedding is None else _numpy(model.embedding.weight),
        head_weight=None if model.head is None else _numpy(model.head.weight),
        head_bias=None if model.head is None else _numpy(model.head.bias),
    )


def calibration_indices(count: int, limit: int | None) -> np.ndarray:
    """Which of ``count`` sequences calibrate: all, or a seeded subset of ``limit`` (QAT uses the same)."""
    if limit is None or count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, limit, replace=False))


def _calibration_sequences(
    data: SequenceData | Sequence[np.ndarray], normalization: Normalization | None, limit: int | None
) -> tuple[list[np.ndarray], str]:
    sequences = list(data.sequences if isinstance(data, SequenceData) else data)
    if not sequences:
        raise QuantizationError("the calibration set is empty", "pass at least one sequence")
    sequences = [sequences[i] for i in calibration_indices(len(sequences), limit)]
    checked = []
    for i, seq in enumerate(sequences):
        arr = np.asarray(seq)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise QuantizationError(f"calibration sequence {i} contains NaN or Inf", "clean the calibration data")
        checked.append(arr)
    digest = hashlib.sha256()
    for arr in checked:
        digest.update(str(arr.shape).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    if normalization is not None:
        checked = [normalization.apply(a) for a in checked]
    return checked, digest.hexdigest()


def quantize(
    model: RNNModel | Checkpoint | object,
    calibration_data: SequenceData | Sequence[np.ndarray],
    *,
    normalization: Normalization | None = None,
    class_names: tuple[str, ...] | None = None,
    options: QuantizeOptions = QuantizeOptions(),
    vocab: tuple[str, ...] | None = None,
    validation: SequenceData | None = None,
    dataset: str | None = None,
) -> QuantizedRNN:
    """Quantize a trained model to int8 with post-training calibration.

    ``model`` is an :class:`RNNModel`, a :class:`Checkpoint` (its normalization, class names,
    vocabulary and dataset are used), or a user's module built from ``nn.GRU``/``nn.LSTM``/``nn.RNN``
    (imported with :func:`edgernn.from_torch`). ``calibration_data`` holds raw (un-normalized)
    sequences. With ``validation``, the float and int8 (integer reference) task metrics are
    measured and recorded in the model's provenance.
    """
    if isinstance(model, Checkpoint):
        normalization = normalization or model.normalization
        class_names = class_names or model.class_names
        vocab = vocab or model.vocab
        dataset = dataset or model.dataset
        model = model.model
    if not isinstance(model, RNNModel):
        model = from_torch(model)  # type: ignore[arg-type]
    cfg = model.config
    if (
        not cfg.uses_tokens
        and isinstance(calibration_data, SequenceData)
        and calibration_data.num_features != cfg.input_size
    ):
        raise InputDataError(
            f"calibration data has {calibration_data.num_features} features, the model takes {cfg.input_size}"
        )
    sequences, digest = _calibration_sequences(calibration_data, normalization, options.max_calibration_sequences)
    if isinstance(calibration_data, SequenceData):
        dataset = dataset or calibration_data.name
        if vocab is None and calibration_data.vocab is not None and len(calibration_data.vocab) == cfg.vocab_size:
            vocab = calibration_data.vocab
    quantized = quantize_params(
        float_params_from_torch(model),
        sequences,
        options=options,
        input_mean=None if normalization is None else normalization.mean,
        input_std=None if normalization is None else normalization.std,
        class_names=class_names,
        vocab=vocab,
        calibration_sha256=digest,
        dataset=dataset,
    )
    if validation is None:
        return quantized
    float_metric = evaluate(quantized, validation, backend="float")
    int8_metric = evaluate(quantized, validation, backend="reference")
    provenance = dataclasses.replace(
        quantized.provenance,
        float_metric=float_metric.value,
        int8_metric=int8_metric.value,
        metric_name=float_metric.name,
    )
    return dataclasses.replace(quantized, provenance=provenance)
