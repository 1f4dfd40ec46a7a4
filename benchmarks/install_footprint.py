"""Install size and time of the torch-free install (``pip install edgernn``), with the compiled fast path.

    python benchmarks/install_footprint.py                         # x86-64 and emulated aarch64
    python benchmarks/install_footprint.py --platforms x86_64      # this machine only

Run as root on a Debian/Ubuntu x86-64 host: it uses ``unshare -m`` (private mounts) and, for aarch64,
``debootstrap`` and ``chroot`` with qemu-user-static registered in binfmt_misc
(``apt-get install debootstrap qemu-user-static binfmt-support``).

1. Builds the sdist and the wheel from this tree (``python -m build``), and downloads the base
   dependencies (and the build backend, for the sdist) into one wheelhouse per platform.
2. For each platform and route, creates a fresh venv and times ``pip install --no-index`` of the sdist
   or the wheel from that wheelhouse (network excluded; venv creation excluded), then measures the
   venv's site-packages per installed distribution (the files in each RECORD).
3. Runs ``install_smoke.py`` in the new venv with an empty C-backend cache: is torch absent, is the
   compiled fast path of ``Stream`` built and in use (it is compiled on first use, not at install
   time: the wheel is pure Python), how long the first-use builds take, are the "c" backend's outputs
   bit-equal to the reference backend's, and does the ``edgernn run`` console script work.

Routes: ``wheel`` and ``sdist`` (with a C compiler and the Python headers); ``no-headers`` (the wheel,
with the interpreter's include folder masked by an empty bind mount, as on a Debian or Raspberry Pi OS
without python3-dev: the ctypes fallback); ``no-compiler`` (the sdist, with gcc/cc masked by /dev/null,
as where no compiler is installed: the install still works, the reference backend runs, and the "c"
backend says it needs a compiler). Masks live in a private mount namespace of each command.

aarch64 is emulated: a Debian bookworm arm64 root (python3 3.11, gcc, python3-dev) made once by
``debootstrap`` under the work folder and run through qemu-user; its times are emulated times, many
times a real core's, and say nothing about a Raspberry Pi's speed. Sizes are exact.

Everything is made under ``--work-dir`` (default ``~/.cache/edgernn-bench``), never in the repository;
venvs there are replaced on each run, the arm64 root is kept. Writes ``benchmarks/results/install.json``
and ``install.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgernn.fileio import write_text_atomic

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results")
SMOKE = Path(__file__).with_name("install_smoke.py")
MARKER = ".edgernn-install-bench"  # marks a work folder this script made
ROOT_PACKAGES = "python3,python3-venv,python3-dev,gcc,libc6-dev"
DEBIAN = ("bookworm", "http://deb.debian.org/debian")
AARCH64_TAGS = ("manylinux_2_36_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64")
ROUTES = ("wheel", "sdist", "no-headers", "no-compiler")
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VENV_SEED = {"pip", "setuptools", "wheel"}  # put there by `python -m venv`, not by edgernn

# Run by the target interpreter: bytes per installed distribution (from RECORD), and the rest.
SIZES = r"""
import json, sysconfig
from importlib import metadata
from pathlib import Path
site = Path(sysconfig.get_paths()["purelib"]).resolve()
seen, dists = set(), {}
for d in metadata.distributions(path=[str(site)]):
    parts = {}
    for f in d.files or []:
        p = Path(d.locate_file(f)).resolve()
        if p in seen or not p.is_file():
            continue
        seen.add(p)
        rel = p.relative_to(site).as_posix() if p.is_relative_to(site) else ""
        part = ("bytecode" if "__pycache__" in rel else "C runtime (firmware_export)"
                if rel.startswith("edgernn/firmware_export/") else "files")
        parts[part] = parts.get(part, 0) + p.stat().st_size
    dists[d.metadata["Name"].lower()] = {"version": d.version, "bytes": sum(parts.values()), "parts": parts}
total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())
print(json.dumps({"site_packages_bytes": total, "dists": dists}))
"""


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, str]:
    """Run ``cmd``; (wall seconds, stdout). A failure stops the benchmark with the command's output."""
    wall, _, stdout = _timed(cmd, env, cwd)
    return wall, stdout


def _timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; (wall seconds, CPU seconds of it and its children, stdout). CPU time (user + system)
    is inflated far less than wall time by the load of a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, proc.stdout


def _in_namespace(cmd: list[str], mounts: list[tuple[str, str]], root: Path | None, env: dict[str, str]) -> list[str]:
    """``cmd`` in a private mount namespace with ``mounts`` ((source or "proc", target)), optionally
    chrooted into ``root``, with exactly ``env``: the mounts vanish with the process."""
    script = " && ".join(
        ("mount -t proc proc " if src == "proc" else f"mount --bind '{src}' ") + f"'{dst}'" for src, dst in mounts
    )
    prefix = ["chroot", str(root)] if root else []
    launch = [*prefix, "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *cmd]
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", (script + " && " if script else "") + 'exec "$@"',
            "sh", *launch]  # fmt: skip


class Platform:
    """Where venvs are made and run: this machine, or the arm64 root through chroot and qemu-user."""

    def __init__(self, name: str, work: Path, python: str) -> None:
        self.name, self.work = name, work
        self.root = work / "aarch64-bookworm" if name == "aarch64" else None
        self.python = "/usr/bin/python3" if self.root else python
        # Paths as the target sees them, and as this host sees them.
        self.inside = Path("/bench") if self.root else work / name

    def host(self, path: Path) -> Path:
        return self.root / path.relative_to("/") if self.root else path

    def env(self, venv: Path, extra: dict[str, str]) -> dict[str, str]:
        base = CHROOT_PATH if self.root else os.environ.get("PATH", CHROOT_PATH)
        return {"PATH": f"{venv}/bin:{base}", "HOME": "/root" if self.root else str(Path.home()), "LANG": "C.UTF-8",
                "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}  # fmt: skip

    def command(self, cmd: list[str], env: dict[str, str], hide: Sequence[str] = ()) -> list[str]:
        """``cmd`` as the target runs it, with the paths in ``hide`` (as the target sees them) masked:
        folders by an empty folder, files by /dev/null (there but not executable)."""
        mounts = [("proc", str(self.host(Path("/proc"))))] if self.root else []
        for path in hide:
            target = self.host(Path(path))
            if target.is_dir():
                empty = self.host(self.inside / "empty")
                empty.mkdir(exist_ok=True)
                mounts.append((str(empty), str(target)))
            else:
                mounts.append((os.devnull, str(target)))
        return _in_namespace(cmd, mounts, self.root, env)

    def which(self, name: str) -> str | None:
        env = self.env(Path("/nonexistent"), {})
        # Resolved inside the target: an absolute link (cc -> /etc/alternatives/cc) must not reach the host's.
        code = f"import os, shutil; p = shutil.which({name!r}); print(os.path.realpath(p) if p else '')"
        return _run(self.command([self.python, "-c", code], env))[1].strip() or None

    def machine(self) -> str:
        env = self.env(Path("/nonexistent"), {})
        code = "import platform, sys; print(platform.machine(), sys.version.split()[0])"
        return _run(self.command([self.python, "-c", code], env))[1].strip()


def make_root(work: Path) -> None:
    """The Debian arm64 root, made once (debootstrap runs its second stage through qemu-user)."""
    root = work / "aarch64-bookworm"
    if (root / MARKER).is_file():
        return
    if not shutil.which("debootstrap"):
        sys.exit("aarch64 needs debootstrap: apt-get install debootstrap qemu-user-static binfmt-support")
    if not Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").is_file():
        sys.exit("aarch64 needs qemu-user-static in binfmt_misc: apt-get install qemu-user-static binfmt-support")
    tmp = work / "aarch64-bookworm.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"making the arm64 root in {root} (several minutes) ...", flush=True)
    _run(["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={ROOT_PACKAGES}", DEBIAN[0], str(tmp),
          DEBIAN[1]])  # fmt: skip
    (tmp / MARKER).write_text(f"debootstrap {DEBIAN[0]} arm64: {ROOT_PACKAGES}\n")
    os.rename(tmp, root)


def build_dists(work: Path) -> dict[str, Any]:
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    took, _ = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)])
    (wheel,), (sdist,) = dist.glob("edgernn-*.whl"), dist.glob("edgernn-*.tar.gz")
    return {"build_s": took, "wheel": str(wheel), "sdist": str(sdist),
            "wheel_bytes": wheel.stat().st_size, "sdist_bytes": sdist.stat().st_size}  # fmt: skip


def wheelhouse(work: Path, platform_name: str, wheel: str) -> Path:
    """The wheel's dependencies, and the build backend for the sdist route, for the platform."""
    house = work / f"wheelhouse-{platform_name}"
    shutil.rmtree(house, ignore_errors=True)
    cross: list[str] = []
    if platform_name == "aarch64":
        cross = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
        cross += [arg for tag in AARCH64_TAGS for arg in ("--platform", tag)]
    backend = next(r for r in _build_requires() if r.startswith("hatchling"))
    _run([sys.executable, "-m", "pip", "download", "-q", "--dest", str(house), *cross, wheel, backend])
    return house


def _build_requires() -> list[str]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]


def measure_route(plat: Platform, route: str, dists: dict[str, Any], house: Path) -> dict[str, Any]:
    folder = plat.inside / route
    shutil.rmtree(plat.host(folder), ignore_errors=True)
    plat.host(folder).mkdir(parents=True)
    for src in (dists["wheel"], dists["sdist"], SMOKE):
        shutil.copy(src, plat.host(folder))
    shutil.copytree(house, plat.host(folder / "wheelhouse"))
    venv, cache = folder / "venv", folder / "cache"
    env = plat.env(venv, {"EDGERNN_CACHE": str(cache)})
    hide = _hidden(plat, route)
    _run(plat.command([plat.python, "-m", "venv", str(venv)], env))
    artifact = folder / Path(dists["sdist" if route in ("sdist", "no-compiler") else "wheel"]).name
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--no-index", "--no-cache-dir"]
    install_s, install_cpu_s, _ = _timed(
        plat.command([*pip, "--find-links", str(folder / "wheelhouse"), str(artifact)], env, hide)
    )
    sizes = json.loads(_run(plat.command([str(venv / "bin/python"), "-c", SIZES], env, hide))[1])
    smoke_cmd = [str(venv / "bin/python"), "-I", str(folder / SMOKE.name)]
    smoke = json.loads(_run(plat.command(smoke_cmd, env, hide), cwd=plat.host(folder))[1].splitlines()[-1])
    pip_version = _run(plat.command([str(venv / "bin/python"), "-m", "pip", "--version"], env))[1].split()[1]
    return {
        "route": route,
        "install_s": install_s,
        "install_cpu_s": install_cpu_s,
        "pip": pip_version,
        **sizes,
        "smoke": smoke,
    }


def _hidden(plat: Platform, route: str) -> list[str]:
    """What a route masks: the Python headers (no python3-dev), or the C compiler (none installed)."""
    if route == "no-headers":
        code = "import sysconfig; print(sysconfig.get_paths()['include'])"
        return [_run(plat.command([plat.python, "-c", code], plat.env(Path("/nonexistent"), {})))[1].strip()]
    if route == "no-compiler":
        return sorted({path for name in ("gcc", "cc") if (path := plat.which(name))})
    return []


def measure(platforms: list[str], work: Path, python: str, repeats: dict[str, int]) -> dict[str, Any]:
    dists = build_dists(work)
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "dists": {k: v if not isinstance(v, str) else Path(v).name for k, v in dists.items()},
        "platforms": {},
    }
    for name in platforms:
        if name == "aarch64":
            make_root(work)
        plat = Platform(name, work, python)
        house = wheelhouse(work, name, dists["wheel"])
        routes = []
        for route in ROUTES:
            runs = [measure_route(plat, route, dists, house) for _ in range(repeats[name])]
            print(f"{name} {route}: install {[round(r['install_s'], 1) for r in runs]} s", flush=True)
            last = runs[-1]
            for key in ("install_s", "install_cpu_s"):
                last[f"{key}_runs"] = [r[key] for r in runs]
                last[key] = statistics.median(last[f"{key}_runs"])
            routes.append(last)
        result["platforms"][name] = {"machine": plat.machine(), "emulated": plat.root is not None, "routes": routes}
    return result


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def _fast_path(smoke: dict[str, Any]) -> str:
    if "c_backend_error" in smoke:
        return f"no C backend: {smoke['c_backend_error']}"
    if smoke.get("fastpath_in_use"):
        kb = smoke["fastpath_so_bytes"] / 1e3
        return f"built on first use in {smoke['fastpath_build_s']:.1f} s ({kb:.0f} kB), in use"
    return f"ctypes fallback: {smoke['fastpath_unavailable']}"


def _works(smoke: dict[str, Any]) -> str:
    checks = [smoke.get("c_equals_reference", "c_backend_error" in smoke), smoke.get("cli_equals_reference", False),
              not smoke["torch_importable"], not smoke["torch_imported"], smoke["imported_from_install"]]  # fmt: skip
    return "yes" if all(checks) else "NO"


def render(result: dict[str, Any]) -> str:
    d = result["dists"]
    lines = [
        "# Install size and time of the torch-free install",
        "",
        f"`python benchmarks/install_footprint.py`, {result['date']}; load average at the start "
        f"{result['load_average']}. Built from the tree with `python -m build` ({d['build_s']:.1f} s): "
        f"wheel {d['wheel']} {d['wheel_bytes'] / 1e3:.0f} kB, sdist {d['sdist']} {d['sdist_bytes'] / 1e3:.0f} kB.",
        "",
        "Each route: a fresh venv, `pip install --no-index --no-cache-dir` of the sdist or wheel from a local "
        "wheelhouse (download and venv creation excluded; median of the runs, each run's wall time listed; CPU: "
        "user + system seconds of pip and its children, which the machine's load inflates less), then "
        "`install_smoke.py` with an empty C-backend cache: the fast path (compiled on first use, not at install: "
        "the wheel is pure Python), the first `c` stream (compiling the C runtime and the model's library), "
        "GRU 64/64 outputs of the `c` backend bit-equal to the reference over 300 steps (`Stream.step` and "
        "`Stream.run`), and `edgernn run` from the console script. *Works* means all of these held (where there "
        "is no compiler: the `c` backend's error, and `edgernn run` on the reference backend) and torch was "
        "neither installed nor imported. Site-packages excludes the venv's own pip and setuptools.",
        "",
        "| platform | route | install, wall (s) | install, CPU (s) | site-packages (MB) | edgernn (MB) "
        "| dependencies (MB) | first `c` stream (s) | fast path | works |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, plat in result["platforms"].items():
        machine, python = plat["machine"].split()
        emulated = ", emulated by qemu-user: times are emulated" if plat["emulated"] else ""
        label = f"{name} ({machine}, Python {python}{emulated})"
        for r in plat["routes"]:
            dists = {k: v for k, v in r["dists"].items() if k not in VENV_SEED}
            own = dists["edgernn"]["bytes"]
            total = sum(v["bytes"] for v in dists.values())
            s = r["smoke"]
            first = f"{s['c_backend_build_s']:.1f}" if "c_backend_build_s" in s else "-"
            runs = ", ".join(f"{x:.1f}" for x in r["install_s_runs"])
            lines.append(
                f"| {label} | {r['route']} | {r['install_s']:.1f} ({runs}) | {r['install_cpu_s']:.1f} | {_mb(total)} "
                f"| {_mb(own)} | {_mb(total - own)} | {first} | {_fast_path(s)} | {_works(s)} |"
            )
    lines += ["", "What the base install pulls (wheel route; bytes installed, bytecode included):", ""]
    lines += ["| platform | distribution | version | MB |", "|---|---|---|---|"]
    for name, plat in result["platforms"].items():
        r = next(r for r in plat["routes"] if r["route"] == "wheel")
        dists = sorted(((k, v) for k, v in r["dists"].items() if k not in VENV_SEED), key=lambda kv: -kv[1]["bytes"])
        for k, v in dists:
            parts = ", ".join(f"{p} {_mb(b)}" for p, b in sorted(v["parts"].items()) if len(v["parts"]) > 1)
            lines.append(f"| {name} | {k} | {v['version']} | {_mb(v['bytes'])}{f' ({parts})' if parts else ''} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platforms", default="x86_64,aarch64", help="comma-separated: x86_64, aarch64")
    parser.add_argument("--work-dir", type=Path, default=Path.home() / ".cache" / "edgernn-bench")
    parser.add_argument("--python", default=getattr(sys, "_base_executable", sys.executable),
                        help="x86-64 interpreter for the venvs (default: this venv's base interpreter)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="installs per x86-64 route (aarch64: 1)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        sys.exit("run as root with unshare (util-linux): the routes mask files in private mount namespaces")
    platforms = [p for p in args.platforms.split(",") if p]
    unknown = set(platforms) - {"x86_64", "aarch64"}
    if unknown:
        sys.exit(f"unknown platform(s) {', '.join(sorted(unknown))}: pick from x86_64, aarch64")
    work = args.work_dir.expanduser().resolve()
    if REPO == work or REPO in work.parents:
        sys.exit(f"--work-dir {work} is inside the repository: pick a folder outside it")
    if work.is_dir() and any(work.iterdir()) and not (work / MARKER).is_file():
        sys.exit(f"--work-dir {work} is not empty and was not made by this script: pick a new folder")
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).touch()
    result = measure(platforms, work, args.python, {"x86_64": args.repeats, "aarch64": 1})
    args.output.mkdir(parents=True, exist_ok=True)
    text = render(result)
    for name, content in (("install.json", json.dumps(result, indent=1, sort_keys=True) + "\n"), ("install.md", text)):
        write_text_atomic(args.output / name, content)
        (args.output / name).chmod(0o644)  # committed results: readable by everyone
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
