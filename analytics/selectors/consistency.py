"""The seed's ConsistencyCalculator: how alike the team's agents perform, as a 0–100 score.

For each of three metrics — conversion rate, response time, client satisfaction — the agents with enough data
in the period are compared by their coefficient of variation (CV = standard deviation ÷ mean, the spread
relative to the typical value, so minutes and rates are comparable). The metric's consistency is 100 ÷ (1 + CV):
100 when everyone performs alike, 50 when the spread equals the mean, towards 0 as it grows. The team score is
the mean over the metrics that could be scored. A metric needs at least two agents with enough data; with none,
the team gets no score (a reason instead) — one agent is not a team.

Each agent's contribution to inconsistency is their share of the squared deviations from the mean, averaged over
the metrics they were counted in: the agents whose numbers pull the team apart have the largest shares.
"""

import math
from dataclasses import dataclass, field

from brokerages.models import Brokerage

from ..period import Period
from .team import Totals, totals_by_agent

MIN_AGENTS = 2
# (metric, label, how much data an agent needs to be compared fairly, higher is better)
METRICS = (
    ("conversion_rate", "Conversion rate", "leads_closed", 5, True),
    ("response_time_minutes", "Response time", "leads_responded", 5, False),
    ("client_satisfaction", "Client satisfaction", "satisfaction_ratings", 3, True),
)
FORMULA = ("For each metric: CV = standard deviation ÷ mean across agents with enough data; metric consistency = "
           "100 ÷ (1 + CV). Team score = mean of the metric scores. Enough data: at least 5 closed leads "
           "(conversion), 5 first contacts (response time), 3 ratings (satisfaction); at least two agents per "
           "metric.")


@dataclass(frozen=True)
class MetricConsistency:
    metric: str
    label: str
    agents: int
    mean: float | None
    std_dev: float | None
    score: float | None
    reason: str = ""


@dataclass(frozen=True)
class AgentContribution:
    agent_id: int
    share: float  # 0–1: the agent's share of the team's spread, averaged over the metrics they count in
    # metric → (the agent's value, "better" | "worse" | "typical" relative to the team mean)
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Consistency:
    score: float | None
    metrics: list[MetricConsistency]
    agents: list[AgentContribution]  # largest contribution first
    reason: str = ""
    formula: str = FORMULA


def team_consistency(brokerage: Brokerage, period: Period, totals: dict[int, Totals] | None = None) -> Consistency:
    """The team's consistency over the period (pass `totals_by_agent` when already read: no query then)."""
    if totals is None:
        totals = totals_by_agent(brokerage, period)
    return consistency_of(totals)


def consistency_of(totals: dict[int, Totals]) -> Consistency:
    metrics, shares, values = [], {}, {}
    for name, label, weight, minimum, higher_is_better in METRICS:
        sample = {agent_id: getattr(agent, name) for agent_id, agent in totals.items()
                  if getattr(agent, weight) >= minimum and getattr(agent, name) is not None}
        if len(sample) < MIN_AGENTS:
            metrics.append(MetricConsistency(name, label, len(sample), None, None, None, reason=(
                f"Fewer than {MIN_AGENTS} agents with enough data (at least {minimum} {weight.replace('_', ' ')})."
            )))
            continue
        mean = sum(sample.values()) / len(sample)
        squares = {agent_id: (value - mean) ** 2 for agent_id, value in sample.items()}
        std_dev = math.sqrt(sum(squares.values()) / len(sample))
        cv = std_dev / mean if mean else (0.0 if std_dev == 0 else math.inf)
        metrics.append(MetricConsistency(name, label, len(sample), mean, std_dev, 100 / (1 + cv)))
        spread = sum(squares.values())
        for agent_id, value in sample.items():
            shares.setdefault(agent_id, []).append(squares[agent_id] / spread if spread else 0.0)
            values.setdefault(agent_id, {})[name] = (value, _direction(value, mean, std_dev, higher_is_better))
    scored = [metric.score for metric in metrics if metric.score is not None]
    if not scored:
        return Consistency(None, metrics, [], reason=(
            "Not enough data yet: consistency compares at least two agents with enough closed leads, first "
            "contacts or ratings in the period. Pick a longer period, or check back as the team works leads."))
    contributions = sorted(
        (AgentContribution(agent_id, sum(agent_shares) / len(agent_shares), values[agent_id])
         for agent_id, agent_shares in shares.items()), key=lambda contribution: -contribution.share)
    return Consistency(sum(scored) / len(scored), metrics, contributions)


def _direction(value: float, mean: float, std_dev: float, higher_is_better: bool) -> str:
    """Whether the agent's value is better or worse than the team's, beyond half a standard deviation."""
    if abs(value - mean) <= std_dev / 2:
        return "typical"
    return "better" if (value > mean) == higher_is_better else "worse"
