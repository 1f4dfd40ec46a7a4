"""Random models and inputs for tests and conformance runs (numpy only, seeded)."""

from __future__ import annotations

import hashlib

import numpy as np

from edgernn.floatmodel import FloatParams
from edgernn.ir import FloatCellWeights, QuantizedRNN
from edgernn.quant.quantizer import QuantizeOptions, quantize_params
from edgernn.types import ModelConfig


def random_float_params(config: ModelConfig, seed: int = 0, weight_gain: float = 1.0) -> FloatParams:
    """PyTorch-style initialization U(-1/sqrt(H), 1/sqrt(H)), times ``weight_gain``."""
    rng = np.random.default_rng(seed)
    bound = weight_gain / np.sqrt(config.hidden_size)
    g, h = config.cell.gates, config.hidden_size

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    cells = tuple(
        tuple(
            FloatCellWeights(
                weight_ih=uniform(g * h, config.layer_input_size(k)),
                weight_hh=uniform(g * h, h),
                bias_ih=uniform(g * h),
                bias_hh=uniform(g * h),
            )
            for _ in range(config.num_directions)
        )
        for k in range(config.num_layers)
    )
    embedding = None
    if config.uses_tokens:
        embedding = rng.normal(size=(config.vocab_size, config.embedding_dim)).astype(np.float32)
    head_w = head_b = None
    if config.output_size is not None:
        fan_in = h * config.num_directions
        head_w = (rng.uniform(-1, 1, size=(config.output_size, fan_in)) / np.sqrt(fan_in)).astype(np.float32)
        head_b = rng.uniform(-0.1, 0.1, size=config.output_size).astype(np.float32)
    return FloatParams(config, cells, embedding, head_w, head_b)


def random_inputs(config: ModelConfig, steps: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """``(steps, F)`` float features ~ N(0, scale), or ``(steps,)`` token ids."""
    rng = np.random.default_rng(seed)
    if config.uses_tokens:
        return rng.integers(0, config.vocab_size, size=steps)  # type: ignore[arg-type]
    return (rng.normal(size=(steps, config.input_size)) * scale).astype(np.float32)


def random_model(
    config: ModelConfig,
    seed: int = 0,
    calibration_sequences: int = 4,
    steps: int = 20,
    weight_gain: float = 1.0,
    options: QuantizeOptions = QuantizeOptions(),
) -> QuantizedRNN:
    """A random float model quantized with random calibration sequences."""
    params = random_float_params(config, seed, weight_gain)
    calibration = [random_inputs(config, steps, seed=seed * 1000 + i) for i in range(calibration_sequences)]
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(c).tobytes() for c in calibration)).hexdigest()
    return quantize_params(params, calibration, options=options, calibration_sha256=digest, dataset="random")
