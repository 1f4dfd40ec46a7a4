"""Post-training int8 quantization (the only place scales and requantization constants are made)."""

from edgernn.quant.observers import MinMaxObserver, Observer, PercentileObserver, make_observer
from edgernn.quant.quantizer import QuantizeOptions, calibrate, qparams_from_range, quantize_params

__all__ = [
    "MinMaxObserver",
    "Observer",
    "PercentileObserver",
    "QuantizeOptions",
    "calibrate",
    "make_observer",
    "qparams_from_range",
    "quantize",
    "quantize_params",
]


def __getattr__(name: str):  # noqa: ANN202 - lazy: quantize() from torch needs torch
    if name == "quantize":
        from edgernn.quant.from_torch import quantize

        return quantize
    raise AttributeError(name)
