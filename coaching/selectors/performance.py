"""Agent performance profiles (the seed's AgentPerformance), computed from the brokerage's data and cached.

A profile covers the `days_lookback` days up to now. Its sources:
- the agent's conversations that **ended** in the window: `quality_score` (set by the full analysis only) and the
  analysis JSON's `quality_scores_by_area` and `expertise_scores`. An area the conversation gave no occasion for
  is null there and is left out of the means (never counted as zero);
- the agent's leads closed (won or lost) in the window, by `Lead.stage_changed_at`;
- the agent's coaching sessions completed, training plan items completed and coaching alerts raised in the window;
- the other members' conversations in the same window, for the team means, the peer percentile and skill gaps.

Thresholds, all on the analyser's 0–100 scale:
- an area is a **strength** at ≥ 75, a **weakness** below 60, an **improvement area** in between;
- an area is a **skill gap** when the agent's score is below the target (70, the analyser's "handled well") or
  below the team's mean for the area, whichever is higher; gaps are ordered by their size;
- **objection resolution rate** = conversations whose objection handling scored ≥ 70 ÷ conversations with an
  objection handling score (an objection came up); **appointment scheduling rate** = conversations whose closing
  scored ≥ 70 ÷ conversations with a closing score. The analyser scores closing ≥ 70 only when a next step was
  secured and < 60 when a warm conversation ended without one, so the closing score is the appointment signal;
- **expertise level** from the mean of the expertise scores: < 45 beginner, < 65 intermediate, < 85 advanced,
  else expert (the same cut points the training engine uses to pick module levels); None without expertise data;
- **trend**: the least-squares line of quality score against time; "improving" when the line rises by 5 points or
  more between the first and the last conversation of the window, "declining" when it falls by 5 or more,
  otherwise — and always with fewer than 3 scored conversations — "stable";
- **peer percentile**: the share of the other members with scored conversations in the window whose average
  quality is below the agent's (ties count half), × 100; **team average delta**: the agent's average minus the
  mean of every member's average (the agent included). Both None without peers.

Profiles are stored in PerformanceSnapshot per (agent, days_lookback). `performance_invalidate` deletes an agent's
snapshots when their data changes (a conversation ends, a plan item moves); a snapshot also expires after
SNAPSHOT_MAX_AGE, because the window moves with the clock and peers' new conversations change the comparisons
without touching this agent's data.
"""

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from brokerages.models import Brokerage, Role, User
from nurturing.models import Lead, Stage

from ..models import (Area, CoachingAlert, CoachingSession, Conversation, PerformanceSnapshot, SkillLevel,
                      TrainingPlanItem)

AREAS: tuple[str, ...] = tuple(Area.values)
STRENGTH_SCORE = 75.0
WEAKNESS_SCORE = 60.0
TARGET_AREA_SCORE = 70.0
HANDLED_SCORE = 70.0
TREND_MIN_CONVERSATIONS = 3
TREND_THRESHOLD_POINTS = 5.0
# Upper bounds (exclusive) of the skill levels on the 0–100 scale; at or above the last one: expert.
LEVEL_BOUNDS: tuple[tuple[float, str], ...] = ((45.0, SkillLevel.BEGINNER), (65.0, SkillLevel.INTERMEDIATE),
                                               (85.0, SkillLevel.ADVANCED))
SNAPSHOT_MAX_AGE = dt.timedelta(minutes=10)
MAX_DAYS_LOOKBACK = 365


def level_for(score: float) -> str:
    """The SkillLevel of a 0–100 score (see LEVEL_BOUNDS)."""
    for bound, level in LEVEL_BOUNDS:
        if score < bound:
            return level
    return SkillLevel.EXPERT


@dataclass(frozen=True)
class SkillGap:
    area: str
    score: float
    team_mean: float | None
    target: float  # the higher of TARGET_AREA_SCORE and the team mean
    gap: float


@dataclass(frozen=True)
class AgentPerformance:
    """The seed's AgentPerformance. Areas are keyed by their `Area` value; rates are fractions 0–1; every figure
    without data behind it is None rather than a guess."""

    agent_id: int
    tenant_id: int  # the brokerage
    days_lookback: int
    evaluation_period_start: dt.datetime
    evaluation_period_end: dt.datetime

    overall_quality_score: float | None
    overall_expertise_level: str | None
    performance_trend: str  # "improving", "stable" or "declining"

    quality_scores_by_area: dict[str, float | None]
    expertise_scores_by_area: dict[str, float]

    total_conversations: int
    # The seed lists it next to overall_quality_score; both are the mean quality of the scored conversations.
    average_quality_score: float | None
    conversion_rate: float | None
    objection_resolution_rate: float | None
    appointment_scheduling_rate: float | None

    strengths: list[str]
    weaknesses: list[str]
    improvement_areas: list[str]
    skill_gaps: list[str]

    coaching_sessions_completed: int
    training_modules_completed: int
    coaching_adherence_rate: float | None

    peer_percentile: float | None
    team_average_delta: float | None

    # Beyond the seed: what the figures above were computed from, for pages, plans and explanations.
    scored_conversations: int = 0
    quality_trend_points: float | None = None  # the trend line's rise from first to last conversation
    quality_series: list[dict] = field(default_factory=list)  # [{"at": iso datetime, "score": float}] oldest first
    skill_gap_details: list[SkillGap] = field(default_factory=list)
    team_quality_scores_by_area: dict[str, float | None] = field(default_factory=dict)
    team_average_quality: float | None = None
    team_conversion_rate: float | None = None
    peers_with_data: int = 0
    leads_won: int = 0
    leads_closed: int = 0
    objection_occasions: int = 0
    closing_occasions: int = 0
    coaching_alerts: int = 0
    coaching_alerts_acknowledged: int = 0
    computed_at: dt.datetime | None = None

    def area_score(self, area: str) -> float | None:
        return self.quality_scores_by_area.get(area)

    def to_dict(self) -> dict:
        """JSON-ready: datetimes as ISO text."""
        data = asdict(self)
        for name in ("evaluation_period_start", "evaluation_period_end", "computed_at"):
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "AgentPerformance":
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        for name in ("evaluation_period_start", "evaluation_period_end", "computed_at"):
            if values.get(name):
                values[name] = dt.datetime.fromisoformat(values[name])
        values["skill_gap_details"] = [SkillGap(**gap) for gap in values.get("skill_gap_details", ())]
        return cls(**values)


# --- computation ----------------------------------------------------------------------------------------------

def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _History:
    """One member's scored conversations in the window."""

    scores: list[tuple[dt.datetime, float]] = field(default_factory=list)
    areas: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    expertise: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    conversations: int = 0

    @property
    def average(self) -> float | None:
        return _mean(score for _, score in self.scores)

    def area_means(self) -> dict[str, float | None]:
        return {area: _mean(self.areas.get(area, ())) for area in AREAS}


def _histories(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> dict[int, _History]:
    """Every member's ended conversations in the window, in one query that reads only the analysis keys used."""
    rows = (Conversation.objects.filter(brokerage=brokerage, ended_at__gt=start, ended_at__lte=end)
            .order_by("ended_at", "pk")
            .values_list("agent_id", "ended_at", "quality_score", "analysis__quality_scores_by_area",
                         "analysis__expertise_scores"))
    histories: dict[int, _History] = defaultdict(_History)
    for agent_id, ended_at, quality, by_area, expertise in rows:
        history = histories[agent_id]
        history.conversations += 1
        quality = _number(quality)
        if quality is not None:
            history.scores.append((ended_at, quality))
        for area, score in by_area.items() if isinstance(by_area, dict) else ():
            if area in AREAS and (score := _number(score)) is not None:
                history.areas[area].append(score)
        for area, score in expertise.items() if isinstance(expertise, dict) else ():
            if (score := _number(score)) is not None:
                history.expertise[str(area)].append(score)
    return histories


def _trend(scores: list[tuple[dt.datetime, float]]) -> tuple[str, float | None]:
    """("improving" | "stable" | "declining", the fitted rise in points from the first to the last conversation)."""
    if len(scores) < TREND_MIN_CONVERSATIONS:
        return "stable", None
    first = scores[0][0]
    xs = [(at - first).total_seconds() / 86400 for at, _ in scores]
    ys = [score for _, score in scores]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:  # all ended at the same instant: no direction over time
        return "stable", 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    rise = slope * (xs[-1] - xs[0])
    if rise >= TREND_THRESHOLD_POINTS:
        return "improving", round(rise, 1)
    if rise <= -TREND_THRESHOLD_POINTS:
        return "declining", round(rise, 1)
    return "stable", round(rise, 1)


def _count_by_agent(queryset, agent_field: str, agent_ids: list[int], **counts) -> dict[int, dict[str, int]]:
    rows = queryset.filter(**{f"{agent_field}__in": agent_ids}).values(agent_field).annotate(**counts)
    return {row.pop(agent_field): row for row in rows}


@dataclass(frozen=True)
class _Team:
    histories: dict[int, _History]
    averages: dict[int, float]  # member → average quality, members with scored conversations only
    area_means: dict[str, float | None]
    average: float | None
    conversions: dict[int, tuple[int, int]]  # member → (won, closed)
    conversion_rate: float | None


def _team(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> _Team:
    histories = _histories(brokerage, start, end)
    averages = {agent_id: history.average for agent_id, history in histories.items() if history.scores}
    per_member_areas = [history.area_means() for history in histories.values()]
    area_means = {area: _mean(means[area] for means in per_member_areas if means[area] is not None)
                  for area in AREAS}
    closed = (Lead.objects.filter(brokerage=brokerage, assigned_agent__isnull=False,
                                  stage__in=[Stage.WON, Stage.LOST],
                                  stage_changed_at__gt=start, stage_changed_at__lte=end)
              .values("assigned_agent_id")
              .annotate(won=Count("pk", filter=Q(stage=Stage.WON)), closed=Count("pk")))
    conversions = {row["assigned_agent_id"]: (row["won"], row["closed"]) for row in closed}
    won_total = sum(won for won, _ in conversions.values())
    closed_total = sum(count for _, count in conversions.values())
    return _Team(histories, averages, area_means, _mean(averages.values()), conversions,
                 _rate(won_total, closed_total))


def _profile(agent_id: int, brokerage: Brokerage, days: int, start: dt.datetime, end: dt.datetime, team: _Team,
             sessions: dict, items: dict, alerts: dict) -> AgentPerformance:
    history = team.histories.get(agent_id, _History())
    average = history.average
    by_area = {area: _round(score) for area, score in history.area_means().items()}
    expertise = {area: round(_mean(scores), 1) for area, scores in sorted(history.expertise.items())}
    expertise_level = level_for(_mean(expertise.values())) if expertise else None
    trend, rise = _trend(history.scores)

    scored = {area: score for area, score in by_area.items() if score is not None}
    strengths = [area for area, score in scored.items() if score >= STRENGTH_SCORE]
    weaknesses = sorted((area for area, score in scored.items() if score < WEAKNESS_SCORE), key=scored.get)
    improvement = sorted((area for area, score in scored.items() if WEAKNESS_SCORE <= score < STRENGTH_SCORE),
                         key=scored.get)
    gaps = []
    for area, score in scored.items():
        team_mean = team.area_means.get(area)
        target = max(TARGET_AREA_SCORE, team_mean if team_mean is not None else TARGET_AREA_SCORE)
        if score < target:
            gaps.append(SkillGap(area, score, _round(team_mean), round(target, 1), round(target - score, 1)))
    gaps.sort(key=lambda gap: (-gap.gap, AREAS.index(gap.area)))

    objections = history.areas.get(Area.OBJECTION_HANDLING, [])
    closings = history.areas.get(Area.CLOSING, [])
    won, closed = team.conversions.get(agent_id, (0, 0))
    alert_counts = alerts.get(agent_id, {"total": 0, "acknowledged": 0})

    percentile = delta = None
    peers = {other: value for other, value in team.averages.items() if other != agent_id}
    if average is not None and peers:
        below = sum(1 for value in peers.values() if value < average)
        ties = sum(1 for value in peers.values() if value == average)
        percentile = round((below + ties / 2) / len(peers) * 100, 1)
        delta = round(average - team.average, 1)

    return AgentPerformance(
        agent_id=agent_id, tenant_id=brokerage.pk, days_lookback=days,
        evaluation_period_start=start, evaluation_period_end=end,
        overall_quality_score=_round(average), overall_expertise_level=expertise_level, performance_trend=trend,
        quality_scores_by_area=by_area, expertise_scores_by_area=expertise,
        total_conversations=history.conversations, average_quality_score=_round(average),
        conversion_rate=_rate(won, closed),
        objection_resolution_rate=_rate(sum(score >= HANDLED_SCORE for score in objections), len(objections)),
        appointment_scheduling_rate=_rate(sum(score >= HANDLED_SCORE for score in closings), len(closings)),
        strengths=strengths, weaknesses=weaknesses, improvement_areas=improvement,
        skill_gaps=[gap.area for gap in gaps],
        coaching_sessions_completed=sessions.get(agent_id, {}).get("completed", 0),
        training_modules_completed=items.get(agent_id, {}).get("completed", 0),
        coaching_adherence_rate=_rate(alert_counts["acknowledged"], alert_counts["total"]),
        peer_percentile=percentile, team_average_delta=delta,
        scored_conversations=len(history.scores), quality_trend_points=rise,
        quality_series=[{"at": at.isoformat(), "score": round(score, 1)} for at, score in history.scores],
        skill_gap_details=gaps, team_quality_scores_by_area={area: _round(v) for area, v in team.area_means.items()},
        team_average_quality=_round(team.average), team_conversion_rate=team.conversion_rate,
        peers_with_data=len(peers), leads_won=won, leads_closed=closed,
        objection_occasions=len(objections), closing_occasions=len(closings),
        coaching_alerts=alert_counts["total"], coaching_alerts_acknowledged=alert_counts["acknowledged"],
        computed_at=end,
    )


def _compute(brokerage: Brokerage, agent_ids: list[int], days: int) -> dict[int, AgentPerformance]:
    """Profiles of several members at once: the team's data is read once, the per-member counts in one grouped
    query each."""
    end = timezone.now()
    start = end - dt.timedelta(days=days)
    team = _team(brokerage, start, end)
    sessions = _count_by_agent(
        CoachingSession.objects.filter(brokerage=brokerage, status=CoachingSession.Status.COMPLETED,
                                       ended_at__gt=start, ended_at__lte=end), "agent_id", agent_ids,
        completed=Count("pk"))
    items = _count_by_agent(
        TrainingPlanItem.objects.filter(brokerage=brokerage, status=TrainingPlanItem.Status.COMPLETED,
                                        completed_at__gt=start, completed_at__lte=end), "plan__agent_id", agent_ids,
        completed=Count("pk"))
    alerts = _count_by_agent(
        CoachingAlert.objects.filter(brokerage=brokerage, created_at__gt=start, created_at__lte=end), "agent_id",
        agent_ids, total=Count("pk"), acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)))
    return {agent_id: _profile(agent_id, brokerage, days, start, end, team, sessions, items, alerts)
            for agent_id in agent_ids}


def _check_days(days_lookback: int) -> int:
    # Pages and the API pass what a person asked for, so this is a ValidationError they can show.
    if isinstance(days_lookback, bool) or not isinstance(days_lookback, int) or \
            not 1 <= days_lookback <= MAX_DAYS_LOOKBACK:
        raise ValidationError({"days_lookback": f"Give a number of days from 1 to {MAX_DAYS_LOOKBACK}."})
    return days_lookback


def _store(brokerage: Brokerage, profile: AgentPerformance) -> None:
    try:
        with transaction.atomic():
            PerformanceSnapshot.objects.update_or_create(
                agent_id=profile.agent_id, days_lookback=profile.days_lookback,
                defaults={"brokerage": brokerage, "computed_at": profile.computed_at, "data": profile.to_dict()})
    except IntegrityError:
        # A concurrent request stored the same profile first; theirs is as fresh as ours.
        pass


def _fresh_snapshots(brokerage: Brokerage, agent_ids: list[int], days: int) -> dict[int, AgentPerformance]:
    rows = PerformanceSnapshot.objects.filter(
        brokerage=brokerage, agent_id__in=agent_ids, days_lookback=days,
        computed_at__gte=timezone.now() - SNAPSHOT_MAX_AGE).values_list("agent_id", "data")
    return {agent_id: AgentPerformance.from_dict(data) for agent_id, data in rows}


# --- public selectors -----------------------------------------------------------------------------------------

def agent_performance(*, brokerage: Brokerage, agent: User, days_lookback: int = 30) -> AgentPerformance:
    """The agent's profile over the last `days_lookback` days: the stored snapshot when it is fresh, otherwise
    computed and stored. `agent` must be a member of `brokerage`."""
    days = _check_days(days_lookback)
    if agent.brokerage_id != brokerage.pk:
        raise ValueError("The agent is not a member of this brokerage.")
    cached = _fresh_snapshots(brokerage, [agent.pk], days)
    if agent.pk in cached:
        return cached[agent.pk]
    profile = _compute(brokerage, [agent.pk], days)[agent.pk]
    _store(brokerage, profile)
    return profile


def performance_invalidate(*, agent: User) -> None:
    """Forget the agent's stored profiles (every window), so the next read sees their new data."""
    PerformanceSnapshot.objects.filter(brokerage_id=agent.brokerage_id, agent=agent).delete()


@dataclass(frozen=True)
class TeamRow:
    agent: User
    performance: AgentPerformance


def team_performance_overview(*, brokerage: Brokerage, days_lookback: int = 30) -> list[TeamRow]:
    """One row per active agent of the brokerage, and per other member with conversations in the window (an owner
    who sells too), weakest average quality first and members without scored conversations last."""
    days = _check_days(days_lookback)
    end = timezone.now()
    with_data = Conversation.objects.filter(brokerage=brokerage, ended_at__gt=end - dt.timedelta(days=days),
                                            ended_at__lte=end).values("agent_id")
    members = list(User.objects.filter(brokerage=brokerage, is_active=True)
                   .filter(Q(role=Role.AGENT) | Q(pk__in=with_data)).order_by("full_name", "email"))
    ids = [member.pk for member in members]
    profiles = _fresh_snapshots(brokerage, ids, days)
    missing = [agent_id for agent_id in ids if agent_id not in profiles]
    if missing:
        computed = _compute(brokerage, missing, days)
        for profile in computed.values():
            _store(brokerage, profile)
        profiles.update(computed)
    rows = [TeamRow(member, profiles[member.pk]) for member in members]
    rows.sort(key=lambda row: (row.performance.overall_quality_score is None,
                               row.performance.overall_quality_score or 0))
    return rows
