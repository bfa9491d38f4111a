"""Issue 10 drill: PostgreSQL drops its connections and refuses new ones for a while, then returns
(`make test-services` runs it).

A Daphne process serves the test database through its psycopg pool (settings DB_POOL). From the test's own
connection:

1. Every other backend of the database is terminated while the database keeps accepting connections (a
   restart, a failover): the next requests succeed, the pool replacing what it lost instead of handing it out.
2. A message is posted while the test holds a lock on the agent's coaching session row, so the write stops
   mid-way, its message row already inserted; the database then stops accepting connections
   (`ALTER DATABASE … ALLOW_CONNECTIONS false`) and every backend is terminated. The write in flight answers
   503 with the API's error body and leaves nothing behind: no message, no alert.
3. While the database refuses connections, pages answer the branded 503 page (no traceback, SQL, driver or
   database name), the API its JSON error body, both with Retry-After, and /readyz 503 naming the database.
4. Connections are allowed again: the same process serves pages and the API again (recovery timed), every
   request after that succeeds, and a write goes through whole.

The test database is this xdist worker's own, so nothing else is cut off. Timings are printed (`pytest -s`).
"""

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled
from psycopg import sql
from rest_framework.authtoken.models import Token

from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, Intensity, Message
from config.health import HEARTBEAT_KEY
from tests import live
from tests.factories import BrokerageFactory, UserFactory, make_conversation, make_lead
from tests.reliability.processes import Client, latency_summary, live_session, redis_server

pytestmark = pytest.mark.django_db(transaction=True)

LEAD_LINE = "This asking price is too high, similar flats in Dubai Marina sold for less."
AGENT_LINE = "Take it or leave it, that's the price and the owner won't budge."
RECOVERY_LIMIT = 60.0
OUTAGE_SECONDS = 30.0
# What a page or API answer during the outage may never show.
LEAKS = ("Traceback", "SELECT", "INSERT", "psycopg", "OperationalError", "PoolTimeout", "pg_", "postgres",
         "DATABASE", "SECRET")


def _pool_timeout() -> float:
    """How long the server's pool waits for a connection before giving up (the same settings as this process)."""
    return float(settings.DATABASES["default"]["OPTIONS"].get("pool", {}).get("timeout", 30))


def _sql(statement: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _connect(dbname: str, **options) -> psycopg.Connection:
    """A connection of the test's own besides Django's."""
    params = connection.settings_dict
    return psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"],
                           password=params["PASSWORD"], dbname=dbname, **options)


class Database:
    """The test database seen from the server's maintenance database: PostgreSQL refuses to stop connections to
    the database a session is connected to."""

    def __init__(self):
        self.name = connection.settings_dict["NAME"]
        self.admin = _connect("postgres", autocommit=True)

    def terminate_others(self, *keep: int) -> int:
        """Terminate every backend of the test database but the test's own (and `keep`); returns how many."""
        mine = _sql("SELECT pg_backend_pid()")[0][0]
        return self.admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND NOT (pid = ANY(%s))",
            (self.name, [mine, *keep])).fetchone()[0]

    def allow_connections(self, allowed: bool) -> None:
        self.admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(self.name), sql.SQL("true" if allowed else "false")))

    def close(self) -> None:
        self.admin.close()


def _wait_until_blocked(timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")[0][0]:
            return
        time.sleep(0.05)
    raise AssertionError("the write never reached the locked row")


def _readyz(port: int, redis_url: str):
    # No worker runs here: a fresh heartbeat, so that only the database's check may fail.
    redis.Redis.from_url(redis_url).set(HEARTBEAT_KEY, repr(time.time()))
    return Client(port).get("/readyz")


def _assert_clean_page(answer) -> None:
    assert answer.status == 503, (answer.status, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html")
    assert "Temporarily unavailable" in answer.text
    assert int(answer.headers["retry-after"]) > 0
    leaked = [word for word in (*LEAKS, connection.settings_dict["NAME"]) if word in answer.text]
    assert not leaked, leaked


def _assert_clean_api_error(answer) -> None:
    assert answer.status == 503, (answer.status, answer.text[:300])
    error = answer.json()["error"]
    assert error["status"] == 503 and error["code"] == "service_unavailable" and error["fields"] == {}
    assert "try it again" in error["message"]
    assert int(answer.headers["retry-after"]) > 0
    leaked = [word for word in (*LEAKS, connection.settings_dict["NAME"]) if word in answer.text]
    assert not leaked, leaked


@pytest.fixture
def fresh_pool_afterwards():
    """The drill cuts this process's pooled connections too, and its pool may have given up reconnecting while
    connections were refused: the tests after it start with a new pool."""
    yield
    connection.close()
    if connection.vendor == "postgresql" and settings.DATABASES["default"]["OPTIONS"].get("pool"):
        connection.close_pool()


def test_requests_fail_cleanly_while_the_database_is_away_and_recover(tmp_path, fresh_pool_afterwards):
    if connection.vendor != "postgresql" or not settings.DATABASES["default"]["OPTIONS"].get("pool"):
        pytest.skip("needs PostgreSQL with the connection pool: `make test-services` runs it")
    with scopes_disabled():
        brokerage = BrokerageFactory(name="Database Drill Realty")
        agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email="agent@db-drill.test")
        lead = make_lead(brokerage, agent=agent)
        session = CoachingSession.objects.create(brokerage=brokerage, agent=agent, intensity=Intensity.CRITICAL)
        in_flight = make_conversation(brokerage, agent, lead=lead, ended=False)
        later = make_conversation(brokerage, agent, lead=lead, ended=False)
        token = Token.objects.create(user=agent).key
    session_id = live_session(agent)
    timings: dict[str, float] = {}
    # A Redis of its own: the alerts this drill raises must reach no other test's sockets.
    with closing(Database()) as database, redis_server(tmp_path) as private_redis, \
            live.daphne("config.asgi:application", tmp_path, probe_path="/healthz",
                        extra_env={"REDIS_URL": private_redis.url}) as port:
        api, pages = Client(port, authorization=f"Token {token}"), Client(port, session=session_id)
        for path in ("/", "/leads/"):
            assert pages.get(path).status == 200
        assert api.get("/api/nurturing/leads").status == 200
        assert _readyz(port, private_redis.url).status == 200

        # 1. Connections dropped, database still there.
        assert database.terminate_others() >= 1
        for _ in range(5):
            for answer in (pages.get("/leads/"), api.get("/api/nurturing/leads")):
                assert answer.status == 200, (answer.status, answer.text[:300])

        # 2. A write in flight when the database goes away.
        locker = _connect(database.name)
        try:
            with locker.cursor() as cursor:
                cursor.execute(sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(
                    sql.Identifier(CoachingSession._meta.db_table)), (session.pk,))
            with ThreadPoolExecutor(max_workers=8) as pool:
                write = pool.submit(api.post, f"/api/coaching/conversations/{in_flight.pk}/messages",
                                    {"speaker": "lead", "text": LEAD_LINE})
                _wait_until_blocked()
                database.allow_connections(False)
                try:
                    database.terminate_others(locker.info.backend_pid)
                    locker.rollback()
                    cut = time.monotonic()
                    _assert_clean_api_error(write.result(timeout=60))

                    # 3. While it refuses connections.
                    outage = [pool.submit(pages.get, "/"), pool.submit(pages.get, "/leads/"),
                              pool.submit(api.get, "/api/nurturing/leads"),
                              pool.submit(api.post, f"/api/coaching/conversations/{later.pk}/messages",
                                          {"speaker": "lead", "text": LEAD_LINE})]
                    ready = _readyz(port, private_redis.url)
                    for future in outage[:2]:
                        _assert_clean_page(future.result(timeout=60))
                    for future in outage[2:]:
                        _assert_clean_api_error(future.result(timeout=60))
                    assert ready.status == 503
                    assert ready.json()["checks"]["database"]["status"] == "error"
                    assert ready.json()["checks"]["redis"]["status"] == "ok"
                    # Long enough for the pool's reconnection attempts to back off, as in a real outage.
                    while time.monotonic() - cut < OUTAGE_SECONDS:
                        more = [pool.submit(pages.get, "/leads/"), pool.submit(api.get, "/api/nurturing/leads")]
                        _assert_clean_page(more[0].result(timeout=60))
                        _assert_clean_api_error(more[1].result(timeout=60))
                        outage += more
                    timings["outage lasted"] = time.monotonic() - cut
                finally:
                    database.allow_connections(True)
        finally:
            locker.close()
        restored = time.monotonic()
        outage_answers = [write.result()] + [future.result() for future in outage]

        # 4. Back: the same process recovers.
        while api.get("/api/nurturing/leads").status != 200:
            assert time.monotonic() - restored < RECOVERY_LIMIT, "the pool never recovered"
            time.sleep(0.25)
        timings["recovery after connections were allowed"] = time.monotonic() - restored
        for _ in range(5):
            for answer in (pages.get("/"), pages.get("/leads/"), api.get("/api/coaching/alerts")):
                assert answer.status == 200, (answer.status, answer.text[:300])
        assert _readyz(port, private_redis.url).json()["checks"]["database"]["status"] == "ok"
        raised = []
        for speaker, text in (("lead", LEAD_LINE), ("agent", AGENT_LINE)):
            answer = api.post(f"/api/coaching/conversations/{in_flight.pk}/messages", {"speaker": speaker, "text": text})
            assert answer.status == 201, answer.text
            raised += answer.json()["alerts"]
        log = (tmp_path / "daphne.log").read_text()

    with scopes_disabled():
        # The write cut mid-way left nothing; the one after the return is whole.
        assert list(Message.objects.filter(conversation=in_flight).values_list("position", "speaker")) == [
            (1, "lead"), (2, "agent")]
        assert not Message.objects.filter(conversation=later).exists()
        assert CoachingAlert.objects.filter(conversation=in_flight).count() == len(raised) >= 1
    assert "Service Unavailable" in log or "OperationalError" in log, "the failures are logged for operators"
    limit = _pool_timeout() + 3
    slow = [(answer.status, round(answer.seconds, 1)) for answer in outage_answers if answer.seconds > limit]
    assert not slow, slow
    print(f"\nDatabase outage drill: answers during the outage {latency_summary([a.seconds for a in outage_answers])}"
          f" (pool timeout {_pool_timeout():g} s); " + "; ".join(f"{name} {value:.1f} s" for name, value in timings.items()))
