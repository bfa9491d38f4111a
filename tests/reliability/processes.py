"""What the fault drills drive from outside: a Redis server of their own to kill and restart, plain HTTP and
WebSocket clients of a live Daphne (tests/live.py) that time every answer, a webhook receiver, and the timings
a drill reports."""

import http.client
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import redis
from django.db import connections

from tests import live


class RedisServer:
    """A `redis-server` on a loopback port of its own, for a drill that stops it: the suite's shared Redis must
    keep serving the tests running beside it. Nothing is persisted, so a restart comes back empty, as a
    replacement server or a cache-only deployment would."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = live.free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (a fixed command line of the test's own)
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        """Stop it the hard way (SIGKILL): connections drop, queued tasks and group memberships are gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    """HTTP to a live Daphne, every answer timed and kept: `authorization` ("Token <member token>" or
    "Bearer <integration key>") for the API, `session` (a session id) for pages."""

    port: int
    authorization: str = ""
    session: str = ""
    timeout: float = 30.0
    answers: list[Answer] = field(default_factory=list)

    def request(self, method: str, path: str, body: dict | None = None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        if self.session:
            headers["Cookie"] = f"sessionid={self.session}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        answer = Answer(response.status, data, {name.lower(): value for name, value in response.getheaders()},
                        time.perf_counter() - started)
        self.answers.append(answer)
        return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, body: dict) -> Answer:
        return self.request("POST", path, body)


# Debian's Chromium, as the browser journeys (tests/e2e) drive it: no internet, run as root in CI.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def browser_page(port: int, session: str) -> Iterator:
    """A Playwright page in headless Chromium, signed in with `session` on the live server. Start it after the
    server processes: Playwright keeps an event loop running in the test's thread, so Django is told to allow
    the test's ORM calls beside it, in this process only (as tests/e2e does)."""
    import pytest
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(base_url=f"http://127.0.0.1:{port}")
            context.add_cookies([{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{port}"}])
            yield context.new_page()
        finally:
            browser.close()
            # Beside Playwright's loop the ORM runs in another context, on a connection of its own: closed here,
            # or it would keep the test database from being dropped.
            connections.close_all()


def live_session(user) -> str:
    """A session id signed in as `user` that a live process (tests/live.py: its own SECRET_KEY) accepts."""
    from django.test import Client as DjangoClient
    from django.test import override_settings

    with override_settings(SECRET_KEY=live.SECRET_KEY):
        client = DjangoClient()
        client.force_login(user)
    return client.cookies["sessionid"].value


def socket_connect(port: int, token: str, *, timeout: float = 10.0):
    """A JSON client of /ws/coaching/ with a member token (sync websockets client)."""
    from websockets.sync.client import connect

    return connect(f"ws://127.0.0.1:{port}/ws/coaching/?token={token}&format=json", open_timeout=timeout,
                   close_timeout=2, proxy=None, legacy=True)


def frames_until(socket, predicate, *, timeout: float) -> dict:
    """Read JSON frames until one satisfies `predicate`; returns it (TimeoutError when none came in time)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no matching frame in time")
        frame = json.loads(socket.recv(timeout=remaining))
        if predicate(frame):
            return frame


class WebhookReceiver:
    """An HTTP receiver on loopback that answers 200 and queues each delivery's JSON body."""

    def __init__(self):
        received: queue.Queue[dict] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, *, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.received.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise TimeoutError("no matching webhook delivery in time") from None
            if predicate(event):
                return event

    def wait_for_alerts(self, alert_ids, *, timeout: float) -> None:
        """Wait until a coaching-alert event of every one of `alert_ids` arrived."""
        missing = set(alert_ids)
        deadline = time.monotonic() + timeout
        while missing:
            event = self.wait_for(lambda event: event["data"].get("alert", {}).get("id") in missing,
                                  timeout=max(deadline - time.monotonic(), 0.01))
            missing.discard(event["data"]["alert"]["id"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def latency_summary(seconds: list[float]) -> str:
    return (f"n={len(seconds)} median={statistics.median(seconds) * 1000:.0f} ms "
            f"max={max(seconds) * 1000:.0f} ms")
