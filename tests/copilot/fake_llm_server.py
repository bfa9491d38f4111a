"""A scripted stand-in for the Anthropic and Gemini HTTP APIs on 127.0.0.1, so tests drive the real SDKs.

Each test scripts the replies (status, JSON body, delay, headers); request n gets reply n, and the last reply
repeats. Every request is recorded (path, headers, JSON body) for assertions.
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; str → sent as is
    delay: float = 0.0  # seconds before answering, to provoke client timeouts
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


# Realistic bodies, shaped like the real APIs' responses.

def anthropic_message(text: str, *, input_tokens: int = 42, output_tokens: int = 7, model: str = "claude-test") -> dict:
    return {
        "id": "msg_01FakeFakeFake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def anthropic_error(status: int) -> dict:
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
            500: "api_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"fake {kind}"}, "request_id": "req_fake"}


def gemini_response(text: str, *, prompt_tokens: int = 42, output_tokens: int = 7, model: str = "gemini-test") -> dict:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
                          "totalTokenCount": prompt_tokens + output_tokens},
        "modelVersion": model,
        "responseId": "fake-response-id",
    }


def gemini_error(status: int) -> dict:
    name = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")
    return {"error": {"code": status, "message": f"fake {name}", "status": name}}


class FakeLLMServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = [Reply(status=404, body={"error": {"message": "nothing scripted"}})]
        self._lock = threading.Lock()
        # Set on stop, so handlers still "delaying" give up at once instead of holding the shutdown.
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies = list(replies)
            self.requests = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _take(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            return self._replies[min(len(self.requests), len(self._replies)) - 1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeLLMServer

    def handle_error(self, request, client_address):
        # A client that timed out has hung up; writing to it fails, which is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        fake = self.server.fake
        reply = fake._take(Recorded("POST", self.path, dict(self.headers), body))
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = payload.encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout) before the reply

    def log_message(self, format, *args):
        pass
