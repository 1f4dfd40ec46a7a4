"""The runtime packages of `edgernn package` (issue 15 item 4): each manifest checked against the
ecosystem's documented fields, each layout against its conventions, and each example compiled with the
cross compiler here against SDK stand-ins (tests/conformance/package_shims); the Arduino sketch and the
CMake package also run on the host, exact against the integer reference."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from edgernn import __version__, engine, packaging
from edgernn.cli import cli
from edgernn.export.c import write_test_vectors
from edgernn.reference import ReferenceKernels

REPO = Path(__file__).resolve().parents[2]
SHIMS = Path(__file__).resolve().parent / "package_shims"
# -Os as Arduino, PlatformIO (release), ESP-IDF and Zephyr build by default. (At -O0 gcc 12 cannot
# compile the DSP port of ernn_fc_s8.c for the M4: "r7 cannot be used in 'asm' here".)
M4 = ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os"]
STRICT = ["-Wall", "-Wextra", "-Werror"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is part of the test environment (make toolchains)"
    return path


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, " ".join(map(str, cmd)) + "\n" + proc.stdout + proc.stderr
    return proc


def _compile(cc: str, flags: list[str], sources: list[Path], includes: list[Path], out: Path) -> list[Path]:
    """Compile the sources (distinct stems) to objects in ``out``, in one compiler call."""
    out.mkdir(parents=True, exist_ok=True)
    _run([cc, *flags, *[f"-I{d}" for d in includes], "-c", *sources], cwd=out)
    objects = [out / f"{src.stem}.o" for src in sources]
    assert all(o.is_file() for o in objects)
    return objects


def _reference(model, frames_q: np.ndarray) -> np.ndarray:
    """Per-step int8 outputs of the integer reference, streamed from the zero state."""
    kernels = ReferenceKernels(model)
    state, outputs = engine.zero_state(kernels), []
    for x in frames_q:
        y, state = engine.step(kernels, state, x)
        outputs.append(np.asarray(y))
    return np.stack(outputs).astype(np.int8)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("packages")
    for ecosystem in packaging.ECOSYSTEMS:
        packaging.write_package(ecosystem, root / ecosystem)
    return {e: root / e for e in packaging.ECOSYSTEMS}


@pytest.fixture(scope="module")
def host_packages(tmp_path_factory) -> dict[str, Path]:
    """The packages whose examples the tests build and run on this machine: the model packed for the host."""
    root = tmp_path_factory.mktemp("host_packages")
    for ecosystem in ("arduino", "esp-idf"):
        packaging.write_package(ecosystem, root / ecosystem, target="host")
    return {e: root / e for e in ("arduino", "esp-idf")}


def test_example_model_is_packed_for_the_ecosystems_core(packages) -> None:
    """An MCU package's example must compile for an MCU: packed with K=4, not for the machine that wrote it."""
    model_c = (packages["arduino"] / "examples/StreamSensor/model_model.c").read_text()
    assert "packed for cortex-m4 (ERNN_FC_PACK_K 4)" in model_c
    assert packaging.default_target("cmake") == "host"


# ---------------------------------------------------------------------------------------------
# Common to all packages.


@pytest.mark.parametrize("ecosystem", packaging.ECOSYSTEMS)
def test_every_package_has_the_whole_runtime_and_no_repository_notes(packages, ecosystem) -> None:
    root = packages[ecosystem]
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    manifest = json.loads((root / packaging.MANIFEST_NAME).read_text())
    assert manifest["files"] == sorted(files) and manifest["ecosystem"] == ecosystem
    runtime = REPO / "firmware_export"
    names = {Path(f).name for f in files}
    expected = {p.name for d in ("include/edgernn", "src") for p in (runtime / d).iterdir()}
    assert expected <= names, expected - names
    assert not {"REQUESTS.md", "LAYOUT.md"} & names
    # The licence travels with the package whenever this edgernn has one (the repository's LICENSE).
    licence = REPO / "LICENSE"
    assert packaging.licence_text() == (licence.read_bytes() if licence.is_file() else None)
    assert ("LICENSE" in files) == licence.is_file()
    assert not any(f.startswith(("tests/", "boards/", "tools/", "ports/")) for f in files)
    # The ports are pasted in: no source reaches outside the package.
    for f in files:
        if f.endswith((".c", ".h")):
            assert "../ports/" not in (root / f).read_text(), f


def test_package_refuses_a_folder_it_did_not_write(tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["package", "--ecosystem", "cmake", str(tmp_path / "mine")])
    assert result.exit_code == 1 and "is not an edgernn package" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    again = tmp_path / "again"
    for _ in range(2):  # a previous package is replaced
        result = CliRunner().invoke(cli, ["package", "--ecosystem", "zephyr", str(again)])
        assert result.exit_code == 0, result.output


def test_package_refuses_a_token_model(tmp_path) -> None:
    from edgernn import ir
    from edgernn.testing import random_model
    from edgernn.types import ModelConfig

    model = random_model(ModelConfig(cell="gru", vocab_size=20, embedding_dim=4, hidden_size=8, output_size=3))
    ir.save(model, tmp_path / "tokens.ernn")
    result = CliRunner().invoke(
        cli, ["package", "--ecosystem", "arduino", str(tmp_path / "out"), "--model", str(tmp_path / "tokens.ernn")]
    )
    assert result.exit_code == 1 and "token ids" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# PlatformIO: library.json against the documented fields, the content `pio pkg pack` would take.

# Written from PlatformIO's library.json field reference (docs.platformio.org, manifests/library-json).
_PIO_STR_OR_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
PLATFORMIO_SCHEMA = {
    "type": "object",
    "required": ["name", "version"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "name": {"type": "string", "maxLength": 50, "pattern": r"^[A-Za-z0-9]([A-Za-z0-9_.]|-(?!-))*[A-Za-z0-9]$"},
        "version": {"type": "string", "maxLength": 20, "pattern": r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"},
        "description": {"type": "string", "maxLength": 255},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 255, "pattern": r"^[a-z0-9 ._-]+$"}},
        "homepage": {"type": "string", "maxLength": 255, "pattern": "^https?://"},
        "repository": {
            "type": "object",
            "required": ["type", "url"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["git", "hg", "svn"]},
                "url": {"type": "string", "pattern": "^https?://"},
                "branch": {"type": "string"},
            },
        },
        "authors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "email": {"type": "string"},
                    "url": {"type": "string"},
                    "maintainer": {"type": "boolean"},
                },
            },
        },
        "license": {"type": "string"},
        "frameworks": _PIO_STR_OR_LIST,
        "platforms": _PIO_STR_OR_LIST,
        "headers": _PIO_STR_OR_LIST,
        "examples": {"type": "array"},
        "dependencies": {"type": ["array", "object"]},
        "export": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"include": _PIO_STR_OR_LIST, "exclude": _PIO_STR_OR_LIST},
        },
        "scripts": {"type": "object"},
        "build": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "flags": _PIO_STR_OR_LIST,
                "unflags": _PIO_STR_OR_LIST,
                "includeDir": {"type": "string"},
                "srcDir": {"type": "string"},
                "srcFilter": _PIO_STR_OR_LIST,
                "extraScript": {"type": "string"},
                "libArchive": {"type": "boolean"},
                "libLDFMode": {"enum": ["off", "chain", "deep", "chain+", "deep+"]},
                "libCompatMode": {"enum": ["off", "soft", "strict"]},
            },
        },
    },
}


def _pio_pack_contents(root: Path, manifest: dict) -> set[str]:
    """Files `pio pkg pack` takes: those under an ``export.include`` pattern (a folder: all below it),
    minus ``export.exclude``, VCS folders never."""
    include = manifest.get("export", {}).get("include", ["*"])
    exclude = manifest.get("export", {}).get("exclude", [])
    taken = set()
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel.startswith((".git/", ".pio/")):
            continue
        prefixes = [rel, *("/".join(rel.split("/")[: i + 1]) for i in range(rel.count("/")))]
        if any(fnmatch.fnmatch(p, pat) for p in prefixes for pat in include) and not any(
            fnmatch.fnmatch(p, pat) for p in prefixes for pat in exclude
        ):
            taken.add(rel)
    return taken


def _check_library_json(root: Path) -> set[str]:
    manifest = json.loads((root / "library.json").read_text())
    jsonschema.validate(manifest, PLATFORMIO_SCHEMA)
    assert manifest["version"] == __version__
    for key in ("description", "keywords", "repository", "authors", "license", "homepage"):
        assert manifest.get(key), f"library.json lacks {key}"
    build = manifest["build"]
    assert (root / build["includeDir"] / "edgernn" / "edgernn.h").is_file() and (root / build["srcDir"]).is_dir()
    headers = manifest["headers"] if isinstance(manifest["headers"], list) else [manifest["headers"]]
    assert all((root / build["includeDir"] / h).is_file() for h in headers)
    packed = _pio_pack_contents(root, manifest)
    assert "library.json" in packed and "README.md" in packed
    assert not [p for p in packed if re.search(r"(^|/)(REQUESTS|LAYOUT)\.md$|^(tests|tools|boards)/", p)], packed
    # Everything the library build compiles is packed.
    sources = {p.relative_to(root).as_posix() for p in (root / build["srcDir"]).glob("*.c")}
    assert sources and sources <= packed
    return packed


def test_platformio_library_json_and_pack(packages) -> None:
    root = packages["platformio"]
    packed = _check_library_json(root)
    assert "examples/StreamSensor/platformio.ini" in packed and "edgernn_package.json" not in packed
    ini = (root / "examples/StreamSensor/platformio.ini").read_text()
    assert "lib_deps = symlink://../.." in ini and (root / "examples/StreamSensor/../../library.json").is_file()


def test_firmware_export_library_json_is_the_generated_one_and_packs_clean() -> None:
    """The in-tree firmware_export/library.json (installable from the repository) comes from the same
    function; its pack keeps the ports the sources include and leaves out notes and tests."""
    root = REPO / "firmware_export"
    written = json.loads((root / "library.json").read_text())
    assert written == packaging.library_json(packaging.Metadata(), in_tree=True), (
        "regenerate firmware_export/library.json"
    )
    packed = _check_library_json(root)
    assert "ports/arm_dsp/ernn_dot_s8_dsp.h" in packed and "REQUESTS.md" not in packed


def test_platformio_example_compiles_for_cortex_m4(packages, tmp_path) -> None:
    root = packages["platformio"]
    example = root / "examples/StreamSensor/src"
    sketch = tmp_path / "StreamSensor.ino.cpp"  # what PlatformIO makes of a .ino
    sketch.write_text("#include <Arduino.h>\n" + (example / "StreamSensor.ino").read_text())
    gxx, gcc = _tool("arm-none-eabi-g++"), _tool("arm-none-eabi-gcc")
    includes = [SHIMS / "arduino", root / "include", example]
    _compile(gxx, [*M4, "-std=gnu++17", "-fno-exceptions", "-fno-rtti", *STRICT], [sketch], includes, tmp_path)
    c_sources = [*sorted((root / "src").glob("*.c")), example / "model_model.c"]
    _compile(gcc, [*M4, "-std=c99", *STRICT], c_sources, [root / "include", root / "src", example], tmp_path)


# ---------------------------------------------------------------------------------------------
# Arduino: library.properties and layout per the library specification 1.5 (rev. 2.2); the sketch
# compiled with arm-none-eabi-g++ and run on the host, exact.

ARDUINO_REQUIRED = (
    "name",
    "version",
    "author",
    "maintainer",
    "sentence",
    "paragraph",
    "category",
    "url",
    "architectures",
)
ARDUINO_CATEGORIES = {
    "Display",
    "Communication",
    "Signal Input/Output",
    "Sensors",
    "Device Control",
    "Timing",
    "Data Storage",
    "Data Processing",
    "Other",
}


def _properties(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not a key=value line: {line!r}"
            props[key.strip()] = value.strip()
    return props


def test_arduino_library_properties_and_layout(packages) -> None:
    root = packages["arduino"]
    raw = (root / "library.properties").read_bytes()
    raw.decode("utf-8")  # the spec: UTF-8
    props = _properties(raw.decode())
    missing = [k for k in ARDUINO_REQUIRED if not props.get(k)]
    assert not missing, f"library.properties lacks {missing}"
    name = props["name"]
    assert len(name) <= 63 and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.-]*", name) and not name.startswith("Arduino")
    assert re.fullmatch(r"\d+\.\d+\.\d+", props["version"]) and props["version"] == __version__
    assert props["category"] in ARDUINO_CATEGORIES
    assert props["architectures"] == "*" or all(
        re.fullmatch(r"[a-z0-9_]+", a) for a in props["architectures"].split(",")
    )
    assert re.fullmatch(r"https?://\S+", props["url"])
    # 1.5 layout: sources under src/ (compiled recursively), nothing compilable at the root, no utility/.
    assert (root / "src").is_dir() and not (root / "utility").exists()
    assert not [p for p in root.iterdir() if p.suffix in (".c", ".cpp", ".h")]
    for header in props["includes"].split(","):
        assert (root / "src" / header.strip()).is_file()
    examples = [p for p in (root / "examples").iterdir() if p.is_dir()]
    assert examples and all((e / f"{e.name}.ino").is_file() for e in examples)


def _arduino_build(root: Path, out: Path, gxx: str, gcc: str, flags: list[str], cflags: list[str]) -> list[Path]:
    """Compile the library and the StreamSensor example as the Arduino builder does: .ino -> .cpp with
    Arduino.h in front, the library's src/ on the include path, .c files as C."""
    example = root / "examples/StreamSensor"
    sketch = out / "StreamSensor.ino.cpp"
    out.mkdir(parents=True, exist_ok=True)
    sketch.write_text("#include <Arduino.h>\n" + (example / "StreamSensor.ino").read_text())
    includes = [SHIMS / "arduino", root / "src", example]
    objects = _compile(gxx, [*flags, "-std=gnu++17", "-fno-exceptions", "-fno-rtti", *STRICT], [sketch], includes, out)
    c_sources = [*sorted((root / "src").glob("*.c")), example / "model_model.c"]
    return objects + _compile(gcc, [*cflags, "-std=gnu11", *STRICT], c_sources, [root / "src", example], out)


def test_arduino_sketch_compiles_for_cortex_m4(packages, tmp_path) -> None:
    _arduino_build(packages["arduino"], tmp_path, _tool("arm-none-eabi-g++"), _tool("arm-none-eabi-gcc"), M4, M4)


def test_arduino_sketch_streams_adc_frames_exactly_on_the_host(host_packages, tmp_path) -> None:
    """The sketch itself, built on the host with a Serial/analogRead stand-in fed from stdin: every
    step's printed scores equal the integer reference's over a 300-frame stream."""
    gxx, gcc = _tool("g++"), _tool("gcc")
    objects = _arduino_build(host_packages["arduino"], tmp_path / "obj", gxx, gcc, ["-O1"], ["-O1"])
    objects += _compile(
        gxx, ["-std=gnu++17", *STRICT], [SHIMS / "arduino/arduino_host.cpp"], [SHIMS / "arduino"], tmp_path
    )
    exe = tmp_path / "sketch"
    _run([gxx, *objects, "-o", exe])

    model = packaging.example_model(None)
    steps, channels = 300, model.config.input_size
    readings = np.random.default_rng(5).integers(0, 1024, size=(steps, channels))
    readings[:4] = [[0] * channels, [1023] * channels, [3] * channels, [1020] * channels]  # the int8 extremes
    proc = _run([exe], input="\n".join(" ".join(map(str, r)) for r in readings) + "\n")
    frames_q = ((readings >> 2) - 128).astype(np.int8)  # the sketch's adc_to_int8
    want = _reference(model, frames_q)
    lines = proc.stdout.splitlines()
    assert len(lines) == steps
    for t, line in enumerate(lines):
        index, _, rest = line.partition(":")
        values = rest.split()
        assert int(index) == t and values[-2] == "class"
        got = np.array([int(v) for v in values[:-2]], dtype=np.int8)
        assert np.array_equal(got, want[t]), f"step {t}: {got} != {want[t]}"
        assert int(values[-1]) == int(np.argmax(want[t]))


# ---------------------------------------------------------------------------------------------
# ESP-IDF: idf_component.yml per the component manager's manifest reference; CMakeLists.txt
# configured with a stand-in idf_component_register and built on the host.

IDF_MANIFEST_KEYS = {
    "version",
    "description",
    "url",
    "repository",
    "documentation",
    "issues",
    "discussion",
    "license",
    "maintainers",
    "tags",
    "targets",
    "dependencies",
    "files",
    "examples",
    "repository_info",
}


def test_esp_idf_component_manifest(packages) -> None:
    root = packages["esp-idf"]
    manifest = yaml.safe_load((root / "idf_component.yml").read_text())
    assert set(manifest) <= IDF_MANIFEST_KEYS, set(manifest) - IDF_MANIFEST_KEYS
    assert manifest["version"] == __version__ and re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["license"] == "Apache-2.0" and manifest["description"] and manifest["url"].startswith("https://")
    assert all(re.fullmatch(r"[a-z0-9_-]+", t) for t in manifest["tags"])
    assert set(manifest["dependencies"]) == {"idf"} and re.fullmatch(
        r"[<>=~^]*\d+(\.\d+)*", manifest["dependencies"]["idf"]
    )
    main = yaml.safe_load((root / "examples/stream/main/idf_component.yml").read_text())
    dep = main["dependencies"]["edgernn"]
    assert (root / "examples/stream/main" / dep["path"] / "idf_component.yml").resolve() == (
        root / "idf_component.yml"
    ).resolve()


def test_esp_idf_component_configures_and_builds(host_packages, tmp_path) -> None:
    """Both CMakeLists.txt (the component's, the example's main) through a stand-in of ESP-IDF's
    idf_component_register: every runtime source registered, the library and main.c compile (host gcc)."""
    # The component folder's name is the component's name: "edgernn", as in components/edgernn.
    component = tmp_path / "edgernn"
    shutil.copytree(host_packages["esp-idf"], component)
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(
        f"""cmake_minimum_required(VERSION 3.16)
project(idf_stand_in C)
# ESP-IDF's signature (SRCS, INCLUDE_DIRS, PRIV_INCLUDE_DIRS, REQUIRES, PRIV_REQUIRES): one static library
# per component named after its folder; paths relative to the component.
function(idf_component_register)
    cmake_parse_arguments(ARG "" "" "SRCS;INCLUDE_DIRS;PRIV_INCLUDE_DIRS;REQUIRES;PRIV_REQUIRES" ${{ARGN}})
    get_filename_component(name ${{CMAKE_CURRENT_SOURCE_DIR}} NAME)
    list(TRANSFORM ARG_SRCS PREPEND ${{CMAKE_CURRENT_SOURCE_DIR}}/)
    foreach(src IN LISTS ARG_SRCS)
        if(NOT EXISTS ${{src}})
            message(FATAL_ERROR "idf_component_register: no such source ${{src}}")
        endif()
    endforeach()
    add_library(${{name}} STATIC ${{ARG_SRCS}})
    target_include_directories(${{name}} PUBLIC ${{ARG_INCLUDE_DIRS}} PRIVATE ${{ARG_PRIV_INCLUDE_DIRS}})
    target_compile_options(${{name}} PRIVATE -Wall -Wextra -Werror)
    set(COMPONENT_LIB ${{name}} PARENT_SCOPE)
    set_property(GLOBAL APPEND PROPERTY registered_sources ${{ARG_SRCS}})
endfunction()
add_subdirectory("{component}" edgernn_component)
add_subdirectory("{component / "examples/stream/main"}" main)
target_include_directories(main PRIVATE "{SHIMS / "esp-idf"}")
target_link_libraries(main PRIVATE edgernn)  # the manifest's dependency
get_property(sources GLOBAL PROPERTY registered_sources)
file(WRITE ${{CMAKE_BINARY_DIR}}/registered.txt "${{sources}}")
"""
    )
    build = tmp_path / "build"
    _run([_tool("cmake"), "-S", project, "-B", build, "-DCMAKE_C_COMPILER=gcc"])
    _run([_tool("cmake"), "--build", build])
    registered = {Path(s).name for s in (build / "registered.txt").read_text().split(";")}
    assert {p.name for p in (component / "src").glob("*.c")} <= registered
    assert {"main.c", "model_model.c"} <= registered


# ---------------------------------------------------------------------------------------------
# Zephyr: module.yml where west looks, against the module schema; sample.yaml against twister's;
# the sample's main.c with the runtime compiled by arm-none-eabi-gcc.

# Written from Zephyr's module.yml schema (scripts/zephyr_module.py) and "Modules" documentation.
ZEPHYR_MODULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"},
        "build": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cmake": {"type": "string"},
                "kconfig": {"type": "string"},
                "cmake-ext": {"type": "boolean"},
                "kconfig-ext": {"type": "boolean"},
                "sysbuild-cmake": {"type": "string"},
                "sysbuild-kconfig": {"type": "string"},
                "sysbuild-cmake-ext": {"type": "boolean"},
                "sysbuild-kconfig-ext": {"type": "boolean"},
                "depends": {"type": "array", "items": {"type": "string"}},
                "settings": {"type": "object"},
            },
        },
        "samples": {"type": "array", "items": {"type": "string"}},
        "tests": {"type": "array", "items": {"type": "string"}},
        "boards": {"type": "array", "items": {"type": "string"}},
        "blobs": {"type": "array"},
        "package-managers": {"type": "object"},
        "security": {"type": "object"},
    },
}
# Written from twister's sample.yaml schema (scripts/schemas/twister/testsuite-schema.yaml), the keys used.
_TWISTER_TEST = {
    "type": "object",
    "properties": {
        "tags": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "harness": {"type": "string"},
        "harness_config": {"type": "object"},
        "integration_platforms": {"type": "array", "items": {"type": "string"}},
        "platform_allow": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "extra_configs": {"type": "array", "items": {"type": "string"}},
        "min_ram": {"type": "integer"},
        "min_flash": {"type": "integer"},
    },
}
ZEPHYR_SAMPLE_SCHEMA = {
    "type": "object",
    "required": ["sample", "tests"],
    "additionalProperties": False,
    "properties": {
        "sample": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
        },
        "common": _TWISTER_TEST,
        "tests": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"},
            "additionalProperties": _TWISTER_TEST,
        },
    },
}


def _check_zephyr_module(root: Path) -> dict:
    """west discovers a module by ``zephyr/module.yml`` at the project's root."""
    module = yaml.safe_load((root / "zephyr" / "module.yml").read_text())
    jsonschema.validate(module, ZEPHYR_MODULE_SCHEMA)
    build = module["build"]
    assert (root / build["cmake"] / "CMakeLists.txt").is_file() and (root / build["kconfig"]).is_file()
    assert "config EDGERNN\n" in (root / build["kconfig"]).read_text()
    return module


def test_zephyr_module_and_sample(packages) -> None:
    root = packages["zephyr"]
    module = _check_zephyr_module(root)
    assert module["samples"]
    for sample in module["samples"]:
        folder = root / sample
        jsonschema.validate(yaml.safe_load((folder / "sample.yaml").read_text()), ZEPHYR_SAMPLE_SCHEMA)
        assert "CONFIG_EDGERNN=y" in (folder / "prj.conf").read_text().splitlines()
        cmake = (folder / "CMakeLists.txt").read_text()
        assert "find_package(Zephyr" in cmake
        for src in re.findall(r"src/\w+\.c", cmake):
            assert (folder / src).is_file()


def test_repository_root_is_a_west_module() -> None:
    """The repository itself, as a project of a west manifest."""
    _check_zephyr_module(REPO)


def test_zephyr_sample_compiles_for_cortex_m4(packages, tmp_path) -> None:
    root = packages["zephyr"]
    sample = root / "samples/stream/src"
    sources = [sample / "main.c", sample / "model_model.c", *sorted((root / "src").glob("*.c"))]
    includes = [SHIMS / "zephyr", root / "include", root / "src", sample]
    _compile(_tool("arm-none-eabi-gcc"), [*M4, "-std=gnu11", *STRICT], sources, includes, tmp_path)


# ---------------------------------------------------------------------------------------------
# CMake: install, then find_package(edgernn) in a consumer that runs a model exactly.


def test_cmake_package_installs_and_a_find_package_consumer_runs_exact(packages, tmp_path) -> None:
    cmake = _tool("cmake")
    root = packages["cmake"]
    prefix = tmp_path / "prefix"
    _run([cmake, "-S", root, "-B", tmp_path / "build", f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_C_COMPILER=gcc"])
    _run([cmake, "--build", tmp_path / "build", "-j2"])
    _run([cmake, "--install", tmp_path / "build"])
    config = next(prefix.rglob("edgernnConfig.cmake"))
    assert (config.parent / "edgernnConfigVersion.cmake").is_file()
    assert (prefix / "include/edgernn/edgernn.h").is_file()

    consumer = tmp_path / "consumer"
    _run([cmake, "-S", root / "examples/find_package", "-B", consumer, f"-DCMAKE_PREFIX_PATH={prefix}"])
    _run([cmake, "--build", consumer])
    model = packaging.example_model(None)
    frames = np.random.default_rng(7).integers(-128, 128, size=(300, model.config.input_size)).astype(np.int8)
    vectors = write_test_vectors(model, tmp_path / "vectors.bin", [frames[:200], frames[200:]])
    proc = _run([consumer / "model_selftest", vectors])
    assert proc.stdout.splitlines()[-1] == "selftest: 300 vectors compared, 0 mismatches"

    # The version file refuses another major.minor.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.14)\nproject(x C)\nfind_package(edgernn 9.0 REQUIRED)\n"
    )
    refused = subprocess.run(
        [cmake, "-S", bad, "-B", bad / "b", f"-DCMAKE_PREFIX_PATH={prefix}"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "edgernn" in refused.stderr


def test_packaging_never_imports_torch() -> None:
    """`edgernn package` runs where only the runtime side of edgernn is installed."""
    import sys

    code = (
        "import sys\nfrom edgernn import packaging\n"
        "for e in packaging.ECOSYSTEMS:\n    packaging.package_files(e)\nprint('torch' in sys.modules)"
    )
    proc = _run([sys.executable, "-c", code])
    assert proc.stdout.split() == ["False"]
