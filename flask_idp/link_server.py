"""The workstation link server: WebSocket connections in, :mod:`idp.workstations.link` behind.

One asyncio process (``hideez-idp link serve``) holds every connected gateway. It only
translates: frames go to :class:`~idp.workstations.link.LinkService` (in worker threads, as
the stores are synchronous) and its answers go back. Commands published on the short-lived
store's channel by any instance are read by one subscriber thread and sent to the
workstations connected here. With a :class:`~idp.metrics.LinkCollector`, a plain HTTP
``GET /metrics`` on the same port answers Prometheus (to ``metrics_from`` only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from idp import metrics
from idp.errors import IdpError, Unauthorized
from idp.store.ephemeral.base import EphemeralStore, Subscription
from idp.workstations import commands
from idp.workstations.commands import CommandKind
from idp.workstations.errors import LINK_CLOSE_CODES, WorkstationNotApproved
from idp.workstations.link import LinkService
from idp.workstations.wire import MAX_FRAME_BYTES, server_frame

log = logging.getLogger(__name__)
FIRST_FRAME_TIMEOUT = 10.0
#: errors after which the connection is closed (the others are answered and it stays open)
_FATAL = (Unauthorized, WorkstationNotApproved)


def _close_code(exc: IdpError) -> int:
    for kind, code in LINK_CLOSE_CODES.items():
        if isinstance(exc, kind):
            return code
    return 4000 + (exc.status if 400 <= exc.status < 1000 else 500)


@dataclass(frozen=True)
class LinkMetrics:
    """What ``GET /metrics`` serves and to whom (observability.metrics_from)."""

    collector: metrics.LinkCollector
    allowed: Sequence[str]


class LinkServer:
    """Connections by workstation id, and the loop that serves them."""

    def __init__(
        self, service: LinkService, store: EphemeralStore, *, metrics: LinkMetrics | None = None
    ) -> None:
        self.service = service
        self.store = store
        self.metrics = metrics
        self.connections: dict[str, ServerConnection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription: Subscription | None = None
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    async def start(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> Server:
        self._loop = asyncio.get_running_loop()
        self._subscription = self.store.subscribe(commands.CHANNEL)
        self._reader = threading.Thread(
            target=self._read_commands, daemon=True, name="link-commands"
        )
        self._reader.start()
        return await serve(
            self._handler,
            host,
            port,
            ssl=tls,
            max_size=MAX_FRAME_BYTES,
            ping_interval=20,
            ping_timeout=20,
            process_request=self._http if self.metrics is not None else None,
        )

    async def stop(self, server: Server) -> None:
        self._stop.set()
        server.close()
        await server.wait_closed()
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 2)
        if self._subscription is not None:
            self._subscription.close()

    # -- plain HTTP: /metrics ---------------------------------------------------------------

    async def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.path.partition("?")[0] != "/metrics":
            return None  # a WebSocket handshake
        assert self.metrics is not None
        peer = ws.remote_address
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        if not metrics.may_read(self.metrics.allowed, address):
            return ws.respond(HTTPStatus.FORBIDDEN, "metrics are served to metrics_from only\n")
        body = await asyncio.to_thread(metrics.link_exposition, self.metrics.collector)
        response = ws.respond(HTTPStatus.OK, body.decode())
        del response.headers["Content-Type"]  # respond() made it text/plain
        response.headers["Content-Type"] = metrics.CONTENT_TYPE
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- connections ------------------------------------------------------------------------

    async def _refuse(self, ws: ServerConnection, exc: IdpError) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(server_frame("error", **exc.to_dict()))
            await ws.close(_close_code(exc), exc.error)

    async def _handler(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), FIRST_FRAME_TIMEOUT)
            peer = ws.remote_address
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            opened = await asyncio.to_thread(self.service.open, first, address=address)
        except IdpError as exc:
            log.info("link refused from %s: %s", ws.remote_address, exc.description)
            await self._refuse(ws, exc)
            return
        except (TimeoutError, ConnectionClosed):
            return
        workstation_id = opened.workstation.id
        previous = self.connections.get(workstation_id)
        self.connections[workstation_id] = ws
        if previous is not None:
            await previous.close(4409, "replaced by a newer connection")
        try:
            await self._send(ws, opened.replies)
            await self._serve(ws, workstation_id)
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(workstation_id) is ws:
                del self.connections[workstation_id]
                await asyncio.to_thread(self.service.link_lost, workstation_id)

    async def _serve(self, ws: ServerConnection, workstation_id: str) -> None:
        async for raw in ws:
            try:
                replies = await asyncio.to_thread(self.service.handle, workstation_id, raw)
            except IdpError as exc:
                if isinstance(exc, _FATAL):
                    await self._refuse(ws, exc)
                    return
                await ws.send(server_frame("error", **exc.to_dict()))
                continue
            await self._send(ws, replies)

    @staticmethod
    async def _send(ws: ServerConnection, frames: Iterable[str]) -> None:
        for frame in frames:
            await ws.send(frame)

    # -- commands from any instance ---------------------------------------------------------

    def _read_commands(self) -> None:
        assert self._subscription is not None and self._loop is not None
        while not self._stop.is_set():
            try:
                message = self._subscription.get(0.5)
            except IdpError as exc:
                log.error("command channel unavailable (%s); retrying", exc.description)
                self._stop.wait(1)
                continue
            if message is None:
                continue
            try:
                target, command = commands.routed(message)
            except (ValueError, KeyError, TypeError, IdpError):
                log.error("ignoring a malformed message on %s", commands.CHANNEL)
                continue
            asyncio.run_coroutine_threadsafe(self.deliver(target, command), self._loop)

    async def deliver(self, target: str, command: commands.Command) -> int:
        """Send ``command`` to ``target`` (or every connection); how many it reached."""
        if target == commands.ALL:
            targets = list(self.connections.items())
        else:
            ws = self.connections.get(target)
            targets = [] if ws is None else [(target, ws)]
        frame = command.to_frame()
        for workstation_id, ws in targets:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(frame)
                if command.kind is CommandKind.STATUS and command.body.get("status") != "approved":
                    exc = WorkstationNotApproved(f"{workstation_id} is {command.body['status']}")
                    await self._refuse(ws, exc)
        return len(targets)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def run_forever(
    server: LinkServer, host: str, port: int, tls: ssl.SSLContext | None = None
) -> None:
    running = await server.start(host, port, tls=tls)
    ports = sorted({s.getsockname()[1] for s in running.sockets})
    log.info("workstation link listening on %s port %s", host, ports)
    try:
        await running.serve_forever()
    finally:
        await server.stop(running)
