"""Charts as inline SVG drawn on the server: no script, no CDN, readable without colour (labels and titles)."""
from __future__ import annotations

from collections.abc import Sequence

from adapters.console.html import e

PALETTE = ["#0b5cad", "#f5a623", "#1f7a4d", "#b42318", "#6941c6", "#0e7490", "#7a5af8", "#5b6675"]


def _nice_max(value: int) -> int:
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    return int(value * 1.1) + 1


def stacked_bars(days: Sequence[str], series: dict[str, list[int]], label: str, width: int = 760,
                 height: int = 240) -> str:
    """Bars per day, stacked by channel, with a legend and the y-axis maximum."""
    left, bottom, top = 44, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(v[i] for v in series.values()) for i in range(len(days))]
    peak = _nice_max(max(totals, default=0) or 1)
    slot = plot_w / max(len(days), 1)
    bars: list[str] = []
    for i, day in enumerate(days):
        y: float = top + plot_h
        for n, (channel, values) in enumerate(sorted(series.items())):
            h = plot_h * values[i] / peak
            if h > 0:
                y -= h
                bars.append(f'<rect x="{left + i * slot + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                            f'height="{h:.1f}" fill="{PALETTE[n % len(PALETTE)]}"><title>{e(day)} {e(channel)}: '
                            f'{values[i]}</title></rect>')
    step = max(1, len(days) // 8)
    ticks = "".join(f'<text x="{left + i * slot + slot / 2:.1f}" y="{height - 10}" text-anchor="middle" '
                    f'class="tick">{e(day[5:])}</text>' for i, day in enumerate(days) if i % step == 0)
    axis = (f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" class="axis"/>'
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" class="tick">{peak}</text>'
            f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="tick">0</text>')
    return (f'<figure class="chart"><svg viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">'
            f'<title>{e(label)}</title>{axis}{"".join(bars)}{ticks}</svg>{legend(sorted(series))}</figure>')


def legend(names: Sequence[str]) -> str:
    items = "".join(f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"/></svg>{e(name)}</li>' for n, name in enumerate(names))
    return f'<ul class="legend">{items}</ul>'


def share_bar(parts: Sequence[tuple[str, int]], label: str, width: int = 360, height: int = 22) -> str:
    """One horizontal bar split into labelled shares (e.g. answered / not answered)."""
    total = sum(v for _, v in parts) or 1
    x, rects = 0.0, []
    for n, (name, value) in enumerate(parts):
        w = width * value / total
        rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{PALETTE[n % len(PALETTE)]}">'
                     f'<title>{e(name)}: {value}</title></rect>')
        x += w
    return (f'<figure class="chart small"><svg viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}">'
            f'<title>{e(label)}</title>{"".join(rects)}</svg>{legend([f"{n} {v}" for n, v in parts])}</figure>')


def bar_list(items: Sequence[tuple[str, int]], label: str, width: int = 360, row: int = 22) -> str:
    """Horizontal bars, one per item (e.g. top topics), longest first."""
    peak = max((v for _, v in items), default=0) or 1
    rows = "".join(
        f'<text x="0" y="{i * row + 15}" class="tick">{e(name)}</text>'
        f'<rect x="110" y="{i * row + 4}" width="{(width - 150) * v / peak:.1f}" height="{row - 8}" fill="{PALETTE[0]}"/>'
        f'<text x="{116 + (width - 150) * v / peak:.1f}" y="{i * row + 15}" class="tick">{v}</text>'
        for i, (name, v) in enumerate(items))
    return (f'<figure class="chart small"><svg viewBox="0 0 {width} {max(len(items), 1) * row}" role="img" '
            f'aria-label="{e(label)}"><title>{e(label)}</title>{rows}</svg></figure>')
