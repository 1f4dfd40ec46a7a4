# SPDX-License-Identifier: Apache-2.0
"""The licence: LICENSE at the root (Apache-2.0, as pyproject.toml says), shipped in the wheel, copied into
every C export; an SPDX identifier on every C/H file edgernn ships or generates."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from edgernn.export import ExportOptions
from edgernn.export import c as cexport
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig

REPO = Path(__file__).resolve().parents[2]
SPDX = "SPDX-License-Identifier: Apache-2.0"
#: sha256 of the Apache License 2.0 text as the ASF publishes it (www.apache.org/licenses/LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
C_SUFFIXES = (".c", ".h")


def test_licence_file_is_apache_2_as_pyproject_says() -> None:
    text = (REPO / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    pyproject = (REPO / "pyproject.toml").read_text()  # (tomllib is Python 3.11+; edgernn supports 3.10)
    assert 'license = { text = "Apache-2.0" }\nlicense-files = ["LICENSE"]\n' in pyproject
    # the wheel carries it where the exporter looks for it (edgernn/LICENSE)
    force_include = pyproject.split("[tool.hatch.build.targets.wheel.force-include]", 1)[1].split("\n[", 1)[0]
    assert '\n"LICENSE" = "edgernn/LICENSE"\n' in force_include
    assert cexport.license_path().read_bytes() == text


def _shipped_c_files() -> list[Path]:
    roots = [REPO / "firmware_export", REPO / "examples", REPO / "edgernn"]
    return sorted(p for r in roots for p in r.rglob("*") if p.suffix in (*C_SUFFIXES, ".ld") and p.is_file())


def test_every_shipped_c_file_carries_the_spdx_identifier() -> None:
    files = _shipped_c_files()
    assert len(files) > 40  # the runtime, ports, boards, tests, tools, examples
    missing = [str(p.relative_to(REPO)) for p in files if SPDX not in "\n".join(p.read_text().splitlines()[:3])]
    assert not missing, missing


@pytest.mark.parametrize(
    "options",
    [
        ExportOptions(prefix="kws", target="cortex-m4"),
        ExportOptions(prefix="kws", runtime="none"),
        ExportOptions(prefix="kws", float_weights=True),
        ExportOptions(prefix="kws", single_header=True),
    ],
    ids=["copy-m4", "none", "float", "single-header"],
)
def test_every_exported_c_file_carries_the_identifier_and_the_licence(options: ExportOptions, tmp_path: Path) -> None:
    model = random_model(ModelConfig(cell=CellType.GRU, input_size=3, hidden_size=4, output_size=2))
    out = tmp_path / "e"
    cexport.export(model, out, options)
    assert (out / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    c_files = [p for p in out.rglob("*") if p.suffix in (*C_SUFFIXES, ".ld")]
    assert len(c_files) >= (2 if options.single_header else 3)
    for p in c_files:
        head = "\n".join(p.read_text().splitlines()[:5])
        assert SPDX in head, p
    for name in ("Makefile", "CMakeLists.txt"):
        if (out / name).exists():
            assert re.match(rf"# {re.escape(SPDX)}\n", (out / name).read_text()), name
