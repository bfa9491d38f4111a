"""Issue 8's "done when", run for real: the stand-alone script `examples/integration_walkthrough.py`, given only
the server's address and a brokerage API key, registers a webhook receiver, creates a lead, posts a live
conversation, gets the signed `coaching.alert` on its receiver and verifies the signature, then reads the
dashboard — against a Daphne process and a Celery worker on PostgreSQL and Redis (`make test-services`)."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from brokerages.keys import api_key_create
from brokerages.models import Role
from tests import live
from tests.factories import BrokerageFactory, UserFactory

SCRIPT = live.ROOT / "examples" / "integration_walkthrough.py"
SCOPES = ["brokerages:write", "nurturing:write", "coaching:write", "analytics:read"]


def _private_redis() -> str:
    """A Redis database of this test's own, so the worker takes no task another test process queued."""
    return live.redis_database(9)


@pytest.mark.django_db(transaction=True)
def test_an_integration_with_only_a_key_gets_a_signed_coaching_alert(tmp_path):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis shared by separate processes: `make test-services` runs it")
    with scopes_disabled():
        brokerage = BrokerageFactory(name="Walkthrough Realty")
        owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@walkthrough.test")
        UserFactory(brokerage=brokerage, role=Role.AGENT, email="agent@walkthrough.test")
        _, key = api_key_create(brokerage=brokerage, actor=owner, name="walkthrough", scopes=SCOPES)
    env = {"REDIS_URL": _private_redis(), "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true"}
    with live.celery_worker(tmp_path, extra_env=env) as worker_log, \
            live.daphne("config.asgi:application", tmp_path, probe_path="/api/brokerage/profile",
                        extra_env=env) as port:
        run = subprocess.run(  # noqa: S603
            [sys.executable, str(SCRIPT), "--base-url", f"http://127.0.0.1:{port}", "--key", key, "--wait", "60"],
            capture_output=True, text=True, timeout=180, check=False)
        context = f"{run.stdout}\n{run.stderr}\n--- worker ---\n{worker_log.read_text()[-3000:]}"
    assert run.returncode == 0, context
    assert "coaching.alert received, signature verified" in run.stdout, context
    assert "dashboard read" in run.stdout, context
