"""Small inline-SVG charts for the HTML report: lines with error bars, grouped bars, 100% stacked bars.

Plain strings, no plotting library, so the report stays one self-contained file. Every chart is an `<svg>` with
a `data-chart` attribute naming it (the browser test looks for them) and a `<title>` per mark for hover text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
STATUS_COLORS = {
    "passed": "#059669", "failed": "#dc2626", "syntax_error": "#7c3aed", "runtime_error": "#d97706",
    "timeout": "#0891b2", "memory": "#db2777", "invalid": "#111827", "truncated": "#a16207",
    "flaky": "#9ca3af",
}


@dataclass
class Series:
    """One line: y values (None = no point) at positions x, optional (low, high) intervals drawn as error bars."""

    name: str
    x: list[float]
    y: list[float | None]
    ci: list[tuple[float, float] | None] = field(default_factory=list)
    color: str | None = None
    dashed: bool = False


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 4, 6, 8, 10):  # four grid steps of 0.25, 0.5, 1, 1.5, 2 or 2.5 units
        if value <= m * exp:
            return m * exp
    return 10 * exp


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 or v == int(v) else f"{v:.2g}" if abs(v) < 1 else f"{v:.3g}"


def _legend(names: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    cx = x
    for name, color in names:
        parts.append(f'<rect x="{cx:.0f}" y="{y - 9}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{cx + 16:.0f}" y="{y + 2}" class="lg">{escape(name)}</text>')
        cx += 30 + 6.5 * len(name)
    return "".join(parts)


def line_chart(chart_id: str, series: Sequence[Series], *, x_label: str, y_label: str, y_max: float | None = None,
               y_min: float | None = None, percent: bool = False, x_ticks: Sequence[float] | None = None,
               width: int = 640, height: int = 300, dodge: float = 0.0) -> str:
    """Lines with markers and optional CI error bars; `percent` shows [0, 1] values as percentages.

    `dodge` shifts each series sideways by that many pixels so intervals at the same x stay readable.
    """
    left, right, top, bottom = 56, 16, 30, 44
    pw, ph = width - left - right, height - top - bottom
    xs = [x for s in series for x, y in zip(s.x, s.y, strict=True) if y is not None and math.isfinite(y)]
    ys = [y for s in series for y in s.y if y is not None and math.isfinite(y)]
    ys += [b for s in series for c in s.ci if c for b in c if math.isfinite(b)]
    if not xs or not ys:
        return _empty(chart_id, width, "no data yet")
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if dodge:  # room at both ends for the side-by-side marks
        pad = (x1 - x0) * dodge * len(series) / pw
        x0, x1 = x0 - pad, x1 + pad
    lo = y_min if y_min is not None else min(0.0, min(ys))
    hi = y_max if y_max is not None else _nice_max(max(ys))
    if hi <= lo:
        hi = lo + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - lo) / (hi - lo)) * ph

    out = [f'<svg data-chart="{escape(chart_id)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = py(v)
        label = f"{100 * v:.0f}%" if percent else _fmt(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>')
    ticks = list(x_ticks) if x_ticks is not None else sorted(set(xs))
    if len(ticks) > 12:
        step = math.ceil(len(ticks) / 10)
        ticks = ticks[::step]
    for t in ticks:
        out.append(f'<text x="{px(t):.1f}" y="{height - bottom + 16}" class="tick" text-anchor="middle">'
                   f'{_fmt(t)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" class="axis" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>')
    legend = []
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        legend.append((s.name, color))
        shift = (i - (len(series) - 1) / 2) * dodge  # side by side, so error bars at one x do not hide each other

        def sx(x: float, shift: float = shift) -> float:
            return px(x) + shift

        pts = [(sx(x), py(y), x, y) for x, y in zip(s.x, s.y, strict=True) if y is not None and math.isfinite(y)]
        if len(pts) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{a:.1f},{b:.1f}" for j, (a, b, _, _) in enumerate(pts))
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for j, (x, y) in enumerate(zip(s.x, s.y, strict=True)):
            ci = s.ci[j] if j < len(s.ci) else None
            if ci and y is not None and all(math.isfinite(b) for b in ci):
                a, b = py(ci[0]), py(ci[1])
                cx = sx(x)
                out.append(f'<path d="M{cx:.1f},{a:.1f}L{cx:.1f},{b:.1f}M{cx - 5:.1f},{a:.1f}L{cx + 5:.1f},{a:.1f}'
                           f'M{cx - 5:.1f},{b:.1f}L{cx + 5:.1f},{b:.1f}" stroke="{color}" stroke-width="1.5" '
                           f'class="ci"/>')
        if len(pts) <= 40:
            for a, b, x, y in pts:
                value = f"{100 * y:.1f}%" if percent else _fmt(y)
                out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{color}" class="pt">'
                           f'<title>{escape(s.name)} @ {_fmt(x)}: {value}</title></circle>')
    out.append(_legend(legend, left, 16))
    out.append("</svg>")
    return "".join(out)


def grouped_bars(chart_id: str, groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
                 y_label: str, width: int = 640, height: int = 300) -> str:
    """Bars per group (e.g. funnel stages), one colour per series (e.g. round); values label the bars."""
    left, right, top, bottom = 56, 16, 30, 60
    pw, ph = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs]
    if not groups or not series or not values:
        return _empty(chart_id, width, "no data yet")
    hi = _nice_max(max(values))
    out = [f'<svg data-chart="{escape(chart_id)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        v = hi * i / 4
        y = top + (1 - v / hi) * ph
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{_fmt(v)}</text>')
    gw = pw / len(groups)
    bw = max(2.0, (gw - 10) / len(series))
    for g, group in enumerate(groups):
        gx = left + g * gw + 5
        out.append(f'<text x="{gx + (gw - 10) / 2:.1f}" y="{height - bottom + 16}" class="tick" '
                   f'text-anchor="middle">{escape(group)}</text>')
        for s, (name, vs) in enumerate(series):
            v = vs[g] if g < len(vs) else 0
            h = v / hi * ph
            x = gx + s * bw
            color = PALETTE[s % len(PALETTE)]
            out.append(f'<rect x="{x:.1f}" y="{top + ph - h:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" '
                       f'fill="{color}" class="bar"><title>{escape(name)} · {escape(group)}: {_fmt(v)}</title></rect>')
            if bw >= 18:
                out.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - h - 3:.1f}" class="val" '
                           f'text-anchor="middle">{_fmt(v)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>')
    out.append(_legend([(n, PALETTE[i % len(PALETTE)]) for i, (n, _) in enumerate(series)], left, 16))
    out.append("</svg>")
    return "".join(out)


def stacked_bars(chart_id: str, rows: Sequence[tuple[str, dict[str, int]]], order: Sequence[str], *,
                 colors: dict[str, str] | None = None, width: int = 640, row_height: int = 26) -> str:
    """One horizontal 100% bar per row (e.g. a round's verdicts), split by category in `order`."""
    colors = colors or {}
    if not rows:
        return _empty(chart_id, width, "no data yet")
    left, right, top = 130, 16, 30
    pw = width - left - right
    height = top + len(rows) * (row_height + 8) + 10
    out = [f'<svg data-chart="{escape(chart_id)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" xmlns="http://www.w3.org/2000/svg">']
    used = [c for c in order if any(counts.get(c) for _, counts in rows)]
    for i, (label, counts) in enumerate(rows):
        y = top + i * (row_height + 8)
        total = sum(counts.values()) or 1
        out.append(f'<text x="{left - 8}" y="{y + row_height / 2 + 4:.1f}" class="tick" text-anchor="end">'
                   f'{escape(label)}</text>')
        x = float(left)
        for cat in used:
            n = counts.get(cat, 0)
            if not n:
                continue
            w = n / total * pw
            color = colors.get(cat, PALETTE[used.index(cat) % len(PALETTE)])
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_height}" fill="{color}" '
                       f'class="seg"><title>{escape(label)} · {escape(cat)}: {n} ({100 * n / total:.1f}%)</title></rect>')
            if w > 34:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + row_height / 2 + 4:.1f}" class="inbar" '
                           f'text-anchor="middle">{100 * n / total:.0f}%</text>')
            x += w
    out.append(_legend([(c, colors.get(c, PALETTE[i % len(PALETTE)])) for i, c in enumerate(used)], left, 16))
    out.append("</svg>")
    return "".join(out)


def _empty(chart_id: str, width: int, text: str) -> str:
    return (f'<svg data-chart="{escape(chart_id)}" data-empty="1" viewBox="0 0 {width} 60" width="{width}" '
            f'height="60" xmlns="http://www.w3.org/2000/svg"><text x="{width / 2}" y="34" class="axis" '
            f'text-anchor="middle">{escape(text)}</text></svg>')
