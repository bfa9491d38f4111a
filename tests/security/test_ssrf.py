"""Server-side request forgery: the platform calls addresses people give it in one place only
(brokerages.outbound: outbound webhooks and the automations' call_webhook action). That guard refuses loopback,
link-local (cloud metadata), private and unspecified addresses however they are written, names that resolve to
them, and does not follow redirects; nothing else in the code base opens a connection to a given address."""

import http.server
import re
import socket
import threading
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from brokerages import outbound
from brokerages.webhooks.services import clean_url

ROOT = Path(__file__).resolve().parents[2]

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f000001/hook",
    "http://0.0.0.0:8000/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data",  # 169.254.169.254, IPv4-mapped
    "http://[fd00::1]/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "https://intranet.corp.test/hook",  # resolves to 10.1.2.3 (below)
    "https://rebind.example.test/hook",  # one public and one private answer
]
FAKE_DNS = {
    "intranet.corp.test": ["10.1.2.3"],
    "rebind.example.test": ["93.184.216.34", "192.168.0.7"],
}


@pytest.fixture
def fake_dns(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in FAKE_DNS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in FAKE_DNS[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def no_connections(monkeypatch):
    """Any connection attempt fails the test: refusal must come before connecting."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("url", REFUSED)
def test_outbound_calls_to_internal_addresses_are_refused_before_connecting(url, fake_dns, no_connections,
                                                                            settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(outbound.RefusedTarget, match="private or local address"):
        outbound.post(url, b"{}", headers={})


@pytest.mark.parametrize("url", REFUSED)
def test_webhook_endpoints_cannot_point_inside(url, fake_dns, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationError) as refused:
        clean_url(url.replace("http://", "https://"))
    # Refused as an internal address, or earlier as no proper address at all (127.1, 2130706433, 0x7f000001).
    [message] = refused.value.message_dict["url"]
    assert "cannot receive webhooks" in message or message.startswith("Give a full http:// or https:// address")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://10.0.0.1/x",
                                 "dict://127.0.0.1:11211/stats"])
def test_other_schemes_are_refused(url, no_connections, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(outbound.RefusedTarget, match="not an http"):
        outbound.post(url, b"{}", headers={})


class _Redirector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the handler's name)
        self.server.hits += 1
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_to_an_internal_address_is_not_followed(settings, monkeypatch):
    """The receiver itself is on loopback here (allowed for the test only); its redirect is returned as an
    answer, and no second connection is made."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    server = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
    server.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connections = []
    real = socket.create_connection
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connections.append(address)
                        or real(address, *a, **k))
    try:
        answer = outbound.post(f"http://127.0.0.1:{server.server_port}/hook", b"{}", headers={}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.status == 302 and "redirects are not followed" in answer.failure
    assert server.hits == 1 and connections == [("127.0.0.1", server.server_port)]


# Modules allowed to open network connections, and to what.
NETWORK_CLIENTS = {
    "brokerages/outbound.py": "the guarded path itself",
    "coaching/management/commands/simulate_conversation.py": "an operator's command posting to the server they "
                                                             "name on the command line, not a user's input",
    "nurturing/views/ingestion.py": "a Python example shown to integrators as text (the inbound webhook guide)",
}
NETWORK_CALL = re.compile(r"\burlopen\(|\burllib\.request\b|\bhttp\.client\b|\bsocket\.(create_connection|socket)\(|"
                          r"^\s*import (requests|httpx|aiohttp|urllib3)\b|^\s*from (requests|httpx|aiohttp|urllib3)\b",
                          re.M)


def test_no_other_code_fetches_an_address():
    """Model providers are called by their SDKs at the configured base URL (settings, not user input), and
    WeasyPrint reports load nothing but the brokerage's logo (analytics.reports.ReportFetcher)."""
    found = set()
    for app in ("brokerages", "copilot", "nurturing", "coaching", "analytics", "config"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and NETWORK_CALL.search(path.read_text()):
                found.add(str(path.relative_to(ROOT)))
    assert found == set(NETWORK_CLIENTS), f"new network clients: {found - set(NETWORK_CLIENTS)}"
