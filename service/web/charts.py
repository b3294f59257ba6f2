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


def stacked(label: str, parts: list[tuple[str, tuple[int, ...]]], first_day: str, last_day: str) -> str:
    """One row of bars per day, each bar stacked by part (at most 5 shades, in the order given),
    with a legend that names each part and its total."""
    days = len(parts[0][1]) if parts else 0
    totals = [sum(counts[i] for _, counts in parts) for i in range(days)]
    top = max(totals, default=0) or 1
    width = (WIDTH - GAP * (days - 1)) / max(days, 1)
    rects = []
    for index in range(days):
        y = HEIGHT
        x = round(index * (width + GAP), 1)
        for shade, (name, counts) in enumerate(parts):
            if counts[index]:
                height = round(HEIGHT * counts[index] / top, 1)
                y = round(y - height, 1)
                rects.append(f'<rect class="s{min(shade, 4)}" x="{x}" y="{y}" width="{round(width, 1)}" '
                             f'height="{height}"><title>{escape(name)}: {counts[index]}</title></rect>')
    total = sum(totals)
    legend = "".join(f'<span class="s{min(shade, 4)}">{escape(name)} {sum(counts)}</span>'
                     for shade, (name, counts) in enumerate(parts))
    described = escape(f"{label}: {total} ({first_day} – {last_day})")
    return (f'<figure class="chart stacked"><figcaption>{escape(label)} <strong>{total}</strong> '
            f'<span class="legend">{legend}</span></figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" height="{HEIGHT}" preserveAspectRatio="none" role="img" '
            f'aria-label="{described}"><line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}"/>{"".join(rects)}</svg>'
            "</figure>")
