"""The period every analytics page, export, report and API call is about: whole days of the brokerage's calendar,
both ends included, and the period of the same length just before it (what "change vs previous period" compares
with)."""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_DAYS = 731  # two years: a longer span stops being a period anyone compares
EARLIEST = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    zone: zoneinfo.ZoneInfo

    def __post_init__(self):
        problems = period_problems(self.start, self.end, today=dt.datetime.now(self.zone).date())
        if problems:
            raise ValidationError(problems)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        length = dt.timedelta(days=self.days)
        return Period(self.start - length, self.end - length, self.zone)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The aware span [start of the first day, start of the day after the last) in the brokerage's zone."""
        return (dt.datetime.combine(self.start, dt.time.min, self.zone),
                dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, self.zone))

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=offset) for offset in range(self.days)]

    @property
    def label(self) -> str:
        if self.start.year == self.end.year:
            return f"{self.start:%-d %b} – {self.end:%-d %b %Y}"
        return f"{self.start:%-d %b %Y} – {self.end:%-d %b %Y}"

    def query(self) -> str:
        """The period as the pages' query string (`start`/`end`), for links that keep it."""
        return f"start={self.start.isoformat()}&end={self.end.isoformat()}"


def period_problems(start: dt.date, end: dt.date, *, today: dt.date) -> list[str]:
    """What is wrong with a period, in words a person can act on (empty when it is fine)."""
    if start > end:
        return [f"The period starts ({start:%-d %b %Y}) after it ends ({end:%-d %b %Y}); swap the dates."]
    problems = []
    if start < EARLIEST:
        problems.append(f"The period starts before {EARLIEST:%Y}; pick a later start.")
    if start > today:
        problems.append("The period starts in the future; nothing has happened yet.")
    if (end - start).days + 1 > MAX_DAYS:
        problems.append(f"Pick a period of at most {MAX_DAYS} days (two years).")
    return problems


def preset_period(name: str, today: dt.date, zone: zoneinfo.ZoneInfo) -> Period:
    """The named periods of the filter: the last 7/30/90/365 days up to today, this and last quarter, this year."""
    if name.startswith("last_") and name.removeprefix("last_").isdigit():
        days = int(name.removeprefix("last_"))
        return Period(today - dt.timedelta(days=days - 1), today, zone)
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    if name == "this_quarter":
        return Period(quarter_start, today, zone)
    if name == "last_quarter":
        end = quarter_start - dt.timedelta(days=1)
        return Period(dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end, zone)
    if name == "this_year":
        return Period(dt.date(today.year, 1, 1), today, zone)
    raise ValidationError(f"Unknown period “{name}”.")


PRESETS = (
    ("last_7", "Last 7 days"),
    ("last_30", "Last 30 days"),
    ("last_90", "Last 90 days"),
    ("this_quarter", "This quarter"),
    ("last_quarter", "Last quarter"),
    ("this_year", "This year"),
    ("last_365", "Last 12 months"),
)
DEFAULT_PRESET = "last_30"
