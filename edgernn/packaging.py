"""The edgernn C runtime as a package for an embedded ecosystem, with an example that runs a model.

``edgernn package --ecosystem E OUTDIR`` writes one folder laid out the way E expects:

    platformio  library.json, include/edgernn/*.h, src/, examples/StreamSensor/ (platformio.ini, src/)
    arduino     library.properties, src/edgernn.h, src/edgernn/*.h, src/*.c, examples/StreamSensor/*.ino
    esp-idf     idf_component.yml, CMakeLists.txt (idf_component_register), include/, src/, examples/stream/
    zephyr      zephyr/module.yml (where west looks), zephyr/CMakeLists.txt + Kconfig, include/, src/,
                samples/stream/ (sample.yaml, prj.conf, CMakeLists.txt, src/main.c)
    cmake       CMakeLists.txt installing edgernnConfig.cmake + version file (``find_package(edgernn)`` ->
                ``edgernn::runtime``), include/, src/, examples/find_package/

The runtime is the model-independent part of ``firmware_export`` (both the int8 and the float32 path,
the optimized ports pasted in as the C exporter does); the example holds only a model's generated
files (``<prefix>_model.h``, ``<prefix>_model.c``), so it builds against the packaged runtime. Every
package carries ``edgernn_package.json`` (which marks the folder as replaceable by the next run) and
the licence when the installation has one. Torch is not needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgernn import __version__
from edgernn.errors import EdgeRNNError
from edgernn.fileio import atomic_folder
from edgernn.ir import QuantizedRNN

ECOSYSTEMS = ("platformio", "arduino", "esp-idf", "zephyr", "cmake")
GENERATOR = "edgernn.packaging"
MANIFEST_NAME = "edgernn_package.json"
FILES = Path(__file__).parent / "package_files"
#: The prefix of the example model's generated API (the example sources call model_step etc.).
EXAMPLE_PREFIX = "model"


@dataclass(frozen=True)
class Metadata:
    """What every ecosystem's manifest says about the library."""

    name: str = "edgernn"
    version: str = __version__
    description: str = (
        "Exact int8 GRU/LSTM/Elman RNN inference one time step at a time: the edgernn C99 runtime "
        "(no heap, caller-owned state, bit-equal to edgernn's integer reference)"
    )
    keywords: tuple[str, ...] = ("rnn", "gru", "lstm", "int8", "quantization", "tinyml", "streaming", "inference")
    license: str = "Apache-2.0"
    author: str = "edgernn maintainers"
    # The project's public repository; override with `edgernn package --url`.
    url: str = "https://github.com/edgernn/edgernn"


# ---------------------------------------------------------------------------------------------
# The runtime's files and the example model's.


def runtime_sources() -> list[tuple[str, bytes]]:
    """``(name, content)`` of the runtime: ``edgernn/<header>`` for the public headers, ``<file>`` for
    the sources and private headers of both paths (ports pasted in, as in an export)."""
    from edgernn.export.c import _inline_ports, runtime_files  # noqa: PLC2701 - the exporter's own copy rule

    seen: dict[str, bytes] = {}
    for float_path in (False, True):
        for dest, source in runtime_files(float_path):
            name = dest.removeprefix("include/").removeprefix("src/")
            seen[name] = _inline_ports(source.read_text(encoding="utf-8")).encode()
    return sorted(seen.items())


def licence_text() -> bytes | None:
    """The LICENSE of this edgernn (repository root, or beside the runtime in a wheel), if present."""
    from edgernn.export.c import runtime_root

    root = runtime_root()
    for candidate in (root / "LICENSE", root.parent / "LICENSE"):
        if candidate.is_file():
            return candidate.read_bytes()
    return None


def example_model(model: QuantizedRNN | None) -> QuantizedRNN:
    """The model the examples run: ``model``, or a small random GRU on 6-channel frames, 4 classes."""
    if model is None:
        from edgernn.testing import random_model
        from edgernn.types import ModelConfig

        return random_model(ModelConfig(cell="gru", input_size=6, hidden_size=16, output_size=4), seed=0)
    cfg = model.config
    if cfg.uses_tokens or cfg.bidirectional:
        raise EdgeRNNError(
            "the package examples stream feature frames one step at a time; this model takes "
            + ("token ids" if cfg.uses_tokens else "whole sequences (bidirectional)"),
            "pass a unidirectional model with feature input, or leave out --model",
        )
    return model


def default_target(ecosystem: str) -> str:
    """The core a package's example model is packed for: the CMake package's example builds and runs on
    the machine it is configured on; the others are firmware for 32-bit MCUs, whose weight packing
    (ERNN_FC_PACK_K 4, every core but the Cortex-M55) the ``cortex-m4`` export has."""
    return "host" if ecosystem == "cmake" else "cortex-m4"


def model_files(model: QuantizedRNN, target: str = "cortex-m4") -> dict[str, bytes]:
    """A model's generated files without the runtime, packed for ``target``: ``model_model.h``,
    ``model_model.c``, ``selftest.c`` (the export's test-vector runner)."""
    from edgernn.export import ExportOptions
    from edgernn.export.c import render

    files = render(model, ExportOptions(prefix=EXAMPLE_PREFIX, target=target))
    p = EXAMPLE_PREFIX
    return {
        f"{p}_model.h": files[f"include/{p}_model.h"],
        f"{p}_model.c": files[f"src/{p}_model.c"],
        "selftest.c": files["selftest/selftest.c"],
    }


def _asset(path: str, meta: Metadata) -> bytes:
    return (FILES / path).read_text(encoding="utf-8").replace("@EDGERNN_VERSION@", meta.version).encode()


# ---------------------------------------------------------------------------------------------
# Manifests.


def library_json(meta: Metadata, *, in_tree: bool = False) -> dict:
    """PlatformIO's library.json. ``in_tree``: for ``firmware_export/`` itself (ports beside src/,
    repository notes and tests left out of ``pio pkg pack``)."""
    include = ["include", "src", "LICENSE", "README.md", "library.json"]
    include += ["ports"] if in_tree else ["examples"]
    return {
        "name": meta.name,
        "version": meta.version,
        "description": meta.description,
        "keywords": list(meta.keywords),
        "homepage": meta.url,
        "repository": {"type": "git", "url": f"{meta.url}.git"},
        "authors": [{"name": meta.author, "url": meta.url, "maintainer": True}],
        "license": meta.license,
        "frameworks": "*",
        "platforms": "*",
        "headers": ["edgernn.h"] if not in_tree else ["edgernn/edgernn.h"],
        "build": {"includeDir": "include", "srcDir": "src", "srcFilter": ["+<*.c>"], "flags": ["-std=c99"]},
        "export": {"include": include},
    }


def library_properties(meta: Metadata) -> str:
    """Arduino's library.properties (library specification 1.5, rev. 2.2)."""
    fields = {
        "name": meta.name,
        "version": meta.version,
        "author": meta.author,
        "maintainer": meta.author,
        "sentence": "Exact int8 GRU, LSTM and RNN inference, one time step per sensor frame.",
        "paragraph": meta.description + ". Export a model with `edgernn export` and step it in loop().",
        "category": "Data Processing",
        "url": meta.url,
        "architectures": "*",
        "includes": "edgernn.h",
        "license": meta.license,
    }
    return "".join(f"{k}={v}\n" for k, v in fields.items())


def idf_component_yml(meta: Metadata) -> str:
    """ESP-IDF component manager manifest (idf_component.yml)."""
    tags = "\n".join(f"  - {k}" for k in meta.keywords)
    return (
        f'version: "{meta.version}"\n'
        f'description: "{meta.description}"\n'
        f"url: {meta.url}\n"
        f"repository: {meta.url}.git\n"
        f"license: {meta.license}\n"
        f'maintainers:\n  - "{meta.author}"\n'
        f"tags:\n{tags}\n"
        'dependencies:\n  idf: ">=4.4"\n'
        "files:\n  exclude:\n    - edgernn_package.json\n"
    )


def idf_component_cmake(sources: list[str]) -> str:
    srcs = "\n".join(f'        "src/{s}"' for s in sources)
    return (
        "# SPDX-License-Identifier: Apache-2.0\n"
        "# The edgernn runtime as an ESP-IDF component (both the int8 and the float32 path).\n"
        f"idf_component_register(\n    SRCS\n{srcs}\n"
        '    INCLUDE_DIRS "include"\n    PRIV_INCLUDE_DIRS "src")\n'
    )


def zephyr_module_yml(meta: Metadata, samples: list[str]) -> str:
    listed = "\n".join(f"  - {s}" for s in samples)
    return f"name: {meta.name}\nbuild:\n  cmake: zephyr\n  kconfig: zephyr/Kconfig\nsamples:\n{listed}\n"


def zephyr_sample_yaml() -> str:
    return (
        "sample:\n"
        "  name: edgernn stream\n"
        "  description: An edgernn model stepped once per frame from a timer interrupt through a message queue\n"
        "common:\n"
        "  tags: edgernn\n"
        "  harness: console\n"
        "  harness_config:\n"
        "    type: one_line\n"
        "    regex:\n"
        '      - "edgernn: [0-9]+ steps, class [0-9]+"\n'
        "tests:\n"
        "  sample.edgernn.stream:\n"
        "    integration_platforms:\n"
        "      - qemu_cortex_m3\n"
    )


# ---------------------------------------------------------------------------------------------
# Layouts.


def _readme(ecosystem: str, meta: Metadata, example: str) -> bytes:
    how = {
        "platformio": "`lib_deps = symlink:///path/to/this/folder` in platformio.ini (or `pio pkg pack` it)",
        "arduino": "copy this folder into your sketchbook's `libraries/` (or Sketch > Include Library > Add .ZIP)",
        "esp-idf": "put this folder in your project's `components/` (or a `path:` dependency in idf_component.yml)",
        "zephyr": "add this folder to `ZEPHYR_EXTRA_MODULES` or as a project of your west manifest; "
        "set `CONFIG_EDGERNN=y`",
        "cmake": "`cmake -S . -B build && cmake --install build --prefix P`, then `find_package(edgernn)` "
        "with `CMAKE_PREFIX_PATH=P` and link `edgernn::runtime`",
    }[ecosystem]
    return (
        f"# edgernn {meta.version}: the C runtime as a {ecosystem} package\n\n"
        f"Written by `edgernn package --ecosystem {ecosystem}`. Use: {how}.\n\n"
        f"`{example}` runs one model: its generated files (`{EXAMPLE_PREFIX}_model.h`, `{EXAMPLE_PREFIX}_model.c`) "
        "sit beside the example's sources; replace them with your own export's (`edgernn export my.ernn --format c`, "
        f"prefix `{EXAMPLE_PREFIX}`) to run your model against this runtime. The runtime and the model must come "
        "from the same edgernn version.\n\nLicence: Apache-2.0.\n"
    ).encode()


def package_files(
    ecosystem: str, model: QuantizedRNN | None = None, meta: Metadata = Metadata(), target: str | None = None
) -> dict[str, bytes]:
    """The files of one ecosystem's package, by relative path; the example's model is packed for
    ``target`` (default: :func:`default_target`)."""
    if ecosystem not in ECOSYSTEMS:
        raise EdgeRNNError(f"unknown ecosystem {ecosystem!r}", f"choose one of {', '.join(ECOSYSTEMS)}")
    runtime = runtime_sources()
    headers = [(n, c) for n, c in runtime if n.startswith("edgernn/")]
    private = [(n, c) for n, c in runtime if not n.startswith("edgernn/")]
    example = model_files(example_model(model), target or default_target(ecosystem))
    model_pair = {k: v for k, v in example.items() if k != "selftest.c"}
    imu = _asset("common/synthetic_imu.h", meta)
    files: dict[str, bytes] = {}
    umbrella = b'// SPDX-License-Identifier: Apache-2.0\n#include "edgernn/edgernn.h"\n'

    if ecosystem == "arduino":
        files |= {f"src/{n}": c for n, c in runtime}
        files["src/edgernn.h"] = umbrella
        files["library.properties"] = library_properties(meta).encode()
        base = "examples/StreamSensor"
        files[f"{base}/StreamSensor.ino"] = _asset("arduino/StreamSensor.ino", meta)
        files |= {f"{base}/{n}": c for n, c in model_pair.items()}
    else:
        files |= {f"include/{n}": c for n, c in headers}
        files |= {f"src/{n}": c for n, c in private}
    if ecosystem == "platformio":
        files["include/edgernn.h"] = umbrella
        files["library.json"] = (json.dumps(library_json(meta), indent=2) + "\n").encode()
        base = "examples/StreamSensor"
        files[f"{base}/platformio.ini"] = _asset("platformio/platformio.ini", meta)
        files[f"{base}/src/StreamSensor.ino"] = _asset("arduino/StreamSensor.ino", meta)
        files |= {f"{base}/src/{n}": c for n, c in model_pair.items()}
    elif ecosystem == "esp-idf":
        files["idf_component.yml"] = idf_component_yml(meta).encode()
        sources = sorted(n for n, _ in private if n.endswith(".c"))
        files["CMakeLists.txt"] = idf_component_cmake(sources).encode()
        base = "examples/stream"
        files[f"{base}/CMakeLists.txt"] = _asset("esp-idf/project_CMakeLists.txt", meta)
        files[f"{base}/main/CMakeLists.txt"] = _asset("esp-idf/main_CMakeLists.txt", meta)
        files[f"{base}/main/idf_component.yml"] = _asset("esp-idf/main_idf_component.yml", meta)
        files[f"{base}/main/main.c"] = _asset("esp-idf/main.c", meta)
        files[f"{base}/main/synthetic_imu.h"] = imu
        files |= {f"{base}/main/{n}": c for n, c in model_pair.items()}
    elif ecosystem == "zephyr":
        root = _runtime_zephyr_dir()
        files["zephyr/CMakeLists.txt"] = (root / "CMakeLists.txt").read_bytes()
        files["zephyr/Kconfig"] = (root / "Kconfig").read_bytes()
        files["zephyr/module.yml"] = zephyr_module_yml(meta, ["samples/stream"]).encode()
        base = "samples/stream"
        files[f"{base}/sample.yaml"] = zephyr_sample_yaml().encode()
        files[f"{base}/prj.conf"] = b"CONFIG_EDGERNN=y\n"
        files[f"{base}/CMakeLists.txt"] = _asset("zephyr/sample_CMakeLists.txt", meta)
        files[f"{base}/src/main.c"] = _asset("zephyr/main.c", meta)
        files[f"{base}/src/synthetic_imu.h"] = imu
        files |= {f"{base}/src/{n}": c for n, c in model_pair.items()}
    elif ecosystem == "cmake":
        files["CMakeLists.txt"] = _asset("cmake/CMakeLists.txt", meta)
        files["cmake/edgernnConfig.cmake.in"] = _asset("cmake/edgernnConfig.cmake.in", meta)
        base = "examples/find_package"
        files[f"{base}/CMakeLists.txt"] = _asset("cmake/example_CMakeLists.txt", meta)
        files |= {f"{base}/{n}": c for n, c in example.items()}
    example_dir = {"zephyr": "samples/stream", "esp-idf": "examples/stream", "cmake": "examples/find_package"}
    files["README.md"] = _readme(ecosystem, meta, example_dir.get(ecosystem, "examples/StreamSensor"))
    licence = licence_text()
    if licence is not None:
        files["LICENSE"] = licence
    manifest = {
        "generator": GENERATOR,
        "edgernn_version": meta.version,
        "ecosystem": ecosystem,
        "files": sorted([*files, MANIFEST_NAME]),
    }
    files[MANIFEST_NAME] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def _runtime_zephyr_dir() -> Path:
    from edgernn.export.c import runtime_root

    return runtime_root() / "zephyr"


def _is_previous_package(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == GENERATOR


def write_package(
    ecosystem: str,
    output: str | Path,
    model: QuantizedRNN | None = None,
    meta: Metadata = Metadata(),
    target: str | None = None,
) -> list[Path]:
    """Write one ecosystem's package as the folder ``output`` (new, empty, or a previous package)."""
    files = package_files(ecosystem, model, meta, target)
    with atomic_folder(output, "package", _is_previous_package) as tmp:
        for rel, content in files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
    return [Path(output) / rel for rel in sorted(files)]
