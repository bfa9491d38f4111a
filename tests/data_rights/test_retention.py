"""Retention: the brokerage's transcript retention setting (validated), the nightly task that removes the words
of conversations that ended before the period while keeping scores, alerts and metrics, and, in the same run,
the pruning of the webhook delivery log and of expired export archives."""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from brokerages.models import AuditLog, DataExport, WebhookDelivery, WebhookEndpoint
from brokerages.services import settings_update
from brokerages.settings_registry import get_spec
from coaching import tasks
from coaching.models import CoachingAlert, Message
from coaching.selectors.metrics import coaching_metrics
from coaching.services.retention import EXPIRED_TEXT, data_retention_apply
from tests.api_helpers import api_as, assert_error
from tests.factories import make_conversation

from .helpers import build_export

pytestmark = pytest.mark.django_db

CHAT = [("lead", "Hi, I'm Noura. Is the Marina two-bed still available? It feels expensive at 2.4M."),
        ("agent", "Yes it is. Trust me, it's the best deal you'll ever find."),
        ("lead", "My number is +971 55 765 4321, call me tomorrow.")]
NOW = timezone.now()


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def retention(tenant, **values):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values=values)


def coached(tenant, ended_days_ago: int | None):
    started = days_ago(ended_days_ago if ended_days_ago is not None else 0) - dt.timedelta(hours=1)
    conversation = make_conversation(tenant.brokerage, tenant.agent, CHAT, started_at=started,
                                     ended=ended_days_ago is not None)
    quote = CHAT[1][1]
    CoachingAlert.objects.create(
        brokerage=tenant.brokerage, agent=tenant.agent, conversation=conversation, area="objection_handling",
        code=f"objection_pressure_{conversation.pk}", title="Pressure instead of value", text="Back it with data.",
        priority="HIGH", evidence=[quote, "Objection handling score: 30.0/100", "Quality Score: 48.5/100"])
    return conversation


def apply(tenant, now=NOW):
    with scope(brokerage=tenant.brokerage):
        return data_retention_apply(brokerage=tenant.brokerage, now=now)


@pytest.mark.parametrize(("value", "message"), [
    ("-5", "must be at least 0."), ("10", "must be 0 (off) or at least 30."), ("29", "or at least 30."),
    ("ninety", "must be a whole number."), ("3651", "must be at most 3650."),
])
def test_the_transcript_retention_setting_refuses_bad_values_with_a_clear_message(tenant, value, message):
    api = api_as(tenant.owner)
    error = assert_error(api.patch("/api/brokerage/settings", {"transcript_retention_days": value}, format="json"),
                         400)
    assert message in " ".join(error["fields"]["transcript_retention_days"])
    assert api.get("/api/brokerage/settings").json()["transcript_retention_days"]["value"] == 0


def test_the_setting_is_off_when_blank_or_zero_and_on_from_thirty_days(tenant, client):
    spec = get_spec("transcript_retention_days")
    assert spec.parse("") == spec.parse(None) == spec.parse("0") == 0
    assert spec.parse("30") == 30 and spec.parse(365) == 365
    assert get_spec("webhook_delivery_retention_days").parse("7") == 7
    client.force_login(tenant.owner)
    form = {key: value["value"] for key, value in api_as(tenant.owner).get("/api/brokerage/settings").json().items()}
    page = client.post(reverse("brokerages:settings"), {**form, "transcript_retention_days": "12"})
    assert page.status_code == 200 and b"must be 0 (off) or at least 30." in page.content
    saved = client.post(reverse("brokerages:settings"), {**form, "transcript_retention_days": "90"}, follow=True)
    assert b"Settings saved (1 changed)" in saved.content


def test_old_transcripts_lose_their_words_and_keep_their_figures(tenant, other_tenant):
    retention(tenant, transcript_retention_days=90)
    old, recent, live = coached(tenant, 120), coached(tenant, 30), coached(tenant, None)
    theirs = coached(other_tenant, 400)
    scores = {c.pk: (c.quality_score, c.analysis["quality_scores_by_area"]) for c in (old, recent)}
    start, end = days_ago(400), NOW
    with scope(brokerage=tenant.brokerage):
        metrics_before = coaching_metrics(brokerage=tenant.brokerage, start=start, end=end).to_dict()

    counts = apply(tenant)
    assert counts["transcript_messages"] == 3 and counts["transcript_conversations"] == 1
    assert counts["transcript_alerts"] == 1
    # The old conversation: no words, no quotes; the same scores, findings and alert.
    old.refresh_from_db()
    assert set(Message.objects.filter(conversation=old).values_list("text", flat=True)) == {EXPIRED_TEXT}
    assert list(Message.objects.filter(conversation=old).values_list("speaker", flat=True)) == ["lead", "agent",
                                                                                                 "lead"]
    assert (old.quality_score, old.analysis["quality_scores_by_area"]) == scores[old.pk]
    assert old.analysis["findings"] and all(not finding["evidence"] for finding in old.analysis["findings"])
    alert = CoachingAlert.objects.get(conversation=old)
    assert alert.evidence == ["Objection handling score: 30.0/100", "Quality Score: 48.5/100"]
    assert alert.title == "Pressure instead of value" and alert.priority == "HIGH"
    # Recent, live and other brokerages' conversations keep their words.
    for kept in (recent, live, theirs):
        assert Message.objects.filter(conversation=kept, text=CHAT[1][1]).exists()
        assert CHAT[1][1] in CoachingAlert.objects.get(conversation=kept).evidence
    with scope(brokerage=tenant.brokerage):
        assert coaching_metrics(brokerage=tenant.brokerage, start=start, end=end).to_dict() == metrics_before
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="data_retention.applied")
    assert entry.actor is None and entry.details["transcript_messages"] == 3
    assert entry.details["transcript_retention_days"] == 90
    # A second run the same night finds nothing to do and logs nothing; a later one takes what aged since.
    assert not any(apply(tenant).values())
    assert AuditLog.objects.filter(action="data_retention.applied").count() == 1
    assert apply(tenant, now=NOW + dt.timedelta(days=61))["transcript_conversations"] == 1


def test_transcripts_are_kept_forever_when_the_setting_is_off(tenant):
    old = coached(tenant, 2000)
    assert apply(tenant) == {"exports_expired": 0, "exports_interrupted": 0}
    assert Message.objects.filter(conversation=old, text=CHAT[0][1]).exists()
    assert not AuditLog.objects.filter(action="data_retention.applied").exists()


def _delivery(tenant, endpoint, status, age_days):
    return WebhookDelivery.objects.create(
        brokerage=tenant.brokerage, endpoint=endpoint, event="lead.created", event_id=uuid.uuid4(),
        payload={"data": {"lead": {"name": "Noura"}}}, status=status, created_at=days_ago(age_days))


def test_webhook_deliveries_are_pruned_past_their_retention_but_never_before_they_are_sent(tenant, other_tenant):
    endpoint = WebhookEndpoint.objects.create(brokerage=tenant.brokerage, url="https://crm.example.com/hook",
                                              events=["lead.created"], secret="whsec_x")
    theirs = WebhookEndpoint.objects.create(brokerage=other_tenant.brokerage, url="https://x.example.com/hook",
                                            events=["lead.created"], secret="whsec_y")
    old_sent, old_failed = _delivery(tenant, endpoint, "succeeded", 45), _delivery(tenant, endpoint, "failed", 31)
    old_waiting = _delivery(tenant, endpoint, "retrying", 45)
    recent = _delivery(tenant, endpoint, "succeeded", 29)
    their_old = _delivery(other_tenant, theirs, "succeeded", 45)
    counts = apply(tenant)
    assert counts["webhook_deliveries_deleted"] == 2
    left = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert left == {old_waiting.pk, recent.pk, their_old.pk}
    assert old_sent.pk not in left and old_failed.pk not in left
    assert AuditLog.objects.get(action="data_retention.applied").details["webhook_deliveries_deleted"] == 2
    retention(tenant, webhook_delivery_retention_days=0)
    _delivery(tenant, endpoint, "succeeded", 400)
    assert "webhook_deliveries_deleted" not in apply(tenant)


def test_the_same_run_deletes_expired_export_archives(tenant, django_capture_on_commit_callbacks):
    export = build_export(tenant.owner, include_media=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert apply(tenant, now=export.expires_at + dt.timedelta(hours=1))["exports_expired"] == 1
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED


def test_the_nightly_task_fans_out_one_run_per_brokerage(tenant, other_tenant, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.data_retention_brokerage, "delay_on_commit", lambda **kwargs: queued.append(kwargs))
    tasks.data_retention_all()
    assert queued == [{"brokerage_id": tenant.brokerage.pk}, {"brokerage_id": other_tenant.brokerage.pk}]
    retention(tenant, transcript_retention_days=30)
    coached(tenant, 45)
    counts = tasks.data_retention_brokerage(brokerage_id=tenant.brokerage.pk)
    assert counts["transcript_messages"] == 3
    assert tasks.data_retention_brokerage(brokerage_id=999_999) is None
