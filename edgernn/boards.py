"""The targets edgernn exports C for: compiler, core flags, emulator and QEMU board of each.

Plain data with no tools and no I/O: the C exporter reads it to write a target's build files, and
:mod:`edgernn.toolchain` (building), :mod:`edgernn.emulation` (running under QEMU) and
:mod:`edgernn.targets` (measuring a model) build on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from edgernn.errors import EdgeRNNError
from edgernn.types import EXPORT_TARGETS

Kind = Literal["bare-metal", "linux", "host"]


@dataclass(frozen=True)
class Target:
    """How to build for and run on one target."""

    name: str  #: as in :data:`edgernn.types.EXPORT_TARGETS`
    description: str
    kind: Kind
    cc: str  #: C compiler
    cflags: tuple[str, ...]  #: core and ABI flags (compile and link)
    tool_prefix: str  #: of binutils (size, nm, objdump)
    packages: tuple[str, ...]  #: Debian packages of the compiler and C library
    emulator: tuple[str, ...] = ()  #: command prefix that runs a program (empty: native)
    emulator_package: str | None = None
    board: str | None = None  #: directory under firmware_export/boards (bare-metal)
    ldflags: tuple[str, ...] = ()
    #: A clock this core typically runs at in a product, and a chip that runs it there: only for
    #: estimating time from instruction counts (QEMU counts instructions, not cycles).
    typical_clock_mhz: float | None = None
    typical_chip: str | None = None

    @property
    def bare_metal(self) -> bool:
        return self.kind == "bare-metal"

    @property
    def processor_class(self) -> str:
        """What kind of processor this is, for reports: a microcontroller or a Linux application processor."""
        return {"bare-metal": "MCU", "linux": "application processor (Linux)", "host": "host"}[self.kind]

    def tool(self, name: str) -> str:
        """A binutils program of this target (``size``, ``nm``, ``objdump``)."""
        return f"{self.tool_prefix}{name}"


_ARM_NONE_EABI = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi")
_BARE_METAL_LDFLAGS = ("--specs=nano.specs", "--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections")


def _cortex_m(name: str, core: str, board: str, flags: tuple[str, ...], clock_mhz: float, chip: str) -> Target:
    """A bare-metal core on a QEMU machine; ``board`` is both the machine and its boards/ directory."""
    return Target(
        name=name,
        description=f"{core} on QEMU {board}",
        kind="bare-metal",
        cc="arm-none-eabi-gcc",
        cflags=("-mthumb", *flags),
        tool_prefix="arm-none-eabi-",
        packages=_ARM_NONE_EABI,
        emulator=(
            "qemu-system-arm",
            "-M",
            board,
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "null",
        ),
        emulator_package="qemu-system-arm",
        board=board,
        ldflags=_BARE_METAL_LDFLAGS,
        typical_clock_mhz=clock_mhz,
        typical_chip=chip,
    )


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="host",
            description="this machine",
            kind="host",
            cc=os.environ.get("CC", "cc"),
            cflags=(),
            tool_prefix="",
            packages=("gcc", "binutils"),
        ),
        _cortex_m("cortex-m0", "Cortex-M0", "microbit", ("-mcpu=cortex-m0",), 48, "STM32F0"),
        _cortex_m("cortex-m3", "Cortex-M3", "mps2-an385", ("-mcpu=cortex-m3",), 72, "STM32F103"),
        _cortex_m(
            "cortex-m4",
            "Cortex-M4F",
            "mps2-an386",
            ("-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
            168,
            "STM32F407",
        ),
        _cortex_m(
            "cortex-m7",
            "Cortex-M7",
            "mps2-an500",
            ("-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
            216,
            "STM32F746",
        ),
        _cortex_m(
            "cortex-m33",
            "Cortex-M33 (FPU, DSP)",
            "mps2-an505",
            ("-mcpu=cortex-m33", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
            110,
            "STM32L552",
        ),
        _cortex_m(
            "cortex-m55",
            "Cortex-M55 (MVE)",
            "mps3-an547",
            ("-mcpu=cortex-m55", "-mfloat-abi=hard"),
            160,
            "Alif Ensemble E3, high-efficiency core",
        ),
        Target(
            name="aarch64",
            description="64-bit Raspberry Pi OS (Cortex-A72) under qemu-aarch64",
            kind="linux",
            cc="aarch64-linux-gnu-gcc",
            cflags=("-mcpu=cortex-a72",),
            tool_prefix="aarch64-linux-gnu-",
            packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"),
            emulator=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "cortex-a72"),
            emulator_package="qemu-user",
            ldflags=("-static", "-no-pie"),
            typical_clock_mhz=1500,
            typical_chip="Raspberry Pi 4, BCM2711",
        ),
        Target(
            # The Pi 5's core has the dot-product extension: the NEON port's SDOT kernel. QEMU runs
            # it as "max", the CPU with every extension QEMU implements (SDOT included).
            name="cortex-a76",
            description="64-bit Raspberry Pi OS on a Cortex-A76 (SDOT) under qemu-aarch64 -cpu max",
            kind="linux",
            cc="aarch64-linux-gnu-gcc",
            cflags=("-mcpu=cortex-a76",),
            tool_prefix="aarch64-linux-gnu-",
            packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"),
            emulator=("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "max"),
            emulator_package="qemu-user",
            ldflags=("-static", "-no-pie"),
            typical_clock_mhz=2400,
            typical_chip="Raspberry Pi 5, BCM2712",
        ),
        Target(
            # Every Raspberry Pi from the Pi 2 on runs 32-bit Raspberry Pi OS (armhf) code built
            # for ARMv7-A with NEON/VFPv4; QEMU emulates the Pi 2's Cortex-A7.
            name="armv7",
            description="32-bit Raspberry Pi OS (ARMv7-A, NEON) under qemu-arm",
            kind="linux",
            cc="arm-linux-gnueabihf-gcc",
            cflags=("-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard"),
            tool_prefix="arm-linux-gnueabihf-",
            packages=("gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross"),
            emulator=("qemu-arm", "-L", "/usr/arm-linux-gnueabihf", "-cpu", "cortex-a7"),
            emulator_package="qemu-user",
            ldflags=("-static", "-no-pie"),
            typical_clock_mhz=900,
            typical_chip="Raspberry Pi 2, BCM2836",
        ),
    )
}
assert tuple(sorted(TARGETS)) == tuple(sorted(EXPORT_TARGETS)), "TARGETS must cover edgernn.types.EXPORT_TARGETS"

#: The targets that run under emulation (everything but the host).
EMULATED_TARGETS: tuple[str, ...] = tuple(name for name in EXPORT_TARGETS if name != "host")


def get_target(target: str | Target) -> Target:
    """The :class:`Target` called ``target`` (or ``target`` itself)."""
    if isinstance(target, Target):
        return target
    try:
        return TARGETS[target]
    except KeyError:
        raise EdgeRNNError(f"unknown target {target!r}", f"choose one of {', '.join(TARGETS)}") from None
