"""The one way the platform calls a server outside itself: an HTTP POST that cannot be turned against the
platform's own network, never follows a redirect and never takes longer than its timeout.

Used by the outbound webhooks (`brokerages.webhooks`) and the workflow automations' `call_webhook` action.

- Server-side request forgery: the host name is resolved once, every address it resolves to must be public
  (unless `settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS`, for tests and private deployments), and the connection is
  made to the address that was checked, so a DNS answer that changes a moment later (rebinding) cannot send
  the request inside. Environment proxies are ignored. TLS still verifies the certificate against the name.
- Time: the timeout bounds the whole exchange (connect, send, status line, headers and the excerpt read), not
  each socket read: a watchdog shuts the socket down when the time is up, so a receiver that trickles one byte
  at a time cannot hold a worker either.
- Answer: any HTTP status comes back as an `OutboundResponse` (status, latency, the first characters of the
  body); no answer at all raises `OutboundError` with a reason a person can act on.
"""

import http.client
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_CHARS = 500
# Enough bytes for EXCERPT_CHARS characters of UTF-8 (at most 4 bytes each); the rest of the body is not read.
_EXCERPT_BYTES = EXCERPT_CHARS * 4


class OutboundError(Exception):
    """No HTTP answer: the address was refused or unresolvable, or the connection failed or timed out.
    `latency_ms` is how long the attempt took when a connection was tried (None when it was refused first)."""

    def __init__(self, message: str, latency_ms: int | None = None):
        super().__init__(message)
        self.latency_ms = latency_ms


class RefusedTarget(OutboundError):
    """The address is not http(s), or resolves to a private, loopback, link-local or multicast address."""


class UnresolvableHost(OutboundError):
    """The host name has no address (yet): DNS does not know it."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    latency_ms: int
    excerpt: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def failure(self) -> str:
        """Why the answer counts as a failure, in the words the logs show ("" for a 2xx answer)."""
        if self.ok:
            return ""
        hint = " (redirects are not followed)" if 300 <= self.status < 400 else ""
        return f"the receiver answered {self.status}{hint}"

    def raise_for_status(self) -> "OutboundResponse":
        if not self.ok:
            raise OutboundError(self.failure, self.latency_ms)
        return self


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Outbound calls never reach into the platform's own network, unless a test or a private deployment says
    so (`settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS`)."""
    if settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS:
        return False
    address = getattr(address, "ipv4_mapped", None) or address
    return not address.is_global or address.is_multicast


def resolve(url: str) -> list[str]:
    """The addresses `url`'s host resolves to, each one checked; raises RefusedTarget or UnresolvableHost."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("not an http(s) address")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedTarget("the port is not a number between 0 and 65535") from None
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableHost(f"the host {parts.hostname} cannot be resolved ({error})") from None
    addresses = [info[4][0] for info in found]
    for address in addresses:
        if refused_address(ipaddress.ip_address(address.split("%")[0])):
            raise RefusedTarget(f"{parts.hostname} is a private or local address ({address}); refused")
    return addresses


class _Deadline:
    """Shuts down the sockets it watches once `seconds` have passed (which wakes a blocked read at once)."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere, including inside the network the address check protects."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _pinned(connection_class, address: str, deadline: _Deadline):
    """Connections to the address that was checked, whatever the name resolves to a moment later; their
    sockets are watched by the deadline."""

    def connect(target, *args):
        sock = socket.create_connection((address, target[1]), *args)
        deadline.watch(sock)
        return sock

    def build(host, **kwargs):
        connection = connection_class(host, **kwargs)
        connection._create_connection = connect
        return connection

    return build


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str, deadline: _Deadline):
        super().__init__()
        self.address, self.deadline = address, deadline

    def http_open(self, req):
        return self.do_open(_pinned(http.client.HTTPConnection, self.address, self.deadline), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str, deadline: _Deadline):
        super().__init__()
        self.address, self.deadline = address, deadline

    def https_open(self, req):
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address, self.deadline), req,
                            context=self._context)


def _excerpt(response) -> str:
    """The first EXCERPT_CHARS characters of the body in its declared charset (UTF-8 otherwise), undecodable
    bytes replaced and NUL characters dropped (PostgreSQL text cannot hold them). The status is the answer:
    a body cut short (or not sent before the deadline) leaves the excerpt short or empty."""
    try:
        raw = response.read(_EXCERPT_BYTES)
    except (OSError, http.client.HTTPException):
        raw = b""
    headers = response.headers if isinstance(response.headers, Message) else Message()
    charset = headers.get_content_charset() or "utf-8"
    try:
        text = raw.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\x00", "")[:EXCERPT_CHARS]


def post(url: str, body: bytes, *, headers: dict[str, str], timeout: float | None = None) -> OutboundResponse:
    """POST `body` to `url` with `headers` (Content-Type defaults to application/json).

    Before: nothing; the URL may come from a user. After: either an answer (any status; a redirect is
    returned as its 3xx, not followed) or OutboundError saying why there was none (refused, unresolvable,
    could not connect, no answer within `timeout` seconds, default `settings.WEBHOOKS_TIMEOUT_SECONDS`).
    """
    timeout = settings.WEBHOOKS_TIMEOUT_SECONDS if timeout is None else timeout
    addresses = resolve(url)
    request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 (scheme checked by resolve)
                                     headers={"Content-Type": "application/json", **headers})
    started = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - started) * 1000)

    with _Deadline(timeout) as deadline:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _NoRedirects(), _PinnedHTTPHandler(addresses[0], deadline),
            _PinnedHTTPSHandler(addresses[0], deadline))
        try:
            with opener.open(request, timeout=timeout) as response:
                return OutboundResponse(response.status, elapsed_ms(), _excerpt(response))
        except urllib.error.HTTPError as error:
            with error:
                return OutboundResponse(error.code, elapsed_ms(), _excerpt(error))
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            if deadline.expired or isinstance(reason, TimeoutError | socket.timeout):
                raise OutboundError(f"no answer within {timeout:g} seconds", elapsed_ms()) from None
            raise OutboundError(f"could not connect ({reason or type(reason).__name__})", elapsed_ms()) from None
