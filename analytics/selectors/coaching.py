"""Coaching effectiveness over a period: did the agents' conversations get better once coaching began?

For every coaching session that ran in the period: the agent's mean conversation quality over the 30 days
before the session started ("before") and from its start to its end or the period's end ("after"), each a
mean over scored conversations weighted by their number (from the rolled-up rows). Alongside, the quality trend
of the coached agents against the rest of the team, and the coaching metrics (ROI, adherence, training
completion) with their formulas.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from brokerages.models import Brokerage
from coaching.models import CoachingSession
from coaching.selectors.metrics import CoachingMetrics, coaching_metrics
from coaching.selectors.sessions import sessions_during

from ..models import TeamPerformance
from ..period import Period
from .team import step_start

BEFORE_DAYS = 30
FORMULAS = {
    "before": f"Mean quality of the agent's scored conversations in the {BEFORE_DAYS} days before the session "
              "started.",
    "after": "Mean quality of the agent's scored conversations from the session's start to its end (or the "
             "period's end).",
    "change": "After − before, in quality points (0–100 scale).",
}


@dataclass(frozen=True)
class SessionEffect:
    session: CoachingSession
    before: float | None
    after: float | None
    conversations_after: int

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class CoachingEffect:
    sessions: list[SessionEffect]
    trend: list[tuple[dt.date, float | None, float | None]]  # step, coached agents' quality, the others'
    metrics: CoachingMetrics

    @property
    def mean_change(self) -> float | None:
        changes = [effect.change for effect in self.sessions if effect.change is not None]
        return sum(changes) / len(changes) if changes else None


def coaching_effect(*, brokerage: Brokerage, period: Period) -> CoachingEffect:
    start, end = period.bounds()
    sessions = list(sessions_during(brokerage, start, end).order_by("started_at"))
    coached = {session.agent_id for session in sessions}
    zone = period.zone
    earliest = min([session.started_at.astimezone(zone).date() for session in sessions] + [period.start])
    rows = list(TeamPerformance.objects.filter(
        brokerage=brokerage, metric_date__gte=earliest - dt.timedelta(days=BEFORE_DAYS), metric_date__lte=period.end,
        conversations__gt=0).filter(~Q(conversation_quality=None))
        .values_list("agent_id", "metric_date", "conversations", "conversation_quality"))
    by_agent: dict[int, list[tuple[dt.date, int, float]]] = {}
    for agent_id, day, count, quality in rows:
        by_agent.setdefault(agent_id, []).append((day, count, float(quality)))
    effects = []
    for session in sessions:
        began = session.started_at.astimezone(zone).date()
        finished = min(session.ended_at.astimezone(zone).date(), period.end) if session.ended_at else period.end
        mine = by_agent.get(session.agent_id, [])
        before = [(count, quality) for day, count, quality in mine
                  if began - dt.timedelta(days=BEFORE_DAYS) <= day < began]
        after = [(count, quality) for day, count, quality in mine if began <= day <= finished]
        effects.append(SessionEffect(session, _weighted(before), _weighted(after), sum(c for c, _ in after)))
    steps: dict[dt.date, tuple[list, list]] = {}
    for day in period.dates():
        steps.setdefault(step_start(period, day), ([], []))
    for agent_id, day, count, quality in rows:
        if period.start <= day <= period.end:
            steps[step_start(period, day)][agent_id not in coached].append((count, float(quality)))
    trend = [(step, _weighted(mine), _weighted(others)) for step, (mine, others) in steps.items()]
    return CoachingEffect(effects, trend, coaching_metrics(brokerage=brokerage, start=start, end=end))


def _weighted(pairs: list[tuple[int, float]]) -> float | None:
    total = sum(count for count, _ in pairs)
    return sum(count * quality for count, quality in pairs) / total if total else None
