"""Fault drill (issue 10): a Celery worker is killed (SIGKILL) in the middle of the hourly nurture sweep and
restarted. No lead is skipped and none gets two drafts: the end state is the one a clean sweep leaves.

Real processes on PostgreSQL and a private Redis database (tests/live.py): beat's fan-out queues one
`nurture_sweep_brokerage` per brokerage, a solo worker takes them one at a time, and it is killed while a sweep
holds its brokerage's lock, with some brokerages swept and some not. Then, as in production:

1. The worker is restarted (a supervisor does it at once). It sweeps the brokerages still queued. The killed
   sweep's message is not lost, but not back yet either: with `acks_late` it stays unacknowledged in Redis
   until the broker's visibility timeout (kombu's default, one hour) has passed since it was delivered.
2. Beat's next hourly run queues every brokerage again: the killed brokerage is swept, the others find nothing
   left to do.
3. The visibility timeout passes (time-travelled: the message's delivery time in Redis is moved back by the
   timeout) and a restarted worker takes the message back and runs the sweep again: nothing changes.

Both recovery paths are real and arrive about together in production (the sweep runs at minute 7 of each hour,
and its message comes back an hour after delivery), so the drill runs both, one after the other.

A sweep of one brokerage is one transaction: the killed one leaves nothing behind (its connection drops, and
PostgreSQL rolls it back), and the drafts' unique constraints make any repeat a no-op.
"""

import ast
import datetime as dt
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from brokerages.models import AuditLog, Notification, Role
from nurturing.models import FollowUp, Lead
from nurturing.services.sweeps import SWEEP_LOCK_NAMESPACE
from tests import live
from tests.factories import BrokerageFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP_ALL = "nurturing.tasks.sweeps.nurture_sweep_all"
SWEEP_ONE = "nurturing.tasks.sweeps.nurture_sweep_brokerage"
# A Redis database of this drill's own (0 is the suite's, 8-11 the scale-out test's, 9 the walkthrough's).
REDIS_DB = 12
BROKERAGES = 6
# Per brokerage: enough that one sweep takes a good part of a second, so the kill lands inside one.
FORGOTTEN, IDLE, CLIENTS = 1_800, 300, 500
RECENT, OPTED_OUT, LOST = 300, 50, 50
WAIT = 120.0
DAY = dt.timedelta(days=1)
SWEPT = re.compile(r"nurture_sweep_brokerage\[([0-9a-f-]+)\] succeeded in [0-9.e-]+s: (\{[^{}]*\})")


def _private_redis() -> str:
    return live.redis_database(REDIS_DB)


@pytest.fixture
def services_only():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    broker = redis.Redis.from_url(_private_redis())
    broker.flushdb()  # anything an interrupted run left
    yield broker
    broker.flushdb()
    broker.close()


def _brokerage(number: int) -> tuple[int, int, Counter]:
    """A brokerage with the default rules (forgotten after 7 days, clients quiet after 90) and its leads,
    bulk-inserted; returns its id, its owner's id and the (lead id, reason) of every draft a sweep must leave."""
    brokerage = BrokerageFactory(name=f"Sweep Drill Realty {number}")
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email=f"owner@{brokerage.slug}.test")
    agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent@{brokerage.slug}.test")
    now = timezone.now()
    kinds = ([("forgotten", "contacted", 10, False)] * FORGOTTEN + [("idle", "qualified", 20, False)] * IDLE
             + [("client", "won", 200, False)] * CLIENTS + [("recent", "contacted", 1, False)] * RECENT
             + [("opted out", "contacted", 10, True)] * OPTED_OUT + [("lost", "lost", 60, False)] * LOST)
    Lead.objects.bulk_create([
        Lead(brokerage=brokerage, assigned_agent=agent, name=f"{kind.title()} {n}", phone="+971501234567",
             stage=stage, furthest_stage=stage, do_not_contact=opted_out, created_at=now - 400 * DAY,
             first_contacted_at=now - days * DAY, last_contacted_at=now - days * DAY,
             stage_changed_at=now - days * DAY)
        for n, (kind, stage, days, opted_out) in enumerate(kinds)], batch_size=2_000)
    expected = Counter()
    for lead_id, name in Lead.objects.filter(brokerage=brokerage).values_list("pk", "name"):
        if name.startswith(("Forgotten", "Idle")):
            expected[(lead_id, "forgotten_lead")] += 1
        elif name.startswith("Client"):
            expected[(lead_id, "inactive_client")] += 1
    return brokerage.pk, owner.pk, expected


def _drafts(brokerage_id: int) -> Counter:
    return Counter(FollowUp.objects.filter(brokerage_id=brokerage_id).values_list("lead_id", "reason"))


def _swept(brokerage_ids: list[int]) -> list[int]:
    """The brokerages that have drafts (a sweep commits all of a brokerage's drafts at once, or none)."""
    return list(FollowUp.objects.filter(brokerage_id__in=brokerage_ids).order_by().values_list("brokerage_id",
                                                                                                 flat=True).distinct())


def _sweep_in_flight() -> int | None:
    """The brokerage whose sweep holds its lock now (inside its transaction), if any."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 "
                       "AND granted", [SWEEP_LOCK_NAMESPACE])
        row = cursor.fetchone()
    return row[0] if row else None


def _parked(broker: redis.Redis) -> list[dict]:
    """The messages a worker took and never acknowledged (kombu's `unacked` hash), as task name and kwargs."""
    parked = []
    for raw in broker.hgetall("unacked").values():
        message = json.loads(raw)[0]
        parked.append({"task": message["headers"]["task"], "kwargs": message["headers"]["kwargsrepr"]})
    return parked


def _fire_beat() -> None:
    """What beat does when the hour comes round: send the fan-out task by name."""
    beat = Celery("drill-beat", broker=_private_redis(), set_as_current=False)
    try:
        beat.send_task(SWEEP_ALL)
    finally:
        beat.close()


def _worker(stack: ExitStack, log_dir: Path):
    """A worker of the project on the private Redis database, returning its process so that the drill can kill
    it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(live.celery_worker_process(log_dir, extra_env={"REDIS_URL": _private_redis()}))


def _until(condition: Callable[[], object], what: str, logs: list[Path], timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log} ---\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tails}")
        time.sleep(0.02)
    return result


def _sweeps_logged(log: Path) -> list[dict]:
    return [ast.literal_eval(counts) for _, counts in SWEPT.findall(log.read_text())]


def test_a_worker_killed_mid_sweep_leaves_every_lead_drafted_exactly_once(services_only, tmp_path,
                                                                         record_property):
    broker = services_only
    made = [_brokerage(number) for number in range(BROKERAGES)]
    ids = [brokerage_id for brokerage_id, _, _ in made]
    expected = {brokerage_id: drafts for brokerage_id, _, drafts in made}
    logs = [tmp_path / name / "celery.log" for name in ("killed", "restarted", "redelivered")]

    with ExitStack() as stack:
        killed_worker = _worker(stack, logs[0].parent)
        _fire_beat()

        # Mid-way: some brokerages swept, some not, and one inside its drafting transaction right now (the lock
        # is taken again afterwards, for the idle automations, once its drafts are committed).
        def mid_sweep():
            in_flight, swept = _sweep_in_flight(), _swept(ids)
            return in_flight if in_flight not in [None, *swept] and 1 <= len(swept) < BROKERAGES - 1 else None

        in_flight = _until(mid_sweep, "a sweep under way after another finished", logs)
        killed_worker.kill()
        killed_worker.wait(timeout=10)
        swept_at_kill = _swept(ids)
        drafts_at_kill = FollowUp.objects.filter(brokerage_id__in=ids).count()

    # PostgreSQL notices the dropped connection and rolls the sweep back: its lock goes, nothing was kept.
    _until(lambda: _sweep_in_flight() is None, "the killed sweep's lock released", logs, timeout=30)
    assert in_flight not in swept_at_kill and not _drafts(in_flight)
    assert sorted(swept_at_kill) == sorted(_swept(ids))
    for brokerage_id in swept_at_kill:
        assert _drafts(brokerage_id) == expected[brokerage_id]
    # Its message was taken and never acknowledged: parked in Redis, not lost.
    assert _parked(broker) == [{"task": SWEEP_ONE, "kwargs": f"{{'brokerage_id': {in_flight}}}"}]

    with ExitStack() as stack:
        started = time.monotonic()
        _worker(stack, logs[1].parent)
        # 1. The restarted worker sweeps what was still queued; the killed brokerage waits for its message.
        rest = [brokerage_id for brokerage_id in ids if brokerage_id not in swept_at_kill + [in_flight]]
        _until(lambda: set(rest) <= set(_swept(ids)), "the brokerages still queued swept", logs)
        queued_done_s = time.monotonic() - started
        assert not _drafts(in_flight)
        # The last of them is acknowledged once its task returns (after its drafts are committed).
        _until(lambda: len(_parked(broker)) == 1, "only the killed sweep's message left unacknowledged", logs)

        # 2. Beat's next run: every brokerage queued again, the killed one swept, the others unchanged.
        started = time.monotonic()
        _fire_beat()
        _until(lambda: len(_sweeps_logged(logs[1])) == len(rest) + BROKERAGES, "beat's next sweep done", logs)
        beat_recovery_s = time.monotonic() - started

    for brokerage_id in ids:
        assert _drafts(brokerage_id) == expected[brokerage_id], brokerage_id
    repeats = _sweeps_logged(logs[1])[len(rest):]
    assert sorted(counts["drafts"] for counts in repeats) == sorted(
        [sum(expected[in_flight].values())] + [0] * (BROKERAGES - 1))

    # 3. The visibility timeout passes: the parked message is delivered again, and changes nothing.
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    for tag, delivered_at in broker.zrange("unacked_index", 0, -1, withscores=True):
        broker.zadd("unacked_index", {tag: delivered_at - timeout - 1})
    with ExitStack() as stack:
        started = time.monotonic()
        _worker(stack, logs[2].parent)
        _until(lambda: _sweeps_logged(logs[2]), "the parked sweep delivered again", logs)
        redelivery_s = time.monotonic() - started
    assert _sweeps_logged(logs[2]) == [{**_sweeps_logged(logs[2])[0], "drafts": 0}]
    assert _parked(broker) == []

    # The end state is one clean sweep's: one open draft per eligible lead, the escalation told once.
    for brokerage_id, owner_id, wanted in made:
        assert _drafts(brokerage_id) == wanted
        assert AuditLog.objects.filter(brokerage_id=brokerage_id, action="nurturing.swept").count() == 1
        [notice] = Notification.objects.filter(brokerage_id=brokerage_id, kind="lead_idle")
        assert notice.recipient_id == owner_id and notice.message.startswith(f"{IDLE} leads have had no contact")
    record_property("brokerages_swept_at_kill", len(swept_at_kill))
    record_property("drafts_at_kill", drafts_at_kill)
    record_property("queued_rest_swept_s", round(queued_done_s, 2))
    record_property("beat_recovery_s", round(beat_recovery_s, 2))
    record_property("redelivered_after_worker_start_s", round(redelivery_s, 2))
