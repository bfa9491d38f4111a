"""Issue 10 drill: Redis stops while an agent is connected, then comes back (`make test-services` runs it).

A Daphne process and a Celery worker run on PostgreSQL and a Redis server of this test's own (channel layer,
broker and cache), with an agent's socket open and a webhook endpoint subscribed to coaching alerts. Redis is
killed (SIGKILL). While it is down:

- the agent's socket is closed with 4503 ("unavailable: reconnect"), and a reconnect gets the same answer, so
  the client keeps trying instead of sitting on a socket no alert can reach; the agent's live coaching page (in
  Chromium) says it is reconnecting;
- pages (home, leads, live coaching) and the API (lists, a new conversation, messages that raise a coaching
  alert) answer 2xx, each within `OUTAGE_ANSWER_LIMIT`: the rate limit lets requests through uncounted, the
  alert push and the webhook task's enqueue fail after the commit without failing the request;
- the alert is stored: the API lists it.

Redis is started again on the same port, empty (as a replacement server would be). Then:

- the reconnecting socket gets the alert raised during the outage with its tray, and so does the open page,
  without a reload;
- the webhook delivery whose enqueue failed is queued from the web process's backlog and the worker, which
  reconnected by itself, delivers it: nothing was lost;
- a new alert reaches the socket live and its webhook is delivered (a task queued after the return runs);
- the rate limit counts again (429 past the limit), and the outage was logged once, not per request.

The timings are printed (`pytest -s`).
"""

import time

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from brokerages.keys import api_key_create
from brokerages.models import Role, WebhookDelivery
from coaching.consumers import CLOSE_UNAVAILABLE
from coaching.models import CoachingAlert, CoachingSession, Intensity
from tests import live
from tests.factories import BrokerageFactory, UserFactory, make_lead
from tests.reliability.processes import (
    Client,
    WebhookReceiver,
    browser_page,
    frames_until,
    latency_summary,
    live_session,
    redis_server,
    socket_connect,
)

pytestmark = pytest.mark.django_db(transaction=True)

# A price objection answered defensively and without market data: the local analyser flags it, and a CRITICAL
# session alerts on it.
LEAD_LINE = "This asking price is too high, similar flats in Dubai Marina sold for less."
AGENT_LINE = "Take it or leave it, that's the price and the owner won't budge."
OUTAGE_ANSWER_LIMIT = 2.5  # seconds, for every page and API answer while Redis is down
RECOVERY_LIMIT = 60.0  # seconds for each thing that must come back after Redis does
# How long Redis stays down while pages and the API are used: past the throttle's and the enqueue backlog's
# retry periods, and long enough for the worker's reconnection attempts to back off.
OUTAGE_SECONDS = 20.0
USER_RATE = 30  # API requests per minute per member in the processes, so the drill can cross it


def _conversation(api: Client, agent, lead) -> int:
    answer = api.post("/api/coaching/conversations", {"agent_id": agent.pk, "lead_id": lead.pk, "channel": "call"})
    assert answer.status == 201, answer.text
    return answer.json()["id"]


def _coach(api: Client, conversation: int) -> list[int]:
    """Post the two lines; returns the ids of the alerts the answers report."""
    alerts = []
    for speaker, text in (("lead", LEAD_LINE), ("agent", AGENT_LINE)):
        answer = api.post(f"/api/coaching/conversations/{conversation}/messages", {"speaker": speaker, "text": text})
        assert answer.status == 201, answer.text
        alerts += [alert["alert_id"] for alert in answer.json()["alerts"]]
    assert alerts, "the fumbled objection raised no alert"
    return alerts


def _closed_code(socket, timeout: float) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket.recv(timeout=timeout)
    return closed.value.rcvd.code if closed.value.rcvd else 1006


def _reconnect(port: int, token: str, deadline: float):
    """Connect until a socket is accepted and sends its tray (during an outage it is closed with 4503)."""
    while time.monotonic() < deadline:
        try:
            socket = socket_connect(port, token, timeout=5)
        except (OSError, InvalidHandshake):
            time.sleep(0.25)
            continue
        try:
            return socket, frames_until(socket, lambda frame: frame["event_type"] == "COACHING_TRAY", timeout=10)
        except (ConnectionClosed, TimeoutError):
            socket.close()
            time.sleep(0.25)
    raise AssertionError("the socket did not reconnect in time")


def test_pages_api_and_alerts_survive_a_redis_outage(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    with scopes_disabled():
        brokerage = BrokerageFactory(name="Outage Drill Realty")
        owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@outage.test")
        agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email="agent@outage.test")
        lead = make_lead(brokerage, agent=agent)
        CoachingSession.objects.create(brokerage=brokerage, agent=agent, intensity=Intensity.CRITICAL)
        _, key = api_key_create(brokerage=brokerage, actor=owner, name="drill", scopes=["brokerages:write"])
        token = Token.objects.create(user=agent).key
    session = live_session(agent)
    receiver = WebhookReceiver()
    (tmp_path / "redis").mkdir()
    timings: dict[str, float] = {}
    with redis_server(tmp_path / "redis") as redis:
        env = {"REDIS_URL": redis.url, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
               "API_USER_THROTTLE_RATE": f"{USER_RATE}/min"}
        worker_dir, web_dir = tmp_path / "worker", tmp_path / "daphne"
        worker_dir.mkdir()
        web_dir.mkdir()
        try:
            with live.celery_worker(worker_dir, extra_env=env), \
                    live.daphne("config.asgi:application", web_dir, probe_path="/healthz", extra_env=env) as port, \
                    browser_page(port, session) as page:
                api = Client(port, authorization=f"Token {token}")
                pages = Client(port, session=session)
                owner_api = Client(port, authorization=f"Bearer {key}")
                endpoint = owner_api.post("/api/brokerage/webhooks", {"url": receiver.url, "events": ["coaching.alert"]})
                assert endpoint.status == 201, endpoint.text

                # Before: live frames and webhooks work.
                page.goto("/coaching/")
                status = page.locator("#coaching-ws-status")
                expect(status).to_have_text("Live")
                page.evaluate("window.__drillSamePage = true")
                socket, _tray = _reconnect(port, token, time.monotonic() + 30)
                before = _coach(api, _conversation(api, agent, lead))
                frames_until(socket, lambda f: f["event_type"] == "COACHING_ALERT" and f["data"]["alert_id"] in before,
                             timeout=15)
                receiver.wait_for_alerts(before, timeout=RECOVERY_LIMIT)

                # Redis stops.
                redis.kill()
                killed = time.monotonic()
                assert _closed_code(socket, timeout=30) == CLOSE_UNAVAILABLE
                timings["socket closed after kill"] = time.monotonic() - killed
                expect(status).to_have_text("Live coaching paused: reconnecting…")
                pages.answers.clear()
                api.answers.clear()
                outage_alerts = []
                rounds = 0
                while rounds < 3 or time.monotonic() - killed < OUTAGE_SECONDS:
                    rounds += 1
                    for path in ("/", "/leads/", "/coaching/"):
                        answer = pages.get(path)
                        assert answer.status == 200, (path, answer.status, answer.text[:500])
                    for path in ("/api/nurturing/leads", "/api/coaching/alerts?acknowledged=false"):
                        answer = api.get(path)
                        assert answer.status == 200, (path, answer.status, answer.text[:500])
                    outage_alerts += _coach(api, _conversation(api, agent, lead))
                    time.sleep(1)  # an agent's pace, not a load test
                listed = api.get("/api/coaching/alerts?acknowledged=false&page_size=100").json()["results"]
                assert set(outage_alerts) <= {alert["alert_id"] for alert in listed}
                with pytest.raises(ConnectionClosed) as refused, socket_connect(port, token) as retry:
                    retry.recv(timeout=10)
                assert refused.value.rcvd.code == CLOSE_UNAVAILABLE
                with scopes_disabled():
                    waiting = list(WebhookDelivery.objects.filter(endpoint_id=endpoint.json()["id"],
                                                                  payload__data__alert__id__in=outage_alerts)
                                   .values_list("pk", flat=True))
                assert len(waiting) == len(outage_alerts)
                outage = pages.answers + api.answers
                slow = [(answer.status, round(answer.seconds, 2)) for answer in outage
                        if answer.seconds > OUTAGE_ANSWER_LIMIT]
                assert not slow, slow

                # Redis comes back, empty, on the same port.
                redis.start()
                restarted = time.monotonic()
                socket, tray = _reconnect(port, token, restarted + RECOVERY_LIMIT)
                timings["socket reconnected with missed alerts"] = time.monotonic() - restarted
                assert set(outage_alerts) <= {alert["alert_id"] for alert in tray["data"]["alerts"]}
                expect(page.locator(f"#coaching-alert-{outage_alerts[-1]}")).to_be_visible(
                    timeout=RECOVERY_LIMIT * 1000)
                timings["page showed missed alerts"] = time.monotonic() - restarted
                expect(status).to_have_text("Live")
                receiver.wait_for_alerts(outage_alerts, timeout=RECOVERY_LIMIT)
                timings["webhooks held during the outage delivered"] = time.monotonic() - restarted

                after = _coach(api, _conversation(api, agent, lead))
                raised = time.monotonic()
                frames_until(socket, lambda f: f["event_type"] == "COACHING_ALERT" and f["data"]["alert_id"] in after,
                             timeout=15)
                timings["live frame after the return"] = time.monotonic() - raised
                expect(page.locator(f"#coaching-alert-{after[0]}")).to_be_visible()
                assert page.evaluate("window.__drillSamePage") is True, "the page was reloaded"
                receiver.wait_for_alerts(after, timeout=RECOVERY_LIMIT)
                timings["webhook queued after the return delivered"] = time.monotonic() - raised
                socket.close()

                limited = None
                deadline = time.monotonic() + RECOVERY_LIMIT
                while limited is None and time.monotonic() < deadline:
                    answer = api.get("/api/coaching/alerts?page_size=1")
                    if answer.status == 429:
                        limited = answer
                assert limited is not None, "the rate limit never counted again"
                assert int(limited.headers["retry-after"]) >= 1
                timings["rate limit counting again"] = time.monotonic() - restarted
        finally:
            receiver.close()
    web_log = (web_dir / "daphne.log").read_text()
    assert web_log.count("API rate limits are not enforced") == 1, "the throttle's outage is logged once"
    assert web_log.count("API rate limits are counted again") == 1
    for delivery in waiting:
        assert f"brokerages.tasks.webhook_deliver_task(delivery_id={delivery}) not queued" in web_log
        assert f"brokerages.tasks.webhook_deliver_task(delivery_id={delivery}) queued" in web_log
    with scopes_disabled():
        assert CoachingAlert.objects.filter(pk__in=outage_alerts).count() == len(outage_alerts)
        assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.json()["id"]).exclude(
            status=WebhookDelivery.Status.SUCCEEDED).exists()
    print(f"\nRedis outage drill: {len(outage_alerts)} alerts raised during a {OUTAGE_SECONDS:g} s outage; answers "
          f"then {latency_summary([a.seconds for a in outage])}; "
          + "; ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
