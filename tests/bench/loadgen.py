"""A small HTTP/1.1 load generator for the loopback load test (bench_load.py): one keep-alive connection per
simulated client on asyncio streams, with its own cookie jar.

Hundreds of clients in one process cost the generator little CPU this way: no thread per client (50 threads were
fine for bench_api; 200 threads contending for the GIL would make the generator part of what is measured) and no
HTTP library in the requirements. It speaks just what Daphne answers: Content-Length or chunked bodies,
keep-alive unless the server says `Connection: close`.
"""

import asyncio
import time
from dataclasses import dataclass, field

REQUEST_TIMEOUT_S = 10.0


class LoadError(Exception):
    """The request failed before a whole response arrived (refused, reset, timed out, malformed)."""


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    started: float  # perf_counter when the request was written
    elapsed_ms: float  # from writing the request to the last byte of the body

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key == name), "")


@dataclass
class Connection:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> Response:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await self._exchange(method, path, headers or {}, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            await self.close()
            raise LoadError(f"{type(error).__name__}: {error}") from error

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{name}={value}" for name, value in self.cookies.items()))
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        started = time.perf_counter()
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()
        status, response_headers = _head(await self.reader.readuntil(b"\r\n\r\n"))
        payload = await self._body(response_headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        for key, value in response_headers:
            if key == "set-cookie":
                self._remember(value)
        if any(key == "connection" and value.lower() == "close" for key, value in response_headers):
            await self.close()
        return Response(status, response_headers, payload, started, elapsed_ms)

    async def _body(self, headers: list[tuple[str, str]]) -> bytes:
        values = dict(headers)
        if values.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await self.reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append((await self.reader.readexactly(size + 2))[:-2])
        if "content-length" in values:
            return await self.reader.readexactly(int(values["content-length"]))
        body = await self.reader.read()  # delimited by the end of the connection
        await self.close()
        return body

    def _remember(self, set_cookie: str) -> None:
        pair, *attributes = set_cookie.split(";")
        name, _, value = pair.strip().partition("=")
        expired = any(attribute.strip().lower() in ("max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt")
                      for attribute in attributes)
        if expired or not value.strip('"'):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


def _head(raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x response: {status_line!r}")
    headers = []
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return int(status), headers
