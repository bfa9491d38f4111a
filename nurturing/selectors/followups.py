"""Reads of the follow-up machinery: which leads are leaking (the rules the sweep and the leakage panel share),
the recent history the drafting engines see, the follow-up queue, and a member's notifications.

The leakage rules, with N = `forgotten_lead_days`, M = `inactive_client_days`, T = the speed-to-lead target:
- forgotten lead: open, may be contacted, and last contacted N days ago or more — or never contacted and
  created more than T minutes ago (a new lead nobody answered is the costliest leak of all);
- inactive client: won, may be contacted, and neither contacted nor moved to won in the last M days;
- idle lead (escalated to the owners): a forgotten lead untouched for 2 × N days, once until it is contacted.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, Exists, F, IntegerField, Min, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, Notification, User

from ..drafting import Touch
from ..models import OPEN_STAGES, Channel, Direction, FollowUp, Interaction, Lead, Listing, Priority, Stage
from ..permissions import on_visible_leads
from ..schedule import BrokerageClock

HISTORY_SIZE = 3
IDLE_FACTOR = 2
QUEUE_GROUP_LIMIT = 50
OPEN_STATUSES = (FollowUp.Status.DRAFT, FollowUp.Status.APPROVED)


@dataclass(frozen=True)
class LeakageRules:
    now: dt.datetime
    forgotten_before: dt.datetime
    unanswered_before: dt.datetime
    inactive_before: dt.datetime
    idle_before: dt.datetime

    @classmethod
    def of(cls, values: dict, now: dt.datetime) -> "LeakageRules":
        """From the brokerage's typed settings (`brokerages.selectors.settings_values`)."""
        forgotten = dt.timedelta(days=values["forgotten_lead_days"])
        return cls(now=now, forgotten_before=now - forgotten,
                   unanswered_before=now - dt.timedelta(minutes=values["response_time_target_minutes"]),
                   inactive_before=now - dt.timedelta(days=values["inactive_client_days"]),
                   idle_before=now - forgotten * IDLE_FACTOR)

    @property
    def forgotten(self) -> Q:
        return Q(stage__in=OPEN_STAGES, do_not_contact=False) & (
            Q(last_contacted_at__lte=self.forgotten_before)
            | Q(last_contacted_at__isnull=True, created_at__lte=self.unanswered_before))

    @property
    def inactive(self) -> Q:
        return (Q(stage=Stage.WON, do_not_contact=False, created_at__lte=self.inactive_before)
                & (Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lte=self.inactive_before))
                & (Q(stage_changed_at__isnull=True) | Q(stage_changed_at__lte=self.inactive_before)))

    @property
    def idle(self) -> Q:
        """Forgotten for twice as long and not yet escalated."""
        return Q(stage__in=OPEN_STAGES, do_not_contact=False, escalated_at__isnull=True) & (
            Q(last_contacted_at__lte=self.idle_before)
            | Q(last_contacted_at__isnull=True, created_at__lte=self.idle_before))


def recent_touches(brokerage: Brokerage, leads: QuerySet[Lead]) -> dict[int, list[Touch]]:
    """The last HISTORY_SIZE interactions of each lead in `leads`, newest first, in one query whatever their
    number (a window function ranks each lead's interactions; `leads` is used as a subquery)."""
    ranked = Interaction.objects.filter(brokerage=brokerage, lead__in=leads.values("pk")).annotate(
        rank=Window(RowNumber(), partition_by=[F("lead_id")], order_by=[F("occurred_at").desc(), F("id").desc()]),
    ).filter(rank__lte=HISTORY_SIZE).order_by("lead_id", "rank").values_list(
        "lead_id", "occurred_at", "channel", "direction", "summary")
    touches: dict[int, list[Touch]] = {}
    for lead_id, occurred_at, channel, direction, summary in ranked:
        touches.setdefault(lead_id, []).append(Touch(occurred_at, channel, direction, summary))
    return touches


def followup_get(brokerage: Brokerage, pk: int) -> FollowUp:
    return get_object_or_404(FollowUp.objects.select_related("lead", "lead__assigned_agent", "agent", "interaction"),
                             brokerage=brokerage, pk=pk)


def _visible(brokerage: Brokerage, user: User, perms: frozenset[str]) -> QuerySet[FollowUp]:
    """Follow-ups of the leads the user may work (every lead for managers, held leads for agents)."""
    return on_visible_leads(FollowUp.objects.filter(brokerage=brokerage), user, perms, brokerage)


_PRIORITY_RANK = Case(*[When(priority=value, then=Value(rank)) for rank, value in enumerate(
    [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW])], default=Value(9), output_field=IntegerField())


def followups(brokerage: Brokerage, user: User, perms: frozenset[str], *, status: str = "",
              agent_id: int | None = None) -> QuerySet[FollowUp]:
    """The follow-ups the user may see, the most pressing first (open before closed, then by date)."""
    queryset = _visible(brokerage, user, perms)
    if status:
        queryset = queryset.filter(status=status)
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    return queryset.select_related("lead", "agent").order_by("suggested_send_date", _PRIORITY_RANK, "id")


@dataclass(frozen=True)
class QueueGroup:
    key: str
    title: str
    help: str
    items: list[FollowUp]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def followup_queue(brokerage: Brokerage, user: User, perms: frozenset[str], *, clock: BrokerageClock,
                   now: dt.datetime, agent_id: int | None = None) -> list[QueueGroup]:
    """The open work of the queue in groups, each capped at QUEUE_GROUP_LIMIT rows (with its full count):
    drafts due today or overdue, upcoming drafts, approved messages waiting for quiet hours to end, calls to
    make, and sends that failed."""
    today = clock.today(now)
    queryset = _visible(brokerage, user, perms)
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    draft, approved = FollowUp.Status.DRAFT, FollowUp.Status.APPROVED
    groups = [
        ("due", "Due today and overdue", "Drafts to review now.",
         Q(status=draft, suggested_send_date__lte=today)),
        ("upcoming", "Upcoming", "Drafts suggested for a later day.", Q(status=draft, suggested_send_date__gt=today)),
        ("waiting", "Approved, waiting for quiet hours to end", "They go out automatically.",
         Q(status=approved) & ~Q(channel=Channel.CALL)),
        ("calls", "Calls to make", "Mark each call done when you have made it.",
         Q(status=approved, channel=Channel.CALL)),
        ("failed", "Failed to send", "Fix what the error says and send again, or dismiss.",
         Q(status=FollowUp.Status.FAILED)),
    ]
    totals = queryset.aggregate(**{key: Count("pk", filter=condition) for key, _, _, condition in groups})
    listed = queryset.select_related("lead", "agent").order_by(_PRIORITY_RANK, "suggested_send_date", "send_after", "id")
    return [QueueGroup(key, title, help_text, list(listed.filter(condition)[:QUEUE_GROUP_LIMIT]) if totals[key] else [],
                       totals[key]) for key, title, help_text, condition in groups]


@dataclass(frozen=True)
class Leakage:
    forgotten: int
    inactive: int
    escalated: int
    oldest_untouched: list[Lead]


def leakage(brokerage: Brokerage, rules: LeakageRules, *, agent_id: int | None = None, oldest: int = 5) -> Leakage:
    """How much the brokerage (or one agent) is leaking: counts by rule, and the longest-untouched open leads."""
    leads = Lead.objects.filter(brokerage=brokerage)
    if agent_id:
        leads = leads.filter(assigned_agent_id=agent_id)
    counts = leads.aggregate(
        forgotten=Count("pk", filter=rules.forgotten), inactive=Count("pk", filter=rules.inactive),
        escalated=Count("pk", filter=Q(stage__in=OPEN_STAGES, escalated_at__isnull=False, do_not_contact=False)))
    untouched = list(leads.filter(rules.forgotten).select_related("assigned_agent").annotate(
        touched=Coalesce("last_contacted_at", "created_at")).order_by("touched", "pk")[:oldest])
    return Leakage(counts["forgotten"], counts["inactive"], counts["escalated"], untouched)


def notifications(brokerage: Brokerage, user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(brokerage=brokerage, recipient=user)
    return queryset.filter(read_at__isnull=True) if unread_only else queryset


def notification_get(brokerage: Brokerage, pk: int) -> Notification:
    return get_object_or_404(Notification.objects.select_related("recipient"), brokerage=brokerage, pk=pk)


# --- one agent's workload, as the co-pilot assistant's workflow analysis reads it ----------------------------

@dataclass(frozen=True)
class WorkloadLead:
    id: int
    name: str
    stage: str
    created_at: dt.datetime
    stage_changed_at: dt.datetime | None
    first_contacted_at: dt.datetime | None
    last_contacted_at: dt.datetime | None
    next_followup_date: dt.date | None
    do_not_contact: bool
    forgotten: bool  # the sweep's rule (`LeakageRules.forgotten`) at `rules.now`
    open_followup: bool  # a draft or approved follow-up is waiting for the lead


_WORKLOAD_FIELDS = tuple(WorkloadLead.__dataclass_fields__)


def agent_workload(brokerage: Brokerage, rules: LeakageRules, *, agent_id: int, created_since: dt.datetime
                   ) -> list[WorkloadLead]:
    """The leads assigned to the agent that are open, or were created since `created_since` (closed or not),
    oldest first. One query whatever their number."""
    waiting = FollowUp.objects.filter(lead=OuterRef("pk"), status__in=OPEN_STATUSES)
    rows = (Lead.objects.filter(brokerage=brokerage, assigned_agent_id=agent_id)
            .filter(Q(stage__in=OPEN_STAGES) | Q(created_at__gte=created_since))
            .annotate(forgotten=Case(When(rules.forgotten, then=Value(True)), default=Value(False)),
                      open_followup=Exists(waiting))
            .order_by("created_at", "pk").values_list(*_WORKLOAD_FIELDS))
    return [WorkloadLead(*row) for row in rows]


def agent_followup_counts(brokerage: Brokerage, *, agent_id: int, today: dt.date) -> dict:
    """The agent's follow-ups by state on the brokerage's date `today`: drafts `overdue` (suggested for an
    earlier day), `due_today` and `upcoming`; approved `calls` still to make; `failed` sends; and
    `oldest_overdue`, the suggested date of the oldest overdue draft (None without one). One query."""
    draft, overdue = Q(status=FollowUp.Status.DRAFT), Q(suggested_send_date__lt=today)
    return FollowUp.objects.filter(brokerage=brokerage, agent_id=agent_id).aggregate(
        overdue=Count("pk", filter=draft & overdue),
        due_today=Count("pk", filter=draft & Q(suggested_send_date=today)),
        upcoming=Count("pk", filter=draft & Q(suggested_send_date__gt=today)),
        calls=Count("pk", filter=Q(status=FollowUp.Status.APPROVED, channel=Channel.CALL)),
        failed=Count("pk", filter=Q(status=FollowUp.Status.FAILED)),
        oldest_overdue=Min("suggested_send_date", filter=draft & overdue))


def agent_typed_messages(brokerage: Brokerage, *, agent_id: int, since: dt.datetime, limit: int) -> list[tuple]:
    """(text, lead id, lead name) of the messages the agent wrote themselves since `since` — outbound SMS,
    WhatsApp and e-mail interactions they logged that no follow-up draft produced — newest first, at most `limit`.
    One query."""
    return list(Interaction.objects.filter(
        brokerage=brokerage, agent_id=agent_id, direction=Direction.OUTBOUND, occurred_at__gte=since,
        channel__in=(Channel.SMS, Channel.WHATSAPP, Channel.EMAIL), followup__isnull=True,
    ).order_by("-occurred_at", "-id").values_list("summary", "lead_id", "lead__name")[:limit])


def agent_listings_without_description(brokerage: Brokerage, *, agent_id: int, limit: int) -> list[tuple]:
    """(id, title, status) of the agent's listings still being prepared or marketed (draft, active, under offer)
    that have no description yet, oldest first, at most `limit`. One query."""
    return list(Listing.objects.filter(
        brokerage=brokerage, listing_agent_id=agent_id, description="",
        status__in=(Listing.Status.DRAFT, *Listing.ADVERTISED),
    ).order_by("created_at", "id").values_list("id", "title", "status")[:limit])
