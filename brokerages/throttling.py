"""Request rates per integration key and per member, counted in the shared cache (Redis when `REDIS_URL` is set)
so every server process enforces the same limit. Over the limit the API answers 429 with `Retry-After`.

DRF's own `SimpleRateThrottle` keeps a list of timestamps that each process reads, extends and writes back, so
concurrent requests overwrite each other's entries and a busy key is under-counted. These count in fixed
windows with the cache's atomic increment instead, exact across processes (on Redis, Django's `incr` is two
round trips: EXISTS, then INCR); the cost is that a client may send up to twice the rate across a window
boundary.
"""

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


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
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter just expired)
            count = 1 if self.cache.add(key, 1, timeout=self.duration + 1) else self.cache.incr(key)
        return count <= self.num_requests

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
