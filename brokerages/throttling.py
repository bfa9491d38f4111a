"""Request rates per integration key and per member, counted in the shared cache (Redis when `REDIS_URL` is set)
so every server process enforces the same limit. Over the limit the API answers 429 with `Retry-After`.

DRF's own `SimpleRateThrottle` keeps a list of timestamps that each process reads, extends and writes back, so
concurrent requests overwrite each other's entries and a busy key is under-counted. These count in fixed
windows with the cache's atomic increment instead, exact across processes (on Redis, Django's `incr` is two
round trips: EXISTS, then INCR); the cost is that a client may send up to twice the rate across a window
boundary.

The counters are a guard, not a record: when the cache cannot be reached (Redis stopped or hangs), requests are
let through uncounted rather than failed, and the cache is left alone for `CACHE_RETRY_SECONDS` so a hung server
costs one request its timeout, not every request. The outage is logged when it starts and when counting
resumes, not once per request.
"""

import logging
import math
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey

logger = logging.getLogger(__name__)

# How long, after the cache failed, requests skip it before it is tried again.
CACHE_RETRY_SECONDS = 5.0


class _CacheOutage:
    """This process's view of whether the cache answers: when to try it again, and what was let through."""

    def __init__(self):
        self._lock = threading.Lock()
        self.started: float | None = None
        self.retry_at = 0.0
        self.uncounted = 0

    def skip(self) -> bool:
        """True while the cache is known to be down and not due for another try (the request is counted as
        let through)."""
        with self._lock:
            if self.started is None or time.monotonic() >= self.retry_at:
                return False
            self.uncounted += 1
            return True

    def failed(self, error: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            self.retry_at = now + CACHE_RETRY_SECONDS
            self.uncounted += 1
            if self.started is not None:
                return
            self.started = now
        logger.error("API rate limits are not enforced: the cache does not answer (%s: %s). Requests are let "
                     "through uncounted until it does; it is tried again every %g s.",
                     type(error).__name__, error, CACHE_RETRY_SECONDS)

    def answered(self) -> None:
        if self.started is None:  # the usual case, read without the lock
            return
        with self._lock:
            if self.started is None:
                return
            lasted, uncounted = time.monotonic() - self.started, self.uncounted
            self.started, self.uncounted = None, 0
        logger.warning("API rate limits are counted again: the cache answers after %.0f s, during which %d "
                       "requests were let through uncounted.", lasted, uncounted)


cache_outage = _CacheOutage()


class _WindowThrottle(SimpleRateThrottle):
    """`rate_setting` names the Django setting holding the rate ("600/min"; s, min, hour or day)."""

    rate_setting: str

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    def allow_request(self, request, view) -> bool:
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{ident}:{window}"
        if cache_outage.skip():
            return True
        try:
            count = self._count(key)
        except (RedisError, OSError) as error:
            cache_outage.failed(error)
            return True
        cache_outage.answered()
        return count <= self.num_requests

    def _count(self, key: str) -> int:
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter just expired)
            return 1 if self.cache.add(key, 1, timeout=self.duration + 1) else self.cache.incr(key)

    def wait(self) -> int:
        return max(1, math.ceil(self.window_ends - self.now))


class ApiKeyRateThrottle(_WindowThrottle):
    """Requests per integration key (`API_KEY_THROTTLE_RATE`)."""

    scope = "api_key"
    rate_setting = "API_KEY_THROTTLE_RATE"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class MemberRateThrottle(_WindowThrottle):
    """Requests per member calling with their own token or session (`API_USER_THROTTLE_RATE`); anonymous calls
    are refused by authentication before they cost anything."""

    scope = "api_user"
    rate_setting = "API_USER_THROTTLE_RATE"

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey) or request.user is None or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
