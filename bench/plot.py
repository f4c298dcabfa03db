"""The load sweep as an SVG a browser opens: echoes/s and server memory against connections.

Written by hand (the benchmark needs no plotting library): two panels sharing a
logarithmic x axis of connections, one line per server. A server that could not
take a step ends its line there, with an x and the reason in the legend.
"""

from __future__ import annotations

import math
from html import escape

from .client import SweepPoint

COLOURS = {
    "apache": "#1f77b4",
    "apache-2proc": "#17becf",
    "standalone": "#2ca02c",
    "pywebsocket3": "#d62728",
    "websockets": "#9467bd",
    "raw-c": "#7f7f7f",
}
PANEL_W, PANEL_H = 420, 300
LEFT, TOP, GAP = 70, 50, 90
LEGEND_H = 22


def _nice_top(value: float) -> float:
    """A round number at or above ``value`` for the top of an axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _panel(x0: float, title: str, unit: str, sweep: dict[str, list[SweepPoint]], value, xs: list[int]) -> list[str]:
    values = [value(p) for points in sweep.values() for p in points if value(p) is not None]
    top = _nice_top(max(values, default=1.0) * 1.05)
    lo, hi = math.log10(xs[0]), math.log10(xs[-1])

    def px(connections: float) -> float:
        return x0 + (math.log10(connections) - lo) / (hi - lo) * PANEL_W

    def py(v: float) -> float:
        return TOP + PANEL_H - v / top * PANEL_H

    out = [f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 18}" class="title">{escape(title)}</text>']
    out.append(f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" class="frame"/>')
    for i in range(6):
        v = top * i / 5
        y = py(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + PANEL_W}" y2="{y:.1f}" class="grid"/>')
        label = f"{v:,.0f}" if top >= 10 else f"{v:.1f}"
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" class="ytick">{label}</text>')
    for n in xs:
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PANEL_H}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + PANEL_H + 16}" class="xtick">{n:,}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 36}" class="axis">connections, all echoing</text>')
    out.append(
        f'<text x="{x0 - 52}" y="{TOP + PANEL_H / 2}" class="axis" '
        f'transform="rotate(-90 {x0 - 52} {TOP + PANEL_H / 2})">{escape(unit)}</text>'
    )
    for name, points in sweep.items():
        colour = COLOURS.get(name, "#000")
        line = [(px(p.connections), py(value(p))) for p in points if value(p) is not None]
        if len(line) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in line:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
        for p in points:
            if p.stopped:
                x, y = px(p.connections), TOP + PANEL_H - 8
                out.append(
                    f'<path d="M{x - 5:.1f},{y - 5:.1f} l10,10 m0,-10 l-10,10" stroke="{colour}" stroke-width="2.5"/>'
                )
    return out


def sweep_svg(sweep: dict[str, list[SweepPoint]], caption: str) -> str:
    """The SVG document for ``sweep`` (server -> its points, in order of connections)."""
    xs = sorted({p.connections for points in sweep.values() for p in points})
    width = LEFT + 2 * PANEL_W + GAP + 30
    legend_top = TOP + PANEL_H + 60
    height = legend_top + LEGEND_H * (len(sweep) + 1) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<style>.title{font-size:14px;font-weight:bold;text-anchor:middle}.axis{text-anchor:middle}"
        ".xtick{text-anchor:middle}.ytick{text-anchor:end}.frame{fill:none;stroke:#444}"
        ".grid{stroke:#ddd;stroke-width:1}.legend{dominant-baseline:middle}</style>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    out += _panel(LEFT, "echoes per second", "echoes/s", sweep, lambda p: p.echoes_per_second, xs)
    out += _panel(LEFT + PANEL_W + GAP, "server memory", "MiB", sweep, lambda p: p.memory_mib, xs)
    for i, (name, points) in enumerate(sweep.items()):
        y = legend_top + i * LEGEND_H
        colour = COLOURS.get(name, "#000")
        stops = [f"stopped at {p.connections:,}: {p.stopped}" for p in points if p.stopped]
        label = name + (f" ({stops[0]})" if stops else "")
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + 24}" y2="{y}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{LEFT + 32}" y="{y}" class="legend">{escape(label)}</text>')
    y = legend_top + len(sweep) * LEGEND_H
    out.append(f'<text x="{LEFT}" y="{y}" class="legend" fill="#555">{escape(caption)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
