"""Facts about the current request that services record without taking the request: the client's address, and
the integration key the request came with (set by `TenantAPIView` for the length of a key-authenticated call)."""

from contextlib import contextmanager
from contextvars import ContextVar

client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
api_key_label: ContextVar[str | None] = ContextVar("api_key_label", default=None)


def ip_from_request(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def acting_with_api_key(label: str):
    """Within the block, audit entries name the key (`"<name> (<prefix>)"`) the request authenticated with."""
    token = api_key_label.set(label)
    try:
        yield
    finally:
        api_key_label.reset(token)
