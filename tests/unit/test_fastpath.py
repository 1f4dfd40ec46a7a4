"""The compiled fast path of ``Stream.step``/``Stream.run`` on the "c" backend (``_fastpath.c``).

Every test compares a stream that takes the fast path with one forced onto the ctypes path
(``EDGERNN_FASTPATH=0``): outputs must be identical bit for bit, errors and warnings the same, and
state checkpoints interchangeable.
"""

from __future__ import annotations

import dataclasses
import sysconfig
import warnings

import numpy as np
import pytest

from edgernn.errors import EdgeRNNError, InputDataError
from edgernn.ir import QParams, QuantizedRNN
from edgernn.quant import QuantizeOptions
from edgernn.runtime import Stream, c_backend
from edgernn.testing import random_inputs, random_model
from edgernn.types import CellType, ModelConfig, OutputMode

FEATURES = [
    ModelConfig(cell=cell, input_size=7, hidden_size=24, num_layers=layers, output_size=out)
    for cell in CellType
    for layers, out in [(1, 5), (2, None)]
]
# 19 features: on x86-64 the row quantizer takes values sixteen (AVX-512) or eight (AVX2) at a time, then the
# last ones; 43 features: sixteen twice, eight, then three; outputs dequantized sixteen at a time (AVX-512).
WIDE = ModelConfig(cell=CellType.LSTM, input_size=19, hidden_size=24, output_size=5)
WIDER = ModelConfig(cell=CellType.LSTM, input_size=43, hidden_size=20)
FEATURES += [WIDE, WIDER]
TOKENS = ModelConfig(cell=CellType.LSTM, vocab_size=30, embedding_dim=6, hidden_size=16, output_size=30)


def _normalized(model: QuantizedRNN, seed: int = 0) -> QuantizedRNN:
    """The model with input statistics: raw features are (x - mean) / std before quantization."""
    rng = np.random.default_rng(seed)
    f = model.config.input_size
    mean = rng.normal(size=f).astype(np.float32) * 10
    std = rng.uniform(0.05, 20, size=f).astype(np.float32)
    return dataclasses.replace(model, input_mean=mean, input_std=std)


def _pair(model: QuantizedRNN, monkeypatch: pytest.MonkeyPatch) -> tuple[Stream, Stream]:
    """(fast, ctypes) streams of the same model; the fast one must really have the fast path."""
    fast = Stream(model, backend="c")
    assert fast._fast is not None, f"the fast path was not built: {c_backend.fastpath_unavailable()}"
    with monkeypatch.context() as m:
        m.setenv("EDGERNN_FASTPATH", "0")
        slow = Stream(model, backend="c")
    assert slow._fast is None
    return fast, slow


def _hard_inputs(model: QuantizedRNN, steps: int, seed: int) -> np.ndarray:
    """Raw features that exercise the quantizer: ordinary values, values that saturate int8 both
    ways, exact half-way points of the input scale (round half to even), zeros and float32 extremes
    (whose normalization may overflow: numpy's path)."""
    cfg = model.config
    xs = random_inputs(cfg, steps, seed=seed, scale=3.0)
    q = model.input_q
    halves = ((np.arange(-140, 140) + 0.5 - q.zero_point) * q.scale).astype(np.float32)
    xs[::7] *= 1000.0  # saturates
    xs[1::11] = np.resize(halves, xs[1::11].shape)
    if model.input_mean is not None:  # raw values: what normalizes to the values above
        xs = xs * model.input_std + model.input_mean
    xs[2::13] = 0.0
    xs[3::17] = np.float32(3.0e38) * np.sign(xs[3::17] + 0.5)
    return xs.astype(np.float32)


@pytest.mark.parametrize("normalize", [False, True], ids=["plain", "normalized"])
@pytest.mark.parametrize("config", FEATURES, ids=lambda c: f"{c.cell.value}-{c.num_layers}")
def test_long_streams_are_bit_identical(config: ModelConfig, normalize: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_model(config, seed=3)
    model = _normalized(model) if normalize else model
    fast, slow = _pair(model, monkeypatch)
    xs = _hard_inputs(model, 3000, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # normalizing 3e38 overflows (compared below)
        stepped = np.stack([fast.step(x) for x in xs[:1500]])
        stepped_slow = np.stack([slow.step(x) for x in xs[:1500]])
        ran, ran_slow = fast.run(xs[1500:]), slow.run(xs[1500:])
    assert stepped.dtype == ran.dtype == np.float32 and ran.shape == (1500, config.output_width)
    assert np.array_equal(stepped, stepped_slow) and np.array_equal(ran, ran_slow)
    assert len(np.unique(stepped)) > 20, "outputs must vary for the comparison to mean anything"
    for a, b in zip(fast.get_state().cells, slow.get_state().cells):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # and the int8 outputs, through the int8 API on the same streams
    xq = model.input_q.quantize(np.clip(random_inputs(config, 500, seed=8), -5, 5))
    assert np.array_equal(fast.run_int8(xq), slow.run_int8(xq))


SIXTEEN_BIT = [
    (config, options)
    for config in (FEATURES[0], FEATURES[3], FEATURES[4], WIDE, WIDER)
    for options in (
        QuantizeOptions(input_bits=16, head_output_bits=8),
        QuantizeOptions(input_bits=8, head_output_bits=16),
        QuantizeOptions(input_bits=16, head_output_bits=16),
    )
    if config.output_size is not None or options.head_output_bits == 8  # an int16 output needs a head
]


@pytest.mark.parametrize(
    ("config", "options"),
    SIXTEEN_BIT,
    ids=lambda v: (
        f"{v.cell.value}-{v.num_layers}-{v.input_size}in"
        if isinstance(v, ModelConfig)
        else f"in{v.input_bits}-out{v.head_output_bits}"
    ),
)
def test_sixteen_bit_inputs_and_heads_take_the_fast_path_bit_identically(
    config: ModelConfig, options: QuantizeOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 16-bit model input (quantized to int16 in the extension, its vector forms included: 19 and 43
    features) and an int16 head (dequantized as QParams.dequantize): the same floats as the ctypes path
    and the integer reference over long free-running streams, with int16 saturation and half-way points."""
    model = _normalized(random_model(config, seed=3, options=options))
    assert (model.input_bits, model.output_bits) == (options.input_bits, options.head_output_bits)
    fast, slow = _pair(model, monkeypatch)
    reference = Stream(model, backend="reference")
    xs = _hard_inputs(model, 2000, seed=5)
    q = model.input_q
    edges = np.array([-32768.5, -32767.5, -0.5, 0.5, 1.5, 32766.5, 32767.5, 40000.0], np.float64) * q.scale
    xs[4::9] = np.resize(edges.astype(np.float32), xs[4::9].shape) * model.input_std + model.input_mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # normalizing 3e38 overflows (compared below)
        stepped = np.stack([fast.step(x) for x in xs[:700]])
        ran = fast.run(xs[700:])
        expected = [np.stack([s.step(x) for x in xs[:700]]) for s in (slow, reference)]
        expected_run = [s.run(xs[700:]) for s in (slow, reference)]
    assert all(np.array_equal(stepped, e) for e in expected) and all(np.array_equal(ran, e) for e in expected_run)
    assert len(np.unique(ran)) > 20, "outputs must vary for the comparison to mean anything"
    if model.input_bits == 16:
        with np.errstate(over="ignore"):
            quantized = q.quantize(((xs - model.input_mean) / model.input_std).astype(np.float32), 16)
        assert quantized.min() == -32768 and quantized.max() == 32767  # both saturations were exercised
    # the extension itself answered (None would mean the Python path gave the figures above)
    probe = Stream(model, backend="c")
    probe._hold()
    clean = random_inputs(config, 300, seed=9) * model.input_std + model.input_mean
    assert probe._fast.step(clean[0]) is not None and probe._fast.run(clean) is not None
    for a, b in zip(fast.get_state().cells, slow.get_state().cells):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("vectors", [2, 1, 0], ids=["avx512", "avx2", "scalar"])
@pytest.mark.parametrize("input_bits", [8, 16])
@pytest.mark.parametrize("width", [1, 7, 16, 19, 43])
def test_every_row_quantizer_gives_the_integers_of_qparams(width: int, input_bits: int, vectors: int) -> None:
    """Each row quantizer the CPU has (``vectors`` caps the choice: AVX-512 with the row's last values in
    masked lanes, AVX2 eight at a time, the scalar loop), with and without normalization, on exact ties
    (round half to even), values either side of them, saturation both ways, zeros and float32 extremes, in
    every lane position: QParams.quantize's integers."""
    module = c_backend.fastpath_module()
    assert module is not None, c_backend.fastpath_unavailable()
    q = QParams(scale=3 / 128, zero_point=0 if input_bits == 16 else -5)  # ties (k + 0.5) * scale are float32
    ties = (np.arange(-200, 200) + 0.5) * q.scale * (300 if input_bits == 16 else 1)
    values = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), [0.0, -0.0, 3e38, -3e38]])
    rng = np.random.default_rng(width)
    for normalize in (False, True):
        mean = rng.normal(size=width).astype(np.float32) if normalize else None
        std = rng.uniform(0.5, 2.0, size=width).astype(np.float32) if normalize else None
        quantizer = module.Stepper(  # the quantizer alone: its run (address 1) is never called
            run=1, state=np.zeros(1, np.int8), tokens=False, in_width=width, vocab=0, mean=mean, std=std,
            scale=q.scale, zero_point=float(q.zero_point), table=np.zeros(256, np.float32), out_width=1,
            input_bits=input_bits, vectors=vectors,
        )  # fmt: skip
        for start in range(0, values.size, width):
            row = np.resize(np.roll(values, -start)[:width], width).astype(np.float32)
            with np.errstate(over="ignore"):  # 3e38 * std: inf, which the fast path leaves to Python
                raw = row * std + mean if normalize else row  # what normalizes to (about) the values above
                normalized = ((raw - mean) / std).astype(np.float32) if normalize else raw
            got = quantizer.quantize(raw)
            if not np.isfinite(normalized).all():
                assert got is None  # the Python path's case (numpy's overflow warning)
                continue
            assert np.array_equal(got, q.quantize(normalized, input_bits)), (normalize, start)


@pytest.mark.parametrize("scale", [3 / 128, 0.1, 2.0**-126, 2.0**-140, 1.5 * 2.0**100], ids=str)
def test_int8_outputs_dequantize_as_qparams_by_table_or_by_products(scale: float) -> None:
    """The AVX-512 dequantizer multiplies (q - zero_point) by the float32 scale where the outputs' table is
    exactly those products (checked entry by entry when the Stepper is made: any normal float32 scale), else
    looks the table up: QParams.dequantize's floats either way, for every int8 value in every lane, zero
    points at both ends; a table that differs from the products in one entry (no QParams gives one) is
    looked up, that entry included."""
    module = c_backend.fastpath_module()
    assert module is not None, c_backend.fastpath_unavailable()
    outputs = np.roll(np.tile(np.arange(-128, 128, dtype=np.int8), 3), 5)  # 768 values, each in several lanes
    for zero_point in (-128, -3, 0, 127):
        q = QParams(scale=scale, zero_point=zero_point)
        for perturbed in (False, True):
            table = q.dequantize(np.arange(-128, 128))
            if perturbed:  # the entry of q = zero_point + 1 (or - 1): +-scale, finite whatever the scale
                k = zero_point + 128 + (1 if zero_point < 127 else -1)
                table[k] = np.nextafter(table[k], np.float32(np.inf))
            stepper = module.Stepper(  # the dequantizer alone: its run (address 1) is never called
                run=1, state=np.zeros(1, np.int8), tokens=False, in_width=1, vocab=0, mean=None, std=None,
                scale=1.0, zero_point=0.0, table=table, out_width=1, out_scale=q.scale,
                out_zero_point=float(zero_point),
            )  # fmt: skip
            assert stepper.dequantizes_by_product == (not perturbed and np.float32(scale) >= np.finfo(np.float32).tiny)
            assert np.array_equal(stepper.dequantize(outputs), table[outputs.astype(np.int64) + 128], equal_nan=True)


def _float32_near_ties(count: int, seed: int, beyond: bool = False) -> list[tuple[np.float32, float]]:
    """(x, scale) pairs, both float32 (as QParams keeps scales), whose quotient rounds to one integer in
    float32, as the AVX-512 quantizer first takes it (x times the float32 1 / scale), and to another in double
    (quantize's): scale is x / (k + 0.5) rounded to float32, or a neighbour, so that the quotient lies within
    a float32 ulp or two of a half-integer. With `beyond`, quotients of 512 to 60,000 (beyond int8: both
    saturate) that lie further from the half-integer than the int8 near-tie bound (0.5 - 2^-12 from the
    integer: not redone in double), the scale up to three float32 steps from the rounded quotient."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, (20000 if beyond else 50) * count).astype(np.float32)
    k = rng.integers(-60000, 60000, x.size) if beyond else rng.integers(-120, 120, x.size)
    scale = (x / (k + 0.5)).astype(np.float32)
    nudge = rng.integers(-3, 4, x.size) if beyond else rng.integers(-1, 2, x.size)  # float32 steps up or down
    for step in range(3):
        scale = np.where(nudge > step, np.nextafter(scale, np.float32(np.inf)), scale)
        scale = np.where(nudge < -step, np.nextafter(scale, np.float32(0)), scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_inverse = x * (np.float32(1) / scale)  # float32 throughout
        differs = (scale > 0) & (np.rint(by_inverse) != np.rint(x.astype(np.float64) / scale.astype(np.float64)))
        if beyond:
            differs &= np.abs(by_inverse - np.rint(by_inverse)) < np.float32(0.5 - 2.0**-12)
    picked = np.flatnonzero(differs)[:count]
    assert picked.size == count
    return [(x[i], float(scale[i])) for i in picked]


@pytest.mark.parametrize("vectors", [2, 1], ids=["avx512", "avx2"])
@pytest.mark.parametrize("width", [7, 16, 19])
def test_the_float32_quotient_takes_the_double_near_ties(width: int, vectors: int) -> None:
    """The AVX-512 and AVX2 quantizers multiply by the float32 inverse scale and redo values near a
    half-integer in double: on quotients that float32 alone rounds to the other integer, in every lane
    position of full and masked vectors, they give QParams.quantize's integers; so they do for scales whose
    inverse is no normal float32 (every lane in double)."""
    module = c_backend.fastpath_module()
    assert module is not None, c_backend.fastpath_unavailable()
    for n, (x, scale) in enumerate(_float32_near_ties(40, seed=width) + _float32_near_ties(10, width, beyond=True)):
        q = QParams(scale=scale, zero_point=n % 9 - 4)
        quantizer = module.Stepper(  # the quantizer alone: its run (address 1) is never called
            run=1, state=np.zeros(1, np.int8), tokens=False, in_width=width, vocab=0, mean=None, std=None,
            scale=q.scale, zero_point=float(q.zero_point), table=np.zeros(256, np.float32), out_width=1,
            vectors=vectors,
        )  # fmt: skip
        row = np.roll(np.resize(np.array([x, -x, x * np.float32(2)], np.float32), width), n)
        assert np.array_equal(quantizer.quantize(row), q.quantize(row)), (x, scale)
    # a scale that is no float32 (QParams never gives one; 1e-50 is 0 as a float32, and 0 / 0 a NaN): every
    # lane in double, as quantize
    quantizer = module.Stepper(
        run=1, state=np.zeros(1, np.int8), tokens=False, in_width=width, vocab=0, mean=None, std=None,
        scale=1e-50, zero_point=0.0, table=np.zeros(256, np.float32), out_width=1, vectors=vectors,
    )  # fmt: skip
    row = np.resize(np.array([0.0, 1.5, -2.0], np.float32), width)
    expected = np.clip(np.rint(row.astype(np.float64) / 1e-50), -128, 127).astype(np.int8)
    assert np.array_equal(quantizer.quantize(row), expected)
    # float32 scales at the ends of the range: a subnormal one (its inverse overflows), one whose inverse is
    # subnormal, and the normal ones nearest them; near-ties of each in every lane
    for scale in (2.0**-140, 2.0**-126, 2.0**127 * 1.5, 2.0**125):
        quantizer = module.Stepper(
            run=1, state=np.zeros(1, np.int8), tokens=False, in_width=width, vocab=0, mean=None, std=None,
            scale=scale, zero_point=0.0, table=np.zeros(256, np.float32), out_width=1, vectors=vectors,
        )  # fmt: skip
        near = np.float32(scale) * np.array([0.0, 0.5, -0.5, 1.5, -2.5, 127.5, -128.5, 1e6], np.float64)
        near = near[np.abs(near) < np.finfo(np.float32).max].astype(np.float32)  # finite as float32
        row = np.resize(np.concatenate([near, np.nextafter(near, np.float32(np.inf))]), width)
        assert np.isfinite(row).all()
        assert np.array_equal(quantizer.quantize(row), QParams(scale=scale, zero_point=0).quantize(row)), scale


def test_run_equals_stepping_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """run quantizes and calls the model in chunks of 1,024 steps: lengths around the chunk agree."""
    model = _normalized(random_model(FEATURES[2], seed=1))
    fast, slow = _pair(model, monkeypatch)
    xs = random_inputs(model.config, 2100, seed=2, scale=4.0) * model.input_std + model.input_mean
    for n in (1, 1023, 1024, 1025, 2049):
        fast.reset()
        slow.reset()
        ys = fast.run(xs[:n])
        assert np.array_equal(ys, slow.run(xs[:n]))
        fast.reset()
        assert np.array_equal(ys, np.stack([fast.step(x) for x in xs[:n]]))


def test_token_streams_are_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_model(TOKENS, seed=4)
    fast, slow = _pair(model, monkeypatch)
    tokens = random_inputs(TOKENS, 3000, seed=6)
    kinds = [int, np.int64, np.int32, np.uint8, np.int16]
    stepped = [fast.step(kinds[i % len(kinds)](t)) for i, t in enumerate(tokens[:1500])]
    assert np.array_equal(np.stack(stepped), np.stack([slow.step(int(t)) for t in tokens[:1500]]))
    for dtype in (np.int64, np.int32, np.uint16):
        fast.reset()
        slow.reset()
        assert np.array_equal(fast.run(tokens[1500:].astype(dtype)), slow.run(tokens[1500:].astype(dtype)))


def _same_error(fast: Stream, slow: Stream, call: str, x: object) -> str:
    errors = []
    for s in (fast, slow):
        with pytest.raises(InputDataError) as info:
            getattr(s, call)(x)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    return errors[0]


def test_bad_inputs_raise_the_same_errors_and_leave_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _normalized(random_model(FEATURES[0], seed=2))
    fast, slow = _pair(model, monkeypatch)
    xs = random_inputs(model.config, 40, seed=3) * model.input_std + model.input_mean
    fast.run(xs[:20])
    slow.run(xs[:20])
    nan = xs[20].copy()
    nan[3] = np.nan
    inf_run = xs[20:30].copy()
    inf_run[-1, 0] = -np.inf  # the last step: nothing may have run before the error
    for call, bad in [
        ("step", nan),
        ("step", np.full(7, np.inf, np.float32)),
        ("step", np.zeros(6, np.float32)),
        ("step", np.zeros((1, 7), np.float32)),
        ("step", np.array(["a"] * 7)),
        ("step", 1.5),
        ("run", inf_run),
        ("run", np.zeros((0, 7), np.float32)),
        ("run", np.zeros(7, np.float32)),
        ("run", np.zeros((3, 8), np.float32)),
    ]:
        _same_error(fast, slow, call, bad)
    assert np.array_equal(fast.run(xs[20:]), slow.run(xs[20:]))
    tok_fast, tok_slow = _pair(random_model(TOKENS, seed=1), monkeypatch)
    for call, bad in [
        ("step", 30),
        ("step", -1),
        ("step", 2**70),
        ("step", True),
        ("step", np.timedelta64(3)),
        ("step", np.float32(2)),
        ("run", np.array([1, 2, 30])),
        ("run", np.array([1.0, 2.0])),
        ("run", np.array([True, False])),
    ]:
        _same_error(tok_fast, tok_slow, call, bad)
    tokens = random_inputs(TOKENS, 50, seed=2)
    assert np.array_equal(tok_fast.run(tokens), tok_slow.run(tokens))


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "plain"])
@pytest.mark.parametrize(
    ("config", "columns"),
    [(FEATURES[0], (0, 3, 6)), (WIDE, (0, 7, 8, 15, 18)), (WIDER, (0, 15, 16, 31, 32, 39, 40, 42))],
    ids=["7", "19", "43"],
)
def test_wide_rows_with_a_bad_value_anywhere_leave_the_state(
    config: ModelConfig, columns: tuple[int, ...], normalize: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN or infinity in the sixteen- or eight-value blocks or the tail of a row, in a step or late in a run
    (after a whole 1,024-step chunk has run; without normalization a run quantizes its rows together, across
    their ends): the same error, and the state as before the call."""
    model = random_model(config, seed=2)
    model = _normalized(model) if normalize else model
    fast, slow = _pair(model, monkeypatch)
    xs = random_inputs(config, 1150, seed=3)
    xs = xs * model.input_std + model.input_mean if normalize else xs
    fast.run(xs[:20])
    slow.run(xs[:20])
    for column in columns:
        for bad_value in (np.nan, np.inf, -np.inf):
            frame = xs[20].copy()
            frame[column] = bad_value
            _same_error(fast, slow, "step", frame)
            for row in (1100, 1129):  # the last row: the run's last, masked, values without normalization
                block = xs[20:1150].copy()
                block[row, column] = bad_value
                _same_error(fast, slow, "run", block)
    assert np.array_equal(fast.run(xs[20:]), slow.run(xs[20:]))


def test_other_input_forms_take_the_python_path_with_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_model(FEATURES[4], seed=5)
    fast, slow = _pair(model, monkeypatch)
    xs = random_inputs(model.config, 60, seed=1, scale=2.0)
    wide = np.zeros((60, 14), np.float32)
    wide[:, ::2] = xs  # a strided view: still the fast path
    forms = [xs[0], xs[1].astype(np.float64), xs[2].tolist(), wide[3, ::2], xs[4].astype(">f4"), xs[5:6][0]]
    for x in forms:
        assert np.array_equal(fast.step(x), slow.step(x))
    for block in (xs[6:20], wide[20:40, ::2], xs[40:60].astype(np.float64), xs[40:50].T.copy().T):
        assert np.array_equal(fast.run(block), slow.run(block))


def test_overflowing_normalization_warns_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finite raw value whose normalization overflows float32 goes to numpy, which warns."""
    model = random_model(FEATURES[0], seed=2)
    f = model.config.input_size
    model = dataclasses.replace(
        model, input_mean=np.full(f, -3.0e38, np.float32), input_std=np.full(f, 1.0, np.float32)
    )
    fast, slow = _pair(model, monkeypatch)
    x = np.full(f, 3.0e38, np.float32)
    results = []
    for s in (fast, slow):
        with pytest.warns(RuntimeWarning, match="overflow"):
            results.append(s.step(x))
    assert np.array_equal(*results)


def test_state_checkpoints_are_interchangeable(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ModelConfig(cell=CellType.GRU, input_size=5, hidden_size=12, num_layers=2, output_size=3)
    model = random_model(config, seed=6)
    fast, slow = _pair(model, monkeypatch)
    xs = random_inputs(config, 400, seed=7, scale=2.0)
    fast.run(xs[:100])
    for x in xs[100:150]:
        fast.step(x)
    slow.run(xs[:150])
    saved_fast, saved_slow = fast.get_state(), slow.get_state()
    for a, b in zip(saved_fast.cells, saved_slow.cells):
        assert len(a) == 2 and all(np.array_equal(x, y) for x, y in zip(a, b))  # (h int8, h_q15 int16)
    after = fast.run(xs[150:250])
    assert np.array_equal(after, slow.run(xs[150:250]))
    slow.set_state(saved_fast)  # a state taken on the fast path restores on the ctypes path and back
    fast.set_state(saved_slow)
    assert np.array_equal(fast.run(xs[150:250]), after) and np.array_equal(slow.run(xs[150:250]), after)
    # the checkpoint is a copy: stepping on does not change it
    assert all(np.array_equal(x, y) for a, b in zip(saved_fast.cells, saved_slow.cells) for x, y in zip(a, b))
    fast.reset()
    slow.reset()
    zero = Stream(model, backend="c").get_state()
    assert all(np.array_equal(x, y) for a, b in zip(fast.get_state().cells, zero.cells) for x, y in zip(a, b))
    # mixing the int8 API, step and run keeps one state
    xq = model.input_q.quantize(xs[250:260])
    mixed = [fast.step(xs[260]), fast.step_int8(xq[0]), fast.run(xs[261:263]), fast.run_int8(xq[1:3])]
    reference = [slow.step(xs[260]), slow.step_int8(xq[0]), slow.run(xs[261:263]), slow.run_int8(xq[1:3])]
    assert all(np.array_equal(a, b) for a, b in zip(mixed, reference))


def test_without_python_headers_streams_keep_the_ctypes_path(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(c_backend, "_fastpath", None)  # forget this process's build
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    assert c_backend.fastpath_module() is None
    assert "Python headers" in (c_backend.fastpath_unavailable() or "")
    model = random_model(FEATURES[0], seed=1)
    s = Stream(model, backend="c")
    assert s._fast is None
    xs = random_inputs(model.config, 30, seed=1)
    assert np.array_equal(s.run(xs), Stream(model, backend="reference").run(xs))


def test_the_fast_path_leaves_other_backends_and_bidirectional_models_alone() -> None:
    assert Stream(random_model(FEATURES[0]), backend="reference")._fast is None
    bidi = ModelConfig(
        cell=CellType.GRU,
        input_size=3,
        hidden_size=4,
        bidirectional=True,
        output_size=2,
        output_mode=OutputMode.SEQUENCE,
    )
    s = Stream(random_model(bidi), backend="c")
    assert s._fast is None
    with pytest.raises(InputDataError, match="bidirectional"):
        s.step(np.zeros(3, np.float32))


@pytest.mark.parametrize("level", ["0", "1", "2"])
def test_capped_x86_levels_give_the_same_streams(level: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """EDGERNN_X86_LEVEL caps the C kernels and the fast path's row quantizer (0: plain C and none, 1-2: AVX2):
    long streams of raw features equal the default build's, and the build flag is in the cache key."""
    model = _normalized(random_model(WIDER, seed=4))
    xs = _hard_inputs(model, 400, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the float32 extremes overflow the normalization
        want = Stream(model, backend="c").run(xs)
        monkeypatch.setenv("EDGERNN_X86_LEVEL", level)
        assert f"-DERNN_X86_LEVEL={level}" in c_backend.build_flags()
        assert f"-DERNN_X86_F32_LEVEL={min(int(level), 1)}" in c_backend.build_flags()  # no AVX-512F below 3
        capped = Stream(model, backend="c")
        assert capped._fast is not None
        got = np.concatenate(
            [capped.run(xs[:150]), np.stack([capped.step(x) for x in xs[150:160]]), capped.run(xs[160:])]
        )
    assert np.array_equal(got, want)
    # the float path's kernels take the matching cap (AVX2 and FMA, or plain C): the same model to float rounding
    plain = random_inputs(model.config, 200, seed=5)
    capped_float = Stream(model, backend="c-float").run(plain)
    monkeypatch.delenv("EDGERNN_X86_LEVEL")
    np.testing.assert_allclose(capped_float, Stream(model, backend="c-float").run(plain), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("value", ["5", "avx2", " 2"])
def test_a_bad_x86_level_is_a_one_line_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGERNN_X86_LEVEL", value)
    with pytest.raises(EdgeRNNError, match=r"EDGERNN_X86_LEVEL=.* is not an x86 kernel level\. set it to 0"):
        Stream(random_model(FEATURES[0], seed=1), backend="c")
