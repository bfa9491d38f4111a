"""Server-rendered SVG charts: the same markup on a page, in an e-mail and in a WeasyPrint PDF.

Pure functions of their arguments, returning `SafeString` markup: no JavaScript, no fonts or images to fetch,
every label and title escaped. Colours come from the caller (the brokerage's brand); anything that is not a
#RGB/#RRGGBB colour falls back to the default palette, so a colour can never smuggle markup or CSS in.

Each chart carries its own accessible description: `role="img"` with an `aria-label`, a `<title>`, and a
visually hidden table of the data beside it (a screen reader or a copy-paste gets the figures, not a picture).
An empty series reads "No data for this period" instead of an axis of zeros pretending to be data.
"""

import math
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

NO_DATA = "No data for this period"
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
PALETTE = ("#1F4E79", "#C9A227", "#2E8B57", "#B03A2E", "#6C5B7B", "#3D7EA6")
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
_COLOUR = re.compile(r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})$")


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a value per label, None where there is nothing to show (a gap, not a zero)."""

    name: str
    values: list[float | None]


# --- numbers ------------------------------------------------------------------------------------------------

def nice_ticks(low: float, high: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × a power of ten) covering [low, high], about `count` steps; with
    `whole` (counts), no step below 1 — nobody wins a quarter of a lead."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("Ticks need finite bounds.")
    low, high = min(low, high), max(low, high)
    if high == low:
        if not low:
            return [0, 1]  # everything is zero: a flat line on a plain 0–1 axis
        low, high = min(0.0, low), max(0.0, high)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [factor * magnitude for factor in (1, 2, 2.5, 5, 10)]
    if whole:
        steps = [step for step in steps if float(step).is_integer()] + [1]
    step = next((step for step in steps if step >= raw - 1e-12), steps[-1])
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def short_number(value: float) -> str:
    """A tick or bar label: 1,234 · 12.5k · 3.4M · 0.25."""
    size = abs(value)
    if size >= 1_000_000:
        text = f"{value / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
    elif size >= 10_000:
        text = f"{value / 1_000:.1f}".rstrip("0").rstrip(".") + "k"
    elif float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".") if size < 10 else f"{value:,.1f}".rstrip("0").rstrip(".")
    return text.replace("-", "−")


def _with_unit(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = short_number(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _colour(value, fallback: str) -> str:
    return value if isinstance(value, str) and _COLOUR.match(value) else fallback


def _palette(colors) -> list[str]:
    chosen = [_colour(colour, PALETTE[index % len(PALETTE)]) for index, colour in enumerate(colors or [])]
    return chosen + [colour for colour in PALETTE if colour not in chosen]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _f(number: float) -> str:
    """A coordinate: two decimals are plenty and keep the markup small."""
    return f"{number:.2f}".rstrip("0").rstrip(".")


# --- shared markup ------------------------------------------------------------------------------------------

def _markup(text: str) -> SafeString:
    """Mark a finished chart safe. Sound because every text that reaches it went through `escape` (labels,
    titles, names, units) or is a number or a validated colour formatted here."""
    return mark_safe(text)  # noqa: S308


def _svg(width: int, height: int, label: str, title: str, body: list[str], css_class: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
            f'font-family="{FONT}" font-size="11" fill="{INK}">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _empty(title: str, width: int, height: int, css_class: str) -> SafeString:
    body = [f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#fafbfc" '
            f'stroke="{GRID}" stroke-dasharray="4 3"/>',
            f'<text x="{width / 2:g}" y="{height / 2 + 4:g}" text-anchor="middle" fill="{MUTED}">{NO_DATA}</text>']
    svg = _svg(width, height, f"{title}: {NO_DATA}", title, body, css_class)
    return _markup(f'<figure class="chart chart-empty">{_caption(title)}{svg}</figure>')


def _caption(title: str) -> str:
    return f"<figcaption>{escape(title)}</figcaption>"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th scope="col">{escape(cell)}</th>' for cell in header)
    body = "".join("<tr>" + f'<th scope="row">{escape(row[0])}</th>'
                   + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:]) + "</tr>" for row in rows)
    return (f'<table class="visually-hidden"><caption>{escape(title)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


# --- charts -------------------------------------------------------------------------------------------------

def line_chart(labels: list[str], series: list[Series], *, title: str, unit: str = "", colors=None,
               width: int = 640, height: int = 220) -> SafeString:
    """A line per series over the labels (the x axis, evenly spaced), with a y axis of round ticks, a legend, the
    title as the figure's caption and a hidden data table. None values break the line (a point with no neighbour
    is drawn as a dot)."""
    labels = [str(label) for label in labels]
    series = [Series(str(line.name), list(line.values)[: len(labels)]) for line in series]
    present = [value for line in series for value in line.values if value is not None]
    if not labels or not present:
        return _empty(title, width, height, "chart-line")
    ticks = nice_ticks(min(0.0, min(present)), max(present),
                       whole=all(float(value).is_integer() for value in present))
    low, high = ticks[0], ticks[-1]
    tick_width = max(len(_with_unit(tick, "%" if unit == "%" else "")) for tick in ticks)
    left, right, top, bottom = 14 + 6.5 * tick_width, 14, 34 if len(series) > 1 or unit else 16, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / (len(labels) - 1) if len(labels) > 1 else 0

    def x(index: int) -> float:
        return left + index * step if len(labels) > 1 else left + plot_w / 2

    def y(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    body = []
    for tick in ticks:
        body.append(f'<line x1="{_f(left)}" x2="{_f(width - right)}" y1="{_f(y(tick))}" y2="{_f(y(tick))}" '
                    f'stroke="{INK if tick == 0 else GRID}" stroke-width="{1 if tick == 0 else 0.8}"/>')
        body.append(f'<text x="{_f(left - 6)}" y="{_f(y(tick) + 4)}" text-anchor="end" fill="{MUTED}">'
                    f'{escape(_with_unit(tick, "%" if unit == "%" else ""))}</text>')
    if unit and unit != "%":
        body.append(f'<text x="4" y="12" fill="{MUTED}">{escape(unit)}</text>')
    every = max(1, math.ceil(len(labels) / max(2, int(plot_w // 70))))
    for index in range(0, len(labels), every):
        text = _shorten(labels[index], 14)
        # Labels at the ends lean inwards rather than run off the drawing.
        anchor = ("start" if len(labels) > 1 and index == 0
                  else "end" if x(index) + 3.3 * len(text) > width - 2 else "middle")
        body.append(f'<text x="{_f(x(index))}" y="{height - 8}" text-anchor="{anchor}" fill="{MUTED}">'
                    f"{escape(text)}</text>")

    colours = _palette(colors)
    dots = len(labels) <= 40
    for number, line in enumerate(series):
        colour = colours[number % len(colours)]
        path, previous = [], None
        for index, value in enumerate(line.values):
            if value is None:
                previous = None
                continue
            path.append(f"{'L' if previous is not None else 'M'}{_f(x(index))} {_f(y(value))}")
            previous = value
        if path:
            body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2" '
                        f'stroke-linejoin="round" stroke-linecap="round"/>')
        for index, value in enumerate(line.values):
            isolated = value is not None and (index == 0 or line.values[index - 1] is None) and (
                index + 1 >= len(line.values) or line.values[index + 1] is None)
            if value is not None and (dots or isolated):
                tip = escape(f"{line.name}, {labels[index]}: {_with_unit(value, unit)}")
                body.append(f'<circle cx="{_f(x(index))}" cy="{_f(y(value))}" r="{3 if isolated else 2.2}" '
                            f'fill="{colour}"><title>{tip}</title></circle>')
    if len(series) > 1:
        cursor = left
        for number, line in enumerate(series):
            colour = colours[number % len(colours)]
            body.append(f'<rect x="{_f(cursor)}" y="8" width="12" height="4" rx="1" fill="{colour}"/>'
                        f'<text x="{_f(cursor + 16)}" y="14">{escape(_shorten(line.name, 28))}</text>')
            cursor += 16 + 6.5 * len(_shorten(line.name, 28)) + 18

    label = (f"{title}: {', '.join(line.name for line in series)} from {labels[0]} to {labels[-1]}; "
             f"values between {_with_unit(min(present), unit)} and {_with_unit(max(present), unit)}.")
    table = _table(title, ["", *[line.name for line in series]],
                   [[labels[index], *[_with_unit(line.values[index] if index < len(line.values) else None, unit)
                                      for line in series]] for index in range(len(labels))])
    svg = _svg(width, height, label, title, body, "chart-line")
    return _markup(f'<figure class="chart">{_caption(title)}{svg}{table}</figure>')


def bar_chart(labels: list[str], values: list[float | None], *, title: str, unit: str = "", color=None,
              width: int = 640, bar_height: int = 16, gap: int = 6) -> SafeString:
    """Horizontal bars, one per label in the order given (so the caller sorts: best agent first), the value at
    the end of each bar; None shows a dash and no bar. The height grows with the number of bars."""
    labels = [str(label) for label in labels]
    values = list(values)[: len(labels)] + [None] * (len(labels) - len(values))
    present = [value for value in values if value is not None]
    if not labels or not present:
        return _empty(title, width, 90, "chart-bar")
    ticks = nice_ticks(min(0.0, min(present)), max(0.0, max(present)))
    low, high = ticks[0], ticks[-1]
    name_width = min(26, max(len(label) for label in labels))
    value_width = max(len(_with_unit(value, unit)) for value in values)
    left, right, top = 10 + 6.3 * name_width, 10 + 6.5 * value_width, 6
    plot_w = max(40.0, width - left - right)
    height = top + len(labels) * (bar_height + gap) + 4
    colour = _colour(color, PALETTE[0])

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * plot_w

    body = [f'<line x1="{_f(x(0))}" x2="{_f(x(0))}" y1="{top - 2}" y2="{height - 2}" stroke="{GRID}"/>']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        row_y = top + index * (bar_height + gap)
        middle = row_y + bar_height / 2 + 4
        body.append(f'<text x="{_f(left - 6)}" y="{_f(middle)}" text-anchor="end">'
                    f"{escape(_shorten(label, 26))}</text>")
        if value is None:
            body.append(f'<text x="{_f(x(0) + 4)}" y="{_f(middle)}" fill="{MUTED}">—</text>')
            continue
        start, end = sorted((x(0), x(value)))
        body.append(f'<rect x="{_f(start)}" y="{row_y}" width="{_f(max(end - start, 1))}" height="{bar_height}" '
                    f'rx="2" fill="{colour}"><title>{escape(f"{label}: {_with_unit(value, unit)}")}</title></rect>')
        anchor, at = ("end", start - 4) if value < 0 else ("start", end + 4)
        body.append(f'<text x="{_f(at)}" y="{_f(middle)}" text-anchor="{anchor}" fill="{MUTED}">'
                    f"{escape(_with_unit(value, unit))}</text>")
    label = f"{title}: {len(labels)} bars, from {_with_unit(min(present), unit)} to {_with_unit(max(present), unit)}."
    table = _table(title, ["", title], [[name, _with_unit(value, unit)]
                                        for name, value in zip(labels, values, strict=True)])
    svg = _svg(width, height, label, title, body, "chart-bar")
    return _markup(f'<figure class="chart">{_caption(title)}{svg}{table}</figure>')


def sparkline(values: list[float | None], *, color=None, width: int = 100, height: int = 24,
              title: str = "Trend") -> SafeString:
    """A small trend line without axes (gaps for None), for a table cell; the first and last values are in its
    label. Empty data gives a dashed baseline labelled "No data for this period"."""
    values = list(values)
    present = [value for value in values if value is not None]
    colour = _colour(color, PALETTE[0])
    if not present:
        body = [f'<line x1="2" x2="{width - 2}" y1="{height / 2:g}" y2="{height / 2:g}" stroke="{GRID}" '
                'stroke-dasharray="3 3"/>']
        return _markup(_svg(width, height, f"{title}: {NO_DATA}", f"{title}: {NO_DATA}", body, "sparkline"))
    low, high = min(present), max(present)
    span = high - low or 1.0
    step = (width - 4) / (len(values) - 1) if len(values) > 1 else 0

    def point(index: int, value: float) -> str:
        px = 2 + index * step if len(values) > 1 else width / 2
        # A flat series sits in the middle rather than on the floor.
        py = height / 2 if high == low else height - 2 - (value - low) / span * (height - 4)
        return f"{_f(px)} {_f(py)}"

    path, joined = [], False
    for index, value in enumerate(values):
        if value is None:
            joined = False
            continue
        path.append(f"{'L' if joined else 'M'}{point(index, value)}")
        joined = True
    last = next(index for index in range(len(values) - 1, -1, -1) if values[index] is not None)
    cx, cy = point(last, values[last]).split()
    body = [f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-linejoin="round"/>',
            f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>']
    label = f"{title}: from {short_number(present[0])} to {short_number(present[-1])}"
    return _markup(_svg(width, height, label, label, body, "sparkline"))
