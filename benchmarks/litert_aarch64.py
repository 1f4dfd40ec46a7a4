"""Is ``--format tflite-exact`` exact in LiteRT's **aarch64** kernels too? Runs the project's own
conformance tests for it (``tests/conformance/test_tflite_exact.py``) under an arm64 Python with the
aarch64 ai-edge-litert wheel from PyPI, once per emulated CPU.

    python benchmarks/litert_aarch64.py                      # Cortex-A72 (Raspberry Pi 4) and QEMU "max"
    python benchmarks/litert_aarch64.py --cpus cortex-a72

Run as root on a Debian/Ubuntu x86-64 host with debootstrap and qemu-user-static in binfmt_misc (the
same set-up as ``benchmarks/install_footprint.py``, whose Debian bookworm arm64 root and helpers it
reuses). LiteRT chooses its kernels from the CPU's features at run time (NEON everywhere; SDOT where
the CPU has the dot-product extension): ``cortex-a72`` has NEON without SDOT, like a Raspberry Pi 4;
QEMU's ``max`` has SDOT and i8mm, like a Raspberry Pi 5's Cortex-A76 and newer. QEMU emulates the
instructions exactly, so the integers are the ones those cores compute; the times are emulated and
are not reported.

1. Builds edgernn's wheel from this tree and downloads, for aarch64 / CPython 3.11, its dependencies,
   ai-edge-litert and pytest into a wheelhouse under ``--work-dir`` (default ``~/.cache/edgernn-bench``).
2. Makes a fresh venv in the arm64 root and installs them with ``pip install --no-index``.
3. Copies the test file into the root and runs pytest with ``QEMU_CPU`` set, once per CPU; a run
   counts only when every test ran and passed (any skip, failure or error is reported as such).

Writes ``benchmarks/results/litert_aarch64.json`` and ``litert_aarch64.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from install_footprint import AARCH64_TAGS, REPO, RESULTS, Platform, _run, build_dists, make_root  # noqa: E402

from edgernn.fileio import write_text_atomic  # noqa: E402

TEST_FILES = ("tests/__init__.py", "tests/conformance/__init__.py", "tests/conformance/test_tflite_exact.py")
EXTRA_WHEELS = ("ai-edge-litert", "pytest")
CPUS = ("cortex-a72", "max")
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def wheelhouse(work: Path, wheel: str) -> Path:
    house = work / "wheelhouse-litert-aarch64"
    shutil.rmtree(house, ignore_errors=True)
    cross = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    # Every manylinux tag bookworm's glibc 2.36 accepts: ai-edge-litert's aarch64 wheels are tagged 2_27.
    tags = [*AARCH64_TAGS, *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 37))]
    cross += [arg for tag in dict.fromkeys(tags) for arg in ("--platform", tag)]
    _run([sys.executable, "-m", "pip", "download", "-q", "--dest", str(house), *cross, wheel, *EXTRA_WHEELS])
    return house


def install(plat: Platform, wheel: str, house: Path) -> tuple[Path, dict[str, str]]:
    folder = plat.inside / "litert"
    shutil.rmtree(plat.host(folder), ignore_errors=True)
    plat.host(folder).mkdir(parents=True)
    shutil.copytree(house, plat.host(folder / "wheelhouse"))
    shutil.copy(wheel, plat.host(folder))
    for rel in TEST_FILES:
        target = plat.host(folder / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, target)
    venv = folder / "venv"
    env = plat.env(venv, {"EDGERNN_CACHE": str(folder / "cache")})
    _run(plat.command([plat.python, "-m", "venv", str(venv)], env))
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir"]
    _run(plat.command([*pip, "--find-links", str(folder / "wheelhouse"), str(folder / Path(wheel).name),
                       *EXTRA_WHEELS], env))  # fmt: skip
    return folder, env


def versions(plat: Platform, folder: Path, env: dict[str, str]) -> dict[str, str]:
    code = (
        "import json, platform; from importlib import metadata as m; "
        "print(json.dumps({'machine': platform.machine(), 'python': platform.python_version(), "
        "**{d: m.version(d) for d in ('ai-edge-litert', 'numpy', 'edgernn', 'pytest')}}))"
    )
    return json.loads(_run(plat.command([str(folder / "venv/bin/python"), "-c", code], env))[1].splitlines()[-1])


def run_tests(plat: Platform, folder: Path, env: dict[str, str], cpu: str) -> dict[str, Any]:
    cmd = [str(folder / "venv/bin/python"), "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
           "--rootdir", str(folder), str(folder / TEST_FILES[-1])]  # fmt: skip
    proc = subprocess.run(plat.command(cmd, {**env, "QEMU_CPU": cpu}), capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr.strip()[-300:]
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in SUMMARY.findall(summary)}
    ok = proc.returncode == 0 and counts.get("passed", 0) > 0 and set(counts) == {"passed"}
    # -rfEs: one line per failure, error and skip, with its test id and the first line of its reason.
    not_passed = [line for line in lines if line.startswith(("FAILED ", "ERROR ", "SKIPPED "))]
    if not ok:
        print(proc.stdout[-4000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    return {
        "cpu": cpu,
        "exit_code": proc.returncode,
        "summary": summary,
        "counts": counts,
        "all_passed": ok,
        "not_passed": not_passed,
    }


def render(result: dict[str, Any]) -> str:
    v = result["versions"]
    rows = [
        f"| {r['cpu']} | {r['counts'].get('passed', 0)} | {r['counts'].get('failed', 0)} | "
        f"{r['counts'].get('skipped', 0)} | {r['counts'].get('error', 0)} | {'yes' if r['all_passed'] else 'NO'} |"
        for r in result["runs"]
    ]
    return "\n".join(
        [
            "# `tflite-exact` in LiteRT's aarch64 kernels",
            "",
            "Generated by `python benchmarks/litert_aarch64.py`; do not edit. The project's conformance tests for",
            "`--format tflite-exact` (`tests/conformance/test_tflite_exact.py`: free-running exact equality of",
            "LiteRT and the integer reference over 600 steps with resets, GRU/LSTM/Elman, every LSTM cell scale,",
            "the CLI and the `tflite-exact` backend), run by an arm64 CPython under qemu-user, per emulated CPU.",
            "",
            f"Run on {result['date']} at `{result['commit']}`: {v['machine']}, Python {v['python']}, "
            f"ai-edge-litert {v['ai-edge-litert']} (its aarch64 wheel from PyPI), numpy {v['numpy']}, "
            f"pytest {v['pytest']}; QEMU {result['qemu']}.",
            "",
            "| QEMU CPU | passed | failed | skipped | errors | all passed |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "`cortex-a72`: NEON, no SDOT (Raspberry Pi 4). `max`: every extension QEMU has, SDOT and i8mm among",
            "them (the kernels a Cortex-A76 such as the Raspberry Pi 5's selects).",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", default=",".join(CPUS), help="QEMU CPU models, comma-separated")
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache/edgernn-bench")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = args.work_dir.expanduser()
    work.mkdir(parents=True, exist_ok=True)
    make_root(work)
    plat = Platform("aarch64", work, sys.executable)
    dists = build_dists(work)
    folder, env = install(plat, dists["wheel"], wheelhouse(work, dists["wheel"]))
    commit = _run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])[1].strip()
    qemu = _run(["qemu-aarch64-static", "--version"])[1].splitlines()[0].split("version ")[-1]
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "commit": commit,
        "qemu": qemu,
        "versions": versions(plat, folder, env),
        "runs": [],
    }
    for cpu in args.cpus.split(","):
        run = run_tests(plat, folder, env, cpu)
        print(f"{cpu}: {run['summary']}", flush=True)
        result["runs"].append(run)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output_dir / "litert_aarch64.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(args.output_dir / "litert_aarch64.md", render(result))
    return 0 if all(r["all_passed"] for r in result["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
