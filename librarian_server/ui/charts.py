"""Charts drawn on the server as SVG: bars per day (growth, throughput) and usage bars.

Plain SVG in the page needs no chart library, no script and no network, and works
under a Content-Security-Policy that forbids inline styles: every size and position
is an SVG attribute and every colour comes from a class in the one stylesheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 1200
HEIGHT = 200
_TOP = 18  # room for the scale label
_BOTTOM = 20  # room for the first and last day


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (only the first and last are written)
    value: float
    tip: str  # the bar's tooltip: its label and value, in words


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[Bar], *, title: str, scale: str) -> Markup:
    """Vertical bars scaled to the largest; ``scale`` names the largest value in words."""
    inner = HEIGHT - _TOP - _BOTTOM
    peak = max((b.value for b in bars), default=0.0)
    step = WIDTH / max(len(bars), 1)
    gap = min(2.0, step / 4)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="axis" x="0" y="12">max {escape(scale)}</text>',
    ]
    for i, bar in enumerate(bars):
        h = inner * bar.value / peak if peak > 0 else 0.0
        if bar.value > 0:
            h = max(h, 1.0)  # a non-zero day stays visible beside a huge one
        x = i * step + gap / 2
        y = _TOP + inner - h
        parts.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(step - gap)}" '
            f'height="{_num(h)}"><title>{escape(bar.tip)}</title></rect>'
        )
    base = _TOP + inner
    parts.append(f'<line class="baseline" x1="0" y1="{base}" x2="{WIDTH}" y2="{base}"/>')
    if bars:
        parts.append(f'<text class="axis" x="0" y="{HEIGHT - 4}">{escape(bars[0].label)}</text>')
        parts.append(
            f'<text class="axis" x="{WIDTH}" y="{HEIGHT - 4}" text-anchor="end">'
            f"{escape(bars[-1].label)}</text>"
        )
    if peak <= 0:
        parts.append(
            f'<text class="axis" x="{WIDTH / 2}" y="{_TOP + inner / 2}" '
            'text-anchor="middle">nothing yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def usage_bar(used: float, total: float, *, title: str, reverse: bool = False) -> Markup:
    """A horizontal bar ``used`` of ``total``; past 80 % it warns, past 95 % it alarms
    (``reverse``: a bar where more is better, such as verification coverage)."""
    share = min(max(used / total, 0.0), 1.0) if total > 0 else 0.0
    level = 1 - share if reverse else share
    state = "alarm" if level > 0.95 else "warn" if level > 0.8 else "ok"
    width = 240
    return Markup(  # noqa: S704 - the title is escaped, the rest are numbers
        f'<svg class="usage usage-{state}" viewBox="0 0 {width} 14" width="{width}" '
        f'height="14" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<rect class="track" x="0" y="0" width="{width}" height="14" rx="3"/>'
        f'<rect class="fill" x="0" y="0" width="{_num(width * share)}" height="14" rx="3"/>'
        "</svg>"
    )
