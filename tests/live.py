"""Real server processes on the test database, for the benchmarks that measure over HTTP and the tests that
drive the product from outside: Daphne serving an ASGI application and a Celery worker, each a subprocess with
DEBUG off and the channel layer and broker the settings (or `extra_env`) pick. The data they read must be
committed (a transactional test or a benchmark's autocommit fixture).

With DEBUG off, static files are served as in production: collected under hashed names with compressed copies
(WhiteNoise). Collecting takes about 20 s, so it happens once per content of `static/` and the requirements and
is kept in `var/live-static/`."""

import fcntl
import functools
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "live-" + "k" * 50


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_database(number: int) -> str:
    """The suite's Redis with another database number: a live test's own, so its worker takes no task another
    test process queued and its sockets share no group with another's. Taken: 0 the suite, 8 and 10+ the
    scale-out test (one per xdist worker), 9 the integration walkthrough, 11 live operations and the load
    benchmark, 12 the killed-worker drill, 14 the live data export."""
    from django.conf import settings

    return urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{number}"))


def database_url() -> str:
    """The benchmark's test database, for the server process."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@functools.cache
def static_root() -> Path:
    """The production static files (`collectstatic`) for the current sources, collected on first use. Processes
    running at once (xdist workers) wait for one another on a lock instead of collecting twice; within one, the
    sources are read once."""
    fingerprint = hashlib.sha256((ROOT / "requirements.txt").read_bytes())
    for path in sorted((ROOT / "static").rglob("*")):
        if path.is_file():
            fingerprint.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    base = ROOT / "var" / "live-static"
    base.mkdir(parents=True, exist_ok=True)
    target = base / fingerprint.hexdigest()[:16]
    with (base / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "staticfiles.json").exists():
            for stale in base.iterdir():  # collections of earlier sources
                if stale.is_dir():
                    shutil.rmtree(stale)
            subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,  # noqa: S603
                           env=dict(os.environ, DEBUG="false", SECRET_KEY=SECRET_KEY, STATIC_ROOT=str(target)),
                           check=True, timeout=300)
    return target


@contextmanager
def running(command: list[str], log: Path, env: dict) -> Iterator[subprocess.Popen]:
    """`command` as a subprocess in the project folder, its output in `log`, until the block ends (then asked to
    stop, and killed after 20 s)."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _process(arguments: list[str], log: Path, extra_env: dict | None):
    env = dict(os.environ, DATABASE_URL=database_url(), DEBUG="false", SECRET_KEY=SECRET_KEY,
               STATIC_ROOT=str(static_root()),
               ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback, no TLS proxy
               DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1", **(extra_env or {}))
    return running([sys.executable, "-m", *arguments], log, env)


@contextmanager
def daphne(application: str, log_dir: Path, *, probe_path: str, extra_env: dict | None = None) -> Iterator[int]:
    """Serve `application` ("module:attribute") on a free loopback port until the block ends; yields the port.
    Ready once `probe_path` answers (any status: the first request loads the project)."""
    port = free_port()
    log = log_dir / "daphne.log"
    with _process(["daphne", "-b", "127.0.0.1", "-p", str(port), application], log, extra_env) as process:
        _wait_ready(port, process, log, probe_path)
        yield port


def celery_worker_process(log_dir: Path, *, extra_env: dict | None = None):
    """One Celery worker (solo pool) of the project, logging to `log_dir`/celery.log, until the block ends; yields
    its process (for a drill that kills it)."""
    return _process(["celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "info",
                     "--without-gossip", "--without-mingle"], log_dir / "celery.log", extra_env)


@contextmanager
def celery_worker(log_dir: Path, *, extra_env: dict | None = None) -> Iterator[Path]:
    """One Celery worker (solo pool) of the project until the block ends; yields its log."""
    with celery_worker_process(log_dir, extra_env=extra_env):
        yield log_dir / "celery.log"


def _wait_ready(port: int, process: subprocess.Popen, log: Path, probe_path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Daphne exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            client.request("GET", probe_path)
            client.getresponse().read()
            client.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Daphne did not answer on port {port}:\n{log.read_text()[-3000:]}")
