"""Owners manage webhook endpoints, on the pages and through the API (same services): addresses and events are
checked with messages a person can act on, the secret is shown once and never logged, every change is audited.
Access across roles and brokerages: tests/brokerages/routes_webhooks.py in the isolation matrix."""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from brokerages.models import AuditLog, WebhookDelivery, WebhookEndpoint
from brokerages.webhooks import WEBHOOK_EVENTS, services
from tests.api_helpers import api_as, assert_error

PUBLIC_URL = "https://93.184.215.14/hooks/aep"  # a public address needing no DNS (tests run offline)


def create(tenant, url=PUBLIC_URL, events=("lead.created",), **fields):
    return services.webhook_endpoint_create(brokerage=tenant.brokerage, actor=tenant.owner, url=url,
                                            events=list(events), **fields)


def refusal(error) -> dict:
    return error.value.message_dict


@pytest.mark.parametrize(("url", "message"), [
    ("", "Give the receiver's address, e.g. https://crm.example.com/hooks/aep."),
    ("crm.example.com/hooks", "Give a full http:// or https:// address, e.g. https://crm.example.com/hooks/aep."),
    ("http://93.184.215.14/hooks", "Use an https:// address: deliveries carry your clients' details."),
    ("https://10.0.0.5/hooks", "This address cannot receive webhooks: 10.0.0.5 is a private or local address "
                               "(10.0.0.5); refused. Use the receiver's public address."),
    ("https://localhost/hooks", "This address cannot receive webhooks: localhost is a private or local address "
                                "(127.0.0.1); refused. Use the receiver's public address."),
    ("https://[fd00::1]/hooks", "This address cannot receive webhooks: fd00::1 is a private or local address "
                                "(fd00::1); refused. Use the receiver's public address."),
    ("https://crm:s3cret@93.184.215.14/hooks", "Leave user names and passwords out of the address: the signature "
                                               "proves each delivery is ours."),
    ("https://example.com/" + "a" * 490, "Keep the address under 500 characters."),
])
def test_addresses_that_cannot_or_must_not_receive_are_refused_by_name(tenant, url, message):
    with pytest.raises(services.ValidationError) as error:
        create(tenant, url=url)
    assert refusal(error) == {"url": [message]}
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_and_loopback_are_for_development_and_tests(tenant, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    endpoint, _ = create(tenant, url="http://127.0.0.1:8080/hooks")
    assert endpoint.url == "http://127.0.0.1:8080/hooks"


def test_a_name_dns_does_not_know_yet_is_accepted_and_checked_at_each_delivery(tenant):
    endpoint, _ = create(tenant, url="https://hooks.not-yet-live.invalid/aep")
    assert endpoint.is_active


def test_events_are_checked_by_name(tenant):
    with pytest.raises(services.ValidationError) as error:
        create(tenant, events=["lead.created", "lead.deleted", "deal.won"])
    assert refusal(error) == {"events": [
        f"Unknown events: deal.won, lead.deleted. Known events: {', '.join(WEBHOOK_EVENTS)}."]}
    with pytest.raises(services.ValidationError) as error:
        create(tenant, url="nope", events=[])
    assert refusal(error) == {  # every problem at once
        "url": ["Give a full http:// or https:// address, e.g. https://crm.example.com/hooks/aep."],
        "events": ["Pick at least one event."]}
    endpoint, _ = create(tenant, events=["report.generated", "lead.created", "lead.created"])
    assert endpoint.events == ["lead.created", "report.generated"]  # catalogue order, once each


def test_a_brokerage_has_a_bounded_number_of_endpoints(tenant, monkeypatch):
    monkeypatch.setattr(services, "MAX_ENDPOINTS", 2)
    create(tenant)
    create(tenant)
    with pytest.raises(services.ValidationError, match="at most 2 webhook endpoints"):
        create(tenant)


def test_the_api_registers_shows_the_secret_once_and_never_logs_it(tenant):
    api = api_as(tenant.owner)
    response = api.post(reverse("api-brokerage-webhooks"), {"url": PUBLIC_URL, "events": ["lead.created"],
                                                            "description": "Our  CRM"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body.pop("secret")
    assert secret.startswith("whsec_") and len(secret) > 40
    assert body["description"] == "Our CRM" and body["is_active"] and body["previous_secret_valid_until"] is None

    listed = api.get(reverse("api-brokerage-webhooks")).json()
    assert listed["count"] == 1 and listed["results"][0] == {**body, "updated_at": listed["results"][0]["updated_at"]}
    one = api.get(reverse("api-brokerage-webhook", args=[body["id"]]))
    assert "secret" not in one.json() and secret not in one.content.decode()
    entry = AuditLog.objects.get(action="webhook.endpoint_created")
    assert entry.actor == tenant.owner and entry.details == {"url": PUBLIC_URL, "events": ["lead.created"]}
    assert not any("whsec_" in str(row.details) for row in AuditLog.objects.all())


def test_the_api_answers_bad_input_with_the_error_body(tenant):
    api = api_as(tenant.owner)
    error = assert_error(api.post(reverse("api-brokerage-webhooks"), {
        "url": "https://10.1.2.3/x", "events": ["lead.created", "nope"], "secret": "mine"}, format="json"), 400)
    assert error["fields"] == {"secret": ["Unknown field."]}  # a secret is never chosen by the caller
    error = assert_error(api.post(reverse("api-brokerage-webhooks"), {
        "url": "https://10.1.2.3/x", "events": ["lead.created", "nope"]}, format="json"), 400)
    assert set(error["fields"]) == {"url", "events"}
    assert "private or local address" in error["fields"]["url"][0] and "nope" in error["fields"]["events"][0]
    endpoint, _ = create(tenant)
    error = assert_error(api.patch(reverse("api-brokerage-webhook", args=[endpoint.pk]), {"events": []},
                                   format="json"), 400)
    assert error["fields"] == {"events": ["Pick at least one event."]}
    error = assert_error(api.get(reverse("api-brokerage-webhook-deliveries", args=[endpoint.pk]),
                                 {"status": "lost"}), 400)
    assert list(error["fields"]) == ["status"]


def test_the_api_changes_disables_rotates_and_deletes(tenant):
    api = api_as(tenant.owner)
    endpoint, first_secret = create(tenant)
    waiting = WebhookDelivery.objects.create(brokerage=tenant.brokerage, endpoint=endpoint, event="lead.created",
                                             event_id=uuid.uuid4(), payload={}, status="retrying")
    url = reverse("api-brokerage-webhook", args=[endpoint.pk])

    changed = api.patch(url, {"events": ["lead.stage_changed", "lead.created"], "is_active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["lead.created", "lead.stage_changed"]
    assert not changed.json()["is_active"] and changed.json()["disabled_reason"] == (
        f"Disabled by {tenant.owner.display_name}.")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error) == ("failed", "Not sent: the endpoint was disabled.")
    assert api.patch(url, {"is_active": True}, format="json").json()["is_active"]

    rotated = api.post(reverse("api-brokerage-webhook-rotate-secret", args=[endpoint.pk])).json()
    assert rotated["secret"] != first_secret and rotated["secret"].startswith("whsec_")
    valid_until = dt.datetime.fromisoformat(rotated["previous_secret_valid_until"])
    assert dt.timedelta(hours=23, minutes=59) < valid_until - timezone.now() <= dt.timedelta(hours=24)
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (rotated["secret"], first_secret)

    assert api.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    actions = list(AuditLog.objects.filter(action__startswith="webhook.").order_by("pk").values_list(
        "action", flat=True))
    assert actions == ["webhook.endpoint_created", "webhook.endpoint_updated", "webhook.endpoint_disabled",
                       "webhook.endpoint_enabled", "webhook.secret_rotated", "webhook.endpoint_deleted"]


def test_the_api_lists_deliveries_filters_them_and_names_the_events(tenant):
    api = api_as(tenant.owner)
    endpoint, _ = create(tenant)
    for status in ("succeeded", "failed", "failed"):
        WebhookDelivery.objects.create(brokerage=tenant.brokerage, endpoint=endpoint, event="lead.created",
                                       event_id=uuid.uuid4(), payload={"id": "x"}, status=status,
                                       response_status=200 if status == "succeeded" else 500, latency_ms=41)
    url = reverse("api-brokerage-webhook-deliveries", args=[endpoint.pk])
    everything = api.get(url).json()
    assert everything["count"] == 3
    assert set(everything["results"][0]) >= {"event_id", "status", "attempts", "response_status", "latency_ms",
                                             "response_excerpt", "error", "redelivery_of", "payload"}
    assert api.get(url, {"status": "failed"}).json()["count"] == 2
    events = api.get(reverse("api-brokerage-webhook-events")).json()
    assert [item["name"] for item in events] == list(WEBHOOK_EVENTS)


def test_redelivery_needs_an_enabled_endpoint(tenant):
    endpoint, _ = create(tenant)
    delivery = WebhookDelivery.objects.create(brokerage=tenant.brokerage, endpoint=endpoint, event="lead.created",
                                              event_id=uuid.uuid4(), payload={}, status="failed")
    services.webhook_endpoint_disable(brokerage=tenant.brokerage, actor=tenant.owner, endpoint=endpoint)
    error = assert_error(api_as(tenant.owner).post(reverse("api-brokerage-webhook-redeliver", args=[delivery.pk])),
                         400)
    assert error["message"] == "This endpoint is disabled; enable it before redelivering."


def test_agents_and_support_staff_cannot_manage_webhooks(tenant):
    for member in (tenant.agent, tenant.support):
        assert_error(api_as(member).get(reverse("api-brokerage-webhooks")), 403)
    endpoint, _ = create(tenant)
    assert_error(api_as(tenant.agent).delete(reverse("api-brokerage-webhook", args=[endpoint.pk])), 403)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


# --- pages -----------------------------------------------------------------------------------------------------

def test_an_owner_registers_an_endpoint_on_the_page_and_sees_its_secret_once(tenant, login):
    client = login(tenant.owner)
    page = client.get(reverse("brokerages:webhooks"))
    assert page.status_code == 200 and "Register an endpoint" in page.content.decode()
    assert all(name in page.content.decode() for name in WEBHOOK_EVENTS)

    refused = client.post(reverse("brokerages:webhooks"), {"url": "https://10.0.0.9/in", "events": []})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "10.0.0.9 is a private or local address" in text and "Pick at least one event." in text

    response = client.post(reverse("brokerages:webhooks"), {
        "url": PUBLIC_URL, "description": "Warehouse", "events": ["lead.created", "coaching.alert"]})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("brokerages:webhook", args=[endpoint.pk])
    shown = client.get(response["Location"]).content.decode()
    assert endpoint.secret in shown and "Copy it now" in shown
    assert endpoint.secret not in client.get(response["Location"]).content.decode()  # once only
    assert PUBLIC_URL in client.get(reverse("brokerages:webhooks")).content.decode()


def test_the_endpoint_page_shows_deliveries_and_its_buttons_work(tenant, login):
    client = login(tenant.owner)
    endpoint, _ = create(tenant)
    delivery = WebhookDelivery.objects.create(
        brokerage=tenant.brokerage, endpoint=endpoint, event="lead.created", event_id=uuid.uuid4(),
        payload={"event": "lead.created"}, status="retrying", attempts=2, response_status=500, latency_ms=87,
        response_excerpt="upstream <b>timeout</b>", error="the receiver answered 500")
    page_url = reverse("brokerages:webhook", args=[endpoint.pk])

    text = client.get(page_url).content.decode()
    assert "87 ms" in text and "the receiver answered 500" in text and str(delivery.event_id) in text
    assert "upstream &lt;b&gt;timeout&lt;/b&gt;" in text  # the receiver's answer is shown, never rendered
    assert "2 of 9" in text

    client.post(reverse("brokerages:webhook_redeliver", args=[delivery.pk]))
    assert WebhookDelivery.objects.filter(redelivery_of=delivery, event_id=delivery.event_id).exists()
    client.post(reverse("brokerages:webhook_ping", args=[endpoint.pk]))
    assert WebhookDelivery.objects.filter(event="ping").exists()
    client.post(reverse("brokerages:webhook_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret in client.get(page_url).content.decode()
    client.post(reverse("brokerages:webhook_active", args=[endpoint.pk]), {"active": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "Enable" in client.get(page_url).content.decode()
    client.post(page_url, {"url": PUBLIC_URL, "description": "Renamed", "events": ["followup.sent"]})
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.events) == ("Renamed", ["followup.sent"])
    filtered = client.get(page_url, {"status": "failed"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Not sent: the endpoint was disabled." in filtered and "<h1>" not in filtered

    response = client.post(reverse("brokerages:webhook_delete", args=[endpoint.pk]))
    assert response["Location"] == reverse("brokerages:webhooks")
    assert not WebhookEndpoint.objects.exists()


def test_an_agent_is_refused_the_pages(tenant, login):
    assert login(tenant.agent).get(reverse("brokerages:webhooks")).status_code == 403
