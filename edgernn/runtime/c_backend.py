"""The ``"c"`` backend: the generated C export, compiled for the host and called through ctypes.

The export (:mod:`edgernn.export.c`) is compiled with the host's C compiler into a shared
library, cached under ``$EDGERNN_CACHE`` (:func:`edgernn.toolchain.cache_root`) by a key over the model's
sha256, the edgernn version, the runtime sources and templates, and the compiler command (the
runtime's objects are compiled once and shared by all models). Builds are written to temporary
files and renamed into place, so concurrent processes are safe.

A state is the bytes of ``<prefix>_state_t``; the :data:`ModelState` handed out holds read-only
numpy views of them (``hidden`` int8 / ``cell`` int16, or float32 for the float path). Each step
copies the state, so earlier states stay valid. :class:`CFloatBackend` runs the ``--float``
export (registered as ``"c-float"``).

The fast path (:func:`fastpath_module`, ``_fastpath.c``): a small CPython extension, compiled on
first use with the same compiler and cached beside the libraries, that runs ``Stream.step`` and
``Stream.run`` of the ``"c"`` backend in one call each. Where it cannot be built (no Python
headers, say) or with ``EDGERNN_FASTPATH=0``, streams use the ctypes path; results are identical.

On x86-64 the runtime picks the widest kernels the CPU has at run time; ``EDGERNN_X86_LEVEL`` (0-4) caps
them, as ``-DERNN_X86_LEVEL`` does for an exported build (:func:`build_flags`): to time the kernels a
machine without AVX-512 would run, on one that has it. The int8 results are identical at every level.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edgernn import __version__
from edgernn.engine import Array, ModelState, streams
from edgernn.errors import EdgeRNNError, InputDataError, MissingDependencyError
from edgernn.export import ExportOptions
from edgernn.export.c import (
    KIND_INT16,
    StateLayout,
    content_digest,
    input_kind,
    output_kind,
    readout_code,
    render,
    runtime_files,
    runtime_root,
)
from edgernn.ir import QuantizedRNN
from edgernn.runtime.backends import Backend, checked_state_values, register_backend
from edgernn.toolchain import cache_root
from edgernn.types import OutputMode

PREFIX = "model"
CFLAGS = ("-std=c99", "-O3", "-fPIC")
_STATUS = {-1: "ERNN_ARG_ERROR (null pointer, size mismatch or token out of range)", -2: "ERNN_UNSUPPORTED"}


#: EDGERNN_X86_LEVEL's values: the x86-64 kernels up to plain C, AVX2, AVX-VNNI, AVX-512 VNNI, and VBMI.
X86_LEVELS = ("0", "1", "2", "3", "4")


def x86_level() -> int:
    """``EDGERNN_X86_LEVEL``: the widest x86-64 kernels the backend's code may pick where the CPU has them
    (default 4: all of them)."""
    level = os.environ.get("EDGERNN_X86_LEVEL", "")
    if level == "":
        return 4
    if level not in X86_LEVELS:
        raise EdgeRNNError(
            f"EDGERNN_X86_LEVEL={level!r} is not an x86 kernel level",
            "set it to 0 (plain C), 1 (AVX2), 2 (AVX-VNNI), 3 (AVX-512 VNNI) or 4 (and VBMI), or unset it",
        )
    return int(level)


def vector_width() -> int:
    """The widest vectors :func:`x86_level` allows outside the int8 kernels (the float kernels, the fast
    path's quantizer): 2 AVX-512 (level 3 and up), 1 AVX2 (levels 1 and 2), 0 none."""
    level = x86_level()
    return 2 if level >= 3 else 1 if level >= 1 else 0


def build_flags() -> tuple[str, ...]:
    """The compiler flags of the backend's builds: :data:`CFLAGS`, and below level 4 ``-DERNN_X86_LEVEL=n`` with
    the float kernels' matching cap ``-DERNN_X86_F32_LEVEL`` (AVX-512F from level 3, AVX2 and FMA from level 1)
    (part of the cache keys, so each level has its own builds)."""
    level = x86_level()
    if level == 4:
        return CFLAGS
    return (*CFLAGS, f"-DERNN_X86_LEVEL={level}", f"-DERNN_X86_F32_LEVEL={vector_width()}")


def cache_dir() -> Path:
    return cache_root() / "c-backend"


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise MissingDependencyError("the 'c' backend needs a C compiler", "install gcc (or set CC)")
    return cc


def _compile(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeRNNError(f"compiling the C export failed:\n{proc.stderr.strip()[-4000:]}")


def _compile_each(cc: str, flags: Sequence[str], sources: Sequence[str], folder: Path) -> None:
    """Each source to ``folder/<stem>.o``, one compiler process per source and as many at once as the
    machine has cores: on x86-64 the two cells' files take most of the time (their lane kernels; gcc 12
    -O3 on 2 cores: the int8 path's objects in 16 s, one command over every source 32 s)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        jobs = [pool.submit(_compile, [cc, *flags, "-c", s, "-o", f"{Path(s).stem}.o"], folder) for s in sources]
        for job in jobs:
            job.result()


def _runtime_objects(cc: str, float_path: bool) -> list[Path]:
    """The runtime's object files for one path, compiled once per runtime version and compiler.

    Built in a temporary folder and renamed into place; a concurrent build that loses the race
    discards its copy.
    """
    flags = build_flags()
    key = hashlib.sha256("\n".join([content_digest(), cc, str(float_path), *flags]).encode()).hexdigest()[:32]
    folder = cache_dir() / f"runtime-{key}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".runtime-{key}.", dir=folder.parent))
        try:
            sources = [str(src) for dest, src in runtime_files(float_path) if dest.endswith(".c")]
            _compile_each(cc, [*flags, "-I", str(runtime_root() / "include")], sources, tmp)
            try:
                os.rename(tmp, folder)
            except OSError:
                if not folder.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(folder.glob("*.o"))


def build_shared_library(model: QuantizedRNN, float_path: bool = False) -> Path:
    """Compile (or find in the cache) the host shared library of ``model``'s C export.

    The runtime's objects are cached once (see :func:`_runtime_objects`); per model only the
    generated ``<prefix>_model.c`` is compiled and linked with them.
    """
    cc = compiler()
    try:
        return _build_shared_library(model, float_path, cc)
    except OSError as exc:  # the cache folder: unwritable, full, or a file in the way
        raise EdgeRNNError(
            f"cannot write the C backend's cache {cache_dir()} ({exc.strerror or exc})",
            "set EDGERNN_CACHE to a writable folder",
        ) from None


def _build_shared_library(model: QuantizedRNN, float_path: bool, cc: str) -> Path:
    flags = build_flags()
    key_text = "\n".join([model.sha256, __version__, str(float_path), content_digest(), cc, *flags])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    target = cache_dir() / f"{key}.so"
    if target.is_file():
        return target
    objects = _runtime_objects(cc, float_path)
    files = render(model, ExportOptions(prefix=PREFIX, float_weights=float_path))
    with tempfile.TemporaryDirectory(prefix=f".{key}.", dir=target.parent) as tmp:
        root = Path(tmp)
        for rel, content in files.items():
            if rel.startswith("include/") or rel == f"src/{PREFIX}_model.c":
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(content)
        out = root / "lib.so"
        model_c = str(root / "src" / f"{PREFIX}_model.c")
        _compile(
            [cc, *flags, "-shared", "-I", str(root / "include"), model_c, *map(str, objects), "-o", str(out)], root
        )
        os.replace(out, target)  # atomic: a concurrent build of the same key writes the same file
    return target


FASTPATH_SOURCE = Path(__file__).with_name("_fastpath.c")
_fastpath: ModuleType | str | None = None  # the loaded module, or why it is unavailable


def fastpath_module() -> ModuleType | None:
    """The compiled fast path (built once per interpreter, numpy and compiler; cached), or None
    where it cannot be built: :func:`fastpath_unavailable` then says why."""
    global _fastpath
    if _fastpath is None:
        try:
            _fastpath = _load_fastpath()
        except (EdgeRNNError, OSError, ImportError) as exc:
            _fastpath = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return _fastpath if isinstance(_fastpath, ModuleType) else None


def fastpath_unavailable() -> str | None:
    """Why the fast path is not used (None when it is)."""
    if os.environ.get("EDGERNN_FASTPATH") == "0":
        return "EDGERNN_FASTPATH=0"
    return None if fastpath_module() is not None else str(_fastpath)


def _load_fastpath() -> ModuleType:
    import importlib.machinery
    import importlib.util

    python_include = sysconfig.get_paths()["include"]
    if not (Path(python_include) / "Python.h").is_file():
        raise EdgeRNNError(f"the Python headers are not installed ({python_include}/Python.h)")
    cc = compiler()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    includes = ["-I", python_include, "-I", np.get_include(), "-I", str(runtime_root() / "include")]
    flags = [*CFLAGS[1:], "-shared", *includes]  # not -std=c99: the Python headers may need newer C
    if sys.platform == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    key_text = "\n".join(
        [FASTPATH_SOURCE.read_text(), content_digest(), sys.version, suffix, np.__version__, cc, *flags]
    )
    target = cache_dir() / f"fastpath-{hashlib.sha256(key_text.encode()).hexdigest()[:32]}{suffix}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".fastpath.", dir=target.parent) as tmp:
            out = Path(tmp) / f"edgernn_fastpath{suffix}"
            _compile([cc, *flags, str(FASTPATH_SOURCE), "-o", str(out)], Path(tmp))
            os.replace(out, target)
    loader = importlib.machinery.ExtensionFileLoader("edgernn_fastpath", str(target))
    spec = importlib.util.spec_from_file_location("edgernn_fastpath", target, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {target}")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class _CompiledBackend(Backend):
    """Shared by the int8 and float32 C backends: the library, state bytes, and the calls."""

    float_path: bool
    suffix: str

    def __init__(self, model: QuantizedRNN) -> None:
        super().__init__(model)
        cfg = model.config
        self.layout = StateLayout.of(model, self.float_path)
        self.lib = ctypes.CDLL(str(build_shared_library(model, self.float_path)))
        vp, i32 = ctypes.c_void_p, ctypes.c_int32
        self._init = self._function("init", [vp])
        self._run = self._function(f"run{self.suffix}", [vp, vp, i32, vp])
        self._run_sequence = self._function(f"run_sequence{self.suffix}", [vp, vp, i32, vp, vp])
        self._final_output = self._function(f"final_output{self.suffix}", [vp, vp])
        descriptor = getattr(self.lib, f"{PREFIX}_model")
        descriptor.restype, descriptor.argtypes = vp, []
        work_size = getattr(self.lib, f"ernn_model_{'f32' if self.float_path else 's8'}_get_sequence_buffer_size")
        work_size.restype, work_size.argtypes = i32, [vp, i32]
        self._descriptor = descriptor()
        self._work_size = work_size
        self.tokens = cfg.uses_tokens
        self.value_dtype = self.layout.hidden_dtype
        self.in_dtype = np.dtype(np.int32) if self.tokens else self.value_dtype
        if input_kind(model, self.float_path) == KIND_INT16:  # a 16-bit input (the generated API takes int16_t)
            self.in_dtype = np.dtype(np.int16)
        self.out_width = cfg.output_width
        # int8 or float32 like the hidden values; int16 for an int16 head (edgernn.ir.Dense)
        self.out_dtype = np.dtype(np.int16) if output_kind(model, self.float_path) == KIND_INT16 else self.value_dtype
        # A state buffer is the struct's bytes typed as its hidden values (int8 or float32).
        lay = self.layout
        unit = lay.hidden_dtype.itemsize
        n = lay.hidden_size
        start = lay.hidden_offset // unit
        self._hidden_slices = [slice(start + k * n, start + (k + 1) * n) for k in range(lay.cells)]
        self._cell_slices = [slice(k * n, (k + 1) * n) for k in range(lay.cells)]
        self._cell_bytes = lay.cell_count * lay.cell_dtype.itemsize
        zero = np.zeros(lay.total_bytes // unit, dtype=lay.hidden_dtype)
        self._call(self._init, _address(zero))
        zero.flags.writeable = False
        self._zero = zero
        # Persistent buffers with fixed addresses keep a step to a few microseconds.
        self._work_state = zero.copy()
        self._x = np.zeros(cfg.input_size if not self.tokens else 1, dtype=self.in_dtype)
        self._y = np.zeros(self.out_width, dtype=self.out_dtype)
        self._state_address = _address(self._work_state)
        self._step_args = (self._state_address, _address(self._x), 1, _address(self._y))
        self._current: ModelState | None = None  # the state whose bytes _work_state holds

    def _function(self, name: str, argtypes: list) -> ctypes._CFuncPtr:  # type: ignore[name-defined]
        fn = getattr(self.lib, f"{PREFIX}_{name}")
        fn.argtypes, fn.restype = argtypes, ctypes.c_int
        return fn

    @staticmethod
    def _call(fn: ctypes._CFuncPtr, *args: object) -> None:  # type: ignore[name-defined]
        status = fn(*args)
        if status != 0:
            raise _status_error(status)

    # -- states: bytes of <prefix>_state_t <-> tuples of views ---------------------------------

    def _views(self, buf: np.ndarray) -> ModelState:
        """Read-only views of a state buffer as ``((h,), ...)`` or ``((h, c), ...)`` per cell."""
        buf.flags.writeable = False
        if self._cell_bytes == 0:
            return tuple((buf[s],) for s in self._hidden_slices)
        cell = buf[: self._cell_bytes // buf.itemsize].view(self.layout.cell_dtype)
        return tuple((buf[s], cell[c]) for s, c in zip(self._hidden_slices, self._cell_slices))

    def _load(self, state: ModelState) -> None:
        """Put ``state`` into the persistent working buffer (nothing to do if it is already there)."""
        if state is self._current:
            return
        lay = self.layout
        if len(state) != lay.cells or any(len(cell) != (2 if lay.second_state else 1) for cell in state):
            raise InputDataError("that state does not fit this model")
        buf = self._work_state
        cell = buf[: self._cell_bytes // buf.itemsize].view(lay.cell_dtype)
        for values, h_slice, c_slice in zip(state, self._hidden_slices, self._cell_slices):
            buf[h_slice] = checked_state_values(values[0], lay.hidden_dtype)
            if lay.second_state:
                cell[c_slice] = checked_state_values(values[1], lay.cell_dtype)

    def _snapshot(self) -> ModelState:
        state = self._views(self._work_state.copy())
        self._current = state
        return state

    # -- the fast path: Stream steps the working buffer in place --------------------------------

    def fast_path(self) -> Any | None:
        """A compiled ``Stepper`` over the working buffer (see ``_fastpath.c``), or None."""
        return None

    def hold(self, state: ModelState) -> None:
        """Put ``state`` in the working buffer, which the fast path then advances in place."""
        self._load(state)
        self._current = None  # the buffer will no longer be the state handed out

    def held_state(self) -> ModelState:
        """The working buffer's state (after fast-path steps), as a new state."""
        return self._snapshot()

    # -- the Backend contract -------------------------------------------------------------------

    def zero_state(self) -> ModelState:
        return self._views(self._zero.copy())

    def step(self, state: ModelState, x: Array) -> tuple[Array, ModelState]:
        self._load(state)
        self._x[...] = x
        status = self._run(*self._step_args)
        if status != 0:
            self._current = None  # the working buffer no longer holds a known state
            raise _status_error(status)
        return self._y.copy(), self._snapshot()

    def run(self, state: ModelState, xs: Array) -> tuple[Array, ModelState]:
        self._load(state)
        inputs = np.ascontiguousarray(xs, dtype=self.in_dtype)
        ys = np.empty((len(inputs), self.out_width), dtype=self.out_dtype)
        self._current = None  # until the call has succeeded
        self._call(self._run, self._state_address, _address(inputs), len(inputs), _address(ys))
        return ys, self._snapshot()

    def _whole(self, xs: Array) -> tuple[Array, np.ndarray]:
        """Per-step outputs of one sequence from the zero state, and the final state's bytes."""
        inputs = np.ascontiguousarray(xs, dtype=self.in_dtype)
        steps = len(inputs)
        if steps == 0:
            raise InputDataError("the input sequence is empty", "pass at least one time step")
        buf = self._zero.copy()
        ys = np.empty((steps, self.out_width), dtype=self.out_dtype)
        work = np.empty(max(self._work_size(self._descriptor, steps), 1), dtype=np.uint8)
        self._call(self._run_sequence, _address(buf), _address(inputs), steps, _address(ys), _address(work))
        return ys, buf

    def run_whole(self, xs: Array) -> Array:
        return self._whole(xs)[0]

    def sequence_outputs(self, sequences: Sequence[Array]) -> list[Array]:
        last = self.model.config.output_mode is OutputMode.LAST
        results = []
        for xs in sequences:
            ys, buf = self._whole(xs)
            if last and readout_code(self.model.config) != 0:  # output[:, -1] or the mean: the last row
                results.append(ys[-1].copy())
            elif last:
                y = np.empty(self.out_width, dtype=self.out_dtype)
                self._call(self._final_output, _address(buf), _address(y))
                results.append(y)
            else:
                results.append(ys)
        return results


def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def _status_error(status: int) -> InputDataError:
    return InputDataError(f"the C model returned {_STATUS.get(status, f'status {status}')}")


class CBackend(_CompiledBackend):
    """The int8 export compiled for the host: must equal the integer reference bit for bit."""

    name = "c"
    integer = True
    float_path = False
    suffix = ""

    def fast_path(self) -> Any | None:
        module = None if fastpath_unavailable() else fastpath_module()
        if module is None or not streams(self.model.config):
            return None
        m, cfg = self.model, self.model.config
        # A 16-bit input is quantized to int16 (m.input_bits); an int16 head's outputs are dequantized as
        # QParams.dequantize computes them, int8 ones by the table.
        return module.Stepper(
            run=ctypes.cast(self._run, ctypes.c_void_p).value,
            state=self._work_state,
            tokens=self.tokens,
            in_width=1 if self.tokens else cfg.input_size,
            vocab=cfg.vocab_size or 0,
            mean=m.input_mean,
            std=m.input_std,
            scale=float(m.input_q.scale),
            zero_point=float(m.input_q.zero_point),
            table=m.output_q.dequantize(np.arange(-128, 128)),
            out_width=self.out_width,
            input_bits=8 if self.tokens else m.input_bits,
            output_bits=8 * self.out_dtype.itemsize,
            out_scale=float(m.output_q.scale),
            out_zero_point=float(m.output_q.zero_point),
            vectors=vector_width(),  # its quantizer: AVX-512, AVX2 or none
        )


class CFloatBackend(_CompiledBackend):
    """The ``--float`` export compiled for the host (normalized float32 in, float32 out)."""

    name = "c-float"
    integer = False
    float_path = True
    suffix = "_f32"


BACKEND = CBackend
register_backend(CFloatBackend.name, CFloatBackend)
