"""Event committed → webhook request at the receiver, through a real Celery worker on Redis (issue 8 target: a
healthy receiver gets the delivery within 1 s of the event; asserted on p95).

Set-up: a brokerage with one endpoint subscribed to `lead.created`, pointing at an HTTP receiver in this process
(a `ThreadingHTTPServer` on 127.0.0.1 answering 204). One Celery worker runs as a subprocess (tests/live.py: solo
pool) on the benchmark's test database and the Redis broker of `REDIS_URL`.

A sample: create a lead with the real service in a transaction and take the time just after the COMMIT (an
on-commit callback registered before the lead's, so it runs first); the sample ends when the receiver has read
the signed POST of that lead. That covers publishing the task, the worker taking it, re-reading the delivery,
claiming it (a row lock and a write), signing, the POST and the receiver's read; it leaves out only the worker
recording the outcome after the answer.

Baseline, interleaved in the same rounds: a bare POST of the same body from this process through the same
outbound path (`brokerages.outbound.post`) until the receiver has read it — what sending costs without the queue.

Run: scripts/services.sh scripts/pytest.sh tests/bench/bench_webhooks.py --override-ini="python_files=test_*.py
bench_*.py" -s -q. Without REDIS_URL it is skipped: the embedded default's filesystem broker polls once a second.
"""

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import live

ROUNDS = 60
WARMUP = 5
LIMIT_P95_MS = 1000.0
READY_TIMEOUT_SECONDS = 90


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.arrivals.put((time.perf_counter(), self.headers.get("X-AEP-Event", ""), body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    server.arrivals = queue.Queue()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(tmp_path):
    """One Celery worker process of the project on the test database (tests/live.py); yields its log."""
    with live.celery_worker(tmp_path, extra_env={"WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true"}) as log:
        yield log


def _arrival(arrivals: queue.Queue, log, timeout: float = 10.0) -> tuple[float, str, bytes]:
    try:
        return arrivals.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no delivery within {timeout:g} s; the worker's log:\n{log.read_text()[-3000:]}") \
            from None


@pytest.mark.django_db(transaction=True)
def test_webhook_delivered_within_a_second_of_the_commit(receiver, worker, settings):
    from django.conf import settings as django_settings
    from django.db import transaction

    from brokerages import outbound
    from brokerages.models import Role, WebhookDelivery
    from brokerages.webhooks import services
    from nurturing.services.leads import lead_create
    from tests.factories import BrokerageFactory, UserFactory

    from .conftest import database_label
    from .timing import BenchResult, Stats

    if not django_settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): run it under scripts/services.sh")
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    log = worker
    brokerage = BrokerageFactory(name="Bench Webhooks Realty", slug="bench-webhooks")
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@bench-webhooks.test")
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/aep"
    services.webhook_endpoint_create(brokerage=brokerage, actor=owner, url=url, events=["lead.created"])
    arrivals = receiver.arrivals

    def event_sample(n: int) -> tuple[float, bytes]:
        committed = {}
        with transaction.atomic():
            transaction.on_commit(lambda: committed.setdefault("at", time.perf_counter()))
            lead = lead_create(brokerage=brokerage, actor=owner, data={"name": f"Bench Lead {n}",
                                                                        "email": f"lead{n}@bench-webhooks.test"})
        arrived, event, body = _arrival(arrivals, log,
                                        timeout=READY_TIMEOUT_SECONDS if n == 0 else 10.0)
        assert event == "lead.created" and json.loads(body)["data"]["lead"]["id"] == lead.pk
        return (arrived - committed["at"]) * 1000, body

    def bare_sample(body: bytes) -> float:
        started = time.perf_counter()
        outbound.post(url, body, headers={"X-AEP-Event": "bench.bare"}).raise_for_status()
        arrived, event, _ = _arrival(arrivals, log)
        assert event == "bench.bare"
        return (arrived - started) * 1000

    target, baseline = [], []
    for n in range(WARMUP + ROUNDS):
        event_ms, body = event_sample(n)
        bare_ms = bare_sample(body)
        if n >= WARMUP:
            target.append(event_ms)
            baseline.append(bare_ms)
    deadline = time.monotonic() + 10  # the worker records the last outcome after the receiver answered
    while WebhookDelivery.objects.filter(status="succeeded").count() < WARMUP + ROUNDS:
        assert time.monotonic() < deadline, "deliveries not recorded as succeeded"
        time.sleep(0.05)
    assert not WebhookDelivery.objects.exclude(status="succeeded").exists()

    result = BenchResult(
        issue=8, name="webhook_delivery_latency",
        description="event commit -> signed webhook POST read by the receiver, via a Celery worker",
        database=f"{database_label()}, redis broker", target=Stats.of(target),
        baseline_name="bare POST through brokerages.outbound", baseline=Stats.of(baseline),
        limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS,
        dataset={"endpoints": 1, "event": "lead.created", "payload_bytes": len(body)},
        notes={"worker": "1 Celery worker subprocess (solo pool), acks_late, prefetch 1",
               "receiver": "ThreadingHTTPServer on 127.0.0.1 in the bench process, answers 204",
               "start": "on-commit callback registered before the event's (runs first after COMMIT)",
               "end": "the receiver has read the request body", "warmup_rounds": WARMUP},
    )
    result.publish()
    assert result.met, result.line()
