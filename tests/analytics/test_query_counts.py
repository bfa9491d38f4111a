"""The owner dashboard's query count does not grow with agents or rows (issue 6 target): the page and the API run
exactly as many queries for a brokerage of 12 agents × 60 days as for one of 2 agents × 10 days, for every
filter, and stay under a ceiling. Both brokerages have every kind of data (closed and open leads, lost reasons,
scored conversations, a coaching session and alerts), so no section is skipped for lack of rows in one of them."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import TeamPerformance
from analytics.services.rollup import brokerage_zone
from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, Conversation
from nurturing.models import Lead, Stage, StageChange, further_stage
from tests.factories import BrokerageFactory, UserFactory

# Measured 23–25 (page) and 22–24 (API) depending on the filter; the ceilings leave room for a query or two.
MAX_PAGE_QUERIES = 28
MAX_API_QUERIES = 27
DAY = dt.timedelta(days=1)


def _brokerage(name: str, agents: int, days: int):
    """A brokerage with `agents` agents and `days` days of history: rolled-up rows for every agent and day, and
    the records the dashboard reads directly (leads with their stage history, scored conversations, coaching)."""
    rng = random.Random(name)
    brokerage = BrokerageFactory(name=name)
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email=f"owner@{brokerage.slug}.test")
    today = timezone.localdate(timezone.now(), brokerage_zone(brokerage))
    now = timezone.now()
    members = [UserFactory(brokerage=brokerage, email=f"agent{n}@{brokerage.slug}.test",
                           hire_date=today - (days + 30) * DAY) for n in range(agents)]
    TeamPerformance.objects.bulk_create([
        TeamPerformance(brokerage=brokerage, agent=agent, metric_date=today - back * DAY,
                        leads_generated=rng.randint(0, 4), leads_converted=rng.randint(0, 2), leads_lost=rng.randint(0, 2),
                        properties_sold=1, commission_earned=Decimal("25000.00"), client_satisfaction_score=Decimal("4.50"),
                        satisfaction_ratings=2, response_time_minutes=rng.randint(2, 300), leads_responded=3,
                        conversations=2, conversation_quality=Decimal(rng.randint(50, 85)))
        for agent in members for back in range(days)])
    leads, changes = [], []
    for agent in members:
        for back in range(days):
            for stage in (Stage.WON, Stage.LOST, Stage.QUALIFIED, Stage.NEW):
                created = now - (back + rng.random()) * DAY
                lead = Lead(brokerage=brokerage, assigned_agent=agent, name="Layla Haddad", stage=stage,
                            source=rng.choice(("portal", "website", "referral")), created_at=created,
                            stage_changed_at=created + DAY / 2 if stage != Stage.NEW else created,
                            first_contacted_at=None if stage == Stage.NEW else created + dt.timedelta(minutes=9),
                            last_contacted_at=None if stage == Stage.NEW else created + dt.timedelta(minutes=9),
                            lost_reason="Moved abroad" if stage == Stage.LOST else "",
                            commission=Decimal("20000") if stage == Stage.WON else None,
                            furthest_stage=further_stage(Stage.NEW, stage))
                leads.append(lead)
                changes += [StageChange(brokerage=brokerage, lead=lead, from_stage="", to_stage=Stage.NEW,
                                        changed_at=created)]
                if stage != Stage.NEW:
                    changes.append(StageChange(brokerage=brokerage, lead=lead, from_stage=Stage.NEW, to_stage=stage,
                                               changed_at=lead.stage_changed_at))
    Lead.objects.bulk_create(leads)
    StageChange.objects.bulk_create(changes)
    conversations = Conversation.objects.bulk_create([
        Conversation(brokerage=brokerage, agent=agent, started_at=now - (back + 0.5) * DAY,
                     ended_at=now - (back + 0.49) * DAY, message_count=8, quality_score=rng.randint(40, 90),
                     analysis={"quality_scores_by_area": {"closing": rng.randint(40, 90)}})
        for agent in members for back in range(days)])
    CoachingSession.objects.create(brokerage=brokerage, agent=members[0], started_by=owner,
                                   started_at=now - days * DAY, baseline_quality_score=55, current_quality_score=64)
    CoachingAlert.objects.bulk_create([
        CoachingAlert(brokerage=brokerage, agent=conversation.agent, conversation=conversation, area="closing",
                      code="closing_no_next_step", title="No next step", text="Offer a viewing.", priority="MEDIUM",
                      created_at=conversation.ended_at)
        for conversation in conversations[::3]])
    return brokerage, owner, members


@pytest.fixture
def small(db):
    return _brokerage("Small Realty", agents=2, days=10)


@pytest.fixture
def large(db):
    return _brokerage("Large Realty", agents=12, days=60)


def _queries(user, url: str, params: dict, **headers) -> int:
    from django.test import Client

    client = Client()
    client.force_login(user)
    assert client.get(url, params, **headers).status_code == 200  # warm: session, first-request work
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params, **headers)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


FILTERS = [
    pytest.param({}, id="default"),
    pytest.param({"period": "last_90"}, id="last_90"),
    pytest.param({"period": "last_365"}, id="last_365"),
    pytest.param({"period": "custom", "start": "{ten_days_ago}", "end": "{yesterday}"}, id="custom"),
    pytest.param({"agent": "first"}, id="agent"),
]


def _params(params: dict, agents) -> dict:
    today = timezone.localdate()
    values = {"ten_days_ago": (today - 10 * DAY).isoformat(), "yesterday": (today - DAY).isoformat()}
    resolved = {key: value.format(**values) for key, value in params.items()}
    if resolved.get("agent") == "first":
        resolved["agent"] = str(agents[0].pk)
    return resolved


@pytest.mark.parametrize("params", FILTERS)
def test_the_dashboard_page_runs_as_many_queries_for_a_big_team_as_for_a_small_one(small, large, params):
    counts = []
    for _, owner, agents in (small, large):
        counts.append(_queries(owner, "/analytics/", _params(params, agents)))
        assert _queries(owner, "/analytics/", _params(params, agents), HTTP_HX_REQUEST="true") <= counts[-1]
    assert counts[0] == counts[1], counts
    assert counts[1] <= MAX_PAGE_QUERIES, counts


@pytest.mark.parametrize("params", FILTERS)
def test_the_dashboard_api_runs_as_many_queries_for_a_big_team_as_for_a_small_one(small, large, params):
    counts = [_queries(owner, "/api/brokerage/dashboard", _params(params, agents)) for _, owner, agents in (small, large)]
    assert counts[0] == counts[1], counts
    assert counts[1] <= MAX_API_QUERIES, counts
