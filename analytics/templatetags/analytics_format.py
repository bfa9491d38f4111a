"""How analytics figures read: one filter per unit, so a page, a report and an e-mail show a figure the same way.
A figure that could not be computed (None) reads as an em dash; the page says why next to it."""

from decimal import Decimal

from django import template

register = template.Library()

DASH = "—"


@register.filter
def figure(value, unit: str) -> str:
    """`count` 1,234 · `money` AED 12,345 · `rate` 23.4% (of a 0–1 fraction) · `minutes` 42 min / 3.5 h ·
    `score5` 4.3 / 5 · `score100` 71."""
    if value is None:
        return DASH
    if unit == "money":
        return f"AED {Decimal(value):,.0f}"
    if unit == "rate":
        return f"{100 * float(value):.1f}%"
    if unit == "minutes":
        minutes = float(value)
        return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
    if unit == "score5":
        return f"{float(value):.2f} / 5"
    if unit == "score100":
        return f"{float(value):.0f}"
    if unit == "percent":
        return f"{float(value):.1f}%"
    return f"{value:,}" if isinstance(value, int) else f"{float(value):,.1f}"


@register.filter
def change(kpi) -> str:
    """A KPI's change against the previous period: points for rates and scores, percent for counts and money,
    minutes for response time."""
    delta = kpi.change
    if delta is None:
        return "no comparison" if kpi.previous is None else "new"
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    size = abs(delta)
    if kpi.unit == "rate":
        return f"{sign}{100 * size:.1f} pts"
    if kpi.unit == "minutes":
        return f"{sign}{size:.0f} min"
    if kpi.unit == "score5":
        return f"{sign}{size:.2f}"
    if kpi.unit == "score100":
        return f"{sign}{size:.1f} pts"
    return f"{sign}{size:.0f}%"


@register.filter
def attr(obj, name: str):
    """`totals|attr:"conversion_rate"`: a figure named by a table's column list."""
    return getattr(obj, name)
