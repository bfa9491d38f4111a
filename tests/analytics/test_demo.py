"""The analytics demo: a year of history whose stories (an improving agent, a slipping one, a leakage spike) show
in the rolled-up figures the pages read, rows that agree with each other, and a seed that runs once."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics import demo
from analytics.models import TeamPerformance
from analytics.period import Period
from analytics.selectors.dashboard import dashboard
from analytics.selectors.retention import retention_metrics
from analytics.selectors.team import team_totals
from analytics.services.rollup import brokerage_zone
from brokerages.demo import SeedResult
from brokerages.models import PerformanceTier, Role
from coaching.models import CoachingSession, Conversation, Message, TrainingPlan
from nurturing.models import Direction, Interaction, Lead, LeadUserObjectPermission, Stage, StageChange
from tests.factories import BrokerageFactory, UserFactory

QUARTER = 91


def _today(brokerage) -> dt.date:
    return timezone.localdate(timezone.now(), brokerage_zone(brokerage))


def _first_and_last_quarter(brokerage, agent):
    """The agent's rolled-up totals over the first and the last 91 days of the demo year."""
    zone, today = brokerage_zone(brokerage), _today(brokerage)
    first = today - dt.timedelta(days=demo.DAYS - 1)
    return (team_totals(brokerage, Period(first, first + dt.timedelta(days=QUARTER - 1), zone), agent.pk),
            team_totals(brokerage, Period(today - dt.timedelta(days=QUARTER - 1), today, zone), agent.pk))


def _months(brokerage) -> list[Period]:
    """The whole calendar months of the demo year (the current, unfinished one left out)."""
    zone, today = brokerage_zone(brokerage), _today(brokerage)
    periods = []
    for back in range(1, 12):
        start = demo._month_start(today, back)
        periods.append(Period(start, demo._month_start(today, back - 1) - dt.timedelta(days=1), zone))
    return periods


@pytest.fixture
def palm_crest(db):
    """A small Palm Crest: the two story agents, three others (one hired six weeks ago) and the owner."""
    brokerage = BrokerageFactory(name="Palm Crest Realty", slug=demo.HISTORY_SLUG)
    today = timezone.localdate()
    UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@palmcrest.ae")
    people = [(demo.IMPROVING, PerformanceTier.DEVELOPING, 1200), (demo.SLIPPING, PerformanceTier.TOP_PRODUCER, 1000),
              ("omar@palmcrest.ae", PerformanceTier.STANDARD, 2000),
              ("anastasia@palmcrest.ae", PerformanceTier.HIGH_PERFORMER, 500),
              ("james@palmcrest.ae", PerformanceTier.HIGH_PERFORMER, 42)]
    agents = {email: UserFactory(brokerage=brokerage, email=email, full_name=email.split("@")[0].title(),
                                 performance_tier=tier, hire_date=today - dt.timedelta(days=days))
              for email, tier, days in people}
    return brokerage, agents


def _snapshot(brokerage) -> dict:
    leads = Lead.objects.filter(brokerage=brokerage, external_id__startswith=demo.PREFIX)
    return {
        "leads": sorted(leads.values_list("external_id", "name", "assigned_agent_id", "stage", "created_at",
                                          "first_contacted_at", "commission")),
        "changes": StageChange.objects.filter(lead__in=leads).count(),
        "touches": Interaction.objects.filter(lead__in=leads).count(),
        "conversations": sorted(Conversation.objects.filter(brokerage=brokerage, external_id__startswith=demo.PREFIX)
                                .values_list("external_id", "quality_score", "message_count")),
        "rows": sorted(TeamPerformance.objects.filter(brokerage=brokerage).values_list(
            "agent_id", "metric_date", "leads_generated", "leads_converted", "response_time_minutes",
            "conversation_quality")),
    }


def test_the_history_rows_agree_with_each_other(palm_crest):
    brokerage, agents = palm_crest
    result = SeedResult()
    demo.seed(result)
    now = timezone.now()

    leads = list(Lead.objects.filter(brokerage=brokerage, external_id__startswith=demo.PREFIX)
                 .select_related("assigned_agent").prefetch_related("stage_changes", "interactions"))
    assert len(leads) > 1000
    assert {lead.source for lead in leads} >= {"website", "portal", "referral", "social"}
    assert "history leads" in result.created[0]
    held = set(LeadUserObjectPermission.objects.filter(content_object__in=leads, permission__codename="work_lead")
               .values_list("content_object_id", "user_id"))
    assert held == {(lead.pk, lead.assigned_agent_id) for lead in leads}
    for lead in leads:
        assert lead.created_at.date() >= lead.assigned_agent.hire_date - dt.timedelta(days=1)
        changes = sorted(lead.stage_changes.all(), key=lambda change: change.changed_at)
        assert (changes[0].from_stage, changes[0].to_stage, changes[0].changed_at) == ("", Stage.NEW, lead.created_at)
        assert changes[-1].to_stage == lead.stage and changes[-1].changed_at == lead.stage_changed_at <= now
        assert all(a.to_stage == b.from_stage for a, b in zip(changes, changes[1:], strict=False))
        touches = sorted(lead.interactions.all(), key=lambda touch: touch.occurred_at)
        outbound = [touch.occurred_at for touch in touches if touch.direction == Direction.OUTBOUND]
        assert lead.first_contacted_at == (outbound[0] if outbound else None)
        assert lead.last_contacted_at == (touches[-1].occurred_at if touches else None)
        assert all(touch.occurred_at <= now for touch in touches)
        if lead.stage == Stage.WON:
            assert lead.sale_price and lead.commission == (lead.sale_price * demo.COMMISSION_RATE).quantize(
                lead.commission) and 1 <= lead.satisfaction_score <= 5
        else:
            assert lead.sale_price is None and lead.commission is None and lead.satisfaction_score is None
        assert bool(lead.lost_reason) == (lead.stage == Stage.LOST)
    newcomer = agents["james@palmcrest.ae"]
    assert min(lead.created_at for lead in leads if lead.assigned_agent == newcomer).date() >= newcomer.hire_date

    conversations = Conversation.objects.filter(brokerage=brokerage, external_id__startswith=demo.PREFIX)
    assert conversations.count() > 300
    for conversation in conversations.exclude(lead=None)[:200]:
        assert conversation.ended_at <= now and 0 <= conversation.quality_score <= 100
        assert Message.objects.filter(conversation=conversation).count() == conversation.message_count > 0
        assert conversation.lead.assigned_agent_id == conversation.agent_id
        assert conversation.lead.interactions.filter(occurred_at=conversation.started_at,
                                                     summary__startswith="Coached").exists()

    session = CoachingSession.objects.get(brokerage=brokerage, agent=agents[demo.IMPROVING])
    assert session.status == CoachingSession.Status.COMPLETED and session.conversations_monitored > 0
    assert session.current_quality_score > session.baseline_quality_score
    assert session.conversations.count() == session.conversations_monitored
    plan = TrainingPlan.objects.get(brokerage=brokerage, agent=agents[demo.IMPROVING])
    assert plan.status == "completed" and plan.items.filter(status="completed").count() == plan.items.count() > 0

    rows = TeamPerformance.objects.filter(brokerage=brokerage)
    today = _today(brokerage)
    assert min(rows.values_list("metric_date", flat=True)) >= today - dt.timedelta(days=demo.DAYS - 1)
    zone = brokerage_zone(brokerage)
    year = Period(today - dt.timedelta(days=demo.DAYS - 1), today, zone)
    start, _ = year.bounds()
    assert team_totals(brokerage, year).leads_generated == sum(lead.created_at >= start for lead in leads)


def test_seeding_again_changes_nothing_and_the_year_is_the_same_every_time(palm_crest, monkeypatch):
    brokerage, agents = palm_crest
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)  # the same year, to the second, for both seeds
    demo.seed(SeedResult())
    first = _snapshot(brokerage)

    again = SeedResult()
    demo.seed(again)
    assert again.created == [] and _snapshot(brokerage) == first

    # Remove the history and seed afresh: the same year comes back, row for row.
    Lead.objects.filter(brokerage=brokerage, external_id__startswith=demo.PREFIX).delete()
    Conversation.objects.filter(brokerage=brokerage).delete()
    CoachingSession.objects.filter(brokerage=brokerage).delete()
    TrainingPlan.objects.filter(brokerage=brokerage).delete()
    TeamPerformance.objects.filter(brokerage=brokerage).delete()
    demo.seed(SeedResult())
    assert _snapshot(brokerage) == first


def test_the_demo_year_tells_its_three_stories(db):
    call_command("seed_demo", stdout=StringIO())
    before = TeamPerformance.objects.count(), Lead.objects.count(), Conversation.objects.count()
    output = StringIO()
    call_command("seed_demo", stdout=output)
    assert (TeamPerformance.objects.count(), Lead.objects.count(), Conversation.objects.count()) == before
    assert "nothing changed" in output.getvalue()

    brokerage = Lead.objects.filter(external_id__startswith=demo.PREFIX).first().brokerage
    assert brokerage.slug == "palm-crest"
    assert TeamPerformance.objects.filter(brokerage__slug="marina-heights").exists()
    assert_stories(brokerage)


def assert_stories(brokerage) -> None:
    """The three stories, as the pages' selectors see the demo year."""
    karim = brokerage.members.get(email=demo.IMPROVING)
    ahmed = brokerage.members.get(email=demo.SLIPPING)

    # Improving: coached mid-year, his conversations and his conversion are better in the last quarter.
    first, last = _first_and_last_quarter(brokerage, karim)
    assert last.conversation_quality >= first.conversation_quality + 10
    assert last.conversion_rate >= first.conversion_rate + 0.15
    assert last.response_time_minutes < first.response_time_minutes

    # Slipping: a top producer answering more and more slowly and winning less.
    first, last = _first_and_last_quarter(brokerage, ahmed)
    assert last.response_time_minutes >= 2 * first.response_time_minutes
    assert last.conversion_rate <= first.conversion_rate - 0.2
    zone, today = brokerage_zone(brokerage), _today(brokerage)
    recent = dashboard(brokerage=brokerage, period=Period(today - dt.timedelta(days=89), today, zone))
    flagged = {item.agent: item.reasons for item in recent.attention}
    assert any(reason.startswith("Conversion down") for reason in flagged[ahmed])
    assert karim not in flagged or not any(reason.startswith("Conversion down") for reason in flagged[karim])

    # Leakage spike: one month's cohort has far more leads never reached, or left to go quiet, than any other.
    leak_start = demo._month_start(today, demo.LEAK_MONTHS_AGO)
    figures = {period.start: retention_metrics(brokerage=brokerage, period=period).totals for period in _months(brokerage)}
    spike = figures.pop(leak_start)
    assert spike.leads - spike.contacted >= 3 * max(other.leads - other.contacted for other in figures.values())
    assert spike.leaking >= 2 * max(other.leaking for other in figures.values())
    assert spike.leakage_rate > max(other.leakage_rate for other in figures.values())
