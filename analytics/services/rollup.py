"""The nightly rollup: the brokerage's CRM and coaching records of a range of days, summed per agent and day into
`TeamPerformance` rows.

What is counted on which day (the brokerage's calendar day, its `timezone` setting):
- leads generated: on the day the lead was created;
- leads converted / lost, properties sold, commission, client satisfaction: on the day the lead was won or lost
  (a lead reopened since counts nowhere until it closes again);
- response time: on the day of the lead's first contact, as minutes since the lead was created;
- conversations and their quality: on the day the conversation ended with a score.
Leads are the agent's they are assigned to now; unassigned leads count for no agent.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from brokerages.models import Brokerage
from brokerages.selectors import setting_value
from coaching.selectors.conversations import conversations_scored
from nurturing.models import Stage
from nurturing.selectors import activity

from ..models import TeamPerformance

MAX_RANGE_DAYS = 3 * 366
CENTS = Decimal("0.01")


@dataclass
class _Day:
    """One agent's day while it is being summed."""

    leads_generated: int = 0
    leads_converted: int = 0
    leads_lost: int = 0
    properties_sold: int = 0
    commission_earned: Decimal = Decimal(0)
    ratings: list[int] = field(default_factory=list)
    response_minutes: list[float] = field(default_factory=list)
    qualities: list[float] = field(default_factory=list)

    def row(self, brokerage: Brokerage, agent_id: int, day: dt.date) -> TeamPerformance:
        return TeamPerformance(
            brokerage=brokerage, agent_id=agent_id, metric_date=day, leads_generated=self.leads_generated,
            leads_converted=self.leads_converted, leads_lost=self.leads_lost, properties_sold=self.properties_sold,
            commission_earned=self.commission_earned.quantize(CENTS),
            client_satisfaction_score=_mean(self.ratings), satisfaction_ratings=len(self.ratings),
            response_time_minutes=round(sum(self.response_minutes) / len(self.response_minutes))
            if self.response_minutes else None,
            leads_responded=len(self.response_minutes), conversations=len(self.qualities),
            conversation_quality=_mean(self.qualities))


def _mean(values: list) -> Decimal | None:
    if not values:
        return None
    return (Decimal(str(sum(values))) / len(values)).quantize(CENTS, ROUND_HALF_UP)


@dataclass(frozen=True)
class RollupResult:
    since: dt.date
    until: dt.date
    rows: int


def brokerage_zone(brokerage: Brokerage) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(setting_value(brokerage, "timezone"))


def day_bounds(zone: zoneinfo.ZoneInfo, since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware span [start of `since`, start of the day after `until`) in the zone."""
    return (dt.datetime.combine(since, dt.time.min, zone),
            dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, zone))


@transaction.atomic
def performance_rollup(*, brokerage: Brokerage, since: dt.date, until: dt.date) -> RollupResult:
    """Rewrite the brokerage's TeamPerformance rows of the days `since`..`until` (both included) from the records.

    Before: since <= until, at most three years apart (else ValidationError). After: every agent with any
    activity on a day of the range has exactly one row for it, summing that day; days without activity have no
    row; rows outside the range are untouched. Re-running gives the same rows (idempotent), and two runs for
    one brokerage queue up on its row lock rather than collide.
    """
    if since > until:
        raise ValidationError(f"The range starts ({since}) after it ends ({until}); swap the dates.")
    if (until - since).days >= MAX_RANGE_DAYS:
        raise ValidationError(f"At most {MAX_RANGE_DAYS} days can be rolled up at once; split the range.")
    Brokerage.objects.select_for_update().filter(pk=brokerage.pk).first()
    zone = brokerage_zone(brokerage)
    start, end = day_bounds(zone, since, until)
    days: dict[tuple[int, dt.date], _Day] = defaultdict(_Day)

    def day_of(agent_id: int, moment: dt.datetime) -> _Day:
        return days[agent_id, moment.astimezone(zone).date()]

    for agent_id, created_at in activity.leads_created(brokerage, start, end):
        if agent_id is not None:
            day_of(agent_id, created_at).leads_generated += 1
    for agent_id, closed_at, stage, commission, sale_price, rating in activity.leads_closed(brokerage, start, end):
        if agent_id is None:
            continue
        day = day_of(agent_id, closed_at)
        if stage == Stage.LOST:
            day.leads_lost += 1
            continue
        day.leads_converted += 1
        day.properties_sold += sale_price is not None
        day.commission_earned += commission or 0
        if rating is not None:
            day.ratings.append(rating)
    for agent_id, created_at, contacted_at in activity.leads_first_contacted(brokerage, start, end):
        if agent_id is not None:
            day_of(agent_id, contacted_at).response_minutes.append(
                max(0.0, (contacted_at - created_at).total_seconds() / 60))
    for agent_id, ended_at, quality in conversations_scored(brokerage, start, end):
        day_of(agent_id, ended_at).qualities.append(quality)

    TeamPerformance.objects.filter(brokerage=brokerage, metric_date__gte=since, metric_date__lte=until).delete()
    rows = TeamPerformance.objects.bulk_create(
        [totals.row(brokerage, agent_id, day) for (agent_id, day), totals in sorted(days.items())],
        batch_size=2000)
    return RollupResult(since=since, until=until, rows=len(rows))
