"""Outbound webhooks as a receiver meets them: a real HTTP server on 127.0.0.1 gets signed POSTs that verify
with the function of docs/webhooks.md; failures are retried with backoff, a hanging receiver times out within
the bound, redirects are not followed, private addresses are refused, an endpoint that keeps failing is
disabled and its owners told, redeliveries keep the event's id, rotation signs with both secrets.

Celery is not running: the task's `delay`/`apply_async` are recorded (`queued`), and the test plays the
worker by running the task's function (`attempt`)."""

import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from brokerages.models import AuditLog, Notification, WebhookDelivery
from brokerages.tasks import webhook_deliver_task
from brokerages.webhooks import services, webhook_deliveries_sweep, webhook_emit
from nurturing.services.leads import lead_create
from tests.api_helpers import api_as

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify():
    """The receiver's verification function exactly as docs/webhooks.md prints it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 (our own documentation's example)
    return namespace["verify_aep_signature"]


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


class Receiver:
    """What the test server answers (`status`, `answer`, `redirect_to`, `hang_seconds`) and what it got."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/hooks/aep"
        self.requests: list[Received] = []
        self.status, self.answer, self.redirect_to, self.hang_seconds = 200, b'{"ok": true}', "", 0.0
        self.release = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver.requests.append(Received(self.path, self.headers, body))  # names case-insensitive, as in HTTP
        if receiver.hang_seconds:
            receiver.release.wait(receiver.hang_seconds)
            return
        self.send_response(receiver.status)
        if receiver.redirect_to:
            self.send_header("Location", receiver.redirect_to)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(receiver.answer)))
        self.end_headers()
        self.wfile.write(receiver.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the receiver is on loopback
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.receiver = Receiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.receiver
    server.receiver.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def queued(monkeypatch) -> list[tuple[int, int]]:
    """(delivery id, countdown in seconds) of every delivery task queued (config.tasks publishes a countdown as the
    moment it ends, `eta`)."""
    calls: list[tuple[int, int]] = []

    def publish(args=(), kwargs=None, eta=None, **_):
        countdown = round((eta - timezone.now()).total_seconds()) if eta else 0
        calls.append((kwargs["delivery_id"], countdown))

    monkeypatch.setattr(webhook_deliver_task, "apply_async", publish)
    return calls


@pytest.fixture
def attempt(django_capture_on_commit_callbacks):
    """What a worker does with one message of the delivery task (its after-commit work, the retry's queueing,
    included). Outside any tenant scope, as in a worker: the task opens the delivery's own."""
    def run(delivery_id: int) -> None:
        with django_capture_on_commit_callbacks(execute=True), scope():
            webhook_deliver_task(delivery_id=delivery_id)
    return run


def register(tenant, url: str, events=("lead.created",)):
    endpoint, secret = services.webhook_endpoint_create(brokerage=tenant.brokerage, actor=tenant.owner, url=url,
                                                        events=list(events))
    return endpoint, secret


def emit(tenant, django_capture_on_commit_callbacks, event="lead.created", data=None) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_emit(brokerage=tenant.brokerage, event=event, data=data or {"lead": {"id": 1}})
    return delivery


def make_due(delivery: WebhookDelivery) -> None:
    """The countdown has passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


def test_a_lead_created_through_the_api_reaches_the_receiver_signed(tenant, receiver, queued, attempt,
                                                                   django_capture_on_commit_callbacks):
    owner_api = api_as(tenant.owner)
    registered = owner_api.post(reverse("api-brokerage-webhooks"), {
        "url": receiver.url, "events": ["lead.created", "lead.stage_changed"], "description": "Our CRM"},
        format="json")
    assert registered.status_code == 201, registered.content
    secret = registered.json()["secret"]
    assert secret.startswith("whsec_")

    with django_capture_on_commit_callbacks(execute=True):
        created = owner_api.post(reverse("api-nurturing-leads"), {
            "name": "Omar Saleh", "email": "omar@example.com", "budget_max": "2500000.00"}, format="json")
    assert created.status_code == 201, created.content
    [(delivery_id, countdown)] = queued
    assert countdown == 0
    assert receiver.requests == []  # the worker sends it, not the request

    attempt(delivery_id)

    [request] = receiver.requests
    headers, body = request.headers, request.body
    payload = json.loads(body)
    assert request.path == "/hooks/aep"
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"].startswith("AgentExcellence")
    assert headers["X-AEP-Event"] == payload["event"] == "lead.created"
    assert headers["X-AEP-Delivery"] == payload["id"]
    assert payload["brokerage"] == {"id": tenant.brokerage.pk, "name": tenant.brokerage.name}
    lead = payload["data"]["lead"]
    assert (lead["id"], lead["name"], lead["budget_max"]) == (created.json()["id"], "Omar Saleh", "2500000.00")
    verify = documented_verify()
    timestamp, signature = headers["X-AEP-Timestamp"], headers["X-AEP-Signature"]
    assert abs(int(timestamp) - time.time()) < 60
    assert verify(secret, body, timestamp, signature)
    assert not verify("whsec_someone-else", body, timestamp, signature)
    assert not verify(secret, body.replace(b"Omar", b"Omer"), timestamp, signature)
    assert not verify(secret, body, str(int(timestamp) - 3600), signature)  # an old request replayed
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert delivery.response_excerpt == '{"ok": true}' and delivery.latency_ms is not None
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None


def test_nothing_is_sent_for_a_rolled_back_transaction(tenant, receiver, queued,
                                                       django_capture_on_commit_callbacks):
    register(tenant, receiver.url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data={"name": "Gone"})
            raise RuntimeError("the request failed after the lead was saved")
    assert callbacks == [] and queued == []
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_failing_receiver_is_retried_with_backoff_and_a_success_resets_the_count(
        tenant, receiver, queued, attempt, django_capture_on_commit_callbacks):
    endpoint, _ = register(tenant, receiver.url)
    delivery = emit(tenant, django_capture_on_commit_callbacks)
    receiver.status, receiver.answer = 500, b"database is down"

    started = timezone.now()
    attempt(delivery.pk)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("retrying", 1, 500)
    assert delivery.error == "the receiver answered 500" and delivery.response_excerpt == "database is down"
    assert queued[-1] == (delivery.pk, 10)
    assert dt.timedelta(seconds=9) < delivery.next_attempt_at - started < dt.timedelta(seconds=11)
    assert endpoint.consecutive_failures == 1

    attempt(delivery.pk)  # a duplicate message before the countdown ends does nothing
    assert len(receiver.requests) == 1

    make_due(delivery)
    attempt(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("retrying", 2)
    assert queued[-1] == (delivery.pk, 30)  # backoff: 10 s, then 30 s, …
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 2

    receiver.status, receiver.answer = 204, b""
    make_due(delivery)
    attempt(delivery.pk)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == ("succeeded", 3, 204, "")
    assert endpoint.consecutive_failures == 0
    assert {request.headers["X-AEP-Delivery"] for request in receiver.requests} == {str(delivery.event_id)}
    make_due(delivery)
    attempt(delivery.pk)  # a succeeded delivery is never sent again
    assert len(receiver.requests) == 3


def test_a_delivery_gives_up_when_its_attempts_are_used(tenant, receiver, queued, attempt, settings,
                                                        django_capture_on_commit_callbacks):
    settings.WEBHOOKS_RETRY_DELAYS = [5]
    register(tenant, receiver.url)
    delivery = emit(tenant, django_capture_on_commit_callbacks)
    receiver.status = 503
    attempt(delivery.pk)
    make_due(delivery)
    queued.clear()
    attempt(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert queued == []


def test_a_hanging_receiver_times_out_within_the_bound(tenant, receiver, queued, attempt, settings,
                                                       django_capture_on_commit_callbacks):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    register(tenant, receiver.url)
    delivery = emit(tenant, django_capture_on_commit_callbacks)
    receiver.hang_seconds = 30

    started = time.perf_counter()
    attempt(delivery.pk)
    took = time.perf_counter() - started

    delivery.refresh_from_db()
    assert took < 2.0
    assert (delivery.status, delivery.response_status) == ("retrying", None)
    assert delivery.error == "no answer within 0.5 seconds"
    assert 450 <= delivery.latency_ms < 2000


def test_redirects_are_not_followed(tenant, receiver, queued, attempt, django_capture_on_commit_callbacks):
    register(tenant, receiver.url)
    delivery = emit(tenant, django_capture_on_commit_callbacks)
    receiver.status, receiver.redirect_to = 302, receiver.url.replace("/hooks/aep", "/elsewhere")

    attempt(delivery.pk)

    delivery.refresh_from_db()
    assert [request.path for request in receiver.requests] == ["/hooks/aep"]
    assert (delivery.status, delivery.response_status) == ("retrying", 302)
    assert delivery.error == "the receiver answered 302 (redirects are not followed)"


def test_private_addresses_are_refused_at_delivery_without_the_setting(tenant, receiver, queued, attempt, settings,
                                                                       django_capture_on_commit_callbacks):
    register(tenant, receiver.url.replace("127.0.0.1", "localhost"))  # allowed when registered (setting on)…
    delivery = emit(tenant, django_capture_on_commit_callbacks)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False  # …but not when sent: the name resolves to loopback

    attempt(delivery.pk)

    delivery.refresh_from_db()
    assert receiver.requests == []
    assert delivery.status == "retrying" and delivery.latency_ms is None
    assert "localhost is a private or local address" in delivery.error and "refused" in delivery.error


def test_an_endpoint_failing_too_often_is_disabled_and_its_owners_notified(
        tenant, receiver, queued, attempt, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    endpoint, _ = register(tenant, receiver.url)
    receiver.status = 500
    deliveries = [emit(tenant, django_capture_on_commit_callbacks) for _ in range(3)]
    for delivery in deliveries:
        attempt(delivery.pk)

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.consecutive_failures == 3
    assert endpoint.disabled_reason == ("Disabled automatically after 3 failed deliveries in a row "
                                        "(last: the receiver answered 500).")
    assert [d.status for d in WebhookDelivery.objects.order_by("pk")] == ["failed", "failed", "failed"]
    assert WebhookDelivery.objects.filter(error__contains="endpoint was disabled").count() == 2
    [notice] = Notification.objects.filter(kind="webhook_disabled")
    assert notice.recipient == tenant.owner and endpoint.url in notice.message
    assert notice.url == reverse("brokerages:webhook", args=[endpoint.pk])
    assert AuditLog.objects.filter(action="webhook.endpoint_disabled", actor=None).count() == 1
    assert webhook_emit(brokerage=tenant.brokerage, event="lead.created", data={}) == []  # nothing more is sent

    services.webhook_endpoint_enable(brokerage=tenant.brokerage, actor=tenant.owner, endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0 and endpoint.disabled_reason == ""


def test_redelivery_sends_the_same_event_with_the_same_id(tenant, receiver, queued, attempt,
                                                          django_capture_on_commit_callbacks):
    register(tenant, receiver.url)
    first = emit(tenant, django_capture_on_commit_callbacks, data={"lead": {"id": 7, "name": "Hana"}})
    attempt(first.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(tenant.owner).post(reverse("api-brokerage-webhook-redeliver", args=[first.pk]))
    assert response.status_code == 202, response.content
    again = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert (again.event_id, again.redelivery_of_id, again.status) == (first.event_id, first.pk, "pending")
    attempt(again.pk)

    assert [r.headers["X-AEP-Delivery"] for r in receiver.requests] == [str(first.event_id)] * 2
    assert [json.loads(r.body)["data"] for r in receiver.requests] == [{"lead": {"id": 7, "name": "Hana"}}] * 2


def test_rotation_signs_with_both_secrets_until_the_previous_one_expires(tenant, receiver, queued, attempt,
                                                                         django_capture_on_commit_callbacks):
    endpoint, old_secret = register(tenant, receiver.url)
    endpoint, new_secret = services.webhook_endpoint_rotate_secret(brokerage=tenant.brokerage, actor=tenant.owner,
                                                                   endpoint=endpoint)
    verify = documented_verify()
    attempt(emit(tenant, django_capture_on_commit_callbacks).pk)
    request = receiver.requests[-1]
    signed = (request.headers["X-AEP-Timestamp"], request.headers["X-AEP-Signature"])
    assert signed[1].count("v1=") == 2
    assert verify(new_secret, request.body, *signed) and verify(old_secret, request.body, *signed)

    endpoint.previous_secret_expires_at = timezone.now() - dt.timedelta(seconds=1)
    endpoint.save()
    attempt(emit(tenant, django_capture_on_commit_callbacks).pk)
    request = receiver.requests[-1]
    signed = (request.headers["X-AEP-Timestamp"], request.headers["X-AEP-Signature"])
    assert signed[1].count("v1=") == 1
    assert verify(new_secret, request.body, *signed) and not verify(old_secret, request.body, *signed)


def test_the_sweep_queues_lost_deliveries_once_and_leaves_the_others(tenant, receiver, queued,
                                                                     django_capture_on_commit_callbacks):
    register(tenant, receiver.url)
    lost, recent, in_flight, done = (emit(tenant, django_capture_on_commit_callbacks) for _ in range(4))
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=now - dt.timedelta(minutes=5))
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(next_attempt_at=now + dt.timedelta(seconds=60))
    WebhookDelivery.objects.filter(pk=done.pk).update(status="succeeded", next_attempt_at=None)
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_sweep(now=now) == 1
    assert queued == [(lost.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_deliveries_sweep(now=now + dt.timedelta(seconds=60)) == 0  # queued already: not again
    assert WebhookDelivery.objects.get(pk=recent.pk).next_attempt_at <= now  # due now: its message is on its way


def test_a_test_event_is_tried_once_and_never_counts_against_the_endpoint(tenant, receiver, queued, attempt):
    endpoint, _ = register(tenant, receiver.url)
    receiver.status = 500
    ping = services.webhook_ping(brokerage=tenant.brokerage, actor=tenant.owner, endpoint=endpoint)
    attempt(ping.pk)
    ping.refresh_from_db()
    endpoint.refresh_from_db()
    assert (ping.status, ping.attempts, ping.event) == ("failed", 1, "ping")
    assert endpoint.consecutive_failures == 0
    assert json.loads(receiver.requests[0].body)["data"]["endpoint_id"] == endpoint.pk


def test_the_task_leaves_alone_what_is_gone_and_has_time_limits_beyond_the_timeout(tenant, receiver, queued,
                                                                                     attempt, settings):
    endpoint, _ = register(tenant, receiver.url)
    ping = services.webhook_ping(brokerage=tenant.brokerage, actor=tenant.owner, endpoint=endpoint)
    services.webhook_endpoint_delete(brokerage=tenant.brokerage, actor=tenant.owner, endpoint=endpoint)
    attempt(ping.pk)  # deleted with its endpoint before the worker took it
    assert receiver.requests == []
    assert settings.WEBHOOKS_TIMEOUT_SECONDS < webhook_deliver_task.soft_time_limit < webhook_deliver_task.time_limit
