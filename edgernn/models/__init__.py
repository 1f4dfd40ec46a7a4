"""PyTorch side of edgernn: the float model, importing users' modules, checkpoints, training.

Everything here imports torch; nothing right of the IR (quantized model, exporters, runtimes)
imports this package.
"""

from edgernn.errors import MissingTorchError

try:
    import torch  # noqa: F401
except ModuleNotFoundError as exc:  # one edgernn error naming the extra, not a bare "No module named 'torch'"
    if exc.name != "torch":
        raise
    raise MissingTorchError() from None

from edgernn.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from edgernn.models.importer import from_torch
from edgernn.models.rnn import RNNModel
from edgernn.models.training import TargetScaling, TrainConfig, TrainResult, evaluate, fine_tune_qat, predict, train

__all__ = [
    "RNNModel",
    "from_torch",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "train",
    "fine_tune_qat",
    "TargetScaling",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "predict",
]
