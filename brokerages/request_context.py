"""Facts about the current request that services record without taking the request (the client's address)."""

from contextvars import ContextVar

client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def ip_from_request(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
