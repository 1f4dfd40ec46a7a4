"""edgernn.fileio: atomic files and folders that never replace the user's data, respect the umask,
and clean up only the leftovers edgernn itself made."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgernn import fileio
from edgernn.fileio import OutputFileError, atomic_folder, atomic_output, clean_leftovers, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]


def _is_mine(folder: Path) -> bool:
    return (folder / "MINE").is_file()


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def _leftover(target: Path, kind: str, pid: int) -> Path:
    name = fileio._sibling(target, kind).name  # edgernn's own naming, with this process's pid ...
    return target.with_name(name.replace(f"-{os.getpid()}-", f"-{pid}-"))  # ... swapped for another


def test_a_folder_of_the_user_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputFileError, match="is not empty and is not an edgernn thing"):
        with atomic_folder(out, "thing", _is_mine) as staging:
            (staging / "MINE").write_text("")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (out / "thesis.tex").read_text() == "years of work"


def test_an_empty_or_earlier_folder_is_replaced_and_a_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for text in ("one", "two"):
        with atomic_folder(out, "thing", _is_mine) as staging:
            (staging / "MINE").write_text(text)
    assert (out / "MINE").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputFileError, match="not a folder"):
        with atomic_folder(tmp_path / "f", "thing", _is_mine):
            pass


def test_a_folder_holding_the_working_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-o ../sub` run from inside sub: nothing moves to a hidden .sub.*.old (issue 14 item 1)."""
    sub = tmp_path / "sub"
    (sub / "deep").mkdir(parents=True)
    (sub / "MINE").write_text("an earlier output, but the user is working inside it")
    for cwd in (sub, sub / "deep"):
        monkeypatch.chdir(cwd)
        with pytest.raises(OutputFileError, match="contains the current folder"):
            with atomic_folder(Path("..") / "sub" if cwd == sub else Path("../../sub"), "thing", _is_mine):
                pass
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
        assert (sub / "MINE").is_file()


def test_outputs_respect_the_umask(tmp_path: Path, umask: None) -> None:
    write_text_atomic(tmp_path / "f.txt", "x")
    with atomic_folder(tmp_path / "d", "thing", _is_mine) as staging:
        (staging / "MINE").write_text("")
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
    os.umask(0o077)
    write_text_atomic(tmp_path / "g.txt", "x")
    assert (tmp_path / "g.txt").stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "m.ernn"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.ernn"]


def test_a_killed_write_is_cleaned_up_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "m.ernn"
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from edgernn.fileio import atomic_output
        with atomic_output({str(target)!r}) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and not target.exists()
    write_text_atomic(target, "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ernn"]


def test_only_edgernn_leftovers_of_dead_processes_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "export"
    dead = _dead_pid()
    gone_tmp = _leftover(target, "tmp", dead)
    gone_tmp.mkdir()
    (gone_tmp / "half.c").write_text("")
    gone_file = _leftover(tmp_path / "m.ernn", "tmp", dead)
    gone_file.write_text("")
    running = _leftover(target, "tmp", os.getpid())  # a write in progress (this process)
    running.mkdir()
    other_host = Path(str(_leftover(target, "tmp", dead)).replace(f"edgernn-{fileio._HOST}", "edgernn-00000000"))
    other_host.mkdir()
    lookalike = tmp_path / f".export.{dead}.tmp"  # not edgernn's pattern
    lookalike.mkdir()
    other_target = _leftover(tmp_path / "other", "tmp", dead)
    other_target.mkdir()
    assert clean_leftovers(target) == [gone_tmp]
    assert clean_leftovers(tmp_path / "m.ernn") == [gone_file]
    assert all(p.exists() for p in (running, other_host, lookalike, other_target))


def test_a_write_killed_between_its_renames_gets_the_previous_folder_back(tmp_path: Path) -> None:
    target = tmp_path / "export"
    old = _leftover(target, "old", _dead_pid())
    old.mkdir()
    (old / "MINE").write_text("previous")
    with atomic_folder(target, "thing", _is_mine) as staging:
        assert (target / "MINE").read_text() == "previous"  # restored before the new one is built
        (staging / "MINE").write_text("new")
    assert (target / "MINE").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
