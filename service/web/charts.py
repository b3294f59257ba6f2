"""Small charts made on the server as inline SVG: no script, no CDN, readable with styles off
(every chart carries its numbers as text too)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, GAP = 300, 36, 1


def bars(label: str, counts: tuple[int, ...], first_day: str, last_day: str, css_class: str = "") -> str:
    """One row: the label and total, and a bar per day (highest day full height)."""
    total = sum(counts)
    top = max(counts) or 1
    width = (WIDTH - GAP * (len(counts) - 1)) / max(len(counts), 1)
    rects = []
    for index, count in enumerate(counts):
        height = round(HEIGHT * count / top, 1) if count else 0
        x = round(index * (width + GAP), 1)
        if height:
            rects.append(f'<rect x="{x}" y="{HEIGHT - height}" width="{round(width, 1)}" height="{height}">'
                         f"<title>{count}</title></rect>")
    described = escape(f"{label}: {total} ({first_day} – {last_day})")
    return (f'<figure class="chart {escape(css_class)}"><figcaption>{escape(label)} <strong>{total}</strong></figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" height="{HEIGHT}" preserveAspectRatio="none" role="img" '
            f'aria-label="{described}"><line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}"/>{"".join(rects)}</svg>'
            "</figure>")
