"""Operations: the probes a load balancer calls (`/healthz`, `/readyz`), the structured logs an operator reads
(request ids, brokerage and user on every line, Celery task ids), and the deployment files (Procfile, compose,
Dockerfile, README) agreeing with each other and with the settings."""

import io
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest
import redis
import yaml
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import OperationalError, connections
from django_scopes import scope
from rest_framework.authtoken.models import Token

from config import health
from config.celery import HEARTBEAT_EVERY, app as celery_app, heartbeat
from config.observability import ContextFilter, JsonFormatter

from .ops.urls import logging_task

ROOT = Path(__file__).resolve().parent.parent
LOG_VIEW_URLS = pytest.mark.urls("tests.ops.urls")
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines():
    """Every record logged during the test, through the production filter and JSON formatter; each line must
    parse as one JSON object."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def heartbeat_store(settings, tmp_path, monkeypatch):
    """A heartbeat place of this test's own: a file in its folder, or a Redis key no other test process uses."""
    settings.VAR_DIR = tmp_path
    key = f"aep:test-heartbeat:{uuid.uuid4().hex}"
    monkeypatch.setattr(health, "HEARTBEAT_KEY", key)
    redis_url = settings.REDIS_URL  # the test may point it elsewhere
    yield
    if redis_url:
        with redis.Redis.from_url(redis_url) as client:
            client.delete(key)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- /healthz ---------------------------------------------------------------------------------------------------

def test_healthz_answers_anyone_without_touching_the_database(client):
    # No django_db mark: any query would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_probes_pass_the_host_check_and_the_https_redirect_that_other_pages_get(client, settings):
    """A load balancer probes over plain HTTP with the pod's IP as Host; production settings would refuse or
    redirect that for any page."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["aep.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    pod = {"HTTP_HOST": "10.42.7.19:8000"}
    assert client.get("/accounts/login/", **pod).status_code == 400
    assert client.get("/accounts/login/", HTTP_HOST="aep.example.com").status_code == 301
    assert client.get("/healthz", **pod).status_code == 200
    assert client.head("/healthz", **pod).status_code == 200
    assert client.post("/healthz", **pod).status_code == 405


# --- /readyz ----------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_readyz_is_ready_when_database_redis_and_a_fresh_heartbeat_answer(client, heartbeat_store):
    heartbeat.apply()
    response = client.get("/readyz", HTTP_HOST="10.42.7.19")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "celery_heartbeat"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert 0 <= check["latency_ms"] < 2000
    assert body["checks"]["celery_heartbeat"]["age_seconds"] <= 2
    if not settings.REDIS_URL:
        assert body["checks"]["redis"]["detail"] == "not configured (embedded default)"


@pytest.mark.django_db
def test_readyz_without_any_heartbeat_says_no_worker_has_started(client, heartbeat_store):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["celery_heartbeat"]["status"] == "error"
    assert "no heartbeat recorded yet" in checks["celery_heartbeat"]["error"]
    assert checks["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_with_a_stale_heartbeat_is_not_ready_and_says_how_old(client, heartbeat_store, settings, monkeypatch):
    settings.READYZ_HEARTBEAT_MAX_AGE = 120
    now = time.time()
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: now - 300)
        heartbeat.apply()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    stale = body["checks"]["celery_heartbeat"]
    assert stale["status"] == "error"
    assert re.search(r"the latest heartbeat is 30\d s old \(limit 120 s\)", stale["error"]), stale
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"

    heartbeat.apply()  # a worker comes back
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_names_a_broken_database_without_leaking_its_details(client, heartbeat_store, log_lines):
    heartbeat.apply()
    secret_detail = 'connection to server at "10.0.9.5", port 5432 failed: password authentication failed'
    with mock.patch.object(type(connections["default"]), "cursor", side_effect=OperationalError(secret_detail)):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == {"status": "error", "latency_ms": mock.ANY,
                                          "error": "OperationalError (details in the log)"}
    assert body["checks"]["celery_heartbeat"]["status"] == "ok"
    assert "10.0.9.5" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    # The operator finds the detail in the log instead.
    [warning] = [line for line in log_lines() if line["logger"] == "config.health"]
    assert warning["level"] == "WARNING"
    assert "database" in warning["message"] and "password authentication failed" in warning["message"]


@pytest.mark.django_db
def test_readyz_names_an_unreachable_redis(client, heartbeat_store, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "error"
    assert checks["redis"]["error"] == "ConnectionError (details in the log)"
    assert checks["database"]["status"] == "ok"


@pytest.mark.django_db
def test_a_hung_redis_does_not_hang_the_probe(client, heartbeat_store, settings):
    # A server that accepts connections (the kernel's backlog) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        settings.READYZ_TIMEOUT_SECONDS = 0.5
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "error"
    assert elapsed < 2, elapsed


@pytest.mark.django_db
def test_a_check_that_never_returns_is_cut_off_at_the_time_limit(client, heartbeat_store, settings, monkeypatch):
    settings.READYZ_TIMEOUT_SECONDS = 0.3
    heartbeat.apply()
    monkeypatch.setitem(health.CHECKS, "database", lambda: time.sleep(3))
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "error", "latency_ms": 300.0,
                                                     "error": "no answer within 0.3 s"}
    assert response.json()["checks"]["celery_heartbeat"]["status"] == "ok"
    assert elapsed < 1.5, elapsed


def test_beat_queues_the_heartbeat_well_within_the_age_readyz_accepts():
    entry = celery_app.conf.beat_schedule["celery-heartbeat"]
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == HEARTBEAT_EVERY
    assert settings.READYZ_HEARTBEAT_MAX_AGE >= 3 * HEARTBEAT_EVERY


# --- request ids and the log context ----------------------------------------------------------------------------

@LOG_VIEW_URLS
def test_a_sane_incoming_request_id_is_kept_and_returned(client):
    response = client.get("/ops-test/logged/", HTTP_X_REQUEST_ID="lb-4f2c9e.17:a_b")
    assert response["X-Request-ID"] == "lb-4f2c9e.17:a_b"


@LOG_VIEW_URLS
@pytest.mark.parametrize("incoming", ["x" * 129, "two words", "id\r\nX-Injected: 1", "bad;id", "ünï"])
def test_an_unsafe_incoming_request_id_is_replaced(client, incoming, log_lines):
    response = client.get("/ops-test/logged/", HTTP_X_REQUEST_ID=incoming)
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])
    assert all(line["request_id"] == response["X-Request-ID"] for line in log_lines())


@LOG_VIEW_URLS
def test_each_request_without_an_id_gets_a_new_one(client):
    first = client.get("/ops-test/logged/")["X-Request-ID"]
    second = client.get("/ops-test/logged/")["X-Request-ID"]
    assert GENERATED_ID.fullmatch(first) and GENERATED_ID.fullmatch(second)
    assert first != second


@LOG_VIEW_URLS
@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/ops-test/logged/", "/ops-test/logged-async/"])
def test_lines_logged_in_a_view_under_asgi_carry_request_brokerage_and_user(async_client, tenant, path, log_lines):
    """Through Django's ASGI handler, as under Daphne: the sync view runs in a worker thread, the async one on the
    event loop after the sync middleware's thread; the context follows both."""
    async_client.force_login(tenant.agent)
    response = async_to_sync(async_client.get)(path, headers={"X-Request-ID": "asgi-probe-1"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "asgi-probe-1"
    lines = log_lines()
    [inside] = [line for line in lines if line["logger"] == "tests.ops"]
    assert inside["message"].startswith("inside the")
    assert inside["request_id"] == "asgi-probe-1"
    assert inside["brokerage_id"] == tenant.brokerage.pk
    assert inside["user_id"] == tenant.agent.pk
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", inside["timestamp"])
    assert inside["level"] == "INFO"
    [access] = [line for line in lines if line["logger"] == "access"]
    assert (access["method"], access["path"], access["status"]) == ("GET", path, 200)
    assert (access["request_id"], access["brokerage_id"], access["user_id"]) == (
        "asgi-probe-1", tenant.brokerage.pk, tenant.agent.pk)
    assert access["duration_ms"] > 0


@LOG_VIEW_URLS
def test_the_context_ends_with_the_request(client, log_lines):
    client.get("/ops-test/logged/", HTTP_X_REQUEST_ID="ends-here")
    logging.getLogger("tests.ops").info("after the request")
    after = log_lines()[-1]
    assert after["message"] == "after the request"
    assert after["request_id"] is None and after["brokerage_id"] is None and after["user_id"] is None


@pytest.mark.django_db
def test_the_access_line_of_an_api_call_names_the_member_drf_authenticated(client, tenant, log_lines):
    token = Token.objects.create(user=tenant.owner)
    response = client.get("/api/brokerage/profile", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    [access] = [line for line in log_lines() if line["logger"] == "access"]
    assert (access["path"], access["status"]) == ("/api/brokerage/profile", 200)
    assert access["user_id"] == tenant.owner.pk
    assert access["brokerage_id"] == tenant.brokerage.pk


@pytest.mark.django_db
def test_secrets_in_the_url_stay_out_of_the_access_line(client, log_lines):
    client.get("/accounts/password-reset/MTIz/c4x9-0123456789abcdef0123456789abcdef/")
    [access] = [line for line in log_lines() if line["logger"] == "access"]
    assert access["path"] == "/accounts/password-reset/<uidb64>/<token>/"
    assert not any("0123456789abcdef" in json.dumps(line) for line in log_lines())


@pytest.mark.django_db
def test_a_line_logged_in_a_tenant_scope_names_its_brokerage(tenant, log_lines):
    with scope(brokerage=tenant.brokerage):
        logging.getLogger("tests.ops").warning("scoped")
    [line] = log_lines()
    assert line["brokerage_id"] == tenant.brokerage.pk


def test_an_exception_is_logged_with_its_traceback_on_one_line(log_lines):
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("tests.ops").exception("it failed")
    [line] = log_lines()
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exception"] and "ValueError: bad value" in line["exception"]


def test_celery_task_lines_carry_the_task_id_and_brokerage(log_lines):
    logging_task.apply(kwargs={"brokerage_id": 42}, task_id="task-7f3e")
    logging.getLogger("tests.ops").info("after the task")
    inside, after = [line for line in log_lines() if line["logger"] == "tests.ops"]
    assert (inside["message"], inside["request_id"], inside["brokerage_id"]) == ("inside the task", "task-7f3e", 42)
    assert (after["request_id"], after["brokerage_id"]) == (None, None)


@LOG_VIEW_URLS
@pytest.mark.django_db
def test_an_eager_task_inside_a_request_gives_the_request_its_context_back(client, tenant, log_lines):
    client.force_login(tenant.owner)
    client.get("/ops-test/eager-task/", HTTP_X_REQUEST_ID="outer-request")
    by_message = {line["message"]: line for line in log_lines()}
    assert by_message["inside the task"]["request_id"] == "nested-task"
    assert by_message["back in the view"]["request_id"] == "outer-request"
    assert by_message["back in the view"]["brokerage_id"] == tenant.brokerage.pk


# --- configured logging -----------------------------------------------------------------------------------------

PRODUCTION_PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "Client().get('/no-such-page/', HTTP_X_REQUEST_ID='subprocess-1')"
)


def run_probe(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items()
             if key not in {"DATABASE_URL", "REDIS_URL", "LOG_FORMAT", "DEBUG"}}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path), SECRET_KEY="s" * 60,
                 ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false", **env)
    return subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_with_debug_off_every_log_line_is_json_on_standard_error(tmp_path):
    result = run_probe(tmp_path, DEBUG="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    # Python warnings too (here WhiteNoise's about a static folder this test never collected).
    assert {line["logger"] for line in lines} >= {"py.warnings", "django.request", "access"}
    assert all(line["request_id"] == "subprocess-1" for line in lines if line["logger"] != "py.warnings")
    [access] = [line for line in lines if line["logger"] == "access"]
    assert (access["method"], access["path"], access["status"]) == ("GET", "/no-such-page/", 404)


def test_log_format_text_is_for_a_person(tmp_path):
    result = run_probe(tmp_path, DEBUG="false", LOG_FORMAT="text")
    assert result.returncode == 0, result.stderr
    access = [line for line in result.stderr.splitlines() if " access " in line]
    assert len(access) == 1
    assert re.search(r"INFO access \[request=subprocess-1\] GET /no-such-page/ 404 [\d.]+ms$", access[0]), access


def test_an_unknown_log_format_refuses_to_start_and_says_why(tmp_path):
    result = run_probe(tmp_path, DEBUG="false", LOG_FORMAT="yaml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'yaml'" in result.stderr


# --- deployment files -------------------------------------------------------------------------------------------

def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip():
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'(?:os\.environ\.get\(|os\.environ\[|env_bool\(|env_list\()"([A-Z0-9_]+)"', source))


def test_procfile_names_web_worker_beat_and_release():
    entries = procfile()
    assert set(entries) == {"web", "worker", "beat", "release"}
    web = shlex.split(entries["web"])
    assert web[0] == "daphne" and web[-1] == "config.asgi:application"
    # A container's web process listens beyond its loopback, on the port the platform gives it.
    assert web[web.index("--bind") + 1] == "0.0.0.0"  # noqa: S104
    assert web[web.index("--port") + 1] == "$PORT"
    assert shlex.split(entries["worker"])[:3] == ["celery", "--app", "config"] and "worker" in entries["worker"]
    assert shlex.split(entries["beat"])[:3] == ["celery", "--app", "config"] and entries["beat"].endswith(" beat")
    assert entries["release"] == "python manage.py migrate --noinput"


def test_compose_runs_the_procfile_processes_on_postgres_and_redis():
    services = compose()["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    entries = procfile()
    assert services["web"]["command"] == entries["web"].replace("$PORT", "8000")
    assert services["worker"]["command"] == entries["worker"]
    assert services["beat"]["command"] == entries["beat"]
    assert services["migrate"]["command"] == entries["release"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_compose_sets_only_variables_the_settings_read():
    services = compose()["services"]
    known = settings_variables()
    for name in ("migrate", "web", "worker", "beat"):
        unknown = set(services[name]["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which config/settings.py never reads"


def test_dockerfile_builds_static_files_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nFROM python:3.11-slim\n" in dockerfile
    assert "libpango-1.0-0" in dockerfile and "pip install -r requirements.txt" in dockerfile
    assert re.search(r"SECRET_KEY=\S+ .*\n?.*manage\.py collectstatic --noinput", dockerfile)
    assert re.search(r"\nUSER (?!root)\w+\n", dockerfile)
    assert f'"exec {procfile()["web"]}"' in dockerfile  # the image's default process is the Procfile's web
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", "node_modules", ".git"} <= set(ignored)


def test_every_variable_the_settings_read_is_documented():
    readme = (ROOT / "README.md").read_text()
    configuration = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in settings_variables() if f"`{name}`" not in configuration)
    assert not missing, f"README's Configuration section lacks {missing}"
    deployment = readme.split("## Deployment", 1)[1].split("\n## ", 1)[0]
    for command in procfile().values():
        assert f"`{command}`" in deployment
    assert readme.index("## Deployment") < readme.index("## Layout")
