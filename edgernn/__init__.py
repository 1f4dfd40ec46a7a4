"""edgernn: exact int8 recurrent networks from PyTorch to microcontrollers, one step at a time.

Importing ``edgernn`` is cheap and never imports torch: the names below load on first use, and
only the training side (``train``, ``from_torch``, ``quantize``) needs torch installed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "ModelConfig": "edgernn.types",
    "CellType": "edgernn.types",
    "OutputMode": "edgernn.types",
    "Task": "edgernn.types",
    "EdgeRNNError": "edgernn.errors",
    "QuantizedRNN": "edgernn.ir",
    "load": "edgernn.ir",
    "save": "edgernn.ir",
    "Stream": "edgernn.runtime",
    "predict": "edgernn.runtime",
    "generate": "edgernn.generation",
    "quantize": "edgernn.quant",
    "from_torch": "edgernn.models",
    "train": "edgernn.models",
    "load_dataset": "edgernn.data",
    "load_npz": "edgernn.data",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgernn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
