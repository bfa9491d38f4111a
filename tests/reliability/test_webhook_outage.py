"""Fault drill (issue 10): an integrator's webhook receiver is down for an hour while the brokerage keeps
working. Deliveries are retried on the documented schedule, the endpoint is disabled after the documented
number of failures in a row and its owners told, and nothing is lost: every event of the hour is stored, and
once the receiver is back and an owner enables the endpoint again, one "redeliver the failed" sends each event
it missed, exactly once, with its original delivery id.

The hour is simulated: `django.utils.timezone.now` follows a clock the drill moves, from one thing to happen to
the next. Every two minutes a lead is added through the service the pages and the API use (each announces
`lead.created`); beat runs the lost-delivery sweep every minute, as config/celery.py schedules it; the worker
runs each queued delivery task when its countdown is up. The receiver is a real HTTP server on 127.0.0.1 that
first refuses connections (or answers 500), then comes back. Settings are production's (docs/webhooks.md):
retries after 10 s, 30 s, 2 min, 10 min, 30 min, …; disabled after 15 failed attempts in a row.
"""

import datetime as dt
import heapq
import hmac
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from brokerages import outbound
from brokerages.models import AuditLog, Notification, Role, WebhookDelivery, WebhookEndpoint
from brokerages.tasks import webhook_deliver_task, webhook_deliveries_sweep_task
from brokerages.webhooks.delivery import webhook_signature
from brokerages.webhooks.events import HELD_ERROR
from tests.api_helpers import api_as
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE = dt.timedelta(hours=1)
EVENT_EVERY = dt.timedelta(minutes=2)
BEAT_EVERY = dt.timedelta(seconds=60)  # config/celery.py: "webhook-deliveries-sweep"


class SimulatedClock:
    def __init__(self, start: dt.datetime):
        self.now = start


class Receiver:
    """An integrator's endpoint on a fixed loopback port: `down()` closes it (connections refused) or makes it
    answer 500, `up()` brings it back. It checks every signature and records what it got, when (simulated)."""

    def __init__(self, clock: SimulatedClock):
        self.clock, self.secret, self.mode = clock, "", "ok"
        self.got: list[tuple[dt.datetime, str, str, int]] = []  # (when, event, X-AEP-Delivery, status answered)
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/aep"

    def _listen(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                expected = webhook_signature(receiver.secret, self.headers["X-AEP-Timestamp"], body)
                signed = any(hmac.compare_digest(f"v1={expected}", part.strip())
                             for part in self.headers["X-AEP-Signature"].split(","))
                status = 500 if receiver.mode == "500" else (200 if signed else 401)
                receiver.got.append((receiver.clock.now, self.headers["X-AEP-Event"],
                                     self.headers["X-AEP-Delivery"], status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def down(self, how: str) -> None:
        self.mode = how
        if how == "refused":
            self._close()

    def up(self) -> None:
        self.mode = "ok"
        if self._server is None:
            self._listen()

    def accepted(self, event: str | None = None) -> Counter:
        """Deliveries answered 200, per event id (X-AEP-Delivery), of one event or all."""
        return Counter(delivery_id for _, name, delivery_id, status in self.got
                       if status == 200 and event in (None, name))


@dataclass(order=True)
class _Task:
    eta: dt.datetime
    order: int
    delivery_id: int = field(compare=False)


class Worker:
    """Celery as the drill plays it: queued delivery tasks with their due time (config.tasks publishes a
    countdown as its `eta`), run when their time comes, each outside any tenant scope as in a real worker."""

    def __init__(self, clock: SimulatedClock, monkeypatch):
        self.clock, self.tasks, self.count = clock, [], 0
        monkeypatch.setattr(webhook_deliver_task, "apply_async",
                            lambda args=(), kwargs=None, eta=None, **_: self._queue(kwargs, eta))

    def _queue(self, kwargs: dict, eta: dt.datetime | None = None) -> None:
        self.count += 1
        heapq.heappush(self.tasks, _Task(eta or self.clock.now, self.count, kwargs["delivery_id"]))

    def next_eta(self) -> dt.datetime | None:
        return self.tasks[0].eta if self.tasks else None

    def run_due(self) -> None:
        while self.tasks and self.tasks[0].eta <= self.clock.now:
            task = heapq.heappop(self.tasks)
            with scope():
                webhook_deliver_task(delivery_id=task.delivery_id)


@pytest.fixture
def drill(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # the receiver is on loopback
    settings.WEBHOOKS_TIMEOUT_SECONDS = 2.0  # a refused or 500 answer is immediate; this only bounds a mistake
    clock = SimulatedClock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    receiver = Receiver(clock)
    attempts: list[tuple[dt.datetime, int]] = []  # (when, delivery id) of every attempt made
    post = outbound.post

    def recorded_post(url, body, headers):
        attempts.append((clock.now, headers["X-AEP-Delivery"]))
        return post(url, body, headers=headers)

    monkeypatch.setattr(outbound, "post", recorded_post)
    yield clock, receiver, Worker(clock, monkeypatch), attempts
    receiver._close()


def _advance(clock: SimulatedClock, worker: Worker, until: dt.datetime, things: dict) -> None:
    """Move the clock from one scheduled thing to the next (`things`: name → (next time, step, action)) and
    run what is due, worker tasks last, until `until`."""
    while True:
        candidates = [when for when, _, _ in things.values()]
        if worker.next_eta():
            candidates.append(worker.next_eta())
        moment = min(candidates)
        if moment > until:
            clock.now = until
            return
        clock.now = moment
        for name, (when, step, action) in list(things.items()):
            if when <= clock.now:
                action()
                things[name] = (when + step, step, action)
        worker.run_due()


@pytest.mark.parametrize("failure", ["refused", "500"])
def test_a_receiver_down_for_an_hour_loses_nothing(tenant, drill, failure, record_property):
    clock, receiver, worker, attempts = drill
    second_owner = UserFactory(brokerage=tenant.brokerage, role=Role.BROKERAGE_OWNER,
                               email=f"co-owner@{tenant.brokerage.slug}.test")
    api = api_as(tenant.owner)
    created = api.post("/api/brokerage/webhooks", {"url": receiver.url, "events": ["lead.created"],
                                                   "description": "Our CRM"}, format="json")
    assert created.status_code == 201, created.content
    receiver.secret, endpoint_id = created.json()["secret"], created.json()["id"]

    # The hour: the receiver goes down, agents keep adding leads, beat and the worker do their rounds.
    receiver.down(failure)
    start, leads = clock.now, []
    things = {
        "a lead is added": (start, EVENT_EVERY, lambda: leads.append(
            make_lead(tenant.brokerage, agent=tenant.agent, actor=tenant.agent, name=f"Lead {len(leads) + 1}"))),
        "beat sweeps lost deliveries": (start, BEAT_EVERY, webhook_deliveries_sweep_task),
    }
    _advance(clock, worker, start + OUTAGE - dt.timedelta(seconds=1), things)
    assert len(leads) == OUTAGE // EVENT_EVERY == 30

    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "pk"))
    limit = settings.WEBHOOKS_DISABLE_AFTER_FAILURES
    # Retried on the documented schedule: each delivery's attempts are the retry delays apart, to the second.
    by_delivery = defaultdict(list)
    for when, delivery_id in attempts:
        by_delivery[delivery_id].append(when)
    assert len(attempts) == limit and not receiver.accepted()
    for delivery in deliveries:
        times = by_delivery.get(str(delivery.event_id), [])
        assert times[:1] in ([], [delivery.created_at])  # the first attempt as the event happened
        gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
        assert gaps == settings.WEBHOOKS_RETRY_DELAYS[:len(gaps)], (delivery.pk, gaps)
    # Disabled at the documented count, at the moment of the last failed attempt; both owners told, once.
    disabled_at = attempts[-1][0]
    assert not endpoint.is_active and endpoint.consecutive_failures == limit
    assert endpoint.disabled_reason.startswith(f"Disabled automatically after {limit} failed deliveries in a row")
    assert endpoint.updated_at == disabled_at
    notices = Notification.objects.filter(brokerage=tenant.brokerage, kind="webhook_disabled")
    assert sorted(notice.recipient_id for notice in notices) == sorted([tenant.owner.pk, second_owner.pk])
    assert {notice.url for notice in notices} == {reverse("brokerages:webhook", args=[endpoint_id])}
    assert AuditLog.objects.filter(action="webhook.endpoint_disabled", resource_id=str(endpoint_id)).count() == 1
    # Nothing lost: every lead's event is stored for the endpoint, those after the disabling held unsent.
    assert [delivery.payload["data"]["lead"]["id"] for delivery in deliveries] == [lead.pk for lead in leads]
    assert all(delivery.status == "failed" for delivery in deliveries)
    held = [delivery for delivery in deliveries if delivery.created_at > disabled_at]
    assert held and all(delivery.attempts == 0 and delivery.error == HELD_ERROR for delivery in held)
    page = _owner_page(tenant, endpoint_id)
    assert f"{len(leads)} events are kept for this receiver" in page
    record_property("failed_attempts", len(attempts))
    record_property("disabled_after_s", (disabled_at - start).total_seconds())
    record_property("events_before_disable", len(deliveries) - len(held))
    record_property("events_held", len(held))

    # The receiver is back. The owner checks it with a test event, enables the endpoint, redelivers the rest.
    clock.now = start + OUTAGE
    receiver.up()
    assert api.post(f"/api/brokerage/webhooks/{endpoint_id}/ping").status_code == 202
    worker.run_due()
    assert list(receiver.accepted()) and set(receiver.accepted("ping")) == set(receiver.accepted())
    assert api.patch(f"/api/brokerage/webhooks/{endpoint_id}", {"is_active": True}, format="json").json()[
        "is_active"]
    assert f"Redeliver {len(leads)} missed events" in _owner_page(tenant, endpoint_id)
    again = api.post(f"/api/brokerage/webhooks/{endpoint_id}/redeliver-failed")
    assert (again.status_code, again.json()) == (202, {"queued": len(leads), "remaining": 0})
    worker.run_due()

    # Every event of the hour arrived exactly once, with the id it was stored with; a repeat sends nothing.
    assert receiver.accepted("lead.created") == Counter(str(delivery.event_id) for delivery in deliveries)
    assert api.post(f"/api/brokerage/webhooks/{endpoint_id}/redeliver-failed").json() == {"queued": 0,
                                                                                          "remaining": 0}
    assert "missed event" not in _owner_page(tenant, endpoint_id)
    # New events flow again as they happen.
    make_lead(tenant.brokerage, agent=tenant.agent, actor=tenant.agent, name="After the outage")
    worker.run_due()
    assert sum(receiver.accepted("lead.created").values()) == len(leads) + 1


def _owner_page(tenant, endpoint_id: int) -> str:
    client = Client()
    client.force_login(tenant.owner)
    response = client.get(reverse("brokerages:webhook", args=[endpoint_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_an_endpoint_an_owner_disabled_keeps_nothing_and_missed_events_go_in_batches(tenant, drill, monkeypatch):
    clock, receiver, worker, attempts = drill
    api = api_as(tenant.owner)
    created = api.post("/api/brokerage/webhooks", {"url": receiver.url, "events": ["lead.created"]},
                       format="json").json()
    receiver.secret, endpoint_id = created["secret"], created["id"]
    # Disabled by its owner: the feed is stopped on purpose, and no events are kept for it.
    api.patch(f"/api/brokerage/webhooks/{endpoint_id}", {"is_active": False}, format="json")
    make_lead(tenant.brokerage, agent=tenant.agent, name="While paused")
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint_id).exists()
    refused = api.post(f"/api/brokerage/webhooks/{endpoint_id}/redeliver-failed")
    assert refused.status_code == 400 and "enable it before redelivering" in refused.json()["error"]["message"]

    # Disabled by failures, five events kept; redelivered two at a time.
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=settings.WEBHOOKS_DISABLE_AFTER_FAILURES)
    leads = [make_lead(tenant.brokerage, agent=tenant.agent, name=f"Kept {n}") for n in range(5)]
    api.patch(f"/api/brokerage/webhooks/{endpoint_id}", {"is_active": True}, format="json")
    monkeypatch.setattr("brokerages.webhooks.services.REDELIVER_BATCH", 2)
    answers = [api.post(f"/api/brokerage/webhooks/{endpoint_id}/redeliver-failed").json() for _ in range(4)]
    assert answers == [{"queued": 2, "remaining": 3}, {"queued": 2, "remaining": 1}, {"queued": 1, "remaining": 0},
                       {"queued": 0, "remaining": 0}]
    worker.run_due()
    assert len(receiver.accepted("lead.created")) == len(leads)
    sent = [delivery.payload["data"]["lead"]["id"] for delivery in WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, redelivery_of__isnull=False).order_by("pk")]
    assert sent == [lead.pk for lead in leads]  # oldest first
    assert AuditLog.objects.filter(action="webhook.failed_redelivered", resource_id=str(endpoint_id)).count() == 3
