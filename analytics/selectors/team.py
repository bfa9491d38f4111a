"""Team performance for a period, from the rolled-up `TeamPerformance` rows: each agent's totals, the team's, the
same for the previous period, and the daily series the charts draw. A constant number of queries whatever the
number of agents or days: every figure is a grouped sum in the database, every rate is computed from sums.

Formulas (shown on the pages next to the figures):
- conversion rate = leads won ÷ leads closed (won + lost) in the period;
- response time = mean minutes from a lead's creation to its first contact, over leads first contacted in the
  period (each lead weighs the same, whichever day it fell on);
- client satisfaction = mean 1–5 rating of the leads won in the period;
- conversation quality = mean 0–100 score of the coached conversations that ended in the period.
"""

import datetime as dt
from dataclasses import asdict, dataclass, fields
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from brokerages.models import Brokerage, Role, User

from ..models import TeamPerformance
from ..period import Period

FORMULAS = {
    "leads_generated": "Leads created in the period and assigned to the agent.",
    "leads_converted": "Leads won in the period.",
    "leads_lost": "Leads lost in the period.",
    "conversion_rate": "Leads won ÷ leads closed (won + lost) in the period.",
    "properties_sold": "Won leads with a recorded sale price.",
    "commission_earned": "Sum of the commission of the leads won in the period (AED).",
    "response_time_minutes": "Mean minutes from a lead's creation to its first contact, over the leads first "
                             "contacted in the period.",
    "client_satisfaction": "Mean 1–5 rating of the leads won in the period.",
    "conversation_quality": "Mean 0–100 quality score of the coached conversations that ended in the period.",
}

SUMS = ("leads_generated", "leads_converted", "leads_lost", "properties_sold", "satisfaction_ratings",
        "leads_responded", "conversations")


@dataclass(frozen=True)
class Totals:
    """Sums of a set of TeamPerformance rows, and the rates computed from them (None where there is nothing to
    divide by)."""

    leads_generated: int = 0
    leads_converted: int = 0
    leads_lost: int = 0
    properties_sold: int = 0
    commission_earned: Decimal = Decimal(0)
    satisfaction_ratings: int = 0
    satisfaction_points: Decimal = Decimal(0)
    leads_responded: int = 0
    response_minutes: int = 0
    conversations: int = 0
    quality_points: Decimal = Decimal(0)

    @property
    def leads_closed(self) -> int:
        return self.leads_converted + self.leads_lost

    @property
    def conversion_rate(self) -> float | None:
        return self.leads_converted / self.leads_closed if self.leads_closed else None

    @property
    def response_time_minutes(self) -> float | None:
        return self.response_minutes / self.leads_responded if self.leads_responded else None

    @property
    def client_satisfaction(self) -> float | None:
        return float(self.satisfaction_points) / self.satisfaction_ratings if self.satisfaction_ratings else None

    @property
    def conversation_quality(self) -> float | None:
        return float(self.quality_points) / self.conversations if self.conversations else None

    @property
    def has_activity(self) -> bool:
        return any(getattr(self, name) for name in SUMS)

    def rates(self) -> dict:
        return {"conversion_rate": self.conversion_rate, "response_time_minutes": self.response_time_minutes,
                "client_satisfaction": self.client_satisfaction, "conversation_quality": self.conversation_quality}

    def to_dict(self) -> dict:
        return {**asdict(self), "leads_closed": self.leads_closed, **self.rates()}

    def __add__(self, other: "Totals") -> "Totals":
        return Totals.total((self, other))

    @classmethod
    def total(cls, parts: Iterable["Totals"]) -> "Totals":
        """The sum of many, field by field in one pass (a team is summed several times per page)."""
        sums = asdict(cls())
        for part in parts:
            for name in FIELDS:
                sums[name] += getattr(part, name)
        return cls(**sums)


FIELDS = tuple(item.name for item in fields(Totals))


MONEY = DecimalField(max_digits=20, decimal_places=4)
# Aliased ("total_…"): an annotation named like a field would shadow the field in the products below.
AGGREGATES = {
    **{f"total_{name}": Coalesce(Sum(name), 0) for name in SUMS},
    "total_commission_earned": Coalesce(Sum("commission_earned"), Decimal(0), output_field=MONEY),
    "total_satisfaction_points": Coalesce(Sum(F("client_satisfaction_score") * F("satisfaction_ratings"),
                                              output_field=MONEY), Decimal(0), output_field=MONEY),
    "total_response_minutes": Coalesce(Sum(F("response_time_minutes") * F("leads_responded")), 0),
    "total_quality_points": Coalesce(Sum(F("conversation_quality") * F("conversations"), output_field=MONEY),
                                     Decimal(0), output_field=MONEY),
}


def agents_of(brokerage: Brokerage) -> QuerySet[User]:
    """The members analytics is about: the brokerage's agents, and anyone else who holds leads or is coached (an
    owner who sells). Those who have left stay: their history does."""
    has_rows = Exists(TeamPerformance.objects.filter(brokerage=brokerage, agent=OuterRef("pk")))
    return (User.objects.filter(brokerage=brokerage).filter(Q(role=Role.AGENT) | Q(has_rows))
            .order_by("-is_active", "full_name", "email"))


def _rows(brokerage: Brokerage, period: Period, agent_id: int | None) -> QuerySet[TeamPerformance]:
    rows = TeamPerformance.objects.filter(brokerage=brokerage, metric_date__gte=period.start,
                                          metric_date__lte=period.end)
    return rows.filter(agent_id=agent_id) if agent_id else rows


def _totals(values: dict) -> Totals:
    return Totals(**{name: values[f"total_{name}"] for name in FIELDS})


def totals_by_agent(brokerage: Brokerage, period: Period, agent_id: int | None = None) -> dict[int, Totals]:
    """Each agent's totals over the period (agents without a row in it are absent). One query."""
    grouped = _rows(brokerage, period, agent_id).values("agent_id").order_by("agent_id").annotate(**AGGREGATES)
    return {values["agent_id"]: _totals(values) for values in grouped}


def team_totals(brokerage: Brokerage, period: Period, agent_id: int | None = None) -> Totals:
    """The team's (or one agent's) totals over the period. One query."""
    return _totals(_rows(brokerage, period, agent_id).aggregate(**AGGREGATES))


def daily_totals(brokerage: Brokerage, period: Period, agent_id: int | None = None) -> dict[dt.date, Totals]:
    """The team's (or one agent's) totals of each day of the period that has any row. One query."""
    grouped = (_rows(brokerage, period, agent_id).values("metric_date").order_by("metric_date")
               .annotate(**AGGREGATES))
    return {values["metric_date"]: _totals(values) for values in grouped}


def step_start(period: Period, day: dt.date) -> dt.date:
    if period.days <= 62:
        return day
    if period.days <= 366:
        return max(period.start, day - dt.timedelta(days=day.weekday()))
    return max(period.start, day.replace(day=1))


def buckets(period: Period, daily: dict[dt.date, Totals]) -> list[tuple[dt.date, Totals]]:
    """The daily totals summed into the steps a chart of the period reads well in: days up to two months, weeks
    (starting Monday) up to a year, months beyond. Each step is labelled by its first day within the period;
    steps without activity are there with zero totals, so a quiet week shows as a dip, not a gap."""
    steps: dict[dt.date, Totals] = {}
    for day in period.dates():
        step = step_start(period, day)
        steps[step] = steps.get(step, Totals()) + daily.get(day, Totals())
    return list(steps.items())
