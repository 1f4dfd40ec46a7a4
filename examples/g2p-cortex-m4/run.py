"""Convert words to phonemes on QEMU's Cortex-M4 (mps2-an386) with the G2P model of benchmarks/g2p.py.

    python examples/g2p-cortex-m4/run.py [--model g2p.ernn] [--work-dir DIR] word ...

The model (default: the one benchmarks/g2p.py trained into its work folder) is exported as C for the
Cortex-M4, built with convert.c, and run under QEMU with the words as its arguments; every line is
checked against edgernn's integer reference (`edgernn seq2seq convert`), and the script exits 1 if any
differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from edgernn import targets
from edgernn.emulation import run_program
from edgernn.seq2seq import Seq2SeqRunner, export_c, load
from edgernn.seq2seq.pipeline import detokenize, tokenize
from edgernn.toolchain import build_program, export_boards_dir, export_sources

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("words", nargs="+")
    parser.add_argument("--model", type=Path, default=Path(tempfile.gettempdir()) / "edgernn-g2p" / "g2p.ernn")
    parser.add_argument("--work-dir", type=Path, help="where to export and build (default: a temporary folder)")
    args = parser.parse_args()
    if not args.model.exists():
        print(f"error: {args.model} does not exist; train it with benchmarks/g2p.py --train-only", file=sys.stderr)
        return 1
    targets.require_tools("cortex-m4")
    model = load(args.model)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="edgernn-g2p-m4-"))
    export_dir = work / "export"
    export_c.export(model, export_dir, prefix="g2p", target="cortex-m4")
    sources, include_dirs = export_sources(export_dir)
    build = build_program(
        "cortex-m4",
        [*sources, HERE / "convert.c"],
        work / "convert.elf",
        include_dirs=include_dirs,
        boards_dir=export_boards_dir(export_dir, "cortex-m4"),
    )
    run = run_program(build, args.words)
    print(run.stdout, end="")
    runner = Seq2SeqRunner(model)
    expected = [f"{w}: {detokenize(model, runner.greedy([tokenize(model, w)])[0])}" for w in args.words]
    if run.stdout.splitlines() != expected:
        print("differs from the integer reference:\n" + "\n".join(expected), file=sys.stderr)
        return 1
    print("identical to the integer reference")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
