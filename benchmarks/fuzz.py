"""The long fuzz campaign over edgernn's file inputs (issue 14); the CI runs a fast slice
(tests/fuzz/test_fuzz.py).

    PYTHONPATH=. nice .venv/bin/python benchmarks/fuzz.py --cases 100000 --kind ernn
    PYTHONPATH=. nice .venv/bin/python benchmarks/fuzz.py --cases 20000            # every kind

Each case is a seeded mutation of a valid file (bit flips, byte changes, truncation, chunk
edits, overwritten 32-bit words, inflated numbers, structural and size-declaring edits; see
tests/fuzz/campaign.py) loaded and run as a user command would, in a child process. Prints
the table (per kind: cases, accepted, clean one-line errors, tracebacks, crashes, hangs) and
up to five examples of each failure; failing inputs are saved under ``--failures``. Exit
status 1 if any case gave a traceback, a crash or a hang.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.campaign import KINDS, KindReport, format_table, run_campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per file kind")
    parser.add_argument("--kind", action="append", choices=KINDS, help="file kind (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    parser.add_argument("--failures", type=Path, default=None, help="folder for inputs that failed")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument(
        "--code", type=Path, default=None, help="fuzz the edgernn of another checkout (e.g. a baseline before a fix)"
    )
    args = parser.parse_args()
    kinds = tuple(args.kind or KINDS)

    def progress(kind: str, done: int, report: KindReport) -> None:
        if done % 1000 == 0:
            o = report.outcomes
            print(
                f"  .{kind}: {done}/{args.cases} (tracebacks {o['traceback']}, crashes {o['crash']}, "
                f"hangs {o['hang']})",
                file=sys.stderr,
                flush=True,
            )

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgernn-fuzz-") as work:
        reports = run_campaign(
            kinds,
            args.cases,
            args.seed,
            Path(work),
            timeout=args.timeout,
            failures=args.failures,
            progress=progress,
            **({"code": args.code.resolve()} if args.code else {}),
        )
    print(format_table(reports))
    print(f"\nseed {args.seed}, {time.perf_counter() - start:.0f} s")
    for kind, report in reports.items():
        for outcome, examples in report.examples.items():
            for example in examples:
                print(f"{outcome} .{kind}: {example}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    k: {"cases": r.cases, **r.outcomes, "seconds": r.seconds, "examples": r.examples}
                    for k, r in reports.items()
                },
                indent=1,
            )
        )
    failed = sum(r.outcomes[o] for r in reports.values() for o in ("traceback", "crash", "hang"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
