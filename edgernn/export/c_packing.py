"""The C runtime's packed int8 FC layers: weights laid out for the core, requantization constants per gate,
and the accumulator bound that makes the short requantization exact (``ernn_fc_params`` in
``firmware_export/include/edgernn/ernn_s8.h``, the kernels in ``src/ernn_fc_s8.c`` and ``ports/``).

Layout (packing ``K``): rows padded with zero rows to ``R`` (a multiple of 4; a cell pads every gate block
to ``round4(hidden)`` rows so gate ``g`` starts at row ``g * round4(hidden)``), columns padded with zeros
to ``C`` (a multiple of ``K``); weight ``[o][i]`` goes to ``((o // 4) * (C // K) + i // K) * 4K + (o % 4) * K
+ i % K``: per 4-row block and K columns, K bytes of each row in turn. ``K`` is 16 on cores with integer
MVE (Cortex-M55: one 16-byte vector per row), on AArch64 (NEON) and x86-64 (AVX2), and 4 elsewhere
(one word per row: one LDM feeds the DSP kernel's 16 multiply-accumulates; the portable kernel reads the same layout).

The short requantization (``bounded``), proven in ``ernn_fc_s8.c``: with ``left = max(shift, 0) + 1``,
``SMMULR(acc << left, M)`` equals TFLite's ``SRDHM(acc << (left - 1), M)`` exactly when the doubled value
is an int32, i.e. ``|acc| * 2^left < 2^31`` for every reachable accumulator; then no saturation of the
reference's left shift or of ``bias + dot`` can occur either. :func:`accumulator_bound` is the exact
largest ``|bias + sum_i w_i x_i|`` over int8 inputs ``x_i`` in [-128, 127] (each term at its extreme, as the
inputs are independent), so the check holds for every input the layer can see. Where it fails for any
row, or an int16 layer has a non-zero output zero point, the layer keeps the general (saturating) form.

The doubled form (``doubled``, ``bounded`` 2 in C; packing 4 only, whose widened input is int16): the bias is
stored as ``2 * bias`` and the kernel widens the input to ``2 * x``, so the accumulator is ``2 * acc`` and the
requantization shifts it left by ``left - 1`` instead of ``left`` (no shift at all for the gates, shift <= 0):
``(2 * acc) << (left - 1) == acc << left``, the same operand to SMMULR. It needs no more than the short form's
bound: ``|2 * bias|`` and every partial sum ``|2 * (bias + dot)|`` stay below ``2^31`` because the bound holds
for the bias alone (all-zero input) and for every input (the extremes are taken term by term), and ``|2 * x|
<= 256`` fits int16.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgernn.ir import FullyConnected

#: Packing of each export target (ERNN_FC_PACK_K of the core it is compiled for).
_PACK_K = {"cortex-m55": 16, "aarch64": 16, "cortex-a76": 16}
DEFAULT_PACK_K = 4
#: ``platform.machine()`` of the 64-bit hosts whose compilers define ERNN_FC_PACK_K 16 (x86-64, AArch64).
_WIDE_HOSTS = frozenset({"x86_64", "amd64", "aarch64", "arm64"})


def pack_k(target: str) -> int:
    """The packing ``K`` the C runtime uses when compiled for ``target`` (``host``: this machine)."""
    if target == "host":
        return 16 if platform.machine().lower() in _WIDE_HOSTS and sys.maxsize > 2**32 else DEFAULT_PACK_K
    return _PACK_K.get(target, DEFAULT_PACK_K)


#: Targets whose build has the DSP port (its widen doubles the input in the same pass, its gate kernel drops a
#: shift per row): exports for them store doubled biases. Elsewhere the doubled form would only add a step.
_DOUBLED_INPUT_TARGETS = frozenset({"cortex-m4", "cortex-m7", "cortex-m33", "armv7"})


def doubles_input(target: str) -> bool:
    """True if exports for ``target`` use the doubled form (``bounded`` 2) where the short form is proven."""
    return target in _DOUBLED_INPUT_TARGETS


def round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def accumulator_bound(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Per row, the largest ``|bias + sum_i weight[i] * x[i]|`` over all int8 inputs (exact, int64)."""
    w = weight.astype(np.int64)
    b = bias.astype(np.int64)
    high = b + np.maximum(127 * w, -128 * w).sum(axis=1)
    low = b + np.minimum(127 * w, -128 * w).sum(axis=1)
    return np.maximum(np.abs(high), np.abs(low))


def short_requantization_exact(bound: np.ndarray, shift: np.ndarray) -> bool:
    """True if ``|acc| * 2^(max(shift, 0) + 1) < 2^31`` for every row (``bound``, ``shift`` per row)."""
    left = np.maximum(shift.astype(np.int64), 0) + 1
    return bool(np.all(bound.astype(object) * (2 ** left.astype(object)) < 2**31))


@dataclass(frozen=True)
class PackedFC:
    """The arrays and fields of one packed ``ernn_fc_params``."""

    weight: np.ndarray  # int8, flat, in packed order
    bias: np.ndarray  # int32 per padded row
    multiplier: np.ndarray  # int32 per group (group_rows > 0) or per padded row
    shift: np.ndarray
    in_features: int
    out_features: int  # rows written: gates * stride for a cell's FC, the true count for a head
    output_zero_point: int
    packing: int
    group_rows: int
    bounded: bool
    #: No weight equals -128 (checked here, over every row). A bounded layer then carries ``bounded = 3``
    #: (:func:`bounded_field`): the NEON port's Cortex-A72 kernel may add two int8 products in an int16
    #: lane, exact when |w| <= 127 (two products of at most 127 * 128 sum to at most 32,512).
    no_int8_min: bool = False
    doubled: bool = False  # bias stored doubled, the kernel doubles the input (``bounded`` 2 in C)

    @property
    def folded_bias(self) -> np.ndarray:
        """The bias itself (``bias`` holds it doubled when ``doubled``)."""
        return self.bias // 2 if self.doubled else self.bias


def pack_fc(fcs: Sequence[FullyConnected], k: int, *, gate_blocks: bool, doubled_input: bool = False) -> PackedFC:
    """Pack the given FCs (one per gate, same input) as one layer for packing ``k``.

    ``gate_blocks``: a cell's gate FCs, each padded to a multiple of 4 rows and written whole; otherwise
    one FC (a head) whose padding rows are computed but not written. ``doubled_input``: use the doubled
    form where the short form is proven (packing 4 only; see :func:`doubles_input`).
    """
    zero_points = {fc.output_zero_point for fc in fcs}
    assert len(zero_points) == 1, "stacked FCs share their output zero point"
    zero_point = zero_points.pop()
    n_in = fcs[0].in_features
    stride = round_up(max(fc.out_features for fc in fcs), 4)
    cols = round_up(n_in, k)
    rows = stride * len(fcs)
    weight = np.zeros((rows, cols), np.int8)
    bias = np.zeros(rows, np.int32)
    per_row_m = np.zeros(rows, np.int32)
    per_row_s = np.zeros(rows, np.int32)
    uniform = True
    bound = np.zeros(rows, np.int64)
    for g, fc in enumerate(fcs):
        lo = g * stride
        hi = lo + fc.out_features
        weight[lo:hi, :n_in] = fc.weight
        bias[lo:hi] = fc.folded_bias
        per_row_m[lo:hi] = fc.multiplier
        per_row_s[lo:hi] = fc.shift
        # padding rows take their gate's constants, so a uniform gate stays one group
        per_row_m[hi : lo + stride] = fc.multiplier[0]
        per_row_s[hi : lo + stride] = fc.shift[0]
        uniform = uniform and len(set(zip(fc.multiplier.tolist(), fc.shift.tolist()))) == 1
        bound[lo:hi] = accumulator_bound(fc.weight, fc.folded_bias)
    # The proof is for int8 inputs; a 16x8 layer (a 16-bit model input) takes the general form in C.
    bounded = (
        short_requantization_exact(bound, per_row_s)
        and (fcs[0].output_bits == 8 or zero_point == 0)
        and fcs[0].input_bits == 8
    )
    packed = weight.reshape(rows // 4, 4, cols // k, k).transpose(0, 2, 1, 3).reshape(-1)
    if uniform:
        multiplier, shift, group_rows = per_row_m[::stride].copy(), per_row_s[::stride].copy(), stride
    else:
        multiplier, shift, group_rows = per_row_m, per_row_s, 0
    out_features = rows if gate_blocks else fcs[0].out_features
    no_int8_min = bool(np.all(weight != -128))
    doubled = doubled_input and bounded and k == 4
    if doubled:  # |bias| <= the bound < 2^30 (the module docstring): 2 * bias is an int32
        bias = bias * 2
    return PackedFC(
        packed, bias, multiplier, shift, n_in, out_features, zero_point, k, group_rows, bounded, no_int8_min, doubled
    )


def bounded_field(p: PackedFC) -> int:
    """``ernn_fc_params.bounded``: 0 (bound not proven: general form), 1 (proven: short form), 2 (proven,
    bias doubled: the kernel doubles the input; packing 4 only) or 3 (proven, and no weight is -128: the
    NEON pair kernel may run; packing 16 only, as doubling is packing 4 only, so 2 and 3 never meet)."""
    if not p.bounded:
        return 0
    if p.doubled:
        return 2
    return 3 if p.no_int8_min and p.packing == 16 else 1


def unpack_weight(p: PackedFC) -> np.ndarray:
    """The padded row-major weight matrix of a packed layer (inverse of the layout; for tests)."""
    k = p.packing
    cols = round_up(p.in_features, k)
    rows = p.bias.size
    return p.weight.reshape(rows // 4, cols // k, 4, k).transpose(0, 2, 1, 3).reshape(rows, cols)
