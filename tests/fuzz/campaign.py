"""The file fuzz campaign (issue 14): mutated ``.ernn``, ``.safetensors``, ``.npz``, ``.csv``,
``.onnx`` and ``.tflite`` files fed to edgernn's loaders and backends in a child process.

Each case is one mutation of a valid seed file, drawn from a generator seeded by
``(seed, kind, case index)``, so any case can be replayed. Mutations: bit flips, byte changes,
truncation, chunk insertion/deletion, overwritten 32-bit words, inflated numbers in text
(JSON, ``.npy`` headers, CSV), and per-kind structural edits (``.ernn`` header and array edits
re-hashed so they load; checkpoint config and metadata edits, re-hashed or not; ``.npz``
members with hostile contents; ``.tflite``/``.onnx`` metadata edits).

Outcomes per case: accepted (loaded and ran), clean (a one-line ``EdgeRNNError``), traceback
(any other exception), crash (the child died by a signal), hang (no answer within the timeout).
The fast slice runs in CI (tests/fuzz/test_fuzz.py); ``benchmarks/fuzz.py`` runs long campaigns.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import io
import json
import os
import random
import selectors
import signal
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("ernn", "safetensors", "npz", "csv", "onnx", "tflite")
OUTCOMES = ("accepted", "clean", "traceback", "crash", "hang")
REPO = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------ seeds


@dataclasses.dataclass(frozen=True)
class Seed:
    kind: str
    path: Path
    model: Path | None = None  # the .ernn a .tflite/.onnx was exported from
    sequence: Path | None = None  # the intact sequence graph beside a fuzzed ONNX step graph


def make_seeds(folder: Path) -> list[Seed]:
    """Valid files of every kind, written to ``folder`` (deterministic)."""
    from edgernn import ir
    from edgernn.export import onnx as onnx_export
    from edgernn.export import tflite as tflite_export
    from edgernn.testing import random_model
    from edgernn.types import CellType, ModelConfig, OutputMode

    folder.mkdir(parents=True, exist_ok=True)
    seeds: list[Seed] = []
    configs = {
        "gru": ModelConfig(cell=CellType.GRU, input_size=4, hidden_size=8, output_size=3),
        "lstm": ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=6, num_layers=2, output_size=2),
        "rnn_tokens": ModelConfig(
            cell=CellType.RNN, vocab_size=9, embedding_dim=4, hidden_size=5, output_mode=OutputMode.SEQUENCE
        ),
    }
    for name, cfg in configs.items():
        model = random_model(cfg, seed=3)
        ernn = ir.save(model, folder / f"{name}.ernn")
        seeds.append(Seed("ernn", ernn))
        tfl = folder / f"{name}.tflite"
        tfl.write_bytes(tflite_export.build(model, "int8").data)
        seeds.append(Seed("tflite", tfl, ernn))
        step, seq = folder / f"{name}.onnx", folder / f"{name}.sequence.onnx"
        step.write_bytes(onnx_export.build(model, "int8", "step").data)
        seq.write_bytes(onnx_export.build(model, "int8", "sequence").data)
        seeds.append(Seed("onnx", step, ernn, seq))
    seeds += _checkpoint_seeds(folder)
    rng = np.random.default_rng(0)
    lengths = np.array([3, 5, 4])
    np.savez(
        folder / "ragged.npz",
        X=rng.normal(size=(12, 4)).astype(np.float32),
        lengths=lengths,
        y=np.array([0, 2, 1]),
        class_names=np.array(["a", "b", "c"]),
    )
    np.savez(folder / "tokens.npz", X=rng.integers(0, 9, size=(3, 5)), y=rng.normal(size=(15, 2)).astype(np.float32))
    seeds += [Seed("npz", folder / "ragged.npz"), Seed("npz", folder / "tokens.npz")]
    csv = folder / "steps.csv"
    csv.write_text("a,b,c,d\n" + "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in rng.normal(size=(6, 4))))
    seeds.append(Seed("csv", csv))
    return seeds


def _checkpoint_seeds(folder: Path) -> list[Seed]:
    import torch

    from edgernn.data import Normalization
    from edgernn.models import Checkpoint, RNNModel, save_checkpoint
    from edgernn.types import CellType, ModelConfig

    torch.manual_seed(0)
    norm = Normalization(np.zeros(4, np.float32), np.ones(4, np.float32))
    gru = Checkpoint(RNNModel(ModelConfig(CellType.GRU, 8, input_size=4, output_size=3)), norm, ("a", "b", "c"), "x")
    lstm = Checkpoint(RNNModel(ModelConfig(CellType.LSTM, 6, vocab_size=9, embedding_dim=3, output_size=2)))
    save_checkpoint(folder / "gru.safetensors", gru)
    save_checkpoint(folder / "lstm.safetensors", lstm)
    return [Seed("safetensors", folder / "gru.safetensors"), Seed("safetensors", folder / "lstm.safetensors")]


# -------------------------------------------------------------------------------- mutations

INTERESTING_INTS = (0, 1, -1, 2**31 - 1, -(2**31), 2**32 - 1, 2**30, 2**15, 255, 127, -128, 2**40)
INTERESTING_TEXT = (
    "0", "-1", "1.5", "1e30", "1e400", "-1e30", "2147483648", "4294967296", "1099511627776", "99999999999999999999",
    "nan", "NaN", "Infinity", "null", "true", '""', "[]", "{}",
)  # fmt: skip


def bit_flips(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 4))):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def byte_changes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        buf[rng.randrange(len(buf))] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return bytes(buf)


def truncation(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def chunk_edit(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    n = rng.choice((1, 4, 16, 256))
    if rng.random() < 0.5:
        return data[:at] + data[at + n :]
    return data[:at] + bytes(rng.randrange(256) for _ in range(n)) + data[at:]


def word_overwrite(rng: random.Random, data: bytes) -> bytes:
    """A 32-bit word (flatbuffer offset, protobuf length, zip size field...) set to an extreme."""
    buf = bytearray(data)
    at = rng.randrange(max(1, len(buf) - 4)) & ~3
    value = rng.choice(INTERESTING_INTS + (len(data), len(data) + rng.randint(1, 64))) & 0xFFFFFFFF
    struct.pack_into("<I", buf, min(at, len(buf) - 4), value)
    return bytes(buf)


def number_inflation(rng: random.Random, data: bytes) -> bytes:
    """One ASCII number in the data (JSON, .npy header, CSV) replaced by an extreme one."""
    import re

    runs = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?(e-?\d+)?", data)]
    if not runs:
        return byte_changes(rng, data)
    a, b = rng.choice(runs)
    return data[:a] + rng.choice(INTERESTING_TEXT).encode() + data[b:]


GENERIC: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    bit_flips, byte_changes, truncation, chunk_edit, word_overwrite, number_inflation,
)  # fmt: skip


def _random_value(rng: random.Random) -> Any:
    pick = rng.randrange(9)
    if pick == 0:
        return rng.choice((2**31, 2**40, -(2**31) - 1, 10**7, 2**63))
    if pick == 1:
        return rng.choice((1.5, 1e30, -1e30, 1e-45, 0.0, 1e308))
    if pick == 2:
        return rng.choice(("", "gru", "x" * 1000, "\u0000"))
    if pick == 3:
        return rng.choice((None, True, False))
    if pick == 4:
        return rng.choice(([], {}, [1, 2], {"$array": "nope"}, {"$array": ["x"]}))
    if pick == 5:
        nested: Any = 0
        for _ in range(rng.choice((50, 5000))):
            nested = [nested]
        return nested
    return rng.choice((0, 1, -1, 2, 127, 128, -129, 255, 30, 31, -32, 32767, 32768))


def _edit_tree(rng: random.Random, tree: Any) -> Any:
    """``tree`` (JSON) with one random leaf replaced, or one key dropped."""
    tree = copy.deepcopy(tree)
    paths: list[tuple[Any, Any]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            paths.append((node, key))
            stack.append(value)
    if not paths:
        return _random_value(rng)
    parent, key = rng.choice(paths)
    if isinstance(parent, dict) and rng.random() < 0.15:
        del parent[key]
    else:
        parent[key] = _random_value(rng)
    return tree


def _extreme_array(rng: random.Random, arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)
    if arr.size == 0:
        return arr
    flat = arr.reshape(-1)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        values = [info.max, info.min, 0, info.max // 2, 1, -1 if info.min < 0 else 1]
    else:
        values = [1e30, -1e30, 3e38, 0.0, 1e-30, float("nan"), 1e10]
    for _ in range(rng.choice((1, 1, 3, flat.size))):
        flat[rng.randrange(flat.size)] = rng.choice(values)
    return arr


def _zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i.filename) for i in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=arr.dtype.hasobject)
    return buf.getvalue()


def ernn_structural(rng: random.Random, data: bytes) -> bytes:
    """An edited header value or array; re-hashed when the edit still builds, so it loads and
    reaches the backends and exporters (how models that "load cleanly then crash" are found)."""
    from edgernn import ir

    members = _zip_members(data)
    header = json.loads(members[ir.HEADER_NAME])
    arrays = {
        k[len("arrays/") : -4]: np.lib.format.read_array(io.BytesIO(v))
        for k, v in members.items()
        if k != ir.HEADER_NAME
    }
    if rng.random() < 0.5:
        header["model"] = _edit_tree(rng, header["model"])
    else:
        name = rng.choice(sorted(arrays))
        arrays[name] = _extreme_array(rng, arrays[name])
    try:
        model = ir._from_tree(ir.QuantizedRNN, header["model"], arrays, "model", {})
        return ir.to_bytes(model)
    except Exception:  # noqa: BLE001 - does not build: the stale hash stays, the loader must refuse it
        members = {ir.HEADER_NAME: json.dumps(header).encode()}
        members.update({f"arrays/{k}.npy": _npy(v) for k, v in arrays.items()})
        return _zip(members)


def ernn_size_attack(rng: random.Random, data: bytes) -> bytes:
    """A huge declared .npy shape, a declared entry size beyond the file, or an extra entry."""
    members = _zip_members(data)
    pick = rng.randrange(3)
    if pick == 0:
        name = rng.choice(sorted(k for k in members if k.endswith(".npy")))
        header = io.BytesIO()
        shape = rng.choice(((2**40,), (2**20, 2**20), (0,), (2**31, 0)))
        np.lib.format.write_array_header_1_0(header, {"descr": "|i1", "fortran_order": False, "shape": shape})
        members[name] = header.getvalue() + b"\0" * rng.choice((0, 16, 4096))
        return _zip(members)
    if pick == 1:
        members[f"arrays/extra{rng.randrange(9)}.npy"] = b"\0" * rng.choice((10, 1 << 20))
        return _zip(members)
    out = bytearray(data)
    pos = out.rfind(b"PK\x01\x02")
    struct.pack_into("<I", out, pos + 24, rng.choice((1 << 30, 0xFFFFFFFF, 1 << 24)))
    return bytes(out)


def safetensors_structural(rng: random.Random, data: bytes) -> bytes:
    """The JSON header edited: a metadata or config field (re-hashed or not), a dtype, a shape
    or an offset."""
    from edgernn.models import checkpoint

    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    meta = header.get("__metadata__", {})
    if rng.random() < 0.6:
        key = rng.choice(sorted(meta))
        if key == "config" and rng.random() < 0.8:
            meta[key] = json.dumps(_edit_tree(rng, json.loads(meta[key])))
        else:
            meta[key] = rng.choice(INTERESTING_TEXT + ("[" * 5000 + "]" * 5000,))
        if rng.random() < 0.7:  # an edit the hash cannot see: reaches the semantic checks
            import safetensors.torch

            tensors = safetensors.torch.load(data)
            meta["content_sha256"] = checkpoint._content_hash(tensors, meta)
    else:
        name = rng.choice(sorted(k for k in header if k != "__metadata__"))
        field = rng.choice(("dtype", "shape", "data_offsets"))
        header[name][field] = (
            _edit_tree(rng, header[name][field])
            if field != "dtype"
            else rng.choice(("F16", "I64", "BOOL", "U8", "F64", "X"))
        )
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


def npz_structural(rng: random.Random, data: bytes) -> bytes:
    members = _zip_members(data)
    name = rng.choice(sorted(members))
    arr = np.lib.format.read_array(io.BytesIO(members[name]))
    pick = rng.randrange(6)
    if pick == 0 and arr.dtype.kind in "iuf":
        arr = _extreme_array(rng, arr)
        if arr.dtype.kind in "iu" and rng.random() < 0.5:
            arr = arr.astype(np.int64)
            arr.reshape(-1)[0] = rng.choice((2**40, 2_000_000_000, -5))
    elif pick == 1:
        arr = arr.astype(rng.choice((np.float16, np.int8, np.uint64, np.bool_, np.complex64, "U3")))
    elif pick == 2:
        arr = arr.reshape(-1)[: rng.randrange(arr.size + 1)]
    elif pick == 3:
        arr = np.array([object()], dtype=object)
    elif pick == 4:
        members[rng.choice(("X.npy", "y.npy", "lengths.npy", "extra.npy"))] = members[name]
        return _zip(members)
    else:
        return ernn_size_attack(rng, data)
    members[name] = _npy(arr)
    return _zip(members)


def csv_structural(rng: random.Random, data: bytes) -> bytes:
    text = data.decode()
    lines = text.splitlines()
    pick = rng.randrange(6)
    if pick == 0:
        row = rng.randrange(len(lines))
        cells = lines[row].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(INTERESTING_TEXT + ("", "abc", '"', "1,2"))
        lines[row] = ",".join(cells)
    elif pick == 1:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(("", ",,,", "1;2;3;4", "\t".join("1234"))))
    elif pick == 2:
        return b"\xef\xbb\xbf" + data
    elif pick == 3:
        return data + rng.choice((b"\x00", b"\xff\xfe", b"1," * 100_000 + b"\n"))
    elif pick == 4:
        lines = lines[:1]
    else:
        lines = [line.replace(",", rng.choice((";", "\t", " "))) for line in lines]
    return ("\n".join(lines) + "\n").encode()


def tflite_metadata_edit(rng: random.Random, data: bytes) -> bytes:
    """The edgernn metadata JSON inside the flatbuffer edited in place, padded with spaces to
    its original length so the flatbuffer stays well formed."""
    start = data.find(b'{"cell"')
    if start < 0:
        return bit_flips(rng, data)
    end = start
    depth = 0
    for i in range(start, len(data)):
        depth += {ord("{"): 1, ord("}"): -1}.get(data[i], 0)
        if depth == 0:
            end = i + 1
            break
    original = data[start:end]
    meta = json.loads(original)
    for _ in range(20):
        edited = json.dumps(_edit_tree(rng, meta), separators=(",", ":")).encode()
        if len(edited) <= len(original):
            return data[:start] + edited.ljust(len(original)) + data[end:]
    return data[:start] + b"{}".ljust(len(original)) + data[end:]


def onnx_metadata_edit(rng: random.Random, data: bytes) -> bytes:
    import onnx

    proto = onnx.load_model_from_string(data)
    props = list(proto.metadata_props)
    prop = rng.choice(props)
    if rng.random() < 0.15:
        proto.metadata_props.remove(prop)
    else:
        try:
            value = json.loads(prop.value)
            prop.value = json.dumps(_edit_tree(rng, value))
        except ValueError:
            prop.value = rng.choice(INTERESTING_TEXT)
    return proto.SerializeToString()


STRUCTURAL: dict[str, tuple[Callable[[random.Random, bytes], bytes], ...]] = {
    "ernn": (ernn_structural, ernn_structural, ernn_size_attack),
    "safetensors": (safetensors_structural,),
    "npz": (npz_structural,),
    "csv": (csv_structural,),
    "tflite": (tflite_metadata_edit,),
    "onnx": (onnx_metadata_edit,),
}


def mutate(kind: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation: structural edits for ~40% of cases, the generic byte-level ones otherwise."""
    mutators = STRUCTURAL[kind] if rng.random() < 0.4 else GENERIC
    mutator = rng.choice(mutators)
    try:
        return mutator.__name__, mutator(rng, data)
    except Exception:  # noqa: BLE001 - a structural edit that does not apply to this seed
        return "bit_flips", bit_flips(rng, data)


# ------------------------------------------------------------------------------------ runner


@dataclasses.dataclass
class KindReport:
    cases: int = 0
    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def record(self, outcome: str, detail: str, keep: int = 5) -> None:
        self.cases += 1
        self.outcomes[outcome] += 1
        if outcome in ("traceback", "crash", "hang"):
            found = self.examples.setdefault(outcome, [])
            if len(found) < keep:
                found.append(detail)


class Worker:
    """The child process running cases; restarted after a crash or a hang."""

    def __init__(self, log: Path, code: Path = REPO) -> None:
        self.log = log
        self.code = code  # the checkout whose edgernn is fuzzed (another one to measure a baseline)
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.code), "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
        with self.log.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("worker.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=REPO,
                env=env,
            )
        if self._readline(300) != "ready":
            raise RuntimeError(f"the fuzz worker did not start (see {self.log})")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return None
        return self.proc.stdout.readline().strip()

    def run(self, case: dict[str, str], timeout: float) -> tuple[str, str]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        line = self._readline(timeout)
        if line:
            answer = json.loads(line)
            return answer["outcome"], answer["detail"]
        if line is None:  # no answer in time
            self.stop()
            return "hang", f"no answer in {timeout:.0f} s"
        code = self.proc.wait()
        self.proc = None
        if code < 0:
            return "crash", f"killed by {signal.Signals(-code).name}"
        return "traceback", f"the worker exited with status {code}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def run_campaign(
    kinds: tuple[str, ...],
    cases: int | dict[str, int],
    seed: int,
    workdir: Path,
    timeout: float = 60.0,
    failures: Path | None = None,
    progress: Callable[[str, int, KindReport], None] | None = None,
    code: Path = REPO,
) -> dict[str, KindReport]:
    """``cases`` mutated files per kind (one number, or one per kind), run in one child process;
    failing cases are copied to ``failures`` (named by kind, seed and index, so they can be
    replayed)."""
    seeds = make_seeds(workdir / "seeds")
    worker = Worker(workdir / "worker.log", code)
    reports: dict[str, KindReport] = {}
    try:
        for kind in kinds:
            report = reports[kind] = KindReport()
            pool = [s for s in seeds if s.kind == kind]
            start = time.perf_counter()
            for i in range(cases if isinstance(cases, int) else cases[kind]):
                rng = random.Random(f"{seed}/{kind}/{i}")
                s = rng.choice(pool)
                mutator, data = mutate(kind, s.path.read_bytes(), rng)
                case_path = workdir / f"case.{kind}"
                case_path.write_bytes(data)
                case = {"kind": kind, "path": str(case_path), "model": str(s.model), "sequence": str(s.sequence)}
                outcome, detail = worker.run(case, timeout)
                report.record(outcome, f"case {seed}/{kind}/{i} ({mutator}, seed {s.path.name}): {detail}")
                if failures is not None and outcome in ("traceback", "crash", "hang"):
                    failures.mkdir(parents=True, exist_ok=True)
                    (failures / f"{kind}-{seed}-{i}.{kind}").write_bytes(data)
                if progress is not None:
                    progress(kind, i + 1, report)
            report.seconds = time.perf_counter() - start
    finally:
        worker.stop()
    return reports


def format_table(reports: dict[str, KindReport]) -> str:
    lines = [
        "| file kind | cases | accepted | clean errors | tracebacks | crashes | hangs | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in reports.items():
        o = r.outcomes
        lines.append(
            f"| .{kind} | {r.cases} | {o['accepted']} | {o['clean']} | {o['traceback']} | {o['crash']} | "
            f"{o['hang']} | {r.seconds:.0f} |"
        )
    return "\n".join(lines)
