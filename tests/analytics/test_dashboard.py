"""The owner dashboard, team performance, agent drill-down and coaching pages, and the analytics API: figures
from the rolled-up rows, changes against the previous period, who needs attention, empty states, bad filters."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from analytics.models import TeamPerformance
from brokerages.models import Role
from coaching.models import CoachingSession
from tests.factories import BrokerageFactory, UserFactory

TODAY = timezone.localdate()


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


def perf(tenant, agent, day, **figures):
    return TeamPerformance.objects.create(brokerage=tenant.brokerage, agent=agent, metric_date=day, **figures)


@pytest.fixture
def team(tenant):
    """Two agents over the last 60 days: Sara steady; Omar converting worse and slower this month."""
    sara = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Sara Steady")
    omar = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Slipping")
    for ago in (5, 40):  # one day in this period (last 30 days), one in the previous
        perf(tenant, sara, days_ago(ago), leads_generated=10, leads_converted=4, leads_lost=4,
             commission_earned=Decimal("20000"), leads_responded=10, response_time_minutes=10,
             satisfaction_ratings=4, client_satisfaction_score=Decimal("4.50"), conversations=4,
             conversation_quality=Decimal("75"))
    perf(tenant, omar, days_ago(40), leads_generated=10, leads_converted=6, leads_lost=4, leads_responded=10,
         response_time_minutes=12, conversations=4, conversation_quality=Decimal("80"))
    perf(tenant, omar, days_ago(5), leads_generated=6, leads_converted=1, leads_lost=7, leads_responded=10,
         response_time_minutes=90, conversations=4, conversation_quality=Decimal("60"))
    return sara, omar


def test_dashboard_shows_kpis_with_change_and_who_needs_attention(login, tenant, team):
    sara, omar = team
    response = login(tenant.owner).get(reverse("analytics:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    kpis = {kpi.name: kpi for kpi in response.context["data"].kpis}
    assert kpis["leads_generated"].value == 16 and kpis["leads_generated"].previous == 20
    assert kpis["conversion_rate"].value == pytest.approx(5 / 16)
    assert kpis["conversion_rate"].trend == "worse"
    assert kpis["response_time_minutes"].value == pytest.approx(50)  # (10×10 + 10×90) ÷ 20
    assert "−20%" in page  # leads generated 20 → 16
    attention = {item.agent: item.reasons for item in response.context["data"].attention}
    assert set(attention) == {omar, tenant.agent}  # the fixture's own agent did nothing in the period
    assert any(reason.startswith("Conversion down 48 points") for reason in attention[omar])
    assert any("quality down 20 points" in reason for reason in attention[omar])
    assert "Omar Slipping" in page and "Leads created in the period" in page  # the formula is on the page


def test_dashboard_narrows_to_one_agent_and_last_quarter(login, tenant, team):
    sara, _ = team
    client = login(tenant.owner)
    response = client.get(reverse("analytics:dashboard"), {"agent": sara.pk})
    kpis = {kpi.name: kpi for kpi in response.context["data"].kpis}
    assert kpis["leads_generated"].value == 10
    response = client.get(reverse("analytics:dashboard"), {"period": "last_quarter"}, HTTP_HX_REQUEST="true")
    period = response.context["period"]
    assert period.end < TODAY.replace(day=1) or period.end.month % 3 == 0
    assert period.start.day == 1 and (period.start.month - 1) % 3 == 0


def test_reversed_or_absurd_dates_say_what_to_fix(login, tenant, team):
    client = login(tenant.owner)
    response = client.get(reverse("analytics:dashboard"), {"start": "2026-05-01", "end": "2026-04-01"})
    assert response.status_code == 400
    assert "after it ends" in response.content.decode() and "swap the dates" in response.content.decode()
    response = client.get(reverse("analytics:dashboard"), {"start": "1900-01-01", "end": "1900-02-01"})
    assert response.status_code == 400 and "pick a later start" in response.content.decode()
    response = client.get(reverse("analytics:dashboard"), {"start": "not a date"})
    assert response.status_code == 400 and "Enter a valid date" in response.content.decode()


def test_empty_states_say_what_to_do_instead_of_showing_zeros(login, tenant):
    response = login(tenant.owner).get(reverse("analytics:dashboard"))
    page = response.content.decode()
    assert "Nothing recorded for" in page and reverse("nurturing:import") in page
    lone = BrokerageFactory(name="Solo Realty")
    owner = UserFactory(brokerage=lone, role=Role.BROKERAGE_OWNER)
    page = login(owner).get(reverse("analytics:dashboard")).content.decode()
    assert "No agents yet" in page and "Not enough data yet" in page


def test_team_table_sorts_and_exports(login, tenant, team):
    sara, omar = team
    client = login(tenant.owner)
    response = client.get(reverse("analytics:team"), {"sort": "conversion_rate", "dir": "desc"})
    names = [agent.display_name for agent, _ in response.context["rows"]]
    assert names[:2] == ["Sara Steady", "Omar Slipping"]
    assert names[-1] == tenant.agent.display_name  # no closed leads: no rate, last whichever the direction
    response = client.get(reverse("analytics:team"), {"sort": "conversion_rate", "dir": "asc"})
    assert [agent.display_name for agent, _ in response.context["rows"]][:2] == ["Omar Slipping", "Sara Steady"]
    response = client.get(reverse("analytics:team"), {"export": "agents"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("agent,email,Leads,Won")
    assert any(line.startswith("Sara Steady,") and ",10,4,4,0.5," in line for line in lines)


def test_agent_drill_down_compares_periods_and_notes_a_mid_period_hire(login, tenant, team):
    _, omar = team
    omar.hire_date = days_ago(10)
    omar.save()
    response = login(tenant.support).get(reverse("analytics:agent", args=[omar.pk]))
    assert response.status_code == 200
    figures = {name: (value, previous) for name, _, _, value, previous, _ in response.context["figures"]}
    assert figures["conversion_rate"] == (pytest.approx(1 / 8), pytest.approx(6 / 10))
    assert "during the period" in response.content.decode()


def test_coaching_page_compares_quality_before_and_after_a_session(login, tenant):
    agent = tenant.agent
    started = timezone.now() - dt.timedelta(days=15)
    CoachingSession.objects.create(brokerage=tenant.brokerage, agent=agent, started_by=tenant.owner,
                                   started_at=started)
    perf(tenant, agent, days_ago(20), conversations=2, conversation_quality=Decimal("50"))
    perf(tenant, agent, days_ago(5), conversations=3, conversation_quality=Decimal("70"))
    response = login(tenant.owner).get(reverse("analytics:coaching"))
    (effect,) = response.context["effect"].sessions
    assert (effect.before, effect.after, effect.change) == (50, 70, 20)
    assert "20.0" in response.content.decode()


def _api(client_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=client_user).key}")
    return client


def test_dashboard_api_carries_figures_formulas_and_reasons(tenant, team):
    response = _api(tenant.owner).get("/api/brokerage/dashboard", {"period": "last_30"})
    assert response.status_code == 200
    body = response.json()
    kpis = {kpi["name"]: kpi for kpi in body["kpis"]}
    assert kpis["leads_generated"]["value"] == 16 and kpis["leads_generated"]["change"] == pytest.approx(-20)
    assert Decimal(kpis["commission_earned"]["value"]) == Decimal("20000")
    assert kpis["conversion_rate"]["formula"].startswith("Leads won")
    assert {item["name"] for item in body["agents_needing_attention"]} >= {"Omar Slipping"}
    assert body["consistency"]["formula"] and "lead_retention" in body and "coaching" in body


def test_dashboard_api_refuses_a_bad_filter_with_the_field_to_fix(tenant):
    client = _api(tenant.owner)
    response = client.get("/api/brokerage/dashboard", {"start": "2026-05-01", "end": "2026-04-01"})
    assert response.status_code == 400
    assert "swap the dates" in response.json()["error"]["fields"]["period"][0]
    response = client.get("/api/brokerage/dashboard", {"period": "fortnight"})
    assert response.status_code == 400 and "period" in response.json()["error"]["fields"]


def test_team_performance_api_lists_every_agent_with_their_figures(tenant, team):
    response = _api(tenant.support).get("/api/brokerage/team/performance")
    assert response.status_code == 200
    agents = {agent["name"]: agent for agent in response.json()["agents"]}
    assert agents["Omar Slipping"]["leads_generated"] == 6
    assert agents["Omar Slipping"]["conversion_rate"] == pytest.approx(1 / 8)
    assert agents[tenant.agent.display_name]["conversion_rate"] is None
    assert _api(tenant.agent).get("/api/brokerage/team/performance").status_code == 403


def test_a_big_team_lists_the_agents_with_most_reasons_first_and_the_rest_in_the_csv(login, tenant, team):
    sara, omar = team
    idle = [UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name=f"Idle Agent {n:02d}",
                        hire_date=days_ago(400)) for n in range(12)]
    client = login(tenant.owner)
    page = client.get(reverse("analytics:dashboard")).content.decode()
    attention = page[page.index('id="attention"'):page.index('id="consistency"')]
    assert attention.count('class="reasons"') == 10
    assert attention.index("Omar Slipping") < attention.index("Idle Agent")  # two reasons before one
    assert "4 more agents crossed a threshold" in attention  # Omar, the fixture's agent, 12 idle: 14 flagged
    csv = client.get(reverse("analytics:dashboard"), {"export": "attention"}).content.decode()
    assert all(agent.full_name in csv for agent in idle) and "Omar Slipping" in csv


def test_the_agent_filter_lists_the_team_and_keeps_the_chosen_agent(login, tenant, team):
    sara, omar = team
    client = login(tenant.owner)
    page = client.get(reverse("analytics:dashboard")).content.decode()
    assert '<option value="" selected>All agents</option>' in page
    assert f'<option value="{sara.pk}">Sara Steady</option>' in page
    page = client.get(reverse("analytics:dashboard"), {"agent": omar.pk}).content.decode()
    assert f'<option value="{omar.pk}" selected>Omar Slipping</option>' in page
    assert '<option value="" selected>' not in page
