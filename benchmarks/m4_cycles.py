"""An instruction-mix ESTIMATE of Cortex-M4 cycles per step (not a measurement).

QEMU counts instructions exactly but models no pipeline. This module runs the step harness once more with
the counting plugin's per-address counters (``pcs=``, firmware_export/tools/insncount.c), disassembles the
program, and weights every executed instruction with the Cortex-M4 Technical Reference Manual's
instruction timings (ARM DDI 0439, r0p1, "Instruction set summary"), assuming zero-wait-state memory:

* data processing, shifts, extends, bit fields, saturation, SIMD (QADD16, SXTB16, PKHBT, ...), IT: 1
* MUL, SMULxy, SMLAxy, SMLAD, SMMUL, SMMLA(R), SMULL, SMLAL, UMULL, UMLAL: 1; MLA, MLS: 2
* SDIV, UDIV: 2 to 12, taken as 7
* LDR/STR (single): 2, or 1 when the instruction before it in the program is a single load or store
  (the TRM's pipelining of neighbouring loads and stores; judged statically, by address)
* LDRD/STRD: 3; LDM/STM/PUSH/POP: 1 + registers (+ 2 for a POP or LDM that loads PC)
* branches (B, BL, BX, BLX, CBZ/CBNZ): 1 + P when taken, 1 when not; P (pipeline refill, 1 to 3) taken as 2;
  a conditional branch is taken as often as execution does not reach the next instruction (by address)
* TBB/TBH: 2 + P

Flash wait states (an STM32 at 120 MHz has several, hidden in part by its accelerator) are not modelled:
the estimate is for holding figures beside published milliseconds, clearly labelled.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from edgernn import targets

P = 2  # pipeline refill after a taken branch (the TRM: 1 to 3)
_SINGLE_MEMORY = re.compile(r"^(ldr|str)(b|h|sb|sh|ex|exb|exh|t|bt|ht|sbt|sht)?(\.w|\.n)?$")
_BRANCH = re.compile(r"^(b|bl|blx|bx)(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?(\.w|\.n)?$")
_ONE_CYCLE_MULTIPLY = re.compile(
    r"^(mul|muls|smul(bb|bt|tb|tt|wb|wt)|smla(bb|bt|tb|tt|wb|wt)|smlal|smull|umull|umlal|smuad|smuadx|smusd|"
    r"smlad|smladx|smlsd|smlald|smmul|smmulr|smmla|smmlar|smmls|smmlsr|usad8|usada8)(\.w)?$"
)
_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{4}(?: [0-9a-f]{4})?)\s+(\S+)\s*(.*)$")


def _registers(operands: str) -> int:
    """Registers in a register list ``{r4, r5, r6}`` or ``{r4-r7}``."""
    m = re.search(r"\{([^}]*)\}", operands)
    if m is None:
        return 1
    count = 0
    for part in m.group(1).split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(re.sub(r"\D", "", x) or 0) for x in part.split("-"))
            count += hi - lo + 1
        elif part:
            count += 1
    return count


def instruction_cycles(mnemonic: str, operands: str, previous_is_single_memory: bool, taken: float) -> float:
    """Estimated cycles of one execution of an instruction (see the module docstring)."""
    m = mnemonic.lower()
    base = re.sub(r"(\.w|\.n)$", "", m)
    if _SINGLE_MEMORY.match(m):
        return 1.0 if previous_is_single_memory else 2.0
    if base in ("ldrd", "strd"):
        return 3.0
    if base.startswith(("ldm", "stm", "push", "pop")):
        loads_pc = "pc" in operands and (base.startswith("ldm") or base.startswith("pop"))
        return 1.0 + _registers(operands) + (P if loads_pc else 0)
    if base in ("tbb", "tbh"):
        return 2.0 + P
    if base in ("cbz", "cbnz") or _BRANCH.match(m):
        return 1.0 + taken * P
    if base in ("mla", "mls"):
        return 2.0
    if base in ("sdiv", "udiv"):
        return 7.0
    if _ONE_CYCLE_MULTIPLY.match(m):
        return 1.0
    return 1.0


def estimate_cycles(counts: Mapping[int, int], listing: Mapping[int, tuple[str, str]]) -> float:
    """Estimated cycles of the executed instructions ``counts`` (address -> executions)."""
    addresses = sorted(listing)
    following = {a: b for a, b in zip(addresses, addresses[1:])}
    previous = {b: a for a, b in zip(addresses, addresses[1:])}
    total = 0.0
    for address, n in counts.items():
        if address not in listing:
            continue
        mnemonic, operands = listing[address]
        before = previous.get(address)
        prev_single = before is not None and bool(_SINGLE_MEMORY.match(listing[before][0].lower()))
        nxt = following.get(address)
        conditional = mnemonic.lower() in ("cbz", "cbnz") or bool(
            re.match(r"^b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)(\.w|\.n)?$", mnemonic.lower())
        )
        if conditional and nxt is not None:
            taken = max(0.0, min(1.0, 1.0 - counts.get(nxt, 0) / n))
        else:
            taken = 1.0
        total += n * instruction_cycles(mnemonic, operands, prev_single, taken)
    return total


def disassemble(build: targets.Build, lo: int, hi: int) -> dict[int, tuple[str, str]]:
    out = subprocess.run(
        [
            build.target.tool("objdump"),
            "-d",
            f"--start-address={lo:#x}",
            f"--stop-address={hi:#x}",
            str(build.executable),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listing = {}
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            listing[int(m.group(1), 16)] = (m.group(3), m.group(4))
    return listing


def estimate_step_cycles(export_dir: Path, build_dir: Path, steps: int) -> float:
    """Estimated Cortex-M4 cycles per step of an export (its step harness is built into ``build_dir``)."""
    info = targets.export_info(export_dir)
    build = targets.build_step_harness(export_dir, "cortex-m4", build_dir, steps=steps)
    syms = targets.symbols(build)
    step = syms[f"{info.prefix}_step"]
    code = [s for name, s in syms.items() if name.startswith(("ernn_", f"{info.prefix}_")) and s.size > 0]
    lo = min(s.address for s in code) & ~1
    hi = max(s.address + s.size for s in code)
    resume = targets.return_addresses(build, "edgernn_harness_steps", f"{info.prefix}_step")
    spec = [str(targets.plugin_path()), f"pcs={lo:#x}-{hi:#x}", f"start={step.address:#x}"]
    spec += [f"stop={a:#x}" for a in resume]
    run = targets.run_program(build, plugin=",".join(spec))
    count = targets.parse_plugin_output(run.output)
    counts = {int(a, 16): int(n) for a, n in re.findall(r"^insncount: pc 0x([0-9a-f]+) (\d+)$", run.output, re.M)}
    listing = disassemble(build, lo, hi)
    executed = sum(counts.values())
    if count.window is None or executed == 0:
        raise targets.TargetRunError("the profile run counted nothing")
    # The per-address counts include the runtime code run outside the step (init, reset): scale the mix.
    return estimate_cycles(counts, listing) / executed * count.window / steps
