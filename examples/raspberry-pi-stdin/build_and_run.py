"""Export an int8 model, build examples/raspberry-pi-stdin/stream.c for the Raspberry Pi (64-bit
by default) and stream frames through it here under qemu-user.

    python examples/raspberry-pi-stdin/build_and_run.py [--model model.ernn] [--target aarch64|armv7]
                                                         [--work-dir DIR] [--frames N] [--check]

Without --model a random GRU with input normalization is used. --check compares the program's
int8 outputs with edgernn's integer reference (Stream.run_int8) and prints a JSON summary as the
last line. On a real Pi, copy the export folder and stream.c over and use the command printed
under "native build".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgernn import ir, targets
from edgernn.export import ExportOptions, export_model
from edgernn.runtime import Stream
from edgernn.testing import random_model
from edgernn.types import ModelConfig, OutputMode

HERE = Path(__file__).resolve().parent


def demo_model() -> ir.QuantizedRNN:
    """A random GRU (6 features, 24 hidden, 3 outputs per step) that expects raw features around
    20 +- 5 and normalizes them itself (exported as MODEL_INPUT_MEAN_INIT / MODEL_INPUT_STD_INIT)."""
    config = ModelConfig(cell="gru", input_size=6, hidden_size=24, output_size=3, output_mode=OutputMode.SEQUENCE)
    model = random_model(config, seed=7)
    mean = np.full(6, 20.0, dtype=np.float32)
    std = np.linspace(2.0, 7.0, 6).astype(np.float32)
    return dataclasses.replace(model, input_mean=mean, input_std=std)


def frames_for(model: ir.QuantizedRNN, n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    cfg = model.config
    if cfg.uses_tokens:
        return rng.integers(0, cfg.vocab_size, size=n)
    mean = model.input_mean if model.input_mean is not None else np.zeros(cfg.input_size, np.float32)
    std = model.input_std if model.input_std is not None else np.ones(cfg.input_size, np.float32)
    return (mean + std * rng.normal(size=(n, cfg.input_size)) * 1.5).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a .ernn model (default: a random demo GRU)")
    parser.add_argument("--target", choices=["aarch64", "armv7"], default="aarch64")
    parser.add_argument("--work-dir", type=Path, help="where to export and build (default: a temporary folder)")
    parser.add_argument("--frames", type=int, default=500, help="frames to stream (default 500)")
    parser.add_argument("--check", action="store_true", help="compare the int8 outputs with edgernn's reference")
    args = parser.parse_args()

    model = ir.load(args.model) if args.model else demo_model()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="edgernn-pi-"))
    export_dir = work / "export"
    export_model(model, "c", export_dir, ExportOptions(prefix="model", target=args.target))

    target = targets.get_target(args.target)
    sources, include_dirs = targets.export_sources(export_dir)
    build = targets.build_program(target, [*sources, HERE / "stream.c"], work / "stream", include_dirs=include_dirs)
    print(f"built {build.executable} for {target.description}:", file=sys.stderr)
    print(
        f"  {target.cc} -std=c99 -O2 {' '.join(target.cflags)} -I {export_dir}/include "
        f"{export_dir}/src/*.c {HERE / 'stream.c'} {' '.join(target.ldflags)} -lm -o stream",
        file=sys.stderr,
    )
    print(
        "  native build on the Pi: gcc -std=c99 -O2 -I export/include export/src/*.c stream.c -lm -o stream",
        file=sys.stderr,
    )

    frames = frames_for(model, args.frames)
    if model.config.uses_tokens:
        text = "\n".join(str(int(t)) for t in frames) + "\n"
    else:
        text = "\n".join(" ".join(f"{v:.9g}" for v in frame) for frame in frames) + "\n"
    (work / "frames.txt").write_text(text)
    flags = ["-q"] if args.check else []
    print(f"  {' '.join(targets.run_command(build, flags))} < {work / 'frames.txt'}", file=sys.stderr)
    result = targets.run_program(build, flags, stdin=text, timeout=300)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        return 1
    lines = result.stdout.splitlines()
    if not args.check:
        sys.stdout.write(result.stdout)
        return 0

    got = np.array([[int(v) for v in line.split()] for line in lines], dtype=np.int64)
    stream = Stream(model, "reference")
    want = stream.run_int8(
        stream.adapter.user_input(frames, time_axis=True).astype(np.int8) if not model.config.uses_tokens else frames
    )
    want = np.asarray(want, dtype=np.int64).reshape(len(frames), -1)
    mismatches = int(np.sum(np.any(got != want, axis=1))) if got.shape == want.shape else len(frames)
    summary = {"target": target.name, "frames": len(lines), "int8_mismatches": mismatches}
    print(json.dumps(summary))
    return 0 if mismatches == 0 and len(lines) == len(frames) else 1


if __name__ == "__main__":
    sys.exit(main())
