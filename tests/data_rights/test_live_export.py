"""The data export for real: an integration key asks Daphne for an export, a Celery worker builds it, the
owner is notified, and the archive is downloaded from Daphne, streamed (the ASGI path), complete and without a
secret — against PostgreSQL and Redis shared by separate processes (`make test-services`)."""

import http.client
import json
import time

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from brokerages.keys import api_key_create
from brokerages.models import Notification
from tests import live

from .helpers import read_archive, rich_brokerage

# A Redis database of this module's own (0 is the suite's; 8–13 are taken by the scale-out, walkthrough, ops
# and drill tests), so no other worker takes the build and this worker takes no one else's task.
REDIS_DB = 14


def _private_redis() -> str:
    return live.redis_database(REDIS_DB)


def _call(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict, bytes]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    client.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = client.getresponse()
    content = response.read()
    client.close()
    return response.status, dict(response.getheaders()), content


@pytest.mark.django_db(transaction=True)
def test_an_export_asked_through_the_api_is_built_by_a_worker_and_downloaded_streamed(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    redis.Redis.from_url(_private_redis()).flushdb()  # tasks left queued by an interrupted run
    with scopes_disabled():
        owner, _, secrets = rich_brokerage("Live Export Realty")
        _, key = api_key_create(brokerage=owner.brokerage, actor=owner, name="Archiver", scopes=["brokerages:write"])
    env = {"REDIS_URL": _private_redis(), "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    (tmp_path / "worker").mkdir()
    (tmp_path / "daphne").mkdir()
    with live.celery_worker(tmp_path / "worker", extra_env=env) as worker_log, \
            live.daphne("config.asgi:application", tmp_path / "daphne", probe_path="/api/brokerage/profile",
                        extra_env=env) as port:
        status, _, body = _call(port, "POST", "/api/brokerage/exports", key, {"include_media": True})
        assert status == 202, body
        export_id = json.loads(body)["id"]
        deadline, ready = time.monotonic() + 90, None
        while time.monotonic() < deadline and ready is None:
            listed = json.loads(_call(port, "GET", "/api/brokerage/exports", key)[2])["results"]
            current = next(row for row in listed if row["id"] == export_id)
            assert current["status"] in ("pending", "running", "ready"), current
            ready = current if current["status"] == "ready" else None
            time.sleep(0.5)
        assert ready is not None, worker_log.read_text()[-3000:]
        started = time.monotonic()
        status, headers, archive = _call(port, "GET", ready["download_url"], key)
        seconds = time.monotonic() - started
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert int(headers["Content-Length"]) == len(archive) == ready["size_bytes"]
    files = read_archive(archive)
    manifest = json.loads(files["manifest.json"])
    assert manifest["brokerage"]["name"] == "Live Export Realty" and manifest["media"]["files"] == 2
    assert sum(entry["records"] for entry in manifest["tables"]) == ready["records"]
    blob = b"\n".join(files.values())
    for secret in secrets.values():
        assert secret.encode() not in blob
    assert seconds < 5
    with scopes_disabled():
        assert Notification.objects.filter(recipient=owner, kind="data_export").exists()
