"""The public API under concurrent integrations (issue 8 target: list endpoints p95 <= 50 ms at 50 concurrent
clients on PostgreSQL).

A real Daphne server (a subprocess on the benchmark's test database, DEBUG off) serves the project. The data is
one brokerage with AGENTS agents and a CRM of some size: LEADS leads with INTERACTIONS interactions, follow-ups,
listings, conversations with alerts, knowledge articles, nurturing sequences. Every request is authenticated as
an integration would be: the owner's API key (every scope) in `Authorization: Bearer`.

Load: CLIENTS threads, each with its own keep-alive connection, each sending one request a second (a random
phase, so arrivals are spread like independent integrations, not in lockstep) for DURATION seconds. Each request
is one of the list endpoints (round robin, first page of 50) — or, one in BASELINE_EVERY, the baseline: the same
list route without credentials, which Django and DRF answer 401 with the standard error body before any query
(the framework's fixed cost under the same load, on the same connections). Latency is from writing the request
to reading the whole response.

The target is asserted on PostgreSQL (`make bench-services`) and reported on SQLite. Informational, not
asserted: the same 50 clients back to back with no pause (a closed loop), which shows the
server's throughput on this machine and what latency costs when the clients outrun it.
"""

import datetime as dt
import http.client
import random
import statistics
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from decimal import Decimal

import pytest

from tests import live
from .timing import BenchResult, Stats

CLIENTS = 50
SERVERS = 2
DURATION_S = 30
PERIOD_S = 1.0
BASELINE_EVERY = 5
SATURATION_S = 10
LIMIT_P95_MS = 50.0
AGENTS = 20
LEADS = 10_000
INTERACTIONS_PER_LEAD = 3
LIST_PATHS = (
    "/api/nurturing/leads",
    "/api/nurturing/leads?stage=contacted",
    "/api/nurturing/followups",
    "/api/listings",
    "/api/coaching/conversations",
    "/api/coaching/alerts",
    "/api/knowledge/articles",
    "/api/nurturing/sequences",
    "/api/brokerage/team",
)
BASELINE_PATH = "/api/nurturing/leads"


@pytest.fixture(scope="module")
def crm(django_db_setup, django_db_blocker):
    """The brokerage and its records, bulk-inserted in autocommit so the server process sees them."""
    from django.db import connection
    from django_scopes import scopes_disabled

    from brokerages.keys import api_key_create
    from brokerages.models import API_SCOPES, Role
    from coaching.models import CoachingAlert, Conversation
    from copilot.models import KnowledgeArticle
    from nurturing.models import FollowUp, Interaction, Lead, Listing, NurturingSequence
    from tests.factories import BrokerageFactory, UserFactory

    from .conftest import _assert_test_database

    rng = random.Random(8)
    now = dt.datetime.now(dt.UTC)
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        started = time.perf_counter()
        brokerage = BrokerageFactory(name="Bench API Realty", slug="bench-api")
        owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@bench-api.test")
        agents = [UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent{n}@bench-api.test")
                  for n in range(AGENTS)]
        stages = ["new", "contacted", "qualified", "viewing", "offer", "won", "lost"]
        leads = Lead.objects.bulk_create([
            Lead(brokerage=brokerage, name=f"Lead {n}", email=f"lead{n}@bench-api.test", stage=rng.choice(stages),
                 assigned_agent=agents[n % AGENTS], budget_max=Decimal(rng.randrange(800, 9000) * 1000),
                 created_at=now - dt.timedelta(minutes=n * 7))
            for n in range(LEADS)], batch_size=2000)
        Interaction.objects.bulk_create([
            Interaction(brokerage=brokerage, lead=lead, agent=lead.assigned_agent, channel="call",
                        occurred_at=now - dt.timedelta(hours=rng.randrange(1, 2000)), summary="Talked budget.")
            for lead in leads for _ in range(INTERACTIONS_PER_LEAD)], batch_size=5000)
        FollowUp.objects.bulk_create([
            FollowUp(brokerage=brokerage, lead=lead, agent=lead.assigned_agent, reason="forgotten_lead",
                     channel="email", subject="Checking in", content="Hello again.",
                     suggested_send_date=now.date())
            for lead in leads[:2000]], batch_size=2000)
        Listing.objects.bulk_create([
            Listing(brokerage=brokerage, listing_agent=agents[n % AGENTS], title=f"Listing {n}",
                    community="Dubai Marina", property_type="apartment", bedrooms=2, price=Decimal(2_000_000 + n),
                    status="draft") for n in range(300)])
        conversations = Conversation.objects.bulk_create([
            Conversation(brokerage=brokerage, agent=agents[n % AGENTS], lead=leads[n], channel="call",
                         started_at=now - dt.timedelta(hours=n), message_count=8) for n in range(1000)])
        CoachingAlert.objects.bulk_create([
            CoachingAlert(brokerage=brokerage, agent=conversation.agent, conversation=conversation,
                          area="objection_handling", code="price_objection", title="Price objection",
                          text="Acknowledge before answering.", priority="medium")
            for conversation in conversations])
        KnowledgeArticle.objects.bulk_create([
            KnowledgeArticle(brokerage=brokerage, category="Process", title=f"Article {n}",
                             content="## Step\nDo the thing.", created_by=owner) for n in range(80)])
        NurturingSequence.objects.bulk_create([
            NurturingSequence(brokerage=brokerage, name=f"Sequence {n}", sequence_type="new_lead",
                              created_by=owner) for n in range(20)])
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load: planner statistics and the visibility map (index-only
            # counts); without it the first minutes after the load are measured, not the steady state.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        _, raw_key = api_key_create(brokerage=brokerage, actor=owner, name="bench", scopes=list(API_SCOPES))
        build_seconds = time.perf_counter() - started
        dataset = {"agents": AGENTS, "leads": Lead.objects.filter(brokerage=brokerage).count(),
                   "interactions": Interaction.objects.filter(brokerage=brokerage).count(),
                   "followups": 2000, "listings": 300, "conversations": 1000, "alerts": 1000, "articles": 80,
                   "sequences": 20, "build_seconds": round(build_seconds, 1)}
    yield {"key": raw_key, "dataset": dataset}


@pytest.fixture(scope="module")
def servers(crm, tmp_path_factory):
    """SERVERS Daphne processes, one per core as production runs them (DESIGN: scale-out); the clients are
    spread over them as a load balancer would."""
    with ExitStack() as stack:
        yield [stack.enter_context(live.daphne(
            "config.asgi:application", tmp_path_factory.mktemp("daphne"), probe_path=BASELINE_PATH,
            extra_env={"API_KEY_THROTTLE_RATE": "100000/min"})) for _ in range(SERVERS)]


class _Client(threading.Thread):
    """One integration: its own keep-alive connection; `paced` sends one request a PERIOD_S (random phase),
    otherwise back to back. Records (is_baseline, ms) per request and any unexpected status."""

    def __init__(self, port: int, key: str, index: int, stop_at: float, paced: bool):
        super().__init__(daemon=True)
        self.port, self.index, self.stop_at, self.paced = port, index, stop_at, paced
        self.auth = {"Authorization": f"Bearer {key}"}
        self.samples: list[tuple[str, float]] = []
        self.errors: list[str] = []

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(self.index)
        next_at = time.perf_counter() + rng.uniform(0, PERIOD_S)
        count = self.index
        while True:
            if self.paced:
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                next_at += PERIOD_S
            if time.perf_counter() >= self.stop_at:
                break
            count += 1
            baseline = count % BASELINE_EVERY == 0
            path = BASELINE_PATH if baseline else LIST_PATHS[count % len(LIST_PATHS)]
            started = time.perf_counter()
            connection.request("GET", path, headers={} if baseline else self.auth)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != (401 if baseline else 200):
                self.errors.append(f"{path}: {response.status}")
            self.samples.append(("" if baseline else path, elapsed))
        connection.close()


def _load(ports: list[int], key: str, seconds: float, paced: bool
          ) -> tuple[dict[str, list[float]], list[float], list[str], float]:
    """Durations by list path, the baseline's, unexpected answers, and the wall time."""
    stop_at = time.perf_counter() + seconds
    clients = [_Client(ports[index % len(ports)], key, index, stop_at, paced) for index in range(CLIENTS)]
    started = time.perf_counter()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    wall = time.perf_counter() - started
    by_path: dict[str, list[float]] = defaultdict(list)
    for client in clients:
        for path, ms in client.samples:
            by_path[path].append(ms)
    baseline = by_path.pop("")
    return by_path, baseline, [error for client in clients for error in client.errors], wall


def _serial(port: int, key: str, rounds: int = 20) -> dict[str, float]:
    """Each list path's median with one client and nothing else running: what a request costs the server."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    medians = {}
    for path in LIST_PATHS:
        durations = []
        for _ in range(rounds):
            started = time.perf_counter()
            connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
            connection.getresponse().read()
            durations.append((time.perf_counter() - started) * 1000)
        medians[path] = round(statistics.median(durations), 1)
    connection.close()
    return medians


@pytest.mark.django_db
def test_list_endpoints_under_fifty_concurrent_clients(crm, servers, deferred_test_transaction):
    from django.db import connection

    from .conftest import database_label

    _load(servers, crm["key"], 3, paced=True)  # warm-up: connections, caches, the servers' first requests
    serial = _serial(servers[0], crm["key"])
    by_path, baseline, errors, wall = _load(servers, crm["key"], DURATION_S, paced=True)
    closed_by_path, closed_baseline, closed_errors, closed_wall = _load(servers, crm["key"], SATURATION_S,
                                                                        paced=False)
    assert not errors, errors[:10]
    assert not closed_errors, closed_errors[:10]
    target = [ms for durations in by_path.values() for ms in durations]
    closed = Stats.of([ms for durations in closed_by_path.values() for ms in durations])
    result = BenchResult(
        issue=8, name="api_list_endpoints_50_clients",
        description=f"API list endpoints, {CLIENTS} concurrent clients at 1 request/s each",
        database=database_label(), target=Stats.of(target),
        baseline_name="same route, no credentials (401 from Django + DRF, no query)", baseline=Stats.of(baseline),
        limit_p95_ms=LIMIT_P95_MS, rounds=len(target) + len(baseline),
        informational=connection.vendor != "postgresql",  # the target is set on PostgreSQL
        dataset=crm["dataset"],
        notes={"servers": f"{SERVERS} Daphne processes (subprocesses), DEBUG off, clients spread over them",
               "auth": "brokerage API key, every scope", "page": "first page, 50 rows",
               "one_client_median_ms": serial,
               "offered_load_rps": round((len(target) + len(baseline)) / wall, 1),
               "by_endpoint_median_p95_ms": {path: [round(statistics.median(durations), 1),
                                                    Stats.of(durations).p95_ms] for path, durations in by_path.items()},
               "closed_loop_informational": {
                   "clients": CLIENTS, "seconds": SATURATION_S,
                   "throughput_rps": round((closed.samples + len(closed_baseline)) / closed_wall, 1),
                   "median_ms": closed.median_ms, "p95_ms": closed.p95_ms,
                   "baseline_median_ms": round(statistics.median(closed_baseline), 2)}},
    )
    result.publish()
    assert result.met or result.informational, result.line()
