"""Reads of the CSV exports: the interactions a member may see (leads and follow-ups come from the lists' own
selectors, `selectors.leads.leads` and `selectors.followups.followups`, so an export holds what its list shows)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from brokerages.models import Brokerage, User

from ..models import Interaction
from ..permissions import on_visible_leads


@dataclass(frozen=True)
class InteractionFilters:
    channel: str = ""
    agent: int | None = None
    since: dt.date | None = None  # both days included, in the brokerage's time zone
    until: dt.date | None = None


def interactions(brokerage: Brokerage, user: User, perms: frozenset[str], filters: InteractionFilters,
                 zone: dt.tzinfo) -> QuerySet[Interaction]:
    """The interactions on the leads the user may see (every lead for managers, held leads for agents),
    filtered, newest first."""
    queryset = on_visible_leads(Interaction.objects.filter(brokerage=brokerage), user, perms, brokerage)
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    if filters.agent:
        queryset = queryset.filter(agent_id=filters.agent)
    if filters.since:
        queryset = queryset.filter(occurred_at__gte=dt.datetime.combine(filters.since, dt.time(), zone))
    if filters.until:
        queryset = queryset.filter(
            occurred_at__lt=dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), zone))
    return queryset.order_by("-occurred_at", "-id")
