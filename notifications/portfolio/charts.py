"""The report's four charts, drawn by matplotlib: SVG for pages, PNG for PDF and XLSX.

Plain ``Figure`` objects, no pyplot: no global state and no display, safe in a server and a flow.

Why matplotlib: it renders offline with no browser, embeds glyphs of any font it is given (Chinese labels
included), and is kept by a large community; the charts are data, not hand-drawn SVG.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from phasegate.gates.portfolio import PortfolioReport
from phasegate.notifications.portfolio.labels import word

BAND_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "unknown": "#9e9e9e"}
CHARTS = ("funnel", "rag_trend", "s_curve", "bubble")
LABELLED_BUBBLES = 30


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str
    png: bytes


def _use_font(font: Path | None) -> list[str]:
    families = ["DejaVu Sans"]
    if font is not None:
        font_manager.fontManager.addfont(str(font))
        families.append(font_manager.FontProperties(fname=str(font)).get_name())
    return families


def _funnel(report: PortfolioReport, lang: str, ax: Any) -> None:
    names = [f"{s.template_id}: {s.name_zh if lang == 'zh-CN' else s.name}" for s in report.funnel][::-1]
    counts = [s.count for s in report.funnel][::-1]
    bars = ax.barh(names, counts, color="#1565c0")
    ax.bar_label(bars, padding=3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(word(lang, "count"))


def _rag_trend(report: PortfolioReport, lang: str, ax: Any) -> None:
    weeks = [w.week_end.strftime("%m-%d") for w in report.rag_trend]
    bottom = [0] * len(weeks)
    for band in ("red", "amber", "green", "unknown"):
        values = [getattr(w, band) for w in report.rag_trend]
        ax.bar(weeks, values, bottom=bottom, color=BAND_COLOURS[band], label=word(lang, band))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(word(lang, "week"))
    ax.set_ylabel(word(lang, "count"))
    ax.legend(loc="upper left", fontsize=8)


def _s_curve(report: PortfolioReport, lang: str, ax: Any) -> None:
    days = [p.on for p in report.s_curve]
    for name, colour in (("pv", "#1565c0"), ("ev", "#2e7d32"), ("ac", "#c62828")):
        ax.plot(
            days, [float(getattr(p, name)) for p in report.s_curve], marker=".", color=colour, label=word(lang, name)
        )
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def _bubble(report: PortfolioReport, lang: str, ax: Any) -> None:
    items = report.bubbles
    biggest = max((float(b.bac) for b in items), default=1.0) or 1.0
    ax.scatter(
        [b.value for b in items],
        [b.risk for b in items],
        s=[60 + 1500 * float(b.bac) / biggest for b in items],
        c=[BAND_COLOURS[b.band] for b in items],
        alpha=0.6,
        edgecolors="black",
    )
    for b in sorted(items, key=lambda b: b.bac, reverse=True)[:LABELLED_BUBBLES]:  # more labels are unreadable
        ax.annotate(b.key, (b.value, b.risk), fontsize=7, ha="center", va="center")
    ax.set_xlabel(word(lang, "value"))
    ax.set_ylabel(word(lang, "exposure"))


DRAW: dict[str, Callable[[PortfolioReport, str, Any], None]] = {
    "funnel": _funnel,
    "rag_trend": _rag_trend,
    "s_curve": _s_curve,
    "bubble": _bubble,
}


def _empty(report: PortfolioReport, name: str) -> bool:
    return {
        "funnel": not report.funnel,
        "rag_trend": not report.rag_trend,
        "s_curve": not report.s_curve,
        "bubble": not report.bubbles,
    }[name]


def _figure(report: PortfolioReport, name: str, lang: str) -> Figure:
    fig = Figure(figsize=(7.0, 3.6), dpi=110)
    ax = fig.subplots()
    if _empty(report, name):
        ax.text(0.5, 0.5, word(lang, "no_data"), ha="center", va="center", fontsize=14, color="#757575")
        ax.set_axis_off()
    else:
        DRAW[name](report, lang, ax)
        ax.grid(alpha=0.3)
    ax.set_title(word(lang, name), fontsize=11)
    fig.tight_layout()
    return fig


def render_charts(report: PortfolioReport, lang: str, *, font: Path | None) -> list[Chart]:
    """The four charts in ``lang``; ``font`` (with Chinese glyphs) draws any Chinese text."""
    with rc_context({"font.family": _use_font(font), "svg.hashsalt": "phasegate", "axes.unicode_minus": False}):
        charts = []
        for name in CHARTS:
            fig = _figure(report, name, lang)
            svg, png = io.StringIO(), io.BytesIO()
            fig.savefig(svg, format="svg", metadata={"Date": None})
            fig.savefig(png, format="png")
            charts.append(Chart(name, word(lang, name), svg.getvalue(), png.getvalue()))
    return charts
