"""The trend charts of a period, one definition for the pages and the reports: leads, conversion, response time
and conversation quality per step of the period (days, weeks or months: `selectors.team.buckets`), in the
brokerage's colours."""

import datetime as dt

from django.utils.safestring import SafeString

from brokerages.models import Brokerage

from .charts import Series, line_chart
from .period import Period
from .selectors.team import Totals

TRENDS = ("leads", "conversion", "response", "quality")
LOST_COLOUR = "#B03A2E"


def step_label(period: Period, day: dt.date) -> str:
    """A step by its first day (days and weeks) or its month (periods over a year, stepped by month)."""
    return f"{day:%b %Y}" if period.days > 366 else f"{day:%-d %b}"


def step_name(period: Period) -> str:
    return "day" if period.days <= 62 else "week" if period.days <= 366 else "month"


def percent(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def trend_charts(brokerage: Brokerage, period: Period, steps: list[tuple[dt.date, Totals]], *,
                 team_steps: list[tuple[dt.date, Totals]] | None = None,
                 names: tuple[str, ...] = TRENDS) -> dict[str, SafeString]:
    """The charts named (of TRENDS), in that order. With `team_steps` (an agent's report), the rates get the
    team's line beside the agent's."""
    labels = [step_label(period, day) for day, _ in steps]
    colours = [brokerage.primary_color, brokerage.secondary_color]
    step = step_name(period)

    def lines(name: str, scale) -> list[Series]:
        own = [Series("Agent" if team_steps else "Team", [scale(getattr(totals, name)) for _, totals in steps])]
        if team_steps:
            own.append(Series("Team", [scale(getattr(totals, name)) for _, totals in team_steps]))
        return own

    build = {
        "leads": lambda: line_chart(labels, [
            Series("Leads generated", [totals.leads_generated for _, totals in steps]),
            Series("Won", [totals.leads_converted for _, totals in steps]),
            Series("Lost", [totals.leads_lost for _, totals in steps])],
            title=f"Leads per {step}", colors=[*colours, LOST_COLOUR]),
        "conversion": lambda: line_chart(labels, lines("conversion_rate", percent),
                                         title=f"Conversion rate per {step}", unit="%", colors=colours),
        "response": lambda: line_chart(labels, lines("response_time_minutes", _rounded),
                                       title=f"Mean response time per {step}", unit="min", colors=colours),
        "quality": lambda: line_chart(labels, lines("conversation_quality", _rounded),
                                      title=f"Conversation quality per {step} (0–100)", colors=colours),
    }
    return {name: build[name]() for name in names}
