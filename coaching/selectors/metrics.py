"""Coaching metrics and ROI for a brokerage and a period (the seed's CoachingMetrics), computed from data.

Every figure comes with the formula that produced it (`formulas`, in words an owner can check) and, where it
uses one, the brokerage's ROI assumptions (`assumptions`, the "Coaching" settings). A figure that cannot be
computed — nothing to divide by, nothing measured — is None, and `reasons` says why; none is a constant.

The period is [start, end). "Coached agents" are the members with a coaching session that ran during it
(started before the end, not ended before the start); comparisons use the previous period of the same length,
[start − length, start).
"""

import datetime as dt
import zoneinfo
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from brokerages.models import Brokerage
from brokerages.selectors import settings_values
from nurturing.models import Lead, Stage

from ..models import Area, CoachingAlert, CoachingSession, Conversation, TrainingPlan, TrainingPlanItem
from .performance import HANDLED_SCORE
from .sessions import sessions_during

ASSUMPTION_KEYS = ("coaching_review_minutes_per_conversation", "coaching_reviewer_hourly_cost_aed",
                   "coaching_platform_monthly_cost_aed")
DAYS_PER_MONTH = Decimal(365) / Decimal(12)

FORMULAS = {
    "conversations_analysed": "Conversations that ended in the period and were scored by the analyser.",
    "review_hours_saved": "Conversations analysed × manual review minutes per conversation ÷ 60.",
    "value_in_period": "Review hours saved × the reviewer's hourly cost.",
    "cost_in_period": "Coaching cost per month × days in the period ÷ (365 ÷ 12).",
    "estimated_annual_value": "Value in the period × 365 ÷ days in the period (the period's pace over a year).",
    "cost_per_coaching_session": "Cost in the period ÷ coaching sessions that ran in the period.",
    "roi_percentage": "(Value in the period − cost in the period) ÷ cost in the period × 100.",
    "training_time_reduction_percentage": (
        "Manual review minutes the analyser replaced ÷ (those minutes + minutes of training modules agents "
        "completed in the period) × 100: the share of coaching time that no longer needs a person."),
    "agent_productivity_increase_percentage": (
        "Next steps secured by coached agents in the period (conversations whose closing scored 70 or more) ÷ "
        "the same count in the previous period, − 1, × 100."),
    "conversion_rate_improvement": (
        "Coached agents' conversion in the period (leads won ÷ leads closed, by closing date) − their conversion "
        "in the previous period, in percentage points as a fraction."),
    "average_quality_score_improvement": (
        "Mean, over coaching sessions that ran in the period, of current quality − baseline quality "
        "(the session's improvement delta)."),
    "total_coaching_sessions": "Coaching sessions that ran during the period (any status).",
    "total_coaching_alerts": "Coaching alerts raised in the period.",
    "total_real_time_interventions": "Alerts raised in the period as real-time suggestions during a live "
                                     "conversation.",
    "average_session_duration_minutes": "Mean of (end − start) of coaching sessions that ended in the period, "
                                        "in minutes (paused time included).",
    "coaching_adherence_rate": "Alerts raised in the period that the agent acknowledged ÷ alerts raised in the "
                               "period.",
    "training_completion_rate": (
        "Modules of training plans due in the period (not superseded) completed by the plan's due date ÷ all "
        "modules of those plans."),
    "performance_improvement_rate": (
        "Coached agents whose average conversation quality rose from the previous period to this one ÷ coached "
        "agents with scored conversations in both periods."),
    "agent_satisfaction_score": (
        "Not measured: the platform does not survey agents about their coaching (a lead's satisfaction score is "
        "the client's, not the agent's), so no figure is shown."),
}


@dataclass(frozen=True)
class CoachingMetrics:
    """The seed's CoachingMetrics. Rates are fractions 0–1, percentages are 0–100 (and may be negative),
    money is AED as Decimal."""

    metric_id: str
    tenant_id: int
    measurement_period_start: dt.datetime
    measurement_period_end: dt.datetime

    training_time_reduction_percentage: float | None
    agent_productivity_increase_percentage: float | None
    conversion_rate_improvement: float | None
    average_quality_score_improvement: float | None

    total_coaching_sessions: int
    total_coaching_alerts: int
    total_real_time_interventions: int
    average_session_duration_minutes: float | None

    coaching_adherence_rate: float | None
    training_completion_rate: float | None
    performance_improvement_rate: float | None
    agent_satisfaction_score: float | None

    estimated_annual_value: Decimal | None
    cost_per_coaching_session: Decimal | None
    roi_percentage: float | None

    # What the figures above are built from.
    conversations_analysed: int = 0
    review_hours_saved: float = 0.0
    value_in_period: Decimal = Decimal(0)
    cost_in_period: Decimal = Decimal(0)
    training_minutes_completed: int = 0
    coached_agents: int = 0
    formulas: dict[str, str] = field(default_factory=dict)
    assumptions: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # figure → why it is None

    def to_dict(self) -> dict:
        """JSON-ready: datetimes as ISO text, money as text (exact)."""
        data = asdict(self)
        for name, value in data.items():
            if isinstance(value, dt.datetime):
                data[name] = value.isoformat()
            elif isinstance(value, Decimal):
                data[name] = str(value)
        return data


def _money(value: Decimal, places: str = "1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _sessions(brokerage: Brokerage, start: dt.datetime, end: dt.datetime
              ) -> tuple[list[CoachingSession], set[int]]:
    """The sessions that ran during the period, and their agents (the coached agents)."""
    sessions = list(sessions_during(brokerage, start, end))
    return sessions, {session.agent_id for session in sessions}


@dataclass
class _Conversations:
    analysed: int = 0
    quality: dict[int, float] = field(default_factory=dict)  # agent → mean score
    next_steps: int = 0  # by coached agents


def _conversations(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, coached: set[int]
                   ) -> _Conversations:
    """Grouped per agent in the database: a year of conversations is tens of thousands of rows, and decoding
    their analyses in Python cost more than everything else on the owner's dashboard."""
    # Bounded on both sides so that only numbers count: the databases order JSON null, booleans and strings
    # before or after every number (SQLite compares them as text), never inside 70–100.
    closing = f"analysis__quality_scores_by_area__{Area.CLOSING.value}"
    handled = Q(agent_id__in=coached, **{f"{closing}__gte": HANDLED_SCORE, f"{closing}__lte": 100})
    rows = (Conversation.objects.filter(brokerage=brokerage, ended_at__gte=start, ended_at__lt=end,
                                        quality_score__isnull=False)
            .values("agent_id").order_by().annotate(analysed=Count("pk"), quality=Avg("quality_score"),
                                                    next_steps=Count("pk", filter=handled)))
    result = _Conversations()
    for row in rows:
        result.analysed += row["analysed"]
        result.quality[row["agent_id"]] = row["quality"]
        result.next_steps += row["next_steps"]
    return result


def _conversion(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, agents: set[int]
                ) -> tuple[int, int]:
    counts = Lead.objects.filter(brokerage=brokerage, assigned_agent_id__in=agents, stage__in=[Stage.WON, Stage.LOST],
                                 stage_changed_at__gte=start, stage_changed_at__lt=end).aggregate(
        won=Count("pk", filter=Q(stage=Stage.WON)), closed=Count("pk"))
    return counts["won"], counts["closed"]


def _training_completion(brokerage: Brokerage, start: dt.datetime, end: dt.datetime, tz: zoneinfo.ZoneInfo
                         ) -> tuple[int, int]:
    """(modules completed by their plan's due date, modules of plans due in the period). A plan is due in the
    period when its due day (in the brokerage's time zone) ended inside it."""
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    items = TrainingPlanItem.objects.filter(
        brokerage=brokerage, plan__target_completion_date__gte=first, plan__target_completion_date__lt=last,
    ).exclude(plan__status=TrainingPlan.Status.SUPERSEDED).values_list("completed_at",
                                                                       "plan__target_completion_date")
    due = on_time = 0
    for completed_at, due_date in items:
        due += 1
        if completed_at is not None and completed_at.astimezone(tz).date() <= due_date:
            on_time += 1
    return on_time, due


def coaching_metrics(*, brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> CoachingMetrics:
    """The brokerage's coaching metrics for [start, end) (timezone-aware, start before end). Only this
    brokerage's rows are read."""
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationError("Give the period's start and end with a time zone.")
    if end <= start:
        raise ValidationError("The period must end after it starts.")
    length = end - start
    previous_start = start - length
    days = Decimal(length.total_seconds()) / Decimal(86400)
    settings = settings_values(brokerage)
    assumptions = {key: settings[key] for key in ASSUMPTION_KEYS}
    review_minutes = assumptions["coaching_review_minutes_per_conversation"]
    hourly_cost = Decimal(assumptions["coaching_reviewer_hourly_cost_aed"])
    monthly_cost = Decimal(assumptions["coaching_platform_monthly_cost_aed"])
    reasons: dict[str, str] = {}

    sessions, coached = _sessions(brokerage, start, end)
    now = _conversations(brokerage, start, end, coached)
    before = _conversations(brokerage, previous_start, start, coached)

    # Time and money.
    replaced_minutes = now.analysed * review_minutes
    hours_saved = Decimal(replaced_minutes) / Decimal(60)
    value = _money(hours_saved * hourly_cost, "0.01")
    cost = _money(monthly_cost * days / DAYS_PER_MONTH, "0.01")
    annual_value = _money(value * Decimal(365) / days)
    cost_per_session = _money(cost / len(sessions), "0.01") if sessions else None
    if not sessions:
        reasons["cost_per_coaching_session"] = "No coaching session ran in the period."
    roi = float(round((value - cost) / cost * 100, 1)) if cost else None
    if not cost:
        reasons["roi_percentage"] = "The coaching cost per month is set to 0, so there is nothing to divide by."
    training_minutes = TrainingPlanItem.objects.filter(
        brokerage=brokerage, status=TrainingPlanItem.Status.COMPLETED, completed_at__gte=start, completed_at__lt=end,
    ).aggregate(minutes=Sum(F("module__duration_minutes")))["minutes"] or 0
    time_reduction = _ratio(replaced_minutes * 100, replaced_minutes + training_minutes, 1)
    if time_reduction is None:
        reasons["training_time_reduction_percentage"] = ("No conversation was analysed and no training module "
                                                         "completed in the period.")

    # Outcomes of coached agents against the previous period.
    productivity = None
    if before.next_steps:
        productivity = round((now.next_steps / before.next_steps - 1) * 100, 1)
    else:
        reasons["agent_productivity_increase_percentage"] = (
            "Coached agents secured no next step in the previous period to compare with.")
    won, closed = _conversion(brokerage, start, end, coached)
    won_before, closed_before = _conversion(brokerage, previous_start, start, coached)
    conversion_improvement = None
    if closed and closed_before:
        conversion_improvement = round(won / closed - won_before / closed_before, 4)
    else:
        reasons["conversion_rate_improvement"] = (
            "Coached agents closed no lead in this period or in the previous one, so there is no conversion to "
            "compare.")
    deltas = [session.improvement_delta for session in sessions if session.improvement_delta is not None]
    quality_improvement = round(sum(deltas) / len(deltas), 1) if deltas else None
    if not deltas:
        reasons["average_quality_score_improvement"] = ("No coaching session in the period has both a baseline "
                                                        "and a current quality score.")
    comparable = [agent_id for agent_id in coached if agent_id in now.quality and agent_id in before.quality]
    rose = sum(1 for agent_id in comparable if now.quality[agent_id] > before.quality[agent_id])
    improvement_rate = _ratio(rose, len(comparable))
    if improvement_rate is None:
        reasons["performance_improvement_rate"] = ("No coached agent has scored conversations in both this period "
                                                   "and the previous one.")

    # Coaching activity.
    alerts = CoachingAlert.objects.filter(brokerage=brokerage, created_at__gte=start, created_at__lt=end).aggregate(
        total=Count("pk"), acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        real_time=Count("pk", filter=Q(alert_type=CoachingAlert.AlertType.REAL_TIME_SUGGESTION)))
    adherence = _ratio(alerts["acknowledged"], alerts["total"])
    if adherence is None:
        reasons["coaching_adherence_rate"] = "No coaching alert was raised in the period."
    ended = [session for session in sessions if session.ended_at is not None and start <= session.ended_at < end]
    duration = round(sum((s.ended_at - s.started_at).total_seconds() for s in ended) / 60 / len(ended), 1) \
        if ended else None
    if duration is None:
        reasons["average_session_duration_minutes"] = "No coaching session ended in the period."
    on_time, due = _training_completion(brokerage, start, end, zoneinfo.ZoneInfo(settings["timezone"]))
    completion = _ratio(on_time, due)
    if completion is None:
        reasons["training_completion_rate"] = "No training plan was due in the period."
    reasons["agent_satisfaction_score"] = "Not measured."

    return CoachingMetrics(
        metric_id=f"coaching-{brokerage.pk}-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}",
        tenant_id=brokerage.pk, measurement_period_start=start, measurement_period_end=end,
        training_time_reduction_percentage=time_reduction,
        agent_productivity_increase_percentage=productivity,
        conversion_rate_improvement=conversion_improvement,
        average_quality_score_improvement=quality_improvement,
        total_coaching_sessions=len(sessions), total_coaching_alerts=alerts["total"],
        total_real_time_interventions=alerts["real_time"], average_session_duration_minutes=duration,
        coaching_adherence_rate=adherence, training_completion_rate=completion,
        performance_improvement_rate=improvement_rate, agent_satisfaction_score=None,
        estimated_annual_value=annual_value, cost_per_coaching_session=cost_per_session, roi_percentage=roi,
        conversations_analysed=now.analysed, review_hours_saved=float(round(hours_saved, 2)), value_in_period=value,
        cost_in_period=cost, training_minutes_completed=training_minutes, coached_agents=len(coached),
        formulas=dict(FORMULAS), assumptions=assumptions, reasons=reasons,
    )
