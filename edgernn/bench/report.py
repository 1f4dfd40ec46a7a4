"""The benchmark report: a versioned, machine-readable record plus Markdown and HTML renderings.

``report.json`` follows ``report.schema.json`` (shipped beside this module). Host timings are
quoted with their ratio to the fastest peer measured in the same run (machines are shared and
noisy; ratios travel, microseconds do not). Costs on embedded cores are instruction counts, exact
and repeatable under QEMU; times there are estimates at a stated clock.

The Markdown and the HTML are two renderings of one document (:func:`document`): headings,
paragraphs, tables and lists, with the HTML adding the plots of each section.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgernn.fileio import write_text_atomic
from edgernn.summary import format_table

SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


@dataclass(frozen=True)
class LatencyResult:
    """Per-step wall time of one implementation, in microseconds."""

    name: str
    kind: str  # "edgernn" (a backend of ours) or "peer" (what a user would otherwise pick)
    mode: str  # "step" (one call per time step) or "sequence" (one call for all steps)
    steps: int  # time steps measured (after warm-up)
    median_us: float
    p99_us: float
    mean_us: float
    percentiles_us: dict[str, float]  # p1, p5, p25, p50, p75, p95, p99: the distribution
    ratio_to_fastest_peer: float | None = None  # median / fastest peer's median (same mode)


@dataclass(frozen=True)
class ScalingPoint:
    """Per-step median latency of a model of the same kind at another hidden size."""

    name: str
    hidden_size: int
    macs_per_step: int
    median_us: float


@dataclass(frozen=True)
class McuResult:
    """Cost of one step on an emulated core, from the real build."""

    target: str
    processor: str  # "MCU" or "application processor (Linux)" (edgernn.boards.Target.processor_class)
    instructions_per_step: int
    clock_mhz: float | None  # a typical product clock of the core, assumed for the time estimate
    clock_chip: str | None  # a chip that runs the core at that clock
    us_per_step_at_clock: float | None  # instructions / clock at an assumed CPI of 1 (an estimate)
    flash_bytes: int | None
    ram_bytes: int | None
    stack_bytes: int | None
    runtime_code_bytes: int | None


@dataclass(frozen=True)
class MemoryResult:
    """Peak resident memory (VmHWM) of a fresh process that streams the model on one backend only."""

    backend: str
    peak_rss_kib: int  # after creating the stream and streaming
    baseline_rss_kib: int  # before creating the stream: interpreter, numpy, edgernn and the loaded model
    interpreter_rss_kib: int  # the bare interpreter, before any import

    @property
    def backend_kib(self) -> int:
        """What the backend and its stream added (its imports, libraries, buffers)."""
        return self.peak_rss_kib - self.baseline_rss_kib


@dataclass(frozen=True)
class AccuracyResult:
    backend: str
    metric: str
    value: float
    sequences: int
    dataset: str


@dataclass
class Report:
    edgernn_version: str
    machine: dict[str, Any]
    model: dict[str, Any]
    options: dict[str, Any]
    latency: list[LatencyResult] = field(default_factory=list)
    scaling: list[ScalingPoint] = field(default_factory=list)
    mcu: list[McuResult] = field(default_factory=list)
    memory: list[MemoryResult] = field(default_factory=list)
    accuracy: list[AccuracyResult] = field(default_factory=list)
    #: What could not be measured in this run, and why (a missing toolchain, a bidirectional
    #: model that cannot stream, ...). Nothing is skipped silently.
    unavailable: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def with_ratios(results: list[LatencyResult]) -> list[LatencyResult]:
    """Fill ``ratio_to_fastest_peer`` per mode (``None`` where a mode has no peer)."""
    fastest: dict[str, float] = {}
    for r in results:
        if r.kind == "peer":
            fastest[r.mode] = min(fastest.get(r.mode, float("inf")), r.median_us)
    out = []
    for r in results:
        ratio = r.median_us / fastest[r.mode] if r.mode in fastest else None
        out.append(LatencyResult(**{**asdict(r), "ratio_to_fastest_peer": ratio}))
    return out


# ------------------------------------------------------------------------------------ the document

#: How the time per step on an embedded core is estimated (stated in every report that has one).
CLOCK_ASSUMPTION = (
    "Time per step = instructions / clock, assuming one instruction per cycle (CPI = 1) at the clock named "
    "for each core: a typical product clock of that core (the chip in brackets), not the emulated board's. "
    "QEMU counts executed instructions, not cycles: flash wait states and multi-cycle loads and multiplies "
    "make a real MCU slower, dual issue (Cortex-M7, Cortex-A72) can make it faster, so read the time as an "
    "estimate. Flash = runtime code + weights as linked; RAM = one model instance (recurrent state + "
    "scratch + static data); stack = high-water of one step (stack painting, bare-metal only)."
)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str  # may hold `code` spans


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Plots:
    """Where the HTML places the figures of one section (the Markdown has none)."""

    section: str


Block = Heading | Paragraph | Table | Bullets | Plots


def _latency_rows(report: Report) -> list[list[Any]]:
    return [
        [
            r.mode,
            r.name,
            r.kind,
            round(r.median_us, 2),
            round(r.p99_us, 2),
            "" if r.ratio_to_fastest_peer is None else f"{r.ratio_to_fastest_peer:.3f}",
        ]
        for r in sorted(report.latency, key=lambda r: (r.mode, r.median_us))
    ]


def _clock(r: McuResult) -> str | None:
    return None if r.clock_mhz is None else f"{r.clock_mhz:g} MHz ({r.clock_chip})"


def _us(value: float | None) -> str | None:
    return None if value is None else f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def _mcu_rows(report: Report) -> list[list[Any]]:
    return [
        [
            r.target,
            r.processor,
            r.instructions_per_step,
            _clock(r),
            _us(r.us_per_step_at_clock),
            r.flash_bytes,
            r.ram_bytes,
            r.stack_bytes,
            r.runtime_code_bytes,
        ]
        for r in report.mcu
    ]


def _fmt_metric(name: str, value: float) -> str:
    return f"{100 * value:.2f}%" if name == "accuracy" else f"{value:.4g}"


def _accuracy_base(report: Report) -> AccuracyResult:
    """What the other backends' accuracy is compared with: the float model if measured (what int8 approximates)."""
    return next((r for r in report.accuracy if r.backend == "float"), report.accuracy[0])


def _fmt_delta(name: str, value: float, base: float) -> str:
    return f"{100 * (value - base):+.2f} points" if name == "accuracy" else f"{value - base:+.4g}"


def document(report: Report) -> list[Block]:
    """The report's content, once, for both renderings."""
    m, mach = report.model, report.machine
    blocks: list[Block] = [
        Heading(1, f"edgernn benchmark: {m['description']}"),
        Paragraph(
            f"edgernn {report.edgernn_version}, report schema {report.schema_version}. Model sha256 "
            f"`{m['sha256'][:16]}`: {m['params']} parameters, {m['macs_per_step']} MACs per step, "
            f"{m['weight_bytes']} weight bytes, {m['state_bytes']} state bytes."
        ),
        Paragraph(
            f"Machine: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, Python {mach.get('python', '?')}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(mach.get("versions", {}).items()))
            + f"; threads: {mach.get('threads', '?')}."
            + (f" edgernn `c` backend: {mach['c_backend_path']}." if "c_backend_path" in mach else "")
        ),
    ]
    if report.latency:
        blocks += [
            Heading(2, "Host latency per step"),
            Paragraph(
                "Median and p99 over the measured steps after warm-up; ratio = median / the fastest peer's median "
                "in the same run and mode (below 1: faster than every peer)."
            ),
            Table(
                ["mode", "implementation", "kind", "median us", "p99 us", "ratio to fastest peer"],
                _latency_rows(report),
            ),
            Plots("latency"),
        ]
    if report.scaling:
        blocks += [
            Heading(2, "Latency vs hidden size"),
            Table(
                ["implementation", "hidden", "MACs/step", "median us"],
                [[p.name, p.hidden_size, p.macs_per_step, round(p.median_us, 2)] for p in report.scaling],
            ),
            Plots("scaling"),
        ]
    if report.mcu:
        blocks += [
            Heading(2, "Embedded cores (QEMU instruction counts, footprint from the real build)"),
            Paragraph(CLOCK_ASSUMPTION),
            Table(
                [
                    "target",
                    "class",
                    "instructions/step",
                    "assumed clock",
                    "us/step at CPI 1",
                    "flash B",
                    "RAM B",
                    "stack B",
                    "runtime code B",
                ],
                _mcu_rows(report),
            ),
            Plots("mcu"),
        ]
    if report.memory:
        steps = min(int(report.options.get("steps", 1000)), 1000)
        blocks += [
            Heading(2, "Host memory (peak resident set of a process per backend)"),
            Paragraph(
                "Each backend runs in a fresh process that loads only that backend and streams "
                f"{steps} steps. The peak resident set (VmHWM from /proc/self/status: the peak of that "
                "process's own address space) is read at start-up (bare interpreter), after importing numpy "
                "and edgernn and loading the model, and at the end. getrusage's ru_maxrss is not used: Linux "
                "carries a parent's peak into a child across fork and exec."
            ),
            Table(
                ["backend", "interpreter KiB", "+ numpy, edgernn, model KiB", "+ backend and stream KiB", "peak KiB"],
                [
                    [
                        r.backend,
                        r.interpreter_rss_kib,
                        r.baseline_rss_kib - r.interpreter_rss_kib,
                        r.backend_kib,
                        r.peak_rss_kib,
                    ]
                    for r in report.memory
                ],
            ),
            Plots("memory"),
        ]
    if report.accuracy:
        base = _accuracy_base(report)
        blocks += [
            Heading(2, "Accuracy"),
            Table(
                ["backend", "metric", "value", f"vs {base.backend}", "sequences", "data"],
                [
                    [
                        r.backend,
                        r.metric,
                        _fmt_metric(r.metric, r.value),
                        _fmt_delta(r.metric, r.value, base.value),
                        r.sequences,
                        r.dataset,
                    ]
                    for r in report.accuracy
                ],
            ),
            Plots("accuracy"),
        ]
    if report.unavailable:
        blocks += [
            Heading(2, "Not measured in this run"),
            Bullets([f"{k}: {v}" for k, v in sorted(report.unavailable.items())]),
        ]
    return blocks


# ------------------------------------------------------------------------------------ Markdown and text


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return "" if v is None else str(v).replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    parts = []
    for block in document(report):
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(_md_table(block.headers, block.rows))
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
    return "\n\n".join(parts) + "\n"


def render_text(report: Report) -> str:
    """The terminal summary printed by ``edgernn bench``."""
    parts = []
    if report.latency:
        parts.append(
            format_table(
                ["mode", "implementation", "kind", "median us", "p99 us", "x fastest peer"], _latency_rows(report)
            )
        )
    if report.mcu:
        parts.append(
            format_table(
                ["target", "class", "instr/step", "clock", "us/step (CPI 1)", "flash", "RAM", "stack"],
                [row[:8] for row in _mcu_rows(report)],
            )
        )
    if report.memory:
        parts.append(
            format_table(
                ["backend", "backend + stream KiB", "peak KiB"],
                [[r.backend, r.backend_kib, r.peak_rss_kib] for r in report.memory],
            )
        )
    if report.accuracy:
        parts.append(
            format_table(
                ["backend", "metric", "value"],
                [[r.backend, r.metric, _fmt_metric(r.metric, r.value)] for r in report.accuracy],
            )
        )
    if report.unavailable:
        parts.append("not measured: " + "; ".join(f"{k} ({v})" for k, v in sorted(report.unavailable.items())))
    c_path = report.machine.get("c_backend_path", "")
    if c_path.startswith("ctypes"):
        parts.append(f"edgernn-c was timed on the {c_path}: the compiled fast path is many times faster per step")
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------ plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def zoomed_limits(values: list[float]) -> tuple[float, float]:
    """Axis limits around ``values`` so their differences are visible (98.67 vs 99.00 apart), with
    room on the right for labels."""
    lo, hi = min(values), max(values)
    pad = max(0.3 * (hi - lo), 0.002 * max(abs(lo), abs(hi)), 1e-6)
    return lo - pad, hi + 2.5 * pad


def accuracy_figure(report: Report) -> Any:
    """Each backend's task metric as a dot on an axis zoomed to the measured range, labelled with its
    value and its difference to the float model (in percentage points for accuracy)."""
    plt = _pyplot()
    base = _accuracy_base(report)
    percent = base.metric == "accuracy"
    scale = 100.0 if percent else 1.0
    names = [r.backend for r in report.accuracy]
    values = [r.value * scale for r in report.accuracy]
    lo, hi = zoomed_limits(values)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * len(names)))
    rows = list(range(len(names)))
    ax.hlines(rows, lo, values, color="0.85", linewidth=2)
    ax.plot(values, rows, "o", color="C0")
    for row, r, v in zip(rows, report.accuracy, values):
        label = _fmt_metric(r.metric, r.value)
        if r is not base:
            label += f" ({_fmt_delta(r.metric, r.value, base.value)} vs {base.backend})"
        ax.annotate(label, (v, row), xytext=(7, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_yticks(rows, names)
    ax.invert_yaxis()
    ax.set_xlabel(f"{base.metric}{' (%)' if percent else ''} on {base.dataset}; the axis is zoomed to the values")
    ax.set_title("Task metric per backend / format")
    return fig


def _mcu_time_figure(report: Report) -> Any | None:
    timed = [r for r in report.mcu if r.us_per_step_at_clock is not None]
    if not timed:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * len(timed)))
    labels = [f"{r.target} ({'MCU' if r.processor == 'MCU' else 'Linux'}) @ {r.clock_mhz:g} MHz" for r in timed]
    times = [r.us_per_step_at_clock for r in timed]
    ax.barh(labels, times, color=["C0" if r.processor == "MCU" else "C2" for r in timed])
    for row, t in enumerate(times):
        ax.annotate(f"{_us(t)} us", (t, row), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("microseconds per step (log scale): instructions / clock at an assumed CPI of 1")
    ax.set_title("Estimated time per step on embedded cores")
    return fig


def _mcu_memory_figure(report: Report) -> Any | None:
    sized = [r for r in report.mcu if r.flash_bytes is not None]
    if not sized:
        return None
    plt = _pyplot()
    fig, (flash, ram) = plt.subplots(1, 2, figsize=(9, 0.9 + 0.45 * len(sized)), sharey=True)
    names = [r.target for r in sized]
    flash.barh(names, [(r.flash_bytes or 0) / 1024 for r in sized], color="C0")
    flash.set_xlabel("flash KiB (runtime code + weights)")
    rows = range(len(sized))
    ram.barh([y - 0.2 for y in rows], [r.ram_bytes or 0 for r in sized], height=0.4, label="RAM (one instance)")
    ram.barh([y + 0.2 for y in rows], [r.stack_bytes or 0 for r in sized], height=0.4, label="stack (one step)")
    ram.set_xlabel("bytes")
    ram.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    flash.invert_yaxis()
    fig.suptitle("Flash and RAM per core (from the real build)")
    return fig


def _plots(report: Report, samples: dict[str, list[float]]) -> dict[str, list[tuple[str, bytes]]]:
    """PNG figures per document section: latency distributions, latency vs hidden size, time and
    footprint on embedded cores, host memory, accuracy."""
    plt = _pyplot()
    figures: dict[str, list[tuple[str, bytes]]] = {}

    def save(section: str, title: str, fig: Any) -> None:
        if fig is None:
            return
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        figures.setdefault(section, []).append((title, buf.getvalue()))

    step_names = [r.name for r in report.latency if r.mode == "step" and r.name in samples]
    if step_names:
        fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(step_names)))
        ax.boxplot([samples[n] for n in step_names], orientation="horizontal", showfliers=False)
        ax.set_yticks(range(1, len(step_names) + 1), step_names)
        ax.set_xscale("log")
        ax.set_xlabel("microseconds per step (log scale; whiskers 1.5 IQR)")
        ax.set_title("Per-step latency distribution")
        save("latency", "Per-step latency distribution", fig)
    if report.scaling:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name in sorted({p.name for p in report.scaling}):
            pts = sorted((p.hidden_size, p.median_us) for p in report.scaling if p.name == name)
            ax.plot([h for h, _ in pts], [t for _, t in pts], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("hidden size")
        ax.set_ylabel("median us per step")
        ax.legend()
        ax.set_title("Latency vs hidden size")
        save("scaling", "Latency vs hidden size", fig)
    if report.mcu:
        save("mcu", "Estimated time per step on embedded cores", _mcu_time_figure(report))
        save("mcu", "Flash and RAM per core", _mcu_memory_figure(report))
    if report.memory:
        fig, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * len(report.memory)))
        names = [r.backend for r in report.memory]
        parts = [
            ("bare interpreter", [r.interpreter_rss_kib for r in report.memory]),
            ("numpy, edgernn, model", [r.baseline_rss_kib - r.interpreter_rss_kib for r in report.memory]),
            ("backend and stream", [r.backend_kib for r in report.memory]),
        ]
        left = [0.0] * len(names)
        for label, kib in parts:
            ax.barh(names, [k / 1024 for k in kib], left=left, label=label)
            left = [a + k / 1024 for a, k in zip(left, kib)]
        ax.invert_yaxis()
        ax.set_xlabel("peak resident set (MiB) of a fresh process per backend")
        ax.legend(fontsize=8)
        ax.set_title("Host memory per backend")
        save("memory", "Host memory per backend", fig)
    if report.accuracy:
        save("accuracy", "Accuracy per format", accuracy_figure(report))
    return figures


# ------------------------------------------------------------------------------------ HTML


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


_NUMBER = re.compile(r"[+-]?[\d,]*\.?\d+(%| points)?")


def _html_table(table: Table) -> str:
    def cell(v: Any) -> str:
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool) or bool(_NUMBER.fullmatch(str(v)))
        text = "" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
        return f"<td class='num'>{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
    "h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:nth-child(even){background:#fafafa}"
    "code{background:#f3f3f3;padding:0 .2em}figure{margin:1em 0}img{max-width:100%}"
    "figcaption{font-size:.85em;color:#555}"
)


def render_html(report: Report, samples: dict[str, list[float]]) -> str:
    """The document as HTML (real headings, tables and lists), each section followed by its plots."""
    body = []
    try:
        figures = _plots(report, samples)
    except ImportError:
        figures = {}
        body.append("<p>Plots need matplotlib: <code>pip install 'edgernn[bench]'</code>.</p>")
    for block in document(report):
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>")
        else:
            for title, png in figures.get(block.section, []):
                data = base64.b64encode(png).decode()
                body.append(
                    f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"/>'
                    f"<figcaption>{html.escape(title)}</figcaption></figure>"
                )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>edgernn benchmark</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(report: Report, samples: dict[str, list[float]], output_dir: Path, html: bool = True) -> list[Path]:
    """Write report.json, report.md and (with ``html``) report.html atomically."""
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = [output_dir / "report.json", output_dir / "report.md"]
    write_text_atomic(paths[0], json.dumps(report.to_json(), indent=1, sort_keys=True))
    write_text_atomic(paths[1], render_markdown(report))
    if html:
        paths.append(output_dir / "report.html")
        write_text_atomic(paths[2], render_html(report, samples))
    return paths
