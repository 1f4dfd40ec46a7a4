"""The fuzz campaign's child process: runs one case per line of stdin, as a user command would.

Input lines are JSON ``{"kind", "path", "model", "sequence"}``; each answer is one JSON line
``{"outcome": "accepted" | "clean" | "traceback", "detail": ...}``. A native crash kills this
process (the parent sees the signal); a hang is the parent's timeout. Started by
:mod:`tests.fuzz.campaign` as a script (it imports only ``edgernn``, so the campaign can fuzz
another checkout's code), never by hand.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from edgernn import ir  # noqa: E402
from edgernn.errors import EdgeRNNError  # noqa: E402


def _steps(model: ir.QuantizedRNN, n: int = 3) -> np.ndarray:
    cfg = model.config
    rng = np.random.default_rng(0)
    if cfg.uses_tokens:
        return rng.integers(0, cfg.vocab_size, size=n)  # type: ignore[arg-type]
    return rng.normal(size=(n, cfg.input_size)).astype(np.float32)


def _drive(backend: Any, model: ir.QuantizedRNN) -> None:
    """A few steps through the backend, as ``edgernn run`` streams them (quantized input)."""
    xs = _steps(model)
    if not model.config.uses_tokens:
        xs = model.input_q.quantize(xs) if backend.integer else xs
    backend.run(backend.zero_state(), xs)


def run_ernn(path: str, **_: str) -> None:
    from edgernn.export import onnx as onnx_export
    from edgernn.export import tflite as tflite_export
    from edgernn.runtime import create_backend

    model = ir.load(path)
    _drive(create_backend("reference", model), model)
    if not model.config.bidirectional:
        tflite_export.build(model, "int8")
    onnx_export.build(model, "int8", "sequence")


_CALIBRATION: Any = None


def run_safetensors(path: str, **_: str) -> None:
    from edgernn.data import SequenceData
    from edgernn.models import load_checkpoint
    from edgernn.quant.from_torch import quantize

    ckpt = load_checkpoint(path)
    cfg = ckpt.model.config
    rng = np.random.default_rng(0)
    if cfg.uses_tokens:
        seqs = tuple(rng.integers(0, cfg.vocab_size, size=6) for _ in range(2))  # type: ignore[arg-type]
    else:
        seqs = tuple(rng.normal(size=(6, cfg.input_size)).astype(np.float32) for _ in range(2))
    quantize(ckpt, SequenceData(seqs, np.zeros(2, np.int64), "classification", False, "fuzz"))


def run_npz(path: str, **_: str) -> None:
    from edgernn.data import load_npz
    from edgernn.pipeline import read_inputs

    read_inputs(Path(path))
    load_npz(path)


def run_csv(path: str, **_: str) -> None:
    from edgernn.pipeline import read_inputs

    read_inputs(Path(path))


def run_onnx(path: str, model: str, sequence: str, **_: str) -> None:
    from edgernn.runtime.onnx_backend import OnnxBackend

    m = ir.load(model)
    _drive(OnnxBackend.from_file(m, path, sequence_path=sequence), m)


def run_tflite(path: str, model: str, **_: str) -> None:
    from edgernn.export import tflite as tflite_export
    from edgernn.runtime.tflite_backend import TFLiteBackend
    from edgernn.runtime.tflm_backend import TFLMBackend

    m = ir.load(model)
    tflite_export.read_metadata(Path(path).read_bytes(), path)
    _drive(TFLMBackend.from_file(m, path), m)
    _drive(TFLiteBackend.from_file(m, path), m)


def _crash_self(**_: str) -> None:
    """For the harness's own test: die by a signal as a native crash would."""
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


RUNNERS = {
    "crash-self": _crash_self,
    "ernn": run_ernn,
    "safetensors": run_safetensors,
    "npz": run_npz,
    "csv": run_csv,
    "onnx": run_onnx,
    "tflite": run_tflite,
}


def run_case(case: dict[str, str]) -> dict[str, str]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            RUNNERS[case["kind"]](**case)
    except EdgeRNNError as exc:
        message = str(exc)
        if "\n" in message:
            return {"outcome": "traceback", "detail": f"multi-line {type(exc).__name__}: {message[:300]}"}
        return {"outcome": "clean", "detail": f"{type(exc).__name__}: {message[:200]}"}
    except Exception as exc:  # noqa: BLE001 - anything else is what the campaign counts
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "outcome": "traceback",
            "detail": f"{type(exc).__name__}: {str(exc)[:200]} at {Path(where.filename).name}:{where.lineno}",
        }
    return {"outcome": "accepted", "detail": ""}


def main() -> None:
    # Import every heavy dependency before announcing readiness, so case timing is fair.
    import edgernn.models  # noqa: F401
    import edgernn.runtime.onnx_backend  # noqa: F401
    import edgernn.runtime.tflm_backend  # noqa: F401

    # The answers get a private copy of stdout; fd 1 goes to stderr, so whatever native code
    # prints (TFLite Micro reports errors on stdout) cannot corrupt the protocol.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    print("ready", file=answers, flush=True)
    for line in sys.stdin:
        print(json.dumps(run_case(json.loads(line))), file=answers, flush=True)


if __name__ == "__main__":
    main()
