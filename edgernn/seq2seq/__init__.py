"""Sequence to sequence: an encoder RNN reads the input, a decoder RNN writes the output.

The model (:mod:`edgernn.seq2seq.model`) is two single models and an int8 bridge; the integer
reference and float twin with greedy and beam decoding are in :mod:`edgernn.seq2seq.runner`;
quantization in :mod:`edgernn.seq2seq.quantize`; the generated C in :mod:`edgernn.seq2seq.export_c`;
PyTorch training (the only part that needs torch) in :mod:`edgernn.seq2seq.training`.
"""

from edgernn.seq2seq.model import BridgeLayer, Seq2SeqRNN, from_bytes, is_seq2seq_file, load, save, to_bytes
from edgernn.seq2seq.runner import Seq2SeqRunner

__all__ = [
    "BridgeLayer",
    "Seq2SeqRNN",
    "Seq2SeqRunner",
    "from_bytes",
    "is_seq2seq_file",
    "load",
    "save",
    "to_bytes",
]
