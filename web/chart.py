"""The PV / EV / AC chart as inline SVG, drawn on the server.

Why SVG by hand: the page must work without scripts, CDNs or a plotting stack (it is opened from mail on
locked-down laptops), and three polylines on shared axes are a few dozen lines. Text in the SVG is
escaped; every number is formatted here, so nothing user-supplied reaches an attribute unescaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 40
SERIES = (("pv", "PV", "#1f6feb"), ("ev", "EV", "#1a7f37"), ("ac", "AC", "#cf222e"))


@dataclass(frozen=True)
class Point:
    on: date
    pv: Decimal | None
    ev: Decimal | None
    ac: Decimal | None


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('1')):,}"


def evm_chart(points: Sequence[Point], *, title: str, bac: Decimal | None = None) -> Markup | None:
    """An SVG with one line per series over the status dates; None when there is nothing to draw."""
    points = sorted(points, key=lambda p: p.on)
    values = [v for p in points for v in (p.pv, p.ev, p.ac) if v is not None]
    if not points or not values:
        return None
    top_value = max([*values, bac or Decimal(0)]) or Decimal(1)
    first, last = points[0].on.toordinal(), points[-1].on.toordinal()
    span = max(last - first, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(on: date) -> float:
        return LEFT + (on.toordinal() - first) / span * plot_w if last != first else LEFT + plot_w / 2

    def y(value: Decimal) -> float:
        return TOP + plot_h - float(value / top_value) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#8c959f"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#8c959f"/>',
    ]
    for step in range(5):
        level = top_value * step / 4
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(level) + 4:.1f}" text-anchor="end" font-size="11" fill="#57606a">'
            f"{_fmt(level)}</text>"
        )
        if step:
            parts.append(
                f'<line x1="{LEFT}" y1="{y(level):.1f}" x2="{LEFT + plot_w}" y2="{y(level):.1f}" '
                'stroke="#d0d7de" stroke-dasharray="3 3"/>'
            )
    if bac is not None and bac > 0:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(bac):.1f}" x2="{LEFT + plot_w}" y2="{y(bac):.1f}" stroke="#6e7781" '
            f'stroke-width="1"/><text x="{LEFT + plot_w - 2}" y="{y(bac) - 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#6e7781">BAC {_fmt(bac)}</text>'
        )
    labelled = points if len(points) <= 6 else [points[0], points[len(points) // 2], points[-1]]
    for p in labelled:
        # The first and last labels sit inside the plot so the edges of the picture never cut them.
        anchor = "start" if p is points[0] else "end" if p is points[-1] else "middle"
        parts.append(
            f'<text x="{x(p.on):.1f}" y="{TOP + plot_h + 16}" text-anchor="{anchor}" font-size="11" fill="#57606a">'
            f"{p.on.isoformat()}</text>"
        )
    for index, (attr, label, colour) in enumerate(SERIES):
        coords = [(x(p.on), y(v)) for p in points if (v := getattr(p, attr)) is not None]
        if coords:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
            parts.extend(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"><title>{label}</title></circle>'
                for cx, cy in coords
            )
        legend_x = LEFT + 8 + index * 60
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="{HEIGHT - 9}" font-size="11" fill="#24292f">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
