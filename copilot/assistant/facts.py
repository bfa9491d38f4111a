"""What the workflow analysis measures about one agent, read through the nurturing and coaching selectors.

The rules, with N = the brokerage's `forgotten_lead_days`, T = its `response_time_target_minutes`:
- **waiting for a first contact**: open leads the sweep counts as forgotten (`LeakageRules.forgotten`) that were
  never contacted — no contact T minutes or more after they arrived;
- **gone quiet**: forgotten leads that were contacted once, but not in the last N days;
- **viewing without a next step**: at the viewing stage for VIEWING_GRACE_DAYS days or more, with no contact since
  the lead reached that stage, no follow-up waiting and no follow-up date ahead;
- **stuck**: open leads longer in their stage than STAGE_LIMIT_DAYS allows (time in stage counts from the last
  stage change, or from arrival for a lead never moved);
- **first response**: of the leads received in the last WINDOW_DAYS days (at least T minutes ago), how many were
  first contacted within T minutes, and the median minutes to a first contact over those contacted;
- **follow-ups**: the agent's drafts overdue (suggested for an earlier day, in the brokerage's time zone), due
  today and upcoming, approved calls to make and failed sends;
- **messages typed again and again**: see `repetition`; over MESSAGES_WINDOW_DAYS days, the latest
  MESSAGES_LIMIT messages;
- **coaching weak spots**: the areas of the agent's performance profile over WINDOW_DAYS days below their
  target (70, or the team's mean when higher), the largest gap first.
"""

import datetime as dt
import statistics
from collections.abc import Iterable

from django.urls import reverse

from brokerages.models import Brokerage, User
from brokerages.selectors import settings_values
from coaching.analysis.types import AREA_LABELS
from coaching.selectors.performance import agent_performance
from nurturing.models import OPEN_STAGES, Stage
from nurturing.schedule import BrokerageClock
from nurturing.selectors.followups import (LeakageRules, WorkloadLead, agent_followup_counts,
                                           agent_listings_without_description, agent_typed_messages, agent_workload)

from .repetition import repeated_messages
from .types import (CoachingFacts, FollowupFacts, LeadGroup, LeadRef, ListingRef, ResponseFacts, StuckStage,
                    WeakSpot, WorkflowFacts)

WINDOW_DAYS = 30
VIEWING_GRACE_DAYS = 2
# How long a lead may sit in a stage before it counts as stuck. New leads are judged by the first-contact rule
# instead; a qualified buyer gets the longest, as finding the right property takes a few weeks.
STAGE_LIMIT_DAYS: dict[str, int] = {Stage.CONTACTED: 14, Stage.QUALIFIED: 21, Stage.VIEWING: 14, Stage.OFFER: 14}
MESSAGES_WINDOW_DAYS = 90
MESSAGES_LIMIT = 2000
WEAK_SPOTS = 2
EXAMPLES = 3
LISTINGS_LIMIT = 5
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


def waited(minutes: float) -> str:
    """A wait as people say it: "25 min", "5 h", "12 days"."""
    if minutes < 60:
        return f"{int(minutes)} min"
    if minutes < 48 * 60:
        return f"{int(minutes // 60)} h"
    return f"{int(minutes // (24 * 60))} days"


def _minutes(delta: dt.timedelta) -> int:
    return max(0, int(delta / MINUTE))


def _group(leads: Iterable[tuple[WorkloadLead, dt.datetime]], now: dt.datetime, lead_url) -> LeadGroup:
    """`leads` with the moment each started waiting; longest-waiting first."""
    ordered = sorted(leads, key=lambda item: (item[1], item[0].id))
    if not ordered:
        return LeadGroup()
    return LeadGroup(
        count=len(ordered), longest_minutes=_minutes(now - ordered[0][1]),
        lead_ids=tuple(lead.id for lead, _ in ordered),
        draftable_ids=tuple(lead.id for lead, _ in ordered if not lead.do_not_contact and not lead.open_followup),
        examples=tuple(LeadRef(lead.id, lead.name, waited(_minutes(now - since)), lead_url(lead.id))
                       for lead, since in ordered[:EXAMPLES]))


def _in_stage_since(lead: WorkloadLead) -> dt.datetime:
    return lead.stage_changed_at or lead.created_at


def _response(rows: list[WorkloadLead], now: dt.datetime, target: int) -> ResponseFacts:
    window_start, judged_before = now - WINDOW_DAYS * DAY, now - target * MINUTE
    received = [lead for lead in rows if window_start <= lead.created_at <= judged_before]
    minutes = [(lead.first_contacted_at - lead.created_at) / MINUTE for lead in received
               if lead.first_contacted_at is not None]
    return ResponseFacts(received=len(received), answered=len(minutes),
                         within_target=sum(1 for value in minutes if value <= target),
                         median_minutes=round(statistics.median(minutes), 1) if minutes else None)


def _coaching(brokerage: Brokerage, agent: User) -> CoachingFacts:
    profile = agent_performance(brokerage=brokerage, agent=agent, days_lookback=WINDOW_DAYS)
    spots = tuple(WeakSpot(gap.area, AREA_LABELS.get(gap.area, gap.area), gap.score, gap.team_mean, gap.target)
                  for gap in profile.skill_gap_details[:WEAK_SPOTS])
    return CoachingFacts(scored_conversations=profile.scored_conversations,
                         average_quality=profile.average_quality_score, weak_spots=spots)


def workflow_facts(*, brokerage: Brokerage, agent: User, now: dt.datetime) -> WorkflowFacts:
    """Everything the analysis reads about `agent` at `now`, in a fixed number of queries whatever the number of
    their leads (settings, leads, follow-ups, typed messages, listings, and the performance profile, which is
    one query when its snapshot is fresh)."""
    values = settings_values(brokerage)
    rules = LeakageRules.of(values, now)
    target, quiet_days = values["response_time_target_minutes"], values["forgotten_lead_days"]
    today = BrokerageClock.of(values).today(now)
    rows = agent_workload(brokerage, rules, agent_id=agent.pk, created_since=now - WINDOW_DAYS * DAY)

    def lead_url(pk: int) -> str:
        return reverse("nurturing:lead", kwargs={"pk": pk})

    open_leads = [lead for lead in rows if lead.stage in OPEN_STAGES]
    forgotten = [lead for lead in open_leads if lead.forgotten]
    viewing = [lead for lead in open_leads if lead.stage == Stage.VIEWING
               and _in_stage_since(lead) <= now - VIEWING_GRACE_DAYS * DAY]
    no_next_step = [(lead, _in_stage_since(lead)) for lead in viewing if not lead.do_not_contact
                    and not lead.open_followup
                    and (lead.next_followup_date is None or lead.next_followup_date < today)
                    and (lead.last_contacted_at is None or lead.last_contacted_at <= _in_stage_since(lead))]
    stuck = []
    for stage, limit in STAGE_LIMIT_DAYS.items():
        late = [(lead, _in_stage_since(lead)) for lead in open_leads
                if lead.stage == stage and _in_stage_since(lead) < now - limit * DAY]
        if late:
            stuck.append(StuckStage(stage, Stage(stage).label, limit, _group(late, now, lead_url)))

    counts = agent_followup_counts(brokerage, agent_id=agent.pk, today=today)
    oldest = counts.pop("oldest_overdue")
    messages = agent_typed_messages(brokerage, agent_id=agent.pk, since=now - MESSAGES_WINDOW_DAYS * DAY,
                                    limit=MESSAGES_LIMIT)
    listings = agent_listings_without_description(brokerage, agent_id=agent.pk, limit=LISTINGS_LIMIT + 1)
    return WorkflowFacts(
        window_days=WINDOW_DAYS, considered_leads=len(rows), forgotten_lead_days=quiet_days,
        response_target_minutes=target, open_leads=len(open_leads),
        contactable_open_leads=sum(1 for lead in open_leads if not lead.do_not_contact),
        waiting_first_contact=_group(((lead, lead.created_at) for lead in forgotten
                                      if lead.last_contacted_at is None), now, lead_url),
        gone_quiet=_group(((lead, lead.last_contacted_at) for lead in forgotten
                           if lead.last_contacted_at is not None), now, lead_url),
        viewings_without_next_step=_group(no_next_step, now, lead_url), viewing_leads_judged=len(viewing),
        staged_open_leads=sum(1 for lead in open_leads if lead.stage in STAGE_LIMIT_DAYS), stuck=tuple(stuck),
        followups=FollowupFacts(**counts, oldest_overdue_days=(today - oldest).days if oldest else None),
        response=_response(rows, now, target),
        repeated_messages=repeated_messages(messages),
        coaching=_coaching(brokerage, agent),
        listings_without_description=tuple(
            ListingRef(pk, title, status, reverse("nurturing:listing", kwargs={"pk": pk}))
            for pk, title, status in listings[:LISTINGS_LIMIT]),
        more_listings_without_description=len(listings) > LISTINGS_LIMIT,
    )
