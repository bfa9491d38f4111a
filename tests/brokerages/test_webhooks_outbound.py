"""The one outbound HTTP path (brokerages.outbound), against raw servers on 127.0.0.1: what a caller gets back
(status, latency, a safe excerpt), and what it never does (wait past its timeout however the receiver dribbles,
follow a redirect, reach a private address without the setting, use a proxy from the environment)."""

import socket
import threading
import time

import pytest

from brokerages import outbound


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


class RawServer:
    """Accepts connections and answers each with `script`: (bytes, pause after them in seconds) pairs."""

    def __init__(self, script):
        self.script, self.requests = script, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(_read_request(conn))
                    for chunk, pause in self.script:
                        conn.sendall(chunk)
                        if self.stop.wait(pause):
                            return
                except OSError:
                    pass  # the client hung up: what a deadline does

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def serve(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    servers = []

    def start(*script):
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


def test_any_status_is_an_answer_with_latency_and_the_body_decoded_safely(serve):
    body = "Ünïcode ok ".encode("latin-1") + b"\x00\xff" + b"x" * 3000
    server = serve((answer("500 Internal Server Error", body, "text/plain; charset=latin-1"), 0))
    response = outbound.post(server.url, b'{"a": 1}', headers={"X-Test": "1"})
    assert (response.status, response.ok) == (500, False)
    assert response.failure == "the receiver answered 500"
    assert response.excerpt.startswith("Ünïcode ok ÿ")  # its charset; NUL dropped (PostgreSQL refuses it)
    assert len(response.excerpt) == outbound.EXCERPT_CHARS
    assert response.latency_ms >= 0
    request = server.requests[0]
    assert request.startswith(b"POST /hook HTTP/1.1") and request.endswith(b'{"a": 1}')
    assert b"Content-Type: application/json" in request and b"X-Test: 1" in request


def test_undecodable_bytes_are_replaced(serve):
    server = serve((answer("200 OK", b"ok \xe2\x28\xa1", "application/json"), 0))
    response = outbound.post(server.url, b"{}", headers={}).raise_for_status()
    assert response.ok and response.excerpt == "ok \ufffd(\ufffd"


def test_a_receiver_dribbling_its_answer_is_cut_at_the_deadline(serve, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.6
    # One byte of the status line every 0.2 s: each read is quick, the whole answer would take seconds.
    server = serve(*[(bytes([byte]), 0.2) for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    started = time.perf_counter()
    with pytest.raises(outbound.OutboundError, match=r"^no answer within 0.6 seconds$") as refused:
        outbound.post(server.url, b"{}", headers={})
    took = time.perf_counter() - started
    assert 0.55 < took < 1.2
    assert 550 <= refused.value.latency_ms < 1200


def test_a_redirect_is_returned_not_followed(serve):
    server = serve((b"HTTP/1.1 301 Moved\r\nLocation: http://10.0.0.1/admin\r\nContent-Length: 0\r\n\r\n", 0))
    response = outbound.post(server.url, b"{}", headers={})
    assert response.status == 301 and response.failure == "the receiver answered 301 (redirects are not followed)"
    with pytest.raises(outbound.OutboundError, match="redirects are not followed"):
        response.raise_for_status()
    assert len(server.requests) == 1


def test_a_closed_port_is_a_connection_error(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(outbound.OutboundError, match=r"^could not connect \(") as refused:
        outbound.post(f"http://127.0.0.1:{port}/hook", b"{}", headers={})
    assert refused.value.latency_ms is not None


@pytest.mark.parametrize(("url", "message"), [
    ("http://127.0.0.1:9/hook", "127.0.0.1 is a private or local address (127.0.0.1); refused"),
    ("http://169.254.169.254/latest/meta-data", "is a private or local address"),
    ("http://[::1]/hook", "is a private or local address"),
    ("http://[::ffff:10.0.0.1]/hook", "is a private or local address"),
    ("http://localhost:8000/hook", "localhost is a private or local address"),
    ("ftp://files.example.com/hook", "not an http(s) address"),
    ("http://127.0.0.1:99999/hook", "the port is not a number"),
])
def test_private_and_odd_targets_are_refused_before_connecting(url, message):
    with pytest.raises(outbound.RefusedTarget, match=message.replace("(", r"\(").replace(")", r"\)")) as refused:
        outbound.post(url, b"{}", headers={})
    assert refused.value.latency_ms is None


def test_an_unknown_host_says_so():
    with pytest.raises(outbound.UnresolvableHost, match=r"^the host nowhere\.invalid cannot be resolved"):
        outbound.resolve("https://nowhere.invalid/hook")


def test_environment_proxies_are_ignored(serve, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    server = serve((answer("200 OK", b"direct"), 0))
    assert outbound.post(server.url, b"{}", headers={}).excerpt == "direct"
