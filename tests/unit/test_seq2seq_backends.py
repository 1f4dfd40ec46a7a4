"""The encoder and decoder on ONNX Runtime and TFLite Micro (the exported .onnx and .tflite files)
decode exactly as the integer reference. (LiteRT runs the same .tflite with kernels that are not
exact: docs/compatibility.md.)"""

from __future__ import annotations

import pytest

from edgernn.errors import UnsupportedModelError
from edgernn.seq2seq import Seq2SeqRunner
from edgernn.seq2seq.backends import BackendSeq2Seq
from tests.unit.test_seq2seq import MODELS, random_seq2seq, random_sources

CASES = [("onnx", name) for name in MODELS] + [
    ("tflm", name) for name, kwargs in MODELS.items() if kwargs.get("bidirectional", True) is not True
]


@pytest.mark.parametrize(("backend", "name"), CASES)
def test_backend_greedy_equals_the_reference(backend: str, name: str) -> None:
    model = random_seq2seq(**{**MODELS[name], "max_output_len": 40})
    sources = random_sources(8, seed=41, longest=25)
    assert BackendSeq2Seq(model, backend).greedy(sources) == Seq2SeqRunner(model).greedy(sources)


def test_tflite_refuses_a_bidirectional_encoder() -> None:
    """A .tflite is a streaming step model: a bidirectional encoder goes to ONNX or C instead."""
    with pytest.raises(UnsupportedModelError, match="bidirectional"):
        BackendSeq2Seq(random_seq2seq(**MODELS["gru-bi"]), "tflm")
