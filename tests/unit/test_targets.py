"""edgernn.targets: the target table, output parsers, footprint consistency, the QEMU boards
(argv, exit status, faults, stack painting) and the instruction-counting plugin.

Tests that build or run need the cross toolchains; they fail (never skip) with the install
hint when one is missing (`make test` installs them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgernn import targets as T
from edgernn.types import EXPORT_TARGETS

# ---------------------------------------------------------------------------------------------
# The table and errors
# ---------------------------------------------------------------------------------------------


def test_table_covers_every_export_target():
    assert set(T.TARGETS) == set(EXPORT_TARGETS)
    for name, target in T.TARGETS.items():
        assert target.name == name
        if target.bare_metal:
            assert target.board is not None
            assert target.emulator[0] == "qemu-system-arm"
            assert ("-M", target.board) == target.emulator[1:3]
            assert target.cflags[0] == "-mthumb" and target.cflags[1].startswith("-mcpu=cortex-m")
            T.board_files(target)  # every board's files exist
    hard_float = {n for n, t in T.TARGETS.items() if "-mfloat-abi=hard" in t.cflags}
    assert hard_float == {"cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "armv7"}
    assert T.TARGETS["cortex-m33"].board == "mps2-an505"  # not an521: its first core has no FPU


def test_unknown_target():
    with pytest.raises(T.EdgeRNNError, match="unknown target"):
        T.get_target("cortex-m85")


def test_missing_toolchain_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda program: None)
    with pytest.raises(T.ToolchainMissingError, match="apt-get install --no-install-recommends gcc-arm-none-eabi"):
        T.require_tools("cortex-m4")
    with pytest.raises(T.ToolchainMissingError, match="gcc-aarch64-linux-gnu"):
        T.require_tools("aarch64")


def test_missing_emulator_names_the_package(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda program: None if program.startswith("qemu") else real(program))
    with pytest.raises(T.ToolchainMissingError, match="qemu-user"):
        T.require_tools("armv7")
    T.require_tools("armv7", run=False)  # building needs no emulator


def test_semihosting_arguments_are_escaped_and_checked(tmp_path):
    build = T.Build(T.TARGETS["cortex-m4"], tmp_path / "p.elf", (), (), None)
    cmd = T.run_command(build, ["a,b", "c"])
    assert cmd[cmd.index("-semihosting-config") + 1] == "enable=on,target=native,arg=p.elf,arg=a,,b,arg=c"
    with pytest.raises(T.TargetRunError, match="spaces"):
        T.run_command(build, ["with space"])
    linux = T.Build(T.TARGETS["aarch64"], tmp_path / "p", (), (), None)
    cmd = T.run_command(linux, ["x"], plugin="lib.so,range=0x1-0x2")
    assert cmd[:3] == ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    assert cmd[-2:] == [str((tmp_path / "p").resolve()), "x"]
    assert cmd[cmd.index("-plugin") + 1] == "lib.so,range=0x1-0x2"


_LAYERS = ("edgernn.boards", "edgernn.toolchain", "edgernn.emulation", "edgernn.targets")


def _modules_loaded_by(code: str) -> set[str]:
    """The edgernn modules a fresh interpreter has loaded after running ``code``."""
    report = "import sys; print(' '.join(m for m in sys.modules if m.startswith('edgernn')))"
    proc = subprocess.run([sys.executable, "-c", f"{code}\n{report}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


@pytest.mark.parametrize("layer", range(len(_LAYERS)))
def test_target_modules_import_only_the_layers_below(layer: int) -> None:
    loaded = _modules_loaded_by(f"import {_LAYERS[layer]}")
    assert not loaded & set(_LAYERS[layer + 1 :])
    assert "edgernn.export.c" not in loaded and "edgernn.runtime" not in loaded


def test_the_c_exporter_needs_only_the_board_data(tmp_path: Path) -> None:
    """Exporting (board files, build flags, golden vectors from the reference) loads no tool and no runtime."""
    code = f"""
from edgernn.export import ExportOptions, export_model
from edgernn.testing import random_model
from edgernn.types import CellType, ModelConfig
model = random_model(ModelConfig(cell=CellType.LSTM, input_size=3, hidden_size=4, output_size=2), seed=0)
for target, fp in (("cortex-m4", False), ("armv7", True)):
    export_model(model, "c", {str(tmp_path)!r} + "/" + target, ExportOptions(target=target, float_weights=fp))
"""
    loaded = _modules_loaded_by(code)
    assert "edgernn.boards" in loaded and "edgernn.reference" in loaded
    assert not loaded & {"edgernn.toolchain", "edgernn.emulation", "edgernn.targets"}
    assert not any(m == "edgernn.runtime" or m.startswith("edgernn.runtime.") for m in loaded)
    assert (tmp_path / "cortex-m4" / "selftest" / "vectors.bin").is_file()


# ---------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------

SIZE_OUTPUT = """\
   text\t   data\t    bss\t    dec\t    hex\tfilename
  13648\t    120\t    916\t  14684\t   395c\thello.elf
    100\t      4\t      8\t    112\t     70\tlibm.a (ex x.o)
"""


def test_parse_size_output():
    sizes = T.parse_size_output(SIZE_OUTPUT)
    assert sizes["hello.elf"] == T.SizeInfo(13648, 120, 916)
    assert sizes["libm.a"] == T.SizeInfo(100, 4, 8)
    info = sizes["hello.elf"]
    assert info.flash == 13648 + 120 and info.ram == 120 + 916
    assert (info + sizes["libm.a"]).flash == 13648 + 120 + 104
    with pytest.raises(T.TargetBuildError):
        T.parse_size_output("garbage")


def test_parse_stack_usage():
    text = "a.c:3:6:f\t16\tstatic\nsub/b.c:10:13:g\t0\tstatic\nb.c:12:5:h\t40\tdynamic,bounded\n"
    usage = T.parse_stack_usage(text)
    assert usage["f"].bytes == 16 and usage["g"].bytes == 0
    assert usage["h"].qualifier == "dynamic,bounded"


def test_parse_selftest_and_stack_report():
    text = "x\nselftest: 120 vectors compared, 0 mismatches\n"
    assert T.parse_selftest_output(text) == (120, 0)
    assert T.parse_selftest_output("selftest: 5 vectors compared, 1 mismatch\n") == (5, 1)
    with pytest.raises(T.TargetRunError):
        T.parse_selftest_output("cannot open vectors.bin\n")
    assert T.parse_stack_report("board: stack high-water 524 of 4096 bytes\n") == (524, 4096)
    assert T.parse_stack_report("nothing") is None


def test_parse_plugin_and_nm_output():
    text = (
        "board: stack high-water 232 of 32768 bytes\ninsncount: total 93165\n"
        "insncount: range 0x4a4-0x50a 510\ninsncount: window 690 opened 2\n"
    )
    count = T.parse_plugin_output(text)
    assert count.total == 93165 and count.ranges == {(0x4A4, 0x50A): 510}
    assert (count.window, count.windows_opened) == (690, 2)
    with pytest.raises(T.TargetRunError):
        T.parse_plugin_output("")
    nm = "0000049d 00000002 T count_start\n000004a4 00000066 t work\n         U undefined\n00000100 T nosize\n"
    syms = T.parse_nm_output(nm)
    assert syms["count_start"] == T.Symbol("count_start", 0x49C, 2)  # Thumb bit cleared
    assert syms["work"].size == 0x66 and "nosize" not in syms and "undefined" not in syms


MAP_EXCERPT = """\
Discarded input sections

 .text.unused   0x00000000       0x20 /tmp/b/a.o

Linker script and memory map

 .text          0x00000100       0x40 /tmp/b/a.o
 .text.a_long_function_name
                0x00000140       0x24 /tmp/b/a.o
 .rodata.table  0x00000164       0x10 /tmp/b/b.o
 .data.x        0x20000000        0x4 /tmp/b/a.o
 .bss.y         0x20000004        0x8 /tmp/b/b.o
 COMMON         0x2000000c        0x4 /tmp/b/b.o
 .debug_info    0x00000000      0x100 /tmp/b/a.o
"""


def test_parse_map_contributions():
    sizes = T.parse_map_contributions(MAP_EXCERPT)
    assert sizes["/tmp/b/a.o"] == T.SizeInfo(0x40 + 0x24, 4, 0)  # discarded and debug sections excluded
    assert sizes["/tmp/b/b.o"] == T.SizeInfo(0x10, 0, 8 + 4)


# ---------------------------------------------------------------------------------------------
# Real builds on the boards (need the toolchains)
# ---------------------------------------------------------------------------------------------

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned sink;

__attribute__((noinline)) static void deep(unsigned bytes)
{
    volatile unsigned char big[2048];
    for (unsigned i = 0; i < sizeof big && i < bytes; ++i) {
        big[i] = (unsigned char)i;
    }
    sink = big[bytes % sizeof big];
}

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; ++i) {
        printf("argv[%d]=%s\n", i, argv[i]);
    }
    if (argc > 1 && strcmp(argv[1], "fault") == 0) {
        __asm__ volatile("udf #1");
    }
    if (argc > 1 && strcmp(argv[1], "deep") == 0) {
        deep(2000);
    }
    FILE *f = argc > 2 ? fopen(argv[2], "rb") : NULL;
    if (f != NULL) {
        char line[64] = {0};
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        printf("read %u bytes: %s\n", (unsigned)n, line);
    }
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""


@pytest.fixture(scope="module")
def m4_program(tmp_path_factory):
    d = tmp_path_factory.mktemp("m4")
    (d / "prog.c").write_text(PROGRAM)
    return T.build_program("cortex-m4", [d / "prog.c"], d / "prog.elf")


def test_board_passes_argv_files_and_exit_status(m4_program, tmp_path):
    (tmp_path / "in.txt").write_text("hello from the host")
    r = T.run_program(m4_program, ["7", "in.txt"], cwd=tmp_path, timeout=60)
    assert r.returncode == 7
    assert "argv[0]=prog.elf\nargv[1]=7\nargv[2]=in.txt\n" in r.stdout
    assert "read 19 bytes: hello from the host" in r.stdout
    assert T.run_program(m4_program, ["0"], timeout=60).returncode == 0


def test_board_reports_faults(m4_program):
    r = T.run_program(m4_program, ["fault"], timeout=60)
    assert r.returncode == T.BOARD_FAULT_STATUS
    assert "board: fault, exception 3 at pc=0x" in r.stderr


def test_stack_painting_measures_depth(m4_program):
    shallow = T.parse_stack_report(T.run_program(m4_program, ["0"], timeout=60).output)
    deep = T.parse_stack_report(T.run_program(m4_program, ["deep"], timeout=60).output)
    assert shallow is not None and deep is not None
    assert shallow[1] == deep[1] == 32 * 1024
    assert deep[0] >= shallow[0] and deep[0] >= 2048  # the 2 KiB array was touched
    usage = T.stack_usage(m4_program)
    deep_frames = [u.bytes for name, u in usage.items() if name.split(".")[0] == "deep"]  # or a clone, deep.constprop.0
    assert deep_frames and max(deep_frames) >= 2048 and "Reset_Handler" in usage


def test_footprint_is_consistent(m4_program):
    total = T.elf_size(m4_program.executable, "cortex-m4")
    objects = T.elf_size(m4_program.objects, "cortex-m4")
    prog_c = [s for s in m4_program.sources if s.name == "prog.c"]
    linked = T.linked_sizes(m4_program, prog_c)
    assert 0 < linked.text <= objects.text < total.text
    assert total.flash == total.text + total.data and total.ram == total.data + total.bss
    everything = T.parse_map_contributions(m4_program.map_file.read_text())
    summed = sum(info.flash for info in everything.values())
    assert 0.95 * total.flash <= summed <= total.flash  # the map accounts for (nearly) every byte


@pytest.mark.parametrize("target", [n for n in T.EMULATED_TARGETS if n != "cortex-m4"])
def test_every_board_and_linux_target_runs(target, tmp_path):
    (tmp_path / "prog.c").write_text(PROGRAM)
    build = T.build_program(target, [tmp_path / "prog.c"], tmp_path / "prog")
    (tmp_path / "in.txt").write_text("x")
    r = T.run_program(build, ["3", "in.txt"], cwd=tmp_path, timeout=60)
    assert r.returncode == 3, r.output
    assert "argv[1]=3\nargv[2]=in.txt\n" in r.stdout and "read 1 bytes: x" in r.stdout
    if T.TARGETS[target].bare_metal:
        assert T.parse_stack_report(r.output) is not None


def test_runtime_code_size_sums_objects():
    size = T.runtime_code_size("cortex-m4", opt="-Os")
    assert size.text > 0
    larger = T.runtime_code_size("cortex-m4", opt="-O2")
    assert larger.text >= size.text * 0.8  # -Os is the small one (allowing for noise in inlining)


# ---------------------------------------------------------------------------------------------
# Instruction counting
# ---------------------------------------------------------------------------------------------

# A function of exactly 51 instructions (50 nops and a return) in each instruction set.
_WORK_ASM = {
    "thumb": ".thumb\\n.thumb_func\\n",
    "arm32": "",
    "a64": "",
}
_RETURN = {"thumb": "bx lr", "arm32": "bx lr", "a64": "ret"}

COUNTED = r"""
#include <stdio.h>

void work(void);
__asm__(".text\n.balign 4\n.global work\n.type work, %%function\n%(prefix)swork:\n"
        ".rept 50\n\tnop\n.endr\n\t%(ret)s\n.size work, .-work\n");

__attribute__((noinline)) void caller(int n)
{
    for (int i = 0; i < n; ++i) {
        work();
    }
}

int main(void)
{
    caller(10);
    printf("done\n");
    return 0;
}
"""


def _isa(target: str) -> str:
    return {"aarch64": "a64", "armv7": "arm32"}.get(target, "thumb")


@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m4", "cortex-m55", "aarch64", "armv7"])
def test_plugin_counts_exactly(target, tmp_path):
    isa = _isa(target)
    (tmp_path / "c.c").write_text(COUNTED % {"prefix": _WORK_ASM[isa], "ret": _RETURN[isa]})
    build = T.build_program(target, [tmp_path / "c.c"], tmp_path / "c")
    syms = T.symbols(build)
    work = syms["work"]
    resume = T.return_addresses(build, "caller", "work")
    first, _ = T.count_instructions(
        build, ranges=[(work.address, work.address + work.size)], start=[work.address], stop=resume
    )
    assert first.ranges[(work.address, work.address + work.size)] == 10 * 51
    assert first.window == 10 * 51 and first.windows_opened == 10
    second, _ = T.count_instructions(build, start=[work.address], stop=resume)
    assert second.total == first.total  # repeatable


def test_plugin_is_built_once():
    assert T.plugin_path() == T.plugin_path()
    assert T.plugin_path().stat().st_size > 0


def test_counting_needs_an_emulator(tmp_path):
    build = T.Build(T.TARGETS["host"], tmp_path / "p", (), (), None)
    with pytest.raises(T.TargetRunError):
        T.count_instructions(build)


def test_firmware_root_has_boards_and_tools():
    root = T.firmware_root()
    assert (root / "tools" / "insncount.c").is_file()
    assert isinstance(root, Path) and (root / "boards" / "common" / "cortexm_sections.ld").is_file()


# ---------------------------------------------------------------------------------------------
# A model's step: instructions, stack and footprint from one build
# ---------------------------------------------------------------------------------------------


def test_measure_step_is_consistent():
    from edgernn.testing import random_model
    from edgernn.types import ModelConfig

    small = random_model(ModelConfig(cell="gru", input_size=8, hidden_size=16, output_size=4), seed=3)
    m = T.measure_step(small, "cortex-m4", steps=16)
    assert m.steps == 16 and m.target == "cortex-m4"
    # The step function is a thin wrapper: the work is in runtime callees, which the window counts.
    assert m.instructions_per_step > 10 * m.self_instructions_per_step > 0
    assert m.total_instructions > 16 * m.instructions_per_step
    # Footprint: the model file holds at least the weights; the runtime has no static data.
    assert m.weight_bytes is not None and m.model_size.flash - m.runtime_size.flash >= m.weight_bytes
    assert m.model_size.ram == 0 and m.instance_ram == m.state_bytes + m.scratch_bytes
    assert m.program_size.flash > m.model_size.flash > m.runtime_size.flash > 0
    # Painted stack of one step: at least model_step's own frame, far below the stack region.
    assert m.step_stack_bytes is not None
    assert m.stack_usage["model_step"].bytes <= m.step_stack_bytes < 4096
    # Cached per model: the bench's two calls reuse this measurement.
    assert T.measure_step(small, "cortex-m4", steps=16) is m
    fp = T.footprint(small, "cortex-m4", steps=16)
    assert (fp.flash_bytes, fp.ram_bytes, fp.stack_bytes) == (m.model_size.flash, m.instance_ram, m.step_stack_bytes)
    assert fp.runtime_code_bytes == m.runtime_size.flash
    json_ready = m.to_json()
    assert json_ready["model_size"]["flash"] == m.model_size.flash  # type: ignore[index]

    larger = random_model(ModelConfig(cell="gru", input_size=8, hidden_size=32, output_size=4), seed=3)
    assert T.count_step_instructions(larger, "cortex-m4", steps=16) > 2 * m.instructions_per_step


def test_bidirectional_models_have_no_step_cost():
    from edgernn.testing import random_model
    from edgernn.types import ModelConfig

    model = random_model(ModelConfig(cell="gru", input_size=4, hidden_size=8, bidirectional=True), seed=1)
    with pytest.raises(T.EdgeRNNError, match="bidirectional"):
        T.measure_step(model, "cortex-m4")


def test_object_cache_sees_the_ports_headers(tmp_path):
    """src/*.c include ../ports/<core>/*.h (firmware_export's layout): editing a port's header must
    recompile, not reuse the cached object built from the old header."""
    import uuid

    T.require_tools("host")
    from edgernn.toolchain import compile_objects

    token = uuid.uuid4().hex[:8]  # a fresh source: nothing cached for it before this test
    (tmp_path / "src").mkdir()
    (tmp_path / "ports" / "core").mkdir(parents=True)
    source = tmp_path / "src" / "unit.c"
    source.write_text(f'#include "../ports/core/port.h"\nint value_{token}(void) {{ return PORT_VALUE; }}\n')
    header = tmp_path / "ports" / "core" / "port.h"
    objects = []
    for value in (1234567, 7654321):
        header.write_text(f"#define PORT_VALUE {value}\n")
        (obj,) = compile_objects("host", [source], tmp_path / f"out-{value}")
        objects.append(obj.read_bytes())
    assert objects[0] != objects[1]


def test_object_cache_shares_the_runtime_between_exports(tmp_path, monkeypatch):
    """Exports of two models carry the same runtime files but for a comment (the model's sha256), each in its own
    folder: the second export compiles only its model's file, the runtime's objects come from the first."""
    from edgernn.export.c import ExportOptions, export
    from edgernn.testing import random_model
    from edgernn.toolchain import cache_dir, compile_objects, export_sources
    from edgernn.types import ModelConfig

    T.require_tools("cortex-m0")
    monkeypatch.setenv("EDGERNN_CACHE", str(tmp_path / "cache"))
    built: list[dict[str, bytes]] = []
    cached: list[int] = []
    for seed in (1, 2):
        folder = tmp_path / f"export-{seed}"
        model = random_model(ModelConfig(cell="gru", input_size=8, hidden_size=16, output_size=4), seed=seed)
        export(model, folder, ExportOptions(prefix="kws", target="cortex-m0"))
        sources, include_dirs = export_sources(folder)
        objects = compile_objects("cortex-m0", sources, tmp_path / f"out-{seed}", include_dirs=include_dirs)
        built.append({o.name: o.read_bytes() for o in objects})
        cached.append(len(list((cache_dir() / "objects").iterdir())))
    runtime = sorted(name for name in built[0] if name.startswith("ernn_"))
    assert len(runtime) >= 5 and all(built[0][n] == built[1][n] for n in runtime)
    assert built[0]["kws_model.o"] != built[1]["kws_model.o"]
    assert cached == [len(built[0]), len(built[0]) + 1]  # the second export added its model's object alone
