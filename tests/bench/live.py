"""A real Daphne server for the benchmarks that measure over HTTP: a subprocess serving an ASGI application on
the benchmark's test database, DEBUG off, with the channel layer and broker the settings pick."""

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The benchmark's test database, for the server process."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))


@contextmanager
def daphne(application: str, log_dir: Path, *, probe_path: str, extra_env: dict | None = None) -> Iterator[int]:
    """Serve `application` ("module:attribute") on a free loopback port until the block ends; yields the port.
    Ready once `probe_path` answers (any status: the first request loads the project)."""
    port = free_port()
    log = log_dir / "daphne.log"
    env = dict(os.environ, DATABASE_URL=database_url(), DEBUG="false", SECRET_KEY="bench-" + "k" * 50,
               ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback, no TLS proxy
               DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1", **(extra_env or {}))
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), application],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, process, log, probe_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
