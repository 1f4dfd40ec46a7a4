"""A second, independent implementation of the integer cells: scalar Python ints, loop by loop,
the way C computes them. The conformance tests require the vectorized numpy reference to equal
it exactly, so an indexing or broadcasting slip in either one shows up."""

from __future__ import annotations

from edgernn.fixedpoint import SIGMOID_TABLE_UINT16
from edgernn.ir import ElmanCellQ, FullyConnected, GRUCellQ, HeadTanh, LSTMCellQ, QParams, Rescale

TABLE = [int(v) for v in SIGMOID_TABLE_UINT16]


def clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    return (a * b + (1 << 30)) >> 31


def rdpot(x: int, e: int) -> int:
    q, r = divmod(abs(x), 1 << e)
    if e and 2 * r >= (1 << e):
        q += 1
    return q if x >= 0 else -q


def mbqm(x: int, m: int, s: int) -> int:
    shifted = x << s if s > 0 else x
    assert -(2**31) <= shifted < 2**31
    return rdpot(srdhm(shifted, m), -s if s < 0 else 0)


def fc(f: FullyConnected, x: list[int]) -> list[int]:
    lo, hi = (-32768, 32767) if f.output_bits == 16 else (-128, 127)
    out = []
    for o in range(f.out_features):
        acc = int(f.folded_bias[o])  # the C form: zero point folded into the bias
        for i, xi in enumerate(x):
            acc += int(f.weight[o, i]) * xi
        out.append(clamp(mbqm(acc, int(f.multiplier[o]), int(f.shift[o])) + f.output_zero_point, lo, hi))
    return out


def lut_input(x: int, mult: int, shift: int) -> int:
    if mult == 0:
        mult, shift = 3 << shift, 0
    return (x * mult + ((1 << (shift - 1)) if shift > 0 else 0)) >> shift


def sigmoid(x: int, mult: int = 0, shift: int = 0) -> int:
    v = lut_input(x, mult, shift)
    a = abs(v)
    if a >> 9 >= 255:
        r = 0x7FFF << 10
    else:
        ua, ub = TABLE[a >> 9], TABLE[(a >> 9) + 1]
        r = (ua << 9) + (a & 0x1FF) * (ub - ua)
    r = r + (1 << 9) if v >= 0 else (1 << 25) - r + (1 << 9) - 1
    return r >> 10


def tanh(x: int, mult: int = 0, shift: int = 0) -> int:
    v = lut_input(x, mult, shift)
    a = abs(v)
    if a >> 8 >= 255:
        r = 0xFFFF << 8
    else:
        ua, ub = TABLE[a >> 8], TABLE[(a >> 8) + 1]
        r = (ua << 8) + (a & 0xFF) * (ub - ua)
    r = r - (1 << 23) + (1 << 7) if v >= 0 else -r + (1 << 23) + (1 << 7) - 1
    return r >> 8


def sat16(v: int) -> int:
    return clamp(v, -32768, 32767)


def mul(a: int, b: int, r: Rescale, zp: int = 0, lo: int = -32768, hi: int = 32767) -> int:
    return clamp(mbqm(a * b, r.multiplier, r.shift) + zp, lo, hi)


def pre(xf: FullyConnected, hf: FullyConnected, x: list[int], h: list[int]) -> list[int]:
    return [sat16(a + b) for a, b in zip(fc(xf, x), fc(hf, h))]


def rnn_step(c: ElmanCellQ, x: list[int], h: list[int], q: QParams) -> list[int]:
    if c.relu:  # relu(pre): requantized to int8, clamped below at the zero point (real 0)
        return [
            clamp(mbqm(p, c.to_hidden.multiplier, c.to_hidden.shift) + q.zero_point, q.zero_point, 127)
            for p in pre(c.x_fc, c.h_fc, x, h)
        ]
    return [
        clamp(mbqm(tanh(p), c.to_hidden.multiplier, c.to_hidden.shift) + q.zero_point, -128, 127)
        for p in pre(c.x_fc, c.h_fc, x, h)
    ]


def gru_step(c: GRUCellQ, x: list[int], h: list[int], h15: list[int], q: QParams) -> tuple[list[int], list[int]]:
    r = [sigmoid(p) for p in pre(c.x_r, c.h_r, x, h)]
    z = [sigmoid(p) for p in pre(c.x_z, c.h_z, x, h)]
    xn, hn = fc(c.x_n, x), fc(c.h_n, h)
    h_new, h15_new = [], []
    for j in range(len(h)):
        n = tanh(sat16(xn[j] + mul(r[j], hn[j], c.reset_mul)))
        blended = sat16(mul(z[j], h15[j], c.gate_mul) + mul(32767 - z[j], n, c.gate_mul))
        h15_new.append(blended)
        h_new.append(clamp(mbqm(blended, c.to_hidden.multiplier, c.to_hidden.shift) + q.zero_point, -128, 127))
    return h_new, h15_new


def lstm_step(c: LSTMCellQ, x: list[int], h: list[int], cell: list[int], q: QParams) -> tuple[list[int], list[int]]:
    i = [sigmoid(p) for p in pre(c.x_i, c.h_i, x, h)]
    f = [sigmoid(p) for p in pre(c.x_f, c.h_f, x, h)]
    g = [tanh(p) for p in pre(c.x_g, c.h_g, x, h)]
    o = [sigmoid(p) for p in pre(c.x_o, c.h_o, x, h)]
    mult, shift = c.cell_tanh_params
    h_new, c_new = [], []
    for j in range(len(h)):
        cj = sat16(mul(f[j], cell[j], c.forget_mul) + mul(i[j], g[j], c.input_mul))
        if c.cell_clip is not None:
            cj = clamp(cj, -c.cell_clip, c.cell_clip)
        c_new.append(cj)
        h_new.append(mul(o[j], tanh(cj, mult, shift), c.output_mul, q.zero_point, -128, 127))
    return h_new, c_new


def head_tanh(t: HeadTanh, h: list[int], q: QParams) -> list[int]:
    """tanh before the head: int8 -> int16 Q3.12 -> Q0.15 tanh -> int8 at the tanh's output_q."""
    out = []
    for v in h:
        q312 = sat16(mbqm(v - q.zero_point, t.to_q312.multiplier, t.to_q312.shift))
        out.append(clamp(mbqm(tanh(q312), t.to_int8.multiplier, t.to_int8.shift) + t.output_q.zero_point, -128, 127))
    return out
