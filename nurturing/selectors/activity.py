"""The CRM's dated events, as rows for the analytics rollup: what happened to leads in a span of time.

Each reader takes the half-open span [start, end) of aware datetimes and returns plain tuples in the order
named, so the reader (analytics) buckets them by day in the brokerage's time zone without loading models.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import (BooleanField, Case, Count, Exists, F, FloatField, Func, Min, OuterRef,
                              Q, QuerySet, Subquery, When)
from django.db.models.functions import Coalesce, Trim

from brokerages.models import Brokerage

from ..models import CLOSED_STAGES, LADDER, OPEN_STAGES, Direction, Interaction, Lead, Stage, StageChange
from ..services.leads import CONTACT_CHANNELS


def leads_created(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """(agent id, created at) of the leads created in the span."""
    return list(Lead.objects.filter(brokerage=brokerage, created_at__gte=start, created_at__lt=end)
                .values_list("assigned_agent_id", "created_at"))


def leads_closed(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """(agent id, closed at, stage, commission, sale price, satisfaction) of the leads won or lost in the span
    (their last stage change; a lead reopened since is not closed)."""
    return list(Lead.objects.filter(brokerage=brokerage, stage__in=CLOSED_STAGES, stage_changed_at__gte=start,
                                    stage_changed_at__lt=end)
                .values_list("assigned_agent_id", "stage_changed_at", "stage", "commission", "sale_price",
                             "satisfaction_score"))


def leads_first_contacted(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """(agent id, created at, first contacted at) of the leads first contacted in the span."""
    return list(Lead.objects.filter(brokerage=brokerage, first_contacted_at__gte=start, first_contacted_at__lt=end)
                .values_list("assigned_agent_id", "created_at", "first_contacted_at"))


# Lead cohorts: the lead analytics' readers. A cohort is the leads created in [start, end) (one agent's when
# `agent_id` is given); each reader runs one query whatever the cohort's size, counting in the database.


class _Milliseconds(Func):
    """Milliseconds from the second timestamp to the first (NULL when either is), in the database's own date
    arithmetic: Django's `F() + timedelta` runs a Python function per row on SQLite, twenty times slower over a
    year of leads. SQLite keeps time to the millisecond, so there the figure is whole milliseconds (a limit
    can be off by under a millisecond); PostgreSQL's is exact."""

    arity = 2
    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000)",
                              arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection,
                              template="ROUND((julianday(%(expressions)s)) * 86400000.0)",
                              arg_joiner=") - julianday(", **extra)


def _ms(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() * 1000)


@dataclass(frozen=True)
class CohortRules:
    """When a lead of a cohort counts as answered in time, leaking or retained.

    - answered within a limit: first contacted no later than creation + the limit (a limit is inclusive);
    - leaking at `as_of`: open at that moment (its current stage when `as_of` is now, else the stage its last
      recorded change before `as_of` left it in), not marked do-not-contact, created `quiet_days` or more
      before `as_of`, and no contact either way (call, message, e-mail, meeting) in the `quiet_days` before
      `as_of`;
    - retained at D days (only leads created D days or more before `now` are old enough to be judged): won
      within D days of creation, or not lost within D days and contacted either way on or after day D (the
      last contact stamp covers both directions). A lead reopened since it was lost counts by its current
      stage.

    The conditions name the aliases `leads()` puts on a cohort.
    """

    now: dt.datetime
    as_of: dt.datetime
    quiet_days: int
    response_limits: tuple[dt.timedelta, ...]
    retention_days: tuple[int, ...]

    @property
    def quiet_before(self) -> dt.datetime:
        return self.as_of - dt.timedelta(days=self.quiet_days)

    @property
    def judged_now(self) -> bool:
        return self.as_of >= self.now

    def leads(self, leads: QuerySet[Lead]) -> QuerySet[Lead]:
        """The cohort with what the conditions read: time to first contact, to closing and to the last contact,
        and (judged in the past) the stage at `as_of`."""
        leads = leads.alias(response_ms=_Milliseconds("first_contacted_at", "created_at"),
                            closed_ms=_Milliseconds("stage_changed_at", "created_at"),
                            last_touch_ms=_Milliseconds("last_contacted_at", "created_at"))
        if self.judged_now:
            return leads
        last = StageChange.objects.filter(lead=OuterRef("pk"), changed_at__lt=self.as_of).order_by(
            "-changed_at", "-id").values("to_stage")[:1]
        return leads.alias(stage_at_end=Coalesce(Subquery(last), F("stage")))

    def answered_within(self, limit: dt.timedelta) -> Q:
        return Q(response_ms__lte=_ms(limit))

    def leaking(self) -> Q:
        quiet_before = self.quiet_before
        waiting = Q(do_not_contact=False, created_at__lte=quiet_before)
        if self.judged_now:
            # The stamps are the whole story.
            return waiting & Q(stage__in=OPEN_STAGES) & (
                Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lte=quiet_before))
        # Judged at a past moment: a later contact hides whether there was one in the quiet window, so only
        # then are the lead's interactions consulted.
        touched = Interaction.objects.filter(
            lead=OuterRef("pk"), occurred_at__gt=quiet_before, occurred_at__lt=self.as_of,
            channel__in=CONTACT_CHANNELS).exclude(direction=Direction.INTERNAL)
        return waiting & Q(stage_at_end__in=OPEN_STAGES) & (
            Q(last_contacted_at__isnull=True) | Q(last_contacted_at__lte=quiet_before)
            | Q(last_contacted_at__gte=self.as_of) & ~Q(Exists(touched)))

    def old_enough(self, days: int) -> Q:
        return Q(created_at__lte=self.now - dt.timedelta(days=days))

    def retained(self, days: int) -> Q:
        window = _ms(dt.timedelta(days=days))
        # Closed within the window: won is retained, lost is not; otherwise it takes a contact after the window.
        verdict = Case(When(Q(stage__in=CLOSED_STAGES) & Q(closed_ms__lt=window), then=Q(stage=Stage.WON)),
                       default=Q(last_touch_ms__gte=window), output_field=BooleanField())
        return self.old_enough(days) & Q(verdict)


def _cohort(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, agent_id: int | None):
    leads = Lead.objects.filter(brokerage=brokerage, created_at__gte=start, created_at__lt=end)
    return leads.filter(assigned_agent_id=agent_id) if agent_id else leads


def cohort_counts(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, rules: CohortRules, *,
                  agent_id: int | None = None) -> list[dict]:
    """One dict per (agent, source) pair among the cohort's leads, with `agent_id`, `source`, `first_created`
    (the earliest creation) and the counts: leads, contacted (first contact recorded), within_<i> (answered
    within `rules.response_limits[i]`), leaking, won, lost (current stage), old_<D> and retained_<D> per
    retention window D, and reached_<stage> per stage of `LADDER`: every lead starts new; a lead reached a stage
    when the furthest stage it ever reached is that one or a later one (a lead that skipped a stage got past it;
    a lost lead got as far as it had climbed), and reached contacted once a first contact is recorded. One
    query; at most agents × sources rows, whatever the number of leads."""
    counts = {
        "first_created": Min("created_at"),
        "leads": Count("pk"),
        "contacted": Count("pk", filter=Q(first_contacted_at__isnull=False)),
        **{f"within_{index}": Count("pk", filter=rules.answered_within(limit))
           for index, limit in enumerate(rules.response_limits)},
        "leaking": Count("pk", filter=rules.leaking()),
        "won": Count("pk", filter=Q(stage=Stage.WON)),
        "lost": Count("pk", filter=Q(stage=Stage.LOST)),
    }
    for days in rules.retention_days:
        counts[f"old_{days}"] = Count("pk", filter=rules.old_enough(days))
        counts[f"retained_{days}"] = Count("pk", filter=rules.retained(days))
    for rank, stage in enumerate(LADDER):
        reached = Q(furthest_stage__in=LADDER[rank:])
        if rank <= LADDER.index(Stage.CONTACTED):
            reached |= Q(first_contacted_at__isnull=False)
        counts[f"reached_{stage.value}"] = Count("pk", filter=reached)
    rows = (rules.leads(_cohort(brokerage, start, end, agent_id)).values("assigned_agent_id", "source")
            .order_by("assigned_agent_id", "source").annotate(**counts))
    return [{"agent_id": row.pop("assigned_agent_id"), **row} for row in rows]


def cohort_leaking_leads(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, rules: CohortRules, *,
                         agent_id: int | None = None, limit: int = 50) -> list[tuple]:
    """(id, name, agent id, stage, created at, last contacted at) of the cohort's leaking leads, the longest
    untouched first, at most `limit` of them. One query."""
    leads = rules.leads(_cohort(brokerage, start, end, agent_id))
    return list(leads.filter(rules.leaking()).alias(touched=Coalesce("last_contacted_at", "created_at"))
                .order_by("touched", "pk")
                .values_list("pk", "name", "assigned_agent_id", "stage", "created_at", "last_contacted_at")[:limit])


def cohort_lost_reasons(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, *,
                        agent_id: int | None = None, limit: int = 10) -> list[tuple[str, int]]:
    """(reason, leads) of the cohort's lost leads, the most common first, at most `limit` reasons; a blank
    reason is "" (reasons are compared after trimming spaces). One query."""
    rows = (_cohort(brokerage, start, end, agent_id).filter(stage=Stage.LOST).annotate(reason=Trim("lost_reason"))
            .values("reason").order_by().annotate(leads=Count("pk")).order_by("-leads", "reason"))
    return [(row["reason"], row["leads"]) for row in rows[:limit]]


def has_leads(brokerage: Brokerage) -> bool:
    """Whether the brokerage has any lead at all (an empty CRM needs leads, not a longer period)."""
    return Lead.objects.filter(brokerage=brokerage).exists()
