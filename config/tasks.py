"""Queuing Celery tasks after commit without letting the broker's health decide a request's fate.

Every task of the project is queued with `delay_on_commit` / `apply_async_on_commit` once the transaction that
made its work commits. Celery's own versions raise out of the commit when the broker cannot be reached: the
write is committed, yet the request answers 500 and the task is gone. This task class publishes the same way
while the broker answers; when it does not, the task is kept in this process and published again by a
background thread once the broker is back, in the order it was queued.

While tasks are held, new ones join them without trying the broker: one failed publish (at most its bounded
timeouts, settings.REDIS_TIMEOUT_SECONDS) per outage, not one per request. Every held task is logged with its
name and arguments (ids, by house style) when it is held, when it is finally queued, and as lost if the process
ends first or too many pile up (`BACKLOG_LIMIT`).

What a lost task costs, by task: a webhook delivery is re-found by `webhook_deliveries_sweep` (its row waits in
the database); the per-brokerage nurture, speed-to-lead, send-due and rollup tasks are queued again by beat's
next run (their fan-out runs in a worker, which needs the broker anyway); a conversation's model-backed review
(`conversation_analyse_deep`), an automation's webhook call and a weekly report are not re-found: the log line
naming them is what is left to replay them by hand.
"""

import atexit
import datetime as dt
import functools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from celery.contrib.django.task import DjangoTask
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What a publish raises when the broker cannot be reached (kombu wraps most of it; a socket error may escape).
UNREACHABLE = (BrokerError, RedisConnectionError, RedisTimeoutError, OSError)
# Tasks held at most by one process; past it the oldest is dropped (logged as lost) rather than memory grown
# without bound through a long outage.
BACKLOG_LIMIT = 10_000
# Seconds between attempts to publish what is held: doubling from the first to the last.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 10.0


@dataclass
class _Held:
    task: "Task"
    args: tuple
    kwargs: dict
    options: dict
    since: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        arguments = [repr(value) for value in self.args] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"{self.task.name}({', '.join(arguments)})"

    def publish(self) -> None:
        self.task.apply_async(self.args, self.kwargs, **self.options)


class Backlog:
    """The tasks this process could not publish yet, and the thread that publishes them when it can."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held: deque[_Held] = deque()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, held: _Held, reason: str) -> None:
        with self._lock:
            dropped = self._held.popleft() if len(self._held) >= BACKLOG_LIMIT else None
            self._held.append(held)
            waiting = len(self._held)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="celery-backlog", daemon=True)
                self._thread.start()
        if dropped is not None:
            logger.error("Task %s lost: over %d tasks wait for the broker in this process", dropped, BACKLOG_LIMIT)
        logger.error("Task %s not queued (%s); kept in this process (%d waiting) and queued when the broker "
                     "answers", held, reason, waiting)

    def _run(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            time.sleep(delay)
            if self.flush():
                return
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def flush(self) -> bool:
        """Publish the held tasks, oldest first, until the broker fails again. True when none is left (the
        thread then ends; the next task held starts another)."""
        while True:
            with self._lock:
                if not self._held:
                    self._thread = None
                    return True
                held = self._held[0]
            try:
                held.publish()
            except UNREACHABLE:
                return False
            except Exception:  # the broker answered but refused this one: retrying will not help
                logger.exception("Task %s lost: the broker refused it", held)
            else:
                logger.warning("Task %s queued, %.0f s late: the broker answers again", held,
                               time.monotonic() - held.since)
            with self._lock:
                if self._held and self._held[0] is held:
                    self._held.popleft()

    def report_lost(self) -> None:
        """At exit: name what was never queued."""
        with self._lock:
            lost, self._held = list(self._held), deque()
        for held in lost:
            logger.error("Task %s lost: the process ended before the broker answered", held)


backlog = Backlog()
atexit.register(backlog.report_lost)


def enqueue(task: "Task", args: tuple, kwargs: dict, options: dict) -> None:
    """Publish the task now, or hold it when the broker cannot be reached (or tasks are already held)."""
    if task.app.conf.task_always_eager:
        # The task runs right here: its own failures are the caller's, not a broker's to retry.
        task.apply_async(args, kwargs, **options)
        return
    if "countdown" in options:  # the delay counts from now, however late the publish
        options = dict(options)
        options["eta"] = timezone.now() + dt.timedelta(seconds=options.pop("countdown"))
    held = _Held(task, tuple(args), dict(kwargs), options)
    if len(backlog):
        backlog.hold(held, "earlier tasks are still waiting for the broker")
        return
    try:
        held.publish()
    except UNREACHABLE as error:
        backlog.hold(held, f"{type(error).__name__}: {error}")


class Task(DjangoTask):
    """The project's task class (config/celery.py): queuing after commit never fails the committed request."""

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(functools.partial(enqueue, self, args, kwargs, {}))

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        transaction.on_commit(functools.partial(enqueue, self, args or (), kwargs or {}, options))
