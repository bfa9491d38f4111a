"""Server-rendered SVG charts: round scales, gaps for missing values, escaped labels, honest empty states."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.utils.safestring import SafeString

from analytics.charts import NO_DATA, Series, bar_chart, line_chart, nice_ticks, short_number, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(markup: str) -> ET.Element:
    """The chart's <svg> element, parsed as XML (so the markup is well formed, or this fails)."""
    return ET.fromstring(re.search(r"<svg.*</svg>", markup, re.S).group(0))  # noqa: S314 (our own markup)


def texts(svg: ET.Element) -> list[str]:
    return [element.text for element in svg.iter(f"{SVG}text")]


def paths(svg: ET.Element) -> list[str]:
    return [element.get("d") for element in svg.iter(f"{SVG}path")]


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0, 87, [0, 25, 50, 75, 100]),
    (0, 1, [0, 0.25, 0.5, 0.75, 1]),
    (0, 0, [0, 1]),
    (0, 1234, [0, 500, 1000, 1500]),
    (-30, 45, [-40, -20, 0, 20, 40, 60]),
    (0, 5, [0, 2, 4, 6]),
])
def test_ticks_are_round_numbers_covering_the_data(low, high, expected):
    assert nice_ticks(low, high) == expected


def test_counts_never_get_fractional_ticks():
    assert nice_ticks(0, 2, whole=True) == [0, 1, 2]
    assert nice_ticks(0, 9, whole=True) == [0, 5, 10]
    assert nice_ticks(0, 2) == [0, 0.5, 1, 1.5, 2]


def test_tick_labels_are_short():
    assert [short_number(value) for value in (1234, 12_500, 3_400_000, 0.25, -40)] == \
        ["1,234", "12.5k", "3.4M", "0.25", "−40"]


def test_line_chart_scale_starts_at_zero_and_covers_the_largest_value():
    chart = line_chart(["Mon", "Tue", "Wed"], [Series("Leads", [3, 87, 40])], title="Leads per day")
    assert isinstance(chart, SafeString)
    svg = svg_of(chart)
    labels = texts(svg)
    assert ["0", "25", "50", "75", "100"] == [label for label in labels if label.isdigit()]
    assert {"Mon", "Tue", "Wed"} <= set(labels)
    assert svg.get("role") == "img" and "Leads per day" in svg.get("aria-label")
    assert svg.find(f"{SVG}title").text == "Leads per day"
    # 87 sits between the 75 and 100 gridlines, about half way (SVG y grows downwards).
    y_of = {element.text: float(element.get("y")) - 4 for element in svg.iter(f"{SVG}text")}
    peak = float(paths(svg)[0].split("L")[1].split()[1])
    assert y_of["100"] < peak < y_of["75"]
    assert (y_of["75"] - peak) / (y_of["75"] - y_of["100"]) == pytest.approx(12 / 25, abs=0.01)


def test_none_is_a_gap_in_the_line_not_a_zero():
    chart = line_chart(["1", "2", "3", "4", "5"], [Series("Conversion", [40, 50, None, 20, 30])],
                       title="Conversion", unit="%")
    path = paths(svg_of(chart))[0]
    assert path.count("M") == 2 and path.count("L") == 2  # two segments of two points each
    table = re.search(r'<table class="visually-hidden">.*</table>', chart, re.S).group(0)
    assert "<td>—</td>" in table and "<td>40%</td>" in table and "<td>0%</td>" not in table


def test_a_point_without_neighbours_is_drawn_as_a_dot():
    chart = line_chart(["1", "2", "3"], [Series("Quality", [None, 70, None])], title="Quality")
    svg = svg_of(chart)
    assert len(list(svg.iter(f"{SVG}circle"))) == 1


def test_several_series_get_a_legend_and_their_colours():
    chart = line_chart(["a", "b"], [Series("Generated", [1, 2]), Series("Won", [0, 1])], title="Leads",
                       colors=["#123456", "#abcdef"])
    svg = svg_of(chart)
    assert {"Generated", "Won"} <= set(texts(svg))
    strokes = [element.get("stroke") for element in svg.iter(f"{SVG}path")]
    assert strokes == ["#123456", "#abcdef"]


def test_a_colour_that_is_not_a_colour_falls_back_to_the_palette():
    chart = line_chart(["a", "b"], [Series("x", [1, 2])], title="T", colors=['red" onload="alert(1)'])
    assert "onload" not in chart and 'stroke="#1F4E79"' in chart


def test_labels_and_titles_are_escaped():
    evil = "<script>alert('x')</script>"
    for chart in (line_chart([evil, "b"], [Series(evil, [1, 2]), Series("y", [2, 1])], title=evil),
                  bar_chart([evil], [5], title=evil), sparkline([1, 2], title=evil)):
        assert "<script>" not in chart
        assert "&lt;script&gt;" in chart
        svg_of(chart)  # still well-formed XML


@pytest.mark.parametrize("chart", [
    lambda: line_chart([], [], title="Leads"),
    lambda: line_chart(["a", "b"], [Series("Leads", [None, None])], title="Leads"),
    lambda: bar_chart([], [], title="Leads"),
    lambda: bar_chart(["Ana"], [None], title="Leads"),
])
def test_empty_data_says_so_instead_of_drawing_zeros(chart):
    markup = chart()
    assert NO_DATA in markup
    assert svg_of(markup).get("aria-label").endswith(NO_DATA)


def test_all_zero_values_draw_a_flat_line_on_a_zero_to_one_axis():
    svg = svg_of(line_chart(["a", "b"], [Series("Leads", [0, 0])], title="Leads"))
    assert "0" in texts(svg) and "1" in texts(svg)
    assert len(paths(svg)) == 1


def test_axis_labels_stay_inside_the_drawing():
    labels = [f"{day} Nov" for day in range(1, 31)]
    svg = svg_of(line_chart(labels, [Series("Leads", list(range(30)))], title="Leads", width=400, height=200))
    for text in svg.iter(f"{SVG}text"):
        if text.get("y") != "192":  # the x axis
            continue
        x, half = float(text.get("x")), 3.3 * len(text.text)
        left = {"start": x, "middle": x - half, "end": x - 2 * half}[text.get("text-anchor")]
        assert 0 <= left and left + 2 * half <= 400, (text.text, text.get("text-anchor"), x)


def test_a_single_label_is_centred_rather_than_divided_by_zero():
    svg = svg_of(line_chart(["Only"], [Series("Leads", [5])], title="Leads", width=400))
    circle = next(svg.iter(f"{SVG}circle"))
    assert 150 < float(circle.get("cx")) < 300


def test_bar_chart_bars_are_proportional_and_labelled_with_their_values():
    chart = bar_chart(["Ana", "Omar", "Lina"], [1000, 500, None], title="Commission", unit="AED")
    svg = svg_of(chart)
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1], rel=0.01)
    assert {"Ana", "Omar", "Lina", "1,000 AED", "500 AED", "—"} <= set(texts(svg))
    assert int(svg.get("height")) > 3 * 16


def test_sparkline_breaks_at_gaps_and_handles_flat_and_empty_series():
    assert paths(svg_of(sparkline([1, None, 3, 4])))[0].count("M") == 2
    flat = paths(svg_of(sparkline([2, 2, 2], width=100, height=24)))[0]
    assert all(point.split()[1] == "12" for point in re.findall(r"[ML]([\d.]+ [\d.]+)", flat))
    empty = sparkline([None, None])
    assert NO_DATA in empty and not paths(svg_of(empty))


def test_charts_reference_nothing_outside_themselves():
    for chart in (line_chart(["a", "b"], [Series("x", [1, 2])], title="T"), bar_chart(["a"], [1], title="T"),
                  sparkline([1, 2])):
        assert "href" not in chart and "url(" not in chart and "<script" not in chart
