"""Probes for load balancers and orchestrators, and the Celery heartbeat readiness depends on.

`/healthz` (liveness) says the process answers and touches nothing else. `/readyz` (readiness) checks the
database (`SELECT 1`), Redis when `REDIS_URL` is set (PING) and the Celery heartbeat: beat queues
`config.celery.heartbeat` every 30 s and a worker records when it ran it (a starting worker records one at once),
so a heartbeat older than `READYZ_HEARTBEAT_MAX_AGE` means no worker is consuming the queue. The heartbeat lives
where every process of the deployment reads it: in Redis when there is one, else in a file under `VAR_DIR` (the
embedded default runs on one machine; the LocMem cache would be per process).

The checks run at once on a small thread pool, each bounded by `READYZ_TIMEOUT_SECONDS`, so a hung dependency
makes the probe answer "not ready" in time instead of hanging it. The answer names each check with its status
and latency; error details (host names, user names in driver messages) go to the log, not to the caller, since
the probe answers anyone.
"""

import logging
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "aep:celery-heartbeat"
HEARTBEAT_FILE = "celery-heartbeat"

# Three checks per probe; a dependency that hangs holds its thread until its own timeouts fire, so later probes
# queue behind it and answer "timed out" rather than piling up threads.
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


class CheckFailed(Exception):
    """A check's finding, safe to show the caller as it is."""


def _redis() -> redis.Redis:
    timeout = settings.READYZ_TIMEOUT_SECONDS
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def _heartbeat_file() -> Path:
    return Path(settings.VAR_DIR) / HEARTBEAT_FILE


def heartbeat_record() -> None:
    """Store the current time as the latest sign that a worker consumes the queue."""
    stamp = repr(time.time())
    if settings.REDIS_URL:
        with _redis() as client:
            client.set(HEARTBEAT_KEY, stamp)
        return
    target = _heartbeat_file()
    # Written aside and renamed over, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w") as output:
        output.write(stamp)
    os.replace(temporary, target)


def heartbeat_read() -> float | None:
    """The time (epoch seconds) of the latest heartbeat, or None when none was ever recorded."""
    if settings.REDIS_URL:
        with _redis() as client:
            stamp = client.get(HEARTBEAT_KEY)
    else:
        try:
            stamp = _heartbeat_file().read_text()
        except FileNotFoundError:
            stamp = None
    return None if stamp is None else float(stamp)


def check_database() -> dict:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # Runs on a pool thread: hand the connection back (to the psycopg pool, or closed) rather than keep one
        # open per probe thread.
        connection.close()
    return {}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"detail": "not configured (embedded default)"}
    with _redis() as client:
        client.ping()
    return {}


def check_heartbeat() -> dict:
    limit = settings.READYZ_HEARTBEAT_MAX_AGE
    at = heartbeat_read()
    if at is None:
        raise CheckFailed("no heartbeat recorded yet: no Celery worker has started")
    age = max(0, round(time.time() - at))
    if age > limit:
        raise CheckFailed(f"the latest heartbeat is {age} s old (limit {limit} s): no worker is consuming "
                          f"the queue, or beat is not running")
    return {"age_seconds": age}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "redis": check_redis,
    "celery_heartbeat": check_heartbeat,
}


def _timed(check: Callable[[], dict]) -> tuple[float, dict | BaseException]:
    started = time.perf_counter()
    try:
        outcome = check()
    except Exception as exc:  # every failure is a finding to report, whatever raised it
        outcome = exc
    return time.perf_counter() - started, outcome


def readiness() -> tuple[bool, dict]:
    timeout = settings.READYZ_TIMEOUT_SECONDS
    futures = {name: _pool.submit(_timed, check) for name, check in CHECKS.items()}
    wait(futures.values(), timeout=timeout)
    results = {}
    for name, future in futures.items():
        if not future.done():
            future.cancel()
            results[name] = {"status": "error", "latency_ms": round(timeout * 1000, 1),
                             "error": f"no answer within {timeout:g} s"}
            logger.warning("readyz: %s gave no answer within %g s", name, timeout)
            continue
        elapsed, outcome = future.result()
        result = {"latency_ms": round(elapsed * 1000, 1)}
        if isinstance(outcome, CheckFailed):
            result.update(status="error", error=str(outcome))
            logger.warning("readyz: %s: %s", name, outcome)
        elif isinstance(outcome, BaseException):
            result.update(status="error", error=f"{type(outcome).__name__} (details in the log)")
            logger.warning("readyz: %s failed: %s: %s", name, type(outcome).__name__, outcome)
        else:
            result.update(status="ok", **outcome)
        results[name] = result
    ready = all(result["status"] == "ok" for result in results.values())
    return ready, {"status": "ok" if ready else "error", "checks": results}


def _probe_response(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def healthz() -> JsonResponse:
    return _probe_response({"status": "ok"})


def readyz() -> JsonResponse:
    ready, report = readiness()
    return _probe_response(report, status=200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    """First in MIDDLEWARE and answering only `/healthz` and `/readyz`: probes come from load balancers and
    orchestrators with the pod's IP as Host and over plain HTTP, so they must be answered before anything checks
    the host against ALLOWED_HOSTS (CommonMiddleware), redirects to HTTPS (SecurityMiddleware), loads a session
    or opens a tenant scope. Nothing below runs for them, and passing probes leave no access line (they come
    every few seconds); a failing readiness check logs a warning naming it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return probe()
