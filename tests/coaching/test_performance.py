"""Agent performance profiles: every figure computed from conversations, leads, sessions, alerts and plans, on a
small hand-computed fixture; caching and invalidation; the team overview; tenant separation."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from brokerages.models import Role
from coaching.analysis.types import AREAS, Analysis
from coaching.models import (CoachingAlert, CoachingSession, PerformanceSnapshot, TrainingModule, TrainingPlan,
                             TrainingPlanItem)
from coaching.selectors.performance import (SNAPSHOT_MAX_AGE, AgentPerformance, agent_performance, level_for,
                                            performance_invalidate, team_performance_overview)
from nurturing.models import Lead
from tests.factories import UserFactory, make_conversation, make_lead

LINES = [("agent", "Hello, thanks for calling."), ("lead", "Hi, I'm looking at apartments.")]


def scored(quality, areas=(), expertise=None) -> Analysis:
    """An analysis with explicit scores; `areas` are the five area scores in AREAS order (None: no occasion)."""
    by_area = dict(zip(AREAS, areas, strict=True)) if areas else dict.fromkeys(AREAS)
    return Analysis(overall_quality_score=quality, quality_scores_by_area=by_area, expertise_scores=expertise or {},
                    talk_ratio=0.5, questions_asked=2, final=True)


def talk(brokerage, agent, days_ago: float, analysis: Analysis, **kwargs):
    return make_conversation(brokerage, agent, LINES, analysis=analysis,
                             started_at=timezone.now() - dt.timedelta(days=days_ago), **kwargs)


def close_lead(brokerage, agent, stage: str, days_ago: float) -> Lead:
    lead = make_lead(brokerage, agent=agent)
    Lead.objects.filter(pk=lead.pk).update(stage=stage,
                                           stage_changed_at=timezone.now() - dt.timedelta(days=days_ago))
    return lead


@pytest.fixture
def peer(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Saeed")


@pytest.fixture
def history(tenant, other_tenant, peer):
    """The agent's month (areas: lead qualification, presentation, objections, closing, market expertise):

    days ago  quality  areas                 expertise
    20        50       40  -   50  55  70    pricing 40, communities 60
    15        55       50  80  -   72  80    pricing 50
    10        60       60  90  75  -   -
    5         75       70  85  40  80  90
    → means 55, 85, 55, 69, 80; quality 60; objections handled 1 of 3; next steps 2 of 3.
    The peer: quality 80 (80 70 85 60 60) and 70 (70 and nothing else) → 75; areas 75, 70, 85, 60, 60.
    """
    brokerage, agent = tenant.brokerage, tenant.agent
    talk(brokerage, agent, 20, scored(50, (40, None, 50, 55, 70), {"pricing": 40, "communities": 60}))
    talk(brokerage, agent, 15, scored(55, (50, 80, None, 72, 80), {"pricing": 50}))
    talk(brokerage, agent, 10, scored(60, (60, 90, 75, None, None)))
    last = talk(brokerage, agent, 5, scored(75, (70, 85, 40, 80, 90)))
    # Outside the window, still open, or another brokerage's: none of these count.
    talk(brokerage, agent, 45, scored(10, (10, 10, 10, 10, 10)))
    make_conversation(brokerage, agent, LINES, ended=False)
    talk(other_tenant.brokerage, other_tenant.agent, 3, scored(5, (5, 5, 5, 5, 5)))
    talk(brokerage, peer, 12, scored(80, (80, 70, 85, 60, 60)))
    talk(brokerage, peer, 8, scored(70, (70, None, None, None, None)))

    # Leads: won 2 and lost 1 in the window; one won 40 days ago; one still open. The peer lost one.
    close_lead(brokerage, agent, "won", 3)
    close_lead(brokerage, agent, "won", 12)
    close_lead(brokerage, agent, "lost", 20)
    close_lead(brokerage, agent, "won", 40)
    make_lead(brokerage, agent=agent, stage="viewing")
    close_lead(brokerage, peer, "lost", 4)
    close_lead(other_tenant.brokerage, other_tenant.agent, "won", 2)

    # Coaching: one session completed 3 days ago, one 50 days ago; 4 alerts in the window, 3 acknowledged.
    now = timezone.now()
    CoachingSession.objects.create(brokerage=brokerage, agent=agent, status=CoachingSession.Status.COMPLETED,
                                   started_at=now - dt.timedelta(days=9), ended_at=now - dt.timedelta(days=3))
    CoachingSession.objects.create(brokerage=brokerage, agent=agent, status=CoachingSession.Status.COMPLETED,
                                   started_at=now - dt.timedelta(days=60), ended_at=now - dt.timedelta(days=50))
    for number in range(4):
        CoachingAlert.objects.create(
            brokerage=brokerage, agent=agent, conversation=last, area="objection_handling", code=f"code_{number}",
            title="Use data", text="Answer the price objection with comparables.", priority="HIGH",
            created_at=now - dt.timedelta(days=4), acknowledged_at=now if number < 3 else None)

    # Training: one module completed 2 days ago, one in progress.
    plan = TrainingPlan.objects.create(brokerage=brokerage, agent=agent, target_completion_date=now.date(),
                                       target_quality_score=70, target_conversion_rate=0.5,
                                       target_expertise_level="intermediate")
    TrainingPlanItem.objects.create(brokerage=brokerage, plan=plan, position=1, status="completed",
                                    module=TrainingModule.objects.get(key="objection_handling_beginner"),
                                    started_at=now - dt.timedelta(days=3), completed_at=now - dt.timedelta(days=2))
    TrainingPlanItem.objects.create(brokerage=brokerage, plan=plan, position=2, status="in_progress",
                                    module=TrainingModule.objects.get(key="lead_qual_beginner"),
                                    started_at=now - dt.timedelta(days=1))
    return tenant


def test_profile_is_computed_from_the_agents_data(history):
    profile = agent_performance(brokerage=history.brokerage, agent=history.agent, days_lookback=30)

    assert profile.total_conversations == 4
    assert profile.overall_quality_score == profile.average_quality_score == 60.0
    assert profile.quality_scores_by_area == {"lead_qualification": 55.0, "property_presentation": 85.0,
                                              "objection_handling": 55.0, "closing": 69.0, "market_expertise": 80.0}
    assert profile.expertise_scores_by_area == {"communities": 60.0, "pricing": 45.0}
    assert profile.overall_expertise_level == "intermediate"  # mean 52.5
    assert profile.objection_resolution_rate == pytest.approx(1 / 3, abs=1e-4)
    assert profile.appointment_scheduling_rate == pytest.approx(2 / 3, abs=1e-4)
    assert profile.conversion_rate == pytest.approx(2 / 3, abs=1e-4)
    assert profile.team_conversion_rate == 0.5  # 2 won of 4 closed, the peer's lost lead included

    assert profile.strengths == ["property_presentation", "market_expertise"]
    assert profile.weaknesses == ["lead_qualification", "objection_handling"]
    assert profile.improvement_areas == ["closing"]
    # Team means: 65, 77.5, 70, 64.5, 70 → targets 70 (lq), 70 (oh), 70 (closing: above the team's 64.5).
    assert profile.skill_gaps == ["lead_qualification", "objection_handling", "closing"]
    assert [(gap.score, gap.target, gap.gap) for gap in profile.skill_gap_details] == [
        (55.0, 70.0, 15.0), (55.0, 70.0, 15.0), (69.0, 70.0, 1.0)]
    assert profile.team_quality_scores_by_area["property_presentation"] == 77.5

    assert profile.coaching_sessions_completed == 1
    assert profile.training_modules_completed == 1
    assert profile.coaching_adherence_rate == 0.75
    assert profile.peer_percentile == 0.0  # the one peer (75) is above
    assert profile.team_average_delta == -7.5  # 60 − (60 + 75) / 2
    # Least squares over (0, 50), (5, 55), (10, 60), (15, 75): slope 1.6 a day, a 24-point rise.
    assert profile.performance_trend == "improving"
    assert profile.quality_trend_points == 24.0
    assert [point["score"] for point in profile.quality_series] == [50.0, 55.0, 60.0, 75.0]


def test_the_peer_sees_the_same_team_from_the_other_side(history, peer):
    profile = agent_performance(brokerage=history.brokerage, agent=peer)

    assert profile.overall_quality_score == 75.0
    assert profile.peer_percentile == 100.0
    assert profile.team_average_delta == 7.5
    assert profile.conversion_rate == 0.0
    assert profile.performance_trend == "stable"  # two conversations are too few for a trend
    assert profile.coaching_adherence_rate is None  # no alerts: no rate, not 0 or 100 %
    # Presentation 70 meets the target but not the team's 77.5: a gap all the same, smaller than the others.
    assert [(gap.area, gap.target, gap.gap) for gap in profile.skill_gap_details] == [
        ("closing", 70.0, 10.0), ("market_expertise", 70.0, 10.0), ("property_presentation", 77.5, 7.5)]


def test_another_brokerage_never_counts(history, other_tenant):
    theirs = agent_performance(brokerage=other_tenant.brokerage, agent=other_tenant.agent)

    assert theirs.total_conversations == 1
    assert theirs.overall_quality_score == 5.0
    assert theirs.peer_percentile is None and theirs.team_average_delta is None
    assert theirs.team_quality_scores_by_area["objection_handling"] == 5.0
    assert theirs.conversion_rate == 1.0
    with pytest.raises(ValueError, match="not a member"):
        agent_performance(brokerage=history.brokerage, agent=other_tenant.agent)


@pytest.mark.parametrize(("scores", "trend"), [
    ((80, 70, 62, 55), "declining"),
    ((60, 62, 59, 61), "stable"),
    ((40, 45, 55, 70), "improving"),
])
def test_trend_follows_the_slope_of_quality_over_time(tenant, scores, trend):
    for days_ago, quality in zip((20, 15, 10, 5), scores, strict=True):
        talk(tenant.brokerage, tenant.agent, days_ago, scored(quality))

    assert agent_performance(brokerage=tenant.brokerage, agent=tenant.agent).performance_trend == trend


def test_a_new_agent_has_no_figures_rather_than_zeros(tenant):
    profile = agent_performance(brokerage=tenant.brokerage, agent=tenant.agent, days_lookback=7)

    assert profile.total_conversations == 0
    assert profile.overall_quality_score is None and profile.overall_expertise_level is None
    assert profile.conversion_rate is None and profile.objection_resolution_rate is None
    assert profile.quality_scores_by_area == dict.fromkeys(AREAS)
    assert profile.strengths == profile.weaknesses == profile.skill_gaps == []
    assert profile.performance_trend == "stable"


def test_the_window_is_the_days_asked_for(history):
    week = agent_performance(brokerage=history.brokerage, agent=history.agent, days_lookback=7)
    assert week.total_conversations == 1  # only the one 5 days ago
    assert week.overall_quality_score == 75.0
    with pytest.raises(ValidationError, match="from 1 to 365"):
        agent_performance(brokerage=history.brokerage, agent=history.agent, days_lookback=0)


def test_second_read_comes_from_the_snapshot_until_invalidated(history, django_assert_num_queries):
    brokerage, agent = history.brokerage, history.agent
    first = agent_performance(brokerage=brokerage, agent=agent)
    assert PerformanceSnapshot.objects.filter(agent=agent, days_lookback=30).count() == 1

    with django_assert_num_queries(1):
        again = agent_performance(brokerage=brokerage, agent=agent)
    assert again == first

    talk(brokerage, agent, 1, scored(95, (95, 95, 95, 95, 95)))
    assert agent_performance(brokerage=brokerage, agent=agent).total_conversations == 4  # still the snapshot

    performance_invalidate(agent=agent)
    fresh = agent_performance(brokerage=brokerage, agent=agent)
    assert fresh.total_conversations == 5
    assert fresh.overall_quality_score == 67.0  # (50 + 55 + 60 + 75 + 95) / 5


def test_a_snapshot_expires_because_the_window_moves(history):
    brokerage, agent = history.brokerage, history.agent
    agent_performance(brokerage=brokerage, agent=agent)
    PerformanceSnapshot.objects.filter(agent=agent).update(
        computed_at=timezone.now() - SNAPSHOT_MAX_AGE - dt.timedelta(seconds=1))
    talk(brokerage, agent, 1, scored(95))

    assert agent_performance(brokerage=brokerage, agent=agent).total_conversations == 5


def test_profiles_round_trip_through_json(history):
    profile = agent_performance(brokerage=history.brokerage, agent=history.agent)
    assert AgentPerformance.from_dict(profile.to_dict()) == profile


def test_team_overview_has_one_row_per_agent_weakest_first(history, peer):
    newcomer = UserFactory(brokerage=history.brokerage, role=Role.AGENT, full_name="Aisha Khan")
    talk(history.brokerage, history.owner, 2, scored(90))  # an owner who sells is in the overview too

    rows = team_performance_overview(brokerage=history.brokerage, days_lookback=30)

    assert [row.agent for row in rows] == [history.agent, peer, history.owner, newcomer]
    assert [row.performance.overall_quality_score for row in rows] == [60.0, 75.0, 90.0, None]
    assert rows[0].performance.peer_percentile == 0.0  # peers: the peer and the owner
    assert history.support not in [row.agent for row in rows]
    # Stored for every row: the agent's own read is now a snapshot hit.
    assert PerformanceSnapshot.objects.filter(brokerage=history.brokerage).count() == 4


@pytest.mark.parametrize(("score", "level"), [(0, "beginner"), (44.9, "beginner"), (45, "intermediate"),
                                              (64.9, "intermediate"), (65, "advanced"), (85, "expert")])
def test_skill_level_thresholds(score, level):
    assert level_for(score) == level
