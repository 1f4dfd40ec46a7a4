"""The benchmark report: a versioned, machine-readable record plus Markdown and HTML renderings.

``report.json`` follows ``report.schema.json`` (shipped beside this module). Host timings are
quoted with their ratio to the fastest peer measured in the same run (machines are shared and
noisy; ratios travel, microseconds do not). MCU costs are instruction counts, exact and
repeatable under QEMU.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgernn.fileio import write_text_atomic
from edgernn.summary import format_table

SCHEMA_VERSION = 1
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
    instructions_per_step: int
    flash_bytes: int | None
    ram_bytes: int | None
    stack_bytes: int | None
    runtime_code_bytes: int | None


@dataclass(frozen=True)
class MemoryResult:
    """Peak resident memory of a process streaming the model on one backend."""

    backend: str
    peak_rss_kib: int
    baseline_rss_kib: int  # the same process without creating the stream: interpreter + imports


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


# ------------------------------------------------------------------------------------ rendering


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


def render_markdown(report: Report) -> str:
    m, mach = report.model, report.machine
    lines = [
        f"# edgernn benchmark: {m['description']}",
        "",
        f"edgernn {report.edgernn_version}, report schema {report.schema_version}. Model sha256 `{m['sha256'][:16]}`: "
        f"{m['params']} parameters, {m['macs_per_step']} MACs per step, {m['weight_bytes']} weight bytes, "
        f"{m['state_bytes']} state bytes.",
        "",
        f"Machine: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, Python {mach.get('python', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(mach.get("versions", {}).items()))
        + f"; threads: {mach.get('threads', '?')}.",
        "",
    ]
    if report.latency:
        lines += [
            "## Host latency per step",
            "",
            "Median and p99 over the measured steps after warm-up; ratio = median / the fastest peer's median "
            "in the same run and mode (below 1: faster than every peer).",
            "",
            _md_table(
                ["mode", "implementation", "kind", "median us", "p99 us", "ratio to fastest peer"],
                _latency_rows(report),
            ),
            "",
        ]
    if report.scaling:
        lines += [
            "## Latency vs hidden size",
            "",
            _md_table(
                ["implementation", "hidden", "MACs/step", "median us"],
                [[p.name, p.hidden_size, p.macs_per_step, round(p.median_us, 2)] for p in report.scaling],
            ),
            "",
        ]
    if report.mcu:
        lines += [
            "## Microcontroller cost (QEMU, instruction counts)",
            "",
            _md_table(
                ["target", "instructions/step", "flash B", "RAM B", "stack B", "runtime code B"],
                [
                    [r.target, r.instructions_per_step, r.flash_bytes, r.ram_bytes, r.stack_bytes, r.runtime_code_bytes]
                    for r in report.mcu
                ],
            ),
            "",
        ]
    if report.memory:
        lines += [
            "## Host memory (peak RSS of a streaming process)",
            "",
            _md_table(
                ["backend", "peak RSS KiB", "baseline KiB", "added KiB"],
                [
                    [r.backend, r.peak_rss_kib, r.baseline_rss_kib, r.peak_rss_kib - r.baseline_rss_kib]
                    for r in report.memory
                ],
            ),
            "",
        ]
    if report.accuracy:
        lines += [
            "## Accuracy",
            "",
            _md_table(
                ["backend", "metric", "value", "sequences", "data"],
                [
                    [r.backend, r.metric, _fmt_metric(r.metric, r.value), r.sequences, r.dataset]
                    for r in report.accuracy
                ],
            ),
            "",
        ]
    if report.unavailable:
        lines += ["## Not measured in this run", ""] + [f"- {k}: {v}" for k, v in sorted(report.unavailable.items())]
        lines.append("")
    return "\n".join(lines)


def _fmt_metric(name: str, value: float) -> str:
    return f"{100 * value:.2f}%" if name == "accuracy" else f"{value:.4g}"


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return "" if v is None else str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


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
                ["target", "instr/step", "flash", "RAM", "stack"],
                [[r.target, r.instructions_per_step, r.flash_bytes, r.ram_bytes, r.stack_bytes] for r in report.mcu],
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
    return "\n\n".join(parts)


def _plots(report: Report, samples: dict[str, list[float]]) -> list[tuple[str, bytes]]:
    """PNG figures: latency distributions, latency vs hidden size, MCU instructions, memory, accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: list[tuple[str, bytes]] = []

    def save(title: str, fig: Any) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        figures.append((title, buf.getvalue()))

    step_names = [r.name for r in report.latency if r.mode == "step" and r.name in samples]
    if step_names:
        fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(step_names)))
        ax.boxplot([samples[n] for n in step_names], orientation="horizontal", showfliers=False)
        ax.set_yticks(range(1, len(step_names) + 1), step_names)
        ax.set_xscale("log")
        ax.set_xlabel("microseconds per step (log scale; whiskers 1.5 IQR)")
        ax.set_title("Per-step latency distribution")
        save("Per-step latency distribution", fig)
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
        save("Latency vs hidden size", fig)
    if report.mcu:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar([r.target for r in report.mcu], [r.instructions_per_step for r in report.mcu])
        ax.set_ylabel("instructions per step")
        ax.set_title("MCU instructions per step (QEMU)")
        save("MCU instructions per step", fig)
    if report.memory:
        fig, ax = plt.subplots(figsize=(7, 4))
        names = [r.backend for r in report.memory]
        ax.bar(names, [r.baseline_rss_kib / 1024 for r in report.memory], label="interpreter + imports")
        ax.bar(
            names,
            [(r.peak_rss_kib - r.baseline_rss_kib) / 1024 for r in report.memory],
            bottom=[r.baseline_rss_kib / 1024 for r in report.memory],
            label="stream",
        )
        ax.set_ylabel("peak RSS (MiB)")
        ax.legend()
        ax.set_title("Host memory of a streaming process")
        save("Host memory", fig)
    if report.accuracy:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar([r.backend for r in report.accuracy], [r.value for r in report.accuracy])
        ax.set_ylabel(report.accuracy[0].metric)
        ax.set_title("Task metric per backend / format")
        save("Accuracy per format", fig)
    return figures


def render_html(report: Report, samples: dict[str, list[float]]) -> str:
    body = []
    try:
        figures = _plots(report, samples)
    except ImportError:
        figures = []
        body.append("<p>Plots need matplotlib: <code>pip install 'edgernn[bench]'</code>.</p>")
    for title, png in figures:
        data = base64.b64encode(png).decode()
        body.append(
            f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"/>'
            f"<figcaption>{html.escape(title)}</figcaption></figure>"
        )
    markdown = render_markdown(report)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>edgernn benchmark</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{white-space:pre-wrap}"
        "figure{margin:1em 0}img{max-width:100%}</style></head><body>"
        f"<pre>{html.escape(markdown)}</pre>{''.join(body)}</body></html>"
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
