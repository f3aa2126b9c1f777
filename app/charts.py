"""Server-rendered SVG charts for the admin: a bar chart and a heat map, no JavaScript.

Layer: web presentation (pure). Values are for geometry only (money is never rounded here); every
text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

Number = Decimal | float | int

# Light to dark blue (Polaris' info tones); cells with no customers stay neutral grey.
_COLD = (0xEA, 0xF4, 0xFF)
_HOT = (0x00, 0x4C, 0x9E)
_EMPTY_FILL = "#f4f4f4"
_DARK_TEXT_BELOW = 0.55  # intensity above which cell text turns white for contrast


@dataclass(frozen=True)
class Bar:
    """One bar: its axis label, its value (negative draws as zero) and the value as shown."""

    label: str
    value: Number
    display: str


@dataclass(frozen=True)
class HeatCell:
    """One heat-map cell: `value` sets the colour, `lines` are printed, `title` is the tooltip."""

    value: Number
    lines: tuple[str, ...] = ()
    title: str = ""
    href: str = ""  # when set, the cell is a link (to the customers it counts, say)


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ `value` (1 for nothing to show)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)


def _open(width: int, height: int, title: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]


def _close(parts: list[str]) -> Markup:
    # Every piece of text above went through `escape`; numbers are formatted by us.
    return Markup("".join([*parts, "</svg>"]))  # noqa: S704


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    empty_text: str = "No data",
    width: int = 720,
    height: int = 260,
) -> Markup:
    """A vertical bar chart with a zero-based y axis (4 gridlines, labelled by `y_format`)."""
    left, right, top, bottom = 72, 8, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open(width, height, title, "chart-bars")
    base_y = top + plot_h
    if not bars:
        parts.append(
            f'<text class="chart-empty" x="{_f(width / 2)}" y="{_f(height / 2)}" '
            f'text-anchor="middle">{escape(empty_text)}</text>'
        )
        return _close(parts)

    values = [max(float(bar.value), 0.0) for bar in bars]
    # Four gridlines at a round step, so the axis reads 0, 25k, 50k … rather than thirds.
    step = nice_ceiling(max(values) / 4)
    top_value = step * 4
    for i in range(5):
        tick = step * i
        y = base_y - plot_h * i / 4
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{left + plot_w}" y1="{_f(y)}" y2="{_f(y)}"/>'
            f'<text class="chart-axis" x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{escape(y_format(tick))}</text>"
        )
    slot = plot_w / len(bars)
    bar_w = max(slot * 0.7, 1.0)
    # Thin out the x labels so they never overlap (about 56 px a label), counting from the end.
    label_every = max(1, math.ceil(56 / slot))
    for i, (bar, value) in enumerate(zip(bars, values, strict=True)):
        h = plot_h * value / top_value
        x = left + slot * i + (slot - bar_w) / 2
        parts.append(
            f'<rect class="chart-bar" x="{_f(x)}" y="{_f(base_y - h)}" width="{_f(bar_w)}" '
            f'height="{h:.3f}" data-value="{escape(str(bar.value))}">'
            f"<title>{escape(bar.label)}: {escape(bar.display)}</title></rect>"
        )
        if (len(bars) - 1 - i) % label_every == 0:  # the latest bar is always labelled
            parts.append(
                f'<text class="chart-axis" x="{_f(x + bar_w / 2)}" y="{_f(base_y + 16)}" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append(
        f'<line class="chart-baseline" x1="{left}" x2="{left + plot_w}" '
        f'y1="{_f(base_y)}" y2="{_f(base_y)}"/>'
    )
    return _close(parts)


def heat_colour(intensity: float) -> str:
    """Hex colour from light (0) to dark (1) blue."""
    k = min(max(intensity, 0.0), 1.0)
    rgb = (round(c + (h - c) * k) for c, h in zip(_COLD, _HOT, strict=True))
    return "#" + "".join(f"{v:02x}" for v in rgb)


def heat_map(
    cells: Sequence[Sequence[HeatCell | None]],
    *,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str,
    x_title: str = "",
    y_title: str = "",
    cell_width: int = 112,
    cell_height: int = 60,
    label_width: int = 64,
) -> Markup:
    """A grid of cells coloured by value relative to the largest; a None cell is left blank.

    `cells[i][j]` is drawn in row i (top to bottom) and column j (left to right).
    """
    if len(cells) != len(row_labels) or any(len(row) != len(column_labels) for row in cells):
        raise ValueError("cells must be len(row_labels) rows of len(column_labels) cells")
    top = 24 if x_title else 4
    y_title_w = 20 if y_title else 0
    left = y_title_w + label_width
    width = left + cell_width * len(column_labels) + 4
    grid_h = cell_height * len(row_labels)
    height = top + grid_h + 22
    parts = _open(width, height, title, "chart-heat")
    if x_title:
        parts.append(
            f'<text class="chart-axis-title" x="{_f(left + cell_width * len(column_labels) / 2)}" '
            f'y="16" text-anchor="middle">{escape(x_title)}</text>'
        )
    if y_title:
        cy = top + grid_h / 2
        parts.append(
            f'<text class="chart-axis-title" x="14" y="{_f(cy)}" text-anchor="middle" '
            f'transform="rotate(-90 14 {_f(cy)})">{escape(y_title)}</text>'
        )
    largest = max((float(c.value) for row in cells for c in row if c is not None), default=0.0)
    for i, (row_label, row) in enumerate(zip(row_labels, cells, strict=True)):
        y = top + cell_height * i
        parts.append(
            f'<text class="chart-axis" x="{left - 6}" y="{_f(y + cell_height / 2 + 4)}" '
            f'text-anchor="end">{escape(row_label)}</text>'
        )
        for j, cell in enumerate(row):
            if cell is None:
                continue
            x = left + cell_width * j
            value = float(cell.value)
            intensity = value / largest if largest > 0 else 0.0
            fill = heat_colour(intensity) if value > 0 else _EMPTY_FILL
            text_class = "chart-cell-text-light" if intensity > _DARK_TEXT_BELOW else ""
            if cell.href:
                parts.append(f'<a class="chart-link" href="{escape(cell.href)}">')
            parts.append(
                f'<g class="chart-cell" data-row="{i}" data-column="{j}" '
                f'data-value="{escape(str(cell.value))}">'
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_width - 2}" '
                f'height="{cell_height - 2}" rx="4" fill="{fill}"/>'
            )
            if cell.title:
                parts.append(f"<title>{escape(cell.title)}</title>")
            line_h = 15
            first_y = y + cell_height / 2 - line_h * (len(cell.lines) - 1) / 2 + 4
            for k, line in enumerate(cell.lines):
                parts.append(
                    f'<text class="chart-cell-text {text_class}" x="{_f(x + cell_width / 2)}" '
                    f'y="{_f(first_y + line_h * k)}" text-anchor="middle">{escape(line)}</text>'
                )
            parts.append("</g>")
            if cell.href:
                parts.append("</a>")
    for j, column_label in enumerate(column_labels):
        parts.append(
            f'<text class="chart-axis" x="{_f(left + cell_width * j + cell_width / 2)}" '
            f'y="{_f(top + grid_h + 16)}" text-anchor="middle">{escape(column_label)}</text>'
        )
    return _close(parts)
