"""The docs cannot drift (issue 14 item 13): they cite only files in the repository, and the
Raspberry Pi example builds against the demo's C export and takes the frames its README shows."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgernn.data import load_dataset
from edgernn.export import ExportOptions, export_model
from edgernn.pipeline import DEMO_PREFIX, config_for_data
from edgernn.testing import random_model

ROOT = Path(__file__).resolve().parents[2]
PI = ROOT / "examples" / "raspberry-pi-stdin"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*/README.md"))]


def _cited_files(text: str) -> set[str]:
    """Markdown link targets, documents (``*.md``) and source paths (``dir/file.py``, ``.c``) cited."""
    links = re.findall(r"\]\(([^)#\s]+)\)", text)
    documents = re.findall(r"(?<![\w/.-])([\w./-]+\.md)\b", text)
    sources = re.findall(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.(?:py|c|h|md|json|toml))\b", text)
    return {p for p in [*links, *documents, *sources] if "://" not in p}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_only_files_in_the_repository(doc: Path) -> None:
    missing = []
    for cited in sorted(_cited_files(doc.read_text())):
        if "*" in cited or cited.startswith(("demo-out/", "/", "export/")):
            continue  # globs, and the outputs of the commands a page shows
        if not any(c.exists() for c in (doc.parent / cited, ROOT / cited)):
            missing.append(cited)
    assert not missing, f"{doc.relative_to(ROOT)} cites files that are not in the repository: {missing}"


def _readme_frames() -> list[str]:
    """The frames the Pi example's README pipes into stream.c (its printf arguments)."""
    text = (PI / "README.md").read_text()
    command = text[text.index("printf") : text.index("| qemu-aarch64")]
    return re.findall(r"'(-?[0-9][-0-9. ]*)'", command)


def test_pi_example_builds_against_the_demo_export_and_takes_its_frames(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    assert cc, "a C compiler is part of the test environment (the c backend needs one too)"
    data = load_dataset("fsdd")  # the demo's data: its width is the demo model's input width
    model = random_model(config_for_data(data, cell="gru", hidden_size=8), seed=0)
    export = tmp_path / "export"
    export_model(model, "c", export, ExportOptions(prefix=DEMO_PREFIX))  # as run_demo exports
    include = re.search(r'#include "(\w+_model\.h)"', (PI / "stream.c").read_text())
    assert include and (export / "include" / include.group(1)).is_file(), "stream.c includes the demo's header"
    readme = (PI / "README.md").read_text()
    assert f"`MODEL_INPUT_SIZE` = {data.num_features} numbers" in readme
    exe = tmp_path / "stream"
    build = subprocess.run(
        [cc, "-std=c99", "-O2", "-I", str(export / "include"), *map(str, (export / "src").glob("*.c"))]
        + [str(PI / "stream.c"), "-lm", "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    frames = _readme_frames()
    assert len(frames) == 2 and all(len(f.split()) == data.num_features for f in frames)
    run = subprocess.run([str(exe)], input="\n".join(frames) + "\n", capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert [len(line.split()) for line in run.stdout.splitlines()] == [model.config.output_width] * 2
