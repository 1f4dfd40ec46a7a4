"""Seeded, reproducible training of an :class:`RNNModel` on a :class:`SequenceData`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from edgernn.data import Normalization, SequenceData, pad_batch, split_indices
from edgernn.errors import EdgeRNNError, InputDataError
from edgernn.metrics import Metric, int8_loss_exceeds, task_metric
from edgernn.models.init import INIT_SCHEMES, initialize
from edgernn.models.qat import QATConfig
from edgernn.models.qat import fine_tune as qat_fine_tune
from edgernn.models.rnn import RNNModel, State
from edgernn.types import CellType, ModelConfig, OutputMode, Readout, Task

__all__ = [
    "TargetScaling",
    "TrainConfig",
    "TrainResult",
    "train",
    "fine_tune_qat",
    "evaluate",
    "predict",
    "improves",
    "tbptt_losses",
    "chance_warning",
]

_IGNORE = -100  # label of padded steps: F.cross_entropy skips it


@dataclass(frozen=True)
class TrainConfig:
    """Adam with gradient-norm clipping and early stopping on the validation metric."""

    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0  # max global gradient norm; None disables clipping
    patience: int | None = 6  # epochs without improvement before stopping; None trains all epochs
    seed: int = 0
    validation_fraction: float = 0.1  # held out of the training data when no validation set is given
    max_minutes: float | None = None  # wall-clock cap, checked after each epoch
    # Small RNNs gain nothing from intra-op threads, and with two threads on a busy core torch's
    # OpenMP spin-waits made epochs ~170x slower; a fixed count also makes weights reproducible
    # across machines (results are bit-identical only at the same thread count).
    num_threads: int = 1
    # Dropout between stacked layers and before the head, in training only (eval: identity).
    dropout: float = 0.0
    # Truncated backpropagation through time: per-step models on long streams are trained in
    # chunks of this many steps, the state carried (detached) from one chunk to the next of the
    # same sequence, with an optimizer step per chunk. None: whole sequences.
    tbptt: int | None = None
    # How the recurrent weights start (edgernn.models.init): "lecun-orthogonal" (input weights
    # scaled to the input width, orthogonal recurrence, LSTM forget bias 1) or "torch" (PyTorch's).
    init: str = "lecun-orthogonal"
    # Classification: warn (TrainResult.warnings) when the best validation accuracy is within this
    # many points of always predicting the most common class.
    chance_margin: float = 2.0

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1),
            ("batch_size", self.batch_size >= 1),
            ("learning_rate", self.learning_rate > 0),
            ("weight_decay", self.weight_decay >= 0),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0),
            ("patience", self.patience is None or self.patience >= 1),
            ("validation_fraction", 0 < self.validation_fraction < 1),
            ("max_minutes", self.max_minutes is None or self.max_minutes > 0),
            ("num_threads", self.num_threads >= 1),
            ("dropout", 0 <= self.dropout < 1),
            ("tbptt", self.tbptt is None or self.tbptt >= 1),
            ("init", self.init in INIT_SCHEMES),
            ("chance_margin", self.chance_margin >= 0),
        ]
        for name, ok in checks:
            if not ok:
                raise EdgeRNNError(f"invalid training setting {name}={getattr(self, name)!r}")


@dataclass(frozen=True, eq=False)
class TargetScaling:
    """Per-column standardization of regression targets, ``(y - mean) / std``, fitted on the training split.

    Raw targets in the tens of thousands would need huge head weights and MSE gradients; the model
    trains on standardized ones, then :meth:`fold` writes ``y = std * (W h + b) + mean`` into the
    head's float weights, so the quantizer calibrates the head in the data's units and every
    backend and export outputs them with no extra step.
    """

    mean: np.ndarray  # (K,) float32
    std: np.ndarray  # (K,) float32, positive

    @classmethod
    def fit(cls, data: SequenceData) -> TargetScaling:
        parts = data.targets if isinstance(data.targets, tuple) else (data.targets,)
        y = np.concatenate([p.reshape(p.shape[0], -1) for p in parts]).astype(np.float64)
        mean, std = y.mean(axis=0), y.std(axis=0)
        # A constant column (std 0, or float noise around a large value) is only centred.
        std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def standardize(self, data: SequenceData) -> SequenceData:
        """``data`` with standardized targets (same shapes)."""

        def scale(t: np.ndarray) -> np.ndarray:
            return ((t.reshape(t.shape[0], -1) - self.mean) / self.std).reshape(t.shape).astype(np.float32)

        targets = tuple(scale(t) for t in data.targets) if isinstance(data.targets, tuple) else scale(data.targets)
        return SequenceData(
            data.sequences, targets, data.task, data.per_step, data.name, data.class_names, vocab=data.vocab
        )

    def standardize_outputs(self, out: torch.Tensor) -> torch.Tensor:
        return (out - torch.from_numpy(self.mean)) / torch.from_numpy(self.std)

    def unstandardize_outputs(self, out: torch.Tensor) -> torch.Tensor:
        return out * torch.from_numpy(self.std) + torch.from_numpy(self.mean)

    @torch.no_grad()
    def fold(self, model: RNNModel) -> None:
        """Make ``model``'s head output raw units: ``W <- std * W``, ``b <- std * b + mean``."""
        assert model.head is not None
        std = torch.from_numpy(self.std.astype(np.float64))
        model.head.weight.copy_((model.head.weight.double() * std[:, None]).float())
        model.head.bias.copy_((model.head.bias.double() * std + torch.from_numpy(self.mean.astype(np.float64))).float())

    def to_json(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}


@dataclass
class TrainResult:
    model: RNNModel  # best-validation weights, in eval mode (QAT-fine-tuned when QAT ran)
    normalization: Normalization | None  # fitted on the training split; None for tokens
    history: list[dict[str, float]]  # per epoch: epoch, train_loss, val_<metric>, seconds
    best_epoch: int  # 1-based
    val_metric: Metric  # of the restored (best) weights: float, or the int8 training view after QAT
    class_names: tuple[str, ...] | None = None
    stop_reason: str = "epochs"  # "epochs" | "early_stopping" | "time_limit"
    # Regression: the target standardization already folded into the head (for inspection).
    target_scaling: TargetScaling | None = None
    float_val_metric: Metric | None = None  # of the float weights, before any QAT
    # QAT: "off", "on", "auto: skipped ..." or "auto: ran ..."; the int8 validation metric of the
    # float weights (with "auto" measured on the integer reference after post-training
    # quantization, with "on" the fake-quantized training view); the QAT epochs' history (epoch 0:
    # the float weights) and the epoch whose weights were kept (0: fine-tuning did not beat them).
    qat: str = "off"
    ptq_val_metric: Metric | None = None
    qat_history: list[dict[str, float]] | None = None
    qat_best_epoch: int | None = None
    test_metric: Metric | None = None  # float, on a test split or file, when the caller measured one
    vocab: tuple[str, ...] | None = None  # token data: the text of each token id
    warnings: tuple[str, ...] = ()  # e.g. training ended at chance (see chance_warning)


def train(
    data: SequenceData,
    config: ModelConfig,
    train_config: TrainConfig = TrainConfig(),
    validation: SequenceData | None = None,
    progress: bool = True,
    qat: QATConfig | bool | None = None,
) -> TrainResult:
    """Train a new model; the same data, configs and seed give bit-identical weights.

    Without ``validation``, a stratified ``validation_fraction`` of ``data`` is held out.
    The global torch RNG is left as it was (training runs inside ``torch.random.fork_rng``).
    Regression targets are standardized for training and the scaling folded into the head (see
    :class:`TargetScaling`). With ``qat`` (a :class:`QATConfig`, or True for the default one), the
    trained float model is then fine-tuned with fake quantization (:mod:`edgernn.models.qat`);
    quantize the result with the normal quantizer.
    """
    tc = train_config
    if validation is None:
        train_idx, val_idx = split_indices(data, (1 - tc.validation_fraction, tc.validation_fraction), tc.seed)
        data, validation = data.subset(train_idx), data.subset(val_idx)
    _check_compatible(data, config, "training data")
    _check_compatible(validation, config, "validation data")
    if tc.tbptt is not None and (config.output_mode is not OutputMode.SEQUENCE or config.bidirectional):
        raise InputDataError(
            "truncated BPTT (tbptt) needs a unidirectional model with per-step targets",
            "drop tbptt, or train on per-step targets with a unidirectional model",
        )
    normalization = None if data.uses_tokens else Normalization.fit(data)
    inputs = _inputs(data, normalization)

    scaling = TargetScaling.fit(data) if data.task is Task.REGRESSION and config.output_size is not None else None
    with _torch_threads(tc.num_threads):
        result = _train(data, config, tc, validation, normalization, inputs, progress, scaling)
    if qat is True:
        qat = QATConfig()
    if isinstance(qat, QATConfig):
        result = fine_tune_qat(result, data, validation, tc, qat, progress)
    return result


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(
    data: SequenceData,
    config: ModelConfig,
    tc: TrainConfig,
    validation: SequenceData,
    normalization: Normalization | None,
    inputs: list[np.ndarray],
    progress: bool,
    scaling: TargetScaling | None,
) -> TrainResult:
    targets = data if scaling is None else scaling.standardize(data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        model = RNNModel(config, dropout=tc.dropout)
        initialize(model.rnn, config.cell, tc.init)

        def forward(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
            return model(x, lengths=lengths)[0]

        optimizer = torch.optim.Adam(model.parameters(), lr=tc.learning_rate, weight_decay=tc.weight_decay)
        rng = np.random.default_rng(tc.seed)  # batch order: independent of torch's RNG
        history: list[dict[str, float]] = []
        best: Metric | None = None
        best_loss = math.inf
        val_inputs = _inputs(validation, normalization)
        val_targets = validation if scaling is None else scaling.standardize(validation)
        best_state: dict[str, torch.Tensor] = {}
        best_epoch, stale, stop_reason = 0, 0, "epochs"
        start = time.monotonic()
        bar = tqdm(range(1, tc.epochs + 1), desc="train", unit="epoch", disable=not progress)
        for epoch in bar:
            model.train()
            order = rng.permutation(len(data))
            if tc.tbptt is None:
                loss = _train_epoch(model, forward, optimizer, inputs, targets, order, tc)
            else:
                loss = _train_epoch_tbptt(model, optimizer, inputs, targets, order, tc, tc.tbptt)
            if not math.isfinite(loss):
                raise EdgeRNNError(f"training diverged (loss {loss}) in epoch {epoch}", "lower learning_rate")
            metric = _evaluate_forward(model, forward, validation, normalization, scaling)
            val_loss = _mean_loss(model, forward, val_inputs, val_targets)
            elapsed = time.monotonic() - start
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": loss,
                    f"val_{metric.name.lower()}": metric.value,
                    "val_loss": val_loss,
                    "seconds": elapsed,
                }
            )
            if improves(metric, val_loss, best, best_loss):
                best, best_loss, best_epoch, stale = metric, val_loss, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
            bar.set_postfix(loss=f"{loss:.4f}", val=str(metric), best=best_epoch)
            if tc.patience is not None and stale >= tc.patience:
                stop_reason = "early_stopping"
                break
            if tc.max_minutes is not None and elapsed >= 60 * tc.max_minutes:
                stop_reason = "time_limit"
                break
        bar.close()
    assert best is not None
    model.load_state_dict(best_state)
    if scaling is not None:
        scaling.fold(model)
    return TrainResult(
        model.eval(),
        normalization,
        history,
        best_epoch,
        best,
        data.class_names,
        stop_reason,
        target_scaling=scaling,
        float_val_metric=best,
        vocab=data.vocab,
        warnings=tuple(w for w in [chance_warning(best, validation, config, tc.chance_margin)] if w),
    )


def chance_warning(metric: Metric, data: SequenceData, config: ModelConfig, margin: float) -> str | None:
    """A warning when a classifier's ``metric`` on ``data`` is no better than always predicting
    ``data``'s most common class: within ``margin`` points of it, or within two standard errors of
    that rate on this many labels (a small validation split moves by luck). The model learned
    nothing usable, and an int8 vs float comparison of it means nothing. None for regression or a
    model clearly above chance."""
    if data.task is not Task.CLASSIFICATION:
        return None
    labels = np.concatenate([np.ravel(t) for t in data.targets]) if data.per_step else np.ravel(data.targets)
    chance = float(np.bincount(labels.astype(np.int64)).max()) / labels.size
    noise = 2.0 * math.sqrt(chance * (1.0 - chance) / labels.size)
    if metric.value - chance > max(margin / 100.0, noise):
        return None
    tips = ["a smaller --batch-size or more --epochs (more updates)", "another --lr"]
    if config.cell is CellType.RNN:
        # Measured on FordA: at lr 3e-3 Adam's early steps grew Elman-64's recurrence until its state
        # saturated; at 1e-3 it learned (docs/training.md).
        tips[1] = "a lower --lr (an Elman state saturates when its recurrent weights grow too fast)"
    if config.output_mode is OutputMode.LAST and config.readout is not Readout.MEAN:
        tips.insert(0, "--readout mean (whole fixed-length sequences: the head reads the mean over time)")
    return (
        f"training ended at chance: validation accuracy {100 * metric.value:.2f}% vs {100 * chance:.2f}% for "
        f"always predicting the most common class; try " + ", ".join(tips)
    )


def improves(metric: Metric, loss: float, best: Metric | None, best_loss: float) -> bool:
    """Whether an epoch beats the best so far: a strictly better validation metric, or an equal
    one with a lower validation loss. On a small validation split the metric saturates or ties
    within a few epochs (accuracy moves in steps of 1/N); without the loss as tie-breaker early
    stopping would keep the first epoch that reached it."""
    if best is None or metric.better_than(best):
        return True
    return metric.value == best.value and loss < best_loss


def fine_tune_qat(
    result: TrainResult,
    data: SequenceData,
    validation: SequenceData,
    tc: TrainConfig = TrainConfig(),
    qat: QATConfig = QATConfig(),
    progress: bool = True,
) -> TrainResult:
    """Quantization-aware fine-tuning of a float training result (``train(..., qat=...)`` calls
    this). ``qat.mode`` "auto": only if post-training quantization loses more than the threshold
    on ``validation``, measured on the integer reference. Returns ``result`` with the fine-tuned
    model (the float weights if fine-tuning never beat their int8 view) and the QAT fields set."""
    result = dataclasses.replace(result)
    inputs = _inputs(data, result.normalization)
    result.qat = "on"
    if qat.mode == "auto":
        from edgernn.quant.from_torch import quantize

        ptq = quantize(
            result.model,
            data,
            normalization=result.normalization,
            options=qat.quantize,
            validation=validation,
        ).provenance
        assert ptq.metric_name is not None and ptq.float_metric is not None and ptq.int8_metric is not None
        result.ptq_val_metric = Metric(ptq.metric_name, ptq.int8_metric, result.val_metric.higher_is_better)
        if not int8_loss_exceeds(ptq.metric_name, ptq.float_metric, ptq.int8_metric):
            result.qat = "auto: skipped, int8 within the threshold on the validation split"
            return result
        result.qat = "auto: ran, int8 lost more than the threshold on the validation split"
    scaling = result.target_scaling
    targets = data if scaling is None else scaling.standardize(data)
    val_inputs = _inputs(validation, result.normalization)
    val_targets = validation if scaling is None else scaling.standardize(validation)

    def standardized(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        """The loss stays in standardized units, as in float training."""
        if scaling is None:
            return forward
        return lambda x, lengths=None: scaling.standardize_outputs(forward(x, lengths))

    def train_epoch(
        model: RNNModel, forward: Callable[..., torch.Tensor], optimizer: torch.optim.Optimizer, order: np.ndarray
    ) -> float:
        return _train_epoch(model, standardized(forward), optimizer, inputs, targets, order, tc)

    def evaluate_forward(model: RNNModel, forward: Callable[..., torch.Tensor]) -> tuple[Metric, float]:
        metric = _evaluate_forward(model, forward, validation, result.normalization, None)
        return metric, _mean_loss(model, standardized(forward), val_inputs, val_targets)

    with _torch_threads(tc.num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(tc.seed)
        fine = qat_fine_tune(
            result.model,
            data,
            result.normalization,
            qat,
            qat.learning_rate if qat.learning_rate is not None else tc.learning_rate / 10,
            tc,
            train_epoch,
            evaluate_forward,
            progress,
        )
    result.model = fine.model
    result.val_metric = fine.val_metric
    result.qat_history = fine.history
    result.qat_best_epoch = fine.best_epoch
    if result.ptq_val_metric is None:  # the int8 training view of the float weights: epoch 0
        result.ptq_val_metric = fine.start_metric
    return result


def _train_epoch(
    model: RNNModel,
    forward: Callable[..., torch.Tensor],
    optimizer: torch.optim.Optimizer,
    inputs: Sequence[np.ndarray],
    data: SequenceData,
    order: np.ndarray,
    tc: TrainConfig,
) -> float:
    """One pass over ``order`` in mini-batches; returns the mean loss per sequence.

    ``forward(x, lengths)`` is the model's output (float, or fake-quantized in QAT).
    """
    total = 0.0
    for idx in np.array_split(order, math.ceil(len(order) / tc.batch_size)):
        x, lengths = _collate(inputs, idx)
        y = _collate_targets(data, idx)
        out = forward(x, lengths)
        loss = _loss(out, y, lengths, model.config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


def _train_epoch_tbptt(
    model: RNNModel,
    optimizer: torch.optim.Optimizer,
    inputs: Sequence[np.ndarray],
    data: SequenceData,
    order: np.ndarray,
    tc: TrainConfig,
    chunk: int,
) -> float:
    """One epoch of truncated BPTT (see :func:`tbptt_losses`); returns the mean loss per scored step."""
    total, steps = 0.0, 0
    for idx in np.array_split(order, math.ceil(len(order) / tc.batch_size)):
        x, lengths = _collate(inputs, idx)
        y = _collate_targets(data, idx)
        for loss, scored in tbptt_losses(model, x, lengths, y, chunk):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            total += loss.item() * scored
            steps += scored
    return total / max(steps, 1)


def tbptt_losses(
    model: RNNModel, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, chunk: int
) -> Iterator[tuple[torch.Tensor, int]]:
    """Truncated BPTT over one padded batch of per-step sequences: yields, chunk by chunk of
    ``chunk`` steps, the chunk's loss (mean over its valid steps) and how many valid steps it
    scored.

    The state each sequence reaches at the end of a chunk starts its next chunk, detached, so the
    gradient of a chunk's loss stops at the chunk boundary while the forward pass sees the whole
    history. The caller backpropagates (and steps the optimizer) on each loss before asking for the
    next; sequences that ended in an earlier chunk drop out of the later ones.
    """
    state: State | None = None
    for start in range(0, x.shape[1], chunk):
        steps = torch.clamp(lengths - start, 0, chunk)
        active = torch.nonzero(steps > 0).flatten()
        if active.numel() == 0:
            return
        width = int(steps.max())
        part = _rows(state, active)
        out, new_state = model(x[active, start : start + width], part, lengths=steps[active])
        loss = _loss(out, y[active, start : start + width], steps[active], model.config)
        state = _carry(state, new_state, active, x.shape[0])
        yield loss, int(steps.sum())


def _rows(state: State | None, rows: torch.Tensor) -> State | None:
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0][:, rows], state[1][:, rows])
    return state[:, rows]


def _carry(old: State | None, new: State, rows: torch.Tensor, batch: int) -> State:
    """The whole batch's state after a chunk: ``new`` (detached) for ``rows``, ``old`` elsewhere."""

    def merge(previous: torch.Tensor | None, fresh: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(fresh.shape[0], batch, fresh.shape[2]) if previous is None else previous.clone()
        full[:, rows] = fresh.detach()
        return full

    if isinstance(new, tuple):
        assert old is None or isinstance(old, tuple)
        return (merge(None if old is None else old[0], new[0]), merge(None if old is None else old[1], new[1]))
    assert not isinstance(old, tuple)
    return merge(old, new)


@torch.no_grad()
def _mean_loss(
    model: RNNModel,
    forward: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    data: SequenceData,
    batch_size: int = 256,
) -> float:
    """The training loss of ``forward`` over all of ``data``, per sequence."""
    total = 0.0
    for idx in _chunks(len(data), batch_size):
        x, lengths = _collate(inputs, idx)
        total += _loss(forward(x, lengths), _collate_targets(data, idx), lengths, model.config).item() * len(idx)
    return total / len(data)


def _loss(out: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    per_step = config.output_mode is OutputMode.SEQUENCE
    if config.task is Task.CLASSIFICATION:
        # Padded steps carry the label _IGNORE, so they add nothing to loss or gradient.
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=_IGNORE)
    if not per_step:
        return F.mse_loss(out, y)
    mask = (torch.arange(out.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1).to(out.dtype)
    return ((out - y) ** 2 * mask).sum() / (mask.sum() * out.shape[-1])


def _inputs(data: SequenceData, normalization: Normalization | None) -> list[np.ndarray]:
    if normalization is None:
        return list(data.sequences)
    return [normalization.apply(s) for s in data.sequences]


def _collate(inputs: Sequence[np.ndarray], idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x, lengths = pad_batch([inputs[i] for i in idx])
    return torch.from_numpy(x), torch.from_numpy(lengths)


def _collate_targets(data: SequenceData, idx: np.ndarray) -> torch.Tensor:
    classification = data.task is Task.CLASSIFICATION
    if not data.per_step:
        assert isinstance(data.targets, np.ndarray)
        y = data.targets[idx]
        return torch.from_numpy(y if classification else y.reshape(len(idx), -1))
    parts = [data.targets[i] for i in idx]
    if classification:
        padded, _ = pad_batch(parts)
        lengths = [p.shape[0] for p in parts]
        for row, n in enumerate(lengths):
            padded[row, n:] = _IGNORE
        return torch.from_numpy(padded)
    padded, _ = pad_batch([p.reshape(p.shape[0], -1) for p in parts])  # (B, T, K); masked in _loss
    return torch.from_numpy(padded)


def _check_compatible(data: SequenceData, config: ModelConfig, role: str) -> None:
    """Refuse data the model cannot consume, with the setting to change."""
    problems: list[tuple[str, str]] = []
    if data.task is not config.task:
        problems.append((f"is {data.task.value} but the model is {config.task.value}", "set task in the model config"))
    want_mode = OutputMode.SEQUENCE if data.per_step else OutputMode.LAST
    if config.output_mode is not want_mode:
        kind = "per-step" if data.per_step else "per-sequence"
        problems.append(
            (
                f"has {kind} targets but output_mode is {config.output_mode.value}",
                f"use output_mode={want_mode.value}",
            )
        )
    if data.uses_tokens != config.uses_tokens:
        problems.append(
            (
                "tokens/features do not match the model input",
                "set vocab_size for tokens or input_size for features",
            )
        )
    elif data.uses_tokens:
        assert data.max_token is not None and config.vocab_size is not None
        if data.max_token >= config.vocab_size:
            problems.append(
                (f"has token id {data.max_token} but vocab_size is {config.vocab_size}", "raise vocab_size")
            )
    elif data.num_features != config.input_size:
        problems.append((f"has {data.num_features} features but input_size is {config.input_size}", "match input_size"))
    if data.task is Task.CLASSIFICATION and config.output_width < data.target_width:
        problems.append(
            (
                f"has {data.target_width} classes but the model outputs {config.output_width}",
                "raise output_size",
            )
        )
    if data.task is Task.REGRESSION and config.output_width != data.target_width:
        problems.append(
            (
                f"has {data.target_width} targets per row but the model outputs {config.output_width}",
                "match output_size",
            )
        )
    if problems:
        what, fix = problems[0]
        raise InputDataError(f"the {role} {what}", fix)


@torch.no_grad()
def _outputs(
    model: RNNModel,
    forward: Callable[..., torch.Tensor],
    data: SequenceData,
    normalization: Normalization | None,
    scaling: TargetScaling | None = None,
    batch_size: int = 256,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """``forward``'s outputs on ``data`` as :func:`predict` returns them (``scaling``: the
    outputs are standardized; they are returned in the data's units)."""
    was_training = model.training
    model.eval()
    try:
        inputs = _inputs(data, normalization)
        rows: list[np.ndarray] = []
        for idx in _chunks(len(data), batch_size):
            x, lengths = _collate(inputs, idx)
            out = forward(x, lengths)
            if scaling is not None:
                out = scaling.unstandardize_outputs(out)
            if model.config.output_mode is OutputMode.SEQUENCE:
                rows.extend(out[i, : int(n)].numpy() for i, n in enumerate(lengths))
            else:
                rows.append(out.numpy())
    finally:
        model.train(was_training)
    if model.config.output_mode is OutputMode.SEQUENCE:
        return tuple(rows)
    return np.concatenate(rows)


def _evaluate_forward(
    model: RNNModel,
    forward: Callable[..., torch.Tensor],
    data: SequenceData,
    normalization: Normalization | None,
    scaling: TargetScaling | None,
) -> Metric:
    return task_metric(model.config.task, _outputs(model, forward, data, normalization, scaling), data.targets)


def predict(
    model: RNNModel, data: SequenceData, normalization: Normalization | None, batch_size: int = 256
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Float outputs: ``(N, out)`` for LAST models, one ``(T_i, out)`` array per sequence for SEQUENCE."""

    def forward(x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return model(x, lengths=lengths)[0]

    return _outputs(model, forward, data, normalization, None, batch_size)


def evaluate(model: RNNModel, data: SequenceData, normalization: Normalization | None) -> Metric:
    """The task metric (accuracy or MAE) of the float model on ``data``."""
    return task_metric(model.config.task, predict(model, data, normalization), data.targets)


def _chunks(n: int, size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        yield np.arange(start, min(start + size, n))
