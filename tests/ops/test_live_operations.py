"""The Procfile's web command run for real with production settings (DEBUG off, one public host name, HTTPS
redirect on), beside a Celery worker: what a load balancer, a browser and a log collector get from it. Needs
PostgreSQL and Redis shared by separate processes (`make test-services`)."""

import http.client
import json
import os
import re
import shlex
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from config import health
from config.celery import app as celery_app, heartbeat
from tests import live

PUBLIC = {"Host": "aep.example.com", "X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy sends it
POD = {"Host": "10.42.0.9:8000"}  # as a load balancer's probe arrives: plain HTTP, the pod's address


def _private_redis() -> str:
    """A Redis database of this test's own: its worker takes no other test's task, its heartbeat is its own."""
    return live.redis_database(11)


def _web_command(port: int) -> list[str]:
    """The Procfile's web line, listening on loopback only and on the port given."""
    line = next(line.split(":", 1)[1] for line in (live.ROOT / "Procfile").read_text().splitlines()
                if line.startswith("web:"))
    arguments = shlex.split(line.replace("$PORT", str(port)))
    arguments[arguments.index("--bind") + 1] = "127.0.0.1"
    assert arguments[0] == "daphne"
    return [sys.executable, "-m", *arguments]


@contextmanager
def _web_process(log: Path, redis_url: str):
    port = live.free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"SECURE_SSL_REDIRECT", "LOG_FORMAT"}}
    env.update(DATABASE_URL=live.database_url(), REDIS_URL=redis_url, DEBUG="false", SECRET_KEY=live.SECRET_KEY,
               STATIC_ROOT=str(live.static_root()), ALLOWED_HOSTS="aep.example.com",
               DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    with live.running(_web_command(port), log, env) as process:
        deadline = time.monotonic() + 60
        while _get(port, "/healthz", POD, timeout=2, swallow=True) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the web process did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port


def _get(port: int, path: str, headers: dict, *, timeout: float = 10, swallow: bool = False):
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        client.request("GET", path, headers=headers)
        response = client.getresponse()
        response.body = response.read()
        return response
    except OSError:
        if swallow:
            return None
        raise
    finally:
        client.close()


def _readyz(port: int) -> tuple[int, dict]:
    response = _get(port, "/readyz", POD)
    return response.status, json.loads(response.body)


def _wait_for(predicate, *, seconds: float, what: str, context):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = predicate()
        if outcome:
            return outcome
        time.sleep(0.25)
    raise AssertionError(f"{what} within {seconds:g} s\n{context()}")


def _json_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _median_ms(port: int, path: str, count: int = 40) -> float:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        assert _get(port, path, POD).status == 200
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


@pytest.mark.django_db(transaction=True)
def test_the_procfile_web_process_in_production_shape(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    redis_url = _private_redis()
    with redis.Redis.from_url(redis_url) as private:
        private.delete(health.HEARTBEAT_KEY)
    (tmp_path / "web").mkdir()
    (tmp_path / "worker").mkdir()
    web_log = tmp_path / "web" / "daphne.log"

    with _web_process(web_log, redis_url) as port:
        # Probes over plain HTTP with the pod's address pass; a page with that Host is refused.
        assert _get(port, "/healthz", POD).status == 200
        assert _get(port, "/accounts/login/", POD).status == 400
        status, report = _readyz(port)
        assert status == 503, report
        assert report["checks"]["database"]["status"] == "ok"
        assert report["checks"]["redis"]["status"] == "ok"
        assert "no heartbeat recorded yet" in report["checks"]["celery_heartbeat"]["error"]

        # A worker in another process starts: its heartbeat, kept in Redis, makes this process ready.
        with live.celery_worker(tmp_path / "worker", extra_env={"REDIS_URL": redis_url}) as worker_log:
            _wait_for(lambda: _readyz(port)[0] == 200, seconds=60, what="/readyz did not turn ready",
                      context=lambda: f"{_readyz(port)}\n{worker_log.read_text()[-3000:]}")
            # A heartbeat queued as beat queues it runs on the worker, whose lines name the task.
            with celery_app.connection_for_write(redis_url) as broker:
                task_id = heartbeat.apply_async(connection=broker).id
            task_lines = _wait_for(
                lambda: [line for line in _worker_json_lines(worker_log) if line.get("request_id") == task_id],
                seconds=30, what="no worker line names the heartbeat task", context=worker_log.read_text)
            assert any("succeeded" in line["message"] for line in task_lines), task_lines

        readyz_ms = _median_ms(port, "/readyz")
        healthz_ms = _median_ms(port, "/healthz")
        print(f"\nmedian over 40 sequential probes: /healthz {healthz_ms:.1f} ms, /readyz {readyz_ms:.1f} ms")
        assert healthz_ms < 50 and readyz_ms < 250, (healthz_ms, readyz_ms)

        # A page references its static files under content-hashed names ...
        page = _get(port, "/accounts/login/", PUBLIC | {"X-Request-ID": "live-login-1"})
        assert page.status == 200
        assert page.getheader("X-Request-ID") == "live-login-1"
        stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.body.decode())
        assert stylesheet, page.body.decode()[:2000]
        # ... served compressed as the browser accepts, cacheable for good.
        for accepted, encoding in (("br, gzip", "br"), ("gzip", "gzip")):
            asset = _get(port, stylesheet.group(1), PUBLIC | {"Accept-Encoding": accepted})
            assert asset.status == 200
            assert asset.getheader("Content-Encoding") == encoding
            cache = asset.getheader("Cache-Control")
            assert "max-age=315360000" in cache and "immutable" in cache, cache
        plain = _get(port, stylesheet.group(1), PUBLIC)
        assert plain.getheader("Content-Encoding") is None
        assert len(asset.body) < len(plain.body)

    # Everything the web process wrote is JSON, one object per line, the page's lines with its request id.
    lines = _json_lines(web_log)
    [access] = [line for line in lines if line["logger"] == "access" and line["request_id"] == "live-login-1"]
    assert (access["method"], access["path"], access["status"]) == ("GET", "/accounts/login/", 200)
    assert any(line["logger"] == "django.security.DisallowedHost" for line in lines)


def _worker_json_lines(log: Path) -> list[dict]:
    """The worker's JSON log lines (its start-up banner, printed by Celery before logging starts, is not one)."""
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines
