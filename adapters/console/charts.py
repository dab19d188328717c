"""Charts as inline SVG drawn on the server: no script, no CDN, readable without colour (labels and titles)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.console.html import e

PALETTE = ["#0b5cad", "#f5a623", "#1f7a4d", "#b42318", "#6941c6", "#0e7490", "#7a5af8", "#5b6675"]


STEP_FACTORS = (1, 2, 2.5, 5)  # steps of the y-axis: 1, 2, 5, 10, 20, 25, 50, ... (whole counts only)
DAY_STEPS = (1, 2, 3, 5, 7, 10, 14, 15, 30, 60, 90, 180)


@dataclass(frozen=True, slots=True)
class Frame:
    """One drawing of the chart: its viewBox size and type size (wide screens, phones)."""

    name: str
    width: int
    height: int
    font: int


FRAMES = (Frame("wide", 960, 260, 12), Frame("narrow", 360, 220, 12))  # type size: .chart.bars .tick in the CSS


def nice_ticks(peak: float, most: int = 5, least: int = 4) -> list[int]:
    """Whole-number y-axis ticks from 0 past `peak`: the smallest step of 1, 2, 2.5 or 5 × 10ⁿ (2.5 only where
    it is whole) that needs at most `most` intervals, and at least `least` intervals (0, 5, 10, 15, 20)."""
    top = max(math.ceil(peak), 0)
    power = 1
    while True:
        for factor in STEP_FACTORS:
            step = factor * power
            if step == int(step) and math.ceil(top / step) <= most:
                n = max(math.ceil(top / step), least)
                return [int(step) * i for i in range(n + 1)]
        power *= 10


def label_step(count: int, room: float, label: float) -> int:
    """Label every n-th of `count` evenly spaced days so that labels `label` wide (gap included) fit in `room`."""
    fits = max(int(room // label), 1)
    need = math.ceil(count / fits)
    return next((s for s in DAY_STEPS if s >= need), need)


def stacked_bars(days: Sequence[str], series: dict[str, list[int]], label: str) -> str:
    """Bars per day, stacked by channel, on labelled gridlines, with a legend: drawn once for wide screens and
    once for phones (CSS shows one), so the day labels never overlap and the type stays readable."""
    totals = [sum(v[i] for v in series.values()) for i in range(len(days))]
    ticks = nice_ticks(max(totals, default=0))
    drawings = "".join(_bars_svg(days, series, label, ticks, frame) for frame in FRAMES)
    return f'<figure class="chart bars">{drawings}{legend(sorted(series))}</figure>'


def _bars_svg(days: Sequence[str], series: dict[str, list[int]], label: str, ticks: list[int], f: Frame) -> str:
    # room on the left for the longest y label, on the right for half of today's label
    left, right, bottom, top = round(len(str(ticks[-1])) * f.font * 0.62) + 12, f.font * 2, f.font * 2 + 6, f.font
    plot_w, plot_h = f.width - left - right, f.height - bottom - top
    peak, base = ticks[-1], top + plot_h
    slot = plot_w / max(len(days), 1)

    def y(v: float) -> float:
        return base - plot_h * v / peak

    grid = "".join(f'<line x1="{left}" y1="{y(v):.1f}" x2="{f.width - right}" y2="{y(v):.1f}" '
                   f'class="{"axis" if v == 0 else "gridline"}"/><text x="{left - 6}" y="{y(v) + f.font * 0.35:.1f}" '
                   f'text-anchor="end" class="tick y">{v}</text>' for v in ticks)
    bars: list[str] = []
    for i, day in enumerate(days):
        height = 0.0
        for n, (channel, values) in enumerate(sorted(series.items())):
            h = plot_h * values[i] / peak
            if h > 0:
                bars.append(f'<rect x="{left + i * slot + slot * 0.15:.1f}" y="{base - height - h:.1f}" '
                            f'width="{max(slot * 0.7, 1):.1f}" height="{h:.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                            f'<title>{e(day)} {e(channel)}: {values[i]}</title></rect>')
                height += h
    step = label_step(len(days), plot_w, f.font * 4.2)  # "05-31" and a gap
    labels = "".join(f'<text x="{left + i * slot + slot / 2:.1f}" y="{f.height - f.font - 2}" text-anchor="middle" '
                     f'class="tick x">{e(day[5:])}</text>'
                     for i, day in enumerate(days) if (len(days) - 1 - i) % step == 0)
    return (f'<svg class="{f.name}" viewBox="0 0 {f.width} {f.height}" role="img" aria-label="{e(label)}">'
            f'<title>{e(label)}</title>{grid}{"".join(bars)}{labels}</svg>')


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
