"""The API's rate limit when its cache (Redis) stops answering (brokerages/throttling.py): requests are let
through uncounted instead of failing, the cache is left alone for a while after it failed (a hung server costs
one request its timeout, not every request), the outage is logged when it starts and when counting resumes, not
per request, and the limit holds again once the cache answers. In-process, on any database."""

import logging
import time
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.authtoken.models import Token

from brokerages import throttling

pytestmark = pytest.mark.django_db

LEADS = "/api/nurturing/leads"
RETRY_SECONDS = 3.0


class FlakyCache:
    """A real in-memory cache that raises what redis-py raises while `failure` is set, counting the calls."""

    def __init__(self):
        self.cache = LocMemCache(f"throttle-outage-{uuid.uuid4().hex}", {})  # counters of this test only
        self.failure: Exception | None = None
        self.calls = 0

    def _call(self, name, *args, **kwargs):
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return getattr(self.cache, name)(*args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._call("incr", *args, **kwargs)

    def add(self, *args, **kwargs):
        return self._call("add", *args, **kwargs)


def logged(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == throttling.__name__]


@pytest.fixture
def cache(monkeypatch, settings) -> FlakyCache:
    settings.API_USER_THROTTLE_RATE = "3/min"
    flaky = FlakyCache()
    monkeypatch.setattr(throttling._WindowThrottle, "cache", flaky)
    monkeypatch.setattr(throttling, "cache_outage", throttling._CacheOutage())
    monkeypatch.setattr(throttling, "CACHE_RETRY_SECONDS", RETRY_SECONDS)
    return flaky


@pytest.mark.parametrize("failure", [RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection "
                                                          "refused."),
                                     RedisTimeoutError("Timeout reading from socket")], ids=["refused", "hung"])
def test_requests_pass_uncounted_while_the_cache_is_down_and_are_limited_again_after(tenant, cache, caplog,
                                                                                    failure):
    warm = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=tenant.owner).key}")
    assert warm.get(LEADS).status_code == 200  # the first request of a process loads the API: not timed below
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=tenant.agent).key}")
    cache.failure = failure
    cache.calls = 0
    with caplog.at_level(logging.WARNING, logger="brokerages.throttling"):
        started = time.monotonic()
        statuses = [client.get(LEADS).status_code for _ in range(6)]
        assert time.monotonic() - started < RETRY_SECONDS, "too slow a machine for this test's timing"
        assert statuses == [200] * 6  # twice the limit, and no 429 or 500
        assert cache.calls == 1  # tried once, then spared until it is due again
        assert [record.levelname for record in logged(caplog)] == ["ERROR"]
        assert "API rate limits are not enforced" in logged(caplog)[0].getMessage()

        time.sleep(RETRY_SECONDS)
        statuses = [client.get(LEADS).status_code for _ in range(3)]
        assert statuses == [200] * 3  # tried again, still down: let through, not logged again
        assert cache.calls == 2
        assert len(logged(caplog)) == 1

        cache.failure = None
        time.sleep(RETRY_SECONDS)
        statuses = [client.get(LEADS) for _ in range(4)]
    assert [response.status_code for response in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1]["Retry-After"]) >= 1
    recovered = logged(caplog)[-1]
    assert recovered.levelname == "WARNING"
    assert "API rate limits are counted again" in recovered.getMessage()
    assert "9 requests were let through uncounted" in recovered.getMessage()


def test_a_healthy_cache_is_counted_on_every_request(tenant, cache, caplog):
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=tenant.agent).key}")
    with caplog.at_level(logging.WARNING, logger="brokerages.throttling"):
        statuses = [client.get(LEADS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert cache.calls >= 4
    assert not logged(caplog)
