"""Loopback load test (issue 10 target: under 200 concurrent clients for 60 s, bounded, the error rate is 0 and no
request takes over 1 s).

Production shape: Daphne subprocesses (DEBUG off, static files from WhiteNoise) on the benchmark's test database,
with PostgreSQL and Redis (`make bench-services`): SERVERS processes, one per core, the clients spread over them
round robin as a load balancer would; the Redis channel layer, cache (API throttling) and Celery broker, on a
Redis database of this benchmark's own (no worker runs: queued tasks wait, as they would for a busy worker).

Data, built once in bulk (written in autocommit so the servers see it): BROKERAGES brokerages, each with owners
and agents; every agent holds LEADS_PER_AGENT leads (object permissions, stage history, interactions; some
forgotten, so the real nurture sweep drafted their follow-ups), PAST_CONVERSATIONS ended conversations of
Dubai agent-lead talk analysed by the local engine, alerts, a coaching session for every other agent; each
brokerage has the demo handbook imported and 90 days of performance rollups.

Clients: one asyncio task per client, one keep-alive connection each (tests/bench/loadgen.py), signed in as a
member the way a browser is (a session cookie; a member token for API calls), or anonymous:
- an agent opens the lead list (filters, a page, a search), a lead, the follow-up queue and the live coaching
  page; logs a conversation line by line through the live page's htmx form (the alert path: analysis, alerts,
  group_send), starting a new conversation when the last one is done; searches the knowledge base from the
  search box (htmx); calls API lists with their token;
- an owner loads the dashboard, the lead list, the team page, the conversation list and the dashboard API;
- anonymous probes load the sign-in page and a static asset, and are turned away by a page (302) and the API
  (401).
"Bounded": every client paces itself — its next request is due THINK_S (0.5-1.5x, at random) after the
previous one was due, with a random phase; one request at a time, so a slow answer delays it, and how late
requests went out is reported (a client that cannot keep its pace shows overload rather than hiding it).
THINK_S is 10 s: a person at the screen opens a page or logs a line of a call every few seconds to a minute,
and 200 of them every 10 s offer 20 requests/s. What the servers sustain is measured after the paced run and
reported, not asserted: the same 200 clients back to back for SATURATION_S (a closed loop; its throughput is
the machine's capacity for this mix, and at 1 request/s per client, 200/s, the 2-core VM is past it).
One request in BASELINE_EVERY of every client is the baseline: GET /healthz, answered by the first middleware,
which under the same load measures the server's queueing and the framework's fixed cost.

Before the clients start, one agent, one owner and one visitor go through every action on each server (the
first requests of a process pay for imports and template compiling; production servers are long warm), then
on one server alone for each kind's idle median; the clients arrive in batches and pace themselves for
WARMUP_S before the measured DURATION_S.

Every answer must have its expected status (200, or the 302/401 above) and a connection error or a 10 s
timeout is an error: the target is 0 errors and a maximum latency under 1 s, over every request of the run
(latency: from writing the request to reading the last byte). The notes give median, p95, p99 and max per
kind of request and per 10 s of the run, the throughput achieved, the messages logged and alerts raised, and
each kind's median for one client on an idle server.

On the embedded default (SQLite, in-memory channel layer: one Daphne process, as the in-memory layer cannot
cross processes) the same run is reported as informational: the target is set for the production shape, and
the number says whether the one-machine default carries the same 200 people.

BENCH_LOAD_SECONDS and BENCH_LOAD_THINK_S change the duration and the pace (for a short run while developing,
or to find where the target breaks); the result's description names both.
"""

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest

from tests import live

from .loadgen import Connection, LoadError, Response
from .timing import BenchResult, Stats

BROKERAGES = 4
AGENTS_PER_BROKERAGE = 45
OWNERS_PER_BROKERAGE = 3
ANONYMOUS = 8
CLIENTS = BROKERAGES * (AGENTS_PER_BROKERAGE + OWNERS_PER_BROKERAGE) + ANONYMOUS  # 200
SERVERS = 2
DURATION_S = int(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WARMUP_S = 10
WINDOW_S = 10
SATURATION_S = 10
THINK_S = float(os.environ.get("BENCH_LOAD_THINK_S", "10"))
BASELINE_EVERY = 10
IDLE_ROUNDS = 5
LIMIT_MAX_MS = 1000.0
LEADS_PER_AGENT = 60
INTERACTIONS_PER_LEAD = 2
PAST_CONVERSATIONS = 8
SCRIPTS_PER_AGENT = 4
REDIS_DB = 11  # the servers' own Redis database: their queued tasks reach no other benchmark's worker
STAGES = ("new", "contacted", "qualified", "viewing", "offer", "won", "lost")
SOURCES = ("website", "portal", "portal", "referral", "social", "walk_in", "call")
AREAS = ("Dubai Marina", "Downtown Dubai", "Business Bay", "JVC", "Palm Jumeirah", "Dubai Hills Estate")
FIRST = ("Aisha", "Omar", "Fatima", "Rashid", "Priya", "James", "Elena", "Hassan", "Mariam", "Vikram", "Sophie")
LAST = ("Al Mansoori", "Haddad", "Sharma", "Khan", "Williams", "Petrova", "Nair", "Rahman", "Chen", "Kapoor")
SEARCHES = ("commission split", "ejari registration", "mortgage pre-approval", "price objection",
            "service charges", "golden visa", "title deed", "open house", "form b buyer agreement", "trakheesi")
LEAD_FILTERS = ("", "?stage=qualified", "?page=2", "?q=haddad", "?source=portal", "?stage=contacted&page=2")
AGENT_API = ("/api/nurturing/leads", "/api/nurturing/followups", "/api/coaching/alerts",
             "/api/coaching/conversations", "/api/knowledge/search?q=")
OWNER_API = ("/api/brokerage/dashboard", "/api/nurturing/leads?stage=offer", "/api/brokerage/team")
DAY = dt.timedelta(days=1)


# --- data -------------------------------------------------------------------------------------------------------

@dataclass
class Member:
    role: str  # "agent" or "owner"
    cookies: dict[str, str]  # the browser's after signing in: the session
    token: str  # member API token
    leads: list[int] = field(default_factory=list)  # an agent's own leads
    conversation: int | None = None  # the call an agent is logging when the test starts
    rest: list[tuple[str, str]] = field(default_factory=list)  # its lines still to come
    scripts: list[list[tuple[str, str]]] = field(default_factory=list)  # the conversations after it


def _members(brokerage, role: str, count: int, now: dt.datetime) -> list:
    """Members in bulk, in their role group (hashing 200 passwords would take a minute; they sign in below)."""
    from django.contrib.auth.models import Group

    from brokerages.models import User
    from brokerages.permissions import role_group_name

    users = User.objects.bulk_create([
        User(email=f"{role}{n}@{brokerage.slug}.test", full_name=f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]} {n}",
             brokerage=brokerage,
             role=role, hire_date=(now - (200 + 9 * n) * DAY).date(), password="!") for n in range(count)])
    group = Group.objects.get(name=role_group_name(brokerage, role))
    User.groups.through.objects.bulk_create([User.groups.through(user_id=user.pk, group_id=group.pk)
                                             for user in users])
    return users


def _leads(brokerage, agents, rng: random.Random, now: dt.datetime) -> dict[int, list[int]]:
    """LEADS_PER_AGENT leads per agent with their stage history, interactions and the agent's object
    permission; about a fifth were last contacted weeks ago (the sweep's forgotten leads). Returns lead ids by
    agent id."""
    from django.contrib.auth.models import Permission

    from nurturing.models import Interaction, Lead, LeadUserObjectPermission, StageChange

    leads = []
    for agent in agents:
        for n in range(LEADS_PER_AGENT):
            created = now - rng.uniform(1, 180) * DAY
            stage = rng.choice(STAGES)
            contacted = None if stage == "new" else min(created + rng.uniform(0.01, 2) * DAY, now)
            last = contacted
            if contacted is not None:
                quiet = rng.uniform(21, 60) if rng.random() < 0.2 else rng.uniform(0.1, 10)
                last = max(contacted, now - quiet * DAY)
            budget = Decimal(rng.randint(8, 90) * 100_000)
            leads.append(Lead(
                brokerage=brokerage, assigned_agent=agent, name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                email=f"lead{agent.pk}-{n}@example.test", phone=f"+9715{rng.randint(10000000, 99999999)}",
                source=rng.choice(SOURCES), stage=stage, priority=rng.choice(("low", "medium", "high")),
                budget_min=budget, budget_max=budget * Decimal("1.2"), areas=[rng.choice(AREAS)],
                created_at=created, stage_changed_at=last or created, furthest_stage=stage,
                first_contacted_at=contacted, last_contacted_at=last, marketing_consent=rng.random() < 0.7,
                sale_price=budget if stage == "won" else None,
                commission=(budget * Decimal("0.02")).quantize(Decimal("0.01")) if stage == "won" else None,
                lost_reason="Budget did not match the market" if stage == "lost" else ""))
    Lead.objects.bulk_create(leads, batch_size=2000)
    permission = Permission.objects.get(codename="work_lead")
    LeadUserObjectPermission.objects.bulk_create([
        LeadUserObjectPermission(user=lead.assigned_agent, permission=permission, content_object=lead)
        for lead in leads], batch_size=2000)
    StageChange.objects.bulk_create([
        change for lead in leads for change in (
            StageChange(brokerage=brokerage, lead=lead, from_stage="", to_stage="new", changed_at=lead.created_at),
            *([StageChange(brokerage=brokerage, lead=lead, from_stage="new", to_stage=lead.stage,
                           changed_at=lead.stage_changed_at, changed_by=lead.assigned_agent)]
              if lead.stage != "new" else []))], batch_size=5000)
    Interaction.objects.bulk_create([
        Interaction(brokerage=brokerage, lead=lead, agent=lead.assigned_agent, channel=rng.choice(("call", "whatsapp")),
                    occurred_at=lead.first_contacted_at + k * (lead.last_contacted_at - lead.first_contacted_at),
                    summary=f"Talked through {lead.areas[0]} options and the budget.")
        for lead in leads if lead.first_contacted_at for k in range(INTERACTIONS_PER_LEAD)], batch_size=5000)
    by_agent: dict[int, list[int]] = defaultdict(list)
    for lead in leads:
        by_agent[lead.assigned_agent_id].append(lead.pk)
    return by_agent


def _skill(rng: random.Random) -> dict[str, float]:
    from coaching.analysis.types import AREAS as SKILL_AREAS

    return {area: rng.uniform(0.2, 0.9) for area in SKILL_AREAS}


def _coaching(brokerage, owner, agents, leads: dict[int, list[int]], rng: random.Random, now: dt.datetime) -> int:
    """PAST_CONVERSATIONS ended conversations per agent over the last 30 days, composed and analysed as the demo's
    are (coaching.demo_conversations, the local engine), their messages and the alerts of the coached agents'
    findings; a coaching session for every other agent (alerts on the live path). Returns the alerts made."""
    from coaching.analysis.local import analyse
    from coaching.demo_conversations import compose
    from coaching.models import CoachingAlert, CoachingSession, Conversation, Intensity, Message
    from coaching.selectors.conversations import as_history

    sessions = {agent.pk: CoachingSession(
        brokerage=brokerage, agent=agent, started_by=owner, started_at=now - 40 * DAY,
        intensity=(Intensity.MODERATE, Intensity.INTENSIVE, Intensity.CRITICAL)[n % 3])
        for n, agent in enumerate(agents) if n % 2 == 0}
    CoachingSession.objects.bulk_create(sessions.values())
    conversations, transcripts, analyses = [], [], []
    for agent in agents:
        skill = _skill(rng)
        for n in range(PAST_CONVERSATIONS):
            started = now - (n * 3 + rng.uniform(0.1, 2.5)) * DAY
            lines = compose(rng, skill, rng.choice(FIRST))
            rows = [(i + 1, speaker, text, started + i * dt.timedelta(seconds=40)) for i, (speaker, text)
                    in enumerate(lines)]
            analysis = analyse(as_history(rows), final=True)
            conversations.append(Conversation(
                brokerage=brokerage, agent=agent, lead_id=rng.choice(leads[agent.pk]), channel="call",
                session=sessions.get(agent.pk), started_at=started, ended_at=rows[-1][3], message_count=len(rows),
                analysis=analysis.to_dict(), quality_score=analysis.overall_quality_score, analysis_engine="local"))
            transcripts.append(rows)
            analyses.append(analysis)
    Conversation.objects.bulk_create(conversations, batch_size=1000)
    Message.objects.bulk_create([
        Message(brokerage=brokerage, conversation=conversation, position=position, speaker=speaker, text=text,
                sent_at=sent_at)
        for conversation, rows in zip(conversations, transcripts, strict=True)
        for position, speaker, text, sent_at in rows], batch_size=5000)
    alerts = [CoachingAlert(brokerage=brokerage, agent=conversation.agent, conversation=conversation,
                            session=conversation.session, alert_type="CONVERSATION_REVIEW", area=finding.area,
                            code=finding.code, title=finding.title, text=finding.message,
                            suggested_action=finding.suggested_action,
                            priority={"critical": "CRITICAL", "high": "HIGH", "low": "LOW"}.get(finding.severity,
                                                                                              "MEDIUM"),
                            created_at=conversation.ended_at,
                            acknowledged_at=conversation.ended_at if rng.random() < 0.6 else None)
              for conversation, analysis in zip(conversations, analyses, strict=True) if conversation.session
              for finding in analysis.findings if not finding.positive]
    CoachingAlert.objects.bulk_create(alerts, batch_size=2000)
    return len(alerts)


def _calls_in_progress(brokerage, agents, leads: dict[int, list[int]], rng: random.Random, now: dt.datetime
                       ) -> dict[int, tuple[int, list[tuple[str, str]]]]:
    """Every agent is in the middle of a call they log on the live page: an open conversation holding the first
    half of a composed one (with its live analysis; no alerts yet, so the first line logged raises what the
    coached agents have earned so far). Returns (conversation id, the lines still to come) by agent id."""
    from coaching.analysis.local import analyse
    from coaching.demo_conversations import compose
    from coaching.models import CoachingSession, Conversation, Message
    from coaching.selectors.conversations import as_history

    sessions = {session.agent_id: session for session in
                CoachingSession.objects.filter(brokerage=brokerage, status=CoachingSession.Status.ACTIVE)}
    calls, transcripts = [], []
    for agent in agents:
        lines = compose(rng, _skill(rng), rng.choice(FIRST))
        started = now - dt.timedelta(minutes=5)
        rows = [(i + 1, speaker, text, started + i * dt.timedelta(seconds=20))
                for i, (speaker, text) in enumerate(lines[:len(lines) // 2])]
        calls.append(Conversation(brokerage=brokerage, agent=agent, lead_id=rng.choice(leads[agent.pk]),
                                  channel="call", session=sessions.get(agent.pk), started_at=started,
                                  message_count=len(rows), analysis=analyse(as_history(rows), final=False).to_dict(),
                                  analysis_engine="local"))
        transcripts.append((rows, lines[len(lines) // 2:]))
    Conversation.objects.bulk_create(calls)
    Message.objects.bulk_create([
        Message(brokerage=brokerage, conversation=call, position=position, speaker=speaker, text=text,
                sent_at=sent_at)
        for call, (rows, _) in zip(calls, transcripts, strict=True) for position, speaker, text, sent_at in rows])
    return {call.agent_id: (call.pk, rest) for call, (_, rest) in zip(calls, transcripts, strict=True)}


def _sign_in(user) -> dict[str, str]:
    """The cookies a browser holds after signing in (the login view's `login()`, without the password hashing
    that a bulk-made member has no password for)."""
    from django.test import Client, override_settings

    # The session is signed, and the user's hash in it keyed, with the servers' secret key.
    with override_settings(SECRET_KEY=live.SECRET_KEY):
        client = Client()
        client.force_login(user)
    return {name: morsel.value for name, morsel in client.cookies.items()}


def _brokerage(number: int, rng: random.Random, now: dt.datetime) -> tuple[list[Member], dict]:
    from django.utils import timezone
    from django_scopes import scope
    from rest_framework.authtoken.models import Token

    from analytics.services.rollup import brokerage_zone, performance_rollup
    from brokerages.models import Role
    from coaching.demo_conversations import compose
    from copilot.demo import handbook_files
    from copilot.services import articles_import
    from nurturing.models import FollowUp
    from nurturing.services.sweeps import nurture_sweep
    from tests.factories import BrokerageFactory

    brokerage = BrokerageFactory(name=f"Bench Load Realty {number}", slug=f"bench-load-{number}")
    owners = _members(brokerage, Role.BROKERAGE_OWNER, OWNERS_PER_BROKERAGE, now)
    agents = _members(brokerage, Role.AGENT, AGENTS_PER_BROKERAGE, now)
    leads = _leads(brokerage, agents, rng, now)
    alerts = _coaching(brokerage, owners[0], agents, leads, rng, now)
    calls = _calls_in_progress(brokerage, agents, leads, rng, now)
    with scope(brokerage=brokerage):
        report = articles_import(brokerage=brokerage, actor=None, files=handbook_files())
        assert not report.errors, report.errors
        nurture_sweep(brokerage=brokerage, now=now)  # the follow-up queue's drafts
    today = timezone.localdate(now, brokerage_zone(brokerage))
    performance_rollup(brokerage=brokerage, since=today - 89 * DAY, until=today)
    tokens = {token.user_id: token.key for token in Token.objects.bulk_create(
        [Token(user=user, key=Token.generate_key()) for user in [*owners, *agents]])}
    members = [Member("owner", _sign_in(owner), tokens[owner.pk]) for owner in owners]
    members += [Member("agent", _sign_in(agent), tokens[agent.pk], leads=leads[agent.pk],
                       conversation=calls[agent.pk][0], rest=calls[agent.pk][1],
                       scripts=[compose(rng, _skill(rng), rng.choice(FIRST)) for _ in range(SCRIPTS_PER_AGENT)])
                for agent in agents]
    counts = {"leads": sum(len(ids) for ids in leads.values()), "past_alerts": alerts,
              "followup_drafts": FollowUp.objects.filter(brokerage=brokerage).count(),
              "knowledge_articles": len(report.created)}
    return members, counts


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from django.db import connection
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from .conftest import _assert_test_database

    rng, now = random.Random(10), timezone.now()
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        started = time.perf_counter()
        members, totals = [], defaultdict(int)
        for number in range(1, BROKERAGES + 1):
            made, counts = _brokerage(number, rng, now)
            members += made
            for key, value in counts.items():
                totals[key] += value
        with connection.cursor() as cursor:
            # What autovacuum does after a bulk load (planner statistics, the visibility map).
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        dataset = {"brokerages": BROKERAGES, "owners": BROKERAGES * OWNERS_PER_BROKERAGE,
                   "agents": BROKERAGES * AGENTS_PER_BROKERAGE, **totals,
                   "past_conversations": BROKERAGES * AGENTS_PER_BROKERAGE * PAST_CONVERSATIONS,
                   "calls_in_progress": BROKERAGES * AGENTS_PER_BROKERAGE, "rollup_days": 90,
                   "build_seconds": round(time.perf_counter() - started, 1)}
    yield {"members": members, "dataset": dataset}


@pytest.fixture(scope="module")
def servers(world, tmp_path_factory):
    """SERVERS Daphne processes with Redis (one per core, as production runs N behind a load balancer); one on
    the embedded default, whose in-memory channel layer cannot cross processes."""
    from django.conf import settings

    extra_env = {"VAR_DIR": str(tmp_path_factory.mktemp("load-var"))}  # the embedded broker's queue folder
    if settings.REDIS_URL:
        extra_env["REDIS_URL"] = live.redis_database(REDIS_DB)
    with ExitStack() as stack:
        yield [stack.enter_context(live.daphne("config.asgi:application", tmp_path_factory.mktemp("daphne"),
                                               probe_path="/healthz", extra_env=extra_env))
               for _ in range(SERVERS if settings.REDIS_URL else 1)]


# --- clients ----------------------------------------------------------------------------------------------------

@dataclass
class Recording:
    """What the clients saw in one phase: latencies (ms) by kind ("" is the baseline), errors, and how late each
    request went out against its client's pace."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    requests: int = 0  # sent, failed ones included
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    windows: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # by WINDOW_S from start

    def add(self, kind: str, response: Response) -> None:
        self.samples[kind].append(response.elapsed_ms)
        self.windows[int((response.started - self.started) // WINDOW_S)].append(response.elapsed_ms)

    def timeline(self) -> list[list[float]]:
        """[requests, median ms, max ms] of each WINDOW_S of the run: a stall shows as one bad window, overload
        as a trend."""
        return [[len(values), round(statistics.median(values), 1), round(max(values), 1)]
                for _, values in sorted(self.windows.items())]


class Client:
    """One simulated person on one keep-alive connection. `run` sends its requests until `stop_at`, paced or
    back to back; answers go to `recording` (without one, an error fails the test at once: the warm-up and the
    idle pass must be clean)."""

    def __init__(self, index: int, port: int, member: Member | None):
        self.port, self.member = port, member
        self.role = member.role if member else "anonymous"
        self.rng = random.Random(index)
        self.connection = Connection(port, cookies=dict(member.cookies) if member else {})
        self.count = index  # staggers the baseline among clients
        self.recording: Recording | None = None
        self.csrf = ""
        self.static_path = ""
        self.conversation = member.conversation if member else None
        self.script = list(member.rest) if member else []
        actions = {"agent": self.AGENT, "owner": self.OWNER, "anonymous": self.ANONYMOUS}[self.role]
        self.actions = [getattr(self, name) for name, _ in actions]
        self.weights = [weight for _, weight in actions]

    async def setup(self) -> None:
        """What the browser did before: an agent has the live coaching page open (its CSRF cookie); an anonymous
        visitor has the sign-in page (the stylesheet it links)."""
        if self.role == "agent":
            await self.live_page()
            self.csrf = self.connection.cookies.get("csrftoken", "")
            assert self.csrf, "the live coaching page set no CSRF cookie"
        elif self.role == "anonymous":
            page = await self._call("anonymous: sign-in page", "GET", "/accounts/login/")
            marker = page.body.index(b'href="/static/') + len(b'href="')
            self.static_path = page.body[marker:page.body.index(b'"', marker)].decode()

    async def run(self, stop_at: float, think_s: float) -> None:
        """Requests until `stop_at`: the next one due think_s x 0.5-1.5 after the previous one was due (0: back
        to back, a closed loop)."""
        due = time.perf_counter() + self.rng.uniform(0, think_s)
        while due < stop_at:
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            now = time.perf_counter()
            if now >= stop_at:
                return
            if self.recording is not None and think_s:
                self.recording.lateness_ms.append(max(0.0, now - due) * 1000)
            due += think_s * self.rng.uniform(0.5, 1.5)
            self.count += 1
            if self.count % BASELINE_EVERY == 0:
                await self._call("", "GET", "/healthz")
            else:
                await self.rng.choices(self.actions, weights=self.weights)[0]()

    async def _call(self, kind: str, method: str, path: str, *, expect: int = 200, headers: dict | None = None,
                    form: dict | None = None) -> Response | None:
        headers = dict(headers or {})
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST":
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        if self.recording is not None:
            self.recording.requests += 1
        try:
            response = await self.connection.request(method, path, headers, body)
        except LoadError as error:
            self._error(f"{kind or 'baseline'}: {method} {path}: {error}")
            return None
        if self.recording is not None:
            self.recording.add(kind, response)
        if response.status != expect:
            self._error(f"{kind or 'baseline'}: {method} {path}: {response.status} (expected {expect}) "
                        f"{response.body[:300]!r}")
            return None
        return response

    def _error(self, text: str) -> None:
        if self.recording is None:
            raise AssertionError(f"outside the measured runs: {text}")
        self.recording.errors.append(text)

    def _api(self, kind: str, path: str):
        return self._call(kind, "GET", path, headers={"Authorization": f"Token {self.member.token}"})

    # -- an agent's day
    AGENT = (("leads_page", 3), ("lead", 3), ("followups", 2), ("live_page", 1), ("log_message", 4),
             ("knowledge_search", 2), ("agent_api", 3))

    async def leads_page(self):
        await self._call(f"{self.role}: lead list", "GET", "/leads/" + self.rng.choice(LEAD_FILTERS))

    async def lead(self):
        await self._call("agent: a lead", "GET", f"/leads/{self.rng.choice(self.member.leads)}/")

    async def followups(self):
        await self._call("agent: follow-up queue", "GET", "/followups/")

    async def live_page(self):
        await self._call("agent: live coaching page", "GET", f"/coaching/?conversation={self.conversation}")

    async def log_message(self):
        """The next line of the call being logged; when the call is over, the next one is started."""
        if not self.script:
            await self._start_conversation()
            return
        speaker, text = self.script.pop(0)
        await self._call("agent: log a message (htmx)", "POST",
                         f"/coaching/conversations/{self.conversation}/messages/",
                         form={"speaker": speaker, "text": text},
                         headers={"HX-Request": "true", "X-CSRFToken": self.csrf,
                                  "HX-Current-URL": f"http://127.0.0.1:{self.port}/coaching/"
                                                    f"?conversation={self.conversation}"})

    async def _start_conversation(self):
        response = await self._call("agent: start conversation", "POST", "/coaching/conversations/start/",
                                    expect=302, form={"csrfmiddlewaretoken": self.csrf, "channel": "call",
                                                      "lead": self.rng.choice(self.member.leads)})
        if response is None:
            return
        location = response.header("location")
        if "conversation=" not in location:
            self._error(f"agent: start conversation: redirected to {location!r}, no conversation started")
            return
        self.conversation = int(location.split("conversation=")[1])
        self.script = list(self.member.scripts[self.count % len(self.member.scripts)])
        await self.live_page()  # the browser follows the redirect

    async def knowledge_search(self):
        await self._call("agent: knowledge search (htmx)", "GET", "/knowledge/?q=" + quote(self.rng.choice(SEARCHES)),
                         headers={"HX-Request": "true"})

    async def agent_api(self):
        path = self.rng.choice(AGENT_API)
        await self._api("agent: API list", path + (quote(self.rng.choice(SEARCHES)) if path.endswith("=") else ""))

    # -- an owner's
    OWNER = (("dashboard", 4), ("leads_page", 2), ("team", 1), ("conversations", 1), ("owner_api", 2))

    async def dashboard(self):
        await self._call("owner: dashboard", "GET", "/analytics/")

    async def team(self):
        await self._call("owner: team page", "GET", "/brokerage/team/")

    async def conversations(self):
        await self._call("owner: conversation list", "GET", "/coaching/conversations/")

    async def owner_api(self):
        await self._api("owner: API", self.rng.choice(OWNER_API))

    # -- anonymous visitors
    ANONYMOUS = (("sign_in_page", 2), ("static_asset", 2), ("page_signed_out", 1), ("api_signed_out", 1))

    async def sign_in_page(self):
        await self._call("anonymous: sign-in page", "GET", "/accounts/login/")

    async def static_asset(self):
        await self._call("anonymous: static asset", "GET", self.static_path)

    async def page_signed_out(self):
        await self._call("anonymous: page, signed out (302)", "GET", "/leads/", expect=302)

    async def api_signed_out(self):
        await self._call("anonymous: API, no credentials (401)", "GET", "/api/nurturing/leads", expect=401)


def _clients(ports: list[int], members: list[Member]) -> list[Client]:
    people = [*members, *[None] * ANONYMOUS]
    random.Random(10).shuffle(people)  # roles interleaved, so each server gets its share of each
    return [Client(index, ports[index % len(ports)], member) for index, member in enumerate(people)]


async def _walk(port: int, members: list[Member], rounds: int, recording: Recording | None) -> None:
    """One agent, one owner and one anonymous visitor in turn, each doing every action of theirs `rounds`
    times, one request at a time."""
    for role in ("agent", "owner", None):
        client = Client(0, port, next((member for member in members if member.role == role), None))
        await client.setup()
        client.recording = recording
        for _ in range(rounds):
            await client._call("", "GET", "/healthz")
            for action in client.actions:
                await action()
        await client.connection.close()


async def _idle(ports: list[int], members: list[Member]) -> dict[str, float]:
    """Each kind's median for one client with nothing else running (what a request costs the server)."""
    recording = Recording()
    await _walk(ports[0], members, IDLE_ROUNDS, recording)
    assert not recording.errors, recording.errors
    return {kind or "baseline: GET /healthz": round(statistics.median(values), 1)
            for kind, values in sorted(recording.samples.items())}


async def _drive(clients: list[Client], seconds: float, think_s: float, recording: Recording | None) -> Recording:
    for client in clients:
        client.recording = recording
    started = recording.started if recording is not None else time.perf_counter()
    await asyncio.gather(*(client.run(started + seconds, think_s) for client in clients))
    if recording is not None:
        recording.seconds = time.perf_counter() - started
    return recording


async def _session(ports: list[int], members: list[Member]) -> dict:
    from django.utils import timezone

    for port in ports:  # each process's first requests of every kind (imports, templates, connection pool)
        await _walk(port, members, 2, None)
    idle = await _idle(ports, members)
    clients = _clients(ports, members)
    for first in range(0, len(clients), 20):  # people arrive over a moment, not all in one instant
        await asyncio.gather(*(client.setup() for client in clients[first:first + 20]))
    await _drive(clients, WARMUP_S, THINK_S, None)
    since = timezone.now()
    paced = await _drive(clients, DURATION_S, THINK_S, Recording())
    until = timezone.now()
    closed = await _drive(clients, SATURATION_S, 0, Recording())
    for client in clients:
        await client.connection.close()
    return {"idle": idle, "paced": paced, "closed": closed, "since": since, "until": until}


def _summary(values: list[float]) -> list[float]:
    """[median, p95, p99, max] in ms."""
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return [round(statistics.median(values), 1), round(cuts[94], 1), round(cuts[98], 1), round(max(values), 1)]


@dataclass
class LoadResult(BenchResult):
    """The issue's target is on the slowest request and on errors, not on the p95: `limit_p95_ms` holds the limit
    on the maximum, `met` needs the maximum under it and no error, and the JSON names the metric "max_ms"."""

    errors: int = 0

    @property
    def met(self) -> bool:
        return self.errors == 0 and self.target.max_ms < self.limit_p95_ms

    def line(self) -> str:
        return (f"{self.description} ({self.database}): median {self.target.median_ms:.1f} ms, "
                f"p95 {self.target.p95_ms:.1f} ms, p99 {self.notes['p99_ms']:.1f} ms, max {self.target.max_ms:.1f} ms, "
                f"{self.errors} errors of {self.rounds} requests, {self.notes['throughput_rps']} req/s; baseline "
                f"{self.baseline_name} median {self.baseline.median_ms:.2f} ms; target max < {self.limit_p95_ms:g} ms "
                f"and 0 errors: {'MET' if self.met else 'MISSED'}"
                f"{' (informational, not asserted)' if self.informational else ''}")

    def publish(self):
        path = super().publish()
        payload = json.loads(path.read_text())
        payload["target"]["metric"] = "max_ms"
        path.write_text(json.dumps(payload, indent=2) + "\n")
        return path


def _by_kind(recording: Recording) -> tuple[dict[str, list[float]], list[float], list[float]]:
    """Latencies by kind, the baseline's, and every request but the baseline's."""
    by_kind = {kind: values for kind, values in recording.samples.items() if kind}
    return by_kind, recording.samples[""], [ms for values in by_kind.values() for ms in values]


@pytest.mark.django_db
def test_two_hundred_concurrent_clients_for_a_minute(world, servers, deferred_test_transaction):
    from django.conf import settings
    from django.db import connection
    from django_scopes import scopes_disabled

    from coaching.models import CoachingAlert, Message

    from .conftest import database_label

    measured = asyncio.run(_session(servers, world["members"]))
    paced, closed = measured["paced"], measured["closed"]
    by_kind, baseline, target = _by_kind(paced)
    _, closed_baseline, closed_target = _by_kind(closed)
    with scopes_disabled():
        during = {"created_at__gte": measured["since"], "created_at__lt": measured["until"]}
        messages = Message.objects.filter(**during).count()
        alerts = CoachingAlert.objects.filter(**during).count()
    services = connection.vendor == "postgresql" and bool(settings.REDIS_URL)
    result = LoadResult(
        issue=10, name=f"load_{CLIENTS}_clients_{'services' if services else 'embedded'}",
        description=f"{CLIENTS} concurrent clients for {DURATION_S} s, one request per ~{THINK_S:g} s each "
                    "(members' pages, htmx, API): slowest request and errors",
        database=database_label() + (", redis" if settings.REDIS_URL else ", in-memory channel layer"),
        target=Stats.of(target), baseline_name="GET /healthz in the same load", baseline=Stats.of(baseline),
        limit_p95_ms=LIMIT_MAX_MS, rounds=paced.requests, errors=len(paced.errors),
        informational=not services,  # the target is set for the production shape
        dataset=world["dataset"],
        notes={"servers": f"{len(servers)} Daphne process(es) (subprocesses), DEBUG off, clients round robin",
               "clients": {role: sum(member.role == role for member in world["members"])
                           for role in ("agent", "owner")} | {"anonymous": ANONYMOUS},
               "auth": "session cookie for pages (htmx posts with the CSRF token), member token for the API",
               "pace": f"each client: next request due {THINK_S:g} s x uniform(0.5, 1.5) after the previous was "
                       "due, one at a time",
               "offered_rps": round(CLIENTS / THINK_S, 1), "throughput_rps": round(paced.requests / paced.seconds, 1),
               "p99_ms": _summary(target)[2], "errors": len(paced.errors), "error_samples": paced.errors[:20],
               "overall_median_p95_p99_max_ms": _summary(target),
               "by_kind_requests_median_p95_p99_max_ms": {kind: [len(values), *_summary(values)]
                                                          for kind, values in sorted(by_kind.items())},
               "baseline_median_p95_p99_max_ms": _summary(baseline),
               f"timeline_{WINDOW_S}s_requests_median_max_ms": paced.timeline(),
               "send_lateness_median_p99_max_ms": [round(statistics.median(paced.lateness_ms), 1),
                                                   *_summary(paced.lateness_ms)[2:]],
               "one_client_idle_median_ms": measured["idle"],
               "messages_logged": messages, "alerts_raised": alerts,
               "closed_loop_informational": {
                   "clients": CLIENTS, "seconds": SATURATION_S,
                   "throughput_rps": round(closed.requests / closed.seconds, 1), "errors": len(closed.errors),
                   "error_samples": closed.errors[:5], "median_p95_p99_max_ms": _summary(closed_target),
                   "baseline_median_ms": round(statistics.median(closed_baseline), 1)},
               "seconds": DURATION_S, "warmup_s": WARMUP_S},
    )
    result.publish()
    assert messages and alerts, f"the run logged {messages} messages and raised {alerts} alerts"
    assert result.met or result.informational, result.line() + "\n" + "\n".join(paced.errors[:10])
