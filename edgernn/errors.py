"""User-facing errors.

Every error a user can cause (a bad file, a wrong shape, an unsupported layer) is an
``EdgeRNNError``: one line that names what was wrong and what to do. The CLI prints it
without a traceback and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class EdgeRNNError(Exception):
    """Base class of errors caused by user input."""

    def __init__(self, what: str, fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what}. {fix}" if fix else what)


class ModelFileError(EdgeRNNError):
    """A model or checkpoint file is missing, corrupt, truncated or from an incompatible version."""


class InputDataError(EdgeRNNError):
    """Input data has the wrong shape, dtype or contains NaN/Inf, or a dataset is empty."""


class UnsupportedModelError(EdgeRNNError):
    """A module, layer or option that edgernn cannot represent."""


class QuantizationError(EdgeRNNError):
    """Calibration data or weights that cannot be quantized (empty, non-finite, out of range)."""


class MultiplierRangeError(QuantizationError, ValueError):
    """A real rescale factor that no Q31 multiplier and shift represents (weights or scales far
    out of range); a ``ValueError`` too, for callers of the fixed-point helpers."""


class MissingDependencyError(EdgeRNNError):
    """An optional dependency (torch, a dataset package) is not installed."""


class MissingTorchError(MissingDependencyError, ModuleNotFoundError):
    """PyTorch is needed (training, importing a module, quantizing a checkpoint) and not installed.

    Also a ``ModuleNotFoundError``, so code that guards an import with ``except ImportError`` still works.
    """

    def __init__(self, what: str = "the training side of edgernn needs PyTorch, which is not installed") -> None:
        super().__init__(what, "pip install 'edgernn[train]' (see the README's install section)")
        self.name = "torch"
