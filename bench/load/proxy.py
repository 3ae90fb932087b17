"""A small asyncio reverse proxy for the harness: round robin over the backends that are
ready, the way a load balancer with readiness probes behaves.

- Each backend's ``/readyz`` is polled every ``interval`` seconds; a backend that answers
  anything but 200 (a draining instance answers 503) or does not answer gets no new requests.
- Each request goes to the backend on a connection of its own (``Connection: close``), so no
  request is ever written onto a keep-alive connection the backend is closing.
- A refused connection is retried on the next ready backend (nothing was sent, so this is safe
  for every method); a GET or HEAD whose connection closed before any answer byte is retried
  too. Anything else that breaks answers 502; no ready backend answers 503 with Retry-After.
- ``GET /__proxy/stats`` answers the counts per backend as JSON.

Run alone: ``python -m bench.load.proxy --listen 8080 --backend 127.0.0.1:8081 …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from dataclasses import asdict, dataclass, field

STATS_PATH = "/__proxy/stats"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "proxy-connection", "te", "upgrade"})  # fmt: skip
MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


class BadRequest(Exception):
    """The client's request cannot be forwarded (malformed, chunked, too large)."""


class BackendFailed(Exception):
    """The backend broke the exchange; ``retryable`` when the request surely had no effect."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class Backend:
    host: str
    port: int
    ready: bool = False
    in_flight: int = 0
    answered: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = header(self.headers, "connection").lower()
        return connection != "close" if self.version == "HTTP/1.1" else connection == "keep-alive"

    def to_backend(self) -> bytes:
        kept = [(k, v) for k, v in self.headers if k.lower() not in HOP_BY_HOP]
        lines = [f"{self.method} {self.target} HTTP/1.1", *(f"{k}: {v}" for k, v in kept),
                 f"Content-Length: {len(self.body)}", "Connection: close", "", ""]  # fmt: skip
        return "\r\n".join(lines).encode("latin-1") + self.body


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def to_client(self, *, keep_alive: bool) -> bytes:
        kept = [(k, v) for k, v in self.headers if k.lower() not in HOP_BY_HOP]
        lines = [f"HTTP/1.1 {self.status} {self.reason}", *(f"{k}: {v}" for k, v in kept),
                 f"Content-Length: {len(self.body)}",
                 f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]  # fmt: skip
        return "\r\n".join(lines).encode("latin-1") + self.body


def header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The start line and the headers of an HTTP/1.x message head."""
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"expected 'Name: value' header lines, got {line[:80]!r}")
        headers.append((name, value.strip()))
    return lines[0], headers


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a client connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("the connection closed in the middle of a request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(f"a request head is limited to {MAX_HEAD} bytes") from None
    start, headers = parse_head(head)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"expected 'METHOD target HTTP/1.x', got {start[:80]!r}")
    if header(headers, "transfer-encoding"):
        raise BadRequest("chunked request bodies are not supported: send Content-Length")
    length_text = header(headers, "content-length") or "0"
    if not length_text.isdigit() or int(length_text) > MAX_BODY:
        raise BadRequest(f"expected a Content-Length up to {MAX_BODY}, got {length_text!r}")
    body = await reader.readexactly(int(length_text))
    return Request(parts[0], parts[1], parts[2], headers, body)


def parse_answer(raw: bytes) -> Answer:
    """A backend's whole answer (read until it closed the connection)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise BackendFailed(
            "the backend closed the connection before a whole head", retryable=False
        )
    start, headers = parse_head(head + b"\r\n")
    version, _, rest = start.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise BackendFailed(f"expected an HTTP/1.x status line, got {start[:80]!r}",
                            retryable=False)  # fmt: skip
    if header(headers, "transfer-encoding").lower() == "chunked":
        body = dechunk(body)
    elif (length := header(headers, "content-length")).isdigit():
        body = body[: int(length)]
    return Answer(int(code), reason, headers, body)


def dechunk(data: bytes) -> bytes:
    out, position = bytearray(), 0
    while True:
        end = data.index(b"\r\n", position)
        size = int(data[position:end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        position = end + 4 + size


class Proxy:
    """Round robin over ``backends`` (``host:port``), readiness polled every ``interval``."""

    def __init__(self, backends: list[tuple[str, int]], *, interval: float = 0.1,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.backends = [Backend(host, port) for host, port in backends]
        self.interval, self.timeout = interval, timeout
        self._next = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._server: asyncio.Server | None = None
        self.unavailable = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        await asyncio.gather(*(self._probe(b) for b in self.backends))
        self._tasks = [asyncio.create_task(self._watch(b)) for b in self.backends]
        self._server = await asyncio.start_server(self._client, host, port, limit=MAX_HEAD)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def stats(self) -> dict[str, object]:
        return {"backends": [{"name": b.name, **asdict(b)} for b in self.backends],
                "unavailable": self.unavailable}  # fmt: skip

    async def _watch(self, backend: Backend) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._probe(backend)

    async def _probe(self, backend: Backend) -> None:
        probe = Request("GET", "/readyz", "HTTP/1.1", [("Host", backend.name)], b"")
        try:
            answer = await asyncio.wait_for(self._exchange(backend, probe), timeout=2)
        except (OSError, BackendFailed, TimeoutError):
            backend.ready = False
            return
        backend.ready = answer.status == 200

    def choose(self, tried: set[int]) -> Backend | None:
        """The next ready backend not tried yet for this request (round robin)."""
        count = len(self.backends)
        for step in range(count):
            index = (self._next + step) % count
            if index not in tried and self.backends[index].ready:
                self._next = index + 1
                return self.backends[index]
        return None

    async def forward(self, request: Request) -> Answer:
        tried: set[int] = set()
        while (backend := self.choose(tried)) is not None:
            tried.add(self.backends.index(backend))
            backend.in_flight += 1
            try:
                answer = await asyncio.wait_for(self._exchange(backend, request), self.timeout)
            except ConnectionRefusedError:
                backend.ready, backend.retried = False, backend.retried + 1
                continue
            except BackendFailed as exc:
                if exc.retryable and request.method in IDEMPOTENT:
                    backend.retried += 1
                    continue
                backend.failed += 1
                return Answer(502, "Bad Gateway", body=f"{backend.name}: {exc}".encode())
            except (OSError, TimeoutError) as exc:
                backend.failed += 1
                return Answer(502, "Bad Gateway", body=f"{backend.name}: {exc!r}".encode())
            finally:
                backend.in_flight -= 1
            backend.answered += 1
            return answer
        self.unavailable += 1
        return Answer(503, "Service Unavailable", [("Retry-After", "1")], b"no backend is ready")

    async def _exchange(self, backend: Backend, request: Request) -> Answer:
        reader, writer = await asyncio.open_connection(backend.host, backend.port)
        try:
            writer.write(request.to_backend())
            await writer.drain()
            raw = await reader.read()
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise BackendFailed(f"connection broken: {exc!r}", retryable=True) from None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not raw:
            raise BackendFailed("the backend closed the connection without answering",
                                retryable=True)  # fmt: skip
        return parse_answer(raw)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                if request.target == STATS_PATH:
                    answer = Answer(200, "OK", [("Content-Type", "application/json")],
                                    json.dumps(self.stats()).encode())  # fmt: skip
                else:
                    answer = await self.forward(request)
                writer.write(answer.to_client(keep_alive=request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    break
        except BadRequest as exc:
            writer.write(Answer(400, "Bad Request", body=str(exc).encode()).to_client(
                keep_alive=False))  # fmt: skip
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to answer
        finally:
            writer.close()


async def serve(listen: int, backends: list[tuple[str, int]], interval: float) -> None:
    proxy = Proxy(backends, interval=interval)
    port = await proxy.start(port=listen)
    print(f"proxy listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


def _backend(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.proxy", description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--backend", type=_backend, action="append", required=True)
    parser.add_argument("--interval", type=float, default=0.1, help="readiness poll (s)")
    parser.add_argument("--cpus", default="", help="pin to these CPUs (comma-separated)")
    args = parser.parse_args(argv)
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.backend, args.interval))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
