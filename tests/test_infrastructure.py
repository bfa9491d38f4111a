"""The embedded default and the production shape pick their backends from the environment, and the channel
layer in use really carries messages (in-memory here, Redis under `make test-services`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
    "'broker': s.CELERY_BROKER_URL, 'email': s.EMAIL_BACKEND, 'llm': s.LLM_PROVIDER}))"
)


def backends(tmp_path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "LLM_PROVIDER"}}
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path), **env)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_no_server(tmp_path):
    chosen = backends(tmp_path)
    assert chosen == {"db": "django.db.backends.sqlite3", "layer": "channels.layers.InMemoryChannelLayer",
                      "broker": "filesystem://", "email": "django.core.mail.backends.console.EmailBackend",
                      "llm": "local"}
    assert (tmp_path / "celery" / "queue").is_dir()


def test_production_shape_uses_postgres_and_redis(tmp_path):
    chosen = backends(tmp_path, DATABASE_URL="postgres://aep@db.internal:5432/aep",
                      REDIS_URL="redis://cache.internal:6379/0")
    assert chosen["db"] == "django.db.backends.postgresql"
    assert chosen["layer"] == "channels_redis.core.RedisChannelLayer"
    assert chosen["broker"] == "redis://cache.internal:6379/0"


def test_channel_layer_carries_a_group_message():
    layer = get_channel_layer()

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add("probe-group", channel)
        await layer.group_send("probe-group", {"type": "probe.message", "text": "hello"})
        received = await layer.receive(channel)
        await layer.group_discard("probe-group", channel)
        return received

    assert async_to_sync(round_trip)() == {"type": "probe.message", "text": "hello"}
