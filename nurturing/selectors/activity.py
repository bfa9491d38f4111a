"""The CRM's dated events, as rows for the analytics rollup: what happened to leads in a span of time.

Each reader takes the half-open span [start, end) of aware datetimes and returns plain tuples in the order
named, so the reader (analytics) buckets them by day in the brokerage's time zone without loading models.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, Count, Exists, F, IntegerField, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, Trim

from brokerages.models import Brokerage

from ..models import CLOSED_STAGES, OPEN_STAGES, Direction, Interaction, Lead, Stage, StageChange
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

# The pipeline ladder in order; a lost lead climbed no further than the last stage it held before.
LADDER = (Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER, Stage.WON)
COHORT_GROUPS = ("assigned_agent_id", "source")


@dataclass(frozen=True)
class CohortRules:
    """When a lead of a cohort counts as answered in time, leaking or retained.

    - answered within a limit: first contacted no later than creation + the limit (a limit is inclusive);
    - leaking at `as_of`: open at that moment (its current stage when `as_of` is now, else the stage its last
      recorded change before `as_of` left it in), not marked do-not-contact, created `quiet_days` or more
      before `as_of`, and no contact either way (call, message, e-mail, meeting) in the `quiet_days` before
      `as_of`;
    - retained at D days (only leads created D days or more before `now` are old enough to be judged): won
      within D days of creation, or not lost within D days and contacted either way on or after day D. A lead
      reopened since it was lost counts by its current stage.
    """

    now: dt.datetime
    as_of: dt.datetime
    quiet_days: int
    response_limits: tuple[dt.timedelta, ...]
    retention_days: tuple[int, ...]

    @property
    def quiet_before(self) -> dt.datetime:
        return self.as_of - dt.timedelta(days=self.quiet_days)

    def leaking(self) -> Q:
        quiet_before = self.quiet_before
        waiting = Q(do_not_contact=False, created_at__lte=quiet_before)
        if self.as_of >= self.now:
            # Judged now: the stamps are the whole story.
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

    def stage_at_end(self):
        """The stage the lead was in at `as_of` (its last change before then; its stage when none was kept)."""
        last = StageChange.objects.filter(lead=OuterRef("pk"), changed_at__lt=self.as_of).order_by(
            "-changed_at", "-id").values("to_stage")[:1]
        return Coalesce(Subquery(last), F("stage"))

    def old_enough(self, days: int) -> Q:
        return Q(created_at__lte=self.now - dt.timedelta(days=days))

    def retained(self, days: int) -> Q:
        day = F("created_at") + dt.timedelta(days=days)
        won_in_time = Q(stage=Stage.WON, stage_changed_at__lt=day)
        lost_in_time = Q(stage=Stage.LOST, stage_changed_at__lt=day)
        still_talking = Q(last_contacted_at__gte=day) | Q(last_inbound_at__gte=day)
        return self.old_enough(days) & (won_in_time | (~lost_in_time & still_talking))


def _cohort(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, agent_id: int | None):
    leads = Lead.objects.filter(brokerage=brokerage, created_at__gte=start, created_at__lt=end)
    return leads.filter(assigned_agent_id=agent_id) if agent_id else leads


def cohort_counts(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, rules: CohortRules, *, by: str,
                  agent_id: int | None = None) -> list[dict]:
    """One dict per value of `by` ("assigned_agent_id" or "source") among the cohort's leads, with `key` (that
    value), `first_created` (the earliest creation) and the counts: leads, contacted (first contact recorded),
    within_<i> (answered within `rules.response_limits[i]`), leaking, won, lost (current stage), old_<D> and
    retained_<D> per retention window D. One query."""
    if by not in COHORT_GROUPS:
        raise ValueError(f"Cannot group a cohort by {by!r}.")
    counts = {
        "first_created": Min("created_at"),
        "leads": Count("pk"),
        "contacted": Count("pk", filter=Q(first_contacted_at__isnull=False)),
        **{f"within_{index}": Count("pk", filter=Q(first_contacted_at__lte=F("created_at") + limit))
           for index, limit in enumerate(rules.response_limits)},
        "leaking": Count("pk", filter=rules.leaking()),
        "won": Count("pk", filter=Q(stage=Stage.WON)),
        "lost": Count("pk", filter=Q(stage=Stage.LOST)),
    }
    for days in rules.retention_days:
        counts[f"old_{days}"] = Count("pk", filter=rules.old_enough(days))
        counts[f"retained_{days}"] = Count("pk", filter=rules.retained(days))
    leads = _cohort(brokerage, start, end, agent_id)
    if rules.as_of < rules.now:
        leads = leads.alias(stage_at_end=rules.stage_at_end())
    rows = leads.values(by).order_by(by).annotate(**counts)
    return [{"key": row.pop(by), **row} for row in rows]


def cohort_leaking_leads(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, rules: CohortRules, *,
                         agent_id: int | None = None, limit: int = 50) -> list[tuple]:
    """(id, name, agent id, stage, created at, last contacted at) of the cohort's leaking leads, the longest
    untouched first, at most `limit` of them. One query."""
    leads = _cohort(brokerage, start, end, agent_id)
    if rules.as_of < rules.now:
        leads = leads.alias(stage_at_end=rules.stage_at_end())
    return list(leads.filter(rules.leaking()).alias(touched=Coalesce("last_contacted_at", "created_at"))
                .order_by("touched", "pk")
                .values_list("pk", "name", "assigned_agent_id", "stage", "created_at", "last_contacted_at")[:limit])


def _ladder_rank(field_name: str) -> Case:
    return Case(*[When(**{field_name: stage}, then=Value(rank)) for rank, stage in enumerate(LADDER)],
                default=Value(0), output_field=IntegerField())


def cohort_furthest_stages(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, *,
                           agent_id: int | None = None) -> dict[str, int]:
    """How many of the cohort's leads got no further than each stage of `LADDER`: the highest stage in the
    lead's recorded changes or its current stage (a lead that skipped a stage got past it; a lost lead got as
    far as it had climbed). Stages nobody stopped at are absent. One query."""
    history = StageChange.objects.filter(lead=OuterRef("pk")).annotate(rank=_ladder_rank("to_stage")).order_by(
        "-rank").values("rank")[:1]
    furthest = Greatest(_ladder_rank("stage"), Coalesce(Subquery(history), Value(0)))
    rows = (_cohort(brokerage, start, end, agent_id).annotate(furthest=furthest).values("furthest")
            .order_by("furthest").annotate(leads=Count("pk")))
    return {LADDER[row["furthest"]].value: row["leads"] for row in rows}


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
