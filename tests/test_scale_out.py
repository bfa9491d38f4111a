"""Issue 9, scale-out: nothing relies on the state of one process. Two Daphne processes (A and B) and two Celery
workers share PostgreSQL and a private Redis database (channel layer, broker and cache), as N web processes
behind a load balancer and M workers would (`make test-services` runs it):

- a coaching alert raised by a request served by A reaches the agent's sockets on B (and their other tab on A),
  and its escalation reaches the owner's socket on B;
- an alert raised by a Celery task (the model-backed review a conversation's end queues) reaches a socket on B;
- the periodic nurture sweep queued twice at once, as two beat processes would, drafts for every lead exactly
  once while both workers really run it at the same time.
"""

import ast
import asyncio
import datetime as dt
import html
import http.client
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from brokerages.models import AuditLog, Notification, Role
from brokerages.services import settings_update
from coaching.models import CoachingAlert, CoachingSession, Intensity
from nurturing.models import AutomationRun, FollowUp, Lead
from nurturing.services.automations import automation_create
from nurturing.services.sweeps import SWEEP_LOCK_NAMESPACE
from tests import live
from tests.copilot.fake_llm_server import FakeLLMServer, Reply, anthropic_message
from tests.factories import BrokerageFactory, UserFactory, make_lead

PROBE_PATH = "/api/brokerage/profile"
SWEEP_ALL = "nurturing.tasks.sweeps.nurture_sweep_all"
FRAME_TIMEOUT = 15.0
WORKER_TIMEOUT = 60.0
DAY = dt.timedelta(days=1)
# Celery's line for a finished task, whatever the log format (a text line, or the message of a JSON one).
SWEPT = re.compile(r"nurture_sweep_brokerage\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\{[^{}]*\})")
DEEP_ANALYSED = re.compile(r"conversation_analyse_deep\[[0-9a-f-]+\] succeeded")

# The lead's price objection, then the fumbled answer the local analyser flags as defensive (critical) and
# short of market data (medium).
LEAD_LINE = "This asking price is too high, similar flats in Dubai Marina sold for less."
AGENT_LINE = "Take it or leave it, that's the price and the owner won't budge."

MODEL_FINDING = {
    "area": "market_expertise", "code": "comparables_never_offered", "severity": "high",
    "title": "Recent sales in the building were never offered",
    "message": "The lead compared prices; the agent answered without a single recent sale.",
    "suggested_action": "Send the last three sales in the building with their prices per square foot.",
    "evidence": [AGENT_LINE], "message_number": 2,
}
MODEL_ANSWER = {
    "scores": {"lead_qualification": 40, "property_presentation": None, "objection_handling": 15, "closing": 30,
               "market_expertise": 20},
    "expertise": {"pricing_valuation": 20, "neighbourhood_knowledge": None, "financing": None,
                  "regulation_process": None, "investment": None},
    "findings": [MODEL_FINDING],
}


def _private_redis() -> str:
    """A Redis database no other test process uses, so no other worker takes these tasks and no other test's
    socket shares these groups. Databases 0 (the suite) and 9 (the integration walkthrough) are taken; pytest-xdist
    may hand this module's tests to several workers, each starting processes of its own: gw0 gets 8, gw1 10, …"""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    database = 8 if worker == 0 else 9 + worker
    if database > 15:
        raise RuntimeError(f"no private Redis database left for xdist worker gw{worker} (Redis has 16)")
    return live.redis_database(database)


@dataclass
class Cluster:
    a: int  # Daphne A's port
    b: int  # Daphne B's port
    worker_logs: list[Path]
    model: FakeLLMServer

    def worker_context(self) -> str:
        return "\n".join(f"--- {log.parent.name} ---\n{log.read_text()[-3000:]}" for log in self.worker_logs)


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory):
    """Daphne A and B and two workers, every one given the same private Redis database and the fake model
    server (the brokerages that pick Claude reach it). Started once for the module: the processes keep no data
    between tests, each test commits its own."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    redis.Redis.from_url(_private_redis()).flushdb()  # tasks left queued by an interrupted run
    model = FakeLLMServer()
    model.start()
    env = {"REDIS_URL": _private_redis(), "ANTHROPIC_API_KEY": "scale-test-key", "ANTHROPIC_MODEL": "claude-test",
           "ANTHROPIC_BASE_URL": model.base_url, "LLM_TIMEOUT_SECONDS": "10", "LLM_MAX_RETRIES": "0"}
    logs = [tmp_path_factory.mktemp(name) for name in ("worker-1", "worker-2", "daphne-a", "daphne-b")]
    try:
        with ExitStack() as processes:
            # Workers first: they get ready while the web processes start.
            worker_logs = [processes.enter_context(live.celery_worker(log_dir, extra_env=env))
                           for log_dir in logs[:2]]
            a, b = (processes.enter_context(live.daphne("config.asgi:application", log_dir, probe_path=PROBE_PATH,
                                                         extra_env=env)) for log_dir in logs[2:])
            yield Cluster(a=a, b=b, worker_logs=worker_logs, model=model)
    finally:
        model.stop()


# --- clients ----------------------------------------------------------------------------------------------------

def _api(port: int, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        client.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        response = client.getresponse()
        data = response.read()
    finally:
        client.close()
    return response.status, json.loads(data) if data else {}


class Socket:
    """A client of /ws/coaching/ on one process, authenticated with a member token as `?token=`. It keeps every
    frame it read, so a failure shows what did arrive."""

    def __init__(self, ws, name: str):
        self.ws, self.name = ws, name
        self.frames: list[str] = []
        self._unclaimed: list[str] = []  # read while waiting for another frame

    @classmethod
    async def open(cls, port: int, token: str, name: str, *, as_json: bool = False) -> "Socket":
        from websockets.asyncio.client import connect

        query = f"token={token}" + ("&format=json" if as_json else "")
        ws = await connect(f"ws://127.0.0.1:{port}/ws/coaching/?{query}", ping_interval=None, proxy=None,
                           open_timeout=FRAME_TIMEOUT)
        socket = cls(ws, name)
        await socket.next(lambda frame: True, "the tray")
        return socket

    async def next(self, wanted: Callable[[str], bool], what: str, timeout: float = FRAME_TIMEOUT) -> str:
        """The first frame not returned yet that is `wanted`, waiting for it up to `timeout`."""
        for frame in self._unclaimed:
            if wanted(frame):
                self._unclaimed.remove(frame)
                return frame
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frame = await self.ws.recv()
                    self.frames.append(frame)
                    if wanted(frame):
                        return frame
                    self._unclaimed.append(frame)
        except TimeoutError:
            seen = "\n".join(frame[:300] for frame in self.frames) or "(none)"
            raise AssertionError(f"{self.name}: no frame with {what} within {timeout:.0f} s; frames:\n{seen}") \
                from None

    async def settle(self) -> None:
        """Read until the answer to a ping, so frames pushed before it are in `frames`."""
        await self.ws.send(json.dumps({"action": "ping"}))
        await self.next(lambda frame: '"event_type": "PONG"' in frame or 'data-state="live"' in frame, "the pong")

    async def close(self) -> None:
        await self.ws.close()


def _json_event(event_type: str, **payload) -> Callable[[str], bool]:
    def wanted(frame: str) -> bool:
        data = json.loads(frame)
        return data["event_type"] == event_type and all(data["data"].get(k) == v for k, v in payload.items())
    return wanted


def _html_alert(alert_id: int, conversation_id: int, *, escalation: bool = False) -> Callable[[str], bool]:
    element = f'id="coaching-{"escalation" if escalation else "alert"}-{alert_id}"'
    return lambda frame: element in frame and f'data-conversation="{conversation_id}"' in frame


# --- data -------------------------------------------------------------------------------------------------------

@dataclass
class Team:
    owner_token: str
    agent_token: str
    agent_name: str


def _team(name: str, intensity: str, **brokerage_settings) -> Team:
    brokerage = BrokerageFactory(name=name)
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email=f"owner@{brokerage.slug}.test")
    agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent@{brokerage.slug}.test")
    if brokerage_settings:
        settings_update(brokerage=brokerage, actor=owner, values=brokerage_settings)
    CoachingSession.objects.create(brokerage=brokerage, agent=agent, started_by=owner, intensity=intensity)
    return Team(owner_token=Token.objects.create(user=owner).key, agent_token=Token.objects.create(user=agent).key,
                agent_name=agent.display_name)


def _live_conversation(port: int, team: Team) -> tuple[int, list[dict]]:
    """A call posted to `port` line by line, as a phone system would; its id and the alerts the answer raised."""
    status, conversation = _api(port, team.agent_token, "POST", "/api/coaching/conversations", {"channel": "call"})
    assert status == 201, conversation
    messages = f"/api/coaching/conversations/{conversation['id']}/messages"
    status, body = _api(port, team.agent_token, "POST", messages, {"speaker": "lead", "text": LEAD_LINE})
    assert status == 201, body
    status, body = _api(port, team.agent_token, "POST", messages, {"speaker": "agent", "text": AGENT_LINE})
    assert status == 201, body
    return conversation["id"], body["alerts"]


def _until(condition: Callable[[], bool], what: str, context: Callable[[], str], timeout: float = WORKER_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{context()}")
        time.sleep(0.1)


# --- alerts across processes ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_alert_raised_by_a_request_on_one_process_reaches_sockets_held_by_another(cluster):
    team = _team("Scale Out Realty", Intensity.CRITICAL)

    async def scenario():
        agent_b = await Socket.open(cluster.b, team.agent_token, "agent on B", as_json=True)
        agent_a = await Socket.open(cluster.a, team.agent_token, "agent's other tab on A")
        owner_b = await Socket.open(cluster.b, team.owner_token, "owner on B")
        try:
            conversation_id, alerts = await asyncio.to_thread(_live_conversation, cluster.a, team)
            assert {alert["priority"] for alert in alerts} == {"CRITICAL", "MEDIUM"}, alerts
            for alert in alerts:
                frame = json.loads(await agent_b.next(_json_event("COACHING_ALERT", alert_id=alert["alert_id"]),
                                                      f"alert {alert['alert_id']}"))
                assert frame["data"] == alert  # what the request on A answered is what B pushed
                assert frame["data"]["conversation_id"] == conversation_id
                await agent_a.next(_html_alert(alert["alert_id"], conversation_id), f"alert {alert['alert_id']}")
            [critical] = [alert for alert in alerts if alert["escalated"]]
            escalation = await owner_b.next(_html_alert(critical["alert_id"], conversation_id, escalation=True),
                                            "the escalation")
            assert html.escape(critical["title"]) in escalation and html.escape(team.agent_name) in escalation
            for socket in (agent_b, agent_a, owner_b):
                await socket.settle()
            return alerts, agent_b.frames, agent_a.frames, owner_b.frames
        finally:
            for socket in (agent_b, agent_a, owner_b):
                await socket.close()

    alerts, agent_b_frames, agent_a_frames, owner_frames = asyncio.run(scenario())
    # Each tab shows each alert once, and the owner's escalation list gets only the escalated one.
    for alert in alerts:
        assert sum(map(_json_event("COACHING_ALERT", alert_id=alert["alert_id"]), agent_b_frames)) == 1
        assert sum(f'id="coaching-alert-{alert["alert_id"]}"' in frame for frame in agent_a_frames) == 1
    assert sum("coaching-escalation-" in frame for frame in owner_frames) == 1


@pytest.mark.django_db(transaction=True)
def test_an_alert_raised_by_the_worker_reaches_a_socket_on_a_web_process(cluster):
    team = _team("Scale Review Realty", Intensity.INTENSIVE, ai_provider="anthropic")
    cluster.model.script(Reply(body=anthropic_message(json.dumps(MODEL_ANSWER))))

    async def scenario():
        agent_b = await Socket.open(cluster.b, team.agent_token, "agent on B")
        try:
            conversation_id, live_alerts = await asyncio.to_thread(_live_conversation, cluster.a, team)
            assert live_alerts, "the live lines raise alerts on A first"
            # Ending the call on A queues the model-backed review; a worker runs it and raises its alert.
            status, ended = await asyncio.to_thread(
                _api, cluster.a, team.agent_token, "POST", f"/api/coaching/conversations/{conversation_id}/end", {})
            assert status == 200 and ended["ended_at"], ended
            frame = await agent_b.next(
                lambda frame: MODEL_FINDING["title"] in frame and f'data-conversation="{conversation_id}"' in frame,
                "the model's finding", timeout=WORKER_TIMEOUT)
            await agent_b.settle()
            return conversation_id, frame, agent_b.frames
        finally:
            await agent_b.close()

    conversation_id, frame, frames = asyncio.run(scenario())
    # The push leaves on commit, before the task ends: wait for its end, so nothing of it outlives the test.
    _until(lambda: any(DEEP_ANALYSED.search(log.read_text()) for log in cluster.worker_logs),
           "the deep analysis task done", cluster.worker_context)
    context = cluster.worker_context()
    review = CoachingAlert.objects.get(conversation_id=conversation_id, code=MODEL_FINDING["code"])
    assert review.alert_type == CoachingAlert.AlertType.CONVERSATION_REVIEW, context
    assert f'id="coaching-alert-{review.pk}"' in frame and MODEL_FINDING["suggested_action"] in frame
    assert sum(f'id="coaching-alert-{review.pk}"' in each for each in frames) == 1
    assert len(cluster.model.requests) == 1, context  # one worker ran it, once
    status, analysis = _api(cluster.b, team.agent_token, "GET",
                            f"/api/coaching/conversations/{conversation_id}/analysis")
    assert status == 200 and (analysis["engine"], analysis["degraded"]) == ("anthropic", False), analysis


# --- the sweep, fired by two beats ------------------------------------------------------------------------------

def _lead(brokerage, agent, name: str, *, stage: str = "contacted", created_days: float = 400,
          contacted_days: float | None = None, stage_changed_days: float | None = None, **fields) -> Lead:
    """A lead made by the real service, then moved back in time."""
    fields.setdefault("phone", "+971501234567")
    lead = make_lead(brokerage, agent=agent, name=name, stage=stage, **fields)
    now = timezone.now()
    values = {"created_at": now - created_days * DAY}
    if contacted_days is not None:
        values.update(last_contacted_at=now - contacted_days * DAY, first_contacted_at=now - contacted_days * DAY)
    if stage_changed_days is not None:
        values["stage_changed_at"] = now - stage_changed_days * DAY
    Lead.objects.filter(pk=lead.pk).update(**values)
    return lead


HANDWRITTEN = "Hi, checking in about the Marina flat."


def _leaky_brokerage(name: str, forgotten: int, unanswered: int, idle: int, clients: int):
    """A brokerage (default rules: forgotten after 7 days, clients inactive after 90, first reply within 5
    minutes) and the (lead name, reason) of every draft one sweep must leave, a draft written earlier included."""
    brokerage = BrokerageFactory(name=name)
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email=f"owner@{brokerage.slug}.test")
    agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent@{brokerage.slug}.test")
    expected = Counter()
    for n in range(forgotten):
        _lead(brokerage, agent, f"Forgotten {n}", contacted_days=10)
        expected[(f"Forgotten {n}", "forgotten_lead")] += 1
    for n in range(unanswered):
        _lead(brokerage, agent, f"Unanswered {n}", stage="new", created_days=1 / 24)
        expected[(f"Unanswered {n}", "forgotten_lead")] += 1
    for n in range(idle):  # past twice the forgotten period: the owners hear about these too
        _lead(brokerage, agent, f"Idle {n}", contacted_days=20)
        expected[(f"Idle {n}", "forgotten_lead")] += 1
    for n in range(clients):
        _lead(brokerage, agent, f"Client {n}", stage="won", contacted_days=200, stage_changed_days=200)
        expected[(f"Client {n}", "inactive_client")] += 1
    # Nothing is drafted for these.
    _lead(brokerage, agent, "Called Yesterday", contacted_days=1)
    _lead(brokerage, agent, "Opted Out", contacted_days=10, do_not_contact=True)
    _lead(brokerage, agent, "Lost Long Ago", stage="lost", contacted_days=60)
    drafted = _lead(brokerage, agent, "Already Drafted", contacted_days=10)
    FollowUp.objects.create(brokerage=brokerage, lead=drafted, agent=agent, reason="forgotten_lead", channel="sms",
                            content=HANDWRITTEN, suggested_send_date=timezone.localdate())
    expected[("Already Drafted", "forgotten_lead")] += 1
    return brokerage, owner, expected


def _fire_beats(times: int) -> None:
    """What `times` beat processes do when the schedule comes round: each sends the task by name."""
    for n in range(times):
        beat = Celery(f"beat-{n}", broker=_private_redis(), set_as_current=False)
        try:
            beat.send_task(SWEEP_ALL)
        finally:
            beat.close()


def _waiting_for_sweep_lock(brokerage_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
                       "AND objsubid = 2 AND NOT granted", [SWEEP_LOCK_NAMESPACE, brokerage_id])
        return cursor.fetchone()[0]


@contextmanager
def _sweep_lock(brokerage_id: int):
    """Hold the lock a sweep of the brokerage takes, so sweeps that start meanwhile queue up behind it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [SWEEP_LOCK_NAMESPACE, brokerage_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [SWEEP_LOCK_NAMESPACE, brokerage_id])


def _sweeps_done(cluster: Cluster) -> list[list[dict]]:
    """The counts each worker's brokerage sweeps returned, per worker."""
    return [[ast.literal_eval(match) for match in SWEPT.findall(log.read_text())] for log in cluster.worker_logs]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_fired_by_two_beats_at_once_drafts_for_each_lead_once(cluster):
    crowded, owner, expected = _leaky_brokerage("Sweep Crowded Realty", forgotten=12, unanswered=3, idle=2, clients=3)
    automation_create(brokerage=crowded, actor=owner, name="Tag quiet leads",
                      trigger_conditions={"trigger": "idle", "idle_days": 7},
                      actions=[{"type": "add_tag", "tag": "quiet"}])
    quiet, _, quiet_expected = _leaky_brokerage("Sweep Quiet Realty", forgotten=2, unanswered=0, idle=0, clients=1)

    # Both fan-outs queue a sweep of each brokerage. While the crowded brokerage's sweep lock is held, the worker
    # that takes one of its sweeps waits inside it; once both workers wait there, both sweeps are under way at
    # the same moment, and the lock is let go.
    with _sweep_lock(crowded.pk):
        _fire_beats(2)
        _until(lambda: _waiting_for_sweep_lock(crowded.pk) == 2, "both workers inside a sweep of one brokerage",
               cluster.worker_context)
    _until(lambda: sum(map(len, _sweeps_done(cluster))) == 4, "four brokerage sweeps done", cluster.worker_context)

    for brokerage, wanted in ((crowded, expected), (quiet, quiet_expected)):
        drafts = Counter(FollowUp.objects.filter(brokerage=brokerage).values_list("lead__name", "reason"))
        assert drafts == wanted, brokerage.name
        assert AuditLog.objects.filter(brokerage=brokerage, action="nurturing.swept").count() == 1
    assert FollowUp.objects.get(brokerage=crowded, lead__name="Already Drafted").content == HANDWRITTEN
    # The idle automation ran once on every open lead quiet for 7 days, opted out or not (tagging is no contact).
    runs = Counter(AutomationRun.objects.filter(brokerage=crowded).values_list("lead__name", flat=True))
    quiet_leads = [name for name, _ in expected if not name.startswith(("Unanswered", "Client"))] + ["Opted Out"]
    assert runs == Counter(quiet_leads), runs
    [notice] = Notification.objects.filter(brokerage=crowded, kind="lead_idle")
    assert notice.recipient == owner and notice.message.startswith("2 leads have had no contact for 14+ days")
    assert Lead.objects.filter(brokerage=crowded, name__startswith="Idle", escalated_at__isnull=False).count() == 2
    # One sweep of each brokerage drafted, the other found it done; both workers did sweeps.
    per_worker = _sweeps_done(cluster)
    assert all(per_worker), cluster.worker_context()
    new_drafts = sorted(counts["drafts"] for counts in sum(per_worker, []))
    assert new_drafts == sorted([0, 0, sum(expected.values()) - 1, sum(quiet_expected.values()) - 1]), new_drafts
