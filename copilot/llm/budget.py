"""One model call's time budget: every attempt, and every wait between attempts, fits in the call's timeout.

The SDKs' own retries multiply the wait a user sees: each attempt gets the whole timeout, with backoff in
between. A provider that never answers held a call for 4.4 s (anthropic) or 6.9 s (google-genai) with a 1 s
timeout and two retries, over a minute with the default 20 s, before the local engine stood in. Every feature
promises its latency target plus the timeout (`settings.LLM_TIMEOUT_SECONDS`), so the providers turn the SDKs'
retries off and make their attempts here: each attempt is given what is left of the budget, and another is
started only when there is still time for it to be answered after the wait.
"""

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from .base import ProviderError

T = TypeVar("T")

# Failures that another attempt may not meet; a refused key, a bad request or an unreadable answer will repeat.
RETRYABLE = frozenset({"timeout", "rate_limited", "server_error", "unavailable"})
# Another attempt is started only with at least this share of the budget left after the wait: a model takes
# seconds to answer, and an attempt cut off after a moment is a wasted request.
MIN_ATTEMPT_SHARE = 0.25
# A Retry-After longer than this is not waited for, whatever the budget (the anthropic SDK's limit too).
MAX_RETRY_AFTER = 60.0


def call_within(attempt: Callable[[float], T], *, budget: float, max_retries: int, retry_delay: float) -> T:
    """`attempt(timeout)` until it returns, at most `max_retries` times more after a retryable ProviderError,
    all within `budget` seconds.

    The wait before a retry is the error's `retry_after` when the server named one, else `retry_delay` doubled
    at each retry, with jitter. The last ProviderError propagates when the attempts or the budget run out.
    """
    deadline = time.monotonic() + budget
    retries = 0
    while True:
        try:
            return attempt(deadline - time.monotonic())
        except ProviderError as error:
            if error.kind not in RETRYABLE or retries >= max_retries:
                raise
            wait = error.retry_after if error.retry_after is not None else _backoff(retry_delay, retries)
            if deadline - time.monotonic() - wait < budget * MIN_ATTEMPT_SHARE:
                raise
            retries += 1
            time.sleep(wait)


def _backoff(delay: float, retries: int) -> float:
    # Jitter spreads the retries of many requests that failed together; it is not a secret.
    return delay * 2**retries * (1 - 0.25 * random.random())


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The wait a 429/503 answer asks for, in seconds: `retry-after-ms` (Anthropic), else `retry-after` in
    seconds or as an HTTP date. None when absent, unreadable or beyond MAX_RETRY_AFTER."""
    if not headers:
        return None
    seconds = None
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            seconds = float(millis) / 1000
        except ValueError:
            seconds = None
    if seconds is None and (value := headers.get("retry-after")) is not None:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = None
    if seconds is None or not 0 <= seconds <= MAX_RETRY_AFTER:
        return None
    return seconds
