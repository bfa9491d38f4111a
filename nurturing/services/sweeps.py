"""The nurturing sweep and the speed-to-lead watchdog: the periodic work that makes sure no lead is forgotten.

`nurture_sweep` drafts a follow-up for every forgotten lead and inactive client without an open one, drafts
the sequence steps that fell due, escalates leads idle for twice the forgotten-lead period to the owners,
sends approved messages whose quiet hours are over, and runs the idle automations. The rules are in
`nurturing.selectors.followups`. Its query count does not depend on how many leads the brokerage has: leads
and their recent history are read in a handful of queries, drafts are written in bulk, and the local
drafting engine is pure Python. (Sending and automation runs are per message and per run.)

`speed_to_lead_check` alerts a new lead's agent when nobody has contacted it within the response target,
and the owners once the escalation time has passed, each once per lead.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from brokerages.models import Brokerage, Role, User
from brokerages.selectors import settings_values
from brokerages.services import audit_record, notify
from copilot.llm import provider_name_for

from ..drafting import LOCAL_ENGINE, Draft, DraftRequest, LeadHistory, channel_for, draft_local
from ..models import Channel, Enrollment, FollowUp, Lead, Priority, Stage
from ..schedule import BrokerageClock
from ..selectors.followups import LeakageRules, recent_touches
from ..selectors.sequences import enrollments_due
from ..steps import merge_context, render
from .automations import automations_idle_sweep
from .followups import (
    OPEN,
    TEMPLATE_ENGINE,
    followup_build,
    followups_create_bulk,
    followups_redraft,
    followups_send_due,
    suggested_send_date,
)
from .sequences import enrollments_advance

# With a model engine, the sweep rewrites this many of its new drafts with the model (the most pressing
# first); the rest keep the local engine's text, so a sweep stays quick and its cost bounded.
MODEL_DRAFTS_PER_SWEEP = 10
# The watchdog looks at leads created in this window; older uncontacted leads are the sweep's business.
SPEED_TO_LEAD_WINDOW = dt.timedelta(days=2)
# Namespace of the PostgreSQL advisory lock that keeps two sweeps of one brokerage from overlapping.
SWEEP_LOCK_NAMESPACE = 4_201
_PRIORITY_ORDER = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}
# What drafting, escalation and the sweep's callers read of a leaking lead; the rest is not loaded, which
# halves the cost of reading thousands of leads.
LEAD_FIELDS = ("brokerage_id", "assigned_agent_id", "name", "email", "phone", "source", "stage", "priority",
               "budget_min", "budget_max", "areas", "property_type", "timeline", "next_followup_date",
               "do_not_contact", "created_at", "last_contacted_at", "escalated_at")


@dataclass
class SweepResult:
    forgotten_leads_count: int = 0
    inactive_clients_count: int = 0
    generated_followups: list[FollowUp] = field(default_factory=list)
    escalated: int = 0
    steps_drafted: int = 0
    unreachable: int = 0  # leaking leads with neither phone nor e-mail: counted, nothing to draft
    sent: int = 0
    automation_runs: int = 0
    redrafted: int = 0
    # Per assigned agent (None: unassigned), so a caller can show an agent their own share.
    forgotten_by_agent: dict[int | None, int] = field(default_factory=dict)
    inactive_by_agent: dict[int | None, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"forgotten_leads": self.forgotten_leads_count, "inactive_clients": self.inactive_clients_count,
                "drafts": len(self.generated_followups), "sequence_steps": self.steps_drafted,
                "escalated": self.escalated, "unreachable": self.unreachable, "sent": self.sent,
                "automation_runs": self.automation_runs, "redrafted": self.redrafted}


def _lock(brokerage: Brokerage) -> None:
    """Serialise sweeps of one brokerage until the transaction ends. PostgreSQL takes an advisory lock (other
    writers of the brokerage are not blocked); SQLite runs write transactions one at a time anyway (IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SWEEP_LOCK_NAMESPACE, brokerage.pk])


def _open_draft(reason: str) -> Exists:
    return Exists(FollowUp.objects.filter(lead=OuterRef("pk"), reason=reason, status__in=OPEN,
                                          sequence__isnull=True))


class _Drafter:
    """Builds the unsaved follow-ups of one sweep with the local engine, from rows already in memory."""

    def __init__(self, brokerage: Brokerage, rules: LeakageRules, clock: BrokerageClock, touches: dict):
        self.brokerage, self.rules, self.clock, self.touches = brokerage, rules, clock, touches
        self.today = clock.today(rules.now)
        self.unreachable = 0

    def history(self, lead: Lead) -> LeadHistory:
        return LeadHistory.of(lead, self.touches.get(lead.pk, ()), self.rules.now)

    def leak(self, lead: Lead, reason: str) -> FollowUp | None:
        history = self.history(lead)
        channel = channel_for(lead, reason, history)
        if not channel:
            self.unreachable += 1
            return None
        priority = lead.priority
        if reason == FollowUp.Reason.FORGOTTEN_LEAD and (lead.last_contacted_at or lead.created_at) <= \
                self.rules.idle_before and _PRIORITY_ORDER[priority] > _PRIORITY_ORDER[Priority.HIGH]:
            priority = Priority.HIGH  # idle past the escalation threshold: it goes to the top of the queue
        draft = draft_local(DraftRequest(lead, reason, channel, history))
        return followup_build(lead=lead, reason=reason, draft=draft, priority=priority,
                              send_date=suggested_send_date(lead, self.today))

    def step(self, enrollment: Enrollment) -> FollowUp | None:
        """The follow-up for the enrolment's pending step: the step's own text with the lead's merge fields, or
        a draft written from its instruction. A step whose channel the lead cannot receive goes out on one it
        can."""
        lead, sequence = enrollment.lead, enrollment.sequence
        step = sequence.steps[enrollment.next_step]
        reason = FollowUp.Reason.SEQUENCE_STEP
        reachable = bool(lead.email) if step["channel"] == Channel.EMAIL else bool(lead.phone)
        history = self.history(lead)
        channel = step["channel"] if reachable else channel_for(lead, reason, history)
        if not channel:
            self.unreachable += 1
            return None
        if "body" in step:
            context = merge_context(lead)
            draft = Draft(render(step.get("subject", ""), context) if channel == Channel.EMAIL else "",
                          render(step["body"], context), channel, TEMPLATE_ENGINE)
        else:
            draft = draft_local(DraftRequest(lead, reason, channel, history, step["instruction"]))
        due = self.clock.today(enrollment.next_due_at) if enrollment.next_due_at else self.today
        send_date = max(self.today, due)
        return followup_build(lead=lead, reason=reason, draft=draft, send_date=send_date, sequence=sequence,
                              step_index=enrollment.next_step)


def nurture_sweep(*, brokerage: Brokerage, actor: User | None = None, now: dt.datetime | None = None,
                  model_drafts: int = MODEL_DRAFTS_PER_SWEEP) -> SweepResult:
    """One sweep of the brokerage (call it inside the brokerage's scope); `actor` is the member who asked for
    it (the periodic sweep has none), whom its audit entry names.

    After: every forgotten lead and inactive client that can be reached has exactly one open draft for its
    reason (existing ones are left alone; leads who opted out get none); every due sequence step is drafted
    once and its enrolment moved on; leads newly idle past twice the forgotten-lead period are stamped
    `escalated_at` and the owners get one notification for the batch; approved messages past their quiet
    hours are sent; idle automations have run. Safe to run at any time and concurrently: sweeps of one
    brokerage take turns (a database lock) and the drafts' unique constraints make a repeat a no-op.
    With a model engine, up to `model_drafts` new drafts are then rewritten by the model.
    """
    now = now or timezone.now()
    values = settings_values(brokerage)
    rules, clock = LeakageRules.of(values, now), BrokerageClock.of(values)
    result = SweepResult()
    forgotten_open = _open_draft(FollowUp.Reason.FORGOTTEN_LEAD)
    inactive_open = _open_draft(FollowUp.Reason.INACTIVE_CLIENT)
    with transaction.atomic():
        _lock(brokerage)
        leads = Lead.objects.filter(brokerage=brokerage)
        # Counted in the database (per agent); only the leads still without a draft are read.
        for row in leads.filter(rules.forgotten | rules.inactive).values("assigned_agent_id").annotate(
                forgotten=Count("pk", filter=rules.forgotten), inactive=Count("pk", filter=rules.inactive)):
            agent_id = row["assigned_agent_id"]
            if row["forgotten"]:
                result.forgotten_by_agent[agent_id] = row["forgotten"]
            if row["inactive"]:
                result.inactive_by_agent[agent_id] = row["inactive"]
        result.forgotten_leads_count = sum(result.forgotten_by_agent.values())
        result.inactive_clients_count = sum(result.inactive_by_agent.values())
        undrafted = (rules.forgotten & ~Q(forgotten_open)) | (rules.inactive & ~Q(inactive_open))
        waiting = list(leads.filter(undrafted).only(*LEAD_FIELDS).order_by("pk"))
        due = enrollments_due(brokerage=brokerage, now=now)
        step_leads = [enrollment.lead_id for enrollment in due if enrollment.next_step < len(enrollment.sequence.steps)
                      and "instruction" in enrollment.sequence.steps[enrollment.next_step]]
        # The history of the leads about to be drafted, in one query (the leads as a subquery).
        drafter = _Drafter(brokerage, rules, clock,
                           recent_touches(brokerage, leads.filter(undrafted | Q(pk__in=step_leads))))
        # The drafting engine reads each lead's agent and brokerage: the brokerage's members are read once
        # rather than joined to every lead row.
        members = User.objects.filter(brokerage=brokerage).in_bulk()
        items = []
        for lead in waiting:
            lead.brokerage, lead.assigned_agent = brokerage, members.get(lead.assigned_agent_id)
            items.append(drafter.leak(lead, FollowUp.Reason.INACTIVE_CLIENT if lead.stage == Stage.WON
                                      else FollowUp.Reason.FORGOTTEN_LEAD))
        steps = [drafter.step(enrollment) for enrollment in due if enrollment.next_step < len(enrollment.sequence.steps)]
        result.generated_followups = followups_create_bulk(
            brokerage=brokerage, items=[item for item in items + steps if item is not None])
        enrollments_advance(brokerage=brokerage, enrollments=due, drafted_at=now)
        result.escalated = _escalate_idle(brokerage, rules, values["forgotten_lead_days"])
        result.unreachable = drafter.unreachable
        result.steps_drafted = sum(item.reason == FollowUp.Reason.SEQUENCE_STEP for item in result.generated_followups)
        if result.generated_followups or result.escalated or due:
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.swept", resource_type="sweep",
                         details=result.counts())
    result.sent = len(followups_send_due(brokerage=brokerage, now=now))
    # An idle automation checks for an earlier run on the lead, then runs: under the sweep's lock, so that two
    # sweeps of the brokerage at once (two beats, a beat and "sweep now") never run one twice on a lead.
    with transaction.atomic():
        _lock(brokerage)
        result.automation_runs = automations_idle_sweep(brokerage=brokerage, now=now)
    engine = provider_name_for(brokerage)
    if engine != LOCAL_ENGINE and model_drafts > 0:
        pressing = sorted((item for item in result.generated_followups if item.engine != TEMPLATE_ENGINE),
                          key=lambda item: (_PRIORITY_ORDER.get(item.priority, 9), item.pk))[:model_drafts]
        result.redrafted = len(followups_redraft(brokerage=brokerage, actor=None, followups=pressing, engine=engine))
    return result


def _owners(brokerage: Brokerage) -> list[User]:
    return list(User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER, is_active=True))


def _escalate_idle(brokerage: Brokerage, rules: LeakageRules, forgotten_days: int) -> int:
    """Stamp the leads newly idle past twice the forgotten-lead period and tell each owner once about the
    batch; returns how many there were."""
    idle = Lead.objects.filter(Q(brokerage=brokerage) & rules.idle)
    names = list(idle.order_by("last_contacted_at", "created_at", "pk").values_list("name", flat=True)[:5])
    if not names:
        return 0
    count = idle.update(escalated_at=rules.now)
    more = f" and {count - len(names)} more" if count > len(names) else ""
    noun = "lead has" if count == 1 else "leads have"
    message = f"{count} {noun} had no contact for {forgotten_days * 2}+ days: {', '.join(names)}{more}."
    for owner in _owners(brokerage):
        notify(brokerage=brokerage, recipient=owner, kind="lead_idle", message=message,
               key=f"lead-idle-{brokerage.pk}-{rules.now.isoformat()}", url=reverse("nurturing:followups"))
    return count


@dataclass
class SpeedToLeadResult:
    alerted: int = 0
    escalated: int = 0


@transaction.atomic
def speed_to_lead_check(*, brokerage: Brokerage, now: dt.datetime | None = None) -> SpeedToLeadResult:
    """Alert on new leads still waiting for a first contact (call it inside the brokerage's scope).

    A lead created in the last SPEED_TO_LEAD_WINDOW, still new and never contacted, that may be contacted:
    past `response_time_target_minutes` its assigned agent (the owners when it has none) gets an in-app
    alert and the lead is stamped `response_alerted_at`; past `escalation_minutes` the owners get one and it
    is stamped `escalated_at`. Each happens once per lead; contacting the lead (which stamps
    `first_contacted_at`) takes it off the watch.
    """
    now = now or timezone.now()
    values = settings_values(brokerage)
    target, escalation = values["response_time_target_minutes"], values["escalation_minutes"]
    waiting = Lead.objects.filter(brokerage=brokerage, stage=Stage.NEW, first_contacted_at__isnull=True,
                                  do_not_contact=False, created_at__gt=now - SPEED_TO_LEAD_WINDOW)
    result = SpeedToLeadResult()
    owners: list[User] | None = None
    late = list(waiting.filter(response_alerted_at__isnull=True, created_at__lte=now - dt.timedelta(minutes=target))
                .select_related("assigned_agent").select_for_update(of=("self",)).order_by("created_at"))
    for lead in late:
        minutes = int((now - lead.created_at).total_seconds() // 60)
        agent = lead.assigned_agent if lead.assigned_agent and lead.assigned_agent.is_active else None
        if agent is None and owners is None:
            owners = _owners(brokerage)
        for recipient in [agent] if agent else owners:
            notify(brokerage=brokerage, recipient=recipient, kind="speed_to_lead",
                   message=f"{lead.name} has waited {minutes} minutes for a first reply (target: {target}).",
                   key=f"speed-to-lead-{lead.pk}", url=reverse("nurturing:lead", kwargs={"pk": lead.pk}))
    if late:
        result.alerted = waiting.filter(pk__in=[lead.pk for lead in late], response_alerted_at__isnull=True).update(
            response_alerted_at=now)
    overdue = list(waiting.filter(escalated_at__isnull=True, created_at__lte=now - dt.timedelta(minutes=escalation))
                   .select_related("assigned_agent").select_for_update(of=("self",)).order_by("created_at"))
    if overdue:
        owners = owners if owners is not None else _owners(brokerage)
        for lead in overdue:
            agent = lead.assigned_agent.display_name if lead.assigned_agent else "nobody (unassigned)"
            minutes = int((now - lead.created_at).total_seconds() // 60)
            for owner in owners:
                notify(brokerage=brokerage, recipient=owner, kind="speed_to_lead_escalation",
                       message=f"Escalated: {lead.name} has had no reply for {minutes} minutes; assigned to {agent}.",
                       key=f"speed-to-lead-escalation-{lead.pk}", url=reverse("nurturing:lead", kwargs={"pk": lead.pk}))
        result.escalated = waiting.filter(pk__in=[lead.pk for lead in overdue], escalated_at__isnull=True).update(
            escalated_at=now)
    if result.alerted or result.escalated:
        audit_record(brokerage=brokerage, actor=None, action="nurturing.speed_to_lead", resource_type="lead",
                     details={"alerted": [lead.pk for lead in late], "escalated": [lead.pk for lead in overdue]})
    return result
