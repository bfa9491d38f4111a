"""Structured logs: every line emitted while a request (or a Celery task) is handled names it.

`RequestContextMiddleware` gives each request an id (a sane incoming `X-Request-ID`, else a new one), returns it
in the `X-Request-ID` header and writes one access line per request. The id lives in a context variable, so
`ContextFilter` can add it to every record without the request being passed around; Django runs sync views in
threads under ASGI and asgiref carries context variables into them. The brokerage comes from the tenant scope in
effect (django-scopes keeps it in a context variable too), else from the signed-in user, else from the task's
`brokerage_id` argument. `LOG_FORMAT` picks `JsonFormatter` (one JSON object per line) or `TextFormatter`.
"""

import datetime as dt
import json
import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from django.utils.functional import SimpleLazyObject, empty
from django_scopes.state import get_scope

access_logger = logging.getLogger("access")

# A caller's id is kept only when it cannot break a log line or a header and stays short.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Secrets that travel in the URL (the inbound lead webhook's token, a password-reset link) stay out of the logs.
_SECRET_URL_ARGUMENTS = ("token", "uidb64")


@dataclass
class LogContext:
    request_id: str | None
    brokerage_id: int | None = None
    # The request being handled: its user is read once authentication has loaded it (never loaded from here).
    request: Any = None


_context: ContextVar[LogContext | None] = ContextVar("log_context", default=None)


def request_id_from_header(value: str | None) -> str:
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _loaded_user(request) -> Any:
    """The request's user if something already loaded it: AuthenticationMiddleware's lazy user once evaluated,
    or the user DRF set after authenticating a key or token. A log line must not run the session query itself."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = vars(user).get("_wrapped", empty)
        return None if user is empty else user
    return user


def _as_id(value: Any) -> int | None:
    value = getattr(value, "pk", value)
    return value if isinstance(value, int) else None


def _logged_path(request) -> str:
    match = getattr(request, "resolver_match", None)
    secrets = {value: f"<{name}>" for name, value in (match.kwargs.items() if match else ())
               if name in _SECRET_URL_ARGUMENTS and isinstance(value, str) and value}
    if not secrets:
        return request.path
    return "/".join(secrets.get(segment, segment) for segment in request.path.split("/"))


class RequestContextMiddleware:
    """Near the top of MIDDLEWARE, so the id and the access line cover everything below, redirects included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_header(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        # Not reset on the way out: Django logs a 4xx answer ("Not Found: …") after the middleware returns, and a
        # streamed body is produced later still. The context ends with `request_finished` (below).
        _context.set(LogContext(request_id=request_id, request=request))
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        response["X-Request-ID"] = request_id
        path = _logged_path(request)
        access_logger.info("%s %s %s %.1fms", request.method, path, response.status_code, duration_ms,
                           extra={"method": request.method, "path": path, "status": response.status_code,
                                  "duration_ms": duration_ms})
        return response


@receiver(request_finished, dispatch_uid="config.observability.request_finished")
def _request_finished(**_) -> None:
    # Under WSGI a thread serves one request after another: nothing logged between two may name the last one.
    # (Under ASGI each request has a context of its own anyway.)
    _context.set(None)


class ContextFilter(logging.Filter):
    """Adds `request_id`, `brokerage_id` and `user_id` (None where unknown) to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        user = _loaded_user(context.request) if context is not None and context.request is not None else None
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id if context is not None else None
        if not hasattr(record, "user_id"):
            record.user_id = _as_id(user)
        if not hasattr(record, "brokerage_id"):
            record.brokerage_id = (_as_id(get_scope().get("brokerage")) or _as_id(getattr(user, "brokerage_id", None))
                                   or (context.brokerage_id if context is not None else None))
        return True


# What every LogRecord carries; anything else on a record came in through `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "taskName", "request_id", "brokerage_id", "user_id", "context"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (ISO 8601, UTC), level, logger, message, the request's context, the
    record's scalar `extra=` fields, and the exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "brokerage_id": getattr(record, "brokerage_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and key not in entry \
                    and (value is None or isinstance(value, str | int | float | bool)):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: `time LEVEL logger [request=… brokerage=… user=…] message`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        known = [f"{label}={value}" for label, value in (("request", getattr(record, "request_id", None)),
                                                          ("brokerage", getattr(record, "brokerage_id", None)),
                                                          ("user", getattr(record, "user_id", None)))
                 if value is not None]
        record.context = f" [{' '.join(known)}]" if known else ""
        return super().format(record)


def configure(config: dict) -> None:
    """LOGGING_CONFIG: the dictionary, and Python's warnings (a deprecation, a missing static folder) as log
    records, so they too are one line each with their context instead of raw text on standard error."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


# Celery: a task's log lines carry its id as their request id, and its `brokerage_id` argument when it has one.
# The tokens are kept per task id because an eager task (run inside a request) must give the request its
# context back when it ends.
_task_tokens: dict[str, Any] = {}


def celery_task_started(*, task_id: str, kwargs: dict | None = None, **_) -> None:
    brokerage_id = (kwargs or {}).get("brokerage_id")
    _task_tokens[task_id] = _context.set(LogContext(request_id=task_id, brokerage_id=_as_id(brokerage_id)))


def celery_task_finished(*, task_id: str, **_) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        _context.reset(token)


def celery_use_django_logging(**_) -> None:
    """Celery's worker and beat would replace the root handlers with their own text format (and keep task
    loggers apart); answering its `setup_logging` signal leaves LOGGING from the settings in charge instead."""
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
