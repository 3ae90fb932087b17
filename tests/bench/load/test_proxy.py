"""The harness's reverse proxy against small real backends on loopback: round robin over the
ready ones, readiness obeyed, refused connections retried (every method), a GET whose
connection closed unanswered retried, a POST then answered 502, 503 when none is ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bench.load.proxy import BackendFailed, Proxy, dechunk, main, parse_answer, read_request


@dataclass
class Backend:
    """An HTTP/1.1 server that answers its name; ``mode`` changes what it does."""

    name: str
    mode: str = "ok"  # ok | unready | hang-up | chunked
    seen: list[str] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        assert request is not None
        if request.target == "/readyz":
            status = "503 Service Unavailable" if self.mode == "unready" else "200 OK"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        elif self.mode == "hang-up":
            self.seen.append(request.method)
        else:
            self.seen.append(f"{request.method} {request.target} {request.body.decode()}")
            body = self.name.encode()
            if self.mode == "chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))  # fmt: skip
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def proxied(*backends: Backend, interval: float = 0.05) -> AsyncIterator[tuple[Proxy, str]]:
    for backend in backends:
        await backend.start()
    proxy = Proxy([("127.0.0.1", b.port) for b in backends], interval=interval)
    port = await proxy.start()
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        await proxy.close()
        for backend in backends:
            if backend.server is not None and backend.server.is_serving():
                await backend.stop()


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=20))


def test_round_robin_over_ready_backends_with_keep_alive_to_the_client() -> None:
    async def test() -> None:
        a, b = Backend("a"), Backend("b")
        async with proxied(a, b) as (_, url), httpx.AsyncClient(base_url=url) as client:
            names = [(await client.get(f"/x?{i}")).text for i in range(4)]
            posted = await client.post("/form", content=b"k=v")
        assert names == ["a", "b", "a", "b"]
        assert posted.status_code == 200 and "POST /form k=v" in a.seen + b.seen

    run(test)


def test_a_backend_that_is_not_ready_gets_nothing_and_none_ready_is_a_503() -> None:
    async def test() -> None:
        a, b = Backend("a"), Backend("b", mode="unready")
        async with proxied(a, b) as (proxy, url), httpx.AsyncClient(base_url=url) as client:
            assert {(await client.get("/")).text for _ in range(3)} == {"a"}
            a.mode = "unready"
            await asyncio.sleep(0.2)  # a few readiness polls
            refused = await client.get("/")
            stats = (await client.get("/__proxy/stats")).json()
        assert b.seen == []
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        assert stats["unavailable"] == 1 and [x["ready"] for x in stats["backends"]] == [0, 0]
        assert proxy.stats()["backends"][0]["answered"] == 3  # type: ignore[index]

    run(test)


def test_a_refused_connection_is_retried_on_the_next_backend_for_any_method() -> None:
    async def test() -> None:
        a, b = Backend("a"), Backend("b")
        # The readiness poll is slow, so the proxy still believes the stopped one is ready.
        async with proxied(a, b, interval=30) as (proxy, url), httpx.AsyncClient(
            base_url=url
        ) as client:  # fmt: skip
            await a.stop()
            answers = [await client.post("/token", content=b"once") for _ in range(2)]
        assert [r.text for r in answers] == ["b", "b"]
        assert b.seen == ["POST /token once"] * 2
        assert proxy.backends[0].retried == 1 and not proxy.backends[0].ready

    run(test)


def test_an_unanswered_get_is_retried_and_an_unanswered_post_is_a_502() -> None:
    async def test() -> None:
        a, b = Backend("a", mode="hang-up"), Backend("b")
        async with proxied(a, b) as (proxy, url), httpx.AsyncClient(base_url=url) as client:
            got = await client.get("/page")
            proxy._next = 0  # the next request goes to the backend that hangs up
            posted = await client.post("/verify", content=b"x")
        assert got.status_code == 200 and got.text == "b"
        assert posted.status_code == 502 and "without answering" in posted.text
        assert a.seen == ["GET", "POST"] and b.seen == ["GET /page "]
        assert (proxy.backends[0].retried, proxy.backends[0].failed) == (1, 1)

    run(test)


def test_a_chunked_answer_reaches_the_client_with_a_length() -> None:
    async def test() -> None:
        chunky = Backend("chunky", mode="chunked")
        async with proxied(chunky) as (_, url), httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/")
        assert answer.text == "chunky" and answer.headers["Content-Length"] == "6"

    run(test)


def test_a_request_the_proxy_cannot_forward_is_a_400() -> None:
    async def test() -> None:
        async with proxied(Backend("a")) as (_, url):
            port = int(url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            answer = await reader.read()
            writer.close()
        assert answer.startswith(b"HTTP/1.1 400 ") and b"Content-Length" in answer

    run(test)


def test_backend_answers_are_parsed_and_malformed_ones_refused() -> None:
    answer = parse_answer(b"HTTP/1.1 303 See Other\r\nLocation: /x\r\nContent-Length: 2\r\n\r\nokX")
    assert (answer.status, answer.body) == (303, b"ok")
    assert answer.headers == [("Location", "/x"), ("Content-Length", "2")]
    assert dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n") == b"abcde"
    with pytest.raises(BackendFailed, match=r"HTTP/1\.x status line"):
        parse_answer(b"SMTP ready\r\n\r\n")
    with pytest.raises(BackendFailed, match="before a whole head"):
        parse_answer(b"HTTP/1.1 200 OK\r\nContent-")


def test_the_command_line_refuses_a_bad_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--listen", "1", "--backend", "nohost"])
    assert exit_.value.code == 2
    assert "expected HOST:PORT, got 'nohost'" in capsys.readouterr().err
