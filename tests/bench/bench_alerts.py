"""Message posted → coaching alert frame on the agent's socket, with 1,000 agents connected (issue 5 target: p95
<= 20 ms on the embedded default with one Daphne process; issue 9: <= 30 ms with the 1,000 sockets spread over two
Daphne processes on PostgreSQL + channels-redis).

Real Daphne servers (subprocesses on the benchmark's test database, DEBUG off, the channel layer the settings
pick) serve the project's ASGI application. On the embedded default there is one process (the in-memory layer
cannot cross processes). With REDIS_URL there are two, A and B, as behind a load balancer: the agents' sockets
alternate between them, the coached agent's socket is on B while every request goes to A, so each alert crosses
from one process to the other through Redis. 1,000 agents of one brokerage connect to /ws/coaching/ with their API
tokens (browser format: HTML fragments), and the owner connects (to A) as the manager who receives escalations. One
agent has an ACTIVE coaching session at CRITICAL intensity (every finding alerts and high/critical ones escalate:
the most work per alert).

A sample: start a live conversation through the API and post the lead's price objection (not timed), then time
`POST /api/coaching/conversations/{id}/messages` with the agent's fumbled answer, from the moment the request is
written until the alert's frame for that conversation arrives on the agent's socket. That covers the whole
path: token auth, `message_record` (row lock, incremental analysis), `alerts_raise`, commit, the on-commit
render and `group_send`, the consumer and the WebSocket frame.

Baseline in the same rounds, interleaved: a bare Channels push — an HTTP request to a raw ASGI endpoint inside
Daphne process A (no Django view, no database) that `group_send`s a one-line fragment to the agent's group,
timed the same way until the frame arrives (on B, with Redis). With the in-memory layer a push can only come from
inside the Daphne process, which is why the baseline goes through HTTP like the measured path. With Redis, a `group_send` straight
from the benchmark process is measured as well (in the notes).

This module is also the ASGI application Daphne serves (`tests.bench.bench_alerts:application`: the project's
application plus the baseline endpoint), so Django-dependent imports live inside functions: Daphne imports the
module before Django is set up.
"""

import asyncio
import http.client
import json
import time
from contextlib import ExitStack
from urllib.parse import parse_qs

import pytest

from tests import live

AGENTS = 1_000
ROUNDS = 150
WARMUP = 5
LIMIT_P95_MS = {"embedded": 20.0, "services": 30.0}
CONNECT_BATCH = 50
BARE_PUSH_PATH = "/__bench__/push"
LEAD_LINE = "Honestly the price seems too high for Dubai Marina."
AGENT_LINE = "That's the price, the owner won't move on it."

_project_application = None


async def application(scope, receive, send):
    """What Daphne serves in this benchmark: the project's ASGI application, plus the baseline's push endpoint."""
    global _project_application
    if _project_application is None:
        from config.asgi import application as project_application

        _project_application = project_application
    if scope["type"] == "http" and scope["path"] == BARE_PUSH_PATH:
        await _bare_push(scope, receive, send)
    else:
        await _project_application(scope, receive, send)


async def _bare_push(scope, receive, send):
    from channels.layers import get_channel_layer

    from coaching.realtime import agent_group

    message = await receive()
    while message.get("more_body"):
        message = await receive()
    query = parse_qs(scope["query_string"].decode())
    agent_id, mark = int(query["agent"][0]), query["mark"][0]
    await get_channel_layer().group_send(agent_group(agent_id), _bare_frame(agent_id, mark))
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _bare_frame(agent_id: int, mark: str) -> dict:
    # The consumer's own handler forwards it (alert 0 is never in a tray), as it forwards a real alert.
    return {"type": "coaching.frame", "event_type": "COACHING_ALERT", "alert_id": 0, "agent_id": agent_id,
            "html": f'<div data-bench-mark="{mark}"></div>', "payload": {"mark": mark}}


# --- data and server --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crowd(django_db_setup, django_db_blocker):
    """A brokerage with an owner and 1,000 agents holding API tokens; the first agent is coached at CRITICAL.
    Written in autocommit (outside any test transaction), so the Daphne process sees it."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django_scopes import scopes_disabled
    from rest_framework.authtoken.models import Token

    from brokerages.models import Role, User
    from brokerages.permissions import role_group_name
    from coaching.models import CoachingSession, Intensity
    from tests.factories import BrokerageFactory, UserFactory

    from .conftest import _assert_test_database

    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        started = time.perf_counter()
        brokerage = BrokerageFactory(name="Bench Coaching Realty", slug="bench-coaching")
        owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@bench-coaching.test")
        unusable = make_password(None)
        agents = User.objects.bulk_create([
            User(email=f"agent{n}@bench-coaching.test", full_name=f"Agent {n}", brokerage=brokerage,
                 role=Role.AGENT, password=unusable) for n in range(AGENTS)], batch_size=500)
        group = Group.objects.get(name=role_group_name(brokerage, Role.AGENT))
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=agent.pk, group_id=group.pk) for agent in agents], batch_size=500)
        tokens = Token.objects.bulk_create([Token(user=user, key=Token.generate_key()) for user in [owner, *agents]])
        CoachingSession.objects.create(brokerage=brokerage, agent=agents[0], started_by=owner,
                                       intensity=Intensity.CRITICAL)
        build_seconds = time.perf_counter() - started
    keys = [token.key for token in tokens]
    yield {"owner_token": keys[0], "agent_tokens": keys[1:], "coached_id": agents[0].pk,
           "build_seconds": build_seconds}


@pytest.fixture(scope="module")
def servers(crowd, tmp_path_factory):
    """The Daphne processes' ports: [A] on the in-memory layer, [A, B] with Redis."""
    from django.conf import settings

    with ExitStack() as stack:
        yield [stack.enter_context(live.daphne("tests.bench.bench_alerts:application",
                                               tmp_path_factory.mktemp(f"daphne-{name}"),
                                               probe_path="/api/coaching/conversations"))
               for name in ("a", "b")[:2 if settings.REDIS_URL else 1]]


# --- the client side --------------------------------------------------------------------------------------------

class Api:
    """One keep-alive HTTP connection, used by one request at a time; returns when the request was written."""

    def __init__(self, port: int, token: str):
        self.client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict | None = None) -> tuple[float, int, dict]:
        payload = json.dumps(body or {})
        started = time.perf_counter()
        self.client.request("POST", path, body=payload, headers=self.headers)
        response = self.client.getresponse()
        data = response.read()
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return started, response.status, json.loads(data)
        return started, response.status, {"body": data[:500].decode(errors="replace")}


async def _frame_with(ws, marker: str) -> float:
    """When the first frame containing `marker` arrived (other frames, e.g. the lead line's alerts, are skipped)."""
    while True:
        frame = await ws.recv()
        if marker in frame:
            return time.perf_counter()


async def _drain(ws) -> None:
    while True:
        try:
            await asyncio.wait_for(ws.recv(), timeout=0.05)
        except TimeoutError:
            return


async def _alert_sample(api: Api, ws) -> float:
    _, status, conversation = await asyncio.to_thread(api.post, "/api/coaching/conversations", {"channel": "call"})
    assert status == 201, conversation
    messages = f"/api/coaching/conversations/{conversation['id']}/messages"
    _, status, body = await asyncio.to_thread(api.post, messages, {"speaker": "lead", "text": LEAD_LINE})
    assert status == 201, body
    await _drain(ws)
    posting = asyncio.create_task(asyncio.to_thread(api.post, messages, {"speaker": "agent", "text": AGENT_LINE}))
    arrived = await asyncio.wait_for(_frame_with(ws, f'data-conversation="{conversation["id"]}"'), timeout=10)
    started, status, body = await posting
    assert status == 201 and body["alerts"], body
    return (arrived - started) * 1000


async def _bare_sample(api: Api, ws, agent_id: int, n: int) -> float:
    mark = f"bare-{n}"
    posting = asyncio.create_task(asyncio.to_thread(api.post, f"{BARE_PUSH_PATH}?agent={agent_id}&mark={mark}"))
    arrived = await asyncio.wait_for(_frame_with(ws, f'data-bench-mark="{mark}"'), timeout=10)
    started, status, _ = await posting
    assert status == 204
    return (arrived - started) * 1000


async def _redis_sample(ws, agent_id: int, n: int) -> float:
    """A group_send from this process through Redis (only meaningful with the Redis layer)."""
    from channels.layers import get_channel_layer

    from coaching.realtime import agent_group

    mark = f"redis-{n}"
    started = time.perf_counter()
    await get_channel_layer().group_send(agent_group(agent_id), _bare_frame(agent_id, mark))
    arrived = await asyncio.wait_for(_frame_with(ws, f'data-bench-mark="{mark}"'), timeout=10)
    return (arrived - started) * 1000


async def _run(ports: list[int], crowd: dict, with_redis: bool) -> dict:
    from websockets.asyncio.client import connect

    async def open_socket(token: str, port: int):
        ws = await connect(f"ws://127.0.0.1:{port}/ws/coaching/", ping_interval=None, proxy=None,
                           additional_headers={"Authorization": f"Token {token}"}, open_timeout=120, max_size=None)
        await ws.recv()  # the tray
        return ws

    started = time.perf_counter()
    sockets = []
    tokens = crowd["agent_tokens"]
    # The coached agent (index 0) lands on the last process, every request goes to the first.
    socket_ports = [ports[(n + len(ports) - 1) % len(ports)] for n in range(len(tokens))]
    for first in range(0, len(tokens), CONNECT_BATCH):
        batch = range(first, min(first + CONNECT_BATCH, len(tokens)))
        sockets += await asyncio.gather(*(open_socket(tokens[n], socket_ports[n]) for n in batch))
    manager = await open_socket(crowd["owner_token"], ports[0])
    connect_seconds = time.perf_counter() - started
    agent_socket, agent_id = sockets[0], crowd["coached_id"]
    api = Api(ports[0], tokens[0])
    target, baseline, redis = [], [], []
    try:
        for n in range(WARMUP + ROUNDS):
            alert_ms = await _alert_sample(api, agent_socket)
            bare_ms = await _bare_sample(api, agent_socket, agent_id, n)
            redis_ms = await _redis_sample(agent_socket, agent_id, n) if with_redis else None
            if n >= WARMUP:
                target.append(alert_ms)
                baseline.append(bare_ms)
                if redis_ms is not None:
                    redis.append(redis_ms)
        await _drain(manager)
        still_open = sum(ws.state.name == "OPEN" for ws in [*sockets, manager])
    finally:
        api.client.close()
        for first in range(0, len(sockets), CONNECT_BATCH):
            await asyncio.gather(*(ws.close() for ws in sockets[first:first + CONNECT_BATCH]))
        await manager.close()
    return {"target": target, "baseline": baseline, "redis": redis, "connect_seconds": connect_seconds,
            "open_sockets": still_open, "sockets_per_process": [socket_ports.count(port) for port in ports]}


@pytest.mark.django_db
def test_alert_latency_with_a_thousand_agents_connected(crowd, servers, deferred_test_transaction):
    from dataclasses import asdict

    from django.conf import settings
    from django.db import connection

    from .conftest import database_label
    from .timing import BenchResult, Stats

    with_redis = bool(settings.REDIS_URL)
    measured = asyncio.run(_run(servers, crowd, with_redis))
    database = database_label()
    mode = "embedded" if connection.vendor == "sqlite" and not with_redis else "services"
    layer = "redis channel layer" if with_redis else "in-memory channel layer"
    processes = ("two Daphne processes (subprocesses), DEBUG off: requests to A, the coached agent's socket on B"
                 if len(servers) == 2 else "one Daphne process (subprocess), DEBUG off")
    notes = {"server": processes, "auth": "API token per socket",
             "frames": "HTML fragments (browser format)", "intensity": "CRITICAL (alert + escalation per finding)",
             "sample": "POST agent message -> alert frame for that conversation on the agent's socket",
             "warmup_rounds": WARMUP, "connect_batch": CONNECT_BATCH,
             "server_env": "SECURE_SSL_REDIRECT=false (plain HTTP on loopback)",
             "sockets_open_at_end": "every socket, the first ones idle for the whole run, must still be open"}
    if measured["redis"]:
        notes["redis_group_send_from_bench_process"] = asdict(Stats.of(measured["redis"]))
    result = BenchResult(
        issue=5 if mode == "embedded" else 9, name=f"coaching_alert_latency_{mode}",
        description=(f"message posted -> alert frame, {AGENTS:,} agents connected"
                     + (" across two Daphne processes" if len(servers) == 2 else "")),
        database=f"{database}, {layer}", target=Stats.of(measured["target"]),
        baseline_name="bare Channels push (HTTP -> group_send -> frame)", baseline=Stats.of(measured["baseline"]),
        limit_p95_ms=LIMIT_P95_MS[mode], rounds=ROUNDS,
        dataset={"agents_connected": AGENTS, "managers_connected": 1, "sockets_open_at_end": measured["open_sockets"],
                 "agent_sockets_per_process": measured["sockets_per_process"],
                 "connect_seconds": round(measured["connect_seconds"], 1),
                 "build_seconds": round(crowd["build_seconds"], 1)},
        notes=notes,
    )
    result.publish()
    assert measured["open_sockets"] == AGENTS + 1
    assert result.met, result.line()
