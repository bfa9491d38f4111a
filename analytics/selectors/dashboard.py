"""The owner's morning view: the period's KPIs against the previous period, who needs help, where leads leak,
how consistent the team is, and whether coaching pays off. A fixed number of queries whatever the size of the
team or its history: everything comes from grouped sums (team), cohort aggregates (retention) and the coaching
metrics."""

import datetime as dt
from dataclasses import dataclass, field

from brokerages.models import Brokerage, Role, User
from coaching.selectors.metrics import CoachingMetrics, coaching_metrics

from ..period import Period
from .consistency import Consistency, consistency_of
from .retention import LeadRetentionMetrics, leakage_by_agent, retention_metrics
from .team import FORMULAS, Totals, agents_of, buckets, daily_totals, totals_by_agent

# Thresholds of "needs attention", stated on the page next to each reason.
CONVERSION_DROP_POINTS = 10
QUALITY_DROP_POINTS = 5
SLOW_RESPONSE_FACTOR = 2
LEAKING_LEADS = 3
MIN_CLOSED = 5
MIN_RESPONDED = 5
MIN_CONVERSATIONS = 3
# The page lists the agents with the most reasons; a morning view of a big team cannot be a roll-call.
ATTENTION_SHOWN = 10

# (figure, label, unit, whether up is good); units: count, money, rate (0–1), minutes, score5, score100
KPIS = (
    ("leads_generated", "Leads generated", "count", True),
    ("conversion_rate", "Conversion rate", "rate", True),
    ("commission_earned", "Commission earned", "money", True),
    ("response_time_minutes", "Response time", "minutes", False),
    ("client_satisfaction", "Client satisfaction", "score5", True),
    ("conversation_quality", "Conversation quality", "score100", True),
)


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    unit: str
    value: object
    previous: object
    up_is_good: bool
    formula: str

    @property
    def change(self) -> float | None:
        """Rates and scores change in points; counts and money in percent of the previous value."""
        if self.value is None or self.previous is None:
            return None
        if self.unit in ("rate", "score5", "score100", "minutes"):
            return float(self.value) - float(self.previous)
        if not self.previous:
            return 0.0 if not self.value else None  # from nothing: "new", not an infinite percentage
        return (float(self.value) - float(self.previous)) / float(self.previous) * 100

    @property
    def trend(self) -> str:
        """"better", "worse" or "flat", for the arrow's colour."""
        change = self.change
        if not change:
            return "flat"
        return "better" if (change > 0) == self.up_is_good else "worse"


@dataclass(frozen=True)
class Attention:
    agent: User
    reasons: list[str]
    totals: Totals


@dataclass(frozen=True)
class Dashboard:
    period: Period
    previous: Period
    agent: User | None
    kpis: list[Kpi]
    trend: list[tuple[dt.date, Totals]]
    consistency: Consistency
    attention: list[Attention]
    retention: LeadRetentionMetrics
    coaching: CoachingMetrics
    agents: dict[int, User] = field(default_factory=dict)

    @property
    def contributors(self) -> list[tuple[User, object]]:
        """The consistency contributions with their agents, largest first."""
        return [(self.agents[item.agent_id], item) for item in self.consistency.agents]

    @property
    def attention_shown(self) -> list[Attention]:
        return self.attention[:ATTENTION_SHOWN]

    @property
    def attention_hidden(self) -> int:
        return max(0, len(self.attention) - ATTENTION_SHOWN)

    @property
    def has_data(self) -> bool:
        return any(totals.has_activity for _, totals in self.trend)


def dashboard(*, brokerage: Brokerage, period: Period, agent_id: int | None = None,
              agents: list[User] | None = None) -> Dashboard:
    """`agents`: the brokerage's `agents_of`, when the caller has already read them (the filter form has)."""
    previous = period.previous()
    agents = {agent.pk: agent for agent in (agents_of(brokerage) if agents is None else agents)}
    now_by_agent = totals_by_agent(brokerage, period)
    before_by_agent = totals_by_agent(brokerage, previous)
    chosen = agents.get(agent_id) if agent_id else None
    now = _total(now_by_agent, agent_id)
    before = _total(before_by_agent, agent_id)
    kpis = [Kpi(name, label, unit, _figure(now, name), _figure(before, name), up, FORMULAS[name])
            for name, label, unit, up in KPIS]
    start, end = period.bounds()
    retention = retention_metrics(brokerage=brokerage, period=period, agent_id=agent_id)
    leaking = retention.leakage_by_agent if agent_id is None else leakage_by_agent(brokerage, period)
    return Dashboard(
        period=period, previous=previous, agent=chosen, kpis=kpis,
        trend=buckets(period, daily_totals(brokerage, period, agent_id)),
        consistency=consistency_of(now_by_agent),
        attention=needs_attention(agents, now_by_agent, before_by_agent, leaking, period), retention=retention,
        coaching=coaching_metrics(brokerage=brokerage, start=start, end=end), agents=agents)


def _total(by_agent: dict[int, Totals], agent_id: int | None) -> Totals:
    if agent_id:
        return by_agent.get(agent_id, Totals())
    return Totals.total(by_agent.values())


def _figure(totals: Totals, name: str):
    value = getattr(totals, name)
    return value if totals.has_activity else None


def needs_attention(agents: dict[int, User], now: dict[int, Totals], before: dict[int, Totals],
                    leaking: dict[int, int], period: Period) -> list[Attention]:
    """Agents with at least one reason for a manager to look, most reasons first. The reasons, each with its
    threshold: conversion down by 10+ points (5+ closed leads in both periods), response time at least twice the
    team's (5+ first contacts), conversation quality down by 5+ points (3+ scored conversations in both), 3+ leads
    leaking, or no activity at all in the period for an active agent hired before it began."""
    team = Totals.total(now.values())
    flagged = []
    for agent_id, agent in agents.items():
        current, previous = now.get(agent_id, Totals()), before.get(agent_id, Totals())
        reasons = []
        if (current.leads_closed >= MIN_CLOSED and previous.leads_closed >= MIN_CLOSED
                and previous.conversion_rate - current.conversion_rate >= CONVERSION_DROP_POINTS / 100):
            reasons.append(f"Conversion down {100 * (previous.conversion_rate - current.conversion_rate):.0f} "
                           f"points ({100 * previous.conversion_rate:.0f}% → {100 * current.conversion_rate:.0f}%)")
        if (current.leads_responded >= MIN_RESPONDED and team.response_time_minutes
                and current.response_time_minutes >= SLOW_RESPONSE_FACTOR * team.response_time_minutes):
            reasons.append(f"Slow to respond: {current.response_time_minutes:.0f} min on average against the "
                           f"team's {team.response_time_minutes:.0f} min")
        if (current.conversations >= MIN_CONVERSATIONS and previous.conversations >= MIN_CONVERSATIONS
                and previous.conversation_quality - current.conversation_quality >= QUALITY_DROP_POINTS):
            reasons.append(f"Conversation quality down {previous.conversation_quality - current.conversation_quality:.0f}"
                           f" points ({previous.conversation_quality:.0f} → {current.conversation_quality:.0f})")
        if leaking.get(agent_id, 0) >= LEAKING_LEADS:
            reasons.append(f"{leaking[agent_id]} leads going quiet without contact")
        if (agent.role == Role.AGENT and agent.is_active and not current.has_activity
                and (agent.hire_date is None or agent.hire_date < period.start)):
            reasons.append("No leads, closings or scored conversations in the period")
        if reasons:
            flagged.append(Attention(agent, reasons, current))
    return sorted(flagged, key=lambda item: (-len(item.reasons), item.agent.display_name))
