"""Which services emit which webhook events, with what data, to which endpoints, and at what cost. Nothing is
sent here: a delivery row is what an event leaves behind (its task runs after commit; see
test_webhooks_delivery.py)."""

import csv
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokerages.models import WebhookDelivery, WebhookEndpoint
from brokerages.webhooks import WEBHOOK_EVENTS, webhook_emit
from coaching.analysis.types import Analysis, Finding
from coaching.models import CoachingSession, Intensity
from coaching.services.alerts import alerts_raise
from copilot.assistant.automations import automation_run
from nurturing.models import FollowUp
from nurturing.services.followups import followup_create, followup_mark_called, followups_create_bulk
from nurturing.services.ingestion import leads_import_csv
from nurturing.services.lead_webhook import lead_webhook_ensure, lead_webhook_receive, webhook_signature
from nurturing.services.leads import lead_assign, lead_change_stage, lead_update
from tests.factories import make_conversation, make_lead


def subscribe(tenant, events=tuple(WEBHOOK_EVENTS), *, active=True, url="https://hooks.example.com/aep"):
    return WebhookEndpoint.objects.create(brokerage=tenant.brokerage, url=url, events=list(events),
                                          secret="whsec_test", is_active=active)


def sent(event: str) -> list[dict]:
    """The payloads of the deliveries of `event`, oldest first."""
    return [delivery.payload for delivery in WebhookDelivery.objects.filter(event=event).order_by("pk")]


def test_an_event_goes_to_each_active_subscribed_endpoint_of_its_brokerage_only(
        tenant, other_tenant, django_capture_on_commit_callbacks):
    crm = subscribe(tenant, ["lead.created"])
    warehouse = subscribe(tenant, ["lead.created", "lead.updated"], url="https://dw.example.com/in")
    subscribe(tenant, ["lead.updated"])
    subscribe(tenant, ["lead.created"], active=False)
    subscribe(other_tenant, ["lead.created"])

    with django_capture_on_commit_callbacks() as callbacks:
        deliveries = webhook_emit(brokerage=tenant.brokerage, event="lead.created",
                                  data={"lead": {"id": 1, "budget": Decimal("1500000.50")}})

    assert sorted(delivery.endpoint_id for delivery in deliveries) == sorted([crm.pk, warehouse.pk])
    assert len(callbacks) == 2  # one task each, queued for when the transaction commits
    assert len({delivery.event_id for delivery in deliveries}) == 1
    payload = deliveries[0].payload
    assert set(payload) == {"id", "event", "created_at", "brokerage", "data"}
    assert payload["id"] == str(deliveries[0].event_id) and payload["event"] == "lead.created"
    assert payload["brokerage"] == {"id": tenant.brokerage.pk, "name": tenant.brokerage.name}
    assert payload["data"] == {"lead": {"id": 1, "budget": "1500000.50"}}  # money as a string, never a float
    assert all(delivery.status == "pending" and delivery.next_attempt_at for delivery in deliveries)


def test_nobody_listening_costs_one_query_and_builds_no_payload(tenant):
    subscribe(tenant, ["lead.updated"])
    built = []

    with CaptureQueriesContext(connection) as queries:
        assert webhook_emit(brokerage=tenant.brokerage.pk, event="lead.created",
                            data=lambda: built.append(1) or {}) == []

    assert len(queries) == 1 and "webhookendpoint" in queries[0]["sql"]
    assert built == []


def test_unknown_events_are_a_programming_error(tenant):
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhook_emit(brokerage=tenant.brokerage, event="lead.deleted", data={})


def test_lead_events_carry_the_lead_and_what_changed(tenant):
    subscribe(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Omar Saleh", budget_max=Decimal("2500000"),
                     areas=["Dubai Marina"])
    lead = lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead,
                       data={"phone": "+971 50 111 2222", "tags": ["vip"]})
    lead = lead_change_stage(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, stage="qualified",
                             note="Pre-approved")
    lead_assign(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, agent=tenant.owner)

    [created] = sent("lead.created")
    data = created["data"]["lead"]
    assert (data["id"], data["name"], data["budget_max"], data["areas"]) == (lead.pk, "Omar Saleh", "2500000.00",
                                                                            ["Dubai Marina"])
    assert data["assigned_agent"] == {"id": tenant.agent.pk, "name": tenant.agent.display_name,
                                      "email": tenant.agent.email}
    [updated] = sent("lead.updated")
    assert updated["data"]["changed"] == ["phone", "tags"] and updated["data"]["lead"]["phone"] == "+971501112222"
    [staged] = sent("lead.stage_changed")
    assert (staged["data"]["from_stage"], staged["data"]["to_stage"], staged["data"]["note"]) == (
        "new", "qualified", "Pre-approved")
    [assigned] = sent("lead.assigned")
    assert assigned["data"]["previous_agent"]["id"] == tenant.agent.pk
    assert assigned["data"]["lead"]["assigned_agent"]["id"] == tenant.owner.pk


def test_imported_and_posted_leads_are_announced_like_typed_ones(tenant):
    subscribe(tenant, ["lead.created"])
    table = io.StringIO()
    csv.writer(table).writerows([["Name", "Email"], ["Hana Yusuf", "hana@example.com"],
                                 ["Karim Aziz", "karim@example.com"]])
    report = leads_import_csv(brokerage=tenant.brokerage, actor=tenant.owner, data=table.getvalue().encode(),
                              dry_run=False)
    assert report.created == 2, report
    hook = lead_webhook_ensure(brokerage=tenant.brokerage, actor=tenant.owner)[0]
    body = json.dumps({"external_id": "portal-77", "name": "Lina Farah"}).encode()
    lead_webhook_receive(token=hook.token, body=body, signature_header=webhook_signature(hook.secret, body))

    names = [payload["data"]["lead"]["name"] for payload in sent("lead.created")]
    assert names == ["Hana Yusuf", "Karim Aziz", "Lina Farah"]


def test_followup_events_when_drafted_one_by_one_or_in_bulk_and_when_done(tenant):
    subscribe(tenant, ["followup.created", "followup.sent"])
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Sara Khan", phone="+971501234567")
    call = followup_create(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, reason="manual",
                           channel="call")
    other = make_lead(tenant.brokerage, agent=tenant.agent, name="Ali Noor", phone="+971501234568")
    [drafted] = followups_create_bulk(brokerage=tenant.brokerage, items=[FollowUp(
        brokerage=tenant.brokerage, lead=other, agent=tenant.agent, reason="forgotten_lead", channel="sms",
        content="Hi Ali", suggested_send_date=other.created_at.date())])
    followup_mark_called(brokerage=tenant.brokerage, actor=tenant.agent, followup=call, note="Booked a viewing")

    first, second = sent("followup.created")
    assert (first["data"]["followup"]["id"], first["data"]["followup"]["channel"]) == (call.pk, "call")
    assert first["data"]["lead"]["name"] == "Sara Khan" and first["data"]["agent"]["id"] == tenant.agent.pk
    assert (second["data"]["followup"]["id"], second["data"]["followup"]["content"]) == (drafted.pk, "Hi Ali")
    [done] = sent("followup.sent")
    assert done["data"]["followup"]["status"] == "sent" and done["data"]["followup"]["sent_at"]


def test_coaching_alerts_and_escalations(tenant):
    subscribe(tenant, ["coaching.alert", "coaching.escalation"])
    conversation = make_conversation(tenant.brokerage, tenant.agent, [("lead", "Too expensive.")], ended=False)
    CoachingSession.objects.create(brokerage=tenant.brokerage, agent=tenant.agent, intensity=Intensity.CRITICAL)
    findings = [Finding(area="objection_handling", code=code, severity=severity, title=f"Improve: {code}",
                        message="Answer with data.", suggested_action="Quote two comparable sales.",
                        evidence=("Lead: “Too expensive.”",), positive=False)
                for code, severity in (("tip", "low"), ("urgent", "critical"))]
    tip, urgent = alerts_raise(conversation=conversation, analysis=Analysis(
        overall_quality_score=40.0, quality_scores_by_area={}, expertise_scores={}, talk_ratio=0.5,
        questions_asked=0, findings=tuple(findings), final=False))

    assert [payload["data"]["alert"]["id"] for payload in sent("coaching.alert")] == [tip.pk, urgent.pk]
    [escalation] = sent("coaching.escalation")
    data = escalation["data"]
    assert (data["alert"]["id"], data["alert"]["escalated"], data["alert"]["priority"]) == (urgent.pk, True, "CRITICAL")
    assert data["agent"]["id"] == tenant.agent.pk and data["conversation"]["id"] == conversation.pk


def test_reports_downloaded_or_made_by_the_assistant_are_announced(tenant, client):
    subscribe(tenant, ["report.generated"])
    client.force_login(tenant.owner)
    response = client.get(reverse("analytics:report_team_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    run = automation_run(brokerage=tenant.brokerage, actor=tenant.agent, automation_type="report_creation",
                         parameters={"report": "agent_weekly"})

    downloaded, assisted = sent("report.generated")
    assert downloaded["data"]["source"] == "download" and downloaded["data"]["report"]["kind"] == "team"
    assert downloaded["data"]["report"]["bytes"] == len(response.content)
    assert downloaded["data"]["requested_by"]["id"] == tenant.owner.pk
    assert set(downloaded["data"]["report"]["period"]) == {"start", "end"}
    assert (assisted["data"]["source"], assisted["data"]["assistant_run_id"]) == ("assistant", run.pk)
    assert assisted["data"]["report"]["agent"]["id"] == tenant.agent.pk


def test_a_delivery_row_names_its_event_once_per_endpoint(tenant):
    """The event id is the receiver's deduplication key: one per event, shared by its endpoints' deliveries."""
    subscribe(tenant, ["lead.created"])
    subscribe(tenant, ["lead.created"], url="https://two.example.com/in")
    make_lead(tenant.brokerage, name="One")
    make_lead(tenant.brokerage, name="Two")
    ids = list(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert len(ids) == 4 and len(set(ids)) == 2 and all(isinstance(value, uuid.UUID) for value in ids)
