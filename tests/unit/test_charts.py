"""The admin's SVG charts: well-formed XML, geometry proportional to values, safe labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from app.charts import Bar, HeatCell, bar_chart, heat_colour, heat_map, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314  (our own output, not untrusted input)


def test_bar_heights_are_proportional_to_values() -> None:
    bars = [Bar("Jan", Decimal(1000), "¥1,000"), Bar("Feb", Decimal(2500), "¥2,500")]
    root = parse(bar_chart(bars, title="Revenue"))
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 2
    heights = [float(r.get("height", "0")) for r in rects]
    assert heights[1] / heights[0] == pytest.approx(2.5, rel=1e-3)
    # Bars stand on the same baseline.
    bottoms = [float(r.get("y", "0")) + float(r.get("height", "0")) for r in rects]
    assert bottoms[0] == pytest.approx(bottoms[1], abs=0.1)
    assert [r.findtext(f"{SVG}title") for r in rects] == ["Jan: ¥1,000", "Feb: ¥2,500"]


def test_axis_labels_use_the_formatter_and_round_steps() -> None:
    root = parse(bar_chart([Bar("a", 90, "90")], title="t", y_format=lambda v: f"¥{v:,.0f}"))
    labels = [t.text for t in root.findall(f"{SVG}text") if (t.text or "").startswith("¥")]
    assert labels == ["¥0", "¥25", "¥50", "¥75", "¥100"]


def test_negative_values_draw_as_zero_height() -> None:
    root = parse(bar_chart([Bar("a", -5, "-5"), Bar("b", 10, "10")], title="t"))
    heights = [float(r.get("height", "0")) for r in root.findall(f"{SVG}rect")]
    assert heights[0] == 0
    assert heights[1] > 0


def test_empty_data_shows_a_message() -> None:
    root = parse(bar_chart([], title="Revenue", empty_text="データなし"))
    assert root.findall(f"{SVG}rect") == []
    assert any(t.text == "データなし" for t in root.iter(f"{SVG}text"))


def test_japanese_and_markup_in_labels_are_escaped() -> None:
    nasty = '山田 <script>alert("x")</script> & 花子'
    svg = bar_chart([Bar(nasty, 1, nasty)], title=f"売上 {nasty}")
    assert "<script>" not in svg
    root = parse(svg)
    assert root.findtext(f"{SVG}title") == f"売上 {nasty}"
    assert root.get("aria-label") == f"売上 {nasty}"
    assert any(t.text == nasty for t in root.iter(f"{SVG}text"))

    heat = heat_map(
        [[HeatCell(1, (nasty, "1"), title=nasty)]],
        row_labels=["<r>"],
        column_labels=["チャンピオン"],
        title="RFM",
        x_title="最終購入",
        y_title="頻度 & 金額",
    )
    assert "<script>" not in heat
    root = parse(heat)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert nasty in texts
    assert "<r>" in texts
    assert "頻度 & 金額" in texts


def test_heat_map_colours_by_value_and_skips_missing_cells() -> None:
    cells = [[HeatCell(10, ("10",)), HeatCell(0, ("0",))], [HeatCell(5, ("5",)), None]]
    root = parse(heat_map(cells, row_labels=["a", "b"], column_labels=["x", "y"], title="t"))
    groups = root.findall(f"{SVG}g")
    assert len(groups) == 3  # the None cell is blank
    fills = {
        (g.get("data-row"), g.get("data-column")): g.find(f"{SVG}rect").get("fill")  # type: ignore[union-attr]
        for g in groups
    }
    assert fills[("0", "0")] == heat_colour(1.0)
    assert fills[("1", "0")] == heat_colour(0.5)
    assert fills[("0", "1")] == "#f4f4f4"


def test_heat_map_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="cells"):
        heat_map([[HeatCell(1)]], row_labels=["a"], column_labels=["x", "y"], title="t")


def test_heat_map_with_no_values_is_valid() -> None:
    root = parse(heat_map([[HeatCell(0)]], row_labels=["a"], column_labels=["x"], title="t"))
    assert root.find(f"{SVG}g") is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1.0), (0.3, 0.5), (1, 1.0), (1.1, 2.0), (2.2, 2.5), (3, 5.0), (7, 10.0), (2400, 2500.0)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)
