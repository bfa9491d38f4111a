"""The nightly rollup: per agent and brokerage day, from leads and coached conversations; idempotent."""

import datetime as dt
import zoneinfo
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from analytics.models import TeamPerformance
from analytics.services.rollup import performance_rollup
from brokerages.models import Role
from coaching.models import Conversation
from nurturing.models import Lead
from tests.factories import UserFactory, make_conversation, make_lead

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")
DAY = dt.date(2026, 3, 10)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), DUBAI)


def lead(tenant, agent=None, **fields):
    made = make_lead(tenant.brokerage, agent=agent or tenant.agent)
    Lead.objects.filter(pk=made.pk).update(**fields)
    return made


def row(tenant, agent, day=DAY) -> TeamPerformance:
    return TeamPerformance.objects.get(brokerage=tenant.brokerage, agent=agent, metric_date=day)


def test_leads_count_on_the_brokerages_day_not_utcs(tenant):
    lead(tenant, created_at=at(DAY, 0, 30))  # 20:30 UTC the day before
    lead(tenant, created_at=at(DAY, 23, 30))
    lead(tenant, created_at=at(DAY + dt.timedelta(days=1), 0, 10))
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY + dt.timedelta(days=1))
    assert row(tenant, tenant.agent).leads_generated == 2
    assert row(tenant, tenant.agent, DAY + dt.timedelta(days=1)).leads_generated == 1


def test_closings_count_on_the_day_they_closed_with_commission_and_satisfaction(tenant):
    lead(tenant, created_at=at(DAY, 9), stage="won", stage_changed_at=at(DAY, 15), commission=Decimal("12500.50"),
         sale_price=Decimal("1250000"), satisfaction_score=5)
    lead(tenant, created_at=at(DAY, 9), stage="won", stage_changed_at=at(DAY, 16), commission=Decimal("4000"),
         satisfaction_score=4)
    lead(tenant, created_at=at(DAY, 9), stage="lost", stage_changed_at=at(DAY, 17), lost_reason="Budget")
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    day = row(tenant, tenant.agent)
    assert (day.leads_generated, day.leads_converted, day.leads_lost, day.properties_sold) == (3, 2, 1, 1)
    assert day.commission_earned == Decimal("16500.50")
    assert (day.client_satisfaction_score, day.satisfaction_ratings) == (Decimal("4.50"), 2)


def test_response_time_is_the_mean_over_leads_first_contacted_that_day(tenant):
    lead(tenant, created_at=at(DAY, 9), first_contacted_at=at(DAY, 9, 4))
    lead(tenant, created_at=at(DAY - dt.timedelta(days=1), 22), first_contacted_at=at(DAY, 8))  # 10 h = 600 min
    lead(tenant, created_at=at(DAY, 10))  # never contacted: no response time yet
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    day = row(tenant, tenant.agent)
    assert (day.response_time_minutes, day.leads_responded) == (302, 2)


def test_conversation_quality_is_the_mean_of_conversations_that_ended_that_day(tenant):
    for quality in (60.0, 80.0):
        conversation = make_conversation(tenant.brokerage, tenant.agent, [("lead", "Hi"), ("agent", "Hello")])
        Conversation.objects.filter(pk=conversation.pk).update(started_at=at(DAY, 10), ended_at=at(DAY, 11),
                                                               quality_score=quality)
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    day = row(tenant, tenant.agent)
    assert (day.conversations, day.conversation_quality) == (2, Decimal("70.00"))


def test_each_agent_gets_their_own_row_and_unassigned_leads_count_for_nobody(tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    lead(tenant, created_at=at(DAY, 9))
    lead(tenant, agent=colleague, created_at=at(DAY, 9))
    made = make_lead(tenant.brokerage)
    Lead.objects.filter(pk=made.pk).update(created_at=at(DAY, 9), assigned_agent=None)
    result = performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    assert result.rows == 2
    assert row(tenant, colleague).leads_generated == 1


def test_rerunning_rewrites_the_range_and_leaves_other_days_alone(tenant, other_tenant):
    lead(tenant, created_at=at(DAY, 9))
    outside = TeamPerformance.objects.create(brokerage=tenant.brokerage, agent=tenant.agent,
                                             metric_date=DAY - dt.timedelta(days=5), leads_generated=7)
    elsewhere = TeamPerformance.objects.create(brokerage=other_tenant.brokerage, agent=other_tenant.agent,
                                               metric_date=DAY, leads_generated=3)
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    assert TeamPerformance.objects.filter(brokerage=tenant.brokerage, metric_date=DAY).count() == 1
    Lead.objects.filter(brokerage=tenant.brokerage).delete()
    performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY)
    assert not TeamPerformance.objects.filter(brokerage=tenant.brokerage, metric_date=DAY).exists()
    outside.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (outside.leads_generated, elsewhere.leads_generated) == (7, 3)


def test_a_reversed_range_is_refused_with_what_to_do(tenant):
    with pytest.raises(ValidationError, match="swap the dates"):
        performance_rollup(brokerage=tenant.brokerage, since=DAY, until=DAY - dt.timedelta(days=1))


def test_the_command_rolls_up_a_range_and_explains_bad_input(tenant):
    lead(tenant, created_at=at(DAY, 9))
    out = StringIO()
    call_command("rollup_performance", "--brokerage", tenant.brokerage.slug, "--since", str(DAY), "--until",
                 str(DAY), stdout=out)
    assert "1 agent-day rows" in out.getvalue()
    assert row(tenant, tenant.agent).leads_generated == 1
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("rollup_performance", "--brokerage", tenant.brokerage.slug, "--since", "10/03/2026")
    with pytest.raises(CommandError, match="No brokerage"):
        call_command("rollup_performance", "--brokerage", "nope", "--since", str(DAY))
    with pytest.raises(CommandError, match="swap the dates"):
        call_command("rollup_performance", "--brokerage", tenant.brokerage.slug, "--since", str(DAY), "--until",
                     str(DAY - dt.timedelta(days=3)))
