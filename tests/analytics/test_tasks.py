"""Analytics' periodic tasks: the nightly rollup per brokerage and the weekly report e-mail to owners."""

import datetime as dt
import smtplib
from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from analytics import tasks
from analytics.models import TeamPerformance
from analytics.reports import report_weekly_send
from analytics.services.rollup import brokerage_zone
from brokerages.models import AuditLog, BrokerageSetting, Notification, Role
from nurturing.models import Lead
from tests.factories import UserFactory, make_lead

MONDAY = dt.date(2026, 3, 16)


def today(tenant) -> dt.date:
    return timezone.now().astimezone(brokerage_zone(tenant.brokerage)).date()


# --- rollup ------------------------------------------------------------------------------------------------

def test_rollup_task_writes_the_rows_of_the_last_days_and_leaves_older_ones(tenant):
    now = timezone.now()
    make_lead(tenant.brokerage, agent=tenant.agent)
    old = make_lead(tenant.brokerage, agent=tenant.agent)
    Lead.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=10))
    won = make_lead(tenant.brokerage, agent=tenant.agent)
    Lead.objects.filter(pk=won.pk).update(created_at=now - dt.timedelta(days=2), stage="won",
                                          stage_changed_at=now - dt.timedelta(days=2), commission=Decimal("5000"))

    assert tasks.rollup_brokerage(brokerage_id=tenant.brokerage.pk) == 2
    rows = {row.metric_date: row for row in TeamPerformance.objects.filter(brokerage=tenant.brokerage)}
    two_days_ago = (now - dt.timedelta(days=2)).astimezone(brokerage_zone(tenant.brokerage)).date()
    assert rows[today(tenant)].leads_generated == 1
    assert (rows[two_days_ago].leads_converted, rows[two_days_ago].commission_earned) == (1, Decimal("5000.00"))
    assert all(date >= today(tenant) - dt.timedelta(days=3) for date in rows)  # the 10-day-old lead: untouched

    assert tasks.rollup_brokerage(brokerage_id=tenant.brokerage.pk) == 2  # idempotent
    assert TeamPerformance.objects.filter(brokerage=tenant.brokerage).count() == 2


def test_rollup_of_a_brokerage_that_is_gone_does_nothing(db):
    assert tasks.rollup_brokerage(brokerage_id=987654) is None


def test_nightly_and_weekly_tasks_fan_out_one_task_per_brokerage(tenant, other_tenant, monkeypatch):
    queued = {"rollup": [], "weekly": []}
    monkeypatch.setattr(tasks.rollup_brokerage, "delay_on_commit", lambda **kwargs: queued["rollup"].append(kwargs))
    monkeypatch.setattr(tasks.weekly_report_send, "delay_on_commit",
                        lambda **kwargs: queued["weekly"].append(kwargs))
    tasks.rollup_all_brokerages()
    tasks.weekly_report_all()
    expected = sorted([{"brokerage_id": tenant.brokerage.pk}, {"brokerage_id": other_tenant.brokerage.pk}],
                      key=lambda kwargs: kwargs["brokerage_id"])
    assert queued == {"rollup": expected, "weekly": expected}


def test_beat_runs_the_rollup_nightly_and_the_report_weekly():
    from config.celery import app

    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule["analytics.tasks.rollup_all_brokerages"].hour == {2}
    weekly = schedule["analytics.tasks.weekly_report_all"]
    assert weekly.day_of_week == {1} and weekly.hour == {7}


# --- weekly report -----------------------------------------------------------------------------------------

@pytest.fixture
def week_of_data(tenant):
    TeamPerformance.objects.create(brokerage=tenant.brokerage, agent=tenant.agent, metric_date=dt.date(2026, 3, 12),
                                   leads_generated=7, leads_converted=2, leads_lost=2,
                                   commission_earned=Decimal("8000"))
    return tenant


def test_weekly_report_goes_to_each_active_owner_with_the_pdf(week_of_data):
    tenant = week_of_data
    second = UserFactory(brokerage=tenant.brokerage, role=Role.BROKERAGE_OWNER, email="second@owner.test")
    UserFactory(brokerage=tenant.brokerage, role=Role.BROKERAGE_OWNER, email="left@owner.test", is_active=False)
    result = report_weekly_send(brokerage=tenant.brokerage, today=MONDAY)

    assert (result.period.start, result.period.end) == (dt.date(2026, 3, 9), dt.date(2026, 3, 15))
    assert sorted(message.to[0] for message in mail.outbox) == sorted([tenant.owner.email, second.email])
    message = mail.outbox[0]
    assert message.subject == f"{tenant.brokerage.name}: team report, 9 Mar – 15 Mar 2026"
    filename, content, mimetype = message.attachments[0]
    assert filename == f"{tenant.brokerage.slug}-team-report-2026-03-09-2026-03-15.pdf"
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    assert "Leads generated: 7" in message.body and "Commission earned: AED 8,000" in message.body
    html = message.alternatives[0][0]
    assert tenant.brokerage.primary_color in html and "AED 8,000" in html
    assert AuditLog.objects.get(action="analytics.weekly_report_sent").details["recipients"] == 2


def test_weekly_report_is_sent_once_a_week(week_of_data):
    tenant = week_of_data
    report_weekly_send(brokerage=tenant.brokerage, today=MONDAY)
    again = report_weekly_send(brokerage=tenant.brokerage, today=MONDAY + dt.timedelta(days=1))
    assert len(mail.outbox) == 1
    assert again.sent_to == [] and "already received" in again.skipped
    assert Notification.objects.filter(recipient=tenant.owner, kind="weekly_report").count() == 1
    report_weekly_send(brokerage=tenant.brokerage, today=MONDAY + dt.timedelta(days=7))
    assert len(mail.outbox) == 2


def test_weekly_report_respects_the_opt_out(week_of_data):
    tenant = week_of_data
    BrokerageSetting.objects.create(brokerage=tenant.brokerage, setting_key="weekly_report_enabled",
                                    setting_value="false", setting_type="bool")
    result = report_weekly_send(brokerage=tenant.brokerage, today=MONDAY)
    assert mail.outbox == [] and "turned off" in result.skipped
    assert not Notification.objects.filter(kind="weekly_report").exists()


def test_a_failed_send_leaves_no_marker_so_the_next_run_sends_it(week_of_data, monkeypatch):
    tenant = week_of_data

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("mail server went away")

    with monkeypatch.context() as patch:
        patch.setattr(EmailMultiAlternatives, "send", refuse)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            report_weekly_send(brokerage=tenant.brokerage, today=MONDAY)
    assert not Notification.objects.filter(kind="weekly_report").exists()
    assert report_weekly_send(brokerage=tenant.brokerage, today=MONDAY).sent_to == [tenant.owner.email]
    assert len(mail.outbox) == 1


def test_weekly_task_sends_the_last_seven_days_and_is_idempotent(week_of_data):
    tenant = week_of_data
    assert tasks.weekly_report_send(brokerage_id=tenant.brokerage.pk) == [tenant.owner.email]
    assert tasks.weekly_report_send(brokerage_id=tenant.brokerage.pk) == []
    assert len(mail.outbox) == 1
    assert f"{today(tenant) - dt.timedelta(days=1):%-d %b %Y}" in mail.outbox[0].subject
    assert tasks.weekly_report_send(brokerage_id=987654) is None


def test_a_brokerage_without_an_active_owner_sends_nothing(tenant):
    tenant.owner.is_active = False
    tenant.owner.save()
    result = report_weekly_send(brokerage=tenant.brokerage, today=MONDAY)
    assert mail.outbox == [] and "no active owner" in result.skipped
