"""Export a model as a self-contained C99 folder: the edgernn runtime plus the model's weights.

Layout of the folder (``firmware_export/LAYOUT.md`` is the contract other tools build on)::

    include/edgernn/*.h       the runtime's headers (copied from firmware_export/)
    include/<prefix>_model.h  the model's API, sizes and quantization as macros, the state struct
    src/ernn_*.c, src/*.h     the runtime's sources for the chosen path (int8, or float32 with --float)
    src/<prefix>_model.c      weights as ``static const`` arrays, the descriptor, the API
    selftest/selftest.c       test-vector runner; selftest/vectors.bin: vectors for this model
    boards/                   bare-metal targets only: QEMU startup code and linker scripts
    CMakeLists.txt  Makefile  README.md  edgernn_export.json (manifest: marks an edgernn export)
    LICENSE                   Apache-2.0; every C file carries its SPDX identifier

``--runtime none`` leaves the runtime (and boards) out; ``--single-header`` writes ``<prefix>.h`` with
runtime and model in place of ``include/`` and ``src/`` (:func:`single_header`).

Everything numeric comes from the IR (:mod:`edgernn.ir`): weights, zero-point-folded biases,
multipliers and shifts are written as they are; nothing is re-quantized here.

Test-vector file (little-endian), read by ``selftest.c`` and written by :func:`write_test_vectors`::

    offset  size  field
    0       8     magic b"ERNNVEC1"
    8       64    model sha256, ASCII hex
    72      4     u32 input kind: 0 int8 features, 1 int32 token ids, 2 float32 features
    76      4     u32 output kind: 0 int8, 2 float32
    80      4     u32 input width (values per step; 1 for token ids)
    84      4     u32 output width
    88      4     u32 number of sequences
    92      4     f32 atol   (float32 outputs: |got - want| <= atol + rtol * |want|; 0 for int8)
    96      4     f32 rtol
    100     ...   per sequence: u32 steps, then per step its input values and its expected outputs

Every sequence starts from the zero state. Expected int8 outputs are the integer reference's
(:mod:`edgernn.reference`, the specification, driven by :mod:`edgernn.engine`): per-step outputs,
for bidirectional models those of the whole sequence.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import numpy.typing as npt

from edgernn import __version__
from edgernn.engine import streams
from edgernn.errors import EdgeRNNError, InputDataError, UnsupportedModelError
from edgernn.export import ExportOptions, ExportResult
from edgernn.export.c_packing import bounded_field, doubles_input, pack_fc, pack_k, round_up
from edgernn.fileio import atomic_folder, write_bytes_atomic
from edgernn.ir import ElmanCellQ, FullyConnected, GRUCellQ, LSTMCellQ, QuantizedRNN, Rescale
from edgernn.types import Activation, CellType, ModelConfig, OutputMode, Readout

GENERATOR = "edgernn.export.c"
MANIFEST_NAME = "edgernn_export.json"
VECTOR_MAGIC = b"ERNNVEC1"
VECTOR_HEADER = struct.Struct("<8s64sIIIIIff")
KIND_INT8, KIND_INT32, KIND_FLOAT32, KIND_INT16 = 0, 1, 2, 3
_KIND_DTYPES = {
    KIND_INT8: np.dtype("i1"),
    KIND_INT32: np.dtype("<i4"),
    KIND_FLOAT32: np.dtype("<f4"),
    KIND_INT16: np.dtype("<i2"),  # the outputs of an int16 head (edgernn.ir.Dense), a 16-bit input
}


def input_kind(model: QuantizedRNN, float_path: bool) -> int:
    """The value kind of the export's inputs: token ids (int32), float32, int8, or int16 for a 16-bit input."""
    if model.config.uses_tokens:
        return KIND_INT32
    if float_path:
        return KIND_FLOAT32
    return KIND_INT16 if model.input_bits == 16 else KIND_INT8


def output_kind(model: QuantizedRNN, float_path: bool) -> int:
    """The value kind of the export's outputs: float32, int8, or int16 for an int16 head."""
    if float_path:
        return KIND_FLOAT32
    return KIND_INT16 if model.output_bits == 16 else KIND_INT8


#: Tolerance written into float32 vector files: a build check across FPUs, not a precision claim.
FLOAT_VECTOR_ATOL, FLOAT_VECTOR_RTOL = 1e-4, 1e-3
#: Widest FC input of the C runtime (ERNN_MAX_FC_IN_FEATURES: its int32 dot product cannot overflow).
MAX_FC_IN_FEATURES = 65536

TEMPLATES = Path(__file__).parent / "templates" / "c"
#: The licence of everything edgernn writes or ships (pyproject.toml; LICENSE is copied into every export).
SPDX = "SPDX-License-Identifier: Apache-2.0"
LICENSE_NAME = "LICENSE"
#: ``--runtime``: copy the runtime into the export, or leave it out (compiled against a runtime installed apart).
RUNTIME_MODES = ("copy", "none")

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local "
    "alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# --------------------------------------------------------------------------------------------
# Where the runtime is: inside the wheel (edgernn/firmware_export) or beside the package (repo).


def runtime_root() -> Path:
    """The firmware_export folder holding the C runtime."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "firmware_export", package.parent / "firmware_export"):
        if (candidate / "include" / "edgernn" / "edgernn.h").is_file():
            return candidate
    raise EdgeRNNError("the edgernn C runtime (firmware_export) is missing from this installation", "reinstall edgernn")


def target_toolchain(target: str) -> tuple[str, str, bool]:
    """``(compiler, flags, has_fpu)`` of an export target, from :data:`edgernn.boards.TARGETS`."""
    from edgernn.boards import TARGETS

    t = TARGETS[target]
    if t.kind == "host":
        return "cc", "", True
    return t.cc, " ".join(t.cflags), not t.bare_metal or "-mfloat-abi=hard" in t.cflags


def board_files(target: str) -> list[tuple[str, Path]]:
    """``(relative destination, source)`` of the QEMU board files of a bare-metal target (else none).

    With them in ``DIR/boards/`` an export runs under QEMU without edgernn installed.
    """
    from edgernn.boards import TARGETS

    board = TARGETS[target].board
    if board is None:
        return []
    root = runtime_root() / "boards"
    return [
        (f"boards/{p.relative_to(root).as_posix()}", p)
        for folder in (root / "common", root / board)
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]


def runtime_files(float_path: bool) -> list[tuple[str, Path]]:
    """``(relative destination, source)`` of the runtime files an export of one path needs.

    Sources are named by path: ``*_s8.c``/``*_s16.c`` are the int8 path, ``*_f32.c`` the float32
    path; private headers in ``src/`` go with both.
    """
    root = runtime_root()
    files = [(f"include/edgernn/{p.name}", p) for p in sorted((root / "include" / "edgernn").glob("*.h"))]
    files += [(f"src/{p.name}", p) for p in sorted((root / "src").glob("*.h"))]
    for p in sorted((root / "src").glob("*.c")):
        is_float = p.stem.endswith("_f32")
        if is_float == float_path:
            files.append((f"src/{p.name}", p))
    return files


_PORT_INCLUDE = re.compile(r'^#include "\.\./ports/([A-Za-z0-9_]+/[A-Za-z0-9_]+\.h)"[^\n]*$', re.M)


def _inline_ports(text: str) -> str:
    """Paste the optimized drop-ins a runtime source includes (``#include "../ports/<port>/x.h"``,
    guarded by the compiler's macros) into it, so an export keeps its layout."""
    root = runtime_root() / "ports"
    return _PORT_INCLUDE.sub(lambda m: (root / m.group(1)).read_text(encoding="utf-8").rstrip("\n"), text)


# --------------------------------------------------------------------------------------------
# Options, sizes and the state layout shared with the C backend.


def validate_prefix(prefix: str) -> str:
    """A prefix must be a C identifier that is no keyword, reserved name or the runtime's ``ernn``."""
    if not isinstance(prefix, str) or not _IDENTIFIER.match(prefix):
        raise EdgeRNNError(
            f"prefix {prefix!r} is not a valid C identifier", "use letters, digits and '_', not starting with a digit"
        )
    if prefix in _C_KEYWORDS:
        raise EdgeRNNError(f"prefix {prefix!r} is a C keyword", "choose another prefix, e.g. 'model'")
    if prefix.startswith("__") or re.match(r"_[A-Z]", prefix):
        raise EdgeRNNError(
            f"prefix {prefix!r} is reserved for the C implementation", "do not start it with '__' or '_X'"
        )
    if prefix.lower() == "ernn" or prefix.lower().startswith("ernn_"):
        raise EdgeRNNError(f"prefix {prefix!r} collides with the runtime's ernn_ names", "choose another prefix")
    return prefix


@dataclass(frozen=True)
class StateLayout:
    """Byte layout of ``<prefix>_state_t``: ``cell`` (the second state), then ``scratch``, then ``hidden``.

    ``cell`` holds the LSTM's cell state, and on the int8 path the GRU's int16 Q0.15 hidden state
    (its float path keeps the float hidden state only).

    The generated C checks it at compile time; the C backend reads and writes states with it.
    """

    float_path: bool
    cells: int  # (layer, direction) pairs
    hidden_size: int
    gates: int
    second_state: bool  # a cell state beside the hidden state: (h, c) per cell, else (h,)
    widest_input: int = 0  # int8 path: the widest FC input (layer 0, hidden, top width into layer 1 or the head)
    gate_rows: int = 0  # int8 path: gate blocks kept in scratch (ernn_cell_rows)
    head_input_bytes: int = 0  # int8 path with an int16 head: its int8 input waits at the end of scratch

    @classmethod
    def of(cls, model: QuantizedRNN, float_path: bool) -> StateLayout:
        cfg = model.config
        second = cfg.cell is CellType.LSTM if float_path else cfg.cell.int16_state
        top = cfg.num_directions * cfg.hidden_size
        widest = max(cfg.rnn_input_size, cfg.hidden_size, top if cfg.num_layers > 1 or model.head is not None else 0)
        rows = cfg.cell.gates + (1 if cfg.cell is CellType.GRU else 0)
        cells = cfg.num_layers * cfg.num_directions
        head_input = top if output_kind(model, float_path) == KIND_INT16 else 0
        return cls(float_path, cells, cfg.hidden_size, cfg.cell.gates, second, widest, rows, head_input)

    @property
    def hidden_dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.float_path else np.int8)

    @property
    def cell_dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.float_path else np.int16)

    hidden_ctype = property(lambda self: "float" if self.float_path else "int8_t")
    cell_ctype = property(lambda self: "float" if self.float_path else "int16_t")
    scratch_ctype = cell_ctype

    @property
    def hidden_count(self) -> int:
        return self.cells * self.hidden_size

    @property
    def cell_count(self) -> int:
        return self.hidden_count if self.second_state else 0

    @property
    def scratch_count(self) -> int:
        if self.float_path:
            return 2 * self.gates * self.hidden_size  # input and recurrent gate pre-activations
        # gate pre-activations (input and recurrent parts summed; the GRU keeps its recurrent n block apart),
        # each gate padded to a multiple of 4 rows (the packed layout), then the widened input the packed
        # FC kernels share (int16 per value, rounded up to 16 values)
        # (+2 values: the kernels align the buffer to a word wherever the struct puts it), then an int16
        # head's int8 input (ernn_model_s8_get_buffer_size)
        rows = self.gate_rows * round_up(self.hidden_size, 4)
        return rows + round_up(self.widest_input, 16) + 2 + (self.head_input_bytes + 1) // 2

    @property
    def scratch_offset(self) -> int:
        return self.cell_count * self.cell_dtype.itemsize

    @property
    def scratch_bytes(self) -> int:
        return self.scratch_count * self.cell_dtype.itemsize

    @property
    def hidden_offset(self) -> int:
        return self.scratch_offset + self.scratch_bytes

    @property
    def state_bytes(self) -> int:
        """Recurrent state: hidden plus cell."""
        return self.hidden_count * self.hidden_dtype.itemsize + self.cell_count * self.cell_dtype.itemsize

    @property
    def total_bytes(self) -> int:
        """``sizeof(<prefix>_state_t)``: the members plus trailing padding to the struct's alignment."""
        end = self.hidden_offset + self.hidden_count * self.hidden_dtype.itemsize
        align = self.cell_dtype.itemsize
        return -(-end // align) * align


@dataclass(frozen=True)
class Budget:
    """Memory an export needs: constant data in flash, state and scratch in RAM."""

    weight_bytes: int
    state_bytes: int
    scratch_bytes: int

    @property
    def ram_bytes(self) -> int:
        return self.state_bytes + self.scratch_bytes

    def lines(self, target: str, path_name: str) -> tuple[str, ...]:
        return (
            f"memory budget ({path_name} path, target {target}):",
            f"  flash: {self.weight_bytes} bytes of weights",
            f"  ram:   {self.ram_bytes} bytes ({self.state_bytes} state + {self.scratch_bytes} scratch)",
        )


# --------------------------------------------------------------------------------------------
# The model as C arrays and initializers.


@dataclass(frozen=True)
class CArray:
    name: str
    ctype: str
    values: np.ndarray  # flattened in C order when written
    comment: str
    word_aligned: bool = False  # int8 data the kernels read with word loads (LDM, LDRD)

    @property
    def count(self) -> int:
        return int(self.values.size)

    @property
    def nbytes(self) -> int:
        return int(self.values.size * self.values.dtype.itemsize)

    @property
    def body(self) -> str:
        return _c_values(self.values.reshape(-1), float_values=self.ctype == "float")


def _c_float(v: float) -> str:
    text = f"{v:.9g}"  # 9 significant digits round-trip a float32
    if "." not in text and "e" not in text and "n" not in text:
        text += ".0"
    return text + "f"


def _c_values(flat: np.ndarray, float_values: bool, per_line: int = 16) -> str:
    items = [_c_float(v) for v in flat.tolist()] if float_values else [str(v) for v in flat.tolist()]
    lines = (", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line))
    return ",\n".join("    " + line for line in lines)


@functools.singledispatch
def _gate_fcs(cell: object) -> tuple[tuple[FullyConnected, ...], tuple[FullyConnected, ...]]:
    """The input and recurrent FCs of a quantized cell, in gate order (stacked into one FC each)."""
    raise TypeError(f"no C export for {type(cell).__name__}")


@_gate_fcs.register
def _(cell: ElmanCellQ) -> tuple[tuple[FullyConnected, ...], tuple[FullyConnected, ...]]:
    return (cell.x_fc,), (cell.h_fc,)


@_gate_fcs.register
def _(cell: GRUCellQ) -> tuple[tuple[FullyConnected, ...], tuple[FullyConnected, ...]]:
    return (cell.x_r, cell.x_z, cell.x_n), (cell.h_r, cell.h_z, cell.h_n)


@_gate_fcs.register
def _(cell: LSTMCellQ) -> tuple[tuple[FullyConnected, ...], tuple[FullyConnected, ...]]:
    return (cell.x_i, cell.x_f, cell.x_g, cell.x_o), (cell.h_i, cell.h_f, cell.h_g, cell.h_o)


def _rescale(r: Rescale) -> str:
    return f"{{{r.multiplier}, {r.shift}}}"


@functools.singledispatch
def _cell_fields(cell: object) -> list[tuple[str, str]]:
    """Designated-initializer fields of a cell's C params besides its FCs and zero point."""
    raise TypeError(f"no C export for {type(cell).__name__}")


@_cell_fields.register
def _(cell: ElmanCellQ) -> list[tuple[str, str]]:
    return [("to_hidden", _rescale(cell.to_hidden))]


@_cell_fields.register
def _(cell: GRUCellQ) -> list[tuple[str, str]]:
    return [
        ("reset_mul", _rescale(cell.reset_mul)),
        ("gate_mul", _rescale(cell.gate_mul)),
        ("to_hidden", _rescale(cell.to_hidden)),
    ]


@_cell_fields.register
def _(cell: LSTMCellQ) -> list[tuple[str, str]]:
    multiplier, shift = cell.cell_tanh_params
    return [
        ("forget_mul", _rescale(cell.forget_mul)),
        ("input_mul", _rescale(cell.input_mul)),
        ("output_mul", _rescale(cell.output_mul)),
        ("cell_tanh_multiplier", str(multiplier)),
        ("cell_tanh_shift", str(shift)),
    ]


def readout_code(cfg: ModelConfig) -> int:
    """The model's ``ernn_readout``: 0 (the final state, or every step), 1 (``output[:, -1]`` of a
    bidirectional model), 2 (the mean over time)."""
    if cfg.output_mode is OutputMode.LAST and cfg.readout is Readout.MEAN:
        return 2
    if cfg.output_mode is OutputMode.LAST and cfg.readout is Readout.LAST_OUTPUT and cfg.bidirectional:
        return 1
    return 0


_CELL_C_NAMES = {
    CellType.RNN: ("rnn", "ERNN_CELL_RNN"),
    CellType.GRU: ("gru", "ERNN_CELL_GRU"),
    CellType.LSTM: ("lstm", "ERNN_CELL_LSTM"),
}


class _Arrays:
    """Collects the constant arrays of a model and returns C initializers referring to them."""

    def __init__(self) -> None:
        self.items: list[CArray] = []
        self.doubled_input = False  # packed layers in the doubled form (edgernn.export.c_packing.doubles_input)

    def add(self, name: str, ctype: str, values: npt.ArrayLike, comment: str, word_aligned: bool = False) -> str:
        self.items.append(CArray(name, ctype, np.ascontiguousarray(values), comment, word_aligned))
        return name

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.items)

    def fc_s8(self, name: str, fcs: Sequence[FullyConnected], comment: str, packing: int, gate_blocks: bool) -> str:
        """One int8 FC of the given FCs' rows stacked (they share their input, and zero point 0 or one value),
        packed for the core (:mod:`edgernn.export.c_packing`)."""
        zero_points = {fc.output_zero_point for fc in fcs}
        if len(zero_points) != 1:
            raise UnsupportedModelError(f"{comment}: stacked gate FCs have different output zero points")
        if fcs[0].in_features > MAX_FC_IN_FEATURES:
            raise UnsupportedModelError(
                f"{comment} has {fcs[0].in_features} inputs; the C runtime takes at most {MAX_FC_IN_FEATURES}"
            )
        p = pack_fc(fcs, packing, gate_blocks=gate_blocks, doubled_input=self.doubled_input)
        rows, cols = p.bias.size, round_up(p.in_features, packing)
        per = f"per group of {p.group_rows} rows" if p.group_rows else "per row"
        parts = (
            self.add(
                f"{name}_weight",
                "int8_t",
                p.weight,
                f"{comment}: int8 weights [{rows}][{cols}] (padded), packed in 4-row blocks of {packing} columns",
                word_aligned=True,
            ),
            self.add(f"{name}_bias", "int32_t", p.bias, f"{comment}: int32 bias, zero point folded"),
            self.add(f"{name}_multiplier", "int32_t", p.multiplier, f"{comment}: Q31 multipliers, {per}"),
            self.add(f"{name}_shift", "int32_t", p.shift, f"{comment}: shifts, {per}"),
        )
        bounded = {
            0: "0 /* accumulator bound not proven: general requantization */",
            1: "1",
            2: "2 /* bias doubled: the kernel doubles the input */",
            3: "3 /* bound proven; no weight is -128 */",
        }[bounded_field(p)]
        if fcs[0].input_bits == 16:  # layer 0's x_fc of a 16-bit-input model (pack_fc proves nothing for it)
            bounded = "ERNN_FC_INPUT_S16 /* int16 input: a 16x8 layer */"
        return (
            "{" + ", ".join(parts) + f", {p.in_features}, {p.out_features}, {p.output_zero_point}, "
            f"{packing}, {p.group_rows}, {bounded}}}"
        )

    def fc_f32(self, name: str, weight: np.ndarray, bias: np.ndarray, comment: str) -> str:
        """A float FC in the paneled layout (ERNN_FC_F32_PANELS in ernn_f32.h), so the C vectorizes over
        the outputs with no horizontal sums, each panel one sequential stream."""
        out_features, in_features = weight.shape
        w = self.add(
            f"{name}_weight",
            "float",
            float_panels(weight),
            f"{comment}: float weights [{out_features}][{in_features}] in panels of {F32_PANEL} outputs, "
            f"each [{in_features}][16 or fewer]",
        )
        b = self.add(f"{name}_bias", "float", bias, f"{comment}: float bias")
        return f"{{{w}, {b}, {in_features}, {out_features}, ERNN_FC_F32_PANELS}}"


#: Outputs per panel of the float FCs (ERNN_F32_PANEL in ernn_f32.h).
F32_PANEL = 16


def float_panels(weight: np.ndarray) -> np.ndarray:
    """``weight`` ([out][in]) in the C float path's paneled layout: panels of ``F32_PANEL`` outputs (the
    last one narrower when out is no multiple), each stored [in][its width], one after the other."""
    return np.concatenate([weight[o : o + F32_PANEL].T.reshape(-1) for o in range(0, weight.shape[0], F32_PANEL)])


@dataclass(frozen=True)
class _CellInit:
    comment: str
    enum: str
    member: str
    fcs: list[tuple[str, str]]
    fields: list[tuple[str, str]]


def _model_arrays(
    model: QuantizedRNN, float_path: bool, target: str = "host"
) -> tuple[_Arrays, list[_CellInit], str | None, str | None]:
    """The model's constant arrays, cell initializers, head initializer and embedding initializer
    (int8 weights packed for ``target``'s core)."""
    arrays = _Arrays()
    packing = pack_k(target)
    arrays.doubled_input = doubles_input(target)
    cells: list[_CellInit] = []
    for k, layer in enumerate(model.layers):
        member, enum = _CELL_C_NAMES[layer.cell]
        for d, direction in enumerate(layer.directions):
            name = f"l{k}d{d}"
            comment = f"layer {k} ({layer.cell.value}), {'backward' if d else 'forward'} direction"
            if float_path:
                w = direction.float_weights
                fcs = [
                    ("x_fc", arrays.fc_f32(f"{name}_x", w.weight_ih, w.bias_ih, f"{comment}, input")),
                    ("h_fc", arrays.fc_f32(f"{name}_h", w.weight_hh, w.bias_hh, f"{comment}, recurrent")),
                ]
                relu = isinstance(direction.quant, ElmanCellQ) and direction.quant.relu
                fields: list[tuple[str, str]] = [("relu", "1" if relu else "0")]
            else:
                x_fcs, h_fcs = _gate_fcs(direction.quant)
                fcs = [
                    ("x_fc", arrays.fc_s8(f"{name}_x", x_fcs, f"{comment}, input", packing, True)),
                    ("h_fc", arrays.fc_s8(f"{name}_h", h_fcs, f"{comment}, recurrent", packing, True)),
                ]
                fields = [*_cell_fields(direction.quant), ("hidden_zero_point", str(layer.hidden_q.zero_point))]
                if isinstance(direction.quant, ElmanCellQ):  # after hidden_zero_point: C++ wants declaration order
                    fields.append(("relu", "1" if direction.quant.relu else "0"))
                if isinstance(direction.quant, LSTMCellQ):  # after hidden_zero_point: declaration order (C++)
                    fields.append(("cell_clip", str(direction.quant.cell_clip or 0)))  # 0: no clip
            cells.append(_CellInit(comment, enum, member, fcs, fields))
    head = None
    if model.head is not None:
        if float_path:
            head = arrays.fc_f32("head", model.head.weight, model.head.bias, "dense head")
        else:
            head = arrays.fc_s8("head", [model.head.fc], "dense head", packing, False)
    embedding = None
    if model.embedding is not None:
        vocab, dim = model.embedding.table.shape
        if float_path:
            embedding = arrays.add("embedding_table", "float", model.embedding.weight, f"embedding [{vocab}][{dim}]")
        else:
            table = arrays.add("embedding_table", "int8_t", model.embedding.table, f"int8 embedding [{vocab}][{dim}]")
            embedding = f"{{{table}, {vocab}, {dim}}}"
    return arrays, cells, head, embedding


def budget(model: QuantizedRNN, float_path: bool = False, target: str = "host") -> Budget:
    """Flash and RAM an export of ``model`` for ``target`` needs (the same figures the generated macros state)."""
    arrays, *_ = _model_arrays(model, float_path, target)
    layout = StateLayout.of(model, float_path)
    return Budget(arrays.nbytes, layout.state_bytes, layout.scratch_bytes)


# --------------------------------------------------------------------------------------------
# Rendering.


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _banner_text(model: QuantizedRNN, what: str) -> str:
    return f"{what} by {GENERATOR} (edgernn {__version__}) for model sha256 {model.sha256}."


def _c_banner(text: str) -> str:
    return f"/*\n * {SPDX}\n * {text}\n * Do not edit: re-export the model instead.\n */"


def _describe(model: QuantizedRNN) -> str:
    cfg = model.config
    directions = "bidirectional " if cfg.bidirectional else ""
    inputs = f"{cfg.vocab_size}-token vocabulary" if cfg.uses_tokens else f"{cfg.input_size} features"
    head = f", {cfg.output_size} outputs" if cfg.output_size is not None else ""
    return (
        f"{cfg.num_layers}-layer {directions}{cfg.cell.value.upper()} {cfg.hidden_size}, {inputs}{head}, "
        f"{cfg.output_mode.value} output"
    )


def _macros(model: QuantizedRNN, float_path: bool, b: Budget) -> list[tuple[str, str, str]]:
    cfg = model.config
    layout = StateLayout.of(model, float_path)
    seq_width = cfg.num_directions * cfg.hidden_size * (2 if cfg.num_layers > 1 else 1) * layout.hidden_dtype.itemsize
    seq_width += layout.head_input_bytes  # an int16 head's int8 input rows (ernn_model_s8_run_sequence_s16)
    out_q = model.output_q
    macros = [
        ("MODEL_SHA256", f'"{model.sha256}"', "sha256 of the model (edgernn QuantizedRNN.sha256)"),
        ("EDGERNN_VERSION", f'"{__version__}"', "edgernn that generated this file"),
        ("CELL", f'"{cfg.cell.value}"', None),
        ("FLOAT_PATH", "1" if float_path else "0", "1: float32 path (--float); 0: int8 path"),
        ("NUM_LAYERS", str(cfg.num_layers), None),
        ("NUM_DIRECTIONS", str(cfg.num_directions), None),
        ("BIDIRECTIONAL", "1" if cfg.bidirectional else "0", "1: whole sequences only (run_sequence)"),
        ("READOUT", str(readout_code(cfg)), "0 final state, 1 output[:, -1] (bidirectional), 2 mean over time"),
        ("HIDDEN_SIZE", str(cfg.hidden_size), None),
        ("TOKEN_INPUT", "1" if cfg.uses_tokens else "0", "1: the input per step is one int32 token id"),
    ]
    if cfg.uses_tokens:
        macros.append(("VOCAB_SIZE", str(cfg.vocab_size), "token ids are in [0, VOCAB_SIZE)"))
    macros += [
        ("INPUT_SIZE", "1" if cfg.uses_tokens else str(cfg.input_size), "input values per step"),
        ("OUTPUT_SIZE", str(cfg.output_width), "output values per step"),
        (
            "OUTPUT_LAST",
            "1" if cfg.output_mode is OutputMode.LAST else "0",
            "1: many-to-one (answer after the last step)",
        ),
        ("INPUT_BITS", str(model.input_bits), "8: int8 inputs; 16: int16 (a regression model's 16-bit input)"),
        ("INPUT_SCALE", _c_float(model.input_q.scale), f"int{model.input_bits} input quantization scale"),
        ("INPUT_ZERO_POINT", str(model.input_q.zero_point), f"int{model.input_bits} input zero point"),
        ("OUTPUT_BITS", str(model.output_bits), "8: int8 outputs; 16: int16 (a regression head)"),
        ("OUTPUT_SCALE", _c_float(out_q.scale), f"int{model.output_bits} output quantization scale"),
        ("OUTPUT_ZERO_POINT", str(out_q.zero_point), f"int{model.output_bits} output zero point"),
        ("WEIGHT_BYTES", str(b.weight_bytes), "constant data in flash"),
        ("STATE_BYTES", str(b.state_bytes), "recurrent state in RAM"),
        ("SCRATCH_BYTES", str(b.scratch_bytes), "scratch in RAM"),
        ("SEQUENCE_WORK_BYTES(steps)", f"((steps) * {seq_width})", "work bytes of run_sequence"),
    ]
    if model.input_mean is not None and model.input_std is not None:
        mean = ", ".join(_c_float(v) for v in model.input_mean.tolist())
        std = ", ".join(_c_float(v) for v in model.input_std.tolist())
        macros += [
            ("INPUT_MEAN_INIT", f"{{{mean}}}", "normalization: x = (raw - mean) / std"),
            ("INPUT_STD_INIT", f"{{{std}}}", None),
        ]
    return macros


def render(model: QuantizedRNN, options: ExportOptions = ExportOptions()) -> dict[str, bytes]:
    """Every file of the export folder (relative path -> content), without writing anything.

    ``selftest/vectors.bin`` is left out (it runs the reference); :func:`export` adds it.
    """
    prefix = validate_prefix(options.prefix)
    float_path = options.float_weights
    cfg = model.config
    arrays, cells, head, embedding = _model_arrays(model, float_path, options.target)
    layout = StateLayout.of(model, float_path)
    b = Budget(arrays.nbytes, layout.state_bytes, layout.scratch_bytes)
    tokens = cfg.uses_tokens
    value_ctype = "float" if float_path else "int8_t"
    int16_head = output_kind(model, float_path) == KIND_INT16
    int16_input = input_kind(model, float_path) == KIND_INT16
    in_value = "int16_t" if int16_input else value_ctype  # the features' C type
    sfx = "_f32" if float_path else ""
    compiler, flags, _ = target_toolchain(options.target)
    mode = runtime_mode(options)
    runtime = runtime_files(float_path) if mode == "copy" else []
    sources = [dest for dest, _ in runtime if dest.endswith(".c")]
    sources += [] if mode == "single" else [f"src/{prefix}_model.c"]
    context = {
        "p": prefix,
        "P": prefix.upper(),
        "banner_c": _c_banner(_banner_text(model, "Generated")),
        "banner_hash": f"# {SPDX}\n# {_banner_text(model, 'Generated')}\n# Do not edit: re-export the model instead.",
        "banner_line": _banner_text(model, "Generated"),
        "description": _describe(model),
        "version": __version__,
        "sha256": model.sha256,
        "is_float": float_path,
        "path": "f32" if float_path else "s8",
        "path_name": "float32" if float_path else "int8",
        "fc_suffix": "_f32" if float_path else "",
        "sfx": sfx,
        "tokens": tokens,
        "bidirectional": cfg.bidirectional,
        "whole_sequence": not streams(cfg),
        "final_output": readout_code(cfg) == 0,
        "readout_code": readout_code(cfg),
        "head_relu": cfg.head_activation is Activation.RELU,
        "head_tanh": cfg.head_activation is Activation.TANH,
        "head_to_q312": _rescale(model.head_tanh.to_q312) if model.head_tanh is not None else "{0, 0}",
        "head_to_int8": _rescale(model.head_tanh.to_int8) if model.head_tanh is not None else "{0, 0}",
        "head_tanh_zero_point": model.head_tanh.output_q.zero_point if model.head_tanh is not None else 0,
        "top_zero_point": model.layers[-1].hidden_q.zero_point,
        "normalized": model.input_mean is not None,
        "output_last": cfg.output_mode is OutputMode.LAST,
        "macros": _macros(model, float_path, b),
        "layout": layout,
        "cell_state_doc": "LSTM cell state" if cfg.cell is CellType.LSTM else "GRU hidden state, int16 Q0.15",
        "budget": b,
        "arrays": arrays.items,
        "cells": cells,
        "head": head,
        "embedding": embedding if not float_path else None,
        "embedding_table": embedding if float_path else None,
        "vocab_size": cfg.vocab_size or 0,
        "layer_input_size": cfg.rnn_input_size,
        "out_ctype": "int16_t" if int16_head else value_ctype,
        "work_ctype": value_ctype,
        # the runtime's functions for the outputs: ernn_model_s8_step_s16 etc. for an int16 head
        "api_sfx": "_s16" if int16_head else "",
        "int16_head": int16_head,
        # ... and ernn_model_s8_step_x16 etc. for a 16-bit input (no token argument)
        "api_in": "_x16" if int16_input else "",
        "int16_input": int16_input,
        "input_bits": model.input_bits,
        "in_ctype": "int32_t" if tokens else in_value,
        "step_in_decl": "int32_t token" if tokens else f"const {in_value} *x",
        "step_in_doc": "one token id"
        if tokens
        else f"{prefix.upper()}_INPUT_SIZE {'float' if float_path else f'int{model.input_bits}'} features",
        "run_in_decl": "const int32_t *tokens" if tokens else f"const {in_value} *xs",
        "run_args": "NULL, tokens" if tokens else ("xs" if int16_input else "xs, NULL"),
        "input_kind": input_kind(model, float_path),
        "output_kind": output_kind(model, float_path),
        "read_in": {
            KIND_INT32: "read_int32",
            KIND_FLOAT32: "read_float32",
            KIND_INT8: "read_int8",
            KIND_INT16: "read_int16",
        }[input_kind(model, float_path)],
        "read_out": {KIND_FLOAT32: "read_float32", KIND_INT8: "read_int8", KIND_INT16: "read_int16"}[
            output_kind(model, float_path)
        ],
        "target": options.target,
        "packing": pack_k(options.target),
        "target_compiler": compiler,
        "target_flags": flags,
        "sources": sources,
        "boards": bool(board_files(options.target)) and mode != "none",
        **_compose_context(model, options, float_path),
        "vocab": None if model.vocab is None else [c_string(v) + "," for v in model.vocab],
        "generate": _can_generate(model, float_path),
    }
    env = _environment()
    files: dict[str, bytes] = {}
    copied_banner = _c_banner(_banner_text(model, "Copied from the edgernn C runtime (firmware_export)"))
    for dest, source in [*runtime, *(board_files(options.target) if mode != "none" else [])]:
        files[dest] = (copied_banner + "\n" + _inline_ports(source.read_text(encoding="utf-8"))).encode()
    templates = [
        ("model.h.j2", f"include/{prefix}_model.h"),
        ("model.c.j2", f"src/{prefix}_model.c"),
        ("selftest.c.j2", "selftest/selftest.c"),
        ("CMakeLists.txt.j2", "CMakeLists.txt"),
        ("Makefile.j2", "Makefile"),
        ("README.md.j2", "README.md"),
    ]
    for template, dest in templates:
        files[dest] = env.get_template(template).render(context).encode()
    if mode == "single":
        model_h, model_c = files.pop(f"include/{prefix}_model.h"), files.pop(f"src/{prefix}_model.c")
        del files["CMakeLists.txt"]  # one header needs no build system
        files[f"{prefix}.h"] = single_header(model, prefix, float_path, model_h.decode(), model_c.decode()).encode()
    files[LICENSE_NAME] = license_path().read_bytes()
    manifest = {
        "banner": _banner_text(model, "Generated"),
        "generator": GENERATOR,
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "prefix": prefix,
        "path": "float32" if float_path else "int8",
        "target": options.target,
        "bidirectional": cfg.bidirectional,
        "streams": streams(cfg),  # false: bidirectional or mean over time, run_sequence only
        "token_input": tokens,
        "runtime": mode,
        "runtime_version": list(runtime_version()),
        **({} if model.vocab is None else {"vocab": list(model.vocab)}),
        "budget": dataclasses.asdict(b),
        "state_layout": {
            "total_bytes": layout.total_bytes,
            "hidden_offset": layout.hidden_offset,
            "scratch_offset": layout.scratch_offset,
        },
        "files": sorted([*files, "selftest/vectors.bin", MANIFEST_NAME]),
    }
    files[MANIFEST_NAME] = (json.dumps(manifest, indent=1) + "\n").encode()  # the banner first
    return files


def _can_generate(model: QuantizedRNN, float_path: bool) -> bool:
    """Whether the export gets ``<prefix>_generate``: int8 unidirectional next-token models."""
    cfg = model.config
    return not float_path and cfg.uses_tokens and not cfg.bidirectional and cfg.output_width == cfg.vocab_size


# --------------------------------------------------------------------------------------------
# Composing exports: --runtime copy|none, --single-header, the float helpers, the target's build rules.


def runtime_mode(options: ExportOptions) -> str:
    """``copy``, ``none`` or ``single`` (one header): where the runtime of an export comes from."""
    if options.runtime not in RUNTIME_MODES:
        raise EdgeRNNError(f"unknown --runtime {options.runtime!r}", f"choose one of {', '.join(RUNTIME_MODES)}")
    if options.single_header:
        if options.runtime != "copy":
            raise EdgeRNNError(
                "--single-header carries the runtime in the header; it cannot go with --runtime none",
                "drop --runtime none (define ERNN_NO_RUNTIME_IMPLEMENTATION to leave the runtime out of one .c)",
            )
        return "single"
    return options.runtime


_RUNTIME_VERSION = re.compile(r"^#define ERNN_RUNTIME_VERSION_(MAJOR|MINOR) (\d+)\s*$", re.M)


def runtime_version() -> tuple[int, int]:
    """``(major, minor)`` of the runtime's interface (``ERNN_RUNTIME_VERSION_*`` in ernn_common.h): what
    generated model code requires of the runtime it is compiled with."""
    found = dict(_RUNTIME_VERSION.findall((runtime_root() / "include" / "edgernn" / "ernn_common.h").read_text()))
    if set(found) != {"MAJOR", "MINOR"}:
        raise EdgeRNNError("the C runtime's ernn_common.h defines no ERNN_RUNTIME_VERSION_MAJOR/MINOR", "reinstall")
    return int(found["MAJOR"]), int(found["MINOR"])


def license_path() -> Path:
    """The LICENSE file (Apache-2.0): inside the wheel (edgernn/LICENSE) or at the repository's root."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / LICENSE_NAME, package.parent / LICENSE_NAME):
        if candidate.is_file():
            return candidate
    raise EdgeRNNError("the edgernn LICENSE file is missing from this installation", "reinstall edgernn")


def c_string(text: str) -> str:
    """A C string literal of ``text`` in UTF-8: printable ASCII as is, everything else as three-digit octal
    escapes (which, unlike hex escapes, never swallow the next character); ``?`` escaped against trigraphs."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _scale_split(scale: float) -> tuple[float, float]:
    """``scale`` (float32) as ``hi + lo``, each with at most 12 significant bits, so that ``h * hi`` and
    ``h * lo`` are exact in float32 for any ``h`` of at most 12 bits (the quantize helper's tie check)."""
    s = np.float32(scale)
    if s < 2.0**-100:  # below, h * lo could round (subnormal); no calibrated scale is that small
        raise UnsupportedModelError(f"input scale {scale!r} is too small for the C quantize helper")
    hi = (np.array([s]).view(np.uint32) & np.uint32(0xFFFFF000)).view(np.float32)[0]
    lo = np.float32(s - hi)  # exact: the low 12 bits of the significand
    assert float(hi) + float(lo) == float(s)
    return float(hi), float(lo)


def _scale_mantissa(scale: float) -> tuple[int, int]:
    """``scale`` (float32) as ``mantissa * 2**exponent`` with a 24-bit integer mantissa: the int16 quantize
    helper divides by it exactly in integers (a 16-bit input's quotient needs more than _scale_split's 12 bits)."""
    bits = int(np.array([np.float32(scale)]).view(np.uint32)[0])
    biased = (bits >> 23) & 0xFF
    if biased == 0:  # subnormal: no calibrated scale is that small
        raise UnsupportedModelError(f"input scale {scale!r} is too small for the C quantize helper")
    mantissa, exponent = (bits & 0x7FFFFF) | 0x800000, biased - 150
    assert math.ldexp(mantissa, exponent) == float(np.float32(scale))
    return mantissa, exponent


@dataclass(frozen=True)
class BuildRules:
    """What the generated Makefile needs to build (and run) the selftest for one target."""

    compiler: str
    flags: str
    ldflags: str
    board: str | None  # bare-metal: the QEMU board under boards/
    executable: str
    run: str  # command prefix running the executable (empty: natively)
    linux: bool


def build_rules(target: str) -> BuildRules:
    """The compiler, flags and run command of ``target`` (:data:`edgernn.boards.TARGETS`) for the Makefile."""
    from edgernn.boards import TARGETS

    t = TARGETS[target]
    compiler, flags, _ = target_toolchain(target)
    if t.bare_metal:
        flags = f"{flags} -ffunction-sections -fdata-sections"
    return BuildRules(
        compiler=compiler,
        flags=flags,
        ldflags=" ".join(t.ldflags),
        board=t.board,
        executable="build/selftest.elf" if t.bare_metal else "build/selftest",
        run=" ".join(t.emulator),
        linux=t.kind == "linux",
    )


def _compose_context(model: QuantizedRNN, options: ExportOptions, float_path: bool) -> dict[str, object]:
    """Template values of the composing features: runtime mode and version, helpers, build rules."""
    major, minor = runtime_version()
    scale_hi, scale_lo = _scale_split(model.input_q.scale)
    mantissa, exponent = _scale_mantissa(model.input_q.scale)
    names = model.class_names
    return {
        "runtime_mode": runtime_mode(options),
        "runtime_major": major,
        "runtime_minor": minor,
        "spdx": SPDX,
        "quantize_helpers": not float_path and not model.config.uses_tokens,
        "dequantize_helper": not float_path,
        "scale_hi": _c_float(scale_hi),
        "scale_lo": _c_float(scale_lo),
        "scale_mantissa": mantissa,
        "scale_exponent": exponent,
        "class_names": [c_string(n) for n in names] if names else None,
        "rules": build_rules(options.target),
    }


# The single header: the runtime's files pasted in include order, then the model.

_LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"[^\n]*$', re.M)
_STATIC_FUNCTION = re.compile(r"^static\b[^;=(]*?\b([A-Za-z_]\w*)\s*\(", re.M)


class _Amalgamation:
    """Pastes C files into one text, replacing each ``#include "x"`` of a runtime file by that file the
    first time and dropping it afterwards (the files carry include guards; this keeps the text short)."""

    def __init__(self) -> None:
        root = runtime_root()
        self.search = (root / "include", root / "src")
        self.done: set[Path] = set()

    def _resolve(self, name: str, here: Path | None) -> Path | None:
        for folder in ((here,) if here else ()) + self.search:
            candidate = (folder / name).resolve()
            if candidate.is_file():
                return candidate
        return None

    def paste(self, text: str, here: Path | None) -> str:
        def include(m: re.Match[str]) -> str:
            path = self._resolve(m.group(1), here)
            if path is None:  # the model's own header: it is pasted above
                return f"/* {m.group(0).strip()}: above */"
            if path in self.done:
                return ""
            self.done.add(path)
            return self.paste(path.read_text(encoding="utf-8"), path.parent).rstrip("\n")

        return _LOCAL_INCLUDE.sub(include, text)

    def paste_file(self, path: Path) -> str:
        self.done.add(path.resolve())
        return self.paste(path.read_text(encoding="utf-8"), path.parent)


def single_header(model: QuantizedRNN, prefix: str, float_path: bool, model_h: str, model_c: str) -> str:
    """``<prefix>.h``: the runtime's headers and the model's API, and under ``<PREFIX>_IMPLEMENTATION``
    the runtime's sources of the path and the model's weights and functions (stb style).

    Static functions that several runtime sources define under one name (each file its own
    ``hidden_size``) get a per-file name by a function-like macro around their file, so that the
    sources can share one translation unit unchanged.
    """
    P = prefix.upper()
    a = _Amalgamation()
    public = a.paste_file(runtime_root() / "include" / "edgernn" / "edgernn.h") + a.paste(model_h, None)
    sources = [p for dest, p in runtime_files(float_path) if dest.endswith(".c")]
    statics = {p: set(_STATIC_FUNCTION.findall(p.read_text(encoding="utf-8"))) for p in sources}
    shared = {n for p in sources for n in statics[p] if sum(n in s for s in statics.values()) > 1}
    runtime_parts = []
    for p in sources:
        names = sorted(shared & statics[p])
        renames = "".join(f"#define {n}(...) {p.stem}_{n}(__VA_ARGS__)\n" for n in names)
        undo = "".join(f"#undef {n}\n" for n in names)
        runtime_parts.append(f"/* ---- {p.name} ---- */\n{renames}{a.paste_file(p)}{undo}")
    banner = _c_banner(_banner_text(model, "Generated"))
    return f"""{banner}
/**
 * @file {prefix}.h
 * @brief {_describe(model)}: the edgernn C runtime and this model in one header.
 *
 * Everywhere: #include "{prefix}.h" for the API ({prefix}_init, {prefix}_step, ...).
 * In exactly one .c or .cpp file, before the include:
 *     #define {P}_IMPLEMENTATION
 * Several single-header models in one program: each {P}_IMPLEMENTATION in its own .c file, and in all
 * but one of them also #define ERNN_NO_RUNTIME_IMPLEMENTATION (the runtime is compiled once).
 */
#ifndef {P}_H
#define {P}_H

{public.strip()}

#endif /* {P}_H */

#if defined({P}_IMPLEMENTATION) && !defined({P}_IMPLEMENTED)
#define {P}_IMPLEMENTED

#ifndef ERNN_NO_RUNTIME_IMPLEMENTATION
{chr(10).join(runtime_parts).strip()}
#endif /* ERNN_NO_RUNTIME_IMPLEMENTATION */

/* ---- {prefix}_model.c ---- */
{a.paste(model_c, None).strip()}

#endif /* {P}_IMPLEMENTATION */
"""


# --------------------------------------------------------------------------------------------
# Test vectors.


def _default_sequences(model: QuantizedRNN) -> list[np.ndarray]:
    """A few short sequences for the bundled vectors: random values, then the int8 extremes."""
    cfg = model.config
    rng = np.random.default_rng(int(model.sha256[:8], 16))
    lengths = [16, 5, 1] if cfg.bidirectional else [24, 7, 1]
    if cfg.uses_tokens:
        seqs = [rng.integers(0, cfg.vocab_size, size=n) for n in lengths]
        seqs[0][:2] = [0, cfg.vocab_size - 1]
        return seqs
    lo, hi, dtype = (-32768, 32767, np.int16) if model.input_bits == 16 else (-128, 127, np.int8)
    seqs = [rng.integers(lo, hi + 1, size=(n, cfg.input_size)).astype(dtype) for n in lengths]
    seqs[0][:4] = np.array([[lo], [hi], [lo], [hi]], dtype=dtype)
    return seqs


def _vector_inputs(model: QuantizedRNN, seq: npt.ArrayLike) -> np.ndarray:
    """One test-vector sequence checked: int8 (int16 for a 16-bit input) features ``(T, F)`` or token ids
    ``(T,)`` in the vocabulary."""
    cfg = model.config
    arr = np.asarray(seq)
    width = "(T,)" if cfg.uses_tokens else f"(T, {cfg.input_size})"
    if arr.ndim != (1 if cfg.uses_tokens else 2) or (not cfg.uses_tokens and arr.shape[1] != cfg.input_size):
        raise InputDataError(f"a test-vector sequence has shape {arr.shape}, the model expects {width}")
    if len(arr) == 0:
        raise InputDataError("a test-vector sequence has no time steps", "pass at least one step")
    if not cfg.uses_tokens:
        want = np.dtype(np.int16 if model.input_bits == 16 else np.int8)
        if arr.dtype != want:
            raise InputDataError(
                f"test-vector inputs have dtype {arr.dtype}, expected {want}",
                f"quantize with model.input_q.quantize(x, {model.input_bits})",
            )
        return arr
    if arr.dtype.kind not in "iu":
        raise InputDataError(f"token ids have dtype {arr.dtype}", "pass integer token ids")
    if arr.min() < 0 or arr.max() >= cfg.vocab_size:
        raise InputDataError(f"a token id is outside [0, {cfg.vocab_size})", "map tokens with the model's vocabulary")
    return arr.astype(np.int64)


def encode_test_vectors(
    model: QuantizedRNN, sequences_int8: Sequence[npt.ArrayLike], *, float_path: bool = False
) -> bytes:
    """The bytes of a test-vector file (see :func:`write_test_vectors`)."""
    from edgernn import engine
    from edgernn.floatmodel import FloatKernels
    from edgernn.reference import ReferenceKernels

    cfg = model.config
    if len(sequences_int8) == 0:
        raise InputDataError("no sequences to write")
    in_kind = input_kind(model, float_path)
    out_kind = output_kind(model, float_path)
    # The integer reference is the specification the C must match; --float exports are checked
    # against the numpy float model on the same inputs, dequantized to the normalized domain.
    kernels = FloatKernels(model) if float_path else ReferenceKernels(model)
    chunks: list[bytes] = []
    for seq in sequences_int8:
        xq = _vector_inputs(model, seq)
        inputs = model.input_q.dequantize(xq) if float_path and not cfg.uses_tokens else xq
        if not streams(cfg):
            expected, _ = engine.run(kernels, inputs)  # per-step outputs of the whole sequence
        else:  # stepped, as a stream and the C compute it (batched float matmuls round differently)
            state, outputs = engine.zero_state(kernels), []
            for x in inputs:
                y, state = engine.step(kernels, state, x)
                outputs.append(y)
            expected = np.stack(outputs)
        steps = len(xq)
        in_step = np.asarray(inputs).reshape(steps, -1).astype(_KIND_DTYPES[in_kind])
        out_step = np.asarray(expected).reshape(steps, -1).astype(_KIND_DTYPES[out_kind])
        chunks.append(struct.pack("<I", steps))
        chunks.append(np.concatenate([in_step.view(np.uint8), out_step.view(np.uint8)], axis=1).tobytes())
    atol, rtol = (FLOAT_VECTOR_ATOL, FLOAT_VECTOR_RTOL) if float_path else (0.0, 0.0)
    header = VECTOR_HEADER.pack(
        VECTOR_MAGIC,
        model.sha256.encode("ascii"),
        in_kind,
        out_kind,
        1 if cfg.uses_tokens else cfg.input_size,
        cfg.output_width,
        len(sequences_int8),
        atol,
        rtol,
    )
    return header + b"".join(chunks)


def write_test_vectors(
    model: QuantizedRNN,
    path: str | os.PathLike[str],
    sequences_int8: Sequence[npt.ArrayLike],
    *,
    float_path: bool = False,
) -> Path:
    """Write a test-vector file for ``selftest`` (format in the module docstring), atomically.

    ``sequences_int8``: int8 feature arrays ``(T, F)``, or token-id arrays ``(T,)`` for token
    models. Expected outputs come from the integer reference; with ``float_path`` (for
    ``--float`` exports) the same inputs are dequantized to the model's normalized domain and the
    expected outputs come from the numpy float model.
    """
    target = Path(path)
    write_bytes_atomic(target, encode_test_vectors(model, sequences_int8, float_path=float_path))
    return target


@dataclass(frozen=True)
class TestVectors:
    """A parsed test-vector file."""

    __test__ = False  # not a pytest class

    model_sha256: str
    input_kind: int
    output_kind: int
    atol: float
    rtol: float
    inputs: list[np.ndarray]  # per sequence (T, width) (int8 / int32 / float32)
    outputs: list[np.ndarray]  # per sequence (T, width) (int8 / float32)


def read_test_vectors(path: str | os.PathLike[str]) -> TestVectors:
    """Parse a file written by :func:`write_test_vectors`."""
    data = Path(path).read_bytes()
    if len(data) < VECTOR_HEADER.size or not data.startswith(VECTOR_MAGIC):
        raise InputDataError(f"{path} is not an edgernn test-vector file")
    magic, sha, in_kind, out_kind, in_width, out_width, count, atol, rtol = VECTOR_HEADER.unpack_from(data)
    in_dtype, out_dtype = _KIND_DTYPES[in_kind], _KIND_DTYPES[out_kind]
    step_bytes = in_width * in_dtype.itemsize + out_width * out_dtype.itemsize
    offset = VECTOR_HEADER.size
    inputs, outputs = [], []
    for _ in range(count):
        (steps,) = struct.unpack_from("<I", data, offset)
        offset += 4
        block = np.frombuffer(data, dtype=np.uint8, count=steps * step_bytes, offset=offset).reshape(steps, step_bytes)
        offset += steps * step_bytes
        split = in_width * in_dtype.itemsize
        inputs.append(np.ascontiguousarray(block[:, :split]).view(in_dtype))
        outputs.append(np.ascontiguousarray(block[:, split:]).view(out_dtype))
    return TestVectors(sha.decode("ascii"), in_kind, out_kind, atol, rtol, inputs, outputs)


# --------------------------------------------------------------------------------------------
# Writing the folder.


def _is_previous_export(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def write_folder_atomically(output: Path, files: dict[str, bytes]) -> tuple[Path, ...]:
    """Write ``files`` as the folder ``output``: built beside it, then renamed into place.

    An existing ``output`` must be empty or a previous edgernn C export (which is replaced); a
    failure leaves no partial folder behind (:func:`edgernn.fileio.atomic_folder`).
    """
    with atomic_folder(output, "C export", _is_previous_export) as tmp:
        for rel, content in files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
    return tuple(Path(output) / rel for rel in sorted(files))


def export(model: QuantizedRNN, output: Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write the C export folder ``output``; the report holds the memory budget."""
    validate_prefix(options.prefix)
    float_path = options.float_weights
    b = budget(model, float_path, options.target)
    path_name = "float32" if float_path else "int8"
    report = list(b.lines(options.target, path_name))
    if options.max_flash is not None and b.weight_bytes > options.max_flash:
        raise EdgeRNNError(
            f"the model needs {b.weight_bytes} bytes of flash for weights, more than --max-flash {options.max_flash}",
            "use a smaller model (hidden size, layers)" + ("" if not float_path else " or the int8 path (no --float)"),
        )
    if options.max_ram is not None and b.ram_bytes > options.max_ram:
        raise EdgeRNNError(
            f"the model needs {b.ram_bytes} bytes of RAM ({b.state_bytes} state + {b.scratch_bytes} scratch), "
            f"more than --max-ram {options.max_ram}",
            "use a smaller hidden size or fewer layers",
        )
    if float_path and not target_toolchain(options.target)[2]:
        report.append(f"  note: {options.target} has no FPU; the float32 path runs in software floating point")
    files = render(model, options)
    files["selftest/vectors.bin"] = encode_test_vectors(model, _default_sequences(model), float_path=float_path)
    written = write_folder_atomically(Path(output), files)
    return ExportResult(files=written, report=tuple(report))


def content_digest() -> str:
    """sha256 over the runtime sources, the templates and this generator: part of build cache keys."""
    h = hashlib.sha256()
    root = runtime_root()
    paths = sorted([*root.glob("include/edgernn/*.h"), *root.glob("src/*"), *root.glob("ports/*/*.h")])
    paths += sorted(TEMPLATES.glob("*.j2"))
    for p in [*paths, Path(__file__)]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()
