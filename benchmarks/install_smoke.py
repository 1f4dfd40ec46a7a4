"""Smoke check of an installed edgernn, run by the interpreter of a fresh install (see install_footprint.py).

It imports only the installed package (run it from outside the repository), with an empty C-backend cache
($EDGERNN_CACHE must name a new folder), and prints one JSON object: where edgernn was imported from,
whether torch is importable, whether the compiled fast path of ``Stream`` was built and is in use (or
why not), how long the first-use builds took, whether the "c" backend's outputs are bit-equal to the
reference backend's over a 300-step stream (step by step and as one block), and whether the console
script ``edgernn run`` works. A failed check is recorded, not raised: the caller decides.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

STEPS = 300


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    import edgernn
    from edgernn import ir
    from edgernn.errors import EdgeRNNError
    from edgernn.runtime import Stream, c_backend
    from edgernn.testing import random_inputs, random_model
    from edgernn.types import CellType, ModelConfig

    cache = Path(os.environ["EDGERNN_CACHE"])
    out: dict[str, Any] = {
        "edgernn_file": edgernn.__file__,
        "imported_from_install": Path(edgernn.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()),
        "torch_importable": importlib.util.find_spec("torch") is not None,
        "python": sys.version.split()[0],
    }
    config = ModelConfig(cell=CellType.GRU, input_size=64, hidden_size=64, output_size=64)
    model = random_model(config, seed=0)
    xs = random_inputs(config, STEPS, seed=1)
    reference = Stream(model, backend="reference").run(xs)

    start = time.perf_counter()
    unavailable = c_backend.fastpath_unavailable()  # builds the extension on first use
    out["fastpath_build_s"] = time.perf_counter() - start
    out["fastpath_unavailable"] = unavailable
    try:
        start = time.perf_counter()
        stream = Stream(model, backend="c")  # builds the runtime objects and the model's library
        out["c_backend_build_s"] = time.perf_counter() - start
    except EdgeRNNError as exc:
        out["c_backend_error"] = " ".join(str(exc).split())
    else:
        out["fastpath_in_use"] = stream._fast is not None
        stepped = np.stack([stream.step(x) for x in xs])
        stream.reset()
        block = stream.run(xs)
        out["c_equals_reference"] = bool(np.array_equal(stepped, reference) and np.array_equal(block, reference))
    out["cache_bytes"] = _folder_bytes(cache) if cache.is_dir() else 0
    out["fastpath_so_bytes"] = sum(p.stat().st_size for p in cache.glob("c-backend/fastpath-*"))

    # The console script, on the backend that works here ("c", else the reference).
    backend = "reference" if "c_backend_error" in out else "c"
    exe = shutil.which("edgernn", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as tmp:
        model_path, inputs, outputs = Path(tmp, "m.ernn"), Path(tmp, "x.npz"), Path(tmp, "y.npz")
        ir.save(model, model_path)
        np.savez(inputs, X=xs, lengths=np.array([STEPS]))
        proc = subprocess.run(
            [exe or "edgernn", "run", str(model_path), str(inputs), "--backend", backend, "-o", str(outputs)],
            capture_output=True,
            text=True,
        )
        out["cli_backend"] = backend
        out["cli_returncode"] = proc.returncode
        out["cli_output"] = (proc.stdout + proc.stderr).strip()[-400:]
        if proc.returncode == 0:
            with np.load(outputs) as z:
                out["cli_equals_reference"] = bool(np.array_equal(z["outputs"], reference))
    out["torch_imported"] = "torch" in sys.modules
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
