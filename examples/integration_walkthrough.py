#!/usr/bin/env python3
"""What an integration does with nothing but the API docs and a brokerage API key (Python 3, standard library).

    python3 examples/integration_walkthrough.py --base-url http://127.0.0.1:8000 --key aep_...

The key needs the scopes brokerages:write, nurturing:write, coaching:write and analytics:read. In order:
1. starts a webhook receiver on this machine and registers it for `coaching.alert` (the secret is shown once);
2. creates a lead for an agent of the team;
3. starts a coaching session for that agent and posts a live conversation with the lead;
4. waits for the signed `coaching.alert` POST and verifies its signature as docs/webhooks.md describes;
5. reads the owner dashboard.
It prints each step and exits 0 when all of them worked. The platform must be allowed to call this machine: a
receiver on 127.0.0.1 needs `WEBHOOKS_ALLOW_PRIVATE_TARGETS=true` on the server (a development setting).
"""

import argparse
import hashlib
import hmac
import json
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_aep_signature(secret: str, body: bytes, timestamp: str, signature_header: str,
                         tolerance_seconds: int = 300) -> bool:
    """The receiver's check from docs/webhooks.md, as written there."""
    try:
        signed_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - signed_at) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    candidates = [part.strip()[3:] for part in signature_header.split(",") if part.strip().startswith("v1=")]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


class Api:
    def __init__(self, base_url: str, key: str):
        if not base_url.startswith(("http://", "https://")):
            raise SystemExit(f"--base-url must start with http:// or https://, not {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        # The scheme was checked in __init__: only http(s) reaches urllib.
        request = urllib.request.Request(self.base_url + path, data=data, method=method,  # noqa: S310
                                         headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise SystemExit(f"{method} {path} answered {error.code}: {detail}") from None

    def rows(self, path: str) -> list[dict]:
        data = self.call("GET", path)
        return data["results"] if isinstance(data, dict) and "results" in data else data


def start_receiver(host: str) -> tuple[ThreadingHTTPServer, "queue.Queue[tuple[dict, bytes]]"]:
    received: "queue.Queue[tuple[dict, bytes]]" = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="a brokerage API key (aep_...)")
    parser.add_argument("--receiver-host", default="127.0.0.1", help="the address the platform can reach us on")
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the webhook")
    args = parser.parse_args()
    api = Api(args.base_url, args.key)

    server, received = start_receiver(args.receiver_host)
    receiver_url = f"http://{args.receiver_host}:{server.server_address[1]}/aep-events"
    endpoint = api.call("POST", "/api/brokerage/webhooks", {
        "url": receiver_url, "events": ["coaching.alert"], "description": "integration walkthrough"})
    secret = endpoint["secret"]
    print(f"1. webhook endpoint {endpoint['id']} registered for coaching.alert at {receiver_url}")

    agent = next((member for member in api.rows("/api/brokerage/team")
                  if member["role"] == "agent" and member["is_active"]), None)
    if agent is None:
        raise SystemExit("The brokerage has no active agent to work with.")
    lead = api.call("POST", "/api/nurturing/leads", {
        "name": "Walkthrough Lead", "email": f"walkthrough-{int(time.time())}@example.com",
        "assigned_agent_id": agent["id"]})
    print(f"2. lead {lead['id']} created for {agent['email']}")

    api.call("POST", "/api/coaching/sessions", {"agent_id": agent["id"], "intensity": "CRITICAL"})
    conversation = api.call("POST", "/api/coaching/conversations", {
        "agent_id": agent["id"], "lead_id": lead["id"], "channel": "call"})
    for speaker, text in (("lead", "Honestly the price seems too high for what it is."),
                          ("agent", "That's the price, the owner won't move on it.")):
        api.call("POST", f"/api/coaching/conversations/{conversation['id']}/messages",
                 {"speaker": speaker, "text": text})
    print(f"3. coaching session started; conversation {conversation['id']} posted")

    deadline = time.monotonic() + args.wait
    while True:
        try:
            headers, body = received.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise SystemExit(f"No coaching.alert reached {receiver_url} within {args.wait:g} s.") from None
        headers = {name.lower(): value for name, value in headers.items()}
        if not verify_aep_signature(secret, body, headers.get("x-aep-timestamp", ""),
                                    headers.get("x-aep-signature", "")):
            raise SystemExit("A webhook arrived with a signature that does not verify.")
        event = json.loads(body)
        if event["event"] == "coaching.alert" and event["data"]["conversation"]["id"] == conversation["id"]:
            break
    print(f"4. coaching.alert received, signature verified: {event['data']['alert']['title']!r} "
          f"(delivery {headers['x-aep-delivery']})")

    dashboard = api.call("GET", "/api/brokerage/dashboard")
    print(f"5. dashboard read: {len(dashboard)} sections ({', '.join(sorted(dashboard)[:5])}, ...)")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
