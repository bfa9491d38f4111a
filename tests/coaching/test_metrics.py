"""Coaching metrics and ROI: every figure against values computed by hand on a small brokerage, the ROI
assumptions read from settings, None (with a reason) instead of a division by zero, and tenant separation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from brokerages.models import Role
from brokerages.services import settings_update
from coaching.models import CoachingAlert, CoachingSession, TrainingModule, TrainingPlan, TrainingPlanItem
from coaching.selectors.metrics import FORMULAS, coaching_metrics
from tests.factories import UserFactory

from .test_performance import close_lead, scored, talk

DAY = dt.timedelta(days=1)


def closing(quality, closing_score):
    """An analysis whose closing area scored `closing_score` (None: no closing occasion)."""
    return scored(quality, (None, None, None, closing_score, None))


def session(brokerage, agent, *, started, ended=None, baseline=None, current=None):
    status = CoachingSession.Status.COMPLETED if ended else CoachingSession.Status.ACTIVE
    now = timezone.now()
    return CoachingSession.objects.create(
        brokerage=brokerage, agent=agent, status=status, started_at=now - started * DAY,
        ended_at=now - ended * DAY if ended else None, baseline_quality_score=baseline,
        current_quality_score=current)


def alert(conversation, code, *, days_ago, acknowledged, real_time=True):
    kind = CoachingAlert.AlertType.REAL_TIME_SUGGESTION if real_time else CoachingAlert.AlertType.CONVERSATION_REVIEW
    now = timezone.now()
    return CoachingAlert.objects.create(
        brokerage=conversation.brokerage, agent=conversation.agent, conversation=conversation, code=code,
        alert_type=kind, area="closing", title="Secure a next step", text="Offer two viewing times.",
        priority="HIGH", created_at=now - days_ago * DAY, acknowledged_at=now if acknowledged else None)


def plan(brokerage, agent, *, due_in_days, status=TrainingPlan.Status.ACTIVE, items=()):
    """A plan due `due_in_days` from today (negative: in the past) with items (module key, days since it was
    completed or None)."""
    now = timezone.now()
    made = TrainingPlan.objects.create(
        brokerage=brokerage, agent=agent, status=status, target_completion_date=timezone.localdate() +
        due_in_days * DAY, target_quality_score=70, target_conversion_rate=0.3, target_expertise_level="advanced")
    for position, (key, completed_days_ago) in enumerate(items, start=1):
        done = completed_days_ago is not None
        TrainingPlanItem.objects.create(
            brokerage=brokerage, plan=made, module=TrainingModule.objects.get(key=key), position=position,
            status="completed" if done else "not_started",
            completed_at=now - completed_days_ago * DAY if done else None)
    return made


@pytest.fixture
def team(tenant, other_tenant):
    """The last 30 days (and the 30 before) of a brokerage with agents A and B coached and C not:

    sessions   A: 20 days ago → running, quality 50 → 62;  B: 40 → 10 days ago, 70 → 66;  C: 45 → 35 days ago
    scored conversations (quality/closing), this period: A 60/75, 70/50, 80/–; B 65/80; C 90/90
                                            previous:    A 50/72; B 70/40; C 40/90
    leads closed, this period: A won 2, lost 1; B lost 1; C won 3.  Previous: A won 1, lost 2; B lost 1
    alerts this period: A 3 (2 real-time, 2 acknowledged), B 1 (real-time, acknowledged); A 1 forty days ago
    plans: C's due 10 days ago — lead qualification (45 min) done 12 days ago, closing (35) done 5 days ago,
    market expertise not started; A's due in 20 days — objections (40) done 5 days ago, qualification 40 days
    ago; B's superseded one was due 15 days ago.
    """
    brokerage = tenant.brokerage
    a = tenant.agent
    b = UserFactory(brokerage=brokerage, role=Role.AGENT, full_name="B")
    c = UserFactory(brokerage=brokerage, role=Role.AGENT, full_name="C")
    session(brokerage, a, started=20, baseline=50, current=62)
    session(brokerage, b, started=40, ended=10, baseline=70, current=66)
    session(brokerage, c, started=45, ended=35, baseline=40, current=80)

    first = talk(brokerage, a, 25, closing(60, 75))
    talk(brokerage, a, 15, closing(70, 50))
    talk(brokerage, a, 5, closing(80, None))
    talk(brokerage, b, 8, closing(65, 80))
    talk(brokerage, c, 3, closing(90, 90))
    talk(brokerage, a, 45, closing(50, 72))
    talk(brokerage, b, 50, closing(70, 40))
    talk(brokerage, c, 40, closing(40, 90))
    talk(brokerage, a, 2, scored(None))  # ended but not scored: not an analysed conversation

    for agent, stage, days_ago in [(a, "won", 3), (a, "won", 20), (a, "lost", 11), (b, "lost", 6), (c, "won", 1),
                                   (c, "won", 2), (c, "won", 3), (a, "won", 35), (a, "lost", 40), (a, "lost", 50),
                                   (b, "lost", 45)]:
        close_lead(brokerage, agent, stage, days_ago)

    alert(first, "no_next_step", days_ago=24, acknowledged=True)
    alert(first, "price_without_data", days_ago=24, acknowledged=True)
    alert(first, "weak_close", days_ago=20, acknowledged=False, real_time=False)
    alert(first, "old", days_ago=40, acknowledged=True)
    alert(talk(brokerage, b, 9, closing(None, None)), "no_next_step", days_ago=9, acknowledged=True)

    plan(brokerage, c, due_in_days=-10, items=[("lead_qual_beginner", 12), ("closing_beginner", 5),
                                               ("market_expertise_beginner", None)])
    plan(brokerage, a, due_in_days=20, items=[("objection_handling_beginner", 5), ("lead_qual_beginner", 40)])
    plan(brokerage, b, due_in_days=-15, status=TrainingPlan.Status.SUPERSEDED,
         items=[("closing_beginner", None), ("lead_qual_beginner", None)])

    # Another brokerage, busy in the same period: none of it may count.
    theirs = other_tenant.brokerage
    session(theirs, other_tenant.agent, started=10, baseline=20, current=90)
    for days_ago in (1, 2, 3, 4, 5):
        talk(theirs, other_tenant.agent, days_ago, closing(99, 99))
    close_lead(theirs, other_tenant.agent, "won", 2)
    alert(talk(theirs, other_tenant.agent, 6, closing(99, 99)), "x", days_ago=6, acknowledged=False)
    return tenant


def last_30_days(brokerage):
    end = timezone.now()
    return coaching_metrics(brokerage=brokerage, start=end - 30 * DAY, end=end)


def test_every_figure_is_computed_from_the_data(team):
    metrics = last_30_days(team.brokerage)

    assert metrics.conversations_analysed == 5  # A 3, B 1, C 1
    assert metrics.review_hours_saved == 2.5  # 5 × 30 min
    assert metrics.value_in_period == Decimal("500.00")  # 2.5 h × AED 200
    assert metrics.cost_in_period == Decimal("1972.60")  # AED 2,000 × 30 ÷ (365 ÷ 12)
    assert metrics.estimated_annual_value == Decimal("6083")  # 500 × 365 ÷ 30
    assert metrics.cost_per_coaching_session == Decimal("986.30")  # 1,972.60 ÷ 2 sessions
    assert metrics.roi_percentage == -74.7  # (500 − 1,972.60) ÷ 1,972.60
    assert metrics.training_minutes_completed == 120  # 45 + 35 (C) + 40 (A)
    assert metrics.training_time_reduction_percentage == 55.6  # 150 ÷ (150 + 120)

    assert metrics.coached_agents == 2
    assert metrics.total_coaching_sessions == 2
    assert metrics.average_session_duration_minutes == 43200.0  # B's 30 days
    assert metrics.average_quality_score_improvement == 4.0  # (12 − 4) ÷ 2
    assert metrics.agent_productivity_increase_percentage == 100.0  # next steps 2 against 1
    assert metrics.conversion_rate_improvement == 0.25  # 2 of 4 against 1 of 4
    assert metrics.performance_improvement_rate == 0.5  # A rose (70 from 50), B fell (65 from 70)

    assert metrics.total_coaching_alerts == 4
    assert metrics.total_real_time_interventions == 3
    assert metrics.coaching_adherence_rate == 0.75
    assert metrics.training_completion_rate == pytest.approx(1 / 3, abs=1e-4)  # C's plan: 1 of 3 on time
    assert metrics.agent_satisfaction_score is None
    assert "not measured" in metrics.formulas["agent_satisfaction_score"].lower()


def test_every_figure_has_a_formula_and_the_assumptions_are_the_settings(team):
    metrics = last_30_days(team.brokerage)

    figures = [name for name in metrics.to_dict() if name not in
               {"metric_id", "tenant_id", "measurement_period_start", "measurement_period_end", "formulas",
                "assumptions", "reasons", "coached_agents", "training_minutes_completed"}]
    assert set(figures) <= set(metrics.formulas)
    assert metrics.formulas == FORMULAS
    assert metrics.assumptions == {"coaching_review_minutes_per_conversation": 30,
                                   "coaching_reviewer_hourly_cost_aed": 200,
                                   "coaching_platform_monthly_cost_aed": 2000}

    settings_update(brokerage=team.brokerage, actor=team.owner, values={
        "coaching_review_minutes_per_conversation": 45, "coaching_reviewer_hourly_cost_aed": 300})
    changed = last_30_days(team.brokerage)
    assert changed.review_hours_saved == 3.75
    assert changed.value_in_period == Decimal("1125.00")
    assert changed.training_time_reduction_percentage == 65.2  # 225 ÷ (225 + 120)


def test_no_division_by_zero_only_none_with_a_reason(tenant):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"coaching_platform_monthly_cost_aed": 0})

    metrics = last_30_days(tenant.brokerage)

    for name in ("roi_percentage", "cost_per_coaching_session", "training_time_reduction_percentage",
                 "agent_productivity_increase_percentage", "conversion_rate_improvement",
                 "average_quality_score_improvement", "performance_improvement_rate", "coaching_adherence_rate",
                 "average_session_duration_minutes", "training_completion_rate"):
        assert getattr(metrics, name) is None, name
        assert metrics.reasons[name], name
    assert metrics.estimated_annual_value == Decimal(0)  # nothing analysed is worth nothing, measured
    assert (metrics.total_coaching_sessions, metrics.total_coaching_alerts) == (0, 0)


def test_another_brokerage_sees_only_its_own(team, other_tenant):
    theirs = last_30_days(other_tenant.brokerage)

    assert theirs.conversations_analysed == 6
    assert theirs.total_coaching_sessions == 1
    assert theirs.total_coaching_alerts == 1
    assert theirs.coaching_adherence_rate == 0.0
    assert theirs.average_quality_score_improvement == 70.0
    assert theirs.training_completion_rate is None


def test_the_period_must_be_a_real_one(tenant):
    now = timezone.now()
    with pytest.raises(ValidationError, match="end after it starts"):
        coaching_metrics(brokerage=tenant.brokerage, start=now, end=now)
    with pytest.raises(ValidationError, match="time zone"):
        coaching_metrics(brokerage=tenant.brokerage, start=dt.datetime(2026, 1, 1), end=dt.datetime(2026, 2, 1))
