"""Reads of the CRM core: the lead list an agent or a manager sees, one lead with its timeline."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, Role, User

from ..models import Interaction, Lead, Stage
from ..permissions import leads_visible_to


def lead_get(brokerage: Brokerage, pk: int) -> Lead:
    return get_object_or_404(Lead.objects.select_related("assigned_agent"), brokerage=brokerage, pk=pk)


def interaction_get(brokerage: Brokerage, pk: int) -> Interaction:
    return get_object_or_404(Interaction.objects.select_related("lead"), brokerage=brokerage, pk=pk)


@dataclass(frozen=True)
class LeadFilters:
    q: str = ""
    stage: str = ""
    source: str = ""
    priority: str = ""
    agent: int | None = None
    tag: str = ""
    area: str = ""
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    clients: bool = False  # won leads only (the "clients" view)


def leads(brokerage: Brokerage, user: User, perms: frozenset[str], filters: LeadFilters = LeadFilters()
          ) -> QuerySet[Lead]:
    """The leads the user may see, filtered, newest first."""
    queryset = leads_visible_to(user, perms, Lead.objects.filter(brokerage=brokerage))
    if filters.q:
        text = filters.q.strip()
        queryset = queryset.filter(Q(name__icontains=text) | Q(email__icontains=text) | Q(phone__icontains=text))
    if filters.clients:
        queryset = queryset.filter(stage=Stage.WON)
    elif filters.stage:
        queryset = queryset.filter(stage=filters.stage)
    for name in ("source", "priority"):
        if getattr(filters, name):
            queryset = queryset.filter(**{name: getattr(filters, name)})
    if filters.agent:
        queryset = queryset.filter(assigned_agent_id=filters.agent)
    if filters.tag:
        queryset = queryset.filter(tags__icontains=f'"{filters.tag.lower()}"')
    if filters.area:
        queryset = queryset.filter(areas__icontains=filters.area)
    # Budgets overlap the asked range: a lead with 1–2M matches "at least 1.5M".
    if filters.budget_min is not None:
        queryset = queryset.filter(Q(budget_max__gte=filters.budget_min) | Q(budget_max__isnull=True))
    if filters.budget_max is not None:
        queryset = queryset.filter(Q(budget_min__lte=filters.budget_max) | Q(budget_min__isnull=True))
    return queryset.select_related("assigned_agent").order_by("-created_at", "-id")


def assignable_agents(brokerage: Brokerage) -> QuerySet[User]:
    return User.objects.filter(brokerage=brokerage, is_active=True,
                               role__in=[Role.AGENT, Role.BROKERAGE_OWNER]).order_by("full_name", "email")


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "interaction", "stage", "followup"
    at: object
    item: object


def lead_timeline(lead: Lead, limit: int = 200) -> list[TimelineEntry]:
    """Interactions, stage changes and follow-ups of the lead, newest first."""
    entries = [TimelineEntry("interaction", item.occurred_at, item)
               for item in lead.interactions.select_related("agent")[:limit]]
    entries += [TimelineEntry("stage", item.changed_at, item)
                for item in lead.stage_changes.select_related("changed_by")[:limit]]
    entries += [TimelineEntry("followup", item.sent_at or item.created_at, item)
                for item in lead.followups.select_related("agent")[:limit]]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
