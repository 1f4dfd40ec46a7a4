"""Export an int8 model, build the export unchanged with this CMake project for QEMU's
mps2-an386 (Cortex-M4F), and run its self-test there, then the firmware loop (stream_loop.c:
a timer interrupt feeds frames through a ring buffer, main sleeps between frames and steps the
model, resetting it at each new stream).

    python examples/cortex-m4-qemu/export_build_run.py [--model model.ernn] [--work-dir DIR]
                                                        [--steps N]

Without --model a random GRU is used (--cell, --hidden-size, --input-size). The self-test
streams the test vectors (read from the host through semihosting) through the model on the
emulated Cortex-M4 and compares every output with edgernn's integer reference; the stream loop
replays the same vectors as two streams from its timer interrupt. The script exits 0 iff both
report every output bit-exact (and the loop dropped no frame).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgernn import ir, targets
from edgernn.export import ExportOptions, export_model
from edgernn.export.c import write_test_vectors
from edgernn.testing import random_inputs, random_model
from edgernn.types import ModelConfig

HERE = Path(__file__).resolve().parent


def run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a .ernn model (default: a random one)")
    parser.add_argument("--cell", choices=["gru", "lstm", "rnn"], default="gru")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300, help="frames streamed (as two streams: 2/3, then 1/3)")
    parser.add_argument("--work-dir", type=Path, help="where to export and build (default: a temporary folder)")
    args = parser.parse_args()

    targets.require_tools("cortex-m4")  # names the apt package if something is missing
    if shutil.which("cmake") is None:
        print("error: cmake is not installed (apt-get install --no-install-recommends cmake)", file=sys.stderr)
        return 1
    if args.model:
        model = ir.load(args.model)
    else:
        config = ModelConfig(cell=args.cell, input_size=args.input_size, hidden_size=args.hidden_size)
        model = random_model(config, seed=1)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="edgernn-m4-"))
    export_dir = work / "export"
    export_model(model, "c", export_dir, ExportOptions(prefix="model", target="cortex-m4"))

    # Quantized random frames as two streams (the loop resets the model between them), expected
    # outputs from the integer reference.
    frames = random_inputs(model.config, args.steps, seed=2)
    sequence = frames if model.config.uses_tokens else model.input_q.quantize(frames)
    cut = max(1, 2 * args.steps // 3)
    vectors = write_test_vectors(
        model, work / "vectors.bin", [sequence[:cut], sequence[cut:]] if cut < args.steps else [sequence]
    )

    build = work / "build"
    run(
        [
            "cmake",
            "-S",
            str(HERE),
            "-B",
            str(build),
            f"-DCMAKE_TOOLCHAIN_FILE={HERE / 'arm-none-eabi.cmake'}",
            f"-DEDGERNN_EXPORT_DIR={export_dir}",
            f"-DEDGERNN_VECTORS={vectors}",
        ]
    )
    run(["cmake", "--build", str(build)])
    for target, what in (("run", "the self-test"), ("run-stream", "the stream loop")):
        try:
            run(["cmake", "--build", str(build), "--target", target])
        except subprocess.CalledProcessError:
            print(f"{what} failed on the Cortex-M4", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
